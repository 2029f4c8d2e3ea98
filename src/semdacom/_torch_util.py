#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Small torch helpers shared by the trainers (:mod:`.train`, :mod:`.djscc`) and the loaders of
the learned models the blocks share (:func:`resolve_device`: the blocks' ``device``)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

__all__ = ["DEVICES", "default_device", "resolve_device", "save_atomic"]

#: The values of a learned block's ``device`` parameter (issue 23); ``cuda:N`` is accepted too.
DEVICES = ("auto", "cpu", "cuda")


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device=None) -> torch.device:
    """The torch device a learned model runs on, from a block's ``device`` parameter (issue
    23): ``"auto"`` (also ``""`` or None) is CUDA when ``torch.cuda.is_available()``, else the
    CPU; ``"cpu"``; ``"cuda"`` or ``"cuda:N"`` only where that GPU exists. A
    :class:`torch.device` is checked the same way. Anything else raises ``ValueError`` with the
    reason: a flowgraph that asks for a GPU the machine lacks fails when it is built, not
    halfway through a run."""
    if device is None or (isinstance(device, str) and device.strip() in ("", "auto")):
        return resolve_device(default_device())
    try:
        dev = torch.device(device.strip() if isinstance(device, str) else device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"device must be one of {DEVICES} or 'cuda:N', got {device!r}") from exc
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type != "cuda":
        raise ValueError(f"device must be one of {DEVICES} or 'cuda:N', got {device!r}")
    if not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r}: CUDA is not available here (torch.cuda.is_available() is "
            "False); use 'auto' or 'cpu'"
        )
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(
            f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
    # "cuda" is the current GPU: named by its index, so that the blocks' caches keyed by the
    # device hold one model per GPU, not one for "cuda" and one for "cuda:0"
    return dev if dev.index is not None else torch.device("cuda", torch.cuda.current_device())


def save_atomic(obj: dict, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
