"""QA of ``djscc_encoder``: image PDU -> one frame of k power-normalised analog symbols (tags as
channel_encoder's) and the same symbols as a symbol PDU; malformed PDUs give one erased frame
each (nothing lost, streams stay aligned)."""

from __future__ import annotations

import time

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.source_coding.djscc_encoder import DJSCC_TAG, djscc_encoder

from semdacom.data.datasets import load_fashion_mnist

TIMEOUT_S = 20.0


def _run(msgs, **kw):
    """Post ``msgs`` to a running encoder; returns (stream, tags, symbol PDUs, block)."""
    tb = gr.top_block()
    enc = djscc_encoder(**kw)
    sink = blocks.vector_sink_c()
    dbg = blocks.message_debug()
    tb.connect(enc, sink)
    tb.msg_connect((enc, "symbols"), (dbg, "store"))
    tb.start()
    for m in msgs:
        enc.to_basic_block()._post(pmt.intern("pdus"), m)
    t0 = time.monotonic()
    while enc.counters()["frames_out"] < len(msgs) and time.monotonic() - t0 < TIMEOUT_S:
        time.sleep(0.005)
    time.sleep(0.05)
    tb.stop()
    tb.wait()
    pdus = [messages.unpack_symbols_pdu(dbg.get_message(i)) for i in range(dbg.num_messages())]
    return np.asarray(sink.data(), np.complex64), sink.tags(), pdus, enc


def _tags(tags, key):
    return [(t.offset, t.value) for t in tags if pmt.symbol_to_string(t.key) == key]


@pytest.fixture(scope="module")
def images():
    imgs, labels = load_fashion_mnist("test")
    return imgs[:4], labels[:4]


def test_frames_power_normalised_with_tags(images) -> None:
    imgs, labels = images
    msgs = [
        messages.image_pdu({"image_id": i, "label": int(labels[i]), "frame": 10 + i}, imgs[i])
        for i in range(4)
    ]
    data, tags, pdus, enc = _run(msgs, user=0, frame_len=0, first_frame=5)
    k = enc.k
    assert k == 470 and data.size == 4 * k
    frames = _tags(tags, "frame")
    assert [o for o, _ in frames] == [i * k for i in range(4)]
    assert [pmt.to_uint64(v) for _, v in frames] == [5, 6, 7, 8]
    assert [pmt.to_long(v) for _, v in _tags(tags, "packet_len")] == [k] * 4
    infos = [messages.meta_from_pmt(v) for _, v in _tags(tags, DJSCC_TAG)]
    for i, info in enumerate(infos):
        assert info["user"] == 0 and info["k"] == k and info["erased"] is False
        assert info["pdu_image_id"] == i and info["pdu_label"] == int(labels[i])
        assert info["pdu_frame"] == 10 + i
    for i in range(4):
        s = data[i * k : (i + 1) * k]
        assert np.mean(np.abs(s) ** 2) == pytest.approx(1.0, rel=1e-4)
    assert len(pdus) == 4
    for i, (meta, sym) in enumerate(pdus):
        np.testing.assert_array_equal(sym, data[i * k : (i + 1) * k])
        assert meta["image_id"] == i and meta["user"] == 0 and meta["erased"] is False
        assert meta["tx_frame"] == 5 + i
    assert enc.counters() == {"pdus_in": 4, "frames_out": 4, "erasures": 0}


def test_frame_len_padding(images) -> None:
    imgs, _ = images
    data, tags, _, enc = _run([messages.image_pdu({}, imgs[0])] * 2, user=1, frame_len=256)
    assert data.size == 2 * 512
    assert [pmt.to_long(v) for _, v in _tags(tags, "packet_len")] == [512, 512]
    assert np.all(data[enc.k : 512] == 0)
    info = messages.meta_from_pmt(_tags(tags, DJSCC_TAG)[0][1])
    assert info["user"] == 1


def test_malformed_pdus_each_give_one_erased_frame(images) -> None:
    imgs, _ = images
    bad = [
        pmt.intern("garbage"),
        pmt.from_long(3),
        pmt.cons(pmt.make_dict(), pmt.init_u8vector(0, [])),  # empty, no shape
        pmt.cons(pmt.PMT_NIL, pmt.init_u8vector(4, [1, 2, 3, 4])),
        messages.image_pdu({"image_id": 7}, np.zeros((1, 14, 14), np.uint8)),  # wrong shape
        messages.image_pdu({"image_id": 8}, np.zeros((1, 600, 600), np.uint8)),  # huge
        messages.image_pdu({"image_id": 9, "erased": True}, imgs[0]),
        pmt.cons(
            messages.meta_to_pmt({"shape": np.array([1, 28, 28], np.int32)}),
            pmt.init_f32vector(784, [0.0] * 784),
        ),  # wrong payload type
    ]
    good = messages.image_pdu({"image_id": 1}, imgs[1])
    data, tags, pdus, enc = _run([*bad, good])
    k = enc.k
    assert data.size == (len(bad) + 1) * k
    infos = [messages.meta_from_pmt(v) for _, v in _tags(tags, DJSCC_TAG)]
    assert [i["erased"] for i in infos] == [True] * len(bad) + [False]
    assert all(i["erasure_reason"] for i in infos[:-1])
    assert np.all(data[: len(bad) * k] == 0)
    assert len(pdus) == len(bad) + 1 and pdus[4][0]["image_id"] == 7
    assert enc.counters() == {"pdus_in": 9, "frames_out": 9, "erasures": len(bad)}


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        djscc_encoder(user=-1)
    with pytest.raises(ValueError):
        djscc_encoder(frame_len=1.5)
    with pytest.raises(FileNotFoundError):
        djscc_encoder(weights="/nonexistent/djscc.pt")


def test_queued_images_are_encoded_as_one_batch_in_order(images) -> None:
    """Issue 23: the PDUs waiting when one is handled are encoded as one batch; each still
    gives its own frame in order, with the symbols it gets alone (float tolerance), and a
    malformed PDU among them is an erasure of its own while the others are coded."""
    imgs, _ = images
    x = np.concatenate([imgs] * 3)
    msgs = [messages.image_pdu({"image_id": i}, x[i]) for i in range(len(x))]
    msgs[5] = pmt.cons(pmt.make_dict(), pmt.init_u8vector(3, [1, 2, 3]))  # not an image
    tb = gr.top_block()
    enc = djscc_encoder(user=1)
    sizes: list[int] = []
    encode_many = enc._encode_many

    def spy(batch):
        sizes.append(len(batch))
        return encode_many(batch)

    enc._encode_many = spy
    sink = blocks.vector_sink_c()
    tb.connect(enc, sink)
    for m in msgs:  # queued before the flowgraph runs: the first call finds them all
        enc.to_basic_block()._post(pmt.intern("pdus"), m)
    tb.start()
    t0 = time.monotonic()
    while enc.counters()["frames_out"] < len(msgs) and time.monotonic() - t0 < TIMEOUT_S:
        time.sleep(0.005)
    tb.stop()
    tb.wait()
    k, data = enc.k, np.asarray(sink.data(), np.complex64)
    assert data.size == len(msgs) * k and max(sizes) > 1
    infos = [messages.meta_from_pmt(v) for _, v in _tags(sink.tags(), DJSCC_TAG)]
    assert [i["erased"] for i in infos] == [i == 5 for i in range(len(msgs))]
    assert [i.get("pdu_image_id") for i in infos] == [None if i == 5 else i for i in range(12)]
    for i in range(len(msgs)):
        s = data[i * k : (i + 1) * k]
        want = np.zeros(k) if i == 5 else encode_many([x[i]])[0]
        np.testing.assert_allclose(s, want, atol=1e-5)
    assert enc.counters() == {"pdus_in": 12, "frames_out": 12, "erasures": 1}
