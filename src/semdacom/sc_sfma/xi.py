"""The semantic interference factor xi of SC-SFMA ([2]), eq. (10), and the pair classes.

xi is pair dependent; it is profiled per pair class of Fashion-MNIST labels (:func:`pair_class`:
``same``, ``related``, ``dissimilar``; docs/sc_sfma/model.md). :func:`xi`, :func:`xi_grad` and
:func:`xi_dnu2` evaluate eq. (10) and its derivatives, :func:`fit_xi` fits it to measured
samples (absolute error, or the error of the implied eq. (11) SINR in dB, which is accurate
where the SINR cap 1/xi binds). The distortion-equivalent measurement of xi (issue 22, Build 5;
docs/sc_sfma/transceiver.md, "Measuring xi") inverts eq. (11): :func:`monotone_nonincreasing`,
:func:`snr_equivalent`, :func:`xi_from_snr_equivalent`, :func:`distortion_equivalent_xi`;
:func:`xi_fit_errors` reports a fit's error. numpy/scipy only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "FIT_LOSSES",
    "OVERLAP_CLASS",
    "PAIR_CLASSES",
    "SUPER_GROUPS",
    "XI_PARAM_KEYS",
    "check_scenes",
    "check_xi_params",
    "distortion_equivalent_xi",
    "fit_xi",
    "monotone_nonincreasing",
    "pair_class",
    "snr_equivalent",
    "xi",
    "xi_dnu2",
    "xi_fit_errors",
    "xi_from_snr_equivalent",
    "xi_grad",
]

XI_PARAM_KEYS = ("xi_lo", "xi_hi", "a", "b", "s0", "nu0")

#: Pair classes of Fashion-MNIST label pairs (docs/sc_sfma/model.md, "Pair classes").
PAIR_CLASSES = ("same", "related", "dissimilar")

#: The class of two users who ask for views of one scene (content-overlapping pairs,
#: ``sc_sfma.transceiver.overlap``); the optimiser uses it when users share a scene id and the
#: tables were profiled with it (docs/sc_sfma/optimizer.md, "Users who share a scene").
OVERLAP_CLASS = "overlap"

#: Fashion-MNIST super-groups: tops {T-shirt, Pullover, Dress, Coat, Shirt}, footwear
#: {Sandal, Sneaker, Ankle boot}, trouser, bag.
SUPER_GROUPS = {
    "tops": (0, 2, 3, 4, 6),
    "footwear": (5, 7, 9),
    "trouser": (1,),
    "bag": (8,),
}
_GROUP_OF = {label: name for name, labels in SUPER_GROUPS.items() for label in labels}


def pair_class(label_a: int, label_b: int, scene_a: int = -1, scene_b: int = -1) -> str:
    """Pair class of two users: ``"overlap"`` (:data:`OVERLAP_CLASS`) when both share a scene id
    ``scene_a == scene_b >= 0`` (views of one scene), else by their Fashion-MNIST labels:
    ``"same"`` (equal labels), ``"related"`` (different labels in one super-group) or
    ``"dissimilar"`` (otherwise).

    The seed's interference factor xi (eq. (10)) is pair dependent; we profile it per pair class
    (docs/sc_sfma/model.md). Raises ``ValueError`` for a label outside 0..9.
    """
    a, b = int(label_a), int(label_b)
    if a != label_a or b != label_b or a not in _GROUP_OF or b not in _GROUP_OF:
        raise ValueError(f"Fashion-MNIST labels are integers 0..9, got {label_a!r}, {label_b!r}")
    if int(scene_a) >= 0 and int(scene_a) == int(scene_b):
        return OVERLAP_CLASS
    if a == b:
        return "same"
    if _GROUP_OF[a] == _GROUP_OF[b]:
        return "related"
    return "dissimilar"


def check_scenes(scenes: ArrayLike, n: int) -> NDArray[np.int64]:
    """Scene ids of ``n`` users (:func:`pair_class`'s ``scene_a``, ``scene_b``; -1 for a scene of
    its own), as an int64 array of shape (n,). Raises ``ValueError`` naming the problem when there
    are not ``n`` of them, or when they are not integers >= -1: the array's dtype must be an
    integer one (``[0.7, 0.2]`` would otherwise be truncated to one shared scene 0). The
    optimiser's ``SfmaProblem(scenes=)`` and the message layer (``messages.check_scenes``) share
    it.
    """
    s = np.asarray(scenes).reshape(-1)
    if s.size != n:
        raise ValueError(f"'scenes' has {s.size} entries, expected K={n}")
    what = "'scenes' entries must be integers >= -1 (-1: a scene of its own)"
    if s.size and not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"{what}, got dtype {s.dtype}")
    if np.any(s < -1):
        raise ValueError(f"{what}, got {int(s.min())}")
    return s.astype(np.int64)


def check_xi_params(params: Mapping[str, float]) -> tuple[float, ...]:
    missing = [k for k in XI_PARAM_KEYS if k not in params]
    if missing:
        raise ValueError(f"xi params lack {missing}")
    lo, hi, a, b, s0, nu0 = (float(params[k]) for k in XI_PARAM_KEYS)
    if not (0.0 <= lo <= hi) or a <= 0 or b <= 0:
        raise ValueError(f"xi params need 0 <= xi_lo <= xi_hi and a, b > 0, got {dict(params)}")
    return lo, hi, a, b, s0, nu0


def _xi_parts(s_db: ArrayLike, nu: ArrayLike, params: Mapping[str, float]):
    lo, hi, a, b, s0, nu0 = check_xi_params(params)
    z = a * (np.asarray(s_db, dtype=float) - s0) + b * (np.asarray(nu, dtype=float) - nu0)
    f = 0.5 * (1.0 - np.tanh(0.5 * z))  # 1 / (1 + exp(z)), overflow-free
    return lo, hi - lo, a, b, f


def xi(s_db: ArrayLike, nu: ArrayLike, params: Mapping[str, float]) -> NDArray:
    """Semantic interference factor, eq. (10) of SC-SFMA (reverse-S bivariate logistic)::

        xi(s, nu) = xi_lo + (xi_hi - xi_lo) / (1 + exp(a (s - s0) + b (nu - nu0)))

    ``s_db``: the user's received SNR in dB (docs/sc_sfma/model.md: a deviation from the paper's
    transmit power); ``nu``: compression ratio in (0, 1]. Broadcasts its arguments.
    """
    lo, delta, _, _, f = _xi_parts(s_db, nu, params)
    return lo + delta * f


def xi_grad(s_db: ArrayLike, nu: ArrayLike, params: Mapping[str, float]) -> tuple[NDArray, NDArray]:
    """Partial derivatives of eq. (10): ``(dxi/ds, dxi/dnu)`` = ``-(a, b) (xi_hi - xi_lo) f (1-f)``
    with ``f = 1 / (1 + exp(z))`` (both <= 0: xi is non-increasing in s and nu)."""
    _, delta, a, b, f = _xi_parts(s_db, nu, params)
    core = -delta * f * (1.0 - f)
    return a * core, b * core


def xi_dnu2(s_db: ArrayLike, nu: ArrayLike, params: Mapping[str, float]) -> NDArray:
    """Second derivative of eq. (10) in nu: ``b^2 (xi_hi - xi_lo) f (1-f) (1-2f)`` (Alg. 1's
    Newton step on eq. (25))."""
    _, delta, _, b, f = _xi_parts(s_db, nu, params)
    return b * b * delta * f * (1.0 - f) * (1.0 - 2.0 * f)


#: Error measures of :func:`fit_xi`: ``"abs"`` (absolute error on xi, the first tables) and
#: ``"sinr_db"`` (error of the implied eq. (11) SINR in dB; the distortion-equivalent tables).
FIT_LOSSES = ("abs", "sinr_db")


def _sinr_db(xi_values: NDArray, gamma: NDArray) -> NDArray:
    """eq. (11) in dB: ``10 log10(gamma / (xi gamma + 1))``."""
    return 10.0 * np.log10(gamma / (xi_values * gamma + 1.0))


def fit_xi(
    s_db: ArrayLike, nu: ArrayLike, xi_samples: ArrayLike, loss: str = "abs"
) -> tuple[dict[str, float], float]:
    """Least-squares fit of eq. (10) to measured xi samples; returns ``(params, r2)``.

    Either ``s_db`` and ``nu`` are 1-D grids and ``xi_samples`` has shape ``(len(s_db), len(nu))``
    (indexed ``xi[i_snr][i_nu]`` as in the table format), or all three have one shape (scattered
    samples). Bounded trust-region least squares (scipy) from several starts, with ``nu0`` pinned
    at the centre of the sampled nu range (``s0`` and ``nu0`` form one offset, so only their
    combination ``a s0 + b nu0`` is identifiable); ``r2`` is the
    coefficient of determination of the best fit on xi (1 - SS_res / SS_tot; 1.0 when the samples
    are constant and fitted exactly).

    ``loss``:

    * ``"abs"``: residual ``xi_fit - xi``, ``xi_hi`` free up to ``4 ptp + max`` (the first
      tables; it extrapolates ``xi_hi`` when the samples sit in the logistic's lower tail);
    * ``"sinr_db"``: residual of the implied eq. (11) SINR in dB,
      ``10 log10(xi_fit gamma + 1) - 10 log10(xi gamma + 1)``, ``gamma = 10^(s/10)``. Where
      ``xi gamma << 1`` the SINR is ``gamma`` whatever xi, so those samples weigh little; where
      the cap binds (``xi gamma >> 1``, SINR ~ 1/xi) the residual is the relative error of xi
      (10 log10(1 + e) dB for a relative error e). The samples are clipped at 0 (eq. (10) is
      non-negative; the measurement may be negative, see :func:`distortion_equivalent_xi`), and
      the surface is bounded by the measured range, ``0 <= xi_lo <= xi_hi <= max(samples)``, so
      no ``xi_hi`` is fitted above what a sample supports (``s0`` stays free: with ``nu0``
      pinned it is the one offset ``a s0 + b nu0``, and bounding it would bound where the
      transition in nu can lie).
    """
    from scipy.optimize import least_squares

    if loss not in FIT_LOSSES:
        raise ValueError(f"loss must be one of {FIT_LOSSES}, got {loss!r}")
    s = np.asarray(s_db, dtype=float)
    v = np.asarray(nu, dtype=float)
    y = np.asarray(xi_samples, dtype=float)
    if y.ndim == 2 and s.ndim == 1 and v.ndim == 1 and y.shape == (s.size, v.size):
        s, v = np.meshgrid(s, v, indexing="ij")
    if not (s.shape == v.shape == y.shape):
        raise ValueError(f"shapes differ: s {s.shape}, nu {v.shape}, xi {y.shape}")
    s, v, y = s.ravel(), v.ravel(), y.ravel()
    ok = np.isfinite(s) & np.isfinite(v) & np.isfinite(y)
    s, v, y = s[ok], v[ok], y[ok]
    if y.size < 6:
        raise ValueError(f"fit_xi needs at least 6 finite samples, got {y.size}")
    if loss == "sinr_db":
        y = np.maximum(y, 0.0)
    s_span = max(float(np.ptp(s)), 1e-6)
    v_span = max(float(np.ptp(v)), 1e-6)
    y_lo, y_hi = float(y.min()), float(y.max())
    y_span = max(y_hi - y_lo, 1e-9)

    # (s0, nu0) are one offset a s0 + b nu0 (docs/sc_sfma/model.md): nu0 is pinned at the centre of
    # the sampled nu range so that the fit is identifiable.
    nu0 = 0.5 * (float(v.min()) + float(v.max()))
    la_rng = (math.log(1e-3 / s_span), math.log(200.0 / s_span))
    lb_rng = (math.log(1e-3 / v_span), math.log(200.0 / v_span))

    def logistic(lo, hi, la, lb, s0):
        z = math.exp(la) * (s - s0) + math.exp(lb) * (v - nu0)
        return lo + (hi - lo) * 0.5 * (1.0 - np.tanh(0.5 * z))

    def multistart(resid, lower, upper, starts, max_nfev):
        lo_a, up_a = np.array(lower, dtype=float), np.array(upper, dtype=float)
        best = None
        for x in starts:
            x0 = np.clip(np.array(x, dtype=float), lo_a + 1e-12, up_a - 1e-12)
            r = least_squares(resid, x0, bounds=(lo_a, up_a), method="trf", max_nfev=max_nfev)
            if best is None or r.cost < best.cost:
                best = r
        return best.x

    if loss == "abs":
        # free parameters: xi_lo, delta = xi_hi - xi_lo >= 0, log a, log b, s0
        def resid_abs(theta):
            lo, delta, la, lb, s0 = theta
            return logistic(lo, lo + delta, la, lb, s0) - y

        starts = [
            [max(y_lo, 0.0), y_span, math.log(ka / s_span), math.log(kb / v_span),
             float(np.quantile(s, frac))]
            for ka in (2.0, 8.0, 30.0) for kb in (2.0, 8.0, 30.0) for frac in (0.3, 0.5, 0.7)
        ]  # fmt: skip
        lower = [0.0, 0.0, la_rng[0], lb_rng[0], -np.inf]
        upper = [max(y_hi, 1e-9) + y_span, 4 * y_span + y_hi, la_rng[1], lb_rng[1], np.inf]
        lo, delta, la, lb, s0 = (float(t) for t in multistart(resid_abs, lower, upper, starts, 400))
        hi = lo + delta
    else:
        gamma = 10.0 ** (s / 10.0)
        target = _sinr_db(y, gamma)
        top = max(y_hi, 1e-9)

        # free parameters: xi_hi in [0, max sample], r = xi_lo / xi_hi in [0, 1], log a, log b
        # and the one offset c = a s0 + b nu0 (box bounds keep 0 <= xi_lo <= xi_hi <= max
        # sample); the starts put the transition at the lower and upper quartiles of the sampled
        # s and nu, with slopes from nearly flat in s to steep
        def surface(theta):
            hi, r, la, lb, c = theta
            z = math.exp(la) * s + math.exp(lb) * v - c
            return r * hi + (1.0 - r) * hi * 0.5 * (1.0 - np.tanh(0.5 * z))

        def resid_sinr(theta):
            return _sinr_db(surface(theta), gamma) - target

        starts = []
        r0 = min(max(y_lo, 0.0) / top, 1.0)
        for ka in (0.1, 3.0, 20.0):
            for kb in (3.0, 20.0):
                a0, b0 = ka / s_span, kb / v_span
                for q in (0.25, 0.75):
                    c0 = a0 * float(np.quantile(s, q)) + b0 * float(np.quantile(v, q))
                    starts.append([top, r0, math.log(a0), math.log(b0), c0])
        lower = [0.0, 0.0, la_rng[0], lb_rng[0], -np.inf]
        upper = [top, 1.0, la_rng[1], lb_rng[1], np.inf]
        hi, r, la, lb, c = (float(t) for t in multistart(resid_sinr, lower, upper, starts, 300))
        lo = r * hi
        s0 = (c - math.exp(lb) * nu0) / math.exp(la)
    params = {"xi_lo": lo, "xi_hi": hi, "a": math.exp(la), "b": math.exp(lb), "s0": s0, "nu0": nu0}
    ss_res = float(np.sum((logistic(lo, hi, la, lb, s0) - y) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res < 1e-18 else 0.0)
    return params, r2


def xi_fit_errors(
    s_db: ArrayLike,
    nu: ArrayLike,
    xi_samples: ArrayLike,
    params: Mapping[str, float],
    at: tuple[float, float] = (20.0, 1.0),
    binding: float = 0.1,
) -> dict[str, float]:
    """How well an eq. (10) fit reproduces measured xi on a grid (``xi_samples[i_snr][i_nu]``).

    Returns the relative error ``(xi_fit - xi) / xi`` at the grid point ``at`` = (SNR dB, nu)
    (NaN when off the grid or xi <= 0), the largest absolute relative error over every sample
    with xi > 0 (``max_rel``) and over the samples where the SINR cap matters,
    ``xi gamma >= binding`` (``max_rel_binding``; 0.1 = the interference costs >= 0.4 dB) and
    where the cap binds, ``xi gamma >= 1`` (``max_rel_cap``: interference at least the noise,
    SINR within 3 dB of 1/xi), and the error of the implied eq. (11) SINR in dB at ``at`` and
    at its worst over the grid (samples clipped at 0 as in the fit)."""
    s = np.asarray(s_db, dtype=float)
    v = np.asarray(nu, dtype=float)
    y = np.asarray(xi_samples, dtype=float)
    S, V = np.meshgrid(s, v, indexing="ij")
    f = xi(S, V, params)
    gamma = 10.0 ** (S / 10.0)
    with np.errstate(all="ignore"):
        rel = np.where(y > 0, (f - y) / y, np.nan)
        d_sinr = _sinr_db(f, gamma) - _sinr_db(np.maximum(y, 0.0), gamma)
    d_sinr = np.where(np.isfinite(y), d_sinr, np.nan)
    bind = (y * gamma >= binding) & np.isfinite(rel)
    cap = (y * gamma >= 1.0) & np.isfinite(rel)

    def nanmax_abs(a):
        a = np.abs(a[np.isfinite(a)])
        return float(a.max()) if a.size else math.nan

    i = np.flatnonzero(np.isclose(s, at[0]))
    j = np.flatnonzero(np.isclose(v, at[1]))
    on = i.size > 0 and j.size > 0
    return {
        "at_snr_db": float(at[0]),
        "at_nu": float(at[1]),
        "xi_measured_at": float(y[i[0], j[0]]) if on else math.nan,
        "xi_fit_at": float(f[i[0], j[0]]) if on else math.nan,
        "rel_at": float(rel[i[0], j[0]]) if on else math.nan,
        "sinr_db_err_at": float(d_sinr[i[0], j[0]]) if on else math.nan,
        "max_rel": nanmax_abs(rel),
        "max_rel_binding": nanmax_abs(rel[bind]),
        "max_rel_cap": nanmax_abs(rel[cap]),
        "max_sinr_db_err": nanmax_abs(d_sinr),
    }


# --------------------------------------------------------------------------------------------
# Distortion-equivalent xi: eq. (11) inverted on the interference-free reference
# --------------------------------------------------------------------------------------------


def monotone_nonincreasing(y: ArrayLike) -> NDArray:
    """Least-squares non-increasing fit of a sequence (pool-adjacent-violators, equal weights):
    a measured reference distortion curve ``D_ref(s)`` made monotone in the SNR before it is
    inverted. NaN entries are left out and come back as NaN."""
    a = np.asarray(y, dtype=float)
    out = np.full(a.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(a))
    vals: list[float] = []
    counts: list[int] = []
    for x in a[ok]:
        vals.append(float(x))
        counts.append(1)
        # non-increasing: merge while a later block is above the one before it
        while len(vals) > 1 and vals[-1] > vals[-2]:
            c = counts[-1] + counts[-2]
            m = (vals[-1] * counts[-1] + vals[-2] * counts[-2]) / c
            vals[-2:], counts[-2:] = [m], [c]
    out[ok] = np.repeat(vals, counts)
    return out


def snr_equivalent(
    d: ArrayLike, ref_snr_db: ArrayLike, ref_d: ArrayLike
) -> tuple[NDArray, NDArray]:
    """The single-user SNR at which the interference-free reference reaches distortion ``d``:
    ``s_eq`` with ``D_ref(s_eq) = d``, returned as ``(s_eq_db, flag)``.

    ``ref_d`` (over the increasing ``ref_snr_db``) is first made non-increasing
    (:func:`monotone_nonincreasing`); ``s_eq`` is the smallest SNR at which that curve reaches
    ``d``, linear between grid points in dB (on a flat stretch, the SNR where it is first reached).
    ``flag`` is 0 inside the reference's range, ``+1`` where ``d`` is above it (worse than the
    reference at its lowest SNR; ``s_eq`` clamped to the lowest, so it is an upper bound) and
    ``-1`` where ``d`` is below it (better than the reference at its highest SNR; ``s_eq``
    clamped to the highest, a lower bound). NaN ``d`` gives NaN with flag 0."""
    rs = np.asarray(ref_snr_db, dtype=float)
    if rs.ndim != 1 or rs.size < 2 or np.any(np.diff(rs) <= 0):
        raise ValueError("ref_snr_db must be a strictly increasing grid of >= 2 points")
    r = monotone_nonincreasing(ref_d)
    if r.shape != rs.shape or not np.all(np.isfinite(r)):
        raise ValueError(f"ref_d must be finite with the reference grid's shape {rs.shape}")
    dd = np.asarray(d, dtype=float)
    s_eq = np.full(dd.shape, np.nan)
    flag = np.zeros(dd.shape, dtype=int)
    fs, ff = s_eq.reshape(-1), flag.reshape(-1)
    for idx, target in enumerate(dd.reshape(-1)):
        if not np.isfinite(target):
            continue
        if target > r[0]:
            fs[idx], ff[idx] = rs[0], 1
            continue
        if target < r[-1]:
            fs[idx], ff[idx] = rs[-1], -1
            continue
        k = int(np.flatnonzero(r <= target)[0])
        if k == 0:
            fs[idx] = rs[0]
            continue
        d0, d1 = r[k - 1], r[k]
        frac = (d0 - target) / (d0 - d1)
        fs[idx] = rs[k - 1] + frac * (rs[k] - rs[k - 1])
    return s_eq, flag


def xi_from_snr_equivalent(snr_db: ArrayLike, s_eq_db: ArrayLike) -> NDArray:
    """eq. (11) solved for xi: ``SINR = gamma / (xi gamma + 1) = s_eq`` gives
    ``xi = 1 / s_eq - 1 / gamma`` (linear SNRs from dB). Negative where ``s_eq > gamma``: the pair
    decodes better than the interference-free reference at its own SNR (fusion helps)."""
    g = 10.0 ** (np.asarray(snr_db, dtype=float) / 10.0)
    e = 10.0 ** (np.asarray(s_eq_db, dtype=float) / 10.0)
    return 1.0 / e - 1.0 / g


def distortion_equivalent_xi(
    d_pair: ArrayLike, snr_db: ArrayLike, ref_snr_db: ArrayLike, ref_d: ArrayLike
) -> dict[str, NDArray]:
    """Distortion-equivalent semantic interference factor (eqs. (10)-(11) of SC-SFMA, issue 22):
    the pair's distortion ``d_pair`` at received SNR ``snr_db`` (both broadcast) is matched on the
    reference curve ``ref_d`` over ``ref_snr_db`` (the same decoder fed only its own user's
    stream, partner removed: :func:`snr_equivalent`), and eq. (11) ``gamma / (xi gamma + 1) =
    s_eq`` is solved for xi (:func:`xi_from_snr_equivalent`).

    Returns ``{"xi", "s_eq_db", "flag"}`` (flag as in :func:`snr_equivalent`: where it is ``+1``
    xi is a lower bound, where ``-1`` an upper bound). xi is not clipped: a negative xi is a
    measurement (the pair beats the reference), clipped at 0 only where a table needs xi >= 0
    (:func:`fit_xi` with ``loss="sinr_db"``)."""
    d, s = np.broadcast_arrays(np.asarray(d_pair, dtype=float), np.asarray(snr_db, dtype=float))
    s_eq, flag = snr_equivalent(d, ref_snr_db, ref_d)
    return {"xi": xi_from_snr_equivalent(s, s_eq), "s_eq_db": s_eq, "flag": flag}
