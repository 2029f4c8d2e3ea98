"""Issue 25, Build 3: any CompressAI image model as the data user's source coder.

Two tiny ``ScaleHyperprior`` points (N = M = 16, 30 steps each on Fashion-MNIST) are trained
with the real command (``semdacom train-compressai``), measured with ``eval-codec --codec
compressai`` and tabulated with ``fit-distortion --codec compressai`` (20 images, 5 + 3 BERs),
each in a subprocess; then :class:`CompressAICodec` is checked on what they wrote (round trip
against stock CompressAI, rate per point, corrupted, truncated and random streams, wrong types),
the blocks take the files, and examples/mu_ascc_loopback.grc runs its closed loop with the data
user's coder set to them (docs/bring_your_model.md).
"""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_helpers import post_and_collect, semdacom

from semdacom.data.datasets import load_fashion_mnist
from semdacom.mu_ascc import distortion_fit as dfit
from semdacom.source_coding.codec import load_classifier
from semdacom.source_coding.compressai_codec import (
    CompressAICodec,
    load_model_file,
    pack_stream,
    parse_weights,
    unpack_stream,
)

ARCH = "ScaleHyperprior"
NAME = f"compressai_{ARCH}"
N_FIT = 20


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    """OUT after train-compressai, eval-codec and fit-distortion, and their outputs."""
    tmp = tmp_path_factory.mktemp("compressai")
    out = tmp / "out"
    res = {"out": out, "tmp": tmp}
    t0 = time.monotonic()
    res["train"] = semdacom(
        "train-compressai", "--arch", ARCH, "--N", "16", "--M", "16",
        "--lmbda", "0.0005", "0.05", "--steps", "30", "--out", str(out), cwd=tmp,
    )  # fmt: skip
    files = sorted((out / "weights").glob(f"{NAME}_q*.pt"))
    res["files"] = files
    weights = ["--weights", *map(str, files)]
    res["eval"] = semdacom(
        "eval-codec", "--codec", "compressai", *weights, "--out", str(out), "--n", "50", cwd=tmp
    )
    res["fit"] = semdacom(
        "fit-distortion", "--codec", "compressai", *weights, "--out", str(out),
        "--n", str(N_FIT), "--points", "5", "--workers", "0", cwd=tmp,
    )  # fmt: skip
    res["seconds"] = time.monotonic() - t0
    return res


@pytest.fixture(scope="module")
def codec(run) -> CompressAICodec:
    return CompressAICodec(run["files"], classifier=True)


@pytest.fixture(scope="module")
def images() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_fashion_mnist("test")
    return x[:N_FIT], y[:N_FIT]


# ----------------------------------------------------------------------------------------------
# the commands
# ----------------------------------------------------------------------------------------------


def test_commands_write_the_models_and_the_tables(run) -> None:
    out = run["out"]
    assert [f.name for f in run["files"]] == [f"{NAME}_q0.pt", f"{NAME}_q1.pt"]
    lines = [json.loads(ln) for ln in run["train"].stdout.strip().splitlines()]
    assert [ln["lmbda"] for ln in lines] == [0.0005, 0.05] and lines[0]["steps"] == 30
    model, info = load_model_file(run["files"][0])
    assert info["arch"] == ARCH and info["kwargs"] == {"N": 16, "M": 16}
    assert info["image_shape"] == [1, 28, 28] and info["dataset"] == "fashion-mnist"
    assert type(model).__name__ == ARCH and not model.training
    doc = json.loads((out / "tables" / f"{NAME}_eval.json").read_text())
    assert doc["codec"] == NAME and doc["arch"] == ARCH and len(doc["points"]) == 2
    assert [p["erased"] for p in doc["points"]] == [0, 0]
    assert "su_accuracy" in doc["points"][0]  # the shipped classifier E on the decoded images
    for suffix in ("du_msssim", "du_mse", "su_error"):
        t = json.loads((out / "tables" / f"{NAME}_{suffix}.json").read_text())
        assert t["codec"] == NAME and t["n_images"] == N_FIT and t["image_shape"] == [1, 28, 28]
        assert [p["index"] for p in t["points"]] == [0, 1]
        assert t["model"] in ("logistic", "tabulated")
        assert len(t["points"][0]["samples"]["log10_ber"]) == 8
        assert (out / "figures" / f"{NAME}_{suffix}.png").stat().st_size > 1000
    manifest = {e["file"] for e in json.loads((out / "manifest.json").read_text())}
    assert {f"weights/{NAME}_q0.pt", f"tables/{NAME}_eval.json",
            f"tables/{NAME}_du_msssim.json"} <= manifest  # fmt: skip
    assert run["seconds"] < 90, run["seconds"]


def test_rate_grows_with_the_point_and_the_rate_table_is_found(run, codec) -> None:
    doc = json.loads((run["out"] / "tables" / f"{NAME}_eval.json").read_text())
    bits = [p["rs_bits"] for p in doc["points"]]
    assert bits[1] > 1.5 * bits[0], bits
    assert codec.rate_table == bits  # tables/<name>_eval.json beside the weights' folder
    assert codec.name == NAME and codec.levels == 2 and codec.image_shape == (1, 28, 28)
    # a folder, or one comma-separated string, gives the same points in the same order
    assert parse_weights(run["out"] / "weights") == run["files"]
    assert parse_weights(",".join(map(str, run["files"]))) == run["files"]


def test_clear_errors(run, tmp_path) -> None:
    res = semdacom("fit-distortion", "--codec", "compressai", "--out", "o", cwd=tmp_path,
                   check=False)  # fmt: skip
    assert res.returncode == 2 and "needs --weights" in res.stderr
    w = ["--weights", str(run["files"][0])]
    res = semdacom("fit-distortion", "--codec", "compressai", *w, cwd=tmp_path, check=False)
    assert res.returncode == 2 and "needs --out" in res.stderr
    res = semdacom("eval-codec", "--codec", "compressai", "--weights", "nope.pt", cwd=tmp_path,
                   check=False)  # fmt: skip
    assert res.returncode == 2 and "no such model file" in res.stderr
    res = semdacom("train-compressai", "--arch", "Nope", "--out", "o", "--steps", "1",
                   cwd=tmp_path, check=False)  # fmt: skip
    assert res.returncode == 2 and "not a compressai.models class" in res.stderr


# ----------------------------------------------------------------------------------------------
# the codec
# ----------------------------------------------------------------------------------------------


def _stock(path: Path):
    """The model of ``path`` with CompressAI's own entropy coder, in float64."""
    model, _ = load_model_file(path)
    return model.double()


def test_streams_are_compressai_compress_and_decode_like_decompress(run, codec, images) -> None:
    """A stream is the model's own compress() strings, packed; decoding gives exactly what
    stock CompressAI's decompress() gives (cropped to 28 x 28, the three channels averaged)."""
    x = images[0][:4]
    for r, path in enumerate(run["files"]):
        stock = _stock(path)
        streams = codec.encode(x, r)
        res = codec.decode(streams, r)
        assert not res.erased.any() and res.images.shape == (4, 1, 28, 28)
        for i in range(len(x)):
            xi = torch.from_numpy(x[i : i + 1].astype(np.float64) / 255.0)[:, None]
            xi = torch.nn.functional.pad(xi.repeat(1, 3, 1, 1), (18, 18, 18, 18))
            with torch.no_grad():
                c = stock.compress(xi)
                assert streams[i] == pack_stream([s[0] for s in c["strings"]])
                ref = stock.decompress(c["strings"], c["shape"])["x_hat"]
            ref = ref[0, :, 18:46, 18:46].mean(0).float().numpy()
            np.testing.assert_allclose(res.images[i, 0], ref, atol=1e-6)


def test_round_trip_is_deterministic_and_classify_labels(codec, images) -> None:
    x, y = images
    for r in range(codec.levels):
        s1, s2 = codec.encode(x, r), codec.encode(x[::-1], r)[::-1]
        assert s1 == s2  # an image's stream does not depend on the batch around it
        res = codec.decode(s1, r)
        again = codec.decode(s1[3:7], r)
        np.testing.assert_array_equal(res.images[3:7], again.images)
        labels, erased = codec.classify(s1, r)
        assert labels.shape == (N_FIT,) and not erased.any()
        assert set(labels.tolist()) <= set(range(10))
    assert codec.erasure_fill.shape == (1, 28, 28)
    assert np.all((codec.erasure_fill >= 0) & (codec.erasure_fill <= 1))


def test_corrupted_truncated_and_random_streams_never_raise_or_hang(codec, images) -> None:
    rng = np.random.default_rng(5)
    streams = codec.encode(images[0][:6], 1)
    cases = [s[:k] for s in streams for k in range(0, len(s), 5)]  # every truncation
    cases += [dfit.flip_bits(s, ber, rng) for s in streams for ber in (1e-3, 1e-2, 0.1, 0.5)]
    cases += [bytes(rng.integers(0, 256, int(n), dtype=np.uint8)) for n in rng.integers(0, 700, 60)]
    cases += [b"\xff" * 40, b"\x80\x80\x80\x80", b"\x00", b"\x05abc", bytes(10_000)]
    t0 = time.monotonic()
    res = codec.decode(cases, 1)
    assert time.monotonic() - t0 < 30
    assert res.images.shape == (len(cases), 1, 28, 28)
    assert np.all(np.isfinite(res.images)) and res.images.min() >= 0 and res.images.max() <= 1
    assert all(bool(r) == bool(e) for r, e in zip(res.reasons, res.erased, strict=True))
    assert res.erased[[i for i, c in enumerate(cases) if len(c) == 0]].all()
    why = dict(zip(map(bytes, cases), res.reasons, strict=True))
    assert why[b""] == "empty stream" and "length field" in why[b"\x80\x80\x80\x80"]
    assert "only its length" in why[b"\x00"]
    # a stream over the size cap is an erasure, not a decode
    big = codec.decode([bytes(codec.max_stream_bytes + 1)], 0)
    assert big.erased[0] and "too long" in big.reasons[0]
    # the erased images hold the fill
    np.testing.assert_array_equal(res.images[res.erased][:1], codec.erasure_fill[None])


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_any_edit_of_a_stream_decodes_or_is_erased(codec, images, data) -> None:
    """Hypothesis: a real stream with random bytes replaced, cut or extended, at a random
    point, decodes to an image in [0, 1] or is an erasure with a reason; never an exception."""
    r = data.draw(st.integers(0, codec.levels - 1))
    i = data.draw(st.integers(0, 5))
    s = bytearray(codec.encode(images[0][i : i + 1], r)[0])
    for _ in range(data.draw(st.integers(0, 6))):
        pos = data.draw(st.integers(0, max(len(s) - 1, 0)))
        if s:
            s[pos] = data.draw(st.integers(0, 255))
    s = s[: data.draw(st.integers(0, len(s)))] + data.draw(st.binary(max_size=40))
    res = codec.decode([bytes(s), data.draw(st.binary(max_size=300))], r)
    assert np.all(np.isfinite(res.images)) and res.images.min() >= 0 and res.images.max() <= 1
    assert all(bool(w) == bool(e) for w, e in zip(res.reasons, res.erased, strict=True))


def test_wrong_types(codec, images) -> None:
    s = codec.encode(images[0][:1], 0)[0]
    res = codec.decode([None, "text", 3, 1.5, [1, 2], bytearray(s), memoryview(s)], 0)
    assert res.erased.tolist() == [True] * 5 + [False, False]
    assert res.reasons[0] == "stream is NoneType, not bytes"
    res = codec.decode(s, 0)  # bytes instead of a list of bytes: each int is no stream
    assert res.erased.all() and len(res.erased) == len(s)
    assert len(codec.decode([], 1).images) == 0
    for bad in (2, -1, True, 1.0, "0", None):
        with pytest.raises(ValueError, match="rate_index"):
            codec.decode([s], bad)
        with pytest.raises(ValueError, match="rate_index"):
            codec.encode(images[0][:1], bad)
    for bad in (np.zeros((2, 32, 32), np.uint8), np.full((1, 28, 28), np.nan),
                np.array([["a"]]), np.zeros((1, 3, 28, 28))):  # fmt: skip
        with pytest.raises(ValueError):
            codec.encode(bad, 0)
    codec.deadline_s, keep = -1.0, codec.deadline_s
    try:
        res = codec.decode([s, s], 0)
        assert res.erased.all() and set(res.reasons) == {"timeout"}
    finally:
        codec.deadline_s = keep


def test_stream_format(codec) -> None:
    assert pack_stream([b"ab", b"xyz"]) == b"\x02abxyz" and pack_stream([b"only"]) == b"only"
    assert unpack_stream(b"\x02abxyz", 2) == [b"ab", b"xyz"]
    assert unpack_stream(b"\x09abxyz", 2) == [b"abxyz", b""]  # a length past the end: cut
    long = b"a" * 300
    assert unpack_stream(pack_stream([long, b"z"]), 2) == [long, b"z"]


def test_other_models_and_files(tmp_path, images) -> None:
    """A one-string model (FactorizedPrior; its stream is the string alone) and a state dict
    without CDF tables (update() is called) load and round-trip; a model decoding with
    CompressAI's own RansDecoder, a file that is not a model, and a state dict of another
    size are refused with a ValueError."""
    from compressai.models import FactorizedPrior, JointAutoregressiveHierarchicalPriors

    torch.manual_seed(0)
    fp = FactorizedPrior(8, 8).eval()  # CDF tables not built: the file has none
    path = tmp_path / "fp.pt"
    torch.save({"arch": "FactorizedPrior", "kwargs": {"N": 8, "M": 8},
                "state_dict": fp.state_dict(), "image_shape": [1, 28, 28]}, path)  # fmt: skip
    c = CompressAICodec(path)
    assert c.name == "compressai_FactorizedPrior" and c.levels == 1 and c._probe[0]["k"] == 1
    streams = c.encode(images[0][:3], 0)
    res = c.decode(streams, 0)
    assert not res.erased.any()
    assert c.decode([streams[0][:3], b""], 0).erased.tolist() == [False, True]
    ar = tmp_path / "ar.pt"
    torch.save({"arch": "JointAutoregressiveHierarchicalPriors", "kwargs": {"N": 8, "M": 8},
                "state_dict": JointAutoregressiveHierarchicalPriors(8, 8).state_dict(),
                "image_shape": [1, 28, 28]}, ar)  # fmt: skip
    with pytest.raises(ValueError, match="RansDecoder"):
        CompressAICodec(ar)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a CompressAI model file"):
        CompressAICodec(junk)
    other = tmp_path / "other.pt"
    torch.save({"arch": "FactorizedPrior", "kwargs": {"N": 16, "M": 8},
                "state_dict": fp.state_dict(), "image_shape": [1, 28, 28]}, other)  # fmt: skip
    with pytest.raises(ValueError, match="does not fit"):
        CompressAICodec(other)
    with pytest.raises(ValueError, match="no such model file"):
        CompressAICodec(tmp_path / "missing.pt")


@pytest.mark.parametrize(
    ("arch", "kwargs", "dtype"),
    [
        ("Cheng2020AnchorCheckerboard", {"N": 8}, torch.float64),
        ("Elic2022Official", {"N": 8, "M": 192}, torch.float32),  # its decoder: float32 only
    ],
)
def test_checkerboard_and_channel_group_models_are_guarded(tmp_path, images, arch, kwargs,
                                                           dtype) -> None:  # fmt: skip
    """Context models that decode through entropy models (checkerboard, channel groups) are
    accepted: a round trip equals stock decompress(), and corrupted streams do not raise."""
    from semdacom.source_coding.compressai_codec import build_model

    torch.manual_seed(0)
    path = tmp_path / "m.pt"
    torch.save({"arch": arch, "kwargs": kwargs, "state_dict": build_model(arch, kwargs)
                .state_dict(), "image_shape": [1, 28, 28]}, path)  # fmt: skip
    c = CompressAICodec(path)
    probe = c._probe[0]
    assert probe["dtype"] == dtype and probe["k"] >= 3
    x = images[0][:1]
    res = c.decode(c.encode(x, 0), 0)
    stock = _stock(path).to(dtype)
    left, right, top, bottom = probe["pad"]
    xi = torch.from_numpy(x.astype(np.float64) / 255.0)[:, None].repeat(1, 3, 1, 1).to(dtype)
    with torch.no_grad():
        cs = stock.compress(torch.nn.functional.pad(xi, probe["pad"]))
        ref = stock.decompress(cs["strings"], cs["shape"])["x_hat"]
    ref = ref[0, :, top : top + 28, left : left + 28].mean(0).float().numpy()
    np.testing.assert_allclose(res.images[0, 0], ref, atol=1e-5)
    rng = np.random.default_rng(1)
    s = c.encode(x, 0)[0]
    bad = [dfit.flip_bits(s, 0.05, rng) for _ in range(4)] + [s[:k] for k in range(0, len(s), 40)]
    out = c.decode(bad, 0)
    assert np.all(np.isfinite(out.images)) and out.images.min() >= 0 and out.images.max() <= 1


def test_any_pytorch_classifier_file(tmp_path, images) -> None:
    """load_classifier takes {"module": "pkg.mod:Class", "kwargs", "state_dict"}: here the
    shipped classifier's class and weights, so the labels are the shipped classifier's."""
    shipped = load_classifier()
    path = tmp_path / "clf.pt"
    torch.save({"module": "semdacom.source_coding.models:Classifier",
                "kwargs": dict(shipped.config), "state_dict": shipped.state_dict(),
                "image_shape": [1, 28, 28]}, path)  # fmt: skip
    clf = load_classifier(path)
    x = torch.from_numpy(images[0][:, None].astype(np.float32) / 255.0)
    with torch.no_grad():
        assert torch.equal(clf(x).argmax(1), shipped(x).argmax(1))
    from semdacom.source_coding.codec import check_classifier

    with pytest.raises(ValueError, match="classifier"):
        check_classifier(clf, (3, 28, 28))
    torch.save({"module": "semdacom.nope:X", "state_dict": {}}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="cannot import"):
        load_classifier(tmp_path / "bad.pt")


def test_the_fit_spec_is_plain_and_builds_the_codec(run) -> None:
    spec = dfit.codec_spec("compressai", run["files"], classifier=None)
    assert spec["kind"] == "compressai" and spec["weights"].count(",") == 1
    assert pickle.loads(pickle.dumps(spec)) == spec and hash(tuple(sorted(spec.items())))
    c = dfit.codec_from_spec(spec)
    assert c.levels == 2 and c.semantic is None and c.rate_table is None


# ----------------------------------------------------------------------------------------------
# the blocks and the closed loop
# ----------------------------------------------------------------------------------------------


def test_blocks_take_the_model_files(run, codec, images) -> None:
    from gnuradio.semdacom import messages
    from gnuradio.semdacom.source_coding.semantic_decoder import semantic_decoder
    from gnuradio.semdacom.source_coding.source_decoder import source_decoder
    from gnuradio.semdacom.source_coding.source_encoder import source_encoder

    x, y = images
    w = ",".join(map(str, run["files"]))
    enc = source_encoder(user=0, rate_index=1, weights=w, codec="compressai")
    pdus = [messages.image_pdu({"image_id": i, "label": int(y[i])}, x[i]) for i in range(3)]
    bits = [messages.unpack_bits_pdu(m) for m in post_and_collect(enc, "pdus", pdus)]
    for i, (meta, b) in enumerate(bits):
        assert meta["codec"] == NAME and meta["rate_index"] == 1 and not meta.get("erased")
        stream = codec.encode(x[i : i + 1], 1)[0]
        np.testing.assert_array_equal(b, np.unpackbits(np.frombuffer(stream, np.uint8)))
    inputs = [messages.bits_pdu(meta, b) for meta, b in bits]
    inputs.append(messages.bits_pdu({"image_id": 9, "rate_index": 0}, np.zeros(0, np.uint8)))
    dec = source_decoder(user=0, weights=w, codec="compressai")
    out = [messages.unpack_image_pdu(m) for m in post_and_collect(dec, "pdus", inputs)]
    ref = codec.decode(codec.encode(x[:3], 1), 1).images
    for i, (meta, img) in enumerate(out[:3]):
        assert meta["erased"] is False and img.shape == (1, 28, 28)
        np.testing.assert_array_equal(img, np.round(ref[i] * 255.0).astype(np.uint8))
    assert out[3][0]["erased"] is True and out[3][0]["erasure_reason"]
    sem = semantic_decoder(user=1, weights=w, codec="compressai")
    labels = [messages.unpack_label_pdu(m) for m in post_and_collect(sem, "pdus", inputs)]
    assert [pred for _, pred in labels][:3] == codec.classify(codec.encode(x[:3], 1), 1)[0].tolist()
    assert labels[3][1] == -1
    with pytest.raises(ValueError, match="needs weights"):
        source_encoder(codec="compressai")
    with pytest.raises(ValueError):
        source_decoder(codec="compressai", weights=w, rate_index=2)  # 2 points: 0..1


def test_closed_loop_runs_with_the_compressai_coder(run, tmp_path) -> None:
    """examples/mu_ascc_loopback.grc with du_codec = compressai, du_weights = the two files
    and du_tables = their fitted table: every image in gives one result out on both users,
    the optimiser plans the data user on the CompressAI coder's points, every block takes the
    allocation, and on a good link the data user's 1-MS-SSIM is the table's d_s at the chosen
    point (the same 20 test images were fitted)."""
    from semdacom.cli.examples import compile_example, load_flowgraph_module, run_until

    root = Path(__file__).resolve().parents[2]
    mod = load_flowgraph_module(compile_example(root / "examples" / "mu_ascc_loopback.grc",
                                                tmp_path))  # fmt: skip
    table = run["out"] / "tables" / f"{NAME}_du_msssim.json"
    n = N_FIT
    tb = mod.mu_ascc_loopback(
        n_images=n, p_max_dbw=5.0, du_codec="compressai",
        du_weights=",".join(map(str, run["files"])), du_tables=str(table),
    )  # fmt: skip

    def done() -> bool:
        return tb.metrics.counters()["results"] >= 2 * n

    run_until(tb, done, 120.0, describe=tb.metrics.summary)
    s = tb.metrics.summary()
    assert s["counts"]["refs"] == s["counts"]["results"] == 2 * n, s["counts"]
    assert s["counts"]["malformed"] == s["counts"]["unmatched"] == 0, s["counts"]
    for u in ("0", "1"):
        assert s["users"][u]["received"] == s["users"][u]["evaluated"] == n
    a = tb.optimizer.last_allocation()
    assert a is not None and 0 <= int(a.rate_index[0]) < 2
    assert list(tb.optimizer._tables[0].index) == [0, 1]
    for blk in (tb.source_encoder_0, tb.source_decoder_0):
        c = blk.counters()
        assert c["cmd_accepted"] >= 1 and c["cmd_rejected"] == 0, c
    du = s["users"]["0"]
    assert du["erased"] == 0, du
    doc = json.loads(table.read_text())
    d_s = {p["index"]: p["d_s"] for p in doc["points"]}[int(a.rate_index[0])]
    assert abs(du["one_minus_msssim"] - d_s) < 0.01, (du, d_s)
