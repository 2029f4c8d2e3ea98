#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The allocation an optimiser block has in force and how it leaves on ``alloc``
(AllocationPublisher), and what the optimiser blocks share around it (Optimizer).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pmt
from gnuradio.semdacom.plumbing.base import guarded
from gnuradio.semdacom.plumbing.channel_state import FRAME_JUMP_WINDOW, frame_jumped

__all__ = ["AllocationPublisher", "Optimizer"]


class AllocationPublisher:
    """The allocation a CSI-driven optimiser block (``mu_ascc_optimizer``, ``sfma_optimizer``)
    has in force, and how it leaves on the ``alloc`` port.

    :meth:`publish` sends a new allocation (and keeps it with the channel ``key`` it was
    solved for); :meth:`repeat` sends the one in force again when the same channel comes
    back; :meth:`fail` logs why a CSI gave no new allocation and re-publishes the one in
    force (nothing before the first), so downstream blocks keep their last good state.
    ``counts`` gets ``alloc_out``, ``republished`` and ``frame_resets``; ``reason`` is the last
    failure ("" after a success). Nothing here raises: a failure to publish is kept in
    ``reason``.

    ``epoch`` is this publisher instance's id, a random non-zero 64-bit number drawn at
    construction (the ``epoch`` key of every allocation it sends): a restarted optimiser has a
    new one, so the readers take its allocations although its ``seq`` starts from 1 again
    (``plumbing.schedule.AllocationSchedule``). When the CSI frame counter jumps (a frame
    more than ``FRAME_JUMP_WINDOW`` from the last CSI frame, ahead or back: a junk frame
    number or a restarted counter) :meth:`apply_frame` draws a new epoch, counts it in
    ``frame_resets`` and logs it: the readers then drop what was planned for the old
    numbering, as ``csi_combiner`` starts over on the same jump.
    """

    #: encoders (``sent`` users) remembered at most
    MAX_SENDERS = 64

    def __init__(self, block, port: Any, counts: dict, logger) -> None:
        self._block, self._port, self._counts, self._logger = block, port, counts, logger
        self.epoch = self._draw_epoch(0)
        self._csi_frame: int | None = None  # frame of the last CSI planned for
        self._sent_by: dict[Any, int] = {}  # each encoder's (user's) last ``sent`` frame
        self.msg: Any | None = None
        self.alloc: Any | None = None
        self.key: Any | None = None
        self.reason = ""

    def _send(self, msg: Any, republished: bool) -> None:
        self._block.message_port_pub(self._port, msg)
        self._counts["alloc_out"] += 1
        if republished:
            self._counts["republished"] += 1

    def publish(self, msg: Any, alloc: Any, key: Any) -> None:
        """Send a new allocation ``msg`` (``alloc``: its parsed form) solved for ``key``."""
        self.msg, self.alloc, self.key, self.reason = msg, alloc, key, ""
        self._send(msg, republished=False)

    def repeat(self, key: Any) -> bool:
        """Re-publish the allocation in force if it was solved for ``key``; False otherwise."""
        if self.msg is None or key != self.key:
            return False
        self.reason = ""
        self._send(self.msg, republished=True)
        return True

    @staticmethod
    def _draw_epoch(old: int) -> int:
        """A random non-zero 64-bit epoch other than ``old``."""
        while True:
            epoch = secrets.randbits(64)
            if epoch not in (0, old):
                return epoch

    def apply_frame(self, csi_frame: int | None, lead: int) -> int:
        """``apply_frame`` of an allocation solved for CSI of ``csi_frame`` (the first frame
        of that channel): ``csi_frame + lead``, the first allocation at ``csi_frame`` itself
        (nothing is in force to switch from); 0 (at once) with ``lead < 0`` or no frame. When
        the sender's frames are told (:meth:`on_sent`, within ``FRAME_JUMP_WINDOW`` of the
        CSI's), every allocation goes at ``max(csi_frame, frame_sent + 1) + lead`` (at
        ``frame_sent + 1 + lead`` for CSI without a frame). A frame
        counter that jumped starts a new epoch (see the class docstring)."""
        if csi_frame is not None:
            if frame_jumped(csi_frame, self._csi_frame):
                old, self.epoch = self.epoch, self._draw_epoch(self.epoch)
                self._counts["frame_resets"] += 1
                self._logger.warn(
                    f"CSI frame {csi_frame} is more than {FRAME_JUMP_WINDOW} frames from the "
                    f"last one ({self._csi_frame}): the frame counter jumped or restarted; "
                    f"allocations continue under a new epoch ({old} -> {self.epoch})"
                )
            self._csi_frame = int(csi_frame)
        if lead < 0:
            return 0
        sent = self.frame_sent
        ref = int(csi_frame) if csi_frame is not None else self._csi_frame
        if sent is not None and (ref is None or not frame_jumped(sent, ref)):
            # the sender is further than the CSI says (a report that trailed it: over the air
            # the users decode behind the base station), or the CSI has no frame (reports
            # whose headers failed): plan from what it has sent, so that no block gets the
            # allocation after its frame (every allocation, the first too: the sender has
            # its defaults in force, or sends beacons until then)
            base = sent + 1 if csi_frame is None else max(int(csi_frame), sent + 1)
            return base + int(lead)
        if csi_frame is None:
            return 0
        return int(csi_frame) if self.msg is None else int(csi_frame) + int(lead)

    def on_sent(self, frame: int, user: Any = None) -> None:
        """The sender ``user``'s channel encoder started sending ``frame`` (its ``sent``).
        Allocations are planned from the latest frame any encoder has started: the encoders
        of one base station run ahead of each other by up to their output buffers, and an
        allocation planned from the one behind could reach the one ahead after its frame (at
        initial access it then sends one beacon more than the others). A frame more than
        ``FRAME_JUMP_WINDOW`` from the latest is another numbering: what the other encoders
        said is forgotten."""
        frame = int(frame)
        if frame_jumped(frame, self.frame_sent):
            self._sent_by.clear()
        self._sent_by[user] = frame
        if len(self._sent_by) > self.MAX_SENDERS:  # junk user ids: keep the latest senders
            del self._sent_by[min(self._sent_by, key=self._sent_by.__getitem__)]

    @property
    def frame_sent(self) -> int | None:
        """The latest frame the base station started sending: the greatest of its encoders'
        last ``sent`` (None until one is told)."""
        return max(self._sent_by.values()) if self._sent_by else None

    def fail(self, reason: str) -> None:
        """Log ``reason`` and re-publish the allocation in force (if any)."""
        self.reason = reason
        try:
            if self.msg is None:
                self._logger.error(f"{reason}; no valid allocation yet, nothing published")
                return
            self._logger.error(f"{reason}; re-publishing allocation seq={self.alloc.seq}")
            self._send(self.msg, republished=True)
        except Exception as exc:  # even re-publishing must not end the thread
            self.reason = f"{reason}; {type(exc).__name__}: {exc}"


class Optimizer:
    """Mixin of the CSI-driven optimiser blocks (``mu_ascc_optimizer``, ``sfma_optimizer``),
    beside ``plumbing.base.Block``: the ``alloc`` output and its :class:`AllocationPublisher`
    (``self._out``, counting in the block's ``alloc_out``, ``republished`` and
    ``frame_resets``), and the
    inspection of the allocation in force."""

    #: CSI messages taken from the ``csi`` queue at most by one :meth:`newest_csi`
    MAX_CSI_BATCH = 1024

    def publish_allocations(self) -> None:
        """Register ``alloc``; call it after the counters are set up (they include
        ``csi_in``, ``csi_rejected`` and ``csi_superseded``)."""
        self.message_port_register_out(pmt.intern("alloc"))
        self._out = AllocationPublisher(self, pmt.intern("alloc"), self._counts, self.logger)

    def newest_csi(self, msg: Any, parse: Callable[[Any], Any]) -> Any:
        """The CSI to solve for: ``parse`` of the newest valid message among ``msg`` and the
        CSI messages still queued on ``csi`` behind it (taken out of the queue, counted in
        ``csi_in``). The older valid ones are superseded (counted in ``csi_superseded``): a
        solve that took longer than the CSI period would otherwise leave the optimiser
        solving channels further and further in the past, its allocations reaching the
        blocks after their ``apply_frame`` (the soak on a loaded machine: a backlog of up to
        1.4 s, 18 CSI periods); solving the newest keeps it one solve behind the channel.
        A malformed one (or one whose reading raised anything else) is logged and counted in
        ``csi_rejected`` like any; when none is valid the newest one's error is raised, for the
        block's handler to deal with as for a single message."""
        *older, last = [msg, *self.take_queued("csi", self.MAX_CSI_BATCH, counter="csi_in")]
        valid: list = []

        def read(m: Any) -> None:
            valid.append(parse(m))

        for m in older:  # a bad one logged and counted as on the port (plumbing.base.guarded)
            guarded(self.logger, self._counts, "csi_rejected", read, m)
        if not valid:  # the newest is the only candidate: its error goes to the block's handler
            return parse(last)
        guarded(self.logger, self._counts, "csi_rejected", read, last)
        self._counts["csi_superseded"] += len(valid) - 1
        return valid[-1]

    def last_allocation(self):
        """The allocation in force (None before the first successful solve)."""
        return self._out.alloc

    def epoch(self) -> int:
        """The epoch of the allocations this block publishes (random at start, redrawn when
        the CSI frame counter jumps)."""
        return self._out.epoch

    def last_reason(self) -> str:
        """Why the last CSI message did not produce a new allocation ("" if it did)."""
        return self._out.reason
