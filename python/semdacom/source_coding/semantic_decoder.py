#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``semantic_decoder``: bits PDU -> label PDU (the SU's Q = E o G)."""

from __future__ import annotations

from typing import Any

from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_int
from gnuradio.semdacom.plumbing.codec import (
    CODECS,
    RateCommands,
    check_codec,
    shared_codec,
    unpack_stream_pdu,
)
from gnuradio.semdacom.plumbing.meta import salvage_meta

__all__ = ["semantic_decoder"]


class semantic_decoder(Block, gr.basic_block):
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
        self.setup(("pdus_in", "pdus_out", "erasures", "cmd_accepted", "cmd_rejected"))
        self.message_in("pdus", self._on_pdus, arrived="pdus_in")
        self.cmd_in(self._rates.accept)  # MessageError for a malformed or older allocation
        self.message_out("pdus")

    def _on_pdus(self, msg: Any) -> None:
        self.answer("pdus", msg, self._classify, lambda m, why: self._erasure(salvage_meta(m), why))

    def _classify(self, msg: Any) -> Any:
        meta, stream, r = unpack_stream_pdu(msg, self._codec_name, self._rates)
        labels, erased = self._codec.classify([stream], r)
        meta.pop("n_bits", None)
        if erased[0]:
            return self._erasure(meta, "unreadable stream")
        meta.update({"erased": False, "user": meta.get("user", self._user)})
        return messages.label_pdu(meta, int(labels[0]))

    def _erasure(self, meta: dict, reason: str) -> Any:
        return self.erasure(messages.label_pdu, meta, reason, -1, ("pred", "n_bits"))
