#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""src/semdacom/data/manifest.json: a JSON list of {file, sha256, made_by, dataset, metric}."""

from __future__ import annotations

import json
import os
from pathlib import Path

from semdacom.data import checkout_data_dir, file_sha256

__all__ = ["default_data_dir", "update_manifest"]


def default_data_dir() -> Path:
    """The checkout's src/semdacom/data when run from the repository root, else the package's."""
    return checkout_data_dir()


def update_manifest(
    data_dir: str | Path, file: str | Path, *, made_by: str, dataset: str, metric: str
) -> dict:
    """Add or replace the entry of ``file`` (a path inside ``data_dir``); returns the entry.

    Other entries (other engineers' files) are kept as they are, in their order.
    """
    data_dir = Path(data_dir)
    path = Path(file)
    rel = path.resolve().relative_to(data_dir.resolve()).as_posix()
    manifest = data_dir / "manifest.json"
    entries = json.loads(manifest.read_text()) if manifest.exists() else []
    if not isinstance(entries, list):
        raise ValueError(f"{manifest} must hold a JSON list")
    entry = {
        "file": rel,
        "sha256": file_sha256(path),
        "made_by": made_by,
        "dataset": dataset,
        "metric": metric,
    }
    for i, old in enumerate(entries):
        if isinstance(old, dict) and old.get("file") == rel:
            entries[i] = entry
            break
    else:
        entries.append(entry)
    tmp = manifest.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(entries, indent=1) + "\n")
    os.replace(tmp, manifest)
    return entry
