"""Content-overlapping pairs and the content similarity (sc_sfma/transceiver/overlap.py), the
overlap curriculum of training (train.sample_batch) and the overlap test pairs (pairs.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from semdacom.data.datasets import load_fashion_mnist
from semdacom.sc_sfma.transceiver.overlap import OVERLAP_KINDS, content_similarity, overlap_pairs
from semdacom.sc_sfma.transceiver.pairs import EVAL_CLASSES, eval_pairs
from semdacom.sc_sfma.transceiver.train import PairSampler, images_tensor, sample_batch


@pytest.fixture(scope="module")
def test_set():
    images, labels = load_fashion_mnist("test")
    return images_tensor(images[:400]), labels[:400]


@pytest.mark.parametrize("kind", OVERLAP_KINDS)
def test_each_kind_overlaps_more_than_label_pairs(kind, test_set):
    x, labels = test_set
    xa, xb, kinds = overlap_pairs(x[:200], np.random.default_rng(0), [kind] * 200, x[200:])
    assert kinds == [kind] * 200 and xa.shape == xb.shape == (200, 1, 28, 28)
    assert float(xa.min()) >= 0 and float(xb.max()) <= 1
    assert not torch.equal(xa, xb)  # a pair of two different views
    sim = content_similarity(xa, xb)
    # dissimilar label pairs sit near 0.3, same-label pairs near 0.65 (docs/sc_sfma/transceiver.md)
    sampler = PairSampler(labels)
    ia, ib, _ = sampler.sample(200, np.random.default_rng(1), "dissimilar")
    ref = content_similarity(x[ia], x[ib])
    assert np.median(sim) > 0.7 > np.median(ref) + 0.2, (np.median(sim), np.median(ref))


def test_pairs_are_a_function_of_the_generator(test_set):
    x, _ = test_set
    a1, b1, k1 = overlap_pairs(x[:50], np.random.default_rng(5))
    a2, b2, k2 = overlap_pairs(x[:50], np.random.default_rng(5))
    assert k1 == k2 and torch.equal(a1, a2) and torch.equal(b1, b2)
    a3, _, _ = overlap_pairs(x[:50], np.random.default_rng(6))
    assert not torch.equal(a1, a3)
    assert set(k1) == set(OVERLAP_KINDS)  # 50 draws cover the six kinds


def test_bad_input_is_refused(test_set):
    x, _ = test_set
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="kinds"):
        overlap_pairs(x[:2], rng, ["shift", "zoom"])
    with pytest.raises(ValueError, match="kinds"):
        overlap_pairs(x[:2], rng, ["shift"])
    with pytest.raises(ValueError, match=r"\(n, 1, h, w\)"):
        overlap_pairs(x[:2, 0], rng)
    with pytest.raises(ValueError, match="square"):
        content_similarity(np.zeros((2, 10)), np.zeros((2, 10)))
    with pytest.raises(ValueError, match="max_shift"):
        content_similarity(np.zeros((2, 4, 4)), np.zeros((2, 4, 4)), max_shift=4)


def test_content_similarity_known_cases(test_set):
    x, _ = test_set
    a = x[:6]
    assert np.allclose(content_similarity(a, a), 1.0)
    shifted = torch.roll(a, 1, dims=-1)  # a one-pixel shift is within max_shift
    assert np.all(content_similarity(a, shifted) > 0.99)
    assert np.all(content_similarity(a, torch.roll(a, 6, dims=-1), max_shift=0) < 0.9)
    flat = torch.full_like(a, 0.5)
    assert np.allclose(content_similarity(a, flat), 0.0)


@settings(max_examples=25, deadline=None)
@given(gain=st.floats(0.05, 20.0), offset=st.floats(-1.0, 1.0), seed=st.integers(0, 2**16))
def test_content_similarity_is_affine_invariant_and_bounded(gain, offset, seed):
    rng = np.random.default_rng(seed)
    a = rng.random((3, 12, 12))
    b = rng.random((3, 12, 12))
    s = content_similarity(a, b, max_shift=1)
    assert np.all(s <= 1 + 1e-6) and np.all(s >= -1 - 1e-6)
    assert np.allclose(s, content_similarity(a, gain * b + offset, max_shift=1), atol=1e-4)
    assert np.allclose(s, content_similarity(gain * a - offset, b, max_shift=1), atol=1e-4)


def test_sample_batch_overlap_share(test_set):
    x, labels = test_set
    sampler = PairSampler(labels)
    for share, lo, hi in ((0.0, 0, 0), (1.0, 64, 64), (0.5, 20, 44)):
        xa, xb, classes = sample_batch(x, sampler, 64, np.random.default_rng(2), share)
        n = classes.count("overlap")
        assert lo <= n <= hi and xa.shape == xb.shape == (64, 1, 28, 28)
        assert set(classes) <= set(EVAL_CLASSES)
    with pytest.raises(ValueError, match="overlap_share"):
        sample_batch(x, sampler, 4, np.random.default_rng(0), 1.5)


def test_eval_pairs_add_overlap_without_moving_the_label_classes():
    old = eval_pairs(5)
    new = eval_pairs(5, classes=EVAL_CLASSES)
    assert list(new) == list(EVAL_CLASSES)
    for c in old:
        assert all(torch.equal(u, v) for u, v in zip(old[c], new[c], strict=True))
    xa, xb, la, lb = new["overlap"]
    assert torch.equal(la, lb) and xa.shape == (5, 1, 28, 28)
    assert np.all(content_similarity(xa, xb) > 0.3)
    with pytest.raises(ValueError, match="pair class"):
        eval_pairs(2, classes=("similar",))
