"""Fast solver (no cvxpy), brute-force reference and baselines."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from opt_helpers import make_problem, random_channel
from test_faithful import check_allocation

from semdacom.mu_ascc import baselines
from semdacom.mu_ascc import distortion as dist
from semdacom.mu_ascc.optimizer import fast, jrpb
from semdacom.mu_ascc.optimizer.bruteforce import solve_bruteforce
from semdacom.phy import beamforming as bf
from semdacom.phy import fbl, link


@settings(max_examples=100, deadline=None)
@given(
    y=hnp.arrays(np.float64, st.integers(1, 9), elements=st.floats(-10, 10)),
    total=st.floats(0.1, 20.0),
)
def test_project_simplex(y: np.ndarray, total: float) -> None:
    x = fast.project_simplex(y[None], total)[0]
    assert x.min() >= 0 and x.sum() == pytest.approx(total, rel=1e-9)
    np.testing.assert_allclose(fast.project_simplex(x[None], total)[0], x, atol=1e-9)
    # the projection is at least as close as any other simplex point we try
    rng = np.random.default_rng(0)
    others = total * rng.dirichlet(np.ones(y.size), 50)
    assert np.linalg.norm(x - y) <= np.min(np.linalg.norm(others - y, axis=1)) + 1e-9


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 5), n_t=st.integers(1, 6))
def test_mmse_sinr_matches_eq33_with_eq43_beams(seed: int, k: int, n_t: int) -> None:
    rng = np.random.default_rng(seed)
    hbar = random_channel(rng, k, n_t)
    Q = rng.uniform(0.0, 3.0, (3, k))
    gamma, jac = fast.mmse_sinr(hbar, Q)
    for s in range(3):
        W = bf.mmse_beamformers(hbar, Q[s])
        np.testing.assert_allclose(gamma[s], bf.uplink_sinr(hbar, Q[s], W), rtol=1e-8, atol=1e-12)
        for j in range(k):
            dq = np.zeros(k)
            dq[j] = 1e-6
            fd = (fast.mmse_sinr(hbar, (Q[s] + dq)[None], False)[0] - gamma[s]) / 1e-6
            np.testing.assert_allclose(jac[s, :, j], fd, rtol=1e-3, atol=1e-5)


def test_objective_gradient_matches_finite_differences() -> None:
    pr = make_problem(random_channel(np.random.default_rng(2), 3, 3), p_max=4.0)
    Q = np.array([[1.0, 2.0, 1.0], [0.3, 0.2, 3.5]])
    f, pos, G = fast._evaluate(pr, Q)
    for j in range(3):
        dq = np.zeros(3)
        dq[j] = 1e-6
        f2, pos2 = fast._evaluate(pr, Q + dq, grad=False)
        same = np.all(pos2 == pos, axis=1)
        np.testing.assert_allclose(((f2 - f) / 1e-6)[same], G[same, j], rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("L", [256, 4096])
def test_fast_matches_bruteforce_and_beats_faithful_on_random_channels(L: int) -> None:
    rng = np.random.default_rng(L)
    for trial in range(6):
        H = bf.paper_channel() if trial == 0 else random_channel(rng, 2, 2)
        pr = make_problem(H, p_max=float(rng.choice([1.0, 3.0, 6.3])), L=L)
        sf = fast.solve_fast(pr)
        sb = solve_bruteforce(pr, n_grid=2001, n_local=201)
        check_allocation(pr, sf)
        assert sf.objective <= sb.objective * (1 + 5e-3)
        assert sf.objective <= jrpb.solve_faithful(pr).objective * (1 + 1e-9)


def test_fast_k4_beats_simple_allocations() -> None:
    rng = np.random.default_rng(11)
    pr = make_problem(random_channel(rng, 4, 4), p_max=5.0)
    sol = fast.solve_fast(pr)
    check_allocation(pr, sol)
    assert sol.diagnostics["iterations"] >= 1
    trace = sol.diagnostics["trace"]
    assert np.all(np.diff(trace) <= 0)
    assert sol.objective <= baselines.mrt_equal_power(pr).objective + 1e-12
    # and at least as good as equal uplink powers with MMSE beams (its own start point)
    q = np.full(4, 5.0 / 4)
    W = bf.mmse_beamformers(pr.hbar, q)
    p = bf.downlink_powers_from_uplink(pr.hbar, q, W)
    pos, _ = pr.best_positions(pr.sinr(p, W))
    assert sol.objective <= pr.make_solution("eq", pos, p, W, 0).objective + 1e-12


class _ShiftedLink(link.LinkModel):
    """A code 3 dB better than random coding (stands in for a tabulated link)."""

    name = "shifted"

    def log10_ber(self, sinr, rc, L):
        return fbl.log10_ber(2.0 * np.asarray(sinr), rc, L)

    def log10_ber_and_grad(self, sinr, rc, L):
        v, dg, drc = fbl.log10_ber_and_grad(2.0 * np.asarray(sinr), rc, L)
        return v, 2.0 * dg, drc


def test_fast_plans_for_any_link_model() -> None:
    pr_rc = make_problem(p_max=1.0)
    pr_sh = make_problem(p_max=1.0, link=_ShiftedLink())
    a, b = fast.solve_fast(pr_rc), fast.solve_fast(pr_sh)
    assert b.objective < a.objective  # a better code gives lower distortion
    check_allocation(pr_sh, b)


def test_bruteforce_is_for_two_users() -> None:
    with pytest.raises(ValueError, match="K = 2"):
        solve_bruteforce(make_problem(random_channel(np.random.default_rng(0), 3, 3)))


def test_zf_wf_fixed_rc_baseline(paper_problem) -> None:
    pr = paper_problem
    classical = [dist.synthetic_table("du", seed=7, model="tabulated", robustness_shift=1.0)]
    classical.append(dist.synthetic_table("su", seed=8, model="tabulated", robustness_shift=1.0))
    sol = baselines.zf_wf_fixed_rc(pr, [1.8, 1.3], classical)
    G = bf.gain_matrix(pr.hbar, sol.w)
    assert G[0, 1] == pytest.approx(0, abs=1e-20) and G[1, 0] == pytest.approx(0, abs=1e-20)
    assert sol.power.sum() == pytest.approx(pr.p_max)
    np.testing.assert_array_equal(sol.rc, [1.8, 1.3])
    assert np.all(sol.rs_bits <= sol.rc * pr.T) and all(sol.diagnostics["delay_met"])
    for i, t in enumerate(classical):  # the largest table rate that meets the delay budget
        assert t.rs_bits[sol.positions[i] + 1] > sol.rc[i] * pr.T[i]
    assert sol.objective >= fast.solve_fast(pr).objective


def test_zf_wf_djscc_baseline(paper_problem) -> None:
    tabs = [dist.synthetic_snr_table("du", seed=1), dist.synthetic_snr_table("su", seed=2)]
    sol = baselines.zf_wf_djscc(paper_problem, tabs, bandwidth_ratio=1 / 6)
    assert sol.rate_index is None and sol.allocation_fields()["power"].size == 2
    for i, t in enumerate(tabs):
        k = sol.diagnostics["djscc_points"][i]
        assert t.train_snr_db[k] == 10.0
        assert sol.distortion[i] == pytest.approx(
            float(t.distortion(k, 10 * np.log10(sol.sinr[i])))
        )


def test_mrt_equal_power_baseline(paper_problem) -> None:
    sol = baselines.mrt_equal_power(paper_problem)
    np.testing.assert_allclose(sol.power, [1.5, 1.5])
    np.testing.assert_allclose(sol.w, bf.mrt_beamformers(paper_problem.hbar))
    check_allocation(paper_problem, sol)


def test_zf_needs_enough_antennas() -> None:
    pr = make_problem(random_channel(np.random.default_rng(1), 3, 2))
    with pytest.raises(ValueError, match="K <= N_t"):
        baselines.zf_wf_fixed_rc(pr, 1.0)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 100_000),
    k=st.integers(1, 5),
    extra=st.integers(0, 2),
    p_dbw=st.floats(-6.0, 12.0),
    L=st.sampled_from([128, 256, 4096]),
)
def test_fast_allocations_always_feasible(seed: int, k: int, extra: int, p_dbw: float, L: int):
    """Power budget (18), delay (19), unit beams (20), table rates, schema: for any channel."""
    rng = np.random.default_rng(seed)
    H = random_channel(rng, k, k + extra) * rng.uniform(0.1, 3.0)
    pr = make_problem(H, p_max=10 ** (p_dbw / 10), L=L)
    sol = fast.solve_fast(pr)
    check_allocation(pr, sol)
    assert sol.objective <= baselines.mrt_equal_power(pr).objective + 1e-12


def test_link_from_spec() -> None:
    from semdacom.mu_ascc.optimizer.problem import link_from_spec

    assert isinstance(link_from_spec("random_coding"), link.RandomCodingLink)
    assert link_from_spec("random_coding_paper").paper_form
    sh = _ShiftedLink()
    assert link_from_spec(sh) is sh


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 6), extra=st.integers(0, 2))
def test_transfer_sinrs_match_a_fresh_mmse_evaluation(seed: int, k: int, extra: int) -> None:
    """The rank-2 Woodbury update gives the same SINRs as recomputing eq. (33) with eq. (43)."""
    rng = np.random.default_rng(seed)
    hbar = random_channel(rng, k, k + extra)
    q0 = rng.uniform(0.1, 2.0, k)
    C0 = fast.mmse_gram(hbar, q0[None])[0]
    i = rng.integers(0, k, 6)
    j = (i + rng.integers(1, k, 6)) % k
    a = q0[i] * rng.uniform(0.0, 1.0, 6)
    gam, Q = fast.transfer_sinrs(C0, q0, i, j, a)
    np.testing.assert_allclose(Q.sum(axis=1), q0.sum(), rtol=1e-12)
    np.testing.assert_allclose(gam, fast.mmse_sinr(hbar, Q, grad=False), rtol=1e-7, atol=1e-10)


def test_fast_plans_for_the_measured_link_when_shipped() -> None:
    from semdacom.mu_ascc.optimizer.problem import link_from_spec

    try:
        lk = link_from_spec("tabulated")
    except (ValueError, FileNotFoundError) as exc:
        pytest.skip(f"no measured link tables in this checkout: {exc}")
    pr = make_problem(p_max=3.0, link=lk)
    sol = fast.solve_fast(pr)
    check_allocation(pr, sol)
    assert sol.objective <= baselines.mrt_equal_power(pr).objective + 1e-12
    with pytest.raises(ValueError, match="random-coding"):
        jrpb.solve_faithful(pr)


# --- the candidate lookup of the fast path (optimize.mu_ascc.fast.lookup) ------------------------


def _sinr_samples(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """SINRs over -90..+110 dB, with SINR 0 and extreme values included."""
    g = np.exp(rng.uniform(np.log(1e-9), np.log(1e11), (n, k)))
    g[0], g[1], g[2] = 0.0, 1e300, 1e-300
    return g


@pytest.mark.parametrize("L", [128, 256, 4096])
@pytest.mark.parametrize("link_model", [None, "paper", "shifted"])
def test_lookup_objective_equals_trying_every_point(L: int, link_model) -> None:
    """Evaluating only the lookup's candidates gives min_n D_i^n exactly (values, positions,
    gradients), for the random-coding link (both forms) and any other link model."""
    kw = {}
    if link_model == "paper":
        kw["link"] = link.RandomCodingLink(paper_form=True)
    elif link_model == "shifted":
        kw["link"] = _ShiftedLink()
    pr = make_problem(random_channel(np.random.default_rng(L), 3, 3), L=L, **kw)
    lk, _ = fast.lookup(pr)
    g = _sinr_samples(np.random.default_rng(L + 1), 20_000, 3)
    f, pos = fast.objective_batch(pr, g, grad=False)
    fl, posl = fast.objective_lookup(pr, lk, g)
    np.testing.assert_array_equal(fl, f)
    np.testing.assert_array_equal(posl, pos)
    np.testing.assert_allclose(fast._values(pr, lk, g), f, rtol=1e-13, atol=0)
    f, pos, dfdg = fast.objective_batch(pr, g[:2000], grad=True)
    fl, posl, dfdgl = fast.objective_lookup(pr, lk, g[:2000], grad=True)
    np.testing.assert_array_equal(dfdgl, dfdg)


def test_lookup_objective_with_tabulated_distortion_tables() -> None:
    tabs = [dist.synthetic_table("du", seed=7, model="tabulated", robustness_shift=1.0)]
    tabs.append(dist.synthetic_table("su", seed=8, model="tabulated", robustness_shift=1.0))
    pr = make_problem().with_tables(tabs)
    lk, _ = fast.lookup(pr)
    g = _sinr_samples(np.random.default_rng(3), 5000, 2)
    f, pos = fast.objective_batch(pr, g, grad=False)
    fl, posl = fast.objective_lookup(pr, lk, g)
    np.testing.assert_array_equal(fl, f)
    np.testing.assert_array_equal(posl, pos)
    np.testing.assert_allclose(fast._values(pr, lk, g), f, rtol=1e-13, atol=0)
    check_allocation(pr, fast.solve_fast(pr))


def test_lookup_is_built_once_per_table_set() -> None:
    fast.clear_lookup_cache()
    pr = make_problem(p_max=3.0, L=256)
    s1 = fast.solve_fast(pr)
    info = fast.lookup_cache_info()
    assert info["builds"] == 2 and s1.diagnostics["lookup_build_ms"] > 0.0
    # a new channel, budget, weights and link instance of the same kind: no rebuild
    rng = np.random.default_rng(5)
    pr2 = make_problem(random_channel(rng, 2, 4), p_max=1.0, L=256, link=link.RandomCodingLink())
    pr2.weights = np.array([0.3, 0.7])
    s2 = fast.solve_fast(pr2)
    assert s2.diagnostics["lookup_build_ms"] == 0.0
    assert fast.lookup(pr2)[0] is fast.lookup(pr)[0]
    info2 = fast.lookup_cache_info()
    assert info2["builds"] == 2 and info2["hits"] >= 2
    check_allocation(pr2, s2)
    # another blocklength or link form is another table set
    fast.solve_fast(make_problem(L=4096))
    fast.solve_fast(make_problem(link=link.RandomCodingLink(paper_form=True)))
    assert fast.lookup_cache_info()["builds"] == 6
    # swapping in other table objects rebuilds for them
    other = [dist.synthetic_table("du", seed=1), dist.synthetic_table("su", seed=2)]
    fast.solve_fast(pr.with_tables(other))
    assert fast.lookup_cache_info()["builds"] == 8


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), p_dbw=st.floats(-3.0, 9.0), L=st.sampled_from([256, 4096]))
def test_lookup_fast_path_never_worse_than_faithful(seed: int, p_dbw: float, L: int) -> None:
    """The lookup-based fast path returns the exact objective of its allocation, and it is
    never above the faithful JRPB's (nor above the exhaustive grid's by more than 0.5 %)."""
    rng = np.random.default_rng(seed)
    pr = make_problem(random_channel(rng, 2, 2), p_max=10 ** (p_dbw / 10), L=L)
    sf = fast.solve_fast(pr)
    check_allocation(pr, sf)
    again = pr.make_solution("x", sf.positions, sf.power, sf.w, 0.0).objective
    assert sf.objective == pytest.approx(again, rel=1e-12)
    assert sf.objective <= jrpb.solve_faithful(pr).objective * (1 + 1e-9)
    assert sf.objective <= solve_bruteforce(pr, n_grid=2001, n_local=201).objective * (1 + 5e-3)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_t=st.integers(1, 5), scale=st.floats(0.05, 5.0))
def test_two_user_closed_form_and_final_step(seed: int, n_t: int, scale: float) -> None:
    """Closed-form 2-user MMSE SINRs and the unchecked beams/duality step match core.beamforming."""
    rng = np.random.default_rng(seed)
    hbar = random_channel(rng, 2, n_t) * scale
    a = np.concatenate([[0.0, 1.0], rng.uniform(0.0, 1.0, 30)])
    P = float(rng.uniform(0.1, 10.0))
    Q = P * np.stack([a, 1.0 - a], axis=1)
    ref = fast.mmse_sinr(hbar, Q, grad=False)
    np.testing.assert_allclose(fast.two_user_sinr(hbar, Q[:, 0], Q[:, 1]), ref, rtol=1e-9)
    np.testing.assert_allclose(fast._Splits(fast._gram2(hbar), P)(a), ref, rtol=1e-9)
    gram = fast._gram2(hbar)
    for q in Q[:6]:  # both users on, and one user at zero power
        W0 = bf.mmse_beamformers(hbar, q)
        try:
            p0 = bf.downlink_powers_from_uplink(hbar, q, W0)
        except ValueError:
            p0 = q.copy()
        for W, p, sinr in (
            fast._beams_and_downlink(hbar, q, P),
            fast._beams_and_downlink_2(hbar, gram, q, P),
        ):
            np.testing.assert_allclose(W, W0, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(p, p0, rtol=1e-7, atol=1e-12 * P)
            np.testing.assert_allclose(sinr, bf.downlink_sinr(hbar, p, W, 1.0), rtol=1e-7)
