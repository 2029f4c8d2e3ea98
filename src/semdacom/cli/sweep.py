"""``semdacom sweep mu-ascc --figure {7a,7b,7c,8,9}``: the MU-ASCC sweeps (MU-ASCC [1], Sec. V).

Setting (Sec. V-A): the paper's normalised 2x2 channel with unit noise, one data user (DU,
weight 0.8) and one semantic user (SU, weight 0.2), blocklengths L in {256, 4096}. The paper's
bandwidth ratio 0.0356 belongs to CUB-200 images; for 28x28 Fashion-MNIST images the default
here is 0.6 channel uses per pixel (T = 470.4 channel uses per image), which puts
``R_c = R_s / T`` between about 0.3 and 2 bits per channel use at the middle operating points
of the tables (``--ratio`` changes it). When ``L`` exceeds one image's budget a codeword spans
several images of a frame (frames carry a batch of images); the model of eq. (14) is unchanged.

Figures:
  7a  weighted-sum distortion vs P_max (dBW), MU-ASCC and every baseline, with the reduction at
      8 dBW next to the paper's 39.85 % (ZF-WF-BPG) and 29.63 % (ZF-WF-DJSCC) for L = 256
      (37.89 % and 33.67 % for L = 4096);
  7b  DU MS-SSIM vs P_max;   7c  SU accuracy vs P_max;
  8   performance region (MS-SSIM, accuracy) over the DU weight at P_max = 3 W;
  9   weighted-sum distortion vs bandwidth ratio at P_max = 3 W.

Tables: the measured ones in ``data/tables`` when present (``hyperprior_vbr_du_msssim``,
``hyperprior_vbr_su_error``, ``classical_*``, ``djscc_*``), otherwise synthetic ones made by
``semdacom.mu_ascc.distortion`` — the output then says SYNTHETIC in its title, CSV and
printout. Each point is one task of :func:`semdacom.sweep.run_tasks` (``--engine local``
processes or ``--engine ray`` on a cluster, ``--workers``; finished points kept in
``out/<sweep>/tasks`` for a rerun, see docs/sweeps.md); results go to ``out/`` as CSV and PNG.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

PAPER_REDUCTION = {256: {"zf_wf_bpg": 39.85, "zf_wf_djscc": 29.63}}
PAPER_REDUCTION[4096] = {"zf_wf_bpg": 37.89, "zf_wf_djscc": 33.67}
FIGURES = ("7a", "7b", "7c", "8", "9")
SOLVER_LABELS = {
    "mu_ascc": "MU-ASCC",
    "zf_wf_bpg": "ZF-WF-BPG; R_c=(1.8,1.3)",
    "zf_wf_djscc": "ZF-WF-DJSCC (10 dB)",
    "mrt_ep": "MRT + equal power",
}
SOURCE_DIMS = 28 * 28


def add_parser(sub: argparse._SubParsersAction) -> None:
    from semdacom.sweep import add_engine_args

    p = sub.add_parser("sweep", help="parameter sweeps of the paper's figures")
    kinds = p.add_subparsers(dest="sweep", required=True)
    m = kinds.add_parser("mu-ascc", help="MU-ASCC Figs. 7-9 (MU-ASCC [1], Sec. V)")
    m.add_argument("--figure", choices=FIGURES, default="7a")
    m.add_argument("--L", type=int, nargs="+", default=[256, 4096], help="blocklengths")
    m.add_argument("--ratio", type=float, default=0.6, help="channel uses per source pixel")
    m.add_argument("--p-dbw", type=float, nargs="+", default=[-4, -2, 0, 2, 4, 6, 8, 10, 12])
    m.add_argument("--solver", choices=["fast", "faithful"], default="fast")
    m.add_argument(
        "--link",
        default="random_coding",
        help="random_coding (eq. 14 as printed: the paper's figures), random_coding_paper, "
        "physical (BER = rho/2: a failed packet loses its bits), physical_paper, tabulated "
        "(measured LDPC+QAM tables; fast solver only) or link table paths",
    )
    m.add_argument("--out", type=Path, default=Path("out"))
    add_engine_args(m)
    # deprecated alias of --workers (the sweep ran on local processes only)
    m.add_argument("--jobs", type=int, dest="workers", help=argparse.SUPPRESS)
    m.set_defaults(func=run)
    from semdacom.cli.sweep_sc_sfma import add_subparser as add_sfma

    add_sfma(kinds)  # semdacom sweep sfma (cli/sweep_sfma.py)


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def load_tables() -> dict:
    """Every table the sweep needs, measured where the checkout has them, else synthetic."""
    from semdacom.mu_ascc import distortion as dist

    out: dict = {"synthetic": []}

    def pick(name: str, make):
        try:
            return dist.load_table(name)
        except FileNotFoundError:
            out["synthetic"].append(name)
            return make()

    def glob(pattern: str, loader, make, what: str):
        files = sorted(dist.TABLES_DIR.glob(pattern))
        if files:
            return loader(files[0])
        out["synthetic"].append(what)
        return make()

    out["du"] = pick("hyperprior_vbr_du_msssim", lambda: dist.synthetic_table("du", seed=1))
    out["su"] = pick("hyperprior_vbr_su_error", lambda: dist.synthetic_table("su", seed=2))
    classical = dict(model="tabulated", robustness_shift=1.5, source_penalty=1.6)
    out["cl_du"] = glob(
        "classical_*_du_msssim.json",
        dist.DistortionTable.load,
        lambda: dist.synthetic_table("du", seed=11, codec="synthetic_classical", **classical),
        "classical du",
    )
    out["cl_su"] = glob(
        "classical_*_su_error.json",
        dist.DistortionTable.load,
        lambda: dist.synthetic_table("su", seed=12, codec="synthetic_classical", **classical),
        "classical su",
    )
    out["dj_du"] = glob(
        "djscc_du_msssim.json",
        dist.SnrTable.load,
        lambda: dist.synthetic_snr_table("du", seed=21),
        "djscc du",
    )
    out["dj_su"] = glob(
        "djscc_su_error.json",
        dist.SnrTable.load,
        lambda: dist.synthetic_snr_table("su", seed=22),
        "djscc su",
    )
    return out


# --------------------------------------------------------------------------------------------
# One point (runs in a worker process)
# --------------------------------------------------------------------------------------------


def solve_point(**job) -> list[dict]:
    """All solvers at one (P_max, L, ratio, weights) point; one row per solver (one sweep
    task: ``job`` is its kwargs)."""
    import numpy as np

    from semdacom.mu_ascc import baselines
    from semdacom.mu_ascc.optimizer import fast, jrpb
    from semdacom.mu_ascc.optimizer.problem import Problem, link_from_spec
    from semdacom.phy import beamforming as bf

    tb = job["tables"]
    T = job["ratio"] * SOURCE_DIMS
    w = np.array(job["weights"])
    link = link_from_spec(job["link"])
    pr = Problem(bf.paper_channel(), 1.0, [tb["du"], tb["su"]], w, job["p_max"], T, job["L"], link)
    sols = {}
    if job["solver"] == "faithful":
        # the faithful solver keeps one cvxpy model per K across calls, and Clarabel's result
        # then depends (in the 7th digit) on what that process solved before: a fresh model
        # per point makes the point the same on any engine and worker count (docs/sweeps.md)
        jrpb._P62_CACHE.clear()
    sols["mu_ascc"] = (
        jrpb.solve_faithful(pr) if job["solver"] == "faithful" else fast.solve_fast(pr)
    )
    sols["zf_wf_bpg"] = baselines.zf_wf_fixed_rc(pr, [1.8, 1.3], [tb["cl_du"], tb["cl_su"]])
    sols["zf_wf_djscc"] = baselines.zf_wf_djscc(pr, [tb["dj_du"], tb["dj_su"]], job["ratio"])
    sols["mrt_ep"] = baselines.mrt_equal_power(pr)
    rows = []
    for name, s in sols.items():
        # every solver is scored with its own distortion and the sweep's weights
        rows.append(
            {
                "figure": job["figure"],
                "solver": name,
                "L": job["L"],
                "p_max_w": job["p_max"],
                "p_max_dbw": 10 * math.log10(job["p_max"]),
                "ratio": job["ratio"],
                "w_du": float(w[0]),
                "weighted_distortion": float(np.dot(w, s.distortion)),
                "du_msssim": 1.0 - float(s.distortion[0]),
                "su_accuracy": 1.0 - float(s.distortion[1]),
                "rs_du": "" if s.rs_bits is None else float(s.rs_bits[0]),
                "rs_su": "" if s.rs_bits is None else float(s.rs_bits[1]),
                "rc_du": "" if s.rc is None else float(s.rc[0]),
                "rc_su": "" if s.rc is None else float(s.rc[1]),
                "p_du": float(s.power[0]),
                "p_su": float(s.power[1]),
                "solve_ms": float(s.solve_ms),
                # a baseline whose fixed R_c fits no table rate within T (eq. (19)) is
                # infeasible for that user: scored at the table's maximum distortion
                "feasible": bool(s.feasible),
                "infeasible_users": " ".join(str(i) for i in s.infeasible_users),
            }
        )
    return rows


def _jobs(args: argparse.Namespace, tables: dict) -> list[dict]:
    base = {"figure": args.figure, "solver": args.solver, "tables": tables, "link": args.link}
    jobs = []
    for L in args.L:
        if args.figure in ("7a", "7b", "7c"):
            for dbw in args.p_dbw:
                jobs.append(
                    {**base, "L": L, "p_max": 10 ** (dbw / 10), "ratio": args.ratio,
                     "weights": (0.8, 0.2)}
                )  # fmt: skip
        elif args.figure == "8":
            for wd in [0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98]:
                jobs.append(
                    {**base, "L": L, "p_max": 3.0, "ratio": args.ratio, "weights": (wd, 1 - wd)}
                )
        else:
            for ratio in [0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.3, 1.6]:
                jobs.append({**base, "L": L, "p_max": 3.0, "ratio": ratio, "weights": (0.8, 0.2)})
    return jobs


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def _plot(rows: list[dict], args: argparse.Namespace, path: Path, synthetic: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    x_key, y_key, xlabel, ylabel = {
        "7a": ("p_max_dbw", "weighted_distortion", "P_max (dBW)", "weighted-sum distortion"),
        "7b": ("p_max_dbw", "du_msssim", "P_max (dBW)", "DU MS-SSIM"),
        "7c": ("p_max_dbw", "su_accuracy", "P_max (dBW)", "SU accuracy"),
        "8": ("du_msssim", "su_accuracy", "DU MS-SSIM", "SU accuracy"),
        "9": ("ratio", "weighted_distortion", "bandwidth ratio", "weighted-sum distortion"),
    }[args.figure]
    styles = {256: "-", 4096: "--"}
    for L in args.L:
        for name, label in SOLVER_LABELS.items():
            pts = sorted((r[x_key], r[y_key]) for r in rows if r["solver"] == name and r["L"] == L)
            if not pts:
                continue
            xs, ys = zip(*pts, strict=True)
            marker = "o" if name == "mu_ascc" else "."
            if args.figure == "8" and name != "mu_ascc":
                ax.plot(xs[:1], ys[:1], marker="s", ls="", label=f"{label}, L={L}")
            else:
                ax.plot(xs, ys, styles.get(L, "-"), marker=marker, label=f"{label}, L={L}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    tag = " (SYNTHETIC tables)" if synthetic else ""
    ax.set_title(
        f"MU-ASCC Fig. {args.figure}, paper channel, ratio {args.ratio}, {args.link}{tag}",
        fontsize=9,
    )
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _print_7a(rows: list[dict], args: argparse.Namespace) -> None:
    names = list(SOLVER_LABELS)
    for L in args.L:
        print(f"\nL = {L}: weighted-sum distortion (DU weight 0.8, SU weight 0.2)")
        print(f"{'P_max dBW':>9} " + " ".join(f"{SOLVER_LABELS[n][:24]:>25}" for n in names))
        by = {(r["solver"], round(r["p_max_dbw"], 6)): r for r in rows if r["L"] == L}
        for dbw in sorted({round(r["p_max_dbw"], 6) for r in rows if r["L"] == L}):
            cells = []
            for n in names:
                r = by.get((n, dbw), {})
                mark = "*" if r and not r["feasible"] else " "
                cells.append(f"{r.get('weighted_distortion', math.nan):24.4f}{mark}")
            print(f"{dbw:9.1f} " + " ".join(cells))
        if any(not r["feasible"] for r in rows if r["L"] == L):
            print("* infeasible: no rate meets the delay budget (eq. 19) for some user, who is")
            print("  scored at the table's maximum distortion")
        at8 = {n: by.get((n, 8.0)) for n in names}
        if at8["mu_ascc"] is None:
            print("(8 dBW not in the sweep: no reduction computed)")
            continue
        ours = at8["mu_ascc"]["weighted_distortion"]
        for base, paper in PAPER_REDUCTION.get(L, {}).items():
            if at8[base] is None:
                continue
            ref = at8[base]["weighted_distortion"]
            red = 100.0 * (ref - ours) / ref
            print(
                f"reduction at 8 dBW vs {SOLVER_LABELS[base]}: {red:.2f} %   "
                f"(paper, L={L}: {paper:.2f} %)"
            )


def _link_suffix(link: str) -> str:
    """File-name suffix of a sweep's link ("" for the paper's eq. (14))."""
    from semdacom.mu_ascc.optimizer.problem import LINK_SPECS

    if link == "random_coding":
        return ""
    return "_" + (link if link in LINK_SPECS else "link_tables")


def _task_key(job: dict) -> str:
    w = job["weights"][0]
    return f"L{job['L']}_p{job['p_max']:.6g}_r{job['ratio']:g}_w{w:g}"


def run(args: argparse.Namespace) -> int:
    from semdacom.sweep import Task, engine_kwargs, run_tasks

    if args.solver == "faithful" and args.link not in (
        "random_coding",
        "random_coding_paper",
        "physical",
        "physical_paper",
    ):
        print("the faithful solver is derived for the random-coding link; use --solver fast")
        return 2
    tables = load_tables()
    synthetic = bool(tables["synthetic"])
    if synthetic:
        print(f"NOTE: SYNTHETIC tables used for: {', '.join(tables['synthetic'])}")
    print(
        f"MU-ASCC sweep, figure {args.figure}: paper channel, bandwidth ratio {args.ratio} "
        f"(T = {args.ratio * SOURCE_DIMS:.1f} channel uses per 28x28 image), L = {args.L}, "
        f"solver {args.solver}, link {args.link}"
    )
    tasks = [Task(_task_key(j), j) for j in _jobs(args, tables)]
    engine = engine_kwargs(args)
    if engine["workers"] is None:
        engine["workers"] = getattr(args, "jobs", None)
    name = f"sweep-mu-ascc-{args.figure}{_link_suffix(args.link)}"
    rows: list[dict] = [r for point in run_tasks(name, tasks, solve_point, **engine) for r in point]
    rows.sort(key=lambda r: (r["L"], r["solver"], r["p_max_w"], r["ratio"], r["w_du"]))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"sweep_mu_ascc_{args.figure}{_link_suffix(args.link)}"
    with open(f"{stem}.csv", "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]) + ["tables"])
        wr.writeheader()
        for r in rows:
            wr.writerow({**r, "tables": "synthetic" if synthetic else "measured"})
    _plot(rows, args, Path(f"{stem}.png"), synthetic)
    if args.figure == "7a":
        _print_7a(rows, args)
    print(f"\nwrote {stem}.csv and {stem}.png")
    return 0
