#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Burst synchronisation over the air: preamble, frame timing, carrier frequency offset.

Preamble (:func:`preamble`): antenna ``a`` of ``N_t`` sends ``sqrt(p) [x_a, x_a]`` with
``x_a = z_a * m``: a Zadoff-Chu sequence ``z_a`` of odd length ``N`` (root ``u_a``,
:func:`preamble_roots`: distinct roots whose differences are prime to ``N``, so that two
antennas' sequences correlate at ``sqrt(N)`` at most) times a fixed pseudo-random phase mask
``m`` common to the antennas (:func:`phase_mask`), sent twice. Whatever the channel ``h``, the
received preamble ``sum_a conj(h_a) [x_a, x_a]`` is two equal halves of energy
``N p ||h||^2`` each (up to ``sqrt(N)`` cross terms), so no channel can null it. The mask keeps
the unit modulus, the repetition and the zero-lag cross-correlation ``sqrt(N)`` of the
antennas' sequences, and breaks a property of the bare Zadoff-Chu sequence that makes the
CFO ambiguous: for ``z_u``, a frequency shift by ``1/N`` cycles/symbol *is* a cyclic shift
(``z_u[k] e^{j 2 pi k / N} ~ z_u[k - s]`` with ``u s = 1 mod N``), so a CFO estimate wrapped by
``2 pi / N`` still correlates fully one shift away; for ``x_a`` a frequency-shifted copy
correlates with every cyclic shift of every ``x_b`` at about ``sqrt(N)`` only (a random
sequence's level, ``< 3.5 sqrt(N)`` for the mask used).

Timing and CFO (Schmidl and Cox, 1997, for the repetition; a matched filter for the fine
timing; the ``1/N`` ambiguity of the Schmidl-Cox estimate resolved by scoring the hypotheses
with the matched filter):

1. :func:`schmidl_cox`: ``P(d) = sum_{m<N} conj(r[d+m]) r[d+m+N]`` and the metric
   ``M(d) = |P(d)|^2 / (E_1(d) E_2(d))`` with ``E_1``, ``E_2`` the energies of the two
   halves; ``0 <= M <= 1``, about ``(S / (S + sigma^2))^2`` on the preamble and ``1/N`` on
   noise or data. A frequency offset ``eps`` (rad/sample) only turns ``P``:
   ``eps_0 = angle(P) / N`` equals ``eps`` up to a multiple of ``2 pi / N``.
2. :func:`fine_timing`: after removing a CFO, ``rho(t) = sum_a |<r_t, pre_a>|^2 /
   (||r_t||^2 ||pre_a||^2)``, the share of the received window's energy that lies in the
   span of the antennas' preambles (about ``S / (S + sigma^2)`` at the true start and the
   true CFO, small elsewhere except ``N`` samples off, where half the preamble matches: up to
   about 0.4, so the fine search stays within ``N/4`` of the coarse start).
   :func:`find_burst` computes it for every hypothesis ``eps_0 + 2 pi k / N``, ``|k| <= K``:
   under a wrong hypothesis the residual ``2 pi k' / N`` turns the 2N-sample correlation
   through whole turns (zero at the true start) and, thanks to the mask, leaves only
   random-level correlation elsewhere; the best hypothesis's peak is the burst start and its
   CFO the estimate, over ``|CFO| < (K + 1/2) / N`` cycles/symbol. A best ``rho`` below
   ``rho_min`` is rejected (a false alarm, or a CFO outside the range), and so is a second
   hypothesis within a factor ``ambiguity`` of the best (two CFOs explain the preamble:
   rejected, never guessed).

:func:`find_burst` chains both over a buffer; the GNU Radio block ``frame_sync`` buffers the
stream and calls it. Everything here is numpy except the metric of step 1, which runs over
every sample of the stream (noise between bursts included): :func:`schmidl_cox` is the C++
kernel ``semdacom._kernels.schmidl_cox`` (lib/schmidl_cox.cc: one pass, the GIL released, a
complex64 stream read in place), which computes exactly what its numpy reference
:func:`_schmidl_cox_reference` does, sum for sum (tests/phy/test_sync_kernel.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from semdacom import _kernels

__all__ = [
    "MAX_SAMPLE",
    "Detection",
    "find_burst",
    "fine_timing",
    "interpolate",
    "junk",
    "phase_mask",
    "preamble",
    "preamble_roots",
    "REJECT_CFO",
    "REJECT_TIMING",
    "rotate",
    "rrc_taps",
    "sanitize",
    "schmidl_cox",
    "zadoff_chu",
]

#: Largest sample magnitude the receiver takes as a sample (1e9): anything above it, and any
#: NaN or inf, is junk (a saturating front end, a NaN from upstream DSP) and is neutralised
#: locally (:func:`sanitize`, :func:`schmidl_cox`). 1e9 is the amplitude of the largest power
#: an allocation may carry (``MAX_POWER_W`` = 1e6 W, amplitude 1e3) through the largest
#: channel gain a CSI message may carry (``MAX_CHANNEL_GAIN`` = 1e6); normalised front ends
#: give ``|x| <= 1``, sc16 ones 32767.
MAX_SAMPLE = 1e9

#: Seed of the preamble's phase mask (:func:`phase_mask`); transmitter and receiver must agree.
MASK_SEED = 2026
#: CFO hypotheses each side of the Schmidl-Cox estimate (:func:`find_burst`): acquisition over
#: ``|CFO| < (K + 1/2) / N`` cycles/symbol, 0.0197 for ``N = 127``.
HYPOTHESES = 2
#: :func:`find_burst` first computes the metric over this many halves ``N sps`` past ``begin``
#: (and the rest of the buffer only when nothing can be judged there: from where that look
#: ended when it held no candidate), so that a candidate, rejected or not, costs the same
#: however long the buffer, and a buffer of noise is scanned once.
_SCAN = 16
#: A second CFO hypothesis whose ``rho`` exceeds this share of the best one's makes the
#: estimate ambiguous (rejected).
AMBIGUITY = 0.5


def zadoff_chu(root: int, n: int) -> np.ndarray:
    """Zadoff-Chu sequence of odd length ``n`` and root ``root`` (``gcd(root, n) = 1``):
    ``exp(-j pi root k (k + 1) / n)``, unit modulus, zero cyclic autocorrelation off lag 0."""
    n, root = int(n), int(root)
    if n < 3 or n % 2 == 0:
        raise ValueError(f"Zadoff-Chu length must be odd and >= 3, got {n}")
    if math.gcd(root, n) != 1 or not 0 < root < n:
        raise ValueError(f"root {root} must be in (0, {n}) and prime to it")
    k = np.arange(n)
    return np.exp(-1j * np.pi * root * k * (k + 1) / n)


def preamble_roots(n_t: int, n: int) -> list[int]:
    """``n_t`` Zadoff-Chu roots for length ``n``: the smallest roots prime to ``n`` whose
    pairwise differences are prime to ``n`` too. Raises ValueError if there are not enough."""
    roots: list[int] = []
    for r in range(1, n):
        if math.gcd(r, n) == 1 and all(math.gcd(abs(r - q), n) == 1 for q in roots):
            roots.append(r)
            if len(roots) == n_t:
                return roots
    raise ValueError(f"length {n} has fewer than {n_t} suitable Zadoff-Chu roots")


def phase_mask(n: int) -> np.ndarray:
    """The preamble's phase mask: ``n`` unit-modulus samples ``exp(j 2 pi u_k)``, ``u_k``
    uniform in [0, 1) from NumPy's legacy ``RandomState(MASK_SEED)``, whose stream NumPy keeps
    frozen across versions (NEP 19), so radios running different NumPy versions agree."""
    u = np.random.RandomState(MASK_SEED).uniform(0.0, 1.0, int(n))
    return np.exp(2j * np.pi * u)


def preamble(n_t: int, n: int, power: float = 1.0) -> np.ndarray:
    """The preamble, shape ``(n_t, 2 n)``: row ``a`` is ``sqrt(power) [x_a, x_a]``,
    ``x_a = z_a * m`` (Zadoff-Chu times :func:`phase_mask`, module docstring)."""
    if not (math.isfinite(power) and power > 0):
        raise ValueError(f"preamble power must be positive and finite, got {power!r}")
    rows = [zadoff_chu(r, n) for r in preamble_roots(int(n_t), int(n))]
    z = np.array(rows) * phase_mask(n)[None, :]
    return math.sqrt(power) * np.concatenate([z, z], axis=1)


def sanitize(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(clean, bad)``: ``r`` as complex128 with every junk sample (non-finite, or
    ``|r| > MAX_SAMPLE``) set to 0, and the boolean mask of those samples. A copy when
    ``r`` holds junk, never a change of ``r``."""
    r = np.asarray(r, dtype=np.complex128).reshape(-1)
    bad = junk(r)
    if bad.any():
        r = np.where(bad, 0.0, r)
    return r, bad


#: Below this in both I and Q, a sample's modulus is below MAX_SAMPLE (``|r| <= sqrt(2) max``).
_QUICK_MAX = MAX_SAMPLE / math.sqrt(2.0)


def junk(r: np.ndarray) -> np.ndarray:
    """The boolean mask of the junk samples of the complex ``r``: non-finite, or
    ``|r| > MAX_SAMPLE``. Clean buffers (every I and Q within ``MAX_SAMPLE / sqrt 2``) are
    recognised from the largest component, without the modulus of every sample."""
    r = np.asarray(r).reshape(-1)
    if r.size == 0:
        return np.zeros(0, bool)
    comp = r.view(r.real.dtype) if r.flags.c_contiguous else np.concatenate([r.real, r.imag])
    # NaN propagates through max and min and compares False: the exact test below
    if comp.max() <= _QUICK_MAX and comp.min() >= -_QUICK_MAX:
        return np.zeros(r.size, bool)
    with np.errstate(invalid="ignore", over="ignore"):
        return ~(np.abs(r) <= MAX_SAMPLE)  # NaN compares False: caught too


def _window_sum(x: np.ndarray, n: int) -> np.ndarray:
    """``sum_{m<n} x[d+m]`` for every ``d`` in ``[0, len(x) - n]``, each computed from the
    window's own samples only (van Herk / Gil-Werman): ``x`` cut in blocks of ``n``, a
    window starting at offset ``j`` of block ``k`` is the suffix sum of block ``k`` from
    ``j`` (a reversed cumulative sum) plus the prefix sum of block ``k + 1`` up to ``j - 1``.
    Both sums run over samples of the window, so the rounding error is that of summing the
    window directly (relative to the window's own magnitudes), whatever came before it in
    the stream; a running cumulative sum, differenced, would instead lose every digit of a
    quiet window after a loud stretch. O(len(x)) work."""
    x = np.asarray(x).reshape(-1)
    count = x.size - n + 1
    if count <= 0:
        return np.zeros(0, x.dtype)
    nb = -(-(x.size + n) // n)
    xb = np.zeros((nb, n), x.dtype)
    xb.reshape(-1)[: x.size] = x
    # the window at d = k n + j: suffix of block k from j, plus prefix of block k + 1 to j - 1
    out = np.cumsum(xb[:-1, ::-1], axis=1)[:, ::-1]
    out[:, 1:] += np.cumsum(xb[1:, :-1], axis=1)
    return out.reshape(-1)[:count]


def _touching(bad: np.ndarray, span: int, count: int) -> np.ndarray:
    """Mask of the windows ``[d, d + span)``, ``d < count``, that hold a sample of ``bad``."""
    c = np.concatenate([[0], np.cumsum(bad, dtype=np.int64)])  # integers: exact
    return (c[span : span + count] - c[:count]) > 0


def schmidl_cox(r: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(M, P)`` for every start ``d`` in ``[0, len(r) - 2n]`` (see the module docstring):
    ``M`` float64, ``P`` complex128.

    ``M`` is 0 where a half has no energy. Junk samples (:func:`sanitize`: non-finite or
    above :data:`MAX_SAMPLE`) are neutralised locally: they count as 0 and every window
    ``[d, d + 2n)`` that holds one has ``M = 0`` and ``P = 0`` (invalid: never a candidate);
    every other window is exactly as without them. The windowed sums are exact over
    arbitrarily long buffers (:func:`_window_sum`).

    The C++ kernel ``semdacom._kernels.schmidl_cox`` (one pass over ``r``, the junk test
    inside, the interpreter lock released; a complex64 ``r`` is read in place, anything else
    as complex128): the same sums in the same order as the numpy reference
    :func:`_schmidl_cox_reference`."""
    return _kernels.schmidl_cox(np.asarray(r), int(n), MAX_SAMPLE)


def _schmidl_cox_reference(r: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`schmidl_cox` in numpy: the reference the C++ kernel is tested against
    (tests/phy/test_sync_kernel.py), some 25 passes over the buffer: :func:`sanitize`, the
    lag products and energies, their windowed sums (:func:`_window_sum`), the quotient, and
    the windows touching a junk sample (:func:`_touching`) zeroed."""
    r, bad = sanitize(r)
    n = int(n)
    if r.size < 2 * n:
        return np.zeros(0), np.zeros(0, np.complex128)
    count = r.size - 2 * n + 1
    prod = np.conj(r[:-n]) * r[n:]  # index d+m
    p = _window_sum(prod, n)[:count]
    e = _window_sum(_abs2(r), n)
    den = e[:count] * e[n : n + count]
    pos = den > 0
    m = _abs2(p)
    np.divide(m, den, out=m, where=pos)
    m[~pos] = 0.0
    if bad.any():
        invalid = _touching(bad, 2 * n, count)
        m[invalid] = 0.0
        p = np.where(invalid, 0.0, p)
    return np.minimum(m, 1.0, out=m), p  # m >= 0: squares over positive energies


def _abs2(z: np.ndarray) -> np.ndarray:
    """``|z|^2`` of a complex array (no square root: the sum of the squared parts)."""
    return z.real * z.real + z.imag * z.imag


def rotate(x: np.ndarray, cfo: float, n0: int = 0) -> np.ndarray:
    """``x[k] exp(-j cfo (k + n0))``: removes a frequency offset ``cfo`` (rad/sample)."""
    k = np.arange(np.asarray(x).size) + n0
    return np.asarray(x, dtype=np.complex128) * np.exp(-1j * cfo * k)


def _rho_curves(r: np.ndarray, pres: np.ndarray, lo: int, hi: int, stride: int) -> np.ndarray:
    """``rho(t)``, ``t`` in ``[lo, hi]``, against each set ``pres[h]`` of ``n_t`` sequences
    (``pres``: ``(H, n_t, n)``, the same energy per row): ``(H, T)``. The windows are gathered
    once and correlated with every set in one product."""
    pres = np.asarray(pres, dtype=np.complex128)
    n_h, n_t, n = pres.shape
    starts = np.arange(lo, hi + 1)
    idx = starts[:, None] + stride * np.arange(n)[None, :]
    win = r[idx]  # (T, n)
    corr = win @ pres.reshape(n_h * n_t, n).conj().T  # (T, H n_t)
    num = np.sum(np.abs(corr.reshape(-1, n_h, n_t)) ** 2, axis=2).T  # (H, T)
    energy = np.sum(np.abs(win) ** 2, axis=1)
    pe = float(np.mean(np.sum(np.abs(pres[0]) ** 2, axis=1)))
    return np.where(energy > 0, num / (np.where(energy > 0, energy, 1.0) * pe), 0.0)


def _rho_curve(r: np.ndarray, pre: np.ndarray, lo: int, hi: int, stride: int) -> np.ndarray:
    return _rho_curves(r, np.asarray(pre)[None], lo, hi, stride)[0]


def fine_timing(
    r: np.ndarray, pre: np.ndarray, lo: int, hi: int, stride: int = 1
) -> tuple[int, float]:
    """Best start ``t`` in ``[lo, hi]`` (``r`` CFO-free) and its ``rho(t)`` (module docstring),
    the preamble's symbols taken every ``stride`` samples (``stride`` = samples per symbol).

    ``r`` must hold ``hi + stride * (pre.shape[1] - 1) + 1`` samples."""
    r = np.asarray(r, dtype=np.complex128).reshape(-1)
    rho = _rho_curve(r, pre, lo, hi, stride)
    best = int(np.argmax(rho))
    return int(lo + best), float(rho[best])


@dataclass(frozen=True)
class Detection:
    """A burst found by :func:`find_burst` (indices into the buffer searched)."""

    start: int  # first sample of the preamble (fine timing)
    coarse: int  # peak of the Schmidl-Cox metric
    cfo: float  # radians per sample
    metric: float  # M at the coarse peak
    rho: float  # fine-timing energy share at ``start``
    frac: float = 0.0  # fractional part of the start, in samples (oversampled input only)
    hypothesis: int = 0  # k: the CFO is the Schmidl-Cox estimate + 2 pi k / (N sps)
    rho_alt: float = 0.0  # best rho of every other CFO hypothesis


#: ``find_burst``'s ``rejected``: a candidate whose best ``rho`` is below ``rho_min``.
REJECT_TIMING = "timing"
#: ``find_burst``'s ``rejected``: two CFO hypotheses explain the candidate (ambiguous).
REJECT_CFO = "cfo"


def _hypotheses(r, pre, coarse, cfo0, search, ns, sps, n_hyp):
    """``rho`` curves around ``coarse`` for the CFOs ``cfo0 + 2 pi k / ns``, ``|k| <= n_hyp``:
    ``(lo, ks, curves)`` with ``curves[i]`` over starts ``lo ..``. A CFO ``eps`` turns the
    window's symbol ``m`` by ``eps sps m`` from its first; ``|<r_t, pre e^{j eps sps m}>|`` is
    ``rho`` with ``eps`` removed from ``r``, so the hypotheses turn the preamble instead."""
    lo = max(coarse - search - 1, 0)
    hi = coarse + search + 1
    ks = np.arange(-n_hyp, n_hyp + 1)
    m = np.arange(pre.shape[1])
    turns = np.exp(1j * np.outer(cfo0 + 2 * np.pi * ks / ns, sps * m))  # (H, 2N)
    return lo, ks, _rho_curves(r, pre[None, :, :] * turns[:, None, :], lo, hi, sps)


def _refine_cfo(w: np.ndarray, pre: np.ndarray, cfo: float, ns: int) -> float:
    """The CFO (rad/sample) of the preamble ``w`` (``2N`` symbols from its start), given a
    hypothesis ``cfo`` within ``pi / ns`` of it: ``cfo + angle(sum_a c2_a conj(c1_a)) / ns``
    with ``c1_a``, ``c2_a`` the correlations of the two halves (``cfo`` removed) with antenna
    ``a``'s sequence. The known sequence replaces the noisy first half of Schmidl-Cox's
    ``P`` (0.9 dB less error at 0 dB) and the fine start replaces the coarse one."""
    n = pre.shape[1] // 2
    w = w * np.exp(-1j * cfo * (ns // n) * np.arange(w.size))
    c1 = np.conj(pre[:, :n]) @ w[:n]
    c2 = np.conj(pre[:, n:]) @ w[n : 2 * n]
    return float(cfo + np.angle(np.sum(c2 * np.conj(c1))) / ns)


def find_burst(
    r: np.ndarray,
    pre: np.ndarray,
    begin: int = 0,
    threshold: float = 0.1,
    rho_min: float = 0.15,
    search: int | None = None,
    sps: int = 1,
    hypotheses: int = HYPOTHESES,
    ambiguity: float = AMBIGUITY,
) -> tuple[Detection | None, int, str]:
    """Search ``r`` from ``begin`` for a preamble ``pre`` (shape ``(n_t, 2N)``, symbols).

    Returns ``(detection, resume, rejected)``: ``detection`` is None when no preamble starts
    in the part of ``r`` that can be judged yet; ``resume`` is where the next search should
    begin (after a detection: its start; after a rejected candidate: past every start its
    fine search tried; with nothing found: the first position that could not be judged yet;
    the metric is computed over ``_SCAN`` halves first, the rest of ``r`` only when nothing
    can be judged there, from the end of that look when it held no candidate, so a
    candidate's cost does not grow with ``len(r)`` and noise is scanned once); ``rejected``
    is ``""`` (false) unless a candidate was rejected: :data:`REJECT_TIMING` when its best
    fine-timing ``rho`` is below ``rho_min`` (a false alarm of the metric, or a CFO outside
    the range), :data:`REJECT_CFO` when a second CFO hypothesis reaches ``ambiguity`` times
    the best one's ``rho`` (the CFO is ambiguous: never passed on).

    A candidate is the first ``d`` with ``M(d) > threshold``; the coarse start is the peak of
    ``M`` within the ``2N`` symbols after it, where the Schmidl-Cox CFO ``eps_0 = angle(P)/(N
    sps)`` rad/sample is known up to a multiple of ``2 pi / (N sps)``. Each hypothesis
    ``eps_0 + 2 pi k / (N sps)``, ``|k| <= hypotheses``, is removed and ``rho`` computed
    within ``search`` symbols (default ``N // 4``) of the coarse start (module docstring);
    the best hypothesis's ``rho`` peak gives the start, and the CFO is refined there from
    the correlations of the two halves with the known sequences (:func:`_refine_cfo`). The range is
    ``|CFO| < (hypotheses + 1/2) / N`` cycles/symbol (0.0197 for ``N = 127`` and the default
    2). Junk samples (:func:`sanitize`) count as 0 and the metric of every window that holds
    one is 0 (:func:`schmidl_cox`), so a NaN, an inf or an absurd sample blinds the search
    for the ``2N sps`` windows around it only.

    With ``sps > 1`` samples per symbol (a pulse-shaped, matched-filtered stream) the
    metric's halves are ``N sps`` samples, ``rho`` takes every ``sps``-th sample, and the
    start gets a fractional part (``Detection.frac``, in samples) from a parabola through
    ``rho`` at the peak and its two neighbours.
    """
    sps = int(sps)
    if sps < 1:
        raise ValueError(f"sps must be >= 1, got {sps}")
    hypotheses = int(hypotheses)
    if hypotheses < 0:
        raise ValueError(f"hypotheses must be >= 0, got {hypotheses}")
    n = pre.shape[1] // 2
    ns = n * sps
    search = (n // 4 if search is None else int(search)) * sps
    raw = np.asarray(r).reshape(-1)  # complex64 from frame_sync: the metric reads it in place
    need = 3 * ns + search + 2  # beyond the candidate: metric peak, fine search, preamble
    off = max(0, begin - search - 1)  # the fine search may look this far back
    b = begin - off
    stop = min(raw.size, begin + _SCAN * ns + need + ns)  # a bounded look first
    while True:
        # junk samples: invalid windows for the metric (the kernel's own test), 0 for the
        # fine timing (sanitized below, around a candidate only)
        m, p = schmidl_cox(raw[begin:stop], ns)  # indices from ``begin`` on (off + b)
        above = np.flatnonzero(m > threshold)
        if stop == raw.size or (above.size and b + int(above[0]) + need + ns <= stop - off):
            break
        if above.size == 0:  # no candidate in the bounded look: search on after it
            begin += m.size
            off = max(0, begin - search - 1)
            b = begin - off
        stop = raw.size  # nothing to judge in the bounded look: the rest of the buffer
    if m.size == 0:
        return None, begin, ""
    if above.size == 0:
        return None, begin + m.size, ""
    d0 = int(above[0])
    if b + d0 + need + ns > stop - off:
        return None, begin + d0, ""  # judge it when more samples are in
    # the fine search and the CFO read r[lo .. b + d0 + need + ns) at most (indices from
    # ``off`` on): only that much is sanitized
    r, _ = sanitize(raw[off : off + b + d0 + need + ns])
    # the peak of M within 2N symbols of the crossing (a noise crossing up to N symbols ahead
    # of a preamble must not pull the coarse start off it; no two preambles are that close)
    dc = d0 + int(np.argmax(m[d0 : d0 + 2 * ns]))
    cfo0 = float(np.angle(p[dc]) / ns)
    coarse = b + dc
    lo, ks, curves = _hypotheses(r, pre, coarse, cfo0, search, ns, sps, hypotheses)
    peaks = curves.max(axis=1)
    i = int(np.argmax(peaks))
    rho = float(peaks[i])
    rho_alt = float(np.max(np.delete(peaks, i))) if peaks.size > 1 else 0.0
    if rho < rho_min:
        # past every start the fine search tried (a candidate from the same M peak would try
        # them again: on a plateau of M, a DC level or a tone, that is most of the cost)
        return None, max(begin + d0 + max(1, ns // 8), off + coarse + search + 2), REJECT_TIMING
    if rho_alt >= ambiguity * rho:
        return None, off + coarse + ns, REJECT_CFO  # past this preamble: one rejection per burst
    rho_c = curves[i]
    k = int(np.argmax(rho_c))
    frac = 0.0
    if sps > 1 and 0 < k < rho_c.size - 1:
        a, bb, c = rho_c[k - 1], rho_c[k], rho_c[k + 1]
        den = a - 2 * bb + c
        if den < 0:
            frac = float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    cfo = _refine_cfo(
        r[lo + k : lo + k + 2 * ns : sps], pre, cfo0 + 2 * np.pi * int(ks[i]) / ns, ns
    )
    start = off + lo + k
    det = Detection(start, off + coarse, cfo, float(m[dc]), rho, frac, int(ks[i]), rho_alt)
    return det, start, ""


def interpolate(r: np.ndarray, positions: np.ndarray, half: int = 4) -> np.ndarray:
    """``r`` at fractional sample ``positions`` (Hann-windowed sinc over ``2 half`` taps; the
    signal must be oversampled, e.g. a matched-filtered stream at 2+ samples per symbol).
    ``r`` must hold ``half`` samples around every position."""
    r = np.asarray(r, dtype=np.complex128).reshape(-1)
    pos = np.asarray(positions, dtype=np.float64).reshape(-1)
    base = np.floor(pos).astype(np.int64)
    mu = pos - base
    m = np.arange(-half + 1, half + 1)
    idx = base[:, None] + m[None, :]
    if mu.size and float(np.ptp(mu)) < 1e-9:
        # one fractional offset for every position (a burst's symbols at a fixed timing
        # phase, frame_sync): one set of taps (the offsets differ by rounding only)
        x = mu[0] - m
        return r[idx] @ (np.sinc(x) * (0.5 + 0.5 * np.cos(np.pi * x / half)))
    x = mu[:, None] - m[None, :]  # distance of each tap
    w = np.sinc(x) * (0.5 + 0.5 * np.cos(np.pi * x / half))
    return np.sum(r[idx] * w, axis=1)


def rrc_taps(sps: int, alpha: float = 0.35, span: int = 11) -> np.ndarray:
    """Root-raised-cosine taps (``span`` symbols, ``sps`` samples each, unit energy): the
    pulse for shaping and matched filtering at ``sps`` samples per symbol."""
    sps = int(sps)
    t = (np.arange(span * sps + 1) - span * sps / 2) / sps
    h = np.empty_like(t)
    for i, ti in enumerate(t):
        if abs(ti) < 1e-12:
            h[i] = 1.0 - alpha + 4 * alpha / np.pi
        elif alpha > 0 and abs(abs(ti) - 1 / (4 * alpha)) < 1e-9:
            q = np.pi / (4 * alpha)
            h[i] = (
                alpha
                / math.sqrt(2)
                * ((1 + 2 / np.pi) * math.sin(q) + (1 - 2 / np.pi) * math.cos(q))
            )
        else:
            num = math.sin(np.pi * ti * (1 - alpha)) + 4 * alpha * ti * math.cos(
                np.pi * ti * (1 + alpha)
            )
            h[i] = num / (np.pi * ti * (1 - (4 * alpha * ti) ** 2))
    return h / np.linalg.norm(h)
