"""Alg. 3 of SC-SFMA: user pairing on the dynamic feasible graph, eqs. (37)-(46).

With the groups' (P_m, B_m, nu_m) fixed, every candidate (pair e = (i, j) in E_0, group m)
has a constant utility, energy and distortion. The edge is dynamically feasible (37) when both
users meet the distortion floor (20a) and the latency (20b) on group m's resources. The pairing
problem (38) is relaxed and priced: utility (39) U = R_m(e) - lambda E - eta_i d_i - eta_j d_j,
net utility (40) r = U - mu_i - mu_j; each group picks its best feasible edge (42, Lemma 2)
and the prices follow projected subgradients (43a)-(43c). The one-hot picks are made primal:
Stage 1 keeps, for every user, its best assignment; Stage 2 completes the unmatched users by a
residual maximum-weight perfect matching (44, networkx) and assigns the matched pairs to the
unresolved groups (45, scipy ``linear_sum_assignment``); if either is infeasible the compact
repair (46) is a small MILP (scipy ``milp``). A pair-swap refinement (swap two groups' pairs,
or exchange partners between two groups) finishes while it raises the total utility.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp

from semdacom.sc_sfma import model as sfma
from semdacom.sc_sfma.optimizer.problem import SfmaProblem

__all__ = ["edge_table", "pair_users"]


def edge_table(prob: SfmaProblem, edges: NDArray, power, bw, nu) -> dict[str, NDArray]:
    """Utilities of every (edge, group): rate sum (13), energy (16), distortions (17) and the
    dynamic feasibility mask (37); arrays of shape (n_edges, M) (distortion (n_edges, M, 2))."""
    e = np.asarray(edges, dtype=int)
    m = len(power)
    users = e[:, None, :].repeat(m, axis=1)  # (E, M, 2)
    P = np.asarray(power, dtype=float)[None, :, None]
    B = np.asarray(bw, dtype=float)[None, :, None]
    V = np.asarray(nu, dtype=float)[None, :, None]
    cls = prob.cls[e[:, 0], e[:, 1]][:, None, None].repeat(m, axis=1).repeat(2, axis=2)
    gam = prob.gamma(users, P, B)
    s = 10 * np.log10(gam)
    x = prob.xi_of(cls, s, np.broadcast_to(V, cls.shape))
    r = sfma.rate(B, sfma.sinr(gam, x))
    t = sfma.tx_delay(V, prob.source_bits[users], r)
    energy = P[..., 0] * t.max(axis=2) + prob.e_comp[users].sum(axis=2)
    numin = prob.nu_min_users(cls, users, s)
    dist = prob.distortion_of(cls, s, np.broadcast_to(V, cls.shape))
    feas = np.all(t <= prob.tau[users] * (1 - 1e-9), axis=2) & np.all(numin <= V + 1e-12, axis=2)
    return {"rate": r.sum(axis=2), "energy": energy, "dist": dist, "feasible": feas}


def _utility_of(tab, edge_idx: NDArray, groups: NDArray) -> float:
    return float(tab["rate"][edge_idx, groups].sum())


def pair_users(
    prob: SfmaProblem,
    edges: NDArray,
    power: NDArray,
    bw: NDArray,
    nu: NDArray,
    *,
    dual_iters: int = 60,
    current: NDArray | None = None,
) -> tuple[NDArray | None, dict]:
    """Alg. 3: a pairing for the groups' fixed resources. Returns ``(pairs, info)`` with
    ``pairs`` of shape (M, 2) (group m serves ``pairs[m]``) or ``None`` when no one-to-one
    assignment of dynamically feasible edges exists."""
    edges = np.asarray(edges, dtype=int)
    n, m = prob.n, len(power)
    info: dict = {"stage2": "none"}
    if edges.size == 0:
        return None, info
    tab = edge_table(prob, edges, power, bw, nu)
    feas = tab["feasible"]
    U0 = tab["rate"]
    scale = float(np.max(U0[feas])) if np.any(feas) else 1.0
    # ---- dual pricing, (39)-(43) ----
    mu = np.zeros(n)
    lam = 0.0
    eta = np.zeros(n)
    d_max = prob.d_max
    dist_pen = np.where(np.isfinite(tab["dist"]), tab["dist"], 1.0)  # (E, M, 2)
    e_scale = max(float(np.median(tab["energy"])), 1e-12)
    last = None
    for t in range(1, dual_iters + 1):
        U = U0 - lam * tab["energy"] - (eta[edges][:, None, :] * dist_pen).sum(axis=2)  # (39)
        red = U - mu[edges].sum(axis=1)[:, None]  # (40)
        red = np.where(feas, red, -np.inf)
        pick = np.argmax(red, axis=0)  # (42): one-hot per group
        valid = np.isfinite(red[pick, np.arange(m)])
        last = (pick, valid, red)
        uses = np.zeros(n)
        np.add.at(uses, edges[pick[valid]].ravel(), 1.0)
        step = scale / math.sqrt(t)
        mu = np.maximum(mu + 0.5 * step * (uses - 1.0), 0.0)  # (43a)
        e_tot = float(tab["energy"][pick[valid], np.arange(m)[valid]].sum())
        lam = max(lam + step / e_scale * 0.1 * (e_tot - prob.e_max) / prob.e_max, 0.0)  # (43b)
        d_sel = np.full(n, -np.inf)
        for g in np.nonzero(valid)[0]:
            d_sel[edges[pick[g]]] = dist_pen[pick[g], g]
        eta = np.maximum(eta + step * 0.1 * np.where(np.isfinite(d_sel), d_sel - d_max, 0.0), 0.0)
        if np.all(valid) and np.all(uses == 1.0):
            break
    info["dual_iterations"] = t
    pick, valid, red = last
    # ---- Stage 1: conflict resolution ----
    order = sorted(np.nonzero(valid)[0], key=lambda g: -red[pick[g], g])
    used = np.zeros(n, dtype=bool)
    assign: dict[int, int] = {}
    for g in order:
        i, j = edges[pick[g]]
        if not used[i] and not used[j]:
            assign[g] = int(pick[g])
            used[i] = used[j] = True
    # ---- Stage 2: residual matching (44) and assignment (45), else repair (46) ----
    free_users = np.nonzero(~used)[0]
    free_groups = np.array([g for g in range(m) if g not in assign], dtype=int)
    if free_groups.size:
        ok = _residual_complete(tab, edges, free_users, free_groups, assign)
        info["stage2"] = "matching+assignment" if ok else "repair"
        if not ok and not _repair(tab, edges, free_users, free_groups, assign):
            return None, info
    pairs_idx = np.array([assign[g] for g in range(m)])
    pairs_idx = _swap_refine(prob, tab, edges, pairs_idx)
    info["utility"] = _utility_of(tab, pairs_idx, np.arange(m))
    return edges[pairs_idx].copy(), info


def _residual_complete(tab, edges, free_users, free_groups, assign) -> bool:
    free = set(int(u) for u in free_users)
    sel = [k for k, (i, j) in enumerate(edges) if i in free and j in free]
    if not sel:
        return False
    sel = np.array(sel)
    sub_feas = tab["feasible"][np.ix_(sel, free_groups)]
    sub_rate = np.where(sub_feas, tab["rate"][np.ix_(sel, free_groups)], -np.inf)
    best = sub_rate.max(axis=1)
    g = nx.Graph()
    for k, e in enumerate(sel):
        if np.isfinite(best[k]):
            g.add_edge(int(edges[e, 0]), int(edges[e, 1]), weight=float(best[k]), e=int(e))
    match = nx.max_weight_matching(g, maxcardinality=True)  # (44)
    if 2 * len(match) != len(free):
        return False
    chosen = [g[u][v]["e"] for u, v in match]
    cost = np.full((len(chosen), free_groups.size), 1e18)
    for a, e in enumerate(chosen):
        f = tab["feasible"][e, free_groups]
        cost[a, f] = -tab["rate"][e, free_groups][f]
    rows, cols = linear_sum_assignment(cost)  # (45)
    if np.any(cost[rows, cols] >= 1e17):
        return False
    for r_, c_ in zip(rows, cols, strict=True):
        assign[int(free_groups[c_])] = int(chosen[r_])
    return True


def _repair(tab, edges, free_users, free_groups, assign) -> bool:
    """Compact residual repair (46): one feasible edge per unresolved group, one use per
    unresolved user, maximum utility (MILP)."""
    free = set(int(u) for u in free_users)
    cand = [
        (e, gi)
        for e, (i, j) in enumerate(edges)
        if i in free and j in free
        for gi, g in enumerate(free_groups)
        if tab["feasible"][e, g]
    ]
    if not cand:
        return False
    k = len(cand)
    c = -np.array([tab["rate"][e, free_groups[gi]] for e, gi in cand])
    users = sorted(free)
    A = np.zeros((free_groups.size + len(users), k))
    for col, (e, gi) in enumerate(cand):
        A[gi, col] = 1.0
        for u in edges[e]:
            A[free_groups.size + users.index(int(u)), col] = 1.0
    res = milp(
        c,
        constraints=LinearConstraint(A, 1.0, 1.0),
        integrality=np.ones(k),
        bounds=Bounds(0, 1),
    )
    if res.x is None:
        return False
    for col in np.nonzero(res.x > 0.5)[0]:
        e, gi = cand[col]
        assign[int(free_groups[gi])] = int(e)
    return True


def _swap_refine(prob, tab, edges, idx: NDArray, max_passes: int = 20) -> NDArray:
    """Pair-swap local refinement: swap the pairs of two groups, or exchange partners between
    them, while feasible and improving the total utility."""
    idx = idx.copy()
    m = idx.size
    lookup = {(int(i), int(j)): k for k, (i, j) in enumerate(edges)}

    def eid(a, b):
        return lookup.get((min(a, b), max(a, b)))

    def val(e, g):
        return tab["rate"][e, g] if tab["feasible"][e, g] else -np.inf

    for _ in range(max_passes):
        improved = False
        for g1 in range(m):
            for g2 in range(g1 + 1, m):
                e1, e2 = idx[g1], idx[g2]
                cur = val(e1, g1) + val(e2, g2)
                i, j = edges[e1]
                k, l_ = edges[e2]
                options = [(e2, e1)]
                for a, b in (((i, k), (j, l_)), ((i, l_), (j, k))):
                    ea, eb = eid(*a), eid(*b)
                    if ea is not None and eb is not None:
                        options += [(ea, eb), (eb, ea)]
                best, best_opt = cur, None
                for f1, f2 in options:
                    v = val(f1, g1) + val(f2, g2)
                    if v > best * (1 + 1e-12) + 1e-9:
                        best, best_opt = v, (f1, f2)
                if best_opt is not None:
                    idx[g1], idx[g2] = best_opt
                    improved = True
        if not improved:
            break
    return idx
