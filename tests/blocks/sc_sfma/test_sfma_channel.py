"""QA of ``sfma_channel``: each group's stream reaches both users of the group named by its
frame's tag, scaled by sqrt(g_i), plus CN(0, N0 B_m) noise (eq. 6), with the tags copied; the
SFMA CSI is published at start (frame 0) and at the first frame after set_gains; a frame
whose group tag is unreadable is not routed (zeros)."""

from __future__ import annotations

import math

import numpy as np
import pmt
import pytest
from block_harness import make_tag, run_until, sink_tags
from gnuradio import blocks, gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.sc_sfma.sfma_channel import sfma_channel

F = 4096  # long frames: the noise power is measured on them
C = 8
N0_DBM_HZ = -165.0
N0 = 10 ** ((N0_DBM_HZ - 30) / 10)


def _slot(user, group, slot, partner):
    mask = np.zeros(C, np.uint8)
    mask[:4] = 1
    return {"user": user, "group": group, "slot": slot, "partner": partner, "nu": 0.5,
            "n_sym": 8, "mask": mask, "erased": False}  # fmt: skip


def _group(m, i, j, bw, power=0.1):
    return {"group": m, "power": power, "bw": bw, "power_split": 0.5,
            "slot0": _slot(i, m, 0, j), "slot1": _slot(j, m, 1, i)}  # fmt: skip


def _run(k, frames, gains, change=None, seed=0):
    """``frames[m]``: per frame (samples, group tag dict or a bad value). ``change``: gains
    set before the flowgraph runs (so the first frame after start takes them). Returns
    (block, user streams, user tags, CSI messages)."""
    tb = gr.top_block()
    blk = sfma_channel(k=k, gains=gains, noise_dbm_hz=N0_DBM_HZ, labels=list(range(k)), seed=seed)
    for m in range(k // 2):
        data, tags = [], []
        for f, (s, tag) in enumerate(frames[m]):
            off = f * F
            tags += [make_tag(off, "frame", pmt.from_uint64(f)),
                     make_tag(off, "packet_len", pmt.from_long(F))]  # fmt: skip
            val = messages.meta_to_pmt(tag) if isinstance(tag, dict) else pmt.intern(str(tag))
            tags.append(make_tag(off, messages.SFMA_GROUP_TAG, val))
            data += s.tolist()
        src = blocks.vector_source_c(data, False, 1, tags)
        tb.connect(src, (blk, m))
    sinks = [blocks.vector_sink_c() for _ in range(k)]
    for u, snk in enumerate(sinks):
        tb.connect((blk, u), snk)
    dbg = blocks.message_debug()
    tb.msg_connect((blk, "csi"), (dbg, "store"))
    if change is not None:
        blk.set_gains(change)
    run_until(tb, sinks, len(frames[0]) * F, "the user streams")
    outs = [np.asarray(s.data(), np.complex128) for s in sinks]
    tags = [sink_tags(s) for s in sinks]
    csi = [messages.sfma_csi_from_pmt(dbg.get_message(i)) for i in range(dbg.num_messages())]
    return blk, outs, tags, csi


def _unit(rng, n):
    return ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / math.sqrt(2)).astype(
        np.complex64
    )


def test_routing_follows_the_group_tags_gain_and_noise() -> None:
    """K=4: frame 0 pairs (0, 1) on group 0 and (2, 3) on group 1; frame 1 (0, 3) on group 0
    and (2, 1) on group 1. Each user's frame is sqrt(g) x of its group plus noise of variance
    N0 B_m (measured within 5 % on 4096 samples)."""
    rng = np.random.default_rng(5)
    x = [[_unit(rng, F) for _ in range(2)] for _ in range(2)]  # [group][frame]
    bws = [[1e6, 4e6], [9e6, 2e6]]  # [group][frame]
    plan = [[(0, 1), (2, 3)], [(0, 3), (2, 1)]]  # [frame][group]
    frames = [[(x[m][f], _group(m, *plan[f][m], bws[m][f])) for f in range(2)] for m in range(2)]
    gains = [1e-10, 4e-11, 2e-10, 1e-11]
    blk, outs, tags, csi = _run(4, frames, gains)
    assert blk.counters()["frames_out"] == 8 and blk.counters()["frames_unrouted"] == 0
    for f in range(2):
        for m in range(2):
            for u in plan[f][m]:
                y = outs[u][f * F : (f + 1) * F]
                noise = y - math.sqrt(gains[u]) * x[m][f]
                assert np.mean(np.abs(noise) ** 2) == pytest.approx(N0 * bws[m][f], rel=0.05)
                # the signal part is there: the correlation with x is sqrt(g)
                c = np.vdot(x[m][f], y) / np.vdot(x[m][f], x[m][f])
                assert abs(c - math.sqrt(gains[u])) < 0.01 * math.sqrt(gains[u])
    for u in range(4):
        offs = [off for off, key, _ in tags[u] if key == messages.SFMA_GROUP_TAG]
        assert offs == [0, F]
        groups = [messages.sfma_group_info(messages.meta_from_pmt(v))["group"]
                  for _, key, v in tags[u] if key == messages.SFMA_GROUP_TAG]  # fmt: skip
        assert groups == [next(m for m in range(2) if u in plan[f][m]) for f in range(2)]
        frames_tagged = [pmt.to_uint64(v) for _, key, v in tags[u] if key == "frame"]
        assert frames_tagged == [0, 1]
    # CSI at start: the gains, frame 0, the labels
    assert len(csi) == 1 and csi[0].frame == 0
    np.testing.assert_allclose(csi[0].gain, gains)
    assert list(csi[0].labels) == [0, 1, 2, 3]


def test_same_seed_same_noise() -> None:
    rng = np.random.default_rng(8)
    x = [_unit(rng, F) for _ in range(3)]
    frames = [[(x[f], _group(0, 0, 1, 1e6)) for f in range(3)]]
    runs = [_run(2, frames, [1e-10, 1e-10], seed=s)[1] for s in (4, 4, 5)]
    for u in range(2):
        np.testing.assert_array_equal(runs[0][u], runs[1][u])
        assert not np.array_equal(runs[0][u], runs[2][u])


def test_set_gains_publishes_csi_at_the_next_frame_and_applies_there() -> None:
    rng = np.random.default_rng(6)
    x = [_unit(rng, F) for _ in range(2)]
    frames = [[(x[f], _group(0, 0, 1, 1e6)) for f in range(2)]]
    new = [4e-10, 9e-10]
    blk, outs, _, csi = _run(2, frames, [1e-10, 1e-10], change=new)
    # the start CSI (frame 0) and the one of the new gains, in force from frame 0 (the first
    # frame after the change)
    assert [c.frame for c in csi] == [0, 0] and [c.seq for c in csi] == [1, 2]
    np.testing.assert_allclose(csi[1].gain, new)
    for u in range(2):
        c = np.vdot(x[0], outs[u][:F]) / np.vdot(x[0], x[0])
        assert abs(c - math.sqrt(new[u])) < 0.01 * math.sqrt(new[u])
    np.testing.assert_allclose(blk.gains(), new)


def test_unreadable_group_tag_is_not_routed() -> None:
    rng = np.random.default_rng(7)
    x = [_unit(rng, F) for _ in range(2)]
    bad = _group(0, 0, 1, 1e6)
    bad["slot1"] = dict(bad["slot1"], user=0)  # pairs user 0 with itself
    frames = [[(x[0], "garbage"), (x[1], bad)]]
    blk, outs, tags, _ = _run(2, frames, [1e-10, 1e-10])
    assert blk.counters()["frames_unrouted"] == 2 and blk.counters()["frames_out"] == 0
    assert np.all(outs[0] == 0) and np.all(outs[1] == 0)
    assert not any(key == messages.SFMA_GROUP_TAG for t in tags for _, key, _ in t)


@pytest.mark.parametrize(
    "kw",
    [{"k": 3, "gains": [1e-10] * 3}, {"gains": [1e-10]}, {"gains": [0.0, 1e-10]},
     {"gains": [2.0, 1e-10]}, {"gains": [math.nan, 1e-10]}, {"labels": [0, 11]}],
)  # fmt: skip
def test_bad_parameters(kw) -> None:
    with pytest.raises(ValueError):
        sfma_channel(**kw)
