#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""SC-SFMA transceiver commands (SC-SFMA [2], Sec. II-B, II-C, II-E, IV-B):

* ``train-sfma`` -- train one learned model end to end with eq. (9) (``sc_sfma`` or the
  ablations ``swinjscc_noma``, ``swinjscc_oma``, ``deepjscc_noma``); writes
  ``src/semdacom/data/weights/sfma_<variant>.pt`` (listed in the manifest), checkpoints in
  ``out/sfma`` (a restarted run resumes).
* ``ablate-sfma`` -- the controlled SCFM ablation (sc_sfma/transceiver/ablation.py): per seed a
  SwinJSCC+NOMA base, then SwinJSCC+NOMA and SC-SFMA branches from it on identical data (and
  with ``--controls self`` the capacity control); the gain per pair class on fixed test pairs
  with bootstrap intervals: ``<out>/ablation.json`` and ``ablation.png``.
* ``profile-sfma`` -- xi per pair class over an (SNR, nu) grid with its eq. (10) fit, and the
  distortion per pair class with its eq. (17)-(18) envelope: ``sfma_xi_<model>.json`` and
  ``sfma_distortion_<model>.json`` tables, surface PNGs (Fig. 2 and Fig. 3(d) analogues).
  ``--xi-method distortion`` (default) measures the distortion-equivalent xi (eq. (11) inverted
  on the interference-free reference curve), ``regression`` the first tables' regression xi.
* ``eval-sfma`` -- PSNR and MS-SSIM vs SNR and vs channel bandwidth ratio for SC-SFMA and every
  baseline, split by pair class (Fig. 3 analogue), the reconstruction grid (Fig. 4 analogue),
  and where the paper's ordering holds.

CPU by default (CUDA when available), ``SEMDACOM_THREADS`` torch threads (default 1).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from semdacom.cli.common import data_dir as _data_dir
from semdacom.cli.common import made_by as _made_by
from semdacom.cli.common import threads as _threads

MODELS = ("sc_sfma", "swinjscc_noma", "swinjscc_oma", "deepjscc_noma")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-sfma", help="train the SC-SFMA transceiver or an ablation")
    p.add_argument("--variant", choices=MODELS, default="sc_sfma")
    p.add_argument("--steps", type=int, default=6000, help="training batches of pairs")
    p.add_argument("--batch", type=int, default=32, help="pairs per batch")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--snr-min", type=float, default=0.0, help="training SNR range (dB)")
    p.add_argument("--snr-max", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--init",
        default=None,
        help="weights to start from (deepjscc_noma: DeepJSCC weights; sc_sfma: SwinJSCC+NOMA "
        "weights, the fusion path starting at zero)",
    )
    p.add_argument(
        "--overlap-share",
        type=float,
        default=0.5,
        help="share of content-overlapping pairs per batch (0: label pair classes only)",
    )
    p.add_argument(
        "--data-offset", type=int, default=0, help="step t draws the data of step t + this"
    )
    p.add_argument("--ckpt-dir", default="out/sfma", help="checkpoints (resume from here)")
    p.add_argument("--out", default=None, help="weights file (default: the shipped data dir)")
    p.add_argument("--data-dir", default=None, help="shipped-data folder (default: checkout's)")
    p.add_argument("--max-train-images", type=int, default=None, help="first n train images")
    p.add_argument("--no-manifest", action="store_true", help="do not update manifest.json")
    p.add_argument("--n-eval", type=int, default=500, help="test pairs for the manifest metric")
    p.set_defaults(func=run_train)
    add_more(sub)

    p = sub.add_parser(
        "ablate-sfma",
        help="controlled SCFM ablation: SC-SFMA vs SwinJSCC+NOMA from one base, over seeds",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--base-steps", type=int, default=2000, help="SwinJSCC+NOMA base steps")
    p.add_argument("--branch-steps", type=int, default=2000, help="steps of each branch")
    p.add_argument("--overlap-share", type=float, default=0.5)
    p.add_argument("--out", default="out/sfma_ablation", help="runs, checkpoints, ablation.json")
    p.add_argument("--n", type=int, default=1000, help="fixed test pairs per pair class")
    p.add_argument("--snr", type=float, default=10.0, help="received SNR of the test (dB)")
    p.add_argument("--nu", type=float, default=0.25, help="compression ratio of the test")
    p.add_argument(
        "--controls",
        nargs="*",
        default=[],
        choices=["self"],
        help="also train the capacity control (self: SCFM attending to the user's own feature)",
    )
    p.add_argument("--train-only", action="store_true", help="train, do not evaluate")
    p.set_defaults(func=run_ablate)

    p = sub.add_parser(
        "extend-sfma",
        help="continue a finished SCFM ablation (every model, one schedule, the same data)",
    )
    p.add_argument(
        "--from",
        dest="start",
        default="bench/weights/sfma_ablation",
        help="folder of <model>_s<seed>.pt to continue (default: the committed ablation)",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=2000, help="more steps for every model")
    p.add_argument("--lr", type=float, default=2.5e-4, help="peak learning rate (warm-up, cosine)")
    p.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="which models (default all: swinjscc_noma sc_sfma sc_sfma_self deepjscc_noma)",
    )
    p.add_argument("--out", default="out/sfma_ablation", help="writes <out>/extend/")
    p.set_defaults(func=run_extend)


def run_train(args) -> int:
    _threads()
    from semdacom.data.manifest import update_manifest
    from semdacom.sc_sfma.transceiver.evaluate import quick_metric
    from semdacom.sc_sfma.transceiver.train import train

    data_dir = _data_dir(args)
    out = Path(args.out) if args.out else data_dir / "weights" / f"sfma_{args.variant}.pt"
    model, info = train(
        variant=args.variant,
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        snr_range=(args.snr_min, args.snr_max),
        seed=args.seed,
        out=out,
        ckpt_dir=args.ckpt_dir,
        init=args.init,
        max_train_images=args.max_train_images,
        overlap_share=args.overlap_share,
        data_offset=args.data_offset,
    )
    metric = quick_metric(model, n_pairs=args.n_eval)
    print(f"{args.variant}: {info['params']} parameters, {info['steps']} steps; {metric}")
    print(f"wrote {out}")
    if not args.no_manifest and out.resolve().is_relative_to(data_dir.resolve()):
        dataset = f"fashion-mnist (train pairs: {info['pairs']})"
        if args.variant == "deepjscc_noma":
            dataset += f"; fine-tuned from {args.init or 'weights/djscc_r0.20_snr10.pt'}"
        update_manifest(data_dir, out, made_by=_made_by(), dataset=dataset, metric=metric)
    return 0


def run_ablate(args) -> int:
    _threads()
    from semdacom.sc_sfma.transceiver.ablation import (
        evaluate_ablation,
        load_runs,
        plot_gains,
        train_ablation,
        write_json,
    )

    runs = train_ablation(
        seeds=args.seeds,
        base_steps=args.base_steps,
        branch_steps=args.branch_steps,
        out=args.out,
        overlap_share=args.overlap_share,
        controls=tuple(args.controls),
    )
    if args.train_only:
        return 0
    res = evaluate_ablation(load_runs(runs), n_per_class=args.n, snr_db=args.snr, nu=args.nu)
    res["made_by"] = _made_by()
    path = write_json(res, Path(args.out) / "ablation.json")
    png = plot_gains(res, Path(args.out) / "ablation.png")
    for c, r in res["per_class"].items():
        g, o = r["gain_db"], r["gain_gate_off_db"]
        print(
            f"{c:>10}: gain {g['mean']:+.3f} dB [{g['ci95'][0]:+.3f}, {g['ci95'][1]:+.3f}]"
            f"   gate off {o['mean']:+.3f} dB [{o['ci95'][0]:+.3f}, {o['ci95'][1]:+.3f}]"
        )
        if "gain_over_self_db" in r:
            v = r["gain_over_self_db"]
            print(f"{'':>10}  over the self control {v['mean']:+.3f} dB [{v['ci95'][0]:+.3f}, "
                  f"{v['ci95'][1]:+.3f}]")  # fmt: skip
    print(f"wrote {path} and {png}")
    return 0


def run_extend(args) -> int:
    _threads()
    from semdacom.sc_sfma.transceiver.ablation import EXTENDED, extend_ablation

    runs = extend_ablation(
        args.start,
        seeds=args.seeds,
        steps=args.steps,
        lr=args.lr,
        out=args.out,
        models=tuple(args.models or EXTENDED),
    )
    for seed, paths in runs.items():
        print(f"seed {seed}: " + ", ".join(f"{m} -> {p}" for m, p in paths.items()))
    print(f"evaluate: SFMA_RUNS={args.out} make bench ARGS=sfma")
    return 0


def add_more(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile-sfma", help="xi and distortion tables of the SFMA models")
    p.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    p.add_argument("--n", type=int, default=200, help="test pairs per pair class")
    p.add_argument(
        "--classes",
        nargs="*",
        default=None,
        help="pair classes to profile (default same related dissimilar; 'overlap' adds "
        "content-overlapping pairs, enveloped over content-similarity bins)",
    )
    p.add_argument(
        "--snr",
        type=float,
        nargs="*",
        default=None,
        help="SNR grid (dB; default 0..40 step 2 with --xi-method distortion, so that the "
        "samples cover the saturation, 0..20 step 2 with regression)",
    )
    p.add_argument("--nu", type=float, nargs="*", default=None, help="nu grid")
    p.add_argument(
        "--xi-method",
        choices=("distortion", "regression"),
        default="distortion",
        help="xi as a distortion-equivalent interference (default) or the regression "
        "coefficient of the partner's feature (the first tables)",
    )
    p.add_argument(
        "--xi-metric",
        choices=("mse", "1-msssim"),
        default="mse",
        help="distortion measure of the distortion-equivalent xi (default mse)",
    )
    p.add_argument(
        "--ref-snr",
        type=float,
        nargs="*",
        default=None,
        help="SNR grid (dB) of the interference-free reference (default -10..50 step 1)",
    )
    p.add_argument(
        "--quantile",
        type=float,
        default=0.9,
        help="quantile over a class's label pairs (or similarity bins, or pairs) of the "
        "distortion envelope and of xi_quantile (1 = the worst label pair, the first tables)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights-dir", default=None, help="read sfma_<model>.pt from here")
    p.add_argument("--data-dir", default=None, help="shipped-data folder (default: checkout's)")
    p.add_argument("--tables-dir", default=None, help="write tables here (default: data/tables)")
    p.add_argument("--figures", default="docs/figures", help="folder for the PNG plots")
    p.add_argument("--no-manifest", action="store_true", help="do not update manifest.json")
    p.add_argument(
        "--save-raw",
        action="store_true",
        help="also write the per-user distortions (pair and reference) to "
        "sfma_profile_raw_<model>.npz in the tables folder",
    )
    p.set_defaults(func=run_profile)

    p = sub.add_parser("eval-sfma", help="Fig. 3/4 analogues: PSNR, MS-SSIM of every scheme")
    p.add_argument(
        "--measure",
        type=int,
        default=None,
        metavar="N",
        help="measure the learned models on N test pairs per class (default: read "
        "the shipped sfma_distortion_*.json tables)",
    )
    p.add_argument("--snr", type=float, nargs="*", default=None, help="SNR grid with --measure")
    p.add_argument("--nu", type=float, nargs="*", default=None, help="nu grid with --measure")
    p.add_argument("--at-snr", type=float, default=10.0, help="SNR of the vs-CBR views (dB)")
    p.add_argument("--at-nu", type=float, default=0.5, help="nu of the vs-SNR views")
    p.add_argument("--weights-dir", default=None, help="read sfma_<model>.pt from here")
    p.add_argument("--tables-dir", default=None, help="tables folder (default: data/tables)")
    p.add_argument("--out", default="out/sfma", help="folder for eval.json and the PNGs")
    p.add_argument("--figures", default="docs/figures", help="also copy the PNGs here ('' = no)")
    p.add_argument("--no-grid", action="store_true", help="skip the reconstruction grid")
    p.set_defaults(func=run_eval)


def _weights(args) -> dict:
    if not args.weights_dir:
        return {}
    return {m: str(Path(args.weights_dir) / f"sfma_{m}.pt") for m in MODELS}


def run_profile(args) -> int:
    _threads()
    from semdacom.data.manifest import update_manifest
    from semdacom.sc_sfma.transceiver import load_transceiver
    from semdacom.sc_sfma.transceiver.profile import (
        REF_SNR_GRID,
        SNR_GRID,
        XI_SNR_GRID,
        plot_psnr_surface,
        plot_xi_surfaces,
        profile_model,
        save_raw,
        write_json,
    )
    from semdacom.sc_sfma.transceiver.transceiver import NU_GRID

    data_dir = _data_dir(args)
    tdir = Path(args.tables_dir) if args.tables_dir else data_dir / "tables"
    default_snr = XI_SNR_GRID if args.xi_method == "distortion" else SNR_GRID
    snr = tuple(args.snr) if args.snr else default_snr
    nu = tuple(args.nu) if args.nu else NU_GRID
    ref = tuple(args.ref_snr) if args.ref_snr else REF_SNR_GRID
    weights = _weights(args)
    xi_docs = {}
    manifest = not args.no_manifest and tdir.resolve().is_relative_to(data_dir.resolve())
    for m in args.models:
        xi, dist, meas = profile_model(
            m,
            args.n,
            snr,
            nu,
            args.seed,
            weights.get(m),
            xi_method=args.xi_method,
            xi_metric=args.xi_metric,
            quantile=args.quantile,
            ref_snr_grid=ref,
            classes=tuple(args.classes) if args.classes else None,
        )
        written = [write_json(dist, tdir / f"sfma_distortion_{m}.json")]
        if args.save_raw:
            written.append(save_raw(meas, tdir / f"sfma_profile_raw_{m}.npz"))
        i_s, i_v = len(snr) // 2, len(nu) // 2
        summary = f"at SNR {snr[i_s]:g} dB, nu {nu[i_v]:g}: " + ", ".join(
            f"{c} PSNR {e['psnr'][i_s][i_v]:.2f} dB" for c, e in dist["classes"].items()
        )
        print(f"{m}: {summary}")
        if xi is not None:
            xi_docs[m] = xi
            written.append(write_json(xi, tdir / f"sfma_xi_{m}.json"))
            for c, e in xi["classes"].items():
                p = e["params"]
                print(
                    f"  xi[{c}]: R2 {e['r2']:.4f}, xi_lo {p['xi_lo']:.4f}, xi_hi {p['xi_hi']:.4f}"
                    f", a {p['a']:.3f}/dB, b {p['b']:.3f}, s0 {p['s0']:.2f} dB, nu0 {p['nu0']:.3f}"
                )
                if "fit_error" in e:
                    f = e["fit_error"]
                    print(
                        f"    measured xi min {_nanmin(e['xi']):.4f}, max {_nanmax(e['xi']):.4f}; "
                        f"at {f['at_snr_db']:g} dB, nu {f['at_nu']:g}: measured "
                        f"{f['xi_measured_at']:.4f}, fit {f['xi_fit_at']:.4f} (SINR error "
                        f"{f['sinr_db_err_at']:+.3f} dB); max SINR error "
                        f"{f['max_sinr_db_err']:.3f} dB, max relative error where xi gamma "
                        f">= 0.1: {f['max_rel_binding']:.3f}, >= 1 (cap binds): "
                        f"{f['max_rel_cap']:.3f}"
                    )
        if m == "sc_sfma" and args.figures:
            model = load_transceiver(weights.get(m, m))
            f = plot_psnr_surface(dist, model, Path(args.figures) / "sfma_psnr_surface.png")
            print(f"wrote {f}")
        for path in written:
            print(f"wrote {path}")
            if manifest:
                if path.suffix == ".npz":
                    continue
                if "xi" in path.name:
                    r2 = min(e["r2"] for e in xi["classes"].values())
                    metric = f"xi ({args.xi_method}) per pair class, eq. (10) fit, min R2 {r2:.4f}"
                else:
                    metric = f"1-msssim, psnr, msssim per pair class; {summary}"
                update_manifest(
                    data_dir,
                    path,
                    made_by=_made_by(),
                    dataset=f"fashion-mnist test, {args.n} pairs per pair class",
                    metric=metric,
                )
    if xi_docs and args.figures:
        import json

        # every xi table in the folder, so that profiling the models one by one gives one figure
        for m in ("sc_sfma", "swinjscc_noma"):
            f = tdir / f"sfma_xi_{m}.json"
            if m not in xi_docs and f.exists():
                xi_docs[m] = json.loads(f.read_text())
        xi_docs = {m: xi_docs[m] for m in ("sc_sfma", "swinjscc_noma") if m in xi_docs}
        print(f"wrote {plot_xi_surfaces(xi_docs, Path(args.figures) / 'sfma_xi_surfaces.png')}")
    return 0


def _nanmin(grid) -> float:
    vals = [v for row in grid for v in row if v is not None]
    return min(vals) if vals else float("nan")


def _nanmax(grid) -> float:
    vals = [v for row in grid for v in row if v is not None]
    return max(vals) if vals else float("nan")


def run_eval(args) -> int:
    _threads()
    import json
    import shutil

    import numpy as np

    from semdacom.sc_sfma.transceiver.evaluate import (
        check_ordering,
        describe_claims,
        evaluate,
        plot_fig3,
        plot_fig4,
        print_tables,
    )

    weights = _weights(args)
    res = evaluate(
        args.tables_dir,
        measure_pairs=args.measure,
        snr_grid=args.snr,
        nu_grid=args.nu,
        weights=weights,
    )
    print("sources: " + "; ".join(f"{k}: {v}" for k, v in res["source"].items()))
    print_tables(res, args.at_snr, args.at_nu)
    claims = check_ordering(res, args.at_snr, args.at_nu)
    print("\nThe paper's ordering (SC-SFMA Sec. IV-B) here:")
    for line in describe_claims(claims):
        print("  " + line)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "snr_db": res["snr_db"],
        "nu": res["nu"],
        "cbr": res["cbr"],
        "source": res["source"],
        "schemes": {
            n: {c: {k: np.round(v, 4).tolist() for k, v in d.items()} for c, d in per.items()}
            for n, per in res["schemes"].items()
        },
        "claims": claims,
    }
    (out / "eval.json").write_text(json.dumps(doc, indent=1) + "\n")
    figs = [plot_fig3(res, out / "sfma_fig3.png", args.at_snr, args.at_nu)]
    if not args.no_grid:
        figs.append(plot_fig4(out / "sfma_fig4_grid.png", args.at_snr, args.at_nu, weights=weights))
    print(f"wrote {out / 'eval.json'}")
    for f in figs:
        print(f"wrote {f}")
        if args.figures:
            Path(args.figures).mkdir(parents=True, exist_ok=True)
            shutil.copy(f, Path(args.figures) / f.name)
    return 0
