"""Global references for problem (P1) of MU-ASCC ([1]): K = 2 and any K (slow yardsticks).

Both search the same complete parametrisation. For fixed virtual-uplink powers ``q`` on the
simplex ``sum q = P_max``, MMSE receive beams (eq. (43)) and uplink-downlink duality
(eqs. (34)-(37)) reach a point of the downlink SINR region's Pareto boundary, and every boundary
point is reached this way (Schubert and Boche 2004). The objective falls with every SINR, so the
optimum lies on that boundary. At fixed SINRs the users decouple, so trying every table point of
every user at each ``q`` is the exhaustive search over all discrete rate tuples (all of them meet
eq. (19) with ``R_c = R_s / T``): ``min_tuple min_q = min_q min_tuple``. The simplex's faces —
users switched off — are part of the search.

:func:`solve_bruteforce` (K = 2)

A fine grid over the uplink power split ``q_1 = a P_max, q_2 = (1 - a) P_max`` with MMSE
beams; at each grid point every pair of rate indices is tried. The best grid cell is then
refined on a finer local grid.

:func:`solve_global` (any K)
A lattice over the whole simplex (``q = P_max k / m`` for all integer compositions ``k`` of
``m``, faces and vertices included); a branch and bound over the SINRs
(:func:`sinr_branch_and_bound`), which gives a certified lower bound on (P1) and its best
boundary point; then nested local grids around the best lattice points, the best point of every
face (every subset of users switched on), the branch and bound's point and any given seeds
(other solvers' SINRs, mapped onto the simplex by :func:`uplink_powers_for`), each level a
``(2r+1)^(K-1)`` grid spanning the previous spacing, down to ``1e-9 P_max``; finally the
fast solver's power-transfer search (with its line searches) from every refined point.

:func:`sinr_branch_and_bound`
Monotonic optimisation (Tuy 2000) in the SINR space: the objective ``sum_i beta_i g_i(gamma_i)``
with ``g_i = min_n D_i^n`` (the users decouple at fixed SINRs, Sec. IV-B) falls with every SINR
(Lemma A.1), and the achievable SINR region is downward closed. A box ``[a, b]`` of SINR targets
is infeasible when its lower corner is (the minimal uplink powers for ``a``, the fixed point of
the standard interference function, Yates 1995, exceed ``P_max``; by duality, eqs. (34)-(37),
the downlink needs the same sum power); otherwise ``sum_i beta_i g_i(b_i)`` bounds the objective
from below on it and the minimal powers for ``a``, scaled to the budget, are a point of the
simplex whose objective bounds it from above. Boxes are split, best lower bound first, until
no box's lower bound is below the best point's objective by more than ``eps`` (relative) or the
SINR grid cannot split them further. The smallest lower bound left is a certificate: no
allocation, by any solver, has a lower objective.

The results are the references for the optimality gaps of the faithful and fast solvers.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from semdacom.mu_ascc.optimizer.lookup import lookup
from semdacom.mu_ascc.optimizer.objective import evaluate
from semdacom.mu_ascc.optimizer.problem import Problem, Solution
from semdacom.mu_ascc.optimizer.search import pattern_search, simplex_lattice
from semdacom.mu_ascc.optimizer.sinr import beams_and_downlink, mmse_gram
from semdacom.phy import beamforming as bf

__all__ = [
    "Certificate",
    "min_uplink_powers",
    "simplex_lattice",
    "sinr_branch_and_bound",
    "sinr_envelopes",
    "solve_bruteforce",
    "solve_global",
    "uplink_powers_for",
]


def solve_bruteforce(
    problem: Problem, n_grid: int = 20001, n_local: int = 2001, chunk: int = 4096
) -> Solution:
    """Global grid search over the power split and both rate indices (K = 2 only).

    Parameters
    ----------
    problem : Problem
        A two-user problem.
    n_grid : int
        Points of the global grid over the split ``a`` in ``[0, 1]``.
    n_local : int
        Points of the local grid around each of the three best global points.
    chunk : int
        Batch size of the vectorised evaluation.
    """
    if problem.K != 2:
        raise ValueError("the brute-force reference is for K = 2")
    t0 = time.perf_counter()
    P = problem.p_max

    def run(a: np.ndarray) -> np.ndarray:
        return _objective(problem, P * np.stack([a, 1.0 - a], axis=1), chunk)

    a = np.linspace(0.0, 1.0, n_grid)
    f = run(a)
    step = 1.0 / (n_grid - 1)
    best_a, best_f = float(a[np.argmin(f)]), float(f.min())
    for k in np.argsort(f, kind="stable")[:3]:
        al = np.clip(np.linspace(a[k] - step, a[k] + step, n_local), 0.0, 1.0)
        fl = run(al)
        j = int(np.argmin(fl))
        if fl[j] < best_f:
            best_a, best_f = float(al[j]), float(fl[j])
    q = P * np.array([best_a, 1.0 - best_a])
    W = bf.mmse_beamformers(problem.hbar, q)
    try:
        p = bf.downlink_powers_from_uplink(problem.hbar, q, W)
    except ValueError:
        p = q.copy()
    p = np.clip(p, 0.0, None)
    if p.sum() > P:
        p *= P / p.sum()
    pos, _ = problem.best_positions(problem.sinr(p, W))
    ms = (time.perf_counter() - t0) * 1e3
    return problem.make_solution(
        "bruteforce", pos, p, W, ms, {"q": q.tolist(), "uplink_objective": best_f}
    )


#: Default lattice resolution ``m`` per K (about 30-50 thousand lattice points each).
_LATTICE_M = {3: 240, 4: 60, 5: 30, 6: 18, 7: 13, 8: 10}


def _objective(problem: Problem, Q: np.ndarray, chunk: int) -> np.ndarray:
    out = np.empty(Q.shape[0])
    for s in range(0, Q.shape[0], chunk):
        out[s : s + chunk] = evaluate(problem, Q[s : s + chunk], grad=False)[0]
    return out


def sinr_envelopes(
    problem: Problem, lo: float = 1e-6, per_ln: int = 2000
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every user's weighted best distortion ``beta_i min_n D_i^n(gamma)`` on an SINR grid.

    The grid of user i is ``0`` and then ``per_ln`` points per unit of ``ln gamma`` from ``lo``
    up to ``P_max |hbar_i|^2`` (its SINR alone with the whole budget, the largest it can have).
    The values are eq. (12)/(13) after the link model (eq. (14) by default) at every table point
    (Sec. IV-B: at fixed SINRs the users decouple), minimised over the points and made
    non-increasing by a running minimum (the function is, Lemma A.1; the running minimum only
    removes rounding, and can only lower a lower bound).
    """
    top = problem.p_max * np.sum(np.abs(problem.hbar) ** 2, axis=1) * (1.0 + 1e-9)
    grids, values = [], []
    for i, t in enumerate(problem.tables):
        hi = max(float(top[i]), 10.0 * lo)
        n = int(math.ceil(math.log(hi / lo) * per_ln)) + 1
        g = np.concatenate([[0.0], np.geomspace(lo, hi, n)])
        x = np.asarray(problem.link.log10_ber(g[:, None], t.rs_bits / problem.T[i], problem.L))
        d = t.point_distortion(np.arange(t.n_points)[None, :], x).min(axis=1)
        grids.append(g)
        values.append(problem.weights[i] * np.minimum.accumulate(d))
    return grids, values


def min_uplink_powers(
    hbar: np.ndarray, G: np.ndarray, p_max: float, iters: int = 400, rtol: float = 1e-9
) -> tuple[np.ndarray, np.ndarray]:
    """Smallest uplink powers that give MMSE SINRs ``>= G`` (a batch of target rows).

    The fixed point of the standard interference function (Yates 1995)
    ``q_j = gamma_j / hbar_j^H (I + sum_{l != j} q_l hbar_l hbar_l^H)^{-1} hbar_j`` (eqs. (33),
    (43)), iterated from ``q = 0``: the iterates increase to the smallest feasible powers, so a
    sum above ``p_max`` proves the targets infeasible within the budget (in the downlink too: by
    duality, eqs. (34)-(37), the same SINRs need the same sum power).

    Returns
    -------
    status : ndarray of int, shape (S,)
        ``-1`` infeasible (proved), ``1`` converged within the budget, ``0`` undecided.
    q : ndarray, shape (S, K)
        The last iterate (the minimal powers where converged).
    """
    S, K = G.shape
    q = np.zeros((S, K))
    status = np.zeros(S, dtype=np.int64)
    act = np.arange(S)
    for _ in range(iters):
        if act.size == 0:
            break
        C = mmse_gram(hbar, q[act])
        c = np.real(np.diagonal(C, axis1=1, axis2=2))
        b = c / np.maximum(1.0 - q[act] * c, 1e-300)  # hbar_j^H R_{-j}^{-1} hbar_j
        qn = G[act] / np.maximum(b, 1e-300)
        tot = qn.sum(axis=1)
        bad = ~(tot <= p_max * (1.0 + 1e-12))
        conv = np.abs(qn - q[act]).max(axis=1) <= rtol * np.maximum(tot, 1e-300)
        q[act] = np.where(bad[:, None], q[act], qn)
        status[act[bad]] = -1
        status[act[conv & ~bad]] = 1
        act = act[~bad & ~conv]
    return status, q


def uplink_powers_for(problem: Problem, sinr: np.ndarray) -> np.ndarray:
    """Points of the power simplex whose MMSE SINRs are at least the given ones (batch).

    Maps any solver's allocation into the references' parametrisation: its downlink SINRs are
    achievable within ``P_max``, so the minimal uplink powers for them
    (:func:`min_uplink_powers`), scaled up to the budget, reach at least those SINRs and hence
    an objective no higher (Lemma A.1). Targets that rounding puts just outside the region are
    lowered by ``1e-9`` (relative) steps until they fit.
    """
    P = problem.p_max
    G = np.atleast_2d(np.asarray(sinr, dtype=np.float64))
    out = np.full(G.shape, P / problem.K)
    todo = np.arange(G.shape[0])
    for shrink in (1.0, 1.0 - 1e-9, 1.0 - 1e-6, 1.0 - 1e-3):
        if todo.size == 0:
            break
        st, q = min_uplink_powers(problem.hbar, np.maximum(G[todo], 0.0) * shrink, P)
        tot = q.sum(axis=1)
        ok = (st >= 0) & (tot > 0.0)
        out[todo[ok]] = q[ok] * (P / tot[ok])[:, None]
        todo = todo[~ok]
    return out


@dataclass
class Certificate:
    """Result of :func:`sinr_branch_and_bound`.

    ``lower_bound`` is below the objective of every allocation of the problem (certified up to
    floating-point rounding); ``objective`` and ``q`` are the best simplex point found (``q``
    None when none beat the given upper bound).
    """

    lower_bound: float
    objective: float
    q: np.ndarray | None
    rounds: int
    boxes_left: int
    terminal_boxes: int
    evaluations: int
    complete: bool
    ms: float


def sinr_branch_and_bound(
    problem: Problem,
    upper: float = math.inf,
    eps: float = 1e-6,
    batch: int = 4096,
    time_s: float = 60.0,
    per_ln: int = 2000,
) -> Certificate:
    """Branch and bound of (P1) over the SINR targets (monotonic optimisation; module docstring).

    Parameters
    ----------
    problem : Problem
    upper : float
        A known objective (an upper bound on the optimum), e.g. the best lattice point's.
    eps : float
        Boxes whose lower bound is within ``eps`` (relative) of the best objective are dropped.
    batch : int
        Boxes split per round (those with the smallest lower bounds).
    time_s : float
        Time limit; a search cut short still returns a valid (looser) lower bound
        (``complete`` False).
    per_ln : int
        SINR grid points per unit of ``ln gamma`` (:func:`sinr_envelopes`): the split points.
    """
    t0 = time.perf_counter()
    K, P = problem.K, problem.p_max
    grids, vals = sinr_envelopes(problem, per_ln=per_ln)
    lo = np.zeros((1, K), dtype=np.int64)
    hi = np.array([[g.size - 1 for g in grids]], dtype=np.int64)

    def lower(h: np.ndarray) -> np.ndarray:
        return sum(vals[i][h[:, i]] for i in range(K))

    lb = lower(hi)
    best_f, best_q = float(upper), None
    terminal: list[np.ndarray] = []
    rounds = evals = 0
    while True:
        keep = lb < best_f * (1.0 - eps)
        lo, hi, lb = lo[keep], hi[keep], lb[keep]
        if lo.shape[0] == 0 or time.perf_counter() - t0 > time_s:
            break
        rounds += 1
        order = np.argsort(lb, kind="stable")
        sel, rest = order[:batch], order[batch:]
        L0, H0 = lo[sel], hi[sel]
        # split the user whose objective varies most over the box, at its middle value
        var = np.stack([vals[i][L0[:, i]] - vals[i][H0[:, i]] for i in range(K)], axis=1)
        var[(H0 - L0) <= 1] = -1.0
        u = np.argmax(var, axis=1)
        r = np.arange(sel.size)
        split = var[r, u] > 0.0
        terminal.append(lb[sel][~split])  # one grid step wide: kept only as bounds
        L0, H0, u = L0[split], H0[split], u[split]
        r = np.arange(L0.shape[0])
        mid = np.empty(L0.shape[0], dtype=np.int64)
        for i in range(K):
            m = np.flatnonzero(u == i)
            if m.size:
                a, b = L0[m, i], H0[m, i]
                target = 0.5 * (vals[i][a] + vals[i][b])
                mid[m] = np.clip(np.searchsorted(-vals[i], -target), a + 1, b - 1)
        h_low = H0.copy()
        h_low[r, u] = mid
        l_up = L0.copy()
        l_up[r, u] = mid
        G = np.stack([grids[i][l_up[:, i]] for i in range(K)], axis=1)
        status, q = min_uplink_powers(problem.hbar, G, P)
        ok = status >= 0
        tot = q.sum(axis=1)
        pts = ok & (tot > 0.0)
        if pts.any():
            Qc = q[pts] * (P / tot[pts])[:, None]
            fc = _objective(problem, Qc, 8192)
            evals += fc.size
            j = int(np.argmin(fc))
            if fc[j] < best_f:
                best_f, best_q = float(fc[j]), Qc[j]
        lo = np.concatenate([lo[rest], L0, l_up[ok]])
        hi = np.concatenate([hi[rest], h_low, H0[ok]])
        lb = lower(hi)
    open_lb = lb[lb < best_f * (1.0 - eps)]
    tl = np.concatenate(terminal) if terminal else np.zeros(0)
    tl = tl[tl < best_f * (1.0 - eps)]
    bound = min([best_f, *(x.min() for x in (open_lb, tl) if x.size)])
    return Certificate(
        lower_bound=float(bound),
        objective=best_f,
        q=best_q,
        rounds=rounds,
        boxes_left=int(open_lb.size),
        terminal_boxes=int(tl.size),
        evaluations=evals,
        complete=open_lb.size == 0,
        ms=(time.perf_counter() - t0) * 1e3,
    )


def solve_global(
    problem: Problem,
    m: int | None = None,
    n_seeds: int = 16,
    radius: int = 4,
    min_step: float = 1e-9,
    chunk: int = 8192,
    seed_sinrs: np.ndarray | None = None,
    certify: bool = True,
    eps: float = 1e-6,
    certify_s: float = 60.0,
) -> Solution:
    """Global search of (P1) over the uplink power simplex for any K (the K >= 3 yardstick).

    See the module docstring. Every objective value is exact (every table point of every user
    tried; eq. (14) or the problem's link, eq. (12)/(13)).

    Parameters
    ----------
    problem : Problem
    m : int, optional
        Lattice resolution (spacing ``P_max / m``); default about 40 thousand points for
        ``K <= 8`` (:data:`_LATTICE_M`), K = 2 uses :func:`solve_bruteforce` (and ignores
        the arguments below).
    n_seeds : int
        Best lattice points refined, besides the best point of every face.
    radius : int
        Half-width ``r >= 3`` of each local grid (``(2r+1)^(K-1)`` points per level and seed).
    min_step : float
        Finest local spacing, relative to ``P_max``.
    chunk : int
        Batch size of the vectorised evaluation.
    seed_sinrs : ndarray, shape (S, K), optional
        SINRs of other allocations (other solvers' solutions) to refine from as well, mapped
        onto the simplex by :func:`uplink_powers_for`.
    certify : bool
        Run :func:`sinr_branch_and_bound` (its point is refined too, its bound reported).
    eps, certify_s : float
        The branch and bound's tolerance and time limit.

    Returns
    -------
    Solution
        ``solver == "global"``; diagnostics: ``q``, ``uplink_objective``, ``lattice_points``,
        ``seeds``, ``levels``, ``evaluations``, ``active_users`` (users with ``q_i > 0``),
        ``best_from`` (which start the result was refined from: ``"lattice"`` (the best
        lattice points and faces), ``"branch_and_bound"`` or ``"seed"``),
        ``unseeded_objective`` (the best of the starts other than ``seed_sinrs``), and with
        ``certify``: ``lower_bound`` (no allocation has a lower objective), ``certified_gap``
        (``(objective - lower_bound) / objective``) and ``branch_and_bound`` (its record).
    """
    K, P = problem.K, problem.p_max
    if int(radius) < 3:
        raise ValueError("radius must be at least 3 (each level shrinks the spacing by 2/r)")
    if K == 2 and m is None:  # the 1-D brute force (no certificate needed)
        sol = solve_bruteforce(problem)
        sol.solver = "global"
        return sol
    t0 = time.perf_counter()
    cert = None
    origin = "lattice"
    if K == 1:
        q = np.array([P])
        best_f, n_lat, seeds, levels, evals = math.nan, 1, 1, 0, 1
        unseeded = best_f
    else:
        mm = int(m if m is not None else _LATTICE_M.get(K, 8))
        A = simplex_lattice(K, mm)
        f = _objective(problem, P * A, chunk)
        n_lat, evals = A.shape[0], A.shape[0]
        # seeds: the best lattice points and the best point of every support (face)
        order = np.argsort(f, kind="stable")
        support = (A > 0) @ (1 << np.arange(K))
        face_best = {}
        for k in order:
            face_best.setdefault(int(support[k]), int(k))
        seed_idx = list(dict.fromkeys([int(k) for k in order[:n_seeds]] + list(face_best.values())))
        best_a, best_f = A[seed_idx].copy(), f[seed_idx].copy()
        origins = ["lattice"] * len(seed_idx)
        extra = []
        if certify:
            cert = sinr_branch_and_bound(problem, float(f.min()), eps, time_s=certify_s)
            evals += cert.evaluations
            if cert.q is not None:
                extra.append((cert.q[None] / P, "branch_and_bound"))
        if seed_sinrs is not None:
            Qs = uplink_powers_for(problem, np.asarray(seed_sinrs, dtype=np.float64))
            extra.append((Qs / P, "seed"))
        for Ae, name in extra:
            best_a = np.concatenate([best_a, Ae])
            best_f = np.concatenate([best_f, _objective(problem, P * Ae, chunk)])
            origins += [name] * Ae.shape[0]
        seeds = best_a.shape[0]
        # local grid offsets in the first K-1 coordinates (q_K = P - sum of the others)
        r = int(radius)
        off = np.array(list(itertools.product(range(-r, r + 1), repeat=K - 1)), dtype=np.float64)
        D = np.concatenate([off, -off.sum(axis=1, keepdims=True)], axis=1)  # (G, K), rows sum 0
        step = 1.0 / mm
        levels = 0
        while step >= min_step:
            cand = best_a[:, None, :] + step * D[None] / r  # spans +-step around each seed
            cand = np.maximum(cand, 0.0)
            cand /= cand.sum(axis=2, keepdims=True)
            fc = _objective(problem, P * cand.reshape(-1, K), chunk).reshape(cand.shape[:2])
            evals += fc.size
            j = np.argmin(fc, axis=1)
            fj = fc[np.arange(seeds), j]
            better = fj < best_f
            best_a[better] = cand[np.arange(seeds), j][better]
            best_f = np.minimum(best_f, fj)
            step *= 2.0 / r
            levels += 1
        # polish every refined seed with the transfer search (line searches included)
        Qp, fp, _ = pattern_search(
            problem, lookup(problem)[0], P * best_a, best_f, 60, escape_rounds=60
        )
        b = int(np.argmin(fp))
        q = np.clip(Qp[b], 0.0, None)
        best_f = float(fp[b])
        origin = origins[b]
        own = [k for k, o in enumerate(origins) if o != "seed"]
        unseeded = float(fp[own].min())
    W, p, sinr = beams_and_downlink(problem.hbar, q, P)
    pos, _ = problem.best_positions(sinr)
    ms = (time.perf_counter() - t0) * 1e3
    diagnostics = {
        "q": q.tolist(),
        "uplink_objective": best_f,
        "lattice_points": int(n_lat),
        "seeds": int(seeds),
        "levels": int(levels),
        "evaluations": int(evals),
        "active_users": [int(i) for i in np.flatnonzero(q > 0)],
        "best_from": origin,
        "unseeded_objective": unseeded,
    }
    sol = problem.make_solution("global", pos, p, W, ms, diagnostics)
    if cert is not None:
        bound = min(cert.lower_bound, sol.objective)
        sol.diagnostics.update(
            lower_bound=bound,
            certified_gap=(sol.objective - bound) / sol.objective,
            branch_and_bound={
                k: getattr(cert, k)
                for k in ("rounds", "boxes_left", "terminal_boxes", "evaluations", "complete", "ms")
            },
        )
    return sol
