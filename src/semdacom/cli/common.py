"""Helpers every ``semdacom`` subcommand uses: provenance, data folder, torch threads."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

__all__ = ["data_dir", "made_by", "threads"]


def made_by() -> str:
    """The command line that made an output (its ``made_by`` field)."""
    return "semdacom " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def data_dir(args) -> Path:
    """``--data-dir``, else :func:`semdacom.data.manifest.default_data_dir`."""
    from semdacom.data.manifest import default_data_dir

    return Path(args.data_dir) if args.data_dir else default_data_dir()


def threads(default: int = 1) -> None:
    """torch's intra-op threads: ``SEMDACOM_THREADS`` or ``default``."""
    import torch

    torch.set_num_threads(max(1, int(os.environ.get("SEMDACOM_THREADS", str(default)))))


def fit_tables(args, data: Path, name: str, spec, codec, codec_name: str, model_sha256: str):
    """Measure a codec's distortion over the first ``args.n`` test images (one sweep task per
    operating point, :mod:`semdacom.mu_ascc.distortion_fit`) and write its DU/SU tables into
    ``data / "tables"``; returns ``(paths, measures)``."""
    from semdacom.data.datasets import load_fashion_mnist
    from semdacom.mu_ascc import distortion_fit as dfit
    from semdacom.sweep import engine_kwargs, run_tasks

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
    )
    return paths, measures
