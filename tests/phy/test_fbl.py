"""Tests of the finite-blocklength model, eqs. (8), (14), (63), (64) of MU-ASCC ([1])."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from semdacom.phy import fbl

LOG2E = math.log2(math.e)
LN10 = math.log(10.0)

sinrs = st.floats(min_value=1e-3, max_value=1e4)
rates = st.floats(min_value=0.05, max_value=6.0)
blocklengths = st.sampled_from([16, 64, 256, 1024, 4096])
fast = settings(max_examples=80, deadline=None)


def ref_q_argument(sinr: float, rc: float, L: float) -> float:
    """Eq. (8) written out directly, standard dispersion (log2 e)^2."""
    c = math.log2(1.0 + sinr)
    v = (1.0 - 1.0 / (1.0 + sinr) ** 2) * LOG2E**2
    return math.sqrt(L) * (c - rc) / math.sqrt(v)


def test_capacity_and_dispersion() -> None:
    assert fbl.capacity(3.0) == pytest.approx(2.0, rel=1e-15)
    assert fbl.capacity(0.0) == 0.0
    np.testing.assert_allclose(fbl.capacity([1.0, 7.0, 15.0]), [1.0, 3.0, 4.0], rtol=1e-15)
    assert fbl.dispersion(3.0) == pytest.approx((15.0 / 16.0) * LOG2E**2, rel=1e-14)
    assert fbl.dispersion(3.0, paper_form=True) == pytest.approx((15.0 / 16.0) * LOG2E, rel=1e-14)
    assert fbl.dispersion(0.0) == 0.0
    # tiny SINR: V ~ 2 sinr (log2 e)^2 without cancellation
    assert fbl.dispersion(1e-20) == pytest.approx(2e-20 * LOG2E**2, rel=1e-12)


def test_q_argument_closed_forms() -> None:
    # sinr=3, rc=1, L=256: C=2, V=(15/16)(log2 e)^2, x = 16 / (sqrt(15)/4 log2 e) = 64 ln2/sqrt(15)
    assert fbl.q_argument(3.0, 1.0, 256) == pytest.approx(
        64 * math.log(2) / math.sqrt(15), rel=1e-14
    )
    # sinr=1, rc=0.5, L=100: C=1, V=(3/4)(log2 e)^2 -> x = 10 ln2 / sqrt(3)
    assert fbl.q_argument(1.0, 0.5, 100) == pytest.approx(
        10 * math.log(2) / math.sqrt(3), rel=1e-14
    )
    # paper form multiplies the argument by sqrt(log2 e)
    assert fbl.q_argument(3.0, 1.0, 256, paper_form=True) == pytest.approx(
        64 * math.log(2) / math.sqrt(15) * math.sqrt(LOG2E), rel=1e-14
    )


@pytest.mark.parametrize(
    "sinr, rc, L",
    [(3.0, 1.0, 256), (1.0, 1.0, 256), (0.5, 0.3, 1024), (10.0, 3.0, 64), (2.0, 1.8, 4096)],
)
def test_eq8_and_eq14_spot_values(sinr: float, rc: float, L: int) -> None:
    x = ref_q_argument(sinr, rc, L)
    rho = norm.sf(x)
    assert fbl.q_argument(sinr, rc, L) == pytest.approx(x, rel=1e-12)
    assert fbl.packet_error_prob(sinr, rc, L) == pytest.approx(rho, rel=1e-10)
    assert fbl.log_packet_error_prob(sinr, rc, L) == pytest.approx(norm.logsf(x), rel=1e-10)
    ref14 = math.log10(1.0 / (rc * L)) + norm.logsf(x) / LN10
    assert fbl.log10_ber(sinr, rc, L) == pytest.approx(ref14, rel=1e-10)
    assert fbl.ber(sinr, rc, L) == pytest.approx(min(0.5, rho / (rc * L)), rel=1e-9)


def test_eq8_known_value_sinr3_l256() -> None:
    # Q(64 ln2 / sqrt 15) = Q(11.4540692769...) ~ 1.1218e-30
    assert fbl.packet_error_prob(3.0, 1.0, 256) == pytest.approx(1.1218011e-30, rel=1e-6)


def test_tiny_probability_against_mpmath() -> None:
    mpmath = pytest.importorskip("mpmath")
    for sinr, rc, L in [(100.0, 1.0, 4096), (30.0, 2.0, 1024), (1e4, 1.0, 256)]:
        x = ref_q_argument(sinr, rc, L)
        with mpmath.workdps(50):
            ref = float(mpmath.log(mpmath.erfc(mpmath.mpf(x) / mpmath.sqrt(2)) / 2))
        got = fbl.log_packet_error_prob(sinr, rc, L)
        assert np.isfinite(got) and got < math.log(1e-300)
        assert got == pytest.approx(ref, rel=1e-10)
        assert fbl.log10_ber(sinr, rc, L) == pytest.approx(
            -math.log10(rc * L) + ref / LN10, rel=1e-10
        )


def test_tiny_probability_against_asymptotic_expansion() -> None:
    # log Q(x) = -x^2/2 - log(x sqrt(2 pi)) + log(1 - 1/x^2 + 3/x^4 - 15/x^6 + ...)
    for sinr, rc, L in [(100.0, 1.0, 4096), (1e3, 1.0, 512)]:
        x = ref_q_argument(sinr, rc, L)
        assert x > 100
        series = 1 - 1 / x**2 + 3 / x**4 - 15 / x**6
        ref = -(x**2) / 2 - math.log(x * math.sqrt(2 * math.pi)) + math.log(series)
        assert fbl.log_packet_error_prob(sinr, rc, L) == pytest.approx(ref, rel=1e-12)
        assert fbl.packet_error_prob(sinr, rc, L) == 0.0  # underflows: use the log form


def test_log_q_and_derivative_against_mpmath() -> None:
    mpmath = pytest.importorskip("mpmath")
    for x in [-30.0, -3.0, 0.0, 0.7, 5.0, 40.0, 1e3]:
        with mpmath.workdps(60):
            mx = mpmath.mpf(x)
            q = mpmath.erfc(mx / mpmath.sqrt(2)) / 2
            # log Q(x) = log1p(-Q(-x)) keeps the tiny value for x << 0
            logq = mpmath.log1p(-mpmath.erfc(-mx / mpmath.sqrt(2)) / 2) if x < 0 else mpmath.log(q)
            phi = mpmath.exp(-(mx**2) / 2) / mpmath.sqrt(2 * mpmath.pi)
            ref_logq, ref_dlogq = float(logq), float(-phi / q)
        assert fbl.log_q(x) == pytest.approx(ref_logq, rel=1e-12)
        assert fbl.dlog_q(x) == pytest.approx(ref_dlogq, rel=1e-12)
    assert fbl.qfunc(0.0) == 0.5
    assert fbl.dlog_q(-np.inf) == 0.0
    assert fbl.dlog_q(np.inf) == -np.inf


def test_sinr_zero_limit() -> None:
    for rc, L in [(1.0, 256), (0.3, 64)]:
        assert fbl.q_argument(0.0, rc, L) == -np.inf
        assert fbl.packet_error_prob(0.0, rc, L) == 1.0
        assert fbl.log_packet_error_prob(0.0, rc, L) == 0.0
        v, dg, drc = fbl.log10_ber_and_grad(0.0, rc, L)
        assert v == pytest.approx(-math.log10(rc * L), rel=1e-15)
        assert dg == 0.0
        assert drc == pytest.approx(-1.0 / (rc * LN10), rel=1e-15)
        # continuity from the right
        v_small, dg_small, _ = fbl.log10_ber_and_grad(1e-12, rc, L)
        assert v_small == pytest.approx(v, rel=1e-12)
        assert abs(dg_small) < 1e-6


def test_extreme_sinr_is_finite() -> None:
    s = np.array([1e-300, 1e-200, 1e-100, 1e100, 1e200])
    v, dg, drc = fbl.log10_ber_and_grad(s, 1.0, 256)
    for a in (v, dg, drc):
        assert np.all(np.isfinite(a))
    assert np.all(np.diff(v) <= 0)


def test_broadcasting_and_scalar_returns() -> None:
    s = np.array([0.5, 1.0, 4.0])[:, None]
    rc = np.array([0.5, 1.0])[None, :]
    L = np.array([[64], [256], [1024]])
    v, dg, drc = fbl.log10_ber_and_grad(s, rc, L)
    assert v.shape == dg.shape == drc.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            assert v[i, j] == pytest.approx(fbl.log10_ber(s[i, 0], rc[0, j], L[i, 0]), rel=1e-15)
    assert isinstance(fbl.log10_ber(1.0, 1.0, 256), float)
    assert isinstance(fbl.packet_error_prob(1.0, 1.0, 256), float)


@pytest.mark.parametrize(
    "args",
    [(-1.0, 1.0, 256), (np.nan, 1.0, 256), (1.0, 0.0, 256), (1.0, -1.0, 256), (1.0, 1.0, 0)],
)
def test_invalid_inputs(args: tuple) -> None:
    with pytest.raises(ValueError):
        fbl.log10_ber(*args)
    with pytest.raises(ValueError):
        fbl.log10_ber_and_grad(*args)


@fast
@given(s1=st.floats(0.0, 1e4), s2=st.floats(0.0, 1e4), rc=rates, L=blocklengths)
def test_lemma_a1_monotone_decreasing_in_sinr(s1: float, s2: float, rc: float, L: int) -> None:
    lo, hi = min(s1, s2), max(s1, s2)
    v_lo, d_lo, _ = fbl.log10_ber_and_grad(lo, rc, L)
    v_hi, d_hi, _ = fbl.log10_ber_and_grad(hi, rc, L)
    assert v_hi <= v_lo + 1e-12 * (1.0 + abs(v_lo))
    assert d_lo <= 0.0 and d_hi <= 0.0
    assert fbl.log_packet_error_prob(hi, rc, L) <= fbl.log_packet_error_prob(lo, rc, L) + 1e-12
    if hi > lo * (1 + 1e-6) and lo > 0:
        # the Q argument itself is strictly increasing (proof of Lemma A.1, eq. (63))
        assert fbl.q_argument(hi, rc, L) > fbl.q_argument(lo, rc, L)


@fast
@given(sinr=sinrs, r1=rates, r2=rates, L=blocklengths)
def test_error_probability_increasing_in_rc(sinr: float, r1: float, r2: float, L: int) -> None:
    lo, hi = min(r1, r2), max(r1, r2)
    assert fbl.log_packet_error_prob(sinr, hi, L) >= fbl.log_packet_error_prob(sinr, lo, L) - 1e-12
    # log10 BER of eq. (14) carries the 1/(rc L) prefactor, so it is increasing in rc only where
    # the Q term dominates: for rc <= C(sinr) (x >= 0) and rc sqrt(L) >= 2 the derivative is > 0.
    c = fbl.capacity(sinr)
    if hi <= c and lo * math.sqrt(L) >= 2.0:
        _, _, drc = fbl.log10_ber_and_grad(sinr, np.array([lo, hi]), L)
        assert np.all(drc > 0)
        assert fbl.log10_ber(sinr, hi, L) >= fbl.log10_ber(sinr, lo, L)


def test_log10_ber_not_monotone_in_rc_at_low_sinr() -> None:
    # Documented quirk of eq. (14): when Q ~ 1 the prefactor 1/(rc L) makes log10 BER *decrease*
    # with rc (a lost packet counts as one bit error among rc L bits).
    _, _, drc = fbl.log10_ber_and_grad(0.01, 2.0, 256)
    assert drc < 0


def _check_fd(f, x0: float, analytic: float, value: float, rel_step: float = 1e-5) -> None:
    h = rel_step * x0
    fd = (f(x0 + h) - f(x0 - h)) / (2 * h)
    noise = 1e3 * np.finfo(float).eps * (1.0 + abs(value)) / h
    assert abs(fd - analytic) <= 1e-5 * abs(analytic) + noise, (fd, analytic, noise)


@fast
@given(sinr=st.floats(0.02, 1e3), rc=st.floats(0.1, 5.0), L=blocklengths, paper=st.booleans())
def test_gradients_match_finite_differences(sinr: float, rc: float, L: int, paper: bool) -> None:
    v, dg, drc = fbl.log10_ber_and_grad(sinr, rc, L, paper_form=paper)
    assert v == pytest.approx(fbl.log10_ber(sinr, rc, L, paper_form=paper), rel=1e-15)
    _check_fd(lambda s: fbl.log10_ber(s, rc, L, paper_form=paper), sinr, dg, v)
    _check_fd(lambda r: fbl.log10_ber(sinr, r, L, paper_form=paper), rc, drc, v)


@fast
@given(x=st.floats(-30.0, 200.0))
def test_dlog_q_matches_finite_differences(x: float) -> None:
    h = 1e-5 * max(1.0, abs(x))
    fd = (fbl.log_q(x + h) - fbl.log_q(x - h)) / (2 * h)
    noise = 1e3 * np.finfo(float).eps * (1.0 + abs(fbl.log_q(x))) / h
    assert abs(fd - fbl.dlog_q(x)) <= 1e-6 * abs(fbl.dlog_q(x)) + noise


@fast
@given(sinr=st.floats(0.0, 1e3), rc=rates, L=blocklengths)
def test_ber_is_clipped_power_of_log10_ber(sinr: float, rc: float, L: int) -> None:
    b = fbl.ber(sinr, rc, L)
    assert 0.0 <= b <= 0.5
    assert b == pytest.approx(min(0.5, 10.0 ** fbl.log10_ber(sinr, rc, L)), rel=1e-12, abs=1e-300)


# --- the physical form: a failed packet loses its bits (BER = rho / 2) -------------------------


@fast
@given(sinr=st.floats(0.0, 1e3), rc=rates, L=blocklengths, paper=st.booleans())
def test_packet_loss_ber_is_half_the_packet_error_prob(sinr, rc, L, paper) -> None:
    v = fbl.log10_ber(sinr, rc, L, paper_form=paper, packet_loss=True)
    rho = fbl.log_packet_error_prob(sinr, rc, L, paper_form=paper)
    assert v == pytest.approx(rho / LN10 - math.log10(2.0), rel=1e-13, abs=1e-13)
    # the same Q term as eq. (14): only the prefactor differs
    v14 = fbl.log10_ber(sinr, rc, L, paper_form=paper)
    assert v - v14 == pytest.approx(math.log10(rc * L) - math.log10(2.0), rel=1e-9, abs=1e-9)


def test_packet_loss_at_zero_sinr_is_a_useless_link() -> None:
    for rc, L in [(0.5, 256), (1.3, 4096), (4.0, 64)]:
        assert fbl.log10_ber(0.0, rc, L, packet_loss=True) == pytest.approx(-math.log10(2.0))
        assert fbl.ber(0.0, rc, L, packet_loss=True) == pytest.approx(0.5)
        # eq. (14) as printed: never above 1/(rc L)
        assert fbl.ber(0.0, rc, L) == pytest.approx(1.0 / (rc * L))
        v, dg, drc = fbl.log10_ber_and_grad(0.0, rc, L, packet_loss=True)
        assert dg == 0.0 and drc == 0.0


@fast
@given(s1=sinrs, s2=sinrs, r1=rates, r2=rates, L=blocklengths)
def test_packet_loss_monotone_in_sinr_and_rc(s1, s2, r1, r2, L) -> None:
    """Non-increasing in the SINR (Lemma A.1) and, unlike eq. (14), non-decreasing in R_c."""
    lo, hi = sorted((s1, s2))
    assert fbl.log10_ber(hi, r1, L, packet_loss=True) <= fbl.log10_ber(lo, r1, L, packet_loss=True)
    a, b = sorted((r1, r2))
    assert fbl.log10_ber(s1, a, L, packet_loss=True) <= fbl.log10_ber(s1, b, L, packet_loss=True)


@fast
@given(sinr=st.floats(0.02, 1e3), rc=st.floats(0.1, 5.0), L=blocklengths, paper=st.booleans())
def test_packet_loss_gradients_match_finite_differences(sinr, rc, L, paper) -> None:
    kw = {"paper_form": paper, "packet_loss": True}
    v, dg, drc = fbl.log10_ber_and_grad(sinr, rc, L, **kw)
    assert v == pytest.approx(fbl.log10_ber(sinr, rc, L, **kw), rel=1e-15)
    _check_fd(lambda s: fbl.log10_ber(s, rc, L, **kw), sinr, dg, v)
    _check_fd(lambda r: fbl.log10_ber(sinr, r, L, **kw), rc, drc, v)
