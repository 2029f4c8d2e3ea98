#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""What profiling (:mod:`.profile`) and evaluation (:mod:`.evaluate`) of the SC-SFMA
transceiver ([2], Sec. II-C, IV-B) share: the fixed Fashion-MNIST test pairs per pair class,
the received-SNR grid, the reconstruction of pairs through a model, and writing a figure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from semdacom.data.datasets import load_fashion_mnist
from semdacom.sc_sfma.model import OVERLAP_CLASS, PAIR_CLASSES
from semdacom.sc_sfma.transceiver.overlap import overlap_pairs
from semdacom.sc_sfma.transceiver.train import PairSampler, images_tensor

__all__ = [
    "EVAL_CLASSES",
    "SNR_GRID",
    "eval_pairs",
    "pyplot",
    "reconstruct",
    "same_label_alternates",
    "save_figure",
]

#: Received SNRs (dB) of the profiling grid.
SNR_GRID = tuple(float(s) for s in range(0, 21, 2))


#: Pair classes of evaluation: content-overlapping pairs (:mod:`.overlap`) beside the label
#: pair classes.
EVAL_CLASSES = (OVERLAP_CLASS, *PAIR_CLASSES)


def eval_pairs(
    n_per_class: int, seed: int = 1234, classes: tuple[str, ...] = PAIR_CLASSES
) -> dict[str, tuple[torch.Tensor, ...]]:
    """Fixed Fashion-MNIST test pairs per class: ``{class: (x_a, x_b, label_a, label_b)}``.

    ``classes`` from :data:`EVAL_CLASSES`. The label classes' pairs do not depend on which
    other classes are asked for; ``"overlap"`` pairs are built from uniformly drawn test images
    (kinds drawn uniformly, :func:`~.overlap.overlap_pairs`), both labels the source's.
    """
    images, labels = load_fashion_mnist("test")
    x = images_tensor(images)
    sampler = PairSampler(labels)
    out = {}
    for cls in classes:
        if cls == OVERLAP_CLASS:
            rng = np.random.default_rng([seed, len(PAIR_CLASSES)])
            src = rng.integers(0, len(x), n_per_class)
            other = rng.integers(0, len(x), n_per_class)
            xa, xb, _ = overlap_pairs(x[src], rng, partners=x[other])
            lab = torch.from_numpy(labels[src])
            out[cls] = (xa, xb, lab, lab.clone())
            continue
        if cls not in PAIR_CLASSES:
            raise ValueError(f"pair class must be one of {EVAL_CLASSES}, got {cls!r}")
        rng = np.random.default_rng([seed, PAIR_CLASSES.index(cls)])
        ia, ib, _ = sampler.sample(n_per_class, rng, cls)
        out[cls] = (x[ia], x[ib], torch.from_numpy(labels[ia]), torch.from_numpy(labels[ib]))
    return out


def same_label_alternates(
    labels_a, labels_b, seed: int = 4321
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each pair, other test images with the same labels as ``x_a`` and ``x_b``
    (never the same image): the swaps of the interventional xi measurement
    (sc_sfma/transceiver/profile.py).
    """
    images, labels = load_fashion_mnist("test")
    x = images_tensor(images)
    rng = np.random.default_rng(seed)
    by_label = {c: np.flatnonzero(labels == c) for c in range(10)}
    out = []
    for lab in (labels_a, labels_b):
        idx = np.array([by_label[int(c)][rng.integers(len(by_label[int(c)]))] for c in lab])
        out.append(x[idx])
    return out[0], out[1]


@torch.no_grad()
def reconstruct(model, xa, xb, nu: float, snr_db: float, seed: int = 0, batch: int = 256):
    """Both users' reconstructions of pairs ``(x_a, x_b)`` at ratio ``nu`` and received SNR
    ``snr_db`` (both users), with noise seeded by ``seed``."""
    dev = next(model.parameters()).device
    g = torch.Generator().manual_seed(int(seed))
    outs_a, outs_b = [], []
    for i in range(0, len(xa), batch):
        a, b = xa[i : i + batch].to(dev), xb[i : i + batch].to(dev)
        ha, hb = model(a, b, nu, float(snr_db), generator=g)
        outs_a.append(ha.cpu())
        outs_b.append(hb.cpu())
    return torch.cat(outs_a), torch.cat(outs_b)


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (figures go to files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi: int) -> Path:
    """Lay out ``fig``, write it to ``path`` (parent folders made) and close it."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path
