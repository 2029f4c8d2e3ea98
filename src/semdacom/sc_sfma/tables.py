"""Distortion envelopes and the tables of SC-SFMA ([2]): eqs. (17)-(19), formats and loaders.

- the monotone upper envelope of distortion samples, eq. (17) (:func:`upper_envelope`), and the
  smallest compression ratio that meets a distortion bound, eqs. (18)-(19) (:func:`nu_min`);
- the table formats ``semdacom-sfma-xi/1`` (:class:`XiTable`: the fitted xi of eq. (10) per pair
  class) and ``semdacom-sfma-distortion/1`` (:class:`DistortionEnvelopeTable`: per pair class and
  SNR the distortion envelope over the compression ratio), docs/mu_ascc/tables.md, "SFMA
  tables", with loaders (:func:`load_xi_table`, :func:`load_distortion_table`);
- synthetic tables in the same format for tests and for runs made before measured tables exist
  (flagged ``"synthetic": true``; never shipped).

(:class:`DistortionEnvelopeTable` is not MU-ASCC's
:class:`semdacom.mu_ascc.distortion.DistortionTable`, which holds eq. (12)/(13) per source rate.)
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

from semdacom.data import TABLES_DIR
from semdacom.sc_sfma.xi import PAIR_CLASSES, XI_PARAM_KEYS, check_xi_params, fit_xi, xi

__all__ = [
    "DISTORTION_FORMAT",
    "TABLES_DIR",
    "XI_FORMAT",
    "DistortionEnvelopeTable",
    "XiTable",
    "distortion_table_from_dict",
    "load_distortion_table",
    "load_xi_table",
    "nu_min",
    "synthetic_distortion_table",
    "synthetic_xi_table",
    "upper_envelope",
    "xi_table_from_dict",
]

XI_FORMAT = "semdacom-sfma-xi/1"
DISTORTION_FORMAT = "semdacom-sfma-distortion/1"


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


@dataclass
class XiTable:
    """``sfma_xi_<model>.json``: per pair class the fitted eq. (10) parameters, R² and samples.

    ``samples`` are the measured xi (the distortion-equivalent method keeps negative values:
    the pair beat the interference-free reference; the fitted ``params`` are >= 0)."""

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
class DistortionEnvelopeTable:
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


def _header(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The fields every SC-SFMA table takes from its document: model, synthetic flag, raw."""
    return {
        "model": str(doc.get("model", "")),
        "synthetic": bool(doc.get("synthetic", False)),
        "raw": dict(doc),
    }


def xi_table_from_dict(doc: Mapping[str, Any]) -> XiTable:
    """Parse and validate a ``semdacom-sfma-xi/1`` document."""
    if doc.get("format") != XI_FORMAT:
        raise ValueError(f"not a {XI_FORMAT} table: format {doc.get('format')!r}")
    snr = np.asarray(doc["snr_db"], dtype=float)
    nu = np.asarray(doc["nu"], dtype=float)
    params, r2, samples, n_pairs = {}, {}, {}, {}
    for cls, entry in doc["classes"].items():
        # classes beyond PAIR_CLASSES (e.g. content-overlap pairs) are kept; the optimiser reads
        # the three label classes
        check_xi_params(entry["params"])
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
        snr_db=snr, nu=nu, params=params, r2=r2, samples=samples, n_pairs=n_pairs, **_header(doc)
    )


def distortion_table_from_dict(doc: Mapping[str, Any]) -> DistortionEnvelopeTable:
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
    return DistortionEnvelopeTable(
        metric=str(doc.get("metric", "")),
        snr_db=snr,
        env_nu=env_nu,
        env_d=env_d,
        mean_d=mean_d,
        **_header(doc),
    )


def load_xi_table(path: str | Path) -> XiTable:
    """Load ``sfma_xi_<model>.json`` (a path, or a file name in ``data/tables``)."""
    return xi_table_from_dict(json.loads(_resolve(path).read_text()))


def load_distortion_table(path: str | Path) -> DistortionEnvelopeTable:
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
        "overlap": dict(xi_lo=0.01, xi_hi=0.35, a=0.35, b=9.0, s0=3.0, nu0=0.25),
    },
    "swinjscc_noma": {
        "same": dict(xi_lo=0.08, xi_hi=0.8, a=0.25, b=6.0, s0=7.0, nu0=0.35),
        "related": dict(xi_lo=0.09, xi_hi=0.85, a=0.25, b=6.0, s0=7.5, nu0=0.35),
        "dissimilar": dict(xi_lo=0.1, xi_hi=0.9, a=0.25, b=6.0, s0=8.0, nu0=0.35),
        "overlap": dict(xi_lo=0.07, xi_hi=0.75, a=0.25, b=6.0, s0=6.5, nu0=0.35),
    },
}
_SYNTH_D = {  # floor, nu scale, SNR centre, per-class offset ("overlap" last: the draws of the
    # label classes do not depend on it)
    "sc_sfma": (0.03, 0.12, -2.0, {"same": 0.0, "related": 0.01, "dissimilar": 0.025,
                                   "overlap": -0.005}),
    "swinjscc_noma": (0.04, 0.14, -1.0, {"same": 0.015, "related": 0.02, "dissimilar": 0.03,
                                         "overlap": 0.01}),
    "swinjscc_oma": (0.025, 0.1, -3.0, {"same": 0.0, "related": 0.0, "dissimilar": 0.0,
                                        "overlap": 0.0}),
    "deepjscc_noma": (0.06, 0.16, 0.0, {"same": 0.03, "related": 0.035, "dissimilar": 0.04,
                                        "overlap": 0.025}),
}  # fmt: skip


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
        "made_by": f"semdacom.sc_sfma.model.synthetic_xi_table(model={model!r}, seed={seed})",
        "snr_db": s.tolist(),
        "nu": v.tolist(),
        "classes": classes,
    }
    return doc if as_dict else xi_table_from_dict(doc)


def synthetic_distortion_table(
    model: str = "sc_sfma", seed: int = 0, n_pairs: int = 24, as_dict: bool = False
) -> DistortionEnvelopeTable | dict:
    """A ``semdacom-sfma-distortion/1`` table with made-up per-pair samples
    (``d = floor + offset + 0.55 exp(-nu / scale) + 0.3 / (1 + exp(0.5 (s - centre)))`` times
    a per-pair factor) and their :func:`upper_envelope` (``"synthetic": true``)."""
    rng = np.random.default_rng(seed)
    s = np.array(SYNTH_SNR_DB)
    v = np.array(SYNTH_NU)
    floor, scale, centre, offsets = _SYNTH_D[model]
    classes = {}
    for cls in offsets:
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
        "made_by": (
            f"semdacom.sc_sfma.model.synthetic_distortion_table(model={model!r}, seed={seed})"
        ),
        "snr_db": s.tolist(),
        "nu": v.tolist(),
        "classes": classes,
    }
    return doc if as_dict else distortion_table_from_dict(doc)
