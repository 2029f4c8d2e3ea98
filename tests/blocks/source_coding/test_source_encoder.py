"""QA of ``source_encoder``: image PDU -> bits PDU of the learned VBR codec; cmd; bad input."""

from __future__ import annotations

import threading
import time

import numpy as np
import pmt
import pytest
from block_harness import BlockHarness
from gnuradio.semdacom import messages
from gnuradio.semdacom.messages import Allocation
from gnuradio.semdacom.source_coding.source_encoder import source_encoder

from semdacom.data.datasets import load_fashion_mnist
from semdacom.source_coding.codec import shared_codec

TIMEOUT_S = 20.0


class Harness(BlockHarness):
    timeout = TIMEOUT_S

    def __init__(self, **kwargs) -> None:
        super().__init__(source_encoder(**kwargs), ["pdus"])

    def cmd(self, msg) -> None:
        self.post_and_wait("cmd", msg, ("cmd_accepted", "cmd_rejected"))

    def send(self, msg) -> tuple[dict, np.ndarray]:
        return self.request("pdus", msg, messages.unpack_bits_pdu)


@pytest.fixture(scope="module")
def images():
    return load_fashion_mnist("test")


def _image_pdu(images, i: int, **meta):
    x, y = images
    return messages.image_pdu({"label": int(y[i]), "image_id": i, "user": 0, **meta}, x[i])


def test_encodes_like_the_codec(harness, images) -> None:
    h = harness(rate_index=4)
    codec = shared_codec(None, semantic=False)
    for i in range(3):
        meta, bits = h.send(_image_pdu(images, i, frame=np.uint64(i)))
        stream = codec.encode(images[0][i : i + 1], 4)[0]
        np.testing.assert_array_equal(bits, np.unpackbits(np.frombuffer(stream, np.uint8)))
        assert meta["rate_index"] == 4 and meta["image_id"] == i and meta["label"] == images[1][i]
        assert meta["n_bits"] == 8 * len(stream) and "shape" not in meta


def test_cmd_sets_rate_at_apply_frame(harness, images) -> None:
    h = harness(user=1, rate_index=0)
    h.cmd(messages.alloc_to_pmt(Allocation(seq=1, apply_frame=5, rate_index=np.array([3, 9]))))
    assert h.blk.counters()["cmd_accepted"] == 1
    m0, b0 = h.send(_image_pdu(images, 0, frame=np.uint64(4)))
    m1, b1 = h.send(_image_pdu(images, 0, frame=np.uint64(5)))
    assert m0["rate_index"] == 0 and m1["rate_index"] == 9
    assert len(b1) > len(b0)


@pytest.mark.parametrize(
    "bad",
    [
        pmt.intern("junk"),
        messages.alloc_to_pmt(Allocation(seq=2, rate_index=np.array([99]))),
        pmt.dict_add(  # rate_index -1, built by hand: alloc_to_pmt refuses it
            messages.alloc_to_pmt(Allocation(seq=2)),
            pmt.intern("rate_index"),
            pmt.init_s32vector(1, [-1]),
        ),
        pmt.make_dict(),
        pmt.dict_add(pmt.make_dict(), pmt.intern("rate_index"), pmt.init_f64vector(1, [np.nan])),
    ],
)
def test_malformed_cmd_dropped_rate_kept(harness, images, bad) -> None:
    h = harness(rate_index=2)
    h.cmd(bad)
    assert h.blk.counters()["cmd_rejected"] == 1
    assert h.blk.current_rate_index() == 2
    meta, _ = h.send(_image_pdu(images, 1))
    assert meta["rate_index"] == 2


def test_alloc_without_rate_index_is_ignored(harness) -> None:
    h = harness(rate_index=2)
    h.blk.to_basic_block()._post(
        pmt.intern("cmd"), messages.alloc_to_pmt(Allocation(seq=3, rc=np.array([1.0])))
    )
    time.sleep(0.2)
    assert h.blk.current_rate_index() == 2 and h.blk.counters()["cmd_rejected"] == 0


@pytest.mark.parametrize(
    "bad",
    [
        pmt.intern("junk"),
        pmt.cons(pmt.make_dict(), pmt.init_u8vector(0, [])),  # empty, no shape
        pmt.cons(pmt.from_long(3), pmt.init_u8vector(784, [0] * 784)),
        pmt.cons(
            messages.meta_to_pmt({"shape": np.array([28, 28], np.int32), "image_id": 7}),
            pmt.init_f32vector(784, [np.nan] * 784),
        ),
        messages.image_pdu({"image_id": 8}, np.zeros((1, 32, 32), np.uint8)),  # wrong size
        pmt.cons(
            messages.meta_to_pmt({"shape": np.array([1, 4096, 4096], np.int32)}),
            pmt.init_u8vector(16, [0] * 16),
        ),  # huge
    ],
)
def test_malformed_pdu_leaves_as_erasure(harness, images, bad) -> None:
    h = harness()
    meta, bits = h.send(bad)
    assert meta["erased"] is True and meta["erasure_reason"] and bits.size == 0
    c = h.blk.counters()
    assert c["pdus_in"] == c["pdus_out"] == 1 and c["erasures"] == 1
    meta, bits = h.send(_image_pdu(images, 2))  # keeps working
    assert bits.size > 0 and "erased" not in meta


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        source_encoder(user=-1)
    with pytest.raises(ValueError):
        source_encoder(rate_index=1000)


def test_classical_codec_choice(harness, images) -> None:
    from semdacom.source_coding.classical import shared_classical

    h = harness(rate_index=5, codec="classical")
    codec = shared_classical(classifier=False)
    for i in range(3):
        meta, bits = h.send(_image_pdu(images, i, frame=np.uint64(i)))
        stream = codec.encode(images[0][i : i + 1], 5)[0]
        np.testing.assert_array_equal(bits, np.unpackbits(np.frombuffer(stream, np.uint8)))
        assert meta["codec"] == "heif-x265" and meta["rate_index"] == 5
        assert meta["image_id"] == i and meta["n_bits"] == 8 * len(stream)
    h.cmd(messages.alloc_to_pmt(Allocation(seq=1, rate_index=np.array([15]))))
    meta, bits = h.send(_image_pdu(images, 0))
    assert meta["rate_index"] == 15 and bits.size > 8 * len(codec.encode(images[0][:1], 5)[0])
    meta, bits = h.send(messages.image_pdu({"image_id": 9}, np.zeros((1, 32, 32), np.uint8)))
    assert meta["erased"] is True and meta["erasure_reason"] and bits.size == 0
    c = h.blk.counters()
    assert c["pdus_in"] == c["pdus_out"] == 5 and c["erasures"] == 1


def test_learned_codec_is_named_in_meta_and_codec_is_checked(harness, images) -> None:
    meta, _ = harness().send(_image_pdu(images, 0))
    assert meta["codec"] == "hyperprior_vbr"
    with pytest.raises(ValueError, match="codec"):
        source_encoder(codec="bpg")
    with pytest.raises(ValueError):
        source_encoder(codec="classical", rate_index=16)


def test_hold_waits_for_the_first_allocation_and_records_it(harness, images) -> None:
    """hold: images wait for the first allocation, then leave in order coded with it; every
    output records the allocation it was coded with (src_alloc_seq)."""
    h = harness(user=0, rate_index=0, hold=True)
    for i in range(2):
        h.blk.to_basic_block()._post(pmt.intern("pdus"), _image_pdu(images, i, frame=np.uint64(i)))
    time.sleep(0.3)
    assert h.dbg.num_messages() == 0  # held
    h.cmd(messages.alloc_to_pmt(Allocation(seq=3, apply_frame=0, rate_index=np.array([5, 1]))))
    h.wait_for(lambda: h.dbg.num_messages() == 2)
    out = [messages.unpack_bits_pdu(h.dbg.get_message(i))[0] for i in range(2)]
    assert [m["image_id"] for m in out] == [0, 1]
    assert all(m["rate_index"] == 5 and m["src_alloc_seq"] == 3 for m in out)


def test_overload_is_shed_as_erasures_and_nothing_is_lost(harness, images) -> None:
    """Issue 24, bounded queues: images arriving faster than the coder wait at most
    PduWorker.CAP; the rest are answered at once as erasures (counted in ``shed``), so every
    image still leaves exactly once. Before, the worker's queue grew without limit."""
    from gnuradio.semdacom.plumbing.worker import PduWorker

    h = harness(rate_index=2)
    gate = threading.Event()
    slow, stalled = h.blk._encoded, []

    def encoded(r, items):
        stalled.append(len(items))
        gate.wait(10.0)  # the coder stalls until every image has arrived
        return slow(r, items)

    h.blk._encoded = encoded
    n = PduWorker.CAP + 64 + 40  # beyond the cap even after a whole batch (64) was taken
    for i in range(n):
        h.post("pdus", _image_pdu(images, i % 50, frame=np.uint64(i)))
    # the worker took what had queued up by then (one batch) and stalls on it
    beyond = lambda: n - stalled[0] - PduWorker.CAP  # noqa: E731  (images beyond the cap)
    h.wait_for(lambda: stalled and h.blk.counters().get("shed", 0) >= beyond() - 1)
    gate.set()
    h.wait_out("pdus", n)
    out = h.out("pdus", messages.unpack_bits_pdu)
    shed = [m for m, _ in out if "overloaded" in str(m.get("erasure_reason", ""))]
    c = h.blk.counters()
    assert len(out) == n and c["pdus_out"] == n
    assert c["shed"] == len(shed) and beyond() - 1 <= c["shed"] <= beyond()
    assert all(m["erased"] is True for m in shed)
    assert sorted(int(m["frame"]) for m, _ in out) == list(range(n))
