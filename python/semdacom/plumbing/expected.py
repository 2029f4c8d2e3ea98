#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Expected-frame accounting of a receiver (issue 21: every image accounted for over the air).

The base station numbers its frames consecutively (``channel_encoder``'s ``first_frame``, one
frame per image); every burst's header carries the number (docs/ota.md §2). A user that misses a
burst entirely (a fade, a burst not found) sees a gap in the numbers, and one whose first or
last bursts are lost sees nothing at all. :class:`ExpectedFrames` tells the receiver (the user's
``channel_decoder``, the first block that sees the frame numbers) which frames it owes a
result for, so that it answers each with an erasure (``frame_missing``):

- between two frames received: every number skipped;
- before the first: from ``first`` (the first frame the base station sends) when known;
- after the last: up to ``first + count - 1`` when the number of frames sent (``count``) is
  known, once the receiver decides the rest will not come (an idle time, or the flowgraph's
  stop).

A jump of more than :data:`MAX_FILL` frames forward, or any step back, is a restart of the
sender (a new numbering), not a loss: nothing is filled, the jump is counted. A frame that
arrives after its number was answered already (filled at the end) is late: the receiver drops
it, so that each frame still gives exactly one result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gnuradio.semdacom.plumbing.checks import check_finite, check_int

__all__ = ["MAX_FILL", "ExpectedFrames", "FrameAccounting"]

#: Most frames filled in one gap: a larger jump is taken as a restart of the numbering (about
#: 80 s of frames at 20 ms; beyond that a receiver cannot tell an outage from a new sender).
MAX_FILL = 4096


class ExpectedFrames:
    """The frames a receiver owes a result for.

    Parameters
    ----------
    first : int or None
        First frame the sender sends (None: the first frame received).
    count : int
        Frames the sender sends from ``first`` (0: unknown, nothing is owed after the last
        frame received).
    """

    def __init__(self, first: int | None = None, count: int = 0) -> None:
        if first is not None and (isinstance(first, bool) or int(first) < 0):
            raise ValueError(f"first must be None or a non-negative integer, got {first!r}")
        if isinstance(count, bool) or int(count) < 0:
            raise ValueError(f"count must be a non-negative integer, got {count!r}")
        self.first = None if first is None else int(first)
        self.count = int(count)
        self.next: int | None = self.first  # the next frame owed (None before any is known)
        self._closed_from: int | None = None  # frames from here were answered by close()
        self.last: int | None = None  # the last frame received
        self.filled = 0  # frames answered as missing
        self.jumps = 0  # restarts of the numbering (nothing filled)
        self.late = 0  # frames that arrived after they had been answered

    @property
    def end(self) -> int | None:
        """One past the last frame sent (None when unknown)."""
        if self.count == 0:
            return None
        start = self.first if self.first is not None else None
        return None if start is None else start + self.count

    def arrive(self, frame: int | None) -> tuple[list[int], bool]:
        """A frame numbered ``frame`` arrived (None: no number, nothing to account).

        Returns ``(missing, late)``: the frames skipped before it, to answer first, in order,
        and whether the frame itself was answered already (then it is to be dropped).
        """
        if frame is None or frame < 0:
            return [], False
        frame = int(frame)
        last, self.last = self.last, frame
        if self.next is None:  # the first frame received sets the start
            if self.first is None:
                self.first = frame
            self.next = frame + 1
            return [], False
        if self._closed_from is not None and self._closed_from <= frame < self.next:
            self.last = last
            self.late += 1
            return [], True
        if frame == last:  # the same frame again: answered again, nothing owed
            return [], False
        if frame < self.next or frame - self.next > MAX_FILL:
            # a step back or a jump: a new numbering
            self.jumps += 1
            self.next = frame + 1
            self._closed_from = None
            return [], False
        missing = list(range(self.next, frame))
        self.filled += len(missing)
        self.next = frame + 1
        return missing, False

    def close(self) -> list[int]:
        """The frames still owed up to the last one sent (empty when ``count`` or the first
        frame is unknown): the receiver gives up on them; a frame among them arriving later is
        late (:meth:`arrive`)."""
        end = self.end
        if end is None:
            return []
        if self.next is None:
            self.next = self.first
        if self.next >= end:
            return []
        missing = list(range(self.next, min(end, self.next + MAX_FILL)))
        if self._closed_from is None:
            self._closed_from = self.next
        self.filled += len(missing)
        self.next = missing[-1] + 1
        return missing

    def owed(self) -> int:
        """Frames still owed up to the last one sent (0 when unknown)."""
        end = self.end
        if end is None:
            return 0
        start = self.next if self.next is not None else self.first
        return max(0, end - start)


class FrameAccounting:
    """The expected-frame accounting of a block that receives numbered frames (the user's
    ``channel_decoder``): an :class:`ExpectedFrames` behind a lock, and the calls that answer
    the frames owed through ``missing(frame)`` (the block's erasure for a frame that never
    arrived).

    - :meth:`admit` before each frame received: answers the frames skipped before it; False
      when the frame was answered already (late: the block drops it).
    - With ``tail_s > 0`` a thread answers the frames owed after the last one received (up to
      ``first_frame + frame_count - 1``) once no frame has arrived for ``tail_s`` seconds;
      armed by the first frame received (a slow start is not an outage).
    - :meth:`stop` answers what is still owed. In a running flowgraph GNU Radio delivers no
      message a block publishes from its ``stop``: those frames are counted (``filled``) and
      logged, and ``metrics_sink`` reports their images as ``missing``.

    ``first_frame`` -1 and ``frame_count`` 0 (the defaults) account only for gaps between
    frames received.
    """

    def __init__(
        self, first_frame: int, frame_count: int, tail_s: float, missing: Callable[[int], None],
        logger,
    ) -> None:  # fmt: skip
        self.lock = threading.RLock()
        self._missing = missing
        self._logger = logger
        self._tail = 0.0
        self.frames = ExpectedFrames()
        self.configure(first_frame, frame_count, tail_s)
        self._last_t = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def configure(self, first_frame: int, frame_count: int, tail_s: float | None = None) -> None:
        """Set the first frame sent (-1: the first received), the frames sent (0: unknown) and,
        when given, ``tail_s`` (a timer is started by :meth:`start`); the accounting starts
        over."""
        first = check_int("first_frame", first_frame, -1)
        count = check_int("frame_count", frame_count, 0, 1 << 32)
        tail = self._tail if tail_s is None else check_finite("tail_s", tail_s, 0.0)
        with self.lock:
            self.frames = ExpectedFrames(None if first < 0 else first, count)
            self._tail = tail

    def admit(self, frame: int | None) -> bool:
        """Account for a frame received (call it holding :attr:`lock`): the frames skipped
        before it are answered first; False when ``frame`` was answered already."""
        missing, late = self.frames.arrive(frame)
        for f in missing:
            self._missing(f)
        if frame is not None and frame >= 0:
            self._last_t = time.monotonic()
        return not late

    def close(self, why: str) -> int:
        """Answer every frame still owed up to the last one sent; returns how many."""
        with self.lock:
            missing = self.frames.close()
            if missing:
                self._logger.warn(f"{len(missing)} frames never received ({why}): "
                                  f"{missing[0]}..{missing[-1]} answered as erasures")  # fmt: skip
            for f in missing:
                self._missing(f)
            return len(missing)

    def _run(self) -> None:
        step = min(0.1, self._tail / 4)
        while not self._stop.wait(step):
            try:
                with self.lock:  # checked and answered at once: no frame slips in between
                    idle = time.monotonic() - self._last_t
                    due = self.frames.last is not None and self.frames.owed() > 0
                    if due and idle > self._tail:
                        self.close(f"none for {self._tail:g} s after frame {self.frames.last}")
            except Exception as exc:  # the timer thread must not end on an error
                self._logger.error(f"frame accounting: {type(exc).__name__}: {exc}")

    def start(self) -> None:
        if self._tail > 0 and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="frame_accounting", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self.close("flowgraph stopped")
