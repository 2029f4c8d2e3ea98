"""The Schmidl-Cox metric kernel (C++ via pybind11, ``semdacom._kernels.schmidl_cox``, issue
23) against its numpy reference ``sync._schmidl_cox_reference``: random buffers, junk samples
(NaN, inf, beyond ``MAX_SAMPLE``), windows at the buffer's edges, buffers shorter than a
window, ``n = 1``, a quiet stretch after a long loud one (each window summed from its own
samples), the input dtypes and layouts, the interpreter lock released while it runs."""

from __future__ import annotations

import collections
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from semdacom import _kernels as k
from semdacom.phy import sync

TOP = sync.MAX_SAMPLE


def _noise(rng: np.random.Generator, size: int, dtype=np.complex128) -> np.ndarray:
    return (rng.standard_normal(size) + 1j * rng.standard_normal(size)).astype(dtype)


def _energies(r: np.ndarray, n: int) -> np.ndarray:
    """``sqrt(E(d) E(d + n))`` of the sanitized ``r``, directly: the scale of ``|P(d)|``."""
    clean, _ = sync.sanitize(r)
    count = clean.size - 2 * n + 1
    e = np.lib.stride_tricks.sliding_window_view(np.abs(clean) ** 2, n).sum(axis=1)
    return np.sqrt(e[:count] * e[n : n + count])


def _assert_matches(r: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's (M, P) of ``r`` equal the reference's: M to 1e-12, P to 1e-12 of its
    window's energy scale; both finite. Returns the kernel's."""
    m, p = sync.schmidl_cox(r, n)
    m0, p0 = sync._schmidl_cox_reference(r, n)
    assert m.dtype == np.float64 and p.dtype == np.complex128
    assert m.shape == m0.shape and p.shape == p0.shape
    assert np.all(np.isfinite(m)) and np.all(np.isfinite(p))
    assert np.all((m >= 0) & (m <= 1))
    np.testing.assert_allclose(m, m0, rtol=1e-12, atol=1e-12)
    if p.size:
        scale = _energies(r, n)
        assert np.all(np.abs(p - p0) <= 1e-12 * scale + 1e-300)
    return m, p


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize(
    ("size", "n"),
    [(0, 1), (1, 1), (2, 1), (3, 1), (50, 1), (5, 3), (6, 3), (7, 3), (10, 3), (64, 8),
     (65, 8), (71, 8), (253, 127), (254, 127), (255, 127), (1000, 127), (3000, 254),
     (2 * 254 * 7, 254), (2 * 254 * 7 - 1, 254)],
)  # fmt: skip
def test_kernel_equals_the_reference_on_noise(size: int, n: int, dtype) -> None:
    """Every window, the first and the last included, for sizes around the block size n and
    the window 2n (a buffer shorter than 2n has no window)."""
    rng = np.random.default_rng(size * 1000 + n)
    r = _noise(rng, size, dtype)
    m, p = _assert_matches(r, n)
    assert m.size == max(size - 2 * n + 1, 0)
    if m.size:  # the edges against the definition, directly
        for d in (0, m.size - 1):
            x = r.astype(np.complex128)
            want = np.sum(np.conj(x[d : d + n]) * x[d + n : d + 2 * n])
            assert p[d] == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_kernel_finds_the_preamble_as_the_reference() -> None:
    """A preamble with a CFO in noise: the same metric, peak and CFO as the reference."""
    rng = np.random.default_rng(31)
    n = 127
    pre = sync.preamble(2, n)
    y = _noise(rng, 3000) * 0.2
    y[700 : 700 + 2 * n] += np.conj(np.array([0.9, 0.5 - 0.6j])) @ pre
    y *= np.exp(1j * 0.01 * np.arange(y.size))
    m, p = _assert_matches(y.astype(np.complex64), n)
    assert abs(int(np.argmax(m)) - 700) <= 3 and m.max() > 0.7
    assert np.angle(p[700]) / n == pytest.approx(0.01, abs=1e-3)


JUNK = [np.nan, np.inf, -np.inf, complex(np.nan, 1.0), complex(1.0, np.nan), -np.inf * 1j,
        1e12, 3e38, -3e38j, 1.01 * TOP, 0.8 * TOP * (1 + 1j)]  # fmt: skip
#: not junk: at most MAX_SAMPLE in modulus
EDGE = [TOP, -TOP * 1j, 0.7 * TOP * (1 + 1j), 1e-30]


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("n", [1, 3, 63])
def test_junk_samples_invalidate_exactly_the_windows_that_hold_them(n: int, dtype) -> None:
    """Junk at the first and last sample, alone, in pairs closer than a window and in a run:
    the windows ``[d, d + 2n)`` holding one have M = 0 and P = 0, every other window is the
    reference's (and the metric of the buffer with the junk samples set to 0)."""
    rng = np.random.default_rng(32 + n)
    size = 40 * n + 17
    r = _noise(rng, size, dtype)
    places = [0, size - 1, 5 * n, 5 * n + 1, 9 * n + n // 2, 20 * n + 3 * n]
    places += list(range(14 * n, 16 * n))  # a run
    values = [JUNK[i % len(JUNK)] for i in range(len(places))]
    with np.errstate(over="ignore", invalid="ignore"):
        r[places] = values
        r[30 * n : 30 * n + len(EDGE)] = EDGE  # big but valid
    bad = np.zeros(size, bool)
    bad[places] = True
    assert np.array_equal(sync.junk(r.astype(np.complex128)), bad)
    m, p = _assert_matches(r, n)
    count = size - 2 * n + 1
    touching = np.array([bad[d : d + 2 * n].any() for d in range(count)])
    assert np.all(m[touching] == 0.0) and np.all(p[touching] == 0.0)
    zeroed = np.where(bad, 0, r)
    m_z, p_z = sync.schmidl_cox(zeroed, n)
    np.testing.assert_array_equal(m[~touching], m_z[~touching])
    np.testing.assert_array_equal(p[~touching], p_z[~touching])


@pytest.mark.parametrize("n", [1, 4, 127])
def test_a_buffer_of_junk_has_no_valid_window(n: int) -> None:
    r = np.full(10 * n + 3, complex(np.nan, 0.0))
    r[::3] = np.inf
    m, p = _assert_matches(r, n)
    assert m.size == 8 * n + 4 and not m.any() and not p.any()
    m, p = sync.schmidl_cox(np.zeros(5 * n), n)  # no energy: M = 0
    assert not m.any() and not p.any()


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_quiet_windows_stay_exact_after_a_long_loud_stretch(dtype) -> None:
    """400 000 samples at amplitude 1e6 (under MAX_SAMPLE) then noise at 0.05: the quiet
    windows are those of the quiet stretch alone, to 1e-12 (a running sum differenced over
    the loud stretch would keep none of their digits), and the reference's."""
    rng = np.random.default_rng(33)
    n = 254
    loud = 1e6 * (1 + 0.1 * _noise(rng, 400_000))
    tail = 0.05 * _noise(rng, 5000)
    r = np.concatenate([loud, tail]).astype(dtype)
    m, p = _assert_matches(r, n)
    m_t, p_t = sync._schmidl_cox_reference(r[loud.size :], n)
    np.testing.assert_allclose(m[loud.size :], m_t, rtol=1e-12, atol=1e-12)
    scale = _energies(r[loud.size :], n)
    assert np.all(np.abs(p[loud.size :] - p_t) <= 1e-12 * scale)
    assert np.median(m_t) < 0.05  # noise: M ~ 1/n, far from a lost-digits artefact


def test_dtypes_and_layouts() -> None:
    """complex64 is read as such (the same metric as its complex128 copy), a strided view
    as its contiguous copy, any shape flat, real and integer buffers as complex128; n < 1 is
    refused."""
    rng = np.random.default_rng(34)
    r = _noise(rng, 600, np.complex64)
    m, p = sync.schmidl_cox(r, 16)
    m2, p2 = sync.schmidl_cox(r.astype(np.complex128), 16)
    np.testing.assert_array_equal(m, m2)
    np.testing.assert_array_equal(p, p2)
    view = r[::2]
    for a, b in zip(sync.schmidl_cox(view, 7), sync.schmidl_cox(view.copy(), 7), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(sync.schmidl_cox(r.reshape(20, 30), 16), (m, p), strict=True):
        np.testing.assert_array_equal(a, b)
    ints = rng.integers(-5, 5, 100)
    _assert_matches(ints, 4)
    _assert_matches(ints.astype(np.float32), 4)
    for bad_n in (0, -1):
        with pytest.raises(ValueError):
            k.schmidl_cox(r, bad_n, TOP)


def test_the_max_sample_argument_is_the_junk_threshold() -> None:
    """The kernel's threshold is its argument (sync passes MAX_SAMPLE): a sample of modulus
    5 is junk under 4, not under 5; a NaN threshold makes every sample junk."""
    r = np.ones(20, np.complex64)
    r[10] = 3 + 4j
    m, _ = k.schmidl_cox(r, 2, 5.0)
    assert np.all(m > 0)
    m, p = k.schmidl_cox(r, 2, 4.0)
    assert np.array_equal(m == 0, np.abs(np.arange(m.size) - 8.5) <= 2)
    assert not k.schmidl_cox(r, 2, float("nan"))[0].any()
    assert not k.schmidl_cox(r, 2, -1.0)[0].any()


def test_the_interpreter_lock_is_released() -> None:
    """A Python thread runs while the kernel computes: a thread that wakes every 0.2 ms
    stamps the time many times within one call. Were the lock held, at most two of its
    stamps could fall between the call's start and end (one taken in a switch just before
    the kernel starts, one just after it returns)."""
    r = _noise(np.random.default_rng(35), 2_000_000, np.complex64)
    stamps: collections.deque[float] = collections.deque(maxlen=100_000)
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            stamps.append(time.perf_counter())
            time.sleep(2e-4)

    t = threading.Thread(target=spin)
    t.start()
    try:
        inside = []
        for _ in range(10):
            t0 = time.perf_counter()
            k.schmidl_cox(r, 254, TOP)
            t1 = time.perf_counter()
            inside.append(sum(t0 < s < t1 for s in list(stamps)))
            if inside[-1] >= 5:
                break
    finally:
        stop.set()
        t.join()
    assert max(inside) >= 5, inside


def test_concurrent_calls_agree() -> None:
    rng = np.random.default_rng(36)
    bufs = [_noise(rng, 50_000, np.complex64) for _ in range(4)]
    want = [sync.schmidl_cox(b, 254) for b in bufs]
    got: list = [None] * len(bufs)

    def work(i: int) -> None:
        for _ in range(3):
            got[i] = sync.schmidl_cox(bufs[i], 254)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(bufs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (m, p), (m0, p0) in zip(got, want, strict=True):
        np.testing.assert_array_equal(m, m0)
        np.testing.assert_array_equal(p, p0)


_SPECIAL = [np.nan, np.inf, -np.inf, 3e38, -3e38, 1e300, TOP, 1.0000001 * TOP, 0.7 * TOP,
            0.0, -0.0, 1e-30, 1e-300]  # fmt: skip


def _samples(width: int):
    """Complex samples whose parts are floats of ``width / 2`` bits: mostly moderate, often
    special (NaN, inf, huge, at MAX_SAMPLE, tiny, zeros), sometimes any float."""
    bits = width // 2
    special = [v for v in _SPECIAL if bits == 64 or abs(v) < 3.4e38 or not np.isfinite(v)]
    special = [float(np.float32(v)) if bits == 32 else v for v in special]
    moderate = st.floats(-10.0, 10.0, width=bits)  # most samples: valid windows to check
    part = st.one_of(
        moderate,
        moderate,
        moderate,
        st.sampled_from(special),
        st.floats(width=bits, allow_nan=True, allow_infinity=True),
    )
    return st.builds(complex, part, part)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    width=st.sampled_from([64, 128]),
    n=st.integers(1, 9),
    size=st.integers(0, 80),
)
def test_kernel_equals_the_reference_on_arbitrary_samples(data, width, n, size) -> None:
    """Arbitrary samples (NaN, inf, huge, tiny, zeros) and lengths: the kernel is the
    reference, its outputs finite, M within [0, 1]."""
    dtype = np.complex64 if width == 64 else np.complex128
    with np.errstate(over="ignore", invalid="ignore"):
        r = data.draw(hnp.arrays(dtype, size, elements=_samples(width)))
        _assert_matches(r, n)
