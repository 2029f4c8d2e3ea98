"""Property tests of sc_sfma/xi.py: eq. (10) of SC-SFMA (docs/sc_sfma/model.md), its fit and
the pair classes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sfma_strategies import finite, ratio, snr, xi_params

from semdacom.sc_sfma import model as sfma


def test_pair_class():
    assert sfma.pair_class(3, 3) == "same"
    assert sfma.pair_class(0, 6) == "related"  # T-shirt, Shirt: tops
    assert sfma.pair_class(9, 5) == "related"  # Ankle boot, Sandal: footwear
    assert sfma.pair_class(1, 8) == "dissimilar"  # Trouser, Bag
    assert sfma.pair_class(0, 7) == "dissimilar"
    counts = {c: 0 for c in sfma.PAIR_CLASSES}
    for a in range(10):
        for b in range(10):
            assert sfma.pair_class(a, b) == sfma.pair_class(b, a)
            counts[sfma.pair_class(a, b)] += 1
    # 10 same; tops 5*4 + footwear 3*2 ordered related pairs
    assert counts == {"same": 10, "related": 26, "dissimilar": 64}
    for bad in [(-1, 0), (10, 2), (1.5, 1)]:
        with pytest.raises(ValueError):
            sfma.pair_class(*bad)


@settings(max_examples=200, deadline=None)
@given(xi_params(), snr, snr, ratio, ratio)
def test_xi_monotone_and_bounded(p, s1, s2, v1, v2):
    s_lo, s_hi = sorted((s1, s2))
    v_lo, v_hi = sorted((v1, v2))
    x = sfma.xi(np.array([s_lo, s_hi, s_lo, s_hi]), np.array([v_lo, v_lo, v_hi, v_hi]), p)
    tol = 1e-12
    assert np.all(x >= p["xi_lo"] - tol) and np.all(x <= p["xi_hi"] + tol)
    assert x[1] <= x[0] + tol and x[3] <= x[2] + tol  # non-increasing in s
    assert x[2] <= x[0] + tol and x[3] <= x[1] + tol  # non-increasing in nu
    ds, dv = sfma.xi_grad(np.array([s1, s2]), np.array([v1, v2]), p)
    assert np.all(ds <= 0) and np.all(dv <= 0)


@settings(max_examples=150, deadline=None)
@given(xi_params(), st.floats(-10, 40, **finite), st.floats(0.05, 0.95, **finite))
def test_xi_derivatives_match_finite_differences(p, s, v):
    h_s, h_v = 1e-4, 1e-6
    ds, dv = sfma.xi_grad(s, v, p)
    fd_s = (sfma.xi(s + h_s, v, p) - sfma.xi(s - h_s, v, p)) / (2 * h_s)
    fd_v = (sfma.xi(s, v + h_v, p) - sfma.xi(s, v - h_v, p)) / (2 * h_v)
    scale = (p["xi_hi"] - p["xi_lo"]) + 1e-9
    assert ds == pytest.approx(fd_s, abs=1e-6 * scale * p["a"] + 1e-9)
    assert dv == pytest.approx(fd_v, abs=1e-5 * scale * p["b"] ** 2 * 1e-2 + 1e-9)
    h2 = 1e-4
    d2 = sfma.xi_dnu2(s, v, p)
    fd2 = (sfma.xi_grad(s, v + h2, p)[1] - sfma.xi_grad(s, v - h2, p)[1]) / (2 * h2)
    assert d2 == pytest.approx(fd2, abs=1e-5 * scale * p["b"] ** 3 + 1e-8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_recovers_known_params(seed):
    rng = np.random.default_rng(seed)
    true = {
        "xi_lo": rng.uniform(0.01, 0.1),
        "xi_hi": rng.uniform(0.4, 0.9),
        "a": rng.uniform(0.15, 0.5),
        "b": rng.uniform(4.0, 12.0),
        "s0": rng.uniform(0.0, 10.0),
        "nu0": 0.5,
    }
    s = np.linspace(-5, 25, 11)
    v = np.linspace(0.05, 1.0, 9)
    S, V = np.meshgrid(s, v, indexing="ij")
    clean = sfma.xi(S, V, true)
    params, r2 = sfma.fit_xi(s, v, clean + 1e-3 * rng.standard_normal(S.shape))
    assert r2 > 0.999
    for key in ("xi_lo", "xi_hi", "a", "b"):
        assert params[key] == pytest.approx(true[key], rel=0.05, abs=0.01), key
    # (s0, nu0) are one offset: compare the combination a s0 + b nu0
    off_true = true["a"] * true["s0"] + true["b"] * true["nu0"]
    off_fit = params["a"] * params["s0"] + params["b"] * params["nu0"]
    assert off_fit == pytest.approx(off_true, rel=0.05, abs=0.05)
    np.testing.assert_allclose(sfma.xi(S, V, params), clean, atol=5e-3)
    # scattered samples give the same fit
    p2, _ = sfma.fit_xi(S.ravel(), V.ravel(), clean.ravel())
    np.testing.assert_allclose(sfma.xi(S, V, p2), clean, atol=1e-3)


def test_fit_r2_low_on_non_logistic_data():
    s = np.linspace(-5, 25, 8)
    v = np.linspace(0.1, 1.0, 6)
    rng = np.random.default_rng(5)
    _, r2 = sfma.fit_xi(s, v, rng.uniform(0, 1, (8, 6)))
    assert r2 < 0.5
