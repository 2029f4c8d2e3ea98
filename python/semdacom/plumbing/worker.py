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
from collections.abc import Callable
from typing import Any

__all__ = ["PduWorker"]


class PduWorker:
    """A thread that handles a message block's PDUs in arrival order, off the message thread.

    GNU Radio drains one input message port before it looks at the next, so a block whose
    PDU handler is slow (a neural encoder) and whose PDUs keep coming would handle its
    ``cmd`` port only after the PDUs stop: allocations arrive late. With the slow work here,
    the PDU handler only queues and returns, and ``cmd`` is handled at once. ``fn`` must not
    raise (it is the block's own guarded handler). Without :meth:`start` (a block used outside
    a running flowgraph) :meth:`submit` calls ``fn`` at once; :meth:`stop` handles what is
    still queued before it returns, so every PDU in gives its result out.
    """

    def __init__(self, fn: Callable[[Any], None], name: str) -> None:
        self._fn = fn
        self._name = name
        self._q: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def submit(self, item: Any) -> None:
        if self._thread is None:
            self._fn(item)
        else:
            self._q.put(item)

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _STOP:
                return
            self._fn(item)

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
