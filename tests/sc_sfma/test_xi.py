"""Property tests of sc_sfma/xi.py: eq. (10) of SC-SFMA (docs/sc_sfma/model.md), its fit and
the pair classes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sfma_strategies import finite, ratio, snr, xi_params

from semdacom.sc_sfma import model as sfma
from semdacom.sc_sfma import xi as sfma_xi


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


# --------------------------------------------------------------------------------------------
# Distortion-equivalent xi (eq. (11) inverted on the interference-free reference; issue 22)
# --------------------------------------------------------------------------------------------

REF_S = np.arange(-10.0, 50.01, 0.25)


def _ref_curve(s_db):
    """A synthetic interference-free reference: distortion falling with the SNR, saturating."""
    g = 10.0 ** (np.asarray(s_db, dtype=float) / 10.0)
    return 0.015 + 0.1 / (1.0 + g) ** 0.7


@pytest.mark.parametrize("xi_true", [0.0, 0.003, 0.02, 0.1, 0.4, -0.02])
def test_distortion_equivalent_xi_recovers_a_known_xi(xi_true):
    """A pair whose distortion is the reference's at eq. (11)'s SINR gives back its xi."""
    s = np.arange(0.0, 30.1, 2.0)
    g = 10.0 ** (s / 10.0)
    sinr = g / (xi_true * g + 1.0)
    ok = sinr > 0
    sinr_db = 10 * np.log10(sinr[ok])
    inside = (sinr_db >= REF_S[0]) & (sinr_db <= REF_S[-1])
    d_pair = _ref_curve(sinr_db)
    out = sfma_xi.distortion_equivalent_xi(d_pair, s[ok], REF_S, _ref_curve(REF_S))
    assert np.all(out["flag"][inside] == 0)
    np.testing.assert_allclose(out["s_eq_db"][inside], sinr_db[inside], atol=0.02)
    # eq. (11): xi = 1 / s_eq - 1 / gamma, to within the interpolation error (~0.2 % in s_eq)
    tol = 0.01 * np.abs(1.0 / sinr[ok][inside]) + 1e-6
    assert np.all(np.abs(out["xi"][inside] - xi_true) <= tol)


def test_snr_equivalent_flags_and_clamps():
    ref = _ref_curve(REF_S)
    s_eq, flag = sfma_xi.snr_equivalent([ref[0] + 0.01, ref[-1] - 1e-4, np.nan], REF_S, ref)
    assert flag.tolist() == [1, -1, 0]
    assert s_eq[0] == REF_S[0] and s_eq[1] == REF_S[-1] and np.isnan(s_eq[2])
    # clamped below the range: xi is an upper bound and may be negative (the pair beat the
    # reference at every SNR of its grid); never clipped by the measurement
    out = sfma_xi.distortion_equivalent_xi(ref[-1] - 1e-4, 20.0, REF_S, ref)
    assert out["xi"] < 0 and out["flag"] == -1
    with pytest.raises(ValueError):
        sfma_xi.snr_equivalent(0.1, [0.0, 0.0], [0.2, 0.1])


def test_monotone_nonincreasing_is_the_pav_fit():
    y = np.array([0.5, 0.4, 0.45, 0.3, 0.31, 0.32, 0.1, np.nan, 0.12])
    m = sfma_xi.monotone_nonincreasing(y)
    ok = np.isfinite(y)
    assert np.all(np.diff(m[ok]) <= 1e-15) and np.isnan(m[7])
    np.testing.assert_allclose(m[ok], [0.5, 0.425, 0.425, 0.31, 0.31, 0.31, 0.11, 0.11])
    # a noisy reference still inverts: the first SNR where the monotone curve reaches d
    s_eq, _ = sfma_xi.snr_equivalent(0.31, np.arange(9.0)[ok], y[ok])
    assert s_eq == pytest.approx(3.0)


@settings(max_examples=150, deadline=None)
@given(
    st.floats(0.0, 0.2, **finite),
    st.floats(0.0, 0.2, **finite),
    st.floats(-5.0, 40.0, **finite),
    st.floats(-0.02, 0.02, **finite),
)
def test_distortion_equivalent_xi_is_monotone_in_the_pair_distortion(d1, d2, s, wiggle):
    """More distortion at the same SNR never gives less interference, inside or outside the
    reference's range, on a noisy (non-monotone) reference too."""
    ref = _ref_curve(REF_S) + wiggle * np.sin(REF_S)
    lo, hi = sorted((d1, d2))
    out = sfma_xi.distortion_equivalent_xi([lo, hi], s, REF_S, ref)
    assert out["xi"][1] >= out["xi"][0] - 1e-12
    assert out["s_eq_db"][1] <= out["s_eq_db"][0] + 1e-12


@pytest.mark.parametrize("seed", [0, 1])
def test_sinr_fit_reproduces_the_high_snr_end(seed):
    """The eq. (11)-SINR fit reproduces a synthetic eq. (10) surface within a few % where the
    SINR cap binds (xi gamma >= 1), with samples covering the saturation."""
    rng = np.random.default_rng(seed)
    true = {
        "xi_lo": rng.uniform(0.002, 0.02),
        "xi_hi": rng.uniform(0.05, 0.15),
        "a": rng.uniform(0.15, 0.4),
        "b": rng.uniform(3.0, 8.0),
        "s0": rng.uniform(5.0, 15.0),
        "nu0": 0.5625,
    }
    s = np.arange(0.0, 40.1, 2.0)
    v = np.linspace(0.125, 1.0, 8)
    S, V = np.meshgrid(s, v, indexing="ij")
    clean = sfma.xi(S, V, true)
    noisy = clean * (1 + 0.01 * rng.standard_normal(S.shape))
    params, r2 = sfma.fit_xi(s, v, noisy, loss="sinr_db")
    assert r2 > 0.95
    assert params["xi_hi"] <= noisy.max() + 1e-12  # no xi_hi above every sample
    fit = sfma.xi(S, V, params)
    bind = clean * 10 ** (S / 10) >= 1.0
    assert bind.sum() > 20
    assert np.max(np.abs(fit[bind] / clean[bind] - 1)) < 0.05
    err = sfma_xi.xi_fit_errors(s, v, noisy, params, at=(40.0, 1.0))
    assert abs(err["rel_at"]) < 0.05 and err["max_sinr_db_err"] < 0.3
    assert err["max_rel_binding"] < 0.06 and err["max_rel_cap"] < 0.05


def test_sinr_fit_bounds_xi_hi_by_the_samples_and_clips_negative_xi():
    """Samples in the logistic's lower tail (the first tables' case): the absolute-error fit
    extrapolates xi_hi above every sample, the SINR fit does not; negative samples are clipped at
    0 for the fit (eq. (10) is >= 0)."""
    tail = {"xi_lo": 0.004, "xi_hi": 0.5, "a": 0.03, "b": 7.0, "s0": -150.0, "nu0": 0.5625}
    s = np.arange(0.0, 40.1, 4.0)
    v = np.linspace(0.125, 1.0, 8)
    S, V = np.meshgrid(s, v, indexing="ij")
    y = sfma.xi(S, V, tail)
    p_abs, _ = sfma.fit_xi(s, v, y)
    p_sinr, _ = sfma.fit_xi(s, v, y, loss="sinr_db")
    assert p_sinr["xi_hi"] <= y.max() + 1e-12
    assert p_abs["xi_hi"] > y.max()  # the extrapolation the SINR fit avoids
    y_neg = y.copy()
    y_neg[-3:, -3:] = -0.01
    p_neg, _ = sfma.fit_xi(s, v, y_neg, loss="sinr_db")
    assert p_neg["xi_lo"] >= 0.0
    with pytest.raises(ValueError):
        sfma.fit_xi(s, v, y, loss="nope")
