"""DeepJSCC baseline (codec/djscc.py): shapes, per-image power normalisation, the shipped
weights at 20 dB, the SNR-indexed tables (core/distortion.SnrTable) and the ZF-WF-DJSCC
baseline of the optimiser on them."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semdacom.data.datasets import load_fashion_mnist
from semdacom.mu_ascc import baselines
from semdacom.mu_ascc.distortion import TABLES_DIR, SnrTable
from semdacom.source_coding import djscc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mu_ascc" / "optimizer"))
from opt_helpers import make_problem  # noqa: E402

TABLES = ("djscc_du_msssim", "djscc_du_mse", "djscc_su_error")


@pytest.fixture(scope="module")
def model() -> djscc.DeepJSCC:
    return djscc.load_djscc()


def test_symbols_for_ratio() -> None:
    assert djscc.symbols_for_ratio(0.6) == 470
    assert djscc.symbols_for_ratio(1.0) == 784
    assert djscc.symbols_for_ratio(0.2) == 157
    with pytest.raises(ValueError):
        djscc.symbols_for_ratio(0.0)
    with pytest.raises(ValueError):
        djscc.symbols_for_ratio(math.nan)


@pytest.mark.parametrize("k", [1, 49, 157, 470, 784])
def test_shapes(k: int) -> None:
    torch.manual_seed(0)
    m = djscc.DeepJSCC(k).eval()
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        s = m.encode(x)
        assert s.shape == (3, k) and s.dtype == torch.complex64
        y = m.decode(s)
        assert y.shape == (3, 1, 28, 28)
        assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
        assert m(x, 10.0).shape == (3, 1, 28, 28)
    assert m.bandwidth_ratio == pytest.approx(k / 784)
    with pytest.raises(ValueError):
        m.decode(torch.zeros(3, k + 1, dtype=torch.complex64))
    with pytest.raises(ValueError):
        m.decode(torch.zeros(3, k))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    k=st.integers(1, 800),
    n=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    scale=st.floats(1e-3, 1e3),
)
def test_power_normalised_per_image(k: int, n: int, seed: int, scale: float) -> None:
    torch.manual_seed(seed)
    m = djscc.DeepJSCC(k).eval()
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 1, 28, 28, generator=g) * scale).clamp(0, 1)
    with torch.no_grad():
        s = m.encode(x)
    p = s.abs().pow(2).mean(1).numpy()
    np.testing.assert_allclose(p, 1.0, rtol=1e-4)


def test_awgn_noise_variance() -> None:
    s = torch.zeros(4, 20000, dtype=torch.complex64)
    y = djscc.awgn(s, 10.0, torch.Generator().manual_seed(1))
    assert float(y.abs().pow(2).mean()) == pytest.approx(0.1, rel=0.03)


def test_shipped_weights_reach_good_msssim_at_20db(model) -> None:
    assert model.k == 470 and model.train_snr_db == 10.0
    assert djscc.default_weights_path().stat().st_size < 1_000_000
    images, labels = load_fashion_mnist("test")
    rows = djscc.evaluate_snr_grid(images[:200], labels[:200], [0.0, 20.0], seed=3)
    assert [r["snr_db"] for r in rows] == [0.0, 20.0]
    for r in rows:
        assert set(r) >= {"snr_db", "msssim", "psnr_db", "mse", "accuracy"}
        assert r["bandwidth_ratio"] == pytest.approx(470 / 784)
        assert r["train_snr_db"] == 10.0
    hi = rows[1]
    assert hi["msssim"] > 0.9 and hi["psnr_db"] > 22.0 and hi["accuracy"] > 0.7
    assert rows[0]["msssim"] < hi["msssim"]


def test_evaluate_is_seeded() -> None:
    images, labels = load_fashion_mnist("test")
    a = djscc.evaluate_snr_grid(images[:50], labels[:50], [5.0], seed=7)
    b = djscc.evaluate_snr_grid(images[:50], labels[:50], [5.0], seed=7)
    assert a == b


@pytest.mark.parametrize("name", TABLES)
def test_shipped_tables_load_and_are_monotone(name: str) -> None:
    path = TABLES_DIR / f"{name}.json"
    t = SnrTable.load(path)
    assert t.task == ("su" if "su" in name else "du")
    assert t.meta["codec"] == "djscc" and "made_by" in t.meta
    assert not t.meta.get("synthetic", False)
    i = t.select(10.0, 0.6)
    assert t.train_snr_db[i] == 10.0 and t.bandwidth_ratio[i] == pytest.approx(0.6, abs=0.01)
    for s, d in t.curves:
        assert s[0] <= -10.0 and s[-1] >= 30.0 and np.all(np.diff(s) <= 2.0)
        assert np.all(np.diff(d) <= 1e-12), "distortion must not rise with SNR"
        assert np.all(d >= 0.0)
    # the main model: much less distortion at 20 dB than at -10 dB
    assert t.distortion(i, 20.0) < t.distortion(i, -10.0)
    manifest = json.loads((TABLES_DIR.parent / "manifest.json").read_text())
    assert f"tables/{name}.json" in {e["file"] for e in manifest}


def test_tables_match_the_weights(model) -> None:
    doc = json.loads((TABLES_DIR / "djscc_du_msssim.json").read_text())
    from semdacom.data import file_sha256

    main = [p for p in doc["points"] if p["weights"] == f"weights/{djscc.DEFAULT_WEIGHTS}"]
    assert len(main) == 1
    assert main[0]["model_sha256"] == file_sha256(djscc.default_weights_path())


def test_zf_wf_djscc_uses_the_shipped_tables() -> None:
    du = SnrTable.load(TABLES_DIR / "djscc_du_msssim.json")
    su = SnrTable.load(TABLES_DIR / "djscc_su_error.json")
    pr = make_problem()
    sol = baselines.zf_wf_djscc(pr, [du, su], bandwidth_ratio=0.6)
    assert sol.rate_index is None
    for i, t in enumerate((du, su)):
        k = sol.diagnostics["djscc_points"][i]
        assert t.train_snr_db[k] == 10.0
        assert t.bandwidth_ratio[k] == pytest.approx(0.6, abs=0.01)
        snr_db = 10 * np.log10(sol.sinr[i])
        assert sol.distortion[i] == pytest.approx(float(t.distortion(k, snr_db)))
        assert 0.0 <= sol.distortion[i] < 1.0
    # more power, less distortion (never more)
    rich = baselines.zf_wf_djscc(make_problem(p_max=30.0), [du, su], bandwidth_ratio=0.6)
    assert np.all(rich.distortion <= sol.distortion + 1e-12)
