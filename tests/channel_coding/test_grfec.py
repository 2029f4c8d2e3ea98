"""gr-fec integration: the LDPC encoder/decoder as FECAPI objects in fec.extended_encoder /
fec.extended_decoder and fec.async_encoder / fec.async_decoder flowgraphs."""

from __future__ import annotations

import time

import numpy as np
import pmt
from gnuradio import blocks, fec, gr
from gnuradio.semdacom import semdacom_python as k

from semdacom.channel_coding import qc_code


def _code():
    return qc_code(512, 256).mother  # the unshortened mother code: k = n / 2 = 256


def test_fecapi_sizes() -> None:
    c = _code()
    enc = k.ldpc_fec_encoder(c)
    dec = k.ldpc_fec_decoder(c, 20)
    assert fec.get_encoder_input_size(enc) == c.k
    assert fec.get_encoder_output_size(enc) == c.n
    assert fec.get_decoder_input_size(dec) == c.n
    assert fec.get_decoder_output_size(dec) == c.k


def test_extended_encoder_decoder_loopback_with_noise() -> None:
    c = _code()
    frames = 24
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, frames * c.k).astype(np.uint8)
    enc = k.ldpc_fec_encoder.make(c)
    dec = k.ldpc_fec_decoder.make(c, 30, 0.9, 2.0)
    tb = gr.top_block()
    src = blocks.vector_source_b(bits.tolist())
    coded = blocks.vector_sink_b()
    e = fec.extended_encoder(encoder_obj_list=enc, threading=None, puncpat="11")
    tb.connect(src, e, coded)
    # gr-fec soft convention: bit 0 -> -1, bit 1 -> +1, then AWGN (sigma 0.6, ~4.4 dB Eb/N0)
    to_f = blocks.char_to_float(1, 1)
    scale = blocks.multiply_const_ff(2.0)
    offset = blocks.add_const_ff(-1.0)
    noise = blocks.vector_source_f((0.6 * rng.standard_normal(frames * c.n)).tolist())
    add = blocks.add_ff()
    d = fec.extended_decoder(decoder_obj_list=dec, threading=None, ann=None, puncpat="11")
    out = blocks.vector_sink_b()
    tb.connect(e, to_f, scale, offset, (add, 0))
    tb.connect(noise, (add, 1))
    tb.connect(add, d, out)
    tb.run()
    cw = np.array(coded.data(), dtype=np.uint8).reshape(frames, c.n)
    assert all(c.syndrome_weight(w) == 0 for w in cw)
    got = np.array(out.data(), dtype=np.uint8)
    assert got.size == bits.size
    assert np.array_equal(got, bits)
    assert dec.frames() == frames and dec.failures() == 0


def test_async_encoder_decoder_pdus() -> None:
    c = _code()
    enc = k.ldpc_fec_encoder.make(c)
    dec = k.ldpc_fec_decoder.make(c, 20, 0.9, 2.0)
    tb = gr.top_block()
    aenc = fec.async_encoder(enc, False, False, False, 1500)
    adec = fec.async_decoder(dec, False, False, 1500)
    dbg_c = blocks.message_debug()
    dbg = blocks.message_debug()
    tb.msg_connect((aenc, "out"), (dbg_c, "store"))
    tb.msg_connect((adec, "out"), (dbg, "store"))
    tb.start()
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2, c.k).astype(np.uint8)
    aenc.to_basic_block()._post(
        pmt.intern("in"), pmt.cons(pmt.make_dict(), pmt.init_u8vector(c.k, bits.tolist()))
    )
    t0 = time.time()
    while dbg_c.num_messages() < 1 and time.time() - t0 < 10:
        time.sleep(0.01)
    cw = np.array(pmt.u8vector_elements(pmt.cdr(dbg_c.get_message(0))), dtype=np.uint8)
    assert cw.size == c.n and c.syndrome_weight(cw) == 0
    soft = (2.0 * cw.astype(np.float32) - 1.0).tolist()
    adec.to_basic_block()._post(
        pmt.intern("in"), pmt.cons(pmt.make_dict(), pmt.init_f32vector(c.n, soft))
    )
    while dbg.num_messages() < 1 and time.time() - t0 < 10:
        time.sleep(0.01)
    tb.stop()
    tb.wait()
    got = np.array(pmt.u8vector_elements(pmt.cdr(dbg.get_message(0))), dtype=np.uint8)
    assert np.array_equal(got, bits)
