#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The allocations a block takes on ``cmd``, applied at frame boundaries (AllocationSchedule)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gnuradio.semdacom import messages

__all__ = ["AllocationSchedule"]


class AllocationSchedule:
    """Pending allocations applied at frame boundaries: the Python twin of the C++
    ``allocation_schedule`` (include/gnuradio/semdacom/allocation_schedule.h); both follow
    the rules below (docs/blocks/implementation_notes.md, "The allocation path") and
    tests/blocks/test_cmd_conformance.py checks that they agree message for message.

    **Identity.** An allocation is ``(epoch, seq)``: ``epoch`` is the publisher instance
    (absent = 0), ``seq`` counts within it. :meth:`push` takes

    - the first allocation;
    - one of the epoch in force whose ``seq`` is greater than every seq taken in it;
    - one of a new epoch, whatever its seq (a restarted optimiser numbers from 1 again, and
      ``seq = 2**64-1`` blocks only its own epoch): the old epoch is retired and every
      allocation it left pending is dropped (the new instance's plan replaces the old one's
      whole; keeping them would let the old plan override the new one later). The values in
      force stay until the new epoch's first allocation is due (a block keeps its last good
      state). Counted in :attr:`epoch_resets`.

    It refuses (returns False, nothing changes) an older or equal seq of the epoch in force,
    an allocation of one of the last :attr:`MAX_RETIRED_EPOCHS` retired epochs (a late message
    of the replaced instance must not switch back to it), and one that finds the queue full.

    **Ordering: the greater seq wins.** Within an epoch a greater ``seq`` is a newer decision
    whatever the ``apply_frame``\\ s. The value of a key in force at frame ``t`` is the one of
    the newest allocation carrying that key with ``apply_frame <= t``. So a new allocation
    ``(seq s, apply_frame f)`` *supersedes* the keys it carries in every pending older
    allocation due at ``f`` or later; an older allocation left with no key (of this
    schedule's ``keys``) is dropped (counted in :attr:`superseded`); one due before ``f``
    applies at its frame, then ``s`` overrides it at ``f``. Example: seq 5 for frame 100, then
    seq 6 for frame 50 (both with the same keys): seq 5 is dropped and seq 6 is in force from
    frame 50 on, at frame 120 too.

    **Bound.** At most :attr:`MAX_PENDING` (64, as the CSI queues) allocations wait. An
    allocation that would be the 65th is refused, counted in :attr:`dropped_full`, and the
    block logs it (the ``cmd`` port's rejection): the ones already queued are due earlier
    (after superseding, the pending ones are in ``apply_frame`` order and a full queue only
    builds up from allocations for frames far ahead), they are the ones the frames about to
    be sent use, and the next allocation of the optimiser supersedes the refused one anyway.
    Legitimate traffic queues at most ``apply_lead`` allocations.

    :meth:`on_frame` applies, in ``apply_frame`` order (arrival order within a frame), every
    queued allocation with ``apply_frame <= frame``: each key of ``keys`` it (still) carries
    overrides the value in force; ``applied_seq``/``applied_epoch`` become its own.
    ``on_frame(None)`` (a PDU without a frame number) applies every queued allocation. The
    values in force are read with :meth:`get`.
    """

    #: allocations waiting at most (the C++ allocation_schedule::MAX_PENDING)
    MAX_PENDING = 64
    #: retired epochs remembered (the C++ allocation_schedule::MAX_RETIRED_EPOCHS)
    MAX_RETIRED_EPOCHS = 8

    def __init__(self, keys: Sequence[str], initial: dict | None = None) -> None:
        self.keys = tuple(keys)
        self._state: dict[str, Any] = dict(initial or {})
        # pending: [apply_frame, seq, epoch, {key: value}] sorted by apply_frame, stable
        self._pending: list[list] = []
        self.last_seq: int | None = None
        #: the ``apply_frame`` of the last allocation queued
        self.last_apply_frame: int | None = None
        self.epoch: int = 0
        self.applied_seq: int | None = None
        self.applied_epoch: int | None = None
        self._retired: list[int] = []
        self.epoch_resets = 0
        self.superseded = 0
        self.dropped_full = 0
        self.reason = ""  # why the last push was refused

    def push(self, alloc: messages.Allocation) -> bool:
        """Queue ``alloc``; False (nothing changes, :attr:`reason` says why) when refused."""
        seq, frame, epoch = int(alloc.seq), int(alloc.apply_frame), int(alloc.epoch)
        values = {k: getattr(alloc, k) for k in self.keys if getattr(alloc, k) is not None}
        new_epoch = self.last_seq is not None and epoch != self.epoch
        if new_epoch and epoch in self._retired:
            self.reason = f"allocation epoch={epoch} was retired (a newer epoch took over)"
            return False
        if self.last_seq is not None and not new_epoch and seq <= self.last_seq:
            self.reason = f"allocation seq={seq} is not newer than seq={self.last_seq}"
            return False
        if new_epoch:
            kept: list[list] = []
        else:
            kept = [p for p in self._pending if p[0] < frame or not p[3].keys() <= values.keys()]
        if len(kept) >= self.MAX_PENDING:
            self.dropped_full += 1
            self.reason = (
                f"allocation seq={seq} dropped: {self.MAX_PENDING} allocations already wait"
            )
            return False
        if new_epoch:
            self._retired = (self._retired + [self.epoch])[-self.MAX_RETIRED_EPOCHS :]
            self.epoch_resets += 1
        else:
            self.superseded += len(self._pending) - len(kept)
            for p in kept:
                if p[0] >= frame:
                    p[3] = {k: v for k, v in p[3].items() if k not in values}
        pos = len(kept)
        while pos > 0 and kept[pos - 1][0] > frame:
            pos -= 1
        kept.insert(pos, [frame, seq, epoch, values])
        self._pending = kept
        self.last_seq, self.epoch, self.reason = seq, epoch, ""
        self.last_apply_frame = frame
        return True

    def accept(self, alloc: messages.Allocation) -> None:
        """:meth:`push`, raising MessageError (with the reason) for a refused allocation."""
        if not self.push(alloc):
            raise messages.MessageError(self.reason)

    def on_frame(self, frame: int | None) -> bool:
        """Apply every queued allocation due at ``frame``; True if one was applied."""
        n = 0
        while n < len(self._pending) and (frame is None or self._pending[n][0] <= frame):
            _, seq, epoch, values = self._pending[n]
            self._state.update(values)
            self.applied_seq, self.applied_epoch = seq, epoch
            n += 1
        del self._pending[:n]
        return n > 0

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` in force (``default`` while none was applied)."""
        return self._state.get(key, default)

    @property
    def pending(self) -> int:
        return len(self._pending)
