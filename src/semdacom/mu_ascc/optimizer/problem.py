"""Problem (P1) of MU-ASCC ([1]) and the solution record every solver returns.

(P1), eqs. (15)-(20): minimise ``sum_i beta_i D_i(R_s,i, log10 BER_i)`` over source rates
``R_s,i`` (one of the table rates of user i), channel coding rates ``R_c,i``, powers ``p_i`` and
unit-norm beamformers ``w_i`` subject to ``sum_i p_i <= P_max`` and ``R_s,i / R_c,i <= T_i``.
Every solver here uses ``R_c,i = R_s,i / T_i`` (the delay constraint is tight at the optimum,
Sec. IV-B) and the downlink SINR of eq. (7) on the noise-normalised channel, so ``log10 BER_i``
comes from the problem's :class:`~semdacom.phy.link.LinkModel` (eq. (14) for the random-coding
bound, a measured table for practical codes).

Nothing here imports GNU Radio or PMT; :meth:`Solution.allocation_fields` returns the keyword
arguments of ``messages.Allocation`` (docs/architecture.md §3) for the block to wrap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from semdacom.mu_ascc.distortion import DistortionTable
from semdacom.phy import beamforming as bf
from semdacom.phy.link import LinkModel, RandomCodingLink

__all__ = ["LINK_SPECS", "Problem", "Solution", "link_from_spec"]

#: Named link models of :func:`link_from_spec` (besides paths of link tables).
LINK_SPECS = (
    "physical",
    "physical_paper",
    "random_coding",
    "random_coding_paper",
    "tabulated",
    "tabulated_mcs",
)

FloatArray = NDArray[np.float64]


def link_from_spec(spec: str | LinkModel) -> LinkModel:
    """A link model from its name.

    ``"physical"`` (alias ``"packet_loss"``: eq. (8) with ``BER = rho / 2``, a failed packet
    loses its bits, so zero SINR gives the maximum distortion; the default of the optimiser
    block and the closed loop), ``"physical_paper"`` (the same with the dispersion as printed),
    ``"random_coding"`` (eq. (14) as printed, ``BER = rho / (R_c L)``, standard dispersion: the
    paper's figures), ``"random_coding_paper"`` (eq. (14) and the dispersion as printed),
    ``"tabulated"`` (the measured LDPC+QAM tables shipped in ``data/tables``,
    ``semdacom.phy.link.TabulatedLink.shipped()``), ``"tabulated_mcs"`` (the same codes as they run
    in the closed loop's LDPC mode: discrete MCS, codeword losses; ``TabulatedLink(mcs=True)``)
    or comma-separated paths of ``link_L<L>.json`` tables.
    """
    if isinstance(spec, LinkModel):
        return spec
    if spec in ("random_coding", "", None):
        return RandomCodingLink()
    if spec == "random_coding_paper":
        return RandomCodingLink(paper_form=True)
    if spec in ("physical", "packet_loss"):
        return RandomCodingLink(packet_loss=True)
    if spec in ("physical_paper", "packet_loss_paper"):
        return RandomCodingLink(paper_form=True, packet_loss=True)
    from semdacom.phy import link as link_mod

    tab = getattr(link_mod, "TabulatedLink", None)
    if tab is None:
        raise ValueError(f"link '{spec}': this checkout has no TabulatedLink in phy/link.py")
    if spec == "tabulated":
        return tab.shipped()
    if spec == "tabulated_mcs":
        return tab.shipped(mcs=True)
    return tab([p.strip() for p in str(spec).split(",") if p.strip()])


class Problem:
    """Problem (P1) of MU-ASCC ([1]), eqs. (15)-(20).

    Parameters
    ----------
    H : array_like, shape (K, N_t)
        Channel, row ``i`` is ``h_i`` (user i receives ``h_i^H x``).
    noise_var : array_like, shape (K,) or scalar
        Noise variances ``sigma_i^2 > 0``.
    tables : sequence of DistortionTable
        One table per user; ``table.task`` says whether the user is a DU or an SU.
    weights : array_like, shape (K,)
        Distortion weights ``beta_i > 0``.
    p_max : float
        Power budget in watts (eq. (18)).
    T : array_like, shape (K,) or scalar
        Delay budgets ``T_i`` in channel uses per image (eq. (19)).
    L : int
        Blocklength in channel uses.
    link : LinkModel, optional
        Map (SINR, R_c, L) -> log10 BER; the random-coding bound of eq. (14) by default.
    """

    def __init__(
        self,
        H: ArrayLike,
        noise_var: ArrayLike,
        tables: Sequence[DistortionTable],
        weights: ArrayLike,
        p_max: float,
        T: ArrayLike,
        L: int,
        link: LinkModel | None = None,
    ) -> None:
        Hm = np.asarray(H, dtype=np.complex128)
        if Hm.ndim != 2 or Hm.shape[0] < 1 or Hm.shape[1] < 1:
            raise ValueError(f"H must have shape (K, N_t), got {Hm.shape}")
        if not np.all(np.isfinite(Hm)):
            raise ValueError("H must be finite")
        K = Hm.shape[0]
        self.H = Hm
        self.noise_var = np.broadcast_to(np.asarray(noise_var, dtype=np.float64), (K,)).copy()
        if not np.all((self.noise_var > 0.0) & np.isfinite(self.noise_var)):
            raise ValueError("noise_var must be positive and finite")
        self.hbar = bf.normalize_channel(Hm, self.noise_var)
        self.tables = list(tables)
        if len(self.tables) != K or not all(isinstance(t, DistortionTable) for t in self.tables):
            raise ValueError(f"need one DistortionTable per user ({K})")
        self.weights = np.broadcast_to(np.asarray(weights, dtype=np.float64), (K,)).copy()
        if not np.all((self.weights > 0.0) & np.isfinite(self.weights)):
            raise ValueError("weights must be positive and finite")
        self.p_max = float(p_max)
        if not (self.p_max > 0.0 and np.isfinite(self.p_max)):
            raise ValueError("p_max must be positive and finite (watts)")
        self.T = np.broadcast_to(np.asarray(T, dtype=np.float64), (K,)).copy()
        if not np.all((self.T > 0.0) & np.isfinite(self.T)):
            raise ValueError("T must be positive and finite (channel uses per image)")
        if isinstance(L, bool) or int(L) != L or L < 1:
            raise ValueError(f"L must be a positive integer, got {L!r}")
        self.L = int(L)
        self.link = link if link is not None else RandomCodingLink()
        if not isinstance(self.link, LinkModel):
            raise ValueError("link must be a LinkModel")

    # ----------------------------------------------------------------------------------------

    @property
    def K(self) -> int:
        """Number of users."""
        return int(self.H.shape[0])

    @property
    def n_t(self) -> int:
        """Number of transmit antennas."""
        return int(self.H.shape[1])

    def with_channel(self, H: ArrayLike, noise_var: ArrayLike) -> Problem:
        """The same problem on another channel."""
        return Problem(
            H, noise_var, self.tables, self.weights, self.p_max, self.T, self.L, self.link
        )

    def with_tables(self, tables: Sequence[DistortionTable]) -> Problem:
        """The same problem with other distortion tables (e.g. a classical codec's)."""
        return Problem(
            self.H, self.noise_var, tables, self.weights, self.p_max, self.T, self.L, self.link
        )

    def rc(self, rs: ArrayLike) -> FloatArray:
        """Channel coding rates ``R_c = R_s / T`` (eq. (19) met with equality)."""
        return np.asarray(rs, dtype=np.float64) / self.T

    def sinr(self, p: ArrayLike, W: ArrayLike) -> FloatArray:
        """Downlink SINRs of eq. (7) (on the normalised channel, unit noise)."""
        return bf.downlink_sinr(self.hbar, p, W, 1.0)

    def log10_ber(self, sinr: ArrayLike, rs: ArrayLike) -> FloatArray:
        """``log10 BER`` of every user (eq. (14) or the link's table) at ``R_c = R_s / T``."""
        return np.asarray(self.link.log10_ber(np.asarray(sinr), self.rc(rs), self.L), np.float64)

    def user_distortion(self, rs: ArrayLike, sinr: ArrayLike) -> FloatArray:
        """Per-user distortion ``D_i(R_s, log10 BER)``: eq. (26), eq. (12)/(13) at table rates."""
        r = np.asarray(rs, dtype=np.float64)
        x = self.log10_ber(sinr, r)
        return np.array([float(t.distortion(r[i], x[i])) for i, t in enumerate(self.tables)])

    def objective(self, rs: ArrayLike, sinr: ArrayLike) -> float:
        """Weighted-sum distortion, eq. (15)."""
        return float(np.dot(self.weights, self.user_distortion(rs, sinr)))

    def point_distortions(self, sinr: ArrayLike) -> list[FloatArray]:
        """For every user, the distortion of each of its operating points at the given SINR(s).

        Parameters
        ----------
        sinr : array_like, shape (..., K)
            SINRs (leading batch dimensions allowed).

        Returns
        -------
        list of ndarray, one per user, shape (..., N_i)
        """
        g = np.asarray(sinr, dtype=np.float64)
        out = []
        for i, t in enumerate(self.tables):
            rc = t.rs_bits / self.T[i]
            x = np.asarray(self.link.log10_ber(g[..., i, None], rc, self.L), dtype=np.float64)
            out.append(t.point_distortion(np.arange(t.n_points), x))
        return out

    def zero_sinr_distortion(self) -> FloatArray:
        """Each user's best distortion at SINR 0 (no power, or no beam gain) under the link.

        With the physical link (BER 1/2 at SINR 0) this is the table's distortion of a useless
        link, within a fraction of a percent of :meth:`DistortionTable.max_distortion`; with
        eq. (14) as printed it is far lower (BER ``1/(R_c L)``: the flaw that made switched-off
        users look nearly error-free).
        """
        return self.best_positions(np.zeros(self.K))[1]

    def best_positions(self, sinr: ArrayLike) -> tuple[NDArray[np.int64], FloatArray]:
        """Best table position of every user at fixed SINRs and its distortion (exact search)."""
        pd = self.point_distortions(sinr)
        pos = np.array([int(np.argmin(d)) for d in pd])
        return pos, np.array([float(d[k]) for d, k in zip(pd, pos, strict=True)])

    def make_solution(
        self,
        solver: str,
        positions: ArrayLike | None,
        p: ArrayLike,
        W: ArrayLike,
        solve_ms: float,
        diagnostics: dict | None = None,
        distortion: ArrayLike | None = None,
        rc: ArrayLike | None = None,
        infeasible: Sequence[int] = (),
    ) -> Solution:
        """Evaluate a discrete allocation (table positions, powers, beams) and record it.

        ``rc`` overrides ``R_c = R_s / T`` (a fixed-rate baseline, which then meets the delay
        constraint with slack). Without positions (DeepJSCC) ``distortion`` must be given.
        Users listed in ``infeasible`` (no rate meets eq. (19)) are scored at their table's
        maximum distortion (the image does not arrive in time) and recorded in
        ``Solution.infeasible_users``.
        """
        pw = np.maximum(np.asarray(p, dtype=np.float64), 0.0)
        total = pw.sum()
        if total > self.p_max:
            pw *= self.p_max / total
        Wm = np.asarray(W, dtype=np.complex128)
        Wm = Wm / np.linalg.norm(Wm, axis=1, keepdims=True)
        sinr = self.sinr(pw, Wm)
        if positions is None:  # DeepJSCC: no rate fields, the distortion given
            pos = rate_index = rs = rcv = x = None
            d = np.asarray(distortion, dtype=np.float64)
            bad: list[int] = []
        else:
            pos = np.asarray(positions, dtype=np.int64)
            rate_index = np.array(
                [t.index[k] for t, k in zip(self.tables, pos, strict=True)], np.int32
            )
            rs = np.array([t.rs_bits[k] for t, k in zip(self.tables, pos, strict=True)])
            rcv = self.rc(rs) if rc is None else np.asarray(rc, dtype=np.float64)
            x = np.asarray(self.link.log10_ber(sinr, rcv, self.L), dtype=np.float64)
            d = np.array(
                [
                    float(t.point_distortion(k, x[i]))
                    for i, (t, k) in enumerate(zip(self.tables, pos, strict=True))
                ]
            )
            bad = sorted({int(i) for i in infeasible})
            for i in bad:
                d[i] = self.tables[i].max_distortion()
        return Solution(
            solver=solver,
            positions=pos,
            rate_index=rate_index,
            rs_bits=rs,
            rc=rcv,
            power=pw,
            w=Wm,
            sinr=sinr,
            log10_ber=x,
            distortion=d,
            objective=float(np.dot(self.weights, d)),
            solve_ms=float(solve_ms),
            diagnostics=dict(diagnostics or {}),
            infeasible_users=bad,
        )


@dataclass
class Solution:
    """A solved allocation with its evaluation and diagnostics.

    ``positions`` are 0-based positions in each user's table; ``rate_index`` the table's own
    ``index`` of those points (what the source encoder receives). Baselines without a digital
    source code (DeepJSCC) carry None for the rate fields. ``infeasible_users`` lists the users
    for whom no rate met eq. (19) (a fixed-rate baseline); they are scored at their maximum
    distortion.
    """

    solver: str
    positions: NDArray[np.int64] | None
    rate_index: NDArray[np.int32] | None
    rs_bits: FloatArray | None
    rc: FloatArray | None
    power: FloatArray
    w: NDArray[np.complex128]
    sinr: FloatArray
    log10_ber: FloatArray | None
    distortion: FloatArray
    objective: float
    solve_ms: float
    diagnostics: dict = field(default_factory=dict)
    infeasible_users: list[int] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        """Every user meets the delay budget of eq. (19) (``R_s <= R_c T``)."""
        return not self.infeasible_users

    def allocation_fields(self, seq: int = 0, apply_frame: int = 0) -> dict:
        """Keyword arguments of ``messages.Allocation`` (docs/architecture.md §3)."""
        out: dict = {
            "seq": int(seq),
            "apply_frame": int(apply_frame),
            "power": np.asarray(self.power, dtype=np.float64),
            "w": np.asarray(self.w, dtype=np.complex128),
            "objective": float(self.objective),
            "solve_ms": float(max(self.solve_ms, 0.0)),
            "solver": self.solver,
        }
        if self.rate_index is not None:
            out["rate_index"] = np.asarray(self.rate_index, dtype=np.int32)
            out["rs_bits"] = np.asarray(self.rs_bits, dtype=np.float64)
            out["rc"] = np.asarray(self.rc, dtype=np.float64)
        return out
