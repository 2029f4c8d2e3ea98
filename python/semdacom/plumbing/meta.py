#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The metadata of PDUs and tags: the frame a PDU names, what a malformed PDU still carries, the
meta of an erasure, and a PDU whose meta cannot be written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pmt
from gnuradio.semdacom import messages

__all__ = ["MAX_REASON", "erasure_meta", "frame_of", "pdu_or_bare", "salvage_meta", "to_int"]


#: Longest erasure reason written into metadata (characters).
MAX_REASON = 200


def to_int(v: Any) -> int | None:
    """Integer value of a PMT (u64 or long), or None."""
    try:
        if pmt.is_uint64(v):
            return int(pmt.to_uint64(v))
        if pmt.is_integer(v):
            return int(pmt.to_long(v))
    except Exception:
        return None
    return None


def frame_of(meta: dict) -> int | None:
    """The frame number a PDU's meta carries (a non-negative integer), or None."""
    frame = meta.get("frame")
    if isinstance(frame, (int, np.integer)) and not isinstance(frame, bool) and frame >= 0:
        return int(frame)
    return None


def sent_frame_of(meta: dict) -> int | None:
    """The transmitter's frame number of a PDU, the one allocations are scheduled by:
    ``air_frame`` when the channel decoder set it (after beacons the image's ``frame`` runs
    behind the transmitter's), else ``frame``; None when neither is a non-negative integer."""
    air = frame_of({"frame": meta.get("air_frame")})
    return air if air is not None else frame_of(meta)


def salvage_meta(msg: Any) -> dict:
    """Whatever metadata a malformed PDU still carries (empty dict when none)."""
    try:
        if isinstance(msg, pmt.pmt_base) and pmt.is_pair(msg) and not pmt.is_dict(msg):
            car = pmt.car(msg)
            if pmt.is_dict(car):
                meta = messages.meta_from_pmt(car)
                return {k: v for k, v in meta.items() if isinstance(k, str)}
    except Exception:  # salvage is best effort (non-symbol keys, deep nesting, ...)
        pass
    return {}


def erasure_meta(meta: dict, reason: str, user: int, drop: Sequence[str] = ()) -> dict:
    """The meta of an erasure: ``meta`` without the keys ``drop`` and ``partial`` (an erasure's
    payload is a fill), with ``erased`` true, ``erasure_reason`` (at most 200 characters) and
    ``user`` (kept when present)."""
    out = {k: v for k, v in meta.items() if k not in drop and k != "partial"}
    out.update(
        {"erased": True, "erasure_reason": str(reason)[:MAX_REASON], "user": out.get("user", user)}
    )
    return out


def pdu_or_bare(build: Callable[[dict, Any], Any], meta: dict, payload: Any) -> Any:
    """``build(meta, payload)``; when the meta cannot be written as PMT, the same payload with
    only the meta keys every result has (``user``, ``erased``, ``erasure_reason``,
    ``image_id``, ``frame``) that can be written."""
    try:
        return build(meta, payload)
    except Exception:  # meta itself cannot be written: send the bare result
        bare = {}
        for key in ("user", "erased", "erasure_reason", "image_id", "frame"):
            if key in meta:
                try:
                    messages.meta_to_pmt({key: meta[key]})
                    bare[key] = meta[key]
                except Exception:  # a key with no PMT form is left out
                    continue
        return build(bare, payload)
