"""Stream format and guarded rANS decoding (codec/bitstream.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semdacom.source_coding import bitstream


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


def _ref_tables(levels: int = 24):
    """A Gaussian conditional with built tables, and compressai's own coder arguments."""
    from compressai.entropy_models import GaussianConditional

    gc = GaussianConditional(np.exp(np.linspace(np.log(0.11), np.log(20.0), levels)).tolist())
    gc.update()
    args = (
        gc._quantized_cdf.tolist(),
        gc._cdf_length.int().tolist(),
        gc._offset.int().tolist(),
    )
    return gc, args


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(8, 600), st.floats(0.1, 40.0))
def test_rans_coder_is_byte_identical_to_compressai(seed: int, n: int, spread: float) -> None:
    """Streams equal compressai's RansEncoder output (incl. bypass-coded tails) and decode back.

    At least 8 symbols: compressai's encoder sizes its output buffer at one word per symbol
    and overruns it (heap corruption) for one or two symbols; ours has no such limit.
    """
    from compressai.ans import RansDecoder, RansEncoder

    gc, args = _ref_tables()
    coder = bitstream.make_coder(gc)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(args[1]), n).astype(np.int32)
    sym = np.round(rng.normal(0.0, spread, n)).astype(np.int32)
    ref = RansEncoder().encode_with_indexes(sym.tolist(), idx.tolist(), *args)
    ours = coder.encode(sym[None], idx)[0]
    assert ours == ref
    back = RansDecoder().decode_with_indexes(ref, idx.tolist(), *args)
    assert back == sym.tolist()
    vals, clean = coder.decode([ours], idx, 1 << 20)
    assert vals[0].tolist() == sym.tolist() and bool(clean[0])


@pytest.mark.parametrize("n", [0, 1, 2])
def test_rans_coder_tiny_streams(n: int) -> None:
    gc, _ = _ref_tables()
    coder = bitstream.make_coder(gc)
    sym = np.arange(n, dtype=np.int32)[None] * 7 - 3
    idx = np.zeros(n, dtype=np.int32)
    stream = coder.encode(sym, idx)[0]
    assert len(stream) >= 8 and len(stream) % 4 == 0
    vals, clean = coder.decode([stream], idx, 100)
    assert vals.tolist() == sym.tolist() and bool(clean[0])


def test_make_coder_needs_built_tables() -> None:
    from compressai.entropy_models import GaussianConditional

    with pytest.raises(ValueError, match="update"):
        bitstream.make_coder(GaussianConditional([0.5, 1.0]))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(1, 64))
def test_rans_decode_any_bytes(codec, data: bytes, bound: int) -> None:
    """Arbitrary bytes through the rANS decoder with the real y tables: bounded output."""
    n = 256
    coder = codec._y_coder
    idx = (np.arange(n) % coder.tables).astype(np.int32)
    out, clean = coder.decode([data], idx, bound)
    assert out.shape == (1, n) and clean.shape == (1,)
    assert out.min() >= -bound and out.max() <= bound
    if len(data) < 8:
        assert not clean[0]  # a string shorter than the rANS state is visibly cut


def test_rans_decode_adversarial_bypass_runs(codec) -> None:
    """All-ones bytes force the longest bypass escapes; they are cut, not followed."""
    idx = np.zeros(2048, dtype=np.int32)
    for data in (b"\xff" * 4096, b"\xff" * 7, b"\x00" * 64, b"\xf0" * 999):
        out, _ = codec._y_coder.decode([data], idx, 255)
        assert out.shape == (1, 2048)
        assert np.abs(out).max() <= 255
