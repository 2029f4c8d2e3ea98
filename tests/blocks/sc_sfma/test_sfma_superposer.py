"""QA of ``sfma_superposer``: the users' aligned SFMA frames -> one stream per group at its
power (eq. 5), the pairing read from each frame's tag, P_m and B_m from ``cmd`` at
``apply_frame``; a frame whose tag is lost is sent as silence and its slot rebuilt erased."""

from __future__ import annotations

import math

import numpy as np
import pmt
import pytest
from block_harness import IdleSource, make_tag, run_until, sink_tags, wait_until
from gnuradio import blocks, gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.sc_sfma.sfma_superposer import sfma_superposer

F = 32  # frame length
C = 8  # code channels of the masks here


def _info(user, group, slot, partner, n_sym=12, erased=False, **extra):
    mask = np.zeros(C, np.uint8)
    mask[: n_sym * 2 // 4] = 1
    d = {"user": user, "group": group, "slot": slot, "partner": partner, "nu": 0.5,
         "n_sym": n_sym, "mask": mask, "erased": erased}  # fmt: skip
    d.update(extra)
    return d


def _stream(rng, n_frames):
    s = rng.standard_normal((n_frames, F)) + 1j * rng.standard_normal((n_frames, F))
    return (s / math.sqrt(2)).astype(np.complex64)


def _run(k, frames, msgs=(), **kw):
    """``frames[u]``: per frame (samples, info dict or None). Returns (block, outputs, tags,
    side messages)."""
    tb = gr.top_block()
    blk = sfma_superposer(k=k, **kw)
    srcs, sinks = [], []
    for u in range(k):
        data, tags = [], []
        for f, (s, info) in enumerate(frames[u]):
            off = f * F
            tags += [make_tag(off, "frame", pmt.from_uint64(f)),
                     make_tag(off, "packet_len", pmt.from_long(F))]  # fmt: skip
            if info is not None:
                tags.append(make_tag(off, messages.SFMA_TAG, messages.meta_to_pmt(info)))
            data += s.tolist()
        srcs.append(blocks.vector_source_c(data, False, 1, tags))
        tb.connect(srcs[-1], (blk, u))
    for m in range(k // 2):
        sinks.append(blocks.vector_sink_c())
        tb.connect((blk, m), sinks[-1])
    dbg = blocks.message_debug()
    tb.msg_connect((blk, "side"), (dbg, "store"))
    for msg in msgs:  # allocations first: they are handled before the stream starts
        blk.to_basic_block()._post(pmt.intern("cmd"), msg)
    run_until(tb, sinks, len(frames[0]) * F, "the group streams")
    outs = [np.asarray(s.data(), np.complex64) for s in sinks]
    tags = [sink_tags(s) for s in sinks]
    side = [messages.meta_from_pmt(dbg.get_message(i)) for i in range(dbg.num_messages())]
    return blk, outs, tags, side


def _alloc(seq, apply_frame, power, bw, pairs=(0, 1, 2, 3), nu=(0.5, 0.5)):
    return messages.alloc_to_pmt(messages.Allocation(
        seq=seq, apply_frame=apply_frame, pairs=np.asarray(pairs, np.int32),
        nu=np.asarray(nu, float), group_power=np.asarray(power, float),
        group_bw=np.asarray(bw, float)))  # fmt: skip


def _group_tags(tags):
    return [(off, messages.sfma_group_info(messages.meta_from_pmt(v)))
            for off, key, v in tags if key == messages.SFMA_GROUP_TAG]  # fmt: skip


def test_pairs_follow_the_tags_power_from_cmd_at_its_frame() -> None:
    """K=4: frames 0-1 pair (0, 1), (2, 3), frames 2-3 pair (0, 2), (3, 1) (user 3 in slot
    0); group powers from an allocation applied at frame 2, before it the fixed P/M."""
    rng = np.random.default_rng(1)
    s = [_stream(rng, 4) for _ in range(4)]
    plan = {0: [(0, 1), (2, 3)], 1: [(0, 1), (2, 3)], 2: [(0, 2), (3, 1)], 3: [(0, 2), (3, 1)]}
    frames = [[None] * 4 for _ in range(4)]
    for f, groups in plan.items():
        for m, pair in enumerate(groups):
            for r, u in enumerate(pair):
                frames[u][f] = (s[u][f], _info(u, m, r, pair[1 - r], pdu_image_id=100 * f + u))
    a = _alloc(1, 2, (0.3, 0.01), (2e6, 8e6), pairs=(0, 2, 3, 1))
    blk, outs, tags, side = _run(4, frames, [a], power=1.0, bandwidth=1e6, power_split=0.5)
    assert blk.counters()["cmd_accepted"] == 1 and blk.counters()["frames_out"] == 8
    for f, groups in plan.items():
        for m, (i, j) in enumerate(groups):
            p = (0.5, 0.5)[m] if f < 2 else (0.3, 0.01)[m]
            want = math.sqrt(p / 2) * (s[i][f] + s[j][f])
            np.testing.assert_allclose(outs[m][f * F : (f + 1) * F], want, rtol=1e-5, atol=1e-6)
    for m in range(2):
        gt = _group_tags(tags[m])
        assert [off for off, _ in gt] == [0, F, 2 * F, 3 * F]
        for f, (_, g) in enumerate(gt):
            assert g["group"] == m
            assert (g["slot0"]["user"], g["slot1"]["user"]) == plan[f][m]
            assert g["power"] == pytest.approx((0.5, 0.5)[m] if f < 2 else (0.3, 0.01)[m])
            assert g["bw"] == pytest.approx(0.5e6 if f < 2 else (2e6, 8e6)[m])
            assert g.get("alloc_seq") == (None if f < 2 else 1)
            assert g["slot0"]["pdu_image_id"] == 100 * f + plan[f][m][0]
        frame_tags = [pmt.to_uint64(v) for off, key, v in tags[m] if key == "frame"]
        assert frame_tags == [0, 1, 2, 3]
    # the side port carries every group tag with its frame number
    assert sorted((d["frame"], d["group"]) for d in side) == [(f, m) for f in range(4)
                                                              for m in range(2)]  # fmt: skip
    assert blk.frame_log()[-1] == (3, 1, 0.01, 8e6)


def test_power_split_and_mean_power() -> None:
    rng = np.random.default_rng(2)
    s = [_stream(rng, 1) for _ in range(2)]
    frames = [[(s[0][0], _info(0, 0, 1, 1))], [(s[1][0], _info(1, 0, 0, 0))]]
    _, outs, _, _ = _run(2, frames, power=2.0, power_split=0.2)
    # user 1 holds slot 0 (alpha = 0.2 of P), user 0 slot 1
    want = math.sqrt(2.0 * 0.2) * s[1][0] + math.sqrt(2.0 * 0.8) * s[0][0]
    np.testing.assert_allclose(outs[0], want, rtol=1e-5, atol=1e-6)


def test_lost_tag_is_silence_and_its_slot_is_rebuilt_erased() -> None:
    rng = np.random.default_rng(3)
    s = [_stream(rng, 2) for _ in range(2)]
    frames = [[(s[0][0], None), (s[0][1], _info(0, 0, 0, 1))],
              [(s[1][0], _info(1, 0, 1, 0, pdu_image_id=7)), (s[1][1], {"user": "x"})]]  # fmt: skip
    blk, outs, tags, _ = _run(2, frames, power=1.0)
    np.testing.assert_allclose(outs[0][:F], math.sqrt(0.5) * s[1][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outs[0][F:], math.sqrt(0.5) * s[0][1], rtol=1e-5, atol=1e-6)
    (_, g0), (_, g1) = _group_tags(tags[0])
    assert g0["slot0"]["user"] == 0 and g0["slot0"]["erased"] and not g0["slot1"]["erased"]
    assert "lost" in g0["slot0"]["erasure_reason"] and "pdu_image_id" not in g0["slot0"]
    assert g1["slot1"]["user"] == 1 and g1["slot1"]["erased"]
    assert blk.counters()["slots_rebuilt"] == 2 and blk.counters()["frames_silent"] == 2


def test_group_without_valid_member_is_silent_and_untagged() -> None:
    rng = np.random.default_rng(4)
    s = [_stream(rng, 1) for _ in range(2)]
    frames = [[(s[0][0], None)], [(s[1][0], _info(1, 0, 0, 1))]]  # user 1 claims to pair itself
    blk, outs, tags, _ = _run(2, frames)
    assert np.all(outs[0] == 0) and not _group_tags(tags[0])
    assert blk.counters()["frames_silent"] == 2


def _post_and_wait(blk, msg) -> None:
    c = blk.counters()
    n = c["cmd_accepted"] + c["cmd_rejected"]
    blk.to_basic_block()._post(pmt.intern("cmd"), msg)
    wait_until(lambda: sum(blk.counters()[k] for k in ("cmd_accepted", "cmd_rejected")) > n)


def test_bad_cmd_rejected_state_kept() -> None:
    blk = sfma_superposer(k=4, power=1.0, bandwidth=1e6)
    tb = gr.top_block()
    keep = [IdleSource() for _ in range(4)]
    for u, src in enumerate(keep):
        tb.connect(src, (blk, u))
    sinks = [blocks.null_sink(gr.sizeof_gr_complex) for _ in range(2)]
    for m, snk in enumerate(sinks):
        tb.connect((blk, m), snk)
    tb.start()
    try:
        bad = [
            pmt.intern("nope"),
            _alloc(1, 0, (0.1,), (1e6,), pairs=(0, 1), nu=(0.5,)),  # K = 2, this block K = 4
            _alloc(1, 0, (0.1, 0.1), (1e6, 1e6), pairs=(0, 0, 1, 2)),  # not a matching
            _alloc(1, 0, (0.1, 0.1), (1e6, 1e6), nu=(0.5, 1.5)),  # nu > 1
        ]
        for msg in bad:
            _post_and_wait(blk, msg)
        assert blk.counters()["cmd_rejected"] == len(bad) and blk.counters()["cmd_accepted"] == 0
        assert blk.in_force()["seq"] is None
        np.testing.assert_allclose(blk.in_force()["group_power"], [0.5, 0.5])
        _post_and_wait(blk, _alloc(3, 0, (0.1, 0.2), (1e6, 2e6)))
        _post_and_wait(blk, _alloc(2, 0, (0.3, 0.3), (1e6, 2e6)))  # not newer: dropped
        assert blk.counters()["cmd_accepted"] == 1 and blk.counters()["cmd_rejected"] == 5
    finally:
        tb.stop()
        tb.wait()


@pytest.mark.parametrize(
    "kw", [{"k": 3}, {"k": 0}, {"power": -1.0}, {"bandwidth": 0.0}, {"power_split": 1.5}]
)
def test_bad_parameters(kw) -> None:
    with pytest.raises(ValueError):
        sfma_superposer(**kw)


def test_unusable_allocations_are_rejected_the_last_good_kept() -> None:
    """Issue 24: group power 1e300 (or above MAX_POWER_W), bandwidth 0 (or above
    MAX_SFMA_BW_HZ) and a ``rate_index`` of the wrong length are refused by the allocation
    check, like the C++ side and the group-tag check refuse them: the frames go out at the
    last good allocation, finite, every one with its group tag."""
    rng = np.random.default_rng(5)
    s = [_stream(rng, 3) for _ in range(2)]
    frames = [[(s[0][f], _info(0, 0, 0, 1)) for f in range(3)],
              [(s[1][f], _info(1, 0, 1, 0)) for f in range(3)]]  # fmt: skip
    good = _alloc(1, 0, (0.2,), (3e6,), pairs=(0, 1), nu=(0.5,))
    bad = [_alloc(2, 0, (1e300,), (1e6,), pairs=(0, 1), nu=(0.5,)),
           _alloc(3, 0, (2e6,), (1e6,), pairs=(0, 1), nu=(0.5,)),  # > MAX_POWER_W
           _alloc(4, 0, (0.1,), (0.0,), pairs=(0, 1), nu=(0.5,)),
           _alloc(5, 0, (0.1,), (1e16,), pairs=(0, 1), nu=(0.5,)),
           messages.alloc_to_pmt(messages.Allocation(
               seq=6, apply_frame=0, pairs=np.array([0, 1], np.int32), nu=np.array([0.5]),
               group_power=np.array([0.1]), group_bw=np.array([1e6]),
               rate_index=np.array([1, 2, 3], np.int32)))]  # fmt: skip
    blk, outs, tags, _ = _run(2, frames, [good, *bad], power=1.0, bandwidth=1e6)
    c = blk.counters()
    assert c["cmd_accepted"] == 1 and c["cmd_rejected"] == len(bad), c
    assert blk.in_force()["seq"] == 1
    assert np.all(np.isfinite(outs[0]))
    want = math.sqrt(0.2 / 2) * (s[0] + s[1]).reshape(-1)
    np.testing.assert_allclose(outs[0], want, rtol=1e-5, atol=1e-6)
    gt = _group_tags(tags[0])
    assert len(gt) == 3 and all(g["power"] == pytest.approx(0.2) and g["bw"] == 3e6
                                for _, g in gt)  # fmt: skip
