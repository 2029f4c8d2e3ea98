"""Helpers of the optimiser tests: problems on synthetic tables (clearly labelled as such)."""

from __future__ import annotations

import functools

import numpy as np

from semdacom.mu_ascc import distortion as dist
from semdacom.mu_ascc.optimizer.problem import Problem
from semdacom.phy import beamforming as bf
from semdacom.phy import fbl, link

T_PAPERLIKE = 784 * 0.6  # channel uses per 28x28 image (bandwidth ratio 0.6)


@functools.cache
def _synthetic(task: str, seed: int) -> dist.DistortionTable:
    """One shared table object per (task, seed): the fast solver's lookup is built once per
    table set (as in the optimiser block), so problems that share tables share it."""
    return dist.synthetic_table(task, seed=seed)


def random_channel(rng: np.random.Generator, k: int, n_t: int) -> np.ndarray:
    return (rng.standard_normal((k, n_t)) + 1j * rng.standard_normal((k, n_t))) / np.sqrt(2)


def make_problem(
    H: np.ndarray | None = None, p_max: float = 3.0, L: int = 256, k: int = 2, **kw
) -> Problem:
    H = bf.paper_channel() if H is None else H
    k = H.shape[0]
    tables = [_synthetic("du" if i % 2 == 0 else "su", i + 1) for i in range(k)]
    weights = np.where(np.arange(k) % 2 == 0, 0.8, 0.2)
    return Problem(H, kw.pop("noise_var", 1.0), tables, weights, p_max, T_PAPERLIKE, L, **kw)


class ShiftedLink(link.LinkModel):
    """A code 3 dB better than random coding (stands in for a tabulated link)."""

    name = "shifted"

    def log10_ber(self, sinr, rc, L):
        return fbl.log10_ber(2.0 * np.asarray(sinr), rc, L)

    def log10_ber_and_grad(self, sinr, rc, L):
        v, dg, drc = fbl.log10_ber_and_grad(2.0 * np.asarray(sinr), rc, L)
        return v, 2.0 * dg, drc
