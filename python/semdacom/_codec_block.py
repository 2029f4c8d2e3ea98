#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Shared plumbing of the learned-codec message blocks (not a block itself).

Guarded handlers (no exception reaches the scheduler thread), counters, and the ``cmd``
allocation queue applied at frame boundaries (``apply_frame``), as in ``fbl_link``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pmt

from . import messages


def describe(msg: Any) -> str:
    """Short text of a message for the log."""
    try:
        text = pmt.write_string(msg) if isinstance(msg, pmt.pmt_base) else type(msg).__name__
    except Exception:  # a description must never fail
        text = type(msg).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def salvage_meta(msg: Any) -> dict:
    """Whatever metadata a malformed PDU still carries (empty dict when none)."""
    try:
        if isinstance(msg, pmt.pmt_base) and pmt.is_pair(msg) and not pmt.is_dict(msg):
            car = pmt.car(msg)
            if pmt.is_dict(car):
                meta = messages.meta_from_pmt(car)
                return {k: v for k, v in meta.items() if isinstance(k, str)}
    except Exception:  # salvage is best effort
        pass
    return {}


def frame_of(meta: dict) -> int | None:
    frame = meta.get("frame")
    if isinstance(frame, (int, np.integer)) and not isinstance(frame, bool) and frame >= 0:
        return int(frame)
    return None


class RateCommands:
    """``rate_index[user]`` from allocations, applied from their ``apply_frame`` on."""

    def __init__(self, user: int, levels: int, rate_index: int) -> None:
        self.user = user
        self.levels = levels
        self.rate_index = rate_index
        self._pending: list[tuple[int, int]] = []  # (apply_frame, rate_index)
        self._seq = -1

    def accept(self, msg: Any) -> bool:
        """Validate an allocation; queue its rate for this user. False when it has none."""
        alloc = messages.alloc_from_pmt(msg)
        if alloc.rate_index is None:
            return False
        if self.user >= alloc.rate_index.size:
            raise messages.MessageError(
                f"allocation has K={alloc.rate_index.size}, this block is user {self.user}"
            )
        r = int(alloc.rate_index[self.user])
        if not 0 <= r < self.levels:
            raise messages.MessageError(
                f"rate_index[{self.user}]={r} outside the codec's 0..{self.levels - 1}"
            )
        self._pending.append((alloc.apply_frame, r))
        self._pending.sort(key=lambda p: p[0])
        self.apply(0)
        return True

    def apply(self, frame: int | None) -> None:
        """Apply every queued rate due at ``frame`` (all of them when ``frame`` is None)."""
        while self._pending and (frame is None or self._pending[0][0] <= frame):
            self.rate_index = self._pending.pop(0)[1]

    def rate_for(self, meta: dict) -> int:
        """The operating point of a bits PDU: its meta ``rate_index`` if present, else the
        allocation in force at its frame. Raises MessageError when out of range."""
        self.apply(frame_of(meta))
        r = meta.get("rate_index", self.rate_index)
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)):
            raise messages.MessageError(f"meta 'rate_index' must be an integer, got {r!r}")
        if not 0 <= int(r) < self.levels:
            raise messages.MessageError(f"meta 'rate_index'={r} outside 0..{self.levels - 1}")
        return int(r)


def stream_from_bits(bits: np.ndarray) -> bytes:
    """Bits (MSB first) back to the codec's bytes; a partial last byte is zero-padded."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()


def unpack_stream_pdu(msg: Any, codec_name: str, rates: RateCommands) -> tuple[dict, bytes, int]:
    """A decoder's input: ``(meta, stream bytes, rate_index)`` of a bits PDU.

    Raises :class:`messages.MessageError` for a malformed PDU, one flagged erased upstream, or a
    stream of another codec than ``codec_name`` (by its meta ``codec``).
    """
    meta, bits = messages.unpack_bits_pdu(msg)
    if meta.get("erased") is True:
        raise messages.MessageError(f"erased upstream ({meta.get('erasure_reason', '?')})")
    if isinstance(meta.get("codec"), str) and meta["codec"] != codec_name:
        raise messages.MessageError(
            f"stream of codec {meta['codec']!r}, this decoder is {codec_name!r}"
        )
    return meta, stream_from_bits(bits), rates.rate_for(meta)


#: Codec choices of the codec blocks (``codec`` parameter) and the name each writes in meta.
CODECS = {"learned": "hyperprior_vbr", "classical": "heif-x265"}


def check_codec(codec: str) -> str:
    """Validate a block's ``codec`` parameter ("learned" or "classical")."""
    if not isinstance(codec, str) or codec not in CODECS:
        raise ValueError(f"codec must be one of {sorted(CODECS)}, got {codec!r}")
    return codec


def shared_codec(weights: str | None, *, semantic: bool, codec: str = "learned") -> Any:
    """The process-wide codec: the learned one (``codec.codec.shared_codec``) or, for
    ``codec="classical"``, the HEVC-intra/HEIF one (``codec.classical.shared_classical``;
    ``weights`` does not apply to it, ``semantic`` loads its classifier E).

    torch is imported here, when a codec block is built, not when ``gnuradio.semdacom``
    is imported: blocks that need no DNN load in a fraction of a second.
    """
    if check_codec(codec) == "classical":
        from .codec.classical import shared_classical

        return shared_classical(classifier=semantic)
    from .codec.codec import shared_codec as _shared

    return _shared(weights, semantic=semantic)
