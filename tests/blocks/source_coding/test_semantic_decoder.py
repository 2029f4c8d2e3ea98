"""QA of ``semantic_decoder``: bits PDU -> label PDU with Q = E o G; erasures; bad input."""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from block_harness import BlockHarness
from gnuradio.semdacom import messages
from gnuradio.semdacom.messages import Allocation
from gnuradio.semdacom.source_coding.semantic_decoder import semantic_decoder

from semdacom.data.datasets import load_fashion_mnist
from semdacom.source_coding.codec import shared_codec

TIMEOUT_S = 20.0


class Harness(BlockHarness):
    timeout = TIMEOUT_S

    def __init__(self, **kwargs) -> None:
        super().__init__(semantic_decoder(**kwargs), ["pdus"])

    def send(self, msg):
        return self.request("pdus", msg, messages.unpack_label_pdu)


@pytest.fixture(scope="module")
def data():
    codec = shared_codec(None, semantic=True)
    x, y = load_fashion_mnist("test")
    top = codec.levels - 1
    return codec, x[:40], y[:40], codec.encode(x[:40], top), top


def _pdu(stream: bytes, **meta):
    return messages.bits_pdu(meta, np.unpackbits(np.frombuffer(stream, np.uint8)))


def test_labels_match_codec_and_truth(harness, data) -> None:
    codec, x, y, streams, top = data
    h = harness()
    preds = []
    for i, s in enumerate(streams):
        meta, pred = h.send(_pdu(s, rate_index=top, label=int(y[i]), image_id=i))
        assert meta["label"] == y[i] and meta["erased"] is False and meta["pred"] == pred
        preds.append(pred)
    np.testing.assert_array_equal(preds, codec.classify(streams, top)[0])
    assert np.mean(np.array(preds) == y) >= 0.8


def test_rate_from_cmd(harness, data) -> None:
    codec, _, _, streams, top = data
    h = harness(rate_index=0)
    h.blk.to_basic_block()._post(
        pmt.intern("cmd"), messages.alloc_to_pmt(Allocation(seq=1, rate_index=np.array([top])))
    )
    h.wait_for(lambda: h.blk.counters()["cmd_accepted"] == 1)
    _, pred = h.send(_pdu(streams[0]))
    assert pred == codec.classify(streams[:1], top)[0][0]


def test_corrupted_streams_still_give_labels(harness, data) -> None:
    _, _, _, streams, top = data
    h = harness()
    rng = np.random.default_rng(3)
    for s in streams[:10]:
        bits = np.unpackbits(np.frombuffer(s, np.uint8))
        noisy = bits ^ (rng.random(bits.size) < 0.05).astype(np.uint8)
        _, pred = h.send(messages.bits_pdu({"rate_index": top}, noisy))
        assert -1 <= pred <= 9


@pytest.mark.parametrize(
    "bad",
    [
        pmt.intern("junk"),
        messages.bits_pdu({"rate_index": 0}, np.zeros(0, np.uint8)),
        messages.bits_pdu({"rate_index": 0, "erased": True}, np.zeros(0, np.uint8)),
        messages.bits_pdu({"rate_index": 100}, np.ones(64, np.uint8)),
        pmt.cons(pmt.from_long(3), pmt.init_u8vector(2, [1, 2])),
        pmt.cons(pmt.make_dict(), pmt.init_c32vector(1, [complex(np.nan, 0)])),
        messages.bits_pdu({"rate_index": 0}, np.ones(8 * 70000, np.uint8)),  # huge
    ],
)
def test_unreadable_input_is_an_explicit_erasure(harness, data, bad) -> None:
    h = harness()
    meta, pred = h.send(bad)
    assert pred == -1 and meta["erased"] is True and meta["erasure_reason"]
    c = h.blk.counters()
    assert c["pdus_in"] == c["pdus_out"] == 1 and c["erasures"] == 1
    _, _, _, streams, top = data
    _, pred = h.send(_pdu(streams[0], rate_index=top))  # keeps working
    assert pred >= 0


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        semantic_decoder(user=-1)
    for wait in (-0.1, float("nan"), 2000.0):
        with pytest.raises(ValueError, match="batch_wait_ms"):
            semantic_decoder(batch_wait_ms=wait)


@pytest.fixture(scope="module")
def classical_data():
    from semdacom.source_coding.classical import shared_classical

    c = shared_classical(classifier=True)
    x, y = load_fashion_mnist("test")
    top = c.levels - 1
    return c, x[:30], y[:30], c.encode(x[:30], top), top


def test_classical_labels_match_classifier_on_decoded_image(harness, classical_data) -> None:
    c, _, y, streams, top = classical_data
    h = harness(codec="classical")
    preds = []
    for i, s in enumerate(streams):
        meta, pred = h.send(_pdu(s, rate_index=top, label=int(y[i]), codec="heif-x265"))
        assert meta["erased"] is False and meta["label"] == y[i]
        preds.append(pred)
    np.testing.assert_array_equal(preds, c.classify(streams, top)[0])
    assert np.mean(np.array(preds) == y) >= 0.75
    rng = np.random.default_rng(4)
    for s in streams[:8]:  # corrupted: a label or an explicit erasure, never a crash
        bits = np.unpackbits(np.frombuffer(s, np.uint8))
        noisy = bits ^ (rng.random(bits.size) < 0.05).astype(np.uint8)
        meta, pred = h.send(messages.bits_pdu({"rate_index": top}, noisy))
        assert -1 <= pred <= 9 and (pred == -1) == meta["erased"]
    for bad in (
        messages.bits_pdu({"rate_index": 0}, np.zeros(0, np.uint8)),
        messages.bits_pdu({"rate_index": top, "codec": "hyperprior_vbr"}, np.ones(64, np.uint8)),
    ):
        meta, pred = h.send(bad)
        assert pred == -1 and meta["erased"] is True and meta["erasure_reason"]
    cnt = h.blk.counters()
    assert cnt["pdus_in"] == cnt["pdus_out"] == len(streams) + 10
    with pytest.raises(ValueError, match="codec"):
        semantic_decoder(codec="webp")
