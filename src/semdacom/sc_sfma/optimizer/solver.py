"""Alg. 4 of SC-SFMA: the three-block alternating optimisation with the monotone check (47).

:func:`solve` starts from a pairing (the maximum-weight matching of the pruned graph (21) at
equal allocation, or one given) and the equal-allocation point, made feasible by
:func:`feasible_start` when it is not; then each outer iteration runs Alg. 1 (nu), Alg. 2
(P, B) and Alg. 3 (a pairing candidate whose continuous blocks are re-optimised by Alg. 1 and 2
again) and accepts the candidate only when its objective is not lower, so
F^(t) <= F_nu^(t) <= F_PB^(t) <= F^(t+1) (eq. (47)). ``Allocation.history`` holds the accepted
objective after every block.

Multi-start stage (``starts="multi"``, the default; a deviation from the paper's single-start
Alg. 4, docs/sc_sfma/optimizer.md): the continuous problem of a fixed matching has many local
points, and the best ones give one group most of the bandwidth (often most of the power too), the
others' nu dropping to their distortion floors. From the point of the single-start loop, the
stage runs Alg. 1-2 (:func:`run_start`) from starts that favour one group (share
:data:`FAVOUR` of B at the equal power split, and of P and B) on (a) the loop's own matching,
favouring its group of largest rate, and (b) up to 2 :data:`N_ALT` alternative matchings: each of
the :data:`N_ALT` pairs of largest rate on a favoured group's resources (:func:`favoured_pairs`)
as the favoured group, the other users matched by maximum weight at the small groups' resources
(:func:`complete_matching`, once for each favoured power share in :data:`REST_P`); the groups of
each matching in the pairing reference's canonical order, so that every run is also a run of the
reference's grid (bruteforce.py). Then the search stage (``pairing="dfg"`` only; issue 22 step
6c), :func:`_search`: on the best matching so far, each of its :data:`N_FAV_GROUPS` groups of
largest rate on a favoured group's resources is favoured in turn (B alone and P and B: the best
points often favour a group other than the one of largest rate), then 2-opt swaps of its pairs
(two groups exchange partners, each group keeping its resources) are ranked by Alg. 1 at the
best point's (P, B) and the best :data:`SWAP_RUNS` run from the start that favours the best
point's favoured group (largest B); repeated while a swap wins (:data:`SWAP_ROUNDS` at most),
the new matching's groups favoured in turn again. Every run of both stages starts from a start
of the reference's grid (group k favoured at :data:`FAVOUR` of B, or of P and B), groups in
canonical order, :data:`MULTI_ROUNDS` <= the reference's rounds, so the reference's grid
contains each run by construction (the search's runs skip :func:`rescue`, which can only lower
them). Then the dense stage (``pairing="dfg"`` and M <= :data:`DENSE_M` only; issue 22
step 6), :func:`_dense`: on the best matching so far (feasible or not), Alg. 1-2
(:func:`run_start`, rescue included) from every start of the reference's dense grid for that
matching (``bruteforce.matching_grid``: ``start_grid(M, dense=True)``, its random starts seeded
as the reference seeds the matching; 53 starts at M = 2, 23 at M = 3, those already run
skipped): the few stage runs above miss the best local point of a matching's continuous
problem that the reference's dense grid finds (cheap at M <= 3). ``info["multistart"]``:
``grid_starts`` lists every run's start (matching, P shares, B shares, nu level f),
``dense_runs`` and ``dense_matchings`` what the dense stage ran, ``stage_objective``,
``search_objective``, ``dense_objective`` the best after each stage. Then Alg. 3 re-pairs at
the best point and Alg. 1-2 re-optimise the candidate (at most :data:`REPAIR_ROUNDS` times; at
M <= :data:`DENSE_M` an accepted re-pairing's matching gets the dense stage too): with the
single-start loop, the only runs not in the grid. Every candidate is accepted only when feasible
and not lower, so (47) still holds. No random numbers and no time limits: within one process
the same problem gives the same result (tested), but between processes the objective can differ
by about 1e-6 relative (1.4e-6 measured; the numerical libraries' floating-point results are
not bit-identical from one process to the next), enough to move a rounded figure by one in its
last digit (docs/sc_sfma/optimizer.md, "Sweeps"). At
most 2 + 4 N_ALT runs of Alg. 1-2 (:data:`MULTI_ROUNDS` rounds each) in the multi-start stage,
at most 2 N_FAV_GROUPS (SWAP_ROUNDS + 1) + 2 SWAP_RUNS SWAP_ROUNDS in the search (a run is
never repeated), the dense grid on at most 1 + REPAIR_ROUNDS matchings (M <= 3) and the
re-pairings.

Options select the baselines of ``baselines.py``: ``pairing="fixed"`` keeps the initial pairing
(with ``init_pairs``, e.g. channel-gain pairing; the multi-start stage then runs on that matching
only, no search stage, so the baselines' numbers are unchanged), ``resources="equal"`` keeps P
and B at the equal split (nu still by Alg. 1; no
multi-start stage).
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

__all__ = [
    "DENSE_M",
    "FAVOUR",
    "N_ALT",
    "complete_matching",
    "continuous",
    "favoured_pairs",
    "feasible_start",
    "initial_pairs",
    "matching_key",
    "rescue",
    "run_start",
    "skew_shares",
    "solve",
]

#: share of B (and, in the second start, of P) the favoured group gets in the multi-start stage
FAVOUR = 0.9
#: power share of the favoured group at which :func:`favoured_pairs` ranks the pairs
FAVOUR_P = 0.6
#: alternative matchings of the multi-start stage (the best pairs on the favoured group)
N_ALT = 2
#: favoured group's power shares at which :func:`complete_matching` matches the other users
REST_P = (FAVOUR_P, FAVOUR)
#: Alg. 3 re-pairings after the multi-start stage, at most
REPAIR_ROUNDS = 2
#: Alg. 1-2 rounds of each multi-start run
MULTI_ROUNDS = 2
#: groups of the best matching favoured in turn (B alone, P and B) by the search stage
N_FAV_GROUPS = 3
#: 2-opt rounds of the search stage, and the swapped matchings run (Alg. 1-2) per round
SWAP_ROUNDS = 3
SWAP_RUNS = 4
#: largest group count M at which the dense stage runs the reference's dense grid
DENSE_M = 3


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
        alloc = Allocation(pairs=pairs, nu=nu, power=P, bw=B)
        ev = prob.evaluate(alloc)  # what finalise computes, kept for the step below
        alloc.objective = ev.objective
        alloc.slacks = prob.check(alloc, ev)
        alloc.feasible = violations(alloc.slacks) == []
        if alloc.feasible:
            return alloc
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


def skew_shares(m: int, k: int, s: float) -> NDArray:
    """Shares of M groups with group k at ``s`` and the others at (1 - s) / (M - 1)."""
    if m == 1:
        return np.ones(1)
    out = np.full(m, (1.0 - s) / (m - 1))
    out[k] = s
    return out


def matching_key(pairs) -> tuple:
    """A matching as a canonical tuple of sorted pairs (group order ignored)."""
    return tuple(sorted(tuple(sorted(map(int, p))) for p in np.asarray(pairs).tolist()))


def run_start(
    prob: SfmaProblem, pairs: NDArray, p: NDArray, b: NDArray, f: float, rounds: int
) -> Allocation:
    """One start of a fixed matching: shares ``p``, ``b`` made feasible by
    :func:`feasible_start`, nu raised to the level ``f`` of its interval [nu_min (19), 1] with
    Alg. 2 (eqs. (31)-(36)) first solved at that nu, then Alg. 1-2 alternated
    (:func:`continuous`). Returns the best point reached, or the infeasible start itself
    (``feasible`` False) when neither :func:`feasible_start` nor :func:`rescue` finds a
    feasible point."""
    a = feasible_start(prob, pairs, power=p * prob.p_max, bw=b * prob.b_tot)
    if f > 0.0:
        lo = np.minimum(prob.nu_min_pairs(pairs, a.power, a.bw), 1.0)
        nu = lo + f * (1.0 - lo)
        up = Allocation(pairs, nu, a.power, a.bw).finalise(prob)
        P, B, _ = optimise_pb(prob, pairs, nu, a.power, a.bw)
        c = Allocation(pairs, nu, P, B).finalise(prob)
        for cand in (up, c):
            if cand.feasible and (not a.feasible or cand.objective >= a.objective):
                a = cand
    if not a.feasible:
        return rescue(prob, a, rounds)
    a, _ = continuous(prob, a, rounds=rounds)
    return a


def rescue(prob: SfmaProblem, a: Allocation, rounds: int) -> Allocation:
    """A start :func:`feasible_start` left infeasible: Alg. 2 from it searches the whole box
    (its trust region is the unit box from an infeasible point) and keeps its first feasible
    iterate; then Alg. 1-2 alternated. Returns ``a`` when nothing feasible is found."""
    P, B, _ = optimise_pb(prob, a.pairs, a.nu, a.power, a.bw)
    c = Allocation(a.pairs, a.nu, P, B).finalise(prob)
    if not c.feasible:
        return a
    c, _ = continuous(prob, c, rounds=rounds)
    return c


def favoured_pairs(prob: SfmaProblem, edges: NDArray, k: int) -> list[tuple[int, int]]:
    """The ``k`` pairs of E_0 of largest sum rate (13) on a favoured group's resources
    (:data:`FAVOUR_P` of P, :data:`FAVOUR` of B, nu = 1), dynamically feasible (37) there."""
    if edges.size == 0 or k <= 0:
        return []
    tab = edge_table(
        prob, edges, np.full(1, FAVOUR_P * prob.p_max), np.full(1, FAVOUR * prob.b_tot), np.ones(1)
    )
    r = np.where(tab["feasible"][:, 0], tab["rate"][:, 0], -np.inf)
    order = np.argsort(-r, kind="stable")[:k]
    return [(int(edges[j, 0]), int(edges[j, 1])) for j in order if np.isfinite(r[j])]


def complete_matching(
    prob: SfmaProblem, edges: NDArray, fixed: tuple[int, int], p_share: float = FAVOUR_P
) -> NDArray | None:
    """A perfect matching with ``fixed`` as group 0 and the other users matched by maximum
    weight at the small groups' resources ((1 - :data:`FAVOUR_P`) / (M - 1) of P, (1 -
    :data:`FAVOUR`) / (M - 1) of B; weights as
    :func:`initial_pairs`: the best rate over nu in {1, 1/2, 1/4, 1/10} where dynamically
    feasible (37), infeasible edges weighing little); None when the rest has none."""
    m = prob.m
    if m == 1:
        return np.array([sorted(fixed)], dtype=int)
    keep = [j for j, (u, v) in enumerate(edges.tolist()) if u not in fixed and v not in fixed]
    if not keep:
        return None
    sub = edges[keep]
    P = np.full(1, (1.0 - p_share) / (m - 1) * prob.p_max)
    B = np.full(1, (1.0 - FAVOUR) / (m - 1) * prob.b_tot)
    best = np.full(len(sub), -np.inf)
    for v in (1.0, 0.5, 0.25, 0.1):
        tab = edge_table(prob, sub, P, B, np.array([v]))
        best = np.maximum(best, np.where(tab["feasible"][:, 0], tab["rate"][:, 0], -np.inf))
    tab = edge_table(prob, sub, P, B, np.array([1.0]))
    scale = float(np.nanmax(tab["rate"])) + 1.0
    g = nx.Graph()
    for j, (u, v) in enumerate(sub.tolist()):
        w = best[j] + 2 * scale if np.isfinite(best[j]) else tab["rate"][j, 0] * 1e-3
        g.add_edge(int(u), int(v), weight=float(w))
    match = nx.max_weight_matching(g, maxcardinality=True)
    if 2 * len(match) != prob.n - 2:
        return None
    rest = sorted(tuple(sorted(e)) for e in match)
    return np.array([tuple(sorted(fixed))] + rest, dtype=int)


def _better(cur: Allocation | None, a: Allocation) -> bool:
    return a.feasible and (cur is None or not cur.feasible or a.objective > cur.objective)


def _canonical(pairs: NDArray, k: int) -> tuple[NDArray, int]:
    """``pairs`` in the pairing reference's canonical group order (:func:`matching_key`) and
    the new index of its group ``k``."""
    canon = np.array(matching_key(pairs), dtype=int)
    fav = set(np.asarray(pairs)[k].tolist())
    return canon, next(g for g, pr in enumerate(canon.tolist()) if set(pr) == fav)


class _Runs:
    """The grid runs of the multi-start and search stages: each (matching, favoured pair,
    kind) once; keeps the best feasible end (``best``, ``src``) and counts the runs."""

    def __init__(self, prob: SfmaProblem, best: Allocation) -> None:
        self.prob, self.best, self.src = prob, best, "single"
        self.done: set = set()
        self.runs = 0
        self.dense_runs = 0
        self.kind: dict = {}
        #: every start run: (matching, power shares, bandwidth shares, nu level f), groups
        #: canonical
        self.starts: list = []
        #: the starts whose run is exactly run_start's (the grid's run of that start)
        self.exact: set = set()
        #: matchings the dense stage has run
        self.dense_done: set = set()

    @staticmethod
    def _start_key(key: tuple, p: NDArray, b: NDArray, f: float) -> tuple:
        return (key, tuple(np.round(p, 12).tolist()), tuple(np.round(b, 12).tolist()), float(f))

    def run(
        self, pairs: NDArray, k: int, kind: str, label: str, rescue: bool = True
    ) -> Allocation | None:
        """Alg. 1-2 (:func:`run_start`) on ``pairs`` from the start that favours group ``k``
        (``kind`` "B": :data:`FAVOUR` of B at the equal power split; "PB": of P and B), the
        groups in canonical order: a start of the reference's grid (bruteforce.start_grid)."""
        m = self.prob.m
        pairs, k = _canonical(pairs, k)
        key = (matching_key(pairs), tuple(pairs[k].tolist()), kind)
        if key in self.done:
            return None
        self.done.add(key)
        fav = skew_shares(m, k, FAVOUR)
        p = fav if kind == "PB" else np.full(m, 1.0 / m)
        self.starts.append((matching_key(pairs), tuple(p.tolist()), tuple(fav.tolist()), 0.0))
        if rescue:
            a = run_start(self.prob, pairs, p, fav, 0.0, MULTI_ROUNDS)
            exact = True
        else:
            # run_start without its rescue: the same run where feasible_start succeeds, else
            # nothing (at or below the reference's run of the start either way)
            pm, bt = self.prob.p_max, self.prob.b_tot
            a = feasible_start(self.prob, pairs, power=p * pm, bw=fav * bt)
            exact = a.feasible
            if a.feasible:
                a, _ = continuous(self.prob, a, rounds=MULTI_ROUNDS)
        if exact:
            self.exact.add(self._start_key(matching_key(pairs), p, fav, 0.0))
        self.runs += 1
        if _better(self.best, a):
            self.best, self.src = a, f"{label} {kind}"
            self.kind[matching_key(pairs)] = (tuple(pairs[k].tolist()), kind)
        return a

    def run_grid(
        self, pairs: NDArray, p: NDArray, b: NDArray, f: float, label: str
    ) -> Allocation | None:
        """Alg. 1-2 (:func:`run_start`, its rescue included, :data:`MULTI_ROUNDS` rounds) on
        ``pairs`` (groups in canonical order) from one start ``(p, b, f)`` of the reference's
        grid for that matching; None when that exact run was already done."""
        key = matching_key(pairs)
        sk = self._start_key(key, p, b, f)
        if sk in self.exact:
            return None
        self.exact.add(sk)
        self.starts.append((key, tuple(p.tolist()), tuple(b.tolist()), float(f)))
        a = run_start(self.prob, np.array(key, dtype=int), p, b, f, MULTI_ROUNDS)
        self.runs += 1
        self.dense_runs += 1
        if _better(self.best, a):
            self.best, self.src = a, label
        return a


def _favour_groups(prob: SfmaProblem, pairs: NDArray, count: int) -> list[int]:
    """The ``count`` groups of ``pairs`` of largest sum rate (13) on a favoured group's
    resources (:data:`FAVOUR_P` of P, :data:`FAVOUR` of B, nu = 1), dynamically feasible (37)
    ones first."""
    tab = edge_table(
        prob, pairs, np.full(1, FAVOUR_P * prob.p_max), np.full(1, FAVOUR * prob.b_tot), np.ones(1)
    )
    r = tab["rate"][:, 0] + np.where(tab["feasible"][:, 0], 1e12, 0.0)
    return [int(g) for g in np.argsort(-r, kind="stable")[:count]]


def _swaps(pairs: NDArray, edges: set) -> list[NDArray]:
    """The 2-opt neighbours of a matching: two groups exchange partners ((a, b), (c, d) ->
    (a, c), (b, d) or (a, d), (b, c)), each group keeping its position; pairs of E_0 only."""
    out = []
    m = pairs.shape[0]
    for g1 in range(m):
        for g2 in range(g1 + 1, m):
            (a, b), (c, d) = pairs[g1].tolist(), pairs[g2].tolist()
            for x, y in (((a, c), (b, d)), ((a, d), (b, c))):
                if tuple(sorted(x)) in edges and tuple(sorted(y)) in edges:
                    q = pairs.copy()
                    q[g1], q[g2] = sorted(x), sorted(y)
                    out.append(q)
    return out


def _search(prob: SfmaProblem, runs: _Runs, edges: NDArray, info: dict) -> None:
    """The search stage (module docstring): favour each of the best matching's
    :data:`N_FAV_GROUPS` strongest groups in turn, then 2-opt swaps of its pairs, ranked by
    Alg. 1 at the best point's (P, B) and the best :data:`SWAP_RUNS` run from the start that
    favours the best point's favoured pair; repeated while a swap wins."""
    if runs.best is None or not runs.best.feasible or prob.m == 1:
        return
    eset = {tuple(sorted(map(int, e))) for e in np.asarray(edges).tolist()}
    done_fav: set = set()

    def favour_all() -> None:
        best = runs.best
        if matching_key(best.pairs) in done_fav:
            return
        done_fav.add(matching_key(best.pairs))
        for k in _favour_groups(prob, best.pairs, N_FAV_GROUPS):
            for kind in ("B", "PB"):
                runs.run(best.pairs, k, kind, "favour", rescue=False)

    for _ in range(SWAP_ROUNDS):
        favour_all()
        best = runs.best
        # the favoured group: the one with the largest bandwidth share; the start kind that
        # won on this matching for it, else both
        kf = int(np.argmax(best.bw))
        won = runs.kind.get(matching_key(best.pairs))
        kinds = (won[1],) if won is not None and set(won[0]) == set(best.pairs[kf]) else ("B", "PB")
        scored = []
        for q in _swaps(best.pairs, eset):
            nu, _ = optimise_nu(prob, q, best.power, best.bw, None)
            a = Allocation(q, nu, best.power, best.bw).finalise(prob)
            scored.append((a.objective if a.feasible else -np.inf, len(scored), q))
        scored.sort(key=lambda t: (-t[0], t[1]))
        for _, _, q in scored[:SWAP_RUNS]:
            for kind in kinds:
                runs.run(q, kf, kind, "swap", rescue=False)
        info["swap_rounds"] = info.get("swap_rounds", 0) + 1
        if runs.best is best:
            return
    favour_all()


def _dense(runs: _Runs, pairs: NDArray, info: dict) -> None:
    """The dense stage (M <= :data:`DENSE_M`, module docstring): Alg. 1-2 (:func:`run_start`)
    from every start of the reference's dense grid for the matching ``pairs``
    (``bruteforce.matching_grid``: ``start_grid(M, dense=True)`` seeded as the reference seeds
    that matching), starts already run skipped; each matching once."""
    # bruteforce imports this module: imported here
    from semdacom.sc_sfma.optimizer.bruteforce import matching_grid

    key = matching_key(pairs)
    if key in runs.dense_done:
        return
    runs.dense_done.add(key)
    canon = np.array(key, dtype=int)
    for p, b, f, lab in matching_grid(canon, dense=True):
        runs.run_grid(canon, p, b, f, f"dense {lab}")
    info["dense_matchings"].append(key)


def _multistart(
    prob: SfmaProblem, cur: Allocation, edges: NDArray, pairing: str, dense: bool = True
) -> tuple[Allocation, dict]:
    """The multi-start and search stages (module docstring) from the single-start loop's
    point ``cur``; the dense stage too with ``dense``."""
    m = prob.m
    info = {"runs": 0, "repairs": 0, "from": "single", "dense_runs": 0, "dense_matchings": []}
    if m == 1:
        return cur, info
    ev = prob.evaluate(cur)
    cands = [(cur.pairs, int(np.argmax(ev.rate.sum(axis=1))), "own")]
    if pairing == "dfg":
        seen = {matching_key(cur.pairs)}
        for fp in favoured_pairs(prob, edges, N_ALT):
            for ps in REST_P:
                alt = complete_matching(prob, edges, fp, ps)
                if alt is not None and matching_key(alt) not in seen:
                    seen.add(matching_key(alt))
                    cands.append((alt, 0, f"pair {fp[0]}-{fp[1]} rest@{ps:g}"))
    runs = _Runs(prob, cur)
    for pairs, k, label in cands:
        # groups in canonical order (matching_key: the order of the pairing reference's
        # enumeration), so that each run is the reference's run of the same start
        for kind in ("B", "PB"):
            runs.run(pairs, k, kind, label)
    obj = lambda a: float(a.objective) if a.feasible else None  # noqa: E731
    info["stage_objective"] = obj(runs.best)
    if pairing == "dfg":
        _search(prob, runs, edges, info)
    info["search_objective"] = obj(runs.best)
    dense = dense and pairing == "dfg" and m <= DENSE_M
    if dense:
        _dense(runs, runs.best.pairs, info)
    info["dense_objective"] = obj(runs.best)
    best, info["from"] = runs.best, runs.src
    if pairing == "dfg" and best.feasible:
        tried = {matching_key(best.pairs)}
        for _ in range(REPAIR_ROUNDS):
            cand_pairs, _ = pair_users(prob, edges, best.power, best.bw, best.nu)
            if cand_pairs is None or matching_key(cand_pairs) in tried:
                break
            tried.add(matching_key(cand_pairs))
            lo = prob.nu_min_pairs(cand_pairs, best.power, best.bw)
            nu0 = np.clip(np.maximum(lo, best.nu), None, 1.0)
            a = Allocation(cand_pairs, nu0, best.power, best.bw).finalise(prob)
            if not a.feasible:
                break
            a, _ = continuous(prob, a, rounds=MULTI_ROUNDS)
            info["repairs"] += 1
            if not _better(best, a):
                break
            best, info["from"] = a, "re-pair"
            if dense:
                # the new matching's continuous blocks from the dense grid too
                runs.best, runs.src = best, "re-pair"
                _dense(runs, best.pairs, info)
                best, info["from"] = runs.best, runs.src
    info["grid_starts"] = runs.starts
    info["runs"], info["dense_runs"] = runs.runs, runs.dense_runs
    return best, info


def solve(
    prob: SfmaProblem,
    *,
    pairing: str = "dfg",
    resources: str = "sca",
    init_pairs: NDArray | None = None,
    max_outer: int = 6,
    tol: float = 1e-4,
    starts: str = "multi",
    dense: bool = True,
) -> Allocation:
    """Alg. 4: joint pairing, compression ratio and power-bandwidth allocation for problem (20).

    ``pairing``: ``"dfg"`` (Alg. 3 each outer iteration) or ``"fixed"`` (keep the initial
    pairing). ``resources``: ``"sca"`` (Alg. 2) or ``"equal"`` (P, B at the equal split).
    ``starts``: ``"multi"`` (default: the single-start loop, then the multi-start stage of the
    module docstring) or ``"single"`` (the paper's Alg. 4 alone). ``dense``: with ``"multi"``,
    the dense stage at M <= :data:`DENSE_M` (default; it takes seconds at K = 4 where the
    stages before it take a few hundred ms: the closed loop's ``sfma_optimizer`` leaves it
    out by default, its allocation must arrive within the lead).
    Returns an :class:`Allocation` with ``feasible``, ``slacks`` and ``history``; when no
    feasible point is found its ``status`` says why. ``info["single_objective"]`` is the
    single-start loop's objective (None if infeasible), ``info["multistart"]`` the stage's
    runs, re-pairings and where its point came from."""
    if starts not in ("multi", "single"):
        raise ValueError(f"starts must be 'multi' or 'single', got {starts!r}")
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
    single = cur.objective if cur.feasible else None
    if starts == "multi" and resources == "sca":
        cur, ms_info = _multistart(prob, cur, edges, pairing, dense)
        if cur.feasible:
            history.append(cur.objective)
        cur.info["multistart"] = ms_info
    cur.info["single_objective"] = single
    cur.history = history
    cur.info["outer_iterations"] = outer
    cur.info["edges"] = int(len(edges))
    cur.solver = f"sfma/{pairing}/{resources}"
    cur.info["starts"] = starts
    cur.info["dense"] = bool(dense)
    cur.status = "ok" if cur.feasible else "infeasible: " + ",".join(violations(cur.slacks))
    cur.solve_ms = (time.perf_counter() - t0) * 1e3
    return cur
