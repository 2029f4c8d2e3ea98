"""Global reference for K >= 3, faces of the power simplex, the physical link, infeasible
baselines (MU-ASCC [1], problem (P1))."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opt_helpers import T_PAPERLIKE, make_problem, random_channel

from semdacom.mu_ascc import baselines
from semdacom.mu_ascc import distortion as dist
from semdacom.mu_ascc.optimizer import bruteforce, fast, objective, search
from semdacom.mu_ascc.optimizer.bruteforce import solve_global
from semdacom.mu_ascc.optimizer.problem import Problem
from semdacom.mu_ascc.optimizer.sinr import mmse_sinr
from semdacom.phy.link import RandomCodingLink, physical_link


@pytest.fixture(scope="module")
def shipped():
    return dist.load_table("hyperprior_vbr_du_msssim"), dist.load_table("hyperprior_vbr_su_error")


def _bench_like(shipped, K: int, link, seed: int, index: int) -> Problem:
    """Instance ``index`` of the stream K users, N_t = K, -4..12 dBW, L in {256, 4096}."""
    du, su = shipped
    rng = np.random.default_rng(seed)
    for _ in range(index + 1):
        H = (rng.standard_normal((K, K)) + 1j * rng.standard_normal((K, K))) / np.sqrt(2)
        pdb = rng.uniform(-4, 12)
        L = int(rng.choice([256, 4096]))
    tabs = [du if i % 2 == 0 else su for i in range(K)]
    w = np.where(np.arange(K) % 2 == 0, 0.8, 0.2)
    return Problem(H, 1.0, tabs, w, 10 ** (pdb / 10), T_PAPERLIKE, L, link)


@settings(max_examples=30, deadline=None)
@given(K=st.integers(1, 5), m=st.integers(1, 12))
def test_simplex_lattice(K: int, m: int) -> None:
    A = search.simplex_lattice(K, m)
    assert A.shape == (math.comb(m + K - 1, K - 1), K)
    np.testing.assert_allclose(A.sum(axis=1), 1.0)
    assert A.min() >= 0 and len({tuple(r) for r in np.round(A * m).astype(int)}) == A.shape[0]
    for v in np.eye(K):  # the vertices are in it
        assert np.any(np.all(np.isclose(A, v), axis=1))


def test_global_reference_beats_its_lattice_and_the_fast_solver() -> None:
    rng = np.random.default_rng(11)
    for _ in range(3):
        pr = make_problem(random_channel(rng, 3, 3), p_max=float(rng.uniform(0.5, 10)))
        g = solve_global(pr, m=40)
        lat = pr.p_max * search.simplex_lattice(3, 40)
        assert g.objective <= objective.evaluate(pr, lat, grad=False)[0].min() + 1e-12
        assert g.objective <= fast.solve_fast(pr).objective * (1 + 1e-9)
        assert g.power.sum() <= pr.p_max * (1 + 1e-9)
        np.testing.assert_allclose(np.linalg.norm(g.w, axis=1), 1.0)


@pytest.mark.parametrize(
    "link, seed, index, old_gap_pct",
    [
        (physical_link(), 3, 10, 98.1),  # optimum on a face (user 1 off); the old fast
        (RandomCodingLink(), 3, 13, 4.1),  # solver's starts and 6 transfer rounds missed it
        (RandomCodingLink(), 3, 14, 5.8),
        (physical_link(), 3003, 7, 8.2),  # the bench's k3_physical: needs a target move
    ],
)
def test_fast_finds_the_global_optimum_at_k3(shipped, link, seed, index, old_gap_pct) -> None:
    """Regressions: instances where the solver before the face starts, line searches and
    SINR-target moves was ``old_gap_pct`` above the global reference; now within 0.01 %."""
    pr = _bench_like(shipped, 3, link, seed, index)
    g = solve_global(pr, m=120)
    f = fast.solve_fast(pr)
    assert f.objective <= g.objective * (1 + 1e-4), (f.objective, g.objective, old_gap_pct)


def test_fast_switches_a_user_back_on_at_k4(shipped) -> None:
    """Regression (bench k4_physical, instance 33): the solver had user 1 off and the others
    two levels up, 21.5 % above the global reference; the SINR-target move that puts every
    user at its lowest knee finds the optimum with all four on. (With the codec's low-rate end,
    issue 26, the two semantic users are served at 24 and 48 bits with SINRs near 0.05-0.1.)"""
    pr = _bench_like(shipped, 4, physical_link(), 3004, 33)
    g = solve_global(pr, m=30)
    f = fast.solve_fast(pr)
    assert np.all(g.sinr > 0.02) and f.objective <= g.objective * (1 + 1e-3)
    assert np.all(f.sinr > 0.02)


def test_switched_off_user_is_planned_and_scored_at_its_maximum_distortion(shipped) -> None:
    du, su = shipped
    # user 1 sees almost nothing: whatever power it gets, its SINR is about 0
    H = np.array([[1.0, 0.2], [1e-5, 1e-5j]])
    for link, off in ((physical_link(), True), (RandomCodingLink(), False)):
        pr = Problem(H, 1.0, [du, su], [0.8, 0.2], 3.0, T_PAPERLIKE, 4096, link)
        sol = fast.solve_fast(pr)
        zero = pr.zero_sinr_distortion()
        assert sol.sinr[1] < 1e-8
        # planned: its distortion is that of SINR 0
        assert sol.distortion[1] == pytest.approx(zero[1], rel=1e-6)
        # scored: an allocation that gives it 0 W is evaluated at the same distortion
        s0 = pr.make_solution("x", sol.positions, [3.0, 0.0], sol.w, 0.0)
        assert s0.distortion[1] == pytest.approx(zero[1], rel=1e-9)
        if off:  # the physical link: a useless link (BER 1/2): random bits
            # chance level of 10 classes (error 0.9) within the tables' 400-image Monte-Carlo
            assert zero[1] >= 0.85
            # the best a point does with random bits: the low-rate end's fixed-length codes
            # still decode to some garment (MS-SSIM about 0.2), the hyperprior's to noise
            assert zero[0] >= 0.7 and zero[0] >= 0.95 * min(
                du.point_distortion(k, dist.X_MAX) for k in range(du.n_points)
            )
        else:  # eq. (14) as printed: BER <= 1/(R_c L), nearly error-free at 0 W
            assert zero[1] < 0.25 * su.max_distortion()


def _meets_eq19_or_infeasible(pr: Problem, sol) -> None:
    for i in range(pr.K):
        if i in sol.infeasible_users:
            assert sol.distortion[i] == pytest.approx(pr.tables[i].max_distortion())
        else:
            assert sol.rs_bits[i] <= sol.rc[i] * pr.T[i] * (1 + 1e-9)


@settings(max_examples=40, deadline=None)
@given(
    ratio=st.floats(0.05, 2.0),
    rc=st.lists(st.floats(0.1, 4.0), min_size=2, max_size=2),
    p_max=st.floats(0.3, 20.0),
    seed=st.integers(0, 1000),
)
def test_every_baseline_meets_eq19_or_is_reported_infeasible(ratio, rc, p_max, seed) -> None:
    classical = [
        dist.synthetic_table("du", seed=7, model="tabulated", robustness_shift=1.0),
        dist.synthetic_table("su", seed=8, model="tabulated", robustness_shift=1.0),
    ]
    H = random_channel(np.random.default_rng(seed), 2, 2)
    pr = make_problem(H, p_max=p_max)
    pr = Problem(pr.H, 1.0, pr.tables, pr.weights, p_max, ratio * 784, 256)
    sol = baselines.zf_wf_fixed_rc(pr, rc, classical)
    pc = pr.with_tables(classical)
    _meets_eq19_or_infeasible(pc, sol)
    for i, t in enumerate(classical):
        fits = t.rs_bits <= rc[i] * pr.T[i] * (1 + 1e-12)
        assert (i in sol.infeasible_users) == (not fits.any())
    assert sol.feasible == (not sol.infeasible_users)
    for s in (baselines.mrt_equal_power(pr), fast.solve_fast(pr)):
        assert s.feasible
        _meets_eq19_or_infeasible(pr, s)


def test_infeasible_baseline_is_scored_at_the_maximum() -> None:
    classical = [dist.synthetic_table("du", seed=7, model="tabulated", robustness_shift=1.0)] * 2
    pr = make_problem()
    sol = baselines.zf_wf_fixed_rc(pr, [1.8, 1e-3], classical)  # user 1: no rate fits
    assert sol.infeasible_users == [1] and not sol.feasible
    assert sol.distortion[1] == pytest.approx(classical[1].max_distortion())
    assert sol.objective == pytest.approx(float(np.dot(pr.weights, sol.distortion)))


# --------------------------------------------------------------------------------------------
# the branch and bound over the SINRs: minimal powers, the certificate, the seeds (issue 26)
# --------------------------------------------------------------------------------------------


def test_min_uplink_powers_reach_the_targets_and_prove_infeasibility() -> None:
    rng = np.random.default_rng(5)
    pr = make_problem(random_channel(rng, 3, 3), p_max=4.0)
    Q = pr.p_max * rng.dirichlet(np.ones(3), size=20)
    G = mmse_sinr(pr.hbar, Q, False)
    status, q = bruteforce.min_uplink_powers(pr.hbar, G, pr.p_max)
    assert np.all(status == 1)
    # the smallest powers for SINRs that Q reaches: no more than Q, the same SINRs
    assert np.all(q <= Q * (1 + 1e-6) + 1e-12)
    np.testing.assert_allclose(mmse_sinr(pr.hbar, q, False), G, rtol=1e-6)
    # on the Pareto boundary (sum Q = P_max) every target raised by 1 % is out of the budget
    status, _ = bruteforce.min_uplink_powers(pr.hbar, 1.01 * G, pr.p_max)
    assert np.all(status == -1)


def test_certified_lower_bound_is_below_every_allocation(shipped) -> None:
    """The branch and bound's lower bound is below the fast solver, random simplex points and
    the references' own result, and the reference is within the certified gap of it."""
    pr = _bench_like(shipped, 3, physical_link(), 3003, 7)
    cert = bruteforce.sinr_branch_and_bound(pr)
    assert cert.complete and cert.q is not None
    rng = np.random.default_rng(0)
    Q = pr.p_max * rng.dirichlet(np.ones(3), size=4000)
    f_rand = objective.evaluate(pr, Q, grad=False)[0]
    assert cert.lower_bound <= f_rand.min()
    # equal to about 1e-11 where the fast solver sits on the bound's own optimum
    assert cert.lower_bound <= fast.solve_fast(pr).objective * (1 + 1e-9)
    # the bound is tight: its own point is within a fraction of a percent of it
    assert cert.objective <= cert.lower_bound * 1.005
    assert cert.objective == pytest.approx(
        objective.evaluate(pr, cert.q[None], grad=False)[0][0], rel=1e-12
    )


@pytest.mark.parametrize("index, old_pct", [(43, 5.9), (45, 14.3)])
def test_global_reference_is_not_beaten_at_k4_physical(shipped, index, old_pct) -> None:
    """Regression (issue 26): on the bench's K = 4 physical suite the lattice reference
    (lattice, faces, nested grids, transfers) was ``old_pct`` above the fast solver and an
    independent search (on the tables before the codec's low-rate end; with today's tables
    the lattice alone happens to do better on these two instances); with the branch and
    bound's point refined too it is never above the fast solver or the lattice, within its
    certified gap of the optimum."""
    pr = _bench_like(shipped, 4, physical_link(), 3004, index)
    old = solve_global(pr, m=20, n_seeds=4, certify=False)
    g = solve_global(pr, m=20, n_seeds=4)
    f = fast.solve_fast(pr)
    assert g.objective <= old.objective * (1 + 1e-9)
    assert g.objective <= f.objective * (1 + 1e-9)
    assert g.diagnostics["lower_bound"] <= min(g.objective, f.objective) * (1 + 1e-9)
    assert g.diagnostics["certified_gap"] <= 1e-2


def test_global_reference_refines_other_solvers_solutions(shipped) -> None:
    """Seeded with another allocation's SINRs (mapped onto the simplex), the reference is at
    least as good as that allocation even without its own branch and bound."""
    pr = _bench_like(shipped, 4, physical_link(), 3004, 45)
    f = fast.solve_fast(pr)
    q = bruteforce.uplink_powers_for(pr, f.sinr[None])
    assert q.sum() == pytest.approx(pr.p_max) and np.all(
        mmse_sinr(pr.hbar, q, False) >= f.sinr * (1 - 1e-6)
    )
    s = solve_global(pr, m=20, n_seeds=4, seed_sinrs=f.sinr[None], certify=False)
    assert s.objective <= f.objective * (1 + 1e-9)


@pytest.mark.parametrize("index, old_pct", [(20, 1.1), (23, 2.3), (25, 2.0), (38, 22.7)])
def test_fast_reaches_the_certified_optimum_at_k4_physical(shipped, index, old_pct) -> None:
    """Regressions (issue 26, bench k4_physical): the fast solver was ``old_pct`` above the
    optimum (two users across rate levels at once; every user just below its lowest knee,
    where the knee targets themselves are out of the budget; instance 25, with the codec's
    low-rate end: a semantic user dropping from 444 to 48 bits while two data users go a level
    up, 2.0 %); it now reaches the branch and bound's best point."""
    pr = _bench_like(shipped, 4, physical_link(), 3004, index)
    cert = bruteforce.sinr_branch_and_bound(pr)
    f = fast.solve_fast(pr)
    assert f.objective <= cert.objective * (1 + 1e-6), (f.objective, cert.objective, old_pct)
    # the bound and the solution are evaluated by different paths (uplink q, downlink p):
    # they agree to about 1e-8 where the fast solver sits on the bound's optimum
    assert f.objective >= cert.lower_bound * (1 - 1e-6)
