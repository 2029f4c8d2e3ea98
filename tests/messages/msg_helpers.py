"""Shared helpers of the message tests: unit-norm beams and raw PMT allocation entries."""

from __future__ import annotations

import numpy as np
import pmt


def unit_rows(rng: np.random.Generator, k: int, n_t: int) -> np.ndarray:
    w = rng.standard_normal((k, n_t)) + 1j * rng.standard_normal((k, n_t))
    return w / np.linalg.norm(w, axis=1, keepdims=True)


def alloc_dict(**entries: object) -> object:
    """An allocation dictionary from raw PMT values (``seq`` added unless given)."""
    d = pmt.make_dict()
    entries.setdefault("seq", pmt.from_uint64(1))
    for key, value in entries.items():
        if value is not None:
            d = pmt.dict_add(d, pmt.intern(key), value)
    return d


def f64(values: object) -> object:
    arr = np.asarray(values, dtype=np.float64)
    return pmt.init_f64vector(arr.size, arr.tolist())


def c64(values: object) -> object:
    arr = np.asarray(values, dtype=np.complex128).reshape(-1)
    return pmt.init_c64vector(arr.size, arr.tolist())


def s32(values: object) -> object:
    arr = np.asarray(values, dtype=np.int32)
    return pmt.init_s32vector(arr.size, arr.tolist())
