"""QA of ``channel_encoder``: frame length and tags per mode, allocation timing (``mcs``/``rc``
from ``cmd`` at ``apply_frame``), padding, and bad input (malformed allocations are logged and
dropped, malformed PDUs leave as erasure frames; the block keeps its state and keeps sending)."""

from __future__ import annotations

import time

import numpy as np
import pmt
import pytest
from block_harness import BlockHarness
from gnuradio.semdacom import messages
from gnuradio.semdacom.channel_coding.channel_encoder import CHAN_TAG, channel_encoder
from gnuradio.semdacom.messages import Allocation

from semdacom.channel_coding import block_layout, encode_bits, n_blocks

TIMEOUT_S = 20.0


class Harness(BlockHarness):
    """channel_encoder -> vector sink (with tags), running; post messages and wait."""

    timeout = TIMEOUT_S

    def __init__(self, **kw) -> None:
        super().__init__(channel_encoder(**kw), stream_out=True)
        self.enc = self.blk

    def wait_frames(self, n: int) -> None:
        self.wait_for(lambda: self.enc.counters()["frames_out"] >= n)
        time.sleep(0.05)

    def close(self) -> tuple[np.ndarray, list]:
        self.stop()
        return self.stream_data(), self.stream_tags()


def _frames(tags):
    starts = [(o, int(pmt.to_uint64(v))) for o, k, v in tags if k == "frame"]
    lens = {o: pmt.to_long(v) for o, k, v in tags if k == "packet_len"}
    chans = {o: messages.meta_from_pmt(v) for o, k, v in tags if k == CHAN_TAG}
    return [(o, f, lens[o], chans[o]) for o, f in starts]


def test_ldpc_frames_match_the_coding_api() -> None:
    h = Harness(mcs=5, blocklength=256, first_frame=7)
    rng = np.random.default_rng(0)
    pays = [rng.integers(0, 2, n, dtype=np.uint8) for n in (1, 1000, 5000)]
    for i, p in enumerate(pays):
        h.post("pdus", messages.bits_pdu({"seq": i, "image_id": 40 + i}, p))
    h.wait_frames(3)
    data, tags = h.close()
    fr = _frames(tags)
    assert [f for _, f, _, _ in fr] == [7, 8, 9]
    off = 0
    for (o, _, n, chan), p in zip(fr, pays, strict=True):
        assert o == off
        lay = block_layout(5, 256)
        assert n == n_blocks(p.size, lay) * 256
        assert np.array_equal(data[o : o + n], encode_bits(p, 5, 256))
        assert chan["user"] == 0 and chan["mcs"] == 5 and chan["n_bits"] == p.size
        off += n
    assert fr[2][3]["pdu_image_id"] == 42
    assert data.size == off  # nothing between frames


def test_allocation_applies_at_its_frame_and_padding() -> None:
    h = Harness(user=1, mcs=3, blocklength=256, frame_len=1000)
    h.post("cmd", messages.alloc_to_pmt(Allocation(seq=1, apply_frame=1, mcs=np.array([0, 9]))))
    bits = np.ones(300, np.uint8)
    for _ in range(3):
        h.post("pdus", messages.bits_pdu({}, bits))
    h.wait_frames(3)
    data, tags = h.close()
    fr = _frames(tags)
    assert [c["mcs"] for _, _, _, c in fr] == [3, 9, 9]
    assert all(n % 1000 == 0 for _, _, n, _ in fr)
    used = n_blocks(300, block_layout(3, 256)) * 256
    assert used < 1000 and np.all(data[fr[0][0] + used : fr[0][0] + fr[0][2]] == 0)  # padding
    assert h.enc.current_mcs() == 9


def test_fbl_mode_frames_carry_the_bits() -> None:
    h = Harness(mode="fbl", rc=1.5, blocklength=100)
    bits = np.random.default_rng(1).integers(0, 2, 401, dtype=np.uint8)
    h.post("pdus", messages.bits_pdu({}, bits))
    h.wait_frames(1)
    data, tags = h.close()
    (o, f, n, chan) = _frames(tags)[0]
    assert n == 3 * 100  # ceil(401 / 150) packets of L = 100 uses
    assert np.allclose(np.abs(data[:n]), 1.0, atol=1e-6)
    assert np.array_equal(np.unpackbits(np.asarray(chan["bits"], np.uint8))[:401], bits)
    assert chan["rc"] == 1.5 and chan["mode"] == "fbl"


def test_bad_input_gives_erasure_frames_and_state_kept() -> None:
    h = Harness(mcs=3, blocklength=256)
    bad_pdus = [
        pmt.intern("bits"),
        pmt.make_dict(),
        pmt.cons(pmt.from_long(1), pmt.init_u8vector(2, [1, 2])),
        pmt.cons(pmt.make_dict(), pmt.init_f32vector(2, [1.0, float("nan")])),
        pmt.cons(pmt.dict_add(pmt.make_dict(), pmt.intern("n_bits"), pmt.from_long(10**9)),
                 pmt.init_u8vector(1, [255])),
    ]  # fmt: skip
    bad_cmds = [
        pmt.intern("x"),
        messages.alloc_to_pmt(Allocation(seq=1, mcs=np.array([42]))),
        messages.alloc_to_pmt(Allocation(seq=2, rc=np.array([1e-6]))),
        pmt.dict_add(pmt.make_dict(), pmt.intern("seq"), pmt.from_double(float("nan"))),
    ]
    for m in bad_pdus:
        h.post("pdus", m)
    for m in bad_cmds:
        h.post("cmd", m)
    h.post("pdus", messages.bits_pdu({}, np.zeros(0, np.uint8)))  # empty PDU: one block
    h.post("pdus", messages.bits_pdu({}, np.ones(10, np.uint8)))
    h.wait_frames(len(bad_pdus) + 2)
    data, tags = h.close()
    c = h.enc.counters()
    assert c["erasures"] == len(bad_pdus) and c["cmd_rejected"] == len(bad_cmds)
    assert c["pdus_dropped"] == 0 and c["pdus_in"] == len(bad_pdus) + 2
    assert c["frames_out"] == len(bad_pdus) + 2 and h.enc.current_mcs() == 3
    chans = [ch for _, _, _, ch in _frames(tags)]
    assert [ch.get("erased", False) for ch in chans] == [True] * len(bad_pdus) + [False] * 2
    assert [ch["n_bits"] for ch in chans] == [0] * len(bad_pdus) + [0, 10]


def test_constructor_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        channel_encoder(mode="x")
    with pytest.raises(ValueError):
        channel_encoder(mcs=-1)
    with pytest.raises(ValueError):
        channel_encoder(mode="fbl", rc=0.001, blocklength=10)
    with pytest.raises(ValueError):
        channel_encoder(frame_len=-1)


# ---------------------------------------------------------------------------------------------
# Issue 12 regressions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["ldpc", "fbl"])
def test_malformed_pdu_leaves_as_an_erasure_frame(mode: str) -> None:
    """Defect 7 (channel_encoder): a malformed PDU gives one frame flagged erased, with the
    reason and the meta it still carries, so every image in gives one result out."""
    h = Harness(mode=mode, mcs=3, blocklength=256)
    bad = pmt.cons(messages.meta_to_pmt({"image_id": 4}), pmt.init_f32vector(2, [1.0, 2.0]))
    h.post("pdus", bad)
    h.post("pdus", messages.bits_pdu({"image_id": 5}, np.ones(10, np.uint8)))
    h.wait_frames(2)
    data, tags = h.close()
    fr = _frames(tags)
    assert len(fr) == 2
    chan0, chan1 = fr[0][3], fr[1][3]
    assert chan0["erased"] is True and "u8vector" in chan0["erasure_reason"]
    assert chan0["pdu_image_id"] == 4 and chan0["n_bits"] == 0
    assert chan1.get("erased", False) is False and chan1["pdu_image_id"] == 5


def test_older_allocation_is_dropped() -> None:
    """Defect 5: an allocation older than (or as old as) the last one taken is dropped."""
    h = Harness(mcs=3, blocklength=256)
    h.post("cmd", messages.alloc_to_pmt(Allocation(seq=4, mcs=np.array([5]))))
    h.post("cmd", messages.alloc_to_pmt(Allocation(seq=2, mcs=np.array([0]))))
    h.post("cmd", messages.alloc_to_pmt(Allocation(seq=4, mcs=np.array([1]))))
    h.post("pdus", messages.bits_pdu({}, np.ones(10, np.uint8)))
    h.wait_frames(1)
    h.close()
    assert h.enc.current_mcs() == 5
    assert h.enc.counters()["cmd_rejected"] == 2


def test_slot_frames_are_exact_cut_frames_say_so_and_credits_are_sent() -> None:
    """frame_len > 0 is the slot: every frame is exactly that long (K users stay aligned); a
    frame longer than the slot keeps the whole blocks that fit (blocks_sent) and counts as
    truncated. Each frame started sends a "sent" credit; the frame records the allocation
    it was coded with (enc_alloc_seq)."""
    h = BlockHarness(
        channel_encoder(mode="fbl", rc=1.0, blocklength=100, frame_len=300),
        ["sent"],
        stream_out=True,
    )
    h.enc, dbg = h.blk, h.dbg
    h.wait_frames = lambda n: Harness.wait_frames(h, n)
    h.close = lambda: Harness.close(h)
    h.post("cmd", messages.alloc_to_pmt(Allocation(seq=2, apply_frame=1, rc=np.array([0.5]))))
    for n in (150, 1000):  # 2 packets of 100 bits; then 20 packets of 50 bits: cut to 3
        h.post("pdus", messages.bits_pdu({"frame": 9}, np.ones(n, np.uint8)))
    h.wait_frames(2)
    data, tags = h.close()
    fr = _frames(tags)
    assert [n for _, _, n, _ in fr] == [300, 300] and data.size == 600
    assert "blocks_sent" not in fr[0][3] and fr[1][3]["blocks_sent"] == 3
    assert "enc_alloc_seq" not in fr[0][3] and fr[1][3]["enc_alloc_seq"] == 2
    assert h.enc.counters()["truncated"] == 1
    # the filler: unit-power QPSK in the blocks sent (only those are drawn), zeros after them
    qpsk = np.array([1 + 1j, -1 + 1j, 1 - 1j, -1 - 1j]) / np.sqrt(2)
    on_air = np.concatenate([data[:200], data[300:]])
    assert np.abs(on_air[:, None] - qpsk[None, :]).min(axis=1).max() < 1e-6
    assert len(np.unique(np.round(on_air, 3))) == 4 and not data[200:300].any()
    sent = [messages.meta_from_pmt(dbg.get_message(i)) for i in range(dbg.num_messages())]
    assert [s["sent_frame"] for s in sent] == [0, 1]


def test_queue_is_bounded_and_drops_are_counted() -> None:
    """Issue 24, bounded queues: with the stream stalled (hold, no allocation yet) at most
    MAX_QUEUED PDUs wait; later ones are dropped and counted in ``dropped_full``. Before, the
    queue grew without limit."""
    h = Harness(hold=True)
    n = channel_encoder.MAX_QUEUED + 25
    for i in range(n):
        h.post("pdus", messages.bits_pdu({"seq": i}, np.ones(8, np.uint8)))
    h.wait_for(lambda: h.enc.counters()["pdus_in"] == n)
    c = h.enc.counters()
    assert c["dropped_full"] == 25 and h.enc._queue.qsize() == channel_encoder.MAX_QUEUED
    h.stop()


def _beaconing(n: int) -> BlockHarness:
    """A running encoder with ``hold`` and ``beacons`` (slot 512, MCS 3) that has sent a beacon
    for each of ``n`` PDUs (frames 0.., image ids 10..), kept for the first allocation."""
    h = BlockHarness(
        channel_encoder(mcs=3, blocklength=256, frame_len=512, hold=True, beacons=True),
        ["sent"],
        stream_out=True,
    )
    h.enc = h.blk
    for i in range(n):
        h.post("pdus", messages.bits_pdu({"frame": i, "image_id": 10 + i}, np.ones(40, np.uint8)))
    h.wait_for(lambda: h.enc.counters()["beacons"] == n)
    return h


def test_beacons_go_out_until_an_allocation_is_in_force() -> None:
    """Issue 21, initial access: with ``hold`` and ``beacons`` every PDU that arrives before an
    allocation is in force at the next frame is kept and a beacon goes out in its place (zeros
    of the slot, the next frame number, ``beacon`` true, no bits); no beacon without a PDU
    (one per arrival, so every encoder of a base station sends as many). From the allocation's
    apply_frame the kept PDUs go out in order, the first in that very frame, and each carries
    its own frame number (``pdu_frame``), which the over-the-air header carries."""
    h = _beaconing(3)
    dbg = h.dbg
    time.sleep(0.3)  # no more beacons than PDUs arrived
    assert h.enc.counters()["beacons"] == 3 and h.enc._queue.qsize() == 3
    # planned for frame 5: frames 3 and 4 are beacons (two more PDUs arrive), data from 5
    h.post("cmd", messages.alloc_to_pmt(Allocation(seq=1, apply_frame=5, mcs=np.array([4]))))
    for i in range(3, 5):
        h.post("pdus", messages.bits_pdu({"frame": i, "image_id": 10 + i}, np.ones(40, np.uint8)))
    h.wait_for(lambda: h.enc.counters()["frames_out"] == 10)
    time.sleep(0.05)
    data, tags = h.stream_data(), h.stream_tags()
    h.stop()
    fr = _frames(tags)
    assert [f for _, f, _, _ in fr] == list(range(10))
    assert all(n == 512 for _, _, n, _ in fr)
    beacon = [c.get("beacon") is True for _, _, _, c in fr]
    assert beacon == [True] * 5 + [False] * 5
    for o, _, n, c in fr[:5]:
        assert c["n_bits"] == 0 and "mcs" not in c and np.all(data[o : o + n] == 0)
        assert messages.chan_info(c)["beacon"] is True
    assert [c["pdu_frame"] for _, _, _, c in fr[5:]] == [0, 1, 2, 3, 4]
    assert [c["pdu_image_id"] for _, _, _, c in fr[5:]] == [10, 11, 12, 13, 14]
    assert all(c["mcs"] == 4 and c["enc_alloc_seq"] == 1 for _, _, _, c in fr[5:])
    sent = [messages.meta_from_pmt(dbg.get_message(i)) for i in range(dbg.num_messages())]
    assert [s["sent_frame"] for s in sent] == list(range(10))  # beacons too: the optimiser
    c = h.enc.counters()
    assert c["beacons"] == 5 and c["pdus_in"] == 5 and c["frames_out"] == 10


def test_beacons_reach_the_first_allocation_when_every_pdu_came_before_it() -> None:
    """Every image arrived (and went out as a beacon) before the first allocation, planned for
    a later frame: the encoder sends beacons up to that frame and then the kept PDUs. Paced by
    the PDUs alone it stopped at its last beacon and never reached the allocation's frame (the
    over-the-air base station at 0 dB pilot SNR sent 30 beacons and no image)."""
    h = _beaconing(3)
    h.post("cmd", messages.alloc_to_pmt(Allocation(seq=1, apply_frame=6, mcs=np.array([4]))))
    h.wait_for(lambda: h.enc.counters()["frames_out"] == 9)
    time.sleep(0.05)
    tags = h.stream_tags()
    h.stop()
    fr = _frames(tags)
    assert [f for _, f, _, _ in fr] == list(range(9))
    assert [c.get("beacon") is True for _, _, _, c in fr] == [True] * 6 + [False] * 3
    assert [c["pdu_image_id"] for _, _, _, c in fr[6:]] == [10, 11, 12]
    c = h.enc.counters()
    assert c["beacons"] == 6 and c["pdus_in"] == 3 and c["frames_out"] == 9


def test_an_allocation_after_its_frame_is_applied_next_and_counted_late() -> None:
    """An allocation that reaches the encoder after its apply_frame was sent as a beacon (a
    base station whose encoders ran apart, or a slow delivery) applies from the next frame:
    one beacon more than the allocation's frame, counted in ``alloc_late`` (0 for one in
    time), so that a flowgraph can tell a late allocation from frames gone astray."""
    h = _beaconing(4)
    # planned for frame 2, which went out as a beacon: data from frame 4 (the next one)
    h.post("cmd", messages.alloc_to_pmt(Allocation(seq=1, apply_frame=2, mcs=np.array([4]))))
    h.wait_for(lambda: h.enc.counters()["frames_out"] == 8)
    # a later allocation in time (frame 20, not yet sent) is not late
    h.post("cmd", messages.alloc_to_pmt(Allocation(seq=2, apply_frame=20, mcs=np.array([5]))))
    h.wait_for(lambda: h.enc.counters()["cmd_accepted"] == 2)
    time.sleep(0.05)
    tags = h.stream_tags()
    h.stop()
    fr = _frames(tags)
    assert [c.get("beacon") is True for _, _, _, c in fr] == [True] * 4 + [False] * 4
    assert [c["pdu_image_id"] for _, _, _, c in fr[4:]] == [10, 11, 12, 13]
    assert all(c["mcs"] == 4 for _, _, _, c in fr[4:])
    c = h.enc.counters()
    assert c["beacons"] == 4 and c["alloc_late"] == 1 and c["cmd_accepted"] == 2, c


def test_a_beacon_flag_must_be_a_bool() -> None:
    info = {"user": 0, "mode": "ldpc", "L": 256, "n_bits": 0}
    assert messages.chan_info({**info, "beacon": True})["beacon"] is True
    with pytest.raises(messages.MessageError, match="beacon"):
        messages.chan_info({**info, "beacon": 1})
