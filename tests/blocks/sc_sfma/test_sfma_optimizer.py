"""QA of the ``sfma_optimizer`` message block in a running flowgraph.

SFMA CSI (per-user gains) is posted to ``csi`` and the allocations are collected with
``blocks.message_debug``. Tables: synthetic (the block is given ``"synthetic"``), so that the
test does not move with the measured tables.
"""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from block_harness import BlockHarness, wait_until
from gnuradio.semdacom import messages
from gnuradio.semdacom.sc_sfma.sfma_optimizer import sfma_optimizer

from semdacom.sc_sfma import model as sfma
from semdacom.sc_sfma.optimizer.problem import SfmaProblem, violations
from semdacom.sc_sfma.optimizer.scenario import make_problem

LABELS = (0, 0, 2, 4, 5, 7, 8, 1)


class Harness(BlockHarness):
    timeout = 60.0

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("xi_table", "synthetic")
        kwargs.setdefault("distortion_table", "synthetic")
        super().__init__(sfma_optimizer(**kwargs), ["alloc"])

    def send(self, msg: object) -> None:
        self.post_and_wait("csi", msg, ("csi_in",))
        # every allocation the block published has reached message_debug
        wait_until(lambda: self.dbg.num_messages() >= self.blk.counters()["alloc_out"])

    def allocs(self) -> list[messages.Allocation]:
        return super().out("alloc", messages.alloc_from_pmt)


def gains(seed: int = 1) -> np.ndarray:
    return make_problem(seed, n=8).gains


def csi(g: np.ndarray, seq: int = 1, frame: int | None = None, labels=None, scenes=None) -> object:
    return messages.sfma_csi_to_pmt(
        messages.SfmaCsi(gain=g, seq=seq, frame=frame, labels=labels, scenes=scenes)
    )


def test_csi_in_allocation_out_is_feasible(harness) -> None:
    h = harness(labels=LABELS)
    g = gains(1)
    h.send(csi(g))
    (a,) = h.allocs()
    assert a.seq == 1 and a.apply_frame == 0
    assert sorted(a.pairs.tolist()) == list(range(8))
    assert a.nu.size == a.group_power.size == a.group_bw.size == 4
    # the published allocation meets (20a)-(20h) in the model it was planned with
    prob = SfmaProblem(
        gains=g,
        labels=np.array(LABELS),
        source_bits=np.full(8, 64 * 6272.0),
        d_max=0.4,
        xi_table=sfma.synthetic_xi_table("sc_sfma", seed=100),
        dist_table=sfma.synthetic_distortion_table("sc_sfma", seed=200),
        p_max=0.1,
        b_tot=10e6,
        e_max=3e-3 * 8,
        t_max=0.1,
        n0=10 ** ((-165.0 - 30) / 10),
    )
    from semdacom.sc_sfma.optimizer.problem import Allocation

    alloc = Allocation(a.pairs.reshape(4, 2), a.nu, a.group_power, a.group_bw)
    assert violations(prob.check(alloc)) == []
    assert a.objective == pytest.approx(prob.objective(alloc), rel=1e-9)
    assert h.blk.counters()["solves"] == 1


def test_same_csi_republishes_without_solving_and_new_csi_solves(harness) -> None:
    h = harness(labels=LABELS, apply_lead=2)
    g = gains(1)
    h.send(csi(g, seq=1, frame=10))
    h.send(csi(g, seq=2, frame=11))
    h.send(csi(gains(2), seq=3, frame=12))
    out = h.allocs()
    assert [a.seq for a in out] == [1, 1, 2]
    assert out[0].apply_frame == 10 and out[2].apply_frame == 14
    c = h.blk.counters()
    assert c["solves"] == 2 and c["republished"] == 1 and c["alloc_out"] == 3


@pytest.mark.parametrize(
    "bad",
    [
        pmt.from_long(3),
        pmt.make_dict(),
        "wrong_k",
        "nan",
        "negative",
        "bad_labels",
        "bad_scenes",
    ],
)
def test_bad_csi_keeps_and_republishes_last_allocation(harness, bad) -> None:
    h = harness(labels=LABELS)
    g = gains(1)
    h.send(csi(g))
    if bad == "wrong_k":
        d = pmt.dict_add(pmt.make_dict(), pmt.intern("gain"), pmt.init_f64vector(4, [1e-10] * 4))
        bad = pmt.dict_add(d, pmt.intern("seq"), pmt.from_uint64(2))
    elif bad in ("nan", "negative", "bad_labels", "bad_scenes"):
        v = g.copy()
        extra = None
        if bad == "nan":
            v[3] = np.nan
        elif bad == "negative":
            v[0] = -1.0
        elif bad == "bad_labels":
            extra = ("labels", pmt.init_s32vector(8, [0, 1, 2, 3, 4, 5, 6, 12]))
        else:
            extra = ("scenes", pmt.init_s32vector(8, [0, 0, -1, -1, -2, -1, -1, -1]))
        d = pmt.dict_add(pmt.make_dict(), pmt.intern("gain"), pmt.init_f64vector(8, v.tolist()))
        d = pmt.dict_add(d, pmt.intern("seq"), pmt.from_uint64(2))
        bad = d if extra is None else pmt.dict_add(d, pmt.intern(extra[0]), extra[1])
    h.send(bad)
    out = h.allocs()
    assert [a.seq for a in out] == [1, 1]
    assert h.blk.counters()["csi_rejected"] == 1
    assert h.blk.last_reason().startswith("dropped CSI")
    assert h.blk.last_allocation().seq == 1


def test_infeasible_channel_republishes_and_says_why(harness) -> None:
    h = harness(labels=LABELS)
    h.send(csi(gains(1)))
    h.send(csi(np.full(8, 1e-19), seq=2))  # every user far below the distortion table
    out = h.allocs()
    assert [a.seq for a in out] == [1, 1]
    assert h.blk.counters()["infeasible"] == 1
    assert "no allocation" in h.blk.last_reason()


def test_nothing_published_before_a_valid_allocation(harness) -> None:
    h = harness(labels=LABELS)
    h.send(csi(np.full(8, 1e-19)))
    assert h.allocs() == []
    assert h.blk.last_allocation() is None


def test_labels_in_csi_and_mu_miso_csi_form(harness) -> None:
    h = harness(labels=LABELS)
    g = gains(1)
    h.send(csi(g, labels=np.array([3, 3, 3, 3, 9, 9, 9, 9])))
    # the MU-MISO CSI form: g = |h|^2 with N_t = 1 (the block's own labels)
    hm = np.sqrt(g).astype(complex).reshape(8, 1)
    h.send(messages.csi_to_pmt(messages.Csi(h=hm, noise_var=np.ones(8), seq=2)))
    out = h.allocs()
    assert [a.seq for a in out] == [1, 2]
    assert h.blk.counters()["solves"] == 2


def test_parameters_are_checked() -> None:
    for kw in (dict(labels=(0, 1, 2)), dict(labels=(0, 11)), dict(p_max=0.0),
               dict(model="nope"), dict(pairing="x"), dict(labels=(0, 1), scenes=(0,)),
               dict(labels=(0, 1), scenes=(0, -3))):  # fmt: skip
        with pytest.raises(ValueError):
            sfma_optimizer(xi_table="synthetic", distortion_table="synthetic", **kw)


def test_shared_scenes_plan_overlap_pairs_and_a_csi_may_change_them(harness) -> None:
    """Users 0 and 6 share a scene: their pair is of class "overlap" (the synthetic tables hold
    it); a CSI with other scene ids is a new problem (solved again), the same CSI again is not.
    Each allocation meets (20a)-(20h) and has its objective in the model with those scenes."""
    from semdacom.sc_sfma.optimizer.problem import Allocation

    scenes = (0, -1, -1, -1, -1, -1, 0, -1)
    other = (-1, 0, 0, -1, 1, -1, -1, 1)
    h = harness(labels=LABELS, scenes=scenes)
    g = gains(1)
    h.send(csi(g))
    h.send(csi(g, seq=2, scenes=np.array(other)))
    h.send(csi(g, seq=3, scenes=np.array(other)))
    out = h.allocs()
    assert [a.seq for a in out] == [1, 2, 2]
    assert h.blk.counters()["solves"] == 2
    for a, sc in zip(out[:2], (scenes, other), strict=True):
        prob = SfmaProblem(gains=g, labels=np.array(LABELS), scenes=np.array(sc),
                           source_bits=np.full(8, 64 * 6272.0), d_max=0.4,
                           xi_table=sfma.synthetic_xi_table("sc_sfma", seed=100),
                           dist_table=sfma.synthetic_distortion_table("sc_sfma", seed=200),
                           p_max=0.1, b_tot=10e6, e_max=3e-3 * 8, t_max=0.1,
                           n0=10 ** ((-165.0 - 30) / 10))  # fmt: skip
        assert sfma.OVERLAP_CLASS in prob.classes
        alloc = Allocation(a.pairs.reshape(4, 2), a.nu, a.group_power, a.group_bw)
        assert violations(prob.check(alloc)) == []
        assert a.objective == pytest.approx(prob.objective(alloc), rel=1e-9)


def test_scenes_with_tables_lacking_overlap_are_refused(tmp_path) -> None:
    import json

    xi = sfma.synthetic_xi_table("sc_sfma", seed=100, as_dict=True)
    del xi["classes"][sfma.OVERLAP_CLASS]
    path = tmp_path / "xi_no_overlap.json"
    path.write_text(json.dumps(xi))
    sfma_optimizer(labels=LABELS, xi_table=str(path), distortion_table="synthetic")
    with pytest.raises(ValueError, match="overlap"):
        sfma_optimizer(
            labels=LABELS,
            scenes=(0, 0, -1, -1, -1, -1, -1, -1),
            xi_table=str(path),
            distortion_table="synthetic",
        )


def test_the_dense_stage_is_off_by_default_and_can_be_asked_for(harness) -> None:
    """K = 4 (M = 2 <= DENSE_M): by default the block solves without the solver's dense stage
    (seconds per solve at K = 4; a closed loop's allocation must arrive within the lead);
    ``dense=True`` runs it, and its allocation is the library's ``solve(prob)`` (no worse)."""
    from semdacom.sc_sfma.optimizer.solver import solve

    labels = (0, 0, 5, 7)
    g = make_problem(4, n=4).gains
    objectives = []
    for dense in (False, True):
        h = harness(labels=labels, dense=dense)
        h.send(csi(g))
        (a,) = h.allocs()
        objectives.append(a.objective)
        h.stop()
    prob = SfmaProblem(
        gains=g, labels=np.array(labels), source_bits=np.full(4, 64 * 6272.0), d_max=0.4,
        xi_table=sfma.synthetic_xi_table("sc_sfma", seed=100),
        dist_table=sfma.synthetic_distortion_table("sc_sfma", seed=200),
        p_max=0.1, b_tot=10e6, e_max=3e-3 * 4, t_max=0.1, n0=10 ** ((-165.0 - 30) / 10),
    )  # fmt: skip
    assert objectives[0] == pytest.approx(solve(prob, dense=False).objective, rel=1e-6)
    assert objectives[1] == pytest.approx(solve(prob).objective, rel=1e-6)
    assert objectives[1] >= objectives[0] * (1 - 1e-9)


def test_csi_queued_behind_one_supersedes_it() -> None:
    """As mu_ascc_optimizer (``Optimizer.newest_csi``): a solve (up to seconds at K = 4) does
    not leave the block solving older and older channels; the newest valid CSI queued is
    solved, the older ones are counted in ``csi_superseded``, a malformed one is logged and
    counted in ``csi_rejected``; none valid re-publishes the allocation in force."""
    blk = sfma_optimizer(labels=LABELS, xi_table="synthetic", distortion_table="synthetic",
                         apply_lead=4)  # fmt: skip
    port = pmt.intern("csi")
    blk.to_basic_block()._post(port, csi(gains(2), seq=2, frame=4))
    blk.to_basic_block()._post(port, pmt.intern("junk"))
    blk.to_basic_block()._post(port, csi(gains(3), seq=3, frame=8))
    blk._handle(csi(gains(1), seq=1, frame=0))
    c = blk.counters()
    assert c["solves"] == 1 and c["csi_superseded"] == 2 and c["csi_rejected"] == 1, c
    assert blk._out.key[0] == gains(3).tobytes()  # solved for the newest gains
    assert blk.last_allocation().apply_frame == 8
    blk.to_basic_block()._post(port, pmt.intern("junk"))
    with pytest.raises(messages.MessageError):
        blk._handle(pmt.PMT_NIL)
    c = blk.counters()
    assert c["csi_rejected"] == 2 and c["republished"] == 1 and c["solves"] == 1, c
    assert blk.to_basic_block().nmsgs(port) == 0
