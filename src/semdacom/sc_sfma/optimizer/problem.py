"""Problem (20) of SC-SFMA (docs/sc_sfma/model.md): data, evaluation, feasibility and pruning (21).

An :class:`SfmaProblem` holds the users (gains, labels, optional scene ids, source sizes,
distortion limits), the
budgets and compute figures, and the two tables of the transceiver in use (xi of eq. (10),
distortion envelopes of eq. (17)). An allocation is ``pairs`` (M, 2) user indices, ``nu``,
``power`` (W) and ``bw`` (Hz), one entry per group. :meth:`SfmaProblem.evaluate` computes
eqs. (10)-(19) for it; :meth:`SfmaProblem.check` the slack of every constraint (20a)-(20h).

Pair classes: the three label classes of ``sfma.pair_class``, plus ``"overlap"`` when two users
share a scene id (``scenes[i] == scenes[j] >= 0``: views of one scene). ``prob.classes`` lists the
classes in use (index = ``prob.cls``); ``"overlap"`` is among them only when some users share a
scene, and then both tables must have been profiled with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from semdacom.sc_sfma import model as sfma

__all__ = ["Allocation", "Evaluation", "SfmaProblem", "TOL"]

#: Relative tolerance of the constraint checks (budgets, latency, energy); distortion and
#: nu bounds are checked to an absolute 1e-9.
TOL = 1e-6


@dataclass
class SfmaProblem:
    """Users, budgets and tables of problem (20). Units: W, Hz, bit, s, J."""

    gains: NDArray  # (N,) linear large-scale gains g_i
    labels: NDArray  # (N,) Fashion-MNIST labels of the users' images
    source_bits: NDArray  # (N,) S_i
    d_max: NDArray  # (N,) distortion thresholds (1 - MS-SSIM)
    xi_table: sfma.XiTable
    dist_table: sfma.DistortionEnvelopeTable
    p_max: float = 0.1  # W (20 dBm)
    b_tot: float = 10e6  # Hz
    e_max: float = 24e-3  # J
    t_max: float = 0.1  # s
    n0: float = 10 ** ((-174 + 9 - 30) / 10)  # W/Hz, thermal + 9 dB noise figure
    phi_enc: float = 10.0  # cycles per source bit
    phi_dec: float = 10.0
    f_bs: float = 2e9  # Hz
    f_user: float = 1e9
    kappa: float = 1e-28
    nu_lb: float = 1.0 / 16
    #: (N,) scene id of each user's images, -1 for a scene of its own; two users with one id
    #: >= 0 form an "overlap" pair. None: no shared scenes.
    scenes: NDArray | None = None
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.gains = np.asarray(self.gains, dtype=float)
        self.labels = np.asarray(self.labels, dtype=int)
        self.source_bits = np.asarray(self.source_bits, dtype=float)
        self.d_max = np.broadcast_to(np.asarray(self.d_max, dtype=float), self.gains.shape).copy()
        n = self.gains.size
        if n < 2 or n % 2:
            raise ValueError(f"SFMA needs an even number of users >= 2, got {n}")
        if self.scenes is None:
            self.scenes = np.full(n, -1, dtype=int)
        # integers >= -1, n of them (ValueError otherwise: a cast would truncate 0.7 to scene 0)
        self.scenes = sfma.check_scenes(self.scenes, n)
        for name in ("labels", "source_bits", "scenes"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have shape ({n},)")
        if np.any(self.gains <= 0) or np.any(self.source_bits <= 0):
            raise ValueError("gains and source sizes must be positive")
        sc = self.scenes[self.scenes >= 0]
        shared = sc.size > np.unique(sc).size
        #: pair classes in use; index k of ``cls``
        self.classes = (*sfma.PAIR_CLASSES, sfma.OVERLAP_CLASS) if shared else sfma.PAIR_CLASSES
        for what, have in (("distortion", self.dist_table.classes), ("xi", self.xi_table.params)):
            missing = set(self.classes) - set(have)
            if missing:
                hint = (
                    " (users share a scene: profile the model with "
                    "`semdacom profile-sfma --classes overlap same related dissimilar`)"
                    if sfma.OVERLAP_CLASS in missing
                    else ""
                )
                raise ValueError(f"the {what} table lacks pair classes {sorted(missing)}{hint}")
        index = {c: k for k, c in enumerate(self.classes)}
        c_enc = self.phi_enc * self.source_bits
        c_dec = self.phi_dec * self.source_bits
        #: residual time budget tau_i, eq. (27)
        self.tau = sfma.residual_time(self.t_max, c_enc, c_dec, self.f_bs, self.f_user)
        #: computation energy per user, second term of eq. (16)
        self.e_comp = sfma.comp_energy(c_enc, c_dec, self.f_bs, self.f_user, self.kappa)
        self.c_enc, self.c_dec = c_enc, c_dec
        cls = np.empty((n, n), dtype=int)
        for i in range(n):
            for j in range(n):
                scene = (self.scenes[i], self.scenes[j]) if i != j else (-1, -1)
                c = sfma.pair_class(self.labels[i], self.labels[j], *scene)
                cls[i, j] = index[c]
        #: pair class index matrix c(i, j)
        self.cls = cls
        p = [self.xi_table.params[c] for c in self.classes]
        self._xi_params = p
        self._xi_lo = np.array([q["xi_lo"] for q in p])
        # nu_min per (class, SNR level, user): eq. (18) at every tabulated level
        levels = self.dist_table.snr_db.size
        self._numin = np.full((len(self.classes), levels, n), np.inf)
        for k, c in enumerate(self.classes):
            for d in np.unique(self.d_max):
                row = self.dist_table.nu_min_levels(c, float(d))
                self._numin[k][:, self.d_max == d] = row[:, None]

    # ---------------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return int(self.gains.size)

    @property
    def m(self) -> int:
        return self.n // 2

    def gamma(self, users: NDArray, power: NDArray, bw: NDArray) -> NDArray:
        """Linear received SNR ``P g / (N0 B)`` of ``users`` on resources ``power``, ``bw``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return power * self.gains[users] / (self.n0 * bw)

    def xi_of(self, cls: NDArray, s_db: NDArray, nu: NDArray, grad: bool = False):
        """eq. (10) per pair class index ``cls`` (broadcast); with ``grad`` also d/ds, d/dnu and
        d2/dnu2."""
        cls, s_db, nu = np.broadcast_arrays(cls, s_db, nu)
        out = np.empty(cls.shape)
        ds = np.empty(cls.shape) if grad else None
        dv = np.empty(cls.shape) if grad else None
        d2 = np.empty(cls.shape) if grad else None
        s_safe = np.where(np.isfinite(s_db), s_db, np.where(s_db > 0, 1e3, -1e3))
        for k, p in enumerate(self._xi_params):
            sel = cls == k
            if not np.any(sel):
                continue
            out[sel] = sfma.xi(s_safe[sel], nu[sel], p)
            if grad:
                ds[sel], dv[sel] = sfma.xi_grad(s_safe[sel], nu[sel], p)
                d2[sel] = sfma.xi_dnu2(s_safe[sel], nu[sel], p)
        if grad:
            return out, ds, dv, d2
        return out

    def nu_min_users(self, cls: NDArray, users: NDArray, s_db: NDArray) -> NDArray:
        """eq. (18) for ``users`` in pairs of class ``cls`` at SNR ``s_db`` (conservative SNR
        level; inf below the table)."""
        lvl = self.dist_table.snr_index(s_db)
        ok = lvl >= 0
        out = np.full(np.shape(users), np.inf)
        out[ok] = self._numin[cls[ok], lvl[ok], users[ok]]
        return out

    def distortion_of(self, cls: NDArray, s_db: NDArray, nu: NDArray) -> NDArray:
        """Envelope distortion, eq. (17), at the conservative SNR level (inf below the table)."""
        lvl = self.dist_table.snr_index(s_db)
        out = np.full(np.shape(cls), np.inf)
        for k, c in enumerate(self.classes):
            for level in np.unique(lvl[(cls == k) & (lvl >= 0)]):
                sel = (cls == k) & (lvl == level)
                out[sel] = np.interp(
                    nu[sel], self.dist_table.env_nu[c], self.dist_table.env_d[c][level]
                )
        return out

    def nu_min_pairs(self, pairs: NDArray, power: NDArray, bw: NDArray) -> NDArray:
        """eq. (19): ``max(nu_i^min, nu_j^min)`` per group, at least ``nu_lb``."""
        pairs = np.asarray(pairs)
        c = self.cls[pairs[:, 0], pairs[:, 1]][:, None].repeat(2, axis=1)
        s = 10 * np.log10(self.gamma(pairs, power[:, None], bw[:, None]))
        return np.maximum(self.nu_min_users(c, pairs, s).max(axis=1), self.nu_lb)

    # ---------------------------------------------------------------------------------------
    def evaluate(self, alloc: Allocation) -> Evaluation:
        """eqs. (10)-(19) for an allocation (per user: shape (M, 2))."""
        pairs = np.asarray(alloc.pairs, dtype=int)
        nu = np.asarray(alloc.nu, dtype=float)[:, None]
        power = np.asarray(alloc.power, dtype=float)[:, None]
        bw = np.asarray(alloc.bw, dtype=float)[:, None]
        c = self.cls[pairs[:, 0], pairs[:, 1]][:, None].repeat(2, axis=1)
        gam = self.gamma(pairs, power, bw)
        with np.errstate(divide="ignore"):
            s = 10 * np.log10(gam)
        x = self.xi_of(c, s, nu)
        sinr = np.where(bw > 0, sfma.sinr(np.nan_to_num(gam, posinf=1e300), x), 0.0)
        r = np.where(bw > 0, sfma.rate(bw, sinr), 0.0)
        t_tx = sfma.tx_delay(nu, self.source_bits[pairs], r)
        lat = sfma.latency(t_tx, self.c_enc[pairs], self.c_dec[pairs], self.f_bs, self.f_user)
        e_group = sfma.energy(power[:, 0], t_tx.max(axis=1), self.e_comp[pairs].sum(axis=1))
        numin = self.nu_min_users(c, pairs, s)
        dist = self.distortion_of(c, s, np.broadcast_to(nu, c.shape))
        return Evaluation(
            gamma=gam,
            snr_db=s,
            xi=x,
            sinr=sinr,
            rate=r,
            t_tx=t_tx,
            latency=lat,
            energy=e_group,
            nu_min=numin,
            distortion=dist,
            objective=float(r.sum()),
        )

    def objective(self, alloc: Allocation) -> float:
        """The objective of (20): the sum of the pair sum rates (13), bit/s."""
        return self.evaluate(alloc).objective

    def check(self, alloc: Allocation, ev: Evaluation | None = None) -> dict[str, float]:
        """Slack of every constraint (20a)-(20h); a constraint holds when its slack >= 0 (the
        relative ones after ``TOL``). Keys: ``distortion`` (min over users of D_max - d),
        ``nu_min`` (min of nu - nu_min), ``latency`` (min of 1 - T_tx / tau), ``energy``
        (1 - sum E / E_max), ``power`` (1 - sum P / P_max), ``bandwidth``, ``nu_bounds``
        (min of nu - nu_lb, 1 - nu), ``nonneg`` (min of P, B) and ``pairing`` (0 for a perfect
        matching, -1 otherwise)."""
        ev = ev or self.evaluate(alloc)
        pairs = np.asarray(alloc.pairs, dtype=int)
        nu = np.asarray(alloc.nu, dtype=float)
        used = np.sort(pairs.ravel())
        perfect = pairs.shape == (self.m, 2) and np.array_equal(used, np.arange(self.n))
        tau = self.tau[pairs]
        with np.errstate(divide="ignore", invalid="ignore"):
            lat = np.where(tau > 0, 1.0 - ev.t_tx / tau, -np.inf)
        return {
            "distortion": float(np.min(self.d_max[pairs] - ev.distortion)),
            "nu_min": float(np.min(nu[:, None] - ev.nu_min)),
            "latency": float(np.min(lat)),
            "energy": float(1.0 - ev.energy.sum() / self.e_max),
            "power": float(1.0 - np.sum(alloc.power) / self.p_max),
            "bandwidth": float(1.0 - np.sum(alloc.bw) / self.b_tot),
            "nu_bounds": float(min(np.min(nu - self.nu_lb), np.min(1.0 - nu))),
            "nonneg": float(min(np.min(alloc.power), np.min(alloc.bw))),
            "pairing": 0.0 if perfect else -1.0,
        }

    def feasible(self, alloc: Allocation, ev: Evaluation | None = None) -> bool:
        """All of (20a)-(20h) hold (``TOL`` relative on budgets, latency and energy)."""
        return violations(self.check(alloc, ev)) == []

    # ---------------------------------------------------------------------------------------
    def prune(self) -> NDArray:
        """Static feasible edge set E_0 of eq. (21): the pairs (i, j), i < j, that pass every
        necessary condition of (20a)-(20b) (docs/sc_sfma/model.md). Returns an (n_edges, 2) array.

        For each pair: nu^min(i, j) at the best tabulated SNR is at most 1; both residual
        budgets tau are positive; and nu^min S_k <= tau_k R_k^ub for both users, with
        ``R_k^ub = B_tot log2(1 + min(P_max g_k / (N0 B_tot), 1 / xi_lo))`` the largest rate
        user k can get in that pair. Empty when the computation energy alone exceeds E_max.
        """
        n = self.n
        if self.e_comp.sum() > self.e_max * (1 + TOL):
            return np.zeros((0, 2), dtype=int)
        i, j = np.triu_indices(n, 1)
        c = self.cls[i, j]
        top = self.dist_table.snr_db.size - 1
        numin = np.maximum(np.maximum(self._numin[c, top, i], self._numin[c, top, j]), self.nu_lb)
        ok = (numin <= 1.0) & (self.tau[i] > 0) & (self.tau[j] > 0)
        snr_full = self.p_max * self.gains / (self.n0 * self.b_tot)
        for k in (i, j):
            sinr_ub = np.minimum(snr_full[k], 1.0 / np.maximum(self._xi_lo[c], 1e-300))
            r_ub = self.b_tot * np.log2(1.0 + sinr_ub)
            ok &= numin * self.source_bits[k] <= self.tau[k] * r_ub * (1 + TOL)
        return np.stack([i[ok], j[ok]], axis=1)


def violations(slack: dict[str, float]) -> list[str]:
    """Names of the constraints of :meth:`SfmaProblem.check` that do not hold."""
    tol = {"distortion": 1e-9, "nu_min": 1e-9, "nu_bounds": 1e-9, "nonneg": 0.0, "pairing": 0.0}
    return [k for k, v in slack.items() if not v >= -tol.get(k, TOL)]


@dataclass
class Evaluation:
    """Per-user quantities of eqs. (10)-(19), shape (M, 2); ``energy`` per group (16)."""

    gamma: NDArray
    snr_db: NDArray
    xi: NDArray
    sinr: NDArray
    rate: NDArray
    t_tx: NDArray
    latency: NDArray
    energy: NDArray
    nu_min: NDArray
    distortion: NDArray
    objective: float


@dataclass
class Allocation:
    """Result of the SFMA optimiser: the pairing, per-group nu, power (W) and bandwidth (Hz),
    the objective (sum rate, bit/s), the slack of every constraint (20a)-(20h), and the history
    of the outer objective (Alg. 4, one entry per accepted block update)."""

    pairs: NDArray
    nu: NDArray
    power: NDArray
    bw: NDArray
    objective: float = math.nan
    slacks: dict[str, float] = field(default_factory=dict)
    history: list[float] = field(default_factory=list)
    feasible: bool = False
    status: str = ""
    solver: str = ""
    solve_ms: float = math.nan
    info: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> Allocation:
        return Allocation(
            pairs=np.array(self.pairs, dtype=int),
            nu=np.array(self.nu, dtype=float),
            power=np.array(self.power, dtype=float),
            bw=np.array(self.bw, dtype=float),
            objective=self.objective,
            slacks=dict(self.slacks),
            history=list(self.history),
            feasible=self.feasible,
            status=self.status,
            solver=self.solver,
            solve_ms=self.solve_ms,
            info=dict(self.info),
        )

    @property
    def group_power(self) -> NDArray:
        return np.asarray(self.power)

    @property
    def group_bw(self) -> NDArray:
        return np.asarray(self.bw)

    def finalise(self, prob: SfmaProblem) -> Allocation:
        """Fill ``objective``, ``slacks`` and ``feasible`` from the exact model."""
        ev = prob.evaluate(self)
        self.objective = ev.objective
        self.slacks = prob.check(self, ev)
        self.feasible = violations(self.slacks) == []
        return self
