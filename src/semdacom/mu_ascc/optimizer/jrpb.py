"""Faithful JRPB solver of MU-ASCC ([1]), Sec. IV, Algorithms 1-3.

Structure (Fig. 6 of the paper):

1. Relax the discrete source rates to ``[R^1, R^N]`` (eq. (23)) with the interpolated tables of
   eqs. (26)-(30).
2. Alternate until the fractional decrease of the weighted-sum distortion is below ``eps``:

   * **Alg. 1** (P2.1, eqs. (21)-(31)): for fixed powers and beams, each user's rate by
     subgradient descent with backtracking line search from ``R^1``, ``R_c = R_s / T_i``;
   * **Alg. 3** (P3): for fixed rates, the virtual uplink (UDD, eqs. (33)-(37)), alternating
     MMSE receive beams (eq. (43)) and **Alg. 2**, the SCA power allocation: the convex problem
     (P6.2) (eqs. (45)-(62)) solved with cvxpy (Clarabel) until the fractional decrease is below
     ``eps1``; back to the downlink by eq. (34).

3. Round each rate down to a table rate and re-run Alg. 3 from the converged powers and beams
   (Sec. IV-D).

Corrections to the printed equations (listed in ``docs/mu_ascc/optimizer.md``): step 6 of Alg. 1
moves
*against* the subgradient; ``c = e^{a1 a0}`` in eq. (45) (we substitute ``u = c t``);
``log10(1/(R_c L))`` sits outside Q in eq. (46) and carries ``L`` in eq. (53); the tangent of
eq. (54) is taken at ``rho^(n)``; (49) multiplies the interference by ``zeta_i`` (not
``zeta_j``); (55) subtracts ``l_2`` itself, not its square.

Safeguards that keep the alternation monotone (the paper's AO argument assumes each step is
solved exactly): a subproblem step that would raise the true objective is not taken, an SCA
step whose cvxpy solve fails ends Alg. 2 with the last iterate, and SCA expansion points are
re-tightened to the true SINRs of the new powers.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
from numpy.typing import NDArray

from semdacom.mu_ascc.optimizer.problem import Problem, Solution
from semdacom.phy import beamforming as bf
from semdacom.phy import fbl
from semdacom.phy.link import RandomCodingLink

__all__ = ["alg1_rates", "alg2_power", "alg3_power_beams", "solve_faithful"]

FloatArray = NDArray[np.float64]
_LOG10E = 1.0 / math.log(10.0)
_LN2 = math.log(2.0)


# --------------------------------------------------------------------------------------------
# Alg. 1: adaptive source-channel rate optimisation (P2.1)
# --------------------------------------------------------------------------------------------


def _alg1_user(
    problem: Problem, i: int, sinr: float, eps: float, max_iter: int
) -> tuple[float, float, int]:
    """Alg. 1 for user ``i``: subgradient descent with backtracking on ``[R^1, R^N]``."""
    t = problem.tables[i]
    T, L, link = float(problem.T[i]), problem.L, problem.link
    lo, hi = t.rs_min, t.rs_max

    def f(r: float) -> float:
        x = float(link.log10_ber(sinr, r / T, L))
        return float(t.distortion(r, x))

    r = lo  # step 2: R_s^(1) = R^1
    fr = f(r)
    it = 0
    if hi <= lo:
        return r, fr, it
    for it in range(1, max_iter + 1):  # noqa: B007
        x, _, dx_drc = link.log10_ber_and_grad(sinr, r / T, L)
        d = float(t.subgradient(r, float(x), float(dx_drc) / T))  # step 4, eq. (31)
        if d == 0.0 or not math.isfinite(d):
            break
        # step 5: backtracking line search (Armijo on the projected step)
        alpha = (hi - lo) / abs(d)
        accepted = False
        while alpha * abs(d) > 1e-9 * (hi - lo):
            r_new = min(max(r - alpha * d, lo), hi)  # step 6, with the sign of a descent step
            f_new = f(r_new)
            if f_new <= fr - 1e-4 * abs(d) * abs(r_new - r) and r_new != r:
                accepted = True
                break
            alpha *= 0.5
        if not accepted:
            break
        frac = (fr - f_new) / max(abs(fr), 1e-300)
        r, fr = r_new, f_new
        if frac < eps:  # step 8
            break
    return r, fr, it


def alg1_rates(
    problem: Problem, sinr: FloatArray, eps: float = 1e-7, max_iter: int = 200
) -> tuple[FloatArray, int]:
    """Alg. 1 of MU-ASCC ([1]): per-user relaxed source rates for fixed SINRs.

    Returns
    -------
    rs : ndarray, shape (K,)
        Relaxed source rates in ``[R^1, R^N]``; ``R_c = R_s / T``.
    iterations : int
        Total subgradient iterations over the users.
    """
    rs = np.empty(problem.K)
    total = 0
    for i in range(problem.K):
        rs[i], _, n = _alg1_user(problem, i, float(sinr[i]), eps, max_iter)
        total += n
    return rs, total


# --------------------------------------------------------------------------------------------
# Alg. 2: SCA power allocation of the virtual uplink, problem (P6.2)
# --------------------------------------------------------------------------------------------


class _P62:
    """Problem (P6.2) of MU-ASCC ([1]) as a DPP-compliant cvxpy problem for K users.

    Variables per user: uplink power ``q``, ``u = c t`` (so ``t``'s scale ``c = e^{a1 a0}`` of
    eq. (45) is absorbed), the Q argument slack ``rho``, the dispersion slack ``g`` and the SINR
    slacks ``zeta <= gamma^u <= xi``; ``tau >= 1 / (1 + u)`` is the epigraph of the objective.
    Every expansion-point quantity is a Parameter, so cvxpy compiles the problem once and every
    SCA iteration only refreshes numbers.
    """

    def __init__(self, K: int) -> None:
        import cvxpy as cp

        self.K = K
        P = cp.Parameter
        self.q = cp.Variable(K, nonneg=True)
        self.u = cp.Variable(K, nonneg=True)
        self.tau = cp.Variable(K)
        self.rho = cp.Variable(K)
        self.g = cp.Variable(K)
        self.zeta = cp.Variable(K)
        self.xi = cp.Variable(K)
        self.p_max = P(nonneg=True)
        self.wdc = P(K, nonneg=True)  # beta_i d_c,i  (objective (61))
        self.un = P(K, nonneg=True)  # expansion point of u: tangent of log (Lemma 4.1)
        self.inv_un = P(K, nonneg=True)
        self.k62 = P(K)  # a1 log10(e) Q_hat'(rho_n)
        self.c62 = P(K)
        self.kappa = P(K, nonneg=True)  # scale of the Q argument: sqrt(L) (ln form)
        self.b55 = P(K)  # kappa R_c ln 2
        self.a55 = P(K)  # l_2 slope 2(rho_n - g_n)
        self.c55 = P(K)  # (rho_n - g_n)^2
        self.Gt = P((K, K), nonneg=True)  # Gt[i, j] = |hbar_j^H w_i|^2, zero diagonal
        self.Gd = P(K, nonneg=True)  # |hbar_i^H w_i|^2
        self.gbar = P(K, nonneg=True)  # P_max |hbar_i^H w_i|^2 (eq. (51))
        self.E56 = P((K, K))
        self.e56 = P(K)
        self.f56 = P(K)
        self.E57 = P((K, K))
        self.e57 = P(K)
        self.f57 = P(K)
        self.a60 = P(K, nonneg=True)
        self.b60 = P(K, nonneg=True)
        self.c60 = P(K)

        one = np.ones((K, 1))
        col = lambda v: cp.reshape(v, (K, 1), order="C")  # noqa: E731
        row = lambda v: cp.reshape(v, (1, K), order="C")  # noqa: E731
        Zp = col(self.zeta) @ one.T + one @ row(self.q)  # zeta_i + q_j
        Xm = col(self.xi) @ one.T - one @ row(self.q)  # xi_i - q_j
        cons = [
            cp.sum(self.q) <= self.p_max,  # (39)
            self.g >= 0,
            self.g <= 1,
            self.zeta >= 0,
            self.zeta <= self.gbar,
            self.xi >= 0,
            self.xi <= self.gbar,  # (51)
            cp.inv_pos(1 + self.u) <= self.tau,
            # (62): tangent bounds of log t and of log Q (Lemma 4.1, eqs. (52)-(54))
            cp.multiply(self.inv_un, self.u) + cp.multiply(self.k62, self.rho) <= self.c62,
            # (55): rho g <= kappa (ln(1+zeta) - R_c ln 2), bilinear term split as in the paper
            0.25 * cp.square(self.rho + self.g)
            - 0.25 * cp.multiply(self.a55, self.rho - self.g)
            + 0.25 * self.c55
            - cp.multiply(self.kappa, cp.log(1 + self.zeta))
            + self.b55
            <= 0,
            # (56): zeta_i (sum_{j != i} q_j G_ji + 1) <= q_i G_ii
            0.25 * cp.sum(cp.multiply(self.Gt, cp.square(Zp)), axis=1)
            - 0.25 * (cp.multiply(self.e56, self.zeta) - self.E56 @ self.q)
            + 0.25 * self.f56
            + self.zeta
            - cp.multiply(self.Gd, self.q)
            <= 0,
            # (57): xi_i (sum_{j != i} q_j G_ji + 1) >= q_i G_ii
            0.25 * cp.sum(cp.multiply(self.Gt, cp.square(Xm)), axis=1)
            - 0.25 * (cp.multiply(self.e57, self.xi) + self.E57 @ self.q)
            + 0.25 * self.f57
            - self.xi
            + cp.multiply(self.Gd, self.q)
            <= 0,
            # (60): 1 - (1+xi)^-2 - g^2 <= 0 with both concave parts linearised
            cp.multiply(self.a60, self.xi) - cp.multiply(self.b60, self.g) + self.c60 <= 0,
        ]
        self.prob = cp.Problem(cp.Minimize(self.wdc @ self.tau), cons)
        assert self.prob.is_dcp(dpp=True)

    def set_point(
        self,
        problem: Problem,
        rc: FloatArray,
        params: tuple[FloatArray, ...],
        W: NDArray[np.complex128],
        q_n: FloatArray,
        paper_form: bool,
    ) -> None:
        """Refresh the parameters at the expansion point ``q_n`` (Alg. 2 steps 2 and 5)."""
        K, L = self.K, problem.L
        d_s, d_c, a1, a0 = params
        G = bf.gain_matrix(problem.hbar, W)  # G[k, l] = |hbar_k^H w_l|^2
        Gd = np.diagonal(G).copy()
        Gt = G.T.copy()  # Gt[i, j] = |hbar_j^H w_i|^2
        np.fill_diagonal(Gt, 0.0)
        gam = np.maximum(bf.uplink_sinr(problem.hbar, q_n, W), 1e-9)
        kappa = math.sqrt(L) * (math.sqrt(1.0 / _LN2) if paper_form else 1.0)
        gn = np.sqrt(-np.expm1(-2.0 * np.log1p(gam)))
        rho_n = kappa * (np.log1p(gam) - rc * _LN2) / gn
        zeta_n = xi_n = gam
        lq = np.asarray(fbl.log_q(rho_n))
        dlq = np.asarray(fbl.dlog_q(rho_n))
        pre = problem.link.log10_prefactor(rc, L)  # log10(1/(R_c L)), or log10(1/2)
        x_n = pre + lq * _LOG10E
        un = np.clip(np.exp(np.clip(-a1 * (x_n - a0), -690.0, 690.0)), 1e-300, 1e12)
        self.p_max.value = problem.p_max
        self.wdc.value = problem.weights * d_c
        self.un.value = un
        self.inv_un.value = 1.0 / un
        self.k62.value = a1 * _LOG10E * dlq
        # u/u_n + ln u_n - 1 + a1 (log10(1/(R_c L)) + log10 e (Q(rho_n) + Q'(rho_n)(rho - rho_n)))
        #   - a1 a0 <= 0
        self.c62.value = 1.0 - np.log(un) + a1 * a0 - a1 * pre - a1 * _LOG10E * (lq - dlq * rho_n)
        self.kappa.value = np.full(K, kappa)
        self.b55.value = kappa * rc * _LN2
        self.a55.value = 2.0 * (rho_n - gn)
        self.c55.value = (rho_n - gn) ** 2
        self.Gt.value = Gt
        self.Gd.value = Gd
        self.gbar.value = problem.p_max * Gd
        A56 = 2.0 * (zeta_n[:, None] - q_n[None, :])  # l_2(zeta_i, q_j) slope
        self.E56.value = Gt * A56
        self.e56.value = (Gt * A56).sum(axis=1)
        self.f56.value = (Gt * (zeta_n[:, None] - q_n[None, :]) ** 2).sum(axis=1)
        A57 = 2.0 * (xi_n[:, None] + q_n[None, :])  # l_1(xi_i, q_j) slope
        self.E57.value = Gt * A57
        self.e57.value = (Gt * A57).sum(axis=1)
        self.f57.value = (Gt * (xi_n[:, None] + q_n[None, :]) ** 2).sum(axis=1)
        a60 = 2.0 / (1.0 + xi_n) ** 3
        self.a60.value = a60
        self.b60.value = 2.0 * gn
        self.c60.value = 1.0 - a60 * xi_n - 1.0 / (1.0 + xi_n) ** 2 + gn**2

    def solve(self, time_limit_s: float) -> FloatArray | None:
        """Solve (P6.2); the new uplink powers, or None when the solver fails."""
        import cvxpy as cp

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.prob.solve(
                    solver=cp.CLARABEL, max_iter=200, time_limit=max(time_limit_s, 0.05)
                )
        except (cp.error.SolverError, ValueError, ArithmeticError):
            return None
        if self.prob.status not in ("optimal", "optimal_inaccurate") or self.q.value is None:
            return None
        q = np.maximum(np.asarray(self.q.value, dtype=np.float64), 0.0)
        return q if np.all(np.isfinite(q)) else None


_P62_CACHE: dict[int, _P62] = {}


def _p62(K: int) -> _P62:
    model = _P62_CACHE.get(K)
    if model is None:
        model = _P62_CACHE[K] = _P62(K)
    return model


def _uplink_objective(problem: Problem, rs: FloatArray, q: FloatArray, W) -> float:
    return problem.objective(rs, bf.uplink_sinr(problem.hbar, q, W))


def _expansion_point(q: FloatArray, p_max: float) -> FloatArray:
    """Uplink powers used as SCA expansion point: every user at least 1e-3 of an equal share.

    A user at zero power puts the Q argument at -inf; a small floor keeps the linearisation
    finite, and rescaling keeps the point inside the budget (it stays feasible for (P6.2)).
    """
    floor = 1e-3 * p_max / q.size
    qn = np.maximum(q, floor)
    s = qn.sum()
    return qn * (p_max / s) if s > p_max else qn


def alg2_power(
    problem: Problem,
    rs: FloatArray,
    W: NDArray[np.complex128],
    q0: FloatArray,
    eps1: float = 1e-3,
    max_iter: int = 10,
    time_limit_s: float = 2.0,
) -> tuple[FloatArray, list[float], int]:
    """Alg. 2 of MU-ASCC ([1]): SCA of (P6) through (P6.2), solved with cvxpy.

    Parameters
    ----------
    problem : Problem
    rs : ndarray, shape (K,)
        Source rates (relaxed or discrete); ``R_c = R_s / T``.
    W : ndarray, shape (K, N_t)
        Uplink receive beams (fixed).
    q0 : ndarray, shape (K,)
        Starting uplink powers.
    eps1 : float
        Stop when the fractional decrease of the (P4) objective is below it (step 7).
    max_iter : int
        Largest number of SCA iterations.
    time_limit_s : float
        Time budget of the whole call; cvxpy solves are bounded by what is left.

    Returns
    -------
    q : ndarray
        Uplink powers (never worse than ``q0`` for the true objective).
    trace : list of float
        True (P4) objective after each accepted iteration (first entry at ``q0``).
    solves : int
        Number of cvxpy solves.
    """
    t_end = time.perf_counter() + time_limit_s
    K = problem.K
    model = _p62(K)
    rc = problem.rc(rs)
    params = tuple(
        np.array([float(v) for v in col])
        for col in zip(*[t.params(rs[i]) for i, t in enumerate(problem.tables)], strict=True)
    )
    paper_form = bool(getattr(problem.link, "paper_form", False))
    q = np.asarray(q0, dtype=np.float64).copy()
    f = _uplink_objective(problem, rs, q, W)
    trace = [f]
    solves = 0
    for _ in range(max_iter):
        left = t_end - time.perf_counter()
        if left <= 0.0:
            break
        model.set_point(problem, rc, params, W, _expansion_point(q, problem.p_max), paper_form)
        q_new = model.solve(left)
        solves += 1
        if q_new is None:
            break
        s = q_new.sum()
        if s > problem.p_max:
            q_new *= problem.p_max / s
        f_new = _uplink_objective(problem, rs, q_new, W)
        if not f_new <= f:  # never accept a step that raises the true objective
            break
        frac = (f - f_new) / max(abs(f), 1e-300)
        q, f = q_new, f_new
        trace.append(f)
        if frac < eps1:
            break
    return q, trace, solves


# --------------------------------------------------------------------------------------------
# Alg. 3: joint power and beamforming through uplink-downlink duality
# --------------------------------------------------------------------------------------------


def _to_uplink(problem: Problem, p: FloatArray, W) -> FloatArray:
    """Eq. (35); an equal split when the duality system is numerically singular."""
    try:
        q = bf.uplink_powers_from_downlink(problem.hbar, p, W)
    except ValueError:
        q = np.full(problem.K, float(np.sum(p)) / problem.K)
    return np.clip(q, 0.0, None)


def _to_downlink(problem: Problem, q: FloatArray, W) -> FloatArray:
    """Eq. (34) (Proposition 4.1); ``q`` itself when the system is numerically singular."""
    try:
        p = bf.downlink_powers_from_uplink(problem.hbar, q, W)
    except ValueError:
        p = q.copy()
    p = np.clip(p, 0.0, None)
    s = p.sum()
    return p * (problem.p_max / s) if s > problem.p_max else p


def alg3_power_beams(
    problem: Problem,
    rs: FloatArray,
    p0: FloatArray,
    W0: NDArray[np.complex128],
    eps2: float = 1e-3,
    max_iter: int = 10,
    sca_iter: int = 10,
    eps1: float = 1e-3,
    time_limit_s: float = 5.0,
) -> tuple[FloatArray, NDArray[np.complex128], dict]:
    """Alg. 3 of MU-ASCC ([1]): MMSE beams (eq. (43)) alternating with Alg. 2.

    Returns the downlink powers and beams (eq. (34)) and a diagnostics dict (uplink objective
    trace, iterations, cvxpy solves). Never returns an allocation worse than ``(p0, W0)``.
    """
    t_end = time.perf_counter() + time_limit_s
    W = np.asarray(W0, dtype=np.complex128)
    q = _to_uplink(problem, np.asarray(p0, dtype=np.float64), W)  # step 3
    f = _uplink_objective(problem, rs, q, W)
    trace = [f]
    solves = 0
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        W_new = bf.mmse_beamformers(problem.hbar, q)  # step 5, eq. (43)
        left = t_end - time.perf_counter()
        q_new, _, n = alg2_power(problem, rs, W_new, q, eps1, sca_iter, max(left, 0.0))  # step 6
        solves += n
        f_new = _uplink_objective(problem, rs, q_new, W_new)
        if not f_new <= f:
            break
        frac = (f - f_new) / max(abs(f), 1e-300)
        q, W, f = q_new, W_new, f_new
        trace.append(f)
        if frac < eps2 or time.perf_counter() >= t_end:  # step 7
            break
    p = _to_downlink(problem, q, W)  # step 9
    # the duality map is exact up to rounding; keep the start when it is (numerically) better
    f_dl = problem.objective(rs, problem.sinr(p, W))
    f_0 = problem.objective(rs, problem.sinr(p0, W0))
    if not f_dl <= f_0:
        p, W, f_dl = np.asarray(p0, np.float64), np.asarray(W0, np.complex128), f_0
    return p, W, {"trace": trace, "iterations": it, "solves": solves, "objective": f_dl}


# --------------------------------------------------------------------------------------------
# JRPB (Fig. 6)
# --------------------------------------------------------------------------------------------


def solve_faithful(
    problem: Problem,
    eps: float = 1e-3,
    eps1: float = 1e-3,
    eps2: float = 1e-3,
    max_ao: int = 30,
    max_udd: int = 10,
    max_sca: int = 10,
    time_limit_s: float = 20.0,
) -> Solution:
    """JRPB of MU-ASCC ([1]), Sec. IV (Fig. 6, Algorithms 1-3), with cvxpy for (P6.2).

    Parameters
    ----------
    problem : Problem
        Problem (P1).
    eps, eps1, eps2 : float
        Fractional-decrease thresholds of the outer AO, Alg. 2 and Alg. 3.
    max_ao, max_udd, max_sca : int
        Iteration caps of the outer AO, Alg. 3 and Alg. 2.
    time_limit_s : float
        Overall time budget; the loops stop (with the best allocation so far) when it is spent.

    Returns
    -------
    Solution
        Discrete allocation after round-down and re-solve (Sec. IV-D). ``diagnostics`` holds
        ``trace`` (relaxed objective after each AO iteration, starting point first),
        ``ao_iterations``, ``relaxed_rs``, ``relaxed_objective``, ``alg1_iterations``,
        ``cvxpy_solves`` and ``discrete_objective_before_resolve``.
    """
    if not isinstance(problem.link, RandomCodingLink):
        raise ValueError(
            "the faithful JRPB (P6.1/P6.2) is derived for the random-coding link of eq. (14); "
            "use solve_fast for other link models"
        )
    t0 = time.perf_counter()
    t_end = t0 + time_limit_s
    K = problem.K
    # Alg. 3 step 2 initialisation: equal uplink powers, their MMSE beams, dual downlink powers.
    q0 = np.full(K, problem.p_max / K)
    W = bf.mmse_beamformers(problem.hbar, q0)
    p = _to_downlink(problem, q0, W)
    rs = np.array([t.rs_min for t in problem.tables])  # Alg. 1 step 2
    f = problem.objective(rs, problem.sinr(p, W))
    trace = [f]
    alg1_its = 0
    solves = 0
    ao = 0
    for ao in range(1, max_ao + 1):  # noqa: B007
        sinr = problem.sinr(p, W)
        rs_new, n1 = alg1_rates(problem, sinr)
        alg1_its += n1
        if not problem.objective(rs_new, sinr) <= problem.objective(rs, sinr):
            rs_new = rs  # keep the alternation monotone
        left = t_end - time.perf_counter()
        p_new, W_new, d3 = alg3_power_beams(
            problem, rs_new, p, W, eps2, max_udd, max_sca, eps1, max(left, 0.0)
        )
        solves += d3["solves"]
        f_new = problem.objective(rs_new, problem.sinr(p_new, W_new))
        if not f_new <= f:
            break
        frac = (f - f_new) / max(abs(f), 1e-300)
        rs, p, W, f = rs_new, p_new, W_new, f_new
        trace.append(f)
        if frac < eps or time.perf_counter() >= t_end:
            break
    relaxed_rs, relaxed_f = rs.copy(), f
    # Sec. IV-D: round down, R_c = R_s / T, then Alg. 3 from the converged powers and beams.
    pos = np.array([int(t.round_down(rs[i])) for i, t in enumerate(problem.tables)])
    rs_d = np.array([t.rs_bits[k] for t, k in zip(problem.tables, pos, strict=True)])
    before = problem.objective(rs_d, problem.sinr(p, W))
    left = t_end - time.perf_counter()
    p, W, d3 = alg3_power_beams(problem, rs_d, p, W, eps2, max_udd, max_sca, eps1, max(left, 0.05))
    solves += d3["solves"]
    ms = (time.perf_counter() - t0) * 1e3
    return problem.make_solution(
        "faithful",
        pos,
        p,
        W,
        ms,
        {
            "trace": trace,
            "ao_iterations": ao,
            "relaxed_rs": relaxed_rs.tolist(),
            "relaxed_objective": relaxed_f,
            "alg1_iterations": alg1_its,
            "cvxpy_solves": solves,
            "discrete_objective_before_resolve": before,
            "resolve_trace": d3["trace"],
        },
    )
