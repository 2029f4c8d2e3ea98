"""LDPC kernels (C++ via pybind11) and the code family: encoding, decoding, alist, CRC."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from semdacom import _kernels as k
from semdacom.channel_coding import AlistCode, LdpcCode, crc16, qc_code

GR_ALIST = Path("/usr/share/gnuradio/fec/ldpc/n_1800_k_0902_gap_28.alist")


def _crc_reference(bits: np.ndarray) -> np.ndarray:
    state = 0xFFFF
    for b in bits:
        fb = ((state >> 15) & 1) ^ int(b)
        state = (state << 1) & 0xFFFF
        if fb:
            state ^= 0x1021
    return np.array([(state >> (15 - i)) & 1 for i in range(16)], dtype=np.uint8)


@pytest.mark.parametrize(
    "n,k_",
    [(256, 85), (256, 128), (512, 256), (1024, 683), (1536, 1152), (2048, 1707), (8192, 2731),
     (8192, 6827), (300, 101), (6000, 5000)],
)  # fmt: skip
def test_family_encodes_codewords(n: int, k_: int) -> None:
    code = qc_code(n, k_)
    assert code.mother.triangular
    assert code.n_short < code.z and code.n_punct < code.z
    rng = np.random.default_rng(n + k_)
    u = rng.integers(0, 2, (3, k_), dtype=np.uint8)
    x = code.encode(u)
    assert x.shape == (3, n)
    # the full mother codeword (shortened zeros, punctured bits) satisfies H
    full = np.zeros((3, code.mother.k), np.uint8)
    full[:, :k_] = u
    for w in code.mother.encode(full):
        assert code.mother.syndrome_weight(w) == 0
    # the sent information bits are systematic
    assert np.array_equal(x[:, :k_], u)


def test_design_has_no_four_cycles() -> None:
    code = LdpcCode(1024, 512)
    b, z = code.base, code.z
    mb = b.shape[0]
    for i in range(mb):
        for i2 in range(i + 1, mb):
            cols = np.flatnonzero((b[i] >= 0) & (b[i2] >= 0))
            for a in range(cols.size):
                for c in range(a + 1, cols.size):
                    j, j2 = cols[a], cols[c]
                    assert (b[i, j] - b[i, j2] + b[i2, j2] - b[i2, j]) % z != 0


@pytest.mark.parametrize("n,k_", [(512, 256), (2048, 1536)])
def test_decoder_corrects_noise(n: int, k_: int) -> None:
    code = qc_code(n, k_)
    rng = np.random.default_rng(5)
    u = rng.integers(0, 2, (40, k_), dtype=np.uint8)
    x = code.encode(u)
    ebn0 = 10 ** (6.0 / 10)
    s2 = 1.0 / (2 * code.rate * ebn0)
    y = 1.0 - 2.0 * x + math.sqrt(s2) * rng.standard_normal(x.shape)
    info, ok, its = code.decode(2 * y / s2, max_iterations=30)
    assert ok.all()
    assert np.array_equal(info, u)
    assert (its >= 0).all() and (its <= 30).all()
    # raw hard decisions had errors, so the decoder did correct something
    assert np.any((y[:, :k_] < 0) != u.astype(bool))


def test_decoder_reports_failure_on_noise() -> None:
    code = qc_code(512, 256)
    rng = np.random.default_rng(1)
    info, ok, its = code.decode(rng.standard_normal((20, 512)).astype(np.float32) * 0.3, 10)
    assert not ok.any()
    assert (its == 10).all()


def test_alist_reader_and_dense_encoder() -> None:
    if not GR_ALIST.exists():
        pytest.skip("GNU Radio's LDPC alist files are not installed")
    code = AlistCode(GR_ALIST)
    assert (code.n, code.k) == (1800, 902)
    assert not code.mother.triangular
    rng = np.random.default_rng(2)
    u = rng.integers(0, 2, (4, code.k), dtype=np.uint8)
    cw = code.encode(u)
    assert all(code.mother.syndrome_weight(w) == 0 for w in cw)
    info, ok, _ = code.decode((1.0 - 2.0 * cw) * 4.0)
    assert ok.all() and np.array_equal(info, u)
    again = k.ldpc_code.from_alist_text(code.mother.to_alist())
    assert again.col_idx == code.mother.col_idx


@pytest.mark.parametrize(
    "text",
    ["", "3 2\n", "3 2\n1 2\n1 1 1\n2 1\n1\n1\n1\n1 2\n3\n", "2 1\n1 2\n1 1\n2\n1\n7\n1 2\n",
     "a b\n"],
)  # fmt: skip
def test_alist_reader_rejects_malformed_text(text: str) -> None:
    with pytest.raises(RuntimeError):
        k.ldpc_code.from_alist_text(text)


def test_alist_file_missing() -> None:
    with pytest.raises(RuntimeError):
        k.ldpc_code.from_alist_file("/nonexistent/file.alist")


def test_decoder_shape_checks() -> None:
    code = qc_code(256, 128)
    with pytest.raises(ValueError):
        code.decode(np.zeros((2, 255), np.float32))
    with pytest.raises(ValueError):
        code.encode(np.zeros((2, 127), np.uint8))
    with pytest.raises(ValueError):
        k.ldpc_decoder(code.mother, 0)
    with pytest.raises(ValueError):
        k.ldpc_decoder(code.mother, 10, 1.5)


_SPECIAL = st.sampled_from(
    [float(np.float32(v)) for v in (np.nan, np.inf, -np.inf, 3e38, -3e38, 0.0, -0.0, 1e-30, 7.0)]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=hnp.arrays(
        np.float32,
        st.tuples(st.integers(0, 20), st.just(256)),
        elements=st.one_of(st.floats(width=32, allow_nan=True, allow_infinity=True), _SPECIAL),
    ),
    iters=st.integers(1, 30),
)
def test_decoder_survives_arbitrary_llrs(data: np.ndarray, iters: int) -> None:
    """Arbitrary LLRs (NaN, inf, huge, zeros): no crash, bits 0/1, sane flags."""
    code = qc_code(256, 128)
    dec = code.decoder(iters)
    full = np.zeros((data.shape[0], code.mother.n), np.float32)
    full[:, : data.shape[1]] = data
    bits, its, ok = dec.decode(full)
    assert bits.shape == full.shape
    assert set(np.unique(bits)) <= {0, 1}
    assert ((its >= 0) & (its <= iters)).all()
    for w, good in zip(bits, ok, strict=True):
        assert (code.mother.syndrome_weight(w) == 0) == bool(good)


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.uint8, st.tuples(st.integers(1, 4), st.integers(0, 300)), elements=st.integers(0, 1)
    )
)
def test_crc16_matches_bitwise_reference(bits: np.ndarray) -> None:
    got = crc16(bits)
    for row, c in zip(bits, got, strict=True):
        assert np.array_equal(c, _crc_reference(row))


def test_crc_of_zero_word_is_not_zero() -> None:
    assert crc16(np.zeros((1, 100), np.uint8)).any()


def test_shared_decoder_is_thread_safe() -> None:
    """Blocks share cached codes (and decoders) and decode with the GIL released."""
    import threading

    code = qc_code(1024, 512)
    rng = np.random.default_rng(9)
    jobs = []
    for _ in range(4):
        u = rng.integers(0, 2, (64, 512), dtype=np.uint8)
        x = code.encode(u)
        y = 1.0 - 2.0 * x + 0.5 * rng.standard_normal(x.shape)
        jobs.append((u, (8.0 * y).astype(np.float32)))
    results: list = [None] * len(jobs)

    def work(i: int) -> None:
        for _ in range(3):
            info, ok, _ = code.decode(jobs[i][1], 30)
        results[i] = (info, ok)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (u, _), (info, ok) in zip(jobs, results, strict=True):
        assert ok.all() and np.array_equal(info, u)
