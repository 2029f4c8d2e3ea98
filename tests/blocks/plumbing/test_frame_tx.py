"""plumbing.frame_tx.next_item: the wait of a stream-source block for its next frame.

GNU Radio 3.10 calls again the ``work`` of a source that returned 0 only when a message
arrives or after 250 ms. An item that a worker thread is still making (``busy()``) must be
waited for inside ``work``, or it sits up to 250 ms (sfma_encoder's slots did).
"""

from __future__ import annotations

import queue
import threading

from gnuradio.semdacom.plumbing.frame_tx import next_item
from gnuradio.semdacom.plumbing.worker import PduWorker


def test_an_item_a_busy_worker_is_making_is_waited_for() -> None:
    q: queue.Queue = queue.Queue()
    gate = threading.Event()

    def fn(item) -> None:
        gate.wait(5.0)
        q.put(item)

    w = PduWorker(fn, "test_worker")
    w.start()
    try:
        w.submit("slot")
        assert w.busy()
        threading.Timer(0.05, gate.set).start()
        assert next_item(q, w.busy) == "slot"
        assert next_item(q, w.busy) is None  # nothing left, nothing in the making
    finally:
        w.stop()
    assert not w.busy()


def test_without_work_in_the_making_it_returns_at_once() -> None:
    q: queue.Queue = queue.Queue()
    assert next_item(q) is None
    assert next_item(q, lambda: False) is None
    q.put(1)
    assert next_item(q, lambda: False) == 1


def test_a_worker_that_never_delivers_is_waited_for_at_most_wait_s() -> None:
    q: queue.Queue = queue.Queue()
    assert next_item(q, lambda: True, wait_s=0.02) is None
