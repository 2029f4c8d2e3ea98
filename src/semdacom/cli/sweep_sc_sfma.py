"""``semdacom sweep sfma --figure {5,6,7,8}``: the SC-SFMA sum-rate sweeps (Sec. IV-C).

Scenario: docs/sc_sfma/model.md Sec. IV-A (250 m cell, 128.1 + 37.6 log10 d, 8 dB shadowing,
-174 dBm/Hz + 9 dB NF); ``--mc`` Monte-Carlo realisations per point (default 100, as the
paper), seeds 0..mc-1, the same seeds for every scheme and point.

  5  sum rate vs total power P_max (dBm), N = 8, B = 10 MHz
  6  sum rate vs number of users N, P_max = 20 dBm, B = 10 MHz
  7  sum rate vs bandwidth B (MHz), N = 8, P_max = 20 dBm
  8  every scheme at N = 8 and N = 16 (defaults), mean and standard deviation (error bars)

Schemes: ``semdacom.sc_sfma.baselines.SCHEMES`` (the proposed ``sc_sfma`` first). A realisation
whose allocation misses a constraint counts as sum rate 0 (the service failed) and is counted in
the ``infeasible`` column; the printout and CSV also give the mean over the feasible
realisations and the paired gain over the realisations where both schemes are feasible
(``fig<N>_raw.json`` keeps every realisation). Tables: measured ``sfma_*.json`` in
data/tables when present, else synthetic ones; the title, CSV and printout then say SYNTHETIC.

Each sweep is a list of tasks (one seed block of one scheme at one figure point) evaluated by
:func:`run_block` through ``semdacom.sweep.run_tasks`` (``--engine local|ray``), reduced in
task order. PNG + CSV go to ``<out>/sweep_sfma/``; the printout gives the proposed scheme's
gain over every baseline at every point.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np

FIGURES = ("5", "6", "7", "8")
LABELS = {
    "sc_sfma": "SC-SFMA (proposed)",
    "swinjscc_noma": "SwinJSCC+NOMA",
    "swinjscc_fdma": "SwinJSCC-FDMA",
    "channel_pairing": "channel-based pairing",
    "equal_alloc": "equal allocation",
    "deepjscc_noma": "DeepJSCC-NOMA",
    "classical_oma": "HEVC+LDPC+QAM OMA",
    "classical_noma": "HEVC+LDPC+QAM NOMA",
}
AXES = {
    "5": ("p_max_dbm", [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0], "total power (dBm)"),
    "6": ("n", [4, 6, 8, 10, 12, 16], "number of users N"),
    "7": ("b_mhz", [1.0, 2.0, 5.0, 10.0, 15.0, 20.0], "bandwidth B (MHz)"),
    "8": ("n", [8, 16], "number of users N"),
}
BLOCK = 10


def add_subparser(kinds: argparse._SubParsersAction) -> None:
    from semdacom.sweep import add_engine_args

    s = kinds.add_parser("sfma", help="SC-SFMA Figs. 5-8 (sum rate; SC-SFMA [2], Sec. IV-C)")
    s.add_argument("--figure", choices=FIGURES, default="5")
    s.add_argument("--mc", type=int, default=100, help="Monte-Carlo realisations per point")
    s.add_argument("--schemes", nargs="+", default=None, help="subset of the schemes")
    s.add_argument("--out", type=Path, default=Path("out"))
    add_engine_args(s)
    s.set_defaults(func=run)


def run_block(scheme: str, seeds: list[int], scenario: dict) -> dict:
    """One task: ``scheme`` on realisations ``seeds`` of ``scenario``; per-seed sum rate
    (Mbit/s, 0 when infeasible), feasibility and solve time."""
    from semdacom.sc_sfma.baselines import run_scheme
    from semdacom.sc_sfma.optimizer.scenario import load_tables

    tables = load_tables()
    rates, feas, ms = [], [], []
    for seed in seeds:
        a = run_scheme(scheme, int(seed), tables=tables, **scenario)
        feas.append(bool(a.feasible))
        rates.append(a.objective / 1e6 if a.feasible else 0.0)
        ms.append(float(a.solve_ms))
    return {"rates": rates, "feasible": feas, "solve_ms": ms, "synthetic": tables.synthetic}


def _tasks(fig: str, mc: int, schemes: list[str]):
    from semdacom.sweep import Task

    key, values, _ = AXES[fig]
    tasks = []
    for v in values:
        for sch in schemes:
            for b0 in range(0, mc, BLOCK):
                seeds = list(range(b0, min(mc, b0 + BLOCK)))
                tasks.append(
                    Task(
                        key=f"fig{fig}_{key}{v}_{sch}_s{b0}",
                        kwargs={"scheme": sch, "seeds": seeds, "scenario": {key: v}},
                    )
                )
    return tasks


def run(args: argparse.Namespace) -> int:
    from semdacom.sc_sfma.baselines import SCHEMES
    from semdacom.sweep import engine_kwargs, run_tasks

    fig = args.figure
    schemes = list(args.schemes or SCHEMES)
    if "sc_sfma" not in schemes:
        schemes.insert(0, "sc_sfma")
    tasks = _tasks(fig, args.mc, schemes)
    res = run_tasks(f"sweep_sfma_fig{fig}", tasks, run_block, **engine_kwargs(args))
    key, values, xlabel = AXES[fig]
    agg: dict = {}
    synthetic = set()
    for t, r in zip(tasks, res, strict=True):
        d = agg.setdefault((t.kwargs["scenario"][key], t.kwargs["scheme"]), {"r": [], "f": []})
        d["r"] += r["rates"]
        d["f"] += r["feasible"]
        synthetic.update(r["synthetic"])
    tag = " [SYNTHETIC tables: " + ", ".join(sorted(synthetic)) + "]" if synthetic else ""
    out = args.out / "sweep_sfma"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    print(f"SC-SFMA Fig. {fig}: mean sum rate (Mbit/s) over {args.mc} realisations{tag}")
    header = f"{key:>10} " + " ".join(f"{s[:14]:>14}" for s in schemes)
    print(header)
    for v in values:
        means = {s: float(np.mean(agg[(v, s)]["r"])) for s in schemes}
        prop_r = np.asarray(agg[(v, "sc_sfma")]["r"])
        prop_f = np.asarray(agg[(v, "sc_sfma")]["f"])
        print(f"{v:>10} " + " ".join(f"{means[s]:14.2f}" for s in schemes))
        for s in schemes:
            r = np.asarray(agg[(v, s)]["r"])
            f = np.asarray(agg[(v, s)]["f"])
            base = means[s]
            gain = 100 * (means["sc_sfma"] - base) / base if base > 0 else math.inf
            # paired: the realisations where both the proposed scheme and this one are feasible
            both = prop_f & f
            pb = float(r[both].mean()) if both.any() else math.nan
            paired = 100 * (float(prop_r[both].mean()) - pb) / pb if both.any() and pb > 0 else None
            rows.append(
                {
                    key: v,
                    "scheme": s,
                    "mean_mbps": round(float(r.mean()), 4),
                    "mean_feasible_mbps": round(float(r[f].mean()), 4) if f.any() else None,
                    "std_mbps": round(float(r.std()), 4),
                    "feasible_fraction": round(float(f.mean()), 4),
                    "infeasible": int((~f).sum()),
                    "proposed_gain_pct": round(gain, 2) if s != "sc_sfma" else 0.0,
                    "paired_gain_pct": None if paired is None else round(paired, 2),
                    "paired_n": int(both.sum()),
                    "synthetic_tables": bool(synthetic),
                }
            )
    print("proposed gain over each baseline (%):")
    print(f"{key:>10} " + " ".join(f"{s[:14]:>14}" for s in schemes if s != "sc_sfma"))
    for v in values:
        g = [r for r in rows if r[key] == v and r["scheme"] != "sc_sfma"]
        print(f"{v:>10} " + " ".join(f"{r['proposed_gain_pct']:14.1f}" for r in g))
    print("paired gain (%) over the realisations where both schemes are feasible [count]:")
    print(f"{key:>10} " + " ".join(f"{s[:14]:>14}" for s in schemes if s != "sc_sfma"))
    for v in values:
        g = [r for r in rows if r[key] == v and r["scheme"] != "sc_sfma"]
        cells = []
        for r in g:
            pg = "-" if r["paired_gain_pct"] is None else r["paired_gain_pct"]
            cells.append(f"{pg:>9} [{r['paired_n']:2d}]")
        print(f"{v:>10} " + " ".join(cells))
    print(f"feasible realisations (of {args.mc}):")
    print(f"{key:>10} " + " ".join(f"{s[:14]:>14}" for s in schemes))
    for v in values:
        g = [r for r in rows if r[key] == v]
        print(f"{v:>10} " + " ".join(f"{args.mc - r['infeasible']:14d}" for r in g))
    path = out / f"fig{fig}.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    raw = {f"{v}|{s}": {"rates": agg[(v, s)]["r"], "feasible": agg[(v, s)]["f"]}
           for v in values for s in schemes}  # fmt: skip
    (out / f"fig{fig}_raw.json").write_text(json.dumps({"key": key, "mc": args.mc, "runs": raw}))
    _plot(fig, rows, schemes, key, values, xlabel, tag, out / f"fig{fig}.png")
    print(f"wrote {path} and {out / f'fig{fig}.png'}")
    return 0


def _plot(fig, rows, schemes, key, values, xlabel, tag, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f, ax = plt.subplots(figsize=(7.5, 4.8))
    if fig == "8":
        width = 0.8 / len(values)
        x = np.arange(len(schemes))
        for k, v in enumerate(values):
            m = [next(r for r in rows if r[key] == v and r["scheme"] == s) for s in schemes]
            ax.bar(
                x + k * width,
                [r["mean_mbps"] for r in m],
                width,
                yerr=[r["std_mbps"] for r in m],
                capsize=3,
                label=f"N = {v}",
            )
        ax.set_xticks(x + width * (len(values) - 1) / 2)
        ax.set_xticklabels([LABELS[s] for s in schemes], rotation=30, ha="right", fontsize=8)
    else:
        for s in schemes:
            m = [next(r for r in rows if r[key] == v and r["scheme"] == s) for v in values]
            ax.plot(values, [r["mean_mbps"] for r in m], marker="o", label=LABELS[s])
        ax.set_xlabel(xlabel)
    ax.set_ylabel("sum rate (Mbit/s)")
    ax.set_title(f"SC-SFMA Fig. {fig} analogue{tag}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    f.tight_layout()
    f.savefig(path, dpi=120)
    plt.close(f)


def main(argv: list[str] | None = None) -> int:
    """``python -m semdacom.cli.sweep_sc_sfma --figure 5 ...`` (same flags as ``semdacom sweep
    sfma``; a main guard, so local worker processes can start from it)."""
    p = argparse.ArgumentParser(prog="python -m semdacom.cli.sweep_sc_sfma")
    kinds = p.add_subparsers(dest="sweep", required=True)
    add_subparser(kinds)
    args = p.parse_args(["sfma", *(argv if argv is not None else __import__("sys").argv[1:])])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
