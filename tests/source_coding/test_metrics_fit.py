"""Metrics, the logistic regression of eqs. (12)/(13), bit flips, BD-rate, data, manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semdacom.data.datasets import load_fashion_mnist, read_idx
from semdacom.data.manifest import update_manifest
from semdacom.mu_ascc import distortion_fit as dfit
from semdacom.source_coding import metrics
from semdacom.source_coding.evaluate import bd_rate


def test_msssim_config_for_28x28() -> None:
    cfg = metrics.msssim_config(28, 28)
    assert cfg["win_size"] == 5 and len(cfg["weights"]) == 3
    assert abs(sum(cfg["weights"]) - 1.0) < 1e-12
    assert len(metrics.msssim_config(256, 256)["weights"]) == 5


def test_msssim_identity_and_ordering() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(metrics.msssim(x, x), 1.0, atol=1e-5)
    small = np.clip(x + rng.normal(0, 0.02, x.shape), 0, 1).astype(np.float32)
    big = np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1).astype(np.float32)
    assert np.all(metrics.msssim(small, x) > metrics.msssim(big, x))
    assert np.all(metrics.mse(small, x) < metrics.mse(big, x))
    assert metrics.psnr_from_mse(0.01) == pytest.approx(20.0)


@settings(max_examples=40, deadline=None)
@given(
    d_s=st.floats(0.0, 0.5),
    d_c=st.floats(0.05, 1.0),
    a1=st.floats(0.5, 6.0),
    a0=st.floats(-6.5, -2.5),
)
def test_logistic_fit_recovers_parameters(d_s, d_c, a1, a0) -> None:
    x = dfit.default_grid(29)
    d = dfit.logistic(x, d_s, d_c, a1, a0)
    fit = dfit.fit_logistic(x, d, d_s)
    assert fit["r2"] > 0.999
    np.testing.assert_allclose(
        dfit.logistic(x, d_s, fit["d_c"], fit["a1"], fit["a0"]), d, atol=1e-3
    )


@given(st.floats(0.0, 0.5), st.floats(0.01, 0.2))
def test_logistic_fit_never_extrapolates_an_absurd_ceiling(d_s, slope) -> None:
    """A curve still rising at the grid's end (a fixed-length code's: issue 26) gets a ceiling
    of at most twice the measured rise and a centre at most a decade past the grid."""
    x = dfit.default_grid(29)
    assert x.max() == pytest.approx(np.log10(0.5))
    d = d_s + slope * np.exp(x)  # no saturation within the grid
    fit = dfit.fit_logistic(x, d, d_s)
    assert fit["d_c"] <= 2.0 * (d.max() - d_s) + 1e-6
    assert fit["a0"] <= x.max() + 1.0 + 1e-9
    assert fit["r2"] > 0.9


@given(st.binary(min_size=1, max_size=64), st.floats(0.0, 1.0))
def test_flip_bits_changes_only_bits(data: bytes, ber: float) -> None:
    out = dfit.flip_bits(data, ber, np.random.default_rng(0))
    assert len(out) == len(data)
    if ber == 0.0:
        assert out == data
    if ber == 1.0:
        assert out == bytes(b ^ 0xFF for b in data)


def test_flip_bits_rate() -> None:
    rng = np.random.default_rng(1)
    data = bytes(5000)
    flipped = np.unpackbits(np.frombuffer(dfit.flip_bits(data, 0.1, rng), np.uint8)).mean()
    assert abs(flipped - 0.1) < 0.01


def test_bd_rate() -> None:
    r = np.array([100.0, 200.0, 400.0, 800.0])
    q = np.array([20.0, 24.0, 27.0, 29.0])
    assert bd_rate(r, q, r, q) == pytest.approx(0.0, abs=1e-9)
    assert bd_rate(r, q, 0.9 * r, q) == pytest.approx(-10.0, abs=1e-6)
    assert bd_rate(r, q, 1.05 * r, q) == pytest.approx(5.0, abs=1e-6)


def test_fashion_mnist_and_idx_errors(tmp_path) -> None:
    x, y = load_fashion_mnist("test")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (10000,) and set(np.unique(y)) == set(range(10))
    assert load_fashion_mnist("train")[0].shape == (60000, 28, 28)
    with pytest.raises(ValueError):
        load_fashion_mnist("val")
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05abc")
    with pytest.raises(ValueError):
        read_idx(bad)


def test_manifest_keeps_other_entries(tmp_path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps([{"file": "other.json", "sha256": "x"}]))
    f = tmp_path / "tables" / "t.json"
    f.parent.mkdir()
    f.write_text("{}")
    update_manifest(tmp_path, f, made_by="m1", dataset="d", metric="a")
    update_manifest(tmp_path, f, made_by="m2", dataset="d", metric="b")
    entries = json.loads((tmp_path / "manifest.json").read_text())
    assert [e["file"] for e in entries] == ["other.json", "tables/t.json"]
    assert entries[1]["made_by"] == "m2" and len(entries[1]["sha256"]) == 64
