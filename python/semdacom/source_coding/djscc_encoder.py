#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``djscc_encoder``: image PDU -> one frame of analog DeepJSCC symbols."""

from __future__ import annotations

import queue
from typing import Any

import numpy as np
import pmt
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_int
from gnuradio.semdacom.plumbing.codec import model_device, run_batched, shared_djscc
from gnuradio.semdacom.plumbing.frame_tx import FrameSource, FrameTx
from gnuradio.semdacom.plumbing.meta import pdu_or_bare, salvage_meta

__all__ = ["DJSCC_TAG", "djscc_encoder"]

#: Key of the per-frame tag carrying the image meta to ``djscc_decoder``.
DJSCC_TAG = messages.DJSCC_TAG
_FORWARD = ("frame", "seq", "image_id", "label")


class djscc_encoder(FrameSource, Block, gr.sync_block):
    """DeepJSCC encoder of one user (the "ZF-WF-DJSCC" benchmark, MU-ASCC [1], Sec. V-A).

    Each image PDU on ``pdus`` becomes ``k`` complex symbols (the model's bandwidth ratio
    times the pixels), power-normalised per image (mean ``|s|^2 = 1``), sent as one frame on
    the stream output exactly like ``channel_encoder`` frames: a ``frame`` tag (u64, counting
    from ``first_frame``), a ``packet_len`` tag and a ``semdacom_djscc`` tag (dict: user, k,
    erased, and the PDU's frame/seq/image_id/label as ``pdu_*``), zero-padded to a multiple
    of ``frame_len`` when it is > 0. The same symbols also leave as a symbol PDU (c32vector;
    meta user, k, frame and the input meta) on the ``symbols`` message port.

    A malformed image PDU (not an image PDU, wrong shape, erased upstream) is logged and still
    gives one frame (``k`` zero symbols, tag ``erased`` true with ``erasure_reason``) and one
    symbol PDU flagged erased, so that nothing is lost and the users' streams stay aligned.

    Batches (issue 23): the image PDUs waiting when one is handled (at most :attr:`BATCH`) are
    encoded as one batch; each still leaves as its own frame, in order.

    Parameters
    ----------
    weights : str
        DeepJSCC weights ("" = the shipped rho = 0.6, 10 dB model).
    user : int
        Index of this user.
    frame_len : int
        Pad every frame to a multiple of this many symbols (0: no padding).
    first_frame : int
        Number of the first frame.
    device : str
        Where the network runs (issue 23): "auto" (default: CUDA when
        ``torch.cuda.is_available()``, else the CPU), "cpu", "cuda" or "cuda:N"; one that is not
        there is an error when the block is built.
    """

    #: image PDUs encoded as one batch at most
    BATCH = 64

    def __init__(
        self, weights: str = "", user: int = 0, frame_len: int = 0, first_frame: int = 0,
        device: str = "auto",
    ) -> None:  # fmt: skip
        gr.sync_block.__init__(self, name="djscc_encoder", in_sig=None, out_sig=[np.complex64])
        user = check_int("user", user)
        frame_len = check_int("frame_len", frame_len)
        first_frame = check_int("first_frame", first_frame)
        self._model = shared_djscc(weights or None, device)
        self._device = model_device(self._model)
        self._k = int(self._model.k)
        self._shape = tuple(int(v) for v in self._model.image_shape)
        self._user, self._frame_len = int(user), int(frame_len)
        self._next_frame = int(first_frame)
        self._queue: queue.Queue = queue.Queue()
        self._tx = FrameTx()  # the frame being sent
        self.setup(("pdus_in", "frames_out", "erasures"))
        self.message_in("pdus", self._on_pdus, arrived="pdus_in")
        self.message_out("symbols")

    # ------------------------------------------------------------------ inspection

    @property
    def k(self) -> int:
        """Complex symbols per image."""
        return self._k

    def encode_image(self, image: np.ndarray) -> np.ndarray:
        """``k`` unit-power complex symbols of one uint8 image ``(H, W)`` or ``(C, H, W)``."""
        return self._encode_many([image])[0]

    def _encode_many(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """The symbols of uint8 images, encoded as one batch; non-finite symbols raise."""
        import torch

        arr = np.stack([np.asarray(i, np.float32).reshape(self._shape) for i in images])
        x = torch.from_numpy(arr / 255.0).to(self._device)
        with torch.no_grad():
            s = self._model.encode(x).cpu().numpy().astype(np.complex64)
        if not np.all(np.isfinite(s)):
            raise ValueError("encoder produced non-finite symbols")
        return list(s)

    # ------------------------------------------------------------------ handlers
    def _on_pdus(self, msg: Any) -> None:
        """An image PDU and those queued behind it (at most :attr:`BATCH`), encoded as one
        batch (``run_batched``: a batch that fails is encoded image by image, so only an image
        that fails alone is an erasure); each queued for the stream in its order."""
        msgs = [msg, *self.take_queued("pdus", self.BATCH - 1)]
        items = [self._check_pdu(m) for m in msgs]
        todo = [i for i, (_, img, _) in enumerate(items) if img is not None]
        syms, errors = run_batched([items[i][1] for i in todo], self._encode_many, self.BATCH)
        done = dict(zip(todo, zip(syms, errors, strict=True), strict=True))
        for i, (meta, _, reason) in enumerate(items):
            sym, err = done.get(i, (None, None))
            reason = reason or err
            if reason is not None:
                self.logger.error(f"input PDU is an erasure: {reason}")
                sym, reason = np.zeros(self._k, np.complex64), reason[:200]
            self._queue.put((meta, sym, reason))

    def _check_pdu(self, msg: Any) -> tuple[dict, np.ndarray | None, str | None]:
        """``(meta, image, None)`` of a good image PDU, ``(meta, None, reason)`` otherwise."""
        try:
            meta, img = messages.unpack_image_pdu(msg)
            if messages.is_erased(meta):
                raise messages.MessageError(f"erased upstream ({meta.get('erasure_reason', '?')})")
            if tuple(img.shape) != self._shape:
                raise messages.MessageError(
                    f"image shape {tuple(img.shape)} is not the model's {self._shape}"
                )
            meta.pop("shape", None)
            return meta, img, None
        except Exception as exc:  # an explicit erasure leaves instead
            meta = salvage_meta(msg)
            meta.pop("shape", None)
            return meta, None, f"{type(exc).__name__}: {exc}"

    # ------------------------------------------------------------------ framing
    def _build_frame(self, meta: dict, sym: np.ndarray, reason: str | None):
        frame = self._next_frame
        self._next_frame += 1
        info: dict[str, Any] = {"user": self._user, "k": self._k, "erased": reason is not None}
        if reason is not None:
            info["erasure_reason"] = reason
            self._counts["erasures"] += 1
        for key in _FORWARD:
            v = meta.get(key)
            if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
                info["pdu_" + key] = int(v)
        out_meta = {}
        for key, v in meta.items():
            try:
                messages.meta_to_pmt({key: v})
                out_meta[key] = v
            except Exception:  # keys with no PMT form are not forwarded
                continue
        out_meta.update({"user": self._user, "k": self._k, "tx_frame": frame})
        out_meta["erased"] = reason is not None
        if reason is not None:
            out_meta["erasure_reason"] = reason
        pdu = pdu_or_bare(messages.symbols_pdu, out_meta, sym)
        self.publish("symbols", pdu)
        if self._frame_len > 0 and sym.size % self._frame_len:
            pad = self._frame_len - sym.size % self._frame_len
            sym = np.concatenate([sym, np.zeros(pad, np.complex64)])
        tags = [
            ("frame", pmt.from_uint64(frame)),
            ("packet_len", pmt.from_long(int(sym.size))),
            (DJSCC_TAG, messages.meta_to_pmt(info)),
        ]
        return sym, tags

    def _erasure_frame(self, reason: str):
        """The bare erasure frame (k zero symbols), when not even the meta could be used."""
        try:
            return self._build_frame({}, np.zeros(self._k, np.complex64), reason[:200])
        except Exception:  # the tag alone, the smallest erasure there is
            info = messages.meta_to_pmt({"user": self._user, "k": self._k, "erased": True})
            frame, self._next_frame = self._next_frame, self._next_frame + 1
            sym = np.zeros(self._k, np.complex64)
            return sym, [("frame", pmt.from_uint64(frame)),
                         ("packet_len", pmt.from_long(self._k)), (DJSCC_TAG, info)]  # fmt: skip

    # ------------------------------------------------------------------ stream
    # (work: plumbing.frame_tx.FrameSource)
    def _start_frame(self, item: tuple) -> bool:
        meta, sym, reason = item
        try:
            self._tx.start(self._build_frame(meta, sym, reason))
        except Exception as exc:  # work() must never end the thread
            self.logger.error(f"frame not built: {type(exc).__name__}: {exc}")
            self._tx.start(self._erasure_frame(f"{type(exc).__name__}: {exc}"))
        return True
