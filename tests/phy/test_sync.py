"""phy.sync: Zadoff-Chu preamble, Schmidl-Cox metric and CFO, matched-filter timing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from semdacom.phy import sync


def test_zadoff_chu_has_unit_modulus_and_zero_cyclic_autocorrelation() -> None:
    z = sync.zadoff_chu(5, 127)
    assert np.allclose(np.abs(z), 1.0)
    for lag in (1, 17, 100):
        assert abs(np.vdot(z, np.roll(z, lag))) < 1e-9
    with pytest.raises(ValueError):
        sync.zadoff_chu(2, 128)  # even length
    with pytest.raises(ValueError):
        sync.zadoff_chu(3, 129)  # root not prime to the length


def test_preamble_roots_cross_correlate_at_sqrt_n() -> None:
    n = 127
    roots = sync.preamble_roots(4, n)
    assert len(set(roots)) == 4
    zs = [sync.zadoff_chu(r, n) for r in roots]
    for i in range(4):
        for j in range(i + 1, 4):
            for lag in (0, 5, 60):
                assert abs(np.vdot(zs[i], np.roll(zs[j], lag))) == pytest.approx(math.sqrt(n))
    pre = sync.preamble(2, n, 2.0)
    assert pre.shape == (2, 2 * n) and np.allclose(pre[:, :n], pre[:, n:])
    assert np.allclose(np.abs(pre) ** 2, 2.0)
    with pytest.raises(ValueError):
        sync.preamble_roots(3, 9)  # 9 = 3^2: too few roots with prime differences


def _received(h, pre, start, total, cfo, nv, rng):
    y = np.zeros(total, np.complex128)
    y[start : start + pre.shape[1]] = np.conj(h) @ pre
    y *= np.exp(1j * (cfo * np.arange(total) + 0.4))
    return y + (rng.standard_normal(total) + 1j * rng.standard_normal(total)) * math.sqrt(nv / 2)


def test_schmidl_cox_peaks_at_the_preamble_and_reads_the_cfo() -> None:
    rng = np.random.default_rng(1)
    n = 127
    pre = sync.preamble(2, n)
    y = _received(np.array([0.9, 0.5 - 0.6j]), pre, 500, 2000, 0.01, 0.1, rng)
    m, p = sync.schmidl_cox(y, n)
    assert m.size == 2000 - 2 * n + 1 and np.all((m >= 0) & (m <= 1))
    assert abs(int(np.argmax(m)) - 500) <= 3
    assert m.max() > 0.7 and np.median(m) < 0.05
    assert np.angle(p[500]) / n == pytest.approx(0.01, abs=1e-3)
    assert sync.schmidl_cox(y[:10], n)[0].size == 0


@pytest.mark.parametrize("h", [np.array([1.0, 0.0]), np.array([0.0, 1.0j]),
                               np.array([0.7, -0.7])])  # fmt: skip
def test_find_burst_times_it_exactly_whatever_the_channel(h) -> None:
    rng = np.random.default_rng(2)
    n = 63
    pre = sync.preamble(2, n)
    nv = float(np.linalg.norm(h) ** 2) / 10  # 10 dB
    y = _received(h, pre, 333, 1500, -0.02, nv, rng)
    det, resume, rejected = sync.find_burst(y, pre)
    assert det is not None and not rejected
    assert det.start == 333 and resume == 333
    assert det.cfo == pytest.approx(-0.02, abs=2e-3)
    assert det.rho > 0.6


def test_noise_alone_gives_no_burst_and_a_short_buffer_waits() -> None:
    rng = np.random.default_rng(4)
    pre = sync.preamble(2, 63)
    noise = rng.standard_normal(5000) + 1j * rng.standard_normal(5000)
    det, resume, _ = sync.find_burst(noise, pre)
    assert det is None and resume > 4000  # searched to where it can judge
    y = _received(np.array([1.0, 0.3]), pre, 100, 260, 0.0, 0.01, rng)
    det, resume, rejected = sync.find_burst(y, pre)
    assert det is None and not rejected and resume <= 100  # more samples are needed


def test_rotate_removes_a_frequency_offset() -> None:
    x = np.exp(1j * 0.05 * np.arange(100))
    assert np.allclose(sync.rotate(x, 0.05), 1.0)
    assert np.allclose(sync.rotate(x[10:], 0.05, 10), 1.0)


def test_rrc_taps_give_a_nyquist_pulse_and_interpolate_reads_between_samples() -> None:
    for sps in (2, 4):
        g = sync.rrc_taps(sps, 0.35, 11)
        assert np.linalg.norm(g) == pytest.approx(1.0)
        rc = np.convolve(g, g)
        mid = rc.size // 2
        assert rc[mid] == pytest.approx(1.0, abs=1e-3)
        # zero ISI at the other symbol instants (truncated pulse: small residue)
        assert (
            np.max(np.abs(rc[mid % sps :: sps][np.arange(rc[mid % sps :: sps].size) != mid // sps]))
            < 0.02
        )
    t = np.arange(400)
    x = np.exp(2j * np.pi * 0.07 * t) + 0.5 * np.exp(-2j * np.pi * 0.13 * t)
    pos = np.linspace(10.0, 380.0, 777)
    want = np.exp(2j * np.pi * 0.07 * pos) + 0.5 * np.exp(-2j * np.pi * 0.13 * pos)
    assert np.max(np.abs(sync.interpolate(x, pos) - want)) < 0.02
    # one timing phase for every position (frame_sync's symbols): the one-set-of-taps path
    # reads what each position's own taps read, and what the signal holds there
    for frac in (0.0, 0.31, 0.999):
        grid = 10.0 + frac + 2 * np.arange(180)
        one = sync.interpolate(x, grid)
        each = np.array([sync.interpolate(x, [p])[0] for p in grid])
        assert np.max(np.abs(one - each)) < 1e-12
        want = np.exp(2j * np.pi * 0.07 * grid) + 0.5 * np.exp(-2j * np.pi * 0.13 * grid)
        assert np.max(np.abs(one - want)) < 0.02


@pytest.mark.parametrize("delay", [0.0, 0.3, -0.4])
def test_find_burst_at_two_samples_per_symbol_reads_the_fractional_start(delay: float) -> None:
    rng = np.random.default_rng(9)
    sps, n = 2, 63
    pre = sync.preamble(2, n)
    g = sync.rrc_taps(sps)
    h = np.array([0.8, 0.4 - 0.5j])
    up = np.zeros(2 * n * sps, complex)
    up[::sps] = np.conj(h) @ pre
    tx = np.concatenate([np.zeros(300), np.convolve(up, g) * np.sqrt(sps), np.zeros(300)])
    pos = np.arange(20, tx.size - 20) - delay  # received = transmitted delayed by ``delay``
    y = sync.interpolate(tx, pos) * np.exp(1j * 0.004 * np.arange(pos.size))
    y = y + (rng.standard_normal(y.size) + 1j * rng.standard_normal(y.size)) * 0.05
    r = np.convolve(y, g)
    det, _, _ = sync.find_burst(r, pre, sps=sps)
    assert det is not None
    # the preamble's first symbol: 280 zeros, the pulse's delay (two halves of 11 symbols),
    # and the delay asked
    true = 280 + 11 * sps + delay
    assert det.start + det.frac == pytest.approx(true, abs=0.1)
    assert det.cfo == pytest.approx(0.004, abs=5e-4)
    with pytest.raises(ValueError):
        sync.find_burst(r, pre, sps=0)


# --- junk samples and long streams (issue 24: the receiver shrugs off junk) --------------
def _clean_bursts(rng, n=63, gap=600, count=3):
    """``count`` preambles ``gap`` samples apart after a 400-sample lead, at 20 dB."""
    pre = sync.preamble(2, n)
    h = np.array([0.8 - 0.2j, 0.4 + 0.5j])
    total = 400 + count * (2 * n + gap) + 400
    y = np.zeros(total, np.complex128)
    starts = [400 + b * (2 * n + gap) for b in range(count)]
    for s in starts:
        y[s : s + 2 * n] = np.conj(h) @ pre
    y += (rng.standard_normal(total) + 1j * rng.standard_normal(total)) * 0.07
    return y, pre, starts


def _all_bursts(y, pre):
    found, begin = [], 0
    while True:
        det, resume, rejected = sync.find_burst(y, pre, begin)
        if det is None and not rejected:
            return found
        if det is not None:
            found.append(det)
            begin = det.start + pre.shape[1]
        else:
            begin = resume


@pytest.mark.parametrize("junk", [np.nan, np.inf, complex(np.nan, 1.0), -np.inf * 1j, 1e12,
                                  3e38])  # fmt: skip
def test_a_junk_sample_ahead_of_bursts_does_not_blind_the_search(junk) -> None:
    """Issue 24: one NaN, inf or absurd (>= MAX_SAMPLE) sample ahead of clean bursts in the
    same buffer: every burst is still found, with the metric, timing and CFO of the clean
    stream; only the windows touching the junk sample have an invalid (0) metric."""
    y, pre, starts = _clean_bursts(np.random.default_rng(21))
    clean = _all_bursts(y, pre)
    assert [d.start for d in clean] == starts
    bad = y.copy()
    bad[150] = junk
    got = _all_bursts(bad, pre)
    assert [d.start for d in got] == starts
    for a, b in zip(got, clean, strict=True):
        assert a.metric == pytest.approx(b.metric, rel=1e-9, abs=1e-12)
        assert a.cfo == pytest.approx(b.cfo, rel=1e-9, abs=1e-12)
        assert a.rho == pytest.approx(b.rho, rel=1e-9, abs=1e-12)
    m, p = sync.schmidl_cox(bad, 63)
    assert np.all(np.isfinite(m)) and np.all(np.isfinite(p))
    assert np.all(m[150 - 2 * 63 + 1 : 151] == 0.0)  # the windows that touch it: invalid
    m0, _ = sync.schmidl_cox(y, 63)
    assert np.allclose(m[151:], m0[151:], rtol=1e-9, atol=1e-12)


def test_windowed_sums_stay_exact_over_a_long_loud_stream() -> None:
    """Issue 24: 400 000 samples of a large DC level with noise (amplitude 1e6, under
    MAX_SAMPLE) then a quiet gap and a clean preamble: the metric, CFO and timing of the
    preamble are those of the preamble alone (a running cumulative sum over the loud part
    loses every digit of the quiet windows)."""
    rng = np.random.default_rng(22)
    n = 63
    pre = sync.preamble(2, n)
    tail = np.zeros(3000, np.complex128)
    tail[1000 : 1000 + 2 * n] = np.conj(np.array([0.9, 0.3j])) @ pre
    tail *= np.exp(1j * 0.01 * np.arange(tail.size))
    tail += (rng.standard_normal(tail.size) + 1j * rng.standard_normal(tail.size)) * 0.05
    loud = 1e6 * (1 + 0.1 * (rng.standard_normal(400_000) + 1j * rng.standard_normal(400_000)))
    want, _, _ = sync.find_burst(tail, pre)
    m_want, p_want = sync.schmidl_cox(tail, n)
    assert want is not None and want.start == 1000
    r = np.concatenate([loud, tail])
    m, p = sync.schmidl_cox(r, n)
    assert np.allclose(m[loud.size :], m_want, rtol=1e-9, atol=1e-12)
    assert np.allclose(p[loud.size :], p_want, rtol=1e-9, atol=1e-9)
    got, _, _ = sync.find_burst(r, pre, loud.size)  # (a DC level repeats: M ~ 1 on it)
    assert got is not None and got.start == loud.size + 1000
    assert got.metric == pytest.approx(want.metric, rel=1e-9)
    assert got.cfo == pytest.approx(want.cfo, rel=1e-9)


def test_windowed_sums_equal_the_direct_sums() -> None:
    """``_window_sum`` (van Herk blocks, issue 23's vectorised form) against the sum of every
    window, for lengths around the block size."""
    rng = np.random.default_rng(23)
    for size, n in ((10, 3), (64, 8), (65, 8), (1000, 127), (254, 254), (253, 254)):
        x = rng.standard_normal(size) + 1j * rng.standard_normal(size)
        want = np.array([x[d : d + n].sum() for d in range(max(size - n + 1, 0))])
        got = sync._window_sum(x, n)
        assert got.shape == want.shape
        assert np.allclose(got, want, rtol=1e-12, atol=1e-12)
        assert np.allclose(sync._window_sum(x.real, n), want.real, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_junk_mask_is_the_modulus_test(dtype) -> None:
    """``junk`` (a quick test on the largest I or Q, the modulus only when it fails) marks
    exactly the samples ``~(|r| <= MAX_SAMPLE)``: non-finite ones and those beyond it."""
    rng = np.random.default_rng(24)
    clean = (rng.standard_normal(500) + 1j * rng.standard_normal(500)).astype(dtype)
    assert not sync.junk(clean).any() and sync.junk(clean[:0]).size == 0
    top = sync.MAX_SAMPLE
    for v in (np.nan, np.inf, -np.inf, complex(0, np.nan), 3e38, 1e12, top, -top * 1j,
              0.8 * top * (1 + 1j), 0.7 * top * (1 + 1j), 1.01 * top):  # fmt: skip
        r = clean.copy()
        r[7] = v
        with np.errstate(invalid="ignore", over="ignore"):
            want = ~(np.abs(r) <= top)
        assert np.array_equal(sync.junk(r), want), v
        assert np.array_equal(sync.junk(r[::2]), want[::2]), v  # a strided view


def test_a_burst_past_the_bounded_look_is_found_as_from_near_it() -> None:
    """Past the first ``_SCAN`` halves without a candidate the search goes on from where the
    bounded look ended (issue 23: not from ``begin`` again): the burst, its metric and CFO,
    and the resume point are those of a search started just before it."""
    rng = np.random.default_rng(25)
    n = 127  # (noise crosses the threshold with probability exp(-0.1 n) per sample)
    pre = sync.preamble(2, n)
    at = 40 * n + 17  # well past the bounded look
    y = _received(np.array([0.8, 0.5j]), pre, at, at + 800, 0.01, 0.05, rng)
    far, resume_far, _ = sync.find_burst(y, pre, 0)
    near, resume_near, _ = sync.find_burst(y, pre, at - 3 * n)
    assert far is not None and near is not None
    assert far.start == near.start == at and resume_far == resume_near == at
    assert far.metric == pytest.approx(near.metric, rel=1e-9)
    assert far.cfo == pytest.approx(near.cfo, rel=1e-9)
    noise = rng.standard_normal(30 * n) + 1j * rng.standard_normal(30 * n)
    det, resume, rejected = sync.find_burst(noise, pre, 5)
    assert det is None and not rejected
    assert resume == noise.size - 2 * n + 1  # searched to where it can judge
