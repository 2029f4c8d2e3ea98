"""Shared fixtures of the codec tests: the shipped codec and a few test images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semdacom.data.datasets import load_fashion_mnist
from semdacom.source_coding.codec import LearnedCodec

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def codec() -> LearnedCodec:
    return LearnedCodec.load()


@pytest.fixture(scope="session")
def test_images() -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_fashion_mnist("test")
    return images[:200], labels[:200]
