#
# Copyright 2025 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""PDUs: bits, images, labels and analog symbols, each a pair ``(meta dict, uniform vector)``.

Bits PDU (``pdus`` ports carrying bits): ``(meta, u8vector)`` with the bits packed MSB first.
``meta["n_bits"]`` (long) is the exact bit count; without it the count is ``8 * len(payload)``.
The payload holds exactly ``ceil(n_bits / 8)`` bytes; the pad bits of the last byte are ignored.

Image PDU (learned source coding: image_source, source_decoder, semantic_decoder):
``(meta, u8vector)``; ``meta["shape"]`` (s32vector ``[C, H, W]``) is required and the payload
holds the ``C*H*W`` pixels (0..255) in C, H, W order. Optional meta: ``label`` (long),
``image_id`` (long), ``user`` (long), ``frame`` (u64), ``erased`` (bool) with ``erasure_reason``
(symbol) when the image is an erasure fill.

Label PDU: ``(meta, empty u8vector)`` with ``meta["pred"]`` (long; -1 = erasure) and the same
optional keys.

Symbol PDU (DeepJSCC baseline: djscc_encoder, djscc_decoder): ``(meta, c32vector)`` holding
complex channel symbols (transmitted: unit mean energy per image; received: y = g s + n).
Optional meta: ``image_id``, ``label``, ``user``, ``frame``, ``gain`` (complex effective channel
gain the receiver divides by), ``erased`` (bool) with ``erasure_reason``.

Erasures: one meaning on every PDU (read with :func:`is_erased`, :func:`partial_payload`,
:func:`codeword_counts`; docs/channel_coding.md, "Erasures"):

- ``erased`` (bool): this frame's payload was **not recovered as a whole** -- the channel
  decoder lost at least one codeword, the frame never arrived, its header was lost, the encoder
  flagged it, or the stream could not be decoded. A result (image, label) of such a frame is
  erased too, whatever its decoder made of it. ``erasure_reason`` (str) says why.
- ``partial`` (bool, only with ``erased``): the payload still holds what was recovered (the
  bits of the codewords that passed their CRC and the decoder's estimate of the others; for a
  result, the decoding of that stream) rather than a fill. A source or semantic decoder decodes
  a partial stream -- on Fashion-MNIST a stream with one failed codeword decodes to MS-SSIM
  0.03-0.32 and 10-32 % right labels, the fill to 0.01 and none -- and its result stays
  erased. Without ``partial`` an erased PDU's payload is a fill (bits: none or zeros; image:
  the codec's erasure fill; label: -1).
- ``codewords`` and ``codewords_lost`` (int >= 0): of the channel decoder, how many codewords
  the frame had and how many failed (0 and 0 for a frame that never arrived: then
  ``frame_missing`` is true). ``erased`` is ``codewords_lost > 0`` for a decoded frame.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pmt
from gnuradio.semdacom.messages.pmt_util import (
    MessageError,
    describe,
    get,
    meta_from_pmt,
    meta_to_pmt,
    read_int_vec,
    read_long,
    reraise,
    uvector_to_array,
    vec_to_pmt,
)

#: Largest image accepted (pixels); larger ones are malformed.
MAX_IMAGE_PIXELS = 1 << 22
#: Largest symbol PDU accepted (complex symbols).
MAX_SYMBOLS = 1 << 22


def _pdu_pair(pdu: Any, payload: str = "u8vector") -> tuple[Any, Any]:
    """``(meta dict, payload)`` of a PDU whose payload type the caller checks."""
    if not isinstance(pdu, pmt.pmt_base) or not pmt.is_pair(pdu) or pmt.is_dict(pdu):
        raise MessageError(f"a PDU must be a pair (meta, {payload}), got {describe(pdu)}")
    car, cdr = pmt.car(pdu), pmt.cdr(pdu)
    if not pmt.is_dict(car):
        raise MessageError(f"PDU meta must be a dictionary, got {describe(car)}")
    return car, cdr


def _pdu_parts(pdu: Any) -> tuple[Any, Any]:
    """``(meta dict, u8vector)`` of a PDU."""
    car, cdr = _pdu_pair(pdu)
    if not pmt.is_u8vector(cdr):
        raise MessageError(f"PDU payload must be a u8vector, got {describe(cdr)}")
    return car, cdr


def _pdu(meta: dict | None, payload: Any, **keys: Any) -> Any:
    """``(meta with keys set, payload)``."""
    meta_d = dict(meta) if meta is not None else {}
    meta_d.update(keys)
    return pmt.cons(meta_to_pmt(meta_d), payload)


# --------------------------------------------------------------------------------------------
# Erasures (the meaning of ``erased`` on every PDU: the module docstring)
# --------------------------------------------------------------------------------------------


def _count(value: Any) -> int | None:
    """A non-negative integer meta value, or None."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value) if value >= 0 else None
    return None


def is_erased(meta: dict) -> bool:
    """Whether a PDU's payload was not recovered as a whole: meta ``erased`` true. A count in
    ``erased`` (an older channel decoder wrote the number of lost codewords) is read as erased
    when positive; any other value, or none, as not erased."""
    value = meta.get("erased")
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    n = _count(value)
    return n is not None and n > 0


def partial_payload(meta: dict) -> bool:
    """Whether an erased PDU still carries what was recovered (meta ``partial`` true), so a
    decoder may decode it; False for a PDU that is not erased or whose payload is a fill."""
    return is_erased(meta) and meta.get("partial") is True


def codeword_counts(meta: dict) -> tuple[int, int]:
    """``(codewords, codewords_lost)`` of a channel decoder's PDU or a result derived from it
    (non-negative integers; ``(0, 0)`` where the meta carries none or odd values; lost is at
    most the total)."""
    total, lost = _count(meta.get("codewords")), _count(meta.get("codewords_lost"))
    if total is None or lost is None:
        return 0, 0
    return total, min(lost, total)


# --------------------------------------------------------------------------------------------
# Bits
# --------------------------------------------------------------------------------------------


def bits_pdu(meta: dict | None, bits: Any) -> Any:
    """Pack bits into a bits PDU.

    Parameters
    ----------
    meta : dict or None
        Metadata (see :func:`.meta_to_pmt`); ``n_bits`` is set to ``len(bits)`` whatever it held.
    bits : array_like of {0, 1}
        One-dimensional bit array.

    Returns
    -------
    pmt.pmt_base
        ``(meta, u8vector)`` with the bits packed MSB first.

    Raises
    ------
    MessageError
        When ``bits`` is not a one-dimensional 0/1 array or ``meta`` cannot be converted.
    """
    from semdacom.phy import fbl_emulation  # the same bit check as the link emulation

    with reraise():
        arr = fbl_emulation._check_bits(bits)
    packed = np.packbits(arr)
    return _pdu(meta, vec_to_pmt(packed), n_bits=int(arr.size))


def unpack_bits_pdu(pdu: Any) -> tuple[dict, np.ndarray]:
    """Read a bits PDU.

    Parameters
    ----------
    pdu : pmt.pmt_base
        ``(meta dict, u8vector)``.

    Returns
    -------
    meta : dict
        The metadata as python values (``n_bits`` included when the PDU carries it).
    bits : numpy.ndarray of uint8
        The ``n_bits`` bits, each 0 or 1.

    Raises
    ------
    MessageError
        When the PDU is not a pair, its car is not a dictionary, its cdr is not a u8vector,
        ``n_bits`` is not a non-negative long, or the payload length is not ``ceil(n_bits/8)``.
    """
    car, cdr = _pdu_parts(pdu)
    meta = meta_from_pmt(car)
    payload = uvector_to_array(cdr)
    n_bits_pmt = get(car, "n_bits")
    if n_bits_pmt is None:
        n_bits = 8 * payload.size
    else:
        if not pmt.is_integer(n_bits_pmt):
            raise MessageError(f"PDU 'n_bits' must be a long, got {describe(n_bits_pmt)}")
        n_bits = int(pmt.to_long(n_bits_pmt))
        if n_bits < 0:
            raise MessageError(f"PDU 'n_bits' must be non-negative, got {n_bits}")
        if n_bits > 8 * payload.size:
            raise MessageError(
                f"PDU 'n_bits'={n_bits} exceeds the {8 * payload.size} bits of its payload"
            )
        if payload.size != (n_bits + 7) // 8:
            raise MessageError(
                f"PDU payload has {payload.size} bytes, 'n_bits'={n_bits} needs {(n_bits + 7) // 8}"
            )
    bits = np.unpackbits(payload)[:n_bits] if payload.size else np.zeros(0, dtype=np.uint8)
    return meta, bits.astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Images and labels
# --------------------------------------------------------------------------------------------


def image_pdu(meta: dict | None, image: Any) -> Any:
    """Pack a uint8 image ``(H, W)`` or ``(C, H, W)`` into an image PDU (``shape`` set)."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.size == 0:
        raise MessageError(f"image must be (H, W) or (C, H, W), got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise MessageError(f"image must be uint8, got dtype {arr.dtype}")
    if arr.size > MAX_IMAGE_PIXELS:
        raise MessageError(f"image of {arr.size} pixels exceeds {MAX_IMAGE_PIXELS}")
    flat = np.ascontiguousarray(arr).reshape(-1)
    payload = vec_to_pmt(flat)
    return _pdu(meta, payload, shape=np.asarray(arr.shape, dtype=np.int32))


def unpack_image_pdu(pdu: Any) -> tuple[dict, np.ndarray]:
    """Read an image PDU; returns ``(meta, image uint8 (C, H, W))``.

    Raises
    ------
    MessageError
        Not a (dict, u8vector) pair, no valid ``shape`` (2 or 3 positive entries), too many
        pixels, or a payload whose size is not the product of ``shape``.
    """
    car, cdr = _pdu_parts(pdu)
    meta = meta_from_pmt(car)
    shape_pmt = get(car, "shape")
    if shape_pmt is None:
        raise MessageError("image PDU lacks 'shape'")
    dims = read_int_vec(shape_pmt, "shape").tolist()  # a few python ints: no numpy calls
    if len(dims) not in (2, 3) or min(dims) <= 0:
        raise MessageError(f"image 'shape' must hold 2 or 3 positive sizes, got {dims}")
    if len(dims) == 2:
        dims = [1, *dims]
    n = math.prod(dims)
    if n > MAX_IMAGE_PIXELS:
        raise MessageError(f"image of {n} pixels exceeds {MAX_IMAGE_PIXELS}")
    if pmt.length(cdr) != n:
        raise MessageError(f"image payload has {pmt.length(cdr)} bytes, 'shape' needs {n}")
    img = uvector_to_array(cdr).reshape(dims)
    meta["shape"] = np.array(dims, np.int32)
    return meta, img


def label_pdu(meta: dict | None, pred: int) -> Any:
    """A label PDU: ``meta["pred"] = pred`` (-1 = erasure) and an empty payload."""
    if isinstance(pred, bool) or int(pred) != pred or pred < -1:
        raise MessageError(f"pred must be an integer >= -1, got {pred!r}")
    return _pdu(meta, pmt.init_u8vector(0, []), pred=int(pred))


def unpack_label_pdu(pdu: Any) -> tuple[dict, int]:
    """Read a label PDU; returns ``(meta, pred)`` (``pred`` -1 for an erasure)."""
    car, _ = _pdu_parts(pdu)
    pred_pmt = get(car, "pred")
    if pred_pmt is None:
        raise MessageError("label PDU lacks 'pred'")
    pred = read_long(pred_pmt, "pred")
    if pred < -1:
        raise MessageError(f"'pred' must be >= -1, got {pred}")
    return meta_from_pmt(car), pred


# --------------------------------------------------------------------------------------------
# Analog symbols
# --------------------------------------------------------------------------------------------


def symbols_pdu(meta: dict | None, symbols: Any) -> Any:
    """Pack complex symbols (1-D) into a symbol PDU ``(meta, c32vector)``."""
    arr = np.asarray(symbols)
    if arr.ndim != 1:
        raise MessageError(f"symbols must be one-dimensional, got shape {arr.shape}")
    if arr.size > MAX_SYMBOLS:
        raise MessageError(f"{arr.size} symbols exceed {MAX_SYMBOLS}")
    arr = arr.astype(np.complex64)
    return _pdu(meta, vec_to_pmt(arr))


def unpack_symbols_pdu(pdu: Any) -> tuple[dict, np.ndarray]:
    """Read a symbol PDU; returns ``(meta, complex64 symbols)``.

    Raises
    ------
    MessageError
        Not a (dict, c32vector/c64vector) pair, or more than :data:`MAX_SYMBOLS` symbols.
    """
    car, cdr = _pdu_pair(pdu, "c32vector")
    if not (pmt.is_c32vector(cdr) or pmt.is_c64vector(cdr)):
        raise MessageError(f"symbol PDU payload must be a c32vector, got {describe(cdr)}")
    if pmt.length(cdr) > MAX_SYMBOLS:
        raise MessageError(f"{pmt.length(cdr)} symbols exceed {MAX_SYMBOLS}")
    return meta_from_pmt(car), uvector_to_array(cdr).astype(np.complex64, copy=False)
