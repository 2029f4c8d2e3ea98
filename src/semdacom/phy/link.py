"""Link models: the map (SINR, R_c, L) -> log10 BER of the optimisers (docs/architecture.md §5).

The MU-ASCC optimiser (MU-ASCC [1]) only needs ``log10 BER`` as a function of the linear SINR, the
channel coding rate ``R_c`` (bits per complex channel use) and the blocklength ``L``, together
with its partial derivatives (Lemma A.1, Lemma 4.1). :class:`LinkModel` is that interface;
:class:`RandomCodingLink` is the paper's ideal random-coding bound (eqs. (8) and (14)).
Remark 3.2 of the paper notes that practical codes plug in through their own BER relationship:
a further subclass, driven by measured BER tables of the LDPC+QAM codes, implements the same
interface.
"""

from __future__ import annotations

import abc

import numpy as np
from numpy.typing import ArrayLike

from semdacom.phy import fbl
from semdacom.phy.docs import shared_params
from semdacom.phy.fbl import FloatOrArray

__all__ = ["LinkModel", "RandomCodingLink", "TabulatedLink", "physical_link"]


def _ret(a: np.ndarray) -> FloatOrArray:
    return a[()] if a.ndim == 0 else a


class LinkModel(abc.ABC):
    """Interface of a link model: ``log10 BER(sinr, rc, L)`` with its derivatives.

    All methods are vectorised with numpy broadcasting over ``sinr`` (linear), ``rc`` (bits per
    complex channel use) and ``L`` (channel uses per codeword). Implementations must make
    ``log10_ber`` non-increasing in ``sinr`` (the property Lemma A.1 of MU-ASCC proves for the
    random-coding bound), which the optimisers rely on.

    Attributes
    ----------
    name : str
        Short identifier of the model (used in logs and allocation diagnostics).
    """

    name: str = "link"

    @shared_params
    @abc.abstractmethod
    def log10_ber(self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike) -> FloatOrArray:
        """Base-10 log of the bit error rate (the quantity of eq. (14) of MU-ASCC [1]).

        {Parameters: sinr rc L}

        Returns
        -------
        float or ndarray
            ``log10 BER``.
        """

    @shared_params
    @abc.abstractmethod
    def log10_ber_and_grad(
        self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike
    ) -> tuple[FloatOrArray, FloatOrArray, FloatOrArray]:
        """``log10 BER`` and its partial derivatives in ``sinr`` and ``rc``.

        {Parameters: sinr rc L}

        Returns
        -------
        value, d_dsinr, d_drc : float or ndarray
            ``log10 BER`` and its partial derivatives.
        """

    @shared_params
    def ber(self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike) -> FloatOrArray:
        """Bit error rate ``10 ** log10_ber`` clipped to ``[0, 0.5]``.

        {Parameters: sinr rc L}

        Returns
        -------
        float or ndarray
            BER in ``[0, 0.5]``.
        """
        v = np.asarray(self.log10_ber(sinr, rc, L), dtype=np.float64)
        return _ret(np.clip(10.0**v, 0.0, 0.5))

    @shared_params
    def packet_error_prob(self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike) -> FloatOrArray:
        """Packet error probability implied by the BER through eq. (14) of MU-ASCC ([1]).

        The default inverts eq. (14): ``rho = BER * rc * L``, clipped to ``[0, 1]``.
        Subclasses with a direct packet error model (e.g. eq. (8)) override it.

        {Parameters: sinr rc L}

        Returns
        -------
        float or ndarray
            Packet error probability in ``[0, 1]``.
        """
        v = np.asarray(self.log10_ber(sinr, rc, L), dtype=np.float64)
        nbits = np.asarray(rc, dtype=np.float64) * np.asarray(L, dtype=np.float64)
        return _ret(np.clip(10.0 ** (v + np.log10(nbits)), 0.0, 1.0))

    @shared_params
    def required_sinr(
        self,
        target_log10_ber: ArrayLike,
        rc: ArrayLike,
        L: ArrayLike,
        sinr_max: float = 1e12,
        rtol: float = 1e-12,
    ) -> FloatOrArray:
        """Smallest linear SINR with ``log10_ber(sinr, rc, L) <= target_log10_ber``.

        Vectorised bisection on ``log(sinr)``; valid because ``log10_ber`` is non-increasing in
        ``sinr`` (Lemma A.1 of MU-ASCC [1]).

        Parameters
        ----------
        target_log10_ber : array_like
            Target base-10 log BER.
        {rc}
        {L}
        sinr_max : float, optional
            Largest SINR searched; targets not met there give ``inf``.
        rtol : float, optional
            Relative tolerance on the returned SINR.

        Returns
        -------
        float or ndarray
            Required SINR: 0 where the target is met at ``sinr == 0``, ``inf`` where it is not
            met at ``sinr_max``.
        """
        t, r, n = np.broadcast_arrays(
            np.asarray(target_log10_ber, dtype=np.float64),
            np.asarray(rc, dtype=np.float64),
            np.asarray(L, dtype=np.float64),
        )
        zero = np.asarray(self.log10_ber(np.zeros_like(t), r, n)) <= t
        top = np.asarray(self.log10_ber(np.full_like(t, sinr_max), r, n)) <= t
        lo = np.full_like(t, np.log(1e-300))
        hi = np.full_like(t, np.log(sinr_max))
        while np.any(hi - lo > rtol):
            mid = 0.5 * (lo + hi)
            ok = np.asarray(self.log10_ber(np.exp(mid), r, n)) <= t
            hi = np.where(ok, mid, hi)
            lo = np.where(ok, lo, mid)
        out = np.where(zero, 0.0, np.where(top, np.exp(hi), np.inf))
        return _ret(out)


class RandomCodingLink(LinkModel):
    """Ideal random-coding link of MU-ASCC ([1]): eqs. (8) and (14).

    Parameters
    ----------
    paper_form : bool, optional
        ``False`` (default) uses the standard dispersion ``(1 - (1+g)^-2)(log2 e)^2``; ``True``
        the form printed in eq. (8) (see :func:`semdacom.phy.fbl.dispersion`).
    packet_loss : bool, optional
        ``False`` (default): eq. (14) as printed, ``BER = rho / (R_c L)`` (a lost packet costs
        one bit, so the BER never exceeds ``1 / (R_c L)`` and a user with no power looks
        nearly error-free). ``True``: the physical form ``BER = rho / 2`` (a failed packet
        loses its bits; BER 1/2 and the maximum distortion at zero SINR), as the
        ``"packet"`` model of :mod:`semdacom.phy.fbl_emulation` behaves. See
        :func:`physical_link`.
    """

    def __init__(self, paper_form: bool = False, packet_loss: bool = False) -> None:
        self.paper_form = bool(paper_form)
        self.packet_loss = bool(packet_loss)
        self.name = ("random_coding_packet_loss" if self.packet_loss else "random_coding") + (
            "_paper_form" if self.paper_form else ""
        )

    def __repr__(self) -> str:
        return f"RandomCodingLink(paper_form={self.paper_form}, packet_loss={self.packet_loss})"

    def log10_prefactor(self, rc: ArrayLike, L: ArrayLike) -> FloatOrArray:
        """The term outside Q: ``log10(1/(R_c L))`` (eq. (14)) or ``log10(1/2)``; see
        :func:`semdacom.phy.fbl.log10_prefactor`."""
        return fbl.log10_prefactor(rc, L, packet_loss=self.packet_loss)

    def log10_ber(self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike) -> FloatOrArray:
        """Eq. (14) of MU-ASCC ([1]); see :func:`semdacom.phy.fbl.log10_ber`."""
        return fbl.log10_ber(sinr, rc, L, paper_form=self.paper_form, packet_loss=self.packet_loss)

    def log10_ber_and_grad(
        self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike
    ) -> tuple[FloatOrArray, FloatOrArray, FloatOrArray]:
        """Eq. (14) with derivatives; see :func:`semdacom.phy.fbl.log10_ber_and_grad`."""
        return fbl.log10_ber_and_grad(
            sinr, rc, L, paper_form=self.paper_form, packet_loss=self.packet_loss
        )

    def packet_error_prob(self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike) -> FloatOrArray:
        """Eq. (8) of MU-ASCC ([1]); see :func:`semdacom.phy.fbl.packet_error_prob`."""
        return fbl.packet_error_prob(sinr, rc, L, paper_form=self.paper_form)

    def log_packet_error_prob(self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike) -> FloatOrArray:
        """Natural log of eq. (8); see :func:`semdacom.phy.fbl.log_packet_error_prob`."""
        return fbl.log_packet_error_prob(sinr, rc, L, paper_form=self.paper_form)


def physical_link(paper_form: bool = False) -> RandomCodingLink:
    """The physical random-coding link: eq. (8) with ``BER = rho / 2`` (lost packets lose bits).

    The default of the optimiser block and the closed loop; eq. (14) as printed
    (``RandomCodingLink()``) stays the reference for reproducing the paper's figures.
    """
    return RandomCodingLink(paper_form=paper_form, packet_loss=True)


class TabulatedLink(LinkModel):
    """Measured link of the practical LDPC + QAM codes (MU-ASCC Remark 3.2; architecture §5).

    Built from the ``link_L<L>.json`` tables (docs/mu_ascc/tables.md) that ``semdacom fit-link``
    measures: per MCS and blocklength, BER against SNR in dB. Eq. (14)'s role — ``log10 BER``
    as a function of ``(sinr, R_c, L)`` — is played by interpolation:

    * in SNR: a monotone cubic (PCHIP) through ``log10 BER`` of each MCS (points made
      non-increasing first; the first error-free point enters as ``BER = 0.5 / bits tested``,
      later ones are dropped), continued beyond the last
      point with the slope of the last segment (at least ``min_slope`` decades per dB) and
      held flat below the first point;
    * in ``R_c``: linear between the two MCS of neighbouring effective rate (payload bits per
      channel use), held at the end MCS outside the table's range;
    * in ``L``: linear in ``log L`` between the tabulated blocklengths, held outside.

    ``log10_ber`` is non-increasing in ``sinr`` (a convex combination of non-increasing
    curves), as the optimisers require; its derivatives are exact derivatives of this
    interpolant.

    With ``mcs=True`` it is the link of the codes that really run in the closed loop:

    * in ``R_c``: no interpolation — a rate ``R_c`` is carried by the MCS of smallest
      effective rate at or above it (it meets the delay budget, eq. (19)), and the value is
      that MCS's curve (piecewise constant in ``R_c``, zero derivative); a rate above every
      MCS gets the fastest one (the frame then exceeds the budget). :meth:`mcs_for` names it;
    * ``log10 BER`` is read off the measured codeword error rate as ``log10(BLER / 2)``, so
      that ``rho = 2 BER`` is the probability that a codeword (a packet) fails: the same
      convention as the physical random-coding link (``packet_loss``), for the
      erasure-aware tables (``semdacom.mu_ascc.distortion.erasure_aware``).

    Parameters
    ----------
    tables : list of dict or paths
        Link tables (parsed JSON or files).
    min_slope : float, optional
        Smallest steepness of the extrapolation beyond the last measured point, decades/dB.
    mcs : bool, optional
        Discrete MCS and codeword losses (see above).
    """

    name = "tabulated"

    def __init__(self, tables, min_slope: float = 1.0, mcs: bool = False) -> None:
        import json
        from pathlib import Path

        from scipy.interpolate import PchipInterpolator

        parsed = []
        for t in tables:
            if not isinstance(t, dict):
                t = json.loads(Path(t).read_text())
            if t.get("format") != "semdacom-link-table/1":
                raise ValueError(f"not a link table: format {t.get('format')!r}")
            parsed.append(t)
        if not parsed:
            raise ValueError("need at least one link table")
        parsed.sort(key=lambda t: t["L"])
        self.discrete = bool(mcs)
        self.packet_loss = bool(mcs)
        self.min_slope = float(min_slope)
        self._mcs_index = []  # per L: MCS index of each curve (ascending rc_effective)
        self.blocklengths = np.array([float(t["L"]) for t in parsed])
        self._curves = []  # per L: (rc array ascending, list of curve tuples)
        for t in parsed:
            entries = sorted(t["mcs"], key=lambda m: m["rc_effective"])
            rcs, curves, idx = [], [], []
            for m in entries:
                x = np.asarray(m["snr_db"], dtype=np.float64)
                if self.packet_loss:  # rho = BLER, read as log10 BER = log10(BLER / 2)
                    y = np.asarray(m["bler"], dtype=np.float64) / 2.0
                    tested = "codewords"
                else:
                    y = np.asarray(m["ber"], dtype=np.float64)
                    tested = "bits"
                if tested in m:
                    # An error-free point enters at half an error (0.5 / bits or codewords
                    # tested): a proxy below the 1-error resolution that keeps the slope.
                    bits = np.asarray(m[tested], dtype=np.float64)
                    if self.packet_loss:
                        bits = 2.0 * bits
                    zero = np.flatnonzero(y <= 0)
                    if zero.size:
                        y = y.copy()
                        y[zero[0]] = 0.5 / bits[zero[0]]
                keep = y > 0
                if keep.sum() < 2:
                    continue
                x, ly = x[keep], np.log10(y[keep])
                ly = np.minimum.accumulate(ly)  # non-increasing
                ly = ly - 1e-9 * np.arange(ly.size)  # strictly, for PCHIP
                f = PchipInterpolator(x, ly, extrapolate=False)
                slope = min((ly[-1] - ly[-2]) / (x[-1] - x[-2]), -self.min_slope)
                curves.append((x[0], x[-1], ly[0], ly[-1], slope, f, f.derivative()))
                rcs.append(float(m["rc_effective"]))
                idx.append(int(m["index"]))
            if not curves:
                raise ValueError(f"link table L={t['L']} has no usable MCS curve")
            self._curves.append((np.array(rcs), curves))
            self._mcs_index.append(np.array(idx, dtype=np.int64))
        self.name = ("tabulated_mcs_L" if self.discrete else "tabulated_L") + "_".join(
            str(int(v)) for v in self.blocklengths
        )

    def _nearest_L(self, L: float) -> int:
        return int(np.argmin(np.abs(np.log(self.blocklengths) - np.log(float(L)))))

    def mcs_for(self, rc: ArrayLike, L: float) -> tuple[np.ndarray, np.ndarray]:
        """The MCS that carries rate ``rc`` at blocklength ``L`` (the smallest effective rate
        at or above ``rc``; the fastest MCS above them all), from the table of the nearest
        tabulated blocklength: ``(mcs index, its effective R_c)``."""
        li = self._nearest_L(L)
        rcs = self._curves[li][0]
        r = np.atleast_1d(np.asarray(rc, dtype=np.float64))
        j = np.minimum(np.searchsorted(rcs, r * (1 - 1e-12), side="left"), rcs.size - 1)
        return self._mcs_index[li][j], rcs[j]

    def __repr__(self) -> str:
        return f"TabulatedLink(L={self.blocklengths.tolist()})"

    @staticmethod
    def _eval_curve(c, xdb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x0, x1, y0, y1, slope, f, df = c
        inside = (xdb >= x0) & (xdb <= x1)
        xi = np.clip(xdb, x0, x1)
        v = np.where(inside, f(xi), np.where(xdb < x0, y0, y1 + slope * (xdb - x1)))
        d = np.where(inside, df(xi), np.where(xdb < x0, 0.0, slope))
        return v, d

    def _per_L(self, li: int, xdb: np.ndarray, rc: np.ndarray):
        """value, d/dxdb, d/drc for one tabulated blocklength."""
        rcs, curves = self._curves[li]
        if rcs.size == 1:
            v, d = self._eval_curve(curves[0], xdb)
            return v, d, np.zeros_like(v)
        if self.discrete:  # the MCS that carries rc: piecewise constant in rc
            j = np.minimum(np.searchsorted(rcs, rc * (1 - 1e-12), side="left"), rcs.size - 1)
            val, dx = np.empty_like(xdb), np.empty_like(xdb)
            for jj in np.unique(j):
                sel = j == jj
                val[sel], dx[sel] = self._eval_curve(curves[jj], xdb[sel])
            return val, dx, np.zeros_like(xdb)
        r = np.clip(rc, rcs[0], rcs[-1])
        j = np.clip(np.searchsorted(rcs, r, side="right") - 1, 0, rcs.size - 2)
        val = np.empty_like(xdb)
        dx = np.empty_like(xdb)
        drc = np.empty_like(xdb)
        for jj in np.unique(j):
            sel = j == jj
            va, da = self._eval_curve(curves[jj], xdb[sel])
            vb, db = self._eval_curve(curves[jj + 1], xdb[sel])
            w = (r[sel] - rcs[jj]) / (rcs[jj + 1] - rcs[jj])
            val[sel] = (1 - w) * va + w * vb
            dx[sel] = (1 - w) * da + w * db
            inside = (rc[sel] >= rcs[0]) & (rc[sel] <= rcs[-1])
            drc[sel] = np.where(inside, (vb - va) / (rcs[jj + 1] - rcs[jj]), 0.0)
        return val, dx, drc

    def log10_ber_and_grad(
        self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike
    ) -> tuple[FloatOrArray, FloatOrArray, FloatOrArray]:
        """Interpolated measured ``log10 BER`` and its derivatives in ``sinr`` and ``rc``."""
        g, r, n = np.broadcast_arrays(
            np.asarray(sinr, dtype=np.float64),
            np.asarray(rc, dtype=np.float64),
            np.asarray(L, dtype=np.float64),
        )
        if not np.all(g >= 0.0):
            raise ValueError("sinr must be linear, non-negative and not NaN")
        if not (np.all(r > 0) and np.all(n > 0)):
            raise ValueError("rc and L must be positive")
        shape = g.shape
        g, r, n = g.reshape(-1), r.reshape(-1), n.reshape(-1)
        with np.errstate(divide="ignore"):
            xdb = np.where(g > 0, 10.0 * np.log10(np.where(g > 0, g, 1.0)), -np.inf)
        xdb = np.maximum(xdb, -100.0)
        ls = np.log(self.blocklengths)
        if ls.size == 1:
            v, dx, drc = self._per_L(0, xdb, r)
        else:
            ln = np.clip(np.log(n), ls[0], ls[-1])
            i = np.clip(np.searchsorted(ls, ln, side="right") - 1, 0, ls.size - 2)
            v, dx, drc = np.empty_like(xdb), np.empty_like(xdb), np.empty_like(xdb)
            for ii in np.unique(i):
                sel = i == ii
                va, dxa, dra = self._per_L(ii, xdb[sel], r[sel])
                vb, dxb, drb = self._per_L(ii + 1, xdb[sel], r[sel])
                w = (ln[sel] - ls[ii]) / (ls[ii + 1] - ls[ii])
                v[sel] = (1 - w) * va + w * vb
                dx[sel] = (1 - w) * dxa + w * dxb
                drc[sel] = (1 - w) * dra + w * drb
        with np.errstate(divide="ignore", invalid="ignore"):
            dsinr = np.where(g > 0, dx * 10.0 / (np.log(10.0) * np.where(g > 0, g, 1.0)), 0.0)
        return _ret(v.reshape(shape)), _ret(dsinr.reshape(shape)), _ret(drc.reshape(shape))

    def log10_ber(self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike) -> FloatOrArray:
        """Interpolated measured ``log10 BER`` (see the class docstring)."""
        return self.log10_ber_and_grad(sinr, rc, L)[0]

    @classmethod
    def shipped(cls, min_slope: float = 1.0, mcs: bool = False) -> TabulatedLink:
        """The link tables shipped in src/semdacom/data/tables (``link_L*.json``)."""
        from semdacom.data import TABLES_DIR as folder

        files = sorted(folder.glob("link_L*.json"))
        if not files:
            raise FileNotFoundError(f"no link_L*.json in {folder}")
        return cls(files, min_slope=min_slope, mcs=mcs)
