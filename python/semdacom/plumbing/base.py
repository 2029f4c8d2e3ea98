#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The base of every Python block of gr-semdacom: :class:`Block`, a mixin put before the GNU
Radio parent (``class my_block(Block, gr.basic_block)``).

It owns what every block does the same way, so that a block file holds only what is
particular to it:

- the counters (:meth:`Block.setup` names them, :meth:`Block.counters` returns a copy,
  :meth:`Block.count` adds to one);
- input message ports with a guarded handler (:meth:`Block.message_in`): a message whose
  handler raises is logged with the reason, counted and dropped; the block keeps its last good
  state and no exception reaches the scheduler's thread;
- the ``cmd`` port of a block that takes allocations (:meth:`Block.take_allocations`: an
  :class:`~gnuradio.semdacom.plumbing.schedule.AllocationSchedule` as ``self._sched``, or
  :meth:`Block.cmd_in` for a block with its own schedule), counted in ``cmd_accepted`` /
  ``cmd_rejected``, and the ``csi`` port likewise (:meth:`Block.csi_in`);
- every input gives exactly one output or erasure (:meth:`Block.answer`, :meth:`Block.send`,
  :meth:`Block.erasure`), counted in ``pdus_out`` and ``erasures``;
- a message-only block fed by several upstreams does not stop at the first one's end
  (:meth:`Block.hold_done`).

A ``gr.basic_block`` subclass must call its GNU Radio parent's ``__init__`` first, then
:meth:`Block.setup`; the mixin has no ``__init__`` of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pmt
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.meta import erasure_meta, pdu_or_bare
from gnuradio.semdacom.plumbing.schedule import AllocationSchedule
from gnuradio.semdacom.plumbing.torch_threads import block_thread

__all__ = ["Block", "guarded"]

#: the cdr of a held ``done`` posted back by :meth:`Block._done_timer`
_FORCED = pmt.intern("semdacom_done_after_grace")


def guarded(
    logger, counts: dict, counter: str | None, handler: Callable[[Any], Any], msg: Any
) -> bool:
    """Run a handler so that no exception escapes into the scheduler thread: a
    :class:`messages.MessageError` or any other error is logged, counted in
    ``counts[counter]`` (unless None) and the message is dropped. True when the handler returned."""
    try:
        handler(msg)
        return True
    except messages.MessageError as exc:
        if counter is not None:
            counts[counter] += 1
        logger.error(f"dropped message: {exc}")
    except Exception as exc:  # a handler must never kill the thread
        if counter is not None:
            counts[counter] += 1
        logger.error(f"dropped message after {type(exc).__name__}: {exc}")
    return False


class Block:
    """Mixin of every Python block (see the module text): counters, guarded message ports,
    the ``cmd`` and ``csi`` ports, one output per input."""

    _counts: dict[str, int]
    #: a "done" held by :meth:`hold_done` (None: none held)
    _done_held: Any = None
    #: seconds without a message after which a held "done" finishes the block anyway
    DONE_GRACE_S = 5.0

    # ------------------------------------------------------------------ counters
    def setup(self, counters: Iterable[str]) -> None:
        """Name the block's counters (all start at 0); call it right after the GNU Radio
        parent's ``__init__``."""
        self._counts = dict.fromkeys(counters, 0)

    def busy_s(self) -> dict[str, float]:
        """CPU seconds (``time.thread_time``: not the waits for the GIL or for input) spent so
        far in each input message port's handler (by port name), in a plumbing ``work``
        (``"work"``: ``FrameSource``, ``FrameReceiver``) and, for a block with a
        :class:`~.worker.PduWorker` as ``self._worker``, on its worker (``"worker"``): the
        per-block profile of bench/block_profile.py."""
        out = dict(self.__dict__.get("_busy", {}))
        worker = getattr(self, "_worker", None)
        if worker is not None and hasattr(worker, "busy_s"):
            out["worker"] = worker.busy_s
        return out

    def add_busy(self, part: str, seconds: float) -> None:
        """Add ``seconds`` of CPU time to ``part`` of :meth:`busy_s`."""
        busy = self.__dict__.setdefault("_busy", {})
        busy[part] = busy.get(part, 0.0) + seconds

    def counters(self) -> dict[str, int]:
        """The block's counters (a copy)."""
        return dict(self._counts)

    def count(self, name: str, n: int = 1) -> None:
        self._counts[name] += n

    # ------------------------------------------------------------------ message ports
    def message_in(
        self,
        port: str,
        handler: Callable[[Any], Any],
        *,
        rejected: str | None = None,
        accepted: str | None = None,
        arrived: str | None = None,
        dealt: str | None = None,
        then: Callable[[Any], None] | None = None,
        on_error: Callable[[Any, Exception], None] | None = None,
    ) -> None:
        """Register the input message port ``port``; each message goes to ``handler(msg)``.

        ``arrived`` is counted when a message arrives, ``accepted`` when the handler returns
        (then ``then(result)`` runs with what it returned), ``dealt`` once the message has
        been dealt with either way. A handler that raises: ``on_error(msg, exc)`` when given,
        else the message is logged, counted in ``rejected`` and dropped (:func:`guarded`).
        Nothing raised here reaches the scheduler's thread.
        """

        def run(msg: Any) -> None:
            result = handler(msg)
            if accepted is not None:
                self._counts[accepted] += 1
            if then is not None:
                then(result)

        def on_msg(msg: Any) -> None:
            t0 = time.thread_time()
            block_thread()  # torch on one intra-op thread in a block thread (torch_threads)
            if self._done_held is not None:
                self._done_busy(True)
            if arrived is not None:
                self._counts[arrived] += 1
            try:
                if on_error is None:
                    guarded(self.logger, self._counts, rejected, run, msg)
                else:
                    try:
                        run(msg)
                    except Exception as exc:
                        on_error(msg, exc)
            finally:
                if dealt is not None:
                    self._counts[dealt] += 1
                self.add_busy(port, time.thread_time() - t0)
                if self._done_held is not None:
                    self._done_progress()

        # The GNU Radio 3.10 gateway calls a handler by its attribute name: one per port.
        on_msg.__name__ = f"_on_port_{port}"
        setattr(self, on_msg.__name__, on_msg)
        self.message_port_register_in(pmt.intern(port))
        self.set_msg_handler(pmt.intern(port), on_msg)

    # ------------------------------------------------------------------ end of the flowgraph
    def hold_done(self, waiting: Callable[[], bool]) -> None:
        """Finish at the end of the flowgraph only once ``waiting()`` is false (nothing more
        expected), or after :attr:`DONE_GRACE_S` seconds without a message.

        GNU Radio 3.10 finishes a message-only block at the first ``done`` on its ``system``
        port, and every upstream block sends one when it ends: a block fed by several
        upstreams (``metrics_sink``: the decoders of every user and the references) stopped
        at the first upstream's end and left the others' later messages in its queue, never
        handled (tests/blocks/plumbing/test_base.py reproduces it; it was the lost results of
        docs/blocks/implementation_notes.md, "Batches"). Here a ``done`` that comes while
        ``waiting()`` is held; the block finishes (GNU Radio's own ``system_handler``) after
        the message with which ``waiting()`` turns false, or when no message came for
        :attr:`DONE_GRACE_S` (an upstream that died must not keep the flowgraph alive).

        Messages still queued count as expected (``waiting()`` knows only those handled: a
        ``done`` may overtake the messages its upstream sent before it). Silence is silence:
        the time a handler runs does not count, and a forced finish is re-checked when it is
        handled (a message may have come since it was posted). A ``waiting`` that raises
        counts as not waiting (logged), so the block still finishes; a start clears what a
        stopped run held."""
        self._done_waiting = waiting
        self._done_lock = threading.Lock()
        self._done_last = time.monotonic()
        self._done_running = False  # a handler is running (its time is not silence)
        port = pmt.intern("system")

        def on_system(msg: Any) -> None:
            done = False
            try:
                done = pmt.is_pair(msg) and pmt.eqv(pmt.car(msg), pmt.intern("done"))
                forced = done and pmt.eqv(pmt.cdr(msg), _FORCED)
                if forced:
                    if self._done_held is None:
                        return  # finished meanwhile
                    if self._done_silence() < self.DONE_GRACE_S or self._done_queued():
                        self._done_start_timer()  # a message came since: wait on
                        return
                    self.logger.warn(
                        f"finishing after {self.DONE_GRACE_S:g} s without a message although "
                        "more were expected (an upstream ended early)"
                    )
                    msg = self._done_held  # GNU Radio's own message
                elif done and (self._done_queued() or self._done_still_waiting()):
                    with self._done_lock:
                        first = self._done_held is None
                        self._done_held = msg
                        self._done_last = time.monotonic()
                    if first:
                        self._done_start_timer()
                    return
                self._done_finish(msg)
            except Exception as exc:  # never into the scheduler's thread
                self.logger.error(f"system: {type(exc).__name__}: {exc}")
                if done:  # the flowgraph must still end
                    self._done_finish(self._done_held if self._done_held is not None else msg)

        on_system.__name__ = "_on_port_system"
        setattr(self, on_system.__name__, on_system)
        self.set_msg_handler(port, on_system)

    def _done_still_waiting(self) -> bool:
        """``waiting()`` of :meth:`hold_done`; one that raises is logged and counts as not
        waiting (the block finishes rather than hang the flowgraph)."""
        try:
            return bool(self._done_waiting())
        except Exception as exc:
            self.logger.error(f"system: waiting(): {type(exc).__name__}: {exc}")
            return False

    def _done_finish(self, msg: Any) -> None:
        """Let GNU Radio finish the block with the ``done`` message ``msg``."""
        with self._done_lock:
            self._done_held = None
        try:
            self.to_basic_block().system_handler(msg)
        except Exception as exc:
            self.logger.error(f"system: {type(exc).__name__}: {exc}")

    def _done_busy(self, running: bool) -> None:
        """A handler starts (``running``) or ends, with a ``done`` held: it is not silence."""
        with self._done_lock:
            self._done_running = running
            self._done_last = time.monotonic()

    def _done_silence(self) -> float:
        """Seconds without a message (0 while a handler runs)."""
        with self._done_lock:
            return 0.0 if self._done_running else time.monotonic() - self._done_last

    def _done_queued(self) -> bool:
        """Whether messages wait in any input port but ``system`` (they will be handled)."""
        try:
            ports = pmt.to_python(self.to_basic_block().message_ports_in()) or []
        except Exception:
            return False
        return any(p != "system" and self.queued(p) > 0 for p in ports)

    def _done_start_timer(self) -> None:
        threading.Thread(target=self._done_timer, daemon=True,
                         name=f"{self.name()} done").start()  # fmt: skip

    def _done_progress(self) -> None:
        """After a message, with a ``done`` held: finish when nothing more is expected (runs
        after the port's guard: nothing it raises may reach the scheduler's thread)."""
        try:
            self._done_busy(False)
            if self._done_held is not None and not (
                self._done_queued() or self._done_still_waiting()
            ):
                held = self._done_held
                if held is not None:
                    self._done_finish(held)
        except Exception as exc:
            self.logger.error(f"system: {type(exc).__name__}: {exc}")

    def _done_reset(self) -> None:
        """Forget a ``done`` held by a run that was stopped (call from ``start``)."""
        if "_done_lock" in self.__dict__:
            with self._done_lock:
                self._done_held = None
                self._done_running = False
                self._done_last = time.monotonic()

    def _done_timer(self) -> None:
        """While a ``done`` is held: post it back, forced, after DONE_GRACE_S of silence (its
        handler checks the silence again: a message may come before it is handled)."""
        while True:
            time.sleep(min(0.25, self.DONE_GRACE_S / 4))
            if self._done_held is None:
                return
            if self._done_silence() >= self.DONE_GRACE_S:
                self.to_basic_block()._post(pmt.intern("system"),
                                            pmt.cons(pmt.intern("done"), _FORCED))  # fmt: skip
                return

    def queued(self, port: str) -> int:
        """Messages waiting in input port ``port``'s queue (GNU Radio's, which has no cap)."""
        return int(self.to_basic_block().nmsgs(pmt.intern(port)))

    def take_queued(self, port: str, limit: int, counter: str | None = "pdus_in") -> list:
        """Up to ``limit`` messages still waiting in input port ``port``'s queue, taken out of
        it in their order (a handler that batches them, issue 23; GNU Radio would otherwise
        hand them over one call at a time); counted in ``counter`` as they arrive."""
        queue_of, name, out = self.to_basic_block(), pmt.intern(port), []
        while len(out) < limit and queue_of.nmsgs(name) > 0:
            msg = queue_of.delete_head_nowait(name)
            if msg is None:
                break
            out.append(msg)
        if counter is not None:
            self._counts[counter] += len(out)
        return out

    def gather(self, port: str, limit: int, wait_s: float, counter: str | None = "pdus_in") -> list:
        """:meth:`take_queued`, after waiting up to ``wait_s`` seconds (0: not at all) for
        ``limit`` messages to be queued on ``port`` (issue 23: a handler that codes a batch
        whatever has arrived gets batches of one when its inputs come one by one; waiting
        lets a few more arrive, at the cost of at most ``wait_s`` of latency). The queue is
        looked at every ``wait_s / 8`` (at most 5 ms), so a full batch goes at once."""
        if wait_s > 0:
            deadline = time.monotonic() + wait_s
            step = min(wait_s / 8, 0.005)
            while self.queued(port) < limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(step, left))
        return self.take_queued(port, limit, counter)

    def message_out(self, *ports: str) -> None:
        """Register output message ports."""
        for port in ports:
            self.message_port_register_out(pmt.intern(port))

    def publish(self, port: str, msg: Any) -> None:
        self.message_port_pub(pmt.intern(port), msg)

    def cmd_in(self, accept: Callable[[Any], Any], then: Callable[[Any], None] | None = None):
        """The ``cmd`` port: ``accept(msg)`` validates and queues an allocation (raising
        :class:`messages.MessageError` for a malformed or older one); counted in
        ``cmd_accepted`` / ``cmd_rejected``; ``then(result)`` after an accepted one."""
        self.message_in("cmd", accept, rejected="cmd_rejected", accepted="cmd_accepted", then=then)

    def take_allocations(
        self,
        keys: Sequence[str],
        parse: Callable[[Any], messages.Allocation],
        *,
        initial: dict | None = None,
        then: Callable[[Any], None] | None = None,
    ) -> AllocationSchedule:
        """The ``cmd`` port of a block that takes allocations: ``parse(msg)`` gives the
        allocation, queued on ``self._sched`` (an :class:`AllocationSchedule` of ``keys``; one
        whose ``seq`` is not newer is rejected) and applied at frame boundaries by the block.
        Returns the schedule."""
        self._sched = AllocationSchedule(keys, initial)
        self.cmd_in(lambda msg: self._sched.accept(parse(msg)), then)
        return self._sched

    def csi_in(self, accept: Callable[[Any], Any]) -> None:
        """The ``csi`` port: ``accept(msg)`` takes a CSI (raising for a malformed one);
        counted in ``csi_accepted`` / ``csi_rejected``."""
        self.message_in("csi", accept, rejected="csi_rejected", accepted="csi_accepted")

    # ------------------------------------------------------------------ one output per input
    def answer(
        self,
        port: str,
        msg: Any,
        result: Callable[[Any], Any],
        erasure: Callable[[Any, str], Any],
    ) -> None:
        """Exactly one message out on ``port`` for the input ``msg``: ``result(msg)`` or, when
        it raises, the reason logged ("input PDU is an erasure: ...") and ``erasure(msg,
        reason)``; counted in ``pdus_out``."""
        try:
            out = result(msg)
        except Exception as exc:  # log, and let an explicit erasure leave instead
            out = self._erased_input(msg, exc, erasure)
        self._counts["pdus_out"] += 1
        self.message_port_pub(pmt.intern(port), out)

    def answer_all(
        self,
        port: str,
        msgs: Sequence[Any],
        prepare: Callable[[Any], tuple[Any, Any]],
        compute: Callable[[Any, list], list],
        erasure: Callable[[Any, str], Any],
    ) -> None:
        """:meth:`answer` for a batch (issue 23): exactly one message out on ``port`` per input
        of ``msgs``, in their order. ``prepare(msg)`` gives ``(key, item)`` (the operating
        point and what to code); the items of one key are computed together by
        ``compute(key, items)``, which returns one output per item. An input whose ``prepare``
        raises leaves as ``erasure(msg, reason)``; when a group's ``compute`` raises, its items
        are computed one at a time, so that one bad input erases only itself. Counted in
        ``pdus_out``."""
        outs: list[Any] = [None] * len(msgs)
        groups: dict[Any, list[tuple[int, Any]]] = {}
        for i, msg in enumerate(msgs):
            try:
                key, item = prepare(msg)
            except Exception as exc:
                outs[i] = self._erased_input(msg, exc, erasure)
                continue
            groups.setdefault(key, []).append((i, item))
        for key, members in groups.items():
            try:
                results = compute(key, [item for _, item in members])
                if len(results) != len(members):
                    raise RuntimeError(f"{len(results)} results for {len(members)} inputs")
                for (i, _), out in zip(members, results, strict=True):
                    outs[i] = out
            except Exception:
                for i, item in members:
                    try:
                        outs[i] = compute(key, [item])[0]
                    except Exception as exc:
                        outs[i] = self._erased_input(msgs[i], exc, erasure)
        out_port = pmt.intern(port)
        for out in outs:
            self._counts["pdus_out"] += 1
            self.message_port_pub(out_port, out)

    def _erased_input(self, msg: Any, exc: Exception, erasure: Callable[[Any, str], Any]) -> Any:
        reason = f"{type(exc).__name__}: {exc}"
        self.logger.error(f"input PDU is an erasure: {reason}")
        return erasure(msg, reason)

    def shed(self, port: str, msg: Any, erasure: Callable[[Any, str], Any], cap: int) -> None:
        """The drop policy of a full input queue (:class:`~.worker.PduWorker`'s ``shed``): the
        PDU is answered at once by ``erasure(msg, reason)`` on ``port`` instead of being
        coded, so it still leaves as exactly one result; counted in ``shed`` (and
        ``pdus_out``; the block names ``shed`` in its counters), logged for the first and then
        every 1000th."""
        self._counts["shed"] += 1
        reason = f"overloaded: {cap} PDUs already wait (answered as an erasure, not coded)"
        if self._counts["shed"] % 1000 == 1:
            self.logger.warn(f"{reason}; shed so far: {self._counts['shed']}")
        out = erasure(msg, reason)
        self._counts["pdus_out"] += 1
        self.message_port_pub(pmt.intern(port), out)

    def erasure(
        self, build: Callable[[dict, Any], Any], meta: dict, reason: str, fill: Any, drop=()
    ) -> Any:
        """The erasure PDU ``build(meta, fill)`` with :func:`meta.erasure_meta` (``erased``,
        ``erasure_reason``, ``user``; the keys ``drop`` removed); counted in ``erasures``."""
        self._counts["erasures"] += 1
        meta = erasure_meta(meta, reason, self._user, drop=drop)
        return pdu_or_bare(build, meta, fill)

    def send(
        self,
        port: str,
        build: Callable[[dict, Any], Any],
        meta: dict,
        payload: Any,
        fill: Any,
        reason: str | None = None,
    ) -> None:
        """The one result of one input on ``port``: ``payload`` with ``meta`` (``erased``
        false) or, when ``payload`` is None, the erasure of ``reason`` with ``fill``; counted
        in ``pdus_out``."""
        if payload is None:
            out = self.erasure(build, meta, reason or "?", fill)
        else:
            meta["erased"] = False
            out = pdu_or_bare(build, meta, payload)
        self._counts["pdus_out"] += 1
        self.message_port_pub(pmt.intern(port), out)
