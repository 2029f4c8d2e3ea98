"""Gray-mapped BPSK/QPSK/16/64/256-QAM with a max-log LLR demapper, and bit interleaving.

Square QAM with ``m`` bits per symbol is two Gray-coded PAMs of ``m/2`` bits each: the first
``m/2`` bits of a symbol pick the in-phase level, the last ``m/2`` the quadrature level. Levels
are ``2i - (M - 1)``, ``M = 2^(m/2)``, scaled to unit average symbol energy
(``E|x|^2 = 1``). BPSK (``m = 1``) sends ``+1`` for bit 0 and ``-1`` for bit 1 on the real axis.

The demapper takes the received ``y = g x + n`` with the effective complex channel gain ``g``
and the variance ``N0`` of the circularly symmetric noise (interference included), and
returns the max-log LLRs ``L = log P(b=0|y) / P(b=1|y)``::

    L_b = (min_{x: b=1} |y - g x|^2 - min_{x: b=0} |y - g x|^2) / N0

computed per real dimension (the Gray labelling of square QAM separates).
"""

from __future__ import annotations

import functools

import numpy as np

from semdacom import _kernels as _k

__all__ = ["BITS_PER_SYMBOL", "demap", "interleaver", "modulate", "scrambler"]

#: Modulation names and their bits per complex symbol.
BITS_PER_SYMBOL: dict[str, int] = {"bpsk": 1, "qpsk": 2, "16qam": 4, "64qam": 6, "256qam": 8}


def _check_m(m: int) -> int:
    if m not in (1, 2, 4, 6, 8):
        raise ValueError(f"bits per symbol must be 1, 2, 4, 6 or 8, got {m}")
    return m


@functools.lru_cache(maxsize=8)
def _pam(half: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Levels (index by Gray label), label bits (M, half) and the unit-energy scale."""
    M = 1 << half
    idx = np.arange(M)
    gray = idx ^ (idx >> 1)  # label of the level at position idx
    levels_by_label = np.empty(M)
    levels_by_label[gray] = 2.0 * idx - (M - 1)
    labels = ((np.arange(M)[:, None] >> np.arange(half - 1, -1, -1)) & 1).astype(np.uint8)
    scale = 1.0 / np.sqrt(2.0 * (M * M - 1) / 3.0)
    return levels_by_label, labels, scale


def modulate(bits: np.ndarray, m: int) -> np.ndarray:
    """Map bits (length a multiple of ``m``) to unit-energy complex symbols (complex64)."""
    m = _check_m(int(m))
    b = np.asarray(bits, dtype=np.uint8).reshape(-1)
    if b.size % m:
        raise ValueError(f"{b.size} bits is not a multiple of {m} bits per symbol")
    if m == 1:
        return (1.0 - 2.0 * b).astype(np.complex64)
    half = m // 2
    lev, _, scale = _pam(half)
    w = (1 << np.arange(half - 1, -1, -1)).astype(np.int64)
    g = b.reshape(-1, 2, half).astype(np.int64) @ w  # (S, 2) labels
    return (scale * (lev[g[:, 0]] + 1j * lev[g[:, 1]])).astype(np.complex64)


def demap(y: np.ndarray, m: int, noise_var: float | np.ndarray, gain: complex = 1.0) -> np.ndarray:
    """Max-log LLRs (float32, ``m`` per symbol, positive = 0) of received symbols.

    Parameters
    ----------
    y : array_like of complex
        Received symbols ``g x + n``.
    m : int
        Bits per symbol.
    noise_var : float or array_like
        ``N0``, variance of the complex noise plus interference (per symbol or scalar).
    gain : complex or array_like
        Effective channel gain ``g`` (per symbol or scalar).
    """
    m = _check_m(int(m))
    z, s = _equalised(y, noise_var, gain)
    if m == 1:
        return np.clip(4.0 * s * z.real, -1e30, 1e30).astype(np.float32)
    lev, _, scale = _pam(m // 2)
    # the C++ kernel: the reference's arithmetic in one pass, the same float32 values
    return _k.qam_demap_maxlog(z, s, scale * lev, m // 2)


def _equalised(y, noise_var, gain) -> tuple[np.ndarray, np.ndarray]:
    """``(z, s)``: the symbols ``y / g`` (0 where ``g`` is 0) and ``|g|^2 / N0`` (0 where
    not finite), flat, complex128 and float64."""
    y = np.asarray(y, dtype=np.complex128).reshape(-1)
    g = np.broadcast_to(np.asarray(gain, dtype=np.complex128), y.shape)
    n0 = np.broadcast_to(np.asarray(noise_var, dtype=np.float64), y.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ag2 = np.abs(g) ** 2
        z = np.where(ag2 > 0, y / np.where(ag2 > 0, g, 1.0), 0.0)
        s = ag2 / np.maximum(n0, 1e-300)  # |g|^2 / N0
        s = np.where(np.isfinite(s), s, 0.0)
    return z, s


def _demap_reference(z: np.ndarray, s: np.ndarray, m: int) -> np.ndarray:
    """The numpy form of :func:`demap`'s max-log LLRs (``m`` >= 2) of equalised symbols
    ``z`` with ``s = |g|^2 / N0``: what the C++ kernel is tested against, value for value."""
    half = m // 2
    lev, labels, scale = _pam(half)
    pts = scale * lev  # by label
    out = np.empty((z.size, m), dtype=np.float64)
    for dim, comp in enumerate((z.real, z.imag)):
        d2 = (comp[:, None] - pts[None, :]) ** 2  # (S, M) per label
        for b in range(half):
            one = labels[:, b] == 1
            out[:, dim * half + b] = d2[:, one].min(axis=1) - d2[:, ~one].min(axis=1)
    out *= s[:, None]
    return np.clip(out, -1e30, 1e30).reshape(-1).astype(np.float32)


@functools.lru_cache(maxsize=64)
def interleaver(n: int, seed: int = 7) -> np.ndarray:
    """Bit interleaver of one codeword: a fixed pseudo-random permutation of ``n`` positions.

    Code bit ``j`` is sent at position ``perm[j]``; the receiver reads ``llr[perm]``.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    return np.random.default_rng([seed, n]).permutation(n)


@functools.lru_cache(maxsize=64)
def scrambler(n: int, seed: int = 11) -> np.ndarray:
    """Scrambling sequence of one codeword: ``n`` pseudo-random bits XORed onto the code bits.

    It makes the sent bits look uniform whatever the payload (zero padding included), so the
    symbols keep unit average energy; the receiver flips the sign of the LLRs where it is 1.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    return np.random.default_rng([seed, n]).integers(0, 2, n, dtype=np.uint8)
