#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Packetised stream format of the learned codec and the guarded rANS calls.

One image is one stream of whole bytes::

    varint(len_z) | z substream (len_z bytes) | y substream (the rest)

``varint`` is LEB128 (7 bits per byte, at most 2 bytes here). The z substream carries the hyper
latent (side information), the y substream the latent; each is one rANS string in compressai's
format (byte-identical to its RansEncoder for the same tables), written and read by the C++
kernel ``rans_coder`` (lib/rans_coder.cc). Keeping them apart means a bit error in y never
corrupts the scales of the Gaussian conditional, so errors degrade the image instead of
destroying it.

compressai's own rANS decoder trusts its input (on a corrupted string it reads past the end of
the buffer) and converts the whole CDF table from Python lists on every call (about 0.35 ms per
28x28 image, more than the networks). ``rans_coder`` holds the tables once, codes a batch per
call and is safe by construction: reads past the end of a string return zeros, a bypass escape
is bounded to 32 bits, and values are clamped, so the work per stream is bounded by its symbol
count.
"""

from __future__ import annotations

from semdacom import _kernels as _k

__all__ = [
    "StreamError",
    "join_stream",
    "make_coder",
    "read_varint",
    "split_stream",
    "write_varint",
]

#: Longest varint accepted for the z length (2 bytes: up to 16383).
MAX_VARINT_BYTES = 2


class StreamError(ValueError):
    """A stream cannot be parsed at all (nothing readable): the decoder reports an erasure."""


def write_varint(value: int, max_bytes: int = MAX_VARINT_BYTES) -> bytes:
    """LEB128 encoding of a non-negative integer below ``2**(7 * max_bytes)``."""
    if value < 0 or value >= 1 << (7 * max_bytes):
        raise ValueError(f"a length of {value} is too long for the stream format")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_varint(data: bytes, pos: int = 0, max_bytes: int = MAX_VARINT_BYTES) -> tuple[int, int]:
    """Decode a varint of at most ``max_bytes`` bytes at ``pos``; returns ``(value,
    next_pos)``; raises :class:`StreamError`."""
    value = 0
    for i in range(max_bytes):
        if pos + i >= len(data):
            raise StreamError("stream ends inside a length field")
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


def make_coder(entropy_model) -> _k.rans_coder:
    """A ``rans_coder`` holding the CDF tables of a compressai entropy model.

    ``entropy_model`` is an ``EntropyBottleneck`` or ``GaussianConditional`` whose tables are
    built (``update()``); its ``_quantized_cdf``, ``_cdf_length`` and ``_offset`` are used as
    compressai's own coder would use them.
    """
    cdf = entropy_model._quantized_cdf
    if cdf.numel() == 0:
        raise ValueError("the entropy model's CDF tables are not built (call update())")
    sizes = entropy_model._cdf_length.reshape(-1).int().tolist()
    offsets = entropy_model._offset.reshape(-1).int().tolist()
    return _k.rans_coder(cdf.tolist(), sizes, offsets)
