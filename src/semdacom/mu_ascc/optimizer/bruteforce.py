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
``m``, faces and vertices included), then nested local grids around the best lattice points and
around the best point of every face (every subset of users switched on), each level a
``(2r+1)^(K-1)`` grid spanning the previous spacing, down to ``1e-9 P_max``; finally the
fast solver's power-transfer search (with its line searches) from every refined point, so
that the reference is at least as good as both searches.

The results are the references for the optimality gaps of the faithful and fast solvers.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np

from semdacom.mu_ascc.optimizer.lookup import lookup
from semdacom.mu_ascc.optimizer.objective import evaluate
from semdacom.mu_ascc.optimizer.problem import Problem, Solution
from semdacom.mu_ascc.optimizer.search import pattern_search, simplex_lattice
from semdacom.mu_ascc.optimizer.sinr import beams_and_downlink
from semdacom.phy import beamforming as bf

__all__ = ["simplex_lattice", "solve_bruteforce", "solve_global"]


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


def solve_global(
    problem: Problem,
    m: int | None = None,
    n_seeds: int = 16,
    radius: int = 4,
    min_step: float = 1e-9,
    chunk: int = 8192,
) -> Solution:
    """Global search of (P1) over the uplink power simplex for any K (the K >= 3 yardstick).

    See the module docstring. Every objective value is exact (every table point of every user
    tried; eq. (14) or the problem's link, eq. (12)/(13)).

    Parameters
    ----------
    problem : Problem
    m : int, optional
        Lattice resolution (spacing ``P_max / m``); default about 40 thousand points for
        ``K <= 8`` (:data:`_LATTICE_M`), K = 2 uses :func:`solve_bruteforce`.
    n_seeds : int
        Best lattice points refined, besides the best point of every face.
    radius : int
        Half-width ``r`` of each local grid (``(2r+1)^(K-1)`` points per level and seed).
    min_step : float
        Finest local spacing, relative to ``P_max``.
    chunk : int
        Batch size of the vectorised evaluation.

    Returns
    -------
    Solution
        ``solver == "global"``; diagnostics: ``q``, ``uplink_objective``, ``lattice_points``,
        ``seeds``, ``levels``, ``evaluations``, ``active_users`` (users with ``q_i > 0``).
    """
    K, P = problem.K, problem.p_max
    if K == 2 and m is None:
        sol = solve_bruteforce(problem)
        sol.solver = "global"
        return sol
    t0 = time.perf_counter()
    if K == 1:
        q = np.array([P])
        best_f, n_lat, seeds, levels, evals = math.nan, 1, 1, 0, 1
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
        seeds = len(seed_idx)
        # local grid offsets in the first K-1 coordinates (q_K = P - sum of the others)
        r = int(radius)
        off = np.array(list(itertools.product(range(-r, r + 1), repeat=K - 1)), dtype=np.float64)
        D = np.concatenate([off, -off.sum(axis=1, keepdims=True)], axis=1)  # (G, K), rows sum 0
        best_a, best_f = A[seed_idx].copy(), f[seed_idx].copy()
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
    }
    return problem.make_solution("global", pos, p, W, ms, diagnostics)
