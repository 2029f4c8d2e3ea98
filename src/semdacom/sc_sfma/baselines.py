"""Baselines of SC-SFMA Sec. IV (the schemes of Figs. 5-8), each ``fn(prob_or_seed...) ->
Allocation`` like :func:`.solver.solve`. :func:`run_scheme` builds the scenario with the
tables the scheme's transceiver needs and returns its :class:`Allocation`.

- ``sc_sfma``: the proposed Alg. 4 with the SC-SFMA tables.
- ``swinjscc_noma``: the same optimiser with the xi / distortion tables of the no-SCFM model.
- ``channel_pairing``: SC-SFMA tables, NOMA-style pairing by channel disparity (strongest with
  weakest), kept fixed; nu, P, B by Alg. 1-2.
- ``equal_alloc``: SC-SFMA tables, P and B split equally (the power scaled by 0.8 until the
  energy budget holds), pairing by Alg. 3, nu by Alg. 1.
- ``swinjscc_fdma``: OMA, every user alone on B/N at P/N (no interference), the power scaled
  by 0.8 until the energy budget holds; nu at the user's distortion floor of the
  ``swinjscc_oma`` table (its ``same`` class: a user alone has no partner).
- ``deepjscc_noma``: power-domain superposition of DeepJSCC signals, channel-disparity pairing,
  equal P/B per group, power split searched per group (largest sum rate among the splits
  meeting both users' latency floors, else the least violation); analogue
  symbols cannot be cancelled, so each user sees its partner's share as interference
  (SINR = a_i P g / (a_j P g + N0 B)); nu at the distortion floor of ``deepjscc_noma``.
- ``classical_oma`` / ``classical_noma``: the HEVC-intra codec (the BPG stand-in, measured
  table ``classical_*_du_msssim``) + LDPC + QAM with AMC: each user's MCS is the one of the
  measured link table (``link_L4096.json``) with the largest goodput ``R_c (1 - BLER)`` among
  those with BLER <= 0.1 at its SINR; payload = the codec's bits per image at the first
  operating point meeting D_max, times the user's images; the power scaled by 0.8 until the
  energy budget holds. OMA: B/N, P/N per user. NOMA:
  channel-disparity pairs, the strong user decodes and cancels the weak user's codeword (SIC,
  possible for digital codes when the weak user's MCS decodes at the strong user's SINR),
  power split searched per group.

The sum rate of every scheme is the objective of (20) (bit/s); schemes whose allocation misses a
constraint report ``feasible = False`` with the slacks that fail.
"""

from __future__ import annotations

import json
import math
import time
from functools import lru_cache

import numpy as np

from semdacom.sc_sfma import model as sfma
from semdacom.sc_sfma.optimizer.problem import Allocation, SfmaProblem, violations
from semdacom.sc_sfma.optimizer.scenario import IMAGE_BITS, Tables, load_tables, make_problem
from semdacom.sc_sfma.optimizer.solver import solve

__all__ = ["SCHEMES", "channel_pairs", "run_scheme"]

SCHEMES = (
    "sc_sfma",
    "swinjscc_noma",
    "swinjscc_fdma",
    "channel_pairing",
    "equal_alloc",
    "deepjscc_noma",
    "classical_oma",
    "classical_noma",
)
AMC_BLER = 0.1


def channel_pairs(prob: SfmaProblem) -> np.ndarray:
    """NOMA pairing by channel disparity: the k-th strongest user with the k-th weakest."""
    order = np.argsort(-prob.gains)
    n = prob.n
    return np.array(
        [sorted((int(order[k]), int(order[n - 1 - k]))) for k in range(n // 2)], dtype=int
    )


@lru_cache(maxsize=4)
def _link_table(name: str = "link_L4096.json"):
    doc = json.loads((sfma.TABLES_DIR / name).read_text())
    return [
        (float(m["rc_effective"]), np.asarray(m["snr_db"], float), np.asarray(m["bler"], float))
        for m in doc["mcs"]
    ]


def amc_goodput(sinr_lin: np.ndarray) -> np.ndarray:
    """Bits per complex channel use of the best MCS (BLER <= 0.1) at each SINR, ``R_c (1 -
    BLER)``; 0 where no MCS qualifies."""
    s_db = 10 * np.log10(np.maximum(np.asarray(sinr_lin, float), 1e-30))
    best = np.zeros(s_db.shape)
    for rc, snr, bler in _link_table():
        b = np.interp(s_db, snr, bler, left=1.0, right=0.0)
        best = np.where(b <= AMC_BLER, np.maximum(best, rc * (1 - b)), best)
    return best


def amc_decodable(sinr_lin: np.ndarray, goodput: np.ndarray) -> np.ndarray:
    """Whether the MCS picked for ``goodput`` also decodes (BLER <= 0.1) at ``sinr_lin``."""
    s_db = 10 * np.log10(np.maximum(np.asarray(sinr_lin, float), 1e-30))
    return amc_goodput(10 ** (s_db / 10)) >= np.asarray(goodput) - 1e-12


@lru_cache(maxsize=2)
def _classical_bits_per_image(d_max: float) -> float:
    files = sorted(sfma.TABLES_DIR.glob("classical_*_du_msssim.json"))
    doc = json.loads(files[0].read_text())
    for p in doc["points"]:
        if p["d_s"] <= d_max:
            return float(p["rs_bits"])
    return math.inf


def _oma_alloc(prob, rates, nu, t_tx, e_total, dist_ok, scheme, t0) -> Allocation:
    """An OMA result in the Allocation record (``pairs`` nominal; per-user data in info)."""
    n, m = prob.n, prob.m
    pairs = np.arange(n).reshape(m, 2)
    slack = {
        "distortion": 0.0 if dist_ok.all() else -1.0,
        "latency": float(np.min(1 - t_tx / prob.tau)),
        "energy": float(1 - e_total / prob.e_max),
        "power": 0.0,
        "bandwidth": 0.0,
        "pairing": 0.0,
    }
    a = Allocation(
        pairs=pairs,
        nu=np.maximum(nu[pairs[:, 0]], nu[pairs[:, 1]]),
        power=np.full(m, 2 * prob.p_max / n),
        bw=np.full(m, 2 * prob.b_tot / n),
        objective=float(np.sum(rates)),
        slacks=slack,
        solver=scheme,
    )
    a.feasible = violations(slack) == []
    a.status = "ok" if a.feasible else "infeasible: " + ",".join(violations(slack))
    a.info["user_rate"] = rates
    a.solve_ms = (time.perf_counter() - t0) * 1e3
    return a


def _oma_nu_min(table: sfma.DistortionEnvelopeTable, s_db, d_max: float):
    """nu_min (18) of a user alone: the ``same`` class of the OMA table (its envelope covers
    every label decoded without a partner); a table with one class uses that one."""
    cls = "same" if "same" in table.classes else table.classes[0]
    return table.nu_min(cls, s_db, d_max)


def fdma(prob: SfmaProblem, oma_table: sfma.DistortionEnvelopeTable) -> Allocation:
    """SwinJSCC-FDMA: B/N and P/N per user, no interference, nu at the distortion floor."""
    t0 = time.perf_counter()
    n = prob.n
    gam = prob.p_max * prob.gains / (prob.n0 * prob.b_tot)  # P/N over B/N: same SNR
    for k in range(30):  # the equal split of the power the energy budget allows
        scale = 0.8**k
        g = gam * scale
        rates = prob.b_tot / n * np.log2(1 + g)
        s = 10 * np.log10(g)
        nu = _oma_nu_min(oma_table, s, float(prob.d_max[0]))
        nu = np.maximum(np.atleast_1d(nu), prob.nu_lb)
        ok = np.isfinite(nu)
        nu = np.where(ok, nu, 1.0)
        t_tx = nu * prob.source_bits / rates
        e = float(np.sum(scale * prob.p_max / n * t_tx) + prob.e_comp.sum())
        if e <= prob.e_max:
            break
    return _oma_alloc(prob, rates, nu, t_tx, e, ok, "swinjscc_fdma", t0)


def _noma_pair_rates(prob, pairs, sic: bool, need: np.ndarray, scale: float = 1.0):
    """Per group the power split of two-user power-domain NOMA at P/M, B/M: among the splits
    (weak user's share 0.05..0.95) where both users reach their rate floor ``need`` (bit/s,
    per user: payload / residual time), the one of largest sum rate; if none, the one of
    largest worst ratio rate / floor (the least violation)."""
    m = prob.m
    P, B = scale * prob.p_max / m, prob.b_tot / m
    g = prob.gains[pairs]  # (M, 2)
    rows = np.arange(m)
    weak = np.argmin(g, axis=1)
    gw, gs = g[rows, weak], g[rows, 1 - weak]
    nw_, ns_ = need[pairs[rows, weak]], need[pairs[rows, 1 - weak]]
    best = np.zeros((m, 2))
    best_key = np.full((m, 2), -np.inf)  # (feasible flag, value) compared lexicographically
    nw = prob.n0 * B
    for a in np.linspace(0.05, 0.95, 19):
        sinr_w = a * P * gw / ((1 - a) * P * gw + nw)
        if sic:
            gp_w = amc_goodput(sinr_w)
            sinr_w_at_s = a * P * gs / ((1 - a) * P * gs + nw)
            cancel = amc_decodable(sinr_w_at_s, gp_w)
            sinr_s = np.where(cancel, (1 - a) * P * gs / nw, (1 - a) * P * gs / (a * P * gs + nw))
            r_w, r_s = B * gp_w, B * amc_goodput(sinr_s)
        else:
            sinr_s = (1 - a) * P * gs / (a * P * gs + nw)
            r_w, r_s = B * np.log2(1 + sinr_w), B * np.log2(1 + sinr_s)
        worst = np.minimum(r_w / nw_, r_s / ns_)
        feas = worst >= 1.0
        key = np.stack([feas.astype(float), np.where(feas, r_w + r_s, worst)], axis=1)
        upd = (key[:, 0] > best_key[:, 0]) | (
            (key[:, 0] == best_key[:, 0]) & (key[:, 1] > best_key[:, 1])
        )
        best_key = np.where(upd[:, None], key, best_key)
        best[rows, weak] = np.where(upd, r_w, best[rows, weak])
        best[rows, 1 - weak] = np.where(upd, r_s, best[rows, 1 - weak])
    return best


def deepjscc_noma(prob: SfmaProblem, table: sfma.DistortionEnvelopeTable) -> Allocation:
    t0 = time.perf_counter()
    pairs = channel_pairs(prob)
    m = prob.m
    s = 10 * np.log10(prob.p_max / m * prob.gains / (prob.n0 * prob.b_tot / m))
    nu = np.empty(prob.n)
    for a_, b_ in pairs:
        c = prob.classes[prob.cls[a_, b_]]
        nu[[a_, b_]] = np.max(table.nu_min(c, s[[a_, b_]], float(prob.d_max[0])))
    ok = np.isfinite(nu)
    nu = np.where(ok, np.maximum(nu, prob.nu_lb), 1.0)
    rates = np.zeros(prob.n)
    need = nu * prob.source_bits / np.maximum(prob.tau, 1e-12)
    rates[pairs] = _noma_pair_rates(prob, pairs, sic=False, need=need)
    t_tx = nu * prob.source_bits / np.maximum(rates, 1e-9)
    t_grp = np.maximum(t_tx[pairs[:, 0]], t_tx[pairs[:, 1]])
    e = float(np.sum(prob.p_max / m * t_grp) + prob.e_comp.sum())
    a = _oma_alloc(prob, rates, nu, t_tx, e, ok, "deepjscc_noma", t0)
    a.pairs = pairs
    return a


def classical(prob: SfmaProblem, noma: bool) -> Allocation:
    """HEVC + LDPC + QAM with AMC, OMA or NOMA (module docstring); the power split equally
    and scaled by 0.8 until the energy budget holds."""
    t0 = time.perf_counter()
    n = prob.n
    bits = _classical_bits_per_image(float(prob.d_max[0]))
    payload = prob.source_bits / IMAGE_BITS * bits
    need = payload / np.maximum(prob.tau, 1e-12)
    pairs = channel_pairs(prob) if noma else None
    for k in range(30):
        scale = 0.8**k
        if noma:
            rates = np.zeros(n)
            rates[pairs] = _noma_pair_rates(prob, pairs, sic=True, need=need, scale=scale)
        else:
            gam = scale * prob.p_max * prob.gains / (prob.n0 * prob.b_tot)
            rates = prob.b_tot / n * amc_goodput(gam)
        ok = (rates > 0) & np.isfinite(payload)
        t_tx = np.where(rates > 0, payload / np.maximum(rates, 1e-9), np.inf)
        t_fin = np.where(np.isfinite(t_tx), t_tx, 0)
        if noma:  # eq. (16): each group radiates P/M until its slower user is done
            e_comm = float(np.sum(scale * prob.p_max / prob.m * t_fin[pairs].max(axis=1)))
        else:
            e_comm = float(np.sum(scale * prob.p_max / n * t_fin))
        e = e_comm + float(prob.e_comp.sum())
        if e <= prob.e_max:
            break
    nu = np.full(n, bits / IMAGE_BITS)
    a = _oma_alloc(prob, rates, nu, t_tx, e, ok, "classical_noma" if noma else "classical_oma", t0)
    if noma:
        a.pairs = pairs
    return a


def run_scheme(scheme: str, seed: int, tables: Tables | None = None, **scenario) -> Allocation:
    """One Monte-Carlo realisation ``seed`` of the scenario, solved by ``scheme``."""
    tables = tables or load_tables()
    if scheme in ("sc_sfma", "channel_pairing", "equal_alloc"):
        prob = make_problem(seed, model="sc_sfma", tables=tables, **scenario)
        if scheme == "sc_sfma":
            a = solve(prob)
        elif scheme == "channel_pairing":
            a = solve(prob, pairing="fixed", init_pairs=channel_pairs(prob))
        else:
            a = solve(prob, resources="equal")
    elif scheme == "swinjscc_noma":
        a = solve(make_problem(seed, model="swinjscc_noma", tables=tables, **scenario))
    elif scheme == "swinjscc_fdma":
        prob = make_problem(seed, model="sc_sfma", tables=tables, **scenario)
        a = fdma(prob, tables.dist["swinjscc_oma"])
    elif scheme == "deepjscc_noma":
        prob = make_problem(seed, model="sc_sfma", tables=tables, **scenario)
        a = deepjscc_noma(prob, tables.dist["deepjscc_noma"])
    elif scheme in ("classical_oma", "classical_noma"):
        prob = make_problem(seed, model="sc_sfma", tables=tables, **scenario)
        a = classical(prob, noma=scheme == "classical_noma")
    else:
        raise ValueError(f"unknown scheme {scheme!r}; one of {SCHEMES}")
    a.solver = scheme
    return a
