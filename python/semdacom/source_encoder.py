#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``source_encoder``: image PDU -> bits PDU with the learned VBR codec."""

from __future__ import annotations

from typing import Any

import numpy as np
import pmt
from gnuradio import gr

from . import messages
from ._block_util import check_int, erasure_meta, frame_of, guarded, pdu_or_bare, salvage_meta
from ._codec_block import CODECS, RateCommands, check_codec, shared_codec

__all__ = ["source_encoder"]

_PORT_PDUS = pmt.intern("pdus")
_PORT_CMD = pmt.intern("cmd")


class source_encoder(gr.basic_block):
    """DNN source encoder F of one user (MU-ASCC seed 000, Sec. II-B, Fig. 3(a)).

    Each image PDU on ``pdus`` leaves as one bits PDU: the packetised stream of the learned
    variable-rate hyperprior (:mod:`semdacom.codec`) at the operating point in force,
    with the input meta plus ``rate_index``, ``n_bits`` and ``codec``. The operating point is
    ``rate_index`` until an allocation on ``cmd`` carries ``rate_index[user]``; an allocation
    with ``apply_frame`` waits for the first PDU whose meta ``frame`` reaches it.

    Malformed input (not an image PDU, wrong shape, huge) is logged and leaves as an explicit
    erasure: an empty bits PDU with ``erased`` true and ``erasure_reason`` (plus whatever meta
    could be read), so every PDU that enters leaves exactly once. Malformed commands are logged
    and dropped; the rate in force stays.

    Parameters
    ----------
    user : int
        Index of this user in the allocation.
    rate_index : int
        Initial operating point.
    weights : str
        Codec weights file ("" = the shipped model).
    codec : str
        "learned" (default, the VBR hyperprior) or "classical" (HEVC intra via x265 in HEIF,
        :mod:`semdacom.codec.classical`, 16 quality indexes; ``weights`` unused).
    """

    def __init__(
        self, user: int = 0, rate_index: int = 0, weights: str = "", codec: str = "learned"
    ) -> None:
        gr.basic_block.__init__(self, name="source_encoder", in_sig=None, out_sig=None)
        user = check_int("user", user)
        self._codec_name = CODECS[check_codec(codec)]
        self._codec = shared_codec(weights or None, semantic=False, codec=codec)
        rate_index = check_int("rate_index", rate_index, 0, self._codec.levels - 1)
        self._user = int(user)
        self._rates = RateCommands(self._user, self._codec.levels, int(rate_index))
        # One encode now, so that the first real image is not slowed by the networks' first
        # call: GNU Radio drains a port's queue before the next port's, so images queued
        # behind a slow first encode would all be coded before an allocation waiting on
        # ``cmd`` (docs/implementation_notes.md).
        self._codec.encode(np.zeros((1, *self._codec.image_shape), np.uint8), int(rate_index))
        self._counts = {
            "pdus_in": 0,
            "pdus_out": 0,
            "erasures": 0,
            "cmd_accepted": 0,
            "cmd_rejected": 0,
        }
        self.message_port_register_in(_PORT_PDUS)
        self.message_port_register_in(_PORT_CMD)
        self.message_port_register_out(_PORT_PDUS)
        self.set_msg_handler(_PORT_PDUS, self._on_pdus)
        self.set_msg_handler(_PORT_CMD, self._on_cmd)

    def counters(self) -> dict[str, int]:
        """PDUs in/out (erasures included), erasures, commands accepted/rejected."""
        return dict(self._counts)

    def current_rate_index(self) -> int:
        """Operating point in force."""
        return self._rates.rate_index

    def _on_cmd(self, msg: Any) -> None:
        guarded(self.logger, self._counts, "cmd_rejected", self._handle_cmd, msg)

    def _handle_cmd(self, msg: Any) -> None:
        self._rates.accept(msg)  # raises MessageError for a malformed or older allocation
        self._counts["cmd_accepted"] += 1

    def _on_pdus(self, msg: Any) -> None:
        self._counts["pdus_in"] += 1
        try:
            meta, image = messages.unpack_image_pdu(msg)
            self._rates.apply(frame_of(meta))
            if tuple(image.shape) != self._codec.image_shape:
                raise messages.MessageError(
                    f"image shape {image.shape} differs from the codec's {self._codec.image_shape}"
                )
            r = self._rates.rate_index
            stream = self._codec.encode(image[None], r)[0]
            meta.pop("shape", None)
            meta.update(
                {"rate_index": r, "codec": self._codec_name, "user": meta.get("user", self._user)}
            )
            bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))
            out = messages.bits_pdu(meta, bits)
        except Exception as exc:  # log, and let an explicit erasure leave instead
            self.logger.error(f"input PDU is an erasure: {type(exc).__name__}: {exc}")
            out = self._erasure(msg, f"{type(exc).__name__}: {exc}")
        self._counts["pdus_out"] += 1
        self.message_port_pub(_PORT_PDUS, out)

    def _erasure(self, msg: Any, reason: str) -> Any:
        self._counts["erasures"] += 1
        meta = erasure_meta(salvage_meta(msg), reason, self._user, drop=("shape", "n_bits"))
        return pdu_or_bare(messages.bits_pdu, meta, np.zeros(0, dtype=np.uint8))
