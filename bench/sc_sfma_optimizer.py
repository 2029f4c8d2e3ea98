"""SC-SFMA network optimiser benchmark (semdacom.sc_sfma.optimizer, Alg. 1-4 of SC-SFMA [2]).

solve time: Alg. 4 on the Sec. IV-A scenario (docs/sc_sfma/model.md) for N = 4, 8, 16, 32 users,
with the power and bandwidth scaled with N (P_max = 20 dBm + 10 log10(N/8), B = 10 MHz x N/8) so
that every N has the per-group resources of the default N = 8; wall-clock per solve, medians
over the instances (SEMDACOM_BENCH_SFMA instances per N, fixed seeds).
monotone / constraint violations: over every solve above, the number whose outer-objective
history decreases anywhere (eq. (47)) and the number of returned feasible-flagged allocations
that break any of (20a)-(20h) on re-check; infeasible instances (no feasible point found) are
counted apart.
pairing gap: N = 4, 6, 8 (SEMDACOM_BENCH_SFMA_BF instances each), the proposed objective against
the brute force over every perfect matching (3, 15, 105) with the continuous blocks
re-optimised; gap = (brute - proposed) / brute in %, over the instances both solve (negative:
the proposed beat the enumeration, whose continuous blocks are local too).

Tables: the measured sfma_*.json in data/tables when present, else synthetic ones (the JSON
says which).
"""

from __future__ import annotations

import math
import os

import numpy as np
from common import write
from tqdm import tqdm

N_SOLVE = int(os.environ.get("SEMDACOM_BENCH_SFMA", "20"))
N_BF = int(os.environ.get("SEMDACOM_BENCH_SFMA_BF", "8"))


def _scenario(n: int) -> dict:
    s = n / 8
    return dict(n=n, p_max_dbm=20.0 + 10 * math.log10(s), b_mhz=10.0 * s)


def main() -> None:
    from semdacom.sc_sfma.optimizer.bruteforce import solve_bruteforce
    from semdacom.sc_sfma.optimizer.problem import violations
    from semdacom.sc_sfma.optimizer.scenario import load_tables, make_problem
    from semdacom.sc_sfma.optimizer.solver import solve

    tables = load_tables()
    solve(make_problem(999, tables=tables))  # warm-up: imports, cvxpy compile for M = 4
    out: dict = {"tables_synthetic": tables.synthetic, "instances_per_n": N_SOLVE}
    solve_ms, infeasible, objective = {}, {}, {}
    mono = cons = 0
    for n in (4, 8, 16, 32):
        times, objs, infeas = [], [], 0
        solve(make_problem(998, tables=tables, **_scenario(n)))  # compile for this M
        for seed in tqdm(range(N_SOLVE), desc=f"solve N={n}", leave=False):
            prob = make_problem(seed, tables=tables, **_scenario(n))
            a = solve(prob)
            times.append(a.solve_ms)
            h = np.asarray(a.history)
            if h.size > 1 and np.any(np.diff(h) < -1e-9 * np.abs(h[:-1])):
                mono += 1
            if a.feasible:
                objs.append(a.objective / 1e6)
                if violations(prob.check(a)):
                    cons += 1
            else:
                infeas += 1
        solve_ms[str(n)] = float(np.median(times))
        infeasible[str(n)] = infeas
        objective[str(n)] = float(np.mean(objs)) if objs else None
        print(
            f"N={n:2d}: median {solve_ms[str(n)]:.0f} ms, max {max(times):.0f} ms, "
            f"{infeas} infeasible of {N_SOLVE}, mean sum rate {objective[str(n)]} Mbit/s"
        )
    out["solve_ms_median"] = solve_ms
    out["infeasible_instances"] = infeasible
    out["mean_sum_rate_mbps"] = objective
    out["monotone_violations"] = mono
    out["constraint_violations"] = cons
    gaps: dict = {}
    for n in (4, 6, 8):
        gaps[str(n)] = []
        for seed in tqdm(range(N_BF), desc=f"brute force N={n}", leave=False):
            prob = make_problem(10_000 + seed, tables=tables, **_scenario(n))
            bf = solve_bruteforce(prob, rounds=2)
            a = solve(prob)
            if bf.feasible and a.feasible:
                gaps[str(n)].append(100 * (bf.objective - a.objective) / bf.objective)
        g = gaps[str(n)]
        if g:
            print(
                f"N={n}: pairing gap median {np.median(g):.3f} %, max {max(g):.3f} % "
                f"({len(g)} instances)"
            )
    allg = [x for v in gaps.values() for x in v]
    out["pairing_gap_pct"] = gaps
    out["pairing_gap_to_bruteforce_median_pct"] = float(np.median(allg)) if allg else None
    out["pairing_gap_to_bruteforce_max_pct"] = float(np.max(allg)) if allg else None
    path = write("sc_sfma_optimizer", out)
    print(
        f"solve_ms_median {solve_ms}; monotone violations {mono}; constraint violations "
        f"{cons}; gap median {out['pairing_gap_to_bruteforce_median_pct']} %, max "
        f"{out['pairing_gap_to_bruteforce_max_pct']} % -> {path}"
    )


if __name__ == "__main__":
    main()
