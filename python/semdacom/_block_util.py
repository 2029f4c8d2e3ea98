#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Helpers every message-handling block shares (not a block)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pmt

from . import messages

__all__ = ["FrameTx", "guarded"]


def guarded(logger, counts: dict, counter: str, handler: Callable[[Any], None], msg: Any) -> None:
    """Run a handler so that no exception escapes into the scheduler thread."""
    try:
        handler(msg)
    except messages.MessageError as exc:
        counts[counter] += 1
        logger.error(f"dropped message: {exc}")
    except Exception as exc:  # a handler must never kill the thread
        counts[counter] += 1
        logger.error(f"dropped message after {type(exc).__name__}: {exc}")


class FrameTx:
    """The frame a stream-source block is sending: ``(symbols, tags)``, written in chunks.

    The tags (``(key, pmt value)`` pairs) go on the frame's first item.
    """

    def __init__(self) -> None:
        self._frame: tuple[Any, list] | None = None
        self._pos = 0

    @property
    def idle(self) -> bool:
        """No frame is being sent."""
        return self._frame is None

    def start(self, frame: tuple[Any, list]) -> None:
        self._frame, self._pos = frame, 0

    def write(self, block, out) -> tuple[int, bool]:
        """Copy the next chunk into ``out``; returns ``(items written, frame finished)``."""
        sym, tags = self._frame
        if self._pos == 0:
            off = block.nitems_written(0)
            for key, val in tags:
                block.add_item_tag(0, off, pmt.intern(key), val)
        n = min(len(out), sym.size - self._pos)
        out[:n] = sym[self._pos : self._pos + n]
        self._pos += n
        if self._pos >= sym.size:
            self._frame = None
            return n, True
        return n, False
