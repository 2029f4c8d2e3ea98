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
from gnuradio.semdacom.plumbing.codec import CodecBlock, result_meta

__all__ = ["semantic_decoder"]


class semantic_decoder(CodecBlock, gr.basic_block):
    """Semantic decoder of a semantic user (MU-ASCC [1], Sec. II-B-2, Fig. 3(c), eq. 4).

    Each bits PDU on ``pdus`` leaves as exactly one label PDU: meta ``pred`` is the class that
    Q = E o G (fine-tuned with eq. (4), conditioned on the operating point) reads from the
    decoded latent, with the input meta (so the true ``label`` of ``image_source`` rides along).
    The operating point is the meta ``rate_index`` of ``source_encoder``; without it, the last
    ``rate_index[user]`` from ``cmd`` (or the ``rate_index`` parameter).

    Unreadable streams, PDUs erased upstream without ``partial``, malformed PDUs and bad
    ``rate_index`` leave as erasures: ``pred`` = -1, ``erased`` true and ``erasure_reason``. A
    stream erased upstream with ``partial`` (codewords lost, the rest decoded:
    ``gnuradio.semdacom.messages.pdu``, "Erasures") is classified all the same: its label keeps
    ``erased`` true and ``partial``. Decoding never crashes or hangs.

    Parameters: ``user``, ``rate_index`` and ``codec`` as in ``source_decoder`` (with
    ``codec="classical"`` or ``"compressai"`` the classifier E reads the decoded image);
    ``weights`` is the codec weights file ("" = the shipped model with its shipped semantic
    decoder; for ``"compressai"`` the model files, comma-separated);
    ``semantic`` the semantic decoder Q's weights ("" = ``semantic_vbr.pt`` beside ``weights``
    when it was trained on them, else the shipped one: ``semdacom train-codec --semantic``
    writes it there); ``classifier`` the classifier E's weights ("" = Q's own copy; given, it
    must be the one Q was trained with; for ``codec="classical"`` and ``"compressai"``: the E
    that labels the decoded images, "" = the shipped one; ``semantic`` is unused);
    ``batch_wait_ms`` as in ``source_decoder`` (how long it waits for a batch to fill);
    ``device`` as in ``source_decoder`` (where the networks run: "auto", "cpu", "cuda").
    """

    def __init__(
        self,
        user: int = 0,
        rate_index: int = 0,
        weights: str = "",
        codec: str = "learned",
        semantic: str = "",
        classifier: str = "",
        batch_wait_ms: float = 0.0,
        device: str = "auto",
    ) -> None:
        gr.basic_block.__init__(self, name="semantic_decoder", in_sig=None, out_sig=None)
        self.setup_codec(
            user,
            rate_index,
            weights,
            codec,
            semantic=True,
            semantic_weights=semantic,
            classifier=classifier,
            device=device,
        )
        self.decoder_ports(batch_wait_ms)

    def _results(self, r: int, items: list) -> list:
        labels, erased = self._codec.classify([stream for _, stream in items], r)
        out = []
        for (meta, _), label, gone in zip(items, labels, erased, strict=True):
            meta = result_meta(meta, self._user)
            if gone:
                out.append(self._erasure(meta, "unreadable stream"))
            else:
                out.append(messages.label_pdu(meta, int(label)))
        return out

    def _erasure(self, meta: dict, reason: str) -> Any:
        return self.erasure(messages.label_pdu, meta, reason, -1, ("pred", "n_bits"))
