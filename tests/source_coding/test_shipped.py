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


def test_shipped_colour_model_and_its_tables() -> None:
    """Issue 25: the colour model (32 x 32 RGB, trained on the photographs of mate-backgrounds
    not held out) ships with its rate table and the data user's distortion tables, all in the
    manifest, each table fitted on these weights; the weights path alone finds its rate table
    and nothing of the grayscale model attaches to it."""
    from semdacom.cli.demo_colour import COLOUR_TABLE, COLOUR_WEIGHTS
    from semdacom.mu_ascc.distortion import load_table
    from semdacom.source_coding.codec import LearnedCodec

    entries = _manifest()
    sha = file_sha256(COLOUR_WEIGHTS)
    tables = ("hyperprior_vbr_eval", "hyperprior_vbr_du_msssim", "hyperprior_vbr_du_mse")
    for f in ["colour/weights/hyperprior_vbr.pt", *(f"colour/tables/{t}.json" for t in tables)]:
        assert entries[f]["sha256"] == file_sha256(DATA_DIR / f), f
        assert entries[f]["made_by"].startswith("semdacom ") and "photos" in entries[f]["dataset"]
    for t in tables:
        doc = json.loads((DATA_DIR / "colour" / "tables" / f"{t}.json").read_text())
        assert doc["model_sha256"] == sha and doc["image_shape"] == [3, 32, 32], t
    codec = LearnedCodec.load(COLOUR_WEIGHTS)
    assert codec.image_shape == (3, 32, 32) and codec.semantic is None
    assert codec.levels == 16 and codec.rate_table is not None
    assert np.all(np.diff(codec.rate_table) > 0)
    table = load_table(str(COLOUR_TABLE))
    assert table.rs_bits.size == 16 and np.allclose(table.rs_bits, codec.rate_table, rtol=0.05)
