"""Fast solver of problem (P1) of MU-ASCC ([1]): no cvxpy, vectorised numpy.

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
one-dimensional and nested grids find it. For K >= 3: structured starting points (equal
split, each user favoured, each user left out, each vertex), for K <= 5 a coarse lattice over
the whole simplex, and Dirichlet points are evaluated; the best few and the best of every face
(every set of users switched on) take a few projected gradient steps (gradient through eq.
(14)'s analytic derivative from :mod:`semdacom.phy.fbl` or the link model, all starts as one
batch); then a best-improvement search over pairwise power transfers (SINRs of every
candidate from one Gram matrix by a rank-2 Woodbury update), with line searches along each
transfer and transfers of a whole share (a user switched off), crosses the plateaus, the rate
jumps and the narrow regions behind waterfalls that a gradient cannot. The optima of (P1)
often sit on faces of the simplex (bench/results/optimizer.json, ``k3``/``k4``, against the
global reference :func:`semdacom.mu_ascc.optimizer.bruteforce.solve_global`).

The searches evaluate ``min_n D_i^n`` through a per-user lookup (:func:`lookup`) of the table
positions that can attain it on each cell of a fine log-SINR grid, built once per table set
(tables, ``T``, ``L``, link) and cached: eq. (14) and eq. (12)/(13) are then computed exactly,
but at about 2 candidates per user instead of all ``N_i``. The exhaustive evaluation
(:func:`objective_batch`, :func:`_evaluate`) stays as the reference of the brute force.
"""

from __future__ import annotations

import functools
import itertools
import math
import threading
import time
from collections import OrderedDict

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from semdacom.mu_ascc.optimizer.problem import Problem, Solution
from semdacom.phy import beamforming as bf
from semdacom.phy.link import RandomCodingLink

__all__ = [
    "clear_lookup_cache",
    "lookup",
    "lookup_cache_info",
    "mmse_sinr",
    "objective_batch",
    "objective_lookup",
    "project_simplex",
    "simplex_lattice",
    "solve_fast",
    "starts",
    "transfer_sinrs",
    "transfer_sinrs_batch",
    "two_user_sinr",
]

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

#: log-SINR grid of the lookup: ``ln gamma`` in ``[_U_LO, _U_HI]`` (-80 dB to +100 dB) cut into
#: ``_CELLS`` cells, each sampled at ``_SUB`` sub-intervals when the lookup is built.
_U_LO = math.log(1e-8)
_U_HI = math.log(1e10)
_CELLS = 8192
_SUB = 4
_INV_H = _CELLS / (_U_HI - _U_LO)
#: extra SINRs below and above the grid whose argmins join the two outer cells
_BELOW = np.array([0.0, 1e-300, 1e-100, 1e-40, 1e-20, 1e-15, 1e-12, 1e-10, 1e-9])
_ABOVE = np.array([1e11, 1e12, 1e14, 1e16, 1e20, 1e40, 1e100, 1e300])
_USERS_MAX = 64  # per-user lookups kept (about 130 kB each)
_SETS_MAX = 8  # table sets kept (about 0.65 MB per user each)
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_PAPER_SCALE = math.sqrt(1.0 / _LN2)  # eq. (8)'s dispersion as printed (fbl.dispersion)


class _UserLookup:
    """Candidate operating points of one user on every log-SINR cell.

    ``cand[c]`` (shape ``(_CELLS + 2, C)``, padded by repetition) holds every table position
    that is the argmin of ``D^n(gamma)`` at some sample of cell ``c - 1`` or of its two
    neighbouring samples; cell 0 is everything below ``e^_U_LO`` (SINR 0 included), cell
    ``_CELLS + 1`` everything above ``e^_U_HI``. Evaluating only these candidates exactly gives
    ``min_n D^n`` unless some point wins only on an interval shorter than a sample spacing
    (0.0055 dB), where the envelope cannot move by more than its variation over that interval.
    """

    def __init__(self, table, T: float, L: int, link) -> None:
        self.table, self.link = table, link  # kept alive: their ids are in the cache key
        rc = table.rs_bits / T
        u = np.linspace(_U_LO, _U_HI, _CELLS * _SUB + 1)
        g = np.concatenate([_BELOW, np.exp(u), _ABOVE])
        x = np.asarray(link.log10_ber(g[:, None], rc[None, :], L), dtype=np.float64)
        D = table.point_distortion(np.arange(table.n_points)[None, :], x)
        am = np.argmin(D, axis=1)
        nb = _BELOW.size
        grid = am[nb : nb + u.size]
        # samples of cell c: c*_SUB .. (c+1)*_SUB, widened by one sample on each side
        win = np.arange(-1, _SUB + 2)[None, :] + _SUB * np.arange(_CELLS)[:, None]
        below = np.concatenate([am[:nb], grid[:2]])
        above = np.concatenate([grid[-2:], am[nb + u.size :]])
        n = max(win.shape[1], below.size, above.size)
        rows = np.concatenate(
            [
                np.pad(below, (0, n - below.size), mode="edge")[None],
                np.pad(
                    grid[np.clip(win, 0, grid.size - 1)],
                    ((0, 0), (0, n - win.shape[1])),
                    mode="edge",
                ),
                np.pad(above, (0, n - above.size), mode="edge")[None],
            ]
        )
        # distinct entries of every row, sorted, padded with the row's first candidate
        rows = np.sort(rows, axis=1)
        dup = np.zeros(rows.shape, dtype=bool)
        dup[:, 1:] = rows[:, 1:] == rows[:, :-1]
        width = int((~dup).sum(axis=1).max())
        big = np.iinfo(np.int64).max
        uniq = np.sort(np.where(dup, big, rows), axis=1)[:, :width]
        self.cand = np.where(uniq == big, uniq[:, :1], uniq)
        self.width = width
        # knees: for every point, the lowest grid SINR where it is within 2 % of its range
        # above its plateau (the SINR targets of the transfer search's target moves)
        Dg = D[nb : nb + u.size]
        lo, hi = Dg.min(axis=0), Dg.max(axis=0)
        knees = []
        for frac in (0.02,):
            ok = Dg <= lo + frac * (hi - lo)
            first = np.argmax(ok, axis=0)
            knees.append(np.exp(u[first[ok.any(axis=0) & (hi > lo)]]))
        self.knees = np.unique(np.concatenate(knees))


class _Lookup:
    """Every user's candidate lookup, in the flat layout of :class:`_Flat` (one per table set)."""

    def __init__(self, problem: Problem, users: list[_UserLookup]) -> None:
        fl = _Flat(problem)
        self.flat = fl
        self.logistic = fl.logistic
        self.tables = problem.tables
        self.link = problem.link  # kept alive: its id may be in the cache key
        C = max(u.width for u in users)
        cand = np.empty((problem.K, _CELLS + 2, C), dtype=np.int64)
        for i, u in enumerate(users):
            cand[i, :, : u.width] = fl.offsets[i] + u.cand
            cand[i, :, u.width :] = fl.offsets[i] + u.cand[:, :1]
        self.cand = cand
        self.width = C
        self.knees = [u.knees for u in users]
        self.users = np.arange(problem.K)[None, :]
        self.rc = fl.rc
        self.point = fl.point
        # logistic parameters gathered in one indexing: (n_flat, 4)
        self.prm = np.stack([fl.d_s, fl.d_c, fl.a1, fl.a0], axis=1)
        # random-coding link and logistic tables (the default): eq. (14) folded into the
        # logistic's argument, z = a1 (x - a0) = alpha + beta log Q(x_q) with
        # alpha = a1 (c - a0) and beta = a1 / ln 10, per candidate; c = -log10(R_c L) for
        # eq. (14) as printed, -log10 2 for the physical (packet-loss) form
        link = problem.link
        self.rc_logistic = self.logistic and type(link) is RandomCodingLink
        if self.rc_logistic:
            alpha = fl.a1 * (link.log10_prefactor(fl.rc, problem.L) - fl.a0)
            prm = np.stack([fl.rc * _LN2, alpha, fl.a1 / _LN10, fl.d_s, fl.d_c], axis=1)
            self.prm_rc = prm
            self.cand_prm = prm[cand]  # (K, cells + 2, C, 5)
            self.sqrt_l = math.sqrt(problem.L) * (_PAPER_SCALE if link.paper_form else 1.0)


_USER_CACHE: OrderedDict = OrderedDict()
_SET_CACHE: OrderedDict = OrderedDict()
_STATS = {"builds": 0, "hits": 0, "build_ms": 0.0}
_CACHE_LOCK = threading.Lock()  # blocks may solve from several threads


def _link_key(link) -> tuple:
    # the random-coding bound is fully described by its form; any other model by its identity
    if type(link) is RandomCodingLink:
        return ("random_coding", link.paper_form, link.packet_loss)
    return ("link", id(link))


def _user_key(problem: Problem, i: int) -> tuple:
    return (id(problem.tables[i]), float(problem.T[i]), problem.L, _link_key(problem.link))


def _lru_put(cache: OrderedDict, key, value, size: int) -> None:
    cache[key] = value
    while len(cache) > size:
        cache.popitem(last=False)


def lookup(problem: Problem) -> tuple[_Lookup, float]:
    """The candidate lookup of a problem's tables, delays, blocklength and link (cached).

    Built once per (tables, T, L, link model) and reused by every later problem with the same
    ones (a new channel, power budget or weights does not rebuild it): a live optimiser block
    re-solves with the same tables on every CSI change. Tables and link models other than the
    random-coding bound are keyed by identity and must not be modified in place afterwards.

    Returns
    -------
    lookup : _Lookup
    build_ms : float
        Time spent building (0.0 when everything came from the cache).
    """
    keys = tuple(_user_key(problem, i) for i in range(problem.K))
    set_key = keys + (tuple(problem.tables[i].model for i in range(problem.K)),)
    with _CACHE_LOCK:
        lk = _SET_CACHE.get(set_key)
        same_link = lk is not None and (
            type(problem.link) is RandomCodingLink or lk.link is problem.link
        )
        if same_link and all(a is b for a, b in zip(lk.tables, problem.tables, strict=True)):
            _SET_CACHE.move_to_end(set_key)
            _STATS["hits"] += 1
            return lk, 0.0
        t0 = time.perf_counter()
        users = []
        for i, key in enumerate(keys):
            u = _USER_CACHE.get(key)
            if u is None or u.table is not problem.tables[i]:
                u = _UserLookup(problem.tables[i], float(problem.T[i]), problem.L, problem.link)
                _lru_put(_USER_CACHE, key, u, _USERS_MAX)
                _STATS["builds"] += 1
            users.append(u)
        lk = _Lookup(problem, users)
        _lru_put(_SET_CACHE, set_key, lk, _SETS_MAX)
        ms = (time.perf_counter() - t0) * 1e3
        _STATS["build_ms"] += ms
        return lk, ms


def lookup_cache_info() -> dict:
    """Counters of the lookup cache: per-user builds, hits, total build time, entries."""
    return dict(_STATS, entries=len(_USER_CACHE), sets=len(_SET_CACHE))


def clear_lookup_cache() -> None:
    """Forget every lookup (the next solve of each table set rebuilds it)."""
    with _CACHE_LOCK:
        _USER_CACHE.clear()
        _SET_CACHE.clear()
        _STATS.update(builds=0, hits=0, build_ms=0.0)


def objective_lookup(problem: Problem, lk: _Lookup, gamma: FloatArray, grad: bool = False):
    """:func:`objective_batch` evaluating only each user's lookup candidates (exactly).

    Same returns as :func:`objective_batch`; the link model and the distortion are evaluated
    at ``C`` (usually 2) operating points per user instead of all ``N_i``.
    """
    S, K = gamma.shape
    with np.errstate(divide="ignore"):
        v = (np.log(gamma) - _U_LO) * _INV_H + 1.0
    np.fmin(np.fmax(v, 0.0, out=v), _CELLS + 1.0, out=v)
    idx = lk.cand[lk.users, v.astype(np.intp)]  # (S, K, C) flat indices
    g = gamma[:, :, None]
    if grad:
        x, dx_dg, _ = problem.link.log10_ber_and_grad(g, lk.rc[idx], problem.L)
        dx_dg = np.asarray(dx_dg, dtype=np.float64)
    else:
        x = problem.link.log10_ber(g, lk.rc[idx], problem.L)
    x = np.asarray(x, dtype=np.float64)
    if lk.logistic:
        prm = lk.prm[idx]
        z = prm[..., 2] * (x - prm[..., 3])
        e = np.exp(-np.abs(z))
        sig = np.where(z >= 0.0, 1.0, e) / (1.0 + e)
        D = prm[..., 0] + prm[..., 1] * sig
        if grad:
            dD = prm[..., 1] * prm[..., 2] * sig * (1.0 - sig)
    else:
        D = np.empty_like(x)
        dD = np.empty_like(x) if grad else None
        for i, t in enumerate(problem.tables):
            p = lk.point[idx[:, i, :]]
            D[:, i, :] = t.point_distortion(p, x[:, i, :])
            if grad:
                dD[:, i, :] = t._point_dx(p, x[:, i, :])
    if lk.width == 1:
        j = np.zeros((S, K, 1), dtype=np.intp)
        best = D[:, :, 0]
    else:
        j = np.argmin(D, axis=2)[:, :, None]
        best = np.take_along_axis(D, j, axis=2)[:, :, 0]
    f = best @ problem.weights
    pos = lk.point[np.take_along_axis(idx, j, axis=2)[:, :, 0]]
    if not grad:
        return f, pos
    dfdg = problem.weights * np.take_along_axis(dD * dx_dg, j, axis=2)[:, :, 0]
    return f, pos, dfdg


def _values(problem: Problem, lk: _Lookup, gamma: FloatArray) -> FloatArray:
    """The objective values of :func:`objective_lookup` alone (the searches' inner loop).

    With the random-coding link and logistic tables, eq. (14) and eq. (12)/(13) are evaluated
    in one pass over the gathered candidates (same formulas as :mod:`semdacom.phy.fbl`, without
    its input checks: the SINRs come from the MMSE closed forms, ``>= 0``); otherwise through
    the link model.
    """
    if not lk.rc_logistic:
        return objective_lookup(problem, lk, gamma)[0]
    v = np.log(np.maximum(gamma, 1e-300))
    v *= _INV_H
    v += 1.0 - _U_LO * _INV_H
    np.fmin(np.fmax(v, 0.0, out=v), _CELLS + 1.0, out=v)  # (a NaN SINR reads cell 0)
    D = _rc_distortion(lk, lk.cand_prm[lk.users, v.astype(np.intp)], gamma[..., None])
    if lk.width == 2:
        best = np.minimum(D[..., 0], D[..., 1])
    else:
        best = D.min(axis=2)
    return best @ problem.weights


def _rc_distortion(lk: _Lookup, prm: FloatArray, gamma: FloatArray) -> FloatArray:
    """Eq. (12)/(13) after eq. (14) for operating points ``prm`` (``[..., 5]``, see _Lookup)."""
    lg = np.log1p(gamma)
    # sqrt(L) / sqrt(V) (eq. (8)); SINR 0 puts the Q argument at -inf (Q = 1)
    w = lk.sqrt_l / np.sqrt(np.maximum(-np.expm1(-2.0 * lg), 1e-300))
    z = prm[..., 1] + prm[..., 2] * special.log_ndtr((prm[..., 0] - lg) * w)
    return prm[..., 3] + prm[..., 4] * special.expit(z)


def _evaluate_lookup(problem: Problem, lk: _Lookup, Q: FloatArray):
    """Objective, positions and gradient of :func:`_evaluate` through the candidate lookup."""
    gamma, jac = mmse_sinr(problem.hbar, Q, True)
    f, pos, dfdg = objective_lookup(problem, lk, gamma, True)
    return f, pos, (dfdg[:, None, :] @ jac)[:, 0, :]


def _gram2(hbar: NDArray[np.complex128]) -> tuple:
    """``(g_11, g_22, det G, g_12)`` of the Gram matrix ``g_kl = hbar_k^H hbar_l`` (K = 2)."""
    g11 = float(np.vdot(hbar[0], hbar[0]).real)
    g22 = float(np.vdot(hbar[1], hbar[1]).real)
    g12 = complex(np.vdot(hbar[0], hbar[1]))
    return g11, g22, max(g11 * g22 - (g12.real**2 + g12.imag**2), 0.0), g12


class _Splits:
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
    g11, g22, det, _ = _gram2(hbar)
    out = np.empty((q1.size, 2))
    out[:, 0] = q1 * (g11 + q2 * det) / (1.0 + q2 * g22)
    out[:, 1] = q2 * (g22 + q1 * det) / (1.0 + q1 * g11)
    return out


#: Lattice resolution of the fast solver's starting points per K (``simplex_lattice``).
_START_LATTICE = {3: 12, 4: 6, 5: 4}


def starts(K: int, p_max: float, n_random: int, seed: int = 0) -> FloatArray:
    """Candidate starting points on the power simplex.

    K = 2: a uniform grid of ``n_random + 1`` splits. Otherwise: the equal split, each user
    favoured (half the budget, the rest shared), each user left out, each vertex (all power to
    one user), for K <= 5 a coarse lattice over the whole simplex (faces included), and
    ``n_random`` points drawn from a flat Dirichlet distribution (seeded).
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
    pts.append(eye)
    if K in _START_LATTICE:
        pts.append(_lattice(K, _START_LATTICE[K]))
    rng = np.random.default_rng(seed)
    pts.append(rng.dirichlet(np.ones(K), size=n_random))
    return p_max * np.concatenate(pts, axis=0)


@functools.lru_cache(maxsize=16)
def _grid(n: int, lo: float) -> FloatArray:
    """``linspace(lo, 1, n)``, read-only (the searches' fixed grids, made once)."""
    g = np.linspace(lo, 1.0, n)
    g.flags.writeable = False
    return g


def _solve_two_users(
    problem: Problem,
    lk: _Lookup,
    gram: tuple,
    n_grid: int,
    n_best: int,
    levels: int,
    m: int = 33,
):
    """K = 2: nested grids over the split ``q_1 = a P`` (a 1-D problem), all in few batches.

    A grid of ``n_grid`` splits, then ``levels`` nested grids of ``m`` points around each of
    the ``n_best`` best grid points (local minima first), each spanning the previous spacing.
    """
    P = problem.p_max
    sinr = _Splits(gram, P)
    a = _grid(n_grid, 0.0)
    f = _values(problem, lk, sinr(a))
    trace = [float(f.min())]
    fp = np.concatenate(([np.inf], f, [np.inf]))
    is_min = (f <= fp[:-2]) & (f <= fp[2:])
    centres = np.lexsort((f, ~is_min))[:n_best]  # local minima by value, then the others
    best_a, best_f = a[centres], f[centres]
    step = 1.0 / (n_grid - 1)
    off = _grid(int(m), -1.0)
    rows = np.arange(best_a.size)
    for _ in range(levels):
        cand = best_a[:, None] + step * off
        np.minimum(np.maximum(cand, 0.0, out=cand), 1.0, out=cand)
        fc = _values(problem, lk, sinr(cand.reshape(-1))).reshape(cand.shape)
        j = np.argmin(fc, axis=1)
        fj = fc[rows, j]
        best_a = np.where(fj < best_f, cand[rows, j], best_a)
        best_f = np.minimum(best_f, fj)
        step *= 2.0 / (m - 1)
        trace.append(float(best_f.min()))
    b = int(np.argmin(best_f))
    return P * np.array([best_a[b], 1.0 - best_a[b]]), float(best_f[b]), trace, levels


#: Fractions of the donor's power tried first by every move of :func:`_pattern_search`.
_LOCAL_FRACTIONS = np.array([1e-5, 1e-4, 1e-3, 4e-3, 0.015, 0.04, 0.15, 0.5, 1.0])


def _line_fractions(K: int) -> FloatArray:
    """Fractions of the donor's power of the line searches of :func:`_pattern_search`.

    A uniform grid over ``(0, 1]`` along each transfer direction: the good region behind a
    rate's waterfall can be narrow (at L = 4096 under 1 % of the budget wide), and only a line
    search finds it from a vertex or a face; fewer points for large K.
    """
    n = 64 if K <= 3 else (48 if K <= 4 else (16 if K <= 6 else 8))
    return np.linspace(1.0 / n, 1.0, n)


def _best_moves(problem, lk, Q, f, frac):
    """Best transfer move of every row of ``Q`` over all ordered pairs and ``frac``."""
    S, K = Q.shape
    I, J = np.nonzero(~np.eye(K, dtype=bool))
    nf = frac.size
    per = I.size * nf
    amt = (Q[:, I][:, :, None] * frac).reshape(-1)
    C0 = mmse_gram(problem.hbar, Q)
    base = np.repeat(np.arange(S), per)
    gam, Qc = transfer_sinrs_batch(
        C0, Q, base, np.tile(np.repeat(I, nf), S), np.tile(np.repeat(J, nf), S), amt
    )
    fc = _values(problem, lk, gam).reshape(S, per)
    fc[amt.reshape(S, per) <= 0.0] = np.inf
    k = np.argmin(fc, axis=1)
    r = np.arange(S)
    fk = fc[r, k]
    ok = fk < f * (1.0 - 1e-12)
    return ok, np.clip(Qc.reshape(S, per, K)[r, k], 0.0, None), fk


def _knee_at_or_below(knees: FloatArray, g: FloatArray, strict: bool) -> FloatArray:
    """For each SINR in ``g``, the largest of ``0`` and ``knees`` at or (``strict``) below it."""
    kn = np.concatenate([[0.0], knees * (1.0 + 1e-9)])
    if strict:
        idx = np.searchsorted(kn, g * (1.0 - 1e-12), side="left") - 1
    else:
        idx = np.searchsorted(kn, g, side="right") - 1
    return np.minimum(g, kn[np.clip(idx, 0, kn.size - 1)])


def _target_moves(problem, lk, Q, f, iters: int = 40):
    """Best *SINR-target* move of every row of ``Q``: one user to one of its knees.

    User ``i`` gets the SINR of one of its knees ``t`` (``_UserLookup.knees``: where a table
    point comes within 2 % of its plateau; or 0, switched off) while the others (a) keep
    their SINRs, (b) drop to the knee at or below their SINR (their slack freed: the same
    operating point at less power), (c) as (b) with one other user a level lower still,
    (d) all of them a level lower, or (e) all of them at their lowest knee.
    The smallest uplink powers for those SINRs come from the fixed point
    ``q_j = gamma_j / hbar_j^H (I + sum_{l != j} q_l hbar_l hbar_l^H)^{-1} hbar_j``
    (a standard interference function: monotone, converging where the targets are feasible),
    and are then scaled to the budget (which only raises the SINRs). Unlike a pairwise
    transfer, this moves every user's power at once, as a narrow valley between waterfalls
    needs.
    """
    S, K = Q.shape
    P = problem.p_max
    gam0 = mmse_sinr(problem.hbar, Q, False)  # (S, K)
    rows, users, targets = [], [], []
    for i in range(K):
        t = np.concatenate([[0.0], lk.knees[i] * (1.0 + 1e-9)])
        rows.append(np.repeat(np.arange(S), t.size))
        users.append(np.full(S * t.size, i))
        targets.append(np.tile(t, S))
    rows, users, targets = np.concatenate(rows), np.concatenate(users), np.concatenate(targets)
    floor = np.stack([_knee_at_or_below(lk.knees[j], gam0[:, j], False) for j in range(K)], 1)
    below = np.stack([_knee_at_or_below(lk.knees[j], floor[:, j], True) for j in range(K)], 1)
    # (e): every other user at its lowest knee (the least service that still counts)
    least = np.array([kn[0] * (1.0 + 1e-9) if kn.size else 0.0 for kn in lk.knees])
    bases = [gam0[rows], floor[rows], below[rows], np.broadcast_to(least, (rows.size, K))]
    # (a), (b), (d), (e); (c) below
    all_rows, all_users, all_t = [rows] * 4, [users] * 4, [targets] * 4
    for j in range(K):  # (c)
        keep = users != j
        Gj = floor[rows[keep]]
        Gj[:, j] = below[rows[keep], j]
        bases.append(Gj)
        all_rows.append(rows[keep])
        all_users.append(users[keep])
        all_t.append(targets[keep])
    G = np.concatenate(bases)
    rows, users, targets = map(np.concatenate, (all_rows, all_users, all_t))
    G[np.arange(rows.size), users] = targets
    q = Q[rows].copy()
    alive = np.ones(rows.size, dtype=bool)
    for _ in range(iters):
        C = mmse_gram(problem.hbar, q)
        c = np.real(np.diagonal(C, axis1=1, axis2=2))
        b = c / np.maximum(1.0 - q * c, 1e-300)  # hbar_j^H R_{-j}^{-1} hbar_j
        q_new = G / np.maximum(b, 1e-300)
        tot = q_new.sum(axis=1)
        alive &= np.isfinite(tot) & (tot <= 4.0 * P)
        q_new[~alive] = Q[rows[~alive]]
        moved = np.abs(q_new - q).max() if alive.any() else 0.0
        q = q_new
        if moved <= 1e-9 * P:  # converged (the map is monotone)
            break
    tot = q.sum(axis=1)
    alive &= (tot <= P * (1.0 + 1e-9)) & (tot > 0.0)
    if not alive.any():
        return np.zeros(S, dtype=bool), Q, f
    qa = q[alive] * (P / tot[alive])[:, None]
    fa = _values(problem, lk, mmse_sinr(problem.hbar, qa, False))
    ra = rows[alive]
    ok = np.zeros(S, dtype=bool)
    Qn, fn = Q.copy(), f.copy()
    for s_ in range(S):
        sel = np.flatnonzero(ra == s_)
        if sel.size:
            k = sel[np.argmin(fa[sel])]
            if fa[k] < f[s_] * (1.0 - 1e-12):
                ok[s_], Qn[s_], fn[s_] = True, qa[k], fa[k]
    return ok, Qn, fn


def _pattern_search(
    problem: Problem,
    lk: _Lookup,
    Q: FloatArray,
    f: FloatArray,
    rounds: int,
    escape_rounds: int | None = None,
    n_polish: int = 2,
) -> tuple[FloatArray, FloatArray, list[float]]:
    """Best-improvement search over power transfers between every ordered pair of users.

    Each round tries, from each live row of ``Q`` (all rows as one batch), moving a fraction of
    ``q_i`` to user ``j`` for all ``i != j`` (SINRs by :func:`transfer_sinrs_batch`, exact and
    cheap) and takes the best improving move; a row stops when nothing improves. For the first
    ``escape_rounds`` rounds (default 3 for K <= 4, else 1) every row tries a few fractions
    from ``1e-5`` to 1 (:data:`_LOCAL_FRACTIONS`) and a line search over
    :func:`_line_fractions` at once, so that a jump over a waterfall wins over a small step.
    Then the ``n_polish`` best distinct rows go on with the few fractions, and with the line
    search only when those do not improve, and for K <= 4 with :func:`_target_moves` (one user
    to one of its SINR knees, the others holding or freeing their slack) when neither does,
    until they stop (at most ``rounds`` rounds in all). A fraction of 1 switches user ``i``
    off, so the simplex's faces and vertices are reached. Unlike a gradient step it crosses
    the plateaus of the saturated logistic and the jumps between rate indices.
    """
    K, P = problem.K, problem.p_max
    Q = np.array(Q, dtype=np.float64, copy=True)
    f = np.array(f, dtype=np.float64, copy=True)
    live = np.ones(Q.shape[0], dtype=bool)
    line = _line_fractions(K)
    both = np.concatenate([_LOCAL_FRACTIONS, line])
    if escape_rounds is None:
        escape_rounds = 3 if K <= 4 else 1
    trace = [float(f.min())]
    for r in range(rounds):
        if r == escape_rounds:
            keep = _seeds(Q, f, n_polish, faces=False)
            Q, f, live = Q[keep], f[keep], live[keep]
        act = np.flatnonzero(live)
        if act.size == 0:
            break
        if r < escape_rounds:  # every fraction, so that big jumps win over small steps
            ok, Qn, fn = _best_moves(problem, lk, Q[act], f[act], both)
        else:
            ok, Qn, fn = _best_moves(problem, lk, Q[act], f[act], _LOCAL_FRACTIONS)
        if r >= escape_rounds and not ok.all():
            ok2, Qn2, fn2 = _best_moves(problem, lk, Q[act[~ok]], f[act[~ok]], line)
            Qn[~ok], fn[~ok], ok[~ok] = Qn2, fn2, ok2
        if r >= escape_rounds and K <= 4 and not ok.all():
            ok3, Qn3, fn3 = _target_moves(problem, lk, Q[act[~ok]], f[act[~ok]])
            Qn[~ok], fn[~ok], ok[~ok] = Qn3, fn3, ok3
        Q[act[ok]], f[act[ok]] = Qn[ok], fn[ok]
        live[act[~ok]] = False
        # merge rows that met: keep the first of each group of (nearly) equal points
        act = np.flatnonzero(live)
        if act.size > 1:
            key = np.round(Q[act] / (1e-9 * P)).astype(np.int64)
            _, first = np.unique(key, axis=0, return_index=True)
            dup = np.ones(act.size, dtype=bool)
            dup[first] = False
            live[act[dup]] = False
        trace.append(float(f.min()))
    return Q, f, trace


def simplex_lattice(K: int, m: int) -> FloatArray:
    """All points ``k / m`` with ``k`` a composition of ``m`` into ``K`` non-negative parts.

    Returns an array of shape ``(C(m + K - 1, K - 1), K)`` whose rows sum to 1 (stars and bars:
    the ``K - 1`` bars sit at distinct positions among ``m + K - 1``). Faces and vertices of
    the simplex are included.
    """
    if K < 1 or m < 1:
        raise ValueError("K and m must be positive")
    if K == 1:
        return np.ones((1, 1))
    bars = np.array(list(itertools.combinations(range(m + K - 1), K - 1)), dtype=np.int64)
    edges = np.concatenate(
        [np.full((bars.shape[0], 1), -1), bars, np.full((bars.shape[0], 1), m + K - 1)], axis=1
    )
    return (np.diff(edges, axis=1) - 1) / m


@functools.lru_cache(maxsize=32)
def _lattice(K: int, m: int) -> FloatArray:
    g = simplex_lattice(K, m)
    g.flags.writeable = False
    return g


def _seeds(Q: FloatArray, f: FloatArray, n_best: int, faces: bool) -> NDArray[np.int64]:
    """Indices of the ``n_best`` best rows and (``faces``) of the best row of every support."""
    order = np.argsort(f, kind="stable")
    picked = [int(k) for k in order[:n_best]]
    if faces:
        support = (Q > 0.0) @ (1 << np.arange(Q.shape[1]))
        _, first = np.unique(support[order], return_index=True)
        picked += [int(k) for k in order[first]]
    return np.array(list(dict.fromkeys(picked)), dtype=np.int64)


def _max_seeds(K: int) -> int:
    """Most starts refined for K users (the best candidates and faces, by value)."""
    return 16 if K <= 4 else (8 if K <= 6 else 4)


def _solve_pgd(
    problem: Problem,
    lk: _Lookup,
    n_candidates: int,
    n_refine: int,
    iters: int,
    tol: float,
    seed: int,
):
    """K >= 3: projected gradient descent on the simplex from the best candidates.

    The refined starts are the ``n_refine`` best candidates and the best candidate of every
    support (every set of users switched on), so each face of the simplex the candidates
    touch is explored. Returns every refined start (rows of ``Q``) with its value.
    """
    K, P = problem.K, problem.p_max
    Q0 = starts(K, P, n_candidates, seed)
    f0 = _values(problem, lk, mmse_sinr(problem.hbar, Q0, False))
    picked = _seeds(Q0, f0, n_refine, faces=True)
    picked = picked[np.argsort(f0[picked], kind="stable")][: _max_seeds(K)]
    Q = Q0[picked].copy()
    f, _, G = _evaluate_lookup(problem, lk, Q)
    scale = P / np.maximum(np.abs(G).max(axis=1), 1e-300)
    alpha = 0.5 * scale
    trace = [float(f.min())]
    it = 0
    for it in range(1, iters + 1):  # noqa: B007
        Qt = project_simplex(Q - alpha[:, None] * G, P)
        ft, _, Gt = _evaluate_lookup(problem, lk, Qt)
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
    return Q, f, trace, it


def _beams_and_downlink(hbar: NDArray[np.complex128], q: FloatArray, P: float):
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


def _beams_and_downlink_2(hbar: NDArray[np.complex128], gram: tuple, q: FloatArray, P: float):
    """:func:`_beams_and_downlink` for K = 2 in closed form (scalars; any N_t).

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


def _best_positions(problem: Problem, lk: _Lookup, sinr: FloatArray) -> NDArray[np.int64]:
    """Best table position of every user at the given SINRs, trying every point."""
    if not lk.rc_logistic:
        return problem.best_positions(sinr)[0]
    fl = lk.flat
    D = _rc_distortion(lk, lk.prm_rc, sinr[fl.user])
    return np.argmin(np.where(fl.pad, D[fl.flat_of], np.inf), axis=1)


def solve_fast(
    problem: Problem,
    n_candidates: int | None = None,
    n_refine: int = 3,
    iters: int = 3,
    tol: float = 1e-9,
    seed: int = 0,
    rounds: int | None = None,
    n_polish: int | None = None,
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
    rounds : int, optional
        Rounds of the pairwise power-transfer search that follows projected gradient
        (K >= 3; default 30 for K <= 4, 6 otherwise).
    n_polish : int, optional
        How many of the refined starts the power-transfer search follows to the end, after
        its first rounds on all of them (K >= 3; default 2 for K <= 4, 1 otherwise).

    Returns
    -------
    Solution
        Discrete rates, downlink powers (eq. (34)) and MMSE beams; ``diagnostics`` holds the
        uplink powers ``q``, the iterations run, the best objective per iteration and
        ``lookup_build_ms`` (time spent building the candidate lookup in this call, 0.0 when
        it came from the cache; included in ``solve_ms``).
    """
    t0 = time.perf_counter()
    K, P = problem.K, problem.p_max
    lk, build_ms = lookup(problem)
    if K == 1:
        q, fq, trace, it = np.array([P]), math.nan, [], 0
    elif K == 2:
        gram = _gram2(problem.hbar)
        q, fq, trace, it = _solve_two_users(problem, lk, gram, n_candidates or 128, n_refine, 2)
    else:
        Q, fQ, trace, it = _solve_pgd(problem, lk, n_candidates or 32, n_refine, iters, tol, seed)
        small = K <= 4
        Q, fQ, trace_ps = _pattern_search(
            problem,
            lk,
            Q,
            fQ,
            rounds if rounds is not None else (30 if small else 6),
            n_polish=n_polish if n_polish is not None else (2 if small else 1),
        )
        b = int(np.argmin(fQ))
        q, fq = Q[b], float(fQ[b])
        trace = trace + trace_ps[1:]
    if K == 2:
        W, p, sinr = _beams_and_downlink_2(problem.hbar, gram, q, P)
    else:
        W, p, sinr = _beams_and_downlink(problem.hbar, q, P)
    pos = _best_positions(problem, lk, sinr)
    ms = (time.perf_counter() - t0) * 1e3
    return problem.make_solution(
        "fast",
        pos,
        p,
        W,
        ms,
        {
            "q": q.tolist(),
            "iterations": it,
            "trace": trace,
            "uplink_objective": fq,
            "lookup_build_ms": build_ms,
        },
    )
