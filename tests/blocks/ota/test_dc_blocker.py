"""QA of ``dc_blocker`` (C++ block on ``dc_blocker_kernel``): GNU Radio's DC blocker filter
(filter.dc_blocker_cc, Yates 2008) on ring buffers. The same output as GNU Radio's block to
single-precision rounding, in both forms and whatever the stream's cut; the DC removed and a
tone kept; a sample that is not finite counts as 0 and a huge one is forgotten once it has
left the windows (GNU Radio's block stays NaN for ever); a length below 2 refused with a clear
error."""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio import blocks, gr, semdacom
from gnuradio import filter as gr_filter


def run(block, x: np.ndarray) -> np.ndarray:
    tb = gr.top_block()
    src, snk = blocks.vector_source_c(x.astype(np.complex64), False), blocks.vector_sink_c()
    tb.connect(src, block, snk)
    tb.run()
    return np.asarray(snk.data(), np.complex64)


def noisy(n: int, seed: int, dc: complex = 0.4 - 0.2j) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.7 * (rng.standard_normal(n) + 1j * rng.standard_normal(n)) + dc).astype(np.complex64)


@pytest.mark.parametrize("long_form", [True, False])
@pytest.mark.parametrize("length", [2, 3, 32, 256])
def test_output_is_gnu_radios_dc_blocker(length: int, long_form: bool) -> None:
    x = noisy(60_000, seed=length)
    ours = run(semdacom.dc_blocker(length, long_form), x)
    ref = run(gr_filter.dc_blocker_cc(length, long_form), x)
    assert ours.shape == ref.shape == x.shape
    # GNU Radio's sums are single precision and never re-formed: they drift by ~1e-5 here
    assert np.max(np.abs(ours - ref)) < 1e-4, np.max(np.abs(ours - ref))
    blk = semdacom.dc_blocker(length, long_form)
    assert blk.group_delay() == (2 * length - 2 if long_form else length - 1)


def test_the_cut_of_the_stream_does_not_matter() -> None:
    """The kernel itself, fed one stream in uneven pieces and in one piece: the same bits."""
    x = noisy(20_000, seed=9)[None, :]
    whole, parts = semdacom.dc_blocker_kernel(64), semdacom.dc_blocker_kernel(64)
    a = np.empty_like(x)
    whole.process(x, a)
    b = np.empty_like(x)
    at, step = 0, 1
    while at < x.shape[1]:
        m = min(step, x.shape[1] - at)
        out = np.empty((1, m), np.complex64)
        parts.process(np.ascontiguousarray(x[:, at : at + m]), out)
        b[:, at : at + m] = out
        at, step = at + m, step * 5 + 1
    assert np.array_equal(a, b)


def test_dc_removed_tone_kept() -> None:
    """A DC offset (a radio's LO leakage) is removed; a tone well outside the notch (width
    about 1 / D cycles per sample) passes with its amplitude within 0.1 dB (long form)."""
    n, length = 40_000, 256
    t = np.arange(n)
    tone = np.exp(2j * np.pi * 0.01 * t)
    y = run(semdacom.dc_blocker(length, True), (tone + (0.5 + 0.3j)).astype(np.complex64))
    settled = y[8 * length :]
    assert abs(np.mean(settled)) < 1e-3
    delay = 2 * length - 2
    want = tone[8 * length - delay : n - delay]
    gain = np.vdot(want, settled) / np.vdot(want, want)
    assert abs(20 * np.log10(abs(gain))) < 0.1 and abs(np.angle(gain)) < 1e-3


def test_a_sample_that_is_not_finite_counts_as_zero_and_a_huge_one_is_forgotten() -> None:
    """A NaN and an infinity enter the windows as 0: every output is finite and the same as
    with 0 there. A huge sample, once it has left the windows, is forgotten: the output is
    that of the stream with it at 0 (the sums are re-formed from their windows). GNU Radio's
    block, whose running sums keep a NaN, is NaN from the first one on for ever."""
    x = noisy(30_000, seed=4)
    clean = x.copy()
    bad = [1_000, 5_000, 9_000]
    x[bad[0]] = np.nan
    x[bad[1]] = complex(np.inf, -np.inf)
    x[bad[2]] = 3e37 + 3e37j
    clean[bad] = 0
    length = 128
    y = run(semdacom.dc_blocker(length, True), x)
    yc = run(semdacom.dc_blocker(length, True), clean)
    assert np.all(np.isfinite(y))
    assert np.array_equal(y[: bad[2]], yc[: bad[2]])
    after = bad[2] + 6 * length
    assert np.max(np.abs(y[after:] - yc[after:])) < 1e-6
    ref = run(gr_filter.dc_blocker_cc(length, True), x)
    assert np.all(np.isnan(ref[-100:]))  # why this block exists besides its speed


def test_a_length_below_two_is_refused() -> None:
    for bad in (1, 0, -5):
        with pytest.raises(ValueError, match="length must be >= 2"):
            semdacom.dc_blocker(bad, True)
