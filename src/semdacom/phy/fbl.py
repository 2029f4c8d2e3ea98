"""Finite-blocklength error model of MU-ASCC ([1]), eqs. (8) and (14).

The packet error probability of an ``(N, L)`` code at rate ``R_c = N / L`` bits per complex
channel use over an AWGN channel with SINR ``gamma`` is approximated by the normal approximation
of Polyanskiy, Poor and Verdu (2010)::

    rho = Q( sqrt(L) * (C(gamma) - R_c) / sqrt(V(gamma)) )                   eq. (8)
    C(gamma) = log2(1 + gamma)                                              [bits]
    V(gamma) = (1 - 1 / (1 + gamma)^2) * (log2 e)^2                         [bits^2]

and the paper turns it into a base-10 log bit error rate by assuming that a packet error costs
one of the ``R_c L`` information bits::

    log10 BER = log10(1 / (R_c L)) + log10 Q(x)                             eq. (14)

That BER never exceeds ``1 / (R_c L)``, however bad the channel. Every BER function also takes
``packet_loss=True``, the physical form in which a failed packet loses all its bits::

    log10 BER = log10(1 / 2) + log10 Q(x)           (BER = rho / 2, 1/2 at gamma = 0)

The paper prints ``sqrt((1 - 1/(1+gamma)^2) log2 e)`` in the denominator of eqs. (8) and (14),
i.e. ``log2 e`` instead of ``(log2 e)^2``. Its own eqs. (47) and (63) use the standard
dispersion, so the standard form is the default here; every function takes
``paper_form=True`` to reproduce the printed form (which multiplies the Q argument by
``sqrt(log2 e)``). See ``docs/mu_ascc/paper_notes.md``.

All functions are vectorised with numpy broadcasting over ``sinr``, ``rc`` and ``L``; SINRs are
linear. Logarithms of Q are computed with :func:`scipy.special.log_ndtr`, so probabilities far
below the smallest double (1e-300 and beyond) stay finite in the log domain.

At ``sinr == 0`` the capacity and the dispersion are both zero and the Q argument is taken at its
limit ``-inf`` (``Q = 1``, ``log10 BER = -log10(R_c L)``); the derivatives there are their
limits as well (``d/dsinr -> 0``, ``d/drc = -1 / (R_c ln 10)``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from semdacom.phy.docs import shared_params

__all__ = [
    "FloatOrArray",
    "ber",
    "capacity",
    "dispersion",
    "dlog_q",
    "log10_ber",
    "log10_ber_and_grad",
    "log10_prefactor",
    "log_packet_error_prob",
    "log_q",
    "packet_error_prob",
    "q_argument",
    "qfunc",
]

FloatOrArray = float | NDArray[np.float64]
"""A float (numpy scalar) for scalar inputs, otherwise a float64 array."""

_LN2 = float(np.log(2.0))
_LN10 = float(np.log(10.0))
_LOG10_2 = float(np.log10(2.0))
_LOG2E = 1.0 / _LN2
_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))
_PAPER_SCALE = float(np.sqrt(_LOG2E))


def _ret(a: NDArray[np.float64]) -> FloatOrArray:
    """Return a numpy scalar for 0-d results and the array otherwise."""
    return a[()] if a.ndim == 0 else a


def _as_sinr(sinr: ArrayLike) -> NDArray[np.float64]:
    g = np.asarray(sinr, dtype=np.float64)
    if not np.all(g >= 0.0):
        raise ValueError("sinr must be linear, non-negative and not NaN")
    return g


def _prepare(
    sinr: ArrayLike, rc: ArrayLike, L: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Validate and broadcast (sinr, rc, L) to float64 arrays."""
    g = _as_sinr(sinr)
    r = np.asarray(rc, dtype=np.float64)
    n = np.asarray(L, dtype=np.float64)
    if not np.all((r > 0.0) & np.isfinite(r)):
        raise ValueError("rc must be positive and finite (bits per complex channel use)")
    if not np.all((n > 0.0) & np.isfinite(n)):
        raise ValueError("L must be positive and finite (channel uses per codeword)")
    g, r, n = np.broadcast_arrays(g, r, n)
    return g, r, n


def qfunc(x: ArrayLike) -> FloatOrArray:
    """Gaussian tail probability ``Q(x) = P(N(0, 1) > x)``, as defined below eq. (8).

    Parameters
    ----------
    x : array_like
        Argument(s).

    Returns
    -------
    float or ndarray
        ``Q(x)``.
    """
    return _ret(np.asarray(special.ndtr(-np.asarray(x, dtype=np.float64))))


def log_q(x: ArrayLike) -> FloatOrArray:
    """Natural log of the Q function, ``Q_hat(x) = log Q(x)`` of Lemma 4.1 of MU-ASCC ([1]).

    Computed as ``log_ndtr(-x)``: finite and accurate for any finite ``x`` (e.g. ``log Q(40)``
    is about ``-804.6``).

    Parameters
    ----------
    x : array_like
        Argument(s).

    Returns
    -------
    float or ndarray
        ``log Q(x)``.
    """
    return _ret(np.asarray(special.log_ndtr(-np.asarray(x, dtype=np.float64))))


def dlog_q(x: ArrayLike) -> FloatOrArray:
    """Derivative of ``log Q(x)``, eq. (64) of MU-ASCC ([1]): ``-phi(x) / Q(x)``.

    The ratio ``phi(x)/Q(x)`` is evaluated as ``sqrt(2/pi) / erfcx(x/sqrt(2))``, which is stable
    for all ``x``: it tends to 0 as ``x -> -inf`` and behaves like ``x`` as ``x -> +inf``.

    Parameters
    ----------
    x : array_like
        Argument(s).

    Returns
    -------
    float or ndarray
        ``d log Q(x) / dx`` (always ``<= 0``).
    """
    return _ret(-_hazard(np.asarray(x, dtype=np.float64)))


def _hazard(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``phi(x) / Q(x)`` (inverse Mills ratio), stable for all x including +-inf."""
    with np.errstate(divide="ignore"):
        return _SQRT_2_OVER_PI / special.erfcx(x / np.sqrt(2.0))


@shared_params
def capacity(sinr: ArrayLike) -> FloatOrArray:
    """Shannon capacity ``C = log2(1 + sinr)`` in bits per complex channel use (eq. (8)).

    {Parameters: sinr}

    Returns
    -------
    float or ndarray
        Capacity in bits per channel use.
    """
    g = _as_sinr(sinr)
    return _ret(np.log1p(g) * _LOG2E)


def _one_minus_inv_sq(g: NDArray[np.float64]) -> NDArray[np.float64]:
    """``1 - 1/(1+g)^2``, accurate for tiny and huge ``g``."""
    return -np.expm1(-2.0 * np.log1p(g))


@shared_params
def dispersion(sinr: ArrayLike, paper_form: bool = False) -> FloatOrArray:
    """Channel dispersion ``V`` of the complex AWGN channel (denominator of eq. (8)).

    Parameters
    ----------
    {sinr}
    paper_form : bool, optional
        ``False`` (default): the standard ``V = (1 - 1/(1+sinr)^2) (log2 e)^2`` in bits^2
        (Polyanskiy, Poor and Verdu 2010). ``True``: the form printed in eq. (8) of MU-ASCC,
        ``(1 - 1/(1+sinr)^2) log2 e``.

    Returns
    -------
    float or ndarray
        Dispersion ``V``.
    """
    g = _as_sinr(sinr)
    u = _one_minus_inv_sq(g)
    return _ret(u * (_LOG2E if paper_form else _LOG2E**2))


def _q_arg(
    g: NDArray[np.float64],
    r: NDArray[np.float64],
    n: NDArray[np.float64],
    paper_form: bool,
    need_grad: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Q argument x and (optionally) dx/dsinr, dx/drc on validated, broadcast arrays.

    Uses ``x = sqrt(L) (ln(1+g) - rc ln 2) / sqrt(u)`` with ``u = 1 - (1+g)^-2``, which equals
    ``sqrt(L) (C - rc) / sqrt(V)`` with the standard dispersion.
    """
    scale = _PAPER_SCALE if paper_form else 1.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lg = np.log1p(g)
        su = np.sqrt(_one_minus_inv_sq(g))
        sl = np.sqrt(n)
        num = sl * (lg - r * _LN2)
        x = np.where(g == 0.0, -np.inf, num / su) * scale
        if not need_grad:
            return x, x, x
        # d/dg [num / su] = sqrt(L)/((1+g) su) - num / ((1+g) su)^3, cf. eq. (63).
        inv = 1.0 / ((1.0 + g) * su)
        dx_dg = (sl * inv - num * inv**3) * scale
        dx_drc = -(sl * _LN2 / su) * scale
    return x, dx_dg, dx_drc


def _q_only(sinr: ArrayLike, rc: ArrayLike, L: ArrayLike, paper_form: bool) -> NDArray:
    """The checked inputs' Q argument of eq. (8), without derivatives."""
    g, r, n = _prepare(sinr, rc, L)
    return _q_arg(g, r, n, paper_form, need_grad=False)[0]


@shared_params
def q_argument(
    sinr: ArrayLike, rc: ArrayLike, L: ArrayLike, paper_form: bool = False
) -> FloatOrArray:
    """Argument of Q in eq. (8) of MU-ASCC ([1]): ``sqrt(L) (C - rc) / sqrt(V)``.

    {Parameters: sinr rc L paper_form}

    Returns
    -------
    float or ndarray
        The Q argument (``-inf`` where ``sinr == 0``), broadcast over the inputs.
    """
    return _ret(_q_only(sinr, rc, L, paper_form))


@shared_params
def packet_error_prob(
    sinr: ArrayLike, rc: ArrayLike, L: ArrayLike, paper_form: bool = False
) -> FloatOrArray:
    """Packet (block) error probability, eq. (8) of MU-ASCC ([1]).

    {Parameters: sinr rc L paper_form}

    Returns
    -------
    float or ndarray
        ``rho = Q(x)`` in ``[0, 1]``; underflows to 0 for very reliable links, use
        :func:`log_packet_error_prob` there.
    """
    return _ret(np.asarray(special.ndtr(-_q_only(sinr, rc, L, paper_form))))


@shared_params
def log_packet_error_prob(
    sinr: ArrayLike, rc: ArrayLike, L: ArrayLike, paper_form: bool = False
) -> FloatOrArray:
    """Natural log of the packet error probability of eq. (8) of MU-ASCC ([1]).

    Evaluated as ``log_ndtr(-x)``, finite and accurate far below ``1e-300``.

    {Parameters: sinr rc L paper_form}

    Returns
    -------
    float or ndarray
        ``log(rho) <= 0``.
    """
    return _ret(np.asarray(special.log_ndtr(-_q_only(sinr, rc, L, paper_form))))


def log10_prefactor(rc: ArrayLike, L: ArrayLike, packet_loss: bool = False) -> FloatOrArray:
    """The term outside Q of ``log10 BER``: ``log10(1/(rc L))`` (eq. (14)) or, with
    ``packet_loss``, ``log10(1/2)`` (a failed packet loses its bits)."""
    r = np.asarray(rc, dtype=np.float64)
    n = np.asarray(L, dtype=np.float64)
    if packet_loss:
        return _ret(np.full(np.broadcast(r, n).shape, -_LOG10_2))
    return _ret(-np.log10(r * n))


@shared_params
def log10_ber(
    sinr: ArrayLike,
    rc: ArrayLike,
    L: ArrayLike,
    paper_form: bool = False,
    packet_loss: bool = False,
) -> FloatOrArray:
    """Base-10 log of the bit error rate, eq. (14) of MU-ASCC ([1]), or its physical form.

    Eq. (14): ``log10 BER = log10(1 / (rc L)) + log10 Q(x)`` with ``x`` the argument of eq. (8):
    a lost packet counts as one wrong bit out of ``rc L``, so the BER never exceeds
    ``1 / (rc L)``.

    ``packet_loss=True``: ``log10 BER = log10(1/2) + log10 Q(x)``, i.e. ``BER = rho / 2`` —
    a failed packet loses all its bits (the decoder output is as good as uniform random bits,
    half of them wrong), which is what the ``"packet"`` model of
    :mod:`semdacom.phy.fbl_emulation` does. At ``sinr == 0`` the BER is 1/2, so a user with
    no power gets the distortion of a useless link (docs/mu_ascc/paper_notes.md).

    Parameters
    ----------
    {sinr}
    {rc}
    {L}
    {paper_form}
    packet_loss : bool, optional
        The physical form ``BER = rho / 2`` instead of eq. (14)'s ``rho / (rc L)``.

    Returns
    -------
    float or ndarray
        ``log10 BER``; at most ``-log10(rc L)`` (``-log10 2`` with ``packet_loss``), reached at
        ``sinr == 0``, and decreasing in ``sinr`` (Lemma A.1).
    """
    g, r, n = _prepare(sinr, rc, L)
    x, _, _ = _q_arg(g, r, n, paper_form, need_grad=False)
    return _ret(log10_prefactor(r, n, packet_loss) + special.log_ndtr(-x) / _LN10)


@shared_params
def log10_ber_and_grad(
    sinr: ArrayLike,
    rc: ArrayLike,
    L: ArrayLike,
    paper_form: bool = False,
    packet_loss: bool = False,
) -> tuple[FloatOrArray, FloatOrArray, FloatOrArray]:
    """Eq. (14) of MU-ASCC ([1]) (or its ``packet_loss`` form) with analytic derivatives.

    With ``v = c(rc, L) + log Q(x) / ln 10``, ``c = -log10(rc L)`` (eq. (14)) or ``-log10 2``
    (``packet_loss``)::

        dv/dsinr = -(phi(x)/Q(x)) / ln 10 * dx/dsinr                 (dx/dsinr: eq. (63))
        dv/drc   = dc/drc - (phi(x)/Q(x)) / ln 10 * dx/drc,  dx/drc = -sqrt(L) / sqrt(V)

    with ``dc/drc = -1 / (rc ln 10)`` for eq. (14) and 0 for ``packet_loss`` (where ``v`` is
    then increasing in ``rc`` everywhere, like the packet error probability).
    ``phi(x)/Q(x)`` is computed as ``sqrt(2/pi) / erfcx(x / sqrt 2)`` (stable everywhere).
    Where it vanishes (``sinr == 0`` or a Q argument so negative that ``Q == 1`` in double
    precision) the derivative terms through ``x`` are exactly 0, their limit.

    Parameters
    ----------
    {sinr}
    {rc}
    L : array_like
        Blocklength in channel uses, ``> 0`` (a parameter: no derivative is returned for it).
    {paper_form}
    {packet_loss}

    Returns
    -------
    value : float or ndarray
        ``log10 BER``.
    d_dsinr : float or ndarray
        Partial derivative with respect to the linear SINR (``<= 0``, Lemma A.1).
    d_drc : float or ndarray
        Partial derivative with respect to ``rc``.
    """
    g, r, n = _prepare(sinr, rc, L)
    x, dx_dg, dx_drc = _q_arg(g, r, n, paper_form, need_grad=True)
    h = _hazard(x)
    active = h > 0.0
    dc_drc = 0.0 if packet_loss else -1.0 / (r * _LN10)
    with np.errstate(invalid="ignore", over="ignore"):
        dv_dg = np.where(active, -(h / _LN10) * dx_dg, 0.0)
        dv_drc = dc_drc + np.where(active, -(h / _LN10) * dx_drc, 0.0)
    value = log10_prefactor(r, n, packet_loss) + special.log_ndtr(-x) / _LN10
    return _ret(value), _ret(dv_dg), _ret(np.broadcast_to(dv_drc, value.shape).copy())


@shared_params
def ber(
    sinr: ArrayLike,
    rc: ArrayLike,
    L: ArrayLike,
    paper_form: bool = False,
    packet_loss: bool = False,
) -> FloatOrArray:
    """Bit error rate ``10 ** log10_ber`` of eq. (14) of MU-ASCC ([1]), clipped to [0, 0.5].

    {Parameters: sinr rc L paper_form packet_loss}

    Returns
    -------
    float or ndarray
        BER in ``[0, 0.5]`` (underflows to 0 below about ``1e-308``).
    """
    v = np.asarray(log10_ber(sinr, rc, L, paper_form=paper_form, packet_loss=packet_loss))
    return _ret(np.clip(10.0**v, 0.0, 0.5))
