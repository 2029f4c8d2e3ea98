#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The allocations a block takes on ``cmd``, applied at frame boundaries (AllocationSchedule)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

from gnuradio.semdacom import messages

__all__ = ["AllocationSchedule"]


class AllocationSchedule:
    """Pending allocations applied at frame boundaries: the Python twin of the C++
    ``allocation_schedule`` (include/gnuradio/semdacom/allocation_schedule.h).

    :meth:`push` takes an allocation whose ``seq`` is newer than every ``seq`` pushed before
    (the first one is always taken) and returns False, taking nothing, for an older or equal
    one. :meth:`on_frame` applies, in ``apply_frame`` order (arrival order within a frame),
    every queued allocation with ``apply_frame <= frame``: each key of ``keys`` it carries
    overrides the value in force. ``on_frame(None)`` (a PDU without a frame number) applies
    every queued allocation. The values in force are read with :meth:`get`.
    """

    def __init__(self, keys: Sequence[str], initial: dict | None = None) -> None:
        self.keys = tuple(keys)
        self._state: dict[str, Any] = dict(initial or {})
        self._pending: list[messages.Allocation] = []
        self._frames: list[int] = []  # apply_frame of each pending allocation
        self.last_seq: int | None = None
        self.applied_seq: int | None = None

    def push(self, alloc: messages.Allocation) -> bool:
        """Queue ``alloc``; False (nothing queued) when its seq is not newer."""
        if self.last_seq is not None and alloc.seq <= self.last_seq:
            return False
        self.last_seq = int(alloc.seq)
        pos = bisect.bisect_right(self._frames, alloc.apply_frame)
        self._frames.insert(pos, int(alloc.apply_frame))
        self._pending.insert(pos, alloc)
        return True

    def accept(self, alloc: messages.Allocation) -> None:
        """:meth:`push`, raising MessageError for an allocation that is not newer."""
        if not self.push(alloc):
            raise messages.MessageError(
                f"allocation seq={alloc.seq} is not newer than seq={self.last_seq}"
            )

    def on_frame(self, frame: int | None) -> bool:
        """Apply every queued allocation due at ``frame``; True if one was applied."""
        n = 0
        while n < len(self._pending) and (frame is None or self._frames[n] <= frame):
            a = self._pending[n]
            for key in self.keys:
                value = getattr(a, key)
                if value is not None:
                    self._state[key] = value
            self.applied_seq = int(a.seq)
            n += 1
        del self._pending[:n]
        del self._frames[:n]
        return n > 0

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` in force (``default`` while none was applied)."""
        return self._state.get(key, default)

    @property
    def pending(self) -> int:
        return len(self._pending)
