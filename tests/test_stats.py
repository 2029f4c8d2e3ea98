"""``semdacom._stats``: the two-level bootstrap intervals of the controlled comparisons."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semdacom._stats import bootstrap_ci, bootstrap_diff_ci


def test_bootstrap_interval():
    rng = np.random.default_rng(0)
    d = 0.5 + 0.1 * rng.standard_normal((3, 2000))
    r = bootstrap_ci(d, n_boot=400)
    assert r["ci95"][0] < r["mean"] < r["ci95"][1] and r["ci95"][0] > 0.4
    # seeds that disagree widen the interval: it covers the spread of the seed means
    d2 = d + np.array([[-0.5], [0.0], [0.5]])
    r2 = bootstrap_ci(d2, n_boot=400)
    assert r2["ci95"][1] - r2["ci95"][0] > 5 * (r["ci95"][1] - r["ci95"][0])
    assert bootstrap_ci(np.full((2, 5), 0.3))["ci95"] == pytest.approx([0.3, 0.3])
    with pytest.raises(ValueError, match="seeds, items"):
        bootstrap_ci(np.zeros(4))


def test_difference_of_two_gains():
    rng = np.random.default_rng(1)
    a = 0.6 + 0.1 * rng.standard_normal((3, 1000))
    b = 0.2 + 0.1 * rng.standard_normal((3, 800))  # other items, the same seeds
    r = bootstrap_diff_ci(a, b, n_boot=400)
    assert r["mean"] == pytest.approx(a.mean() - b.mean())
    assert 0.3 < r["ci95"][0] < r["mean"] < r["ci95"][1] < 0.5
    # a seed effect common to both gains cancels (paired over seeds)
    shift = np.array([[-0.5], [0.0], [0.5]])
    r2 = bootstrap_diff_ci(a + shift, b + shift, n_boot=400)
    assert r2["ci95"][1] - r2["ci95"][0] < 2 * (r["ci95"][1] - r["ci95"][0])
    with pytest.raises(ValueError, match="same seeds"):
        bootstrap_diff_ci(a, b[:2])


@settings(max_examples=30, deadline=None)
@given(
    seeds=st.integers(1, 4),
    items=st.integers(1, 30),
    shift=st.floats(-100, 100, allow_nan=False),
    seed=st.integers(0, 2**16),
)
def test_intervals_move_with_a_shift_of_the_data(seeds, items, shift, seed):
    d = np.random.default_rng(seed).standard_normal((seeds, items))
    r, rs = bootstrap_ci(d, n_boot=50), bootstrap_ci(d + shift, n_boot=50)
    assert rs["mean"] == pytest.approx(r["mean"] + shift, abs=1e-9)
    assert rs["ci95"] == pytest.approx([v + shift for v in r["ci95"]], abs=1e-9)
    assert r["ci95"][0] <= r["ci95"][1]
    q = bootstrap_diff_ci(d + shift, d, n_boot=50)
    assert q["mean"] == pytest.approx(shift, abs=1e-9)
