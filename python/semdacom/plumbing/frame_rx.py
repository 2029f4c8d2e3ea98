#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Frames arriving on a stream: cutting them out of the stream by their tags (FrameCutter) and the
``work``/``stop`` of the blocks that receive them (FrameReceiver: ``channel_decoder``,
``djscc_decoder``, ``sfma_decoder``; their effective channel is ``channel_state.ChannelState``).

A frame starts at a ``frame`` tag and lasts ``packet_len`` samples (a tag at the same sample;
without it the frame ends at the next ``frame`` tag). The transmitter's per-frame tag
(``semdacom_chan`` or ``semdacom_djscc``) at the same sample is parsed into a dict. Samples
outside frames are ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pmt
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.meta import to_int
from gnuradio.semdacom.plumbing.torch_threads import block_thread

__all__ = ["MAX_FRAME", "FrameCutter", "FrameReceiver"]

#: Longest frame accepted from a ``packet_len`` tag (samples).
MAX_FRAME = 1 << 24
#: Stream tag ``(semdacom_csi, (u64 origin . u64 seq))`` at the first sample of a frame whose
#: channel is new (``miso_channel`` with fading): the CSI message of that ``origin`` and ``seq``
#: describes it.
CSI_TAG = "semdacom_csi"
#: Seconds a receiver waits for the CSI a ``semdacom_csi`` tag names before it decodes the
#: frame with the CSI it has (counted in ``csi_late``, logged).
CSI_WAIT_S = 2.0


class FrameCutter:
    """Buffers a stream and hands out whole frames ``(f, samples)``.

    ``f`` is a dict: ``start`` (absolute sample), ``frame`` (int or None), ``len`` (None until
    known) and ``info`` (the parsed transmitter tag ``info_tag``, or None).
    """

    def __init__(self, info_tag: str) -> None:
        self.info_tag = info_tag
        self._buf = np.zeros(0, np.complex64)
        self._buf_start = 0  # absolute index of self._buf[0]
        self._frames: list[dict] = []  # pending frames

    def push(
        self, x: np.ndarray, start: int, tags, logger, emit: Callable[[dict, np.ndarray], None]
    ) -> None:
        """Take the samples ``x`` (absolute index ``start``) and their tags; emit every frame
        that is complete."""
        n = len(x)
        by_off: dict[int, dict] = {}
        for t in tags:
            if not pmt.is_symbol(t.key):
                continue
            key = pmt.symbol_to_string(t.key)
            if key == "packet_len":
                plen = to_int(t.value)
                if plen is None or not 0 < plen <= MAX_FRAME:
                    logger.warn(f"ignored packet_len tag {t.value} at {t.offset}")
                    continue
            if key in ("frame", "packet_len", self.info_tag):
                by_off.setdefault(int(t.offset), {})[key] = t.value
        for off in sorted(by_off):
            d = by_off[off]
            if "frame" not in d:
                continue
            if self._frames and self._frames[-1]["len"] is None:
                self._frames[-1]["len"] = off - self._frames[-1]["start"]
            f = {"start": off, "frame": to_int(d["frame"]), "len": None, "info": None}
            if "packet_len" in d:
                f["len"] = to_int(d["packet_len"])
            if self.info_tag in d:
                try:
                    f["info"] = messages.meta_from_pmt(d[self.info_tag])
                except Exception:
                    f["info"] = None
            self._frames.append(f)
        if not self._frames:
            self._buf = np.zeros(0, np.complex64)
            self._buf_start = start + n
            return
        if self._buf.size == 0:
            self._buf_start = start
        self._buf = np.concatenate([self._buf, x])
        end = start + n
        while self._frames and self._frames[0]["len"] is not None:
            f = self._frames[0]
            if f["start"] + f["len"] > end:
                break
            a = f["start"] - self._buf_start
            self._frames.pop(0)
            emit(f, self._buf[a : a + f["len"]])
        keep_from = self._frames[0]["start"] if self._frames else end
        cut = max(0, keep_from - self._buf_start)
        self._buf = self._buf[cut:]
        self._buf_start += cut

    def flush(self, emit: Callable[[dict, np.ndarray], None]) -> None:
        """Flowgraph stop: emit the frames still open with what arrived of them."""
        while self._frames:
            f = self._frames.pop(0)
            a = f["start"] - self._buf_start
            y = self._buf[max(a, 0) : max(a, 0) + (f["len"] or self._buf.size)]
            emit(f, y)


class FrameReceiver:
    """``work``/``stop`` of a block that cuts its stream into frames (``channel_decoder``,
    ``djscc_decoder``, ``sfma_decoder``): mix in before ``gr.sync_block``; the block calls
    :meth:`setup_frames` with its frame tag and defines ``_emit_frame(f, y)``, which must
    answer every frame (or queue it for :meth:`_frames_cut`, which then must). ``work``
    never ends the thread; ``stop`` answers the frames still open with what arrived of
    them."""

    def setup_frames(self, info_tag: str) -> None:
        """Cut frames tagged ``info_tag`` (a :class:`FrameCutter`); no CSI awaited yet."""
        self._cutter = FrameCutter(info_tag)
        #: sample of a frame whose CSI has not come -> when the wait for it began
        self._csi_wait: dict[int, float] = {}

    def work(self, input_items, output_items):
        x = input_items[0]
        t0 = time.thread_time()
        block_thread()  # torch on one intra-op thread in a block thread (torch_threads)
        n = len(x)
        try:
            start = self.nitems_read(0)
            tags = self.get_tags_in_window(0, 0, n)
            due = self._csi_due(tags, start)
            if due is not None:  # stop before the frame whose CSI has not come yet
                n = due - start
                tags = [t for t in tags if t.offset < due]
            if n:
                self._cutter.push(x[:n], start, tags, self.logger, self._emit_frame)
            self._frames_cut()
        except Exception as exc:  # work() must never end the thread
            self.logger.error(f"work: {type(exc).__name__}: {exc}")
            n = len(x)
        self.add_busy("work", time.thread_time() - t0)
        return n

    def _csi_due(self, tags, start: int) -> int | None:
        """The sample of the first ``semdacom_csi`` tag whose CSI this receiver has not taken
        yet (the message and the stream travel apart: with many frames in flight the stream
        can be first), or None. A receiver waits only for CSI of an origin it has taken CSI
        from (its ``csi`` port is fed by the tagging channel, not an estimator), and for at
        most :data:`CSI_WAIT_S` (then ``csi_late`` is counted and the frame goes with the CSI
        in force)."""
        chan = getattr(self, "_chan", None)
        newest = {} if chan is None else chan.newest_seq
        if not newest:
            return None
        for t in tags:
            if not (pmt.is_symbol(t.key) and pmt.symbol_to_string(t.key) == CSI_TAG):
                continue
            if not pmt.is_pair(t.value):
                continue
            origin, seq = to_int(pmt.car(t.value)), to_int(pmt.cdr(t.value))
            if origin not in newest or seq is None or seq <= newest[origin]:
                continue  # CSI from another source (an estimator), or already here
            now = time.monotonic()
            since = self._csi_wait.setdefault(int(t.offset), now)
            if now - since < CSI_WAIT_S:
                return int(t.offset)
            if self._csi_wait.pop(int(t.offset), None) is not None:
                self._counts["csi_late"] = self._counts.get("csi_late", 0) + 1
                self.logger.warn(f"CSI {seq} not here after {CSI_WAIT_S} s: frame decoded "
                                 "with the CSI in force")  # fmt: skip
        self._csi_wait.clear()
        return None

    def stop(self) -> bool:
        """Flowgraph stop: frames still open are answered with what arrived of them."""
        try:
            self._cutter.flush(self._emit_frame)
            self._frames_cut()
        except Exception as exc:
            self.logger.error(f"stop: {type(exc).__name__}: {exc}")
        return True

    def _frames_cut(self) -> None:
        """After each chunk of the stream is cut (and at stop): a block whose ``_emit_frame``
        queues the frames (``sfma_decoder``: to decode them as one batch, issue 23) answers
        them here. Nothing by default (each frame answered in ``_emit_frame``)."""
