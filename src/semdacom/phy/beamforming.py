"""MU-MISO beamforming maths of MU-ASCC ([1]): SINRs, uplink-downlink duality, MMSE, ZF.

Conventions (fixed across gr-semdacom):

* ``H`` is a complex array of shape ``(K, N_t)``; row ``i`` is ``h_i`` and user ``i`` receives
  ``y_i = h_i^H x = np.vdot(h_i, x)``.
* ``W`` has shape ``(K, N_t)``; row ``i`` is the unit-norm beamformer ``w_i``.
* Powers ``p`` (downlink) and ``q`` (virtual uplink) have shape ``(K,)``, in watts; noise
  variances have shape ``(K,)`` (or are scalars).
* ``Hbar`` is the noise-normalised channel, row ``i`` equal to ``h_i / sigma_i`` (the paper
  writes ``h_i / sigma_i^2`` in Sec. IV-C, a typo: only ``h_i / sigma_i`` turns eq. (7) into a
  unit-noise SINR). The virtual uplink has unit noise, ``n ~ CN(0, I_{N_t})``.
* SINRs are linear.

The gain matrix ``G[k, l] = |hbar_k^H w_l|^2`` carries everything: the downlink SINR of user
``k`` sees the row ``G[k, :]`` and the uplink SINR of user ``k`` sees the column ``G[:, k]``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from semdacom.phy.docs import shared_params

__all__ = [
    "downlink_powers_for_sinr",
    "downlink_powers_from_uplink",
    "downlink_sinr",
    "effective_channel",
    "gain_matrix",
    "mmse_beamformers",
    "mrt_beamformers",
    "normalize_channel",
    "paper_channel",
    "random_unit_beamformers",
    "udd_matrices",
    "uplink_powers_for_sinr",
    "uplink_powers_from_downlink",
    "uplink_sinr",
    "water_filling",
    "zf_beamformers",
]

ComplexArray = NDArray[np.complex128]
FloatArray = NDArray[np.float64]

_UNIT_NORM_ATOL = 1e-6


def _as_matrix(H: ArrayLike, name: str, batched: bool = False) -> ComplexArray:
    a = np.asarray(H, dtype=np.complex128)
    if a.ndim < 2 or (not batched and a.ndim != 2):
        want = "(..., K, N_t)" if batched else "(K, N_t)"
        raise ValueError(f"{name} must have shape {want}, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    return a


def _as_powers(p: ArrayLike, shape: tuple[int, ...], name: str) -> FloatArray:
    a = np.asarray(p, dtype=np.float64)
    if a.shape[-1:] != shape[-1:]:
        raise ValueError(f"{name} must have trailing dimension {shape[-1]}, got shape {a.shape}")
    if not np.all((a >= 0.0) & np.isfinite(a)):
        raise ValueError(f"{name} must be finite and non-negative (watts)")
    return a


def _check_unit_rows(W: ComplexArray) -> None:
    norms = np.linalg.norm(W, axis=-1)
    if not np.allclose(norms, 1.0, rtol=0.0, atol=_UNIT_NORM_ATOL):
        raise ValueError("beamformer rows must have unit norm")


def _unit_rows(V: ComplexArray, what: str) -> ComplexArray:
    norms = np.linalg.norm(V, axis=-1, keepdims=True)
    if np.any(norms == 0.0) or not np.all(np.isfinite(norms)):
        raise ValueError(f"{what}: a beamformer has zero or non-finite norm")
    return V / norms


def normalize_channel(H: ArrayLike, noise_var: ArrayLike) -> ComplexArray:
    """Noise-normalised channel ``hbar_i = h_i / sigma_i`` (Sec. IV-C of MU-ASCC [1]).

    The paper prints ``h_i / sigma_i^2``; ``h_i / sigma_i`` is what makes eq. (7) equal to the
    unit-noise SINR of eq. (33) (see ``docs/mu_ascc/paper_notes.md``).

    Parameters
    ----------
    H : array_like, shape (..., K, N_t)
        Channel matrix, row ``i`` is ``h_i``.
    noise_var : array_like, shape (K,) or scalar
        Noise variances ``sigma_i^2 > 0``.

    Returns
    -------
    ndarray, shape (..., K, N_t)
        ``Hbar`` with rows ``h_i / sigma_i``.
    """
    Hm = _as_matrix(H, "H", batched=True)
    nv = np.asarray(noise_var, dtype=np.float64)
    if not np.all((nv > 0.0) & np.isfinite(nv)):
        raise ValueError("noise_var must be positive and finite")
    return Hm / np.sqrt(nv)[..., None]


def gain_matrix(H: ArrayLike, W: ArrayLike) -> FloatArray:
    """Channel-beam gains ``G[k, l] = |h_k^H w_l|^2`` (the terms of eqs. (7), (33), (36), (37)).

    Parameters
    ----------
    H : array_like, shape (..., K, N_t)
        Channel (or normalised channel), row ``k`` is ``h_k``.
    W : array_like, shape (..., K, N_t)
        Beamformers, row ``l`` is ``w_l``.

    Returns
    -------
    ndarray, shape (..., K, K)
        Real non-negative gains.
    """
    Hm = _as_matrix(H, "H", batched=True)
    Wm = _as_matrix(W, "W", batched=True)
    if Hm.shape[-1] != Wm.shape[-1] or Hm.shape[-2] != Wm.shape[-2]:
        raise ValueError(f"H {Hm.shape} and W {Wm.shape} must both be (..., K, N_t)")
    return np.abs(np.einsum("...kn,...ln->...kl", Hm.conj(), Wm)) ** 2


def downlink_sinr(H: ArrayLike, p: ArrayLike, W: ArrayLike, noise_var: ArrayLike) -> FloatArray:
    """Downlink SINR of every user, eq. (7) of MU-ASCC ([1]).

    ``gamma_i = p_i |h_i^H w_i|^2 / (sum_{j != i} p_j |h_i^H w_j|^2 + sigma_i^2)``.
    Leading batch dimensions are supported.

    Parameters
    ----------
    H : array_like, shape (..., K, N_t)
        Channel, row ``i`` is ``h_i``.
    p : array_like, shape (..., K)
        Downlink powers in watts, ``>= 0``.
    W : array_like, shape (..., K, N_t)
        Beamformers, row ``i`` is ``w_i`` (unit norm in the paper; not enforced here).
    noise_var : array_like, shape (..., K) or scalar
        Noise variances ``sigma_i^2 > 0``. Pass 1 with a normalised channel ``Hbar``.

    Returns
    -------
    ndarray, shape (..., K)
        Linear SINRs.
    """
    G = gain_matrix(H, W)
    pw = _as_powers(p, G.shape[:-1], "p")
    nv = np.asarray(noise_var, dtype=np.float64)
    if not np.all((nv > 0.0) & np.isfinite(nv)):
        raise ValueError("noise_var must be positive and finite")
    diag = np.diagonal(G, axis1=-2, axis2=-1)
    signal = pw * diag
    total = np.einsum("...kl,...l->...k", G, pw)
    interference = np.maximum(total - signal, 0.0)
    return signal / (interference + nv)


def effective_channel(
    H: ArrayLike, noise_var: ArrayLike, p: ArrayLike, W: ArrayLike, user: int
) -> tuple[complex, float]:
    """Effective channel of one receiving user, eqs. (6)-(7) of MU-ASCC ([1]).

    User ``u`` receives ``y_u = g s_u + n``, with gain ``g = sqrt(p_u) h_u^H w_u`` and
    noise-plus-interference variance ``N0 = sigma_u^2 + sum_{j != u} p_j |h_u^H w_j|^2``, so
    that ``|g|^2 / N0`` is :func:`downlink_sinr` of user ``u`` (here ``sigma_u^2 = 0`` is
    allowed: a noiseless simulated channel gives ``N0 = 0`` without interference).

    Parameters
    ----------
    H, W : array_like, shape (K, N_t)
        Channel rows ``h_i`` and beams ``w_i``.
    noise_var : array_like, shape (K,)
        Noise variances ``sigma_i^2 >= 0``.
    p : array_like, shape (K,)
        Powers in watts.
    user : int
        The receiving user ``u``.

    Returns
    -------
    g : complex
    n0 : float
    """
    h = np.asarray(H, dtype=np.complex128)
    w = np.asarray(W, dtype=np.complex128)
    pw = np.asarray(p, dtype=np.float64).reshape(-1)
    if h.ndim != 2 or w.shape != h.shape or pw.size != h.shape[0]:
        raise ValueError(f"H {h.shape}, W {w.shape} and p {pw.shape} do not match")
    if not 0 <= user < h.shape[0]:
        raise ValueError(f"user {user} outside 0..{h.shape[0] - 1}")
    hw = w @ h[user].conj()  # h_u^H w_j for every j
    g = complex(np.sqrt(pw[user]) * hw[user])
    gains = pw * np.abs(hw) ** 2
    interf = float(np.sum(gains) - gains[user])
    nv = float(np.asarray(noise_var, dtype=np.float64).reshape(-1)[user])
    return g, nv + max(interf, 0.0)


def uplink_sinr(Hbar: ArrayLike, q: ArrayLike, W: ArrayLike) -> FloatArray:
    """Virtual-uplink SINR of every user, eq. (33) of MU-ASCC ([1]).

    ``gamma^u_i = q_i |hbar_i^H w_i|^2 / (sum_{j != i} q_j |hbar_j^H w_i|^2 + ||w_i||^2)``,
    with unit receiver noise; for unit-norm beams the noise term is 1 as printed in eq. (33),
    and using ``||w_i||^2`` makes the SINR invariant to the scale of ``w_i``.
    Leading batch dimensions are supported.

    Parameters
    ----------
    Hbar : array_like, shape (..., K, N_t)
        Normalised channel, row ``i`` is ``hbar_i``.
    q : array_like, shape (..., K)
        Uplink powers in watts, ``>= 0``.
    W : array_like, shape (..., K, N_t)
        Uplink receive beamformers, row ``i`` is ``w_i`` (used to detect user ``i``).

    Returns
    -------
    ndarray, shape (..., K)
        Linear SINRs.
    """
    G = gain_matrix(Hbar, W)
    qw = _as_powers(q, G.shape[:-1], "q")
    Wm = np.asarray(W, dtype=np.complex128)
    noise = np.sum(np.abs(Wm) ** 2, axis=-1)
    if np.any(noise == 0.0):
        raise ValueError("uplink beamformers must be non-zero")
    diag = np.diagonal(G, axis1=-2, axis2=-1)
    signal = qw * diag
    total = np.einsum("...lk,...l->...k", G, qw)
    interference = np.maximum(total - signal, 0.0)
    return signal / (interference + noise)


@shared_params
def udd_matrices(Hbar: ArrayLike, W: ArrayLike, sinr: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Duality matrices ``Psi`` and ``Phi`` of eqs. (36) and (37) of MU-ASCC ([1]).

    With ``G[k, l] = |hbar_k^H w_l|^2`` and target SINRs ``gamma > 0``::

        Psi[k, k] = G[k, k] / gamma_k,  Psi[k, l] = -G[k, l]  (k != l)    (downlink, Psi p = 1)
        Phi[k, k] = G[k, k] / gamma_k,  Phi[k, l] = -G[l, k]  (k != l)    (uplink,   Phi q = 1)

    so ``Psi = Phi^T``. The paper prints the off-diagonal entries without the minus sign; the
    minus sign is required for ``Psi p = 1`` to be the SINR equations (Schubert and Boche 2004).

    Parameters
    ----------
    {Hbar}
    W : array_like, shape (K, N_t)
        Unit-norm beamformers (shared by downlink and uplink).
    sinr : array_like, shape (K,)
        Target linear SINRs, ``> 0``.

    Returns
    -------
    Psi, Phi : ndarray, shape (K, K)
        ``Psi`` (eq. (36)) and ``Phi = Psi^T`` (eq. (37)).
    """
    G = gain_matrix(_as_matrix(Hbar, "Hbar"), _as_matrix(W, "W"))
    g = np.asarray(sinr, dtype=np.float64)
    if g.shape != (G.shape[0],):
        raise ValueError(f"sinr must have shape ({G.shape[0]},), got {g.shape}")
    if not np.all((g > 0.0) & np.isfinite(g)):
        raise ValueError("udd_matrices needs finite positive target SINRs")
    Psi = -G.copy()
    np.fill_diagonal(Psi, np.diagonal(G) / g)
    return Psi, Psi.T.copy()


def _solve_powers(Hbar: ArrayLike, W: ArrayLike, sinr: ArrayLike, uplink: bool) -> FloatArray:
    Hm = _as_matrix(Hbar, "Hbar")
    Wm = _as_matrix(W, "W")
    if Hm.shape != Wm.shape:
        raise ValueError(f"Hbar {Hm.shape} and W {Wm.shape} must have the same shape (K, N_t)")
    _check_unit_rows(Wm)
    g = np.asarray(sinr, dtype=np.float64)
    K = Hm.shape[0]
    if g.shape != (K,):
        raise ValueError(f"sinr must have shape ({K},), got {g.shape}")
    if not np.all((g >= 0.0) & np.isfinite(g)):
        raise ValueError("target SINRs must be finite and non-negative")
    out = np.zeros(K)
    act = np.flatnonzero(g > 0.0)
    if act.size == 0:
        return out
    G = gain_matrix(Hm[act], Wm[act])
    if np.any(np.diagonal(G) <= 0.0):
        raise ValueError("infeasible target SINRs: a user has zero gain on its own beamformer")
    Psi, Phi = udd_matrices(Hm[act], Wm[act], g[act])
    A = Phi if uplink else Psi
    try:
        x = np.linalg.solve(A, np.ones(act.size))
    except np.linalg.LinAlgError as exc:
        raise ValueError(f"infeasible target SINRs: singular duality matrix ({exc})") from exc
    if not np.all(np.isfinite(x)) or np.any(x <= 0.0):
        raise ValueError(
            "infeasible target SINRs for these beamformers: the duality system has no positive "
            "solution"
        )
    out[act] = x
    return out


@shared_params
def downlink_powers_for_sinr(Hbar: ArrayLike, W: ArrayLike, sinr: ArrayLike) -> FloatArray:
    """Downlink powers reaching given SINRs with beams ``W``: ``p = Psi^-1 1``, eqs. (34), (36).

    Users with target SINR 0 get zero power and are left out of the system (they neither need
    nor cause interference).

    {Parameters: Hbar W target_sinr}

    Returns
    -------
    ndarray, shape (K,)
        Downlink powers in watts.

    Raises
    ------
    ValueError
        If the targets are infeasible (singular system or a non-positive solution) or ``W`` does
        not have unit-norm rows.
    """
    return _solve_powers(Hbar, W, sinr, uplink=False)


@shared_params
def uplink_powers_for_sinr(Hbar: ArrayLike, W: ArrayLike, sinr: ArrayLike) -> FloatArray:
    """Uplink powers reaching given SINRs with receive beams ``W``, eqs. (35) and (37).

    ``q = Phi^-1 1``; users with target SINR 0 get zero power and are left out of the system.

    {Parameters: Hbar W target_sinr}

    Returns
    -------
    ndarray, shape (K,)
        Uplink powers in watts.

    Raises
    ------
    ValueError
        If the targets are infeasible or ``W`` does not have unit-norm rows.
    """
    return _solve_powers(Hbar, W, sinr, uplink=True)


@shared_params
def uplink_powers_from_downlink(Hbar: ArrayLike, p: ArrayLike, W: ArrayLike) -> FloatArray:
    """Virtual-uplink powers with the same SINRs as a downlink allocation, eqs. (35), (37).

    Computes the downlink SINRs of ``(p, W)`` (eq. (7) with unit noise on ``Hbar``) and solves
    ``Phi q = 1``. The total power is preserved, ``sum(q) == sum(p)``, and
    ``uplink_sinr(Hbar, q, W) == downlink_sinr(Hbar, p, W, 1)``.

    {Parameters: Hbar p W}

    Returns
    -------
    ndarray, shape (K,)
        Uplink powers ``q`` in watts.

    Raises
    ------
    ValueError
        If the duality system is singular or numerically infeasible.
    """
    Hm = _as_matrix(Hbar, "Hbar")
    gamma = downlink_sinr(Hm, p, W, 1.0)
    return _solve_powers(Hm, W, gamma, uplink=True)


@shared_params
def downlink_powers_from_uplink(Hbar: ArrayLike, q: ArrayLike, W: ArrayLike) -> FloatArray:
    """Downlink powers with the same SINRs as a virtual-uplink allocation, eqs. (34), (36).

    Computes the uplink SINRs of ``(q, W)`` (eq. (33)) and solves ``Psi p = 1``; this is the
    last step of Alg. 3 (Proposition 4.1). ``sum(p) == sum(q)``.

    {Parameters: Hbar q W}

    Returns
    -------
    ndarray, shape (K,)
        Downlink powers ``p`` in watts.

    Raises
    ------
    ValueError
        If the duality system is singular or numerically infeasible.
    """
    Hm = _as_matrix(Hbar, "Hbar")
    gamma = uplink_sinr(Hm, q, W)
    return _solve_powers(Hm, W, gamma, uplink=False)


@shared_params
def mmse_beamformers(Hbar: ArrayLike, q: ArrayLike) -> ComplexArray:
    """Uplink MMSE receive beamformers, eq. (43) of MU-ASCC ([1]).

    ``w_i = (I + sum_j q_j hbar_j hbar_j^H)^{-1} hbar_i``, normalised to unit norm; for fixed
    ``q`` it maximises every uplink SINR of eq. (33) at once.

    {Parameters: Hbar q}

    Returns
    -------
    ndarray, shape (K, N_t)
        Unit-norm beamformers (rows).
    """
    Hm = _as_matrix(Hbar, "Hbar")
    qw = _as_powers(q, Hm.shape[:1], "q")
    if qw.ndim != 1:
        raise ValueError(f"q must have shape ({Hm.shape[0]},), got {qw.shape}")
    R = np.eye(Hm.shape[1], dtype=np.complex128) + (Hm.T * qw) @ Hm.conj()
    V = np.linalg.solve(R, Hm.T).T
    return _unit_rows(V, "mmse_beamformers")


def zf_beamformers(H: ArrayLike) -> ComplexArray:
    """Zero-forcing beamformers (the ZF of the paper's ZF-WF baselines, Sec. V-A).

    ``W`` rows are the unit-normalised columns of the pseudo-inverse of ``conj(H)`` (whose row
    ``i`` is ``h_i^H``), so ``h_i^H w_j = 0`` for ``i != j``.

    Parameters
    ----------
    H : array_like, shape (K, N_t)
        Channel (or normalised channel); needs ``K <= N_t`` and full row rank.

    Returns
    -------
    ndarray, shape (K, N_t)
        Unit-norm beamformers.

    Raises
    ------
    ValueError
        If ``K > N_t`` or ``H`` is rank deficient.
    """
    Hm = _as_matrix(H, "H")
    K, nt = Hm.shape
    if K > nt:
        raise ValueError(f"zero forcing needs K <= N_t, got K={K}, N_t={nt}")
    if np.linalg.matrix_rank(Hm) < K:
        raise ValueError("zero forcing needs a channel matrix of full row rank")
    V = np.linalg.pinv(Hm.conj()).T
    return _unit_rows(V, "zf_beamformers")


def mrt_beamformers(H: ArrayLike) -> ComplexArray:
    """Maximum-ratio transmission beamformers ``w_i = h_i / ||h_i||``.

    Parameters
    ----------
    H : array_like, shape (K, N_t)
        Channel (or normalised channel).

    Returns
    -------
    ndarray, shape (K, N_t)
        Unit-norm beamformers.
    """
    return _unit_rows(_as_matrix(H, "H").copy(), "mrt_beamformers")


def random_unit_beamformers(
    K: int, N_t: int, rng: np.random.Generator | int | None = None
) -> ComplexArray:
    """Random beamformers, uniformly distributed on the complex unit sphere.

    Parameters
    ----------
    K : int
        Number of users.
    N_t : int
        Number of transmit antennas.
    rng : numpy.random.Generator or int or None, optional
        Random generator or seed.

    Returns
    -------
    ndarray, shape (K, N_t)
        Unit-norm beamformers.
    """
    if K < 1 or N_t < 1:
        raise ValueError("K and N_t must be positive")
    gen = np.random.default_rng(rng)
    V = gen.standard_normal((K, N_t)) + 1j * gen.standard_normal((K, N_t))
    return _unit_rows(V, "random_unit_beamformers")


def water_filling(gains: ArrayLike, p_max: float, noise_var: ArrayLike = 1.0) -> FloatArray:
    """Classical water-filling over parallel channels (the WF of the ZF-WF baselines, Sec. V-A).

    Maximises ``sum_i log2(1 + p_i g_i / n_i)`` subject to ``sum_i p_i = p_max``, ``p_i >= 0``:
    ``p_i = max(0, mu - n_i / g_i)`` with the water level ``mu`` found exactly by sorting. For
    the ZF-WF baseline use ``gains_i = |h_i^H w_i|^2 / sigma_i^2`` and ``noise_var = 1``.

    Parameters
    ----------
    gains : array_like, shape (K,)
        Channel power gains, ``>= 0`` with at least one positive.
    p_max : float
        Total power in watts, ``>= 0``.
    noise_var : array_like, shape (K,) or scalar, optional
        Noise variances, ``> 0``.

    Returns
    -------
    ndarray, shape (K,)
        Powers, non-negative and summing to ``p_max`` (to rounding).
    """
    g = np.asarray(gains, dtype=np.float64)
    if g.ndim != 1 or g.size == 0:
        raise ValueError("gains must be a non-empty 1-D array")
    if not np.all((g >= 0.0) & np.isfinite(g)):
        raise ValueError("gains must be finite and non-negative")
    nv = np.broadcast_to(np.asarray(noise_var, dtype=np.float64), g.shape)
    if not np.all((nv > 0.0) & np.isfinite(nv)):
        raise ValueError("noise_var must be positive and finite")
    pm = float(p_max)
    if not (pm >= 0.0 and np.isfinite(pm)):
        raise ValueError("p_max must be finite and non-negative")
    if not np.any(g > 0.0):
        raise ValueError("water_filling needs at least one channel with positive gain")
    p = np.zeros(g.size)
    if pm == 0.0:
        return p
    pos = np.flatnonzero(g > 0.0)
    floor = nv[pos] / g[pos]
    order = np.argsort(floor, kind="stable")
    fs = floor[order]
    csum = np.cumsum(fs)
    k = np.arange(1, fs.size + 1)
    mu = (pm + csum) / k
    # Largest k whose water level lies above the k-th floor (the active set is a prefix).
    valid = mu > fs
    n_act = int(np.flatnonzero(valid)[-1]) + 1
    # p_i = mu - f_i written as p_max/k + (mean(f) - f_i): no cancellation against a large mu,
    # then one common shift (which keeps the water level equal) makes the sum exact.
    act = order[:n_act]
    pa = pm / n_act + (np.mean(floor[act]) - floor[act])
    pa += (pm - pa.sum()) / n_act
    p[pos[act]] = np.maximum(pa, 0.0)
    return p


def paper_channel() -> ComplexArray:
    """The normalised 2x2 channel of Sec. V-A of MU-ASCC ([1]), with unit noise.

    The paper prints ``Hbar = [hbar_1, hbar_2]`` with the users as columns; here the users are
    rows (the project convention), so row ``i`` is ``hbar_i``.

    Returns
    -------
    ndarray, shape (2, 2)
        ``Hbar``, rows ``hbar_1 = [-0.4199-1.2885j, 0.2092+1.0851j]`` and
        ``hbar_2 = [-0.4546+1.0362j, -0.5603+0.7316j]``.
    """
    hbar_1 = [-0.4199 - 1.2885j, 0.2092 + 1.0851j]
    hbar_2 = [-0.4546 + 1.0362j, -0.5603 + 0.7316j]
    return np.array([hbar_1, hbar_2], dtype=np.complex128)
