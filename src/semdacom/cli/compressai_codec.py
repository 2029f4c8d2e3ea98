#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Any CompressAI image model as the data user's source coder (issue 25, Build 3;
docs/bring_your_model.md): ``train-compressai`` (small instances, one model per lambda), and
the CompressAI halves of ``eval-codec`` and ``fit-distortion`` (``--codec compressai
--weights FILE ...``; :mod:`semdacom.source_coding.compressai_codec`).

Everything goes to ``--out OUT``: ``OUT/weights/compressai_<arch>_q<i>.pt``,
``OUT/tables/compressai_<arch>_{eval,du_msssim,du_mse,su_error}.json``, ``OUT/figures``,
``OUT/ckpt``, ``OUT/manifest.json``. Fashion-MNIST without ``--data``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from semdacom.cli import common
from semdacom.cli.common import UsageError, made_by

DATASET = "fashion-mnist"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-compressai",
        help="train small CompressAI models, one per lambda (the data user's source coder)",
    )
    p.add_argument("--arch", default="ScaleHyperprior",
                   help="a compressai.models class (ScaleHyperprior, MeanScaleHyperprior, "
                   "FactorizedPrior, ...)")  # fmt: skip
    p.add_argument("--N", type=int, default=32, help="channels N of the transforms")
    p.add_argument("--M", type=int, default=48, help="latent channels M")
    p.add_argument(
        "--lmbda",
        type=float,
        nargs="+",
        default=[0.001, 0.01, 0.1],
        help="one model per lambda (loss lambda 255^2 MSE + bpp); ascending = ascending rate",
    )
    p.add_argument("--steps", type=int, default=None, help="batches per model")
    p.add_argument("--epochs", type=int, default=None, help="default 1 (with --steps: enough)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ckpt-dir", default=None, help="checkpoints (default OUT/ckpt)")
    common.add_data_args(p)
    p.set_defaults(func=run_train)


def add_codec_args(p: argparse.ArgumentParser, *, fit: bool = False) -> None:
    """``--codec``, ``--weights`` (several files), ``--classifier`` (and ``--min-r2``) of
    ``eval-codec`` and ``fit-distortion``."""
    g = p.add_argument_group("another coder (docs/bring_your_model.md)")
    g.add_argument(
        "--codec",
        choices=["learned", "compressai"],
        default="learned",
        help="learned: the VBR hyperprior; compressai: CompressAI models, one file per "
        "operating point (--weights)",
    )
    g.add_argument(
        "--classifier",
        default=None,
        help="compressai: the classifier E run on decoded images for the SU numbers (default "
        "OUT/weights/classifier.pt, else the shipped one on Fashion-MNIST; '' none)",
    )
    if fit:
        g.add_argument(
            "--min-r2",
            type=float,
            default=0.95,
            help="compressai: a table whose logistic fit has R^2 below this at some point "
            "is tabulated (monotone curve of the Monte-Carlo samples)",
        )


def _out(args) -> Path:
    if not args.out:
        raise UsageError(f"--codec compressai needs --out OUT (for what {args.command} writes)")
    return Path(args.out).expanduser()


def run_train(args) -> int:
    common.check_data_args(args, out_alone=True)
    if not args.out:
        raise UsageError("--out OUT is required (weights go to OUT/weights)")
    out = Path(args.out).expanduser()
    images, meta = None, {"dataset": DATASET}
    if args.data:
        opts = common.data_options(args)
        images, _, m = common.folder_split(args, "train", opts)
        meta = {"data": m["data"], "dataset": m["dataset"]}
    from semdacom.data.manifest import update_manifest
    from semdacom.source_coding.compressai_codec import train_compressai

    try:
        res = train_compressai(
            out / "weights",
            arch=args.arch,
            lambdas=args.lmbda,
            **common.arg_values(args, "N", "M", "epochs", "steps", "batch", "lr", "seed"),
            ckpt_dir=args.ckpt_dir or out / "ckpt",
            images=images,
            meta={**meta, "made_by": made_by()},
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    for r in res:
        update_manifest(
            out,
            r["file"],
            made_by=made_by(),
            dataset=meta["dataset"],
            metric=f"{args.arch} lambda {r['lmbda']:g}, {r['steps']} steps; "
            "rate and distortion: eval-codec --codec compressai",
        )
        print(json.dumps(r))
    return 0


def _files(args) -> list[Path]:
    """The model files of ``--weights``; UsageError without any, or for a missing one."""
    from semdacom.source_coding.compressai_codec import parse_weights

    if not args.weights:
        raise UsageError("--codec compressai needs --weights FILE [FILE ...] (one per point)")
    try:
        return parse_weights(args.weights)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _codec(args, image_labels: bool):
    """The CompressAI codec of ``--weights`` with its classifier (``--classifier``)."""
    from semdacom.source_coding.compressai_codec import CompressAICodec

    files = _files(args)
    clf = _classifier_path(args, files[0], image_labels)
    try:
        return CompressAICodec(files, classifier=clf, rate_table=False), clf
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _classifier_path(args, weights: Path, labelled: bool) -> Path | None:
    """``--classifier``; by default OUT/weights/classifier.pt, else (Fashion-MNIST only) the
    shipped one when it takes the codec's images; None without labels."""
    if not labelled or args.classifier == "":
        return None
    if args.classifier:
        path = Path(args.classifier).expanduser()
        if not path.is_file():
            raise UsageError(f"--classifier {args.classifier}: no such file")
        return path
    if args.out and (Path(args.out).expanduser() / "weights" / "classifier.pt").is_file():
        return Path(args.out).expanduser() / "weights" / "classifier.pt"
    if args.data:
        return None
    from semdacom.data import WEIGHTS_DIR
    from semdacom.source_coding.compressai_codec import load_model_file

    shape = load_model_file(weights)[1].get("image_shape")
    path = WEIGHTS_DIR / "classifier.pt"
    return path if path.is_file() and list(shape or []) == [1, 28, 28] else None


def _test_images(args, weights):
    """Test images and labels (None without classes), and the folder's meta (None for
    Fashion-MNIST)."""
    if not args.data:
        from semdacom.data.datasets import load_fashion_mnist

        images, labels = load_fashion_mnist("test")
        return images, labels, None
    from semdacom.data.folder import ImageFolder

    opts = common.data_options(args, weights)
    folder = ImageFolder(args.data, size=opts["size"], fit=opts["fit"], mode=opts["mode"])
    labelled = folder.n_classes > 0
    images, labels, meta = common.folder_split(args, "test", opts, labelled=labelled)
    return images, (labels if labelled else None), meta


def _check_shape(codec, images) -> None:
    shape = tuple(images.shape[1:]) if images.ndim == 4 else (1, *images.shape[1:])
    if shape != tuple(codec.image_shape):
        s = "x".join(map(str, shape))
        raise UsageError(
            f"the images are {s}, the models code {'x'.join(map(str, codec.image_shape))}: "
            "give the --size and --mode they were trained with"
        )


def _files_meta(codec) -> dict:
    return {
        "arch": codec.arch,
        "weights": [
            {"file": str(p), "sha256": s, "lmbda": i.get("lmbda")}
            for p, s, i in zip(codec.weights, codec.file_sha256, codec.info, strict=True)
        ],
    }


def run_eval(args) -> int:
    """``eval-codec --codec compressai``: per point bits/image, MS-SSIM, PSNR, erasures, SU
    accuracy (classifier on the decoded image); the rate table into
    ``OUT/tables/compressai_<arch>_eval.json`` with ``--out``."""
    common.check_data_args(args, out_alone=True)
    import numpy as np

    from semdacom.source_coding.evaluate import evaluate_decoded

    common.threads(2)
    images, labels, meta = _test_images(args, _files(args)[0])
    codec, clf = _codec(args, labels is not None)
    _check_shape(codec, images)
    images = images[: args.n]
    labels = None if labels is None else labels[: args.n]
    rows = evaluate_decoded(codec, images, labels)
    what = DATASET if meta is None else meta["dataset"]
    print(f"{what}: test split, {len(images)} images, real bitstreams ({codec.name})")
    common.print_eval_rows(rows)
    bits = np.array([r["rs_bits"] for r in rows])
    doc = {
        "format": "semdacom-codec-eval/1",
        "codec": codec.name,
        "dataset": DATASET if meta is None else meta["dataset"],
        "split": "test",
        "n_images": len(images),
        "image_shape": list(codec.image_shape),
        "model_sha256": codec.sha256,
        **_files_meta(codec),
        "classifier": None if clf is None else str(clf),
        "made_by": made_by(),
        "bits_span_ratio": float(bits.max() / bits.min()),
        "msssim": "pytorch-msssim, 3 scales, 5-tap Gaussian window sigma 1.0",
        **({} if meta is None else {"data": meta["data"]}),
        "points": rows,
    }
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    if args.out and not args.no_write:
        out = _out(args)
        path = out / "tables" / f"{codec.name}_eval.json"
        common.write_rate_table(path, doc, out)
        print(f"wrote {path}")
    return 0


def run_fit(args) -> int:
    """``fit-distortion --codec compressai``: the three distortion tables of the models into
    ``OUT/tables/compressai_<arch>_{du_msssim,du_mse,su_error}.json`` (su_error with a
    classifier), plots into ``OUT/figures`` (or ``--figures``)."""
    common.check_data_args(args, out_alone=True)
    out = _out(args)
    import numpy as np

    from semdacom.mu_ascc import distortion_fit as dfit

    common.threads(2)
    images, labels, meta = _test_images(args, _files(args)[0])
    codec, clf = _codec(args, labels is not None)
    _check_shape(codec, images)
    if labels is None or clf is None:  # the data user's tables only (labels are not read)
        labels = np.full(len(images), -1, dtype=np.int64)
    if getattr(args, "tasks_dir", None) == "out":
        args.tasks_dir = str(out / "tasks")
    spec = dfit.codec_spec("compressai", [str(p) for p in codec.weights], classifier=clf)
    paths, measures = common.fit_tables(
        args,
        out,
        "fit-distortion",
        spec,
        codec,
        codec.name,
        codec.sha256,
        images=images,
        labels=labels,
        meta=meta,
    )
    extra = {
        **_files_meta(codec),
        "classifier": None if clf is None else str(clf),
        "model_sha256_is": "sha256 of the model file (of the comma-joined sha256 of the files "
        "when there are several)",
        "erasure": "erased images count as the coder's erasure fill (DU); an erased SU label "
        "is -1, i.e. an error",
        **common.fit_meta(args, measures),
    }
    dfit.tabulate_tables(paths, min_r2=args.min_r2, meta=extra)
    dataset = DATASET if meta is None else meta["dataset"]
    common.register_tables(paths, out, dataset, args.figures or out / "figures", named=True)
    return 0
