"""Shipped weights and tables: listed in the manifest with matching hashes; the fitted
distortion tables follow docs/mu_ascc/tables.md and reach R^2 >= 0.95; size budget."""

from __future__ import annotations

import json

import numpy as np
import pytest

from semdacom.data import DATA_DIR, WEIGHTS_DIR, file_sha256
from semdacom.mu_ascc import distortion_fit as dfit

TABLES = ["hyperprior_vbr_du_msssim", "hyperprior_vbr_du_mse", "hyperprior_vbr_su_error"]


def _manifest() -> dict:
    entries = json.loads((DATA_DIR / "manifest.json").read_text())
    assert isinstance(entries, list)
    return {e["file"]: e for e in entries}


def test_manifest_lists_codec_files_with_hashes() -> None:
    entries = _manifest()
    for f in ["weights/hyperprior_vbr.pt", "weights/classifier.pt", "weights/semantic_vbr.pt"]:
        assert f in entries, f
        e = entries[f]
        assert e["sha256"] == file_sha256(DATA_DIR / f)
        assert e["made_by"].startswith("semdacom ") and e["dataset"] and e["metric"]


def test_shipped_size_budget() -> None:
    total = sum(p.stat().st_size for p in DATA_DIR.rglob("*") if p.is_file())
    assert total <= 30 * 2**20


@pytest.mark.parametrize("name", TABLES)
def test_distortion_table(name: str) -> None:
    path = DATA_DIR / "tables" / f"{name}.json"
    doc = json.loads(path.read_text())
    assert doc["format"] == dfit.FORMAT and doc["x"] == "log10_ber"
    assert doc["model_sha256"] == file_sha256(WEIGHTS_DIR / "hyperprior_vbr.pt")
    assert f"tables/{name}.json" in _manifest()
    pts = doc["points"]
    assert len(pts) >= 16
    assert np.all(np.diff([p["rs_bits"] for p in pts]) > 0)
    for p in pts:
        assert p["r2"] >= 0.95
        xs = np.asarray(p["samples"]["log10_ber"])
        # 1e-8..1e-1 and the high BERs up to 1/2 (dfit.HIGH_BER: the low-rate end saturates there)
        assert xs.min() == pytest.approx(-8.0) and xs.max() == pytest.approx(np.log10(0.5))
        model = dfit.logistic(xs, p["d_s"], p["d_c"], p["a1"], p["a0"])
        d = np.asarray(p["samples"]["distortion"])
        r2 = 1 - np.sum((model - d) ** 2) / np.sum((d - d.mean()) ** 2)
        assert r2 == pytest.approx(p["r2"], abs=1e-6)
