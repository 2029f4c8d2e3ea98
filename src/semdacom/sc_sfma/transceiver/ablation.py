#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The controlled SCFM ablation (SC-SFMA [2], Sec. IV-B: SC-SFMA against SwinJSCC+NOMA, which
is SC-SFMA with SCFM removed).

**Training** (:func:`train_ablation`), per seed ``s``:

1. *base*: SwinJSCC+NOMA trained ``base_steps`` from scratch on the overlap curriculum
   (``overlap_share`` of the pairs overlap in content, :mod:`.overlap`);
2. two *branches* from that base, each ``branch_steps`` with the same fresh warm-up + cosine
   schedule, learning rate, batch, data and channel noise (step ``t`` draws the data of step
   ``base_steps + t`` of seed ``s``'s sequence): SwinJSCC+NOMA continued, and SC-SFMA warm-started
   from it with its fusion path zero-initialised (it starts computing exactly what the base
   computes; :func:`~.train.warm_start`).

So the two models of a seed differ only by SCFM and what it learned in the branch; any gain is
the fusion's. Every run is resumable (checkpoints) and skipped when its weights exist.

**Evaluation** (:func:`evaluate_ablation`): fixed test pairs per class (:func:`~.pairs.eval_pairs`,
``overlap`` beside the label classes), both users at one received SNR and ratio, the same channel
noise for every model. A pair's score is its two users' mean PSNR; the gain of a seed's SC-SFMA
over that seed's SwinJSCC+NOMA is paired per test pair. Confidence intervals: a two-level
bootstrap (seeds resampled, then test pairs), percentile 95 %.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from semdacom._stats import bootstrap_ci, bootstrap_diff_ci
from semdacom.sc_sfma.transceiver.pairs import EVAL_CLASSES, eval_pairs, reconstruct
from semdacom.sc_sfma.transceiver.train import train

__all__ = [
    "DEFAULT_OUT",
    "MODELS",
    "bootstrap_ci",
    "psnr_grid",
    "evaluate_ablation",
    "extend_ablation",
    "load_runs",
    "pair_psnr",
    "plot_gains",
    "train_ablation",
    "weights_of",
]

#: Where :func:`train_ablation` writes (ignored by git; the chosen weights are copied to the
#: package by hand, with their ``info``).
DEFAULT_OUT = Path("out/sfma_ablation")


#: The ablation's models: the base, the two branches, and the capacity control (SC-SFMA whose
#: SCFM modules attend to the user's own feature, ``partner="self"``; trained with
#: ``controls=("self",)``).
MODELS = ("base", "swinjscc_noma", "sc_sfma", "sc_sfma_self")


def weights_of(out: str | Path, seed: int, model: str) -> Path:
    """Path of a run's final weights, ``model`` in :data:`MODELS`."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    phase = "base" if model == "base" else "branch"
    variant = "swinjscc_noma" if model == "base" else model
    return Path(out) / phase / f"{variant}_s{seed}.pt"


def train_ablation(
    seeds=(0, 1, 2),
    base_steps: int = 2000,
    branch_steps: int = 2000,
    out: str | Path = DEFAULT_OUT,
    overlap_share: float = 0.5,
    lr: float = 1e-3,
    branch_lr: float = 5e-4,
    batch: int = 32,
    config: dict | None = None,
    device=None,
    progress: bool = True,
    max_train_images: int | None = None,
    controls: tuple[str, ...] = (),
) -> dict:
    """Train the base and both branches for every seed (module docstring), and with
    ``controls=("self",)`` a third branch, the capacity control ``sc_sfma_self``; returns
    ``{seed: {model: path}}``."""
    if set(controls) - {"self"}:
        raise ValueError(f"controls must be from ('self',), got {controls!r}")
    out = Path(out)
    done = {}
    for seed in seeds:
        seed = int(seed)
        models = ("base", "swinjscc_noma", "sc_sfma", *(f"sc_sfma_{c}" for c in controls))
        paths = {m: weights_of(out, seed, m) for m in models}
        common = dict(
            batch=batch,
            seed=seed,
            overlap_share=overlap_share,
            device=device,
            progress=progress,
            max_train_images=max_train_images,
        )
        if not paths["base"].exists():
            train(
                "swinjscc_noma",
                steps=base_steps,
                lr=lr,
                out=paths["base"],
                ckpt_dir=out / "base",
                config=config,
                **common,
            )
        for name in models[1:]:
            if paths[name].exists():
                continue
            variant, cfg, ckpt = name, config, out / "branch"
            if name == "sc_sfma_self":
                variant, cfg, ckpt = "sc_sfma", {**(config or {}), "partner": "self"}, ckpt / "self"
            train(
                variant,
                steps=branch_steps,
                lr=branch_lr,
                out=paths[name],
                ckpt_dir=ckpt,
                config=cfg,
                init=paths["base"],
                data_offset=base_steps,
                **common,
            )
        done[seed] = {m: str(p) for m, p in paths.items()}
    return done


#: The models :func:`extend_ablation` continues, as named in a weights folder (``deepjscc_noma``
#: is one run for every seed: ``deepjscc_noma.pt`` or ``deepjscc_noma_s<seed>.pt``).
EXTENDED = ("swinjscc_noma", "sc_sfma", "sc_sfma_self", "deepjscc_noma")


def _start_weights(start: Path, seed: int, model: str) -> Path | None:
    for name in (f"{model}_s{seed}.pt", *((f"{model}.pt",) if model == "deepjscc_noma" else ())):
        if (start / name).exists():
            return start / name
    return None


def extend_ablation(
    start: str | Path,
    seeds=(0, 1, 2),
    steps: int = 2000,
    lr: float = 2.5e-4,
    out: str | Path = DEFAULT_OUT,
    batch: int = 32,
    device=None,
    progress: bool = True,
    max_train_images: int | None = None,
    models: tuple[str, ...] = EXTENDED,
) -> dict:
    """Continue every model of a finished ablation (the folder ``start``: ``<model>_s<seed>.pt``
    as committed in ``bench/weights/sfma_ablation/``, or an ``ablate-sfma`` run's ``branch/``)
    by ``steps`` more steps, all with one fresh warm-up + cosine schedule from ``lr``, the same
    batch and the same data: step ``t`` draws the data of step ``offset + t`` of the seed's
    sequence, ``offset`` being where the runs stopped (``data_offset + steps`` of their
    ``info``, which must agree across the seed's models, so that a longer ablation stays
    controlled). DeepJSCC-NOMA, the comparison of ``psnr_grid``, is continued the same way.
    Writes ``<out>/extend/<model>_s<seed>.pt`` (checkpoints in ``<out>/extend/ckpt``; resumable,
    a finished run is skipped); returns ``{seed: {model: path}}``."""
    start, out = Path(start), Path(out) / "extend"
    if set(models) - set(EXTENDED):
        raise ValueError(f"models must be from {EXTENDED}, got {models!r}")
    done = {}
    for seed in map(int, seeds):
        found = {m: _start_weights(start, seed, m) for m in models}
        found = {m: p for m, p in found.items() if p is not None}
        if "sc_sfma" not in found or "swinjscc_noma" not in found:
            raise FileNotFoundError(f"{start}: no sc_sfma_s{seed}.pt and swinjscc_noma_s{seed}.pt")
        saved = {m: torch.load(p, map_location="cpu", weights_only=False) for m, p in found.items()}
        offsets = {
            m: int(s["info"]["data_offset"]) + int(s["info"]["steps"]) for m, s in saved.items()
        }
        if len(set(offsets.values())) != 1:
            raise ValueError(f"seed {seed}: the runs stopped at different data steps {offsets}")
        done[seed] = {}
        for m, path in found.items():
            info = saved[m]["info"]
            run_seed = int(info["seed"])  # DeepJSCC-NOMA: one run (its own seed) for all seeds
            target = out / f"{m}_s{run_seed}.pt"
            done[seed][m] = str(target)
            if target.exists():
                continue
            config = {k: v for k, v in saved[m]["config"].items() if k != "variant"}
            train(
                saved[m]["config"]["variant"],
                steps=steps,
                lr=lr,
                batch=batch,
                seed=run_seed,
                snr_range=tuple(info["snr_range_db"]),
                nu_grid=tuple(info["nu_grid"]),
                overlap_share=float(info["overlap_share"]),
                data_offset=offsets[m],
                out=target,
                ckpt_dir=out / "ckpt" / m,
                config=None if m == "deepjscc_noma" else config,
                init=path,
                device=device,
                progress=progress,
                max_train_images=max_train_images,
            )
    return done


def load_runs(runs: dict, device="cpu") -> dict:
    """``{seed: {"swinjscc_noma": model, "sc_sfma": model}}`` from :func:`train_ablation`'s
    paths (eval mode, CPU by default)."""
    from semdacom.sc_sfma.transceiver import load_transceiver

    return {
        int(seed): {
            m: load_transceiver(q, device=device)
            for m, q in p.items()
            if m not in ("base", "deepjscc_noma")
        }
        for seed, p in runs.items()
    }


def pair_psnr(model, xa, xb, nu: float, snr_db: float, noise_seed: int = 0) -> np.ndarray:
    """Per test pair, the mean over its two users of the PSNR (dB, peak 1) of each image."""
    ha, hb = reconstruct(model, xa, xb, nu, snr_db, seed=noise_seed)
    out = []
    for h, x in ((ha, xa), (hb, xb)):
        mse = ((h - x) ** 2).flatten(1).mean(1).clamp_min(1e-10)
        out.append(-10.0 * torch.log10(mse))
    return ((out[0] + out[1]) / 2).double().numpy()


def evaluate_ablation(
    models: dict,
    n_per_class: int = 1000,
    snr_db: float = 10.0,
    nu: float = 0.25,
    classes=EVAL_CLASSES,
    pair_seed: int = 1234,
    noise_seed: int = 0,
    n_boot: int = 2000,
) -> dict:
    """Gains of SC-SFMA over SwinJSCC+NOMA per pair class, with SC-SFMA's gate forced to 0 too.

    ``models`` is ``{seed: {"swinjscc_noma": model, "sc_sfma": model}}`` (loaded, eval mode),
    optionally with ``"sc_sfma_self"`` (the capacity control) in every seed.
    Returns per class the mean PSNRs, the gain and gate-off gain with intervals, per seed
    means, the gain on ``overlap`` minus the gain on ``dissimilar`` with its interval, and with
    the control ``gain_self_db`` (its gain over SwinJSCC+NOMA) and ``gain_over_self_db``
    (SC-SFMA over the control: what the partner's information adds).
    """
    pairs = eval_pairs(n_per_class, seed=pair_seed, classes=tuple(classes))
    seeds = sorted(models)
    control = all("sc_sfma_self" in models[s] for s in seeds)
    keys = ("swinjscc_noma", "sc_sfma", "gate_off", *(("sc_sfma_self",) if control else ()))
    scores = {c: {k: [] for k in keys} for c in classes}
    for seed in seeds:
        noma, sc = models[seed]["swinjscc_noma"], models[seed]["sc_sfma"]
        for c in classes:
            xa, xb = pairs[c][0], pairs[c][1]
            scores[c]["swinjscc_noma"].append(pair_psnr(noma, xa, xb, nu, snr_db, noise_seed))
            scores[c]["sc_sfma"].append(pair_psnr(sc, xa, xb, nu, snr_db, noise_seed))
            if control:
                ctl = models[seed]["sc_sfma_self"]
                scores[c]["sc_sfma_self"].append(pair_psnr(ctl, xa, xb, nu, snr_db, noise_seed))
            sc.encoder.set_gate(0.0)
            try:
                scores[c]["gate_off"].append(pair_psnr(sc, xa, xb, nu, snr_db, noise_seed))
            finally:
                sc.encoder.set_gate(None)
    res = {"snr_db": snr_db, "nu": nu, "seeds": seeds, "test_pairs_per_class": n_per_class}
    per_class = {}
    gains = {}
    for c in classes:
        s = {k: np.stack(v) for k, v in scores[c].items()}
        gains[c] = s["sc_sfma"] - s["swinjscc_noma"]
        per_class[c] = {
            "psnr_db": {k: float(v.mean()) for k, v in s.items()},
            "gain_db": bootstrap_ci(gains[c], n_boot),
            "gain_gate_off_db": bootstrap_ci(s["gate_off"] - s["swinjscc_noma"], n_boot),
            "gain_db_per_seed": [float(g.mean()) for g in gains[c]],
        }
        if control:
            per_class[c]["gain_self_db"] = bootstrap_ci(
                s["sc_sfma_self"] - s["swinjscc_noma"], n_boot
            )
            per_class[c]["gain_over_self_db"] = bootstrap_ci(
                s["sc_sfma"] - s["sc_sfma_self"], n_boot
            )
    res["per_class"] = per_class
    if "overlap" in gains and "dissimilar" in gains:
        # paired over seeds; the two classes' pairs resampled apart
        res["overlap_minus_dissimilar_db"] = bootstrap_diff_ci(
            gains["overlap"], gains["dissimilar"], n_boot
        )
    return res


def psnr_grid(
    schemes: dict,
    pairs: dict,
    snrs,
    nus,
    noise_seed: int = 0,
    progress: bool = True,
) -> dict:
    """Mean pair PSNR (:func:`pair_psnr`) per scheme, pair class, SNR and ratio.

    ``schemes`` is ``{name: [model, ...]}`` (several models: the seeds of one scheme, averaged);
    ``pairs`` from :func:`~.pairs.eval_pairs`. Returns ``{name: {class: (len(snrs), len(nus))
    array}}``; every scheme sees the same pairs and channel noise.
    """
    from tqdm import tqdm

    out = {name: {c: np.zeros((len(snrs), len(nus))) for c in pairs} for name in schemes}
    jobs = [(n, c) for n in schemes for c in pairs]
    for name, c in tqdm(jobs, desc="psnr grid", disable=not progress):
        xa, xb = pairs[c][0], pairs[c][1]
        for i, snr in enumerate(snrs):
            for j, nu in enumerate(nus):
                vals = [pair_psnr(m, xa, xb, nu, snr, noise_seed).mean() for m in schemes[name]]
                out[name][c][i, j] = float(np.mean(vals))
    return out


def plot_gains(res: dict, path: str | Path) -> Path:
    """Bar chart of the gain of SC-SFMA over SwinJSCC+NOMA per pair class, learned gate and gate
    forced to 0, with the 95 % intervals and the per-seed means as dots."""
    from semdacom.sc_sfma.transceiver.pairs import pyplot, save_figure

    plt = pyplot()
    classes = list(res["per_class"])
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    x = np.arange(len(classes))
    for off, key, label in (
        (-0.18, "gain_db", "learned gate"),
        (0.18, "gain_gate_off_db", "gate 0"),
    ):
        mean = [res["per_class"][c][key]["mean"] for c in classes]
        lo = [res["per_class"][c][key]["ci95"][0] for c in classes]
        hi = [res["per_class"][c][key]["ci95"][1] for c in classes]
        err = np.abs(np.array([np.array(mean) - lo, np.array(hi) - mean]))
        ax.bar(x + off, mean, 0.34, yerr=err, capsize=3, label=label)
    for i, c in enumerate(classes):
        ps = res["per_class"][c]["gain_db_per_seed"]
        ax.plot([i - 0.18] * len(ps), ps, "k.", ms=4)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, classes)
    ax.set_ylabel("PSNR gain over SwinJSCC+NOMA (dB)")
    ax.set_title(
        f"SCFM ablation: {len(res['seeds'])} seeds, {res['test_pairs_per_class']} pairs/class, "
        f"{res['snr_db']:g} dB, nu = {res['nu']:g}",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=120)


def write_json(doc: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path
