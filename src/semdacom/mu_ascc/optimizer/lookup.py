"""Lookup of the operating points that can attain ``min_n D_i^n(gamma)`` (MU-ASCC [1], (P1)).

The searches of the fast solver evaluate ``sum_i beta_i min_n D_i^n(gamma_i)`` through a
per-user lookup (:func:`lookup`) of the table positions that can attain the minimum on each
cell of a fine log-SINR grid, built once per table set (tables, ``T``, ``L``, link) and cached:
eq. (14) and eq. (12)/(13) are then computed exactly, but at about 2 candidates per user instead
of all ``N_i`` (:func:`objective_lookup`, :func:`lookup_values`). The exhaustive evaluation
(:func:`semdacom.mu_ascc.optimizer.objective.objective_batch`) stays the reference.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

import numpy as np
from numpy.typing import NDArray
from scipy import special

from semdacom.mu_ascc.optimizer.objective import FlatPoints
from semdacom.mu_ascc.optimizer.problem import Problem
from semdacom.mu_ascc.optimizer.sinr import mmse_sinr
from semdacom.phy.link import RandomCodingLink

__all__ = [
    "Lookup",
    "UserLookup",
    "best_positions",
    "clear_lookup_cache",
    "evaluate_lookup",
    "lookup",
    "lookup_cache_info",
    "lookup_values",
    "objective_lookup",
]

FloatArray = NDArray[np.float64]

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


class UserLookup:
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


class Lookup:
    """Every user's candidate lookup in the layout of :class:`FlatPoints` (one per table set)."""

    def __init__(self, problem: Problem, users: list[UserLookup]) -> None:
        fl = FlatPoints(problem)
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


def lookup(problem: Problem) -> tuple[Lookup, float]:
    """The candidate lookup of a problem's tables, delays, blocklength and link (cached).

    Built once per (tables, T, L, link model) and reused by every later problem with the same
    ones (a new channel, power budget or weights does not rebuild it): a live optimiser block
    re-solves with the same tables on every CSI change. Tables and link models other than the
    random-coding bound are keyed by identity and must not be modified in place afterwards.

    Returns
    -------
    lookup : Lookup
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
                u = UserLookup(problem.tables[i], float(problem.T[i]), problem.L, problem.link)
                _lru_put(_USER_CACHE, key, u, _USERS_MAX)
                _STATS["builds"] += 1
            users.append(u)
        lk = Lookup(problem, users)
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


def objective_lookup(problem: Problem, lk: Lookup, gamma: FloatArray, grad: bool = False):
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


def lookup_values(problem: Problem, lk: Lookup, gamma: FloatArray) -> FloatArray:
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


def _rc_distortion(lk: Lookup, prm: FloatArray, gamma: FloatArray) -> FloatArray:
    """Eq. (12)/(13) after eq. (14) for operating points ``prm`` (``[..., 5]``, see Lookup)."""
    lg = np.log1p(gamma)
    # sqrt(L) / sqrt(V) (eq. (8)); SINR 0 puts the Q argument at -inf (Q = 1)
    w = lk.sqrt_l / np.sqrt(np.maximum(-np.expm1(-2.0 * lg), 1e-300))
    z = prm[..., 1] + prm[..., 2] * special.log_ndtr((prm[..., 0] - lg) * w)
    return prm[..., 3] + prm[..., 4] * special.expit(z)


def evaluate_lookup(problem: Problem, lk: Lookup, Q: FloatArray):
    """Objective, positions and gradient of :func:`evaluate` through the candidate lookup."""
    gamma, jac = mmse_sinr(problem.hbar, Q, True)
    f, pos, dfdg = objective_lookup(problem, lk, gamma, True)
    return f, pos, (dfdg[:, None, :] @ jac)[:, 0, :]


def best_positions(problem: Problem, lk: Lookup, sinr: FloatArray) -> NDArray[np.int64]:
    """Best table position of every user at the given SINRs, trying every point."""
    if not lk.rc_logistic:
        return problem.best_positions(sinr)[0]
    fl = lk.flat
    D = _rc_distortion(lk, lk.prm_rc, sinr[fl.user])
    return np.argmin(np.where(fl.pad, D[fl.flat_of], np.inf), axis=1)
