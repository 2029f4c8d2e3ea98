"""Alg. 1 of SC-SFMA: compression ratios by dual decomposition on the energy budget.

For a fixed pairing and fixed (P, B), problem (22) maximises the sum rate over nu subject to the
distortion floor nu >= nu^min (22a, eqs. (18)-(19)), the latency (22b) and the total energy
(22c). Pricing (22c) with one multiplier lambda gives the Lagrangian (23), which separates into
one-dimensional group problems (24) ``max_nu R_m(nu) - lambda E_m(nu)``. Each is solved on a
grid of its feasible interval and refined by Newton's method on the stationarity condition (25)
``dR_i/dnu + dR_j/dnu = lambda P_m dT_{i*}/dnu`` (i* the latency-dominant user); lambda follows
the projected subgradient step (26). The best primal-feasible iterate is returned; when no
subgradient iterate is feasible the multiplier is found by bisection (the energy of the group
optimum is non-increasing in lambda), our addition for primal recovery.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from semdacom.sc_sfma import model as sfma
from semdacom.sc_sfma.optimizer.problem import TOL, SfmaProblem

__all__ = ["optimise_nu"]


def _group_terms(prob: SfmaProblem, pairs, power, bw, nu):
    """Rates, delays and energies with nu of shape (M, K); returns dict of (M, 2, K) arrays."""
    c = prob.cls[pairs[:, 0], pairs[:, 1]]
    gam = prob.gamma(pairs, power[:, None], bw[:, None])[:, :, None]  # (M, 2, 1)
    s = 10 * np.log10(gam)
    v = nu[:, None, :]
    cc = np.broadcast_to(c[:, None, None], (c.size, 2, nu.shape[1]))
    x, _, dx, d2x = prob.xi_of(cc, np.broadcast_to(s, cc.shape), np.broadcast_to(v, cc.shape), True)
    b = bw[:, None, None]
    r = sfma.rate(b, sfma.sinr(gam, x))
    r1, r2 = sfma.rate_dnu(b, gam, x, dx, d2x)
    S = prob.source_bits[pairs][:, :, None]
    t = v * S / r
    t1 = S / r - v * S * r1 / r**2
    t2 = -2 * S * r1 / r**2 - v * S * r2 / r**2 + 2 * v * S * r1**2 / r**3
    return dict(r=r, r1=r1, r2=r2, t=t, t1=t1, t2=t2)


def _best_for_lambda(prob, pairs, power, bw, grid, lam, newton_steps=3, g=None):
    """Per group: the maximiser of (24) on the grid, refined by Newton on (25). ``g``: the
    grid's :func:`_group_terms` (they do not depend on lambda; computed when not given)."""
    tau = prob.tau[pairs][:, :, None]
    e_comp = prob.e_comp[pairs].sum(axis=1)
    if g is None:
        g = _group_terms(prob, pairs, power, bw, grid)
    feas = np.all(g["t"] <= tau * (1 - 1e-9), axis=1)  # (M, K)
    lag = g["r"].sum(axis=1) - lam * (power[:, None] * g["t"].max(axis=1) + e_comp[:, None])
    lag = np.where(feas, lag, -np.inf)
    k = np.argmax(lag, axis=1)
    rows = np.arange(grid.shape[0])
    has = np.isfinite(lag[rows, k])
    nu = grid[rows, k].copy()
    best = lag[rows, k].copy()
    lo = grid[rows, np.maximum(k - 1, 0)]
    hi = grid[rows, np.minimum(k + 1, grid.shape[1] - 1)]
    cur = nu.copy()
    for _ in range(newton_steps):  # Newton on the stationarity condition (25)
        t = _group_terms(prob, pairs, power, bw, cur[:, None])
        istar = np.argmax(t["t"][:, :, 0], axis=1)
        phi = t["r1"][:, :, 0].sum(axis=1) - lam * power * t["t1"][rows, istar, 0]
        dphi = t["r2"][:, :, 0].sum(axis=1) - lam * power * t["t2"][rows, istar, 0]
        step = np.where(dphi < 0, -phi / np.where(dphi < 0, dphi, -1.0), np.sign(phi) * (hi - lo))
        cur = np.clip(cur + step, lo, hi)
        t = _group_terms(prob, pairs, power, bw, cur[:, None])
        ok = np.all(t["t"][:, :, 0] <= tau[:, :, 0] * (1 - 1e-9), axis=1)
        val = t["r"][:, :, 0].sum(axis=1) - lam * (power * t["t"][:, :, 0].max(axis=1) + e_comp)
        better = ok & has & (val > best)
        nu = np.where(better, cur, nu)
        best = np.where(better, val, best)
    return nu, has


def _totals(prob, pairs, power, bw, nu):
    g = _group_terms(prob, pairs, power, bw, nu[:, None])
    rate_sum = float(g["r"].sum())
    energy = float((power * g["t"][:, :, 0].max(axis=1)).sum() + prob.e_comp[pairs].sum())
    return rate_sum, energy


def optimise_nu(
    prob: SfmaProblem,
    pairs: NDArray,
    power: NDArray,
    bw: NDArray,
    nu_current: NDArray | None = None,
    *,
    grid_points: int = 17,
    dual_iters: int = 15,
) -> tuple[NDArray, dict]:
    """Alg. 1 (eqs. (22)-(26)): compression ratios for fixed pairing and (P, B).

    Returns ``(nu, info)``; ``info["feasible"]`` is False when no nu meets (22a)-(22c) (then
    ``nu`` is ``nu_current`` or the distortion floor). When ``nu_current`` is feasible the
    result never has a lower sum rate (the monotone step of eq. (47)).
    """
    pairs = np.asarray(pairs, dtype=int)
    power = np.asarray(power, dtype=float)
    bw = np.asarray(bw, dtype=float)
    lo = prob.nu_min_pairs(pairs, power, bw)
    info: dict = {"lambda": 0.0, "iterations": 0, "feasible": False}
    if np.any(~np.isfinite(lo)) or np.any(lo > 1.0):
        return (np.asarray(nu_current) if nu_current is not None else np.minimum(lo, 1.0)), info
    frac = np.linspace(0.0, 1.0, grid_points)
    grid = lo[:, None] + (1.0 - lo)[:, None] * frac[None, :]
    e_max = prob.e_max * (1 - 1e-9)

    def feasible_nu(v):
        g = _group_terms(prob, pairs, power, bw, v[:, None])
        return bool(np.all(g["t"][:, :, 0] <= prob.tau[pairs] * (1 + TOL * 0.5)))

    current_ok = False
    cur_obj = -math.inf
    if nu_current is not None:
        vc = np.asarray(nu_current, dtype=float)
        if np.all(vc >= lo - 1e-12) and np.all(vc <= 1.0 + 1e-12) and feasible_nu(vc):
            r_c, e_c = _totals(prob, pairs, power, bw, vc)
            if e_c <= prob.e_max * (1 + TOL * 0.5):
                current_ok, cur_obj = True, r_c

    best_nu, best_obj = None, -math.inf
    lam = 0.0
    g_grid = _group_terms(prob, pairs, power, bw, grid)  # independent of lambda: once per call

    def best_for(lam_):
        return _best_for_lambda(prob, pairs, power, bw, grid, lam_, g=g_grid)

    nu0, has = best_for(0.0)
    if not np.all(has):
        info["status"] = "latency infeasible at these (P, B)"
        return (np.asarray(nu_current) if nu_current is not None else lo), info
    r0, e0 = _totals(prob, pairs, power, bw, nu0)
    if e0 <= e_max:
        best_nu, best_obj = nu0, r0
    else:
        scale = r0 / prob.e_max
        for t in range(dual_iters):  # projected subgradient on lambda, eq. (26)
            nu_t, _ = best_for(lam)
            r_t, e_t = _totals(prob, pairs, power, bw, nu_t)
            if e_t <= e_max and r_t > best_obj:
                best_nu, best_obj = nu_t, r_t
            lam = max(0.0, lam + 2.0 * scale / prob.e_max / math.sqrt(t + 1) * (e_t - prob.e_max))
            info["iterations"] = t + 1
        if best_nu is None:  # primal recovery by bisection on lambda
            lam_hi = max(lam, scale)
            for _ in range(40):
                nu_t, _ = best_for(lam_hi)
                if _totals(prob, pairs, power, bw, nu_t)[1] <= e_max:
                    break
                lam_hi *= 4.0
            lam_lo = 0.0
            nu_hi, _ = best_for(lam_hi)
            if _totals(prob, pairs, power, bw, nu_hi)[1] <= e_max:
                for _ in range(30):
                    mid = 0.5 * (lam_lo + lam_hi)
                    nu_t, _ = best_for(mid)
                    if _totals(prob, pairs, power, bw, nu_t)[1] <= e_max:
                        lam_hi, nu_hi = mid, nu_t
                    else:
                        lam_lo = mid
                best_nu = nu_hi
                best_obj = _totals(prob, pairs, power, bw, nu_hi)[0]
                lam = lam_hi
    info["lambda"] = lam
    if best_nu is None:
        info["status"] = "energy infeasible at these (P, B)"
        return (np.asarray(nu_current) if nu_current is not None else lo), info
    if current_ok and cur_obj >= best_obj:
        info["feasible"] = True
        info["status"] = "kept current"
        return np.asarray(nu_current, dtype=float), info
    info["feasible"] = True
    info["status"] = "ok"
    return best_nu, info
