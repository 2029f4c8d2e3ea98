"""Pairing reference for SC-SFMA: every perfect matching of N <= 8 users (1, 3, 15 and 105
matchings for N = 2, 4, 6, 8), each with its continuous problem solved from many starts; the
pairing gap of the solver (:func:`~semdacom.sc_sfma.optimizer.solver.solve`, the multi-start
Alg. 4) is measured against the best of them.

For a fixed matching, problem (20) in (nu, P, B) is non-convex (xi of eq. (10) couples the SNR
and nu), and Alg. 1 (eqs. (22)-(26)) alternated with Alg. 2 (trust-region SCA, eqs. (31)-(36))
by :func:`~semdacom.sc_sfma.optimizer.solver.continuous` stops at a local point that depends on
where it starts: on the Sec. IV-A scenario, starts that favour one group end up to 27 % above the
made-feasible equal split (bench: median 4-7 % for the best matching). One start per matching
(``starts="single"``, the old reference, still the default for the existing callers) is therefore
no upper bound: Alg. 4, which reaches a matching with the resources of another, beat it on 4 of
22 instances.

``starts="multi"`` is the reference. For every matching it runs every start of
:func:`start_grid`, each made feasible by ``feasible_start`` (proportional re-allocation), or,
where that fails, by Alg. 2 from the infeasible point (its trust region is then the whole box and
it keeps its first feasible iterate); then Alg. 1-2 alternated (``rounds``). It keeps the best
feasible point, adds the allocation the solver returns (``solve(prob)``, the multi-start Alg. 4;
the ``alg4`` argument and the ``alg4_*`` keys keep their names) as one more candidate of its own
matching, and so returns the best known point: a feasible allocation, so a lower bound on the
optimum of (20), and an upper bound in practice on what the solver reaches. By construction the grid
contains what the solver's multi-start, search and dense stages try: every one of their runs
(``solver._Runs.run`` and ``run_grid``, listed in ``info["multistart"]["grid_starts"]``) starts
at a start of :func:`start_grid` (group k favoured at ``SKEW``, which is ``solver.FAVOUR`` = 0.9
imported, of B at the equal power split, or of P and B; the dense grids have both in their P x B
product; the dense stage, M <= 3, runs every start of :func:`matching_grid`, the grid of that
matching with its random starts seeded as here), on the matching's groups in this enumeration's
order, with ``solver.MULTI_ROUNDS`` = 2 <= ``rounds`` = 4 rounds of the same Alg. 1-2 (more
rounds never end lower), and the search's runs without the rescue (which the grid has); tested
in tests/sc_sfma/optimizer. So the grid alone is at or above every one of them; only the
solver's single-start loop (the paper's Alg. 4) and its Alg. 3 re-pairings, which carry one
matching's resources into another, can end above the grid (``multistart_reference``, the
bench's ``reference_violations``).

Grid (see :func:`start_grid`), calibrated on the measured tables, 20 / 6 / 2 instances of
N = 4 / 6 / 8 (bench seeds), against a broader calibration grid (the equal split at three nu
levels; P-, B- and PB-skews at 0.5, 0.65, 0.8 and 0.9 for every group; 4 random splits; the
interior of the step-1/6 simplex lattice for M <= 3: 49 / 142 / 55 starts per matching at
M = 2 / 3 / 4; the B-alone skews at M >= 4 were added later, see :func:`start_grid`). The
starts that win favour one group strongly, in B or in P and B together (share
0.8-0.9); nu levels and the uniform lattice rarely win (Alg. 1 re-optimises nu globally on its grid
for the start's (P, B)). The chosen grid ends within 0.74 % of that grid's best at N = 4 (one
instance; the other 19 within 0.02 % or above it), within 0.94 % at N = 6 (one instance; the other
5 equal or above) and within 0.13 % at N = 8. Sizes: one Alg. 1-2 run costs 25-200 ms on one core
(mostly Alg. 2's Clarabel solves; an infeasible start adds the 60 re-allocations of
``feasible_start`` and one Alg. 2 run from the whole box), so N = 8 (105 matchings) gets 9 starts
per matching (945 runs), N = 6 (15 matchings) 23 (345 runs) and N = 4 (3 matchings) the 53-start
dense grid (159 runs); run times in docs/sc_sfma/optimizer.md (tens of seconds per instance at
N = 8 on one core); the slow instances have many infeasible starts.

``info`` of the returned allocation: ``objectives`` (best per matching, the solver's point
included; -inf only where no start ended feasible), ``matchings``, ``starts``, ``per_matching``
(per matching: ``starts``, ``feasible`` (starts that ended feasible), ``best``, ``median``,
``worst`` over them, ``single`` (the old single start's objective), the spreads
``best_minus_median``, ``best_minus_worst``, ``best_minus_single`` (bit/s, >= 0),
``best_start`` (index in the grid, 0 the single start) and ``alg4`` where Alg. 4 ended in that
matching), ``starts_total``, ``feasible_total``, ``infeasible_matchings``, the spreads in %
of the best (``spread_median_pct``: median over matchings of (best - median) / best,
``spread_worst_median_pct`` the same for best - worst, ``spread_ref_pct`` and
``spread_worst_ref_pct`` on the reference's matching), ``single_reference`` (the old reference,
best single start over matchings), ``multistart_reference`` (best over the grid, without Alg. 4's
point), ``best_vs_single_pct`` (100 (reference - single) / reference), ``alg4_objective``,
``alg4_matching_reference`` (the reference on Alg. 4's matching) and ``alg4_best`` (Alg. 4's own
point is the reference).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from semdacom.sc_sfma.optimizer.problem import Allocation, SfmaProblem
from semdacom.sc_sfma.optimizer.solver import FAVOUR as SKEW
from semdacom.sc_sfma.optimizer.solver import (
    continuous,
    feasible_start,
    placeholder,
    rescue,
    run_start,
    skew_shares,
    solve,
)
from semdacom.sc_sfma.optimizer.solver import matching_key as _key

__all__ = [
    "NU_LEVELS",
    "matching_grid",
    "matching_index",
    "perfect_matchings",
    "run_start",
    "solve_bruteforce",
    "start_grid",
]

#: compression-ratio starts, as fractions f of the feasible interval [nu_min (19), 1]
NU_LEVELS = (0.0, 0.5, 1.0)
# SKEW, the share of P and B a favoured group gets in the sparse grid (M >= 4), is the solver's
# FAVOUR (0.9), imported above: the grid must contain the solver's favoured starts.

#: dense grid (M <= 3), per M: favoured-group shares of the P x B product, and extra shares at
#: which a group is favoured in P and B together
DENSE_SKEWS = {2: ((0.65, 0.8, 0.9), ()), 3: ((0.9,), (0.8,))}


def perfect_matchings(users: list[int]) -> Iterator[list[tuple[int, int]]]:
    """Every perfect matching of ``users`` ((n-1)!! of them), each as a sorted list of pairs."""
    if not users:
        yield []
        return
    first, rest = users[0], users[1:]
    for k, partner in enumerate(rest):
        for sub in perfect_matchings(rest[:k] + rest[k + 1 :]):
            yield [(first, partner)] + sub


def matching_index(pairs) -> int:
    """Index of a perfect matching of users 0..N-1 in :func:`perfect_matchings`'s enumeration
    (group order ignored): the seed of its grid's random starts in :func:`solve_bruteforce`."""
    key = _key(pairs)
    n = 2 * len(key)
    for k, match in enumerate(perfect_matchings(list(range(n)))):
        if tuple(match) == key:
            return k
    raise ValueError(f"not a perfect matching of 0..{n - 1}: {key}")


def matching_grid(
    pairs, *, dense: bool | None = None, n_random: int | None = None
) -> list[tuple[NDArray, NDArray, float, str]]:
    """The starts :func:`solve_bruteforce` runs on the matching ``pairs`` (its groups in
    canonical order, :func:`~semdacom.sc_sfma.optimizer.solver.matching_key`):
    :func:`start_grid` seeded with the matching's :func:`matching_index`. The solver's dense
    stage (M <= 3) runs these same starts."""
    m = len(_key(pairs))
    return start_grid(m, dense=dense, n_random=n_random, seed=matching_index(pairs))


def start_grid(
    m: int, *, dense: bool | None = None, n_random: int | None = None, seed: int = 0
) -> list[tuple[NDArray, NDArray, float, str]]:
    """The starts of one matching of M groups: ``(power shares, bandwidth shares, f, label)``,
    shares summing to 1, ``f`` the nu level in [0, 1] of the interval [nu_min (19), 1] (0: the
    distortion floor). The first entry is the equal split at the floor: the old single start.

    * sparse (M >= 4): the equal split at the floor; for each group k, group k favoured in
      both P and B, and in B alone at the equal power split (share :data:`SKEW`, the others
      split the rest); ``n_random`` (default 0) Dirichlet(1) draws. 1 + 2M starts (9 at
      M = 4). No nu levels: at M = 4 they never won in the calibration (module docstring).
      The B-alone starts were added when the multi-start solver, whose starts include them,
      ended above the 1 + M grid (P and B skews only) on 2 of 18 bench instances at N = 8.
    * dense (``dense``, default M <= 3): the product of the share options {equal} and {group k
      favoured at s: s in the first tuple of :data:`DENSE_SKEWS`} in P times the same in B
      (P to one group and B to another included): at M = 2 a 7 x 7 grid of the first group's
      shares (0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9), at M = 3 4 x 4 options, plus every group
      favoured in P and B at the shares of the second tuple; the equal split also at every
      level of :data:`NU_LEVELS`; ``n_random`` (default 2) Dirichlet(1) draws. 53 starts at
      M = 2, 23 at M = 3.
    """
    eq = np.full(m, 1.0 / m)
    dense = m <= 3 if dense is None else dense
    levels = NU_LEVELS if dense or m == 1 else NU_LEVELS[:1]
    starts = [(eq, eq, f, "equal" if f == 0 else f"equal nu{f:g}") for f in levels]
    if m == 1:
        return starts
    if dense:
        prod, diag = DENSE_SKEWS.get(m, DENSE_SKEWS[3])
        opts = [("eq", eq)]
        opts += [(f"{k}:{s:g}", skew_shares(m, k, s)) for s in prod for k in range(m)]
        for (lp, p), (lb, b) in itertools.product(opts, opts):
            if lp != "eq" or lb != "eq":
                starts.append((p, b, 0.0, f"P {lp} B {lb}"))
        for s in diag:
            starts += [
                (skew_shares(m, k, s), skew_shares(m, k, s), 0.0, f"PB {k}:{s:g}") for k in range(m)
            ]
    else:
        for k in range(m):
            fav = skew_shares(m, k, SKEW)
            starts += [(fav, fav, 0.0, f"PB {k}:{SKEW:g}"), (eq, fav, 0.0, f"P eq B {k}:{SKEW:g}")]
    rng = np.random.default_rng(seed)
    for _ in range((2 if dense else 0) if n_random is None else n_random):
        starts.append((rng.dirichlet(np.ones(m)), rng.dirichlet(np.ones(m)), 0.0, "random"))
    return starts


def _summary(objs: list[float], single: float) -> dict:
    """Per-matching record: counts, best / median / worst feasible objective, spreads (bit/s)."""
    fin = np.array([o for o in objs if np.isfinite(o)])
    rec = {"starts": len(objs), "feasible": int(fin.size), "single": float(single)}
    if fin.size:
        best, med, worst = float(fin.max()), float(np.median(fin)), float(fin.min())
        rec.update(best=best, median=med, worst=worst)
        rec["best_minus_median"] = best - med
        rec["best_minus_worst"] = best - worst
        rec["best_minus_single"] = best - single if np.isfinite(single) else float("inf")
    else:
        rec.update(best=-np.inf, median=-np.inf, worst=-np.inf)
        rec.update(best_minus_median=0.0, best_minus_worst=0.0, best_minus_single=0.0)
    return rec


def solve_bruteforce(
    prob: SfmaProblem,
    max_n: int = 8,
    rounds: int = 4,
    *,
    starts: str = "single",
    n_random: int | None = None,
    dense: bool | None = None,
    alg4: bool | Allocation = True,
) -> Allocation:
    """The best feasible allocation over all perfect matchings, each matching's continuous
    blocks (Alg. 1, eqs. (22)-(26), and Alg. 2, eqs. (31)-(36), ``rounds`` rounds at most)
    solved from the starts of :func:`start_grid` (``starts="multi"``: the reference) or from
    the made-feasible equal split alone (``starts="single"``: the old reference, the default
    so that existing callers keep their numbers). ``n_random``, ``dense``: passed to
    :func:`start_grid`. ``alg4`` (multi only): add the solver's allocation (:func:`solve`, or the
    one given) as a candidate of its matching. ``info``: see the module docstring."""
    if prob.n > max_n:
        raise ValueError(f"brute force is for N <= {max_n}, got {prob.n}")
    if starts not in ("multi", "single"):
        raise ValueError(f"starts must be 'multi' or 'single', got {starts!r}")
    t0 = time.perf_counter()
    if isinstance(alg4, Allocation):
        own = alg4 if starts == "multi" else None
    else:
        own = solve(prob) if (alg4 and starts == "multi") else None
    own_key = _key(own.pairs) if own is not None and own.feasible else None
    best: Allocation | None = None
    from_alg4 = False
    objs, recs, own_k = [], [], None
    for k, match in enumerate(perfect_matchings(list(range(prob.n)))):
        pairs = np.array(match, dtype=int)
        # the old single start: the made-feasible equal split, Alg. 1-2 alternated
        a = feasible_start(prob, pairs)
        if a.feasible:
            a, _ = continuous(prob, a, rounds=rounds)
        single = a.objective if a.feasible else -np.inf
        cands = [a]
        if starts == "multi":
            # the grid's first start is this one (run_start adds the rescue when it failed);
            # seeded with k, the matching's index (matching_grid, which the solver uses)
            grid = start_grid(prob.m, n_random=n_random, dense=dense, seed=k)
            cands = [a if a.feasible else rescue(prob, a, rounds)]
            cands += [run_start(prob, pairs, p, b, f, rounds) for p, b, f, _ in grid[1:]]
        vals = [c.objective if c.feasible else -np.inf for c in cands]
        rec = _summary(vals, single)
        rec["best_start"] = int(np.argmax(vals))
        if own_key is not None and _key(pairs) == own_key:
            cands.append(own)
            vals.append(own.objective)
            rec["alg4"] = float(own.objective)
            own_k = k
        top = int(np.argmax(vals))
        objs.append(vals[top])
        recs.append(rec)
        if cands[top].feasible and (best is None or vals[top] > best.objective):
            best = cands[top].copy()
            from_alg4 = cands[top] is own
    if best is None:
        best = placeholder(prob, "no feasible matching found")
    else:
        best.status = "ok"
    best.solver = f"sfma/bruteforce/{starts}"
    single_ref = max(r["single"] for r in recs)
    multi_ref = max(r["best"] for r in recs)
    ref = max(objs)
    feas = [r for r in recs if r["feasible"]]
    rref = recs[int(np.argmax(objs))]
    best.info = {
        "objectives": objs,
        "matchings": len(objs),
        "starts": starts,
        "per_matching": recs,
        "starts_total": int(sum(r["starts"] for r in recs)),
        "feasible_total": int(sum(r["feasible"] for r in recs)),
        "infeasible_matchings": len(recs) - len(feas),
        "spread_median_pct": _pct([r["best_minus_median"] / r["best"] for r in feas]),
        "spread_worst_median_pct": _pct([r["best_minus_worst"] / r["best"] for r in feas]),
        "spread_ref_pct": _pct(
            [rref["best_minus_median"] / rref["best"]] if rref["feasible"] else []
        ),
        "spread_worst_ref_pct": _pct(
            [rref["best_minus_worst"] / rref["best"]] if rref["feasible"] else []
        ),
        "single_reference": float(single_ref),
        "multistart_reference": float(multi_ref),
        "best_vs_single_pct": (
            100 * (ref - single_ref) / ref if np.isfinite(ref) and np.isfinite(single_ref) else None
        ),
        "alg4_objective": float(own.objective) if own is not None and own.feasible else None,
        "alg4_matching_reference": float(objs[own_k]) if own_k is not None else None,
        "alg4_best": bool(from_alg4),
    }
    best.solve_ms = (time.perf_counter() - t0) * 1e3
    return best


def _pct(xs: list[float]) -> float | None:
    """Median of fractions, in %; None when there are none."""
    x = np.array([v for v in xs if np.isfinite(v)])
    return float(100 * np.median(x)) if x.size else None
