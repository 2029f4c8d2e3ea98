"""Brute-force reference for problem (P1) of MU-ASCC (seed 000) with K = 2 users.

A fine grid over the uplink power split ``q_1 = a P_max, q_2 = (1 - a) P_max`` with MMSE
beams (eq. (43)) maps, by uplink-downlink duality (eqs. (34)-(37)), onto the Pareto boundary of
the downlink SINR region; at each grid point every pair of rate indices is tried (the users
decouple at fixed SINRs, so the per-user minimum over each table is the joint minimum). The
best grid cell is then refined on a finer local grid. The result is the reference for the
optimality gaps of the faithful and fast solvers.
"""

from __future__ import annotations

import time

import numpy as np

from ..core import beamforming as bf
from .fast import _evaluate
from .problem import Problem, Solution

__all__ = ["solve_bruteforce"]


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
        out = np.empty(a.size)
        for s in range(0, a.size, chunk):
            aa = a[s : s + chunk]
            Q = P * np.stack([aa, 1.0 - aa], axis=1)
            out[s : s + chunk] = _evaluate(problem, Q, grad=False)[0]
        return out

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
