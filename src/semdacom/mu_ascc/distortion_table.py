"""Distortion tables of MU-ASCC ([1]): eqs. (12)/(13), (26)-(30), (31) and the erasure form.

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
:func:`erasure_aware` derives the packet-erasure form for the physical link.

The JSON format is documented in ``docs/mu_ascc/tables.md``. Loaders and synthetic tables are
in :mod:`semdacom.mu_ascc.distortion`, the public entry that re-exports this module.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "FORMAT",
    "METRICS",
    "TASKS",
    "DistortionTable",
    "JsonFile",
    "clean_curves",
    "erasure_aware",
    "logistic",
]

FORMAT = "semdacom-distortion-table/1"
TASKS = ("du", "su")
METRICS = ("1-msssim", "mse", "classification_error")
#: The largest log10 BER any link model gives (BER 1/2: eq. (14) is clipped there, and the
#: physical link's rho / 2 reaches it when every packet fails).
X_MAX = math.log10(0.5)

FloatArray = NDArray[np.float64]


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


def clean_curves(curves, owner: str, need: str) -> list[tuple[FloatArray, FloatArray]]:
    """Per-point curves ``(x, d)`` as float arrays, checked: at least two points, ``x`` strictly
    ascending, ``d`` as long as ``x``, every value finite (else ``ValueError`` naming ``owner``
    and, for the shape, what a curve ``need``s)."""
    clean = []
    for i, (x, d) in enumerate(curves):
        xa = np.asarray(x, dtype=np.float64).reshape(-1)
        da = np.asarray(d, dtype=np.float64).reshape(-1)
        if xa.size < 2 or xa.size != da.size or np.any(np.diff(xa) <= 0.0):
            raise ValueError(f"{owner}: curve {i} {need}")
        if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(da))):
            raise ValueError(f"{owner}: curve {i} has non-finite values")
        clean.append((xa, da))
    return clean


class JsonFile:
    """``load``/``save`` of a table class through its ``from_dict``/``to_dict`` (JSON files)."""

    @classmethod
    def load(cls, path: str | Path):
        """Read a table from a JSON file in its format (``docs/mu_ascc/tables.md``)."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def save(self, path: str | Path) -> None:
        """Write the table as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")


@dataclass
class DistortionTable(JsonFile):
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
            self.curves = clean_curves(
                self.curves, f"table '{self.name}'", "needs >= 2 points, ascending log10_ber"
            )

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
        """Largest distortion the table can give: the logistic at BER 1/2 (:data:`X_MAX`; its
        ceiling ``d_s + d_c`` may lie beyond, where no link goes), the curve maximum, or
        ``d_fail`` of the erasure model."""
        if self.model == "erasure":
            return float(max(self.d_fail, np.max(self.d_s)))
        if self.model == "tabulated":
            return float(max(np.max(d) for _, d in self.curves))
        return float(np.max(logistic(X_MAX, self.d_s, self.d_c, self.a1, self.a0)))


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
