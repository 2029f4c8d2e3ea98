"""QA of ``djscc_decoder``: frames of received DeepJSCC symbols -> image PDUs. Loopback from
djscc_encoder through the real C++ superposition_beamformer + miso_channel (2 users, ZF, high
SNR, effective gain from CSI and the allocation as in channel_decoder), the symbol-PDU port with
a gain in the meta, and bad input (malformed PDUs, short / NaN frames, zero gain, encoder
erasures, bad csi/cmd): exactly one image PDU per frame or PDU."""

from __future__ import annotations

import time

import numpy as np
import pmt
import pytest
from block_harness import IdleSource, miso_link, run_stream, wait_until
from block_harness import make_tag as _tag
from gnuradio import blocks, gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.source_coding.djscc_decoder import djscc_decoder
from gnuradio.semdacom.source_coding.djscc_encoder import DJSCC_TAG, djscc_encoder

from semdacom.data.datasets import load_fashion_mnist
from semdacom.phy import beamforming as bf
from semdacom.source_coding.metrics import msssim

TIMEOUT_S = 30.0
K_SYM = 470


@pytest.fixture(scope="module")
def images():
    imgs, labels = load_fashion_mnist("test")
    return imgs[:6], labels[:6]


def _wait(cond) -> None:
    """Wait for ``cond`` (at most TIMEOUT_S); the test's own asserts then say what is missing."""
    try:
        wait_until(cond, TIMEOUT_S)
    except AssertionError:
        pass


def _images_of(dbg) -> list[tuple[dict, np.ndarray]]:
    return [messages.unpack_image_pdu(dbg.get_message(i)) for i in range(dbg.num_messages())]


def _score(out, imgs) -> np.ndarray:
    got = np.stack([img for _, img in out]).astype(np.float32) / 255.0
    ref = imgs[:, None].astype(np.float32) / 255.0
    return msssim(got, ref)


def _run_stream(samples: np.ndarray, tags: list, msgs=(), **kw):
    dec = djscc_decoder(**kw)
    return _images_of(run_stream(dec, samples, tags, msgs)), dec


def test_direct_loopback_noiseless(images) -> None:
    imgs, labels = images
    tb = gr.top_block()
    enc = djscc_encoder(user=0)
    dec = djscc_decoder(user=0)
    dbg = blocks.message_debug()
    tb.connect(enc, dec)
    tb.msg_connect((dec, "pdus"), (dbg, "store"))
    tb.start()
    for i in range(len(imgs)):
        meta = {"image_id": i, "label": int(labels[i])}
        enc.to_basic_block()._post(pmt.intern("pdus"), messages.image_pdu(meta, imgs[i]))
    _wait(lambda: dbg.num_messages() >= len(imgs))
    tb.stop()
    tb.wait()
    out = _images_of(dbg)
    assert len(out) == len(imgs)
    for i, (meta, img) in enumerate(out):
        assert img.shape == (1, 28, 28) and img.dtype == np.uint8
        assert meta["image_id"] == i and meta["label"] == int(labels[i])
        assert meta["erased"] is False and meta["user"] == 0 and meta["frame"] == i
        assert meta["sinr_source"] == "fixed"
    assert np.mean(_score(out, imgs)) > 0.9


def test_loopback_through_beamformer_and_channel(images) -> None:
    """Two DJSCC users -> superposition_beamformer (ZF) -> miso_channel -> two decoders."""
    imgs, labels = images
    k = 2
    h = bf.paper_channel()
    w = bf.zf_beamformers(h)
    p = np.array([20.0, 20.0])
    noise = [0.01, 0.01]
    tb = gr.top_block()
    encs = [djscc_encoder(user=u, frame_len=64) for u in range(k)]
    decs = [djscc_decoder(user=u) for u in range(k)]
    dbgs = miso_link(tb, encs, decs, h, w, p, noise)
    tb.start()
    n = len(imgs) // 2
    for i in range(n):
        for u in range(k):
            j = 2 * i + u
            meta = {"image_id": j, "label": int(labels[j])}
            encs[u].to_basic_block()._post(pmt.intern("pdus"), messages.image_pdu(meta, imgs[j]))
    _wait(lambda: all(d.num_messages() >= n for d in dbgs))
    tb.stop()
    tb.wait()
    hw = h.conj() @ w.T  # hw[u, j] = h_u^H w_j
    for u in range(k):
        out = _images_of(dbgs[u])
        assert len(out) == n
        sinr = p[u] * abs(hw[u, u]) ** 2 / noise[u]
        for meta, _ in out:
            assert meta["erased"] is False and meta["sinr_source"] == "csi"
            assert meta["sinr_db"] == pytest.approx(10 * np.log10(sinr), abs=0.01)
        # each user's tags reach its own channel output (user-tag routing)
        assert [m["image_id"] for m, _ in out] == [u, 2 + u, 4 + u]
        score = _score(out, imgs[u::2])
        assert np.mean(score) > 0.85, (u, score)
        assert decs[u].counters()["csi_accepted"] >= 1


def test_symbols_port_with_gain_in_meta(images) -> None:
    imgs, _ = images
    enc = djscc_encoder()
    s = [enc.encode_image(imgs[i]) for i in range(3)]
    g = 0.3 - 0.7j
    tb = gr.top_block()
    src = IdleSource()
    dec = djscc_decoder(user=2)
    dbg = blocks.message_debug()
    tb.connect(src, dec)
    tb.msg_connect((dec, "pdus"), (dbg, "store"))
    tb.start()
    for i in range(3):
        msg = messages.symbols_pdu({"image_id": i, "gain": g, "frame": i}, s[i] * np.complex64(g))
        dec.to_basic_block()._post(pmt.intern("symbols"), msg)
    _wait(lambda: dbg.num_messages() >= 3)
    tb.stop()
    tb.wait()
    out = _images_of(dbg)
    assert [m["image_id"] for m, _ in out] == [0, 1, 2]
    assert all(m["sinr_source"] == "meta" and m["user"] == 2 for m, _ in out)
    assert np.mean(_score(out, imgs[:3])) > 0.9


def test_malformed_symbol_pdus_each_give_one_erasure(images) -> None:
    imgs, _ = images
    enc = djscc_encoder()
    good = enc.encode_image(imgs[0])
    bad = [
        pmt.intern("garbage"),
        pmt.from_double(1.0),
        pmt.cons(pmt.make_dict(), pmt.init_c32vector(0, [])),  # empty
        pmt.cons(pmt.make_dict(), pmt.init_u8vector(4, [1, 2, 3, 4])),  # wrong payload type
        pmt.cons(pmt.from_long(5), pmt.init_c32vector(K_SYM, good.tolist())),  # meta not a dict
        messages.symbols_pdu({"image_id": 5}, good[:100]),  # too short
        messages.symbols_pdu({"image_id": 6}, np.full(K_SYM, np.nan, np.complex64)),
        messages.symbols_pdu({"image_id": 7, "gain": 0j}, good),
        messages.symbols_pdu({"image_id": 8, "erased": True, "erasure_reason": "x"}, good),
    ]
    huge = messages.symbols_pdu({"image_id": 9}, np.tile(good, 200))  # 94,000 symbols
    tb = gr.top_block()
    dec = djscc_decoder()
    dbg = blocks.message_debug()
    src = IdleSource()  # keep a reference: a collected Python block crashes the flowgraph
    tb.connect(src, dec)
    tb.msg_connect((dec, "pdus"), (dbg, "store"))
    tb.start()
    bad_ctl = [
        ("csi", pmt.intern("garbage")),
        ("csi", pmt.make_dict()),
        ("cmd", pmt.from_long(3)),
        ("cmd", pmt.make_dict()),
    ]
    for port, m in bad_ctl:
        dec.to_basic_block()._post(pmt.intern(port), m)
    _wait(lambda: dec.counters()["csi_rejected"] + dec.counters()["cmd_rejected"] >= 4)
    for m in [*bad, huge]:
        dec.to_basic_block()._post(pmt.intern("symbols"), m)
    _wait(lambda: dbg.num_messages() >= len(bad) + 1)
    time.sleep(0.05)
    tb.stop()
    tb.wait()
    out = _images_of(dbg)
    assert len(out) == len(bad) + 1
    for meta, img in out[:-1]:
        assert meta["erased"] is True and meta["erasure_reason"]
        np.testing.assert_array_equal(img, dec.erasure_fill)
    assert [m.get("image_id") for m, _ in out[5:]] == [5, 6, 7, 8, 9]
    assert out[-1][0]["erased"] is False  # the first k symbols of a long PDU are the image's
    c = dec.counters()
    assert c["symbol_pdus_in"] == len(bad) + 1 and c["pdus_out"] == len(bad) + 1
    assert c["erasures"] == len(bad)
    assert c["csi_rejected"] == 2 and c["cmd_rejected"] == 2
    assert c["csi_accepted"] == 0 and c["cmd_accepted"] == 0


def test_stream_frames_short_nan_and_encoder_erasure(images) -> None:
    imgs, _ = images
    good = djscc_encoder().encode_image(imgs[0])
    nan = good.copy()
    nan[3] = np.nan
    frames = [good, good[:50], nan, good, np.concatenate([good, np.zeros(30, np.complex64)])]
    infos = [
        {"user": 0, "k": K_SYM, "erased": False, "pdu_image_id": 0},
        None,
        {"user": 0, "k": K_SYM, "erased": False},
        {"user": 0, "k": K_SYM, "erased": True, "erasure_reason": "bad image"},
        {"user": 1, "k": K_SYM, "erased": False, "pdu_image_id": 99},  # another user's tag
    ]
    tags, off = [], 0
    for i, (f, info) in enumerate(zip(frames, infos, strict=True)):
        tags.append(_tag(off, "frame", pmt.from_uint64(i)))
        tags.append(_tag(off, "packet_len", pmt.from_long(f.size)))
        if info is not None:
            tags.append(_tag(off, DJSCC_TAG, messages.meta_to_pmt(info)))
        off += f.size
    data = np.concatenate([np.zeros(17, np.complex64), *frames])
    tags = [_tag(t.offset + 17, pmt.symbol_to_string(t.key), t.value) for t in tags]
    out, dec = _run_stream(data, tags, user=0)
    assert len(out) == len(frames)
    erased = [m["erased"] for m, _ in out]
    assert erased == [False, True, True, True, False]
    assert out[0][0]["image_id"] == 0 and "image_id" not in out[4][0]
    assert [m["frame"] for m, _ in out] == [0, 1, 2, 3, 4]
    assert "shorter" in out[1][0]["erasure_reason"]
    assert "encoder" in out[3][0]["erasure_reason"]
    c = dec.counters()
    assert c["frames_in"] == 5 and c["pdus_out"] == 5 and c["erasures"] == 3


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        djscc_decoder(user=-2)
    with pytest.raises(ValueError):
        djscc_decoder(snr_db=float("nan"))


# ---------------------------------------------------------------------------------------------
# Issue 12 regressions (defect 7)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "gain", [complex(np.inf, 0), complex(-np.inf, 0), complex(0, np.inf), complex(np.nan, 1)]
)
def test_non_finite_gain_gives_an_erasure(images, block_harness, gain: complex) -> None:
    """A symbol PDU whose meta gain is +-inf used to decode with erased=False, sinr_db=inf."""
    imgs, _ = images
    s = djscc_encoder().encode_image(imgs[0])
    h = block_harness(djscc_decoder(), ["pdus"], stream_in="idle")
    h.post("symbols", messages.symbols_pdu({"image_id": 3, "gain": gain}, s))
    h.wait_out("pdus", 1)
    meta, _ = h.out("pdus", messages.unpack_image_pdu)[0]
    assert meta["erased"] is True and "gain" in meta["erasure_reason"]
    assert meta["image_id"] == 3


def test_frames_of_one_chunk_are_decoded_as_one_batch(images) -> None:
    """Issue 23: the frames cut from one chunk of the stream are decoded as one batch, each
    answered in its order with the image it gets alone (within one grey level); a batch whose
    decoding fails is decoded frame by frame, so only the frame that fails alone is erased."""
    imgs, _ = images
    enc = djscc_encoder()
    frames = [enc.encode_image(imgs[i % len(imgs)]) for i in range(16)]
    frames[9] = frames[9] * np.complex64(0.999)  # unlike frame 3, of the same image
    tags, off = [], 0
    for i, f in enumerate(frames):
        tags.append(_tag(off, "frame", pmt.from_uint64(i)))
        tags.append(_tag(off, "packet_len", pmt.from_long(f.size)))
        tags.append(_tag(off, DJSCC_TAG, messages.meta_to_pmt({"user": 0, "k": K_SYM,
                                                               "erased": False})))  # fmt: skip
        off += f.size
    dec = djscc_decoder(user=0)
    alone = [dec._decode_symbols(f) for f in frames]
    sizes: list[int] = []
    decode_many = dec._decode_many

    def spy(batch):
        sizes.append(len(batch))
        if len(batch) > 1:
            raise RuntimeError("a batch fails")  # each frame is then decoded alone
        if np.array_equal(batch[0], frames[9]):
            raise RuntimeError("this frame fails alone")
        return decode_many(batch)

    dec._decode_many = spy
    out = _images_of(run_stream(dec, np.concatenate(frames), tags))
    assert [m["frame"] for m, _ in out] == list(range(16))
    assert [m["erased"] for m, _ in out] == [i == 9 for i in range(16)]
    assert "fails alone" in out[9][0]["erasure_reason"]
    assert max(sizes) > 1
    for i, (_, img) in enumerate(out):
        if i != 9:
            assert np.abs(img.astype(int) - alone[i].astype(int)).max() <= 1
    huge = [f.copy() for f in frames[:3]]
    huge[1][:] = np.complex64(3e38)  # finite, but the network's output is not
    out3 = _images_of(run_stream(djscc_decoder(user=0), np.concatenate(huge), tags[:9]))
    assert [m["erased"] for m, _ in out3] == [False, True, False]
    assert "not finite" in out3[1][0]["erasure_reason"]
    dec2 = djscc_decoder(user=0)
    out2 = _images_of(run_stream(dec2, np.concatenate(frames), tags))
    assert not any(m["erased"] for m, _ in out2)
    for i, (_, img) in enumerate(out2):  # the batch itself gives what each frame gives alone
        assert np.abs(img.astype(int) - alone[i].astype(int)).max() <= 1
