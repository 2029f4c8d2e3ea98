"""The short profile of `make soak` (bench/soak.py): the MU-ASCC closed loop with Rayleigh
block fading for SOAK_IMAGES images per user, the optimiser's CSI input cut and restored and
the optimiser replaced by a new instance; then the over-the-air split (ZMQ) for OTA_IMAGES
images with the feedback cut and restored and the base station's control side restarted.
Every image in gives one result, no thread ends, nothing hangs, and the cut is survived:
CSI is dropped while cut, new allocations follow once restored, and the blocks take them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SOAK_IMAGES = 1500
OTA_IMAGES = 200


@pytest.fixture(scope="module")
def soak(tmp_path_factory):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import soak as soak_bench
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return soak_bench.run(
        images=SOAK_IMAGES,
        ota_images=OTA_IMAGES,
        sample_s=0.5,
        stall_s=60.0,
        progress=False,
        out=None,
        work=tmp_path_factory.mktemp("soak_fg"),
    )


def test_nothing_lost_no_thread_dies_nothing_hangs(soak) -> None:
    assert soak["images_per_user"] == SOAK_IMAGES
    lb, ota = soak["loopback"], soak["ota_sim"]
    assert lb["images_in"] == lb["results_out"] == 2 * SOAK_IMAGES, lb
    assert lb["malformed"] == lb["unmatched"] == 0
    assert lb["probe"]["duplicates"] == lb["probe"]["unreadable"] == 0
    assert ota["images_in"] == 2 * OTA_IMAGES, ota
    assert ota["bursts_sent"] == OTA_IMAGES + ota["beacons"] and ota["beacons"] >= 1, ota
    assert soak["lost"] == 0 and lb["lost"] == ota["lost"] == 0
    assert soak["thread_deaths"] == 0, (lb["threads_ended"], ota["threads_ended"])
    assert soak["hangs"] == 0
    lat = soak["latency_ms"]
    assert np.isfinite(lat["p99"]) and lat["p50"] <= lat["p99"] <= lat["max"]
    assert soak["rss_growth_pct"] is not None


def test_cut_and_restore_are_survived(soak) -> None:
    lb, ota = soak["loopback"], soak["ota_sim"]
    names = [e["event"] for e in lb["events"]]
    assert names == ["csi_cut", "csi_restored", "optimizer_restarted"], lb["events"]
    assert lb["events"][1]["csi_dropped_while_cut"] > 0  # the fading went on while cut
    w = lb["frames_in_force"]
    # while cut nothing new reaches the blocks, and after the restore the optimiser solves
    # again: the frames are decoded (channel decoder) and sent (beamformer) with the allocation
    # in force. The short profile allows 1 %: on a loaded machine an allocation can arrive
    # after its apply_frame (the optimiser's answer took longer than the lead of 6 frames),
    # and the encoders, which run ahead of the channel, are often a frame or more late; those
    # frames are counted in soak.json (mismatched_by_block), whose strict key
    # after_feedback_restored_all_in_force is the long run's
    for name in ("cut", "after_csi_restored"):
        n, m = w[name]["results"], w[name]["mismatched_by_block"]
        assert n > 0 and m["channel_decoder"] <= 0.01 * n and m["beamformer"] <= 0.01 * n, w[name]
    names = [e["event"] for e in ota["events"]]
    assert names == ["feedback_cut", "feedback_restored", "base_station_restarted"]
    assert ota["events"][1]["reports_dropped_while_cut"] > 0
    # over the air the allocation reaches the users over ZMQ while the frames run in real
    # time (20 ms apart): on a loaded machine an allocation may arrive after its apply_frame;
    # the short profile asserts that the restored feedback drives the users again, and the
    # frames decoded with another allocation are counted in soak.json (the long run's key)
    fr = ota["frames_in_force"]["after_feedback_restored"]
    assert fr["results"] > 0 and fr["in_force"] >= 0.8 * fr["results"], fr


def test_restarted_optimizer_is_applied(soak) -> None:
    """The new optimiser's allocations are the ones in force after its first apply_frame +
    the lead, and two leads after it no block uses the old optimiser's. As for the restore
    (test_cut_and_restore_are_survived) the short profile allows 1 % of the frames decoded or
    sent with an allocation that arrived after its apply_frame on a loaded machine (the
    clean-clone CI once had such frames after the restart); soak.json's
    ``restarted_optimizer_applied`` (every frame, the long run's key) is reported as is."""
    lb = soak["loopback"]
    assert lb["allocations"]["optimizer_2"] > 0  # the new instance did publish
    w = lb["frames_in_force"]["after_restart"]
    n, m = w["results"], w["mismatched_by_block"]
    why = (w["frames"], n, m, w["first_mismatches_user_frame_expected_src_enc_dec_bf"])
    assert n > 0 and m["channel_decoder"] <= 0.01 * n and m["beamformer"] <= 0.01 * n, why
    assert lb["frames_after_twice_the_lead_with_old_allocation"] == 0, why
    assert soak["ota_sim"]["restarted_bs_applied"]
