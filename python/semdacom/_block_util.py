#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Helpers every message-handling block shares (not a block)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import messages

__all__ = ["guarded"]


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
