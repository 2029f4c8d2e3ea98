"""The searches of the fast solver of problem (P1) of MU-ASCC ([1]) over the power simplex.

The objective falls with every SINR (Lemma A.1) and every SINR grows when all ``q`` are scaled
up, so the whole budget is used: the uplink powers ``q`` live on the simplex
``sum q = P_max``, and (P1) becomes ``min_{q in simplex} sum_i beta_i min_n D_i^n(gamma_i(q))``.

* K = 2 (:func:`solve_two_users`): one-dimensional, nested grids over the split.
* K >= 3 (:func:`solve_pgd`): structured starting points (:func:`starts`) and projected
  gradient steps (:func:`project_simplex`) from the best of them and from the best of every face;
  then :func:`pattern_search`, a best-improvement search over pairwise power transfers with line
  searches and SINR-target moves, which crosses the plateaus, rate jumps and narrow regions
  behind waterfalls that a gradient cannot.

Every search evaluates the objective through the candidate lookup
(:mod:`semdacom.mu_ascc.optimizer.lookup`) and the SINRs through
:mod:`semdacom.mu_ascc.optimizer.sinr`.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
from numpy.typing import NDArray

from semdacom.mu_ascc.optimizer.lookup import Lookup, evaluate_lookup, lookup_values
from semdacom.mu_ascc.optimizer.problem import Problem
from semdacom.mu_ascc.optimizer.sinr import (
    TwoUserSplits,
    mmse_gram,
    mmse_sinr,
    transfer_sinrs_batch,
)

__all__ = [
    "pattern_search",
    "project_simplex",
    "simplex_lattice",
    "solve_pgd",
    "solve_two_users",
    "starts",
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


def solve_two_users(
    problem: Problem,
    lk: Lookup,
    gram: tuple,
    n_grid: int,
    n_best: int,
    levels: int,
    m: int = 33,
):
    """K = 2: nested grids over the split ``q_1 = a P`` (a 1-D problem), all in few batches.

    A grid of ``n_grid`` splits and the *knee splits* (:func:`_knee_splits`: each user exactly
    at each of its knees, the rest to the other), then ``levels`` nested grids of ``m`` points
    around each of the ``n_best`` best of them (local minima of the grid first), each spanning
    the previous spacing. At L = 4096 a waterfall is about 0.1 dB wide, so the valley of the
    optimum can be narrower than the grid's spacing (a synthetic instance, seed 124 at
    8.9 dBW, was 2.4 % above the brute force); the knee splits land in it.
    """
    P = problem.p_max
    sinr = TwoUserSplits(gram, P)
    a = _grid(n_grid, 0.0)
    ak = _knee_splits(sinr, lk.knees)
    fk = lookup_values(problem, lk, sinr(ak)) if ak.size else ak
    f = lookup_values(problem, lk, sinr(a))
    trace = [float(f.min())]
    fp = np.concatenate(([np.inf], f, [np.inf]))
    is_min = (f <= fp[:-2]) & (f <= fp[2:])
    centres = np.lexsort((f, ~is_min))[:n_best]  # local minima by value, then the others
    best_a, best_f = a[centres], f[centres]
    if ak.size:
        kb = np.argsort(fk, kind="stable")[:n_best]
        best_a, best_f = np.concatenate([best_a, ak[kb]]), np.concatenate([best_f, fk[kb]])
        trace[0] = min(trace[0], float(fk.min()))
    step = 1.0 / (n_grid - 1)
    off = _grid(int(m), -1.0)
    rows = np.arange(best_a.size)
    for _ in range(levels):
        cand = best_a[:, None] + step * off
        np.minimum(np.maximum(cand, 0.0, out=cand), 1.0, out=cand)
        fc = lookup_values(problem, lk, sinr(cand.reshape(-1))).reshape(cand.shape)
        j = np.argmin(fc, axis=1)
        fj = fc[rows, j]
        best_a = np.where(fj < best_f, cand[rows, j], best_a)
        best_f = np.minimum(best_f, fj)
        step *= 2.0 / (m - 1)
        trace.append(float(best_f.min()))
    b = int(np.argmin(best_f))
    return P * np.array([best_a[b], 1.0 - best_a[b]]), float(best_f[b]), trace, levels


def _knee_splits(sinr: TwoUserSplits, knees, iters: int = 32) -> FloatArray:
    """K = 2: the splits ``a`` (``q_1 = a P``) at which user 1 (2) reaches each of its knees
    with the least (most) ``a``, by one bisection over all targets (user 1's SINR grows with
    ``a``, user 2's falls; 2^-32 of the budget); targets out of reach end at an edge."""
    t = [np.asarray(k, dtype=np.float64) * (1.0 + 1e-9) for k in knees[:2]]
    if sum(x.size for x in t) == 0:
        return np.zeros(0)
    tgt = np.concatenate(t)
    first = np.arange(tgt.size) < t[0].size  # user 1's targets
    col = np.where(first, 0, 1)
    rows = np.arange(tgt.size)
    lo, hi = np.zeros(tgt.size), np.ones(tgt.size)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        reach = sinr(mid)[rows, col] >= tgt
        move_hi = reach == first  # user 1 reached: go lower; user 2 not reached: go lower
        hi = np.where(move_hi, mid, hi)
        lo = np.where(move_hi, lo, mid)
    return np.where(first, hi, lo)


#: Fractions of the donor's power tried first by every move of :func:`pattern_search`.
_LOCAL_FRACTIONS = np.array([1e-5, 1e-4, 1e-3, 4e-3, 0.015, 0.04, 0.15, 0.5, 1.0])


def _line_fractions(K: int) -> FloatArray:
    """Fractions of the donor's power of the line searches of :func:`pattern_search`.

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
    fc = lookup_values(problem, lk, gam).reshape(S, per)
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


def _knee_above(knees: FloatArray, g: FloatArray) -> FloatArray:
    """For each SINR in ``g``, the smallest knee strictly above it (``g`` itself if none)."""
    kn = knees * (1.0 + 1e-9)
    idx = np.searchsorted(kn, g * (1.0 + 1e-12), side="right")
    return np.where(idx < kn.size, kn[np.minimum(idx, max(kn.size - 1, 0))], g) if kn.size else g


def _target_moves(problem, lk, Q, f, iters: int = 40, sink: list | None = None):
    """Best *SINR-target* move of every row of ``Q``: one user to one of its knees.

    User ``i`` gets the SINR of one of its knees ``t`` (``UserLookup.knees``: where a table
    point comes within 2 % of its plateau; or 0, switched off) while the others (a) keep
    their SINRs, (b) drop to the knee at or below their SINR (their slack freed: the same
    operating point at less power), (c) as (b) with one other user a level lower still,
    (d) all of them a level lower, (e) all of them at their lowest knee, (f) all of them a
    level higher (the knee above their SINR), or (g) as (b) with one other user a level
    higher. (f) and (g) are the other side of a user dropping far: with the codec's low-rate
    end a semantic user loses almost nothing going from 440 to 48 bits, and the power it
    frees lifts the others a level each (the bench's k4_physical instance 25: 2.0 % before).
    The smallest uplink powers for those SINRs come from the fixed point
    ``q_j = gamma_j / hbar_j^H (I + sum_{l != j} q_l hbar_l hbar_l^H)^{-1} hbar_j``
    (a standard interference function: monotone, converging where the targets are feasible),
    and are then scaled to the budget (which only raises the SINRs). Unlike a pairwise
    transfer, this moves every user's power at once, as a narrow valley between waterfalls
    needs.
    """
    S, K = Q.shape
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
    above = np.stack([_knee_above(lk.knees[j], gam0[:, j]) for j in range(K)], 1)
    bases = [gam0[rows], floor[rows], below[rows], np.broadcast_to(least, (rows.size, K)),
             above[rows]]  # fmt: skip
    # (a), (b), (d), (e), (f); (c) and (g) below
    all_rows, all_users, all_t = [rows] * 5, [users] * 5, [targets] * 5
    for j in range(K):  # (c), (g)
        keep = users != j
        for other in (below, above):
            Gj = floor[rows[keep]]
            Gj[:, j] = other[rows[keep], j]
            bases.append(Gj)
            all_rows.append(rows[keep])
            all_users.append(users[keep])
            all_t.append(targets[keep])
    G = np.concatenate(bases)
    rows, users, targets = map(np.concatenate, (all_rows, all_users, all_t))
    G[np.arange(rows.size), users] = targets
    return _solve_targets(problem, lk, Q, f, rows, G, iters, sink)


def _solve_targets(problem, lk, Q, f, rows, G, iters: int, sink: list | None = None):
    """The best of the SINR targets ``G`` (one row per candidate, from base row ``rows``).

    Uplink powers for the targets by the fixed point of the standard interference function
    (started from the base powers), scaled to the budget; returns, for every row of ``Q``,
    whether its best candidate improves it, the new rows and their values (and appends every
    candidate point and value to ``sink`` when given).
    """
    S = Q.shape[0]
    P = problem.p_max
    q = Q[rows].copy()
    alive = np.ones(rows.size, dtype=bool)
    for _ in range(iters):
        C = mmse_gram(problem.hbar, q)
        c = np.real(np.diagonal(C, axis1=1, axis2=2))
        b = c / np.maximum(1.0 - q * c, 1e-300)  # hbar_j^H R_{-j}^{-1} hbar_j
        q_new = G / np.maximum(b, 1e-300)
        tot = q_new.sum(axis=1)
        alive &= np.isfinite(tot)
        # the budget binds: scale back, which converges to the point of the boundary whose
        # SINRs are proportional to the targets (the normalised fixed point, SINR balancing)
        over = alive & (tot > P)
        q_new[over] *= (P / tot[over])[:, None]
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
    fa = lookup_values(problem, lk, mmse_sinr(problem.hbar, qa, False))
    ra = rows[alive]
    if sink is not None:
        sink.append((qa, fa))
    ok = np.zeros(S, dtype=bool)
    Qn, fn = Q.copy(), f.copy()
    for s_ in range(S):
        sel = np.flatnonzero(ra == s_)
        if sel.size:
            k = sel[np.argmin(fa[sel])]
            if fa[k] < f[s_] * (1.0 - 1e-12):
                ok[s_], Qn[s_], fn[s_] = True, qa[k], fa[k]
    return ok, Qn, fn


def _pair_moves(problem, lk, Q, f, width: int = 3, iters: int = 40, sink: list | None = None):
    """Best *two-user* SINR-target move of every row of ``Q``.

    Users ``i`` and ``j`` both go to one of their knees (or 0) within ``width`` levels of their
    present ones, while the others drop to the knee at or below their SINR (their slack freed)
    or one level lower still: the optimum can move several users across rate levels at once
    (two up, two down), which neither a pairwise power transfer nor a one-user target move
    (:func:`_target_moves`) reaches.
    """
    S, K = Q.shape
    gam0 = mmse_sinr(problem.hbar, Q, False)
    kn = [np.concatenate([[0.0], k * (1.0 + 1e-9)]) for k in lk.knees]
    floor = np.stack([_knee_at_or_below(lk.knees[j], gam0[:, j], False) for j in range(K)], 1)
    below = np.stack([_knee_at_or_below(lk.knees[j], floor[:, j], True) for j in range(K)], 1)
    offs = np.arange(-width, width + 1)
    n1 = offs.size
    rows, bases = [], []
    for i, j in itertools.combinations(range(K), 2):
        lvl = []
        for u in (i, j):
            k0 = np.searchsorted(kn[u], gam0[:, u] * (1.0 + 1e-12), side="right") - 1
            lvl.append(kn[u][np.clip(k0[:, None] + offs, 0, kn[u].size - 1)])  # (S, n1)
        ti = np.repeat(lvl[0], n1, axis=1).reshape(-1)
        tj = np.tile(lvl[1], (1, n1)).reshape(-1)
        for base in (floor, below):
            Gb = np.repeat(base, n1 * n1, axis=0)
            Gb[:, i], Gb[:, j] = ti, tj
            bases.append(Gb)
            rows.append(np.repeat(np.arange(S), n1 * n1))
    G = np.concatenate(bases)
    return _solve_targets(problem, lk, Q, f, np.concatenate(rows), G, iters, sink)


def _kick(problem, lk, q, f: float, n_best: int = 6, rounds: int = 12):
    """From a point where no move improves: the ``n_best`` best one- and two-user SINR-target
    candidates (:func:`_target_moves`, :func:`_pair_moves`), improving or not, each followed
    by a short transfer search; returns the best point reached and its value.

    An optimum between waterfalls can need two users moved across rate levels *and* the
    others moved a little below their knees; the target candidate next to it is then no better
    than the present point until the transfers have balanced it.
    """
    sink: list = []
    Q1, f1 = q[None], np.array([f])
    _target_moves(problem, lk, Q1, f1, sink=sink)
    _pair_moves(problem, lk, Q1, f1, sink=sink)
    if not sink:
        return q, f
    Qc = np.concatenate([a for a, _ in sink])
    fc = np.concatenate([b for _, b in sink])
    key = np.round(Qc / (1e-6 * problem.p_max)).astype(np.int64)
    _, first = np.unique(key, axis=0, return_index=True)
    pick = first[np.argsort(fc[first], kind="stable")[:n_best]]
    Qk, fk, _ = pattern_search(problem, lk, Qc[pick], fc[pick], rounds, n_polish=2)
    b = int(np.argmin(fk))
    return (Qk[b], float(fk[b])) if fk[b] < f else (q, f)


def pattern_search(
    problem: Problem,
    lk: Lookup,
    Q: FloatArray,
    f: FloatArray,
    rounds: int,
    escape_rounds: int | None = None,
    n_polish: int = 2,
    kicks: int = 0,
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
    and then with :func:`_pair_moves` (two users to knees at once), until they stop (at
    most ``rounds`` rounds in all). A fraction of 1 switches user ``i`` off, so the simplex's
    faces and vertices are reached. Unlike a gradient step it crosses the plateaus of the
    saturated logistic and the jumps between rate indices. Finally (``kicks`` > 0, K <= 4) the
    best row is restarted up to ``kicks`` times from its best target candidates
    (:func:`_kick`) while that improves it.
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
        if r >= escape_rounds and K <= 4 and not ok.all():
            ok4, Qn4, fn4 = _pair_moves(problem, lk, Q[act[~ok]], f[act[~ok]])
            Qn[~ok], fn[~ok], ok[~ok] = Qn4, fn4, ok4
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
    for _ in range(kicks if K <= 4 else 0):
        b = int(np.argmin(f))
        qk, fk = _kick(problem, lk, Q[b], float(f[b]))
        if not fk < f[b] * (1.0 - 1e-12):
            break
        Q[b], f[b] = qk, fk
        trace.append(float(f.min()))
    return Q, f, trace


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


def solve_pgd(
    problem: Problem,
    lk: Lookup,
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
    f0 = lookup_values(problem, lk, mmse_sinr(problem.hbar, Q0, False))
    picked = _seeds(Q0, f0, n_refine, faces=True)
    picked = picked[np.argsort(f0[picked], kind="stable")][: _max_seeds(K)]
    Q = Q0[picked].copy()
    f, _, G = evaluate_lookup(problem, lk, Q)
    scale = P / np.maximum(np.abs(G).max(axis=1), 1e-300)
    alpha = 0.5 * scale
    trace = [float(f.min())]
    it = 0
    for it in range(1, iters + 1):  # noqa: B007
        Qt = project_simplex(Q - alpha[:, None] * G, P)
        ft, _, Gt = evaluate_lookup(problem, lk, Qt)
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
