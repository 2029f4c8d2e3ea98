#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""One BLAS thread for small linear algebra (threadpoolctl).

Many of our systems are tiny (tens of unknowns: a burst's channel taps, an MMSE equaliser).
With OpenBLAS's threads they cost milliseconds on a loaded machine -- measured on this 2-core
machine under load: a 24x24 complex solve 6.5 ms with two BLAS threads, 20 us with one (and
380 us by Gauss-Jordan elimination in numpy, what the equaliser used before). :func:`one_thread`
limits every BLAS library loaded in the process to one thread for the duration of a ``with``
block and restores the previous setting after it. The limit is process-wide while it lasts
(OpenBLAS has one setting): a thread that enters while another is inside gets the limit too;
one that leaves restores what it found, so two overlapping blocks may leave a solve threaded
for a moment -- a question of speed, never of results.
"""

from __future__ import annotations

import contextlib

__all__ = ["one_thread"]

_CONTROLLER = None


def one_thread():
    """Context manager: BLAS on one thread inside it (a no-op without threadpoolctl)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            _CONTROLLER = False
        else:
            _CONTROLLER = ThreadpoolController().select(user_api="blas")
    if _CONTROLLER is False:
        return contextlib.nullcontext()
    return _CONTROLLER.limit(limits=1)
