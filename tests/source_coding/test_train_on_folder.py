"""Issue 25: one command per step on your own labelled folder (docs/your_images.md).

A folder of 3 classes x 12 colour PNGs of different sizes goes through the real commands
(``semdacom train-classifier``, ``train-codec``, ``train-codec --semantic``, ``eval-codec``,
``fit-distortion``, each ``--data DIR --out OUT`` at 16 x 16 RGB, in a subprocess), and what they
write is used the way a user would: :meth:`LearnedCodec.load` by path, the distortion tables in
the MU-ASCC optimiser, the codec blocks built with the weights' paths.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from shared_helpers import post_and_collect, semdacom

from semdacom.data.folder import ImageFolder
from semdacom.mu_ascc.distortion import load_table
from semdacom.mu_ascc.optimizer import fast
from semdacom.mu_ascc.optimizer.problem import Problem
from semdacom.phy import beamforming as bf
from semdacom.source_coding.codec import LearnedCodec

CLASSES = ("apple", "boat", "cloud")
SIZE, MODE, LEVELS = 16, "RGB", 4
DATA = ["--size", str(SIZE), "--mode", MODE]


@pytest.fixture(scope="module")
def run(tmp_path_factory, photo_maker) -> dict:
    """The folder, the commands' outputs (stdout) and OUT, after the four steps."""
    tmp = tmp_path_factory.mktemp("own_folder")
    pics = tmp / "pics"
    for c, name in enumerate(CLASSES):
        (pics / name).mkdir(parents=True)
        for i in range(12):  # sizes from 20x18 to 97x48, landscape and portrait
            w, h = 20 + 7 * i, 18 + 5 * ((3 * i + c) % 7)
            photo_maker(w, h, 10 * c + i).save(pics / name / f"{i:02d}.png")
    data = ["--data", str(pics), "--out", "out"]
    out = {"pics": pics, "out": tmp / "out", "tmp": tmp}
    t0 = time.monotonic()
    out["classifier"] = semdacom("train-classifier", *data, *DATA, "--steps", "20", cwd=tmp)
    out["codec"] = semdacom(
        "train-codec", *data, *DATA, "--steps", "30", "--levels", str(LEVELS), cwd=tmp
    )
    # the size and mode of the codec are in its weights: not repeated from here on
    out["semantic"] = semdacom("train-codec", "--semantic", *data, "--steps", "10", cwd=tmp)
    out["eval"] = semdacom("eval-codec", *data, cwd=tmp)
    out["fit"] = semdacom(
        "fit-distortion", *data, "--n", "6", "--points", "5", "--workers", "0", cwd=tmp
    )
    out["seconds"] = time.monotonic() - t0
    return out


def _test_images(run) -> tuple[np.ndarray, np.ndarray]:
    folder = ImageFolder(run["pics"], size=SIZE, mode=MODE)
    return folder.arrays(folder.split()[1])


def test_commands_write_weights_and_tables(run) -> None:
    out = run["out"]
    clf = json.loads(run["classifier"].stdout.strip().splitlines()[-1])
    # every 5th image of each class held out: 10 training and 2 test images per class
    assert clf["classes"] == 3 and clf["n_train"] == 30 and clf["n_test"] == 6
    assert 0.0 <= clf["test_accuracy"] <= 1.0
    assert json.loads(run["codec"].stdout.strip().splitlines()[-1])["image_shape"] == [3, 16, 16]
    for name in ("classifier.pt", "hyperprior_vbr.pt", "semantic_vbr.pt"):
        assert (out / "weights" / name).is_file()
    assert "test split, 6 images 3x16x16" in run["eval"].stdout
    rate = json.loads((out / "tables" / "hyperprior_vbr_eval.json").read_text())
    assert rate["dataset"] == str(run["pics"].resolve()) and rate["image_shape"] == [3, 16, 16]
    assert len(rate["points"]) == LEVELS and all("su_accuracy" in p for p in rate["points"])
    assert rate["data"] == {
        "folder": str(run["pics"].resolve()),
        "size": SIZE,
        "mode": MODE,
        "fit": "crop",
        "test_every": 5,
    }
    for suffix in ("du_msssim", "du_mse", "su_error"):
        doc = json.loads((out / "tables" / f"hyperprior_vbr_{suffix}.json").read_text())
        assert doc["dataset"] == rate["dataset"] and doc["n_images"] == 6
        assert doc["image_shape"] == [3, 16, 16] and len(doc["points"]) == LEVELS
    assert (out / "figures" / "distortion_du_msssim.png").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert {e["file"] for e in manifest} >= {
        "weights/hyperprior_vbr.pt",
        "tables/hyperprior_vbr_eval.json",
    }
    assert run["seconds"] < 120, run["seconds"]


def test_codec_loads_by_path_and_round_trips(run) -> None:
    w = run["out"] / "weights"
    codec = LearnedCodec.load(
        w / "hyperprior_vbr.pt",
        semantic=w / "semantic_vbr.pt",
        classifier=w / "classifier.pt",
        rate_table=run["out"] / "tables" / "hyperprior_vbr_eval.json",
    )
    assert codec.image_shape == (3, SIZE, SIZE)  # from the weights, not the 28x28 default
    assert codec.levels == LEVELS and codec.low_rate_levels == 0  # no shipped low-rate end
    assert codec.rate_table is not None and len(codec.rate_table) == LEVELS
    x, y = _test_images(run)
    assert x.shape == (6, 3, SIZE, SIZE) and set(y.tolist()) == {0, 1, 2}
    for r in (0, LEVELS - 1):
        streams = codec.encode(x, r)
        res = codec.decode(streams, r)
        assert res.images.shape == (6, 3, SIZE, SIZE) and not res.erased.any()
        labels, erased = codec.classify(streams, r)
        assert not erased.any() and ((labels >= 0) & (labels < len(CLASSES))).all()
    # the weights path alone finds the semantic decoder and the rate table beside it
    alone = LearnedCodec.load(w / "hyperprior_vbr.pt")
    assert alone.semantic is not None and alone.rate_table == codec.rate_table
    np.testing.assert_array_equal(
        alone.classify(codec.encode(x, 1), 1)[0], codec.classify(codec.encode(x, 1), 1)[0]
    )


def test_tables_drive_the_optimiser(run) -> None:
    tables = [
        load_table(str(run["out"] / "tables" / f"hyperprior_vbr_{s}.json"))
        for s in ("du_msssim", "su_error")
    ]
    assert [t.task for t in tables] == ["du", "su"]
    assert all(len(t.rs_bits) == LEVELS for t in tables)
    # 16x16x3 pixels at 0.6 channel uses per pixel... with room for the top rate
    pr = Problem(bf.paper_channel(), 1.0, tables, np.array([0.8, 0.2]), 3.0, 4096.0, 256)
    sol = fast.solve_fast(pr)
    assert np.isfinite(sol.objective)
    assert all(0 <= int(r) < LEVELS for r in sol.rate_index)

    from gnuradio.semdacom.mu_ascc.mu_ascc_optimizer import mu_ascc_optimizer

    blk = mu_ascc_optimizer(
        tables=[
            str(t)
            for t in (
                run["out"] / "tables" / "hyperprior_vbr_du_msssim.json",
                run["out"] / "tables" / "hyperprior_vbr_su_error.json",
            )
        ],
        delay=4096.0,
    )
    assert blk is not None


def test_blocks_take_the_weights_by_path(run) -> None:
    from gnuradio.semdacom import messages
    from gnuradio.semdacom.source_coding.semantic_decoder import semantic_decoder
    from gnuradio.semdacom.source_coding.source_decoder import source_decoder
    from gnuradio.semdacom.source_coding.source_encoder import source_encoder

    w = run["out"] / "weights"
    x, y = _test_images(run)
    r = LEVELS - 1
    enc = source_encoder(user=0, rate_index=r, weights=str(w / "hyperprior_vbr.pt"))
    pdus = [messages.image_pdu({"image_id": i, "label": int(y[i])}, x[i]) for i in range(3)]
    bits = [messages.unpack_bits_pdu(m) for m in post_and_collect(enc, "pdus", pdus)]
    codec = LearnedCodec.load(w / "hyperprior_vbr.pt")
    for i, (meta, b) in enumerate(bits):
        assert not meta.get("erased") and meta["rate_index"] == r
        stream = codec.encode(x[i : i + 1], r)[0]
        np.testing.assert_array_equal(b, np.unpackbits(np.frombuffer(stream, np.uint8)))
    dec = source_decoder(user=0, weights=str(w / "hyperprior_vbr.pt"))
    sem = semantic_decoder(
        user=1,
        weights=str(w / "hyperprior_vbr.pt"),
        semantic=str(w / "semantic_vbr.pt"),
        classifier=str(w / "classifier.pt"),
    )
    inputs = [messages.bits_pdu(meta, b) for meta, b in bits]
    for m in post_and_collect(dec, "pdus", inputs):
        meta, img = messages.unpack_image_pdu(m)
        assert img.shape == (3, SIZE, SIZE) and meta["erased"] is False
    for m in post_and_collect(sem, "pdus", inputs):
        meta, pred = messages.unpack_label_pdu(m)
        assert 0 <= pred < len(CLASSES) and meta["erased"] is False


def test_clear_errors(run, tmp_path) -> None:
    res = semdacom("train-classifier", "--data", str(run["pics"]), cwd=tmp_path, check=False)
    assert res.returncode == 2 and "--data needs --out" in res.stderr
    assert len([ln for ln in res.stderr.splitlines() if "error" in ln]) == 1
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in sorted((run["pics"] / "apple").iterdir())[:4]:
        (flat / f.name).write_bytes(f.read_bytes())
    res = semdacom("train-classifier", "--data", str(flat), "--out", "o", cwd=tmp_path, check=False)
    assert res.returncode == 2 and "no classes" in res.stderr.splitlines()[-1]
    assert not (tmp_path / "o" / "weights").exists()
