"""Alg. 4 of SC-SFMA: the three-block alternating optimisation with the monotone check (47).

:func:`solve` starts from a pairing (the maximum-weight matching of the pruned graph (21) at
equal allocation, or one given) and the equal-allocation point, made feasible by
:func:`feasible_start` when it is not; then each outer iteration runs Alg. 1 (nu), Alg. 2
(P, B) and Alg. 3 (a pairing candidate whose continuous blocks are re-optimised by Alg. 1 and 2
again) and accepts the candidate only when its objective is not lower, so
F^(t) <= F_nu^(t) <= F_PB^(t) <= F^(t+1) (eq. (47)). ``Allocation.history`` holds the accepted
objective after every block.

Options select the baselines of ``baselines.py``: ``pairing="fixed"`` keeps the initial pairing
(with ``init_pairs``, e.g. channel-gain pairing), ``resources="equal"`` keeps P and B at the
equal split (nu still by Alg. 1).
"""

from __future__ import annotations

import time

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from semdacom.sc_sfma.optimizer.compression import optimise_nu
from semdacom.sc_sfma.optimizer.pairing import edge_table, pair_users
from semdacom.sc_sfma.optimizer.power_bw import optimise_pb
from semdacom.sc_sfma.optimizer.problem import Allocation, SfmaProblem, violations

__all__ = ["continuous", "feasible_start", "initial_pairs", "solve"]


def initial_pairs(prob: SfmaProblem, edges: NDArray, forbid: set | None = None) -> NDArray | None:
    """Maximum-weight perfect matching of E_0 at equal allocation (weights: pair sum rate at
    nu = 1 where latency allows, else at the distortion floor; infeasible edges weigh little).
    ``forbid``: edges (i, j) left out (the alternative starts of :func:`solve`)."""
    if forbid:
        keep = [k for k, e in enumerate(edges.tolist()) if tuple(e) not in forbid]
        edges = edges[keep]
    m = prob.m
    if edges.size == 0:
        return None
    P, B = np.full(1, prob.p_max / m), np.full(1, prob.b_tot / m)
    best = np.full(len(edges), -np.inf)
    for v in (1.0, 0.5, 0.25):
        tab = edge_table(prob, edges, P, B, np.array([v]))
        best = np.maximum(best, np.where(tab["feasible"][:, 0], tab["rate"][:, 0], -np.inf))
    tab = edge_table(prob, edges, P, B, np.array([1.0]))
    scale = float(np.nanmax(tab["rate"])) + 1.0
    g = nx.Graph()
    for k, (i, j) in enumerate(edges):
        w = best[k] + 2 * scale if np.isfinite(best[k]) else tab["rate"][k, 0] * 1e-3
        g.add_edge(int(i), int(j), weight=float(w))
    match = nx.max_weight_matching(g, maxcardinality=True)
    if 2 * len(match) != prob.n:
        return None
    return np.array(sorted(tuple(sorted(e)) for e in match), dtype=int)


def feasible_start(
    prob: SfmaProblem, pairs: NDArray, power=None, bw=None, iters: int = 60
) -> Allocation:
    """The equal-allocation point (or ``power``, ``bw``) with nu at the distortion floor, moved
    towards feasibility by proportional re-allocation: each group's power and bandwidth shares
    grow with its worst latency ratio T/tau and SNR deficit, renormalised to the budgets.
    Returns the first feasible point found (``feasible`` True) or the last one tried."""
    m = pairs.shape[0]
    p = np.full(m, 1.0 / m) if power is None else np.asarray(power) / prob.p_max
    b = np.full(m, 1.0 / m) if bw is None else np.asarray(bw) / prob.b_tot
    alloc = None
    scale = float(p.sum())
    p = p / scale
    for _ in range(iters):
        P, B = scale * p * prob.p_max, b * prob.b_tot
        lo = prob.nu_min_pairs(pairs, P, B)
        nu = np.where(np.isfinite(lo), np.minimum(lo, 1.0), 1.0)
        alloc = Allocation(pairs=pairs, nu=nu, power=P, bw=B).finalise(prob)
        if alloc.feasible:
            return alloc
        ev = prob.evaluate(alloc)
        lat = (ev.t_tx / prob.tau[pairs]).max(axis=1)
        # SNR deficit of groups without a distortion guarantee: aim at the smallest tabulated
        # SNR at which both users of the pair have a finite nu_min
        c = prob.cls[pairs[:, 0], pairs[:, 1]]
        fin = np.isfinite(prob._numin[c, :, pairs[:, 0]]) & np.isfinite(
            prob._numin[c, :, pairs[:, 1]]
        )  # (M, levels)
        first = np.where(fin.any(axis=1), fin.argmax(axis=1), fin.shape[1] - 1)
        s_need = np.where(np.isfinite(lo), -np.inf, prob.dist_table.snr_db[first] + 0.2)
        snr_def = 10 ** (np.maximum(s_need - ev.snr_db.min(axis=1), 0.0) / 20)
        need_p = np.maximum(lat, 1.0) ** 0.5 * snr_def
        need_b = np.maximum(lat, 1.0) ** 0.5 / snr_def
        if np.all(need_p <= 1.0) and np.all(need_b == 1.0):
            # only the energy budget fails: scale the power down
            scale *= 0.8
            continue
        p = p * need_p
        b = b * need_b
        p, b = p / p.sum(), b / b.sum()
    return alloc


def _step(cur: Allocation, a: Allocation, hist: list[float]) -> Allocation:
    """Keep ``a`` if it is feasible and not worse than ``cur`` (the monotone check of (47));
    record the objective kept (feasible points only)."""
    if a.feasible and (not cur.feasible or a.objective >= cur.objective):
        cur = a
    if cur.feasible:
        hist.append(cur.objective)
    return cur


def placeholder(prob: SfmaProblem, status: str) -> Allocation:
    """The allocation a solver returns when it finds nothing feasible: users paired in order,
    ``nu = 1``, power and bandwidth split equally; ``status`` says why."""
    return Allocation(
        pairs=np.arange(prob.n).reshape(prob.m, 2),
        nu=np.ones(prob.m),
        power=np.full(prob.m, prob.p_max / prob.m),
        bw=np.full(prob.m, prob.b_tot / prob.m),
        status=status,
    ).finalise(prob)


def continuous(
    prob: SfmaProblem, alloc: Allocation, rounds: int = 2, tol: float = 1e-4
) -> tuple[Allocation, list[float]]:
    """Alg. 1 then Alg. 2, repeated while the objective grows; returns the final allocation
    and the objective after every block (feasible points only)."""
    cur = alloc
    hist = []
    for _ in range(rounds):
        start = cur.objective
        nu, _ = optimise_nu(prob, cur.pairs, cur.power, cur.bw, cur.nu)
        cur = _step(cur, Allocation(cur.pairs, nu, cur.power, cur.bw).finalise(prob), hist)
        P, B, _ = optimise_pb(prob, cur.pairs, cur.nu, cur.power, cur.bw)
        cur = _step(cur, Allocation(cur.pairs, cur.nu, P, B).finalise(prob), hist)
        if cur.feasible and cur.objective - start <= tol * max(start, 1.0):
            break
    return cur, hist


def solve(
    prob: SfmaProblem,
    *,
    pairing: str = "dfg",
    resources: str = "sca",
    init_pairs: NDArray | None = None,
    max_outer: int = 6,
    tol: float = 1e-4,
) -> Allocation:
    """Alg. 4: joint pairing, compression ratio and power-bandwidth allocation for problem (20).

    ``pairing``: ``"dfg"`` (Alg. 3 each outer iteration) or ``"fixed"`` (keep the initial
    pairing). ``resources``: ``"sca"`` (Alg. 2) or ``"equal"`` (P, B at the equal split).
    Returns an :class:`Allocation` with ``feasible``, ``slacks`` and ``history``; when no
    feasible point is found its ``status`` says why."""
    t0 = time.perf_counter()
    edges = prob.prune()
    pairs = init_pairs if init_pairs is not None else initial_pairs(prob, edges)
    if pairs is None:
        a = placeholder(prob, "no perfect matching of the pruned graph (21)")
        a.solve_ms = (time.perf_counter() - t0) * 1e3
        return a
    pairs = np.asarray(pairs, dtype=int)
    if resources == "equal":
        # the equal split of the power the energy budget allows: P_max/M, scaled by 0.8 until
        # Alg. 1 finds nu meeting (20a)-(20c) (or 30 tries)
        m = prob.m
        B = np.full(m, prob.b_tot / m)
        for k in range(30):
            P = np.full(m, prob.p_max / m * 0.8**k)
            lo = prob.nu_min_pairs(pairs, P, B)
            nu = np.where(np.isfinite(lo), np.minimum(lo, 1.0), 1.0)
            cur = Allocation(pairs, nu, P, B).finalise(prob)
            nu2, _ = optimise_nu(prob, pairs, P, B, None)
            cand = Allocation(pairs, nu2, P, B).finalise(prob)
            if cand.feasible:
                cur = cand
            if cur.feasible or cur.slacks["energy"] >= 0:
                break
    else:
        cur = feasible_start(prob, pairs)
        if not cur.feasible and init_pairs is None:
            # alternative starts: the matching without one pair of the first, while infeasible
            for e in [tuple(p) for p in pairs.tolist()][:4]:
                alt = initial_pairs(prob, edges, forbid={e})
                if alt is None:
                    continue
                a = feasible_start(prob, alt)
                if a.feasible:
                    cur = a
                    break
    history = [cur.objective] if cur.feasible else []
    outer = 0
    while outer < max_outer:
        outer += 1
        start = cur.objective if cur.feasible else -np.inf
        # Alg. 1
        nu, _ = optimise_nu(prob, cur.pairs, cur.power, cur.bw, cur.nu)
        cur = _step(cur, Allocation(cur.pairs, nu, cur.power, cur.bw).finalise(prob), history)
        # Alg. 2
        if resources == "sca":
            P, B, _ = optimise_pb(prob, cur.pairs, cur.nu, cur.power, cur.bw)
            cur = _step(cur, Allocation(cur.pairs, cur.nu, P, B).finalise(prob), history)
        # Alg. 3 + re-optimised continuous blocks, accepted only if not lower (47)
        if pairing == "dfg":
            cand = cur
            cand_pairs, _ = pair_users(prob, edges, cur.power, cur.bw, cur.nu)
            if cand_pairs is not None and not np.array_equal(cand_pairs, cur.pairs):
                lo = prob.nu_min_pairs(cand_pairs, cur.power, cur.bw)
                nu0 = np.clip(np.maximum(lo, cur.nu), None, 1.0)
                cand = Allocation(cand_pairs, nu0, cur.power, cur.bw).finalise(prob)
                if resources == "sca":
                    cand, _ = continuous(prob, cand, rounds=1)
                else:
                    nu, _ = optimise_nu(prob, cand.pairs, cand.power, cand.bw, cand.nu)
                    cand = Allocation(cand.pairs, nu, cand.power, cand.bw).finalise(prob)
            cur = _step(cur, cand, history)
        if cur.feasible and cur.objective - start <= tol * max(abs(start), 1.0):
            break
    cur.history = history
    cur.info["outer_iterations"] = outer
    cur.info["edges"] = int(len(edges))
    cur.solver = f"sfma/{pairing}/{resources}"
    cur.status = "ok" if cur.feasible else "infeasible: " + ",".join(violations(cur.slacks))
    cur.solve_ms = (time.perf_counter() - t0) * 1e3
    return cur
