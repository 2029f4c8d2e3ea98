"""QA of the C++ max-log QAM demapper (``semdacom._kernels.qam_demap_maxlog``, lib/qam_demap.cc)
that ``semdacom.channel_coding.qam.demap`` runs: the numpy reference's LLRs bit for bit, on
random symbols and gains (noise, huge, tiny, zero gains, NaN and infinite samples), every
square QAM order; wrong arguments refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from semdacom import _kernels
from semdacom.channel_coding import qam

_floats = st.one_of(
    st.floats(-4.0, 4.0), st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, np.nan, np.inf, -np.inf]),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([2, 4, 6, 8]),
    hnp.arrays(np.float64, st.tuples(st.integers(0, 64), st.just(2)), elements=_floats),
    st.one_of(st.floats(1e-6, 10.0), st.sampled_from([0.0, 1e-320, 1e300])),
    st.complex_numbers(max_magnitude=1e3, allow_nan=False),
)
def test_the_kernel_gives_the_numpy_reference_bit_for_bit(m, parts, noise_var, gain) -> None:
    y = parts[:, 0] + 1j * parts[:, 1]
    z, s = qam._equalised(y, noise_var, gain)
    want = qam._demap_reference(z, s, m)
    got = qam.demap(y, m, noise_var, gain)
    assert got.dtype == np.float32 and got.shape == want.shape == (y.size * m,)
    np.testing.assert_array_equal(got, want)  # NaN where the reference has NaN


def test_per_symbol_gains_and_noise_and_noisy_constellations() -> None:
    rng = np.random.default_rng(5)
    for m in (2, 4, 6, 8):
        bits = rng.integers(0, 2, 600 * m).astype(np.uint8)
        g = rng.standard_normal(600) + 1j * rng.standard_normal(600)
        n0 = rng.uniform(0.01, 1.0, 600)
        y = g * qam.modulate(bits, m) + np.sqrt(n0 / 2) * (
            rng.standard_normal(600) + 1j * rng.standard_normal(600)
        )
        z, s = qam._equalised(y, n0, g)
        np.testing.assert_array_equal(qam.demap(y, m, n0, g), qam._demap_reference(z, s, m))
        clean = (qam.demap(g * qam.modulate(bits, m), m, n0, g) < 0).astype(np.uint8)
        np.testing.assert_array_equal(clean, bits)  # without noise: every bit decided right


def test_bad_arguments_are_refused() -> None:
    z, s, lev = np.zeros(3, complex), np.ones(3), np.arange(4.0)
    with pytest.raises(ValueError, match="one value per symbol"):
        _kernels.qam_demap_maxlog(z, np.ones(2), lev, 2)
    with pytest.raises(ValueError, match="half"):
        _kernels.qam_demap_maxlog(z, s, lev, 3)
    with pytest.raises(ValueError, match="half"):
        _kernels.qam_demap_maxlog(z, s, np.arange(32.0), 5)
