"""The objective of problem (P1) of MU-ASCC ([1]) at given SINRs, trying every table point.

For fixed SINRs the users decouple (Sec. IV-B): each user's best operating point is found
exactly by trying all ``N_i`` table rates (``R_c = R_s / T``, eq. (19) tight), through eq. (14)
(the link model's ``log10 BER``) and eq. (12)/(13) (the table's distortion). This exhaustive
evaluation is the reference of the brute force (:mod:`semdacom.mu_ascc.optimizer.bruteforce`)
and of the candidate lookup (:mod:`semdacom.mu_ascc.optimizer.lookup`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from semdacom.mu_ascc.optimizer.problem import Problem
from semdacom.mu_ascc.optimizer.sinr import mmse_sinr

__all__ = ["FlatPoints", "evaluate", "flat_points", "objective_batch"]

FloatArray = NDArray[np.float64]


class FlatPoints:
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


def flat_points(problem: Problem) -> FlatPoints:
    fl = getattr(problem, "_fast_flat", None)
    if fl is None:
        fl = FlatPoints(problem)
        problem._fast_flat = fl
    return fl


def objective_batch(problem: Problem, gamma: FloatArray, grad: bool = True):
    """``sum_i beta_i min_n D_i^n(gamma_i)`` for a batch of SINR vectors.

    Returns the objective (S,), the best table positions (S, K) and, if ``grad``, the
    derivative of the objective with respect to each SINR (S, K) at those positions.
    """
    S, K = gamma.shape
    fl = flat_points(problem)
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


def evaluate(problem: Problem, Q: FloatArray, grad: bool = True):
    """Exact objective of a batch of uplink powers (every table point tried; the reference)."""
    if grad:
        gamma, jac = mmse_sinr(problem.hbar, Q, True)
        f, pos, dfdg = objective_batch(problem, gamma, True)
        return f, pos, (dfdg[:, None, :] @ jac)[:, 0, :]
    gamma = mmse_sinr(problem.hbar, Q, False)
    f, pos = objective_batch(problem, gamma, False)
    return f, pos


# ---------------------------------------------------------------------------------------------
# Lookup of the operating points that can attain min_n D_i^n(gamma), built once per table set
# ---------------------------------------------------------------------------------------------
