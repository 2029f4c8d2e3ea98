#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``source_encoder``: image PDU -> bits PDU with the learned VBR codec."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.checks import check_int
from gnuradio.semdacom.plumbing.codec import CodecBlock
from gnuradio.semdacom.plumbing.meta import frame_of, salvage_meta
from gnuradio.semdacom.plumbing.worker import MAX_IN_FLIGHT, PduWorker

__all__ = ["source_encoder"]


class source_encoder(CodecBlock, gr.basic_block):
    """DNN source encoder F of one user (MU-ASCC [1], Sec. II-B, Fig. 3(a)).

    Each image PDU on ``pdus`` leaves as one bits PDU: the packetised stream of the learned
    variable-rate hyperprior (:mod:`semdacom.source_coding`) at the operating point in force,
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
        Codec weights file ("" = the shipped model); for ``codec="compressai"`` the CompressAI
        model files, comma-separated, one per operating point in ascending rate.
    codec : str
        "learned" (default, the VBR hyperprior), "classical" (HEVC intra via x265 in HEIF,
        :mod:`semdacom.source_coding.classical`, 16 quality indexes; ``weights`` unused) or
        "compressai" (any CompressAI image model, one file per operating point:
        :mod:`semdacom.source_coding.compressai_codec`, docs/bring_your_model.md; meta
        ``codec`` is ``compressai_<arch>``).
    hold : bool
        Hold images until the first allocation arrives (at most ``MAX_HELD``; beyond that
        they are coded at ``rate_index``), so that no frame of the closed loop is coded
        before the optimiser has spoken (frame-exact start).
    batch : int
        Images that have queued up coded in one call at most (issue 23; 1: one at a time).
        examples/mu_ascc_loopback.grc codes 64. Over the air it stays 1: images coded as a
        batch reach a beaconing channel encoder together, and a base station whose images had
        all arrived before its first allocation was in force stalled (its beacons are paced by
        image arrivals: docs/blocks/implementation_notes.md, "Batches").
    device : str
        Where the networks run (issue 23): "auto" (default: CUDA when
        ``torch.cuda.is_available()``, else the CPU), "cpu", "cuda" or "cuda:N"; one that is not
        there is an error when the block is built. A GPU serves the learned codec; the
        classical and CompressAI codecs run on the CPU ("auto" or "cpu" only).
    """

    #: images held at most while waiting for the first allocation (``hold``)
    MAX_HELD = MAX_IN_FLIGHT

    def __init__(
        self,
        user: int = 0,
        rate_index: int = 0,
        weights: str = "",
        codec: str = "learned",
        hold: bool = False,
        batch: int = 1,
        device: str = "auto",
    ) -> None:
        gr.basic_block.__init__(self, name="source_encoder", in_sig=None, out_sig=None)
        rate_index = self.setup_codec(
            user, rate_index, weights, codec, semantic=False, device=device
        )
        self._hold = bool(hold)
        self._held: list[Any] = []
        # images are coded off the message thread, so that allocations on cmd are taken at
        # once instead of after the queued images (plumbing.worker.PduWorker)
        self._lock = threading.Lock()
        self._worker = PduWorker(
            self._encode,
            "source_encoder",
            shed=lambda msg: self.shed("pdus", msg, self._erasure, PduWorker.CAP),
            batch_fn=self._encode_all,
            batch=check_int("batch", batch, 1),
        )
        # One encode now, so that the first real image is not slowed by the networks' first
        # call: GNU Radio drains a port's queue before the next port's, so images queued
        # behind a slow first encode would all be coded before an allocation waiting on
        # ``cmd`` (docs/blocks/implementation_notes.md).
        self._codec.encode(np.zeros((1, *self._codec.image_shape), np.uint8), int(rate_index))
        self.message_in("pdus", self._on_pdus)
        self.cmd_in(self._take_cmd, then=self._release)
        self.message_out("pdus")

    def current_rate_index(self) -> int:
        """Operating point in force."""
        return self._rates.rate_index

    def start(self) -> bool:
        self._worker.start()
        return True

    def stop(self) -> bool:
        self._worker.stop()  # codes what is still queued: every image in gives one PDU out
        return True

    def _take_cmd(self, msg: Any) -> list:
        """Take an allocation; the images held for the first one, in their order."""
        with self._lock:
            self._rates.accept(msg)  # raises MessageError for a malformed or older allocation
            held, self._held = self._held, []
        return held

    def _release(self, held: list) -> None:
        for m in held:
            self._worker.submit(m)

    def _on_pdus(self, msg: Any) -> None:
        with self._lock:
            self._counts["pdus_in"] += 1
            if self._hold and self._rates.last_seq is None and len(self._held) < self.MAX_HELD:
                self._held.append(msg)  # coded once the first allocation is here
                return
        self._worker.submit(msg)

    def _encode(self, msg: Any) -> None:
        self._encode_all([msg])

    def _encode_all(self, msgs: list) -> None:
        """The images that have queued up, coded as one batch per operating point (issue 23);
        one bits PDU (or erasure) each, in their order."""
        self.answer_all("pdus", msgs, self._prepare, self._encoded, self._erasure)

    def _prepare(self, msg: Any) -> tuple[int, tuple]:
        """``(rate_index, (meta, image, seq))`` of an image PDU: the operating point in force
        at its frame and the allocation it comes from."""
        meta, image = messages.unpack_image_pdu(msg)
        if tuple(image.shape) != self._codec.image_shape:
            raise messages.MessageError(
                f"image shape {image.shape} differs from the codec's {self._codec.image_shape}"
            )
        with self._lock:
            self._rates.apply(frame_of(meta))
            r, seq = self._rates.rate_index, self._rates.applied_seq
        return r, (meta, image, seq)

    def _encoded(self, r: int, items: list) -> list:
        streams = self._codec.encode(np.stack([image for _, image, _ in items]), r)
        out = []
        for (meta, _, seq), stream in zip(items, streams, strict=True):
            meta = dict(meta)
            meta.pop("shape", None)
            meta.update(
                {"rate_index": r, "codec": self._codec_name, "user": meta.get("user", self._user)}
            )
            if seq is not None:  # the allocation this image was coded with
                meta["src_alloc_seq"] = seq
            bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))
            out.append(messages.bits_pdu(meta, bits))
        return out

    def _erasure(self, msg: Any, reason: str) -> Any:
        return self.erasure(
            messages.bits_pdu, salvage_meta(msg), reason, np.zeros(0, np.uint8), ("shape", "n_bits")
        )
