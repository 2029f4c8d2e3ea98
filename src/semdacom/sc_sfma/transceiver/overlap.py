#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Pairs whose content overlaps, and a similarity measured from content (SC-SFMA [2], Sec. II-B:
the situation semantic feature multiple access is for -- users in one place asking for views of
one scene).

Fashion-MNIST pairs drawn by label share little content (two random same-class images share
about log2(10) bits; docs/sc_sfma/transceiver.md, "Pairs"). The pairs here share it by
construction. From one source image ``x`` (and for a blend a second image ``x'``):

* ``shift`` -- ``x`` and ``x`` translated by 1..3 pixels (zero fill);
* ``rotate`` -- ``x`` and ``x`` rotated by 5..15 degrees;
* ``contrast`` -- ``x`` and a gamma/gain change of it;
* ``noise`` -- ``x`` and ``x`` plus Gaussian noise (std 0.03..0.10), clipped to [0, 1];
* ``crops`` -- two zoomed crops of ``x`` (each 70-86 % of the side, different offsets), both
  resized to 28x28: two overlapping views of one object;
* ``blend`` -- ``x`` and ``lambda x + (1 - lambda) x'`` with lambda in [0.5, 0.85].

Which of the two users holds the transformed view is drawn at random. Every pair is a function
of its generator's state only, so fixed test pairs are reproducible.

:func:`content_similarity` is the continuous similarity measured from content (not labels) that
the results and the optimiser's pairing can use: the largest Pearson correlation of the two
images' pixels over integer shifts of up to ``max_shift`` pixels (over their overlapping window).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["OVERLAP_KINDS", "content_similarity", "overlap_pairs"]

#: The kinds of content-overlapping pairs, drawn uniformly.
OVERLAP_KINDS = ("shift", "rotate", "contrast", "noise", "crops", "blend")


def _affine(x: torch.Tensor, theta: np.ndarray) -> torch.Tensor:
    """``x`` ``(n, 1, h, w)`` resampled by the affine maps ``theta`` ``(n, 2, 3)`` (output
    coordinates to input coordinates, normalised to [-1, 1]; zero outside)."""
    t = torch.as_tensor(theta, dtype=x.dtype)
    grid = F.affine_grid(t, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _identity(n: int) -> np.ndarray:
    th = np.zeros((n, 2, 3))
    th[:, 0, 0] = th[:, 1, 1] = 1.0
    return th


def overlap_pairs(
    x: torch.Tensor,
    rng: np.random.Generator,
    kinds: list[str] | tuple[str, ...] | None = None,
    partners: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Content-overlapping pairs built from the images ``x`` ``(n, 1, 28, 28)`` in [0, 1].

    ``kinds`` gives each pair's kind (default: drawn uniformly from :data:`OVERLAP_KINDS`);
    ``partners`` ``(n, 1, 28, 28)`` are the second images of ``blend`` pairs (default: ``x``
    rolled by one, i.e. another image of the batch). Returns ``(x_a, x_b, kinds)``.
    """
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"images must be (n, 1, h, w), got {tuple(x.shape)}")
    n, _, h, w = x.shape
    if kinds is None:
        kinds = [OVERLAP_KINDS[i] for i in rng.integers(0, len(OVERLAP_KINDS), n)]
    kinds = list(kinds)
    if len(kinds) != n or any(k not in OVERLAP_KINDS for k in kinds):
        raise ValueError(f"kinds must be {n} names from {OVERLAP_KINDS}")
    if partners is None:
        partners = torch.roll(x, 1, dims=0)
    # Parameters are drawn for every pair and kind, so a pair's transform does not depend on the
    # kinds of the others (reproducible test pairs when a kind's share changes).
    sign = rng.choice([-1.0, 1.0], size=(n, 4))
    shift_px = rng.integers(1, 4, size=(n, 2)) * sign[:, :2]
    shift_px[rng.random(n) < 0.3, rng.integers(0, 2)] = 0.0  # some shifts along one axis only
    angle = np.deg2rad(rng.uniform(5.0, 15.0, n)) * sign[:, 2]
    gamma = np.exp(rng.uniform(-0.5, 0.5, n))
    gain = rng.uniform(0.7, 1.0, n)
    noise_std = rng.uniform(0.03, 0.10, n)
    crop = rng.uniform(0.70, 0.86, (n, 2))
    crop_off = rng.uniform(-1.0, 1.0, (n, 2, 2))
    lam = rng.uniform(0.5, 0.85, n)
    swap = rng.random(n) < 0.5
    noise = torch.from_numpy(rng.standard_normal((n, 1, h, w)).astype(np.float32))

    xa, xb = x.clone(), x.clone()
    th = _identity(n)
    th[:, 0, 2] = -2.0 * shift_px[:, 0] / w
    th[:, 1, 2] = -2.0 * shift_px[:, 1] / h
    shifted = _affine(x, th)
    rot = _identity(n)
    rot[:, 0, 0] = rot[:, 1, 1] = np.cos(angle)
    rot[:, 0, 1], rot[:, 1, 0] = -np.sin(angle), np.sin(angle)
    rotated = _affine(x, rot)
    views = []
    for v in range(2):
        cr = _identity(n) * crop[:, v, None, None]
        cr[:, :, 2] = crop_off[:, v] * (1.0 - crop[:, v, None])
        views.append(_affine(x, cr))
    g = torch.from_numpy(gamma.astype(np.float32))[:, None, None, None]
    k = torch.from_numpy(gain.astype(np.float32))[:, None, None, None]
    contrasted = k * x.clamp_min(0).pow(g)
    noisy = (x + noise * torch.from_numpy(noise_std.astype(np.float32))[:, None, None, None]).clamp(
        0, 1
    )
    lm = torch.from_numpy(lam.astype(np.float32))[:, None, None, None]
    blended = lm * x + (1 - lm) * partners
    made = {"shift": shifted, "rotate": rotated, "contrast": contrasted, "noise": noisy}
    made["blend"] = blended
    for i, kind in enumerate(kinds):
        if kind == "crops":
            xa[i], xb[i] = views[0][i], views[1][i]
        else:
            xb[i] = made[kind][i]
        if swap[i]:
            xa[i], xb[i] = xb[i].clone(), xa[i].clone()
    return xa.clamp(0, 1), xb.clamp(0, 1), kinds


def content_similarity(xa, xb, max_shift: int = 2) -> np.ndarray:
    """Similarity of two images measured from content: the largest Pearson correlation of their
    pixels over integer shifts ``|dx|, |dy| <= max_shift`` of ``x_b`` against ``x_a``, each
    taken over the two images' overlapping window (no fill), in [-1, 1].

    ``xa``, ``xb``: ``(n, [1,] h, w)`` arrays or tensors (one image pair per row); returns
    ``(n,)``. It does not change under a gain and offset of either image; a window where either
    image is constant has no correlation (0).
    """
    a_img = torch.as_tensor(np.asarray(xa, dtype=np.float32))
    b_img = torch.as_tensor(np.asarray(xb, dtype=np.float32))
    n = len(a_img)
    side = int(round(math.sqrt(a_img[0].numel()))) if n else 0
    if n == 0 or a_img[0].numel() != side * side or b_img.numel() != a_img.numel():
        raise ValueError("xa and xb must hold square images of one shape")
    a_img, b_img = a_img.reshape(n, side, side), b_img.reshape(n, side, side)
    s = int(max_shift)
    if not 0 <= s < side:
        raise ValueError(f"max_shift must be in [0, {side - 1}], got {max_shift!r}")
    best = torch.full((n,), -1.0)
    for dy in range(-s, s + 1):
        for dx in range(-s, s + 1):
            a = a_img[:, max(0, dy) : side + min(0, dy), max(0, dx) : side + min(0, dx)]
            b = b_img[:, max(0, -dy) : side + min(0, -dy), max(0, -dx) : side + min(0, -dx)]
            a, b = a.reshape(n, -1), b.reshape(n, -1)
            ac, bc = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
            den = ac.norm(dim=1) * bc.norm(dim=1)
            r = torch.where(den > 1e-8, (ac * bc).sum(1) / den.clamp_min(1e-8), 0.0)
            best = torch.maximum(best, r)
    return best.numpy().astype(np.float64)
