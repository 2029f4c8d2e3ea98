#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Parameter checks of the blocks' constructors (each raises ValueError with the reason) and the
short text of a message for the log.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pmt

__all__ = ["check_choice", "check_even_k", "check_finite", "check_int", "describe", "is_user"]


def describe(msg: Any) -> str:
    """Short text of a message for the log (never fails)."""
    try:
        text = pmt.write_string(msg) if isinstance(msg, pmt.pmt_base) else type(msg).__name__
    except Exception:  # a description must never fail
        text = type(msg).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def check_int(name: str, value: Any, lo: int = 0, hi: int | None = None) -> int:
    """A block parameter that must be an integer in ``[lo, hi]``; raises ValueError."""
    ok = not isinstance(value, bool)
    try:
        ok = ok and int(value) == value
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be an integer {rng}, got {value!r}")
    return int(value)


def check_finite(name: str, value: Any, lo: float | None = None) -> float:
    """A block parameter that must be a finite real (``>= lo`` when given); raises ValueError."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = math.nan
    if isinstance(value, bool) or not math.isfinite(out) or (lo is not None and out < lo):
        extra = "" if lo is None else f" and >= {lo}"
        raise ValueError(f"{name} must be finite{extra}, got {value!r}")
    return out


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """A block parameter that must be one of ``choices``; raises ValueError."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def is_user(value: Any, user: int) -> bool:
    """``value`` (a meta or tag entry) names user ``user``: an integer equal to it, not a bool,
    an array or anything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value == user


def check_even_k(k: Any) -> int:
    """The user count ``K`` of an SC-SFMA block: an even integer >= 2; raises ValueError."""
    k = check_int("k", k, 2)
    if k % 2:
        raise ValueError(f"k must be even, got {k}")
    return k
