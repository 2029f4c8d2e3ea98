"""QA of the expected-frame accounting (issue 21, Build 4: every image accounted for over the
air): ``plumbing.expected.ExpectedFrames`` and the ``channel_decoder`` that uses it. Every frame
the transmitter sent gives exactly one PDU at the decoder: the frames received are decoded,
and every frame never received -- before the first one received, between two, after the last --
is answered by one erasure (``frame_missing``), in frame order."""

from __future__ import annotations

import time

import numpy as np
import pmt
import pytest
from block_harness import GatedSource, wait_until
from gnuradio import blocks, gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.channel_coding.channel_decoder import channel_decoder
from gnuradio.semdacom.plumbing.expected import MAX_FILL, ExpectedFrames

from semdacom.channel_coding import encode_bits

MCS, L = 3, 256


# ---------------------------------------------------------------------------------------------
# ExpectedFrames (plumbing)
# ---------------------------------------------------------------------------------------------


def test_gaps_before_between_and_after_are_owed_once() -> None:
    e = ExpectedFrames(first=0, count=10)
    assert e.arrive(2) == ([0, 1], False)
    assert e.arrive(3) == ([], False)
    assert e.arrive(6) == ([4, 5], False)
    assert e.owed() == 3
    assert e.close() == [7, 8, 9]
    assert e.close() == [] and e.owed() == 0
    assert e.arrive(8) == ([], True)  # answered already: late
    assert (e.filled, e.late, e.jumps) == (7, 1, 0)


def test_unknown_start_and_count_account_for_gaps_only() -> None:
    e = ExpectedFrames()
    assert e.arrive(5) == ([], False) and e.first == 5
    assert e.arrive(9) == ([6, 7, 8], False)
    assert e.close() == [] and e.owed() == 0
    e = ExpectedFrames(count=4)  # the first frame received sets the start
    assert e.arrive(10) == ([], False)
    assert e.close() == [11, 12, 13]


def test_repeats_steps_back_and_jumps_fill_nothing() -> None:
    e = ExpectedFrames(first=0)
    assert e.arrive(0) == ([], False)
    assert e.arrive(0) == ([], False)  # the same frame again
    assert e.arrive(3) == ([1, 2], False)
    assert e.arrive(1) == ([], False) and e.jumps == 1  # a new numbering
    assert e.arrive(2) == ([], False)
    assert e.arrive(3 + MAX_FILL + 1) == ([], False) and e.jumps == 2
    assert e.arrive(None) == ([], False) and e.arrive(-1) == ([], False)
    with pytest.raises(ValueError):
        ExpectedFrames(first=-3)
    with pytest.raises(ValueError):
        ExpectedFrames(count=-1)


@pytest.mark.parametrize("seed", range(5))
def test_random_arrivals_answer_every_frame_once(seed: int) -> None:
    """Any subset of the frames, in order: received + filled = every frame, each once."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 200))
    first = int(rng.integers(0, 1000))
    got = sorted(rng.choice(n, int(rng.integers(0, n + 1)), replace=False).tolist())
    e = ExpectedFrames(first=first, count=n)
    answered = []
    for g in got:
        missing, late = e.arrive(first + g)
        assert not late
        answered += missing + [first + g]
    answered += e.close()
    assert answered == list(range(first, first + n))


# ---------------------------------------------------------------------------------------------
# channel_decoder
# ---------------------------------------------------------------------------------------------


def _frames(numbers, rng, pdu_frames=None) -> tuple[np.ndarray, list, list]:
    """Clean LDPC frames tagged with the given frame numbers: (samples, tags, payloads).
    ``pdu_frames``: per frame its image's own number (``pdu_frame``; None: none, and the frame
    is an erasure whose header was lost, as ``csi_estimator`` sends it)."""
    xs, tags, sent, off = [], [], [], 0
    for i, f in enumerate(numbers):
        u = rng.integers(0, 2, 300, dtype=np.uint8)
        x = encode_bits(u, MCS, L)
        d = {"user": 0, "mode": "ldpc", "mcs": MCS, "L": L, "n_bits": 300}
        if pdu_frames is not None:
            if pdu_frames[i] is None:
                d.update(erased=True, erasure_reason="header lost", frame_inferred=True)
            else:
                d["pdu_frame"] = pdu_frames[i]
        info = messages.meta_to_pmt(d)
        tags += [
            (off, pmt.intern("frame"), pmt.from_uint64(f)),
            (off, pmt.intern("packet_len"), pmt.from_long(x.size)),
            (off, pmt.intern(messages.CHAN_TAG), info),
        ]
        xs.append(x)
        sent.append(u)
        off += x.size
    return np.concatenate(xs), tags, sent


def _run(numbers, *, release_after=None, hold_s: float = 10.0, until: int, pdu_frames=None,
         **kw):  # fmt: skip
    """GatedSource (the frames, then it holds: the flowgraph keeps running) -> channel_decoder
    -> message_debug, until ``until`` PDUs are out. ``release_after = (sample, n)``: the source
    holds at ``sample`` instead, until ``n`` PDUs are out, then sends the rest."""
    rng = np.random.default_rng(1)
    x, tags, sent = _frames(numbers, rng, pdu_frames)
    hold_at = x.size if release_after is None else release_after[0]
    data = np.concatenate([x, np.zeros(64)])[None, :]
    src = GatedSource(data, tags, hold_at, hold_s)
    dec = channel_decoder(mcs=MCS, blocklength=L, snr_db=30.0, **kw)
    dbg = blocks.message_debug()
    tb = gr.top_block()
    tb.connect(src, dec)
    tb.msg_connect((dec, "pdus"), (dbg, "store"))
    tb.start()
    try:
        if release_after is not None:
            wait_until(lambda: dbg.num_messages() >= release_after[1], what="before the gate")
            time.sleep(0.2)
            src.gate.set()
        wait_until(lambda: dbg.num_messages() >= until, what=f"{until} PDUs")
        time.sleep(0.3)  # nothing more may come
    finally:
        src.gate.set()
        tb.stop()
        tb.wait()
    out = [messages.unpack_bits_pdu(dbg.get_message(i)) for i in range(dbg.num_messages())]
    return out, dec, sent


def test_frames_never_received_give_one_erasure_each_in_order() -> None:
    """Frames 0..9 sent, 2, 3, 6 and 7 received: 0 and 1 (before the first), 4 and 5 (between)
    and 8 and 9 (after the last, once none came for tail_s) are answered by one erasure each;
    before, the decoder answered only the 4 frames it received."""
    out, dec, sent = _run([2, 3, 6, 7], until=10, first_frame=0, frame_count=10, tail_s=0.3)
    assert [m["frame"] for m, _ in out] == list(range(10))
    got = {2: sent[0], 3: sent[1], 6: sent[2], 7: sent[3]}
    for meta, bits in out:
        f = meta["frame"]
        if f in got:
            assert meta["erased"] is False and np.array_equal(bits, got[f])
            assert "frame_missing" not in meta
        else:
            assert meta["erased"] is True and meta["frame_missing"] is True
            assert bits.size == 0 and meta["codewords"] == meta["codewords_lost"] == 0
            assert meta["erasure_reason"] == "frame not received" and "partial" not in meta
    c = dec.counters()
    assert c["frames_missing"] == 6 and c["frames_in"] == 4 and c["pdus_out"] == 10
    assert c["frames_erased"] == 6 and c["frames_late"] == 0
    assert dec.expected()["next"] == 10 and dec.expected()["filled"] == 6


def test_a_frame_answered_at_the_tail_and_arriving_late_is_dropped() -> None:
    """Frames 0..3 sent; 0 and 1 arrive, the rest is given up after tail_s, then frame 2
    arrives after all: dropped, so that each frame still has exactly one PDU."""
    rng = np.random.default_rng(1)
    x01, _, _ = _frames([0, 1], rng)
    out, dec, _ = _run(
        [0, 1, 2], release_after=(x01.size, 4), until=4, first_frame=0, frame_count=4, tail_s=0.3
    )
    assert [m["frame"] for m, _ in out] == [0, 1, 2, 3]
    assert [m.get("frame_missing", False) for m, _ in out] == [False, False, True, True]
    c = dec.counters()
    assert c["frames_late"] == 1 and c["pdus_out"] == 4 and c["frames_in"] == 2


def test_defaults_fill_gaps_only_and_consecutive_frames_get_no_erasure() -> None:
    """The loopback's case: without first_frame / frame_count nothing is owed before the first
    frame or after the last; a gap between two is; consecutive frames give no erasure."""
    out, dec, _ = _run([3, 4, 5], until=3)
    assert [m["frame"] for m, _ in out] == [3, 4, 5]
    assert not any(m["erased"] for m, _ in out) and dec.counters()["frames_missing"] == 0
    out, dec, _ = _run([3, 6], until=4)
    assert [(m["frame"], m.get("frame_missing", False)) for m, _ in out] == [
        (3, False), (4, True), (5, True), (6, False)
    ]  # fmt: skip
    time.sleep(0.2)
    assert len(out) == 4


def test_a_new_numbering_is_not_a_loss() -> None:
    """A step back (the transmitter restarted) or a jump beyond MAX_FILL fills nothing."""
    out, dec, _ = _run([7, 8, 0, 1, 1 + MAX_FILL + 5], until=5, first_frame=7)
    assert [m["frame"] for m, _ in out] == [7, 8, 0, 1, 1 + MAX_FILL + 5]
    assert dec.counters()["frames_missing"] == 0 and dec.expected()["jumps"] == 2


def test_set_expected_and_bad_parameters() -> None:
    dec = channel_decoder()
    dec.set_expected(5, 20)
    assert dec.expected()["first"] == 5 and dec.expected()["count"] == 20
    for kw in ({"first_frame": -2}, {"frame_count": -1}, {"tail_s": -1.0}, {"tail_s": "x"}):
        with pytest.raises(ValueError):
            channel_decoder(**kw)


def test_a_slow_start_is_not_an_outage() -> None:
    """The tail timer is armed by the first frame received: a transmitter that starts after
    tail_s (loading its models) loses nothing."""
    rng = np.random.default_rng(2)
    x, tags, sent = _frames([0, 1, 2], rng)
    src = GatedSource(np.concatenate([x, np.zeros(64)])[None, :], tags, 0, 0.6)  # 0.6 s late
    dec = channel_decoder(mcs=MCS, blocklength=L, snr_db=30.0, first_frame=0, frame_count=3,
                          tail_s=0.2)  # fmt: skip
    dbg = blocks.message_debug()
    tb = gr.top_block()
    tb.connect(src, dec)
    tb.msg_connect((dec, "pdus"), (dbg, "store"))
    tb.start()
    try:
        wait_until(lambda: dbg.num_messages() >= 3, what="3 PDUs")
        time.sleep(0.4)
    finally:
        tb.stop()
        tb.wait()
    out = [messages.unpack_bits_pdu(dbg.get_message(i)) for i in range(dbg.num_messages())]
    assert [(m["frame"], m["erased"]) for m, _ in out] == [(0, False), (1, False), (2, False)]
    assert all(np.array_equal(b, s) for (_, b), s in zip(out, sent, strict=True))
    assert dec.counters()["frames_missing"] == 0


def test_after_beacons_frames_are_accounted_by_the_images_numbers() -> None:
    """Issue 21, initial access: beacons took the air's frames 0-4, the images went out from
    air frame 5 (image 0). The decoder accounts by the image's own number (``pdu_frame``,
    from the header): image 0 (air 5, lost) and 2 (air 7, lost) are answered between, the
    header lost on air 9 is image 4 (the air's offset, learned from the last frame that had
    a number), and image 6 (air 11) at the tail. Each PDU says both numbers; before, the
    air's numbers were taken for the images' (beacons would have been owed as images)."""
    out, dec, sent = _run([6, 8, 9, 10], pdu_frames=[1, 3, None, 5], until=7, first_frame=0,
                          frame_count=7, tail_s=0.3)  # fmt: skip
    assert [m["frame"] for m, _ in out] == list(range(7))
    assert [m.get("air_frame") for m, _ in out] == [5 + f for f in range(7)]
    missing = [m["frame"] for m, _ in out if m.get("frame_missing")]
    assert missing == [0, 2, 6]
    assert out[4][0]["erased"] is True and "frame_missing" not in out[4][0]
    for f, k in ((1, 0), (3, 1), (5, 3)):
        assert out[f][0]["erased"] is False and np.array_equal(out[f][1], sent[k])
    c = dec.counters()
    assert c["frames_in"] == 4 and c["frames_missing"] == 3 and c["pdus_out"] == 7
