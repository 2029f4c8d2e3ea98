"""``erased`` has one meaning everywhere (issue 21, Why 6 / Build 4): a frame whose payload was
not recovered as a whole -- some codewords lost -- is erased at the channel decoder, at the
source and semantic decoders and in ``metrics_sink``, which also adds up the codeword counts;
the decoders still decode what was recovered (``partial``). Before, the channel decoder wrote
the number of lost codewords into ``erased`` and every consumer counted an erasure only when it
``is True``: with most codewords lost the reported erasures stayed near zero."""

from __future__ import annotations

import time

import numpy as np
import pmt
import pytest
from block_harness import wait_until
from gnuradio import blocks, gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.channel_coding.channel_decoder import channel_decoder
from gnuradio.semdacom.source_coding.metrics_sink import metrics_sink
from gnuradio.semdacom.source_coding.semantic_decoder import semantic_decoder
from gnuradio.semdacom.source_coding.source_decoder import source_decoder

from semdacom.channel_coding import encode_bits
from semdacom.data.datasets import load_fashion_mnist
from semdacom.source_coding.codec import shared_codec

MCS, L, HP_RATE = 2, 256, 3  # one codeword per block of L; 3-4 blocks per image at the
# hyperprior's point 3 (operating point low_rate_levels + 3 of the shipped codec)


@pytest.fixture(scope="module")
def codec():
    return shared_codec(None, semantic=True)


def _as_pdu(meta: dict, img: np.ndarray):
    return messages.image_pdu(meta, img)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_frame_with_codewords_lost_is_erased_in_every_consumer(codec, seed: int) -> None:
    """Six images over LDPC frames; some lose one block (one codeword), one loses all of them.
    channel_decoder -> source_decoder -> metrics_sink (DU) and -> semantic_decoder ->
    metrics_sink (SU): every consumer counts exactly the frames with codewords lost as erased,
    and the sinks' codeword counts agree with the decoder's."""
    rng = np.random.default_rng(seed)
    RATE = codec.low_rate_levels + HP_RATE
    x, labels = load_fashion_mnist("test")
    ids = rng.choice(200, 6, replace=False)
    streams = codec.encode(x[ids], RATE)
    hit = {1: [1], 3: [0], 4: [2], 5: "all"}  # frame -> blocks replaced by noise
    ys, tags, off = [], [], 0
    for f, s in enumerate(streams):
        bits = np.unpackbits(np.frombuffer(s, np.uint8))
        y = encode_bits(bits, MCS, L).astype(np.complex64)
        nblk = y.size // L
        for b in range(nblk) if hit.get(f) == "all" else hit.get(f, []):
            noise = rng.standard_normal(L) + 1j * rng.standard_normal(L)
            y[b * L : (b + 1) * L] = noise.astype(np.complex64)
        info = {"user": 0, "mode": "ldpc", "mcs": MCS, "L": L, "n_bits": int(bits.size),
                "pdu_image_id": int(ids[f]), "pdu_label": int(labels[ids[f]]),
                "pdu_rate_index": RATE}  # fmt: skip
        tags += [
            gr.tag_utils.python_to_tag((off, pmt.intern("frame"), pmt.from_uint64(f), pmt.PMT_F)),
            gr.tag_utils.python_to_tag(
                (off, pmt.intern("packet_len"), pmt.from_long(y.size), pmt.PMT_F)
            ),
            gr.tag_utils.python_to_tag(
                (off, pmt.intern(messages.CHAN_TAG), messages.meta_to_pmt(info), pmt.PMT_F)
            ),
        ]
        ys.append(y)
        off += y.size
    tb = gr.top_block()
    src = blocks.vector_source_c(np.concatenate(ys).tolist(), False, 1, tags)
    dec = channel_decoder(mcs=MCS, blocklength=L, snr_db=30.0)
    sdec, cdec = source_decoder(rate_index=RATE), semantic_decoder(rate_index=RATE)
    du, su = metrics_sink(), metrics_sink()
    bits_dbg, img_dbg = blocks.message_debug(), blocks.message_debug()
    tb.connect(src, dec)
    for a, b in ((dec, sdec), (dec, cdec), (sdec, du), (cdec, su)):
        tb.msg_connect((a, "pdus"), (b, "pdus"))
    tb.msg_connect((dec, "pdus"), (bits_dbg, "store"))
    tb.msg_connect((sdec, "pdus"), (img_dbg, "store"))
    for i in ids:
        ref = _as_pdu({"user": 0, "image_id": int(i), "label": int(labels[i])}, x[i])
        du.to_basic_block()._post(pmt.intern("ref"), ref)
    tb.start()
    try:
        wait_until(lambda: min(m.counters()["results"] for m in (du, su)) >= 6, 60, "results")
        time.sleep(0.1)
    finally:
        tb.stop()
        tb.wait()
    metas = [messages.unpack_bits_pdu(bits_dbg.get_message(i)) for i in range(6)]
    lost = [int(np.sum(m["cw_erased"])) for m, _ in metas]  # per codeword, as ever
    assert [f for f, n in enumerate(lost) if n] == sorted(hit)  # every hit frame lost some
    # every consumer counts the frames with codewords lost as erased (before: 0 to 2 of 4)
    for sink in (du, su):
        u = sink.summary()["users"]["0"]
        assert u["received"] == 6 and u["erased"] == len(hit), u
    assert [m["erased"] for m, _ in metas] == [n > 0 for n in lost]
    assert [m["codewords_lost"] for m, _ in metas] == lost
    assert all(m["partial"] is True for m, _ in metas if m["erased"])
    want = {"codewords": sum(m["codewords"] for m, _ in metas), "codewords_lost": sum(lost)}
    for sink in (du, su):
        u = sink.summary()["users"]["0"]
        assert {k: u[k] for k in want} == want, u
        assert u["missing"] == 0 and u["frames_missing"] == 0
    # the data user's image of a partial frame is the decoding of what was recovered (as
    # before), not the fill: erased, and scored as it is
    fill = np.round(codec.erasure_fill * 255.0).astype(np.uint8)
    imgs = [messages.unpack_image_pdu(img_dbg.get_message(i)) for i in range(6)]
    for (meta, img), (bmeta, bits) in zip(imgs, metas, strict=True):
        assert meta["erased"] is bmeta["erased"]
        res = codec.decode([np.packbits(bits).tobytes()], RATE)
        if not res.erased[0]:
            assert meta.get("partial", False) is bmeta["erased"]
            want = np.round(res.images[0] * 255).astype(np.uint8)
            np.testing.assert_array_equal(img.reshape(-1), want.reshape(-1))
        else:
            assert "partial" not in meta and np.array_equal(img.reshape(-1), fill.reshape(-1))
    assert du.summary()["users"]["0"]["evaluated"] == 6


def test_the_shared_reading_of_erased() -> None:
    """``messages.is_erased``: a bool, or a positive count of an older writer; ``partial`` only
    with ``erased``; codeword counts sane whatever the meta holds."""
    assert messages.is_erased({"erased": True}) and not messages.is_erased({"erased": False})
    assert messages.is_erased({"erased": np.bool_(True)})
    assert messages.is_erased({"erased": 3}) and not messages.is_erased({"erased": 0})
    for odd in ({}, {"erased": "yes"}, {"erased": -2}, {"erased": 1.5}, {"erased": None}):
        assert not messages.is_erased(odd)
    assert messages.partial_payload({"erased": True, "partial": True})
    assert not messages.partial_payload({"erased": False, "partial": True})
    assert not messages.partial_payload({"erased": True, "partial": 1})
    assert messages.codeword_counts({"codewords": 8, "codewords_lost": 3}) == (8, 3)
    assert messages.codeword_counts({"codewords": 8, "codewords_lost": 30}) == (8, 8)
    odd = [
        {},
        {"codewords": 8},
        {"codewords": -1, "codewords_lost": 0},
        {"codewords": True, "codewords_lost": 0},
        {"codewords": 2.0, "codewords_lost": 1},
    ]
    for meta in odd:
        assert messages.codeword_counts(meta) == (0, 0)
