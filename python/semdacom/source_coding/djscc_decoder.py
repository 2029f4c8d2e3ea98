#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``djscc_decoder``: received DeepJSCC symbols -> image PDU."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.channel_state import ChannelState
from gnuradio.semdacom.plumbing.checks import check_finite, check_int, is_user
from gnuradio.semdacom.plumbing.codec import model_device, run_batched, shared_djscc
from gnuradio.semdacom.plumbing.frame_rx import FrameReceiver
from gnuradio.semdacom.plumbing.meta import frame_of, salvage_meta

__all__ = ["djscc_decoder"]

DJSCC_TAG = messages.DJSCC_TAG
#: Effective gains below this magnitude cannot be equalised: the frame is an erasure.
MIN_GAIN = 1e-9


class djscc_decoder(FrameReceiver, Block, gr.sync_block):
    """DeepJSCC decoder of one user (the "ZF-WF-DJSCC" benchmark, MU-ASCC [1], Sec. V-A).

    Frames of received symbols ``y = g s + n`` arrive on the stream input exactly as for
    ``channel_decoder``: a frame starts at a ``frame`` tag and lasts ``packet_len`` symbols
    (without it, until the next ``frame`` tag); samples outside frames are ignored. A received
    symbol PDU (c32vector, e.g. from ``djscc_encoder``'s ``symbols`` port through a
    message-level channel) on the ``symbols`` port is decoded the same way.

    The first ``k`` symbols of a frame are divided by the effective channel gain of this user,
    taken as in ``channel_decoder``: with CSI (``csi``) and an allocation carrying ``power``
    and ``w`` (``cmd``, applied from its ``apply_frame``), ``g = sqrt(p_u) h_u^H w_u`` and the
    noise-plus-interference ``N0 = sigma_u^2 + sum_{j != u} p_j |h_u^H w_j|^2`` (eqs. 6-7);
    otherwise ``g = 1`` and ``N0 = 10^(-snr_db/10)``. A symbol PDU may carry its own ``gain``
    (complex) in its meta. The DeepJSCC decoder then maps ``y / g`` to an image. Allocations
    go through ``plumbing.schedule.AllocationSchedule`` (one whose ``seq`` is not newer than the
    last one taken is dropped); the effective channel is ``plumbing.channel_state.ChannelState``.

    Every frame or symbol PDU gives exactly one image PDU (uint8, the model's shape) with meta
    ``frame``, ``user``, ``sinr_db``, ``sinr_source``, ``erased`` and the image meta forwarded
    by the encoder (``image_id``, ``label``, ``seq`` from the ``semdacom_djscc`` tag of this
    user). A frame shorter than ``k`` symbols, with non-finite samples, a gain of (almost) zero
    or not finite (so is the SINR then), a frame the encoder flagged erased, or a malformed
    symbol PDU leaves as an explicit erasure
    (``erased`` true, ``erasure_reason``; pixels: the decoder's output for all-zero symbols).

    Batches (issue 23): the frames cut from one chunk of the stream (and the symbol PDUs
    waiting when one is handled, at most :attr:`BATCH`) are decoded as one batch, each with
    the gain and allocation in force at its own frame; a batch whose decoding fails is decoded
    one frame at a time, so only a frame that fails alone is an erasure.

    Parameters: ``weights``, ``user`` and ``device`` as in ``djscc_encoder``; ``snr_db``
    (float), the SNR reported while no CSI with beams is known.
    """

    #: frames decoded as one batch at most
    BATCH = 64

    def __init__(
        self, weights: str = "", user: int = 0, snr_db: float = 10.0, device: str = "auto"
    ) -> None:
        gr.sync_block.__init__(self, name="djscc_decoder", in_sig=[np.complex64], out_sig=None)
        self._user = check_int("user", user)
        self._snr_db = check_finite("snr_db", snr_db)
        self._model = shared_djscc(weights or None, device)
        self._device = model_device(self._model)
        self._k = int(self._model.k)
        self.setup(("frames_in", "symbol_pdus_in", "pdus_out", "erasures", "cmd_accepted",
                    "cmd_rejected", "csi_accepted", "csi_rejected"))  # fmt: skip
        self.message_in("symbols", self._on_symbols, arrived="symbol_pdus_in")
        self.csi_in(lambda msg: self._chan.set_csi(messages.csi_from_pmt(msg, user=self._user)))
        self.take_allocations(("power", "w"), lambda m: messages.alloc_from_pmt(m, user=self._user))
        self._chan = ChannelState(self._user, self._snr_db, self._sched)
        self.setup_frames(DJSCC_TAG)
        self._cut: list = []  # frames of the stream chunk being cut (_prepare's)
        self._fill = self._decode_symbols(np.zeros(self._k, np.complex64))
        self.message_out("pdus")

    # ------------------------------------------------------------------ inspection
    @property
    def k(self) -> int:
        """Complex symbols per image."""
        return self._k

    @property
    def erasure_fill(self) -> np.ndarray:
        """The image sent for an erasure (decoder output for all-zero symbols), uint8."""
        return self._fill.copy()

    def _decode_symbols(self, s: np.ndarray) -> np.ndarray:
        """The uint8 image of one frame's equalised symbols."""
        return self._decode_many([s])[0]

    def _decode_many(self, syms: list[np.ndarray]) -> list[np.ndarray]:
        """The uint8 images of equalised ``k``-symbol frames, decoded as one batch; symbols
        so large that the network's output is not finite raise (the frame is an erasure, not
        an image of undefined pixels)."""
        import torch

        with torch.no_grad():
            y = torch.from_numpy(np.stack(syms).astype(np.complex64)).to(self._device)
            x = self._model.decode(y)
        if not bool(torch.isfinite(x).all()):
            raise ValueError("the decoder's output is not finite (received symbols too large)")
        return list(np.round(x.clamp(0, 1).cpu().numpy() * 255.0).astype(np.uint8))

    # ------------------------------------------------------------------ messages
    def _on_symbols(self, msg: Any) -> None:
        """A symbol PDU and those queued behind it (at most :attr:`BATCH`), decoded as one
        batch, each answered in its order."""
        msgs = [msg, *self.take_queued("symbols", self.BATCH - 1, counter="symbol_pdus_in")]
        self._answer([self._prepare_pdu(m) for m in msgs])

    def _prepare_pdu(self, msg: Any) -> tuple:
        try:
            meta, y = messages.unpack_symbols_pdu(msg)
        except Exception as exc:
            self.logger.error(f"input PDU is an erasure: {type(exc).__name__}: {exc}")
            meta = salvage_meta(msg)
            return self._prepare(meta, None, f"{type(exc).__name__}: {exc}", None)
        gain = meta.pop("gain", None)
        self._sched.on_frame(frame_of(meta))
        self._chan.on_frame(frame_of(meta))
        reason = None
        if messages.is_erased(meta):
            reason = f"erased upstream ({meta.get('erasure_reason', '?')})"
        return self._prepare(meta, y, reason, gain)

    # ------------------------------------------------------------------ stream
    # (work and stop: plumbing.frame_rx.FrameReceiver)
    def _emit_frame(self, f: dict, y: np.ndarray) -> None:
        self._counts["frames_in"] += 1
        frame = f["frame"] if f["frame"] is not None else -1
        self._sched.on_frame(frame)
        self._chan.on_frame(frame if frame >= 0 else None)
        info = f["info"]
        if not (isinstance(info, dict) and is_user(info.get("user"), self._user)):
            info = None
        meta: dict[str, Any] = {"frame": frame}
        reason = None
        if info is not None:
            for key, val in info.items():
                if key.startswith("pdu_") and key != "pdu_frame":
                    meta.setdefault(key[4:], val)
            if "pdu_frame" in info:
                meta["source_frame"] = info["pdu_frame"]
            if messages.is_erased(info):
                reason = f"erased at the encoder ({info.get('erasure_reason', '?')})"
        self._cut.append(self._prepare(meta, y, reason, None))

    def _frames_cut(self) -> None:
        """The frames of the chunk just cut, decoded as one batch and answered in order."""
        cut, self._cut = self._cut, []
        if cut:
            self._answer(cut)

    # ------------------------------------------------------------------ decoding
    def _prepare(self, meta: dict, y: np.ndarray | None, reason: str | None, gain) -> tuple:
        """``(meta, symbols, reason)`` of a frame: its ``k`` symbols equalised by the gain in
        force at its frame (to decode), or None with the erasure's ``reason``."""
        meta = dict(meta)
        meta.pop("shape", None)
        meta.pop("k", None)
        meta["user"] = self._user
        s = None
        try:
            g, n0, source = self._chan.channel()
            if gain is not None:
                if isinstance(gain, bool) or not isinstance(gain, (int, float, complex, np.number)):
                    raise ValueError(f"meta gain must be a number, got {type(gain).__name__}")
                g, source = complex(gain), "meta"
            if not math.isfinite(abs(g)):
                raise ValueError(f"effective gain {g} is not finite")
            sinr = abs(g) ** 2 / n0 if n0 > 0 else math.inf
            meta["sinr_db"] = 10 * math.log10(sinr) if sinr > 0 else -math.inf
            meta["sinr_source"] = source
            if reason is None:
                if y is None:
                    raise ValueError("no symbols")
                if y.size < self._k:
                    raise ValueError(f"frame of {y.size} symbols is shorter than k={self._k}")
                s = np.asarray(y[: self._k], np.complex64)
                if not np.all(np.isfinite(s)):
                    raise ValueError("non-finite received symbols")
                if not abs(g) > MIN_GAIN:
                    raise ValueError(f"effective gain {abs(g):.3g} too small to equalise")
                s = (s / np.complex64(g)).astype(np.complex64)
        except Exception as exc:
            s, reason = None, f"{type(exc).__name__}: {exc}"
            self.logger.error(f"frame {meta.get('frame')}: erasure: {reason}")
        return meta, (s if reason is None else None), reason

    def _answer(self, prepared: list) -> None:
        """Decode the prepared frames that have symbols as batches (``run_batched``) and send
        one image PDU for each frame, in order."""
        todo = [i for i, (_, s, _) in enumerate(prepared) if s is not None]
        imgs, errors = run_batched([prepared[i][1] for i in todo], self._decode_many, self.BATCH)
        out: list = [(meta, None, reason) for meta, _, reason in prepared]
        for i, img, err in zip(todo, imgs, errors, strict=True):
            if err is not None:
                self.logger.error(f"frame {prepared[i][0].get('frame')}: erasure: {err}")
            out[i] = (prepared[i][0], img, err)
        for meta, img, reason in out:
            self.send("pdus", messages.image_pdu, meta, img, self._fill, reason)
