"""Property tests of sc_sfma/rates.py: eqs. (11)-(16), (27) of SC-SFMA (docs/sc_sfma/model.md)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sfma_strategies import finite, xi_params

from semdacom.sc_sfma import model as sfma


@settings(max_examples=100, deadline=None)
@given(xi_params(), st.floats(0.01, 1e4, **finite), st.floats(0.05, 0.95, **finite))
def test_rate_derivative_in_nu(p, gamma_db_lin, v):
    gamma, bw = gamma_db_lin, 1e6
    s = 10 * math.log10(gamma)

    def r(nu):
        return float(sfma.rate(bw, sfma.sinr(gamma, sfma.xi(s, nu, p))))

    x = sfma.xi(s, v, p)
    _, dxv = sfma.xi_grad(s, v, p)
    d1, d2 = sfma.rate_dnu(bw, gamma, x, dxv, sfma.xi_dnu2(s, v, p))
    h = 1e-5
    fd1 = (r(v + h) - r(v - h)) / (2 * h)
    fd2 = (r(v + h) - 2 * r(v) + r(v - h)) / h**2
    # tolerances cover the round-off of the differences (~1e-12 r / h and r / h^2)
    assert d1 >= -1e-9  # rate non-decreasing in nu
    assert d1 == pytest.approx(fd1, rel=1e-4, abs=1e-3 + 1e-12 * r(v) / h)
    assert d2 == pytest.approx(fd2, rel=2e-2, abs=5e3 + 1e-12 * r(v) / h**2)


def test_sinr_rate_delay_energy_values():
    n0 = 10 ** ((-174 - 30) / 10)
    s = sfma.snr_db(0.1, 1e-10, n0, 1e6)
    assert s == pytest.approx(10 * math.log10(0.1 * 1e-10 / (n0 * 1e6)))
    assert sfma.sinr(100.0, 0.0) == pytest.approx(100.0)
    assert sfma.sinr(1e12, 0.1) == pytest.approx(10.0, rel=1e-9)  # saturates at 1 / xi
    assert sfma.rate(2e6, 3.0) == pytest.approx(4e6)
    assert sfma.tx_delay(0.5, 1e6, 1e7) == pytest.approx(0.05)
    assert sfma.tx_delay(0.5, 1e6, 0.0) == math.inf
    assert sfma.latency(0.05, 2e6, 1e6, 2e9, 1e9) == pytest.approx(0.052)
    assert sfma.residual_time(0.1, 2e6, 1e6, 2e9, 1e9) == pytest.approx(0.098)
    assert sfma.comp_energy(1e6, 1e6, 2e9, 1e9, 1e-28) == pytest.approx(1e-28 * 1e6 * 5e18)
    assert sfma.energy(0.1, 0.05, 1e-3) == pytest.approx(6e-3)
