#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The codec's low-rate end: fixed-length codes of 2 to 24 bytes (issue 26).

The scale hyperprior cannot go below about 300 bits for a 28x28 image: each of its two rANS
strings ends with an 8-byte flush, so 136 of its lowest point's 311 bits are framing
(docs/source_coding.md). At -6 dBW on the paper channel the optimiser of MU-ASCC [1] then has
no rate it can deliver to both users and switches one off. :class:`LowRateHead` adds operating
points below the hyperprior's, down to 16 bits, with no entropy coder and hence no framing:

* encoder: the hyperprior's analysis transform F at its point 0 (frozen), then a stride-2
  convolution and a dense layer to ``D`` numbers squashed by ``tanh`` into (-1, 1);
* point ``k`` keeps the first ``d_k`` of them and quantises each uniformly to ``b_k`` bits
  (the uniform scalar quantiser of MU-ASCC Sec. II-B with ``2^b_k`` cells over (-1, 1));
  the cell indices are Gray-coded (a single bit error moves one number to a neighbouring cell
  more often than with a natural binary code) and packed most significant bit first, number
  after number: a stream of exactly ``d_k b_k / 8`` bytes;
* decoder: a dense layer (the code plus a one-hot of the point) and a sub-pixel convolution
  back to a latent ``y_hat`` of the hyperprior's shape, which the hyperprior's own synthesis G
  (point 0) turns into the image and its semantic decoder Q = E o G (point 0) into the label.

The hyperprior's weights stay frozen while the head trains (image MSE plus the cross entropy
of eq. (4) through Q), so its 16 points are unchanged bit for bit. No GNU Radio, no entropy
coding: a stream of the wrong length is an erasure, any stream of the right length decodes.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from semdacom.source_coding.models import SubPixelConv

__all__ = [
    "DEFAULT_POINTS",
    "LowRateHead",
    "gray_decode",
    "gray_encode",
    "pack_codes",
    "unpack_codes",
]

#: ``(numbers kept d_k, bits per number b_k)`` of each low-rate point, ascending rate:
#: 16, 24, 32, 48, 64, 96, 128 and 192 bits per image.
DEFAULT_POINTS = ((8, 2), (8, 3), (8, 4), (12, 4), (16, 4), (24, 4), (32, 4), (32, 6))


def gray_encode(q: np.ndarray) -> np.ndarray:
    """Binary-reflected Gray code of non-negative integers."""
    q = np.asarray(q, dtype=np.int64)
    return q ^ (q >> 1)


def gray_decode(g: np.ndarray) -> np.ndarray:
    """Inverse of :func:`gray_encode` (for codes of up to 32 bits)."""
    q = np.asarray(g, dtype=np.int64).copy()
    shift = 1
    while shift < 32:
        q ^= q >> shift
        shift <<= 1
    return q


def pack_codes(idx: np.ndarray, bits: int) -> list[bytes]:
    """Cell indices ``(n, d)`` (each ``< 2^bits``) -> one stream of ``d bits / 8`` bytes each.

    Gray-coded, most significant bit first, number after number.
    """
    idx = np.asarray(idx, dtype=np.int64)
    g = gray_encode(idx)
    shifts = np.arange(bits - 1, -1, -1, dtype=np.int64)
    b = ((g[..., None] >> shifts) & 1).astype(np.uint8).reshape(len(idx), -1)
    return [bytes(row) for row in np.packbits(b, axis=1)]


def unpack_codes(streams: list[bytes], d: int, bits: int) -> np.ndarray:
    """Inverse of :func:`pack_codes` for streams of the right length: ``(n, d)`` indices."""
    n = len(streams)
    if n == 0:
        return np.zeros((0, d), dtype=np.int64)
    raw = np.frombuffer(b"".join(streams), dtype=np.uint8).reshape(n, -1)
    b = np.unpackbits(raw, axis=1)[:, : d * bits].reshape(n, d, bits).astype(np.int64)
    weights = np.int64(1) << np.arange(bits - 1, -1, -1, dtype=np.int64)
    return gray_decode((b * weights).sum(-1))


class LowRateHead(nn.Module):
    """Fixed-length low-rate points on top of a frozen hyperprior (module docstring).

    Parameters
    ----------
    latent_shape : tuple
        ``(M, h, w)`` of the hyperprior's latent for the image size (32 x 8 x 8 for 28 x 28).
    points : sequence of (int, int)
        ``(d_k, b_k)`` per point, ascending ``d_k b_k``; each ``d_k b_k`` a multiple of 8.
    width : int
        Channels of the head's convolutions.
    """

    def __init__(
        self,
        latent_shape: tuple[int, int, int] = (32, 8, 8),
        points=DEFAULT_POINTS,
        width: int = 64,
    ) -> None:
        super().__init__()
        pts = [(int(d), int(b)) for d, b in points]
        if not pts:
            raise ValueError("a low-rate head needs at least one point")
        for d, b in pts:
            if d < 1 or not 1 <= b <= 16 or (d * b) % 8:
                raise ValueError(f"point {(d, b)}: d >= 1, 1 <= b <= 16, d*b a multiple of 8")
        bits = [d * b for d, b in pts]
        if bits != sorted(bits) or len(set(bits)) != len(bits):
            raise ValueError(f"points must have strictly ascending d*b, got {bits}")
        m, h, w = (int(v) for v in latent_shape)
        if h % 2 or w % 2:
            raise ValueError(f"latent height and width must be even, got {latent_shape}")
        self.config = {"latent_shape": [m, h, w], "points": [list(p) for p in pts], "width": width}
        self.points = pts
        self.code_dims = max(d for d, _ in pts)
        self._hidden = (width, h // 2, w // 2)
        flat = width * (h // 2) * (w // 2)
        self.enc = nn.Sequential(
            nn.Conv2d(m, width, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Flatten(),
            nn.Linear(flat, self.code_dims),
        )
        self.dec_in = nn.Linear(self.code_dims + len(pts), flat)
        self.dec = nn.Sequential(
            nn.GELU(), SubPixelConv(width, width), nn.GELU(), nn.Conv2d(width, m, 3, padding=1)
        )

    @property
    def levels(self) -> int:
        return len(self.points)

    def bits(self, k: int) -> int:
        """Bits of a stream of point ``k`` (``d_k b_k``)."""
        d, b = self.points[k]
        return d * b

    def encode(self, y: torch.Tensor) -> torch.Tensor:
        """Code numbers ``(n, D)`` in (-1, 1) from the hyperprior's latent ``y``."""
        return torch.tanh(self.enc(y))

    def quantise(self, u: torch.Tensor, k: int) -> torch.Tensor:
        """Cell indices ``(n, d_k)`` of point ``k`` (``2^b_k`` uniform cells over (-1, 1))."""
        d, b = self.points[k]
        cells = 1 << b
        return torch.clamp(torch.floor((u[:, :d] + 1.0) * 0.5 * cells), 0, cells - 1).long()

    def dequantise(self, idx: torch.Tensor, k: int) -> torch.Tensor:
        """Cell centres of point ``k``'s indices, zero-padded to ``(n, D)``."""
        d, b = self.points[k]
        v = (idx.to(torch.float32) + 0.5) * (2.0 / (1 << b)) - 1.0
        return F.pad(v, (0, self.code_dims - d))

    def decode(self, v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Latent ``y_hat`` ``(n, M, h, w)`` from dequantised codes ``(n, D)`` of points ``k``."""
        onehot = F.one_hot(k.long(), self.levels).to(v.dtype)
        h = self.dec_in(torch.cat([v, onehot], 1)).reshape(len(v), *self._hidden)
        return self.dec(h)

    def train_code(self, u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """The quantised code of each sample at its own point, straight-through in training."""
        out = torch.zeros_like(u)
        for j in range(self.levels):
            sel = k == j
            if sel.any():
                v = self.dequantise(self.quantise(u[sel], j), j)
                d = self.points[j][0]
                uj = F.pad(u[sel][:, :d], (0, self.code_dims - d))
                out[sel] = uj + (v - uj).detach()
        return out
