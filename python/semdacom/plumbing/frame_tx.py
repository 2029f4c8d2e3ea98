#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Frames leaving a stream-source block: one frame in flight written in chunks (FrameTx), one
slot of aligned frames on several outputs (MultiFrameTx), the wait for the next frame to send
(next_item) and the ``work`` of a block that sends one frame per PDU (FrameSource).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pmt

__all__ = ["WAIT_S", "FrameSource", "FrameTx", "MultiFrameTx", "next_item"]

#: How long ``work`` waits for an item another thread is making (next_item).
WAIT_S = 0.2


def next_item(
    q: queue.Queue, busy: Callable[[], bool] | None = None, wait_s: float = WAIT_S
) -> Any | None:
    """The next item waiting in ``q``, or None.

    GNU Radio 3.10 calls the ``work`` of a block without stream inputs that returned 0 again
    only when a message arrives for it or after 250 ms (``tpb_thread_body``: ``BLKD_IN``
    waits on ``input_cond`` with a 250 ms timeout). Items queued by the block's own message
    handlers are seen at once (the message woke the thread); items that another thread is
    still making (``busy()`` true: a :class:`plumbing.worker.PduWorker` encoding) would wait
    up to 250 ms. So while ``busy()``, this polls ``q`` every millisecond for up to ``wait_s``
    (the block's messages wait meanwhile: at most one item's work). Measured on
    ``sfma_encoder``: a slot left 250 ms after its images, now about when it is formed.
    """
    t_end = None
    while True:
        try:
            return q.get_nowait()
        except queue.Empty:
            pass
        if busy is None or not busy():
            try:  # the worker may have put its item and finished since the first look
                return q.get_nowait()
            except queue.Empty:
                time.sleep(0.001)
                return None
        now = time.monotonic()
        if t_end is None:
            t_end = now + wait_s
        elif now > t_end:
            return None
        time.sleep(0.001)


class FrameTx:
    """The frame a stream-source block is sending: ``(symbols, tags)``, written in chunks.

    The tags (``(key, pmt value)`` pairs) go on the frame's first item.
    """

    def __init__(self) -> None:
        self._frame: tuple[Any, list] | None = None
        self._pos = 0

    @property
    def idle(self) -> bool:
        """No frame is being sent."""
        return self._frame is None

    @property
    def fresh(self) -> bool:
        """A frame is waiting whose first item has not been written yet."""
        return self._frame is not None and self._pos == 0

    def start(self, frame: tuple[Any, list]) -> None:
        self._frame, self._pos = frame, 0

    def write(self, block, out, at: int = 0) -> tuple[int, bool]:
        """Copy the next chunk into ``out`` from its item ``at`` (what this ``work`` call has
        written before); returns ``(items written, frame finished)``."""
        sym, tags = self._frame
        if self._pos == 0:
            off = block.nitems_written(0) + at
            for key, val in tags:
                block.add_item_tag(0, off, pmt.intern(key), val)
        n = min(len(out) - at, sym.size - self._pos)
        out[at : at + n] = sym[self._pos : self._pos + n]
        self._pos += n
        if self._pos >= sym.size:
            self._frame = None
            return n, True
        return n, False


class FrameSource:
    """``work`` of a block that sends one frame per PDU on its stream output
    (``channel_encoder``, ``djscc_encoder``): mix in before ``gr.sync_block``. The block keeps
    ``self._queue`` (what its PDU handler queued) and ``self._tx`` (a :class:`FrameTx`) and
    defines ``_start_frame(item)``: start the frame of a queued item (False: none, the item is
    dropped); it may define ``_ready()`` (False: send nothing yet), ``_filler()`` (a frame
    to send before any queued item, e.g. a beacon; None: none) and ``_frame_fresh()`` (called
    when a frame's first items are about to go out). Every frame sent is counted in
    ``frames_out``."""

    def _ready(self) -> bool:
        return True

    def _filler(self) -> tuple[Any, list] | None:
        return None

    def _frame_fresh(self) -> None:
        pass

    def work(self, input_items, output_items):
        if not self._ready():
            time.sleep(0.001)
            return 0
        t0 = time.thread_time()
        try:
            return self._send(output_items)
        finally:
            self.add_busy("work", time.thread_time() - t0)

    def _send(self, output_items) -> int:
        """As many whole frames as are waiting and fit (issue 23: the stream then carries the
        frames of a burst together, and the receivers behind find them together); the first
        may wait for its item (:func:`next_item`), the others are taken only when queued."""
        out, total = output_items[0], 0
        while total < len(out):
            if self._tx.idle:
                if total and not self._ready():
                    break
                filler = self._filler()
                if filler is not None:
                    self._tx.start(filler)
                else:
                    item = next_item(self._queue) if total == 0 else _queued(self._queue)
                    if item is None:
                        break
                    if not self._start_frame(item):
                        continue  # dropped (logged, counted): the next one
            if self._tx.fresh:
                self._frame_fresh()
            n, done = self._tx.write(self, out, total)
            total += n
            if not done:
                break  # the output is full: the rest of the frame next time
            self._counts["frames_out"] += 1
        return total


def _queued(q: queue.Queue) -> Any | None:
    try:
        return q.get_nowait()
    except queue.Empty:
        return None


class MultiFrameTx:
    """One slot in flight on several aligned stream outputs: equal-length frames, each with
    its own tags on its first item, written in the same chunks to every output."""

    def __init__(self) -> None:
        self._slot: list[tuple[np.ndarray, list]] | None = None
        self._pos = 0

    @property
    def idle(self) -> bool:
        return self._slot is None

    def start(self, slot: list[tuple[np.ndarray, list]]) -> None:
        if len({s.size for s, _ in slot}) != 1:
            raise ValueError("the frames of a slot must have one length")
        self._slot, self._pos = slot, 0

    def write(self, block, outs) -> tuple[int, bool]:
        """Copy the next chunk into every output; returns ``(items, slot finished)``."""
        size = self._slot[0][0].size
        if self._pos == 0:
            for port, (_, tags) in enumerate(self._slot):
                off = block.nitems_written(port)
                for key, val in tags:
                    block.add_item_tag(port, off, pmt.intern(key), val)
        n = min(min(len(o) for o in outs), size - self._pos)
        for o, (sym, _) in zip(outs, self._slot, strict=False):
            o[:n] = sym[self._pos : self._pos + n]
        self._pos += n
        if self._pos >= size:
            self._slot = None
            return n, True
        return n, False
