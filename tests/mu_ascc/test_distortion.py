"""Tests of the distortion tables: eqs. (12)/(13), interpolation (26)-(30), eq. (31)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semdacom.mu_ascc import distortion as dist


@pytest.fixture(scope="module")
def du() -> dist.DistortionTable:
    return dist.synthetic_table("du", n_points=6, seed=1)


@pytest.fixture(scope="module")
def su() -> dist.DistortionTable:
    return dist.synthetic_table("su", n_points=5, seed=2)


def test_json_round_trip(tmp_path, du) -> None:
    path = tmp_path / "t.json"
    du.save(path)
    raw = json.loads(path.read_text())
    assert raw["format"] == dist.FORMAT and raw["x"] == "log10_ber"
    assert raw["synthetic"] is True and "SYNTHETIC" in raw["made_by"]
    assert [p["index"] for p in raw["points"]] == list(range(6))
    back = dist.DistortionTable.load(path)
    for key in ("rs_bits", "d_s", "d_c", "a1", "a0"):
        np.testing.assert_array_equal(getattr(back, key), getattr(du, key))
    assert back.synthetic and back.task == "du" and back.metric == "1-msssim"


def test_loads_the_docs_example_shape() -> None:
    d = {
        "format": dist.FORMAT,
        "name": "hyperprior_vbr_du_msssim",
        "codec": "hyperprior_vbr",
        "task": "du",
        "metric": "1-msssim",
        "x": "log10_ber",
        "dataset": "fashion-mnist",
        "points": [  # unsorted on purpose: the loader sorts by rs_bits
            {"index": 1, "rs_bits": 800.0, "d_s": 0.1, "d_c": 0.6, "a1": 2.5, "a0": -5.0},
            {"index": 0, "rs_bits": 412.5, "d_s": 0.21, "d_c": 0.55, "a1": 2.3, "a0": -4.1},
        ],
    }
    t = dist.DistortionTable.from_dict(d)
    assert t.rs_bits.tolist() == [412.5, 800.0] and t.index.tolist() == [0, 1]
    assert t.meta["dataset"] == "fashion-mnist" and not t.synthetic


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d.update(format="other"), "format"),
        (lambda d: d.update(points=[]), "points"),
        (lambda d: d["points"][1].update(rs_bits=d["points"][0]["rs_bits"]), "ascending"),
        (lambda d: d["points"][0].update(a1=-1.0), "slopes"),
        (lambda d: d["points"][0].pop("d_c"), "d_c"),
        (lambda d: d.update(task="xx"), "task"),
        (lambda d: d["points"][0].update(d_s=float("nan")), "non-finite"),
    ],
)
def test_bad_tables_are_rejected(mutate, match) -> None:
    d = dist.synthetic_table("du", n_points=3).to_dict()
    mutate(d)
    with pytest.raises((ValueError, KeyError), match=match):
        dist.DistortionTable.from_dict(d)


def test_table_rates_reproduce_eq12(du) -> None:
    x = np.linspace(-9, -1, 17)
    for n in range(du.n_points):
        expected = du.d_s[n] + du.d_c[n] / (1 + np.exp(-du.a1[n] * (x - du.a0[n])))
        np.testing.assert_allclose(du.distortion(du.rs_bits[n], x), expected, rtol=1e-12)
        np.testing.assert_allclose(du.point_distortion(n, x), expected, rtol=1e-12)


def test_interpolated_parameters_are_linear_in_rate(du) -> None:
    """Eqs. (27)-(30): at lambda = 1/4 every parameter is 3/4 of point n plus 1/4 of n+1."""
    n = 2
    rs = du.rs_bits[n] + 0.25 * (du.rs_bits[n + 1] - du.rs_bits[n])
    got = du.params(rs)
    for arr, val in zip((du.d_s, du.d_c, du.a1, du.a0), got, strict=True):
        assert val == pytest.approx(0.75 * arr[n] + 0.25 * arr[n + 1], rel=1e-12)
    x = -4.2
    expected = dist.logistic(x, *got)
    assert du.distortion(rs, x) == pytest.approx(float(expected), rel=1e-12)


def test_distortion_is_increasing_in_ber_and_bounded(su) -> None:
    x = np.linspace(-12, dist.X_MAX, 400)  # no link gives a BER above 1/2
    for rs in np.linspace(su.rs_min, su.rs_max, 9):
        d = su.distortion(rs, x)
        assert np.all(np.diff(d) >= -1e-15)
        assert d.min() >= su.d_s.min() - 1e-12 and d.max() <= su.max_distortion() + 1e-12


def test_rates_outside_the_table_are_clipped(du) -> None:
    assert du.distortion(1.0, -5.0) == du.distortion(du.rs_min, -5.0)
    assert du.distortion(1e9, -5.0) == du.distortion(du.rs_max, -5.0)


@settings(max_examples=80, deadline=None)
@given(lam=st.floats(0.02, 0.98), seg=st.integers(0, 4), x=st.floats(-10.0, -0.5))
def test_partials_match_finite_differences(lam: float, seg: int, x: float) -> None:
    t = dist.synthetic_table("du", n_points=6, seed=3)
    rs = t.rs_bits[seg] + lam * (t.rs_bits[seg + 1] - t.rs_bits[seg])
    v, d_drs, d_dx = t.partials(rs, x)
    assert v == pytest.approx(float(t.distortion(rs, x)), rel=1e-12)
    h = 1e-4 * (t.rs_bits[seg + 1] - t.rs_bits[seg])
    fd_r = (t.distortion(rs + h, x) - t.distortion(rs - h, x)) / (2 * h)
    fd_x = (t.distortion(rs, x + 1e-6) - t.distortion(rs, x - 1e-6)) / 2e-6
    assert d_drs == pytest.approx(float(fd_r), rel=1e-4, abs=1e-9)
    assert d_dx == pytest.approx(float(fd_x), rel=1e-4, abs=1e-9)


def test_subgradient_rule_eq31(du) -> None:
    """Right derivative at R^1, left at R^N, the mean of both at interior table rates."""
    x, dx = -4.0, 0.003

    def one_sided(rs: float, side: str) -> float:
        _, d_r, d_x = du.partials(rs, x, side)
        return float(d_r + d_x * dx)

    r1, rn, rm = du.rs_bits[0], du.rs_bits[-1], du.rs_bits[2]
    assert du.subgradient(r1, x, dx) == pytest.approx(one_sided(r1, "right"))
    assert du.subgradient(rn, x, dx) == pytest.approx(one_sided(rn, "left"))
    left, right = one_sided(rm, "left"), one_sided(rm, "right")
    assert left != pytest.approx(right)  # a real kink
    assert du.subgradient(rm, x, dx) == pytest.approx(0.5 * (left + right))
    mid = 0.5 * (du.rs_bits[2] + du.rs_bits[3])
    assert du.subgradient(mid, x, dx) == pytest.approx(one_sided(mid, "right"))


def test_one_sided_derivatives_are_the_limits(du) -> None:
    x, rm = -4.5, du.rs_bits[3]
    eps = 1e-6 * rm
    left = (du.distortion(rm, x) - du.distortion(rm - eps, x)) / eps
    right = (du.distortion(rm + eps, x) - du.distortion(rm, x)) / eps
    assert du.partials(rm, x, "left")[1] == pytest.approx(float(left), rel=1e-4)
    assert du.partials(rm, x, "right")[1] == pytest.approx(float(right), rel=1e-4)


def test_round_down(du) -> None:
    r = du.rs_bits
    assert du.round_down(r).tolist() == list(range(du.n_points))
    assert du.round_down(r[:-1] + 0.5 * np.diff(r)).tolist() == list(range(du.n_points - 1))
    assert du.round_down(0.5 * r[0]) == 0 and du.round_down(2 * r[-1]) == du.n_points - 1


def test_tabulated_model_interpolates_curves(tmp_path) -> None:
    t = dist.synthetic_table("du", n_points=4, model="tabulated", seed=5)
    path = tmp_path / "c.json"
    t.save(path)
    back = dist.DistortionTable.load(path)
    assert back.model == "tabulated"
    cx, cd = back.curves[1]
    xm = 0.5 * (cx[3] + cx[4])
    assert back.point_distortion(1, xm) == pytest.approx(0.5 * (cd[3] + cd[4]))
    rs = 0.5 * (back.rs_bits[1] + back.rs_bits[2])
    expected = 0.5 * (back.point_distortion(1, xm) + back.point_distortion(2, xm))
    assert back.distortion(rs, xm) == pytest.approx(float(expected))
    v, d_r, d_x = back.partials(rs, xm)
    assert d_x == pytest.approx(
        0.5 * ((cd[4] - cd[3]) / (cx[4] - cx[3]) + np.diff(back.curves[2][1])[3] / np.diff(cx)[3])
    )


def test_snr_table(tmp_path) -> None:
    t = dist.synthetic_snr_table("su", seed=1)
    path = tmp_path / "s.json"
    t.save(path)
    back = dist.SnrTable.load(path)
    assert back.meta["synthetic"] is True and back.metric == "classification_error"
    k = back.select(10.0, 1 / 6)
    assert back.train_snr_db[k] == 10.0 and back.bandwidth_ratio[k] == pytest.approx(1 / 6)
    d = back.distortion(k, np.linspace(-10, 30, 81))
    assert np.all(np.diff(d) <= 1e-15) and d[0] > d[-1]
    with pytest.raises(ValueError, match="SNR table"):
        dist.SnrTable.from_dict(dist.synthetic_table().to_dict())


def test_synthetic_tables_look_like_fashion_mnist() -> None:
    du = dist.synthetic_table("du", n_points=8)
    su = dist.synthetic_table("su", n_points=8)
    assert np.all(np.diff(du.d_s) < 0) and np.all(np.diff(su.d_s) < 0)
    assert 0.0 < du.d_s[-1] < 0.05 and 0.2 < du.d_s[0] < 0.3
    assert 0.07 < su.d_s[-1] < 0.1  # about 91% accuracy at the top rate
    # higher rates break down at lower BER (Remark 3.1)
    assert np.all(np.diff(du.a0) < 0)


def test_load_table_specs(tmp_path) -> None:
    t = dist.load_table("synthetic:su:4")
    assert t.synthetic and t.task == "su"
    path = tmp_path / "x.json"
    t.save(path)
    assert dist.load_table(str(path)).name == t.name
    with pytest.raises(FileNotFoundError, match="no distortion table"):
        dist.load_table("surely_not_a_table")
    with pytest.raises(ValueError):
        dist.load_table("")


def test_source_penalty_and_robustness_shift() -> None:
    a = dist.synthetic_table("du", seed=0)
    b = dist.synthetic_table("du", seed=0, source_penalty=1.5, robustness_shift=1.0)
    assert np.all(b.d_s > a.d_s) and np.allclose(b.a0, a.a0 + 1.0)
    np.testing.assert_allclose(a.d_s + a.d_c, b.d_s + b.d_c)


# --- erasure-aware distortion (a lost packet costs its image) ---------------------------------


def test_erasure_aware_table() -> None:
    base = dist.synthetic_table("du", seed=1)
    T, L = 470.4, 256
    t = dist.erasure_aware(base, T, L)
    assert t.model == "erasure" and t.d_fail == pytest.approx(base.max_distortion())
    n_bits = np.floor(base.rs_bits / T * L)
    np.testing.assert_array_equal(t.packets, np.ceil(base.rs_bits / n_bits - 1e-9))
    pos = np.arange(t.n_points)
    # error-free: the source distortion; a useless link (BER 1/2, rho = 1): d_fail
    np.testing.assert_allclose(t.point_distortion(pos, -30.0), base.d_s, rtol=1e-12)
    np.testing.assert_allclose(t.point_distortion(pos, np.log10(0.5)), t.d_fail)
    # rho = 2 BER; eps = 1 - (1 - rho)^m
    x = np.log10(0.01 / 2)
    eps = 1.0 - 0.99**t.packets
    np.testing.assert_allclose(t.point_distortion(pos, x), base.d_s + (t.d_fail - base.d_s) * eps)
    xs = np.linspace(-9.0, np.log10(0.5), 200)
    for n in (0, t.n_points - 1):
        d = t.point_distortion(n, xs)
        assert np.all(np.diff(d) >= -1e-15)  # more errors, never less distortion
        h = 1e-6
        fd = (t.point_distortion(n, xs[1:-1] + h) - t.point_distortion(n, xs[1:-1] - h)) / (2 * h)
        np.testing.assert_allclose(
            t._point_dx(np.full(xs.size - 2, n), xs[1:-1]), fd, rtol=1e-4, atol=1e-9
        )
    assert t.max_distortion() == pytest.approx(t.d_fail)
    with pytest.raises(ValueError, match="run time"):
        t.to_dict()
