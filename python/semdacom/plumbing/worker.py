#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""A thread that handles a message block's PDUs in arrival order, off the message thread
(PduWorker).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from gnuradio.semdacom.plumbing.torch_threads import block_thread

__all__ = ["PduWorker"]


#: Images (PDUs) one block of a chain holds waiting at most: the worker's :attr:`PduWorker.CAP`,
#: the codecs' ``MAX_BACKLOG``, ``channel_encoder.MAX_QUEUED`` and ``source_encoder.MAX_HELD``.
#: A credit loop's ``prefill`` (images in flight per user, all of which may wait in one block)
#: must not exceed it: ``image_source`` refuses a larger one (issue 23).
MAX_IN_FLIGHT = 256


class PduWorker:
    """A thread that handles a message block's PDUs in arrival order, off the message thread.

    GNU Radio drains one input message port before it looks at the next, so a block whose
    PDU handler is slow (a neural encoder) and whose PDUs keep coming would handle its
    ``cmd`` port only after the PDUs stop: allocations arrive late. With the slow work here,
    the PDU handler only queues and returns, and ``cmd`` is handled at once. ``fn`` must not
    raise (it is the block's own guarded handler). Without :meth:`start` (a block used outside
    a running flowgraph) :meth:`submit` calls ``fn`` at once; :meth:`stop` handles what is
    still queued before it returns, so every PDU in gives its result out.

    **Bound** (issue 24): at most ``cap`` PDUs wait (default :attr:`CAP`). A PDU that arrives
    when ``cap`` wait is not queued: ``shed(item)`` runs at once on the caller's thread (the
    block's cheap erasure answer: the image still leaves as exactly one result, an erasure)
    (the block counts it in ``shed``). In a credit loop (examples/mu_ascc_loopback.grc) the
    queue never holds more than the credits; the cap matters where PDUs come at a rate the
    block cannot follow (a timer-paced source, a radio).

    **Batches** (issue 23): with ``batch_fn``, the thread takes what has queued up (at most
    ``batch`` items) and hands it to ``batch_fn(items)`` in one call (a coder codes them as one
    batch); ``fn`` still handles an item submitted without a running thread.
    """

    #: PDUs waiting at most (the allocation and CSI queues' cap is 64; images are larger, but a
    #: few hundred waiting images are already seconds of lag for a learned coder)
    CAP = MAX_IN_FLIGHT

    def __init__(
        self,
        fn: Callable[[Any], None],
        name: str,
        cap: int | None = None,
        shed: Callable[[Any], None] | None = None,
        batch_fn: Callable[[list], None] | None = None,
        batch: int = 64,
    ) -> None:
        self._fn = fn
        self._batch_fn = batch_fn
        self._batch = max(1, int(batch)) if batch_fn is not None else 1
        self._name = name
        self._cap = self.CAP if cap is None else int(cap)
        if self._cap < 1:
            raise ValueError(f"cap must be >= 1, got {cap!r}")
        self._shed = shed
        self._q: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        #: CPU seconds (thread time) in ``fn`` on the worker thread (Block.busy_s)
        self.busy_s = 0.0

    def submit(self, item: Any) -> None:
        if self._thread is None:
            self._fn(item)
        elif self._shed is not None and self._q.qsize() >= self._cap:
            self._shed(item)
        else:
            self._q.put(item)

    def busy(self) -> bool:
        """Items are queued or being handled: whatever ``fn`` puts out for them is still to
        come (a stream block's ``work`` waits for it, :func:`plumbing.frame_tx.next_item`).
        ``fn``'s results for an item are out before the item stops counting."""
        return self._q.unfinished_tasks > 0  # put, and not yet marked done by _run

    def _run(self) -> None:
        while True:
            items = [self._q.get()]
            block_thread()  # torch on one intra-op thread here too (plumbing.torch_threads)
            while len(items) < self._batch and items[-1] is not _STOP:
                try:
                    items.append(self._q.get_nowait())
                except queue.Empty:
                    break
            stop = items[-1] is _STOP
            work = items[:-1] if stop else items
            t0 = time.thread_time()
            try:
                if self._batch_fn is not None and work:
                    self._batch_fn(work)
                else:
                    for item in work:
                        self._fn(item)
            finally:
                self.busy_s += time.thread_time() - t0
                for _ in items:
                    self._q.task_done()
            if stop:
                return

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._q.put(_STOP)
            self._thread.join()
            self._thread = None


_STOP = object()
