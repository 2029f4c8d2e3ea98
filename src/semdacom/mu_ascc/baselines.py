"""Baselines of MU-ASCC ([1]), Sec. V-A, with the solvers' API (Problem in, Solution out).

* :func:`zf_wf_fixed_rc` — "ZF-WF-BPG; R_c = (1.8, 1.3)": zero-forcing beams, water-filling
  power (Cover and Thomas) and a fixed channel coding rate per user; the source rate is the
  largest table rate meeting the delay budget, ``R_s <= R_c T`` (eq. (19)). When no table rate
  meets it, the user is infeasible (``Solution.infeasible_users``): scored at its table's maximum
  distortion, never at a rate that silently breaks the budget. The distortion table is the
  classical codec's (BPG is not packaged here; docs/mu_ascc/baselines.md names the stand-in).
* :func:`zf_wf_djscc` — "ZF-WF-DJSCC": the same beams and powers with a DeepJSCC model trained
  at one SNR (10 dB in Sec. V-C) and evaluated at each user's SINR through an SNR-indexed table.
* :func:`mrt_equal_power` — MRT beams and equal power, with each user's best table rate for
  the resulting SINR.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from semdacom.mu_ascc.distortion import DistortionTable, SnrTable
from semdacom.mu_ascc.optimizer.problem import Problem, Solution
from semdacom.phy import beamforming as bf

__all__ = ["mrt_equal_power", "zf_wf", "zf_wf_djscc", "zf_wf_fixed_rc"]


def zf_wf(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """ZF beams (on the normalised channel) and water-filling powers over the ZF gains.

    Raises ValueError when ZF is impossible (K > N_t or a rank-deficient channel).
    """
    W = bf.zf_beamformers(problem.hbar)
    gains = np.abs(np.einsum("kn,kn->k", problem.hbar.conj(), W)) ** 2
    return bf.water_filling(gains, problem.p_max), W


def zf_wf_fixed_rc(
    problem: Problem,
    rc: ArrayLike,
    tables: Sequence[DistortionTable] | None = None,
    name: str = "zf_wf_bpg",
) -> Solution:
    """ZF-WF with fixed channel coding rates (the "ZF-WF-BPG; R_c=(1.8,1.3)" baseline).

    Parameters
    ----------
    problem : Problem
    rc : array_like, shape (K,)
        Fixed channel coding rates in bits per channel use.
    tables : sequence of DistortionTable, optional
        The classical codec's tables (default: the problem's own).
    name : str
        Solver name recorded in the solution.
    """
    t0 = time.perf_counter()
    pr = problem if tables is None else problem.with_tables(tables)
    rcv = np.broadcast_to(np.asarray(rc, dtype=np.float64), (pr.K,)).copy()
    if not np.all((rcv > 0.0) & np.isfinite(rcv)):
        raise ValueError("rc must be positive and finite")
    p, W = zf_wf(pr)
    pos = []
    delay_ok = []
    for i, t in enumerate(pr.tables):
        fits = np.flatnonzero(t.rs_bits <= rcv[i] * pr.T[i] * (1.0 + 1e-12))
        pos.append(int(fits[-1]) if fits.size else 0)
        delay_ok.append(bool(fits.size))
    ms = (time.perf_counter() - t0) * 1e3
    infeasible = [i for i, ok in enumerate(delay_ok) if not ok]
    return pr.make_solution(
        name, pos, p, W, ms, {"delay_met": delay_ok}, rc=rcv, infeasible=infeasible
    )


def zf_wf_djscc(
    problem: Problem,
    tables: Sequence[SnrTable],
    bandwidth_ratio: float | ArrayLike,
    train_snr_db: float = 10.0,
    name: str = "zf_wf_djscc",
) -> Solution:
    """ZF-WF with DeepJSCC models trained at ``train_snr_db`` (the "ZF-WF-DJSCC" baseline).

    Each user's model is the one trained at ``train_snr_db`` with the bandwidth ratio closest to
    its own; its distortion is read at the user's SINR in dB. The solution carries no rate
    fields (DeepJSCC has no digital source/channel rate).
    """
    t0 = time.perf_counter()
    if len(tables) != problem.K:
        raise ValueError(f"need one SNR table per user ({problem.K})")
    ratios = np.broadcast_to(np.asarray(bandwidth_ratio, dtype=np.float64), (problem.K,))
    p, W = zf_wf(problem)
    sinr = problem.sinr(p, W)
    d = np.empty(problem.K)
    pts = []
    for i, t in enumerate(tables):
        k = t.select(train_snr_db, float(ratios[i]))
        pts.append(k)
        snr_db = 10.0 * math.log10(sinr[i]) if sinr[i] > 0 else -math.inf
        d[i] = float(t.distortion(k, max(snr_db, -1e3)))
    ms = (time.perf_counter() - t0) * 1e3
    return problem.make_solution(
        name, None, p, W, ms, {"djscc_points": pts, "train_snr_db": train_snr_db}, distortion=d
    )


def mrt_equal_power(problem: Problem, name: str = "mrt_ep") -> Solution:
    """MRT beams, equal power, and each user's best table rate at the resulting SINR."""
    t0 = time.perf_counter()
    W = bf.mrt_beamformers(problem.hbar)
    p = np.full(problem.K, problem.p_max / problem.K)
    pos, _ = problem.best_positions(problem.sinr(p, W))
    ms = (time.perf_counter() - t0) * 1e3
    return problem.make_solution(name, pos, p, W, ms)
