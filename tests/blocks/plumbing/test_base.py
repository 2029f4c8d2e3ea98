"""plumbing.base.Block: the per-port CPU time of the block profile (bench/block_profile.py)."""

from __future__ import annotations

import time

import pmt
from gnuradio import gr
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.worker import PduWorker


def _burn(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU time (a sleep is not CPU time)."""
    t0 = time.thread_time()
    while time.thread_time() - t0 < seconds:
        sum(range(1000))


class _Slow(Block, gr.basic_block):
    def __init__(self) -> None:
        gr.basic_block.__init__(self, name="slow", in_sig=None, out_sig=None)
        self.setup(("in", "bad"))
        self.message_in("in", self._take, arrived="in", rejected="bad")
        self._worker = PduWorker(lambda item: _burn(0.02), "slow_worker")

    def _take(self, msg) -> None:
        _burn(0.01)
        time.sleep(0.05)  # waiting is not counted
        if pmt.is_null(msg):
            raise ValueError("no")


def test_busy_s_adds_up_each_ports_handler_time_and_the_workers() -> None:
    blk = _Slow()
    assert blk.busy_s() == {"worker": 0.0}
    for msg in (pmt.PMT_T, pmt.PMT_NIL, pmt.PMT_T):  # a handler that raises counts too
        blk._on_port_in(msg)
    blk._worker.start()
    blk._worker.submit(1)
    blk._worker.stop()
    busy = blk.busy_s()
    assert blk.counters() == {"in": 3, "bad": 1}
    assert 0.03 <= busy["in"] < 0.1 and 0.02 <= busy["worker"] < 0.1
