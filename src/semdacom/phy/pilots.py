#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Per-antenna orthogonal pilots and least-squares channel estimation (numpy only).

A user receives ``y[n] = h^H x[n] + v[n]`` (the project convention: user ``i`` receives
``h_i^H x``), ``v ~ CN(0, sigma^2)``. The base station sends on its ``N_t`` antennas a pilot
block ``X`` of shape ``(N_t, N_p)``: the first ``N_t`` rows of the ``N_p``-point DFT matrix
times a pseudo-random phase mask of its own per block (:func:`pilot_mask`), scaled to the
per-antenna power ``p``, so that ``X X^H = N_p p I`` (orthogonal for ``N_p >= N_t``: the mask
cancels in the inner products). The mask leaves no constant row: a DC offset, a slow tone or
a near-DC echo does not look like a channel coefficient but lands in the residual (the noise
estimate), and every block differs, so the blocks of a burst also train a multi-tap channel
(``semdacom.phy.equalizer``).

Least squares: ``c = y X^H (X X^H)^{-1} = y X^H / (N_p p)`` estimates ``c = conj(h)``, so
``h_hat = conj(c)``; its error is ``CN(0, sigma^2 / (N_p p))`` per coefficient, independent
across antennas (:func:`ls_mse_theory`). The residual ``y - c X`` lies in the
``N_p - N_t``-dimensional complement of the pilot rows and gives the unbiased noise
estimate ``||y - c X||^2 / (N_p - N_t)`` (needs ``N_p > N_t``).

Several pilot blocks in a burst (before the header, before and after the payload:
:func:`estimate_blocks`) also give the residual carrier frequency offset from the phase turn
of the estimate between them; the estimates are then averaged (``sigma^2 / (B N_p p)`` per
coefficient for ``B`` blocks).

With an unknown carrier phase (any real receiver), the channel is only known up to a common
phase per user; :func:`aligned_mse` measures the error after the best common rotation (what
matters for beamforming: ``|h^H w|`` does not see it), whose expectation is
``(1 - 1 / (2 N_t)) sigma^2 / (N_p p)`` per coefficient for small errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BlocksEstimate",
    "aligned_mse",
    "aligned_mse_theory",
    "estimate_blocks",
    "ls_estimate",
    "ls_mse_theory",
    "monte_carlo_mse",
    "normalise_phase",
    "pilot_mask",
    "pilot_matrix",
]


#: Seed of the pilot phase masks (block ``b`` uses ``MASK_SEED + b``).
MASK_SEED = 0x50494C54


def pilot_mask(n_p: int, block: int = 0) -> np.ndarray:
    """The phase mask of pilot block ``block``: ``n_p`` unit-modulus samples
    ``exp(j 2 pi u_n)``, ``u_n`` uniform in [0, 1) from NumPy's legacy
    ``RandomState(MASK_SEED + block)`` (a stream NumPy keeps frozen across versions, NEP 19,
    so radios with different NumPy versions agree)."""
    u = np.random.RandomState((MASK_SEED + int(block)) % 2**32).uniform(0.0, 1.0, int(n_p))
    return np.exp(2j * np.pi * u)


def pilot_matrix(n_t: int, n_p: int, power: float = 1.0, block: int = 0) -> np.ndarray:
    """The pilot block ``X`` (complex128, shape ``(n_t, n_p)``) number ``block`` of a burst:
    row ``a`` is ``sqrt(power) m_b[n] exp(-2j pi a n / n_p)`` with the block's phase mask
    ``m_b`` (:func:`pilot_mask`), so ``X X^H = n_p power I`` and no row is constant.

    Raises ValueError unless ``1 <= n_t <= n_p`` and ``power > 0`` (finite).
    """
    n_t, n_p = int(n_t), int(n_p)
    if n_t < 1 or n_p < n_t:
        raise ValueError(f"need 1 <= n_t <= n_p, got n_t={n_t}, n_p={n_p}")
    if not (math.isfinite(power) and power > 0):
        raise ValueError(f"pilot power must be positive and finite, got {power!r}")
    a = np.arange(n_t)[:, None]
    n = np.arange(n_p)[None, :]
    dft = np.exp(-2j * np.pi * a * n / n_p)
    return math.sqrt(power) * dft * pilot_mask(n_p, block)[None, :]


def ls_estimate(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares channel and noise variance from one pilot block.

    Parameters
    ----------
    y : array_like, shape (n_p,)
        Received pilot samples.
    x : ndarray, shape (n_t, n_p)
        The pilot block sent (rows orthogonal with equal energy, :func:`pilot_matrix`).

    Returns
    -------
    h : ndarray (complex128, shape (n_t,))
        The estimate of ``h`` (the user receives ``h^H x``).
    noise_var : float
        ``||y - conj(h) X||^2 / (n_p - n_t)``; NaN when ``n_p == n_t`` (no residual).
    """
    y = np.asarray(y, dtype=np.complex128).reshape(-1)
    x = np.asarray(x, dtype=np.complex128)
    if x.ndim != 2 or y.size != x.shape[1]:
        raise ValueError(f"y has {y.size} samples, the pilot block is {x.shape}")
    energy = np.sum(np.abs(x) ** 2, axis=1)  # n_p p per row
    c = (y @ x.conj().T) / energy
    n_t, n_p = x.shape
    res = y - c @ x
    nv = float(np.vdot(res, res).real / (n_p - n_t)) if n_p > n_t else math.nan
    return np.conj(c), nv


@dataclass(frozen=True)
class BlocksEstimate:
    """Result of :func:`estimate_blocks`."""

    h: np.ndarray  # (n_t,) channel at the first pilot block
    noise_var: float
    cfo: float  # residual frequency offset, radians per sample
    h_blocks: np.ndarray  # (B, n_t) the estimate of each block alone (before the CFO removal)


def estimate_blocks(
    ys: list[np.ndarray], x: np.ndarray | list[np.ndarray], offsets: list[int]
) -> BlocksEstimate:
    """Channel, noise and residual CFO from ``B >= 2`` pilot blocks at sample ``offsets``
    (``x`` the pilot block sent, or one per block).

    A residual frequency offset ``eps`` (rad/sample) turns the received signal by
    ``exp(j eps n)``, so ``conj(h)`` of block ``b`` is that of the first times
    ``exp(j eps d_b)``, ``d_b = offsets[b] - offsets[0]``. Each block's phase turn
    ``angle(sum_a conj(c_0a) c_ba)`` is known modulo ``2 pi``; it is unwrapped with the
    estimate of the blocks before it (the first, at 0), so the offsets should grow such that
    each distance is at most a few times the previous one: the unambiguous range is
    ``pi / d_1`` and the precision that of the longest distance. The blocks turned back are
    averaged (``sigma^2 / (B N_p p)`` per coefficient), the noise is the mean of the blocks'.
    """
    if len(ys) != len(offsets) or len(ys) < 2:
        raise ValueError("need at least two pilot blocks, one offset each")
    d = np.asarray(offsets, dtype=np.float64) - float(offsets[0])
    if np.any(np.diff(d) <= 0):
        raise ValueError(f"pilot offsets must increase, got {offsets}")
    xs = x if isinstance(x, (list, tuple)) else [x] * len(ys)
    est = [ls_estimate(y, xb) for y, xb in zip(ys, xs, strict=True)]
    c = np.array([np.conj(h) for h, _ in est])
    cfo = 0.0
    for b in range(1, len(ys)):
        theta = float(np.angle(np.vdot(c[0], c[b])))
        pred = cfo * d[b]
        turn = pred + (theta - pred + np.pi) % (2 * np.pi) - np.pi
        cfo = turn / d[b]
    avg = np.mean(c * np.exp(-1j * cfo * d)[:, None], axis=0)
    nv = float(np.mean([v for _, v in est]))
    return BlocksEstimate(h=np.conj(avg), noise_var=nv, cfo=cfo, h_blocks=np.conj(c))


def normalise_phase(h: np.ndarray, ref: int = 0) -> tuple[np.ndarray, complex]:
    """``h`` turned so that ``h[ref]`` is real and non-negative, and the unit factor ``u``
    with ``h_out = h u``. A receiver applies the same turn to its samples (which see
    ``h^H``, i.e. ``conj(u)``): ``y_out = y conj(u)``."""
    h = np.asarray(h, dtype=np.complex128).reshape(-1)
    a = abs(h[ref])
    u = complex(np.conj(h[ref]) / a) if a > 0 else 1.0 + 0.0j
    return h * u, u


def ls_mse_theory(noise_var: float, n_p: int, power: float) -> float:
    """LS error variance per channel coefficient, ``sigma^2 / (n_p p)``."""
    return float(noise_var) / (int(n_p) * float(power))


def aligned_mse_theory(noise_var: float, n_p: int, power: float, n_t: int) -> float:
    """Expected per-coefficient error after the best common phase (small-error limit):
    one of the ``2 n_t`` real error dimensions is absorbed, ``(1 - 1/(2 n_t))`` of
    :func:`ls_mse_theory`."""
    return (1.0 - 1.0 / (2 * int(n_t))) * ls_mse_theory(noise_var, n_p, power)


def aligned_mse(h_hat: np.ndarray, h: np.ndarray) -> float:
    """Per-coefficient squared error ``min_phi ||h_hat e^{j phi} - h||^2 / n_t``."""
    h_hat = np.asarray(h_hat, dtype=np.complex128).reshape(-1)
    h = np.asarray(h, dtype=np.complex128).reshape(-1)
    inner = np.vdot(h_hat, h)  # sum conj(h_hat) h
    best = np.linalg.norm(h_hat) ** 2 + np.linalg.norm(h) ** 2 - 2 * abs(inner)
    return float(max(best, 0.0) / h.size)


def monte_carlo_mse(
    n_t: int,
    n_p: int,
    power: float,
    noise_var: float,
    trials: int = 2000,
    seed: int = 0,
) -> dict:
    """Monte-Carlo LS estimation error over i.i.d. ``CN(0, 1)`` channels.

    Returns ``{"mse": per-coefficient MSE, "theory": sigma^2/(n_p p), "noise_var_mean":
    mean of the noise estimates (NaN when n_p == n_t), "trials"}``.
    """
    rng = np.random.default_rng(seed)
    x = pilot_matrix(n_t, n_p, power)
    h = (rng.standard_normal((trials, n_t)) + 1j * rng.standard_normal((trials, n_t))) / math.sqrt(
        2
    )
    v = (rng.standard_normal((trials, n_p)) + 1j * rng.standard_normal((trials, n_p))) * math.sqrt(
        noise_var / 2
    )
    y = np.conj(h) @ x + v
    err, nvs = 0.0, []
    for t in range(trials):
        h_hat, nv = ls_estimate(y[t], x)
        err += float(np.sum(np.abs(h_hat - h[t]) ** 2))
        nvs.append(nv)
    return {
        "mse": err / (trials * n_t),
        "theory": ls_mse_theory(noise_var, n_p, power),
        "noise_var_mean": float(np.mean(nvs)) if n_p > n_t else math.nan,
        "trials": int(trials),
    }
