"""SC-SFMA system model ([2], *Semantic Feature Multiple Access Empowered Integrated Learning
and Communication Networks*), as reconstructed in ``docs/sc_sfma/model.md``.

numpy/scipy only: the SFMA optimiser (``optimize/sfma``) and the learned transceiver's profiling
code (``sfma/``) both import it, and it never imports torch or GNU Radio.

Contents (equation numbers of SC-SFMA):

- pair classes of Fashion-MNIST labels (:func:`pair_class`);
- the semantic interference factor xi of eq. (10) with its derivatives (:func:`xi`,
  :func:`xi_grad`, :func:`xi_dnu2`) and its least-squares fit (:func:`fit_xi`);
- SNR, effective SINR (11), rate (12)-(13) with the rate's derivatives, delay (14), latency (15),
  energy (16) and the residual time budget (27);
- the monotone upper envelope of distortion samples (17), :func:`nu_min` (18)-(19);
- the table formats ``semdacom-sfma-xi/1`` and ``semdacom-sfma-distortion/1``
  (docs/mu_ascc/tables.md,
  "SFMA tables") with loaders (:func:`load_xi_table`, :func:`load_distortion_table`) and
  synthetic tables in the same format for tests and for runs made before measured tables exist
  (flagged ``"synthetic": true``; never shipped).

Units: powers in watts, bandwidths in Hz, rates in bit/s, sizes in bits, times in seconds,
energies in joules; SNRs in dB only where the name says ``_db``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DISTORTION_FORMAT",
    "PAIR_CLASSES",
    "SUPER_GROUPS",
    "TABLES_DIR",
    "XI_FORMAT",
    "XI_PARAM_KEYS",
    "DistortionTable",
    "XiTable",
    "comp_energy",
    "energy",
    "fit_xi",
    "latency",
    "load_distortion_table",
    "load_xi_table",
    "nu_min",
    "pair_class",
    "rate",
    "rate_dnu",
    "residual_time",
    "sinr",
    "snr_db",
    "synthetic_distortion_table",
    "synthetic_xi_table",
    "tx_delay",
    "upper_envelope",
    "xi",
    "xi_dnu2",
    "xi_grad",
]

XI_FORMAT = "semdacom-sfma-xi/1"
DISTORTION_FORMAT = "semdacom-sfma-distortion/1"
XI_PARAM_KEYS = ("xi_lo", "xi_hi", "a", "b", "s0", "nu0")
from semdacom.data import TABLES_DIR  # noqa: E402

LN2 = math.log(2.0)
DB = 10.0 / math.log(10.0)  # ds/dln(gamma): s = DB * ln(gamma)

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


# --------------------------------------------------------------------------------------------
# eq. (10): the semantic interference factor
# --------------------------------------------------------------------------------------------


def _check_params(params: Mapping[str, float]) -> tuple[float, ...]:
    missing = [k for k in XI_PARAM_KEYS if k not in params]
    if missing:
        raise ValueError(f"xi params lack {missing}")
    lo, hi, a, b, s0, nu0 = (float(params[k]) for k in XI_PARAM_KEYS)
    if not (0.0 <= lo <= hi) or a <= 0 or b <= 0:
        raise ValueError(f"xi params need 0 <= xi_lo <= xi_hi and a, b > 0, got {dict(params)}")
    return lo, hi, a, b, s0, nu0


def _xi_parts(s_db: ArrayLike, nu: ArrayLike, params: Mapping[str, float]):
    lo, hi, a, b, s0, nu0 = _check_params(params)
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


# --------------------------------------------------------------------------------------------
# eqs. (11)-(16), (27): SINR, rate, delay, latency, energy
# --------------------------------------------------------------------------------------------


def snr_db(power_w: ArrayLike, gain: ArrayLike, n0_w_per_hz: float, bw_hz: ArrayLike) -> NDArray:
    """Received SNR in dB, ``s = 10 log10(P g / (N0 B))`` (the argument of eq. (10))."""
    p = np.asarray(power_w, dtype=float) * np.asarray(gain, dtype=float)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(p / (n0_w_per_hz * np.asarray(bw_hz, dtype=float)))


def sinr(gamma: ArrayLike, xi_value: ArrayLike) -> NDArray:
    """Effective SINR, eq. (11): ``gamma / (xi gamma + 1)`` with ``gamma = P g / (N0 B)`` linear:
    xi scales the partner's signal, which arrives through the user's own channel."""
    g = np.asarray(gamma, dtype=float)
    return g / (np.asarray(xi_value, dtype=float) * g + 1.0)


def rate(bw_hz: ArrayLike, sinr_value: ArrayLike) -> NDArray:
    """Rate, eq. (12): ``B log2(1 + SINR)`` in bit/s (the pair sum rate (13) adds two)."""
    return np.asarray(bw_hz, dtype=float) * np.log2(1.0 + np.asarray(sinr_value, dtype=float))


def rate_dnu(
    bw_hz: ArrayLike,
    gamma: ArrayLike,
    xi_value: ArrayLike,
    dxi_dnu: ArrayLike,
    d2xi_dnu2: ArrayLike | None = None,
) -> tuple[NDArray, NDArray | None]:
    """First (and second, when ``d2xi_dnu2`` is given) derivative of eq. (12) in nu at fixed
    ``gamma``: ``dR/dnu = dR/dxi * dxi/dnu`` with
    ``dR/dxi = -B gamma^2 / (ln2 u (u + gamma))``, ``u = xi gamma + 1`` (the terms of eq. (25))."""
    bw = np.asarray(bw_hz, dtype=float)
    g = np.asarray(gamma, dtype=float)
    x = np.asarray(xi_value, dtype=float)
    dx = np.asarray(dxi_dnu, dtype=float)
    u = x * g + 1.0
    dr_dxi = -bw * g * g / (LN2 * u * (u + g))
    d1 = dr_dxi * dx
    if d2xi_dnu2 is None:
        return d1, None
    d2r_dxi2 = bw * g**3 * (2.0 * u + g) / (LN2 * u * u * (u + g) ** 2)
    d2 = d2r_dxi2 * dx * dx + dr_dxi * np.asarray(d2xi_dnu2, dtype=float)
    return d1, d2


def tx_delay(nu: ArrayLike, source_bits: ArrayLike, rate_bps: ArrayLike) -> NDArray:
    """Transmission delay, eq. (14): ``nu S / R`` (inf where the rate is 0)."""
    r = np.asarray(rate_bps, dtype=float)
    num = np.asarray(nu, dtype=float) * np.asarray(source_bits, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r > 0, num / np.where(r > 0, r, 1.0), np.inf)


def latency(
    t_tx: ArrayLike, c_enc: ArrayLike, c_dec: ArrayLike, f_bs: float, f_user: float
) -> NDArray:
    """Per-user end-to-end latency, the term of eq. (15): ``T_tx + C_enc / f_BS + C_dec / f_U``;
    the group's latency is the maximum over its two users."""
    return (
        np.asarray(t_tx, dtype=float)
        + np.asarray(c_enc, dtype=float) / f_bs
        + np.asarray(c_dec, dtype=float) / f_user
    )


def residual_time(
    t_max: float, c_enc: ArrayLike, c_dec: ArrayLike, f_bs: float, f_user: float
) -> NDArray:
    """Residual transmission-time budget, eq. (27): ``T_max - C_enc / f_BS - C_dec / f_U``."""
    return t_max - np.asarray(c_enc, dtype=float) / f_bs - np.asarray(c_dec, dtype=float) / f_user


def comp_energy(
    c_enc: ArrayLike, c_dec: ArrayLike, f_bs: float, f_user: float, kappa: float
) -> NDArray:
    """Computation energy of one user, the second term of eq. (16):
    ``kappa (C_enc f_BS^2 + C_dec f_U^2)`` (dynamic CMOS energy per cycle ``kappa f^2``)."""
    return kappa * (
        np.asarray(c_enc, dtype=float) * f_bs**2 + np.asarray(c_dec, dtype=float) * f_user**2
    )


def energy(power_w: ArrayLike, t_tx_pair_max: ArrayLike, e_comp_pair: ArrayLike) -> NDArray:
    """Energy of a group, eq. (16): ``P_m max_k T_k^tx + sum_k E_comp,k`` (the block radiates
    ``P_m`` until the slower user's payload is out)."""
    return np.asarray(power_w, dtype=float) * np.asarray(t_tx_pair_max, dtype=float) + np.asarray(
        e_comp_pair, dtype=float
    )


# --------------------------------------------------------------------------------------------
# eqs. (17)-(19): distortion envelope and nu_min
# --------------------------------------------------------------------------------------------


def upper_envelope(nu: ArrayLike, samples: ArrayLike) -> NDArray:
    """Monotone non-increasing piecewise-linear upper envelope of distortion samples (eq. (17),
    Sec. II-E of SC-SFMA) on the grid ``nu``.

    ``samples`` has shape ``(len(nu),)`` or ``(n_pairs, len(nu))`` (NaN entries ignored). The
    envelope at grid point ``k`` is the largest sample at any ``nu_l >= nu_k``: the smallest
    non-increasing function on or above every sample; between grid points it is linear.
    Returns an array of ``len(nu)`` (NaN where no sample exists at or beyond that point).
    """
    v = np.asarray(nu, dtype=float)
    d = np.atleast_2d(np.asarray(samples, dtype=float))
    if v.ndim != 1 or d.shape[-1] != v.size:
        raise ValueError(f"samples must end in len(nu) = {v.size}, got {d.shape}")
    if np.any(np.diff(v) <= 0):
        raise ValueError("nu grid must be strictly increasing")
    with np.errstate(all="ignore"):
        col = np.where(np.all(np.isnan(d), axis=0), -np.inf, np.nanmax(d, axis=0))
    env = np.maximum.accumulate(col[::-1])[::-1]
    return np.where(np.isfinite(env), env, np.nan)


def nu_min(envelope_nu: ArrayLike, envelope_d: ArrayLike, d_max: ArrayLike) -> NDArray:
    """Smallest compression ratio whose envelope distortion meets ``d_max``, eq. (18):
    ``min {nu : D(nu) <= d_max}`` on the piecewise-linear envelope (exact inverse
    interpolation); ``inf`` when even ``nu = max grid`` misses it. The pair-level bound (19) is
    the maximum of the two users' values. Vectorised over ``d_max``.
    """
    v = np.asarray(envelope_nu, dtype=float)
    d = np.asarray(envelope_d, dtype=float)
    dm = np.asarray(d_max, dtype=float)
    out = np.full(dm.shape, np.inf)
    flat_out = out.reshape(-1)
    for idx, target in enumerate(dm.reshape(-1)):
        ok = np.nonzero(d <= target)[0]
        if ok.size == 0:
            continue
        k = int(ok[0])
        if k == 0:
            flat_out[idx] = v[0]
            continue
        d0, d1 = d[k - 1], d[k]
        frac = (d0 - target) / (d0 - d1) if d0 > d1 else 1.0
        val = v[k - 1] + frac * (v[k] - v[k - 1])
        # conservative under rounding: never at or below the grid point that misses the target
        flat_out[idx] = val if val > v[k - 1] else v[k]
    return out


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


@dataclass
class XiTable:
    """``sfma_xi_<model>.json``: per pair class the fitted eq. (10) parameters, R² and samples."""

    model: str
    snr_db: NDArray
    nu: NDArray
    params: dict[str, dict[str, float]]
    r2: dict[str, float]
    samples: dict[str, NDArray] = field(default_factory=dict)
    n_pairs: dict[str, int] = field(default_factory=dict)
    synthetic: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def xi(self, cls: str, s_db: ArrayLike, nu: ArrayLike) -> NDArray:
        return xi(s_db, nu, self.params[cls])

    def xi_lo(self, cls: str) -> float:
        return float(self.params[cls]["xi_lo"])


@dataclass
class DistortionTable:
    """``sfma_distortion_<model>.json``: per pair class and SNR the envelope over the nu grid."""

    model: str
    metric: str
    snr_db: NDArray  # (n_snr,), increasing
    env_nu: dict[str, NDArray]  # class -> (n_env_nu,)
    env_d: dict[str, NDArray]  # class -> (n_snr, n_env_nu)
    mean_d: dict[str, NDArray] = field(default_factory=dict)
    synthetic: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.env_d)

    def snr_index(self, s_db: ArrayLike) -> NDArray:
        """Index of the largest tabulated SNR not above ``s_db`` (-1 below the grid): the
        conservative SNR level of docs/sc_sfma/model.md ("Which SNR")."""
        return np.searchsorted(self.snr_db, np.asarray(s_db, dtype=float), side="right") - 1

    def nu_min_at_level(self, cls: str, level: int, d_max: float) -> float:
        """eq. (18) on the envelope of SNR level ``level`` (inf for level < 0)."""
        if level < 0:
            return math.inf
        return float(nu_min(self.env_nu[cls], self.env_d[cls][level], d_max))

    def nu_min_levels(self, cls: str, d_max: float) -> NDArray:
        """eq. (18) at every SNR level (non-increasing in the level when the table is)."""
        return np.array(
            [self.nu_min_at_level(cls, k, d_max) for k in range(self.snr_db.size)], dtype=float
        )

    def nu_min(self, cls: str, s_db: ArrayLike, d_max: float) -> NDArray:
        """eq. (18) for users at SNR ``s_db`` (the envelope of their conservative level)."""
        levels = self.nu_min_levels(cls, d_max)
        idx = np.atleast_1d(self.snr_index(s_db))
        out = np.where(idx >= 0, levels[np.clip(idx, 0, None)], np.inf)
        return out.reshape(np.shape(s_db)) if np.ndim(s_db) else out[0]

    def snr_required_db(self, cls: str, nu: float, d_max: float) -> float:
        """Smallest tabulated SNR whose envelope meets ``d_max`` at ``nu`` (inf if none): the SNR
        floor that turns (20a) into a linear constraint in Alg. 2."""
        levels = self.nu_min_levels(cls, d_max)
        ok = np.nonzero(levels <= nu + 1e-12)[0]
        return float(self.snr_db[ok[0]]) if ok.size else math.inf

    def distortion(self, cls: str, s_db: ArrayLike, nu: ArrayLike) -> NDArray:
        """Envelope distortion (eq. (17)) at the conservative SNR level, linear in nu; inf below
        the SNR grid."""
        idx = np.atleast_1d(self.snr_index(s_db))
        v = np.broadcast_to(np.asarray(nu, dtype=float), idx.shape)
        out = np.full(idx.shape, np.inf)
        for k in np.unique(idx[idx >= 0]):
            sel = idx == k
            out[sel] = np.interp(v[sel], self.env_nu[cls], self.env_d[cls][k])
        return out.reshape(np.broadcast_shapes(np.shape(s_db), np.shape(nu)))


def _resolve(path_or_name: str | Path) -> Path:
    p = Path(path_or_name)
    if p.exists():
        return p
    q = TABLES_DIR / (p.name if p.suffix == ".json" else p.name + ".json")
    if q.exists():
        return q
    raise FileNotFoundError(f"no SFMA table {path_or_name!r} (looked in {TABLES_DIR})")


def xi_table_from_dict(doc: Mapping[str, Any]) -> XiTable:
    """Parse and validate a ``semdacom-sfma-xi/1`` document."""
    if doc.get("format") != XI_FORMAT:
        raise ValueError(f"not a {XI_FORMAT} table: format {doc.get('format')!r}")
    snr = np.asarray(doc["snr_db"], dtype=float)
    nu = np.asarray(doc["nu"], dtype=float)
    params, r2, samples, n_pairs = {}, {}, {}, {}
    for cls, entry in doc["classes"].items():
        if cls not in PAIR_CLASSES:
            raise ValueError(f"unknown pair class {cls!r}")
        _check_params(entry["params"])
        params[cls] = {k: float(entry["params"][k]) for k in XI_PARAM_KEYS}
        r2[cls] = float(entry.get("r2", float("nan")))
        if "xi" in entry:
            x = np.asarray(entry["xi"], dtype=float)
            if x.shape != (snr.size, nu.size):
                raise ValueError(f"class {cls}: xi shape {x.shape}, expected {(snr.size, nu.size)}")
            samples[cls] = x
        n_pairs[cls] = int(entry.get("n_pairs", 0))
    missing = set(PAIR_CLASSES) - set(params)
    if missing:
        raise ValueError(f"xi table lacks pair classes {sorted(missing)}")
    return XiTable(
        model=str(doc.get("model", "")),
        snr_db=snr,
        nu=nu,
        params=params,
        r2=r2,
        samples=samples,
        n_pairs=n_pairs,
        synthetic=bool(doc.get("synthetic", False)),
        raw=dict(doc),
    )


def distortion_table_from_dict(doc: Mapping[str, Any]) -> DistortionTable:
    """Parse and validate a ``semdacom-sfma-distortion/1`` document."""
    if doc.get("format") != DISTORTION_FORMAT:
        raise ValueError(f"not a {DISTORTION_FORMAT} table: format {doc.get('format')!r}")
    snr = np.asarray(doc["snr_db"], dtype=float)
    if np.any(np.diff(snr) <= 0):
        raise ValueError("snr_db must be strictly increasing")
    env_nu, env_d, mean_d = {}, {}, {}
    for cls, entry in doc["classes"].items():
        env = entry["envelope"]
        v = np.asarray(env["nu"], dtype=float)
        d = np.asarray(env["d"], dtype=float)
        if d.shape != (snr.size, v.size):
            want = (snr.size, v.size)
            raise ValueError(f"class {cls}: envelope shape {d.shape}, expected {want}")
        if np.any(np.diff(d, axis=1) > 1e-9):
            raise ValueError(f"class {cls}: envelope increases in nu")
        env_nu[cls], env_d[cls] = v, d
        if "d" in entry:
            mean_d[cls] = np.asarray(entry["d"], dtype=float)
    if not env_d:
        raise ValueError("distortion table has no classes")
    # an OMA table (no partner) may hold a single class; tables used for pairs need all three
    # (SfmaProblem checks)
    return DistortionTable(
        model=str(doc.get("model", "")),
        metric=str(doc.get("metric", "")),
        snr_db=snr,
        env_nu=env_nu,
        env_d=env_d,
        mean_d=mean_d,
        synthetic=bool(doc.get("synthetic", False)),
        raw=dict(doc),
    )


def load_xi_table(path: str | Path) -> XiTable:
    """Load ``sfma_xi_<model>.json`` (a path, or a file name in ``data/tables``)."""
    return xi_table_from_dict(json.loads(_resolve(path).read_text()))


def load_distortion_table(path: str | Path) -> DistortionTable:
    """Load ``sfma_distortion_<model>.json`` (a path, or a file name in ``data/tables``)."""
    return distortion_table_from_dict(json.loads(_resolve(path).read_text()))


# --------------------------------------------------------------------------------------------
# Synthetic tables (tests, and runs before measured tables exist; flagged "synthetic": true)
# --------------------------------------------------------------------------------------------

SYNTH_SNR_DB = (-5.0, 0.0, 5.0, 10.0, 15.0, 20.0, 25.0)
SYNTH_NU = (1 / 16, 1 / 8, 3 / 16, 1 / 4, 3 / 8, 1 / 2, 3 / 4, 1.0)

# Plausible shapes: SCFM separates similar pairs better (lower xi) than dissimilar ones; the
# no-SCFM ablation interferes more and barely depends on the class.
_SYNTH_XI = {
    "sc_sfma": {
        "same": dict(xi_lo=0.02, xi_hi=0.45, a=0.35, b=9.0, s0=4.0, nu0=0.25),
        "related": dict(xi_lo=0.04, xi_hi=0.6, a=0.3, b=8.0, s0=6.0, nu0=0.3),
        "dissimilar": dict(xi_lo=0.09, xi_hi=0.8, a=0.25, b=7.0, s0=8.0, nu0=0.35),
    },
    "swinjscc_noma": {
        "same": dict(xi_lo=0.08, xi_hi=0.8, a=0.25, b=6.0, s0=7.0, nu0=0.35),
        "related": dict(xi_lo=0.09, xi_hi=0.85, a=0.25, b=6.0, s0=7.5, nu0=0.35),
        "dissimilar": dict(xi_lo=0.1, xi_hi=0.9, a=0.25, b=6.0, s0=8.0, nu0=0.35),
    },
}
_SYNTH_D = {  # floor, nu scale, SNR centre, per-class offset
    "sc_sfma": (0.03, 0.12, -2.0, {"same": 0.0, "related": 0.01, "dissimilar": 0.025}),
    "swinjscc_noma": (0.04, 0.14, -1.0, {"same": 0.015, "related": 0.02, "dissimilar": 0.03}),
    "swinjscc_oma": (0.025, 0.1, -3.0, {"same": 0.0, "related": 0.0, "dissimilar": 0.0}),
    "deepjscc_noma": (0.06, 0.16, 0.0, {"same": 0.03, "related": 0.035, "dissimilar": 0.04}),
}


def synthetic_xi_table(
    model: str = "sc_sfma", seed: int = 0, noise: float = 0.01, as_dict: bool = False
) -> XiTable | dict:
    """A ``semdacom-sfma-xi/1`` table with made-up parameters plus noise, refitted with
    :func:`fit_xi` (``"synthetic": true``). For tests and for runs before measured tables exist;
    never shipped as if measured."""
    rng = np.random.default_rng(seed)
    s = np.array(SYNTH_SNR_DB)
    v = np.array(SYNTH_NU)
    S, V = np.meshgrid(s, v, indexing="ij")
    classes = {}
    for cls, p in _SYNTH_XI[model].items():
        x = np.clip(xi(S, V, p) + noise * rng.standard_normal(S.shape), 0.0, None)
        fitted, r2 = fit_xi(s, v, x)
        classes[cls] = {"params": fitted, "r2": r2, "xi": x.tolist(), "n_pairs": 64}
    doc = {
        "format": XI_FORMAT,
        "model": model,
        "weights": "none (synthetic)",
        "dataset": "synthetic",
        "synthetic": True,
        "made_by": f"core.sfma.synthetic_xi_table(model={model!r}, seed={seed})",
        "snr_db": s.tolist(),
        "nu": v.tolist(),
        "classes": classes,
    }
    return doc if as_dict else xi_table_from_dict(doc)


def synthetic_distortion_table(
    model: str = "sc_sfma", seed: int = 0, n_pairs: int = 24, as_dict: bool = False
) -> DistortionTable | dict:
    """A ``semdacom-sfma-distortion/1`` table with made-up per-pair samples
    (``d = floor + offset + 0.55 exp(-nu / scale) + 0.3 / (1 + exp(0.5 (s - centre)))`` times
    a per-pair factor) and their :func:`upper_envelope` (``"synthetic": true``)."""
    rng = np.random.default_rng(seed)
    s = np.array(SYNTH_SNR_DB)
    v = np.array(SYNTH_NU)
    floor, scale, centre, offsets = _SYNTH_D[model]
    classes = {}
    for cls in PAIR_CLASSES:
        base = (
            floor
            + offsets[cls]
            + 0.55 * np.exp(-v[None, :] / scale)
            + 0.3 / (1.0 + np.exp(0.5 * (s[:, None] - centre)))
        )
        factor = 1.0 + 0.15 * rng.standard_normal((n_pairs, 1, 1)).clip(-2, 2)
        per_pair = np.clip(base[None] * factor, 0.0, 1.0)
        env = np.stack([upper_envelope(v, per_pair[:, k, :]) for k in range(s.size)])
        mean = per_pair.mean(axis=0)
        classes[cls] = {
            "d": mean.tolist(),
            "psnr": (-10 * np.log10(np.maximum(mean, 1e-6) / 10)).tolist(),
            "msssim": (1 - mean).tolist(),
            "envelope": {"nu": v.tolist(), "d": env.tolist()},
        }
    doc = {
        "format": DISTORTION_FORMAT,
        "model": model,
        "metric": "1-msssim",
        "dataset": "synthetic",
        "synthetic": True,
        "made_by": f"core.sfma.synthetic_distortion_table(model={model!r}, seed={seed})",
        "snr_db": s.tolist(),
        "nu": v.tolist(),
        "classes": classes,
    }
    return doc if as_dict else distortion_table_from_dict(doc)
