#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``source_decoder``: bits PDU -> image PDU (the DU's data decoder G)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.codec import CodecBlock, result_meta

__all__ = ["source_decoder"]


class source_decoder(CodecBlock, gr.basic_block):
    """Source data decoder of a data user (MU-ASCC [1], Sec. II-B-1, Fig. 3(b)).

    Each bits PDU on ``pdus`` (possibly with bit errors from the channel) leaves as exactly one
    image PDU (uint8, the codec's image shape) with the input meta. The operating point is the
    meta ``rate_index`` written by ``source_encoder``; without it, the last ``rate_index[user]``
    from ``cmd`` (or the ``rate_index`` parameter).

    A stream that is unreadable (empty, corrupted length field, meta ``erased`` without
    ``partial``, malformed PDU, bad ``rate_index``) leaves as an explicit erasure: meta
    ``erased`` true with ``erasure_reason`` and, as pixels, the decoder's output for an
    all-zero latent. A readable but corrupted stream decodes to a (degraded) image; a stream
    erased upstream with ``partial`` (codewords lost, the rest decoded:
    ``gnuradio.semdacom.messages.pdu``, "Erasures") is decoded too and its image keeps
    ``erased`` true and ``partial``; otherwise ``erased`` is false. Decoding never crashes or
    hangs (guarded rANS decoding, :mod:`semdacom.source_coding.bitstream`).

    Parameters
    ----------
    user : int
    rate_index : int
        Operating point used when a PDU carries none and no command has set one.
    weights : str
        Codec weights file ("" = the shipped model); for ``codec="compressai"`` the CompressAI
        model files, comma-separated, one per operating point in ascending rate (the
        encoder's).
    codec : str
        "learned" (default), "classical" (HEVC intra via x265 in HEIF,
        :mod:`semdacom.source_coding.classical`; ``weights`` unused) or "compressai"
        (:mod:`semdacom.source_coding.compressai_codec`, docs/bring_your_model.md). A PDU whose
        meta ``codec`` names another codec is an erasure.
    batch_wait_ms : float
        How long the decoder waits for more PDUs before it decodes what has arrived as one
        batch (0, the default: not at all; at most 1000). A radio's PDUs come one by one, and
        an image costs a third to a half as much in a batch of 8 as alone: a receiver at radio rate
        (examples/mu_ascc_user_usrp.grc: 50 ms) keeps up, each image later by at most this.
    device : str
        Where the networks run (issue 23): "auto" (default: CUDA when
        ``torch.cuda.is_available()``, else the CPU), "cpu", "cuda" or "cuda:N"; one that is not
        there is an error when the block is built. A GPU serves the learned codec; the
        classical and CompressAI codecs run on the CPU ("auto" or "cpu" only).
    """

    def __init__(
        self, user: int = 0, rate_index: int = 0, weights: str = "", codec: str = "learned",
        batch_wait_ms: float = 0.0, device: str = "auto",
    ) -> None:  # fmt: skip
        gr.basic_block.__init__(self, name="source_decoder", in_sig=None, out_sig=None)
        self.setup_codec(user, rate_index, weights, codec, semantic=False, device=device)
        self._fill = np.round(self._codec.erasure_fill * 255.0).astype(np.uint8)
        self.decoder_ports(batch_wait_ms)

    def _results(self, r: int, items: list) -> list:
        res = self._codec.decode([stream for _, stream in items], r)
        out = []
        for (meta, _), img, erased, reason in zip(
            items, res.images, res.erased, res.reasons, strict=True
        ):
            meta = result_meta(meta, self._user)
            if erased:
                out.append(self._erasure(meta, reason))
            else:
                img8 = np.round(img * 255.0).astype(np.uint8)
                out.append(messages.image_pdu(meta, img8))
        return out

    def _erasure(self, meta: dict, reason: str) -> Any:
        return self.erasure(messages.image_pdu, meta, reason, self._fill, ("shape", "n_bits"))
