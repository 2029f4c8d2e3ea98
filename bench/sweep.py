"""Sweep runner benchmark: the same sweep on the local engine with 1 and 2 workers and on Ray
with 2 workers, in one run.

The sweep (the top-level keys): the points of ``semdacom sweep mu-ascc`` Fig. 7 (7a-c share
them) at the paper's sizes, P_max in -4..12 dBW, L in {256, 4096}, with the faithful solver
(Alg. 1-3 with cvxpy) and the three baselines: 18 tasks. ``fast_all_figures`` repeats the
comparison on every point of Figs. 7-9 (62 tasks) with the fast solver, whose tasks take ~0.1 s,
so that per-task costs show. Each comparison checks that the three runs give the same rows bit for
bit (``solve_ms`` aside, a wall-clock time). Ray runs on a local cluster of 2 CPUs started by
the bench (``ray_start_s``, not in ``ray_2_workers_s``); its worker processes are fresh
interpreters that import the package on their first task, the local workers are forked from
this process with it imported.

``*_overhead_ms_per_task``: worker time not spent in the task function, per task,
``(wall x workers - sum of task seconds) / tasks`` (process start and imports included);
``ray_noop_ms_per_task``: the wall time of 400 empty tasks on the same cluster, per task
(scheduling and serialisation alone).

``task_seconds``: one task of each kind of sweep, timed in this process, for the scaling
estimate of docs/sweeps.md (sizes in the names). Times are wall-clock on a shared 2-core
machine: the load average is recorded, and with other jobs running 2 workers gain less than 2x.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import time

from common import write

FIGURES = ("7a", "8", "9")


def noop(i: int) -> int:
    """The empty task of ``ray_noop_ms_per_task``."""
    return i


def _tasks(tables, figures, solver):
    from semdacom.cli import sweep
    from semdacom.sweep import Task

    tasks = []
    for fig in figures:
        args = argparse.Namespace(
            figure=fig,
            solver=solver,
            link="random_coding",
            L=[256, 4096],
            p_dbw=[-4, -2, 0, 2, 4, 6, 8, 10, 12],
            ratio=0.6,
        )
        tasks += [Task(f"{fig}_{sweep._task_key(j)}", j) for j in sweep._jobs(args, tables)]
    return tasks


def _rows(res) -> list:
    return [[{k: v for k, v in r.items() if k != "solve_ms"} for r in pt] for pt in res]


def _timed(fn, **kw) -> float:
    t0 = time.perf_counter()
    fn(**kw)
    return time.perf_counter() - t0


def task_seconds(tables) -> dict:
    """One task of each sweep kind at its full (paper or shipped-table) size."""
    import numpy as np

    from semdacom.channel_coding.linktable import mcs_curve
    from semdacom.cli import sweep
    from semdacom.cli.djscc import djscc_trial
    from semdacom.data.datasets import load_fashion_mnist
    from semdacom.data.manifest import default_data_dir
    from semdacom.mu_ascc import distortion_fit as dfit

    out: dict = {}
    job = {"figure": "7a", "solver": "faithful", "tables": tables, "link": "random_coding",
           "L": 256, "p_max": 10 ** 0.8, "ratio": 0.6, "weights": (0.8, 0.2)}  # fmt: skip
    out["mu_ascc_faithful_point"] = _timed(sweep.solve_point, **job)
    # fit-link: one MCS (16-QAM 1/2, the table's middle) at L = 256 with the shipped tables'
    # settings (--max-bits 3e6, 50 errors, 20 iterations, 0.25 dB steps)
    out["fit_link_mcs_L256"] = _timed(mcs_curve, mcs=6, L=256, seed=1, step_db=0.25,
                                      max_points=40, min_errors=50, max_bits=3e6,
                                      max_iterations=20)  # fmt: skip
    w = default_data_dir() / "weights"
    images, labels = load_fashion_mnist("test")
    spec = dfit.codec_spec("learned", w / "hyperprior_vbr.pt", semantic=w / "semantic_vbr.pt",
                           classifier=w / "classifier.pt")  # fmt: skip
    dfit.measure_point(spec, images[:8], labels[:8], 0, [-3.0], 1, 0)  # load the codec once
    out["fit_distortion_point_n400"] = _timed(
        dfit.measure_point, codec=spec, images=images[:400], labels=labels[:400], rate=8,
        log10_ber=list(dfit.default_grid(29)), trials=1, seed=0,
    )  # fmt: skip
    snrs = [float(s) for s in np.arange(-10.0, 30.0 + 1e-9, 1.0)]
    # fit-djscc: one draw of one model over the 41 SNRs, on 500 of the 2000 images (linear in n)
    out["fit_djscc_draw_n500"] = _timed(
        djscc_trial, weights=str(w / "djscc_r0.60_snr10.pt"), images=images[:500],
        labels=labels[:500], snrs=snrs, seed=0,
    )  # fmt: skip
    return out


def compare(name: str, tasks, fn) -> dict:
    """The three runs of ``tasks`` (Ray already initialised with 2 CPUs)."""
    from semdacom.sweep import run_tasks

    n = len(tasks)
    runs = {
        "local_1_worker": run_tasks(name, tasks, fn, workers=1, progress=False),
        "local_2_workers": run_tasks(name, tasks, fn, workers=2, progress=False),
        "ray_2_workers": run_tasks(name, tasks, fn, engine="ray", progress=False),
    }
    ref = _rows(runs["local_1_worker"])
    out: dict = {"tasks": n}
    for label, r in runs.items():
        out[f"{label}_s"] = r.wall_s
    workers = {"local_1_worker": 1, "local_2_workers": 2, "ray_2_workers": 2}
    for label, r in runs.items():
        short = {"local_1_worker": "local_1_worker", "local_2_workers": "local_2_workers",
                 "ray_2_workers": "ray"}[label]  # fmt: skip
        busy = sum(r.seconds)
        out[f"{short}_overhead_ms_per_task"] = 1000 * (r.wall_s * workers[label] - busy) / n
    out["speedup_local_2_workers"] = out["local_1_worker_s"] / out["local_2_workers_s"]
    out["speedup_ray_2_workers"] = out["local_1_worker_s"] / out["ray_2_workers_s"]
    out["identical_rows"] = {k: _rows(v) == ref for k, v in runs.items()}
    task_s = runs["local_1_worker"].seconds
    out["task_s_mean"] = statistics.fmean(task_s)
    out["task_s_max"] = max(task_s)
    out["task_kwargs_bytes_mean"] = statistics.fmean(
        len(pickle.dumps(t.kwargs, protocol=5)) for t in tasks
    )
    out["task_result_bytes_mean"] = statistics.fmean(
        len(pickle.dumps(x, protocol=5)) for x in runs["local_1_worker"]
    )
    return out


def main() -> None:
    import ray

    from semdacom.cli import sweep
    from semdacom.sweep import Task, run_tasks

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    tables = sweep.load_tables()
    here = os.path.dirname(os.path.abspath(__file__))  # noop's module, for Ray's workers
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": here}})  # fmt: skip
    try:
        ray_start_s = time.perf_counter() - t0
        # start the cluster's two worker processes (Ray starts them on first use)
        run_tasks("bench-warm", [Task(f"w{i}", {"i": i}) for i in range(4)], noop,
                  engine="ray", progress=False)  # fmt: skip
        main_sweep = compare("bench-fig7", _tasks(tables, ["7a"], "faithful"), sweep.solve_point)
        fast = compare("bench-fast", _tasks(tables, FIGURES, "fast"), sweep.solve_point)
        noops = [Task(f"n{i}", {"i": i}) for i in range(400)]
        t0 = time.perf_counter()
        back = run_tasks("bench-noop", noops, noop, engine="ray", progress=False)
        noop_ms = 1000 * (time.perf_counter() - t0) / len(noops)
        assert list(back) == list(range(400))
    finally:
        ray.shutdown()
    data = {
        "sweep": "semdacom sweep mu-ascc Fig. 7 points (7a-c), L in {256, 4096}, P_max -4..12 "
        "dBW, faithful solver + 3 baselines, eq. (14) link, tables "
        + ("SYNTHETIC" if tables["synthetic"] else "measured"),
        **main_sweep,
        "ray_noop_ms_per_task": noop_ms,
        "ray_start_s": ray_start_s,
        "fast_all_figures": {
            "sweep": "every point of Figs. 7-9 (62), fast solver + 3 baselines",
            **fast,
        },
        "task_seconds": task_seconds(tables),
        "load_average_1min": os.getloadavg()[0],
        "ray": ray.__version__,
    }
    path = write("sweep", data)
    for label, d in (("fig. 7 faithful", data), ("figs. 7-9 fast", fast)):
        print(
            f"{label}: {d['tasks']} tasks ({d['task_s_mean']:.2f} s each): local 1 worker "
            f"{d['local_1_worker_s']:.1f} s, 2 workers {d['local_2_workers_s']:.1f} s, ray 2 "
            f"workers {d['ray_2_workers_s']:.1f} s; overhead per task: ray "
            f"{d['ray_overhead_ms_per_task']:.1f} ms, local 2 workers "
            f"{d['local_2_workers_overhead_ms_per_task']:.1f} ms; identical {d['identical_rows']}"
        )
    print(f"ray: start {ray_start_s:.1f} s, no-op task {noop_ms:.2f} ms")
    print("task seconds:", {k: round(v, 2) for k, v in data["task_seconds"].items()})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
