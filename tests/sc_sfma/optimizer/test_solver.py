"""SC-SFMA optimiser: Alg. 1-4 monotone (eq. (47)), every allocation feasible in (20a)-(20h),
the SCA surrogate DPP, Proposition 1 of the pruning (21), agreement with brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from semdacom.sc_sfma import baselines
from semdacom.sc_sfma.optimizer.bruteforce import (
    matching_grid,
    matching_index,
    perfect_matchings,
    run_start,
    solve_bruteforce,
)
from semdacom.sc_sfma.optimizer.compression import optimise_nu
from semdacom.sc_sfma.optimizer.pairing import edge_table, pair_users
from semdacom.sc_sfma.optimizer.power_bw import optimise_pb, surrogate
from semdacom.sc_sfma.optimizer.problem import TOL, Allocation, violations
from semdacom.sc_sfma.optimizer.scenario import make_problem
from semdacom.sc_sfma.optimizer.solver import DENSE_M, feasible_start, matching_key, solve

# constraint tolerance of every check: TOL = 1e-6 relative on budgets, latency and energy,
# 1e-9 absolute on distortion and nu bounds (problem.violations)


def _monotone(h):
    h = np.asarray(h)
    return h.size < 2 or bool(np.all(np.diff(h) >= -1e-9 * np.abs(h[:-1])))


def _assert_feasible(prob, a):
    slack = prob.check(a)
    assert violations(slack) == [], slack
    assert slack["power"] >= -TOL and slack["bandwidth"] >= -TOL and slack["energy"] >= -TOL
    assert slack["latency"] >= -TOL and slack["distortion"] >= -1e-9
    assert slack["pairing"] == 0.0
    assert np.all(a.nu >= prob.nu_lb - 1e-12) and np.all(a.nu <= 1 + 1e-12)


def test_surrogate_is_dpp_and_compiles_once():
    for m in (1, 2, 4, 8):
        s = surrogate(m)
        assert s.is_dpp()
        assert surrogate(m) is s


@pytest.mark.parametrize("n", [4, 8])
def test_outer_objective_monotone_and_feasible(tables, n):
    runs = feasible_runs = 0
    for seed in range(12 if n == 4 else 8):
        prob = make_problem(seed, n=n, tables=tables)
        a = solve(prob)
        runs += 1
        assert _monotone(a.history), (seed, a.history)
        if a.feasible:
            feasible_runs += 1
            _assert_feasible(prob, a)
            assert a.objective == pytest.approx(prob.objective(a))
            assert a.history[-1] == pytest.approx(a.objective)
    assert feasible_runs >= runs * 0.7


def test_blocks_never_decrease(tables):
    prob = make_problem(5, n=8, tables=tables)
    edges = prob.prune()
    from semdacom.sc_sfma.optimizer.solver import initial_pairs

    pairs = initial_pairs(prob, edges)
    a = feasible_start(prob, pairs)
    assert a.feasible
    nu, info = optimise_nu(prob, a.pairs, a.power, a.bw, a.nu)
    b = Allocation(a.pairs, nu, a.power, a.bw).finalise(prob)
    assert b.feasible and b.objective >= a.objective * (1 - 1e-12)
    P, B, info = optimise_pb(prob, b.pairs, b.nu, b.power, b.bw)
    c = Allocation(b.pairs, b.nu, P, B).finalise(prob)
    assert c.feasible and c.objective >= b.objective * (1 - 1e-12)
    assert _monotone(info["history"])
    assert info["solves"] >= 1


def test_energy_budget_binds_and_holds(tables):
    # solve without a binding energy budget, then cut the communication energy to 40 %: the
    # multipliers of Alg. 1 / the energy constraint of Alg. 2 must bring it under E_max
    prob = make_problem(2, n=8, tables=tables, p_max_dbm=30.0, e_per_user_j=1.0)
    free = solve(prob)
    assert free.feasible
    e_used = float(prob.evaluate(free).energy.sum())
    e_comp = float(prob.e_comp.sum())
    prob.e_max = e_comp + 0.4 * (e_used - e_comp)
    a = solve(prob)
    assert a.feasible, a.status
    assert a.slacks["energy"] >= -TOL
    assert a.slacks["energy"] < 0.05  # binding
    # (no ordering of the two objectives is asserted: Alg. 4 is a local method, and the
    # constrained run can end at a better local optimum than the free one)


def test_pairing_returns_perfect_feasible_matching(tables):
    checked = 0
    for seed in range(8):
        prob = make_problem(seed, n=8, tables=tables, p_max_dbm=25.0)
        edges = prob.prune()
        m = prob.m
        P, B = np.full(m, prob.p_max / m), np.full(m, prob.b_tot / m)
        nu = np.full(m, 0.5)
        tab = edge_table(prob, edges, P, B, nu)
        index = {tuple(e): k for k, e in enumerate(edges.tolist())}
        # all groups alike: Alg. 3 must reach the best matching of the enumeration
        best = max(
            sum(
                tab["rate"][index[p], 0] if p in index and tab["feasible"][index[p], 0] else -np.inf
                for p in match
            )
            for match in perfect_matchings(list(range(prob.n)))
        )
        pairs, info = pair_users(prob, edges, P, B, nu)
        if not np.isfinite(best):
            assert pairs is None
            continue
        checked += 1
        assert pairs is not None
        assert sorted(pairs.ravel().tolist()) == list(range(prob.n))
        for g, (i, j) in enumerate(pairs):
            assert tab["feasible"][index[(i, j)], g]
        assert info["utility"] >= best * (1 - 1e-9)
    assert checked >= 3


def _pair_can_be_feasible(prob, i, j, grid=10):
    """Grid search: can pair (i, j) alone meet (20a)-(20b) with P <= P_max, B <= B_tot?"""
    for fp, fb, v in itertools.product(
        np.linspace(0.05, 1.0, grid), np.logspace(-3, 0, grid), np.linspace(prob.nu_lb, 1, grid)
    ):
        a = Allocation(
            np.array([[i, j]]),
            np.array([v]),
            np.array([fp * prob.p_max]),
            np.array([fb * prob.b_tot]),
        )
        ev = prob.evaluate(a)
        if (
            np.all(ev.distortion <= prob.d_max[[i, j]] + 1e-9)
            and np.all(ev.nu_min <= v + 1e-12)
            and np.all(ev.t_tx <= prob.tau[[i, j]])
        ):
            return True
    return False


def test_proposition1_pruning_keeps_every_feasible_pair(tables):
    """Prop. 1: a pair outside E_0 is never feasible. Instances with tight latency and
    distortion budgets so that some pairs are pruned; each pruned pair is checked by a grid
    search over its own resources (the most a pair can get), and every pair used by a feasible
    allocation of the solver or the brute force lies in E_0."""
    pruned_total = kept_total = 0
    for seed in range(6):
        prob = make_problem(
            seed, n=4, tables=tables, t_max_s=0.012, d_max=0.13, p_max_dbm=14.0, b_mhz=4.0
        )
        kept = {tuple(e) for e in prob.prune().tolist()}
        for i, j in itertools.combinations(range(4), 2):
            if (i, j) in kept:
                kept_total += 1
                continue
            pruned_total += 1
            assert not _pair_can_be_feasible(prob, i, j), (seed, i, j)
        bf = solve_bruteforce(prob)
        if bf.feasible:
            assert {tuple(p) for p in bf.pairs.tolist()} <= kept
    assert pruned_total > 0 and kept_total > 0


# agreement with the multi-start pairing reference (bruteforce.solve_bruteforce(starts="multi"),
# every perfect matching from a grid of starts, the solver's own point included), with the issue's
# targets (issue 22): gap (reference - solver) / reference at most 0.5 % in the median and 2 % at
# most. The sparse grid (dense=False: the equal split, each group favoured in P and B and in B
# alone) keeps the test quick; the bench uses the dense grid at N = 4, 6. Seeds 0-4 (N = 4) and 1
# (N = 6) are the instances of the old agreement tests, the others added; none chosen to pass.
REF_N4 = range(8)
REF_N6 = (1,)
_SINGLE: dict = {}


def _with_reference(solved, n, seed, dense=False, **kw):
    """(problem, solver, paper's single-start Alg. 4, multi-start reference), cached;
    ``dense``: the reference's grid (False: sparse; None: the bench's, dense at M <= 3)."""
    prob, a, ref = solved(n, seed, dense, **kw)
    key = (n, seed, tuple(sorted(kw.items())))
    if key not in _SINGLE:
        _SINGLE[key] = solve(prob, starts="single")
    return prob, a, _SINGLE[key], ref


def _gap(ref, a) -> float:
    return 100 * (ref.objective - a.objective) / ref.objective


def test_agrees_with_multistart_reference(tables, solved):
    gaps = []
    for n, seeds in ((4, REF_N4), (6, REF_N6)):
        for seed in seeds:
            prob, a, _, ref = _with_reference(solved, n, seed)
            assert ref.info["matchings"] == (3 if n == 4 else 15)
            # the reference finds a feasible point whenever the solver does (its point is a
            # candidate) and the solver finds one whenever the reference does, on these seeds
            assert a.feasible == ref.feasible, (n, seed)
            if ref.feasible:
                gaps.append(_gap(ref, a))
    assert len(gaps) >= 8
    assert min(gaps) >= -1e-9
    assert float(np.median(gaps)) <= 0.5, gaps
    assert max(gaps) <= 2.0, gaps
    assert len(list(perfect_matchings(list(range(8))))) == 105


# seeded property: on every instance (default and tight latency / distortion budgets, N = 4)
# the solver's point is feasible on re-check, equals its recorded objective, is at least
# the paper's single-start Alg. 4 (it starts from it), never above the reference, and the
# reference's grid alone (without the solver's point) is at or above it: no reference violation.
# The reference is the bench's (dense grid at M <= 3), which the solver's dense stage runs too:
# on its own matching the solver then reaches the grid's best within 1e-4 relative (the grid's
# runs go on for up to 4 rounds of Alg. 1-2, the solver's 2; each further round runs only while
# the last gained more than 1e-4: on the tight seed 4 the third round of one start adds 6.9e-5)
PROPERTY_CASES = [(4, s, {}) for s in (10, 11, 13)] + [
    (4, 4, dict(t_max_s=0.02, d_max=0.13)),
    (4, 2, dict(t_max_s=0.02, d_max=0.13)),
]


@pytest.mark.parametrize("n, seed, kw", PROPERTY_CASES)
def test_solver_feasible_and_never_above_reference(tables, solved, n, seed, kw):
    prob, a, a1, ref = _with_reference(solved, n, seed, dense=None, **kw)
    assert _monotone(a.history), a.history
    assert a.info["starts"] == "multi" and a1.info["starts"] == "single"
    if a1.feasible:
        assert a.feasible and a.objective >= a1.objective
        assert a.info["single_objective"] == pytest.approx(a1.objective)
    if a.feasible:
        _assert_feasible(prob, a)
        assert a.objective == pytest.approx(prob.objective(a))
        assert ref.feasible and ref.objective >= a.objective
        grid = ref.info["multistart_reference"]
        assert np.isfinite(grid) and a.objective <= grid * (1 + 1e-9), (a.objective, grid)
        own = ref.info["per_matching"][matching_index(a.pairs)]["best"]  # grid, own matching
        assert a.objective >= own * (1 - 1e-4), (a.objective, own)
    # a deterministic function of the problem
    b = solve(make_problem(seed, n=n, tables=tables, **kw))
    assert b.feasible == a.feasible and np.array_equal(b.pairs, a.pairs)
    if a.feasible:
        assert b.objective == a.objective


# the search stage (favour each strong group, 2-opt swaps) only accepts better grid runs: the
# returned point is never below the single-start loop's, nor below the stage before the search
SEARCH_CASES = [(6, 3), (6, 8), (8, 1)]


@pytest.mark.parametrize("n, seed", SEARCH_CASES)
def test_search_never_below_single_start_loop(tables, n, seed):
    prob = make_problem(seed, n=n, tables=tables)
    a = solve(prob)
    ms = a.info["multistart"]
    single = a.info["single_objective"]
    stage, search = ms["stage_objective"], ms["search_objective"]
    assert _monotone(a.history), a.history
    if single is not None:
        assert a.feasible and stage is not None and search is not None
        assert search >= stage >= single
        assert a.objective >= search * (1 - 1e-12)
    if a.feasible:
        _assert_feasible(prob, a)
    if ms["dense_matchings"]:
        assert prob.m <= DENSE_M
        if a.feasible and search is not None:
            assert a.objective >= ms["dense_objective"] >= search
    # every start of the multi-start, search and dense stages is a start of the reference's
    # grid of its matching, in the reference's canonical group order (bruteforce.matching_grid,
    # tested there too)
    for key, p, b, f in ms["grid_starts"]:
        assert list(key) == sorted(key)
        grid = matching_grid(np.array(key))
        assert any(
            np.allclose(p, gp) and np.allclose(b, gb) and f == gf for gp, gb, gf, _ in grid
        ), (p, b, f)


def test_multistart_stage_options(tables):
    prob = make_problem(0, n=4, tables=tables)
    with pytest.raises(ValueError):
        solve(prob, starts="many")
    # fixed pairing: the stage keeps the given matching; equal resources: no stage at all
    pairs = np.array([[0, 3], [1, 2]])
    a = solve(prob, pairing="fixed", init_pairs=pairs)
    assert {tuple(p) for p in a.pairs.tolist()} == {(0, 3), (1, 2)}
    assert a.info["multistart"]["repairs"] == 0 and a.info["multistart"]["runs"] == 2
    e = solve(prob, resources="equal")
    assert "multistart" not in e.info
    assert np.allclose(e.power, e.power[0]) and np.allclose(e.bw, prob.b_tot / prob.m)


def test_baselines_run(tables):
    out = {s: baselines.run_scheme(s, 0, tables=tables) for s in baselines.SCHEMES}
    for s, a in out.items():
        assert np.isfinite(a.objective) and a.objective > 0, s
        assert a.solver == s
    prob = make_problem(0, tables=tables)
    snr = prob.p_max * prob.gains / (prob.n0 * prob.b_tot)
    assert out["swinjscc_fdma"].objective == pytest.approx(
        np.sum(prob.b_tot / prob.n * np.log2(1 + snr))
    )
    # the SCFM model interferes less than the no-SCFM one: same optimiser, higher sum rate
    assert out["sc_sfma"].objective > out["swinjscc_noma"].objective
    # AMC never exceeds capacity
    assert out["classical_oma"].objective < out["swinjscc_fdma"].objective
    chp = baselines.channel_pairs(prob)
    g = prob.gains
    strongest, weakest = int(np.argmax(g)), int(np.argmin(g))
    assert sorted((strongest, weakest)) in chp.tolist()


def test_pairing_stage2_and_repair_complete_the_matching(tables):
    """With one dual iteration the groups' one-hot picks conflict; conflict resolution plus
    the residual matching (44)/assignment (45), or the repair MILP (46), must still return a
    perfect matching of dynamically feasible edges; the repair alone too."""
    from semdacom.sc_sfma.optimizer import pairing

    stages = set()
    for seed in range(6):
        prob = make_problem(seed, n=8, tables=tables, p_max_dbm=25.0)
        edges = prob.prune()
        m = prob.m
        # unequal groups, so that the assignment to groups matters
        P = prob.p_max * np.array([0.4, 0.3, 0.2, 0.1])
        B = prob.b_tot * np.array([0.1, 0.2, 0.3, 0.4])
        nu = np.full(m, 0.6)
        pairs, info = pair_users(prob, edges, P, B, nu, dual_iters=1)
        if pairs is None:
            continue
        stages.add(info["stage2"])
        assert sorted(pairs.ravel().tolist()) == list(range(prob.n))
        tab = edge_table(prob, edges, P, B, nu)
        index = {tuple(e): k for k, e in enumerate(edges.tolist())}
        assert all(tab["feasible"][index[tuple(p)], g] for g, p in enumerate(pairs.tolist()))
        # the repair MILP on the whole problem gives a one-to-one feasible assignment
        assign: dict = {}
        if pairing._repair(tab, edges, np.arange(prob.n), np.arange(m), assign):
            used = sorted(u for e in assign.values() for u in edges[e])
            assert used == list(range(prob.n)) and sorted(assign) == list(range(m))
            assert all(tab["feasible"][e, g] for g, e in assign.items())
            # optimal: at least the utility of Alg. 3's answer
            val = sum(tab["rate"][e, g] for g, e in assign.items())
            assert val >= info["utility"] * (1 - 1e-9)
    assert stages & {"matching+assignment", "repair"}


# the dense stage (M <= DENSE_M = 3): on its own matching the solver reaches the reference's
# value there (every start of that matching's dense grid, bruteforce.matching_grid, run as the
# reference runs it: run_start, 4 rounds) within 1e-6 relative. Instances: seeds of the tests
# above (N = 4: 0-7, 10, 11, 13; N = 6: 1, 3, 5, 8) where the dense stage raised the search
# stage's end most (1.2 / 1.4 % at N = 4, 0.3 / 0.3 % at N = 6; seed 3 at N = 6 is infeasible):
# without the stage these fail; asserted below so that the cases stay discriminating
DENSE_CASES = [(4, 4), (4, 11), (6, 1), (6, 8)]


@pytest.mark.parametrize("n, seed", DENSE_CASES)
def test_dense_stage_reaches_the_reference_on_its_own_matching(tables, n, seed):
    prob = make_problem(seed, n=n, tables=tables)
    a = solve(prob)
    assert a.feasible and prob.m <= DENSE_M
    ms = a.info["multistart"]
    key = matching_key(a.pairs)
    assert key in ms["dense_matchings"]
    pairs = np.array(key, dtype=int)
    grid = matching_grid(pairs, dense=True)
    ends = [run_start(prob, pairs, p, b, f, 4) for p, b, f, _ in grid]
    ref = max(e.objective for e in ends if e.feasible)
    assert a.objective >= ref * (1 - 1e-6), (a.objective, ref)
    # the search stage alone fell short: the dense stage raised the objective here
    assert ms["dense_objective"] > ms["search_objective"] * (1 + 1e-6)
    # every start of the grid ran on this matching (in the dense stage or before it)
    ran = [(p, b, f) for k, p, b, f in ms["grid_starts"] if k == key]
    for gp, gb, gf, _ in grid:
        assert any(np.allclose(p, gp) and np.allclose(b, gb) and f == gf for p, b, f in ran), (
            gp,
            gb,
            gf,
        )
    assert 0 < ms["dense_runs"] <= len(grid) * len(ms["dense_matchings"])
    # starts="single" runs no stage at all
    assert "multistart" not in solve(prob, starts="single").info


@pytest.mark.parametrize("n, seed", DENSE_CASES[:2])
def test_without_the_dense_stage_the_solve_stops_at_the_search(tables, n, seed):
    """``dense=False`` (the closed loop's sfma_optimizer default: the stage takes seconds at
    K = 4): no dense run, the search stage's point is the answer, and it is no better than
    the dense stage's (which raised it on these instances)."""
    prob = make_problem(seed, n=n, tables=tables)
    fast, full = solve(prob, dense=False), solve(prob)
    ms = fast.info["multistart"]
    assert fast.info["dense"] is False and full.info["dense"] is True
    assert ms["dense_runs"] == 0 and ms["dense_matchings"] == []
    assert fast.feasible and fast.objective < full.objective
    assert ms["dense_objective"] == ms["search_objective"]
