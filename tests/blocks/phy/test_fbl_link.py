"""QA of the ``fbl_link`` message block in a running flowgraph.

Messages are posted straight to the block's input ports and the output PDUs are collected with
``blocks.message_debug`` (the shared ``BlockHarness`` of tests/blocks/conftest.py).
"""

from __future__ import annotations

import math

import numpy as np
import pmt
import pytest
from block_harness import BlockHarness
from gnuradio.semdacom import messages
from gnuradio.semdacom.messages import Allocation, Csi
from gnuradio.semdacom.phy.fbl_link import fbl_link

TIMEOUT_S = 10.0


class Harness(BlockHarness):
    """A running flowgraph ``fbl_link -> message_debug`` (the shared BlockHarness)."""

    timeout = TIMEOUT_S
    KEYS = ("pdus_out", "cmd_accepted", "cmd_rejected", "csi_accepted", "csi_rejected")

    def __init__(self, **kwargs: object) -> None:
        super().__init__(fbl_link(**kwargs), ["pdus"])

    def send(self, port: str, msg: object) -> None:
        """Post one message and wait until the block has dealt with it."""
        self.post_and_wait(port, msg, self.KEYS)

    def send_bits(self, bits: np.ndarray, **meta: object) -> tuple[dict, np.ndarray]:
        """Send a bits PDU and return the PDU that comes out."""
        return self.request("pdus", messages.bits_pdu(meta, bits), messages.unpack_bits_pdu)


def unit_rows(rng: np.random.Generator, k: int, n_t: int) -> np.ndarray:
    w = rng.standard_normal((k, n_t)) + 1j * rng.standard_normal((k, n_t))
    return w / np.linalg.norm(w, axis=1, keepdims=True)


def eq7_sinr(h: np.ndarray, p: np.ndarray, w: np.ndarray, noise_var: np.ndarray, i: int) -> float:
    """Eq. (7) written out: p_i |h_i^H w_i|^2 / (sum_{j != i} p_j |h_i^H w_j|^2 + sigma_i^2)."""
    gains = [abs(np.vdot(h[i], w[j])) ** 2 for j in range(len(p))]
    interference = sum(p[j] * gains[j] for j in range(len(p)) if j != i)
    return p[i] * gains[i] / (interference + noise_var[i])


def scenario(seed: int = 0, k: int = 3, n_t: int = 4) -> tuple[Csi, Allocation]:
    rng = np.random.default_rng(seed)
    h = (rng.standard_normal((k, n_t)) + 1j * rng.standard_normal((k, n_t))) / math.sqrt(2)
    csi = Csi(h=h, noise_var=rng.uniform(0.01, 0.05, k), seq=11)
    alloc = Allocation(
        seq=4,
        power=rng.uniform(0.2, 1.0, k),
        w=unit_rows(rng, k, n_t),
        rc=np.linspace(0.5, 1.5, k),
    )
    return csi, alloc


def bits(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, n, dtype=np.uint8)


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", [0, 2])
def test_sinr_from_csi_and_alloc_matches_eq7(harness, user: int) -> None:
    h = harness(user=user, blocklength=128, sinr_db=-30.0)
    csi, alloc = scenario()
    h.send("csi", messages.csi_to_pmt(csi))
    h.send("cmd", messages.alloc_to_pmt(alloc))
    meta, _ = h.send_bits(bits(1000))
    expected = eq7_sinr(csi.h, alloc.power, alloc.w, csi.noise_var, user)
    assert meta["fbl_sinr_source"] == "csi"
    assert meta["fbl_sinr_db"] == pytest.approx(10 * math.log10(expected), abs=1e-9)
    assert h.blk.current_sinr() == pytest.approx(expected, rel=1e-12)
    n = math.floor(alloc.rc[user] * 128 + 1e-9)
    assert meta["fbl_rc"] == n / 128 and meta["fbl_L"] == 128
    assert meta["fbl_packets"] == -(-1000 // n)
    assert meta["fbl_alloc_seq"] == 4 and meta["fbl_csi_seq"] == 11
    assert "fbl_reason" not in meta


def test_fixed_sinr_until_csi_and_beams_are_known(harness) -> None:
    h = harness(user=1, sinr_db=7.0)
    csi, alloc = scenario()
    meta, _ = h.send_bits(bits(10))
    assert meta["fbl_sinr_source"] == "fixed" and meta["fbl_sinr_db"] == pytest.approx(7.0)
    h.send("csi", messages.csi_to_pmt(csi))
    meta, _ = h.send_bits(bits(10))
    assert meta["fbl_sinr_source"] == "fixed"
    h.send("cmd", messages.alloc_to_pmt(Allocation(seq=1, rc=alloc.rc)))  # no beams yet
    meta, _ = h.send_bits(bits(10))
    assert meta["fbl_sinr_source"] == "fixed" and meta["fbl_rc"] == 1.0
    h.send("cmd", messages.alloc_to_pmt(alloc))
    meta, _ = h.send_bits(bits(10))
    assert meta["fbl_sinr_source"] == "csi"


@pytest.mark.parametrize("model", ["packet", "bitflip"])
def test_high_sinr_passes_bits_exactly(harness, model: str) -> None:
    h = harness(sinr_db=60.0, error_model=model, blocklength=64, rc=2.0)
    x = bits(12_345)
    meta, y = h.send_bits(x, frame=3, source="camera")
    np.testing.assert_array_equal(y, x)
    assert meta["n_bits"] == 12_345 and meta["frame"] == 3 and meta["source"] == "camera"
    assert meta["fbl_packets"] == -(-12_345 // 128)
    assert meta["fbl_packets_failed"] == 0 and meta["fbl_bit_errors"] == 0
    assert meta["fbl_model"] == model and meta["fbl_per"] == 0.0


def test_low_sinr_fails_packets(harness) -> None:
    h = harness(sinr_db=-5.0, blocklength=256, rc=1.0, seed=3)
    x = bits(256 * 50)
    meta, y = h.send_bits(x)
    assert meta["fbl_per"] > 0.999
    assert meta["fbl_packets_failed"] == meta["fbl_packets"] == 50
    assert meta["fbl_bit_errors"] == int(np.count_nonzero(y != x))
    assert 0.4 < meta["fbl_bit_errors"] / x.size < 0.6
    assert meta["fbl_log10_ber"] == pytest.approx(-math.log10(256), abs=1e-3)


def test_no_sinr_marks_every_packet_failed(harness) -> None:
    h = harness(blocklength=100, rc=1.0)
    meta, y = h.send_bits(bits(1000))
    assert meta["fbl_reason"] == "no_sinr" and meta["fbl_sinr_source"] == "none"
    assert math.isnan(meta["fbl_sinr_db"])
    assert meta["fbl_packets_failed"] == meta["fbl_packets"] == 10
    assert y.size == 1000


def test_empty_pdu_passes_with_zero_packets(harness) -> None:
    h = harness(sinr_db=10.0)
    meta, y = h.send_bits(np.zeros(0, dtype=np.uint8))
    assert y.size == 0 and meta["n_bits"] == 0 and meta["fbl_packets"] == 0


def test_seed_makes_runs_repeat(harness) -> None:
    x = bits(5000)
    out = [harness(sinr_db=0.0, rc=1.0, seed=5).send_bits(x)[1] for _ in range(2)]
    np.testing.assert_array_equal(out[0], out[1])
    assert np.any(out[0] != x)


def test_apply_frame_waits_for_its_frame(harness) -> None:
    h = harness(sinr_db=60.0, blocklength=100, rc=1.0)
    h.send("cmd", messages.alloc_to_pmt(Allocation(seq=2, apply_frame=5, rc=np.array([0.5]))))
    assert h.blk.current_rc() == 1.0
    meta, _ = h.send_bits(bits(10), frame=4)
    assert meta["fbl_rc"] == 1.0 and meta["fbl_alloc_seq"] == -1
    meta, _ = h.send_bits(bits(10), frame=5)
    assert meta["fbl_rc"] == 0.5 and meta["fbl_alloc_seq"] == 2
    h.send("cmd", messages.alloc_to_pmt(Allocation(seq=3, apply_frame=9, rc=np.array([0.25]))))
    meta, _ = h.send_bits(bits(10))  # no frame meta: waiting allocations apply at once
    assert meta["fbl_rc"] == 0.25 and meta["fbl_alloc_seq"] == 3


def test_bad_input_is_logged_dropped_and_state_kept(harness, capfd) -> None:
    h = harness(user=1, blocklength=128)
    csi, alloc = scenario()
    h.send("csi", messages.csi_to_pmt(csi))
    h.send("cmd", messages.alloc_to_pmt(alloc))
    sinr0, rc0 = h.blk.current_sinr(), h.blk.current_rc()
    assert sinr0 is not None

    k, n_t = csi.h.shape
    bad_csi = messages.csi_to_pmt(csi)
    h_nan = csi.h.reshape(-1).copy()
    h_nan[2] = complex(math.nan, 0.0)
    bad_csi = pmt.dict_add(bad_csi, pmt.intern("h"), pmt.init_c64vector(k * n_t, h_nan.tolist()))
    wrong_size = pmt.dict_add(
        messages.alloc_to_pmt(alloc), pmt.intern("rc"), pmt.init_f64vector(2, [1.0, 1.0])
    )
    non_unit = pmt.dict_add(
        messages.alloc_to_pmt(alloc),
        pmt.intern("w"),
        pmt.init_c64vector(k * n_t, (2.0 * alloc.w.reshape(-1)).tolist()),
    )
    too_few_users = messages.alloc_to_pmt(Allocation(seq=9, rc=np.array([1.0])))
    rc_too_low = messages.alloc_to_pmt(Allocation(seq=9, rc=np.array([1.0, 0.001, 1.0])))
    other_k_csi = messages.csi_to_pmt(Csi(h=np.ones((1, 4)), noise_var=np.ones(1)))

    bad = [
        ("cmd", pmt.intern("not an allocation")),
        ("cmd", pmt.make_dict()),  # no seq
        ("cmd", wrong_size),
        ("cmd", non_unit),
        ("cmd", too_few_users),
        ("cmd", rc_too_low),
        ("csi", bad_csi),
        ("csi", pmt.from_double(1.0)),
        ("csi", other_k_csi),
        ("pdus", pmt.from_long(3)),
        ("pdus", pmt.cons(pmt.make_dict(), pmt.init_f32vector(1, [0.0]))),
        ("pdus", pmt.cons(pmt.intern("meta"), pmt.init_u8vector(1, [1]))),
        ("pdus", messages.alloc_to_pmt(alloc)),
    ]
    n_valid = 0
    for i, (port, msg) in enumerate(bad):
        h.send(port, msg)
        assert h.blk.current_sinr() == sinr0 and h.blk.current_rc() == rc0
        if i % 3 == 0:  # the block keeps running and keeps its state
            meta, _ = h.send_bits(bits(300, seed=i))
            n_valid += 1
            assert meta["fbl_sinr_source"] == "csi"
            assert meta["fbl_alloc_seq"] == alloc.seq and meta["fbl_csi_seq"] == csi.seq

    c = h.blk.counters()
    assert c["cmd_rejected"] == 6 and c["csi_rejected"] == 3 and c["erasures"] == 4
    assert c["cmd_accepted"] == 1 and c["csi_accepted"] == 1
    # every PDU in gives one out: the 4 malformed ones as erasures
    assert c["pdus_in"] == c["pdus_out"] == n_valid + 4 == h.dbg.num_messages()

    h.stop()
    captured = capfd.readouterr()
    log = captured.out + captured.err  # gr.logger's console sink (stdout by default)
    for reason in (
        "allocation must be a PMT dictionary",
        "allocation lacks 'seq'",
        "'power' has 3 entries, expected 2 (K from 'rc')",
        "has norm",
        "allocation has K=1, this block is user 1",
        "a codeword would carry no bit",
        "'h' has non-finite entries",
        "CSI must be a PMT dictionary",
        "CSI has K=1",
        "a PDU must be a pair",
        "PDU payload must be a u8vector",
        "PDU meta must be a dictionary",
    ):
        assert reason in log, reason


def test_shape_mismatch_falls_back_to_fixed_sinr(harness) -> None:
    h = harness(user=0, sinr_db=3.0)
    csi, alloc = scenario(k=3, n_t=4)
    h.send("cmd", messages.alloc_to_pmt(alloc))
    h.send("csi", messages.csi_to_pmt(Csi(h=np.ones((3, 2)), noise_var=np.ones(3))))
    meta, _ = h.send_bits(bits(10))
    assert meta["fbl_sinr_source"] == "fixed" and meta["fbl_sinr_db"] == pytest.approx(3.0)
    h.send("csi", messages.csi_to_pmt(csi))
    meta, _ = h.send_bits(bits(10))
    assert meta["fbl_sinr_source"] == "csi"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"user": -1},
        {"blocklength": 0},
        {"rc": 0.001, "blocklength": 100},
        {"rc": -1.0},
        {"error_model": "erasure"},
        {"sinr_db": math.nan},
        {"seed": -1},
    ],
)
def test_constructor_rejects_bad_parameters(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        fbl_link(**kwargs)


# ---------------------------------------------------------------------------------------------
# Issue 12 regressions
# ---------------------------------------------------------------------------------------------


def _zero_noise_csi(csi: Csi) -> object:
    return pmt.dict_add(
        messages.csi_to_pmt(csi), pmt.intern("noise_var"), pmt.init_f64vector(3, [0.0] * 3)
    )


def _huge_h_csi(csi: Csi) -> object:
    h = (1e200 * np.eye(3, 4)).astype(complex).reshape(-1)
    return pmt.dict_add(messages.csi_to_pmt(csi), pmt.intern("h"), pmt.init_c64vector(12, h))


def _huge_rc_alloc(alloc: Allocation) -> object:
    return pmt.dict_add(  # by hand: alloc_to_pmt itself refuses this rc
        messages.alloc_to_pmt(Allocation(seq=5, rc=np.array([1.0, 1.0, 1.0]))),
        pmt.intern("rc"),
        pmt.init_f64vector(3, [1.0, 1e300, 1.0]),
    )


@pytest.mark.parametrize(
    ("port", "build"),
    [("csi", _zero_noise_csi), ("csi", _huge_h_csi), ("cmd", _huge_rc_alloc)],
    ids=["noise_var_zero", "h_1e200", "rc_1e300"],
)
def test_schema_valid_but_unusable_message_is_rejected_and_pdus_flow(harness, port, build):
    """Defect 2: each of these messages used to be accepted and then every later PDU was lost
    (downlink_sinr raising on a zero noise variance, a NaN SINR, an IndexError)."""
    h = harness(user=1, blocklength=128)
    csi, alloc = scenario()
    h.send("csi", messages.csi_to_pmt(csi))
    h.send("cmd", messages.alloc_to_pmt(alloc))
    sinr0 = h.blk.current_sinr()
    h.send(port, build(csi if port == "csi" else alloc))
    for i in range(3):
        meta, out = h.send_bits(bits(200, seed=i))
        assert out.size == 200 and meta["fbl_sinr_source"] == "csi"
        assert math.isfinite(meta["fbl_sinr_db"])
    assert h.blk.current_sinr() == sinr0
    c = h.blk.counters()
    assert c[f"{port}_rejected"] == 1 and c["pdus_in"] == c["pdus_out"] == 3


def test_malformed_pdu_leaves_as_an_erasure(harness) -> None:
    """Defect 7 (fbl_link): a malformed PDU gives one erasure PDU with the reason, not silence."""
    h = harness(user=0, sinr_db=10.0)
    bad = pmt.cons(messages.meta_to_pmt({"image_id": 7}), pmt.init_f32vector(2, [1.0, 2.0]))
    h.post("pdus", bad)
    h.wait_for(lambda: h.dbg.num_messages() == 1)
    meta, out = messages.unpack_bits_pdu(h.dbg.get_message(0))
    assert meta["erased"] is True and "u8vector" in meta["erasure_reason"]
    assert meta["image_id"] == 7 and out.size == 0
    meta, _ = h.send_bits(bits(10))
    assert "erased" not in meta


def test_older_allocation_is_dropped(harness) -> None:
    """Defect 5: an allocation older than the last one taken does not override it."""
    h = harness(user=0, blocklength=128)
    h.send("cmd", messages.alloc_to_pmt(Allocation(seq=7, rc=np.array([1.5]))))
    h.send("cmd", messages.alloc_to_pmt(Allocation(seq=6, rc=np.array([0.5]))))
    assert h.blk.current_rc() == 1.5
    assert h.blk.counters()["cmd_rejected"] == 1


def _epoch_alloc(seq: int, rc: float, apply_frame: int = 0, epoch: int = 0) -> object:
    return messages.alloc_to_pmt(
        Allocation(seq=seq, apply_frame=apply_frame, epoch=epoch, rc=np.array([rc]))
    )


def test_restarted_optimizer_is_taken_under_a_new_epoch(harness) -> None:
    """Issue 24, Why 1: a new optimiser instance numbers from 1 again (new epoch); it used to
    be rejected for good, as after one allocation with seq = 2**64-1."""
    h = harness(user=0, blocklength=128, sinr_db=60.0)
    h.send("cmd", _epoch_alloc(2**64 - 1, 1.5, epoch=7))
    h.send("cmd", _epoch_alloc(1, 0.5, epoch=8))
    meta, _ = h.send_bits(bits(10), frame=1)
    assert meta["fbl_rc"] == 0.5 and meta["fbl_alloc_seq"] == 1
    assert h.blk.counters()["cmd_rejected"] == 0


def test_newer_seq_for_an_earlier_frame_stays_in_force(harness) -> None:
    """Issue 24, Why 2: seq 5 for frame 100, then seq 6 for frame 50: at frame 120 seq 6 is
    in force (seq 5 used to replace it at frame 100)."""
    h = harness(user=0, blocklength=128, sinr_db=60.0)
    h.send("cmd", _epoch_alloc(5, 1.5, apply_frame=100))
    h.send("cmd", _epoch_alloc(6, 0.5, apply_frame=50))
    for frame in (60, 120):
        meta, _ = h.send_bits(bits(10), frame=frame)
        assert meta["fbl_rc"] == 0.5 and meta["fbl_alloc_seq"] == 6


def test_pending_allocations_are_capped(harness) -> None:
    """Issue 24, Why 4: far-future allocations no longer grow the pending queue without
    limit: MAX_PENDING wait, the rest are dropped and counted in cmd_rejected."""
    h = harness(user=0, blocklength=128, sinr_db=60.0)
    n = 201
    for s in range(1, n + 1):
        h.post("cmd", _epoch_alloc(s, 0.5, 10**12 + s))
    keys = ("cmd_accepted", "cmd_rejected")
    h.wait_for(lambda: h.handled(keys) >= n)
    cap = h.blk._sched.MAX_PENDING
    assert h.blk._sched.pending == cap
    assert h.blk.counters()["cmd_rejected"] == n - cap
    h.send("cmd", _epoch_alloc(n + 2, 1.25, apply_frame=3))  # supersedes them all
    meta, _ = h.send_bits(bits(10), frame=3)
    assert meta["fbl_rc"] == 1.25 and h.blk._sched.pending == 0


def test_csi_queued_for_a_jumped_frame_is_dropped(harness) -> None:
    """Issue 24, Build 1: a CSI whose frame is more than FRAME_JUMP_WINDOW ahead of the frames
    received (a frame counter that jumped or restarted) used to wait in the CSI queue for
    good; it is dropped (ChannelState.dropped_jump) and the CSI of the current numbering
    applies."""
    from gnuradio.semdacom.plumbing.channel_state import FRAME_JUMP_WINDOW

    csi, alloc = scenario()
    h = harness(user=0, blocklength=128)
    h.send("cmd", messages.alloc_to_pmt(alloc))
    far = Csi(h=csi.h, noise_var=csi.noise_var, seq=1)
    h.send("csi", messages.csi_with_frame(far, 10**12))
    near = Csi(h=2 * csi.h, noise_var=csi.noise_var, seq=2)
    h.send("csi", messages.csi_with_frame(near, 3))
    meta, _ = h.send_bits(bits(10), frame=3 + FRAME_JUMP_WINDOW // 2)
    assert meta["fbl_csi_seq"] == 2 and h.blk._chan.dropped_jump == 1
