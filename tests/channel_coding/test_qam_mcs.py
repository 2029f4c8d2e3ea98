"""Gray QAM mapper / max-log demapper, interleaver, MCS table and the bits <-> symbols framing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semdacom.channel_coding import (
    MCS_TABLE,
    block_layout,
    decode_symbols,
    demap,
    encode_bits,
    interleaver,
    mcs_for_rc,
    modulate,
)


@pytest.mark.parametrize("m", [1, 2, 4, 6, 8])
def test_constellation_unit_energy_and_gray(m: int) -> None:
    labels = np.array(list(itertools.product([0, 1], repeat=m)), dtype=np.uint8)
    pts = modulate(labels.reshape(-1), m)
    assert pts.size == 2**m
    assert np.isclose(np.mean(np.abs(pts) ** 2), 1.0, atol=1e-6)
    assert np.unique(np.round(pts, 5)).size == 2**m
    if m >= 2:  # nearest neighbours differ in exactly one bit
        dmin = np.min(np.abs(pts[:, None] - pts[None, :]) + 10 * np.eye(pts.size))
        for a, b in itertools.combinations(range(pts.size), 2):
            if abs(abs(pts[a] - pts[b]) - dmin) < 1e-5:
                assert np.sum(labels[a] != labels[b]) == 1


def _bruteforce_llr(y, m, n0, g):
    labels = np.array(list(itertools.product([0, 1], repeat=m)), dtype=np.uint8)
    pts = modulate(labels.reshape(-1), m).astype(np.complex128)
    d = np.abs(y - g * pts) ** 2
    out = []
    for b in range(m):
        out.append((d[labels[:, b] == 1].min() - d[labels[:, b] == 0].min()) / n0)
    return np.array(out)


@settings(max_examples=60, deadline=None)
@given(
    m=st.sampled_from([1, 2, 4, 6, 8]),
    re=st.floats(-2, 2),
    im=st.floats(-2, 2),
    n0=st.floats(1e-3, 10),
    gmag=st.floats(0.1, 3),
    gph=st.floats(-3.2, 3.2),
)
def test_maxlog_demapper_matches_bruteforce(m, re, im, n0, gmag, gph) -> None:
    g = gmag * np.exp(1j * gph)
    y = complex(re, im)
    got = demap(np.array([y]), m, n0, g)
    ref = _bruteforce_llr(y, m, n0, g)
    assert np.allclose(got, ref, rtol=1e-4, atol=1e-3 * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("m", [1, 2, 4, 6, 8])
def test_noiseless_demap_recovers_bits(m: int) -> None:
    rng = np.random.default_rng(m)
    bits = rng.integers(0, 2, 240 * m, dtype=np.uint8)
    llr = demap(modulate(bits, m), m, 0.01)
    assert np.array_equal((llr < 0).astype(np.uint8), bits)


def test_demap_degenerate_channel_gives_zero_llrs() -> None:
    llr = demap(np.ones(4, np.complex64), 4, 1.0, 0.0)
    assert np.all(llr == 0)
    assert np.all(np.isfinite(demap(np.ones(4), 2, 0.0)))


def test_interleaver_is_a_permutation() -> None:
    p = interleaver(1000)
    assert np.array_equal(np.sort(p), np.arange(1000))
    assert not np.array_equal(p, np.arange(1000))


def test_mcs_table_spans_rates() -> None:
    rcs = [m.rc for m in MCS_TABLE]
    assert rcs == sorted(rcs)
    assert rcs[0] <= 0.25 and rcs[-1] >= 6.5
    assert {float(m.rate) for m in MCS_TABLE} >= {1 / 3, 1 / 2, 2 / 3, 3 / 4, 5 / 6}
    assert mcs_for_rc(1.0).rc == 1.0
    assert mcs_for_rc(0.01) is MCS_TABLE[0]
    assert mcs_for_rc(100) is MCS_TABLE[-1]


@pytest.mark.parametrize("L", [256, 4096, 1000])
def test_block_layout(L: int) -> None:
    for m in MCS_TABLE:
        lay = block_layout(m.index, L)
        assert sum(lay.n) == L * m.bits_per_symbol
        assert max(lay.n) <= 8192 and min(lay.n) >= 256
        assert abs(lay.rc_effective - m.rc) < 0.05 * m.rc + 0.1
    with pytest.raises(ValueError):
        block_layout(len(MCS_TABLE), 256)
    with pytest.raises(ValueError):
        block_layout(0, 0)


@pytest.mark.parametrize("mcs", [0, 3, 9, 14])
def test_framing_roundtrip_and_erasures(mcs: int) -> None:
    rng = np.random.default_rng(mcs)
    bits = rng.integers(0, 2, 3001, dtype=np.uint8)
    x = encode_bits(bits, mcs, 256)
    assert x.size % 256 == 0
    assert np.isclose(np.mean(np.abs(x) ** 2), 1.0, atol=0.05)
    n0 = 1e-3
    y = x + np.sqrt(n0 / 2) * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))
    res = decode_symbols(y, mcs, 256, n0, 1.0, bits.size)
    assert np.array_equal(res.bits, bits)
    assert res.crc_ok.all() and res.syndrome_ok.all()
    # at an SNR far below the MCS threshold every codeword is flagged
    n0 = 10.0
    y = x + np.sqrt(n0 / 2) * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))
    res = decode_symbols(y, mcs, 256, n0, 1.0, bits.size)
    assert not (res.crc_ok & res.syndrome_ok).any()
    with pytest.raises(ValueError):
        decode_symbols(y[:-1], mcs, 256, n0)
