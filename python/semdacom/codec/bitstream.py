#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Packetised stream format of the learned codec and the guarded rANS calls.

One image is one stream of whole bytes::

    varint(len_z) | z substream (len_z bytes) | y substream (the rest)

``varint`` is LEB128 (7 bits per byte, at most 2 bytes here). The z substream carries the hyper
latent (side information), the y substream the latent; each is one rANS string of compressai's
coder. Keeping them apart means a bit error in y never corrupts the scales of the Gaussian
conditional, so errors degrade the image instead of destroying it.

compressai's rANS decoder trusts its input: on a corrupted string it can read past the end of
the buffer (renormalisation and the bypass mode read 32-bit words for as long as the decoded
symbols ask). :func:`guarded_decode` therefore appends zero bytes well beyond the most the
decoder can read for the given number of symbols (see :func:`safe_padding`), so every read
stays inside the buffer and every decoded run of the bypass mode ends; decoded values are then
clamped to a bound. The work per call is bounded by the symbol count; the caller adds a
wall-clock deadline per batch.
"""

from __future__ import annotations

import numpy as np
from compressai.ans import RansDecoder, RansEncoder

__all__ = [
    "StreamError",
    "guarded_decode",
    "join_stream",
    "rans_encode",
    "read_varint",
    "safe_padding",
    "split_stream",
    "write_varint",
]

#: Longest varint accepted for the z length (2 bytes: up to 16383).
MAX_VARINT_BYTES = 2


class StreamError(ValueError):
    """A stream cannot be parsed at all (nothing readable): the decoder reports an erasure."""


def write_varint(value: int) -> bytes:
    """LEB128 encoding of a non-negative integer below ``2**(7 * MAX_VARINT_BYTES)``."""
    if value < 0 or value >= 1 << (7 * MAX_VARINT_BYTES):
        raise ValueError(f"varint value out of range: {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data: bytes, pos: int = 0) -> tuple[int, int]:
    """Decode a varint at ``pos``; returns ``(value, next_pos)``; raises :class:`StreamError`."""
    value = 0
    for i in range(MAX_VARINT_BYTES):
        if pos + i >= len(data):
            raise StreamError("stream ends inside the length field")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos + i + 1
    raise StreamError("length field longer than allowed")


def join_stream(z: bytes, y: bytes) -> bytes:
    """Assemble one image's stream from its two substreams."""
    return write_varint(len(z)) + z + y


def split_stream(data: bytes) -> tuple[bytes, bytes]:
    """Split a stream into ``(z, y)``; raises :class:`StreamError` when nothing is readable.

    A ``len_z`` beyond the end of the stream (a corrupted length or a truncated stream) leaves
    no y at all and a cut z: the z part is still returned (the caller decodes what it can).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise StreamError(f"a stream must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) == 0:
        raise StreamError("empty stream")
    len_z, pos = read_varint(data)
    if len_z == 0:
        raise StreamError("zero-length side information")
    if pos >= len(data):
        raise StreamError("stream holds only its length field")
    return data[pos : pos + len_z], data[pos + len_z :]


def safe_padding(n_symbols: int, n_bytes: int) -> int:
    """Zero bytes to append so that decoding ``n_symbols`` symbols never leaves the buffer.

    Every symbol costs the decoder at most one 32-bit renormalisation word plus its bypass
    reads. Bypass runs inside the data are bounded by the data (each continuation nibble is
    0xF, at most ``2 * n_bytes`` of them, each adding at most 15 raw nibbles: ``15 n_bytes``
    bytes of raw reads); inside zero padding a run ends at the first zero nibble. Four bytes
    per symbol plus sixteen per data byte and a margin cover both.
    """
    return 4 * int(n_symbols) + 16 * int(n_bytes) + 256


def rans_encode(
    symbols: list[int], indexes: list[int], tables: tuple[list, list, list], encoder=None
) -> bytes:
    """rANS-encode integer symbols with compressai's coder (tables: cdfs, lengths, offsets)."""
    enc = encoder if encoder is not None else RansEncoder()
    cdfs, lengths, offsets = tables
    return enc.encode_with_indexes(symbols, indexes, cdfs, lengths, offsets)


def guarded_decode(
    data: bytes,
    indexes: list[int],
    tables: tuple[list, list, list],
    bound: int,
    decoder=None,
) -> np.ndarray:
    """Decode ``len(indexes)`` symbols from a possibly corrupted rANS string.

    The string is zero-padded by :func:`safe_padding` (short strings, even empty ones, become
    readable zeros) and the decoded symbols are clamped to ``[-bound, bound]``.
    """
    dec = decoder if decoder is not None else RansDecoder()
    cdfs, lengths, offsets = tables
    padded = bytes(data) + bytes(safe_padding(len(indexes), len(data)))
    values = dec.decode_with_indexes(padded, indexes, cdfs, lengths, offsets)
    out = np.asarray(values, dtype=np.int64)
    return np.clip(out, -bound, bound)
