"""QA of ``semdacom export-onnx`` (``semdacom.source_coding.onnx_export``; issue 25, Build 4):
the encoder, the data user's decoder, the semantic user's decoder and the SC-SFMA user
decoders exported as separate ONNX files and run with onnxruntime, against PyTorch.

The command runs in a subprocess, as a user runs it: onnxruntime starts thread pools that a
later ``fork`` in the test process (the sweep runner's workers) would inherit half-locked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def export(out: Path, *args: str) -> dict:
    code = "import sys; from semdacom.cli import main; sys.exit(main(sys.argv[1:]))"
    cmd = [sys.executable, "-c", code, "export-onnx", "--out", str(out), *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads((out / "onnx_manifest.json").read_text())


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("onnx")
    return out, export(out, "--check", "32")


def test_every_network_in_its_own_file(exported) -> None:
    out, m = exported
    assert m["files"] == {"encoder": "source_encoder.onnx", "decoder": "source_decoder.onnx",
                          "semantic": "semantic_decoder.onnx"}  # fmt: skip
    assert m["sfma"]["files"] == ["sfma_sc_sfma_decoder_user0.onnx",
                                  "sfma_sc_sfma_decoder_user1.onnx"]  # fmt: skip
    for f in [*m["files"].values(), *m["sfma"]["files"]]:
        assert (out / f).stat().st_size > 10_000, f
    assert m["image_shape"] == [1, 28, 28] and m["rate_levels"] == 16
    assert m["y_shape"][0] == 32 and "rANS" in m["in_python"]


def test_onnxruntime_matches_pytorch_and_the_streams_are_identical(exported) -> None:
    """32 test images at operating points 0, 7 and 15, as one batch and the first alone: the
    encoder's latents within 1e-4 of PyTorch's (float32 rounding of different kernels;
    measured 1.5e-5), the decoded images within 1e-5 and the logits within 1e-4; the streams
    built from the ONNX encoder's outputs are the PyTorch path's, byte for byte (the rounding
    and the entropy coder stay in Python), and the semantic labels are the same. The SC-SFMA
    users' images (16 pairs, nu 1/4 and 1, 0 and 10 dB) within 1e-5 (measured 8e-7)."""
    _, m = exported
    r = m["check"]
    assert r["streams"] == 96 and r["streams_different"] == 0, r
    assert r["single_image_checked"] is True, r
    assert r["y"] < 1e-4 and r["z"] < 1e-4, r
    assert r["image"] < 1e-5 and r["logits"] < 1e-4 and r["labels_different"] == 0, r
    s = m["sfma"]["check"]
    assert s["decoded"] == 128 and s["image"] < 1e-5, s


def test_oma_users_share_one_decoder(tmp_path) -> None:
    m = export(tmp_path, "--check", "8", "--sfma-variant", "swinjscc_oma")
    assert m["sfma"]["files"] == ["sfma_swinjscc_oma_decoder_user0.onnx"]
    assert m["sfma"]["check"]["decoded"] == 32 and m["sfma"]["check"]["image"] < 1e-5
