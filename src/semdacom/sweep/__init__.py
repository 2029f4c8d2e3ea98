#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Sweeps and Monte-Carlo loops as tasks, run on local processes or a Ray cluster.

``run_tasks(name, tasks, fn, engine="local", workers=None, address=None, out_dir=None,
retries=2, progress=True)`` evaluates ``fn(**task.kwargs)`` for every :class:`Task` and returns
the results in task order (see :mod:`.runner` and docs/sweeps.md). ``add_engine_args`` and
``engine_kwargs`` are the shared command-line flags. Importing this package does not import Ray.
"""

from semdacom.sweep.args import add_engine_args, engine_kwargs
from semdacom.sweep.runner import (
    ENGINES,
    SweepError,
    SweepResults,
    Task,
    load_cached,
    run_tasks,
    task_hash,
    tasks_dir,
)

__all__ = [
    "ENGINES",
    "SweepError",
    "SweepResults",
    "Task",
    "add_engine_args",
    "engine_kwargs",
    "load_cached",
    "run_tasks",
    "task_hash",
    "tasks_dir",
]
