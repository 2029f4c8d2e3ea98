#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``semantic_decoder``: bits PDU -> label PDU (the SU's Q = E o G)."""

from __future__ import annotations

from typing import Any

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

__all__ = ["semantic_decoder"]

_PORT_PDUS = pmt.intern("pdus")
_PORT_CMD = pmt.intern("cmd")


class semantic_decoder(gr.basic_block):
    """Semantic decoder of a semantic user (MU-ASCC [1], Sec. II-B-2, Fig. 3(c), eq. 4).

    Each bits PDU on ``pdus`` leaves as exactly one label PDU: meta ``pred`` is the class that
    Q = E o G (fine-tuned with eq. (4), conditioned on the operating point) reads from the
    decoded latent, with the input meta (so the true ``label`` of ``image_source`` rides along).
    The operating point is the meta ``rate_index`` of ``source_encoder``; without it, the last
    ``rate_index[user]`` from ``cmd`` (or the ``rate_index`` parameter).

    Unreadable streams, malformed PDUs and bad ``rate_index`` leave as erasures: ``pred`` = -1,
    ``erased`` true and ``erasure_reason``. Decoding never crashes or hangs.

    Parameters
    ----------
    user : int
    rate_index : int
        Operating point used when a PDU carries none and no command has set one.
    weights : str
        Codec weights file ("" = the shipped model with its shipped semantic decoder).
    codec : str
        "learned" (default) or "classical" (classifier E on the HEVC-intra/HEIF decoded image,
        :mod:`semdacom.source_coding.classical`; ``weights`` unused). A PDU whose meta
        ``codec`` names another codec is an erasure.
    """

    def __init__(
        self, user: int = 0, rate_index: int = 0, weights: str = "", codec: str = "learned"
    ) -> None:
        gr.basic_block.__init__(self, name="semantic_decoder", in_sig=None, out_sig=None)
        user = check_int("user", user)
        self._codec_name = CODECS[check_codec(codec)]
        self._codec = shared_codec(weights or None, semantic=True, codec=codec)
        if self._codec.semantic is None:
            raise ValueError("no semantic decoder weights were found for this codec")
        rate_index = check_int("rate_index", rate_index, 0, self._codec.levels - 1)
        self._user = int(user)
        self._rates = RateCommands(self._user, self._codec.levels, int(rate_index))
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
            labels, erased = self._codec.classify([stream], r)
            meta.pop("n_bits", None)
            if erased[0]:
                out = self._erasure(meta, "unreadable stream")
            else:
                meta.update({"erased": False, "user": meta.get("user", self._user)})
                out = messages.label_pdu(meta, int(labels[0]))
        except Exception as exc:  # log, and let an explicit erasure leave instead
            self.logger.error(f"input PDU is an erasure: {type(exc).__name__}: {exc}")
            meta = salvage_meta(msg)
            meta.pop("n_bits", None)
            out = self._erasure(meta, f"{type(exc).__name__}: {exc}")
        self._counts["pdus_out"] += 1
        self.message_port_pub(_PORT_PDUS, out)

    def _erasure(self, meta: dict, reason: str) -> Any:
        self._counts["erasures"] += 1
        meta = erasure_meta(meta, reason, self._user, drop=("pred", "n_bits"))
        return pdu_or_bare(messages.label_pdu, meta, -1)
