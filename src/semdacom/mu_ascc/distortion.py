"""End-to-end distortion tables of MU-ASCC ([1]): eqs. (12)/(13), (26)-(30) and (31).

A :class:`DistortionTable` holds the operating points of one codec for one task (data users,
"du", or semantic users, "su"), sorted by ascending source rate ``R_s`` (bits per image). Each
point ``n`` carries the logistic fit of eq. (12) (DUs) or eq. (13) (SUs)::

    D_n(x) = d_s^n + d_c^n / (1 + exp(-a_1^n (x - a_0^n)))                eq. (12)/(13)

with ``x = log10 BER`` (eq. (14)). Between two points the parameters are interpolated linearly
in ``R_s`` (eqs. (26)-(30))::

    lambda = (R_s - R^n) / (R^{n+1} - R^n),   theta~ = theta^n + lambda (theta^{n+1} - theta^n)

for ``theta`` in ``(d_s, d_c, a_1, a_0)``. The interpolated distortion is differentiable in
``R_s`` except at the table rates, where :meth:`DistortionTable.subgradient` applies the rule of
eq. (31): the right derivative at the first rate, the left derivative at the last, the mean of
both elsewhere.

Tables whose curves are not logistic (``"model": "tabulated"``, e.g. a classical codec whose
header breaks) store per point a monotone curve ``distortion(log10_ber)`` interpolated linearly
in ``x``; between points the two curves are mixed with the same ``lambda``.

The JSON format is documented in ``docs/mu_ascc/tables.md``. :func:`synthetic_table` and
:func:`synthetic_snr_table` build tables in the same format with plausible Fashion-MNIST-like
numbers for tests and for runs made before measured tables exist; they are labelled
``"synthetic": true`` and their ``made_by`` says so.

:class:`SnrTable` is the SNR-indexed table of the DeepJSCC baseline (``"x": "snr_db"``): per
point (training SNR, bandwidth ratio) a monotone curve of distortion against the SNR in dB.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "FORMAT",
    "SNR_FORMAT",
    "DistortionTable",
    "SnrTable",
    "erasure_aware",
    "TABLES_DIR",
    "load_table",
    "logistic",
    "synthetic_snr_table",
    "synthetic_table",
]

FORMAT = "semdacom-distortion-table/1"
SNR_FORMAT = "semdacom-snr-table/1"
TASKS = ("du", "su")
METRICS = ("1-msssim", "mse", "classification_error")

FloatArray = NDArray[np.float64]

#: Folder of the shipped tables (``src/semdacom/data/tables``).
from semdacom.data import TABLES_DIR  # noqa: E402


def logistic(x: ArrayLike, d_s: ArrayLike, d_c: ArrayLike, a1: ArrayLike, a0: ArrayLike):
    """Eq. (12)/(13) of MU-ASCC ([1]): ``d_s + d_c / (1 + exp(-a1 (x - a0)))``.

    Evaluated stably for any ``x`` (no overflow of the exponential).

    Parameters
    ----------
    x : array_like
        ``log10 BER``.
    d_s, d_c, a1, a0 : array_like
        Source distortion, distortion increment, slope (per decade) and centre (log10 BER).

    Returns
    -------
    ndarray
        The modelled distortion, broadcast over the inputs.
    """
    z = np.asarray(a1, dtype=np.float64) * (np.asarray(x, dtype=np.float64) - a0)
    return np.asarray(d_s, dtype=np.float64) + np.asarray(d_c) * _sigmoid(z)


def _sigmoid(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """``1 / (1 + exp(-z))`` without overflow."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


@dataclass
class DistortionTable:
    """Operating points of one codec and task, eqs. (12)/(13), with eqs. (26)-(31).

    Attributes
    ----------
    name, codec, task, metric : str
        Identification (``task`` is ``"du"`` or ``"su"``).
    rs_bits : ndarray, shape (N,)
        Source rates ``R_s`` in bits per image, strictly ascending.
    d_s, d_c, a1, a0 : ndarray, shape (N,)
        Logistic parameters per point (for ``model == "tabulated"`` they are a logistic fit kept
        for reference; evaluation uses the curves).
    index : ndarray of int, shape (N,)
        ``rate_index`` of each point (what an allocation sends to the source encoder).
    model : str
        ``"logistic"`` (default) or ``"tabulated"``.
    curves : list of (x, d) arrays or None
        Per-point curves for the tabulated model (``x`` ascending log10 BER).
    meta : dict
        Every other key of the JSON file (dataset, made_by, synthetic, ...).
    """

    name: str
    task: str
    metric: str
    rs_bits: FloatArray
    d_s: FloatArray
    d_c: FloatArray
    a1: FloatArray
    a0: FloatArray
    index: NDArray[np.int64]
    codec: str = ""
    model: str = "logistic"
    curves: list[tuple[FloatArray, FloatArray]] | None = None
    r2: FloatArray | None = None
    samples: list[dict | None] | None = None
    meta: dict = field(default_factory=dict)
    packets: NDArray[np.int64] | None = None
    d_fail: float | None = None

    def __post_init__(self) -> None:
        self.rs_bits = np.asarray(self.rs_bits, dtype=np.float64).reshape(-1)
        n = self.rs_bits.size
        for key in ("d_s", "d_c", "a1", "a0"):
            arr = np.asarray(getattr(self, key), dtype=np.float64).reshape(-1)
            if arr.size != n:
                raise ValueError(f"table '{self.name}': '{key}' has {arr.size} entries, not {n}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"table '{self.name}': '{key}' has non-finite entries")
            setattr(self, key, arr)
        self.index = np.asarray(self.index, dtype=np.int64).reshape(-1)
        if n < 1:
            raise ValueError(f"table '{self.name}' has no points")
        if self.index.size != n:
            raise ValueError(f"table '{self.name}': 'index' has {self.index.size} entries")
        if np.any(self.index < 0):
            raise ValueError(f"table '{self.name}': negative rate index")
        if not np.all(np.isfinite(self.rs_bits)) or np.any(self.rs_bits <= 0.0):
            raise ValueError(f"table '{self.name}': rs_bits must be positive and finite")
        if np.any(np.diff(self.rs_bits) <= 0.0):
            raise ValueError(f"table '{self.name}': rs_bits must be strictly ascending")
        if self.task not in TASKS:
            raise ValueError(f"table '{self.name}': task must be one of {TASKS}")
        if np.any(self.a1 <= 0.0):
            raise ValueError(f"table '{self.name}': logistic slopes a1 must be positive")
        if np.any(self.d_c < 0.0):
            raise ValueError(f"table '{self.name}': d_c must be non-negative")
        if self.model not in ("logistic", "tabulated", "erasure"):
            raise ValueError(f"table '{self.name}': unknown model '{self.model}'")
        if self.model == "erasure":
            pk = np.asarray(self.packets, dtype=np.int64).reshape(-1)
            if pk.size != n or np.any(pk < 1):
                raise ValueError(f"table '{self.name}': erasure model needs packets >= 1 per point")
            if self.d_fail is None or not np.isfinite(self.d_fail):
                raise ValueError(f"table '{self.name}': erasure model needs a finite d_fail")
            self.packets, self.d_fail = pk, float(self.d_fail)
        if self.model == "tabulated":
            if self.curves is None or len(self.curves) != n:
                raise ValueError(f"table '{self.name}': tabulated model needs one curve per point")
            clean = []
            for i, (x, d) in enumerate(self.curves):
                xa = np.asarray(x, dtype=np.float64).reshape(-1)
                da = np.asarray(d, dtype=np.float64).reshape(-1)
                if xa.size < 2 or xa.size != da.size or np.any(np.diff(xa) <= 0.0):
                    raise ValueError(
                        f"table '{self.name}': curve {i} needs >= 2 points, ascending log10_ber"
                    )
                if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(da))):
                    raise ValueError(f"table '{self.name}': curve {i} has non-finite values")
                clean.append((xa, da))
            self.curves = clean

    # ----------------------------------------------------------------------------------------
    # Loading and saving (docs/mu_ascc/tables.md)
    # ----------------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, d: dict) -> DistortionTable:
        """Build a table from the JSON dictionary of ``docs/mu_ascc/tables.md``."""
        if not isinstance(d, dict):
            raise ValueError("a distortion table must be a JSON object")
        if d.get("format") != FORMAT:
            raise ValueError(f"not a distortion table: format {d.get('format')!r} != {FORMAT!r}")
        if d.get("x", "log10_ber") != "log10_ber":
            raise ValueError("distortion tables are indexed by log10_ber (use SnrTable for SNR)")
        pts = d.get("points")
        if not isinstance(pts, list) or not pts:
            raise ValueError("a distortion table needs a non-empty 'points' list")
        pts = sorted(pts, key=lambda p: float(p["rs_bits"]))
        model = d.get("model", "logistic")
        curves = None
        if model == "tabulated":
            curves = [(p["curve"]["log10_ber"], p["curve"]["distortion"]) for p in pts]

        def col(key: str, default: float | None = None) -> list[float]:
            out = []
            for p in pts:
                if key not in p and default is None:
                    raise ValueError(f"point {p.get('index')} lacks '{key}'")
                out.append(float(p.get(key, default)))
            return out

        known = {"format", "name", "codec", "task", "metric", "model", "points"}
        return cls(
            name=str(d.get("name", "")),
            codec=str(d.get("codec", "")),
            task=str(d.get("task", "")),
            metric=str(d.get("metric", "")),
            model=model,
            rs_bits=col("rs_bits"),
            d_s=col("d_s"),
            d_c=col("d_c"),
            a1=col("a1"),
            a0=col("a0"),
            index=[int(p.get("index", i)) for i, p in enumerate(pts)],
            curves=curves,
            r2=np.asarray(col("r2", math.nan)),
            samples=[p.get("samples") for p in pts],
            meta={k: v for k, v in d.items() if k not in known},
        )

    @classmethod
    def load(cls, path: str | Path) -> DistortionTable:
        """Read a table from a JSON file in the format of ``docs/mu_ascc/tables.md``."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def to_dict(self) -> dict:
        """The JSON dictionary of ``docs/mu_ascc/tables.md``."""
        if self.model == "erasure":
            raise ValueError("erasure-aware tables are derived at run time, not saved")
        pts = []
        for n in range(self.n_points):
            p: dict[str, Any] = {
                "index": int(self.index[n]),
                "rs_bits": float(self.rs_bits[n]),
                "d_s": float(self.d_s[n]),
                "d_c": float(self.d_c[n]),
                "a1": float(self.a1[n]),
                "a0": float(self.a0[n]),
            }
            if self.r2 is not None and math.isfinite(float(self.r2[n])):
                p["r2"] = float(self.r2[n])
            if self.samples is not None and self.samples[n] is not None:
                p["samples"] = self.samples[n]
            if self.curves is not None:
                x, dd = self.curves[n]
                p["curve"] = {"log10_ber": x.tolist(), "distortion": dd.tolist()}
            pts.append(p)
        out = {"format": FORMAT, "name": self.name, "codec": self.codec, "task": self.task}
        out.update({"metric": self.metric, "x": "log10_ber"})
        if self.model != "logistic":
            out["model"] = self.model
        out.update({k: v for k, v in self.meta.items() if k != "x"})
        out["points"] = pts
        return out

    def save(self, path: str | Path) -> None:
        """Write the table as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")

    # ----------------------------------------------------------------------------------------
    # Geometry of the rate axis
    # ----------------------------------------------------------------------------------------

    @property
    def n_points(self) -> int:
        """Number of operating points ``N``."""
        return int(self.rs_bits.size)

    @property
    def rs_min(self) -> float:
        """Smallest rate ``R^1`` (eq. (23))."""
        return float(self.rs_bits[0])

    @property
    def rs_max(self) -> float:
        """Largest rate ``R^N`` (eq. (23))."""
        return float(self.rs_bits[-1])

    @property
    def synthetic(self) -> bool:
        """True for tables made by :func:`synthetic_table` (not measured)."""
        return bool(self.meta.get("synthetic", False))

    def segment(self, rs: ArrayLike, side: str = "right") -> tuple[NDArray[np.int64], FloatArray]:
        """Segment ``n`` and weight ``lambda`` of eqs. (27)-(30) for rates ``rs``.

        ``rs`` is clipped to ``[R^1, R^N]``. At a table rate ``R^m`` the segment is the one on
        its right (``side="right"``, ``lambda = 0``) or on its left (``side="left"``,
        ``lambda = 1``), which is what the one-sided derivatives of eq. (31) need.

        Returns
        -------
        seg : ndarray of int
            Index ``n`` of the left end of the segment (``0 <= n <= N-2``; 0 when N == 1).
        lam : ndarray of float
            ``lambda`` in ``[0, 1]``.
        """
        r = np.clip(np.asarray(rs, dtype=np.float64), self.rs_min, self.rs_max)
        if self.n_points == 1:
            return np.zeros(r.shape, dtype=np.int64), np.zeros(r.shape)
        seg = np.searchsorted(self.rs_bits, r, side="right" if side == "right" else "left") - 1
        seg = np.clip(seg, 0, self.n_points - 2)
        lo, hi = self.rs_bits[seg], self.rs_bits[seg + 1]
        return seg, (r - lo) / (hi - lo)

    def params(self, rs: ArrayLike, side: str = "right") -> tuple[FloatArray, ...]:
        """Interpolated ``(d_s, d_c, a1, a0)`` at rates ``rs``, eqs. (27)-(30)."""
        seg, lam = self.segment(rs, side)
        nxt = np.minimum(seg + 1, self.n_points - 1)
        out = []
        for arr in (self.d_s, self.d_c, self.a1, self.a0):
            out.append(arr[seg] + lam * (arr[nxt] - arr[seg]))
        return tuple(out)

    def round_down(self, rs: ArrayLike) -> NDArray[np.int64]:
        """Position of the largest table rate ``<= rs`` (Sec. IV-D); 0 below ``R^1``.

        A relative tolerance of 1e-9 keeps a rate that sits on a table point on that point.
        """
        r = np.asarray(rs, dtype=np.float64)
        pos = np.searchsorted(self.rs_bits, r * (1.0 + 1e-9), side="right") - 1
        return np.clip(pos, 0, self.n_points - 1)

    # ----------------------------------------------------------------------------------------
    # Distortion
    # ----------------------------------------------------------------------------------------

    def point_distortion(self, pos: ArrayLike, x: ArrayLike) -> FloatArray:
        """Distortion of operating point(s) ``pos`` (0-based positions) at ``x = log10 BER``.

        Eq. (12) (DU) or (13) (SU); the linear curve for tabulated tables.
        """
        p = np.asarray(pos, dtype=np.int64)
        xa = np.asarray(x, dtype=np.float64)
        if self.model == "logistic":
            return logistic(xa, self.d_s[p], self.d_c[p], self.a1[p], self.a0[p])
        if self.model == "erasure":
            eps, _ = self._image_loss(p, xa)
            return self.d_s[p] + (self.d_fail - self.d_s[p]) * eps
        p, xa = np.broadcast_arrays(p, xa)
        out = np.empty(xa.shape)
        for n in np.unique(p):
            m = p == n
            cx, cd = self.curves[int(n)]
            out[m] = np.interp(xa[m], cx, cd)
        return out

    def _image_loss(self, pos: NDArray[np.int64], x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Erasure model: probability that an image of point ``pos`` loses a packet, and its
        derivative in ``x``, with the packet error probability ``rho = 2 * 10**x`` (the physical
        link's BER is ``rho / 2``): ``eps = 1 - (1 - rho)^m``, ``m`` packets per image."""
        m = self.packets[pos].astype(np.float64)
        rho = np.minimum(2.0 * np.power(10.0, np.minimum(x, 0.0)), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            keep = np.exp(m * np.log1p(-rho))  # (1 - rho)^m, 0 at rho = 1
            d = np.where(rho < 1.0, m * keep / (1.0 - rho) * rho * math.log(10.0), 0.0)
        return 1.0 - keep, d

    def _point_dx(self, pos: NDArray[np.int64], x: FloatArray) -> FloatArray:
        """``dD_n/dx`` of point(s) ``pos`` at ``x``."""
        if self.model == "logistic":
            s = _sigmoid(self.a1[pos] * (x - self.a0[pos]))
            return self.d_c[pos] * self.a1[pos] * s * (1.0 - s)
        if self.model == "erasure":
            _, d = self._image_loss(np.asarray(pos), np.asarray(x, np.float64))
            return (self.d_fail - self.d_s[pos]) * d
        pos, x = np.broadcast_arrays(pos, x)
        out = np.zeros(x.shape)
        for n in np.unique(pos):
            m = pos == n
            cx, cd = self.curves[int(n)]
            k = np.clip(np.searchsorted(cx, x[m], side="right") - 1, 0, cx.size - 2)
            slope = (cd[k + 1] - cd[k]) / (cx[k + 1] - cx[k])
            inside = (x[m] >= cx[0]) & (x[m] <= cx[-1])
            out[m] = np.where(inside, slope, 0.0)
        return out

    def distortion(self, rs: ArrayLike, x: ArrayLike) -> FloatArray:
        """Interpolated distortion at rate ``rs`` and ``x = log10 BER``, eq. (26).

        Parameters
        ----------
        rs : array_like
            Source rate(s) in bits per image (clipped to ``[R^1, R^N]``).
        x : array_like
            ``log10 BER``.

        Returns
        -------
        ndarray
            ``D~(rs, x)``; equal to eq. (12)/(13) of the point at a table rate.
        """
        rs_a, xa = np.broadcast_arrays(np.asarray(rs, np.float64), np.asarray(x, np.float64))
        if self.model == "logistic":
            d_s, d_c, a1, a0 = self.params(rs_a)
            return logistic(xa, d_s, d_c, a1, a0)
        seg, lam = self.segment(rs_a)
        nxt = np.minimum(seg + 1, self.n_points - 1)
        return (1.0 - lam) * self.point_distortion(seg, xa) + lam * self.point_distortion(nxt, xa)

    def partials(self, rs: ArrayLike, x: ArrayLike, side: str = "right") -> tuple[FloatArray, ...]:
        """``D~`` and its partial derivatives ``dD~/drs`` (at fixed x) and ``dD~/dx``, eq. (26).

        At a table rate the rate derivative is one-sided: ``side="right"`` uses the segment on
        the right, ``side="left"`` the one on the left (eq. (31) combines them).

        Returns
        -------
        value, d_drs, d_dx : ndarray
        """
        rs_a, xa = np.broadcast_arrays(np.asarray(rs, np.float64), np.asarray(x, np.float64))
        seg, lam = self.segment(rs_a, side)
        nxt = np.minimum(seg + 1, self.n_points - 1)
        width = np.where(nxt > seg, self.rs_bits[nxt] - self.rs_bits[seg], 1.0)
        if self.model == "tabulated":
            d0, d1 = self.point_distortion(seg, xa), self.point_distortion(nxt, xa)
            value = (1.0 - lam) * d0 + lam * d1
            d_drs = np.where(nxt > seg, (d1 - d0) / width, 0.0)
            d_dx = (1.0 - lam) * self._point_dx(seg, xa) + lam * self._point_dx(nxt, xa)
            return value, d_drs, d_dx
        th = []
        dth = []
        for arr in (self.d_s, self.d_c, self.a1, self.a0):
            th.append(arr[seg] + lam * (arr[nxt] - arr[seg]))
            dth.append(np.where(nxt > seg, (arr[nxt] - arr[seg]) / width, 0.0))
        d_s, d_c, a1, a0 = th
        dd_s, dd_c, da1, da0 = dth
        z = a1 * (xa - a0)
        s = _sigmoid(z)
        ds_dz = s * (1.0 - s)
        value = d_s + d_c * s
        dz_drs = da1 * (xa - a0) - a1 * da0
        d_drs = dd_s + dd_c * s + d_c * ds_dz * dz_drs
        d_dx = d_c * ds_dz * a1
        return value, d_drs, d_dx

    def subgradient(self, rs: ArrayLike, x: ArrayLike, dx_drs: ArrayLike) -> FloatArray:
        """Subgradient ``d`` of ``R_s -> D~(R_s, x(R_s))``, the rule of eq. (31).

        Away from the table rates it is the derivative
        ``dD~/drs + dD~/dx * dx/drs`` (``x`` depends on ``R_s`` through ``R_c = R_s / T``).
        At a table rate it is the right derivative at ``R^1``, the left derivative at ``R^N``
        and the mean of both in between.

        Parameters
        ----------
        rs : array_like
            Source rate(s).
        x : array_like
            ``log10 BER`` at those rates.
        dx_drs : array_like
            Derivative of ``x`` with respect to ``R_s`` (``dlog10BER/dR_c / T``).

        Returns
        -------
        ndarray
            The subgradient.
        """
        r = np.clip(np.asarray(rs, dtype=np.float64), self.rs_min, self.rs_max)
        _, dr_r, dx_r = self.partials(r, x, "right")
        _, dr_l, dx_l = self.partials(r, x, "left")
        g_r = dr_r + dx_r * dx_drs
        g_l = dr_l + dx_l * dx_drs
        on = np.isin(r, self.rs_bits)
        first = r <= self.rs_min
        last = r >= self.rs_max
        mid = np.where(on, 0.5 * (g_l + g_r), g_r)
        return np.where(first, g_r, np.where(last, g_l, mid))

    def max_distortion(self) -> float:
        """Largest distortion the table can give (``d_s + d_c``, the curve maximum, or
        ``d_fail`` of the erasure model)."""
        if self.model == "erasure":
            return float(max(self.d_fail, np.max(self.d_s)))
        if self.model == "tabulated":
            return float(max(np.max(d) for _, d in self.curves))
        return float(np.max(self.d_s + self.d_c))


def erasure_aware(
    table: DistortionTable, T: float, L: int, d_fail: float | None = None
) -> DistortionTable:
    """The erasure-aware form of a BER-indexed table for the physical link (``BER = rho / 2``).

    The tables of eq. (12)/(13) are measured with *independent* bit flips at ``x = log10 BER``.
    A finite-blocklength link does not flip bits independently: a packet (codeword) fails as
    a whole (eq. (8)), and one failed packet costs its image. With ``m`` packets of
    ``N = floor(R_c L)`` bits per image (``R_c = R_s / T``: eq. (19) tight) the distortion of
    point ``n`` is ``D_n = d_s^n + (d_fail - d_s^n) (1 - (1 - rho)^m)``, with ``rho = 2 BER``
    read off the physical link's ``log10 BER`` and ``d_fail`` the distortion of a lost image
    (default: the table's maximum). In the closed loop this is what the flowgraph measures
    (docs/mu_ascc/optimizer.md, "The closed loop"); the BER form overstates the waterfall's cost.

    Parameters
    ----------
    table : DistortionTable
        A logistic or tabulated table (``d_s`` is its error-free distortion per point).
    T : float
        Delay budget in channel uses per image (eq. (19)).
    L : int
        Blocklength in channel uses.
    d_fail : float, optional
        Distortion of an image with a lost packet.
    """
    rc = table.rs_bits / float(T)
    n_bits = np.maximum(np.floor(rc * int(L) + 1e-9), 1.0)
    packets = np.maximum(np.ceil(table.rs_bits / n_bits - 1e-9), 1).astype(np.int64)
    return replace(
        table,
        name=f"{table.name}_erasure",
        model="erasure",
        curves=None,
        packets=packets,
        d_fail=float(table.max_distortion() if d_fail is None else d_fail),
        meta={**table.meta, "erasure_of": table.name, "T": float(T), "L": int(L)},
    )


@dataclass
class SnrTable:
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
        clean = []
        for i, (s, d) in enumerate(self.curves):
            sa = np.asarray(s, dtype=np.float64).reshape(-1)
            da = np.asarray(d, dtype=np.float64).reshape(-1)
            if sa.size < 2 or sa.size != da.size or np.any(np.diff(sa) <= 0.0):
                raise ValueError(f"SNR table '{self.name}': curve {i} needs ascending snr_db")
            if not (np.all(np.isfinite(sa)) and np.all(np.isfinite(da))):
                raise ValueError(f"SNR table '{self.name}': curve {i} has non-finite values")
            clean.append((sa, da))
        self.curves = clean

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

    @classmethod
    def load(cls, path: str | Path) -> SnrTable:
        """Read an SNR table from JSON."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

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

    def save(self, path: str | Path) -> None:
        """Write the table as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")

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


# --------------------------------------------------------------------------------------------
# Synthetic tables (same format, clearly labelled)
# --------------------------------------------------------------------------------------------

_SYNTH_NOTE = (
    "SYNTHETIC: plausible Fashion-MNIST-like numbers made by "
    "semdacom.mu_ascc.distortion.synthetic_table; not measured"
)


def synthetic_table(
    task: str = "du",
    n_points: int = 8,
    rs_range: tuple[float, float] = (120.0, 1600.0),
    seed: int = 0,
    model: str = "logistic",
    codec: str = "synthetic_hyperprior",
    robustness_shift: float = 0.0,
    source_penalty: float = 1.0,
) -> DistortionTable:
    """A synthetic distortion table in the format of ``docs/mu_ascc/tables.md``.

    The numbers mimic a learned codec on 28x28 Fashion-MNIST: rates from about 120 to 1600 bits
    per image (geometric spacing), 1-MS-SSIM falling from about 0.25 to 0.02 (DU) and
    classification error from about 0.22 to 0.085 (SU) with error-free bits, a maximal
    distortion near 0.8 (DU) or 0.9 (SU, random guessing over 10 classes), and higher rates
    breaking down at lower BER (the behaviour of Remark 3.1: the logistic centre moves from
    about -3 to -5.5 in log10 BER). A little seeded jitter keeps tables from being identical.
    Tables are marked ``"synthetic": true``.

    Parameters
    ----------
    task : {"du", "su"}
        Data user (1-MS-SSIM) or semantic user (classification error).
    n_points : int
        Number of operating points.
    rs_range : (float, float)
        Smallest and largest rate in bits per image.
    seed : int
        Seed of the jitter.
    model : {"logistic", "tabulated"}
        ``"tabulated"`` stores the logistic sampled on a grid as per-point curves (how a
        classical codec table looks).
    codec : str
        Codec name to record.
    robustness_shift : float
        Added to every logistic centre (a classical codec whose header breaks early: > 0).
    source_penalty : float
        Multiplies the error-free distortion ``d_s`` (a weaker codec: > 1).

    Returns
    -------
    DistortionTable
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}")
    if n_points < 1:
        raise ValueError("n_points must be >= 1")
    lo, hi = float(rs_range[0]), float(rs_range[1])
    if not (0.0 < lo < hi) and n_points > 1:
        raise ValueError("rs_range must satisfy 0 < lo < hi")
    rng = np.random.default_rng(seed)
    rs = np.geomspace(lo, hi, n_points) if n_points > 1 else np.array([lo])
    u = np.linspace(0.0, 1.0, n_points) if n_points > 1 else np.zeros(1)
    jit = rng.uniform(-1.0, 1.0, (4, n_points))
    if task == "du":
        d_s = 0.25 * np.exp(-2.5 * u) + 0.001 * jit[0]
        top = 0.8
        metric = "1-msssim"
    else:
        d_s = 0.085 + 0.135 * np.exp(-3.0 * u) + 0.001 * jit[0]
        top = 0.9
        metric = "classification_error"
    d_s = np.minimum(d_s * float(source_penalty), 0.5 * top)
    d_c = top - d_s
    a1 = 2.6 + 0.4 * u + 0.1 * jit[2]
    a0 = -3.0 - 2.5 * u + 0.05 * jit[3] + robustness_shift
    x = np.linspace(-9.0, -0.5, 18)
    samples = []
    curves = [] if model == "tabulated" else None
    for n in range(n_points):
        d = logistic(x, d_s[n], d_c[n], a1[n], a0[n])
        noisy = d + 0.004 * rng.standard_normal(x.size)
        samples.append({"log10_ber": x.round(4).tolist(), "distortion": noisy.round(6).tolist()})
        if curves is not None:
            curves.append((x.copy(), np.maximum.accumulate(d)))
    name = f"synthetic_{codec}_{task}_{metric.replace('-', '')}"
    return DistortionTable(
        name=name,
        codec=codec,
        task=task,
        metric=metric,
        model=model,
        rs_bits=rs,
        d_s=d_s,
        d_c=d_c,
        a1=a1,
        a0=a0,
        index=np.arange(n_points),
        curves=curves,
        r2=np.full(n_points, math.nan),
        samples=samples,
        meta={
            "synthetic": True,
            "dataset": "synthetic (fashion-mnist-like)",
            "split": "none",
            "image_shape": [1, 28, 28],
            "made_by": _SYNTH_NOTE + f" (task={task}, seed={seed})",
        },
    )


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
            "made_by": _SYNTH_NOTE.replace("synthetic_table", "synthetic_snr_table"),
        },
    )


def load_table(spec: str) -> DistortionTable:
    """A distortion table from a path, a shipped table name, or ``synthetic:<task>[:seed]``.

    ``spec`` is tried as a file path first, then as a name (with or without ``.json``) in
    :data:`TABLES_DIR`. ``"synthetic:du"`` / ``"synthetic:su:3"`` build a synthetic table
    (:func:`synthetic_table`), which says so in its metadata.
    """
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"a table spec must be a non-empty string, got {spec!r}")
    if spec.startswith("synthetic:"):
        parts = spec.split(":")
        seed = int(parts[2]) if len(parts) > 2 else 0
        return synthetic_table(parts[1], seed=seed)
    path = Path(spec)
    if path.is_file():
        return DistortionTable.load(path)
    for cand in (TABLES_DIR / spec, TABLES_DIR / f"{spec}.json"):
        if cand.is_file():
            return DistortionTable.load(cand)
    raise FileNotFoundError(f"no distortion table '{spec}' (as a path or in {TABLES_DIR})")
