#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Learned-codec commands: ``train-classifier``, ``train-codec``, ``eval-codec``,
``fit-distortion`` (MU-ASCC [1], Sec. II-B and III-A), ``export-onnx`` (the encoder and the
decoders as separate ONNX files, issue 25). ``eval-codec`` and ``fit-distortion`` with
``--codec compressai --weights FILE ...`` measure CompressAI models instead
(:mod:`semdacom.cli.compressai_codec`, docs/bring_your_model.md).

Outputs go to the checkout's src/semdacom/data (when run from the repository root) and are
listed in its manifest.json; checkpoints under out/codec (restarting a command resumes).
Runs on CUDA when available, else CPU (``SEMDACOM_THREADS`` threads, default 2).

``--data DIR --out OUT`` (issue 25): the same steps on your own labelled folder or .npz
(:mod:`semdacom.data.folder`, its training and test split: ``load_split``), every output in
OUT (``OUT/weights``, ``OUT/tables``, ``OUT/manifest.json``; checkpoints in ``OUT/ckpt``);
docs/your_images.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from semdacom.cli.common import (
    UsageError,
    add_data_args,
    check_data_args,
    data_options,
    fit_tables,
    folder_split,
    print_eval_rows,
    register_tables,
    threads,
    write_rate_table,
)
from semdacom.cli.common import data_dir as _data_dir
from semdacom.cli.common import made_by as _made_by
from semdacom.cli.compressai_codec import add_codec_args

DATASET = "fashion-mnist"


def add_parser(sub: argparse._SubParsersAction) -> None:
    from semdacom.sweep import add_engine_args

    def common(p):
        p.add_argument("--data-dir", default=None, help="shipped-data folder (default: checkout's)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument(
            "--ckpt-dir",
            default=None,
            help="checkpoints (resume from here; default out/codec, with --data OUT/ckpt)",
        )

    p = sub.add_parser(
        "train-classifier", help="train the classifier E (Fashion-MNIST, or --data DIR)"
    )
    common(p)
    p.add_argument(
        "--epochs", type=int, default=None, help="default 3 (with --steps: as many as it takes)"
    )
    p.add_argument("--steps", type=int, default=None, help="stop after this many batches")
    add_data_args(p)
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
    add_data_args(p, from_weights=True)
    p.set_defaults(func=run_train_codec)

    p = sub.add_parser("eval-codec", help="per operating point: bits, MS-SSIM, PSNR, SU accuracy")
    p.add_argument("--data-dir", default=None)
    add_data_args(p, from_weights=True)
    p.add_argument(
        "--n",
        type=int,
        default=2000,
        help="test images (Fashion-MNIST: the first n; --data: n spread over its test split)",
    )
    p.add_argument(
        "--weights",
        nargs="+",
        default=None,
        help="codec weights (default: shipped VBR); --codec compressai: one model file per "
        "operating point, ascending rate (or one comma-separated list)",
    )
    p.add_argument("--no-write", action="store_true", help="do not update the rate table")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    add_codec_args(p)
    p.set_defaults(func=run_eval)

    p = sub.add_parser("fit-distortion", help="Monte-Carlo bit flips + logistic fit, eq. (12)/(13)")
    p.add_argument("--data-dir", default=None)
    add_data_args(p, from_weights=True)
    p.add_argument(
        "--n",
        type=int,
        default=400,
        help="test images per operating point (with --data spread evenly over its test split)",
    )
    p.add_argument(
        "--points", type=int, default=29, help="BER grid points over 1e-8..1e-1 (+ 0.2, 0.35, 0.5)"
    )
    p.add_argument("--trials", type=int, default=1, help="Monte-Carlo repetitions per BER")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--figures",
        default=None,
        help="folder for the PNG plots (default docs/figures; with --data OUT/figures)",
    )
    p.add_argument(
        "--weights",
        nargs="+",
        default=None,
        help="--codec compressai: one model file per operating point, ascending rate",
    )
    add_codec_args(p, fit=True)
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


def _ckpt_dir(args) -> str:
    if args.ckpt_dir:
        return args.ckpt_dir
    return str(_data_dir(args) / "ckpt") if args.data else "out/codec"


def _dataset(meta: dict | None) -> str:
    return DATASET if meta is None else meta["dataset"]


def _classes_or_fail(args, opts: dict, what: str) -> int:
    """The number of classes of ``--data``; UsageError when it has none."""
    from semdacom.data.folder import ImageFolder

    folder = ImageFolder(args.data, size=opts["size"], fit=opts["fit"], mode=opts["mode"])
    if folder.n_classes < 2:
        raise UsageError(
            f"{args.data}: no classes; {what} needs labelled images, DIR/<class>/<image> "
            f"with at least 2 class folders (or an .npz with 'labels'), found {folder.n_classes}"
        )
    return folder.n_classes


def run_train_classifier(args) -> int:
    check_data_args(args)  # before torch is imported: a bad command line fails at once
    from semdacom.data.manifest import update_manifest

    data = _data_dir(args)
    out = data / "weights" / "classifier.pt"
    kw: dict = {}
    meta = None
    if args.data:
        opts = data_options(args)
        classes = _classes_or_fail(args, opts, "train-classifier")
        images, labels, meta = folder_split(args, "train", opts, labelled=True)
        test_images, test_labels, _ = folder_split(args, "test", opts, labelled=True)
        kw = {
            "images": images,
            "labels": labels,
            "test": (test_images, test_labels),
            "classes": classes,
            "meta": {"data": meta["data"], "dataset": meta["dataset"]},
        }
    epochs = args.epochs if (args.epochs is not None or args.steps is not None) else 3
    from semdacom.source_coding import train

    try:
        res = train.train_classifier(
            out, epochs=epochs, seed=args.seed, ckpt_dir=_ckpt_dir(args), max_steps=args.steps, **kw
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if args.data:
        res["n_test"] = len(kw["test"][0])
        res["classes"] = kw["classes"]
    acc = res["test_accuracy"]
    update_manifest(
        data,
        out,
        made_by=_made_by(),
        dataset=_dataset(meta),
        metric="test accuracy " + ("-" if acc is None else f"{acc:.4f}"),
    )
    print(json.dumps(res))
    return 0


def _arch(args) -> dict:
    return {"n": args.n, "m": args.m, "nh": args.nh, "arch": args.arch}


def run_train_codec(args) -> int:
    check_data_args(args)
    from semdacom.data.manifest import update_manifest
    from semdacom.source_coding import train

    if args.fixed is not None and not 0 <= args.fixed <= 3:
        raise UsageError("--fixed must be 0..3")
    data = _data_dir(args)
    ckpt_dir = _ckpt_dir(args)
    vbr, sem_path = data / "weights" / "hyperprior_vbr.pt", data / "weights" / "semantic_vbr.pt"
    clf_path = data / "weights" / "classifier.pt"
    folder: dict = {}  # images (and labels) of --data's training split, and what to save
    meta = None
    if args.data:
        if args.low_rate or args.semantic:
            needs = [vbr, clf_path] + ([sem_path] if args.low_rate else [])
            missing = [str(f) for f in needs if not f.exists()]
            if missing:
                raise UsageError(
                    f"{', '.join(missing)} not found: train-classifier and train-codec (then "
                    "--semantic) with the same --data and --out first"
                )
            opts = data_options(args, vbr)
            _classes_or_fail(args, opts, "train-codec --semantic/--low-rate")
            images, labels, meta = folder_split(args, "train", opts, labelled=True)
            folder = {"images": images, "labels": labels}
        else:
            opts = data_options(args)
            images, _, meta = folder_split(args, "train", opts)
            folder = {"images": images}
        saved_meta = {"meta": {"data": meta["data"], "dataset": meta["dataset"]}}
    else:
        saved_meta = {}
    try:
        res, out, metric = _train_codec(args, train, data, ckpt_dir, folder, saved_meta)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    update_manifest(data, out, made_by=_made_by(), dataset=_dataset(meta), metric=metric)
    print(json.dumps(res))
    return 0


def _train_codec(args, train, data: Path, ckpt_dir: str, folder: dict, saved_meta: dict):
    """The training of :func:`run_train_codec`: ``(result, file written, manifest metric)``."""
    vbr, sem_path = data / "weights" / "hyperprior_vbr.pt", data / "weights" / "semantic_vbr.pt"
    clf_path = data / "weights" / "classifier.pt"
    if args.low_rate:
        from semdacom.source_coding.codec import LOW_RATE_FILE

        out = data / "weights" / LOW_RATE_FILE
        res = train.train_low_rate(
            out,
            vbr,
            sem_path,
            clf_path,
            epochs=args.epochs if args.epochs or args.steps else 12,
            alpha=args.alpha,
            seed=args.seed,
            ckpt_dir=ckpt_dir,
            max_steps=args.steps,
            **folder,
        )
        metric = "low-rate points: see tables/hyperprior_vbr_eval.json"
    elif args.semantic:
        out = sem_path
        res = train.train_semantic(
            out,
            vbr,
            clf_path,
            epochs=args.epochs if args.epochs or args.steps else 1,
            seed=args.seed,
            ckpt_dir=ckpt_dir,
            max_steps=args.steps,
            **folder,
            **saved_meta,
        )
        metric = "SU accuracy per operating point: see tables/hyperprior_vbr_eval.json"
    elif args.fixed is not None:
        lams = train.default_lambdas(16, args.lambda_min, args.lambda_max)
        lam = lams[[0, 5, 10, 15][args.fixed]]
        out = data / "weights" / f"hyperprior_fixed_{args.fixed}.pt"
        res = train.train_codec(
            out,
            levels=1,
            lambdas=[lam],
            epochs=args.epochs if args.epochs or args.steps else 1,
            lr=args.lr,
            seed=args.seed,
            ckpt_dir=ckpt_dir,
            name=args.name or f"hyperprior_fixed_{args.fixed}",
            init=args.init,
            max_steps=args.steps,
            init_point=[0, 5, 10, 15][args.fixed] if args.init else None,
            balance=args.balance,
            **_arch(args),
            **folder,
            **saved_meta,
        )
        metric = f"fixed-rate lambda {lam:.5g}; rate/PSNR in bench/results/source_coding.json"
    else:
        out = vbr
        res = train.train_codec(
            out,
            levels=args.levels,
            lambdas=train.default_lambdas(args.levels, args.lambda_min, args.lambda_max),
            epochs=args.epochs if args.epochs or args.steps else 5,
            lr=args.lr,
            seed=args.seed,
            ckpt_dir=ckpt_dir,
            name=args.name or "hyperprior_vbr",
            init=args.init,
            max_steps=args.steps,
            gain_lr_scale=args.gain_lr_scale,
            film=args.film,
            balance=args.balance,
            **_arch(args),
            **folder,
            **saved_meta,
        )
        metric = "per-point bits/MS-SSIM/PSNR: see tables/hyperprior_vbr_eval.json"
    return res, out, metric


def _eval_setup(args, data: Path, weights: Path):
    """The codec files and test images of eval-codec / fit-distortion: ``(semantic, classifier,
    images, labels, meta)``; ``meta`` None for Fashion-MNIST."""
    sem = data / "weights" / "semantic_vbr.pt"
    clf = data / "weights" / "classifier.pt"
    if not args.data:
        from semdacom.data.datasets import load_fashion_mnist

        images, labels = load_fashion_mnist("test")
        if getattr(args, "weights", None):  # Q beside those weights, or the shipped one if it fits
            return None, clf, images, labels, None
        return (sem if sem.exists() else False), clf, images, labels, None
    if not weights.exists():
        raise UsageError(f"{weights} not found: train-codec --data {args.data} --out {args.out}")
    from semdacom.data.folder import ImageFolder

    opts = data_options(args, weights)
    folder = ImageFolder(args.data, size=opts["size"], fit=opts["fit"], mode=opts["mode"])
    # a semantic user needs classes: with them only images with a class are scored
    labelled = folder.n_classes > 0 and sem.exists()
    images, labels, meta = folder_split(args, "test", opts, labelled=labelled)
    n = getattr(args, "n", None)
    if n and len(images) > n:
        # n images spread evenly over the split, not its first n: a folder's listing is in
        # class and file order and an .npz in the order it was made (the photographs' crops
        # photograph by photograph), so the first n would be one class or one photograph
        import numpy as np

        idx = np.linspace(0, len(images) - 1, n).round().astype(np.int64)
        images, labels = images[idx], labels[idx]
    return (sem if labelled else False), clf, images, (labels if labelled else None), meta


def _load_codec(weights: Path, semantic, classifier: Path):
    from semdacom.source_coding.codec import LearnedCodec

    try:
        return LearnedCodec.load(
            weights,
            semantic=semantic,
            classifier=classifier if semantic is not False and classifier.exists() else None,
            rate_table=False,
        )
    except ValueError as exc:
        raise UsageError(f"{weights}: {exc}") from exc


def _learned_only(args, what: str) -> None:
    """The learned codec's ``--weights`` is one file; ``--classifier`` is compressai's."""
    if args.classifier is not None:
        raise UsageError("--classifier goes with --codec compressai")
    if args.weights and len(args.weights) > 1:
        raise UsageError(f"{what} takes one --weights file for the learned codec")


def run_eval(args) -> int:
    if args.codec == "compressai":
        from semdacom.cli import compressai_codec

        return compressai_codec.run_eval(args)
    _learned_only(args, "eval-codec")
    args.weights = args.weights[0] if args.weights else None
    check_data_args(args)
    import numpy as np

    from semdacom.source_coding.codec import file_sha256
    from semdacom.source_coding.evaluate import evaluate
    from semdacom.source_coding.train import classifier_accuracy

    threads(2)
    data = _data_dir(args)
    weights = Path(args.weights) if args.weights else data / "weights" / "hyperprior_vbr.pt"
    sem, clf_path, images, labels, meta = _eval_setup(args, data, weights)
    codec = _load_codec(weights, sem, clf_path)
    _check_shape(codec, images)
    images = images[: args.n]
    labels = None if labels is None else labels[: args.n]
    rows = evaluate(codec, images, labels)
    clf_acc = None
    if clf_path.exists() and labels is not None:
        from semdacom.source_coding.codec import load_classifier

        clf = load_classifier(clf_path)
        if meta is None:
            clf_acc = classifier_accuracy(clf, n=len(images))
        elif _fits(clf, codec.image_shape):
            clf_acc = classifier_accuracy(clf, images=images, labels=labels)
    if meta is None:
        what = f"Fashion-MNIST test split, first {len(images)} images"
    else:
        what = f"{meta['dataset']}: test split, {len(images)} images {_shape(codec.image_shape)}"
    print(f"{what}, real bitstreams ({weights.name})")
    print_eval_rows(rows)
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
        "dataset": _dataset(meta),
        "split": "test",
        "n_images": len(images),
        "image_shape": list(codec.image_shape),
        "model_sha256": file_sha256(weights),
        "low_rate_points": codec.low_rate_levels,
        "made_by": _made_by(),
        "classifier_accuracy": clf_acc,
        "bits_span_ratio": span,
        "msssim": (
            "pytorch-msssim, 3 scales, 5-tap Gaussian window sigma 1.0 (docs/source_coding.md)"
        ),
        **({} if meta is None else {"data": meta["data"]}),
        "points": rows,
    }
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    if not args.no_write and (args.weights is None or args.data):
        from semdacom.source_coding.codec import RATE_TABLE_FILE

        path = data / "tables" / RATE_TABLE_FILE
        write_rate_table(path, doc, data)
        if meta is not None:
            print(f"wrote {path}")
    return 0


def _shape(shape) -> str:
    return "x".join(str(v) for v in shape)


def _fits(clf, image_shape) -> bool:
    c = clf.config
    return (c["channels"], c["size"], c["size"]) == tuple(image_shape)


def _check_shape(codec, images) -> None:
    """UsageError when ``--data``'s images are not the codec's (another --size or --mode)."""
    shape = tuple(images.shape[1:]) if images.ndim == 4 else (1, *images.shape[1:])
    if shape != tuple(codec.image_shape):
        raise UsageError(
            f"the images are {_shape(shape)}, the codec codes {_shape(codec.image_shape)}: "
            "give the --size and --mode it was trained with"
        )


def run_fit(args) -> int:
    if args.codec == "compressai":
        from semdacom.cli import compressai_codec

        return compressai_codec.run_fit(args)
    _learned_only(args, "fit-distortion")
    if args.weights:
        raise UsageError("--weights goes with --codec compressai (the learned codec's is OUT's)")
    check_data_args(args)
    from semdacom.mu_ascc import distortion_fit as dfit

    threads(2)
    data = _data_dir(args)
    weights = data / "weights" / "hyperprior_vbr.pt"
    semantic, classifier, images, labels, meta = _eval_setup(args, data, weights)
    if labels is None:  # no classes: the data user's tables only (labels are not read)
        import numpy as np

        labels = np.full(len(images), -1, dtype=np.int64)
    codec = _load_codec(weights, semantic, classifier)
    _check_shape(codec, images)
    if meta is not None and getattr(args, "tasks_dir", None) == "out":
        args.tasks_dir = str(data / "tasks")  # not beside the shipped fit's finished tasks
    figures = args.figures or (str(data / "figures") if meta is not None else "docs/figures")
    # one sweep task per operating point (docs/sweeps.md); each worker loads the codec itself
    spec = dfit.codec_spec("learned", weights, semantic=semantic or None, classifier=classifier)
    paths, _ = fit_tables(
        args,
        data,
        "fit-distortion",
        spec,
        codec,
        "hyperprior_vbr",
        codec.sha256,
        images=images,
        labels=labels,
        meta=meta,
    )
    register_tables(paths, data, _dataset(meta), figures)
    return 0
