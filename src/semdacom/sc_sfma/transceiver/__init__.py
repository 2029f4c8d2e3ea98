#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""SC-SFMA learned transceiver (torch): the Swin encoder/decoder with SCFM and DC-SimM,
Rate-ModNet and the code mask, superposition and AWGN (SC-SFMA [2], Sec. II-A/II-B), the
learned ablations, training (eq. 9), profiling of xi (eq. 10) and of the distortion envelopes
(eqs. 17-19), and the evaluation of Fig. 3/4. docs/sc_sfma/transceiver.md has the details.

Shipped weights: ``data/weights/sfma_<variant>.pt`` for ``sc_sfma``, ``swinjscc_noma``,
``swinjscc_oma`` and ``deepjscc_noma``. :func:`load_transceiver` loads one (CPU by default,
CUDA when present); :func:`shared_transceiver` caches one per file and process.
"""

from __future__ import annotations

from pathlib import Path

import torch

from semdacom.sc_sfma.transceiver.transceiver import (
    DEFAULT_CONFIG,
    NU_GRID,
    VARIANTS,
    DeepJsccNoma,
    SfmaTransceiver,
    awgn,
    channel_uses,
    power_normalise,
    superpose,
)

__all__ = [
    "DEFAULT_CONFIG",
    "MODELS",
    "NU_GRID",
    "VARIANTS",
    "WEIGHTS_DIR",
    "DeepJsccNoma",
    "SfmaTransceiver",
    "awgn",
    "channel_uses",
    "load_transceiver",
    "power_normalise",
    "shared_transceiver",
    "superpose",
    "weights_path",
]

from semdacom.data import WEIGHTS_DIR  # noqa: E402

#: Every shipped learned model: the proposed transceiver and the three learned baselines.
MODELS = (*VARIANTS, "deepjscc_noma")


def weights_path(variant: str) -> Path:
    """Shipped weights of ``variant`` (``data/weights/sfma_<variant>.pt``)."""
    if variant not in MODELS:
        raise ValueError(f"variant must be one of {MODELS}, got {variant!r}")
    return WEIGHTS_DIR / f"sfma_{variant}.pt"


def _default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_transceiver(variant_or_path: str | Path = "sc_sfma", device=None):
    """Load a model saved by :func:`semdacom.sc_sfma.transceiver.train.train` (a variant name or
    a file),
    in eval mode, float32, on ``device`` (default CPU, CUDA when present)."""
    from semdacom.sc_sfma.transceiver.train import build_model

    s = str(variant_or_path)
    path = weights_path(s) if s in MODELS else Path(s)
    saved = torch.load(path, map_location="cpu", weights_only=False)
    model = build_model(saved["config"])
    model.load_state_dict({k: v.float() for k, v in saved["state_dict"].items()})
    model.info = saved.get("info", {})
    model.weights_file = path.name
    dev = torch.device(device) if device is not None else _default_device()
    return model.to(dev).eval()


_SHARED: dict[str, torch.nn.Module] = {}


def shared_transceiver(variant_or_path: str | Path = "sc_sfma", device=None):
    """One loaded model per weights file, device and process (the cache blocks share);
    ``device`` as a block's parameter (:func:`semdacom._torch_util.resolve_device`: None or
    "auto" is CUDA when present)."""
    from semdacom._torch_util import resolve_device

    dev = resolve_device(device)
    key = f"{variant_or_path}|{dev}"
    if key not in _SHARED:
        _SHARED[key] = load_transceiver(str(variant_or_path), device=dev)
    return _SHARED[key]
