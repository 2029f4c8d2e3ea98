"""The codec's low-rate end (issue 26): fixed-length codes below the hyperprior's points."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from semdacom.source_coding import metrics
from semdacom.source_coding.codec import LOW_RATE_FILE, LearnedCodec
from semdacom.source_coding.low_rate import (
    DEFAULT_POINTS,
    LowRateHead,
    gray_decode,
    gray_encode,
    pack_codes,
    unpack_codes,
)


@given(st.lists(st.integers(0, (1 << 16) - 1), min_size=1, max_size=50))
def test_gray_code_round_trip_and_neighbours_differ_in_one_bit(values) -> None:
    q = np.array(values)
    np.testing.assert_array_equal(gray_decode(gray_encode(q)), q)
    g0, g1 = gray_encode(q), gray_encode(q + 1)
    assert all(bin(int(a ^ b)).count("1") == 1 for a, b in zip(g0, g1, strict=True))


@settings(max_examples=60)
@given(st.sampled_from(DEFAULT_POINTS), st.integers(1, 9), st.data())
def test_pack_unpack_round_trip(point, n, data) -> None:
    d, b = point
    idx = np.array(data.draw(st.lists(st.integers(0, (1 << b) - 1), min_size=n * d,
                                      max_size=n * d))).reshape(n, d)  # fmt: skip
    streams = pack_codes(idx, b)
    assert all(len(s) == d * b // 8 for s in streams)
    np.testing.assert_array_equal(unpack_codes(streams, d, b), idx)


def test_head_rejects_bad_points() -> None:
    for pts in ([], [(3, 3)], [(8, 4), (8, 2)], [(8, 2), (16, 1)], [(8, 17)]):
        with pytest.raises(ValueError):
            LowRateHead(points=pts)
    with pytest.raises(ValueError, match="even"):
        LowRateHead((32, 7, 8))


def test_shipped_codec_has_the_low_rate_end_first(codec: LearnedCodec) -> None:
    low = codec.low_rate_levels
    assert low == len(DEFAULT_POINTS) and codec.levels == low + codec.model.levels
    bits = [d * b for d, b in DEFAULT_POINTS]
    assert [codec.stream_bytes(r) * 8 for r in range(low)] == bits
    assert codec.stream_bytes(low) is None
    # 8x fewer bits than the hyperprior's lowest point (the goal)
    assert codec.rate_table[low] / codec.rate_table[0] >= 8.0
    np.testing.assert_allclose(codec.rate_table[:low], bits)


def test_streams_have_the_exact_length_and_decode(codec: LearnedCodec, test_images) -> None:
    images, labels = test_images
    ref = images[:, None].astype(np.float32) / 255.0
    for r in range(codec.low_rate_levels):
        s = codec.encode(images, r)
        assert {len(v) for v in s} == {codec.stream_bytes(r)}
        dec = codec.decode(s, r)
        pred, erased = codec.classify(s, r)
        assert not dec.erased.any() and not erased.any()
        assert dec.images.shape == ref.shape and np.isfinite(dec.images).all()
        ms = float(np.mean(metrics.msssim(dec.images, ref)))
        # the shipped head on 10,000 test images (docs/source_coding.md): MS-SSIM 0.75 and
        # accuracy 0.85 at 16 bits, rising with the rate
        assert ms > 0.7 and np.mean(pred == labels) > 0.75, (r, ms, np.mean(pred == labels))
    top = codec.decode(codec.encode(images, codec.low_rate_levels - 1), codec.low_rate_levels - 1)
    assert float(np.mean(metrics.msssim(top.images, ref))) > 0.82


def test_hyperprior_points_are_unchanged_by_the_head(codec: LearnedCodec, test_images) -> None:
    plain = LearnedCodec.load(low_rate=False)
    assert plain.low_rate_levels == 0 and plain.levels == codec.levels - codec.low_rate_levels
    x = test_images[0][:16]
    for k in (0, plain.levels - 1):
        assert plain.encode(x, k) == codec.encode(x, k + codec.low_rate_levels)


def test_wrong_length_or_type_is_an_erasure_and_any_right_length_decodes(
    codec: LearnedCodec,
) -> None:
    r = 2
    n = codec.stream_bytes(r)
    rng = np.random.default_rng(0)
    good = [bytes(rng.integers(0, 256, n, dtype=np.uint8)) for _ in range(20)]
    bad = [b"", b"\x00" * (n + 1), b"\x01" * (n - 1), None, "text"]
    dec = codec.decode(good + bad, r)
    assert not dec.erased[:20].any() and dec.erased[20:].all()
    assert all(why for why in dec.reasons[20:])
    np.testing.assert_array_equal(dec.images[20], codec.erasure_fill)
    assert np.isfinite(dec.images).all() and dec.images.min() >= 0 and dec.images.max() <= 1
    labels, erased = codec.classify(good + bad, r)
    assert (labels[20:] == -1).all() and (labels[:20] >= 0).all() and erased[20:].all()


def test_one_bit_error_degrades_gracefully(codec: LearnedCodec, test_images) -> None:
    """A flipped bit of a Gray-coded number moves it to another cell, not off the map: the
    image stays close to the error-free one on average (it would not with an entropy coder)."""
    images = test_images[0][:100]
    r = 4
    s = codec.encode(images, r)
    clean = codec.decode(s, r).images
    flipped = []
    for i, v in enumerate(s):
        b = bytearray(v)
        bit = i % (8 * len(b))
        b[bit // 8] ^= 0x80 >> (bit % 8)
        flipped.append(bytes(b))
    noisy = codec.decode(flipped, r).images
    ref = images[:, None].astype(np.float32) / 255.0
    assert np.mean(metrics.msssim(noisy, ref)) > np.mean(metrics.msssim(clean, ref)) - 0.15


def test_other_hyperprior_weights_get_no_shipped_head(tmp_path) -> None:
    from semdacom.data import WEIGHTS_DIR

    other = tmp_path / "other.pt"
    saved = torch.load(WEIGHTS_DIR / "hyperprior_vbr.pt", weights_only=False)
    saved["note"] = "another file"
    torch.save(saved, other)
    assert LearnedCodec.load(other, semantic=False).low_rate_levels == 0
    with pytest.raises(ValueError, match="another hyperprior"):
        LearnedCodec.load(other, semantic=False, low_rate=WEIGHTS_DIR / LOW_RATE_FILE)
