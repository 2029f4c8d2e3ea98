"""The shared block-test harness of tests/blocks.

``BlockHarness`` runs one block in a flowgraph: a ``message_debug`` stores what each of its
output message ports publishes, an optional stream source feeds its stream input and a vector
sink takes its stream output; messages are posted straight to its input ports. ``wait_until``
polls with a deadline, so a block whose thread died fails a test instead of hanging it.
``GatedSource`` feeds tagged streams and pauses at a chosen sample, so that messages can be
posted while a block is mid-stream (tests/flowgraphs uses it too, through its conftest).

Test files subclass it (``from block_harness import BlockHarness``: this module registers
itself under that name, since every test directory has a ``conftest``) and build instances
through the ``block_harness`` fixture, which stops them at teardown; a test module that defines
a subclass named ``Harness`` gets it from the ``harness`` fixture. ``run_stream`` runs a stream
block between a vector source and a ``message_debug``, ``run_until`` a flowgraph until its
sinks hold enough items; ``SFMA_VARIANTS`` are the SC-SFMA transceivers the blocks take.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

TIMEOUT_S = 20.0

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "src" / "semdacom" / "data" / "weights"
#: every superposing SC-SFMA transceiver the blocks take; a variant's tests skip only while its
#: shipped weights file is missing
SFMA_VARIANTS = [
    pytest.param(v, marks=pytest.mark.skipif(
        not (WEIGHTS_DIR / f"sfma_{v}.pt").exists(),
        reason=f"sfma_{v}.pt is not shipped yet (being trained)"))
    for v in ("sc_sfma", "swinjscc_noma")
]  # fmt: skip


def wait_until(cond: Callable[[], bool], timeout: float = TIMEOUT_S, what: str = "") -> None:
    """Poll ``cond`` until it holds; AssertionError after ``timeout`` seconds."""
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, f"timed out waiting for {what or cond}"
        time.sleep(0.002)


def make_tag(offset: int, key: Any, value: Any, srcid: str = "qa") -> gr.tag_t:
    """A stream tag ``key = value`` at ``offset`` (``key`` a str or a PMT symbol)."""
    key = pmt.intern(key) if isinstance(key, str) else key
    return gr.tag_utils.python_to_tag((int(offset), key, value, pmt.intern(srcid)))


def sink_tags(sink, value: Callable[[Any], Any] = lambda v: v) -> list[tuple[int, str, Any]]:
    """The tags a vector sink received: ``(offset, key, value(pmt value))``."""
    return [(t.offset, pmt.symbol_to_string(t.key), value(t.value)) for t in sink.tags()]


def run_stream(blk: Any, samples: Any, tags: Sequence, msgs=(), until: int | None = None) -> Any:
    """vector source (``samples`` with ``tags``) -> ``blk`` -> ``message_debug`` of its ``pdus``;
    the messages ``msgs`` (``(port, msg)``) are posted first (handled before the stream). Runs to
    the end of the stream, or with ``until`` until that many PDUs are out. Returns the debug."""
    tb = gr.top_block()
    if not isinstance(samples, list):
        samples = np.asarray(samples, np.complex64).tolist()
    src = blocks.vector_source_c(samples, False, 1, list(tags))
    dbg = blocks.message_debug()
    tb.connect(src, blk)
    tb.msg_connect((blk, "pdus"), (dbg, "store"))
    for port, m in msgs:
        blk.to_basic_block()._post(pmt.intern(port), m)
    if until is None:
        tb.run()
        return dbg
    tb.start()
    wait_until(lambda: dbg.num_messages() >= until, what=f"{until} PDUs")
    time.sleep(0.05)
    tb.stop()
    tb.wait()
    return dbg


def run_antennas(blk: Any, xs: Sequence, tags=None, chunk: int = 0, store: Sequence[str] = ()):
    """One vector source per input of ``blk`` (``xs[a]`` with ``tags[a]``) and a vector sink per
    output (``blk``'s outputs mirror its inputs, one per antenna), run to the end. Returns the
    outputs, each output's tags ``(offset, key)`` and ``{port: [messages]}`` of the output
    message ports named in ``store``. ``chunk`` caps the items per ``work`` call."""
    if chunk:
        blk.set_max_noutput_items(chunk)
    tb = gr.top_block()
    sinks = []
    for a, x in enumerate(xs):
        t = list(tags[a]) if tags else []
        src = blocks.vector_source_c(np.asarray(x, np.complex64).tolist(), False, 1, t)
        snk = blocks.vector_sink_c()
        tb.connect(src, (blk, a))
        tb.connect((blk, a), snk)
        sinks.append(snk)
    dbgs = {port: blocks.message_debug() for port in store}
    for port, dbg in dbgs.items():
        tb.msg_connect((blk, port), (dbg, "store"))
    tb.run()
    outs = [np.array(s.data(), np.complex64) for s in sinks]
    out_tags = [[(t.offset, pmt.symbol_to_string(t.key)) for t in s.tags()] for s in sinks]
    msgs = {p: [d.get_message(i) for i in range(d.num_messages())] for p, d in dbgs.items()}
    return outs, out_tags, msgs


def miso_link(tb: gr.top_block, encs: Sequence, decs: Sequence, h, w, p, noise) -> list:
    """Encoders -> ``superposition_beamformer`` (powers ``p``, beams ``w``) -> ``miso_channel``
    (channel ``h``, noise variances ``noise``, seed 5) -> decoders, each given the allocation on
    ``cmd`` and the channel's CSI; returns the decoders' ``message_debug`` of ``pdus``."""
    from gnuradio import semdacom
    from gnuradio.semdacom import messages

    k, n_t = h.shape
    dbgs = [blocks.message_debug() for _ in range(k)]
    bfm = semdacom.superposition_beamformer(k, n_t, list(p), list(w.reshape(-1)), 0)
    ch = semdacom.miso_channel(k, n_t, list(h.reshape(-1)), list(noise), 5, 0, 0)
    alloc = messages.alloc_to_pmt(messages.Allocation(seq=1, apply_frame=0, power=p, w=w))
    for u in range(k):
        tb.connect(encs[u], (bfm, u))
        tb.connect((ch, u), decs[u])
        tb.msg_connect((ch, "csi"), (decs[u], "csi"))
        tb.msg_connect((decs[u], "pdus"), (dbgs[u], "store"))
        decs[u].to_basic_block()._post(pmt.intern("cmd"), alloc)
    for a in range(n_t):
        tb.connect((bfm, a), (ch, a))
    return dbgs


def run_until(tb: gr.top_block, sinks: Sequence, n: int, what: str) -> None:
    """Run ``tb`` until every vector sink of ``sinks`` holds ``n`` items, then stop it."""
    tb.start()
    wait_until(lambda: all(len(s.data()) >= n for s in sinks), what=what)
    time.sleep(0.05)
    tb.stop()
    tb.wait()


class IdleSource(gr.sync_block):
    """A complex stream that never produces samples (message-only use of a stream block)."""

    def __init__(self) -> None:
        gr.sync_block.__init__(self, name="idle_source", in_sig=None, out_sig=[np.complex64])

    def work(self, input_items, output_items):
        time.sleep(0.002)
        return 0


class GatedSource(gr.sync_block):
    """Emits the rows of ``data`` (with ``tags``, ``(offset, key, value)``, on output 0); stops
    at sample ``hold_at`` until ``gate`` is set (or ``hold_timeout`` seconds have passed), so
    that a test can post messages while a block is mid-stream."""

    def __init__(
        self,
        data: np.ndarray,
        tags: Sequence[tuple[int, object, object]],
        hold_at: int,
        hold_timeout: float = 10.0,
    ):
        gr.sync_block.__init__(
            self, name="gated_source", in_sig=None, out_sig=[np.complex64] * data.shape[0]
        )
        self.data = data.astype(np.complex64)
        self.tags = sorted(tags, key=lambda t: t[0])
        self.hold_at = hold_at
        self.hold_timeout = hold_timeout
        self.gate = threading.Event()

    def work(self, input_items, output_items):
        start = self.nitems_written(0)
        total = self.data.shape[1]
        if start >= total:
            return -1
        if start == self.hold_at:
            self.gate.wait(self.hold_timeout)
        stop = min(total, start + len(output_items[0]))
        if start < self.hold_at:
            stop = min(stop, self.hold_at)
        n = stop - start
        for o, out in enumerate(output_items):
            out[:n] = self.data[o, start:stop]
        for off, key, value in self.tags:
            if start <= off < stop:
                self.add_item_tag(0, off, key, value)
        return n


class BlockHarness:
    """One block running in a flowgraph, its output ports collected (``dbg``: the
    ``message_debug`` of the first one).

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
        self.dbgs = {p: blocks.message_debug() for p in out_ports}
        self.dbg = self.dbgs[out_ports[0]] if out_ports else None
        for port, dbg in self.dbgs.items():
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
        return self.dbgs[port].num_messages()

    def out(self, port: str, reader: Callable[[Any], Any] | None = None) -> list:
        """Messages published on ``port`` so far (through ``reader`` when given)."""
        dbg = self.dbgs[port]
        msgs = [dbg.get_message(i) for i in range(dbg.num_messages())]
        return [reader(m) for m in msgs] if reader else msgs

    def wait_out(self, port: str, n: int, timeout: float | None = None) -> None:
        t = self.timeout if timeout is None else timeout
        wait_until(lambda: self.n_out(port) >= n, t, f"{n} messages on {port}")

    #: Deadline of the waits (seconds).
    timeout = TIMEOUT_S

    def counters(self) -> dict:
        return self.blk.counters()

    def wait_for(self, cond: Callable[[], bool]) -> None:
        """Wait until ``cond()``; on timeout the assertion shows the block's counters."""
        t0 = time.monotonic()
        while not cond():
            assert time.monotonic() - t0 < self.timeout, f"timed out; {self.counters()}"
            time.sleep(0.002)

    def handled(self, keys: Sequence[str]) -> int:
        c = self.counters()
        return sum(c[k] for k in keys)

    def post_and_wait(self, port: str, msg: Any, keys: Sequence[str]) -> None:
        """Post ``msg`` and wait until the sum of the counters ``keys`` has grown."""
        before = self.handled(keys)
        self.post(port, msg)
        self.wait_for(lambda: self.handled(keys) > before)

    def request(self, port: str, msg: Any, reader: Callable[[Any], Any], out: str = "") -> Any:
        """Post ``msg`` and return the next message on output port ``out`` (the first one by
        default), read with ``reader``."""
        dbg = self.dbgs[out] if out else self.dbg
        n = dbg.num_messages()
        self.post(port, msg)
        self.wait_for(lambda: dbg.num_messages() > n)
        return reader(dbg.get_message(n))

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
        """``make(blk, out_ports, ...)``, or ``make(SubClass, **kwargs)`` for a subclass."""
        if args and isinstance(args[0], type) and issubclass(args[0], BlockHarness):
            h = args[0](*args[1:], **kwargs)
        else:
            h = BlockHarness(*args, **kwargs)
        made.append(h)
        return h

    make.tag = make_tag  # type: ignore[attr-defined]
    make.wait_until = wait_until  # type: ignore[attr-defined]
    yield make
    for h in made:
        h.stop()


@pytest.fixture
def harness(block_harness, request) -> Callable[..., BlockHarness]:
    """``harness(**kwargs)``: a running instance of the test module's ``Harness`` subclass."""
    return functools.partial(block_harness, request.module.Harness)


# test files import the harness by a name no other directory's conftest has. This conftest is
# the one copy: tests/fuzz may have loaded the file under that name before (when it runs first),
# and test files subclassing that copy's BlockHarness would fail the fixture's isinstance check.
sys.modules["block_harness"] = sys.modules[__name__]
