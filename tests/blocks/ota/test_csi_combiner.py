"""QA of ``csi_combiner``: the users' CSI reports stacked into the K-user CSI."""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from gnuradio import semdacom
from gnuradio.semdacom import messages

H = np.array([[1.0, 0.5j], [0.2 - 0.3j, 0.9]])
NV = [0.1, 0.2]


def report(user, frame, scale=1.0, seq=0):
    return messages.csi_report_to_pmt(user, H[user] * scale, NV[user], seq, frame)


def read(msg):
    return messages.csi_from_pmt(msg, k=2, n_t=2), messages.csi_frame(msg)


def test_publishes_once_every_user_has_reported_then_every_n_frames(block_harness) -> None:
    h = block_harness(semdacom.csi_combiner(k=2, n_t=2, every=3), ["csi"])
    h.post_and_wait("csi", report(0, 10), ["accepted"])
    assert h.n_out("csi") == 0  # user 1 has not reported yet
    h.post_and_wait("csi", report(1, 11), ["accepted"])
    h.wait_out("csi", 1)
    csi, frame = read(h.out("csi")[0])
    assert np.allclose(csi.h, H) and np.allclose(csi.noise_var, NV)
    assert frame == 11 and csi.seq == 11
    for f in (12, 13):  # fewer than 3 frames newer
        h.post_and_wait("csi", report(0, f), ["accepted"])
    assert h.n_out("csi") == 1
    h.post_and_wait("csi", report(1, 14, 2.0), ["accepted"])
    h.wait_out("csi", 2)
    csi, frame = read(h.out("csi")[1])
    assert frame == 14 and csi.seq == 14 and np.allclose(csi.h[1], 2 * H[1])
    # stale: older than what is kept for that user; not an error, nothing changes
    h.post_and_wait("csi", report(1, 12), ["stale"])
    assert h.counters()["rejected"] == 0 and h.n_out("csi") == 2
    assert h.blk.last_frame() == 14


def test_average_of_the_last_reports_and_reports_without_frames(block_harness) -> None:
    h = block_harness(semdacom.csi_combiner(k=2, n_t=2, every=1, average=2), ["csi"])
    h.post_and_wait("csi", report(1, None, 1.0), ["accepted"])
    h.post_and_wait("csi", report(0, None, 1.0), ["accepted"])
    h.post_and_wait("csi", report(0, None, 3.0), ["accepted"])
    h.wait_out("csi", 2)
    first, second = (read(m) for m in h.out("csi"))
    assert np.allclose(second[0].h[0], 2 * H[0])  # mean of 1x and 3x
    assert second[0].seq > first[0].seq and second[1] > first[1]


def test_malformed_reports_are_dropped_and_change_nothing(block_harness) -> None:
    h = block_harness(semdacom.csi_combiner(k=2, n_t=2), ["csi"])
    h.post_and_wait("csi", report(0, 5), ["accepted"])
    state = (h.blk._frames[:], len(h.blk._rows[0]))
    full = messages.csi_to_pmt(messages.Csi(h=H, noise_var=np.array(NV), seq=1))
    bad = [
        pmt.intern("x"),
        full,  # a K-row CSI, no user
        pmt.dict_add(full, pmt.intern("user"), pmt.from_long(0)),  # two rows
        messages.csi_report_to_pmt(5, H[0], 0.1, 0, 7),  # user >= K
        messages.csi_report_to_pmt(0, np.ones(3), 0.1, 0, 8),  # three antennas
        pmt.dict_add(report(1, 9), pmt.intern("user"), pmt.intern("one")),
        pmt.dict_add(report(1, 9), pmt.intern("frame"), pmt.from_double(1.5)),
    ]
    for msg in bad:
        h.post_and_wait("csi", msg, ["rejected"])
    assert h.counters()["rejected"] == len(bad) and h.n_out("csi") == 0
    assert (h.blk._frames[:], len(h.blk._rows[0])) == state


@pytest.mark.parametrize("kw", [{"k": 0}, {"n_t": 0}, {"every": 0}, {"average": 0}])
def test_bad_parameters_are_refused(kw) -> None:
    with pytest.raises(ValueError):
        semdacom.csi_combiner(**kw)


def test_a_frame_jump_is_a_restart_not_deafness(block_harness) -> None:
    """Issue 24, Why 5: one report with frame 10**12 used to make every later report "stale"
    until the frame counter caught up. A frame more than FRAME_JUMP_WINDOW away from the
    newest one known restarts the combiner (counted in frame_resets, logged)."""
    from gnuradio.semdacom.plumbing.channel_state import FRAME_JUMP_WINDOW

    h = block_harness(semdacom.csi_combiner(k=2, n_t=2, every=1), ["csi"])
    h.post_and_wait("csi", report(0, 10), ["accepted"])
    h.post_and_wait("csi", report(1, 10), ["accepted"])
    h.wait_out("csi", 1)
    h.post_and_wait("csi", report(0, 10**12), ["accepted"])  # junk far ahead
    for f in (11, 12):
        h.post_and_wait("csi", report(0, f), ["accepted"])
        h.post_and_wait("csi", report(1, f), ["accepted"])
    h.wait_out("csi", 3)
    csi, frame = read(h.out("csi")[-1])
    assert frame == 12 and h.counters()["stale"] == 0
    assert h.counters()["frame_resets"] == 2  # ahead to 10**12, back to 11
    # a restart of the frame counter (far behind) is the same
    h.post_and_wait("csi", report(0, 12 + FRAME_JUMP_WINDOW + 1), ["accepted"])
    h.post_and_wait("csi", report(1, 12 + FRAME_JUMP_WINDOW + 1), ["accepted"])
    n = h.n_out("csi")
    h.post_and_wait("csi", report(0, 0), ["accepted"])
    h.post_and_wait("csi", report(1, 0), ["accepted"])
    h.wait_out("csi", n + 1)
    assert read(h.out("csi")[-1])[1] == 0


# ---------------------------------------------------------------------------------------------
# Issue 21 (Build 3): CSI age and the fading margin
# ---------------------------------------------------------------------------------------------


def _keys(msg) -> tuple[list, list, list]:
    def get(key: str):
        return pmt.dict_ref(msg, pmt.intern(key), pmt.PMT_NIL)

    return (list(pmt.s64vector_elements(get("age"))), list(pmt.s64vector_elements(get("span"))),
            list(pmt.f64vector_elements(get("margin_db"))))  # fmt: skip


def test_every_csi_carries_its_age_and_plan_carries_the_margin(block_harness) -> None:
    """Each user's age (frames from its newest report to the CSI's frame) and span (frames
    its averaged reports cover); ``plan`` is the same CSI with the noise raised by the margin,
    ``csi`` keeps the measured noise (the users' decoders use it)."""
    blk = semdacom.csi_combiner(k=2, n_t=2, every=1, average=2, margin_db=3.0)
    h = block_harness(blk, ["csi", "plan"])
    h.post_and_wait("csi", report(1, 9), ["accepted"])
    h.post_and_wait("csi", report(0, 10), ["accepted"])
    h.post_and_wait("csi", report(0, 11), ["accepted"])
    h.wait_out("plan", 2)
    csi, frame = read(h.out("csi")[1])
    plan, plan_frame = read(h.out("plan")[1])
    assert frame == plan_frame == 11 and np.allclose(csi.h, plan.h)
    assert np.allclose(csi.noise_var, NV) and np.allclose(plan.noise_var, np.array(NV) * 10**0.3)
    age, span, margin = _keys(h.out("csi")[1])
    assert age == [0, 2] and span == [1, 0] and margin == [3.0, 3.0]
    assert _keys(h.out("plan")[1]) == (age, span, margin)
    assert np.allclose(blk.margins_db(), 3.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_measured_margin_follows_the_fading_of_each_user(block_harness, seed: int) -> None:
    """margin_quantile 0.25, lag 10: user 0's gain fades (Clarke, Doppler 0.05 per frame),
    user 1's only carries a 2 % estimation error. The measured margin of the faded user is
    several dB, the static one's a few tenths; the floor margin_db holds for both."""
    rng = np.random.default_rng(seed)
    n = 150
    theta, phi = rng.uniform(0, 2 * np.pi, (2, 16))
    fade = np.abs(np.exp(1j * (2 * np.pi * 0.05 * np.outer(np.arange(n), np.cos(theta)) + phi))
                  .sum(axis=1)) / 4  # fmt: skip
    blk = semdacom.csi_combiner(k=2, n_t=2, every=4, average=4, margin_db=0.1,
                                margin_quantile=0.25, lag=10)  # fmt: skip
    h = block_harness(blk, ["csi", "plan"])
    for f in range(n):
        h.post("csi", report(0, f, fade[f] * (1 + 0.02 * rng.standard_normal())))
        h.post("csi", report(1, f, 1 + 0.02 * rng.standard_normal()))
    h.wait_for(lambda: h.counters()["accepted"] == 2 * n)
    h.wait_out("plan", (n - 1) // 4)
    # the plan of the last CSI out (published after it: under load the check ran between them)
    h.wait_for(lambda: read(h.out("plan")[-1])[0].seq == read(h.out("csi")[-1])[0].seq)
    m = blk.margins_db()
    assert 2.0 < m[0] <= 20.0 and m[0] > 5 * m[1], m
    assert 0.1 <= m[1] < 0.6, m
    plan, _ = read(h.out("plan")[-1])
    csi, _ = read(h.out("csi")[-1])
    assert np.allclose(plan.noise_var, csi.noise_var * 10 ** (m / 10))


@pytest.mark.parametrize(
    "kw", [{"margin_db": -1.0}, {"margin_db": 25.0}, {"margin_quantile": 0.6},
           {"margin_quantile": -0.1}, {"lag": 0}, {"margin_db": float("nan")}],
)  # fmt: skip
def test_bad_margin_parameters_are_refused(kw) -> None:
    with pytest.raises(ValueError):
        semdacom.csi_combiner(**kw)
