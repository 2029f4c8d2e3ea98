"""Statistics of the finite-blocklength link emulator (MU-ASCC [1], eqs. (8) and (14))."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from semdacom.phy import fbl, fbl_emulation

Z = 4.5  # half-width of the binomial confidence intervals, in standard deviations


def sinr_for(target: float, func, rc: float, L: int) -> float:
    """Linear SINR at which ``func(sinr, rc, L)`` equals ``target`` (func decreasing in sinr)."""
    return brentq(lambda g: func(g, rc, L) - target, 1e-6, 1e6, xtol=1e-14, rtol=1e-12)


def within_binomial_ci(successes: int, trials: int, p: float) -> bool:
    sd = math.sqrt(p * (1.0 - p) / trials)
    return abs(successes / trials - p) <= Z * sd


def random_bits(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2, n, dtype=np.uint8)


def test_bits_per_packet() -> None:
    assert fbl_emulation.bits_per_packet(1.0, 256) == 256
    assert fbl_emulation.bits_per_packet(0.5, 255) == 127
    assert fbl_emulation.bits_per_packet(0.29, 100) == 29  # 0.29 * 100 = 28.999999999999996
    assert fbl_emulation.bits_per_packet(0.01, 100) == 1
    for rc, L in ((0.009, 100), (0.0, 10), (-1.0, 10), (math.nan, 10), (1.0, 0), (1.0, 2.5)):
        with pytest.raises(ValueError):
            fbl_emulation.bits_per_packet(rc, L)


@settings(max_examples=60, deadline=None)
@given(n_bits=st.integers(0, 2000), rc=st.floats(0.05, 4.0), L=st.integers(32, 300))
def test_packet_count_is_ceil(n_bits: int, rc: float, L: int) -> None:
    n = fbl_emulation.bits_per_packet(rc, L)
    bits = np.zeros(n_bits, dtype=np.uint8)
    for model in fbl_emulation.MODELS:
        _, st_ = fbl_emulation.emulate(bits, 1e9, rc, L, model, np.random.default_rng(0))
        assert st_["packets"] == -(-n_bits // n) == fbl_emulation.num_packets(n_bits, n)
        assert st_["n_per_packet"] == n
        assert st_["rc"] == n / L


def test_packet_model_per_matches_eq8() -> None:
    rc, L, target = 1.0, 256, 0.3
    sinr = sinr_for(target, fbl.packet_error_prob, rc, L)
    rng = np.random.default_rng(1)
    n_pkt = 20000
    bits = random_bits(rng, n_pkt * 256 - 100)  # last packet shorter: still one codeword
    out, st_ = fbl_emulation.emulate(bits, sinr, rc, L, "packet", rng)
    assert st_["packets"] == n_pkt
    assert st_["per"] == pytest.approx(target, rel=1e-9)
    assert within_binomial_ci(st_["packets_failed"], n_pkt, target)

    # Failed packets carry uniform random bits (half of them wrong); the others are exact.
    errs = np.zeros(n_pkt * 256, dtype=bool)
    errs[: bits.size] = out != bits
    per_packet = errs.reshape(n_pkt, 256).sum(axis=1)
    assert np.count_nonzero(per_packet) <= st_["packets_failed"]
    assert st_["bit_errors"] == int(errs.sum())
    failed_bits = st_["packets_failed"] * 256 - 100  # upper bound minus a possible short last
    assert abs(st_["bit_errors"] / failed_bits - 0.5) < 0.01


def test_bitflip_model_ber_matches_eq14() -> None:
    rc, L = 0.5, 16  # N = 8 bits per packet, so eq. (14) reaches 1/8 at low SINR
    target = 0.05
    sinr = sinr_for(math.log10(target), fbl.log10_ber, rc, L)
    rng = np.random.default_rng(2)
    n_bits = 400_000
    bits = random_bits(rng, n_bits)
    out, st_ = fbl_emulation.emulate(bits, sinr, rc, L, "bitflip", rng)
    assert st_["ber"] == pytest.approx(target, rel=1e-9)
    assert st_["log10_ber"] == pytest.approx(math.log10(target), abs=1e-9)
    assert st_["bit_errors"] == int(np.count_nonzero(out != bits))
    assert within_binomial_ci(st_["bit_errors"], n_bits, target)
    # A packet fails when at least one of its 8 bits flipped.
    p_pkt = 1.0 - (1.0 - target) ** 8
    assert within_binomial_ci(st_["packets_failed"], st_["packets"], p_pkt)


@pytest.mark.parametrize("model", fbl_emulation.MODELS)
def test_very_high_sinr_is_exact(model: str) -> None:
    rng = np.random.default_rng(3)
    bits = random_bits(rng, 100_003)
    out, st_ = fbl_emulation.emulate(bits, 1e6, 2.0, 128, model, rng)
    np.testing.assert_array_equal(out, bits)
    assert st_["packets_failed"] == 0 and st_["bit_errors"] == 0
    assert st_["per"] == 0.0


def test_very_low_sinr_fails_every_packet() -> None:
    rng = np.random.default_rng(4)
    bits = random_bits(rng, 10_000)
    _, st_ = fbl_emulation.emulate(bits, 1e-3, 1.0, 256, "packet", rng)
    assert st_["packets_failed"] == st_["packets"] == 40
    assert st_["per"] == pytest.approx(1.0)
    assert within_binomial_ci(st_["bit_errors"], 10_000, 0.5)


@pytest.mark.parametrize("model", fbl_emulation.MODELS)
def test_no_sinr_fails_every_packet(model: str) -> None:
    rng = np.random.default_rng(5)
    bits = random_bits(rng, 5000)
    _, st_ = fbl_emulation.emulate(bits, None, 1.0, 100, model, rng)
    assert st_["packets_failed"] == st_["packets"] == 50
    assert st_["per"] == 1.0 and st_["ber"] == 0.5
    assert within_binomial_ci(st_["bit_errors"], 5000, 0.5)


@pytest.mark.parametrize("model", fbl_emulation.MODELS)
def test_seeded_runs_repeat(model: str) -> None:
    bits = random_bits(np.random.default_rng(6), 3000)
    a, sa = fbl_emulation.emulate(bits, 1.0, 1.0, 64, model, np.random.default_rng(9))
    b, sb = fbl_emulation.emulate(bits, 1.0, 1.0, 64, model, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    assert sa == sb


def test_empty_input() -> None:
    out, st_ = fbl_emulation.emulate(
        np.zeros(0, np.uint8), 1.0, 1.0, 64, "packet", np.random.default_rng(0)
    )
    assert out.size == 0 and st_["packets"] == 0 and st_["bit_errors"] == 0


def test_input_is_not_modified() -> None:
    bits = np.ones(1000, dtype=np.uint8)
    fbl_emulation.emulate(bits, None, 1.0, 10, "packet", np.random.default_rng(0))
    assert bits.all()


@pytest.mark.parametrize(
    ("bits", "sinr", "model"),
    [
        (np.array([0, 2]), 1.0, "packet"),
        (np.ones((2, 2), np.uint8), 1.0, "packet"),
        (np.array([0.0, 1.0]), 1.0, "packet"),
        (np.array([0, 1]), -1.0, "packet"),
        (np.array([0, 1]), math.nan, "bitflip"),
        (np.array([0, 1]), 1.0, "erasure"),
    ],
)
def test_rejects_bad_input(bits: np.ndarray, sinr: float, model: str) -> None:
    with pytest.raises(ValueError):
        fbl_emulation.emulate(bits, sinr, 1.0, 16, model, np.random.default_rng(0))
