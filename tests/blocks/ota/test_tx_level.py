"""QA of ``tx_level``: the base station's antenna streams in watts -> digital full scale, every
sample beyond it counted (docs/ota.md "Transmit levels")."""

from __future__ import annotations

import math

import numpy as np
import pmt
import pytest
from block_harness import make_tag, run_antennas
from gnuradio import blocks, filter, gr, semdacom
from gnuradio.semdacom import messages

from semdacom.phy import sync
from semdacom.phy import tx_level as tl

P_MAX = 10 ** (5 / 10)  # the examples' default P_max = 5 dBW


def run(blk, xs, tags=None, chunk=0, levels=False):
    """``xs`` (one array per antenna; ``tags[a]`` on antenna ``a``) through ``blk``: the
    outputs, each output's tags ``(offset, key)`` and the ``levels`` messages."""
    outs, out_tags, msgs = run_antennas(blk, xs, tags, chunk, store=("levels",))
    return outs, out_tags, [messages.meta_from_pmt(m) for m in msgs["levels"]]


def test_the_scale_puts_the_per_antenna_power_at_the_stated_rms() -> None:
    rng = np.random.default_rng(0)
    p = P_MAX / 2
    xs = [math.sqrt(p / 2) * (rng.standard_normal(20000) + 1j * rng.standard_normal(20000))
          for _ in range(2)]  # fmt: skip
    blk = semdacom.tx_level(n_t=2, p_max=P_MAX)
    outs, _, _ = run(blk, xs)
    g = 10 ** (-12 / 20) / math.sqrt(p)
    assert math.isclose(blk.gain(), g, rel_tol=1e-12)
    for a in range(2):
        assert np.allclose(outs[a], g * xs[a], rtol=1e-5, atol=1e-7)
        assert abs(tl.rms_dbfs(outs[a]) - (-12)) < 0.1
    lv = blk.levels()
    assert lv["samples"] == [20000, 20000] and lv["samples_in"] == 20000
    assert all(abs(r + 12) < 0.1 for r in lv["rms_dbfs"])
    assert lv["clipped_per_antenna"] == [0, 0] and lv["clipped_total"] == 0 == lv["nonfinite"]


@pytest.mark.parametrize("chunk", [0, 7])
def test_every_sample_beyond_full_scale_is_counted_per_antenna(chunk: int) -> None:
    # gain 1 (p_max = n_t, no back-off): the input is the full-scale signal
    x0 = np.array([0.5, 1.2, -0.1 + 1.01j, 0.9 + 0.9j, 0, -2j] * 5)
    x1 = np.array([0.99, 0.1, 0.2, 0.3, 0.4, 0.5] * 5)
    blk = semdacom.tx_level(n_t=2, p_max=2.0, backoff_db=0.0)
    outs, _, _ = run(blk, [x0, x1], chunk=chunk)
    assert np.allclose(outs[0], x0) and np.allclose(outs[1], x1)  # counted, not clipped
    c = blk.counters()
    assert c["clipped"] == 15 and c["samples_in"] == 30
    lv = blk.levels()
    assert lv["clipped_per_antenna"] == [15, 0] and lv["clipped"] == 15
    assert math.isclose(lv["peak_dbfs"][0], 20 * math.log10(2), abs_tol=1e-5)
    assert math.isclose(lv["rail_peak_dbfs"][1], 20 * math.log10(0.99), abs_tol=1e-5)
    env = semdacom.tx_level(n_t=2, p_max=2.0, backoff_db=0.0, full_scale="envelope")
    run(env, [x0, x1])
    assert env.levels()["clipped_per_antenna"] == [20, 0]  # 0.9 + 0.9j is beyond the envelope only


@pytest.mark.parametrize("mode", ["rail", "envelope"])
def test_with_clip_nothing_beyond_full_scale_leaves(mode: str) -> None:
    rng = np.random.default_rng(3)
    xs = [3 * (rng.standard_normal(5000) + 1j * rng.standard_normal(5000)) for _ in range(2)]
    blk = semdacom.tx_level(n_t=2, p_max=2.0, backoff_db=0.0, full_scale=mode, clip=True)
    outs, _, _ = run(blk, xs)
    for a in range(2):
        assert not tl.over_full_scale(outs[a], mode).any()
        inside = ~tl.over_full_scale(xs[a], mode)
        assert np.allclose(outs[a][inside], xs[a][inside], rtol=1e-6)
    assert blk.counters()["clipped"] == sum(int(tl.over_full_scale(x, mode).sum()) for x in xs)


def test_tags_stay_on_their_antenna_and_sample() -> None:
    n = 100
    tags = [[make_tag(0, "tx_sob", pmt.PMT_T), make_tag(n - 1, "tx_eob", pmt.PMT_T)],
            [make_tag(5, "frame", pmt.from_uint64(3))]]  # fmt: skip
    _, out_tags, _ = run(semdacom.tx_level(n_t=2, p_max=1.0), [np.ones(n), np.ones(n)], tags)
    assert out_tags == [[(0, "tx_sob"), (n - 1, "tx_eob")], [(5, "frame")]]


def test_non_finite_samples_leave_as_zero_and_are_counted() -> None:
    x = np.array([0.1, math.nan, complex(math.inf, 0), 0.2, complex(0, -math.inf)])
    blk = semdacom.tx_level(n_t=1, p_max=1.0, backoff_db=0.0)
    outs, _, _ = run(blk, [x])
    assert list(outs[0]) == [np.complex64(0.1), 0, 0, np.complex64(0.2), 0]
    assert blk.counters()["nonfinite"] == 3 and blk.counters()["clipped"] == 0


def test_levels_are_published_every_report_every_samples_and_at_stop() -> None:
    blk = semdacom.tx_level(n_t=1, p_max=1.0, backoff_db=6.0, report_every=1000)
    _, _, msgs = run(blk, [np.full(5000, 0.5)], chunk=500)
    # five reports while running (the one at stop may find the debug sink stopped already)
    assert len(msgs) in (5, 6)
    assert [m["samples_in"] for m in msgs[:5]] == [1000, 2000, 3000, 4000, 5000]
    last = msgs[-1]
    assert last["clipped"] == 0 and last["clipped_per_antenna"] == (0,)
    assert abs(last["rms_dbfs"][0] - (20 * math.log10(0.5) - 6)) < 1e-5


def test_the_backoff_can_change_and_a_bad_one_is_refused() -> None:
    blk = semdacom.tx_level(n_t=2, p_max=4.0, backoff_db=12.0)
    g = blk.gain()
    blk.set_backoff_db(6.0)
    assert math.isclose(blk.gain(), 10 ** (6 / 20) * g, rel_tol=1e-12)
    with pytest.raises(ValueError):
        blk.set_backoff_db(-3.0)
    assert math.isclose(blk.gain(), 10 ** (6 / 20) * g, rel_tol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [dict(n_t=0), dict(p_max=0.0), dict(p_max=-1.0), dict(p_max=math.nan),
     dict(backoff_db=-1.0), dict(backoff_db=math.inf), dict(full_scale="dac"),
     dict(report_every=-1), dict(log_interval_s=-1.0)],
)  # fmt: skip
def test_bad_parameters_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        semdacom.tx_level(**kwargs)


def _base_station_tx(seed: int, backoff_db: float, n_frames: int = 8):
    """The examples' base station from the beamformer on (K = N_t = 2, N = 127, N_p = 16,
    header MCS 2, slot 1024, guard 64, pilot power P_max / 2, 16-QAM payloads of the two users
    with unit-norm beams at P_max), RRC shaping at 2 samples per symbol (``sqrt(sps) rrc``
    as the examples), then ``tx_level``; returns the block and the shaped samples in watts."""
    rng = np.random.default_rng(seed)
    slot = 1024
    lev = (np.arange(4) * 2 - 3.0) / math.sqrt(10)
    xs, tags = [[], []], []
    for f in range(n_frames):
        s = rng.choice(lev, (2, slot)) + 1j * rng.choice(lev, (2, slot))
        w = rng.standard_normal((2, 2)) + 1j * rng.standard_normal((2, 2))
        w /= np.linalg.norm(w, axis=0)
        x = (w * np.sqrt(np.array([0.7, 0.3]) * P_MAX)) @ s
        info = messages.meta_to_pmt({"user": 0, "mode": "ldpc", "L": 256, "n_bits": 100,
                                     "mcs": 3, "pdu_image_id": f})  # fmt: skip
        tags += [make_tag(f * slot, "frame", pmt.from_uint64(f)),
                 make_tag(f * slot, "packet_len", pmt.from_long(slot)),
                 make_tag(f * slot, messages.CHAN_TAG, info)]  # fmt: skip
        for a in range(2):
            xs[a].append(x[a])
    pil = semdacom.pilot_inserter(2, 2, 127, 16, P_MAX / 2, 2, slot, 64)
    taps = [math.sqrt(2) * t for t in sync.rrc_taps(2)]
    blk = semdacom.tx_level(n_t=2, p_max=P_MAX, backoff_db=backoff_db)
    tb = gr.top_block()
    raw, out = [], []
    for a in range(2):
        src = blocks.vector_source_c(np.concatenate(xs[a]).astype(np.complex64).tolist(), False,
                                     1, tags if a == 0 else [])  # fmt: skip
        shaping = filter.interp_fir_filter_ccc(2, taps)
        raw.append(blocks.vector_sink_c())
        out.append(blocks.vector_sink_c())
        tb.connect(src, (pil, a), shaping, (blk, a), out[-1])
        tb.connect(shaping, raw[-1])
    tb.run()
    assert pil.counters()["bursts_out"] == n_frames
    return blk, [np.array(s.data()) for s in raw], [np.array(s.data()) for s in out]


@pytest.mark.parametrize("seed", [0, 5])
def test_the_examples_base_station_stays_within_full_scale_at_the_default_backoff(seed) -> None:
    blk, raw, out = _base_station_tx(seed, tl.DEFAULT_BACKOFF_DB)
    # the defect: in watts (what the UHD sink was handed) a third or more is beyond full scale
    assert all(tl.over_full_scale(r, "rail").mean() > 0.3 for r in raw)
    lv = blk.levels()
    assert lv["clipped_total"] == 0 and blk.counters()["clipped"] == 0
    assert all(-13.5 < r < -10.5 for r in lv["rms_dbfs"])
    assert all(p < -2.0 for p in lv["peak_dbfs"])
    assert all(not tl.over_full_scale(o, "rail").any() for o in out)
    # 0 dB back-off: the shaped peaks are beyond full scale, and counted
    blk0, _, _ = _base_station_tx(seed, 0.0)
    assert blk0.counters()["clipped"] > 0


def test_the_simulated_dac_and_pa_leave_the_examples_bursts_as_they_were() -> None:
    """The wiring of mu_ascc_ota_sim: shaping -> tx_level -> pa_model (rail clip, Rapp p = 3,
    A_sat = 1) -> multiply_const(1/g) -> channel: back in watts, the bursts differ from the
    shaped ones by an error vector far below any SNR the link uses; at 0 dB back-off the same
    chain clips and distorts them (what a radio would do)."""
    _, raw, _ = _base_station_tx(2, tl.DEFAULT_BACKOFF_DB, n_frames=4)
    cases = ((tl.DEFAULT_BACKOFF_DB, -45.0, False), (0.0, None, True))
    for backoff, worst_evm_db, clipped in cases:
        lev = semdacom.tx_level(n_t=2, p_max=P_MAX, backoff_db=backoff)
        pa = semdacom.pa_model(n_t=2, clip="rail", smoothness=3.0, saturation=1.0)
        tb = gr.top_block()
        sinks = []
        for a in range(2):
            src = blocks.vector_source_c(raw[a].astype(np.complex64).tolist(), False)
            back = blocks.multiply_const_cc(1 / lev.gain())
            sinks.append(blocks.vector_sink_c())
            tb.connect(src, (lev, a))
            tb.connect((lev, a), (pa, a))
            tb.connect((pa, a), back, sinks[-1])
        tb.run()
        evm = [10 * math.log10(np.sum(np.abs(np.array(s.data()) - r) ** 2) / np.sum(np.abs(r) ** 2))
               for s, r in zip(sinks, raw, strict=True)]  # fmt: skip
        assert (pa.counters()["clipped"] > 0) == clipped == (lev.counters()["clipped"] > 0)
        if worst_evm_db is not None:
            assert max(evm) < worst_evm_db, evm
        else:
            assert min(evm) > -30.0, evm
