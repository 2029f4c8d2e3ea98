#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``source_decoder``: bits PDU -> image PDU (the DU's data decoder G)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pmt
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.block_util import (
    check_int,
    erasure_meta,
    guarded,
    pdu_or_bare,
    salvage_meta,
)
from gnuradio.semdacom.plumbing.codec import (
    CODECS,
    RateCommands,
    check_codec,
    shared_codec,
    unpack_stream_pdu,
)

__all__ = ["source_decoder"]

_PORT_PDUS = pmt.intern("pdus")
_PORT_CMD = pmt.intern("cmd")


class source_decoder(gr.basic_block):
    """Source data decoder of a data user (MU-ASCC [1], Sec. II-B-1, Fig. 3(b)).

    Each bits PDU on ``pdus`` (possibly with bit errors from the channel) leaves as exactly one
    image PDU (uint8, the codec's image shape) with the input meta. The operating point is the
    meta ``rate_index`` written by ``source_encoder``; without it, the last ``rate_index[user]``
    from ``cmd`` (or the ``rate_index`` parameter).

    A stream that is unreadable (empty, corrupted length field, meta ``erased``, malformed PDU,
    bad ``rate_index``) leaves as an explicit erasure: meta ``erased`` true with
    ``erasure_reason`` and, as pixels, the decoder's output for an all-zero latent. A readable
    but corrupted stream decodes to a (degraded) image with ``erased`` false; decoding never
    crashes or hangs (guarded rANS decoding, :mod:`semdacom.source_coding.bitstream`).

    Parameters
    ----------
    user : int
    rate_index : int
        Operating point used when a PDU carries none and no command has set one.
    weights : str
        Codec weights file ("" = the shipped model).
    codec : str
        "learned" (default) or "classical" (HEVC intra via x265 in HEIF,
        :mod:`semdacom.source_coding.classical`; ``weights`` unused). A PDU whose meta
        ``codec`` names another codec is an erasure.
    """

    def __init__(
        self, user: int = 0, rate_index: int = 0, weights: str = "", codec: str = "learned"
    ) -> None:
        gr.basic_block.__init__(self, name="source_decoder", in_sig=None, out_sig=None)
        user = check_int("user", user)
        self._codec_name = CODECS[check_codec(codec)]
        self._codec = shared_codec(weights or None, semantic=False, codec=codec)
        rate_index = check_int("rate_index", rate_index, 0, self._codec.levels - 1)
        self._user = int(user)
        self._rates = RateCommands(self._user, self._codec.levels, int(rate_index))
        self._fill = np.round(self._codec.erasure_fill * 255.0).astype(np.uint8)
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

    def _on_cmd(self, msg: Any) -> None:
        guarded(self.logger, self._counts, "cmd_rejected", self._handle_cmd, msg)

    def _handle_cmd(self, msg: Any) -> None:
        self._rates.accept(msg)  # raises MessageError for a malformed or older allocation
        self._counts["cmd_accepted"] += 1

    def _on_pdus(self, msg: Any) -> None:
        self._counts["pdus_in"] += 1
        try:
            meta, stream, r = unpack_stream_pdu(msg, self._codec_name, self._rates)
            res = self._codec.decode([stream], r)
            meta.pop("n_bits", None)
            if res.erased[0]:
                out = self._erasure(meta, res.reasons[0])
            else:
                img = np.round(res.images[0] * 255.0).astype(np.uint8)
                meta.update({"erased": False, "user": meta.get("user", self._user)})
                out = messages.image_pdu(meta, img)
        except Exception as exc:  # log, and let an explicit erasure leave instead
            self.logger.error(f"input PDU is an erasure: {type(exc).__name__}: {exc}")
            meta = salvage_meta(msg)
            meta.pop("n_bits", None)
            out = self._erasure(meta, f"{type(exc).__name__}: {exc}")
        self._counts["pdus_out"] += 1
        self.message_port_pub(_PORT_PDUS, out)

    def _erasure(self, meta: dict, reason: str) -> Any:
        self._counts["erasures"] += 1
        meta = erasure_meta(meta, reason, self._user, drop=("shape", "n_bits"))
        return pdu_or_bare(messages.image_pdu, meta, self._fill)
