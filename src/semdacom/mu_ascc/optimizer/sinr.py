"""MMSE SINRs of the virtual uplink of MU-ASCC ([1]) and the dual downlink, vectorised.

For fixed virtual-uplink powers ``q`` the MMSE receive beams (eq. (43)) maximise every uplink
SINR at once; with them the SINRs have the closed form ``gamma_i = s_i / (1 - s_i)``,
``s_i = q_i hbar_i^H R^{-1} hbar_i``, ``R = I + sum_j q_j hbar_j hbar_j^H`` (eq. (33)), with the
analytic Jacobian ``ds_i/dq_j = delta_ij b_i - q_i |hbar_i^H R^{-1} hbar_j|^2``. By
uplink-downlink duality (eqs. (34)-(37), Proposition 4.1) the same SINRs are reached in the
downlink with the same beams and ``sum p = sum q`` (:func:`beams_and_downlink`).

Batched forms for the searches of :mod:`semdacom.mu_ascc.optimizer.search`: one Gram matrix per
power vector (:func:`mmse_gram`), the SINRs after moving power between two users by a rank-2
Woodbury update (:func:`transfer_sinrs_batch`), and closed forms for K = 2
(:func:`two_user_sinr`, :class:`TwoUserSplits`, :func:`beams_and_downlink_2`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from semdacom.phy import beamforming as bf

__all__ = [
    "TwoUserSplits",
    "beams_and_downlink",
    "beams_and_downlink_2",
    "gram2",
    "mmse_gram",
    "mmse_sinr",
    "transfer_sinrs",
    "transfer_sinrs_batch",
    "two_user_sinr",
]

FloatArray = NDArray[np.float64]


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
    i = np.asarray(i, dtype=np.int64)
    return transfer_sinrs_batch(C0[None], q0[None], np.zeros(i.size, np.int64), i, j, a)


def transfer_sinrs_batch(
    C: NDArray[np.complex128],
    Q: FloatArray,
    base: NDArray[np.int64],
    i: NDArray[np.int64],
    j: NDArray[np.int64],
    a,
) -> FloatArray:
    """:func:`transfer_sinrs` for moves from several base points at once.

    ``C[b]`` is the Gram matrix (:func:`mmse_gram`) at the base powers ``Q[b]``; move ``s``
    starts from base point ``base[s]``.
    """
    a = np.asarray(a, dtype=np.float64)
    S = a.size
    ij = np.stack([i, j], axis=1)  # (S, 2)
    bb = np.asarray(base, dtype=np.int64)
    X = C[bb[:, None, None], ij[:, :, None], ij[:, None, :]]  # (S, 2, 2)
    V = C[bb[:, None], ij]  # (S, 2, K)
    d = np.stack([-a, a], axis=1)  # (S, 2)
    B = np.eye(2)[None] + d[:, :, None] * X
    det = B[:, 0, 0] * B[:, 1, 1] - B[:, 0, 1] * B[:, 1, 0]
    Binv = np.empty_like(B)
    Binv[:, 0, 0], Binv[:, 1, 1] = B[:, 1, 1] / det, B[:, 0, 0] / det
    Binv[:, 0, 1], Binv[:, 1, 0] = -B[:, 0, 1] / det, -B[:, 1, 0] / det
    Ainv = Binv * d[:, None, :]
    quad = np.real(np.einsum("sak,sab,sbk->sk", V.conj(), Ainv, V))
    b = np.real(np.diagonal(C, axis1=1, axis2=2))[bb] - quad
    q = Q[bb].copy()
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


def gram2(hbar: NDArray[np.complex128]) -> tuple:
    """``(g_11, g_22, det G, g_12)`` of the Gram matrix ``g_kl = hbar_k^H hbar_l`` (K = 2)."""
    g11 = float(np.vdot(hbar[0], hbar[0]).real)
    g22 = float(np.vdot(hbar[1], hbar[1]).real)
    g12 = complex(np.vdot(hbar[0], hbar[1]))
    return g11, g22, max(g11 * g22 - (g12.real**2 + g12.imag**2), 0.0), g12


class TwoUserSplits:
    """MMSE SINRs (S, 2) at the power splits ``q = (a P, (1 - a) P)`` (K = 2, closed form)."""

    def __init__(self, gram: tuple, P: float) -> None:
        g11, g22, det, _ = gram
        self.scale = np.array([P, -P])
        self.shift = np.array([0.0, P])
        self.gd = np.array([g11, g22])
        self.go = np.array([g22, g11])
        self.det = det

    def __call__(self, a: FloatArray) -> FloatArray:
        Q = a[:, None] * self.scale + self.shift
        Qr = Q[:, ::-1]
        return Q * (self.gd + Qr * self.det) / (1.0 + Qr * self.go)


def two_user_sinr(hbar: NDArray[np.complex128], q1: ArrayLike, q2: ArrayLike) -> FloatArray:
    """MMSE SINRs of two users in closed form (any N_t), shape (S, 2).

    ``gamma_1 = q_1 hbar_1^H (I + q_2 hbar_2 hbar_2^H)^-1 hbar_1
    = q_1 (g_11 + q_2 det G) / (1 + q_2 g_22)`` with the Gram matrix ``G`` of ``hbar``
    (Sherman-Morrison), and symmetrically for user 2; equal to :func:`mmse_sinr`.
    """
    q1 = np.asarray(q1, dtype=np.float64).reshape(-1)
    q2 = np.asarray(q2, dtype=np.float64).reshape(-1)
    g11, g22, det, _ = gram2(hbar)
    out = np.empty((q1.size, 2))
    out[:, 0] = q1 * (g11 + q2 * det) / (1.0 + q2 * g22)
    out[:, 1] = q2 * (g22 + q1 * det) / (1.0 + q1 * g11)
    return out


def beams_and_downlink(hbar: NDArray[np.complex128], q: FloatArray, P: float):
    """MMSE beams (eq. (43)) for ``q``, the dual downlink powers (eq. (34)) and their SINRs.

    What ``bf.mmse_beamformers``, ``bf.downlink_powers_from_uplink`` and ``bf.downlink_sinr``
    compute, without their input checks (``q`` and ``hbar`` are valid here) and sharing one
    gain matrix. As before, the uplink powers themselves are the fallback when the duality
    system has no positive solution, and the powers are scaled into the budget.
    """
    K, n = hbar.shape
    Ht = hbar.T
    V = np.linalg.solve(np.eye(n) + (Ht * q) @ hbar.conj(), Ht).T
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    if not norms.min() > 0.0:  # zero or NaN
        bf.mmse_beamformers(hbar, q)  # raises the error the checked path raises
    W = V / norms
    G = np.abs(hbar.conj() @ W.T) ** 2  # G[k, l] = |hbar_k^H w_l|^2
    dg = G.diagonal()
    sig = q * dg
    gam = sig / (np.maximum(q @ G - sig, 0.0) + 1.0)  # eq. (33), unit-norm beams
    act = np.flatnonzero(gam > 0.0)  # users at SINR 0 get no power (bf._solve_powers)
    p = np.zeros(K)
    if act.size:
        Psi = -G[np.ix_(act, act)] if act.size < K else -G
        Psi.flat[:: act.size + 1] = dg[act] / gam[act]  # eq. (36)
        try:
            x = np.linalg.solve(Psi, np.ones(act.size))
        except np.linalg.LinAlgError:
            x = None
        if x is not None and x.min() > 0.0 and np.isfinite(x).all():
            p[act] = x
        else:
            p = q  # no positive solution: keep the uplink powers (as before)
    p = np.maximum(p, 0.0)
    total = p.sum()
    if total > P:
        p = p * (P / total)
    sig = p * dg
    sinr = sig / (np.maximum(G @ p - sig, 0.0) + 1.0)  # eq. (7), unit noise
    return W, p, sinr


def beams_and_downlink_2(hbar: NDArray[np.complex128], gram: tuple, q: FloatArray, P: float):
    """:func:`beams_and_downlink` for K = 2 in closed form (scalars; any N_t).

    MMSE beams ``v_1 = (1 + q_2 g_22) hbar_1 - q_2 g_21 hbar_2`` (and symmetrically), whose
    gains are ``hbar_1^H v_1 = g_11 + q_2 det G`` and ``hbar_2^H v_1 = g_21``; the 2x2 duality
    system of eq. (36) solved by Cramer's rule.
    """
    g11, g22, det, g12 = gram
    q1, q2 = float(q[0]), float(q[1])
    c = g12.real**2 + g12.imag**2
    V = np.array([[1.0 + q2 * g22, -q2 * g12.conjugate()], [-q1 * g12, 1.0 + q1 * g11]]) @ hbar
    n2 = (V.real**2 + V.imag**2).sum(axis=1)  # squared norms
    if not n2.min() > 0.0:  # zero or NaN
        bf.mmse_beamformers(hbar, q)  # raises the error the checked path raises
    n1s, n2s = float(n2[0]), float(n2[1])
    W = V / np.sqrt(n2)[:, None]
    # G[k][l] = |hbar_k^H w_l|^2
    G00, G10 = (g11 + q2 * det) ** 2 / n1s, c / n1s
    G11, G01 = (g22 + q1 * det) ** 2 / n2s, c / n2s
    u1 = q1 * G00 / (q2 * G10 + 1.0)  # eq. (33)
    u2 = q2 * G11 / (q1 * G01 + 1.0)
    if u1 > 0.0 and u2 > 0.0:
        a, d = G00 / u1, G11 / u2
        den = a * d - G01 * G10  # > 0 exactly when the solution is positive
        p1, p2 = ((d + G01) / den, (a + G10) / den) if den > 0.0 else (q1, q2)
        if not (math.isfinite(p1) and math.isfinite(p2)):
            p1, p2 = q1, q2  # no positive solution: keep the uplink powers (as before)
    else:
        p1 = u1 / G00 if u1 > 0.0 else 0.0
        p2 = u2 / G11 if u2 > 0.0 else 0.0
    total = p1 + p2
    if total > P:
        p1, p2 = p1 * (P / total), p2 * (P / total)
    sinr = np.array([p1 * G00 / (p2 * G01 + 1.0), p2 * G11 / (p1 * G10 + 1.0)])  # eq. (7)
    return W, np.array([p1, p2]), sinr
