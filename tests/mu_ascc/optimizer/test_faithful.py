"""Faithful JRPB (MU-ASCC Sec. IV, Alg. 1-3): properties of each step and of the whole."""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio.semdacom import messages
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opt_helpers import make_problem, random_channel

from semdacom.mu_ascc.optimizer import jrpb
from semdacom.mu_ascc.optimizer.problem import Problem, Solution
from semdacom.phy import beamforming as bf
from semdacom.phy import fbl


def check_allocation(pr: Problem, sol: Solution) -> None:
    """Power budget (18), delay (19), unit beams (20), table rates (16)/(17), message schema."""
    assert sol.power.min() >= 0 and sol.power.sum() <= pr.p_max * (1 + 1e-9)
    np.testing.assert_allclose(np.linalg.norm(sol.w, axis=1), 1.0, atol=1e-9)
    assert np.all(sol.rs_bits / sol.rc <= pr.T * (1 + 1e-12))
    for i, t in enumerate(pr.tables):
        assert sol.rs_bits[i] in t.rs_bits
    fields = sol.allocation_fields(seq=1)
    msg = messages.alloc_to_pmt(messages.Allocation(**fields))
    back = messages.alloc_from_pmt(msg, k=pr.K, n_t=pr.n_t, p_max=pr.p_max)
    np.testing.assert_array_equal(back.rate_index, sol.rate_index)
    # the recorded objective is eq. (15) at the recorded allocation
    assert sol.objective == pytest.approx(pr.objective(sol.rs_bits, pr.sinr(sol.power, sol.w)))


@pytest.mark.parametrize("L, p_max", [(256, 1.0), (256, 6.3), (4096, 3.0)])
def test_paper_channel(L: int, p_max: float) -> None:
    pr = make_problem(p_max=p_max, L=L)
    sol = jrpb.solve_faithful(pr)
    trace = sol.diagnostics["trace"]
    assert len(trace) >= 2 and trace[-1] < trace[0]
    assert np.all(np.diff(trace) <= 1e-12), "AO objective must not increase"
    check_allocation(pr, sol)
    # Sec. IV-D: the discrete rates are the relaxed ones rounded down
    relaxed = np.asarray(sol.diagnostics["relaxed_rs"])
    assert np.all(sol.rs_bits <= relaxed * (1 + 1e-9))
    # the re-solve after rounding never makes things worse
    assert sol.objective <= sol.diagnostics["discrete_objective_before_resolve"] + 1e-12


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), p_max=st.sampled_from([0.5, 3.0, 8.0]))
def test_random_channels_ao_monotone_and_feasible(seed: int, p_max: float) -> None:
    pr = make_problem(random_channel(np.random.default_rng(seed), 2, 2), p_max=p_max)
    sol = jrpb.solve_faithful(pr, time_limit_s=10.0)
    assert np.all(np.diff(sol.diagnostics["trace"]) <= 1e-12)
    check_allocation(pr, sol)


def test_alg1_descends_from_the_lowest_rate(paper_problem: Problem) -> None:
    pr = paper_problem
    sinr = np.array([4.0, 2.0])
    rs, its = jrpb.alg1_rates(pr, sinr)
    assert its > 0
    for i, t in enumerate(pr.tables):
        assert t.rs_min <= rs[i] <= t.rs_max

        def f(r: float, i: int = i, t=t) -> float:
            return float(t.distortion(r, fbl.log10_ber(sinr[i], r / pr.T[i], 256)))

        assert f(rs[i]) < f(t.rs_min)
        # a local minimum: no better rate nearby
        h = 1e-3 * (t.rs_max - t.rs_min)
        assert f(rs[i]) <= min(f(max(rs[i] - h, t.rs_min)), f(min(rs[i] + h, t.rs_max))) + 1e-6


def test_alg2_sca_is_monotone_and_within_budget(paper_problem: Problem) -> None:
    pr = paper_problem
    q0 = np.array([1.5, 1.5])
    W = bf.mmse_beamformers(pr.hbar, q0)
    rs = np.array([600.0, 400.0])
    q, trace, solves = jrpb.alg2_power(pr, rs, W, q0)
    assert solves >= 1 and len(trace) >= 2
    assert np.all(np.diff(trace) <= 0)
    assert q.min() >= 0 and q.sum() <= pr.p_max * (1 + 1e-9)


def test_p62_expansion_point_is_feasible_and_solution_is_conservative() -> None:
    """The SCA surrogate (P6.2) is tight at its expansion point and an inner approximation."""
    pr = make_problem(random_channel(np.random.default_rng(5), 3, 3), p_max=4.0)
    K = pr.K
    model = jrpb._P62(K)
    q_n = np.array([1.0, 2.0, 0.5])
    W = bf.mmse_beamformers(pr.hbar, q_n)
    rs = np.array([400.0, 300.0, 700.0])
    rc = pr.rc(rs)
    params = tuple(
        np.array(c) for c in zip(*[t.params(rs[i]) for i, t in enumerate(pr.tables)], strict=True)
    )
    model.set_point(pr, rc, params, W, q_n, paper_form=False)
    gam = bf.uplink_sinr(pr.hbar, q_n, W)
    g = np.sqrt(1 - (1 + gam) ** -2)
    rho = np.sqrt(256) * (np.log1p(gam) - rc * np.log(2)) / g
    model.q.value, model.zeta.value, model.xi.value = q_n, gam, gam
    model.g.value, model.rho.value = g, rho
    model.u.value = model.un.value
    model.tau.value = 1 / (1 + model.u.value)
    for c in model.prob.constraints:
        assert np.all(np.asarray(c.violation()) <= 1e-7 * (1 + np.abs(rho).max()))
    # the surrogate's optimum: its slacks bound the true SINRs from the right side
    q = model.solve(5.0)
    assert q is not None
    true = bf.uplink_sinr(pr.hbar, q, W)
    assert np.all(model.zeta.value <= true * (1 + 1e-5) + 1e-6)
    assert np.all(model.xi.value >= true * (1 - 1e-5) - 1e-6)


def test_faithful_refuses_other_links() -> None:
    class Other(jrpb.RandomCodingLink.__mro__[1]):  # a LinkModel that is not random coding
        name = "other"

        def log10_ber(self, sinr, rc, L):
            return fbl.log10_ber(sinr, rc, L)

        def log10_ber_and_grad(self, sinr, rc, L):
            return fbl.log10_ber_and_grad(sinr, rc, L)

    with pytest.raises(ValueError, match="random-coding"):
        jrpb.solve_faithful(make_problem(link=Other()))


def test_paper_form_dispersion_is_supported() -> None:
    """With the dispersion as printed (paper_form) the SCA scales its Q argument to match."""
    pr = make_problem(p_max=3.0, link=jrpb.RandomCodingLink(paper_form=True))
    model = jrpb._P62(2)
    q_n = np.array([1.0, 2.0])
    W = bf.mmse_beamformers(pr.hbar, q_n)
    rs = np.array([500.0, 400.0])
    params = tuple(
        np.array(c) for c in zip(*[t.params(rs[i]) for i, t in enumerate(pr.tables)], strict=True)
    )
    model.set_point(pr, pr.rc(rs), params, W, q_n, paper_form=True)
    gam = bf.uplink_sinr(pr.hbar, q_n, W)
    rho_true = fbl.q_argument(gam, pr.rc(rs), pr.L, paper_form=True)
    # the tangent of (62) passes through the true log10 BER at the expansion point
    x_true = fbl.log10_ber(gam, pr.rc(rs), pr.L, paper_form=True)
    lhs = model.k62.value * rho_true
    a1, a0 = params[2], params[3]
    np.testing.assert_allclose(
        model.c62.value - lhs, 1 - np.log(model.un.value) + a1 * a0 - a1 * x_true, rtol=1e-9
    )
    sol = jrpb.solve_faithful(pr)
    check_allocation(pr, sol)
