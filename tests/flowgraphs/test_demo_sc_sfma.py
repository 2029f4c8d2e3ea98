"""``semdacom demo-sc-sfma`` (issue 22, Build 7): the SC-SFMA closed loop
(examples/sfma_loopback.grc) headless on users whose content overlaps, with a few images.

Checks the report's structure, not the models' numbers (the shipped weights and tables are
retrained): every image in gives exactly one result out, the allocation in force is the
optimiser's (when it found one), each user's measured PSNR and MS-SSIM stand next to the
table's prediction and the library chains of SC-SFMA and SwinJSCC+NOMA on the same pairs,
and the JSON and PNG are written.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = [ROOT / "src" / "semdacom" / "data" / "weights" / f"sfma_{v}.pt"
           for v in ("sc_sfma", "swinjscc_noma")]  # fmt: skip
N = 4
K = 4

pytestmark = pytest.mark.skipif(
    not all(w.exists() for w in WEIGHTS), reason="the SC-SFMA weights are not shipped"
)


def _finite(v) -> bool:
    return isinstance(v, float) and math.isfinite(v)


def test_demo_sc_sfma_one_result_per_image_measured_next_to_predicted(tmp_path, capsys) -> None:
    from semdacom.cli import demo_sc_sfma

    args = argparse.Namespace(images=N, overlap_users=[0, 1], overlap_class=0,
                              other_classes=[7, 5], seed=0, d_max=0.3, request_images=64,
                              out=tmp_path)  # fmt: skip
    assert demo_sc_sfma.run(args) == 0
    text = capsys.readouterr().out
    assert "images in - results out: 0; every image one result: True" in text
    assert "PSNR meas" in text and "lib Swin" in text
    rep = json.loads((tmp_path / "sc_sfma_report.json").read_text())
    assert rep["images_per_user"] == N
    assert rep["images_in_minus_results_out"] == 0 and rep["every_image_one_result"] is True

    # content: users 0 and 1 two views of the same images, 2 and 3 unrelated
    content = rep["content"]
    assert content["overlap_users"] == [0, 1] and len(content["overlap_kinds"]) == N
    by_user = {c["user"]: c for c in content["users"]}
    assert by_user[0]["overlaps_with"] == 1 and by_user[1]["overlaps_with"] == 0
    assert by_user[2]["overlaps_with"] is None and by_user[3]["overlaps_with"] is None
    assert by_user[0]["test_ids"] == by_user[1]["test_ids"]
    assert not set(by_user[2]["test_ids"]) & set(by_user[3]["test_ids"])
    for u in range(K):
        npz = np.load(by_user[u]["npz"])
        assert npz["images"].shape == (N, 28, 28) and npz["images"].dtype == np.uint8

    # the allocation in force: two groups covering the four users, as the optimiser sent it
    groups = rep["groups"]
    assert len(groups) == 2
    assert sorted(u for g in groups for u in g["users"]) == list(range(K))
    opt = rep["optimizer"]
    for g in groups:
        assert g["overlap"] == (set(g["users"]) == {0, 1})
        assert g["label_class"] in ("same", "related", "dissimilar")
        assert len(g["nu"]) == 1 and 0 < g["nu"][0] <= 1
        assert 0 < g["power_share"] <= 1 and 0 < g["bw_share"] <= 1
        assert -1.0 <= g["similarity_mean"] <= 1.0 and g["frames"] == N
        if opt["solved"]:
            assert g["from_optimiser"] and g["alloc_seq"] == [opt["seq"]]
            assert sorted(g["users"]) == sorted(opt["pairs"][g["group"]])
            assert g["power_w"] == pytest.approx(opt["power_w"][g["group"]])
            assert abs(g["nu"][0] - opt["nu"][g["group"]]) <= 1 / 64 + 1e-9  # k/C of the plan
    if opt["solved"]:
        assert sum(opt["power_share"]) == pytest.approx(1.0, abs=1e-3)

    # per user: one result per image, measured beside predicted and both library chains
    assert [r["user"] for r in rep["users"]] == list(range(K))
    for r in rep["users"]:
        assert r["images_in"] == r["results_out"] == N and r["one_result_per_image"], r
        assert r["erased"] == 0
        assert sorted(x["image_id"] for x in r["per_image"]) == list(range(N))
        assert r["partner_overlaps"] == (r["user"] in (0, 1) and r["partner"] in (0, 1))
        for key in ("measured", "library_sc_sfma", "library_swinjscc_noma"):
            assert _finite(r[key]["psnr_db"]) and 5 < r[key]["psnr_db"] < 60, (key, r)
            assert _finite(r[key]["msssim"]) and 0 < r[key]["msssim"] <= 1, (key, r)
        p = r["predicted"]
        assert p["class"] in ("same", "related", "dissimilar")
        assert _finite(p["psnr_db"]) and _finite(p["msssim"]) and _finite(p["envelope_1_msssim"])
        gain = r["sc_sfma_minus_swinjscc_noma"]
        assert gain["images"] == N
        for key in ("psnr_db", "msssim"):
            lo, hi = gain[key]["ci95"]
            assert _finite(gain[key]["mean"]) and _finite(lo) and _finite(hi) and lo <= hi, gain
        # the library SC-SFMA chain on the flowgraph's pairs is the flowgraph within noise
        assert abs(r["measured"]["psnr_db"] - r["library_sc_sfma"]["psnr_db"]) < 1.5, r
    assert (tmp_path / "sc_sfma_report.png").stat().st_size > 20_000
