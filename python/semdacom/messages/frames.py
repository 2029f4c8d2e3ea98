#
# Copyright 2025 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Per-frame stream tags of the channel coder and of DeepJSCC, and the frame credits.

``semdacom_chan`` (:data:`CHAN_TAG`): the tag ``channel_encoder`` puts on the first sample of
every frame, a dict read back by :func:`chan_info` (coding parameters, the packed bits of an
emulated FBL frame, erasures, the allocation the frame was coded with).

``semdacom_djscc`` (:data:`DJSCC_TAG`): the tag of ``djscc_encoder`` carrying the image meta.

Frame credits (channel_encoder ``sent`` -> image_source ``trigger``): ``{"sent_frame": u64,
"user": long}``: a channel encoder started sending frame ``sent_frame``. Wired to an
image_source's ``trigger`` it asks for the next image, so that images are coded just in time for
their slot (a credit loop: at most the image source's ``prefill`` images wait between the source
and the channel encoder). The key is not ``frame``, so the image source keeps numbering its own
frames.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pmt
from gnuradio.semdacom.messages.limits import MAX_RC
from gnuradio.semdacom.messages.pmt_util import MessageError, from_count, make_dict, read_count

#: Key of the per-frame tag of ``channel_encoder`` carrying the coding parameters.
CHAN_TAG = "semdacom_chan"
#: Key of the per-frame tag of ``djscc_encoder`` carrying the image meta.
DJSCC_TAG = "semdacom_djscc"
#: Modes of the channel coder blocks.
CHAN_MODES = ("ldpc", "fbl")
#: Largest ``n_bits`` a ``semdacom_chan`` tag may announce.
MAX_FRAME_BITS = 1 << 31


def chan_info(info: Any) -> dict:
    """Validate the dict of a ``semdacom_chan`` tag (as :func:`.meta_from_pmt` returns it).

    Keys: ``user`` (int >= 0), ``mode`` (one of :data:`CHAN_MODES`), ``L`` (int >= 1),
    ``n_bits`` (int in ``[0, 2**31]``), optional ``mcs`` (int >= 0), ``rc`` (finite > 0),
    ``bits`` (u8 array holding at least ``n_bits`` bits), ``erased`` (bool),
    ``erasure_reason``, ``enc_alloc_seq`` (int >= 0: the allocation the frame was coded with),
    ``blocks_sent`` (int >= 0: channel blocks left after the encoder cut the frame at its slot),
    ``beacon`` (bool: a frame without data for its user, sent before the first allocation for
    the users' first CSI; ``channel_encoder``'s ``beacons``) and the forwarded ``pdu_*`` keys.
    Raises MessageError.
    """
    if not isinstance(info, dict):
        raise MessageError(f"'{CHAN_TAG}' tag must be a dictionary, got {type(info).__name__}")

    def integer(key: str, lo: int, hi: int | None = None) -> int:
        v = info.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise MessageError(f"'{CHAN_TAG}' {key} must be an integer, got {v!r}"[:200])
        if v < lo or (hi is not None and v > hi):
            raise MessageError(f"'{CHAN_TAG}' {key}={v} is out of range")
        return int(v)

    out = dict(info)
    out["user"] = integer("user", 0)
    out["n_bits"] = integer("n_bits", 0, MAX_FRAME_BITS)
    if "L" in info:
        out["L"] = integer("L", 1)
    if not isinstance(info.get("mode"), str) or info["mode"] not in CHAN_MODES:
        raise MessageError(f"'{CHAN_TAG}' mode must be one of {CHAN_MODES}")
    for key in ("mcs", "enc_alloc_seq", "blocks_sent"):
        if key in info:
            out[key] = integer(key, 0)
    if "rc" in info:
        rc = info["rc"]
        if isinstance(rc, bool) or not isinstance(rc, (int, float, np.number)):
            raise MessageError(f"'{CHAN_TAG}' rc must be a real number")
        if not (math.isfinite(float(rc)) and 0 < float(rc) <= MAX_RC):
            raise MessageError(f"'{CHAN_TAG}' rc={rc} is out of range")
        out["rc"] = float(rc)
    if "bits" in info:
        bits = info["bits"]
        if not isinstance(bits, np.ndarray) or bits.dtype != np.uint8:
            raise MessageError(f"'{CHAN_TAG}' bits must be a u8vector")
        if 8 * bits.size < out["n_bits"]:
            raise MessageError(f"'{CHAN_TAG}' bits hold fewer than n_bits={out['n_bits']} bits")
    for key in ("erased", "beacon"):
        if key in info and not isinstance(info[key], bool):
            raise MessageError(f"'{CHAN_TAG}' {key} must be a bool")
    return out


def frame_sent_to_pmt(frame: int, user: int) -> Any:
    """The ``sent`` message of a channel encoder that started sending ``frame``."""
    if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) or frame < 0:
        raise MessageError(f"sent_frame must be a non-negative integer, got {frame!r}")
    return make_dict({"sent_frame": from_count(int(frame)), "user": pmt.from_long(int(user))})


def result_done_to_pmt(user: int, image_id: int | None = None) -> Any:
    """``metrics_sink``'s ``done``: one result of ``user`` taken, ``{user, image_id}``
    (``image_id`` absent for an erasure matched by frame; never a ``frame`` key, which an
    ``image_source`` trigger would read)."""
    d = {"user": pmt.from_long(int(user))}
    if image_id is not None:
        d["image_id"] = pmt.from_long(int(image_id))
    return make_dict(d)


def done_user(msg: Any) -> int | None:
    """The ``user`` of a ``done`` (:func:`result_done_to_pmt`) or a ``sent``
    (:func:`frame_sent_to_pmt`): the ``user`` key of a dictionary when it is an integer, else
    None (a message for anyone). Never raises."""
    try:
        if not (isinstance(msg, pmt.pmt_base) and pmt.is_dict(msg)) or pmt.is_null(msg):
            return None
        value = pmt.dict_ref(msg, pmt.intern("user"), pmt.PMT_NIL)
        if pmt.is_integer(value):
            return int(pmt.to_long(value))
        if pmt.is_uint64(value):
            return int(pmt.to_uint64(value))
        return None
    except Exception:  # an odd dictionary: for anyone
        return None


def frame_sent_from_pmt(msg: Any) -> int:
    """The frame of a ``sent`` message (:func:`frame_sent_to_pmt`); only ``sent_frame`` is
    read. MessageError for anything else."""
    if not isinstance(msg, pmt.pmt_base) or not pmt.is_dict(msg) or pmt.is_null(msg):
        raise MessageError("a sent message is a dictionary with 'sent_frame'")
    try:
        value = pmt.dict_ref(msg, pmt.intern("sent_frame"), pmt.PMT_NIL)
    except Exception as exc:  # a pair that is not a dictionary
        raise MessageError(f"not a dictionary: {exc}") from exc
    if pmt.is_null(value):
        raise MessageError("a sent message needs 'sent_frame'")
    return read_count(value, "sent_frame")
