"""QA of ``channel_decoder``: loopback through channel_encoder + AWGN for every MCS (exact bits
at high SNR, erasures flagged at very low SNR), fbl mode, CSI-driven equalisation, untagged
frames, and bad input (malformed CSI/allocations, short or NaN frames): one PDU per frame."""

from __future__ import annotations

import time

import numpy as np
import pmt
import pytest
from block_harness import make_tag as _tag
from block_harness import miso_link, run_stream
from gnuradio import blocks, gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.channel_coding.channel_decoder import channel_decoder
from gnuradio.semdacom.channel_coding.channel_encoder import CHAN_TAG, channel_encoder
from gnuradio.semdacom.messages import Allocation, Csi

from semdacom.channel_coding import MCS_TABLE, encode_bits

TIMEOUT_S = 30.0


def _run_decoder(samples: np.ndarray, tags: list, msgs=(), **kw) -> tuple[list, channel_decoder]:
    """vector source (with tags) -> channel_decoder -> message_debug; returns the PDUs."""
    dec = channel_decoder(**kw)
    dbg = run_stream(dec, samples, tags, msgs)  # msgs posted before the stream: in order
    out = [messages.unpack_bits_pdu(dbg.get_message(i)) for i in range(dbg.num_messages())]
    return out, dec


def _loopback(mode: str, mcs: int, snr_db: float, payloads, L: int = 256, **kw):
    """channel_encoder -> AWGN -> channel_decoder in a running flowgraph."""
    tb = gr.top_block()
    enc = channel_encoder(
        mode=mode, mcs=mcs, rc=kw.pop("rc", 1.0), blocklength=L, frame_len=kw.pop("slot", 0)
    )
    dec = channel_decoder(mode=mode, mcs=mcs, blocklength=L, snr_db=snr_db, **kw)
    n0 = 10 ** (-snr_db / 10)
    from gnuradio import analog

    noise = analog.noise_source_c(analog.GR_GAUSSIAN, float(np.sqrt(n0)), 7)
    add = blocks.add_cc()
    dbg = blocks.message_debug()
    tb.connect(enc, (add, 0))
    tb.connect(noise, (add, 1))
    tb.connect(add, dec)
    tb.msg_connect((dec, "pdus"), (dbg, "store"))
    tb.start()
    for i, p in enumerate(payloads):
        enc._post(pmt.intern("pdus"), messages.bits_pdu({"seq": i}, p))
    t0 = time.time()
    while dbg.num_messages() < len(payloads) and time.time() - t0 < TIMEOUT_S:
        time.sleep(0.02)
    time.sleep(0.05)
    tb.stop()
    tb.wait()
    return [messages.unpack_bits_pdu(dbg.get_message(i)) for i in range(dbg.num_messages())]


@pytest.mark.parametrize("mcs", [m.index for m in MCS_TABLE])
def test_loopback_every_mcs_high_snr_exact(mcs: int) -> None:
    rng = np.random.default_rng(mcs)
    payloads = [rng.integers(0, 2, n, dtype=np.uint8) for n in (1, 700, 2500)]
    out = _loopback("ldpc", mcs, 40.0, payloads)
    assert len(out) == len(payloads)
    for (meta, bits), sent in zip(out, payloads, strict=True):
        assert np.array_equal(bits, sent)
        assert meta["erased"] is False and meta["payload_known"] and meta["codewords_lost"] == 0
        assert meta["mcs"] == mcs and meta["seq"] == int(meta["seq"])
        assert all(meta["cw_crc_ok"])


@pytest.mark.parametrize("mcs", [m.index for m in MCS_TABLE])
def test_loopback_low_snr_flags_erasures(mcs: int) -> None:
    rng = np.random.default_rng(10 + mcs)
    payloads = [rng.integers(0, 2, 1500, dtype=np.uint8) for _ in range(3)]
    out = _loopback("ldpc", mcs, -15.0, payloads)
    assert len(out) == len(payloads)  # not silence: one PDU per frame
    for meta, bits in out:
        assert bits.size == 1500
        assert meta["erased"] is True and meta["codewords_lost"] == meta["codewords"] > 0
        assert meta["partial"] is True  # the decoder's bits: a source decoder may use them
        assert not any(meta["cw_crc_ok"])


def test_fbl_mode_loopback() -> None:
    rng = np.random.default_rng(3)
    payloads = [rng.integers(0, 2, n, dtype=np.uint8) for n in (10, 900)]
    out = _loopback("fbl", 0, 30.0, payloads, rc=2.0)
    assert len(out) == 2
    for (meta, bits), sent in zip(out, payloads, strict=True):
        assert np.array_equal(bits, sent) and meta["erased"] is False
    out = _loopback("fbl", 0, -10.0, payloads, rc=2.0)
    assert len(out) == 2
    for meta, bits in out:
        assert bits.size == 900 or bits.size == 10
        assert meta["erased"] is True and meta["per"] > 0.99
        assert meta["codewords_lost"] == meta["codewords"]


def test_untagged_frame_uses_allocation_mcs_and_csi_channel() -> None:
    rng = np.random.default_rng(4)
    mcs, L = 6, 256
    u = rng.integers(0, 2, 900, dtype=np.uint8)
    x = encode_bits(u, mcs, L)
    # user 1 of K = 2, N_t = 2: y = h_1^H (sqrt(p0) w0 s0 + sqrt(p1) w1 x) + n
    h = np.array([[1.0, 0.3j], [0.2, 0.9 - 0.4j]])
    w = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=complex)
    p = np.array([0.5, 2.0])
    s0 = encode_bits(rng.integers(0, 2, 900, dtype=np.uint8), 3, L)[: x.size]
    s0 = np.resize(s0, x.size)
    y = np.vdot(h[1], w[0]) * np.sqrt(p[0]) * s0 + np.vdot(h[1], w[1]) * np.sqrt(p[1]) * x
    y = y + np.sqrt(1e-3 / 2) * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))
    csi = messages.csi_to_pmt(Csi(h=h, noise_var=np.array([1e-3, 1e-3]), seq=1))
    alloc = messages.alloc_to_pmt(Allocation(seq=1, mcs=np.array([0, mcs]), power=p, w=w))
    tags = [_tag(0, "frame", pmt.from_uint64(5)), _tag(0, "packet_len", pmt.from_long(x.size))]
    out, dec = _run_decoder(y, tags, [("csi", csi), ("cmd", alloc)], user=1, mcs=0)
    assert len(out) == 1
    meta, bits = out[0]
    assert meta["sinr_source"] == "csi" and meta["frame"] == 5 and meta["mcs"] == mcs
    assert not meta["payload_known"]
    assert np.array_equal(bits[: u.size], u)  # the padding comes out too
    assert dec.counters()["cmd_accepted"] == 1 and dec.counters()["csi_accepted"] == 1


def test_frames_without_packet_len_end_at_next_frame_and_foreign_chan_tag_ignored() -> None:
    rng = np.random.default_rng(5)
    a, b = (rng.integers(0, 2, 300, dtype=np.uint8) for _ in range(2))
    xa, xb = encode_bits(a, 3, 256), encode_bits(b, 3, 256)
    foreign = messages.meta_to_pmt({"user": 1, "mode": "ldpc", "mcs": 9, "n_bits": 3})
    tags = [
        _tag(0, "frame", pmt.from_uint64(0)),
        _tag(0, CHAN_TAG, foreign),
        _tag(xa.size, "frame", pmt.from_uint64(1)),
        _tag(xa.size, "packet_len", pmt.from_long(xb.size)),
    ]
    out, _ = _run_decoder(np.concatenate([xa, xb, np.zeros(50)]), tags, mcs=3, snr_db=30)
    assert len(out) == 2
    assert np.array_equal(out[0][1][:300], a) and np.array_equal(out[1][1][:300], b)


def test_bad_input_is_logged_dropped_and_frames_still_answered() -> None:
    rng = np.random.default_rng(6)
    u = rng.integers(0, 2, 400, dtype=np.uint8)
    x = encode_bits(u, 3, 256)
    bad_msgs = [
        ("cmd", pmt.intern("nonsense")),
        ("cmd", pmt.make_dict()),
        ("cmd", messages.alloc_to_pmt(Allocation(seq=2, mcs=np.array([99])))),
        ("cmd", messages.alloc_to_pmt(Allocation(seq=3, rc=np.array([0.0001])))),
        ("csi", pmt.from_long(3)),
        ("csi", pmt.make_dict()),
    ]
    nan_frame = np.full(512, np.nan, dtype=complex)
    samples = np.concatenate([x, np.ones(100), nan_frame])
    tags = [
        _tag(0, "frame", pmt.from_uint64(0)),
        _tag(0, "packet_len", pmt.from_long(x.size)),
        _tag(x.size, "frame", pmt.from_uint64(1)),  # shorter than L: erasure PDU
        _tag(x.size, "packet_len", pmt.from_long(100)),
        _tag(x.size + 100, "frame", pmt.from_uint64(2)),  # NaN symbols
        _tag(x.size + 100, "packet_len", pmt.from_long(512)),
        _tag(x.size + 100, "packet_len", pmt.from_long(-4)),  # garbage: ignored
    ]
    out, dec = _run_decoder(samples, tags, bad_msgs, mcs=3, snr_db=30)
    c = dec.counters()
    assert c["cmd_rejected"] == 4 and c["csi_rejected"] == 2
    assert [m["frame"] for m, _ in out] == [0, 1, 2]
    assert np.array_equal(out[0][1][:400], u) and out[0][0]["erased"] is False
    assert "decoder_reason" in out[1][0] and out[1][0]["erased"] is True
    assert "partial" not in out[1][0]  # nothing decoded: its (zero) bits are a fill
    assert out[2][0]["erased"] is True
    assert out[2][0]["codewords_lost"] == out[2][0]["codewords"]


def test_constructor_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        channel_decoder(mode="turbo")
    with pytest.raises(ValueError):
        channel_decoder(mcs=99)
    with pytest.raises(ValueError):
        channel_decoder(user=-1)
    with pytest.raises(ValueError):
        channel_decoder(snr_db=float("nan"))


@pytest.mark.parametrize("mode", ["ldpc", "fbl"])
def test_two_users_through_beamformer_and_channel_get_their_own_tags(mode: str) -> None:
    """channel_encoder x2 -> superposition_beamformer (ZF) -> miso_channel -> channel_decoder x2:
    each decoder gets its own user's `semdacom_chan` tag (per-user tag routing), so user 1
    decodes its exact payload too (padding stripped; in fbl mode the bits reach it)."""

    from semdacom.phy import beamforming as bf

    rng = np.random.default_rng(11)
    k = 2
    h = bf.paper_channel()
    w = bf.zf_beamformers(h)
    p = np.array([20.0, 20.0])
    tb = gr.top_block()
    encs = [channel_encoder(user=u, mode=mode, mcs=0, rc=2.0, frame_len=2048) for u in range(k)]
    decs = [channel_decoder(user=u, mode=mode, mcs=0, rc=2.0) for u in range(k)]
    dbgs = miso_link(tb, encs, decs, h, w, p, [0.01, 0.01])
    sent = [[rng.integers(0, 2, 300, dtype=np.uint8) for _ in range(3)] for _ in range(k)]
    tb.start()
    for i in range(3):
        for u in range(k):
            encs[u]._post(pmt.intern("pdus"), messages.bits_pdu({"seq": i}, sent[u][i]))
    t0 = time.time()
    while min(d.num_messages() for d in dbgs) < 3 and time.time() - t0 < TIMEOUT_S:
        time.sleep(0.02)
    tb.stop()
    tb.wait()
    for u in range(k):
        out = [messages.unpack_bits_pdu(dbgs[u].get_message(i)) for i in range(3)]
        for (meta, bits), want in zip(out, sent[u], strict=True):
            assert meta["payload_known"] and meta["erased"] is False, (u, meta)
            assert np.array_equal(bits, want), u


# ---------------------------------------------------------------------------------------------
# Issue 12 regressions (defect 6)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n_bits",
    [pmt.intern("many"), pmt.from_long(2**62), pmt.from_double(float("nan")), pmt.PMT_T],
    ids=["symbol", "huge", "nan", "bool"],
)
@pytest.mark.parametrize("mode", ["ldpc", "fbl"])
def test_crafted_chan_tag_gives_one_erasure_pdu(block_harness, mode: str, n_bits) -> None:
    """A ``semdacom_chan`` tag with an unusable ``n_bits`` used to kill the decoder thread in
    its erasure path: no PDU came out. Every frame must give one PDU, erased."""
    L = 256
    info = messages.meta_to_pmt({"user": 0, "mode": mode, "mcs": 3, "rc": 1.0, "L": L})
    info = pmt.dict_add(info, pmt.intern("n_bits"), n_bits)
    y = np.ones(2 * L, np.complex64)
    tags = []
    for f in range(2):  # the crafted frame, then a plain one
        tags += [
            block_harness.tag(f * L, "frame", pmt.from_uint64(f)),
            block_harness.tag(f * L, "packet_len", pmt.from_long(L)),
        ]
    tags.append(block_harness.tag(0, CHAN_TAG, info))
    dec = channel_decoder(mode=mode, blocklength=L)
    h = block_harness(dec, ["pdus"], stream_in=y, tags=tags)
    h.wait_out("pdus", 2)
    out = h.out("pdus", messages.unpack_bits_pdu)
    assert len(out) == 2
    meta, got = out[0]
    assert meta["frame"] == 0 and meta["erased"] is True
    assert meta["codewords_lost"] == meta["codewords"] >= 1
    assert meta["decoder_reason"] and "partial" not in meta
    assert out[1][0]["frame"] == 1


@pytest.mark.parametrize("mode", ["fbl", "ldpc"])
def test_blocks_cut_at_the_slot_are_erased_and_the_rest_decodes(mode: str) -> None:
    """A frame longer than the encoder's slot loses the blocks beyond it: the decoder marks
    them erased (blocks_cut) and still decodes the blocks that were sent, at high SNR
    exactly; a frame that fits is untouched."""
    rng = np.random.default_rng(5)
    small, big = (rng.integers(0, 2, n, dtype=np.uint8) for n in (100, 3000))
    slot = 512 if mode == "fbl" else 2048  # ldpc MCS 0: 48 payload bits per block
    out = _loopback(mode, 0, 30.0, [small, big], L=256, rc=1.0, slot=slot)
    (m0, b0), (m1, b1) = out
    assert np.array_equal(b0, small) and m0["erased"] is False and "blocks_cut" not in m0
    assert m1["blocks_cut"] >= 1 and b1.size == big.size
    assert m1["erased"] is True and m1["partial"] is True
    assert 0 < m1["codewords_lost"] < m1["codewords"]
    assert np.array_equal(b1[:100], big[:100])  # the first block was sent: it decodes
    if mode == "fbl":  # 256-bit packets, 2 of 12 sent
        assert m1["codewords_lost"] == m1["blocks_cut"] == 10
        assert np.array_equal(b1[:512], big[:512]) and not b1[512:].any()
