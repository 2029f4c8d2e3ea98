"""Classical codec (HEVC intra via x265 in HEIF, the BPG stand-in): API, ladder, robustness,
shipped tables and their use by the ZF-WF fixed-R_c baseline."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from semdacom.data import DATA_DIR, file_sha256
from semdacom.data.datasets import load_fashion_mnist
from semdacom.mu_ascc import baselines
from semdacom.mu_ascc import distortion as dist
from semdacom.mu_ascc.distortion_fit import flip_bits, monotone_curve
from semdacom.mu_ascc.optimizer.problem import Problem
from semdacom.phy import beamforming as bf
from semdacom.source_coding import metrics
from semdacom.source_coding.classical import (
    DEFAULT_QUALITIES,
    MAX_STREAM_BYTES,
    NAME,
    ClassicalCodec,
    mean_training_image,
)

TABLES = [
    DATA_DIR / "tables" / f"classical_{NAME}_{suffix}.json"
    for suffix in ("du_msssim", "du_mse", "su_error")
]


@pytest.fixture(scope="module")
def codec() -> ClassicalCodec:
    return ClassicalCodec()


@pytest.fixture(scope="module")
def data():
    x, y = load_fashion_mnist("test")
    return x[:40], y[:40]


def test_name_and_levels(codec) -> None:
    assert codec.name == NAME == "heif-x265" and "bpg" not in codec.name.lower()
    assert codec.levels == len(DEFAULT_QUALITIES) >= 12
    with pytest.raises(ValueError):
        codec.encode(np.zeros((1, 28, 28), np.uint8), codec.levels)
    with pytest.raises(ValueError):
        codec.decode([b"x"], -1)


def test_round_trip(codec, data) -> None:
    x, y = data
    ref = codec.as_array(x)
    psnr = []
    for r in (0, 5, 10, codec.levels - 1):
        streams = codec.encode(x, r)
        assert len(streams) == len(x) and all(isinstance(s, bytes) and s for s in streams)
        res = codec.decode(streams, r)
        assert res.images.shape == (len(x), 1, 28, 28) and res.images.dtype == np.float32
        assert not res.erased.any() and all(r == "" for r in res.reasons)
        assert res.images.min() >= 0.0 and res.images.max() <= 1.0
        psnr.append(float(metrics.psnr_from_mse(metrics.mse(res.images, ref).mean())))
    assert np.all(np.diff(psnr) > 0) and psnr[0] > 15.0 and psnr[-1] > 45.0
    # the input conventions give the same streams
    s8 = codec.encode(x[:4], 3)
    assert codec.encode(x[:4, None], 3) == s8
    assert codec.encode(x[:4].astype(np.float32) / 255.0, 3) == s8
    assert codec.encode(codec.as_tensor(x[:4]), 3) == s8
    assert codec.encode(x[:4], 3) == s8  # deterministic
    labels, erased = codec.classify(codec.encode(x, codec.levels - 1), codec.levels - 1)
    assert labels.shape == (len(x),) and not erased.any()
    assert np.mean(labels == y) > 0.75


def test_colour_images_round_trip() -> None:
    """Issue 25: (3, H, W) colour images (x265 codes them as YUV 4:2:0) with the same header
    stripping; PSNR rises with the quality index; garbage never raises."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32]
    base = np.stack([xx * 8, yy * 8, (xx + yy) * 4]).astype(np.float64)
    x = np.clip(base[None] + rng.normal(0, 8, (6, 3, 32, 32)), 0, 255).astype(np.uint8)
    c = ClassicalCodec(image_shape=(3, 32, 32), classifier=False, rate_table=False)
    psnr = []
    for r in (0, 8, c.levels - 1):
        res = c.decode(c.encode(x, r), r)
        assert res.images.shape == (6, 3, 32, 32) and not res.erased.any()
        psnr.append(float(metrics.psnr_from_mse(metrics.mse(res.images, x / 255.0).mean())))
    assert np.all(np.diff(psnr) > 0) and psnr[-1] > 30.0, psnr
    blobs = [bytes(np.random.default_rng(i).integers(0, 256, 40, dtype=np.uint8)) for i in range(8)]
    res = c.decode([b"", *blobs], 3)  # garbage decodes to an image or an erasure, never raises
    assert res.images.shape == (9, 3, 32, 32) and res.erased[0]
    with pytest.raises(ValueError):
        ClassicalCodec(image_shape=(2, 32, 32), classifier=False, rate_table=False)


def test_rate_ladder_is_monotone_and_spans_the_learned_range(codec, data) -> None:
    x, _ = data
    bits = [np.mean([8 * len(s) for s in codec.encode(x, r)]) for r in range(codec.levels)]
    assert np.all(np.diff(bits) > 0)
    assert bits[0] < 400 and bits[-1] > 3000


def test_container_template_and_stripping(codec, data) -> None:
    x, _ = data
    s = codec.encode(x[:1], 4)[0]
    full = codec.rebuild(s)
    assert full[4:12] == b"ftypheix" and len(codec.template) == 402
    assert full.endswith(b"\x28\x01" + s)  # the NAL header is rebuilt, not sent
    # a stream is never longer than the HEVC slice: the container costs no bits
    assert len(full) - len(s) == len(codec.template) + 8 + 4 + 2


def test_erasure_fill_is_the_mean_training_image(codec) -> None:
    x, _ = load_fashion_mnist("train")
    np.testing.assert_allclose(
        codec.erasure_fill[0], x.astype(np.float64).mean(0) / 255.0, atol=1e-6
    )
    np.testing.assert_array_equal(mean_training_image((1, 28, 28)), codec.erasure_fill)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    img=arrays(np.uint8, (28, 28)),
    r=st.integers(0, len(DEFAULT_QUALITIES) - 1),
)
def test_any_image_round_trips(codec, img, r) -> None:
    s = codec.encode(img[None], r)
    res = codec.decode(s, r)
    assert not res.erased[0] and res.reasons == [""]
    assert res.images.shape == (1, 1, 28, 28) and np.all(np.isfinite(res.images))
    # HEVC keeps the mean brightness at any quality (worst seen: 0.03 of full scale)
    assert abs(float(res.images.mean()) - float(img.mean()) / 255.0) < 0.08
    np.testing.assert_array_equal(codec.decode(s, r).images, res.images)  # deterministic
    if r == len(DEFAULT_QUALITIES) - 1:  # quality 90 is close to lossless for any content
        assert float(metrics.psnr_from_mse(metrics.mse(res.images, img[None, None] / 255.0))) > 30


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blob=st.binary(max_size=700), r=st.integers(0, len(DEFAULT_QUALITIES) - 1))
def test_arbitrary_bytes_never_raise(codec, blob, r) -> None:
    res = codec.decode([blob], r)
    _check_outcome(codec, res, 0)
    if not blob:
        assert res.erased[0] and res.reasons[0] == "empty stream"


def _check_outcome(codec, res, i) -> str:
    """Each stream gives either a valid image or an explicit erasure with a reason."""
    img = res.images[i]
    assert img.shape == (1, 28, 28) and np.all(np.isfinite(img))
    assert img.min() >= 0.0 and img.max() <= 1.0
    if res.erased[i]:
        assert res.reasons[i]
        np.testing.assert_array_equal(img, codec.erasure_fill)
        return "erased"
    assert res.reasons[i] == ""
    return "image"


@pytest.mark.timeout(300)
def test_ten_thousand_random_corruptions(codec, data) -> None:
    """10,000 corrupted streams: 0 crashes, 0 hangs, each an image or an explicit erasure."""
    x, _ = data
    rng = np.random.default_rng(2026)
    levels = (0, 3, 7, 11, 15)
    clean = {r: codec.encode(x[:20], r) for r in levels}
    kinds = ("flip", "flip_half", "truncate", "empty", "garbage", "append", "huge")
    outcome = {k: {"image": 0, "erased": 0} for k in kinds}
    n = 0
    for batch in range(100):
        r = levels[batch % len(levels)]
        streams, used = [], []
        for _ in range(100):
            s = clean[r][int(rng.integers(len(clean[r])))]
            kind = kinds[int(rng.integers(len(kinds)))]
            if kind == "flip":
                c = flip_bits(s, 10.0 ** rng.uniform(-4.0, -0.3), rng)
            elif kind == "flip_half":
                c = flip_bits(s, 0.5, rng)
            elif kind == "truncate":
                c = s[: int(rng.integers(0, len(s)))]
            elif kind == "empty":
                c = b""
            elif kind == "garbage":
                c = rng.bytes(int(rng.integers(1, 800)))
            elif kind == "append":
                c = s + rng.bytes(int(rng.integers(1, 64)))
            else:
                c = rng.bytes(MAX_STREAM_BYTES + 1)
            streams.append(c)
            used.append(kind)
        res = codec.decode(streams, r)
        assert len(res.images) == len(streams) == len(res.erased) == len(res.reasons)
        for i, kind in enumerate(used):
            outcome[kind][_check_outcome(codec, res, i)] += 1
            n += 1
    assert n == 10_000
    assert outcome["empty"]["image"] == 0 and outcome["empty"]["erased"] > 0
    assert outcome["huge"]["image"] == 0 and outcome["huge"]["erased"] > 0
    # real corruption gives both outcomes: degraded images and decoder rejections
    assert outcome["flip"]["image"] > 0 and outcome["flip"]["erased"] > 0
    assert outcome["garbage"]["erased"] > 0


def test_deadline_gives_timeout_erasures(data) -> None:
    c = ClassicalCodec(classifier=False, deadline_s=-1.0)
    res = c.decode(c.encode(data[0][:3], 2), 2)
    assert res.erased.all() and res.reasons == ["timeout"] * 3


def test_non_bytes_streams_are_erasures(codec) -> None:
    res = codec.decode([None, 17, "text"], 0)
    assert res.erased.all() and all("not bytes" in r for r in res.reasons)


def test_monotone_curve() -> None:
    d = [0.1, 0.1, 0.3, 0.2, 0.5, 0.4, 0.4, 0.9]
    m = monotone_curve(d)
    assert np.all(np.diff(m) >= 0) and len(m) == len(d)
    assert sum(m) == pytest.approx(sum(d))


# ----------------------------------------------------------------------------------------------
# Shipped tables
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.stem)
def test_shipped_tables_load(path, codec) -> None:
    t = dist.DistortionTable.load(path)
    doc = json.loads(path.read_text())
    assert t.codec == NAME and t.n_points == codec.levels
    assert doc["qualities"] == list(codec.qualities)
    assert t.model in ("logistic", "tabulated")
    assert t.rs_bits[0] < 400 and t.rs_bits[-1] > 3000
    x = np.linspace(-8.0, -1.0, 15)
    for k in range(t.n_points):
        d = t.point_distortion(np.full(x.shape, k), x)
        assert np.all(np.diff(d) >= -1e-12)  # more bit errors never help
    if t.model == "logistic":
        assert doc["min_r2"] >= 0.95
    manifest = json.loads((DATA_DIR / "manifest.json").read_text())
    entry = {e["file"]: e for e in manifest}[f"tables/{path.name}"]
    assert entry["sha256"] == file_sha256(path)
    # the codec's rate table is the shipped one
    assert codec.rate_table is not None
    np.testing.assert_allclose(sorted(codec.rate_table), t.rs_bits)


def test_zf_wf_fixed_rc_uses_the_classical_tables() -> None:
    du = dist.load_table(f"classical_{NAME}_du_msssim")
    su = dist.load_table(f"classical_{NAME}_su_error")
    H = bf.paper_channel()
    learned = [dist.synthetic_table("du", seed=1), dist.synthetic_table("su", seed=2)]
    T = 784 * 0.6
    pr = Problem(H, 1.0, learned, [0.8, 0.2], 3.0, T, 256)
    sol = baselines.zf_wf_fixed_rc(pr, [1.8, 1.3], [du, su])
    np.testing.assert_array_equal(sol.rc, [1.8, 1.3])
    for i, t in enumerate((du, su)):
        k = sol.positions[i]
        # the largest classical rate that fits R_c * T
        assert t.rs_bits[k] <= sol.rc[i] * T
        assert k == t.n_points - 1 or t.rs_bits[k + 1] > sol.rc[i] * T
        assert sol.rate_index[i] == t.index[k]
        assert sol.rs_bits[i] == pytest.approx(t.rs_bits[k])
        want = float(t.point_distortion(k, sol.log10_ber[i]))
        assert sol.distortion[i] == pytest.approx(want)
    assert 0.0 <= sol.distortion[0] <= 1.0 and 0.0 <= sol.distortion[1] <= 1.0


def test_eval_baselines_rows(codec, data) -> None:
    from semdacom.cli.baselines import evaluate_classical

    x, y = data
    rows = evaluate_classical(codec, x[:10], y[:10], progress=False)
    assert [r["index"] for r in rows] == list(range(codec.levels))
    assert [r["quality"] for r in rows] == list(DEFAULT_QUALITIES)
    assert np.all(np.diff([r["rs_bits"] for r in rows]) > 0)
    assert np.all(np.diff([r["psnr_db"] for r in rows]) > 0)
    assert all(0.0 <= r["su_accuracy"] <= 1.0 and r["erased"] == 0 for r in rows)
