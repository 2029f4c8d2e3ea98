"""SC-SFMA's idea, measured (issue 22; SC-SFMA [2], Sec. II-B and IV-B): bench/results/sfma.json.

* The controlled SCFM ablation (:mod:`semdacom.sc_sfma.transceiver.ablation`): per seed,
  SC-SFMA and SwinJSCC+NOMA branched from one SwinJSCC+NOMA base with identical schedules,
  steps and data, SC-SFMA starting with its fusion path at zero. On :data:`N_PER_CLASS` fixed
  test pairs per class at :data:`SNR_DB` dB, nu = :data:`NU`:
  ``scfm_gain_db`` (``overlap`` / ``same_class`` / ``dissimilar``, plus ``related``: mean PSNR
  gain of SC-SFMA over SwinJSCC+NOMA with a two-level bootstrap 95 % interval, seeds then
  pairs), ``scfm_gain_gate_off_db`` (SC-SFMA's gate forced to 0 at inference),
  ``overlap_minus_dissimilar_db``, ``seeds``, ``test_pairs_per_class``.
  Similarity: ``overlap`` pairs overlap in content by construction (shifted, rotated,
  re-contrasted, noisy, cropped or blended views of one image; overlap.py); ``same_class`` and
  ``dissimilar`` are label classes. ``content_similarity`` gives each class's median measured
  similarity (largest pixel correlation over shifts <= 2 px).
* ``capacity_control`` (for the seeds that have it): SC-SFMA with its SCFM modules attending
  to the user's own feature (``partner="self"``), a third branch from the same base with the
  same schedule and data: ``gain_self_db`` over SwinJSCC+NOMA and ``gain_over_self_db``, what
  the partner's information adds to the same modules.
* ``sc_sfma_minus_deepjscc_noma_db_min``: the minimum over nu <= 1/2 and 0-20 dB of the mean
  PSNR of SC-SFMA (mean over the seeds) minus DeepJSCC-NOMA's (fine-tuned from the shipped
  DeepJSCC model with the same curriculum and as many steps as the Swin models' base + branch),
  over :data:`N_GRID` test pairs per class, all classes pooled (``..._by_class`` per class).
  The whole grid is in ``psnr_grid`` and the PNG.

The models are read from ``bench/weights/sfma_ablation/`` (committed beside the benchmark, with
their ``manifest.json``; made by ``semdacom ablate-sfma``; not in the package, whose shipped
data has a size budget), or from the folder in ``SFMA_RUNS`` (``ablate-sfma --out``; its
``extend/`` when ``extend-sfma`` continued the runs).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from common import RESULTS, write

from semdacom.sc_sfma.transceiver import load_transceiver
from semdacom.sc_sfma.transceiver.ablation import evaluate_ablation, plot_gains, psnr_grid
from semdacom.sc_sfma.transceiver.overlap import content_similarity
from semdacom.sc_sfma.transceiver.pairs import EVAL_CLASSES, eval_pairs, pyplot, save_figure

SNR_DB, NU = 10.0, 0.25
N_PER_CLASS = 1000
N_GRID = 200
GRID_SNR = tuple(float(s) for s in range(0, 21, 4))
GRID_NU = (0.125, 0.25, 0.375, 0.5, 1.0)
#: the ablation's weights (benchmark data, not shipped in the package: its size budget)
SHIPPED = Path(__file__).resolve().parent / "weights" / "sfma_ablation"


def _paths() -> tuple[dict, Path]:
    runs = os.environ.get("SFMA_RUNS")
    if runs:
        base = Path(runs)
        if (base / "extend").is_dir():  # extend-sfma continued the runs: those are the models
            folder, dj = base / "extend", base / "extend" / "deepjscc_noma_s0.pt"
        else:
            folder, dj = base / "branch", base / "deepjscc_noma_s0.pt"
    else:
        folder, dj = SHIPPED, SHIPPED / "deepjscc_noma.pt"
    seeds = [int(p.stem.rsplit("_s", 1)[1]) for p in sorted(folder.glob("sc_sfma_s*.pt"))]
    paths = {
        s: {
            m: folder / f"{m}_s{s}.pt"
            for m in ("swinjscc_noma", "sc_sfma", "sc_sfma_self")
            if (folder / f"{m}_s{s}.pt").exists()
        }
        for s in seeds
    }
    if not paths:
        raise SystemExit("no ablation runs found (semdacom ablate-sfma, or SFMA_RUNS=<out>)")
    return paths, dj


def plot_grid(grid: dict, path: Path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(GRID_NU), figsize=(3.0 * len(GRID_NU), 3.0), sharey=True)
    for j, (ax, nu) in enumerate(zip(axes, GRID_NU, strict=True)):
        for name, style in (("sc_sfma", "-o"), ("swinjscc_noma", "--s"), ("deepjscc_noma", ":^")):
            pooled = np.mean([grid[name][c] for c in grid[name]], axis=0)
            ax.plot(GRID_SNR, pooled[:, j], style, ms=3, label=name)
        ax.set_title(f"nu = {nu:g}", fontsize=9)
        ax.set_xlabel("SNR (dB)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("PSNR (dB), all pair classes")
    axes[0].legend(fontsize=7)
    return save_figure(fig, path, dpi=110)


def main() -> dict:
    torch.set_num_threads(int(os.environ.get("SEMDACOM_THREADS", "1")))
    paths, dj_path = _paths()
    models = {
        s: {m: load_transceiver(p, device="cpu") for m, p in ps.items()} for s, ps in paths.items()
    }
    main_models = {s: {m: ms[m] for m in ("swinjscc_noma", "sc_sfma")} for s, ms in models.items()}
    res = evaluate_ablation(main_models, n_per_class=N_PER_CLASS, snr_db=SNR_DB, nu=NU)
    ctl_models = {s: ms for s, ms in models.items() if "sc_sfma_self" in ms}
    ctl = (
        evaluate_ablation(ctl_models, n_per_class=N_PER_CLASS, snr_db=SNR_DB, nu=NU)
        if ctl_models
        else None
    )
    name = {"same": "same_class"}
    pairs = eval_pairs(N_GRID, classes=EVAL_CLASSES)
    sim = {
        name.get(c, c): float(np.median(content_similarity(p[0], p[1]))) for c, p in pairs.items()
    }
    dj = load_transceiver(dj_path if dj_path.exists() else "deepjscc_noma", device="cpu")
    schemes = {
        "sc_sfma": [m["sc_sfma"] for m in models.values()],
        "swinjscc_noma": [m["swinjscc_noma"] for m in models.values()],
        "deepjscc_noma": [dj],
    }
    grid = psnr_grid(schemes, pairs, GRID_SNR, GRID_NU)
    low = [j for j, v in enumerate(GRID_NU) if v <= 0.5]
    diff = {c: grid["sc_sfma"][c] - grid["deepjscc_noma"][c] for c in pairs}
    pooled = np.mean([diff[c] for c in pairs], axis=0)[:, low]
    i, j = np.unravel_index(np.argmin(pooled), pooled.shape)
    doc = {
        "scfm_gain_db": {name.get(c, c): r["gain_db"] for c, r in res["per_class"].items()},
        "scfm_gain_gate_off_db": {
            name.get(c, c): r["gain_gate_off_db"] for c, r in res["per_class"].items()
        },
        "scfm_gain_db_per_seed": {
            name.get(c, c): r["gain_db_per_seed"] for c, r in res["per_class"].items()
        },
        "overlap_minus_dissimilar_db": res.get("overlap_minus_dissimilar_db"),
        "psnr_db": {name.get(c, c): r["psnr_db"] for c, r in res["per_class"].items()},
        "seeds": res["seeds"],
        "capacity_control": None
        if ctl is None
        else {
            "what": "SC-SFMA whose SCFM modules attend to the user's own feature (partner='self'),"
            " the same third branch from each seed's base: a gain it shares is capacity, not "
            "fusion",
            "seeds": ctl["seeds"],
            "gain_self_db": {
                name.get(c, c): r["gain_self_db"] for c, r in ctl["per_class"].items()
            },
            "gain_over_self_db": {
                name.get(c, c): r["gain_over_self_db"] for c, r in ctl["per_class"].items()
            },
        },
        "test_pairs_per_class": N_PER_CLASS,
        "snr_db": SNR_DB,
        "nu": NU,
        "content_similarity_median": sim,
        "sc_sfma_minus_deepjscc_noma_db_min": float(pooled.min()),
        "sc_sfma_minus_deepjscc_noma_db_min_at": {
            "snr_db": GRID_SNR[i],
            "nu": GRID_NU[low[j]],
        },
        "sc_sfma_minus_deepjscc_noma_db_min_by_class": {
            name.get(c, c): float(diff[c][:, low].min()) for c in pairs
        },
        "psnr_grid": {
            "snr_db": list(GRID_SNR),
            "nu": list(GRID_NU),
            "test_pairs_per_class": N_GRID,
            "schemes": {
                s: {name.get(c, c): np.round(v, 3).tolist() for c, v in g.items()}
                for s, g in grid.items()
            },
        },
        "weights": {
            "ablation": {
                str(s): {m: Path(p).name for m, p in ps.items()} for s, ps in paths.items()
            },
            "deepjscc_noma": dj.weights_file,
        },
    }
    plot_gains(res, RESULTS / "sfma_scfm_gain.png")
    plot_grid(grid, RESULTS / "sfma_psnr_grid.png")
    path = write("sfma", doc)
    for c, g in doc["scfm_gain_db"].items():
        o = doc["scfm_gain_gate_off_db"][c]
        print(
            f"{c:>11}: gain {g['mean']:+.3f} [{g['ci95'][0]:+.3f}, {g['ci95'][1]:+.3f}] dB,"
            f" gate off {o['mean']:+.3f} dB"
        )
    print(f"SC-SFMA - DeepJSCC-NOMA min over nu <= 1/2: {pooled.min():+.2f} dB; wrote {path}")
    return doc


if __name__ == "__main__":
    main()
