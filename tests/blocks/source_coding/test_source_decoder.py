"""QA of ``source_decoder``: bits PDU -> image PDU; corrupted streams; explicit erasures."""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from block_harness import BlockHarness
from gnuradio.semdacom import messages
from gnuradio.semdacom.messages import Allocation
from gnuradio.semdacom.source_coding.source_decoder import source_decoder

from semdacom.data.datasets import load_fashion_mnist
from semdacom.source_coding.codec import shared_codec

TIMEOUT_S = 20.0


class Harness(BlockHarness):
    timeout = TIMEOUT_S

    def __init__(self, **kwargs) -> None:
        super().__init__(source_decoder(**kwargs), ["pdus"])

    def send(self, msg, port: str = "pdus"):
        return self.request(port, msg, messages.unpack_image_pdu)


@pytest.fixture(scope="module")
def codec():
    return shared_codec(None, semantic=False)


@pytest.fixture(scope="module")
def streams(codec):
    x = load_fashion_mnist("test")[0][:4]
    return x, {r: codec.encode(x, r) for r in (0, 7, codec.levels - 1)}


def _pdu(stream: bytes, **meta):
    return messages.bits_pdu(meta, np.unpackbits(np.frombuffer(stream, np.uint8)))


def test_clean_stream_decodes_like_the_codec(harness, codec, streams) -> None:
    h = harness()
    x, s = streams
    for r, ss in s.items():
        meta, img = h.send(_pdu(ss[1], rate_index=r, image_id=1, label=3))
        ref = codec.decode([ss[1]], r).images[0]
        np.testing.assert_array_equal(img, np.round(ref * 255).astype(np.uint8))
        assert meta["erased"] is False and meta["image_id"] == 1 and meta["label"] == 3
        assert img.shape == (1, 28, 28) and "n_bits" not in meta


def test_rate_from_cmd_when_meta_has_none(harness, codec, streams) -> None:
    h = harness(rate_index=0)
    _, s = streams
    h.blk.to_basic_block()._post(
        pmt.intern("cmd"), messages.alloc_to_pmt(Allocation(seq=1, rate_index=np.array([7])))
    )
    h.wait_for(lambda: h.blk.counters()["cmd_accepted"] == 1)
    _, img = h.send(_pdu(s[7][0]))
    np.testing.assert_array_equal(img, np.round(codec.decode([s[7][0]], 7).images[0] * 255))


def _noisy(s: dict, rng):
    """``(rate_index, bits)`` of the first stream of every rate, with bit errors at BER 1e-3,
    1e-2, 0.1 and 0.5."""
    for r, ss in s.items():
        bits = np.unpackbits(np.frombuffer(ss[0], np.uint8))
        for ber in (1e-3, 1e-2, 0.1, 0.5):
            yield r, bits ^ (rng.random(bits.size) < ber).astype(np.uint8)


def test_bit_errors_give_degraded_images(harness, streams) -> None:
    h = harness()
    _, s = streams
    rng = np.random.default_rng(0)
    for r, noisy in _noisy(s, rng):
        meta, img = h.send(messages.bits_pdu({"rate_index": r}, noisy))
        assert img.shape == (1, 28, 28)
    c = h.blk.counters()
    assert c["pdus_in"] == c["pdus_out"] == 12


@pytest.mark.parametrize(
    "bad",
    [
        pmt.intern("junk"),
        messages.bits_pdu({"rate_index": 0}, np.zeros(0, np.uint8)),  # empty stream
        messages.bits_pdu({"rate_index": 0, "erased": True}, np.zeros(0, np.uint8)),
        messages.bits_pdu({"rate_index": 999}, np.ones(64, np.uint8)),
        messages.bits_pdu({"rate_index": "x"}, np.ones(64, np.uint8)),
        pmt.cons(pmt.from_long(3), pmt.init_u8vector(4, [1, 2, 3, 4])),
        pmt.cons(pmt.make_dict(), pmt.init_f32vector(4, [np.nan] * 4)),
        messages.bits_pdu({"rate_index": 0}, np.ones(8 * 70000, np.uint8)),  # huge
    ],
)
def test_unreadable_input_is_an_explicit_erasure(harness, codec, streams, bad) -> None:
    h = harness()
    meta, img = h.send(bad)
    assert meta["erased"] is True and meta["erasure_reason"]
    np.testing.assert_array_equal(img, np.round(codec.erasure_fill * 255).astype(np.uint8))
    c = h.blk.counters()
    assert c["pdus_in"] == c["pdus_out"] == 1 and c["erasures"] == 1
    _, s = streams
    meta, _ = h.send(_pdu(s[7][0], rate_index=7))  # keeps working
    assert meta["erased"] is False


def test_malformed_cmd_is_dropped(harness) -> None:
    h = harness(rate_index=3)
    h.blk.to_basic_block()._post(pmt.intern("cmd"), pmt.intern("junk"))
    h.wait_for(lambda: h.blk.counters()["cmd_rejected"] == 1)


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        source_decoder(user=-2)
    with pytest.raises(ValueError):
        source_decoder(rate_index=-1)
    for wait in (-1.0, float("nan"), float("inf"), 1000.5, True, "soon"):
        with pytest.raises(ValueError, match="batch_wait_ms"):
            source_decoder(batch_wait_ms=wait)


@pytest.fixture(scope="module")
def classical_streams():
    from semdacom.source_coding.classical import shared_classical

    c = shared_classical(classifier=False)
    x = load_fashion_mnist("test")[0][:4]
    return c, {r: c.encode(x, r) for r in (0, 7, c.levels - 1)}


def test_classical_clean_and_corrupted_streams(harness, classical_streams) -> None:
    c, s = classical_streams
    h = harness(codec="classical")
    fill = np.round(c.erasure_fill * 255).astype(np.uint8)
    for r, ss in s.items():
        meta, img = h.send(_pdu(ss[1], rate_index=r, image_id=1, codec="heif-x265"))
        np.testing.assert_array_equal(img, np.round(c.decode([ss[1]], r).images[0] * 255))
        assert meta["erased"] is False and meta["image_id"] == 1
    rng = np.random.default_rng(5)
    outcomes = set()
    for r, noisy in _noisy(s, rng):
        meta, img = h.send(messages.bits_pdu({"rate_index": r}, noisy))
        assert img.shape == (1, 28, 28)
        if meta["erased"]:
            assert meta["erasure_reason"]
            np.testing.assert_array_equal(img, fill)
        outcomes.add(meta["erased"])
    assert True in outcomes  # some corruption is rejected by the HEVC decoder: explicit erasure
    c2 = h.blk.counters()
    assert c2["pdus_in"] == c2["pdus_out"] == 15


@pytest.mark.parametrize(
    "bad",
    [
        messages.bits_pdu({"rate_index": 0}, np.zeros(0, np.uint8)),  # empty stream
        messages.bits_pdu({"rate_index": 0, "codec": "hyperprior_vbr"}, np.ones(64, np.uint8)),
        messages.bits_pdu({"rate_index": 16}, np.ones(64, np.uint8)),
        messages.bits_pdu({"rate_index": 0}, np.ones(8 * 70000, np.uint8)),  # huge
        pmt.intern("junk"),
    ],
)
def test_classical_unreadable_input_is_an_explicit_erasure(harness, classical_streams, bad) -> None:
    c, s = classical_streams
    h = harness(codec="classical")
    meta, img = h.send(bad)
    assert meta["erased"] is True and meta["erasure_reason"]
    np.testing.assert_array_equal(img, np.round(c.erasure_fill * 255).astype(np.uint8))
    meta, _ = h.send(_pdu(s[7][0], rate_index=7))  # keeps working
    assert meta["erased"] is False


def test_learned_decoder_refuses_classical_streams(harness, classical_streams) -> None:
    _, s = classical_streams
    meta, _ = harness().send(_pdu(s[7][0], rate_index=7, codec="heif-x265"))
    assert meta["erased"] is True and "heif-x265" in meta["erasure_reason"]
    with pytest.raises(ValueError, match="codec"):
        source_decoder(codec="jpeg")


def test_a_backlog_beyond_the_cap_is_shed_as_erasures(harness, streams) -> None:
    """Issue 24, bounded queues: GNU Radio's message queue has no cap; while more than
    MAX_BACKLOG PDUs wait, each one taken is answered at once as an erasure (``shed``) instead
    of being decoded, and every PDU still gives one result. Before, the queue grew without
    limit when the decoder was slower than what came in (a radio)."""
    import threading

    h = harness()
    _, s = streams
    gate, slow = threading.Event(), h.blk._results

    def results(r, items):
        gate.wait(20.0)  # the decoder stalls until everything has arrived
        return slow(r, items)

    h.blk._results = results
    cap = source_decoder.MAX_BACKLOG
    n = cap + source_decoder.BATCH + 60  # beyond the cap even after a whole batch was taken
    for i in range(n):
        h.post("pdus", _pdu(s[0][i % 4], rate_index=0, image_id=i, frame=np.uint64(i)))
    queued = lambda: h.blk.to_basic_block().nmsgs(pmt.intern("pdus"))  # noqa: E731
    # the first PDU's handler took what had queued up by then (its batch) and stalls
    h.wait_for(lambda: queued() + h.blk.counters()["pdus_in"] >= n)
    c0 = h.blk.counters()  # the stalled batch, after what was shed before it (a slow start)
    first, shed0 = c0["pdus_in"], c0["shed"]
    gate.set()
    h.wait_out("pdus", n)
    out = h.out("pdus", messages.unpack_image_pdu)
    c = h.blk.counters()
    shed = [m for m, _ in out if "overloaded" in str(m.get("erasure_reason", ""))]
    assert len(out) == n and c["pdus_out"] == n and c["shed"] == len(shed)
    # the backlog behind the stalled batch drained to the cap, no lower
    assert max(0, n - first - cap - 2) <= c["shed"] - shed0 <= max(0, n - first - cap)
    assert sorted(int(m["image_id"]) for m, _ in out) == list(range(n))
    assert all(m["erased"] is True for m in shed)


def test_queued_pdus_decode_as_one_batch_per_rate_in_order(harness, codec, streams) -> None:
    """Issue 23: the PDUs that wait in the queue are taken with the one being handled and
    decoded as one batch per operating point; each still leaves once, in arrival order, as
    the codec decodes it alone; a malformed PDU in the batch is an erasure on its own."""
    import threading

    h = harness()
    x, s = streams
    gate, slow, calls = threading.Event(), h.blk._results, []

    def results(r, items):
        calls.append((r, len(items)))
        gate.wait(20.0)
        return slow(r, items)

    h.blk._results = results
    rates = [0, 7, codec.levels - 1]
    n = 30
    for i in range(n):
        if i == 11:
            h.post("pdus", pmt.intern("not a pdu"))
            continue
        r = rates[i % 3]
        h.post("pdus", _pdu(s[r][i % 4], rate_index=r, image_id=i, frame=np.uint64(i)))
    queued = lambda: h.blk.to_basic_block().nmsgs(pmt.intern("pdus"))  # noqa: E731
    h.wait_for(lambda: calls and queued() + h.blk.counters()["pdus_in"] >= n)
    gate.set()
    h.wait_out("pdus", n)
    out = h.out("pdus", messages.unpack_image_pdu)
    assert [m.get("image_id") for m, _ in out] == [i if i != 11 else None for i in range(n)]
    assert max(k for _, k in calls) > 1  # batches were formed
    for i, (meta, img) in enumerate(out):
        if i == 11:
            assert meta["erased"] is True and "erasure_reason" in meta
            continue
        r = rates[i % 3]
        ref = np.round(codec.decode([s[r][i % 4]], r).images[0] * 255).astype(np.uint8)
        np.testing.assert_array_equal(img, ref)
        assert meta["erased"] is False
    c = h.blk.counters()
    assert c["pdus_in"] == n and c["pdus_out"] == n and c["erasures"] == 1


@pytest.mark.parametrize("wait_ms", [0.0, 150.0])
def test_pdus_that_come_one_by_one_batch_only_with_a_wait(harness, codec, streams, wait_ms) -> None:
    """Issue 23, a radio's pace: PDUs 10 ms apart, each decoded in about a millisecond. With
    no wait each is decoded alone; with ``batch_wait_ms`` the decoder waits for the batch to
    fill, so they are decoded in batches, each PDU still once, in order, as the codec decodes
    it alone."""
    import time

    h = harness(batch_wait_ms=wait_ms)
    _, s = streams
    calls, fast = [], h.blk._results

    def results(r, items):
        calls.append(len(items))
        return fast(r, items)

    h.blk._results = results
    n = 24
    for i in range(n):
        h.post("pdus", _pdu(s[7][i % 4], rate_index=7, image_id=i))
        time.sleep(0.01)
    h.wait_out("pdus", n)
    out = h.out("pdus", messages.unpack_image_pdu)
    assert [m["image_id"] for m, _ in out] == list(range(n)) and sum(calls) == n
    for i, (_, img) in enumerate(out):
        ref = np.round(codec.decode([s[7][i % 4]], 7).images[0] * 255).astype(np.uint8)
        np.testing.assert_array_equal(img, ref)
    if wait_ms:  # 150 ms hold up to 15 (fewer on a loaded machine, whose sleeps run long)
        assert len(calls) <= n // 4, calls
    else:  # a batch is what has queued meanwhile: mostly one
        assert len(calls) >= n // 3, calls
