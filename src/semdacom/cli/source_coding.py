#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Learned-codec commands: ``train-classifier``, ``train-codec``, ``eval-codec``,
``fit-distortion`` (MU-ASCC [1], Sec. II-B and III-A), ``export-onnx`` (the encoder and the
decoders as separate ONNX files, issue 25).

Outputs go to the checkout's src/semdacom/data (when run from the repository root) and are
listed in its manifest.json; checkpoints under out/codec (restarting a command resumes).
Runs on CUDA when available, else CPU (``SEMDACOM_THREADS`` threads, default 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from semdacom.cli.common import data_dir as _data_dir
from semdacom.cli.common import fit_tables, threads
from semdacom.cli.common import made_by as _made_by

DATASET = "fashion-mnist"


def add_parser(sub: argparse._SubParsersAction) -> None:
    from semdacom.sweep import add_engine_args

    def common(p):
        p.add_argument("--data-dir", default=None, help="shipped-data folder (default: checkout's)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--ckpt-dir", default="out/codec", help="checkpoints (resume from here)")

    p = sub.add_parser("train-classifier", help="train the Fashion-MNIST classifier E")
    common(p)
    p.add_argument("--epochs", type=int, default=3)
    p.set_defaults(func=run_train_classifier)

    p = sub.add_parser(
        "train-codec",
        help="train the VBR hyperprior (default), a fixed-rate one or the semantic decoder",
    )
    common(p)
    p.add_argument("--epochs", type=int, default=None, help="default: 5 (vbr), 1 (fixed), 1 (Q)")
    p.add_argument("--levels", type=int, default=16, help="operating points of the VBR model")
    p.add_argument(
        "--fixed",
        type=int,
        default=None,
        metavar="K",
        help="train fixed-rate model K (0..3) at the VBR lambda of point 0, 5, 10 or 15 "
        "(with --init: starting from that point's gain units of the init model)",
    )
    p.add_argument("--semantic", action="store_true", help="fine-tune Q = E o G (eq. 4)")
    p.add_argument(
        "--low-rate",
        action="store_true",
        help="train the low-rate end (fixed-length codes of 16..192 bits) on the shipped "
        "hyperprior and Q, both frozen (docs/source_coding.md)",
    )
    p.add_argument(
        "--alpha", type=float, default=0.5, help="--low-rate: weight of Q's cross entropy"
    )
    p.add_argument("--lambda-min", type=float, default=0.0012, help="lambda of point 0")
    p.add_argument("--lambda-max", type=float, default=0.2, help="lambda of the last point")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--init", default=None, help="start from these weights (fine-tuning)")
    p.add_argument("--name", default=None, help="checkpoint name (default from the model)")
    p.add_argument("--steps", type=int, default=None, help="stop after this many batches")
    p.add_argument("--gain-lr-scale", type=float, default=1.0, help="lr factor of the gains")
    p.add_argument("--n", type=int, default=32, help="hidden channels of g_a/g_s")
    p.add_argument("--m", type=int, default=32, help="latent channels M")
    p.add_argument("--nh", type=int, default=16, help="hyper-latent channels")
    p.add_argument(
        "--arch", choices=["subpixel", "deconv"], default="subpixel", help="up-sampling layers"
    )
    p.add_argument(
        "--film", action="store_true", help="rate-conditioned affine maps in g_a/g_s (VBR only)"
    )
    p.add_argument(
        "--balance",
        action="store_true",
        help="normalise each point's loss by its running mean (for --fixed: the same "
        "loss scaling, so that both are trained alike)",
    )
    p.set_defaults(func=run_train_codec)

    p = sub.add_parser("eval-codec", help="per operating point: bits, MS-SSIM, PSNR, SU accuracy")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--n", type=int, default=2000, help="test images (first n)")
    p.add_argument("--weights", default=None, help="codec weights (default: shipped VBR)")
    p.add_argument("--no-write", action="store_true", help="do not update the rate table")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    p.set_defaults(func=run_eval)

    p = sub.add_parser("fit-distortion", help="Monte-Carlo bit flips + logistic fit, eq. (12)/(13)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--n", type=int, default=400, help="test images per operating point")
    p.add_argument(
        "--points", type=int, default=29, help="BER grid points over 1e-8..1e-1 (+ 0.2, 0.35, 0.5)"
    )
    p.add_argument("--trials", type=int, default=1, help="Monte-Carlo repetitions per BER")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--figures", default="docs/figures", help="folder for the PNG plots")
    add_engine_args(p)
    p.set_defaults(func=run_fit)

    p = sub.add_parser(
        "export-onnx",
        help="the codec's encoder, decoder and semantic decoder as separate ONNX files",
    )
    p.add_argument("--out", default="out/onnx", help="folder for the .onnx files")
    p.add_argument("--weights", default=None, help="codec weights (default: the shipped ones)")
    p.add_argument("--check", type=int, default=64,
                   help="test images run with onnxruntime against PyTorch (0: none)")  # fmt: skip
    p.add_argument(
        "--sfma-variant",
        default="sc_sfma",
        help="SC-SFMA transceiver whose user decoders are exported too ('': none)",
    )
    p.set_defaults(func=run_export_onnx)


def run_export_onnx(args) -> int:
    from semdacom.sc_sfma.transceiver import onnx_export as sx
    from semdacom.source_coding import onnx_export as ox

    manifest = ox.export_onnx(args.out, args.weights)
    if args.sfma_variant:
        manifest["sfma"] = sx.export_sfma_onnx(args.out, args.sfma_variant)
    if args.check > 0:
        from semdacom.data.datasets import load_fashion_mnist

        images, _ = load_fashion_mnist("test")
        manifest["check"] = ox.check_onnx(args.out, images[: args.check], weights=args.weights)
        if args.sfma_variant:
            manifest["sfma"]["check"] = sx.check_sfma_onnx(
                args.out, images[: 2 * (args.check // 2)], args.sfma_variant
            )
    (Path(args.out) / "onnx_manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(json.dumps(manifest, indent=1))
    return 0


def run_train_classifier(args) -> int:
    from semdacom.data.manifest import update_manifest
    from semdacom.source_coding import train

    data = _data_dir(args)
    out = data / "weights" / "classifier.pt"
    res = train.train_classifier(out, epochs=args.epochs, seed=args.seed, ckpt_dir=args.ckpt_dir)
    update_manifest(
        data,
        out,
        made_by=_made_by(),
        dataset=DATASET,
        metric=f"test accuracy {res['test_accuracy']:.4f}",
    )
    print(json.dumps(res))
    return 0


def _arch(args) -> dict:
    return {"n": args.n, "m": args.m, "nh": args.nh, "arch": args.arch}


def run_train_codec(args) -> int:
    from semdacom.data.manifest import update_manifest
    from semdacom.source_coding import train

    data = _data_dir(args)
    if args.low_rate:
        from semdacom.source_coding.codec import LOW_RATE_FILE

        out = data / "weights" / LOW_RATE_FILE
        res = train.train_low_rate(
            out,
            data / "weights" / "hyperprior_vbr.pt",
            data / "weights" / "semantic_vbr.pt",
            data / "weights" / "classifier.pt",
            epochs=args.epochs or 12,
            alpha=args.alpha,
            seed=args.seed,
            ckpt_dir=args.ckpt_dir,
            max_steps=args.steps,
        )
        metric = "low-rate points: see tables/hyperprior_vbr_eval.json"
    elif args.semantic:
        out = data / "weights" / "semantic_vbr.pt"
        res = train.train_semantic(
            out,
            data / "weights" / "hyperprior_vbr.pt",
            data / "weights" / "classifier.pt",
            epochs=args.epochs or 1,
            seed=args.seed,
            ckpt_dir=args.ckpt_dir,
            max_steps=args.steps,
        )
        metric = "SU accuracy per operating point: see tables/hyperprior_vbr_eval.json"
    elif args.fixed is not None:
        if not 0 <= args.fixed <= 3:
            print("--fixed must be 0..3", file=sys.stderr)
            return 2
        lams = train.default_lambdas(16, args.lambda_min, args.lambda_max)
        lam = lams[[0, 5, 10, 15][args.fixed]]
        out = data / "weights" / f"hyperprior_fixed_{args.fixed}.pt"
        res = train.train_codec(
            out,
            levels=1,
            lambdas=[lam],
            epochs=args.epochs or 1,
            lr=args.lr,
            seed=args.seed,
            ckpt_dir=args.ckpt_dir,
            name=args.name or f"hyperprior_fixed_{args.fixed}",
            init=args.init,
            max_steps=args.steps,
            init_point=[0, 5, 10, 15][args.fixed] if args.init else None,
            balance=args.balance,
            **_arch(args),
        )
        metric = f"fixed-rate lambda {lam:.5g}; rate/PSNR in bench/results/source_coding.json"
    else:
        out = data / "weights" / "hyperprior_vbr.pt"
        res = train.train_codec(
            out,
            levels=args.levels,
            lambdas=train.default_lambdas(args.levels, args.lambda_min, args.lambda_max),
            epochs=args.epochs or 5,
            lr=args.lr,
            seed=args.seed,
            ckpt_dir=args.ckpt_dir,
            name=args.name or "hyperprior_vbr",
            init=args.init,
            max_steps=args.steps,
            gain_lr_scale=args.gain_lr_scale,
            film=args.film,
            balance=args.balance,
            **_arch(args),
        )
        metric = "per-point bits/MS-SSIM/PSNR: see tables/hyperprior_vbr_eval.json"
    update_manifest(data, out, made_by=_made_by(), dataset=DATASET, metric=metric)
    print(json.dumps(res))
    return 0


def run_eval(args) -> int:
    import numpy as np

    from semdacom.data.datasets import load_fashion_mnist
    from semdacom.data.manifest import update_manifest
    from semdacom.source_coding.codec import LearnedCodec, file_sha256
    from semdacom.source_coding.evaluate import evaluate
    from semdacom.source_coding.train import classifier_accuracy

    threads(2)
    data = _data_dir(args)
    weights = Path(args.weights) if args.weights else data / "weights" / "hyperprior_vbr.pt"
    sem = data / "weights" / "semantic_vbr.pt"
    codec = LearnedCodec.load(
        weights,
        semantic=sem if sem.exists() else False,
        classifier=data / "weights" / "classifier.pt",
        rate_table=False,
    )
    images, labels = load_fashion_mnist("test")
    images, labels = images[: args.n], labels[: args.n]
    rows = evaluate(codec, images, labels)
    clf_acc = None
    if (data / "weights" / "classifier.pt").exists():
        from semdacom.source_coding.codec import load_classifier

        clf = load_classifier(data / "weights" / "classifier.pt")
        clf_acc = classifier_accuracy(clf, n=len(images))
    print(f"Fashion-MNIST test split, first {len(images)} images, real bitstreams ({weights.name})")
    hdr = f"{'point':>5} {'bits/image':>11} {'bpp':>6} {'MS-SSIM':>8} {'PSNR dB':>8} {'SU acc':>7}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        acc = f"{r['su_accuracy']:.4f}" if "su_accuracy" in r else "   -  "
        print(
            f"{r['index']:>5} {r['rs_bits']:>11.1f} {r['bpp']:>6.3f} {r['msssim']:>8.4f} "
            f"{r['psnr_db']:>8.2f} {acc:>7}"
        )
    bits = np.array([r["rs_bits"] for r in rows])
    span = float(bits.max() / bits.min())
    print(f"bits/image span (max/min): {span:.2f}x")
    if clf_acc is not None:
        print(f"uncompressed classifier accuracy: {clf_acc:.4f}")
        if "su_accuracy" in rows[-1]:
            gap = 100.0 * (clf_acc - rows[-1]["su_accuracy"])
            print(f"SU accuracy gap at the highest rate: {gap:.2f} points")
    doc = {
        "format": "semdacom-codec-eval/1",
        "codec": "hyperprior_vbr",
        "dataset": DATASET,
        "split": "test",
        "n_images": len(images),
        "model_sha256": file_sha256(weights),
        "low_rate_points": codec.low_rate_levels,
        "made_by": _made_by(),
        "classifier_accuracy": clf_acc,
        "bits_span_ratio": span,
        "msssim": (
            "pytorch-msssim, 3 scales, 5-tap Gaussian window sigma 1.0 (docs/source_coding.md)"
        ),
        "points": rows,
    }
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    if not args.no_write and args.weights is None:
        path = data / "tables" / "hyperprior_vbr_eval.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1) + "\n")
        update_manifest(
            data,
            path,
            made_by=_made_by(),
            dataset=DATASET,
            metric=f"rate table R_s: {bits.min():.0f}..{bits.max():.0f} bits/image ({span:.1f}x)",
        )
    return 0


def run_fit(args) -> int:
    from semdacom.data.manifest import update_manifest
    from semdacom.mu_ascc import distortion_fit as dfit
    from semdacom.source_coding.codec import LearnedCodec

    threads(2)
    data = _data_dir(args)
    weights = data / "weights" / "hyperprior_vbr.pt"
    semantic, classifier = data / "weights" / "semantic_vbr.pt", data / "weights" / "classifier.pt"
    codec = LearnedCodec.load(weights, semantic=semantic, classifier=classifier, rate_table=False)
    # one sweep task per operating point (docs/sweeps.md); each worker loads the codec itself
    spec = dfit.codec_spec("learned", weights, semantic=semantic, classifier=classifier)
    paths, _ = fit_tables(args, data, "fit-distortion", spec, codec, "hyperprior_vbr", codec.sha256)
    for p in paths:
        doc = json.loads(p.read_text())
        update_manifest(
            data,
            p,
            made_by=_made_by(),
            dataset=DATASET,
            metric=f"min R^2 {doc['min_r2']:.4f} over {len(doc['points'])} points",
        )
        print(f"{p}: min R^2 = {doc['min_r2']:.4f}")
    for png in dfit.plot_tables(paths, args.figures):
        print(f"wrote {png}")
    return 0
