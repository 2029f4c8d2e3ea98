"""The semantic interference factor xi of SC-SFMA ([2]), eq. (10), and the pair classes.

xi is pair dependent; it is profiled per pair class of Fashion-MNIST labels (:func:`pair_class`:
``same``, ``related``, ``dissimilar``; docs/sc_sfma/model.md). :func:`xi`, :func:`xi_grad` and
:func:`xi_dnu2` evaluate eq. (10) and its derivatives, :func:`fit_xi` fits it to measured
samples. numpy/scipy only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "PAIR_CLASSES",
    "SUPER_GROUPS",
    "XI_PARAM_KEYS",
    "check_xi_params",
    "fit_xi",
    "pair_class",
    "xi",
    "xi_dnu2",
    "xi_grad",
]

XI_PARAM_KEYS = ("xi_lo", "xi_hi", "a", "b", "s0", "nu0")

#: Pair classes of Fashion-MNIST label pairs (docs/sc_sfma/model.md, "Pair classes").
PAIR_CLASSES = ("same", "related", "dissimilar")

#: Fashion-MNIST super-groups: tops {T-shirt, Pullover, Dress, Coat, Shirt}, footwear
#: {Sandal, Sneaker, Ankle boot}, trouser, bag.
SUPER_GROUPS = {
    "tops": (0, 2, 3, 4, 6),
    "footwear": (5, 7, 9),
    "trouser": (1,),
    "bag": (8,),
}
_GROUP_OF = {label: name for name, labels in SUPER_GROUPS.items() for label in labels}


def pair_class(label_a: int, label_b: int) -> str:
    """Pair class of two Fashion-MNIST labels: ``"same"`` (equal labels), ``"related"``
    (different labels in one super-group) or ``"dissimilar"`` (otherwise).

    The seed's interference factor xi (eq. (10)) is pair dependent; we profile it per pair class
    (docs/sc_sfma/model.md). Raises ``ValueError`` for a label outside 0..9.
    """
    a, b = int(label_a), int(label_b)
    if a != label_a or b != label_b or a not in _GROUP_OF or b not in _GROUP_OF:
        raise ValueError(f"Fashion-MNIST labels are integers 0..9, got {label_a!r}, {label_b!r}")
    if a == b:
        return "same"
    if _GROUP_OF[a] == _GROUP_OF[b]:
        return "related"
    return "dissimilar"


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


def fit_xi(s_db: ArrayLike, nu: ArrayLike, xi_samples: ArrayLike) -> tuple[dict[str, float], float]:
    """Least-squares fit of eq. (10) to measured xi samples; returns ``(params, r2)``.

    Either ``s_db`` and ``nu`` are 1-D grids and ``xi_samples`` has shape ``(len(s_db), len(nu))``
    (indexed ``xi[i_snr][i_nu]`` as in the table format), or all three have one shape (scattered
    samples). Bounded trust-region least squares (scipy) from several starts, with ``nu0`` pinned
    at the centre of the sampled nu range (``s0`` and ``nu0`` form one offset, so only their
    combination ``a s0 + b nu0`` is identifiable); ``r2`` is the
    coefficient of determination of the best fit (1 - SS_res / SS_tot; 1.0 when the samples are
    constant and fitted exactly).
    """
    from scipy.optimize import least_squares

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
    s_span = max(float(np.ptp(s)), 1e-6)
    v_span = max(float(np.ptp(v)), 1e-6)
    y_lo, y_hi = float(y.min()), float(y.max())
    y_span = max(y_hi - y_lo, 1e-9)

    # (s0, nu0) are one offset a s0 + b nu0 (docs/sc_sfma/model.md): nu0 is pinned at the centre of
    # the sampled nu range so that the fit is identifiable. Free parameters:
    # xi_lo, delta = xi_hi - xi_lo >= 0, log a, log b, s0.
    nu0 = 0.5 * (float(v.min()) + float(v.max()))

    def model(theta):
        lo, delta, la, lb, s0 = theta
        z = math.exp(la) * (s - s0) + math.exp(lb) * (v - nu0)
        return lo + delta * 0.5 * (1.0 - np.tanh(0.5 * z))

    def resid(theta):
        return model(theta) - y

    lower = [0.0, 0.0, math.log(1e-3 / s_span), math.log(1e-3 / v_span), -np.inf]
    upper = [
        max(y_hi, 1e-9) + y_span,
        4 * y_span + y_hi,
        math.log(200.0 / s_span),
        math.log(200.0 / v_span),
        np.inf,
    ]
    best = None
    for ka in (2.0, 8.0, 30.0):
        for kb in (2.0, 8.0, 30.0):
            for frac in (0.3, 0.5, 0.7):
                x0 = np.array(
                    [
                        max(y_lo, 0.0),
                        y_span,
                        math.log(ka / s_span),
                        math.log(kb / v_span),
                        float(np.quantile(s, frac)),
                    ]
                )
                x0 = np.clip(x0, np.array(lower) + 1e-12, np.array(upper) - 1e-12)
                r = least_squares(resid, x0, bounds=(lower, upper), method="trf", max_nfev=400)
                if best is None or r.cost < best.cost:
                    best = r
    lo, delta, la, lb, s0 = (float(t) for t in best.x)
    params = {
        "xi_lo": lo,
        "xi_hi": lo + delta,
        "a": math.exp(la),
        "b": math.exp(lb),
        "s0": s0,
        "nu0": nu0,
    }
    ss_res = float(np.sum(best.fun**2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res < 1e-18 else 0.0)
    return params, r2
