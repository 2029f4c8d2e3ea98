"""Fast solver of problem (P1) of MU-ASCC (seed 000): no cvxpy, vectorised numpy.

It uses the structure the paper's Sec. IV-C establishes and searches it directly:

* For fixed virtual-uplink powers ``q`` the MMSE receive beams (eq. (43)) maximise every
  uplink SINR at once, and by uplink-downlink duality (eqs. (34)-(37), Proposition 4.1) the
  same SINRs are reached in the downlink with the same beams and ``sum p = sum q``. With MMSE
  beams the SINRs have the closed form ``gamma_i = s_i / (1 - s_i)``,
  ``s_i = q_i hbar_i^H R^{-1} hbar_i``, ``R = I + sum_j q_j hbar_j hbar_j^H``, with the
  analytic Jacobian ``ds_i/dq_j = delta_ij b_i - q_i |hbar_i^H R^{-1} hbar_j|^2``.
* The objective falls with every SINR (Lemma A.1) and every SINR grows when all ``q`` are
  scaled up, so the whole budget is used: ``q`` lives on the simplex ``sum q = P_max``.
* For fixed SINRs the users decouple (Sec. IV-B); instead of Alg. 1 on the relaxed table and
  rounding down, each user's best operating point is found exactly by trying all ``N_i``
  table rates (``R_c = R_s / T``, eq. (19) tight).

So (P1) becomes ``min_{q in simplex} sum_i beta_i min_n D_i^n(gamma_i(q))``. For K = 2 it is
one-dimensional and nested grids find it. For K >= 3: the best few of a batch of structured
and Dirichlet starting points take a few projected gradient steps (gradient through eq. (14)'s
analytic derivative from :mod:`semdacom.core.fbl` or the link model, all starts as one batch),
then a best-improvement search over pairwise power transfers (SINRs of every candidate from
one Gram matrix by a rank-2 Woodbury update) crosses the plateaus and rate jumps a gradient
cannot.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numpy.typing import NDArray

from ..core import beamforming as bf
from .problem import Problem, Solution

__all__ = ["mmse_sinr", "objective_batch", "project_simplex", "solve_fast", "starts"]

FloatArray = NDArray[np.float64]


def project_simplex(Y: FloatArray, total: float) -> FloatArray:
    """Euclidean projection of each row of ``Y`` onto ``{q >= 0, sum q = total}``."""
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    K = Y.shape[1]
    U = -np.sort(-Y, axis=1)
    css = np.cumsum(U, axis=1) - total
    ind = np.arange(1, K + 1)
    cond = U - css / ind > 0
    r = K - 1 - np.argmax(cond[:, ::-1], axis=1)
    theta = css[np.arange(Y.shape[0]), r] / (r + 1)
    return np.maximum(Y - theta[:, None], 0.0)


def _chol_whiten(R: NDArray[np.complex128], M: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """``Y = Lc^{-1} M`` with ``R = Lc Lc^H`` (batched Cholesky, forward substitution).

    The factorisation is LAPACK's (batched); the forward substitution is written out over the
    (small) matrix dimension and vectorised over the batch, because numpy's batched general
    solve costs microseconds per tiny matrix. ``R`` must be Hermitian positive definite (here
    ``R >= I``).
    """
    S, n, _ = R.shape
    Lc = np.linalg.cholesky(R)
    Y = np.empty((S, n, M.shape[-1]), dtype=np.complex128)
    Mb = np.broadcast_to(M, (S,) + M.shape)
    for i in range(n):
        acc = Mb[:, i, :]
        if i:
            acc = acc - (Lc[:, i : i + 1, :i] @ Y[:, :i, :])[:, 0, :]
        Y[:, i, :] = acc / Lc[:, i, i].real[:, None]
    return Y


def mmse_gram(hbar: NDArray[np.complex128], Q: FloatArray) -> NDArray[np.complex128]:
    """Gram ``C[s, i, j] = hbar_i^H R_s^-1 hbar_j``, ``R_s = I + sum_j Q[s, j] hbar_j hbar_j^H``."""
    n = hbar.shape[1]
    Mcol = hbar.T  # (N_t, K): column j is hbar_j
    R = np.eye(n, dtype=np.complex128)[None] + (Mcol[None] * Q[:, None, :]) @ Mcol.conj().T[None]
    Y = _chol_whiten(R, Mcol)
    return np.conj(np.swapaxes(Y, 1, 2)) @ Y


def transfer_sinrs(
    C0: NDArray[np.complex128], q0: FloatArray, i: NDArray[np.int64], j: NDArray[np.int64], a
) -> FloatArray:
    """MMSE SINRs after moving power ``a`` from user ``i`` to user ``j`` (batched), exactly.

    Moving ``a`` changes ``R`` by the rank-2 term ``U D U^H`` with ``U = [hbar_i, hbar_j]`` and
    ``D = diag(-a, a)``; by the Woodbury identity written as ``(D^-1 + X)^-1 = (I + D X)^-1 D``
    (no division by ``a``), ``hbar_k^H R^-1 hbar_k = C0_kk - v_k^H (I + D X)^-1 D v_k`` with
    ``X = C0[[i, j]][:, [i, j]]`` and ``v_k = C0[[i, j], k]``. One base Gram matrix ``C0`` thus
    gives the SINRs of every candidate move without a new factorisation.
    """
    a = np.asarray(a, dtype=np.float64)
    S = a.size
    ij = np.stack([i, j], axis=1)  # (S, 2)
    X = C0[ij[:, :, None], ij[:, None, :]]  # (S, 2, 2)
    V = C0[ij]  # (S, 2, K)
    d = np.stack([-a, a], axis=1)  # (S, 2)
    B = np.eye(2)[None] + d[:, :, None] * X
    det = B[:, 0, 0] * B[:, 1, 1] - B[:, 0, 1] * B[:, 1, 0]
    Binv = np.empty_like(B)
    Binv[:, 0, 0], Binv[:, 1, 1] = B[:, 1, 1] / det, B[:, 0, 0] / det
    Binv[:, 0, 1], Binv[:, 1, 0] = -B[:, 0, 1] / det, -B[:, 1, 0] / det
    Ainv = Binv * d[:, None, :]
    quad = np.real(np.einsum("sak,sab,sbk->sk", V.conj(), Ainv, V))
    b = np.real(np.diagonal(C0)) - quad
    q = np.repeat(q0[None], S, axis=0)
    rows = np.arange(S)
    q[rows, i] -= a
    q[rows, j] += a
    s = np.clip(q * b, 0.0, 1.0 - 1e-15)
    return s / (1.0 - s), q


def mmse_sinr(hbar: NDArray[np.complex128], Q: FloatArray, grad: bool = True):
    """Uplink SINRs with MMSE receivers (eqs. (33), (43)) for a batch of power vectors.

    Parameters
    ----------
    hbar : ndarray, shape (K, N_t)
        Normalised channel.
    Q : ndarray, shape (S, K)
        Uplink powers.
    grad : bool
        Also return the Jacobian.

    Returns
    -------
    gamma : ndarray, shape (S, K)
    jac : ndarray, shape (S, K, K), ``jac[s, i, j] = d gamma_i / d q_j`` (if ``grad``)
    """
    S, K = Q.shape
    C = mmse_gram(hbar, Q)
    b = np.real(np.diagonal(C, axis1=1, axis2=2))
    s = np.clip(Q * b, 0.0, 1.0 - 1e-15)
    gamma = s / (1.0 - s)
    if not grad:
        return gamma
    ds = -Q[:, :, None] * (C.real**2 + C.imag**2)
    idx = np.arange(K)
    ds[:, idx, idx] += b
    jac = ds / (1.0 - s)[:, :, None] ** 2
    return gamma, jac


class _Flat:
    """Every user's operating points side by side, for one link evaluation per batch."""

    def __init__(self, problem: Problem) -> None:
        self.sizes = [t.n_points for t in problem.tables]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])
        self.user = np.repeat(np.arange(problem.K), self.sizes)
        self.rc = np.concatenate([t.rs_bits / problem.T[i] for i, t in enumerate(problem.tables)])
        self.logistic = all(t.model == "logistic" for t in problem.tables)
        cat = lambda k: np.concatenate([getattr(t, k) for t in problem.tables])  # noqa: E731
        self.d_s, self.d_c, self.a1, self.a0 = cat("d_s"), cat("d_c"), cat("a1"), cat("a0")
        # padded (K, N_max) layout for one argmin over all users at once
        self.n_max = max(self.sizes)
        self.point = np.concatenate([np.arange(n) for n in self.sizes])
        self.flat_of = np.zeros((problem.K, self.n_max), dtype=np.int64)
        self.flat_of[self.user, self.point] = np.arange(self.user.size)
        self.pad = np.zeros((problem.K, self.n_max), dtype=bool)
        self.pad[self.user, self.point] = True
        self.weights = problem.weights


def _flat(problem: Problem) -> _Flat:
    fl = getattr(problem, "_fast_flat", None)
    if fl is None:
        fl = _Flat(problem)
        problem._fast_flat = fl
    return fl


def objective_batch(problem: Problem, gamma: FloatArray, grad: bool = True):
    """``sum_i beta_i min_n D_i^n(gamma_i)`` for a batch of SINR vectors.

    Returns the objective (S,), the best table positions (S, K) and, if ``grad``, the
    derivative of the objective with respect to each SINR (S, K) at those positions.
    """
    S, K = gamma.shape
    fl = _flat(problem)
    g = gamma[:, fl.user]
    if grad:
        x, dx_dg, _ = problem.link.log10_ber_and_grad(g, fl.rc[None, :], problem.L)
        dx_dg = np.asarray(dx_dg, dtype=np.float64)
    else:
        x = problem.link.log10_ber(g, fl.rc[None, :], problem.L)
    x = np.asarray(x, dtype=np.float64)
    if fl.logistic:
        z = fl.a1 * (x - fl.a0)
        e = np.exp(-np.abs(z))
        sig = np.where(z >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))
        D = fl.d_s + fl.d_c * sig
        dD = fl.d_c * fl.a1 * sig * (1.0 - sig) if grad else None
    else:
        D = np.empty_like(x)
        dD = np.empty_like(x) if grad else None
        for i, t in enumerate(problem.tables):
            sl = slice(fl.offsets[i], fl.offsets[i + 1])
            idx = np.arange(t.n_points)[None, :]
            D[:, sl] = t.point_distortion(idx, x[:, sl])
            if grad:
                dD[:, sl] = t._point_dx(np.broadcast_to(idx, x[:, sl].shape), x[:, sl])
    Dp = np.where(fl.pad, D[:, fl.flat_of], np.inf)  # (S, K, N_max)
    pos = np.argmin(Dp, axis=2)
    best = np.take_along_axis(Dp, pos[:, :, None], axis=2)[:, :, 0]
    f = best @ fl.weights
    if not grad:
        return f, pos
    j = fl.flat_of[np.arange(K)[None, :], pos]  # flat index of each user's best point
    dfdg = fl.weights * np.take_along_axis(dD * dx_dg, j, axis=1)
    return f, pos, dfdg


def _evaluate(problem: Problem, Q: FloatArray, grad: bool = True):
    if grad:
        gamma, jac = mmse_sinr(problem.hbar, Q, True)
        f, pos, dfdg = objective_batch(problem, gamma, True)
        return f, pos, (dfdg[:, None, :] @ jac)[:, 0, :]
    gamma = mmse_sinr(problem.hbar, Q, False)
    f, pos = objective_batch(problem, gamma, False)
    return f, pos


def starts(K: int, p_max: float, n_random: int, seed: int = 0) -> FloatArray:
    """Candidate starting points on the power simplex.

    K = 2: a uniform grid of ``n_random + 1`` splits. Otherwise: the equal split, each user
    favoured (half the budget, the rest shared), each user left out, and ``n_random`` points
    drawn from a flat Dirichlet distribution (seeded).
    """
    if K == 1:
        return np.array([[p_max]])
    if K == 2:
        a = np.linspace(0.0, 1.0, n_random + 1)
        return p_max * np.stack([a, 1.0 - a], axis=1)
    eye = np.eye(K)
    pts = [np.full((1, K), 1.0 / K)]
    pts.append(0.5 * eye + 0.5 / K)
    off = (1.0 - eye) / (K - 1)
    pts.append(off)
    rng = np.random.default_rng(seed)
    pts.append(rng.dirichlet(np.ones(K), size=n_random))
    return p_max * np.concatenate(pts, axis=0)


def _solve_two_users(problem: Problem, n_grid: int, n_best: int, levels: int, m: int = 33):
    """K = 2: nested grids over the split ``q_1 = a P`` (a 1-D problem), all in few batches."""
    P = problem.p_max
    a = np.linspace(0.0, 1.0, n_grid)
    f, _ = _evaluate(problem, P * np.stack([a, 1.0 - a], axis=1), grad=False)
    trace = [float(f.min())]
    is_min = np.ones(f.size, dtype=bool)
    is_min[1:] &= f[1:] <= f[:-1]
    is_min[:-1] &= f[:-1] <= f[1:]
    order = np.argsort(f, kind="stable")
    centres = np.concatenate([order[is_min[order]], order[~is_min[order]]])[:n_best]
    best_a, best_f = a[centres], f[centres]
    step = 1.0 / (n_grid - 1)
    m = int(m)
    for _ in range(levels):
        off = np.linspace(-step, step, m)
        cand = np.clip(best_a[:, None] + off[None, :], 0.0, 1.0).reshape(-1)
        fc, _ = _evaluate(problem, P * np.stack([cand, 1.0 - cand], axis=1), grad=False)
        fc = fc.reshape(best_a.size, m)
        j = np.argmin(fc, axis=1)
        better = fc[np.arange(best_a.size), j] < best_f
        best_a = np.where(better, cand.reshape(best_a.size, m)[np.arange(best_a.size), j], best_a)
        best_f = np.minimum(best_f, fc[np.arange(best_a.size), j])
        step *= 2.0 / (m - 1)
        trace.append(float(best_f.min()))
    b = int(np.argmin(best_f))
    return P * np.array([best_a[b], 1.0 - best_a[b]]), float(best_f[b]), trace, levels


def _pattern_search(
    problem: Problem, q: FloatArray, f: float, rounds: int, fractions=(0.5, 0.15, 0.04)
) -> tuple[FloatArray, float, list[float]]:
    """Best-improvement search over power transfers between every ordered pair of users.

    Each round tries moving a fraction of ``q_i`` to user ``j`` for all ``i != j`` and a few
    fractions (SINRs by :func:`transfer_sinrs`, exact and cheap), takes the best improving
    move, and shrinks the fractions when none improves. Unlike a gradient step it crosses the
    plateaus of the saturated logistic and the jumps between rate indices.
    """
    K = problem.K
    I, J = np.nonzero(~np.eye(K, dtype=bool))
    frac = np.asarray(fractions, dtype=np.float64)
    trace = [f]
    for _ in range(rounds):
        if frac.max() < 1e-4:
            break
        ii, jj = np.repeat(I, frac.size), np.repeat(J, frac.size)
        amt = (q[I][:, None] * frac[None, :]).reshape(-1)
        keep = amt > 0
        if not np.any(keep):
            break
        C0 = mmse_gram(problem.hbar, q[None])[0]
        gam, Qc = transfer_sinrs(C0, q, ii[keep], jj[keep], amt[keep])
        fc, _ = objective_batch(problem, gam, grad=False)
        k = int(np.argmin(fc))
        if fc[k] < f * (1.0 - 1e-12):
            q, f = np.clip(Qc[k], 0.0, None), float(fc[k])
        else:
            frac = frac * 0.25
        trace.append(f)
    return q, f, trace


def _solve_pgd(
    problem: Problem, n_candidates: int, n_refine: int, iters: int, tol: float, seed: int
):
    """K >= 3: projected gradient descent on the simplex from the best candidates."""
    K, P = problem.K, problem.p_max
    Q0 = starts(K, P, n_candidates, seed)
    f0, _ = _evaluate(problem, Q0, grad=False)
    Q = Q0[np.argsort(f0, kind="stable")[:n_refine]].copy()
    f, _, G = _evaluate(problem, Q)
    scale = P / np.maximum(np.abs(G).max(axis=1), 1e-300)
    alpha = 0.5 * scale
    trace = [float(f.min())]
    it = 0
    for it in range(1, iters + 1):  # noqa: B007
        Qt = project_simplex(Q - alpha[:, None] * G, P)
        ft, _, Gt = _evaluate(problem, Qt)
        dec = np.sum(G * (Q - Qt), axis=1)
        ok = (ft <= f - 1e-4 * dec) & (ft < f)
        improvement = np.where(ok, (f - ft) / np.maximum(np.abs(f), 1e-300), 0.0)
        # Barzilai-Borwein step for the accepted starts, a shorter step for the others
        dQ, dG = Qt - Q, Gt - G
        sy = np.sum(dQ * dG, axis=1)
        bb = np.where(sy > 0, np.sum(dQ * dQ, axis=1) / np.where(sy > 0, sy, 1.0), 2 * alpha)
        Q[ok], f[ok], G[ok] = Qt[ok], ft[ok], Gt[ok]
        scale = np.where(ok, P / np.maximum(np.abs(G).max(axis=1), 1e-300), scale)
        alpha = np.where(ok, np.clip(bb, 1e-3 * alpha, 10.0 * scale), alpha * 0.25)
        trace.append(float(f.min()))
        if not np.any(ok) and np.all(alpha < 1e-6 * scale):
            break  # every start is stuck
        if np.any(ok) and np.all(improvement[ok] <= tol):
            break  # converged
    b = int(np.argmin(f))
    return Q[b], float(f[b]), trace, it


def solve_fast(
    problem: Problem,
    n_candidates: int | None = None,
    n_refine: int = 3,
    iters: int = 3,
    tol: float = 1e-9,
    seed: int = 0,
    rounds: int = 6,
) -> Solution:
    """Fast solver of (P1) (no cvxpy); see the module docstring.

    Parameters
    ----------
    problem : Problem
    n_candidates : int, optional
        Starting candidates evaluated: the first grid for K = 2 (default 128), random
        Dirichlet points besides the structured ones otherwise (default 32).
    n_refine : int
        How many of the best candidates are refined (nested grids for K = 2, projected
        gradient descent otherwise).
    iters : int
        Projected gradient iterations (K >= 3); K = 2 uses two nested levels of 33 points
        around each of the ``n_refine`` best grid minima.
    tol : float
        Relative improvement below which projected gradient stops.
    seed : int
        Seed of the random candidates.
    rounds : int
        Rounds of the pairwise power-transfer search that follows projected gradient
        (K >= 3).

    Returns
    -------
    Solution
        Discrete rates, downlink powers (eq. (34)) and MMSE beams; ``diagnostics`` holds the
        uplink powers ``q``, the iterations run and the best objective per iteration.
    """
    t0 = time.perf_counter()
    K, P = problem.K, problem.p_max
    if K == 1:
        q, fq, trace, it = np.array([P]), math.nan, [], 0
    elif K == 2:
        q, fq, trace, it = _solve_two_users(problem, n_candidates or 128, n_refine, 2)
    else:
        q, fq, trace, it = _solve_pgd(problem, n_candidates or 32, n_refine, iters, tol, seed)
        q, fq, trace_ps = _pattern_search(problem, q, fq, rounds)
        trace = trace + trace_ps[1:]
    W = bf.mmse_beamformers(problem.hbar, q)
    try:
        p = bf.downlink_powers_from_uplink(problem.hbar, q, W)
    except ValueError:
        p = q.copy()
    p = np.clip(p, 0.0, None)
    if p.sum() > P:
        p *= P / p.sum()
    pos, _ = problem.best_positions(problem.sinr(p, W))
    ms = (time.perf_counter() - t0) * 1e3
    return problem.make_solution(
        "fast",
        pos,
        p,
        W,
        ms,
        {"q": q.tolist(), "iterations": it, "trace": trace, "uplink_objective": fq},
    )
