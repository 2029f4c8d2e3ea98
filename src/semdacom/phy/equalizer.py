#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Per-burst multi-tap channel estimation, phase tracking and MMSE equalisation (numpy only).

A user receives, symbol-spaced after its matched filter and ``frame_sync``,

    ``y[n] = exp(j theta(n)) sum_l alpha_l(n) h^H x[n - l] + v[n]``,  ``l = -P .. Q``,

with ``x[n]`` the ``N_t`` antenna samples, ``h`` the spatial channel (what the optimiser plans
beams with), ``alpha`` a short scalar impulse response common to the antennas (echoes, the
raised-cosine tails of a residual timing offset, a receive filter), ``theta`` a slowly varying
phase (residual CFO, phase noise) and ``alpha`` drifting linearly over the burst (a sample
clock offset moves the symbol instants). This is the separable (rank-one) part of a general
per-antenna tap matrix; whatever does not fit it (per-antenna echoes, an IQ image, DC, the
phase between two tracking points) is left in the residual, i.e. in the reported noise, which
is what the decoder will see.

Estimation, from every sample whose ``x`` is known over the taps' span (preamble, pilot
blocks, and the header once decoded; :func:`fit`):

1. least squares for the general tap matrix ``G`` (``y = sum_{a,l} G[a,l] x_a[n-l]``) on
   phase-corrected samples, and its best rank-one factor (SVD, Eckart-Young):
   ``G ~ conj(h) alpha^T`` with ``||alpha|| = 1``;
2. the phase of each training segment (``seg_len`` samples at most) against that model,
   smoothed over the burst: a weighted line (residual CFO) plus a random-walk smoother
   (Rauch-Tung-Striebel) whose step variance is measured from the segments' phase steps
   (zero on a clean oscillator: the line alone);
3. ``alpha(t) = alpha_0 + t alpha_1`` by least squares on ``h^H x``, ``alpha_1`` on the taps
   within 20 dB of the strongest and their neighbours, kept only when it lowers the residual
   by more than ``DRIFT_SIGNIFICANCE`` times its taps times the noise (a clean clock: no
   drift, no estimation noise from it) and measured on both sides of ``t = 0`` (never
   extrapolated);
4. steps 1-3 twice; the residual noise is ``RSS / (N - K)``.

Equalisation (:func:`equalize`): a linear MMSE FIR equaliser (e.g. Proakis, Digital
Communications, 5th ed., sec. 9.4) per chunk of ``chunk`` samples for the local
``alpha(t)``, scaled to be unbiased, so the output is ``h^H x[n] + e[n]``; the effective noise
is measured on the equalised training samples (:func:`effective_noise`), so impairments show
in the reported noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from semdacom._blas import one_thread

__all__ = [
    "DRIFT_SIGNIFICANCE",
    "ChannelFit",
    "effective_noise",
    "equalize",
    "fit",
    "lags",
    "mmse_taps",
    "mmse_taps_batch",
    "smooth_phase",
    "valid_rows",
]

#: Residual reduction, in units of ``sigma^2`` per drifting tap, above which the drift is
#: kept (without drift the reduction is ``chi^2`` with 2 real degrees of freedom per tap over
#: 2: 2.5 is exceeded with probability about 0.5 % for 5 taps).
DRIFT_SIGNIFICANCE = 2.5
#: Amplitude relative to the strongest tap above which a tap (and its neighbours) may drift.
DRIFT_TAP_LEVEL = 0.1


def lags(taps: int, precursor: int) -> np.ndarray:
    """Lags ``-precursor .. taps - precursor - 1`` of the channel taps."""
    taps, precursor = int(taps), int(precursor)
    if taps < 1 or not 0 <= precursor < taps:
        raise ValueError(f"need taps >= 1 and 0 <= precursor < taps, got {taps}, {precursor}")
    return np.arange(-precursor, taps - precursor)


@dataclass
class ChannelFit:
    """Result of :func:`fit`."""

    h: np.ndarray  # (n_t,) spatial channel (the rank-one factor, ||alpha_0|| = 1)
    alpha0: np.ndarray  # (L,) taps at t = 0
    alpha1: np.ndarray  # (L,) drift per unit t (zeros when not significant)
    lags: np.ndarray  # (L,)
    theta: np.ndarray  # (n,) phase per sample
    cfo: float  # slope of the phase's line, rad/sample
    noise_var: float  # residual of the fit per sample
    n_obs: int
    n_params: int
    t0: float  # sample index of t = 0
    t_scale: float  # samples per unit t
    rank1_loss: float  # share of the tap energy outside the rank-one factor
    drift_score: float = 0.0  # residual reduction by the drift, in units of L sigma^2

    def alpha(self, n: float) -> np.ndarray:
        return self.alpha0 + ((n - self.t0) / self.t_scale) * self.alpha1


def _design(x: np.ndarray, rows: np.ndarray, lg: np.ndarray) -> np.ndarray:
    """``A[r, a*L + i] = x[a, rows[r] - lg[i]]`` (shape ``(R, n_t L)``)."""
    idx = rows[:, None] - lg[None, :]
    return np.concatenate([x[a][idx] for a in range(x.shape[0])], axis=1)


def valid_rows(known: np.ndarray, lg: np.ndarray) -> np.ndarray:
    """Sample indices ``n`` whose ``x[n - l]`` is known for every lag ``l``."""
    n = known.size
    ok = np.ones(n, bool)
    for lag in lg:
        shifted = np.zeros(n, bool)
        lo, hi = max(0, int(lag)), min(n, n + int(lag))
        shifted[lo:hi] = known[lo - int(lag) : hi - int(lag)]
        ok &= shifted
    return np.flatnonzero(ok)


def _segments(rows: np.ndarray, seg_len: int) -> np.ndarray:
    """Segment index of every row: runs of consecutive rows, cut every ``seg_len``."""
    if rows.size == 0:
        return np.zeros(0, np.int64)
    run = np.concatenate([[0], np.cumsum(np.diff(rows) != 1)])  # run of consecutive rows
    run_start = rows[np.concatenate([[0], np.flatnonzero(np.diff(run)) + 1])][run]
    piece = (rows - run_start) // int(seg_len)  # pieces of seg_len within a run
    key = run * (rows.size + 1) + piece
    return np.concatenate([[0], np.cumsum(np.diff(key) != 0)]).astype(np.int64)


def smooth_phase(t: np.ndarray, phase: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, float]:
    """Smoothed phases at times ``t`` from noisy wrapped measurements ``phase`` with variances
    ``var``: unwrapped in order, a weighted line (residual CFO) plus a random walk around it,
    its step variance per sample from the measured steps (method of moments), smoothed with a
    Kalman filter and the Rauch-Tung-Striebel pass. Returns ``(smoothed, slope)``."""
    t = np.asarray(t, float)
    ph = np.unwrap(np.asarray(phase, float))
    v = np.maximum(np.asarray(var, float), 1e-12)
    if t.size == 1:
        return ph, 0.0
    w = 1.0 / v
    tm = np.sum(w * t) / np.sum(w)
    pm = np.sum(w * ph) / np.sum(w)
    den = np.sum(w * (t - tm) ** 2)
    slope = float(np.sum(w * (t - tm) * (ph - pm)) / den) if den > 0 else 0.0
    line = pm + slope * (t - tm)
    r = ph - line
    dt = np.diff(t)
    q = max(0.0, float(np.sum(np.diff(r) ** 2 - v[1:] - v[:-1]) / np.sum(dt)))
    # Kalman filter on the random walk r_k = r_{k-1} + N(0, q dt), measured with var v_k
    m, p = np.zeros(t.size), np.zeros(t.size)
    m[0], p[0] = r[0], v[0] if q > 0 else v[0]
    prior_p = np.zeros(t.size)
    if q == 0.0:  # a clean oscillator: the line through the weighted mean of the residuals
        return line + float(np.sum(w * r) / np.sum(w)), slope
    for k in range(1, t.size):
        pp = p[k - 1] + q * dt[k - 1]
        prior_p[k] = pp
        g = pp / (pp + v[k])
        m[k] = m[k - 1] + g * (r[k] - m[k - 1])
        p[k] = (1 - g) * pp
    for k in range(t.size - 2, -1, -1):
        c = p[k] / prior_p[k + 1]
        m[k] = m[k] + c * (m[k + 1] - m[k])
    return line + m, slope


def _rank1(g: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``g ~ conj(h) alpha^T`` with ``||alpha|| = 1``; and the energy share left out."""
    # the top left singular vector from the small n_t x n_t Gram matrix g g^H
    w, U = np.linalg.eigh(np.einsum("al,bl->ab", g, np.conj(g)))
    s1 = float(max(w[-1], 0.0))
    u = U[:, -1]
    if s1 > 0:
        vh0 = np.einsum("a,al->l", np.conj(u), g) / math.sqrt(s1)  # alpha^T = u^H g / s
    else:
        vh0 = np.eye(g.shape[1])[0].astype(np.complex128)
    h = np.conj(math.sqrt(s1) * u)  # g = conj(h) alpha^T
    tot = float(np.sum(np.abs(g) ** 2))
    return h, vh0, (max(tot - s1, 0.0) / tot if tot > 0 else 0.0)


def fit(
    y: np.ndarray,
    x: np.ndarray,
    known: np.ndarray,
    taps: int = 10,
    precursor: int = 3,
    seg_len: int = 128,
    t0: float | None = None,
    init_len: int | None = None,
    start: ChannelFit | None = None,
    iterations: int = 2,
    drift: bool = True,
) -> ChannelFit:
    """Fit the burst model of the module docstring.

    Parameters
    ----------
    y : (n,) received samples (one per symbol).
    x : (n_t, n) the antenna samples sent, where known (anything elsewhere).
    known : (n,) bool, where ``x`` is known.
    taps, precursor : the taps' lags ``-precursor .. taps - precursor - 1``.
    seg_len : longest training segment with one phase.
    t0 : sample of ``t = 0`` (the estimate ``h`` holds there; default the burst's middle).
    init_len : the first fit uses the rows below this sample only (default: the first
        contiguous run of training), where the phase has not moved yet.
    start : a fit of the same burst to start from instead (e.g. before more training was
        known); its taps must have the same lags.
    iterations : rounds of phase, taps and drift.
    drift : whether to fit the drift (step 3; without it ``alpha_0`` is the rank-one factor's).
    """
    y = np.asarray(y, np.complex128).reshape(-1)
    x = np.asarray(x, np.complex128)
    known = np.asarray(known, bool).reshape(-1)
    n = y.size
    lg = lags(taps, precursor)
    L = lg.size
    n_t = x.shape[0]
    rows = valid_rows(known, lg)
    if rows.size < 2 * n_t * L:
        raise ValueError(f"{rows.size} training samples for {n_t * L} taps")
    pad = int(np.max(np.abs(lg))) + 1
    xp = np.pad(x, ((0, 0), (pad, pad)))  # unknown samples count as 0 in the phase step
    # the phase step uses every known sample: the unknown neighbours only add noise
    prow = np.flatnonzero(known)
    Ap = _design(xp, prow + pad, lg)
    # the fit's rows are known samples too when lag 0 is a tap: their rows of Ap (a design
    # matrix is the receiver's dearest numpy step, and the burst's largest)
    at = np.minimum(np.searchsorted(prow, rows), max(prow.size - 1, 0))
    A = Ap[at] if prow.size and np.array_equal(prow[at], rows) else _design(xp, rows + pad, lg)
    yr = y[rows]
    seg = _segments(prow, seg_len)
    n_seg = int(seg[-1]) + 1
    cnt = np.maximum(np.bincount(seg, minlength=n_seg), 1)
    centers = np.bincount(seg, weights=prow.astype(float), minlength=n_seg) / cnt
    t_ref = float(n / 2 if t0 is None else t0)
    t_scale = float(max(n, 1))
    tn = (rows - t_ref) / t_scale
    tp = (prow - t_ref) / t_scale
    if init_len is None:
        brk = np.flatnonzero(np.diff(rows) != 1)
        init_len = int(rows[brk[0]]) + 1 if brk.size else n
    first = rows < init_len
    if np.count_nonzero(first) < 2 * n_t * L:
        first = np.ones(rows.size, bool)
    if start is not None and np.array_equal(start.lags, lg) and start.h.size == n_t:
        h, a0, loss = start.h, start.alpha0, start.rank1_loss
        a1 = start.alpha1 * (start.t_scale / float(max(n, 1)))
        a0 = a0 + ((t_ref - start.t0) / start.t_scale) * start.alpha1
    else:
        g = _lstsq(A[first], yr[first]).reshape(n_t, L)
        h, a0, loss = _rank1(g)
        a1 = np.zeros(L, np.complex128)
    cfo, drift_score, k_par, nv = 0.0, 0.0, 0, math.nan
    theta = np.zeros(n)
    nn = np.arange(n)
    for _ in range(max(1, int(iterations))):
        # phases of the segments against the current model, smoothed over the burst
        pred = np.sum(_scalar(Ap, h, n_t, L) * (a0[None, :] + tp[:, None] * a1), axis=1)
        yp = y[prow]
        cp = np.conj(pred) * yp
        corr = np.bincount(seg, cp.real, n_seg) + 1j * np.bincount(seg, cp.imag, n_seg)
        e_pred = np.maximum(np.bincount(seg, np.abs(pred) ** 2, n_seg), 1e-30)
        e_y = np.bincount(seg, np.abs(yp) ** 2, n_seg)
        res = np.maximum(e_y - np.abs(corr) ** 2 / e_pred, 1e-30) / cnt  # per sample
        sm, cfo = smooth_phase(centers, np.angle(corr), res / (2 * e_pred))
        theta = cfo * nn + np.interp(nn, centers, sm - cfo * centers)
        theta_rows = theta[rows]
        yd = yr * np.exp(-1j * theta_rows)
        g = _lstsq(A, yd).reshape(n_t, L)
        h, a0, loss = _rank1(g)
        if not drift:
            pred = np.sum(_scalar(A, h, n_t, L) * a0[None, :], axis=1)
            k_par = n_t * L + n_seg
            nv = float(np.sum(np.abs(yd - pred) ** 2)) / max(rows.size - k_par, 1)
            a1 = np.zeros(L, np.complex128)
            continue
        s_t = _scalar(A, h, n_t, L)
        a0 = _lstsq(s_t, yd)
        rss0 = float(np.sum(np.abs(yd - np.sum(s_t * a0, axis=1)) ** 2))
        dl = _drift_taps(a0)
        both = np.concatenate([s_t, s_t[:, dl] * tn[:, None]], axis=1)
        sol = _lstsq(both, yd)
        rss1 = float(np.sum(np.abs(yd - np.sum(both * sol, axis=1)) ** 2))
        k_par = n_t + L + dl.size + n_seg
        nv1 = rss1 / max(rows.size - k_par, 1)
        drift_score = (rss0 - rss1) / max(dl.size * nv1, 1e-30)
        a1 = np.zeros(L, np.complex128)
        # a drift is only measured, never extrapolated: it needs training on both sides of t0
        late = int(np.count_nonzero(rows > t_ref))
        if drift_score > DRIFT_SIGNIFICANCE and late >= dl.size and rows.size - late >= dl.size:
            a0, rss = sol[:L], rss1
            a1[dl] = sol[L:]
        else:
            rss, k_par = rss0, k_par - dl.size
        nv = rss / max(rows.size - k_par, 1)
        scale = float(np.linalg.norm(a0))
        if scale > 0:
            h, a0, a1 = h * scale, a0 / scale, a1 / scale
    return ChannelFit(h=h, alpha0=a0, alpha1=a1, lags=lg, theta=theta, cfo=float(cfo),
                      noise_var=float(nv), n_obs=int(rows.size), n_params=int(k_par), t0=t_ref,
                      t_scale=t_scale, rank1_loss=float(loss),
                      drift_score=float(drift_score))  # fmt: skip


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a^-1 b`` for a stack of small Hermitian positive definite systems (``a`` (..., n, n),
    ``b`` (..., n, k)) by LAPACK on one BLAS thread (:func:`semdacom._blas.one_thread`: with
    OpenBLAS's threads, on a loaded machine with the many threads of a flowgraph, these small
    systems cost milliseconds)."""
    a = np.asarray(a, np.complex128)
    b = np.asarray(b, np.complex128)
    with one_thread():
        return np.linalg.solve(a, b)


def _lstsq(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares by the normal equations (well-conditioned training) and :func:`_solve`,
    on one BLAS thread."""
    with one_thread():
        ah = np.conj(A).T
        g = ah @ A
        r = ah @ y
    g += np.eye(g.shape[0]) * (1e-12 * float(np.real(np.trace(g))) / g.shape[0] + 1e-300)
    return _solve(g, r[:, None])[:, 0]


def _drift_taps(a0: np.ndarray) -> np.ndarray:
    """Taps that may drift: those within 20 dB of the strongest and their neighbours (a
    drifting delay moves energy between neighbouring taps)."""
    strong = np.flatnonzero(np.abs(a0) >= DRIFT_TAP_LEVEL * np.max(np.abs(a0)))
    near = np.unique(np.clip(np.concatenate([strong - 1, strong, strong + 1]), 0, a0.size - 1))
    return near


def _scalar(A: np.ndarray, h: np.ndarray, n_t: int, L: int) -> np.ndarray:
    """``h^H x[n - l]`` per row and lag from the design matrix."""
    a3 = A.reshape(A.shape[0], n_t, L)
    out = a3[:, 0, :] * np.conj(h[0])
    for a in range(1, n_t):
        out += a3[:, a, :] * np.conj(h[a])
    return out


def mmse_taps(
    alpha: np.ndarray, lg: np.ndarray, snr: float, length: int
) -> tuple[np.ndarray, int, float]:
    """Unbiased linear MMSE equaliser of the channel ``alpha`` (at lags ``lg``) at the signal
    to noise ratio ``snr``: ``(e, k1, beta)``, the output ``z[n] = sum_i conj(e_i)
    y[n - k1 + i]``, the decision delay ``k1`` chosen among a few for the largest ``beta``
    (the MMSE bias; the unbiased output has SINR ``beta / (1 - beta)``)."""
    e, k1, beta = mmse_taps_batch(np.asarray(alpha)[None, :], lg, np.array([snr]), length)
    return e[0], int(k1[0]), float(beta[0])


def mmse_taps_batch(
    alpha: np.ndarray, lg: np.ndarray, snr: np.ndarray, length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`mmse_taps` for ``C`` channels at once (``alpha`` (C, L), ``snr`` (C,)): one
    batched solve, ``R = Hm Hm^H + I / snr`` with a right-hand side per decision delay."""
    alpha = np.asarray(alpha, np.complex128)
    c, L = alpha.shape
    p, q = int(-lg[0]), int(lg[-1])
    m = length + L - 1
    # Y_i = y[n - k1 + i] = sum_j Hm[i, j] s[n - k1 - q + j], Hm[i, j] = alpha_{i + q - j}
    hm = np.zeros((c, length, m), np.complex128)
    ii = np.repeat(np.arange(length), L)
    li = np.tile(np.arange(L), length)
    hm[:, ii, ii + q - lg[li]] = alpha[:, li]
    cand = (length // 2, (length - 1 + q - p) // 2, length // 2 + q // 2, length // 2 - p)
    k1s = np.array(sorted({min(max(k, 0), length - 1) for k in cand}))
    with one_thread():
        r = hm @ np.conj(hm).transpose(0, 2, 1)
    r += np.eye(length)[None] / np.maximum(np.asarray(snr, float), 1e-6)[:, None, None]
    rhs = hm[:, :, k1s + q]  # (C, length, D)
    e = _solve(r, rhs)
    beta = np.real(np.sum(np.conj(e) * rhs, axis=1))  # (C, D)
    best = np.argmax(beta, axis=1)
    sel = np.arange(c)
    e, b = e[sel, :, best], beta[sel, best]
    e = np.where(b[:, None] > 0, e / np.where(b > 0, b, 1.0)[:, None], e)
    return e, k1s[best], b


def equalize(
    y: np.ndarray, cf: ChannelFit, snr: np.ndarray | float, chunk: int = 64, length: int = 0,
    upto: int | None = None,
) -> np.ndarray:  # fmt: skip
    """The burst equalised (phase removed, MMSE FIR per chunk for the local ``alpha``), so that
    ``z[n] ~ h^H x[n]``. ``snr``: signal to noise ratio of ``h^H x`` per sample (scalar or
    per sample). ``length``: equaliser taps (default ``2 L + 5``). ``upto``: equalise the
    first ``upto`` samples only (the rest is 0)."""
    y = np.asarray(y, np.complex128).reshape(-1) * np.exp(-1j * cf.theta)
    n = y.size
    L = cf.lags.size
    length = int(length) or 2 * L + 5
    snr = np.broadcast_to(np.asarray(snr, float), (n,))
    ypad = np.concatenate([np.zeros(length, np.complex128), y, np.zeros(length, np.complex128)])
    win = np.lib.stride_tricks.sliding_window_view(ypad, length)
    starts = np.arange(0, n if upto is None else min(n, int(upto)), chunk)
    ends = np.minimum(starts + chunk, n)
    # the chunk's signal-to-noise ratio to 0.25 dB; chunks with the same taps share a filter
    snrs = np.add.reduceat(snr[: ends[-1]], starts) / (ends - starts)
    snrs = 10 ** (np.round(40 * np.log10(np.maximum(snrs, 1e-6))) / 40)
    if np.any(cf.alpha1 != 0):
        alphas = np.array([cf.alpha((a + b) / 2) for a, b in zip(starts, ends, strict=True)])
        es, k1s, _ = mmse_taps_batch(alphas, cf.lags, snrs, length)
    else:
        uniq, inv = np.unique(snrs, return_inverse=True)
        alphas = np.repeat(cf.alpha0[None, :], uniq.size, axis=0)
        es, k1s, _ = mmse_taps_batch(alphas, cf.lags, uniq, length)
        es, k1s = es[inv], k1s[inv]
    z = np.zeros(n, np.complex128)
    ce = np.conj(es)
    for c, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        o = length - int(k1s[c])  # window start in ypad of the chunk's first sample, less a
        z[a:b] = win[a + o : b + o] @ ce[c]
    return z


def effective_noise(
    z: np.ndarray, target: np.ndarray, positions: np.ndarray, n_params: int = 0
) -> float:
    """Mean ``|z - target|^2`` over ``positions`` (the equalised training samples against
    ``h^H x``), scaled by ``N / (N - n_params)`` for the parameters fitted on them."""
    positions = np.asarray(positions)
    if positions.size == 0:
        return math.nan
    err = float(np.mean(np.abs(z[positions] - target[positions]) ** 2))
    return err * positions.size / max(positions.size - n_params, 1)
