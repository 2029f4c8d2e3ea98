"""The shared block-test harness of tests/blocks (and tests/fuzz).

``BlockHarness`` runs one block in a flowgraph: a ``message_debug`` stores what each of its
output message ports publishes, an optional stream source feeds its stream input and a vector
sink takes its stream output; messages are posted straight to its input ports. ``wait_until``
polls with a deadline, so a block whose thread died fails a test instead of hanging it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

TIMEOUT_S = 20.0


def wait_until(cond: Callable[[], bool], timeout: float = TIMEOUT_S, what: str = "") -> None:
    """Poll ``cond`` until it holds; AssertionError after ``timeout`` seconds."""
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, f"timed out waiting for {what or cond}"
        time.sleep(0.002)


def make_tag(offset: int, key: str, value: Any) -> gr.tag_t:
    """A stream tag ``key = value`` at ``offset``."""
    t = gr.tag_t()
    t.offset = int(offset)
    t.key = pmt.intern(key)
    t.value = value
    return t


class IdleSource(gr.sync_block):
    """A complex stream that never produces samples (message-only use of a stream block)."""

    def __init__(self) -> None:
        gr.sync_block.__init__(self, name="idle_source", in_sig=None, out_sig=[np.complex64])

    def work(self, input_items, output_items):
        time.sleep(0.002)
        return 0


class BlockHarness:
    """One block running in a flowgraph, its output ports collected.

    Parameters
    ----------
    blk : gr block
        The block under test.
    out_ports : sequence of str
        Output message ports to collect (one ``message_debug`` each).
    stream_in : "idle", a complex64 array, or None
        Feed of stream input 0 (``"idle"``: a source that never produces; an array: a vector
        source with ``tags``).
    stream_out : bool
        Connect stream output 0 to a vector sink.
    """

    def __init__(
        self,
        blk: Any,
        out_ports: Sequence[str] = (),
        *,
        stream_in: Any = None,
        tags: Sequence[gr.tag_t] = (),
        stream_out: bool = False,
        start: bool = True,
    ) -> None:
        self.tb = gr.top_block()
        self.blk = blk
        self.dbg = {p: blocks.message_debug() for p in out_ports}
        for port, dbg in self.dbg.items():
            self.tb.msg_connect((blk, port), (dbg, "store"))
        self.src = None
        if isinstance(stream_in, str) and stream_in == "idle":
            self.src = IdleSource()
        elif stream_in is not None:
            data = np.asarray(stream_in, np.complex64).tolist()
            self.src = blocks.vector_source_c(data, False, 1, list(tags))
        if self.src is not None:
            self.tb.connect(self.src, blk)
        self.sink = None
        if stream_out:
            self.sink = blocks.vector_sink_c()
            self.tb.connect(blk, self.sink)
        self.running = False
        if start:
            self.start()

    def start(self) -> None:
        self.tb.start()
        self.running = True

    def post(self, port: str, msg: Any) -> None:
        """Post ``msg`` to input port ``port`` (handled in order, in the block's thread)."""
        self.blk.to_basic_block()._post(pmt.intern(port), msg)

    def n_out(self, port: str) -> int:
        return self.dbg[port].num_messages()

    def out(self, port: str, reader: Callable[[Any], Any] | None = None) -> list:
        """Messages published on ``port`` so far (through ``reader`` when given)."""
        dbg = self.dbg[port]
        msgs = [dbg.get_message(i) for i in range(dbg.num_messages())]
        return [reader(m) for m in msgs] if reader else msgs

    def wait_out(self, port: str, n: int, timeout: float = TIMEOUT_S) -> None:
        wait_until(lambda: self.n_out(port) >= n, timeout, f"{n} messages on {port}")

    def stop(self) -> None:
        if self.running:
            self.tb.stop()
            self.tb.wait()
            self.running = False

    def stream_data(self) -> np.ndarray:
        return np.array(self.sink.data(), dtype=np.complex64)

    def stream_tags(self) -> list[tuple[int, str, Any]]:
        return [(t.offset, pmt.symbol_to_string(t.key), t.value) for t in self.sink.tags()]


@pytest.fixture
def block_harness() -> Iterator[Callable[..., BlockHarness]]:
    """``block_harness(blk, out_ports, ...)`` -> a running BlockHarness, stopped at teardown.

    The factory also carries ``block_harness.tag`` (:func:`make_tag`) and
    ``block_harness.wait_until`` (:func:`wait_until`).
    """
    made: list[BlockHarness] = []

    def make(*args: Any, **kwargs: Any) -> BlockHarness:
        h = BlockHarness(*args, **kwargs)
        made.append(h)
        return h

    make.tag = make_tag  # type: ignore[attr-defined]
    make.wait_until = wait_until  # type: ignore[attr-defined]
    yield make
    for h in made:
        h.stop()
