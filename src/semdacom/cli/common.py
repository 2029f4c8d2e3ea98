"""Helpers every ``semdacom`` subcommand uses: provenance, data folder, torch threads, and the
``--data`` options of the codec commands (your own labelled folder, docs/your_images.md)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

__all__ = [
    "UsageError",
    "add_data_args",
    "arg_values",
    "check_data_args",
    "data_dir",
    "data_options",
    "fit_meta",
    "fit_tables",
    "folder_split",
    "made_by",
    "print_eval_rows",
    "register_tables",
    "threads",
    "write_rate_table",
]

#: ``--size``, ``--mode``, ``--fit``, ``--test-every`` when neither given nor in the weights.
DATA_DEFAULTS = {"size": 28, "mode": "L", "fit": "crop", "test_every": 5}


class UsageError(Exception):
    """A command line that cannot run; ``semdacom`` prints it on one line and exits with 2."""


def arg_values(args, *names: str) -> dict:
    """``{name: args.name}`` for the options a command hands on unchanged as keywords."""
    return {n: getattr(args, n) for n in names}


def made_by() -> str:
    """The command line that made an output (its ``made_by`` field)."""
    return "semdacom " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def data_dir(args) -> Path:
    """``--out`` with ``--data`` (your own folder's weights and tables), else ``--data-dir``,
    else :func:`semdacom.data.manifest.default_data_dir`."""
    from semdacom.data.manifest import default_data_dir

    if getattr(args, "data", None):
        return Path(args.out).expanduser()
    return Path(args.data_dir) if args.data_dir else default_data_dir()


def add_data_args(p, *, from_weights: bool = False) -> None:
    """``--data``, ``--out``, ``--size``, ``--mode``, ``--fit``, ``--test-every``.

    ``from_weights``: the command reads a codec, whose weights remember the options they were
    trained with (the defaults then)."""
    from semdacom.data.folder import FITS, MODES

    d = DATA_DEFAULTS
    saved = "the weights' options, else " if from_weights else ""
    g = p.add_argument_group("your own images instead of Fashion-MNIST (docs/your_images.md)")
    g.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="a folder of images, labelled by sub-folder (DIR/<class>/<image>), or an .npz "
        "(semdacom.data.folder.ImageFolder)",
    )
    g.add_argument(
        "--out",
        metavar="OUT",
        default=None,
        help="with --data (required): weights go to OUT/weights, tables to OUT/tables (and are "
        "read from there), checkpoints to OUT/ckpt",
    )
    g.add_argument(
        "--size", type=int, default=None, help=f"image side (default: {saved}{d['size']})"
    )
    g.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help=f"L: grayscale, RGB: colour (default: {saved}{d['mode']})",
    )
    g.add_argument(
        "--fit",
        choices=FITS,
        default=None,
        help=f"how an image becomes size x size (default: {saved}{d['fit']})",
    )
    g.add_argument(
        "--test-every",
        type=int,
        default=None,
        metavar="N",
        help="every N-th image of each class is held out as the test split, the rest is the "
        f"training split (default: {saved}{d['test_every']})",
    )


def check_data_args(args, *, out_alone: bool = False) -> None:
    """UsageError for ``--data`` without ``--out`` (the shipped data folder is never written
    by a run on your images), the folder options without ``--data``, or a missing folder.
    ``out_alone``: ``--out`` may come without ``--data`` (a CompressAI coder on Fashion-MNIST:
    its files go to OUT all the same)."""
    opts: tuple[str, ...] = ("size", "mode", "fit", "test_every")
    if not out_alone:
        opts = ("out", *opts)
    if not getattr(args, "data", None):
        given = [f"--{k.replace('_', '-')}" for k in opts if getattr(args, k, None) is not None]
        if given:
            verb = "goes" if len(given) == 1 else "go"
            raise UsageError(f"{', '.join(given)} {verb} with --data DIR")
        return
    if not args.out:
        raise UsageError(
            "--data needs --out OUT, the folder for the weights and tables of your images "
            "(the shipped ones are never overwritten)"
        )
    if getattr(args, "data_dir", None):
        raise UsageError("--data-dir is the shipped data folder; with --data use --out")
    if not Path(args.data).expanduser().exists():
        raise UsageError(f"--data {args.data}: no such folder or .npz file")
    if args.size is not None and args.size < 1:
        raise UsageError(f"--size must be >= 1, got {args.size}")
    if args.test_every is not None and args.test_every < 2:
        raise UsageError(f"--test-every must be >= 2, got {args.test_every}")


def data_options(args, weights: Path | None = None) -> dict:
    """``size``, ``mode``, ``fit``, ``test_every``: as given, else as saved with ``weights``
    (the ``data`` entry and ``image_shape`` of a file trained with ``--data``), else
    :data:`DATA_DEFAULTS`."""
    saved: dict = {}
    if weights is not None and Path(weights).is_file():
        import torch

        doc = torch.load(Path(weights), map_location="cpu", weights_only=False)
        saved = dict(doc.get("data") or {})
        shape = doc.get("image_shape")
        if shape is not None:
            saved.setdefault("size", int(shape[-1]))
            saved.setdefault("mode", "L" if int(shape[0]) == 1 else "RGB")
    out = {}
    for key, default in DATA_DEFAULTS.items():
        given = getattr(args, key, None)
        out[key] = given if given is not None else saved.get(key, default)
    return out


def folder_split(args, split: str, opts: dict, *, labelled: bool = False):
    """Images and labels of the ``split`` of ``--data`` (:func:`semdacom.data.folder.load_split`
    with ``opts``); unreadable files are skipped with a note on stderr. ``labelled``: keep only
    images with a class (label >= 0). Returns ``(images, labels, meta)``, ``meta`` the
    ``dataset`` name (the folder's path) and the ``data`` options written with the results."""
    import numpy as np

    from semdacom.data.folder import load_split

    root = Path(args.data).expanduser().resolve()
    bad: list[str] = []
    try:
        images, labels = load_split(root, split, unreadable=bad, **opts)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if bad:
        print(f"{root}: skipped {len(bad)} unreadable file(s), e.g. {bad[0]}", file=sys.stderr)
    if labelled:
        keep = labels >= 0
        if not keep.all():
            n_out = int((~keep).sum())
            print(f"{root}: {n_out} {split} image(s) without a class left out", file=sys.stderr)
        images, labels = images[keep], labels[keep]
    if len(images) == 0:
        raise UsageError(
            f"{root}: the {split} split has no images"
            + (" with a class" if labelled else "")
            + f" (every {opts['test_every']}-th image of each class is a test image; "
            "see --test-every)"
        )
    meta = {
        "dataset": str(root),
        "data": {"folder": str(root), **opts},
        "split": split,
    }
    return images, np.asarray(labels, dtype=np.int64), meta


def threads(default: int = 1) -> None:
    """torch's intra-op threads: ``SEMDACOM_THREADS`` or ``default``."""
    import torch

    torch.set_num_threads(max(1, int(os.environ.get("SEMDACOM_THREADS", str(default)))))


def fit_tables(
    args,
    data: Path,
    name: str,
    spec,
    codec,
    codec_name: str,
    model_sha256: str,
    *,
    images=None,
    labels=None,
    meta: dict | None = None,
):
    """Measure a codec's distortion over the first ``args.n`` test images (one sweep task per
    operating point, :mod:`semdacom.mu_ascc.distortion_fit`) and write its DU/SU tables into
    ``data / "tables"``; returns ``(paths, measures)``. ``images``/``labels``: the test images
    (default Fashion-MNIST's test split); ``meta`` (``dataset``, ...) goes into the tables."""
    from semdacom.mu_ascc import distortion_fit as dfit
    from semdacom.sweep import engine_kwargs, run_tasks

    if images is None:
        from semdacom.data.datasets import load_fashion_mnist

        images, labels = load_fashion_mnist("test")
    images, labels = images[: args.n], labels[: args.n]
    grid = dfit.default_grid(args.points)
    tasks = dfit.measure_tasks(
        spec, images, labels, grid, trials=args.trials, seed=args.seed, rates=range(codec.levels)
    )
    measures = list(run_tasks(name, tasks, dfit.measure_point, **engine_kwargs(args)))
    paths = dfit.write_tables(
        measures,
        data / "tables",
        codec_name=codec_name,
        model_sha256=model_sha256,
        made_by=made_by(),
        image_shape=codec.image_shape,
        n_images=len(images),
        **({} if meta is None else {"dataset": meta["dataset"], "meta": meta}),
    )
    return paths, measures


def print_eval_rows(rows: list[dict]) -> None:
    """``eval-codec``'s table: per operating point bits/image, bpp, MS-SSIM, PSNR, SU accuracy."""
    hdr = f"{'point':>5} {'bits/image':>11} {'bpp':>6} {'MS-SSIM':>8} {'PSNR dB':>8} {'SU acc':>7}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        acc = f"{r['su_accuracy']:.4f}" if "su_accuracy" in r else "   -  "
        print(
            f"{r['index']:>5} {r['rs_bits']:>11.1f} {r['bpp']:>6.3f} {r['msssim']:>8.4f} "
            f"{r['psnr_db']:>8.2f} {acc:>7}"
        )


def write_rate_table(path: Path, doc: dict, data: Path) -> None:
    """Write ``eval-codec``'s document (its ``points`` carry ``rs_bits``) to ``path`` and list
    it in ``data``'s manifest as the rate table R_s."""
    import json

    from semdacom.data.manifest import update_manifest

    bits = [r["rs_bits"] for r in doc["points"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    update_manifest(
        data,
        path,
        made_by=made_by(),
        dataset=doc["dataset"],
        metric=f"rate table R_s: {min(bits):.0f}..{max(bits):.0f} bits/image "
        f"({max(bits) / min(bits):.1f}x)",
    )


def fit_meta(args, measures) -> dict:
    """What a tabulated fit's tables record of the measurement: the erasure rate per point,
    the seed and the noise draws."""
    return {
        "erasure_rate": {
            str(m.index): {"log10_ber": m.log10_ber, "rate": m.curves["erasure"]} for m in measures
        },
        "seed": args.seed,
        "trials": args.trials,
    }


def register_tables(paths, data: Path, dataset: str, figures, *, named: bool = False) -> None:
    """List the distortion tables ``paths`` (written by :func:`fit_tables`) in ``data``'s
    manifest with their fit quality, print it, and plot them into ``figures``. ``named``: the
    tables name their fitted model (logistic or tabulated: ``tabulate_tables``)."""
    import json

    from semdacom.data.manifest import update_manifest
    from semdacom.mu_ascc import distortion_fit as dfit

    for p in paths:
        doc = json.loads(Path(p).read_text())
        fit = f"min R^2 {doc['min_r2']:.4f} over {len(doc['points'])} points"
        metric = f"{doc['model']}; logistic {fit}" if named else fit
        update_manifest(data, p, made_by=made_by(), dataset=dataset, metric=metric)
        model = f"model {doc['model']}, logistic " if named else ""
        print(f"{p}: {model}min R^2 = {doc['min_r2']:.4f}")
    plot = dfit.plot_named_tables if named else dfit.plot_tables
    for png in plot(paths, figures):
        print(f"wrote {png}")
