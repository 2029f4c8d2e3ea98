"""Corrupted streams never crash or hang the decoders (issue: robust decoding).

A hypothesis test drives arbitrary corruptions; a fixed-seed test corrupts 10,000 streams.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semdacom.mu_ascc.distortion_fit import flip_bits
from semdacom.source_coding.codec import LearnedCodec


def _check_images(codec: LearnedCodec, res, n: int) -> None:
    assert res.images.shape == (n, *codec.image_shape)
    assert res.images.dtype == np.float32
    assert np.isfinite(res.images).all()
    assert res.images.min() >= 0.0 and res.images.max() <= 1.0
    assert res.erased.shape == (n,) and res.erased.dtype == bool


@pytest.fixture(scope="module")
def streams(codec: LearnedCodec, test_images) -> dict[int, list[bytes]]:
    return {r: codec.encode(test_images[0][:8], r) for r in range(codec.levels)}


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_hypothesis_corrupted_streams(codec: LearnedCodec, streams, data) -> None:
    r = data.draw(st.integers(0, codec.levels - 1), label="rate")
    s = bytearray(data.draw(st.sampled_from(streams[r]), label="stream"))
    mode = data.draw(st.sampled_from(["flips", "truncate", "random", "extend", "ber"]))
    if mode == "flips":
        for pos in data.draw(st.lists(st.integers(0, 8 * len(s) - 1), min_size=1, max_size=64)):
            s[pos // 8] ^= 0x80 >> (pos % 8)
    elif mode == "truncate":
        s = s[: data.draw(st.integers(0, len(s)))]
    elif mode == "random":
        s = bytearray(data.draw(st.binary(max_size=3 * len(s))))
    elif mode == "extend":
        s += data.draw(st.binary(min_size=1, max_size=500))
    else:
        log_ber = data.draw(st.floats(-8.0, np.log10(0.5)))
        s = bytearray(flip_bits(bytes(s), 10.0**log_ber, np.random.default_rng(len(s))))
    res = codec.decode([bytes(s)], r)
    _check_images(codec, res, 1)
    labels, erased = codec.classify([bytes(s)], r)
    assert labels.shape == (1,) and -1 <= labels[0] <= 9
    assert erased[0] == res.erased[0]
    if len(s) == 0:
        assert res.erased[0]


@pytest.mark.timeout(300)
def test_ten_thousand_corrupted_streams(codec: LearnedCodec) -> None:
    """At least 10,000 streams (417 images x 24 points: the low-rate end's fixed-length codes
    and the hyperprior's), each corrupted at random: 0 crashes, 0 hangs."""
    from semdacom.data.datasets import load_fashion_mnist

    rng = np.random.default_rng(1234)
    per_point = -(-10_000 // codec.levels)
    images = load_fashion_mnist("test")[0][-per_point:]
    total, erased = 0, 0
    for r in range(codec.levels):
        corrupted = []
        for s in codec.encode(images, r):
            mode = rng.integers(5)
            if mode == 0:  # bit flips at a log-uniform BER in [1e-8, 0.5], at least one flip
                t = flip_bits(s, 10.0 ** rng.uniform(-8.0, np.log10(0.5)), rng)
                if t == s:
                    pos = int(rng.integers(8 * len(s)))
                    t = bytearray(s)
                    t[pos // 8] ^= 0x80 >> (pos % 8)
                s = bytes(t)
            elif mode == 1:  # truncation
                s = s[: int(rng.integers(0, len(s)))]
            elif mode == 2:  # random bytes of a plausible length
                s = rng.integers(0, 256, int(rng.integers(0, 2 * len(s) + 2)), np.uint8).tobytes()
            elif mode == 3:  # burst of 0xFF (longest bypass runs)
                a = int(rng.integers(0, len(s)))
                s = s[:a] + b"\xff" * int(rng.integers(1, 64)) + s[a + 1 :]
            else:  # cut and spliced with another stream's tail
                s = s[: len(s) // 2] + bytes(reversed(s[len(s) // 2 :]))
            corrupted.append(s)
        for i in range(0, len(corrupted), 125):
            part = corrupted[i : i + 125]
            res = codec.decode(part, r)
            _check_images(codec, res, len(part))
            total += len(part)
            erased += int(res.erased.sum())
    assert total == per_point * codec.levels >= 10_000
    assert erased < total  # most corrupted streams still give an image
