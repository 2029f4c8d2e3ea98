"""Property tests of core/sfma.py: the SC-SFMA model of docs/sc_sfma/model.md (eqs. (10)-(19))."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semdacom.sc_sfma import model as sfma

finite = dict(allow_nan=False, allow_infinity=False)


@st.composite
def xi_params(draw):
    lo = draw(st.floats(0.0, 0.5, **finite))
    hi = lo + draw(st.floats(0.0, 0.9, **finite))
    return {
        "xi_lo": lo,
        "xi_hi": hi,
        "a": draw(st.floats(0.01, 2.0, **finite)),
        "b": draw(st.floats(0.1, 40.0, **finite)),
        "s0": draw(st.floats(-10.0, 30.0, **finite)),
        "nu0": draw(st.floats(0.0, 1.0, **finite)),
    }


snr = st.floats(-20.0, 50.0, **finite)
ratio = st.floats(1e-3, 1.0, **finite)


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


@settings(max_examples=100, deadline=None)
@given(xi_params(), st.floats(0.01, 1e4, **finite), st.floats(0.05, 0.95, **finite))
def test_rate_derivative_in_nu(p, gamma_db_lin, v):
    gamma, bw = gamma_db_lin, 1e6
    s = 10 * math.log10(gamma)

    def r(nu):
        return float(sfma.rate(bw, sfma.sinr(gamma, sfma.xi(s, nu, p))))

    x = sfma.xi(s, v, p)
    _, dxv = sfma.xi_grad(s, v, p)
    d1, d2 = sfma.rate_dnu(bw, gamma, x, dxv, sfma.xi_dnu2(s, v, p))
    h = 1e-5
    fd1 = (r(v + h) - r(v - h)) / (2 * h)
    fd2 = (r(v + h) - 2 * r(v) + r(v - h)) / h**2
    # tolerances cover the round-off of the differences (~1e-12 r / h and r / h^2)
    assert d1 >= -1e-9  # rate non-decreasing in nu
    assert d1 == pytest.approx(fd1, rel=1e-4, abs=1e-3 + 1e-12 * r(v) / h)
    assert d2 == pytest.approx(fd2, rel=2e-2, abs=5e3 + 1e-12 * r(v) / h**2)


def test_sinr_rate_delay_energy_values():
    n0 = 10 ** ((-174 - 30) / 10)
    s = sfma.snr_db(0.1, 1e-10, n0, 1e6)
    assert s == pytest.approx(10 * math.log10(0.1 * 1e-10 / (n0 * 1e6)))
    assert sfma.sinr(100.0, 0.0) == pytest.approx(100.0)
    assert sfma.sinr(1e12, 0.1) == pytest.approx(10.0, rel=1e-9)  # saturates at 1 / xi
    assert sfma.rate(2e6, 3.0) == pytest.approx(4e6)
    assert sfma.tx_delay(0.5, 1e6, 1e7) == pytest.approx(0.05)
    assert sfma.tx_delay(0.5, 1e6, 0.0) == math.inf
    assert sfma.latency(0.05, 2e6, 1e6, 2e9, 1e9) == pytest.approx(0.052)
    assert sfma.residual_time(0.1, 2e6, 1e6, 2e9, 1e9) == pytest.approx(0.098)
    assert sfma.comp_energy(1e6, 1e6, 2e9, 1e9, 1e-28) == pytest.approx(1e-28 * 1e6 * 5e18)
    assert sfma.energy(0.1, 0.05, 1e-3) == pytest.approx(6e-3)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 10).flatmap(
        lambda n: st.tuples(
            st.lists(st.floats(0.01, 1.0, **finite), min_size=n, max_size=n, unique=True),
            st.lists(
                st.lists(st.floats(0.0, 1.0, **finite), min_size=n, max_size=n),
                min_size=1,
                max_size=6,
            ),
        )
    )
)
def test_envelope_monotone_and_above_samples(args):
    nu, samples = args
    order = np.argsort(nu)
    nu = np.asarray(nu)[order]
    d = np.asarray(samples)[:, order]
    env = sfma.upper_envelope(nu, d)
    assert np.all(np.diff(env) <= 0)
    assert np.all(env[None, :] >= d - 1e-15)
    # tight: every envelope value is one of the samples at or beyond its grid point
    for k in range(nu.size):
        assert env[k] == pytest.approx(d[:, k:].max())
    # nu_min: the envelope meets the threshold at nu_min and not just below it
    for target in np.linspace(0, 1, 7):
        v = float(sfma.nu_min(nu, env, target))
        if math.isinf(v):
            assert env[-1] > target
            continue
        assert np.interp(v, nu, env) <= target + 1e-9
        if v > nu[0] + 1e-9:
            assert np.interp(v - 1e-7, nu, env) > target - 1e-9


def test_envelope_ignores_nan_and_rejects_bad_grid():
    env = sfma.upper_envelope([0.1, 0.5, 1.0], [[0.3, np.nan, 0.1], [np.nan, 0.2, 0.05]])
    np.testing.assert_allclose(env, [0.3, 0.2, 0.1])
    with pytest.raises(ValueError):
        sfma.upper_envelope([0.5, 0.1], [0.2, 0.1])


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


def test_tables_roundtrip_and_queries(tmp_path):
    doc = sfma.synthetic_xi_table(seed=3, as_dict=True)
    path = tmp_path / "sfma_xi_sc_sfma.json"
    path.write_text(json.dumps(doc))
    tab = sfma.load_xi_table(path)
    assert tab.synthetic and set(tab.params) == set(sfma.PAIR_CLASSES)
    assert min(tab.r2.values()) > 0.95
    assert tab.xi("same", 30.0, 1.0) < tab.xi("dissimilar", 30.0, 1.0)

    ddoc = sfma.synthetic_distortion_table(seed=3, as_dict=True)
    dpath = tmp_path / "sfma_distortion_sc_sfma.json"
    dpath.write_text(json.dumps(ddoc))
    dt = sfma.load_distortion_table(dpath)
    assert dt.metric == "1-msssim"
    # conservative SNR level: between grid points the lower level is used
    lvl = dt.snr_index([dt.snr_db[0] - 1, dt.snr_db[2], dt.snr_db[2] + 0.1, 1e3])
    np.testing.assert_array_equal(lvl, [-1, 2, 2, dt.snr_db.size - 1])
    for cls in sfma.PAIR_CLASSES:
        levels = dt.nu_min_levels(cls, 0.15)
        assert np.all(np.diff(levels[np.isfinite(levels)]) <= 1e-12)
        v = float(dt.nu_min(cls, 17.0, 0.15))
        assert dt.distortion(cls, 17.0, v) <= 0.15 + 1e-9
        s_req = dt.snr_required_db(cls, v, 0.15)
        assert s_req <= 17.0
        assert dt.distortion(cls, s_req, v) <= 0.15 + 1e-9
        assert math.isinf(float(dt.distortion(cls, dt.snr_db[0] - 1, 1.0)))

    bad = dict(ddoc, format="nope")
    with pytest.raises(ValueError):
        sfma.distortion_table_from_dict(bad)
    broken = json.loads(json.dumps(ddoc))
    broken["classes"]["same"]["envelope"]["d"][0] = list(
        reversed(broken["classes"]["same"]["envelope"]["d"][0])
    )
    with pytest.raises(ValueError, match="increases"):
        sfma.distortion_table_from_dict(broken)
    with pytest.raises(ValueError):
        sfma.xi(0, 0, {"xi_lo": 0.5, "xi_hi": 0.1, "a": 1, "b": 1, "s0": 0, "nu0": 0})
