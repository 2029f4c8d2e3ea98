"""Bits PDUs (``messages.pdu``): packing, round trips and validation."""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from gnuradio.semdacom import messages
from gnuradio.semdacom.messages import MessageError
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=60, deadline=None)
@given(bits=st.lists(st.integers(0, 1), max_size=300), tag=st.text(max_size=8))
def test_bits_pdu_round_trip(bits: list[int], tag: str) -> None:
    pdu = messages.bits_pdu({"tag": tag, "frame": 3}, np.asarray(bits, dtype=np.uint8))
    assert pmt.length(pmt.cdr(pdu)) == (len(bits) + 7) // 8
    meta, out = messages.unpack_bits_pdu(pdu)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.asarray(bits, dtype=np.uint8))
    assert meta == {"tag": tag, "frame": 3, "n_bits": len(bits)}


def test_bits_are_packed_msb_first_and_n_bits_defaults() -> None:
    pdu = messages.bits_pdu(None, np.array([1, 0, 0, 0, 0, 0, 0, 1, 1], dtype=np.uint8))
    assert list(pmt.u8vector_elements(pmt.cdr(pdu))) == [0x81, 0x80]
    raw = pmt.cons(pmt.make_dict(), pmt.init_u8vector(2, [0xF0, 0x01]))
    meta, bits = messages.unpack_bits_pdu(raw)
    assert meta == {}
    assert bits.tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]


def test_bits_pdu_overwrites_n_bits() -> None:
    _, bits = messages.unpack_bits_pdu(messages.bits_pdu({"n_bits": 99}, np.ones(5, np.uint8)))
    assert bits.size == 5


def _meta(n_bits: object = None) -> object:
    d = pmt.make_dict()
    if n_bits is not None:
        d = pmt.dict_add(d, pmt.intern("n_bits"), n_bits)
    return d


@pytest.mark.parametrize(
    ("pdu", "reason"),
    [
        (pmt.from_long(3), "must be a pair"),
        (pmt.init_u8vector(1, [1]), "must be a pair"),
        (pmt.dict_add(pmt.make_dict(), pmt.intern("a"), pmt.from_long(1)), "must be a pair"),
        ("not a pmt", "must be a pair"),
        (pmt.cons(pmt.intern("meta"), pmt.init_u8vector(1, [1])), "meta must be a dictionary"),
        (pmt.cons(pmt.make_dict(), pmt.init_f32vector(1, [1.0])), "payload must be a u8vector"),
        (pmt.cons(pmt.make_dict(), pmt.PMT_NIL), "payload must be a u8vector"),
        (pmt.cons(_meta(pmt.from_long(17)), pmt.init_u8vector(2, [1, 2])), "exceeds the 16"),
        (pmt.cons(_meta(pmt.from_long(-1)), pmt.init_u8vector(1, [1])), "non-negative"),
        (pmt.cons(_meta(pmt.from_double(8.0)), pmt.init_u8vector(1, [1])), "must be a long"),
        (pmt.cons(_meta(pmt.from_long(3)), pmt.init_u8vector(2, [1, 2])), "needs 1"),
    ],
)
def test_unpack_bits_pdu_rejects(pdu: object, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        messages.unpack_bits_pdu(pdu)


@pytest.mark.parametrize(
    ("bits", "reason"),
    [
        (np.array([0, 1, 2]), "0 or 1"),
        (np.array([-1, 0]), "0 or 1"),
        (np.ones((2, 2), dtype=np.uint8), "one-dimensional"),
        (np.array([0.0, 1.0]), "integers"),
    ],
)
def test_bits_pdu_rejects(bits: np.ndarray, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        messages.bits_pdu({}, bits)
