"""Shared fixtures of the codec tests: the shipped codec and a few test images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semdacom.codec.codec import LearnedCodec
from semdacom.codec.data import load_fashion_mnist

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def codec() -> LearnedCodec:
    return LearnedCodec.load()


@pytest.fixture(scope="session")
def test_images() -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_fashion_mnist("test")
    return images[:200], labels[:200]
