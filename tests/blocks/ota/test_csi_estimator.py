"""QA of ``csi_estimator``: LS CSI reports, headers and payloads of synchronised bursts."""

from __future__ import annotations

import math

import numpy as np
import pmt
import pytest
from block_harness import make_tag
from gnuradio import blocks, gr, semdacom
from gnuradio.semdacom import messages

from semdacom.channel_coding import ota
from semdacom.phy import pilots

P = 1.2
LAY = dict(k=2, n_t=2, preamble_len=63, n_pilots=8, header_mcs=2, payload_len=300)
H = np.array([[0.9 - 0.5j, 0.3 + 0.8j], [-0.2 + 1.1j, 0.6 - 0.1j]])


def bursts(user, frames, nv, seed=0, noise_bursts=(), entries=None, taps=(1.0,), beacons=0):
    """Spans as frame_sync hands them on (CFO removed), with their ota_sync tags; ``taps``:
    a symbol-spaced multipath channel (unit energy); the first ``beacons`` bursts have no
    entry for any user (``channel_encoder``'s beacons)."""
    rng = np.random.default_rng(seed)
    lay = ota.BurstLayout(**LAY)
    parts, tags, pays = [], [], []
    for b, f in enumerate(frames):
        ent = entries or [{"present": True, "n_bits": 50 + f, "erased": False, "mcs": 3,
                           "image_id": 1000 + f, "label": f % 10}] * 2  # fmt: skip
        if b < beacons:
            ent = [{"present": False}] * 2
        pay = (rng.standard_normal((2, 300)) + 1j * rng.standard_normal((2, 300))) * 0.5
        a = np.asarray(taps, complex) / np.linalg.norm(taps)
        y = np.convolve(np.conj(H[user]) @ ota.build_burst(lay, f, ent, pay, P), a)[: lay.span]
        y = y * np.exp(1j * (0.3 + 2e-5 * np.arange(y.size)))
        y = y + (rng.standard_normal(y.size) + 1j * rng.standard_normal(y.size)) * math.sqrt(nv / 2)
        if b in noise_bursts:
            y = (rng.standard_normal(y.size) + 1j * rng.standard_normal(y.size)) * 3
        info = messages.meta_to_pmt({"start": b, "cfo": 0.0, "metric": 0.9, "rho": 0.9})
        tags.append(make_tag(b * lay.span, "ota_sync", info))
        parts.append(y)
        pays.append(np.conj(H[user]) @ pay)
    return np.concatenate(parts).astype(np.complex64), tags, pays, lay


def run(user, y, tags, chunk=0, **kw):
    blk = semdacom.csi_estimator(user=user, pilot_power=P, blocklength=256, **LAY, **kw)
    if chunk:
        blk.set_max_noutput_items(chunk)
    tb = gr.top_block()
    src = blocks.vector_source_c(y.tolist(), False, 1, tags)
    snk = blocks.vector_sink_c()
    dbg = blocks.message_debug()
    tb.connect(src, blk, snk)
    tb.msg_connect((blk, "csi"), (dbg, "store"))
    tb.run()
    reports = [messages.csi_report_from_pmt(dbg.get_message(i), n_t=2, k=2)
               for i in range(dbg.num_messages())]  # fmt: skip
    stags = [(t.offset, pmt.symbol_to_string(t.key), t.value) for t in snk.tags()]
    return blk, np.array(snk.data(), np.complex64), stags, reports


@pytest.mark.parametrize(("user", "chunk"), [(0, 0), (1, 0), (1, 111)])
def test_reports_and_payloads_of_every_burst(user: int, chunk: int) -> None:
    nv = 0.05
    frames = list(range(3, 23))
    y, tags, pays, lay = bursts(user, frames, nv, seed=user)
    blk, out, stags, reports = run(user, y, tags, chunk)
    c = blk.counters()
    assert c["bursts"] == c["headers_ok"] == c["reports"] == c["payloads_out"] == 20, c
    assert c["header_failed"] == c["frames_missed"] == c["errors"] == 0
    assert [r[1] for r in reports] == [user] * 20
    assert [r[2] for r in reports] == frames
    assert [r[0].seq for r in reports] == list(range(20))
    # trained on preamble, pilots and the decoded header (2N + H + 2 N_p known samples in a
    # row): within a factor 2 of flat LS over those, far below the pilot blocks' alone
    mse = np.mean([pilots.aligned_mse(r[0].h[0], H[user]) for r in reports])
    n_train = 2 * lay.preamble_len + lay.header_uses + 2 * lay.n_pilots
    theory = pilots.aligned_mse_theory(nv, n_train, P, 2)
    assert 0.5 < mse / theory < 2.0, (mse, theory)
    assert mse < pilots.aligned_mse_theory(nv, lay.pilots_total, P, 2) / 4
    assert np.mean([r[0].noise_var[0] for r in reports]) == pytest.approx(nv, rel=0.2)
    # payloads: the slot, turned like the estimate (h[0] real), with the decoder's tags
    assert out.size == 20 * 300
    frame_tags = [(o, pmt.to_uint64(v)) for o, k, v in stags if k == "frame"]
    assert frame_tags == [(300 * b, f) for b, f in enumerate(frames)]
    assert [pmt.to_long(v) for _, k, v in stags if k == "packet_len"] == [300] * 20
    infos = [messages.chan_info(messages.meta_from_pmt(v)) for _, k, v in stags
             if k == messages.CHAN_TAG]  # fmt: skip
    assert [i["pdu_image_id"] for i in infos] == [1000 + f for f in frames]
    assert all(i["user"] == user and i["mcs"] == 3 and i["mode"] == "ldpc" for i in infos)
    assert [i["n_bits"] for i in infos] == [50 + f for f in frames]
    for b, r in enumerate(reports):
        # out = payload * conj(u) with h_out = h u: removing the turn gives the payload back
        u = r[0].h[0][0] / H[user][0]
        u /= abs(u)
        err = out[300 * b : 300 * (b + 1)] * u - pays[b] * np.exp(0.3j + 0j)
        assert np.mean(np.abs(err) ** 2) < 0.2


@pytest.mark.parametrize("taps", [(1.0, 0.0, 0.5j), (0.5, 1.0, 0.0, 0.0, 0.3j)])
def test_an_echo_is_equalised_and_its_cost_is_in_the_reported_noise(taps) -> None:
    """Issue 21: the payload goes out equalised (~ h^H x), and the noise in the report is the
    effective noise after equalisation, so the optimiser sees what the echo costs."""
    nv = 0.05
    frames = list(range(6))
    y, tags, pays, lay = bursts(0, frames, nv, seed=3, taps=taps)
    blk, out, _, reports = run(0, y, tags)
    c = blk.counters()
    assert c["headers_ok"] == c["payloads_out"] == 6 and c["errors"] == 0, c
    for b, r in enumerate(reports):
        # out ~ h_hat^H x: the true h^H x turned by the burst's phase (and the burst's phase
        # of 0.3 rad), i.e. one unit factor per burst
        z, s = out[300 * b : 300 * (b + 1)], pays[b]
        k = np.vdot(s, z) / np.vdot(s, s)
        assert abs(k) == pytest.approx(1.0, abs=0.05)
        err = np.mean(np.abs(z - k * s) ** 2)
        # one burst's 300 payload samples against its training: the ratio spread 0.89-1.27 over
        # seeds 3-5 and both channels (mean 1.08: the report leans conservative)
        assert r[0].noise_var[0] == pytest.approx(err, rel=0.35), (r[0].noise_var[0], err)
        assert nv < r[0].noise_var[0] < 4 * nv  # the echo costs, the equaliser recovers most


def test_a_lost_header_is_an_erasure_and_a_gap_counts_as_missed() -> None:
    y, tags, _, _ = bursts(0, [0, 1, 4, 5], 0.01, noise_bursts=(1,))
    blk, out, stags, reports = run(0, y, tags)
    c = blk.counters()
    assert c["header_failed"] == 1 and c["headers_ok"] == 3 and c["payloads_out"] == 4
    assert c["frames_missed"] == 2  # frames 2 and 3 (after 0, the lost one was inferred as 1)
    assert [r[2] for r in reports] == [0, None, 4, 5]
    infos = [messages.meta_from_pmt(v) for _, k, v in stags if k == messages.CHAN_TAG]
    assert infos[1]["erased"] is True and infos[1]["frame_inferred"] is True
    assert [pmt.to_uint64(v) for _, k, v in stags if k == "frame"] == [0, 1, 4, 5]


def test_no_entry_for_this_user_gives_no_payload() -> None:
    ent = [{"present": True, "n_bits": 8, "erased": False}, {"present": False}]
    y, tags, _, _ = bursts(1, [0, 1], 0.01, entries=ent)
    blk, out, _, reports = run(1, y, tags)
    assert blk.counters()["no_frame_for_user"] == 2 and out.size == 0 and len(reports) == 2


def test_a_header_lost_before_the_users_first_frame_gives_no_payload() -> None:
    """Issue 21, initial access: bursts 0-1 are beacons (no entry), 2-4 carry data. A header
    lost before any was read (burst 0) or after a beacon (burst 2: it may or may not have
    carried this user's first image) gives its CSI report and no payload
    (``header_failed_unplaced``): the decoder answers a lost image by the gap in the images'
    numbers. A header lost after the user's first frame still gives an erasure payload (the
    test above)."""
    y, tags, _, _ = bursts(0, [0, 1, 2, 3, 4], 0.01, noise_bursts=(0, 2), beacons=2)
    blk, out, stags, reports = run(0, y, tags)
    c = blk.counters()
    assert c["header_failed"] == c["header_failed_unplaced"] == 2, c
    assert c["no_frame_for_user"] == 1 and c["payloads_out"] == 2 and len(reports) == 5, c
    assert [pmt.to_uint64(v) for _, k, v in stags if k == "frame"] == [3, 4]


@pytest.mark.parametrize("kw", [{"user": 2}, {"pilot_power": -1.0}, {"blocklength": 0},
                                {"taps": 0}, {"taps": 4, "precursor": 4},
                                {"pilot_spacing": -1}])  # fmt: skip
def test_bad_parameters_are_refused(kw) -> None:
    with pytest.raises(ValueError):
        semdacom.csi_estimator(**{**LAY, **kw})


def test_a_helper_process_gives_the_same_results_and_a_dead_one_is_replaced_by_the_thread(
) -> None:  # fmt: skip
    """``helper_process``: every burst computed in the helper (``in_helper``), the same
    reports and payloads as in the block's thread; a helper killed during the run is logged
    and counted (``helper_failed``) and the remaining bursts are computed in the block's
    thread, none lost."""
    frames = list(range(3, 15))
    y, tags, _, _ = bursts(1, frames, 0.05, seed=5)
    ref_blk, ref_out, ref_tags, ref_rep = run(1, y, tags)
    blk, out, stags, rep = run(1, y, tags, helper_process=True)
    c = blk.counters()
    assert c["in_helper"] == c["bursts"] == 12 and c["helper_failed"] == 0, c
    assert np.array_equal(out, ref_out)
    assert [(o, k, pmt.write_string(v)) for o, k, v in stags] == [
        (o, k, pmt.write_string(v)) for o, k, v in ref_tags
    ]
    assert [r[2] for r in rep] == frames
    for a, b in zip(rep, ref_rep, strict=True):
        assert np.array_equal(a[0].h, b[0].h) and np.array_equal(a[0].noise_var, b[0].noise_var)
    assert ref_blk.counters()["in_helper"] == 0
    assert not blk._helper.alive  # stopped with the flowgraph

    # killed after 4 bursts: the rest in the block's thread
    blk = semdacom.csi_estimator(user=1, pilot_power=P, blocklength=256, helper_process=True,
                                 **LAY)  # fmt: skip
    helper_call = blk._helper.call

    def call_then_kill(*a):
        out = helper_call(*a)
        if blk._helper.calls == 6:  # the start's ping and preload, then 4 bursts
            blk._helper._proc.kill()
            blk._helper._proc.wait()
        return out

    blk._helper.call = call_then_kill
    tb = gr.top_block()
    src, snk = blocks.vector_source_c(y.tolist(), False, 1, tags), blocks.vector_sink_c()
    tb.connect(src, blk, snk)
    tb.run()
    c = blk.counters()
    assert c["in_helper"] == 4 and c["helper_failed"] == 1, c
    assert c["bursts"] == c["payloads_out"] == 12 and c["errors"] == 0, c
    assert np.array_equal(np.array(snk.data(), np.complex64), ref_out)


def test_a_helper_that_cannot_start_leaves_the_bursts_to_the_thread(monkeypatch) -> None:
    """The helper's interpreter cannot be started (here: an executable that does not exist):
    logged and counted (``helper_failed``), the flowgraph runs, every burst computed in the
    block's thread."""
    import sys

    frames = list(range(3, 9))
    y, tags, _, _ = bursts(0, frames, 0.05, seed=6)
    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    blk, out, _, rep = run(0, y, tags, helper_process=True)
    c = blk.counters()
    assert c["helper_failed"] == 1 and c["in_helper"] == 0, c
    assert c["bursts"] == c["payloads_out"] == 6 and [r[2] for r in rep] == frames
