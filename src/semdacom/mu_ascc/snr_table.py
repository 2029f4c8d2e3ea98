"""SNR-indexed distortion tables of the DeepJSCC baseline of MU-ASCC ([1]) (``"x": "snr_db"``).

:class:`SnrTable` holds per point (a trained model: training SNR and bandwidth ratio) a monotone
curve of distortion against the test SNR in dB (``docs/mu_ascc/tables.md``);
:func:`synthetic_snr_table` builds one in the same format with plausible numbers, labelled
``"synthetic": true``. Used by the ZF-WF-DJSCC baseline (:mod:`semdacom.mu_ascc.baselines`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from semdacom.mu_ascc.distortion_table import TASKS, JsonFile, clean_curves

__all__ = ["SNR_FORMAT", "SnrTable", "synthetic_snr_table"]

SNR_FORMAT = "semdacom-snr-table/1"

FloatArray = NDArray[np.float64]

_SYNTH_NOTE = (
    "SYNTHETIC: plausible Fashion-MNIST-like numbers made by "
    "semdacom.mu_ascc.distortion.synthetic_snr_table; not measured"
)


@dataclass
class SnrTable(JsonFile):
    """SNR-indexed distortion table of the DeepJSCC baseline (``docs/mu_ascc/tables.md``).

    Each point is one trained model (a training SNR and a bandwidth ratio) with a monotone
    curve ``distortion(snr_db)`` measured at test SNRs, interpolated linearly in dB and held
    constant outside the measured range.
    """

    name: str
    task: str
    metric: str
    train_snr_db: FloatArray
    bandwidth_ratio: FloatArray
    curves: list[tuple[FloatArray, FloatArray]]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.train_snr_db = np.asarray(self.train_snr_db, dtype=np.float64).reshape(-1)
        self.bandwidth_ratio = np.asarray(self.bandwidth_ratio, dtype=np.float64).reshape(-1)
        n = len(self.curves)
        if n < 1 or self.train_snr_db.size != n or self.bandwidth_ratio.size != n:
            raise ValueError(f"SNR table '{self.name}': one training SNR and ratio per curve")
        if self.task not in TASKS:
            raise ValueError(f"SNR table '{self.name}': task must be one of {TASKS}")
        self.curves = clean_curves(
            self.curves, f"SNR table '{self.name}'", "needs ascending snr_db"
        )

    @classmethod
    def from_dict(cls, d: dict) -> SnrTable:
        """Build a table from its JSON dictionary (``"x": "snr_db"``)."""
        if d.get("format") != SNR_FORMAT or d.get("x") != "snr_db":
            raise ValueError(f"not an SNR table: format {d.get('format')!r}, x {d.get('x')!r}")
        pts = d.get("points")
        if not isinstance(pts, list) or not pts:
            raise ValueError("an SNR table needs a non-empty 'points' list")
        known = {"format", "name", "task", "metric", "x", "points"}
        return cls(
            name=str(d.get("name", "")),
            task=str(d.get("task", "")),
            metric=str(d.get("metric", "")),
            train_snr_db=[float(p["train_snr_db"]) for p in pts],
            bandwidth_ratio=[float(p["bandwidth_ratio"]) for p in pts],
            curves=[(p["curve"]["snr_db"], p["curve"]["distortion"]) for p in pts],
            meta={k: v for k, v in d.items() if k not in known},
        )

    def to_dict(self) -> dict:
        """The JSON dictionary."""
        out = {"format": SNR_FORMAT, "name": self.name, "task": self.task}
        out.update({"metric": self.metric, "x": "snr_db"})
        out.update(self.meta)
        out["points"] = [
            {
                "index": i,
                "train_snr_db": float(self.train_snr_db[i]),
                "bandwidth_ratio": float(self.bandwidth_ratio[i]),
                "curve": {"snr_db": s.tolist(), "distortion": d.tolist()},
            }
            for i, (s, d) in enumerate(self.curves)
        ]
        return out

    def select(self, train_snr_db: float, bandwidth_ratio: float) -> int:
        """Point trained at ``train_snr_db`` with the bandwidth ratio closest to the one asked.

        Ties in SNR are broken by the bandwidth ratio (log distance); the SNR is matched first.
        """
        ds = np.abs(self.train_snr_db - float(train_snr_db))
        cand = np.flatnonzero(ds <= ds.min() + 1e-9)
        dr = np.abs(np.log(self.bandwidth_ratio[cand] / float(bandwidth_ratio)))
        return int(cand[int(np.argmin(dr))])

    def distortion(self, point: int, snr_db: ArrayLike) -> FloatArray:
        """Distortion of model ``point`` at the test SNR(s) ``snr_db`` (linear interpolation)."""
        s, d = self.curves[int(point)]
        return np.interp(np.asarray(snr_db, dtype=np.float64), s, d)


def synthetic_snr_table(
    task: str = "du",
    train_snr_db: Sequence[float] = (0.0, 5.0, 10.0, 15.0, 20.0),
    bandwidth_ratios: Sequence[float] = (1.0 / 12, 1.0 / 6, 1.0 / 3),
    seed: int = 0,
) -> SnrTable:
    """A synthetic DeepJSCC table (``"x": "snr_db"``), marked ``"synthetic": true``.

    Each model degrades gracefully below its training SNR (no cliff) and saturates above it,
    with more bandwidth giving lower distortion: the qualitative behaviour of Bourtsoulatze et
    al. (2019). DU metric 1-MS-SSIM, SU metric classification error.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}")
    rng = np.random.default_rng(seed)
    snr = np.arange(-10.0, 31.0, 1.0)
    ts, bs, curves = [], [], []
    for t in train_snr_db:
        for b in bandwidth_ratios:
            floor_ = (0.05 if task == "du" else 0.10) * (1.0 / 6 / b) ** 0.35
            floor_ *= 1.0 + 0.02 * rng.standard_normal()
            top = 0.8 if task == "du" else 0.9
            # distortion vs test SNR: smooth rise below the training SNR, flat above it
            gap = np.maximum(t - snr, 0.0)
            d = floor_ + (top - floor_) * (1.0 - np.exp(-((gap / 9.0) ** 1.6)))
            ts.append(float(t))
            bs.append(float(b))
            curves.append((snr.copy(), d))
    return SnrTable(
        name=f"synthetic_djscc_{task}",
        task=task,
        metric="1-msssim" if task == "du" else "classification_error",
        train_snr_db=ts,
        bandwidth_ratio=bs,
        curves=curves,
        meta={
            "synthetic": True,
            "dataset": "synthetic (fashion-mnist-like)",
            "made_by": _SYNTH_NOTE,
        },
    )
