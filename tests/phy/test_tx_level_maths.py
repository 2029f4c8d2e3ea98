"""Tests of ``semdacom.phy.tx_level``: watts to digital full scale, the clip at full scale, the
Rapp PA model and the level measurements (docs/ota.md "Transmit levels")."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semdacom.channel_coding import ota
from semdacom.phy import sync
from semdacom.phy import tx_level as tl

amp = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(st.tuples(amp, amp), min_size=1, max_size=64).map(
    lambda v: np.array([complex(a, b) for a, b in v])
)


@settings(max_examples=200, deadline=None)
@given(samples, st.sampled_from(tl.MODES))
def test_the_clip_never_exceeds_full_scale_and_keeps_what_is_within(x, mode) -> None:
    y = tl.clip(x, mode)
    assert not tl.over_full_scale(y, mode).any()
    inside = ~tl.over_full_scale(x, mode)
    assert np.array_equal(y[inside], x[inside])
    if mode == "rail":
        assert np.all(np.abs(y.real) <= 1.0) and np.all(np.abs(y.imag) <= 1.0)
    else:
        assert np.all(np.abs(y) <= 1.0)
        assert np.all(np.abs(y.astype(np.complex64)) <= 1.0)
        big = ~inside
        assert np.allclose(np.angle(y[big]), np.angle(x[big]))  # the phase kept


def test_the_rail_clip_is_what_uhd_sc16_does() -> None:
    # I and Q saturate on their own: 1.5 - 0.2j keeps its Q rail, 0.9 + 0.9j (|x| = 1.27)
    # is within the rails but beyond the envelope.
    x = np.array([1.5 - 0.2j, 0.9 + 0.9j, -3 - 4j])
    assert np.allclose(tl.clip(x, "rail"), [1 - 0.2j, 0.9 + 0.9j, -1 - 1j])
    assert list(tl.over_full_scale(x, "rail")) == [True, False, True]
    assert list(tl.over_full_scale(x, "envelope")) == [True, True, True]
    with pytest.raises(ValueError):
        tl.clip(x, "circle")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0, 1e8, allow_nan=False, allow_subnormal=False), min_size=2, max_size=64),
    st.floats(0.1, 50), st.floats(1e-3, 1e3),
)  # fmt: skip
def test_rapp_is_monotone_bounded_and_keeps_the_phase(r, p, a_sat) -> None:
    r = np.sort(np.asarray(r))
    phase = np.exp(1j * 0.7)
    out = tl.rapp(r * phase, p, a_sat)
    mag = np.abs(out)
    assert np.all(np.isfinite(mag))
    assert np.all(np.diff(mag) >= -1e-9 * a_sat)  # monotone
    assert np.all(mag <= a_sat * (1 + 1e-12))  # bounded by the saturation
    assert np.all(mag <= r * (1 + 1e-12))  # never a gain above 1
    big = r > 0
    assert np.allclose(np.angle(out[big]), 0.7)


def test_rapp_reference_values() -> None:
    # small signal: unit gain; at r = A_sat: 2^(-1/(2p)) (-1 dB at p = 3); large: A_sat;
    # p -> infinity: the envelope clip
    assert abs(tl.rapp(np.array([1e-4]), 3, 1)[0] - 1e-4) < 1e-12
    assert math.isclose(abs(tl.rapp(np.array([2.0]), 3, 2)[0]), 2 * 2 ** (-1 / 6), rel_tol=1e-12)
    assert math.isclose(abs(tl.rapp(np.array([1e300]), 2, 0.5)[0]), 0.5, rel_tol=1e-12)
    x = np.array([0.3, 0.99, 1.5, 7.0]) * np.exp(0.3j)
    assert np.allclose(tl.rapp(x, 500, 1.0), tl.clip(x, "envelope"), atol=2e-3)
    for bad in ((0, 1), (-1, 1), (3, 0), (math.nan, 1), (3, math.inf)):
        with pytest.raises(ValueError):
            tl.rapp(x, *bad)


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-9, 1e6), st.integers(1, 16), st.floats(0, 60))
def test_the_scale_maps_the_per_antenna_power_to_the_stated_rms(p_max, n_t, backoff) -> None:
    g = tl.full_scale_gain(p_max, n_t, backoff)
    assert math.isclose(tl.db(g**2 * p_max / n_t), -backoff, abs_tol=1e-9)
    # on a signal: power p_max / n_t per sample -> RMS -backoff dBFS
    rng = np.random.default_rng(1)
    x = math.sqrt(p_max / n_t / 2) * (rng.standard_normal(4096) + 1j * rng.standard_normal(4096))
    x *= math.sqrt(p_max / n_t / np.mean(np.abs(x) ** 2))
    assert math.isclose(tl.rms_dbfs(g * x), -backoff, abs_tol=1e-6)


def test_the_scale_refuses_bad_parameters() -> None:
    for args in ((0, 2, 12), (-1, 2, 12), (math.nan, 2, 12), (1, 0, 12), (1, 2.5, 12),
                 (1, 2, -1), (1, 2, math.inf)):  # fmt: skip
        with pytest.raises(ValueError):
            tl.full_scale_gain(*args)
    assert tl.DEFAULT_BACKOFF_DB == 12.0


def test_levels_of_known_signals() -> None:
    x = 0.5 * np.exp(2j * np.pi * 0.01 * np.arange(1000))  # a tone: PAPR 0 dB
    assert math.isclose(tl.rms_dbfs(x), 20 * math.log10(0.5))
    assert math.isclose(tl.peak_dbfs(x), 20 * math.log10(0.5))
    assert abs(tl.papr_db(x)) < 1e-9
    assert math.isclose(tl.rail_peak(np.array([0.3 - 0.8j, 0.5 + 0.1j])), 0.8)
    assert tl.rms_dbfs(np.zeros(4)) == -math.inf and math.isnan(tl.papr_db(np.zeros(4)))
    assert tl.peak_dbfs(np.zeros(0)) == -math.inf


def test_the_meter_counts_every_sample_beyond_full_scale_per_antenna() -> None:
    m = tl.LevelMeter(2, "rail")
    a0 = np.array([0.5, 1.2, -0.1 + 1.01j, 0.9 + 0.9j])
    assert m.update(0, a0[:2]) == 1 and m.update(0, a0[2:]) == 1
    assert m.update(1, np.zeros(3)) == 0
    s = m.summary()
    assert s["samples"] == [4, 3] and s["clipped_per_antenna"] == [2, 0] and s["clipped_total"] == 2
    assert math.isclose(s["rms_dbfs"][0], tl.rms_dbfs(a0))
    assert math.isclose(s["peak_dbfs"][0], tl.peak_dbfs(a0))
    assert math.isclose(s["rail_peak_dbfs"][0], 20 * math.log10(1.2))
    assert math.isclose(s["papr_db"][0], tl.papr_db(a0))
    assert s["rms_dbfs"][1] == -math.inf and math.isnan(s["papr_db"][1])
    env = tl.LevelMeter(1, "envelope")
    assert env.update(0, a0) == 3
    with pytest.raises(ValueError):
        tl.LevelMeter(1, "dac")


@settings(max_examples=150, deadline=None)
@given(st.lists(samples, min_size=1, max_size=4), st.sampled_from(tl.MODES),
       st.sampled_from([np.complex64, np.complex128]), st.floats(1e-7, 10.0))  # fmt: skip
def test_the_meter_agrees_with_the_definitions(chunks, mode, dtype, scale) -> None:
    m = tl.LevelMeter(1, mode)
    xs = [(c * scale / 1e6).astype(dtype) for c in chunks]
    over = sum(m.update(0, x) for x in xs)
    x = np.concatenate(xs).astype(np.complex128)
    s = m.summary()
    assert over == s["clipped_total"] == int(tl.over_full_scale(x, mode).sum())
    assert s["samples"] == [x.size]
    rel = 1e-5 if dtype == np.complex64 else 1e-9
    # the meter squares in the samples' precision: below ~1e-12 of full scale (-240 dBFS)
    # complex64 squares underflow to subnormals or zero, a level no DAC resolves anyway
    if np.max(np.abs(x)) > 1e-12:
        assert math.isclose(s["rms_dbfs"][0], tl.rms_dbfs(x), abs_tol=1e-4)
        assert math.isclose(s["peak_dbfs"][0], tl.peak_dbfs(x), abs_tol=1e-4)
        assert math.isclose(10 ** (s["rail_peak_dbfs"][0] / 20), tl.rail_peak(x), rel_tol=rel)


def test_non_finite_samples_become_zero_and_are_counted() -> None:
    x = np.array([1, math.nan, complex(0, math.inf), 2], np.complex64)
    y, n = tl.finite_or_zero(x)
    assert n == 2 and y.dtype == np.complex64 and list(y) == [1, 0, 0, 2]
    y, n = tl.finite_or_zero(np.ones(3, np.complex64))
    assert n == 0


def test_the_log_throttle_lets_one_line_through_per_interval() -> None:
    t = tl.LogThrottle(5.0)
    assert t.due(100.0) and not t.due(101.0) and not t.due(104.9) and t.due(105.0)
    t.note(3)
    t.note(2)
    assert t.take() == 5 and t.take() == 0


def _shaped_bursts(n_frames: int, seed: int, p_max: float, unbalanced: bool) -> np.ndarray:
    """The examples' bursts (K = N_t = 2, N = 127, N_p = 16, slot 1024, 16-QAM payload of two
    users superposed with unit-norm beams, total power ``p_max``), RRC-shaped at 2 samples
    per symbol as the examples do (``sqrt(sps) rrc``): shape ``(N_t, samples)``."""
    rng = np.random.default_rng(seed)
    lay = ota.BurstLayout(2, 2, 127, 16, 2, 1024, 64)
    taps = math.sqrt(2) * sync.rrc_taps(2)
    lev = np.arange(4) * 2 - 3.0
    out = [[], []]
    for f in range(n_frames):
        s = rng.choice(lev, (2, 1024)) + 1j * rng.choice(lev, (2, 1024))
        s /= math.sqrt(10)
        if unbalanced:  # every beam on antenna 0: its power is p_max, twice p_max / N_t
            w = np.array([[1, 1], [0, 0]], complex)
        else:
            w = rng.standard_normal((2, 2)) + 1j * rng.standard_normal((2, 2))
            w /= np.linalg.norm(w, axis=0)
        pw = np.array([0.6, 0.4]) * p_max
        x = (w * np.sqrt(pw)) @ s
        entries = [ota.entry_from_chan_info(None)] * 2
        b = ota.build_burst(lay, f, entries, x, p_max / 2)
        for a in range(2):
            up = np.zeros(2 * b.shape[1], complex)
            up[::2] = b[a]
            out[a].append(np.convolve(up, taps)[: up.size])
    return np.stack([np.concatenate(o) for o in out])


@pytest.mark.parametrize(("seed", "unbalanced"), [(0, False), (7, False), (3, True)])
def test_the_default_backoff_keeps_the_examples_bursts_within_full_scale(seed, unbalanced):
    p_max = 10 ** (5 / 10)  # the examples' P_max = 5 dBW
    y = _shaped_bursts(12, seed, p_max, unbalanced)
    assert (np.abs(y) > 1).mean() > 0.3  # in watts, a third or more would clip
    g = tl.full_scale_gain(p_max, 2)
    for a in range(2):
        z = g * y[a]
        assert not tl.over_full_scale(z, "rail").any()
        assert tl.peak_dbfs(z) < -1.0
        assert tl.rms_dbfs(z) < -12 + 3.5
