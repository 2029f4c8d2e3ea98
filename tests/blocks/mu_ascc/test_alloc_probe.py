"""QA of ``alloc_probe`` (the example of docs/blocks/writing_a_block.md): allocations on
``cmd`` apply from their ``apply_frame``; every message on ``frames`` gives one report of what
is in force; bad allocations are dropped and the state kept."""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from block_harness import BlockHarness
from gnuradio.semdacom import messages
from gnuradio.semdacom.mu_ascc.alloc_probe import alloc_probe


class Harness(BlockHarness):
    def __init__(self, **kwargs) -> None:
        super().__init__(alloc_probe(**kwargs), ["in_force"])

    def cmd(self, msg) -> None:
        self.post_and_wait("cmd", msg, ("cmd_accepted", "cmd_rejected"))

    def frame(self, msg) -> dict:
        return self.request("frames", msg, messages.meta_from_pmt)


def _alloc(seq: int, apply_frame: int, rate_index=(3, 5), rc=(1.0, 2.0)) -> object:
    return messages.alloc_to_pmt(messages.Allocation(
        seq=seq, apply_frame=apply_frame, rate_index=np.asarray(rate_index, np.int32),
        rc=np.asarray(rc, float)))  # fmt: skip


def test_reports_the_allocation_in_force_at_each_frame(harness) -> None:
    h = harness(user=1)
    assert h.frame(messages.frame_sent_to_pmt(0, 1)) == {"frame": 0, "alloc_seq": -1}
    h.cmd(_alloc(seq=1, apply_frame=2))
    assert h.frame(messages.frame_sent_to_pmt(1, 1)) == {"frame": 1, "alloc_seq": -1}
    r = h.frame(messages.frame_sent_to_pmt(2, 1))
    assert r == {"frame": 2, "alloc_seq": 1, "rate_index": 5, "rc": 2.0}
    h.cmd(_alloc(seq=2, apply_frame=4, rate_index=(1, 2)))
    pdu = messages.bits_pdu({"frame": 4}, np.zeros(8, np.uint8))  # a PDU's meta frame
    assert h.frame(pdu)["rate_index"] == 2
    assert [r["frame"] for r in h.blk.history()] == [0, 1, 2, 4]
    assert h.counters() == {"frames_in": 4, "reports_out": 4, "cmd_accepted": 2,
                            "cmd_rejected": 0}  # fmt: skip


@pytest.mark.parametrize(
    "bad",
    [pmt.intern("x"), _alloc(seq=1, apply_frame=0, rate_index=(1,), rc=(1.0,)), pmt.make_dict()],
    ids=["symbol", "K=1 for user 1", "empty dict"],
)
def test_bad_allocation_is_dropped_and_state_kept(harness, bad) -> None:
    h = harness(user=1)
    h.cmd(_alloc(seq=1, apply_frame=0))
    h.cmd(bad)
    h.cmd(_alloc(seq=1, apply_frame=0, rate_index=(0, 0)))  # not newer: dropped
    assert h.counters()["cmd_rejected"] == 2
    assert h.frame(messages.frame_sent_to_pmt(9, 1))["rate_index"] == 5


def test_unreadable_frame_applies_everything_queued(harness) -> None:
    h = harness()
    h.cmd(_alloc(seq=7, apply_frame=100))
    r = h.frame(pmt.intern("not a frame"))
    assert r == {"frame": -1, "alloc_seq": 7, "rate_index": 3, "rc": 1.0}
    assert h.counters()["reports_out"] == 1


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        alloc_probe(user=-1)
