"""Stream format and guarded rANS decoding (codec/bitstream.py)."""

from __future__ import annotations

import pytest
from gnuradio.semdacom.codec import bitstream
from hypothesis import given, settings
from hypothesis import strategies as st


@given(st.integers(0, (1 << 14) - 1))
def test_varint_roundtrip(v: int) -> None:
    data = bitstream.write_varint(v)
    assert len(data) <= bitstream.MAX_VARINT_BYTES
    assert bitstream.read_varint(data + b"tail") == (v, len(data))


def test_varint_out_of_range() -> None:
    with pytest.raises(ValueError):
        bitstream.write_varint(1 << 14)
    with pytest.raises(ValueError):
        bitstream.write_varint(-1)
    with pytest.raises(bitstream.StreamError):
        bitstream.read_varint(b"\xff\xff\xff")
    with pytest.raises(bitstream.StreamError):
        bitstream.read_varint(b"\x80")


@given(st.binary(min_size=1, max_size=200), st.binary(max_size=300))
def test_join_split_roundtrip(z: bytes, y: bytes) -> None:
    assert bitstream.split_stream(bitstream.join_stream(z, y)) == (z, y)


@pytest.mark.parametrize("bad", [b"", b"\x05", b"\x00abc", b"\xff\xff\x01", "text", None, 3])
def test_split_unreadable_is_stream_error(bad) -> None:
    with pytest.raises(bitstream.StreamError):
        bitstream.split_stream(bad)


def test_split_length_beyond_end_keeps_what_is_there() -> None:
    z, y = bitstream.split_stream(bytes([100]) + b"abc")
    assert z == b"abc" and y == b""


def test_padding_grows_with_symbols_and_bytes() -> None:
    assert bitstream.safe_padding(10, 0) < bitstream.safe_padding(11, 0)
    assert bitstream.safe_padding(10, 5) < bitstream.safe_padding(10, 6)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(1, 64))
def test_guarded_decode_any_bytes(codec, data: bytes, bound: int) -> None:
    """Arbitrary bytes through the rANS decoder with the real y tables: bounded output."""
    n = 256
    idx = [i % len(codec._gc_tables[0]) for i in range(n)]
    out = bitstream.guarded_decode(data, idx, codec._gc_tables, bound)
    assert out.shape == (n,)
    assert out.min() >= -bound and out.max() <= bound


def test_guarded_decode_adversarial_bypass_runs(codec) -> None:
    """All-ones bytes force the longest bypass runs the decoder can read."""
    idx = [0] * 2048
    for data in (b"\xff" * 4096, b"\xff" * 7, b"\x00" * 64, b"\xf0" * 999):
        out = bitstream.guarded_decode(data, idx, codec._gc_tables, 255)
        assert out.shape == (2048,)
