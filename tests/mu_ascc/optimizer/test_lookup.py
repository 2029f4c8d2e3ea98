"""The candidate lookup of the fast path (optimizer/lookup.py) and its cache."""

from __future__ import annotations

import numpy as np
import pytest
from opt_helpers import ShiftedLink, make_problem, random_channel
from test_faithful import check_allocation

from semdacom.mu_ascc import distortion as dist
from semdacom.mu_ascc.optimizer import fast, lookup, objective
from semdacom.phy import link


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
        kw["link"] = ShiftedLink()
    pr = make_problem(random_channel(np.random.default_rng(L), 3, 3), L=L, **kw)
    lk, _ = lookup.lookup(pr)
    g = _sinr_samples(np.random.default_rng(L + 1), 20_000, 3)
    f, pos = objective.objective_batch(pr, g, grad=False)
    fl, posl = lookup.objective_lookup(pr, lk, g)
    np.testing.assert_array_equal(fl, f)
    np.testing.assert_array_equal(posl, pos)
    np.testing.assert_allclose(lookup.lookup_values(pr, lk, g), f, rtol=1e-13, atol=0)
    f, pos, dfdg = objective.objective_batch(pr, g[:2000], grad=True)
    fl, posl, dfdgl = lookup.objective_lookup(pr, lk, g[:2000], grad=True)
    np.testing.assert_array_equal(dfdgl, dfdg)


def test_lookup_objective_with_tabulated_distortion_tables() -> None:
    tabs = [dist.synthetic_table("du", seed=7, model="tabulated", robustness_shift=1.0)]
    tabs.append(dist.synthetic_table("su", seed=8, model="tabulated", robustness_shift=1.0))
    pr = make_problem().with_tables(tabs)
    lk, _ = lookup.lookup(pr)
    g = _sinr_samples(np.random.default_rng(3), 5000, 2)
    f, pos = objective.objective_batch(pr, g, grad=False)
    fl, posl = lookup.objective_lookup(pr, lk, g)
    np.testing.assert_array_equal(fl, f)
    np.testing.assert_array_equal(posl, pos)
    np.testing.assert_allclose(lookup.lookup_values(pr, lk, g), f, rtol=1e-13, atol=0)
    check_allocation(pr, fast.solve_fast(pr))


def test_lookup_is_built_once_per_table_set() -> None:
    lookup.clear_lookup_cache()
    pr = make_problem(p_max=3.0, L=256)
    s1 = fast.solve_fast(pr)
    info = lookup.lookup_cache_info()
    assert info["builds"] == 2 and s1.diagnostics["lookup_build_ms"] > 0.0
    # a new channel, budget, weights and link instance of the same kind: no rebuild
    rng = np.random.default_rng(5)
    pr2 = make_problem(random_channel(rng, 2, 4), p_max=1.0, L=256, link=link.RandomCodingLink())
    pr2.weights = np.array([0.3, 0.7])
    s2 = fast.solve_fast(pr2)
    assert s2.diagnostics["lookup_build_ms"] == 0.0
    assert lookup.lookup(pr2)[0] is lookup.lookup(pr)[0]
    info2 = lookup.lookup_cache_info()
    assert info2["builds"] == 2 and info2["hits"] >= 2
    check_allocation(pr2, s2)
    # another blocklength or link form is another table set
    fast.solve_fast(make_problem(L=4096))
    fast.solve_fast(make_problem(link=link.RandomCodingLink(paper_form=True)))
    assert lookup.lookup_cache_info()["builds"] == 6
    # swapping in other table objects rebuilds for them
    other = [dist.synthetic_table("du", seed=1), dist.synthetic_table("su", seed=2)]
    fast.solve_fast(pr.with_tables(other))
    assert lookup.lookup_cache_info()["builds"] == 8
