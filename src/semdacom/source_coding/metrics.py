#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Distortion metrics of the data users: 1-MS-SSIM (MU-ASCC [1], eq. 2/9), MSE and PSNR.

MS-SSIM (pytorch-msssim) is fitted to small images: the standard 5-scale, 11-tap version needs
sides above 160 pixels. For an image whose shorter side is ``s`` we use the largest number of
scales ``L <= 5`` with ``s > (win - 1) * 2**(L - 1)``, a Gaussian window of ``win = 5`` taps with
sigma 1.0 (the standard 11/1.5 scaled to the smaller image), and the first ``L`` standard scale
weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333) renormalised to sum 1. For 28x28 this is
L = 3 scales (28, 14, 7 pixels) with weights (0.0709, 0.4520, 0.4771). Images are in [0, 1]
(data range 1).

pytorch-msssim's ``ms_ssim`` asserts room for 4 down-samplings whatever the weights, so
:func:`msssim` runs the same algorithm (its ``_ssim`` per scale, ReLU on the contrast terms,
2x2 average pooling between scales, weighted product) with the fitted number of scales.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim

__all__ = ["MSSSIM_WEIGHTS", "msssim_config", "msssim", "mse", "psnr_from_mse"]

MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WIN_SIZE = 5
WIN_SIGMA = 1.0


def msssim_config(h: int, w: int) -> dict:
    """Window, sigma and scale weights used for ``h x w`` images (see the module docstring)."""
    side = min(h, w)
    levels = 1
    for lv in range(5, 0, -1):
        if side > (WIN_SIZE - 1) * 2 ** (lv - 1):
            levels = lv
            break
    weights = np.asarray(MSSSIM_WEIGHTS[:levels])
    weights = weights / weights.sum()
    return {"win_size": WIN_SIZE, "win_sigma": WIN_SIGMA, "weights": weights.tolist()}


def _t(x) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x, dtype=np.float32))
    t = t.to(torch.float32)
    if t.ndim == 3:
        t = t[:, None]
    return t


@torch.no_grad()
def msssim(x, y, batch: int = 2000) -> np.ndarray:
    """Per-image MS-SSIM of images ``(n, C, H, W)`` in [0, 1] (1 = identical)."""
    a, b = _t(x), _t(y)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    cfg = msssim_config(a.shape[-2], a.shape[-1])
    weights = torch.tensor(cfg["weights"], dtype=torch.float32)
    win = _fspecial_gauss_1d(cfg["win_size"], cfg["win_sigma"]).repeat([a.shape[1], 1, 1, 1])
    out = []
    for i in range(0, len(a), batch):
        x, y = a[i : i + batch], b[i : i + batch]
        mcs = []
        for level in range(len(weights)):
            ssim_pc, cs = _ssim(x, y, win=win, data_range=1.0, size_average=False, K=(0.01, 0.03))
            if level < len(weights) - 1:
                mcs.append(torch.relu(cs))
                pad = [s % 2 for s in x.shape[2:]]
                x = F.avg_pool2d(x, kernel_size=2, padding=pad)
                y = F.avg_pool2d(y, kernel_size=2, padding=pad)
        stack = torch.stack([*mcs, torch.relu(ssim_pc)], dim=0)
        out.append(torch.prod(stack ** weights.view(-1, 1, 1), dim=0).mean(1))
    if not out:
        return np.zeros(0)
    return torch.cat(out).double().numpy()


def mse(x, y) -> np.ndarray:
    """Per-image mean squared error (images in [0, 1])."""
    a, b = _t(x), _t(y)
    return (a.double() - b.double()).pow(2).flatten(1).mean(1).numpy()


def psnr_from_mse(m) -> np.ndarray:
    """PSNR in dB for data range 1; capped at 100 dB for identical images."""
    m = np.maximum(np.asarray(m, dtype=np.float64), 1e-10)
    return 10.0 * np.log10(1.0 / m)
