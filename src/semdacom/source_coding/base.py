#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""What every source coder of the loop shares (:class:`.codec.LearnedCodec`,
:class:`.classical.ClassicalCodec`, :class:`.compressai_codec.CompressAICodec`): operating
points ``0 .. levels - 1``, an erasure fill, and a rate table R_s (mean bits per image of each
point) given as numbers or read from a file."""

from __future__ import annotations

import numpy as np

__all__ = ["SourceCoder"]


class SourceCoder:
    """Base class of the source coders: :attr:`levels`, ``image_shape`` ``(C, H, W)`` and
    ``_fill`` come from the subclass."""

    #: What the operating point is called in error messages.
    index_name = "rate_index"
    _fill: np.ndarray
    image_shape: tuple[int, int, int]

    @property
    def levels(self) -> int:
        """Number of operating points."""
        raise NotImplementedError

    @property
    def erasure_fill(self) -> np.ndarray:
        """What an erased image is replaced by in metrics, ``(C, H, W)`` (a copy)."""
        return self._fill.copy()

    def _check_rate(self, index) -> int:
        """``index`` (an int or numpy integer, not a bool or float) as an int in
        ``[0, levels)``; ValueError otherwise."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise ValueError(f"{self.index_name} must be an integer, got {index!r}")
        if not 0 <= int(index) < self.levels:
            raise ValueError(f"{self.index_name} must be in [0, {self.levels - 1}], got {index}")
        return int(index)

    def as_array(self, images) -> np.ndarray:
        """uint8 (0..255) or float (0..1) images ``(n, H, W)``/``(n, C, H, W)`` (a tensor too)
        -> float32 ``(n, C, H, W)`` in [0, 1]; ValueError for another shape, a non-numeric
        array or non-finite values."""
        import torch

        if isinstance(images, torch.Tensor):
            images = images.detach().cpu().numpy()
        arr = np.asarray(images)
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
        ):
            raise ValueError(f"images must be a numeric array, got dtype {arr.dtype}")
        x = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
        if x.ndim == 2:
            x = x[None]
        if x.ndim == 3 and tuple(x.shape[1:]) == self.image_shape[1:] and self.image_shape[0] == 1:
            x = x[:, None]
        if tuple(x.shape[1:]) != tuple(self.image_shape):
            raise ValueError(f"images must have shape (n, {self.image_shape}), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("images hold non-finite values")
        return np.clip(x, 0.0, 1.0)

    def as_tensor(self, images):
        """As :meth:`as_array`, as a float32 torch tensor."""
        import torch

        return torch.from_numpy(self.as_array(images))

    def _load_rate_table(self, rate_table) -> list[float] | None:
        """R_s: None for ``False``; a sequence of ``levels`` numbers as given; anything else
        (None, True, a path) goes to :meth:`_read_rate_table`."""
        if rate_table is False:
            return None
        if isinstance(rate_table, (list, tuple, np.ndarray)):
            rates = [float(v) for v in rate_table]
            if len(rates) != self.levels:
                raise ValueError(f"rate_table needs {self.levels} entries, got {len(rates)}")
            return rates
        return self._read_rate_table(rate_table)

    def _read_rate_table(self, rate_table) -> list[float] | None:
        """R_s from a file (``rate_table``: None or True for the coder's default, or a path);
        None when there is none."""
        return None
