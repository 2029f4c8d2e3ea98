"""Shared fixtures of the SC-SFMA transceiver tests: tiny trained models of every variant (a few
steps on a few hundred images, in a temporary folder) and some test pairs."""

from __future__ import annotations

import pytest
import torch

from semdacom.sc_sfma.transceiver import MODELS
from semdacom.sc_sfma.transceiver.train import train
from semdacom.sc_sfma.transceiver.transceiver import DEFAULT_CONFIG

torch.set_num_threads(1)

#: A network small enough that a forward pass on a few images takes milliseconds (the default's
#: attention windows, everything else smaller).
TINY = dict(DEFAULT_CONFIG, dims=(8, 16, 16, 16), depths=(1, 1, 1, 1), heads=(1, 2, 2, 2),
            mlp_ratio=1.0, code_channels=16)  # fmt: skip


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> dict[str, str]:
    """``{variant: weights path}`` of every model, trained 2 steps."""
    d = tmp_path_factory.mktemp("sfma_weights")
    out = {}
    for v in MODELS:
        path = d / f"sfma_{v}.pt"
        cfg = None if v == "deepjscc_noma" else TINY
        train(
            v,
            steps=2,
            batch=4,
            config=cfg,
            out=path,
            ckpt_dir=d / "ckpt",
            progress=False,
            max_train_images=300,
        )
        out[v] = str(path)
    return out
