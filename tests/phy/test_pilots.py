"""phy.pilots: orthogonal pilots, the LS estimate against its theory, the pilot-block CFO."""

from __future__ import annotations

import math

import numpy as np
import pytest

from semdacom.phy import pilots


@pytest.mark.parametrize(("n_t", "n_p"), [(1, 2), (2, 2), (2, 16), (4, 5), (4, 64)])
def test_pilot_rows_are_orthogonal_with_the_power_asked(n_t: int, n_p: int) -> None:
    x = pilots.pilot_matrix(n_t, n_p, 2.5)
    assert x.shape == (n_t, n_p)
    assert np.allclose(x @ x.conj().T, n_p * 2.5 * np.eye(n_t))
    assert np.allclose(np.abs(x) ** 2, 2.5)


def test_no_pilot_row_is_constant_and_every_block_differs() -> None:
    """Issue 21: a constant first row (the DFT's) takes a DC offset or a slow tone for a
    channel coefficient; the phase masks spread them over the residual instead."""
    x0, x1 = pilots.pilot_matrix(2, 16, 1.0, 0), pilots.pilot_matrix(2, 16, 1.0, 1)
    for x in (x0, x1):
        assert np.all(np.abs(np.diff(x, axis=1)) > 1e-6)
    assert not np.allclose(x0, x1)
    assert np.allclose(x1 @ x1.conj().T, 16 * np.eye(2))


@pytest.mark.parametrize("block", [0, 3])
def test_a_dc_offset_lands_in_the_noise_estimate_not_in_the_channel(block: int) -> None:
    h = np.array([0.9 + 0.1j, -0.3 + 0.7j])
    x = pilots.pilot_matrix(2, 16, 1.0, block)
    dc = 0.3  # |dc|^2 = 0.09, no other noise
    h_hat, nv = pilots.ls_estimate(np.conj(h) @ x + dc, x)
    # the DC's projection on two of 16 masked rows is small; the rest is the residual
    assert nv == pytest.approx(0.09, rel=0.2)
    assert np.linalg.norm(h_hat - h) < 0.2


@pytest.mark.parametrize(("n_t", "n_p", "power"), [(0, 4, 1.0), (3, 2, 1.0), (2, 4, 0.0),
                                                   (2, 4, math.nan)])  # fmt: skip
def test_bad_pilot_parameters_are_refused(n_t: int, n_p: int, power: float) -> None:
    with pytest.raises(ValueError):
        pilots.pilot_matrix(n_t, n_p, power)


def test_noiseless_estimate_is_exact_and_has_no_residual() -> None:
    rng = np.random.default_rng(3)
    h = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    x = pilots.pilot_matrix(3, 8, 0.7)
    h_hat, nv = pilots.ls_estimate(np.conj(h) @ x, x)
    assert np.allclose(h_hat, h) and nv == pytest.approx(0.0, abs=1e-20)
    _, nv_square = pilots.ls_estimate(np.conj(h) @ pilots.pilot_matrix(3, 3, 1.0),
                                      pilots.pilot_matrix(3, 3, 1.0))  # fmt: skip
    assert math.isnan(nv_square)  # n_p == n_t leaves no residual to measure the noise


@pytest.mark.parametrize(("n_t", "n_p", "power", "nv"), [(2, 4, 1.0, 0.1), (2, 16, 0.5, 0.3),
                                                         (4, 32, 2.0, 1.0)])  # fmt: skip
def test_monte_carlo_mse_matches_the_ls_theory(n_t, n_p, power, nv) -> None:
    r = pilots.monte_carlo_mse(n_t, n_p, power, nv, trials=4000, seed=n_p)
    assert r["theory"] == pytest.approx(nv / (n_p * power))
    # 4000 trials x 2 n_t real dimensions: the relative std of the mean is below 2 %
    assert r["mse"] == pytest.approx(r["theory"], rel=0.08)
    assert r["noise_var_mean"] == pytest.approx(nv, rel=0.05)


def test_aligned_mse_ignores_a_common_phase_and_matches_its_theory() -> None:
    rng = np.random.default_rng(0)
    h = np.array([1.0 + 0.5j, -0.3 + 1.2j])
    assert pilots.aligned_mse(h * np.exp(1.3j), h) == pytest.approx(0.0, abs=1e-12)
    assert pilots.aligned_mse(h + 0.1, h) > 0
    nv, n_p, p = 0.2, 16, 1.0
    x = pilots.pilot_matrix(2, n_p, p)
    errs = []
    for _ in range(4000):
        v = (rng.standard_normal(n_p) + 1j * rng.standard_normal(n_p)) * math.sqrt(nv / 2)
        h_hat, _ = pilots.ls_estimate(np.conj(h) @ x + v, x)
        errs.append(pilots.aligned_mse(h_hat * np.exp(2j), h))
    theory = pilots.aligned_mse_theory(nv, n_p, p, 2)
    assert theory == pytest.approx(0.75 * pilots.ls_mse_theory(nv, n_p, p))
    assert np.mean(errs) == pytest.approx(theory, rel=0.08)


@pytest.mark.parametrize("cfo", [0.0, 3e-4, -1.5e-3, 4e-3])
def test_pilot_blocks_measure_and_remove_a_residual_cfo(cfo: float) -> None:
    rng = np.random.default_rng(7)
    h = np.array([0.8 - 0.4j, 0.2 + 1.1j])
    x = pilots.pilot_matrix(2, 16, 1.0)
    offs = [0, 700, 4800]
    ys = []
    for o in offs:
        n = o + np.arange(16)
        v = (rng.standard_normal(16) + 1j * rng.standard_normal(16)) * math.sqrt(0.01 / 2)
        ys.append((np.conj(h) @ x) * np.exp(1j * cfo * n) + v)
    est = pilots.estimate_blocks(ys, x, offs)
    # unwrapped over the growing distances: 4e-3 rad/sample turns 19 rad over 4800 samples
    assert est.cfo == pytest.approx(cfo, abs=2e-5)
    assert pilots.aligned_mse(est.h, h) < 0.01 / 16
    assert est.noise_var == pytest.approx(0.01, rel=0.5)
    with pytest.raises(ValueError):
        pilots.estimate_blocks(ys[:1], x, offs[:1])
    with pytest.raises(ValueError):
        pilots.estimate_blocks(ys, x, [0, 10, 5])


def test_normalise_phase_makes_the_first_entry_real_positive() -> None:
    h = np.array([-1.0 + 1.0j, 0.5j])
    out, u = pilots.normalise_phase(h)
    assert out[0].imag == pytest.approx(0.0) and out[0].real > 0
    assert np.allclose(out, h * u) and abs(u) == pytest.approx(1.0)
    z, u0 = pilots.normalise_phase(np.array([0.0, 1.0j]))
    assert u0 == 1.0 and np.allclose(z, [0.0, 1.0j])
