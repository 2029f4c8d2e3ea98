"""Problem (P1) bookkeeping and the Solution record (eqs. (7), (14), (15), (19))."""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio.semdacom import messages
from opt_helpers import make_problem

from semdacom.mu_ascc.optimizer.problem import Problem
from semdacom.phy import beamforming as bf
from semdacom.phy import fbl


def test_objective_is_eq15_written_out(paper_problem: Problem) -> None:
    pr = paper_problem
    p = np.array([1.2, 1.8])
    W = bf.mrt_beamformers(pr.hbar)
    rs = np.array([500.0, 300.0])
    sinr = bf.downlink_sinr(pr.H, p, W, pr.noise_var)
    expected = 0.0
    for i in range(2):
        x = fbl.log10_ber(sinr[i], rs[i] / pr.T[i], pr.L)
        expected += pr.weights[i] * pr.tables[i].distortion(rs[i], x)
    assert pr.objective(rs, pr.sinr(p, W)) == pytest.approx(float(expected), rel=1e-12)


def test_noise_normalisation_matches_eq7() -> None:
    rng = np.random.default_rng(3)
    H = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    nv = np.array([0.5, 2.0])
    pr = make_problem(H, noise_var=nv)
    W = bf.mrt_beamformers(H)
    p = np.array([1.0, 2.0])
    np.testing.assert_allclose(pr.sinr(p, W), bf.downlink_sinr(H, p, W, nv), rtol=1e-12)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"p_max": 0.0}, "p_max"),
        ({"L": 0}, "L"),
        ({"noise_var": -1.0}, "noise_var"),
    ],
)
def test_bad_problems_are_rejected(kw, match) -> None:
    with pytest.raises(ValueError, match=match):
        make_problem(**kw)


def test_nan_channel_is_rejected() -> None:
    H = bf.paper_channel()
    H[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        make_problem(H)


def test_best_positions_is_an_exhaustive_search(paper_problem: Problem) -> None:
    sinr = np.array([3.0, 8.0])
    pos, d = paper_problem.best_positions(sinr)
    for i, t in enumerate(paper_problem.tables):
        all_d = [
            t.point_distortion(n, fbl.log10_ber(sinr[i], t.rs_bits[n] / paper_problem.T[i], 256))
            for n in range(t.n_points)
        ]
        assert pos[i] == int(np.argmin(all_d)) and d[i] == pytest.approx(min(all_d))


def test_solution_becomes_a_valid_allocation(paper_problem: Problem) -> None:
    W = bf.mrt_beamformers(paper_problem.hbar)
    sol = paper_problem.make_solution("test", [1, 2], [1.0, 2.0], W, 1.5)
    fields = sol.allocation_fields(seq=7)
    back = messages.alloc_from_pmt(
        messages.alloc_to_pmt(messages.Allocation(**fields)), k=2, n_t=2, p_max=3.0
    )
    assert back.seq == 7 and back.solver == "test" and back.rate_index.tolist() == [1, 2]
    np.testing.assert_allclose(back.rc * paper_problem.T, back.rs_bits)
