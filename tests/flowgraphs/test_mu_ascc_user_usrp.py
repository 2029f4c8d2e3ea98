"""examples/mu_ascc_user_usrp.grc run as a user would run it, with its UHD source replaced by
a file (bench/user_rx.py's recording: what the base station sends, at the USRP example's pace,
through a small air: CFO, a fractional timing offset, noise between the bursts), everything
else at the example's defaults (the 262144-sample stream buffers, the decoders' 50 ms batch
wait, the CSI estimator's helper process): every burst decoded, one result per image in both
metrics sinks, none missing, none unmatched, and the images as good as the bench's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BURSTS = 40


@pytest.fixture(scope="module")
def user_rx():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import user_rx as bench_user_rx
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return bench_user_rx


@pytest.mark.parametrize("csi_helper", [1, 0])
def test_every_burst_of_a_recording_decoded_once(user_rx, csi_helper) -> None:
    path, meta = user_rx.make_recording(BURSTS)
    r = user_rx.run_mu_ascc(path, meta, timeout_s=300.0, csi_helper=csi_helper)
    assert r["finished"], r
    assert r["user_rx_bursts_decoded_pct"] == 100.0, r["channel_decoder"]
    assert r["frame_sync"]["bursts"] == BURSTS and r["frame_sync"]["samples_dropped"] == 0
    for key in ("du_summary", "su_summary"):
        s = r[key]
        c = s["counts"]
        assert c["results"] == c["refs"] == BURSTS, s
        assert c["missing"] == c["unmatched"] == c["malformed"] == 0, s
        u = s["users"]["0"]
        assert u["received"] == u["evaluated"] == BURSTS and u["erased"] == 0, u
    assert r["du_summary"]["users"]["0"]["msssim"] > 0.97
    assert r["su_summary"]["users"]["0"]["accuracy"] >= 0.75
    dec = r["channel_decoder"]
    assert dec["frames_in"] == dec["pdus_out"] == BURSTS and dec["codewords_lost"] == 0
