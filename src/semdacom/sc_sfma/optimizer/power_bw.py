"""Alg. 2 of SC-SFMA: trust-region SCA on (P, B) with cvxpy, eqs. (27)-(36).

For a fixed pairing and nu, the rate of user i (30) in normalised units (p = P / P_max,
b = B / B_tot, Gamma_i = g_i P_max / (N0 B_tot), so gamma = Gamma p / b) is::

    R_i / B_tot = [ b ln(1 + Gamma (p + Q) / b) - b ln(1 + Gamma Q / b) ] / ln 2,   Q = xi p

The product Q = xi(s(p, b), nu) p is linearised at the iterate (31): Q~ = c0 + c1 p + c2 b.
The first log term (32) is then the perspective of a concave log with an affine argument,
written ``-rel_entr(b, y)`` with ``y = b + Gamma (p + Q~)``; the second (33) is linearised too
(34), so the surrogate rate R~ is concave (Lemma 1). Surrogate problem (35): maximise sum R~
s.t. the latency rate floors R~_i >= nu S_i ln2 / (tau_i B_tot) (35a, eq. (28)), the distortion
SNR floors Gamma_i p >= gamma_req_i b (35b), the energy (35c) through the AM-GM majorant of
P w / R (docs/sc_sfma/model.md, a deviation), sum p <= 1, sum b <= 1, Q~ >= 0 (35d) and the
trust region. Every candidate is checked on the exact model (20) and accepted by the ratio test
(36); radii expand on good agreement and shrink on rejection.

The cvxpy problem is built once per group count M with every iterate-dependent number a
``cp.Parameter`` (DPP), so each SCA iteration only re-solves; ``problem.is_dpp()`` holds.
"""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
from numpy.typing import NDArray

from semdacom.sc_sfma.optimizer.problem import Allocation, SfmaProblem, violations
from semdacom.sc_sfma.rates import DB, LN2

__all__ = ["Surrogate", "optimise_pb", "surrogate"]

B_FLOOR = 1e-6  # smallest normalised bandwidth (keeps the perspective's domain open)


class Surrogate:
    """Problem (35) for M groups, parametrised (DPP). Users are in slot order: the first
    members of groups 0..M-1, then the second members."""

    def __init__(self, m: int) -> None:
        self.m = m
        n = 2 * m
        self.p = cp.Variable(m, nonneg=True)
        self.b = cp.Variable(m)
        P = cp.Parameter
        self.A = P(n)
        self.Bc = P(n)
        self.C = P(n)
        self.L0 = P(n)
        self.L1 = P(n)
        self.L2 = P(n)
        self.rf = P(n, nonneg=True)
        self.gam = P(n, nonneg=True)
        self.greq = P(n, nonneg=True)
        self.q0 = P(n)
        self.q1 = P(n)
        self.q2 = P(n)
        self.cE = P(m, nonneg=True)
        self.wq = P(n, nonneg=True)
        self.eb = P(nonneg=True)
        self.pt = P(m)
        self.bt = P(m)
        self.rp = P(nonneg=True)
        self.rb = P(nonneg=True)
        pu = cp.hstack([self.p, self.p])
        bu = cp.hstack([self.b, self.b])
        y = cp.multiply(self.A, bu) + cp.multiply(self.Bc, pu) + self.C
        f1 = -cp.rel_entr(bu, y)  # (32): b ln(y / b)
        f2 = self.L0 + cp.multiply(self.L1, pu) + cp.multiply(self.L2, bu)  # (34)
        self.rate = f1 - f2  # nats x B_tot
        self.r = cp.Variable(n, pos=True)  # hypograph of the rate (keeps the energy term DPP)
        inv2 = cp.multiply(self.wq, cp.power(self.r, -2))
        energy = 0.5 * (
            cp.sum(cp.multiply(self.cE, cp.square(self.p))) + cp.sum(cp.maximum(inv2[:m], inv2[m:]))
        )
        cons = [
            cp.sum(self.p) <= 1.0,  # (20d)
            cp.sum(self.b) <= 1.0,  # (20e)
            self.b >= B_FLOOR,
            self.rate >= self.r,
            self.r >= self.rf,  # (35a)
            cp.multiply(self.gam, pu) >= cp.multiply(self.greq, bu),  # (35b)
            energy <= self.eb,  # (35c)
            self.q0 + cp.multiply(self.q1, pu) + cp.multiply(self.q2, bu) >= 0,  # (35d)
            cp.abs(self.p - self.pt) <= self.rp,
            cp.abs(self.b - self.bt) <= self.rb,
        ]
        self.problem = cp.Problem(cp.Maximize(cp.sum(self.rate)), cons)

    def is_dpp(self) -> bool:
        return self.problem.is_dpp()

    def solve(self) -> tuple[NDArray, NDArray, float] | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "may be inaccurate": checked below
                self.problem.solve(
                    solver=cp.CLARABEL, tol_gap_abs=1e-7, tol_gap_rel=1e-6, tol_feas=1e-7
                )
        except cp.error.SolverError:
            return None
        if self.problem.status not in ("optimal", "optimal_inaccurate") or self.p.value is None:
            return None
        return (
            np.clip(self.p.value, 0.0, None),
            np.clip(self.b.value, B_FLOOR, None),
            float(self.problem.value),
        )


_CACHE: dict[int, Surrogate] = {}


def surrogate(m: int) -> Surrogate:
    """The compiled surrogate for M groups (built once per process)."""
    if m not in _CACHE:
        _CACHE[m] = Surrogate(m)
    return _CACHE[m]


def _set_parameters(sur: Surrogate, prob: SfmaProblem, pairs, nu, p, b) -> None:
    """Linearise (31)-(34) at (p, b) and load every parameter of (35)."""
    m = pairs.shape[0]
    users = np.concatenate([pairs[:, 0], pairs[:, 1]])
    cls = np.concatenate([prob.cls[pairs[:, 0], pairs[:, 1]]] * 2)
    pu, bu, nuu = np.tile(p, 2), np.tile(b, 2), np.tile(nu, 2)
    Gam = prob.gains[users] * prob.p_max / (prob.n0 * prob.b_tot)
    gamma = Gam * pu / bu
    s = DB * np.log(gamma)
    x, dxs, _, _ = prob.xi_of(cls, s, nuu, grad=True)
    Q = x * pu
    c1 = x + DB * dxs  # dQ/dp = xi + p dxi/ds ds/dp
    c2 = -pu * DB * dxs / bu  # dQ/db
    c0 = Q - c1 * pu - c2 * bu
    sur.A.value = 1.0 + Gam * c2
    sur.Bc.value = Gam * (1.0 + c1)
    sur.C.value = Gam * c0
    # f2 = b ln(1 + Gam Q / b) linearised in (p, b) through Q~
    df2_db_q = np.log1p(Gam * Q / bu) - Gam * Q / (bu + Gam * Q)
    df2_dq = Gam * bu / (bu + Gam * Q)
    f2 = bu * np.log1p(Gam * Q / bu)
    L1 = df2_dq * c1
    L2 = df2_db_q + df2_dq * c2
    sur.L1.value = L1
    sur.L2.value = L2
    sur.L0.value = f2 - L1 * pu - L2 * bu
    sur.q0.value, sur.q1.value, sur.q2.value = c0, c1, c2
    w = nuu * prob.source_bits[users] * LN2 / prob.b_tot  # T = w / Rn
    sur.rf.value = np.maximum(w / np.maximum(prob.tau[users], 1e-12), 0.0)
    sur.gam.value = Gam
    # smallest tabulated SNR at which the envelope meets D_max at nu (the level whose
    # nu_min <= nu), eq. (18) turned into an SNR floor
    ok = prob._numin[cls, :, users] <= nuu[:, None] + 1e-12  # (2M, levels)
    s_req = np.where(ok.any(axis=1), prob.dist_table.snr_db[ok.argmax(axis=1)], np.inf)
    greq = np.where(np.isfinite(s_req), 10 ** (np.minimum(s_req, 300) / 10), 1e12)
    sur.greq.value = greq
    # AM-GM majorant of p w / Rn, tight at the iterate for the dominating user
    rn = bu * (np.log1p(Gam * (pu + Q) / bu) - np.log1p(Gam * Q / bu))
    ratio = w / np.maximum(rn, 1e-300)
    dom = np.maximum(ratio[:m], ratio[m:])
    cE = dom / np.maximum(p, 1e-9)
    sur.cE.value = cE
    sur.wq.value = w**2 / np.tile(cE, 2)
    sur.eb.value = max((prob.e_max - prob.e_comp[users].sum()) / prob.p_max, 0.0)
    sur.pt.value, sur.bt.value = p, b


def optimise_pb(
    prob: SfmaProblem,
    pairs: NDArray,
    nu: NDArray,
    power: NDArray,
    bw: NDArray,
    *,
    max_iters: int = 8,
    radius: float = 1.0,
    eta1: float = 0.1,
    eta2: float = 0.75,
    tol: float = 5e-4,
) -> tuple[NDArray, NDArray, dict]:
    """Alg. 2: trust-region SCA from ``(power, bw)`` (W, Hz). Returns ``(power, bw, info)``;
    the result is feasible in (20) whenever the start is, and its sum rate is never lower."""
    pairs = np.asarray(pairs, dtype=int)
    nu = np.asarray(nu, dtype=float)
    m = pairs.shape[0]
    sur = surrogate(m)
    p = np.maximum(np.asarray(power, dtype=float) / prob.p_max, 1e-9)
    b = np.maximum(np.asarray(bw, dtype=float) / prob.b_tot, B_FLOOR)

    def exact(pp, bb):
        a = Allocation(pairs=pairs, nu=nu, power=pp * prob.p_max, bw=bb * prob.b_tot)
        ev = prob.evaluate(a)
        return ev.objective, violations(prob.check(a, ev)) == []

    f_cur, ok_cur = exact(p, b)
    rp = rb = radius / m if ok_cur else 1.0  # an infeasible start gets the whole box
    info = {"iterations": 0, "accepted": 0, "solves": 0, "start_feasible": ok_cur}
    hist = [f_cur]
    for it in range(max_iters):
        info["iterations"] = it + 1
        _set_parameters(sur, prob, pairs, nu, p, b)
        sur.rp.value, sur.rb.value = rp, rb
        res = sur.solve()
        info["solves"] += 1
        if res is None:
            rp, rb = rp * 0.5, rb * 0.5
            if rp < 1e-6:
                break
            continue
        pc, bc, val = res
        pred = val * prob.b_tot / LN2 - f_cur  # F~(x_c) - F~(x_t); F~(x_t) = F(x_t)
        if pred <= tol * max(f_cur, 1.0):
            break
        f_c, ok_c = exact(pc, bc)
        rho = (f_c - f_cur) / pred  # (36)
        if ok_c and f_c >= f_cur and (rho >= eta1 or not ok_cur):
            step = max(np.max(np.abs(pc - p)) / rp, np.max(np.abs(bc - b)) / rb)
            p, b, f_cur, ok_cur = pc, bc, f_c, True
            info["accepted"] += 1
            hist.append(f_cur)
            if rho >= eta2 and step > 0.9:
                rp, rb = min(2 * rp, 1.0), min(2 * rb, 1.0)
        else:
            # rejected: back-track along the step (exact evaluations only, no re-solve) and
            # take the first feasible point that improves; the radius shrinks either way
            taken = False
            if ok_cur:
                for alpha in (0.5, 0.25):
                    pa, ba = p + alpha * (pc - p), b + alpha * (bc - b)
                    f_a, ok_a = exact(pa, ba)
                    if ok_a and f_a > f_cur:
                        p, b, f_cur = pa, ba, f_a
                        info["accepted"] += 1
                        info["backtracked"] = info.get("backtracked", 0) + 1
                        hist.append(f_cur)
                        taken = True
                        break
            rp, rb = rp * (0.5 if taken else 0.25), rb * (0.5 if taken else 0.25)
            if rp < 1e-6:
                break
    info["history"] = hist
    info["feasible"] = ok_cur
    return p * prob.p_max, b * prob.b_tot, info
