"""plumbing.torch_threads: a block thread runs torch on SEMDACOM_TORCH_THREADS intra-op threads
(default 1), set once per thread, without loading torch in a block that does not use it; the
thread that built the flowgraph keeps its own setting."""

from __future__ import annotations

import threading

import pytest
import torch
from gnuradio.semdacom.plumbing import torch_threads


def in_new_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_threads_wanted(monkeypatch) -> None:
    monkeypatch.delenv(torch_threads.ENV, raising=False)
    assert torch_threads.threads_wanted() == 1
    monkeypatch.setenv(torch_threads.ENV, "3")
    assert torch_threads.threads_wanted() == 3
    for bad in ("0", "-2", "two", ""):
        monkeypatch.setenv(torch_threads.ENV, bad)
        assert torch_threads.threads_wanted() == 1


@pytest.mark.parametrize("wanted", ["1", "2"])
def test_a_block_thread_gets_the_wanted_threads_and_the_main_thread_keeps_its_own(
    monkeypatch, wanted
) -> None:
    before = torch.get_num_threads()
    monkeypatch.setenv(torch_threads.ENV, wanted)

    def block() -> tuple[int, int]:
        torch_threads.block_thread()
        first = torch.get_num_threads()
        torch.set_num_threads(4)  # the block changed it itself: not set again
        torch_threads.block_thread()
        return first, torch.get_num_threads()

    try:
        assert in_new_thread(block) == (int(wanted), 4)
        assert torch.get_num_threads() == before
    finally:
        torch.set_num_threads(before)


def test_a_message_handler_runs_in_a_limited_thread(monkeypatch) -> None:
    """Through a real Block's message handler (the path every learned message block takes)."""
    import pmt
    from gnuradio import gr
    from gnuradio.semdacom.plumbing.base import Block

    monkeypatch.delenv(torch_threads.ENV, raising=False)
    seen = []

    class Probe(Block, gr.basic_block):
        def __init__(self) -> None:
            gr.basic_block.__init__(self, name="probe", in_sig=None, out_sig=None)
            self.setup(("in",))
            self.message_in("in", lambda msg: seen.append(torch.get_num_threads()), dealt="in")

    blk = Probe()
    before = torch.get_num_threads()
    in_new_thread(lambda: blk._on_port_in(pmt.PMT_NIL))
    assert seen == [1] and blk.counters()["in"] == 1
    assert torch.get_num_threads() == before
    torch.set_num_threads(before)


def test_the_main_thread_is_left_alone(monkeypatch) -> None:
    """A handler called on the main thread (a script or a test driving a block by hand) does
    not change the main thread's torch threads."""
    monkeypatch.setenv(torch_threads.ENV, "1")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch_threads.block_thread()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
