"""QA of ``pilot_inserter``: beamformed frames -> over-the-air bursts (docs/ota.md)."""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from block_harness import make_tag
from gnuradio import blocks, gr, semdacom
from gnuradio.semdacom import messages

from semdacom.channel_coding import ota
from semdacom.phy import pilots

K, N_T, SLOT, P = 2, 2, 512, 1.3
H = np.array([0.9 + 0.2j, -0.4 + 0.7j])


def chan(user: int, n_bits: int, image_id: int) -> pmt.pmt_base:
    return messages.meta_to_pmt({"user": user, "mode": "ldpc", "L": 256, "n_bits": n_bits,
                                 "mcs": 3, "pdu_image_id": image_id})  # fmt: skip


def run(frames, user1_tags=True, bad=None, chunk=0):
    """Frames ``(frame value pmt, length)`` on two antenna streams; returns the block, the
    outputs and the tags of output 0."""
    rng = np.random.default_rng(0)
    xs = [[], []]
    tags = []
    off = 0
    for f, (value, n) in enumerate(frames):
        tags += [make_tag(off, "frame", value), make_tag(off, "packet_len", pmt.from_long(n)),
                 make_tag(off, messages.CHAN_TAG, chan(0, 100 + f, 10 + f))]  # fmt: skip
        if user1_tags:
            wrapped = pmt.make_tuple(pmt.from_long(1), pmt.intern(messages.CHAN_TAG),
                                     chan(1, 200 + f, 20 + f))  # fmt: skip
            tags.append(make_tag(off, "semdacom_user_tag", wrapped))
        if bad is not None:
            tags.append(make_tag(off, "semdacom_user_tag", bad))
        for a in range(N_T):
            xs[a].append(rng.standard_normal(n) + 1j * rng.standard_normal(n))
        off += n
    xs = [np.concatenate([np.zeros(7), *x]).astype(np.complex64) for x in xs]  # 7 outside
    tags = [make_tag(t.offset + 7, t.key, t.value) for t in tags]
    blk = semdacom.pilot_inserter(K, N_T, 63, 8, P, 2, SLOT, 16)
    if chunk:
        blk.set_max_noutput_items(chunk)
    tb = gr.top_block()
    sinks = []
    for a in range(N_T):
        src = blocks.vector_source_c(xs[a].tolist(), False, 1, tags if a == 0 else [])
        snk = blocks.vector_sink_c()
        tb.connect(src, (blk, a))
        tb.connect((blk, a), snk)
        sinks.append(snk)
    tb.run()
    outs = [np.array(s.data(), np.complex64) for s in sinks]
    return (
        blk,
        xs,
        outs,
        [(t.offset, pmt.symbol_to_string(t.key), t.value) for t in sinks[0].tags()],
    )


@pytest.mark.parametrize("chunk", [0, 100])
def test_every_frame_becomes_one_burst_with_its_header(chunk: int) -> None:
    frames = [(pmt.from_uint64(5 + f), n) for f, n in enumerate((300, 512, 40))]
    blk, xs, outs, tags = run(frames, chunk=chunk)
    lay = blk.layout()
    c = blk.counters()
    assert c["frames_in"] == c["bursts_out"] == 3 and c["frames_cut"] == 0
    assert c["samples_in"] - c["samples_framed"] == 7
    assert all(o.size == 3 * lay.length for o in outs)
    sob = [o for o, k, _ in tags if k == "tx_sob"]
    eob = [o for o, k, _ in tags if k == "tx_eob"]
    fr = [(o, pmt.to_uint64(v)) for o, k, v in tags if k == "frame"]
    assert sob == [0, lay.length, 2 * lay.length]
    assert eob == [lay.length - 1, 2 * lay.length - 1, 3 * lay.length - 1]
    assert fr == [(0, 5), (lay.length, 6), (2 * lay.length, 7)]
    pos = 7
    for b, (_, n) in enumerate(frames):
        burst = np.stack([o[b * lay.length : (b + 1) * lay.length] for o in outs])
        y = np.conj(H) @ burst  # a noiseless user
        rb = ota.receive_burst(y[: lay.span], lay, P)
        assert rb.header["frame"] == 5 + b and not rb.header["truncated"]
        e0, e1 = rb.header["entries"]
        assert (e0["n_bits"], e0["image_id"], e0["mcs"]) == (100 + b, 10 + b, 3)
        assert (e1["n_bits"], e1["image_id"]) == (200 + b, 20 + b)
        # the payload is the frame's antenna samples, zero-padded to the slot, in pieces of
        # pilot_spacing samples with a pilot block after each (block i: its own phase mask)
        want = np.stack([x[pos : pos + n] for x in xs])
        got = np.concatenate([burst[:, a : a + m] for a, m in lay.payload_segments], axis=1)
        assert lay.inner_blocks == (SLOT - 1) // 256 == 1
        for i, o in enumerate(lay.pilot_offsets):
            np.testing.assert_allclose(
                burst[:, o : o + lay.n_pilots],
                pilots.pilot_matrix(N_T, lay.n_pilots, P, i),
                atol=1e-6,
            )
        np.testing.assert_allclose(got[:, :n], want, atol=1e-6)
        assert np.all(got[:, n:] == 0)
        assert np.all(burst[:, lay.span :] == 0)  # the guard
        pos += n


def test_a_long_frame_is_cut_and_flagged_and_a_missing_user_is_absent() -> None:
    bad = pmt.make_tuple(pmt.from_long(9), pmt.intern("x"), pmt.PMT_T)  # user 9 of K = 2
    blk, _, outs, _ = run([(pmt.from_uint64(0), 700)], user1_tags=False, bad=bad)
    c = blk.counters()
    assert c["frames_cut"] == 1 and c["bursts_out"] == 1 and c["bad_user_tags"] == 1
    lay = blk.layout()
    rb = ota.receive_burst((np.conj(H) @ np.stack(outs))[: lay.span], lay, P)
    assert rb.header["truncated"] and rb.header["entries"][1] == {"present": False}


def test_a_frame_tag_without_a_number_takes_the_next_one() -> None:
    blk, _, outs, _ = run([(pmt.from_uint64(9), 100), (pmt.intern("x"), 100)])
    assert blk.counters()["frames_unnumbered"] == 1
    lay = blk.layout()
    y = np.conj(H) @ np.stack(outs)
    rb = ota.receive_burst(y[lay.length : lay.length + lay.span], lay, P)
    assert rb.header["frame"] == 10


def test_pilot_spacing_sets_the_pilot_blocks_inside_the_payload() -> None:
    for m, inner in ((0, 0), (128, 3), (512, 0)):
        lay = semdacom.pilot_inserter(payload_len=SLOT, pilot_spacing=m).layout()
        assert lay.pilot_spacing == m and lay.inner_blocks == inner
        assert lay.span == 2 * 127 + lay.header_uses + SLOT + (3 + inner) * 16


@pytest.mark.parametrize("kw", [{"n_pilots": 2}, {"preamble_len": 64}, {"pilot_power": 0.0},
                                {"payload_len": 0}, {"k": 0}, {"header_mcs": 99},
                                {"pilot_spacing": -1}, {"pilot_spacing": 8}])  # fmt: skip
def test_bad_parameters_are_refused(kw) -> None:
    with pytest.raises(ValueError):
        semdacom.pilot_inserter(**kw)
