#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Torch's intra-op threads in a flowgraph's block threads (issue 23).

A flowgraph runs its blocks in parallel, one thread each; torch would also split every call of a
learned block over ``torch.get_num_threads()`` OpenMP threads (all the cores), and on the small
batches of a receiver (one image per frame) those threads mostly spin: the MS-SSIM of one 28x28
image took 2.4 ms of CPU on two threads and 1.06 ms on one (2-core test machine, the same wall
time), and the user receiver (bench/user_rx.py) lost 1.5 ms of CPU per burst in metrics_sink
alone. :func:`block_thread` gives the calling thread ``SEMDACOM_TORCH_THREADS`` intra-op threads
(default 1), once per thread and only once torch is loaded: every message handler of a
``plumbing.base.Block`` and every ``PduWorker`` calls it. The thread that built the flowgraph
(a script's or a test's main thread) keeps its own setting; threads started later take torch's
default, which the first call has set too. Set ``SEMDACOM_TORCH_THREADS`` higher to give one
large learned block the cores (a GPU is unaffected).
"""

from __future__ import annotations

import os
import sys
import threading

__all__ = ["ENV", "block_thread", "threads_wanted"]

#: the environment variable: torch intra-op threads per block thread (default 1)
ENV = "SEMDACOM_TORCH_THREADS"

_local = threading.local()


def threads_wanted() -> int:
    """``SEMDACOM_TORCH_THREADS`` as a positive integer; 1 when unset or not one."""
    try:
        return max(1, int(os.environ.get(ENV, "1")))
    except ValueError:
        return 1


def block_thread() -> None:
    """Give the calling block thread :func:`threads_wanted` torch intra-op threads, once (a
    no-op until torch is imported, so blocks without torch never load it)."""
    if getattr(_local, "done", False) or threading.current_thread() is threading.main_thread():
        return  # the main thread built the flowgraph (a script, a test): it keeps its setting
    torch = sys.modules.get("torch")
    if torch is None:
        return
    _local.done = True
    n = threads_wanted()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
