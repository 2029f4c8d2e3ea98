#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""DeepJSCC baseline commands: ``train-djscc`` and ``fit-djscc`` (MU-ASCC [1], Sec. V-A,
"ZF-WF-DJSCC"; Bourtsoulatze et al. 2019).

``train-djscc`` trains one model (bandwidth ratio, training SNR) and writes
``src/semdacom/data/weights/djscc_r<ratio>_snr<snr>.pt`` (listed in the manifest);
checkpoints in ``out/djscc`` (a restarted run resumes). ``fit-djscc`` measures every shipped
DeepJSCC model over a grid of test SNRs and writes the three SNR-indexed tables
``djscc_du_msssim.json`` (1-MS-SSIM), ``djscc_du_mse.json`` and ``djscc_su_error.json``
(1-accuracy of the classifier E on the decoded image), plus a PNG plot. CPU by default
(CUDA when available), ``SEMDACOM_THREADS`` torch threads (default 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from semdacom.cli.common import arg_values
from semdacom.cli.common import data_dir as _data_dir
from semdacom.cli.common import made_by as _made_by
from semdacom.cli.common import threads as _threads

DATASET = "fashion-mnist"
TABLE_NAMES = {
    "msssim": ("djscc_du_msssim", "du", "1-msssim"),
    "mse": ("djscc_du_mse", "du", "mse"),
    "error": ("djscc_su_error", "su", "classification_error"),
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    from semdacom.sweep import add_engine_args

    p = sub.add_parser("train-djscc", help="train a DeepJSCC model (analog JSCC baseline)")
    p.add_argument("--ratio", type=float, default=0.6, help="channel uses per source pixel")
    p.add_argument("--snr-db", type=float, default=10.0, help="training SNR (dB)")
    p.add_argument("--steps", type=int, default=5000, help="training batches")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--width", type=int, default=32, help="feature maps of the hidden layers")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ckpt-dir", default="out/djscc", help="checkpoints (resume from here)")
    p.add_argument("--data-dir", default=None, help="shipped-data folder (default: checkout's)")
    p.add_argument("--n-eval", type=int, default=1000, help="test images for the manifest metric")
    p.set_defaults(func=run_train)

    p = sub.add_parser("fit-djscc", help="DeepJSCC distortion vs SNR tables (djscc_*.json)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--weights", nargs="*", default=None, help="default: every weights/djscc_*.pt")
    p.add_argument("--n", type=int, default=2000, help="test images (first n)")
    p.add_argument("--snr-min", type=float, default=-10.0)
    p.add_argument("--snr-max", type=float, default=30.0)
    p.add_argument("--snr-step", type=float, default=1.0)
    p.add_argument("--trials", type=int, default=2, help="noise draws per SNR (averaged)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--figures", default="docs/figures", help="folder for the PNG plot")
    add_engine_args(p)
    p.set_defaults(func=run_fit)


def run_train(args) -> int:
    from semdacom.data.datasets import load_fashion_mnist
    from semdacom.data.manifest import update_manifest
    from semdacom.source_coding.djscc import evaluate_snr_grid, train_djscc, weights_name

    _threads()
    data = _data_dir(args)
    out = data / "weights" / weights_name(args.ratio, args.snr_db)
    names = ("ratio", "snr_db", "steps", "batch", "lr", "width", "seed", "ckpt_dir")
    _, info = train_djscc(out=out, **arg_values(args, *names))
    images, labels = load_fashion_mnist("test")
    row = evaluate_snr_grid(
        images[: args.n_eval], labels[: args.n_eval], [args.snr_db], str(out), args.seed
    )[0]
    metric = (
        f"at {args.snr_db:g} dB AWGN, rho {row['bandwidth_ratio']:.4f} (k={info['k']}), first "
        f"{args.n_eval} test images: MS-SSIM {row['msssim']:.4f}, PSNR {row['psnr_db']:.2f} dB, "
        f"SU accuracy {row['accuracy']:.4f}"
    )
    update_manifest(data, out, made_by=_made_by(), dataset=DATASET, metric=metric)
    print(json.dumps({**info, "eval": row}))
    return 0


def isotonic_non_increasing(y, w=None):
    """Least-squares fit of ``y`` by a non-increasing sequence (pool adjacent violators)."""
    import numpy as np

    y = np.asarray(y, dtype=np.float64)
    w = np.ones_like(y) if w is None else np.asarray(w, dtype=np.float64)
    blocks: list[list[float]] = []  # [value, weight, count]
    for yi, wi in zip(y, w, strict=True):
        blocks.append([yi, wi, 1])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return np.concatenate([np.full(c, v) for v, _, c in blocks])


def djscc_trial(weights: str, images, labels, snrs: list[float], seed: int) -> dict:
    """One sweep task of ``fit-djscc``: one noise draw (``seed``) of one model over the SNR grid;
    the metric curves and the model's bandwidth ratio and training SNR."""
    from semdacom.source_coding.djscc import evaluate_snr_grid

    rows = evaluate_snr_grid(images, labels, snrs, weights, seed)
    out = {key: [r[key] for r in rows] for key in ("msssim", "mse", "accuracy")}
    out["bandwidth_ratio"] = rows[0]["bandwidth_ratio"]
    out["train_snr_db"] = rows[0]["train_snr_db"]
    return out


def measure(
    weights: list[Path],
    n: int,
    snrs: list[float],
    trials: int,
    seed: int,
    progress: bool = True,
    **engine,
) -> list[dict]:
    """Per model: raw metric curves over ``snrs`` averaged over ``trials`` noise draws (seed
    ``seed + 1000 t``); one sweep task per (model, draw), run by
    :func:`semdacom.sweep.run_tasks` (``engine``: its engine/workers/address/out_dir)."""
    import numpy as np

    from semdacom.data import file_sha256
    from semdacom.data.datasets import load_fashion_mnist
    from semdacom.sweep import Task, run_tasks

    images, labels = load_fashion_mnist("test")
    images, labels = images[:n], labels[:n]
    snrs = [float(s) for s in snrs]
    tasks = []
    for path in weights:
        sha = file_sha256(path)
        for t in range(trials):
            kw = dict(weights=str(path), images=images, labels=labels, snrs=snrs,
                      seed=seed + 1000 * t)  # fmt: skip
            # the weights' sha256 in the key: new weights are a new task, never a stale one
            tasks.append(Task(f"{path.stem}_{sha[:12]}_draw{t}", kw))
    res = run_tasks("fit-djscc", tasks, djscc_trial, progress=progress, **engine)
    models = []
    for j, path in enumerate(weights):
        draws = res[j * trials : (j + 1) * trials]
        keys = ("msssim", "mse", "accuracy")
        mean = {k: np.mean(np.asarray([d[k] for d in draws]), axis=0) for k in keys}
        models.append(
            {
                "weights": path.name,
                "sha256": file_sha256(path),
                "bandwidth_ratio": draws[0]["bandwidth_ratio"],
                "train_snr_db": draws[0]["train_snr_db"],
                **mean,
            }
        )
    models.sort(key=lambda m: (m["train_snr_db"], m["bandwidth_ratio"]))
    return models


def write_tables(models: list[dict], snrs: list[float], data: Path, meta: dict) -> list[Path]:
    """The three SNR tables (raw curves kept per point as ``raw``); returns their paths."""
    import numpy as np

    from semdacom.mu_ascc.distortion import SNR_FORMAT, SnrTable

    raw_of = {
        "msssim": lambda m: 1.0 - m["msssim"],
        "mse": lambda m: m["mse"],
        "error": lambda m: 1.0 - m["accuracy"],
    }
    paths = []
    for key, (name, task, metric) in TABLE_NAMES.items():
        pts = []
        for i, m in enumerate(models):
            raw = np.asarray(raw_of[key](m), dtype=np.float64)
            mono = isotonic_non_increasing(raw)
            pts.append(
                {
                    "index": i,
                    "train_snr_db": float(m["train_snr_db"]),
                    "bandwidth_ratio": float(m["bandwidth_ratio"]),
                    "weights": f"weights/{m['weights']}",
                    "model_sha256": m["sha256"],
                    "curve": {
                        "snr_db": [float(s) for s in snrs],
                        "distortion": [round(float(v), 7) for v in mono],
                    },
                    "raw": [round(float(v), 7) for v in raw],
                    "monotone_max_change": round(float(np.max(np.abs(mono - raw))), 7),
                }
            )
        doc = {
            "format": SNR_FORMAT,
            "name": name,
            "codec": "djscc",
            "task": task,
            "metric": metric,
            "x": "snr_db",
            **meta,
            "points": pts,
        }
        path = data / "tables" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1) + "\n")
        SnrTable.load(path)  # the format check
        paths.append(path)
    return paths


def plot(models: list[dict], snrs: list[float], path: Path) -> None:
    """MS-SSIM, PSNR and SU accuracy vs test SNR of every model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for m in models:
        lab = f"rho={m['bandwidth_ratio']:.2f}, train {m['train_snr_db']:g} dB"
        axes[0].plot(snrs, m["msssim"], marker=".", label=lab)
        axes[1].plot(snrs, 10 * np.log10(1.0 / np.maximum(m["mse"], 1e-10)), marker=".", label=lab)
        axes[2].plot(snrs, m["accuracy"], marker=".", label=lab)
    for ax, yl in zip(axes, ("MS-SSIM", "PSNR (dB)", "SU accuracy (classifier E)"), strict=True):
        ax.set_xlabel("test SNR (dB), AWGN")
        ax.set_ylabel(yl)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("DeepJSCC (Bourtsoulatze et al. 2019) on Fashion-MNIST test images")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_vs_learned(models: list[dict], snrs: list[float], data: Path, path: Path) -> bool:
    """DeepJSCC MS-SSIM vs SNR next to the learned codec behind an ideal channel code.

    The reference is the learned codec's error-free MS-SSIM at the largest operating point
    whose ``R_s`` fits ``T log2(1 + SNR)`` bits (``T = k`` channel uses of the DeepJSCC model:
    the same bandwidth), i.e. separate coding at Shannon capacity, an upper bound for any
    digital scheme. Returns False when the codec's evaluation table is missing.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ev = data / "tables" / "hyperprior_vbr_eval.json"
    if not ev.exists():
        return False
    pts = json.loads(ev.read_text())["points"]
    rs = np.array([p["rs_bits"] for p in pts])
    ms = np.array([p["msssim"] for p in pts])
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for m in models:
        (line,) = ax.plot(
            snrs, m["msssim"], marker=".", label=f"DeepJSCC rho={m['bandwidth_ratio']:.2f}"
        )
        t = m["bandwidth_ratio"] * 784
        cap = t * np.log2(1.0 + 10.0 ** (np.asarray(snrs) / 10.0))
        ref = [float(ms[rs <= c].max()) if np.any(rs <= c) else np.nan for c in cap]
        ax.plot(snrs, ref, ls="--", color=line.get_color(),
                label=f"learned codec at capacity, T={t:.0f}")  # fmt: skip
    ax.set_xlabel("test SNR (dB), AWGN")
    ax.set_ylabel("MS-SSIM")
    ax.set_ylim(0.0, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("DeepJSCC (train 10 dB) vs learned codec + ideal channel code", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def run_fit(args) -> int:
    import numpy as np

    from semdacom.data.manifest import update_manifest

    _threads()
    data = _data_dir(args)
    if args.weights:
        weights = [Path(w) for w in args.weights]
    else:
        weights = sorted((data / "weights").glob("djscc_*.pt"))
    if not weights:
        print("no DeepJSCC weights (run semdacom train-djscc first)", file=sys.stderr)
        return 2
    snrs = [float(s) for s in np.arange(args.snr_min, args.snr_max + 1e-9, args.snr_step)]
    from semdacom.sweep import engine_kwargs

    models = measure(weights, args.n, snrs, args.trials, args.seed, **engine_kwargs(args))
    meta = {
        "dataset": DATASET,
        "split": "test",
        "n_images": int(args.n),
        "trials": int(args.trials),
        "image_shape": [1, 28, 28],
        "channel": "AWGN, unit-energy symbols, SNR = 1/noise variance",
        "monotone": "curves made non-increasing in SNR by isotonic regression (PAVA) of the "
        "Monte-Carlo means; 'raw' keeps the measured means",
        "made_by": _made_by(),
    }
    paths = write_tables(models, snrs, data, meta)
    for path in paths:
        update_manifest(
            data,
            path,
            made_by=_made_by(),
            dataset=DATASET,
            metric=f"distortion vs test SNR {snrs[0]:g}..{snrs[-1]:g} dB for "
            + ", ".join(f"rho {m['bandwidth_ratio']:.2f}@{m['train_snr_db']:g} dB" for m in models),
        )
    plot(models, snrs, Path(args.figures) / "djscc_vs_snr.png")
    plot_vs_learned(models, snrs, data, Path(args.figures) / "djscc_vs_learned.png")
    print(f"DeepJSCC, Fashion-MNIST test split, first {args.n} images, {args.trials} noise draws")
    print(f"{'rho':>6} {'train':>6} {'SNR':>6} {'MS-SSIM':>8} {'PSNR':>7} {'acc':>6}")
    for m in models:
        for i, s in enumerate(snrs):
            if s in (-10, -5, 0, 5, 10, 15, 20, 25, 30):
                psnr = 10 * np.log10(1 / max(m["mse"][i], 1e-10))
                print(
                    f"{m['bandwidth_ratio']:6.2f} {m['train_snr_db']:6g} {s:6g} "
                    f"{m['msssim'][i]:8.4f} {psnr:7.2f} {m['accuracy'][i]:6.3f}"
                )
    for path in paths:
        print(f"wrote {path}")
    return 0
