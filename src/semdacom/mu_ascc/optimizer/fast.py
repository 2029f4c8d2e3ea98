"""Fast solver of problem (P1) of MU-ASCC ([1]): no cvxpy, vectorised numpy.

It uses the structure the paper's Sec. IV-C establishes and searches it directly:

* For fixed virtual-uplink powers ``q`` the MMSE receive beams (eq. (43)) maximise every
  uplink SINR at once, and by uplink-downlink duality (eqs. (34)-(37), Proposition 4.1) the
  same SINRs are reached in the downlink with the same beams and ``sum p = sum q``. With MMSE
  beams the SINRs have the closed form ``gamma_i = s_i / (1 - s_i)``,
  ``s_i = q_i hbar_i^H R^{-1} hbar_i``, ``R = I + sum_j q_j hbar_j hbar_j^H``, with the
  analytic Jacobian ``ds_i/dq_j = delta_ij b_i - q_i |hbar_i^H R^{-1} hbar_j|^2``.
* The objective falls with every SINR (Lemma A.1) and every SINR grows when all ``q`` are
  scaled up, so the whole budget is used: ``q`` lives on the simplex ``sum q = P_max``.
* For fixed SINRs the users decouple (Sec. IV-B); instead of Alg. 1 on the relaxed table and
  rounding down, each user's best operating point is found exactly by trying all ``N_i``
  table rates (``R_c = R_s / T``, eq. (19) tight).

So (P1) becomes ``min_{q in simplex} sum_i beta_i min_n D_i^n(gamma_i(q))``. For K = 2 it is
one-dimensional and nested grids find it. For K >= 3: structured starting points (equal
split, each user favoured, each user left out, each vertex), for K <= 5 a coarse lattice over
the whole simplex, and Dirichlet points are evaluated; the best few and the best of every face
(every set of users switched on) take a few projected gradient steps (gradient through eq.
(14)'s analytic derivative from :mod:`semdacom.phy.fbl` or the link model, all starts as one
batch); then a best-improvement search over pairwise power transfers (SINRs of every
candidate from one Gram matrix by a rank-2 Woodbury update), with line searches along each
transfer and transfers of a whole share (a user switched off), crosses the plateaus, the rate
jumps and the narrow regions behind waterfalls that a gradient cannot; for K <= 4 it goes on
with SINR-target moves (one or two users to the knees of their table points, the fixed point
of the standard interference function) and restarts from the best of them. The optima of (P1)
often sit on faces of the simplex (bench/results/mu_ascc_optimizer.json, ``k3``/``k4``, against the
global reference :func:`semdacom.mu_ascc.optimizer.bruteforce.solve_global`).

The searches evaluate ``min_n D_i^n`` through a per-user lookup (:func:`lookup`) of the table
positions that can attain it on each cell of a fine log-SINR grid, built once per table set
(tables, ``T``, ``L``, link) and cached: eq. (14) and eq. (12)/(13) are then computed exactly,
but at about 2 candidates per user instead of all ``N_i``. The exhaustive evaluation
(:func:`objective_batch`, :func:`semdacom.mu_ascc.optimizer.objective.evaluate`) stays as the
reference of the brute force.

This module is the public entry (:func:`solve_fast`); the pieces live in
:mod:`~semdacom.mu_ascc.optimizer.sinr` (MMSE SINRs, duality),
:mod:`~semdacom.mu_ascc.optimizer.objective` (the exhaustive objective),
:mod:`~semdacom.mu_ascc.optimizer.lookup` (the candidate lookup and its cache) and
:mod:`~semdacom.mu_ascc.optimizer.search` (the searches), and their public names are
re-exported here.
"""

from __future__ import annotations

import math
import time

import numpy as np

from semdacom.mu_ascc.optimizer.lookup import (
    best_positions,
    clear_lookup_cache,
    lookup,
    lookup_cache_info,
    objective_lookup,
)
from semdacom.mu_ascc.optimizer.objective import objective_batch
from semdacom.mu_ascc.optimizer.problem import Problem, Solution
from semdacom.mu_ascc.optimizer.search import (
    pattern_search,
    project_simplex,
    simplex_lattice,
    solve_pgd,
    solve_two_users,
    starts,
)
from semdacom.mu_ascc.optimizer.sinr import (
    beams_and_downlink,
    beams_and_downlink_2,
    gram2,
    mmse_sinr,
    transfer_sinrs,
    transfer_sinrs_batch,
    two_user_sinr,
)

__all__ = [
    "clear_lookup_cache",
    "lookup",
    "lookup_cache_info",
    "mmse_sinr",
    "objective_batch",
    "objective_lookup",
    "project_simplex",
    "simplex_lattice",
    "solve_fast",
    "starts",
    "transfer_sinrs",
    "transfer_sinrs_batch",
    "two_user_sinr",
]


def solve_fast(
    problem: Problem,
    n_candidates: int | None = None,
    n_refine: int = 3,
    iters: int = 3,
    tol: float = 1e-9,
    seed: int = 0,
    rounds: int | None = None,
    n_polish: int | None = None,
) -> Solution:
    """Fast solver of (P1) (no cvxpy); see the module docstring.

    Parameters
    ----------
    problem : Problem
    n_candidates : int, optional
        Starting candidates evaluated: the first grid for K = 2 (default 128), random
        Dirichlet points besides the structured ones otherwise (default 32).
    n_refine : int
        How many of the best candidates are refined (nested grids for K = 2, projected
        gradient descent otherwise).
    iters : int
        Projected gradient iterations (K >= 3); K = 2 uses two nested levels of 33 points
        around each of the ``n_refine`` best grid minima.
    tol : float
        Relative improvement below which projected gradient stops.
    seed : int
        Seed of the random candidates.
    rounds : int, optional
        Rounds of the pairwise power-transfer search that follows projected gradient
        (K >= 3; default 30 for K <= 4, 6 otherwise).
    n_polish : int, optional
        How many of the refined starts the power-transfer search follows to the end, after
        its first rounds on all of them (K >= 3; default 2 for K <= 4, 1 otherwise).

    Returns
    -------
    Solution
        Discrete rates, downlink powers (eq. (34)) and MMSE beams; ``diagnostics`` holds the
        uplink powers ``q``, the iterations run, the best objective per iteration and
        ``lookup_build_ms`` (time spent building the candidate lookup in this call, 0.0 when
        it came from the cache; included in ``solve_ms``).
    """
    t0 = time.perf_counter()
    K, P = problem.K, problem.p_max
    lk, build_ms = lookup(problem)
    if K == 1:
        q, fq, trace, it = np.array([P]), math.nan, [], 0
    elif K == 2:
        gram = gram2(problem.hbar)
        q, fq, trace, it = solve_two_users(problem, lk, gram, n_candidates or 128, n_refine, 2)
    else:
        Q, fQ, trace, it = solve_pgd(problem, lk, n_candidates or 32, n_refine, iters, tol, seed)
        small = K <= 4
        Q, fQ, trace_ps = pattern_search(
            problem,
            lk,
            Q,
            fQ,
            rounds if rounds is not None else (30 if small else 6),
            n_polish=n_polish if n_polish is not None else (2 if small else 1),
            kicks=2 if small else 0,
        )
        b = int(np.argmin(fQ))
        q, fq = Q[b], float(fQ[b])
        trace = trace + trace_ps[1:]
    if K == 2:
        W, p, sinr = beams_and_downlink_2(problem.hbar, gram, q, P)
    else:
        W, p, sinr = beams_and_downlink(problem.hbar, q, P)
    pos = best_positions(problem, lk, sinr)
    ms = (time.perf_counter() - t0) * 1e3
    diagnostics = {
        "q": q.tolist(),
        "iterations": it,
        "trace": trace,
        "uplink_objective": fq,
        "lookup_build_ms": build_ms,
    }
    return problem.make_solution("fast", pos, p, W, ms, diagnostics)
