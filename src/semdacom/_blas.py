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
import sys
from collections.abc import Iterator

__all__ = ["one_thread"]

_LIBS: list | None = None
_LIBS_AT = -1  # len(sys.modules) when _LIBS was found


def _blas_libs() -> list:
    """threadpoolctl's controllers of the BLAS libraries loaded in the process, found again
    only when modules were imported since (a new extension module may bring its own BLAS, as
    torch or scipy do): the search walks the process's shared libraries, far dearer than a
    solve, and in a running flowgraph the imports are over."""
    global _LIBS, _LIBS_AT
    if _LIBS is None or len(sys.modules) != _LIBS_AT:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            _LIBS = []
        else:
            _LIBS = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        _LIBS_AT = len(sys.modules)
    return _LIBS


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Context manager: BLAS on one thread inside it (a no-op without threadpoolctl).

    Each library's setting is read and changed only where it is not 1 already, and put back
    after the block: about 1 us when BLAS already runs one thread (``OPENBLAS_NUM_THREADS=1``,
    a flowgraph's other block inside its own ``with``), against about 9 us for threadpoolctl's
    ``limit()``, which re-reads every library's information on each entry (measured on this
    2-core machine; the equaliser enters this some 14 times per burst)."""
    changed = []
    try:
        for lib in _blas_libs():
            n = lib.get_num_threads()
            if n is not None and n != 1:
                _set_threads(lib, 1)
                changed.append((lib, n))
        yield
    finally:
        for lib, n in reversed(changed):
            _set_threads(lib, n)


def _set_threads(lib, n: int) -> None:
    """Set ``lib``'s thread count. threadpoolctl (3.5 on) lets only one live thread change an
    OpenBLAS with its own thread pool and ignores the others; in a flowgraph every block has
    its thread, so the first block to enter would have been the only one limited (and a test
    thread after a flowgraph's none: CI). The library's own setter is called instead; the
    process-wide effect is the one this module describes."""
    setter = getattr(lib, "_real_set_num_threads", None)
    (setter if callable(setter) else lib.set_num_threads)(n)
