#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The shipped weights and tables: one registry for every module that reads or writes them.

``src/semdacom/data/`` holds ``weights/`` (torch state dicts), ``tables/`` (fitted distortion,
link and interference tables, JSON) and ``manifest.json`` (file, sha256, what made it, data
set, metric; :mod:`semdacom.data.manifest`). Code asks for a file by name
(:func:`weights_path`, :func:`table_path`) and never computes the folder itself.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = [
    "DATA_DIR",
    "TABLES_DIR",
    "WEIGHTS_DIR",
    "checkout_data_dir",
    "file_sha256",
    "table_path",
    "weights_path",
]

#: The installed package's data folder.
DATA_DIR = Path(__file__).resolve().parent
WEIGHTS_DIR = DATA_DIR / "weights"
TABLES_DIR = DATA_DIR / "tables"


def weights_path(name: str) -> Path:
    """A shipped weights file, e.g. ``weights_path("hyperprior_vbr.pt")`` (may not exist)."""
    return WEIGHTS_DIR / name


def table_path(name: str) -> Path:
    """A shipped table, e.g. ``table_path("link_L256.json")`` (may not exist)."""
    return TABLES_DIR / name


def checkout_data_dir() -> Path:
    """Where training and fitting commands write: the working tree's ``src/semdacom/data``
    when run from the repository root (so the results can be committed), else the package's."""
    local = Path.cwd() / "src" / "semdacom" / "data"
    return local if local.is_dir() else DATA_DIR


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, hex (the manifest's and the tables' model checks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
