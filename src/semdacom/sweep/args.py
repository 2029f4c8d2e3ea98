#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The command-line flags every sweep shares: ``--engine``, ``--address``, ``--workers``,
``--tasks-dir`` (docs/sweeps.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from semdacom.sweep.runner import ENGINES

__all__ = ["add_engine_args", "engine_kwargs"]


def _workers(text: str) -> int:
    try:
        v = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from exc
    if v < 0:
        raise argparse.ArgumentTypeError("--workers must be >= 0")
    return v


def add_engine_args(parser: argparse.ArgumentParser, *, tasks_dir: str | None = "out") -> None:
    """Add ``--engine {local,ray}``, ``--address``, ``--workers`` and (unless ``tasks_dir`` is
    None) ``--tasks-dir`` (finished tasks kept in ``<dir>/<sweep>/tasks``; '' keeps none)."""
    g = parser.add_argument_group("sweep engine (docs/sweeps.md)")
    g.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local: processes on this machine (default); ray: a Ray cluster",
    )
    g.add_argument(
        "--address",
        default=None,
        help="Ray cluster to join (HEAD:6379, or 'auto' for the one this node belongs to); "
        "without it --engine ray starts a local cluster for the run",
    )
    g.add_argument(
        "--workers",
        type=_workers,
        default=None,
        help="parallel tasks (default: every CPU of this machine or of the local Ray cluster; "
        "with --address: at most this many at a time; local 0 = in this process)",
    )
    if tasks_dir is not None:
        g.add_argument(
            "--tasks-dir",
            default=str(tasks_dir),
            help="keep finished tasks in DIR/<sweep>/tasks and resume from them "
            f"(default {tasks_dir}; '' keeps none)",
        )


def engine_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``run_tasks`` keyword arguments from the flags of :func:`add_engine_args`."""
    out: dict[str, Any] = {
        "engine": getattr(args, "engine", "local"),
        "workers": getattr(args, "workers", None),
        "address": getattr(args, "address", None),
    }
    if out["engine"] == "local" and out["address"]:
        raise SystemExit("--address needs --engine ray")
    tdir = getattr(args, "tasks_dir", None)
    out["out_dir"] = None if tdir is None or str(tdir) == "" else Path(tdir)
    return out
