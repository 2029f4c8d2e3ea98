#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Fashion-MNIST loading (idx files read with numpy and gzip; no torchvision download)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

__all__ = ["DATASET_DIR", "load_fashion_mnist", "read_idx"]

#: Where the Debian package ``dataset-fashion-mnist`` puts the files (override with the
#: environment variable ``SEMDACOM_FASHION_MNIST``).
DATASET_DIR = Path(os.environ.get("SEMDACOM_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_CACHE: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an idx file (optionally gzip-compressed) into a numpy array.

    The idx format: two zero bytes, a type code (0x08 = uint8), the number of dimensions,
    then one big-endian uint32 per dimension and the data.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an idx file")
    if raw[2] != 0x08:
        raise ValueError(f"{path}: only uint8 idx files are supported, type code {raw[2]:#x}")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    start = 4 + 4 * ndim
    count = int(np.prod(dims))
    if len(raw) - start != count:
        raise ValueError(f"{path}: expected {count} data bytes, found {len(raw) - start}")
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(dims)


def load_fashion_mnist(
    split: str = "test", root: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, 28, 28)`` uint8 and labels ``(n,)`` int64 of a Fashion-MNIST split.

    Parameters
    ----------
    split : {"train", "test"}
        60,000 training or 10,000 test images.
    root : path, optional
        Folder holding the four ``*.gz`` idx files (default :data:`DATASET_DIR`).
    """
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root) if root is not None else DATASET_DIR
    key = (str(root), split)
    if key not in _CACHE:
        img_name, lbl_name = _FILES[split]
        images = read_idx(root / img_name)
        labels = read_idx(root / lbl_name).astype(np.int64)
        if images.ndim != 3 or labels.shape != (images.shape[0],):
            raise ValueError(f"{root}: inconsistent {split} files")
        _CACHE[key] = (images, labels)
    images, labels = _CACHE[key]
    return images, labels
