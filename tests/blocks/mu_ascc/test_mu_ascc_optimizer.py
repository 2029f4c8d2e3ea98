"""QA of the ``mu_ascc_optimizer`` message block in a running flowgraph.

CSI is posted to the block's ``csi`` port and the allocations are collected with
``blocks.message_debug`` (the gr-satellites pattern). Tables are synthetic (labelled so).
"""

from __future__ import annotations

import time

import numpy as np
import pmt
import pytest
from block_harness import BlockHarness
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.messages import Csi
from gnuradio.semdacom.mu_ascc.mu_ascc_optimizer import mu_ascc_optimizer

from semdacom.mu_ascc.optimizer import fast
from semdacom.mu_ascc.optimizer.problem import Problem
from semdacom.phy import beamforming as bf
from semdacom.phy.link import physical_link

TIMEOUT_S = 30.0


class Harness(BlockHarness):
    timeout = TIMEOUT_S

    def __init__(self, **kwargs: object) -> None:
        super().__init__(mu_ascc_optimizer(**kwargs), ["alloc"])

    def send(self, msg: object) -> None:
        self.post_and_wait("csi", msg, ("csi_in",))
        time.sleep(0.01)  # let message_debug store what was published

    def allocs(self) -> list[messages.Allocation]:
        return super().out("alloc", messages.alloc_from_pmt)


def csi_msg(
    h: np.ndarray | None = None, noise: float = 1.0, seq: int = 1, frame: int | None = None
) -> object:
    h = bf.paper_channel() if h is None else h
    nv = np.full(h.shape[0], noise)
    return messages.csi_to_pmt(Csi(h=h, noise_var=nv, seq=seq, frame=frame))


def test_csi_in_allocation_out_matches_the_fast_solver(harness) -> None:
    h = harness(p_max=3.0, blocklength=256)
    h.send(csi_msg())
    (a,) = h.allocs()
    assert a.seq == 1 and a.apply_frame == 0 and a.solver == "fast"
    assert a.power.sum() <= 3.0 * (1 + 1e-9) and a.w.shape == (2, 2)
    assert a.solve_ms > 0 and np.all(a.rs_bits / a.rc <= 470.4 * (1 + 1e-12))
    blk_tables = h.blk._tables
    # the block plans with the physical link by default (BER = rho / 2)
    ref = fast.solve_fast(
        Problem(bf.paper_channel(), 1.0, blk_tables, [0.8, 0.2], 3.0, 470.4, 256, physical_link())
    )
    assert a.objective == pytest.approx(ref.objective, rel=1e-9)
    np.testing.assert_array_equal(a.rate_index, ref.rate_index)


def test_resolves_on_every_csi_change(harness) -> None:
    h = harness()
    rng = np.random.default_rng(0)
    h.send(csi_msg())
    h.send(csi_msg(seq=2))  # same channel: the allocation in force again, no new solve
    hh = (rng.standard_normal((2, 2)) + 1j * rng.standard_normal((2, 2))) / np.sqrt(2)
    h.send(csi_msg(hh, seq=3))
    h.send(csi_msg(hh, noise=0.5, seq=4))  # noise changed: a new solve
    seqs = [a.seq for a in h.allocs()]
    assert seqs == [1, 1, 2, 3]
    c = h.blk.counters()
    assert c["solves"] == 3 and c["republished"] == 1 and c["alloc_out"] == 4


def test_apply_lead_sets_apply_frame(harness) -> None:
    """apply_frame = the CSI's first frame + the lead (not its seq); the first allocation at
    the CSI's frame itself (nothing is in force yet); CSI without a frame number, or a
    negative lead, applies at once."""
    h = harness(apply_lead=2)
    h.send(csi_msg(seq=40, frame=7))
    assert h.allocs()[0].apply_frame == 7
    h.send(csi_msg(h=2 * bf.paper_channel(), seq=41, frame=12))
    assert h.allocs()[1].apply_frame == 14
    h.send(csi_msg(h=3 * bf.paper_channel(), seq=42))
    assert h.allocs()[2].apply_frame == 0
    h2 = harness(apply_lead=-1)
    h2.send(csi_msg(seq=3, frame=7))
    assert h2.allocs()[0].apply_frame == 0


def _bad_messages() -> list[tuple[str, object]]:
    good = meta = messages.meta_from_pmt(csi_msg())
    out: list[tuple[str, object]] = [
        ("not a dict", pmt.intern("hello")),
        ("empty dict", pmt.make_dict()),
        ("pdu pair", pmt.cons(pmt.make_dict(), pmt.init_u8vector(1, [0]))),
    ]
    nan_h = good["h"].copy()
    nan_h[1] = np.nan
    out.append(("NaN in h", messages.meta_to_pmt({**meta, "h": nan_h})))
    out.append(("NaN noise", messages.meta_to_pmt({**meta, "noise_var": np.array([np.nan, 1.0])})))
    out.append(("zero noise", messages.meta_to_pmt({**meta, "noise_var": np.zeros(2)})))
    out.append(("wrong h type", messages.meta_to_pmt({**meta, "h": np.ones(4)})))
    out.append(("short h", messages.meta_to_pmt({**meta, "h": good["h"][:3]})))
    big = np.ones(3 * 2, dtype=np.complex128)
    out.append(("K=3", messages.meta_to_pmt({**meta, "h": big, "k": 3, "noise_var": np.ones(3)})))
    huge = np.ones(2 * 100_000, dtype=np.complex128)
    out.append(("huge", messages.meta_to_pmt({**meta, "h": huge, "n_t": 100_000})))
    return out


@pytest.mark.parametrize("name, msg", _bad_messages(), ids=[n for n, _ in _bad_messages()])
def test_malformed_csi_is_logged_and_last_allocation_kept(harness, name: str, msg) -> None:
    h = harness()
    h.send(csi_msg())
    first = h.allocs()[0]
    h.send(msg)
    allocs = h.allocs()
    assert len(allocs) == 2, name  # exactly one result: the last valid allocation again
    assert allocs[1].seq == first.seq and allocs[1].objective == first.objective
    assert h.blk.last_reason() != "" and h.blk.last_allocation().seq == first.seq
    c = h.blk.counters()
    assert c["csi_rejected"] + c["solve_failed"] == 1 and c["republished"] == 1
    h.send(csi_msg(2 * bf.paper_channel(), seq=9))  # and the block keeps working
    assert h.allocs()[-1].seq == 2 and h.blk.last_reason() == ""


def test_bad_csi_before_any_allocation_publishes_nothing(harness) -> None:
    h = harness()
    h.send(pmt.intern("garbage"))
    assert h.dbg.num_messages() == 0 and "dropped CSI" in h.blk.last_reason()


def test_failed_solve_republishes_last_allocation(harness) -> None:
    h = harness()
    h.send(csi_msg())
    h.send(csi_msg(np.zeros((2, 2), dtype=complex), seq=2))  # no channel: beams undefined
    allocs = h.allocs()
    assert [a.seq for a in allocs] == [1, 1]
    assert h.blk.counters()["solve_failed"] == 1 and "solve failed" in h.blk.last_reason()


def test_faithful_solver_in_the_block(harness) -> None:
    h = harness(solver="faithful", time_limit_s=5.0)
    h.send(csi_msg())
    (a,) = h.allocs()
    assert a.solver == "faithful" and a.power.sum() <= 3.0 * (1 + 1e-9)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weights": [1.0]}, "weights"),
        ({"p_max": -1.0}, "p_max"),
        ({"solver": "magic"}, "solver"),
        ({"tables": ["no_such_table"], "weights": [1.0]}, "no distortion table"),
        ({"blocklength": 0}, "blocklength"),
        ({"delay": 0.0}, "delay"),
        ({"distortion": "magic"}, "distortion"),
        ({"distortion": "erasure", "link": "random_coding"}, "physical link"),
        ({"distortion": "erasure", "solver": "faithful"}, "physical link and the fast"),
    ],
)
def test_bad_parameters(kwargs, match) -> None:
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        mu_ascc_optimizer(**kwargs)


def test_allocation_drives_fbl_link_at_the_planned_sinr() -> None:
    """optimizer -> fbl_link (cmd): the link sees the SINR of eq. (7) the optimiser planned."""
    from gnuradio.semdacom.phy.fbl_link import fbl_link

    tb = gr.top_block()
    opt = mu_ascc_optimizer(p_max=3.0)
    links = [fbl_link(user=u, blocklength=256) for u in range(2)]
    for lk in links:
        tb.msg_connect(opt, "alloc", lk, "cmd")
    tb.start()
    try:
        csi = csi_msg()
        for lk in links:
            lk.to_basic_block()._post(pmt.intern("csi"), csi)
        opt.to_basic_block()._post(pmt.intern("csi"), csi)
        t0 = time.monotonic()
        while not all(lk.counters()["cmd_accepted"] for lk in links):
            assert time.monotonic() - t0 < TIMEOUT_S, "timed out"
            time.sleep(0.005)
        time.sleep(0.01)
        a = opt.last_allocation()
        planned = bf.downlink_sinr(bf.paper_channel(), a.power, a.w, np.ones(2))
        for u, lk in enumerate(links):
            assert lk.current_sinr() == pytest.approx(planned[u], rel=1e-9)
            assert lk.current_rc() == pytest.approx(a.rc[u])
    finally:
        tb.stop()
        tb.wait()


def test_distortion_model_auto_is_erasure_aware_with_the_physical_link() -> None:
    from semdacom.mu_ascc.distortion import erasure_aware

    opt = mu_ascc_optimizer()  # physical link, auto
    assert opt._distortion == "erasure" and all(t.model == "erasure" for t in opt._tables)
    ref = erasure_aware(mu_ascc_optimizer(distortion="ber")._tables[0], 470.4, 256)
    np.testing.assert_array_equal(opt._tables[0].packets, ref.packets)
    assert mu_ascc_optimizer(link="random_coding")._distortion == "ber"
    assert mu_ascc_optimizer(solver="faithful")._distortion == "ber"


def test_a_restarted_optimizer_is_taken_by_the_readers(harness) -> None:
    """Issue 24, Why 1: every instance publishes under its own random epoch, so a reader
    takes the allocations of a new instance although its seq starts from 1 again (they used
    to be dropped for good)."""
    from gnuradio.semdacom.plumbing.schedule import AllocationSchedule

    first, second = harness(apply_lead=2), harness(apply_lead=2)
    assert first.blk.epoch() != second.blk.epoch() and 0 not in (
        first.blk.epoch(),
        second.blk.epoch(),
    )
    reader = AllocationSchedule(("power", "w"))
    first.send(csi_msg(seq=1, frame=10))
    first.send(csi_msg(h=2 * bf.paper_channel(), seq=2, frame=11))
    second.send(csi_msg(h=3 * bf.paper_channel(), seq=3, frame=12))
    for a in first.allocs() + second.allocs():
        reader.accept(a)
    a = second.allocs()[0]
    assert a.seq == 1 and a.epoch == second.blk.epoch()
    reader.on_frame(12)
    assert reader.applied_seq == 1 and reader.applied_epoch == second.blk.epoch()
    np.testing.assert_array_equal(reader.get("power"), a.power)


def test_a_csi_frame_jump_starts_a_new_epoch(harness) -> None:
    """Issue 24, Build 1: a CSI frame counter that jumps (junk 10**12, or a restart) is handled
    as in csi_combiner: counted, logged, and the allocations continue under a new epoch, so
    the readers drop what was planned for the old numbering."""
    from gnuradio.semdacom.plumbing.channel_state import FRAME_JUMP_WINDOW

    h = harness(apply_lead=2)
    e0 = h.blk.epoch()
    h.send(csi_msg(seq=1, frame=10))
    h.send(csi_msg(h=2 * bf.paper_channel(), seq=2, frame=10 + FRAME_JUMP_WINDOW))  # in window
    assert h.blk.epoch() == e0 and h.blk.counters()["frame_resets"] == 0
    h.send(csi_msg(h=3 * bf.paper_channel(), seq=3, frame=10**12))
    e1 = h.blk.epoch()
    h.send(csi_msg(h=4 * bf.paper_channel(), seq=4, frame=20))
    e2 = h.blk.epoch()
    assert len({e0, e1, e2}) == 3 and h.blk.counters()["frame_resets"] == 2
    assert [a.epoch for a in h.allocs()] == [e0, e0, e1, e2]
    assert h.allocs()[-1].apply_frame == 22


def test_sent_frames_keep_apply_frame_ahead_of_the_base_station(harness) -> None:
    """Issue 21: over the air the users report CSI of frames the base station sent a while
    ago; from the CSI's frame alone the first allocation (at that frame) and any whose lead
    the feedback delay exceeds were past at the base station (its beamformer applied them
    late, the users on time: frames decoded with beams they were not sent with). With
    ``sent`` every allocation, the first too, goes at max(CSI frame, last sent + 1) + lead;
    a sent frame more than 2**16 from the CSI's is another numbering and ignored; a
    malformed one is logged and counted."""
    h = harness(apply_lead=4)
    for f in (0, 1, 2, 3, 4, 5):
        h.post_and_wait("sent", messages.frame_sent_to_pmt(f, 0), ("sent_in",))
    h.send(csi_msg(seq=1, frame=2))  # the report trailed the base station by 3 frames
    assert h.allocs()[0].apply_frame == 5 + 1 + 4
    h.send(csi_msg(h=2 * bf.paper_channel(), seq=2, frame=20))  # CSI ahead of the sent count
    assert h.allocs()[1].apply_frame == 20 + 4
    h.post_and_wait("sent", messages.frame_sent_to_pmt(2**40, 0), ("sent_in",))  # junk
    h.send(csi_msg(h=3 * bf.paper_channel(), seq=3, frame=30))
    assert h.allocs()[2].apply_frame == 30 + 4
    h.post_and_wait("sent", messages.meta_to_pmt({"frame": 3}), ("sent_in",))
    assert h.blk.counters()["sent_rejected"] == 1 and h.blk._out.frame_sent == 2**40
    # CSI without a frame (every report's header lost): from the sent frame when it is near
    # the last CSI's
    h.post_and_wait("sent", messages.frame_sent_to_pmt(33, 0), ("sent_in",))
    h.send(csi_msg(h=4 * bf.paper_channel(), seq=4))
    assert h.allocs()[3].apply_frame == 33 + 1 + 4


def test_apply_frame_follows_the_latest_encoder(harness) -> None:
    """Every channel encoder's ``sent`` wired: the encoders of a base station run ahead of
    each other by their output buffers, and an allocation planned from the one behind
    reached the one ahead after its frame (the over-the-air flowgraph at 10 dB: one encoder
    sent a beacon more than the other). The plan starts from the latest frame of any
    encoder; a junk frame from one encoder (another numbering) makes the others' forgotten
    until they report again."""
    h = harness(apply_lead=4)
    for f0, f1 in ((0, 0), (1, 2), (2, 5), (3, 9)):  # user 1's encoder runs ahead
        h.post_and_wait("sent", messages.frame_sent_to_pmt(f0, 0), ("sent_in",))
        h.post_and_wait("sent", messages.frame_sent_to_pmt(f1, 1), ("sent_in",))
    h.send(csi_msg(seq=1, frame=1))
    assert h.allocs()[0].apply_frame == 9 + 1 + 4
    h.post_and_wait("sent", messages.frame_sent_to_pmt(4, 0), ("sent_in",))  # still behind
    h.send(csi_msg(h=2 * bf.paper_channel(), seq=2, frame=2))
    assert h.allocs()[1].apply_frame == 9 + 1 + 4
    h.post_and_wait("sent", messages.frame_sent_to_pmt(2**40, 0), ("sent_in",))  # junk
    h.post_and_wait("sent", messages.frame_sent_to_pmt(12, 1), ("sent_in",))  # a new start
    h.post_and_wait("sent", messages.frame_sent_to_pmt(10, 0), ("sent_in",))
    assert h.blk._out.frame_sent == 12
    h.send(csi_msg(h=3 * bf.paper_channel(), seq=3, frame=5))
    assert h.allocs()[2].apply_frame == 12 + 1 + 4
    # junk user ids do not grow the memory: the latest senders are kept
    for u in range(2, 300):
        h.post_and_wait("sent", messages.frame_sent_to_pmt(12, u), ("sent_in",))
    assert len(h.blk._out._sent_by) <= h.blk._out.MAX_SENDERS
    assert h.blk._out.frame_sent == 12


def test_sent_messages_queued_behind_a_csi_are_taken_before_planning() -> None:
    """GNU Radio hands a block one port's queue before the next's: a CSI can be handled while
    the encoders' latest ``sent`` still wait (right after initial access the queued images
    leave back to back, and an allocation was planned 8 frames behind). The block takes them
    first; a malformed one among them is counted and dropped as on the port."""
    blk = mu_ascc_optimizer(apply_lead=4)
    port = pmt.intern("sent")
    for f in (10, 11, 12):
        blk.to_basic_block()._post(port, messages.frame_sent_to_pmt(f, 0))
    blk.to_basic_block()._post(port, messages.meta_to_pmt({"frame": 3}))  # malformed
    blk.to_basic_block()._post(port, messages.frame_sent_to_pmt(14, 1))
    blk._handle(csi_msg(seq=1, frame=2))
    assert blk.last_allocation().apply_frame == 14 + 1 + 4
    c = blk.counters()
    assert c["sent_in"] == 5 and c["sent_rejected"] == 1, c
    assert blk.to_basic_block().nmsgs(port) == 0


def test_csi_queued_behind_one_supersedes_it() -> None:
    """A solve slower than the CSI period must not leave the optimiser solving older and older
    channels (the soak on a loaded machine: allocations up to 1.4 s behind, after their
    apply_frame): the newest valid CSI still queued is solved, the older ones are counted in
    ``csi_superseded``, a malformed one among them is logged and counted as on the port."""
    rng = np.random.default_rng(3)
    hs = [(rng.standard_normal((2, 2)) + 1j * rng.standard_normal((2, 2))) / np.sqrt(2)
          for _ in range(3)]  # fmt: skip
    blk = mu_ascc_optimizer(apply_lead=4)
    port = pmt.intern("csi")
    blk.to_basic_block()._post(port, csi_msg(hs[1], seq=2, frame=4))
    blk.to_basic_block()._post(port, pmt.intern("junk"))  # malformed
    blk.to_basic_block()._post(port, csi_msg(hs[2], seq=3, frame=8))
    blk._handle(csi_msg(hs[0], seq=1, frame=0))
    a = blk.last_allocation()
    ref = fast.solve_fast(Problem(hs[2], 1.0, blk._tables, [0.8, 0.2], 3.0, 470.4, 256,
                                  physical_link()))  # fmt: skip
    assert a.seq == 1 and a.objective == pytest.approx(ref.objective, rel=1e-9)
    assert a.apply_frame == 8  # the first allocation: at its CSI's frame
    c = blk.counters()
    assert c["solves"] == 1 and c["alloc_out"] == 1, c
    assert c["csi_superseded"] == 2 and c["csi_rejected"] == 1 and c["csi_in"] == 3, c
    assert blk.to_basic_block().nmsgs(port) == 0
    # a malformed newest one leaves the newest valid one to solve
    blk.to_basic_block()._post(port, pmt.from_long(3))
    blk._handle(csi_msg(hs[0], seq=4, frame=12))
    a = blk.last_allocation()
    assert a.seq == 2 and a.apply_frame == 12 + 4
    assert blk.counters()["csi_rejected"] == 2
    # none valid: the newest one's error reaches the port's handler (it re-publishes)
    blk.to_basic_block()._post(port, pmt.intern("junk"))
    with pytest.raises(messages.MessageError):
        blk._handle(pmt.PMT_NIL)
    assert blk.counters()["csi_rejected"] == 3 and blk.last_allocation().seq == 2


def test_a_burst_of_csi_in_a_flowgraph_gives_one_allocation_per_solve(harness) -> None:
    """Through the port: CSI posted faster than the block solves leaves every message counted
    (in, superseded or solved) and the last allocation solved for the last channel."""
    rng = np.random.default_rng(4)
    h = harness(p_max=3.0, blocklength=256)
    n = 40
    hs = [(rng.standard_normal((2, 2)) + 1j * rng.standard_normal((2, 2))) / np.sqrt(2)
          for _ in range(n)]  # fmt: skip
    for i, hh in enumerate(hs):
        h.blk.to_basic_block()._post(pmt.intern("csi"), csi_msg(hh, seq=i + 1, frame=4 * i))
    t0 = time.monotonic()
    while h.blk.counters()["csi_in"] < n:
        assert time.monotonic() - t0 < TIMEOUT_S, h.blk.counters()
        time.sleep(0.01)
    time.sleep(0.05)
    c = h.blk.counters()
    assert c["solves"] + c["csi_superseded"] == n and c["solves"] >= 1, c
    ref = fast.solve_fast(Problem(hs[-1], 1.0, h.blk._tables, [0.8, 0.2], 3.0, 470.4, 256,
                                  physical_link()))  # fmt: skip
    assert h.blk.last_allocation().objective == pytest.approx(ref.objective, rel=1e-9)
    assert len(h.allocs()) == c["alloc_out"] == c["solves"]


def test_a_reader_that_raises_anything_loses_none_of_the_csi_taken() -> None:
    """``newest_csi`` takes the queued messages out of the queue: a reader that raises
    something other than MessageError on one of them (a bug) costs that message only."""
    blk = mu_ascc_optimizer()
    port = pmt.intern("csi")
    for v in (1, 2, 3):
        blk.to_basic_block()._post(port, pmt.from_long(v))

    def parse(m):
        if pmt.to_long(m) == 2:
            raise RuntimeError("reader bug")
        return pmt.to_long(m)

    assert blk.newest_csi(pmt.from_long(0), parse) == 3
    c = blk.counters()
    assert c["csi_superseded"] == 2 and c["csi_rejected"] == 1 and c["csi_in"] == 3, c
    blk.to_basic_block()._post(port, pmt.from_long(2))
    with pytest.raises(RuntimeError):  # none valid: the newest one's error, as for one message
        blk.newest_csi(pmt.from_long(2), parse)
