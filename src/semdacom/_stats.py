#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Bootstrap intervals of the controlled comparisons (numpy only).

The learned models are compared over several training seeds on fixed test sets, so a difference
has two sources of spread: which seeds were trained and which test items were drawn.
:func:`bootstrap_ci` resamples both levels (seeds with replacement, then items), the
hierarchical bootstrap; :func:`bootstrap_diff_ci` does it for the difference between two such
gains measured on different item sets (paired over seeds, items resampled apart). scipy's
``scipy.stats.bootstrap`` has no two-level resampling, hence these few lines. Percentile
intervals; fixed generator seeds, so a result is reproducible.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bootstrap_ci", "bootstrap_diff_ci"]


def _as_2d(x, name: str) -> np.ndarray:
    d = np.asarray(x, dtype=np.float64)
    if d.ndim != 2 or d.size == 0:
        raise ValueError(f"{name} must be (seeds, items), got shape {d.shape}")
    return d


def _interval(means: np.ndarray, level: float) -> list[float]:
    lo, hi = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return [float(lo), float(hi)]


def bootstrap_ci(diffs, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Mean and two-level percentile bootstrap interval of per-seed, per-item differences
    ``diffs`` ``(seeds, items)``: seeds are resampled with replacement, then items. With one
    seed it is the ordinary bootstrap over items. Returns ``{"mean", "ci95": [lo, hi]}``."""
    d = _as_2d(diffs, "diffs")
    rng = np.random.default_rng(seed)
    s, n = d.shape
    means = np.empty(n_boot)
    for b in range(n_boot):
        rows = d[rng.integers(0, s, s)]
        cols = rng.integers(0, n, n)
        means[b] = rows[:, cols].mean()
    return {"mean": float(d.mean()), "ci95": _interval(means, level)}


def bootstrap_diff_ci(a, b, n_boot: int = 2000, seed: int = 1, level: float = 0.95) -> dict:
    """``mean(a) - mean(b)`` for two ``(seeds, items)`` arrays with the same seeds but their own
    items (e.g. a gain on overlapping pairs minus the gain on dissimilar pairs), with a
    two-level percentile bootstrap interval: the same seeds are drawn for both (paired over
    seeds), each array's items apart. Returns ``{"mean", "ci95": [lo, hi]}``."""
    a, b = _as_2d(a, "a"), _as_2d(b, "b")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b need the same seeds, got {a.shape[0]} and {b.shape[0]}")
    rng = np.random.default_rng(seed)
    k = a.shape[0]
    boots = np.empty(n_boot)
    for i in range(n_boot):
        rows = rng.integers(0, k, k)
        ia = rng.integers(0, a.shape[1], a.shape[1])
        ib = rng.integers(0, b.shape[1], b.shape[1])
        boots[i] = a[rows][:, ia].mean() - b[rows][:, ib].mean()
    return {"mean": float(a.mean() - b.mean()), "ci95": _interval(boots, level)}
