"""The learned codec's networks as separate ONNX files (issue 25, Build 4).

The base station and a user device may run the codec on different runtimes. This module
writes three files, each usable on its own:

- ``source_encoder.onnx``: the base station's analysis network. ``x`` ``(B, C, H, W)`` float32
  in ``[0, 1]`` and ``rate_index`` ``(B,)`` int64 give ``y``, the gained latent
  ``g_a(pad(x)) gain[r]`` ``(B, M, h, w)``, and ``z = h_a(|y|)`` ``(B, Nh, hz, wz)``. Both are
  taken before quantisation.
- ``source_decoder.onnx``: the data user's synthesis network. ``y_hat`` (the dequantised
  latent ``y_sym inv_gain[r]``) and ``rate_index`` give the image ``(B, C, H, W)``,
  cropped and clamped to ``[0, 1]``.
- ``semantic_decoder.onnx``: the semantic user's decoder ``Q = E o G``. ``y_hat`` and
  ``rate_index`` give the class logits ``(B, classes)``.

The SC-SFMA user decoders are exported by :mod:`semdacom.sc_sfma.transceiver.onnx_export`.

**What stays in Python, and why.** The entropy coder stays in Python:

- rounding;
- the hyper-synthesis ``h_s``, which picks each latent element's CDF table;
- CompressAI's rANS coder.

The indexes of ``h_s`` must be bit-identical at the base station and at the user. A float32
network on two runtimes does not guarantee that: one index off garbles the rest of the stream.
So ``LearnedCodec`` computes them in float64 on both sides (``_scale_indexes``).
:meth:`LearnedCodec.streams_from_latents` turns the encoder's outputs into streams, and
:meth:`LearnedCodec.decode_latent` turns streams into ``y_hat`` for the decoders.

:func:`check_onnx` runs the files with onnxruntime against PyTorch on given images. It
reports:

- the largest differences;
- whether the streams built from the ONNX encoder's outputs equal PyTorch's.

The exporter is torch's TorchScript-based one (``dynamo=False``). The torch.export-based one
needs onnxscript, which is not installed here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from semdacom.source_coding.codec import LearnedCodec
from semdacom.source_coding.models import VBRHyperprior

__all__ = ["FILES", "OPSET", "check_onnx", "export_module", "export_onnx"]

#: File of each network.
FILES = {
    "encoder": "source_encoder.onnx",
    "decoder": "source_decoder.onnx",
    "semantic": "semantic_decoder.onnx",
}
#: ONNX opset written.
OPSET = 17


class _Encoder(nn.Module):
    """F up to the quantiser, with the hyper-analysis: ``(x, r) -> (y, z)``."""

    def __init__(self, model: VBRHyperprior) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, rate_index: torch.Tensor):
        xp, _ = self.model.pad(x)
        y = self.model.analysis(xp, rate_index)
        return y, self.model.h_a(torch.abs(y))


class _Decoder(nn.Module):
    """G: ``(y_hat, r) -> image`` cropped to the codec's size and clamped to [0, 1]."""

    def __init__(self, model: VBRHyperprior, pad: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.model, self.pad = model, tuple(int(p) for p in pad)

    def forward(self, y_hat: torch.Tensor, rate_index: torch.Tensor) -> torch.Tensor:
        x = self.model.crop(self.model.synthesis(y_hat, rate_index), self.pad)
        return x.clamp(0.0, 1.0)


class _Semantic(nn.Module):
    """Q = E o G: ``(y_hat, r) -> logits``."""

    def __init__(self, semantic: nn.Module, pad: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.semantic, self.pad = semantic, tuple(int(p) for p in pad)

    def forward(self, y_hat: torch.Tensor, rate_index: torch.Tensor) -> torch.Tensor:
        return self.semantic(y_hat, rate_index, self.pad)


def export_module(
    module: nn.Module, args: tuple, names: list[str], outputs: list[str], path: Path
) -> None:
    """Write ``module`` (in eval mode) to ``path`` with inputs ``names`` and ``outputs``, the
    batch dimension dynamic (opset :data:`OPSET`, the TorchScript-based exporter)."""
    axes = {n: {0: "batch"} for n in names + outputs}
    with torch.no_grad():
        torch.onnx.export(module.eval(), args, str(path), input_names=names,
                          output_names=outputs, dynamic_axes=axes, opset_version=OPSET,
                          dynamo=False)  # fmt: skip


def export_onnx(out_dir: str | Path, weights: str | Path | None = None) -> dict:
    """Write the codec's networks (the shipped weights, or ``weights``) to ``out_dir`` as
    :data:`FILES`, plus ``onnx_manifest.json`` (shapes, operating points, the weights'
    SHA-256, what stays in Python). Returns the manifest."""
    codec = LearnedCodec.load(weights, low_rate=False)
    model = codec.model.cpu().eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    c, h, w = codec.image_shape
    x = torch.rand(2, c, h, w)
    r = torch.tensor([0, codec.levels - 1], dtype=torch.long)
    with torch.no_grad():
        y, z = _Encoder(model)(x, r)
    export_module(_Encoder(model), (x, r), ["x", "rate_index"], ["y", "z"], out / FILES["encoder"])
    export_module(_Decoder(model, codec._pad), (y, r), ["y_hat", "rate_index"], ["image"],
            out / FILES["decoder"])  # fmt: skip
    files = {"encoder": FILES["encoder"], "decoder": FILES["decoder"]}
    if codec.semantic is not None:
        export_module(_Semantic(codec.semantic.cpu().eval(), codec._pad), (y, r),
                ["y_hat", "rate_index"], ["logits"], out / FILES["semantic"])  # fmt: skip
        files["semantic"] = FILES["semantic"]
    manifest = {
        "files": files,
        "opset": OPSET,
        "weights_sha256": codec.sha256,
        "image_shape": [c, h, w],
        "y_shape": list(y.shape[1:]),
        "z_shape": list(z.shape[1:]),
        "rate_levels": codec.levels,
        "rate_index": "the hyperprior's own point: LearnedCodec's index minus its "
        "low_rate_levels (the fixed-length low-rate end is not exported)",
        "in_python": "rounding, the float64 hyper-synthesis that picks each latent element's "
        "CDF (bit-identical at both ends), CompressAI's rANS coder: "
        "LearnedCodec.streams_from_latents / decode_latent",
    }
    (out / "onnx_manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def check_onnx(out_dir: str | Path, images: np.ndarray, rate_indexes=(0, 7, 15),
               weights: str | Path | None = None) -> dict:  # fmt: skip
    """Run the exported files with onnxruntime against PyTorch on ``images`` (uint8
    ``(n, H, W)`` or ``(n, C, H, W)``) at each operating point in ``rate_indexes``.

    The encoder runs on the whole batch and on the first image alone (the files take any batch
    size). Returns the largest absolute differences (``y``, ``z``, ``image``, ``logits``), how many
    streams built from the ONNX encoder's outputs differ from PyTorch's
    (``streams_different`` of ``streams``), and how many semantic labels differ."""
    import onnxruntime as ort

    out = Path(out_dir)
    codec = LearnedCodec.load(weights, low_rate=False)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = {k: ort.InferenceSession(str(out / f), so, providers=["CPUExecutionProvider"])
            for k, f in FILES.items() if (out / f).is_file()}  # fmt: skip
    x = codec.as_tensor(images).cpu()
    res = {"images": len(x), "rate_indexes": list(rate_indexes), "y": 0.0, "z": 0.0,
           "image": 0.0, "logits": 0.0, "streams": 0, "streams_different": 0,
           "labels_different": 0}  # fmt: skip
    model = codec.model.cpu().eval()
    for rr in rate_indexes:
        r = torch.full((len(x),), int(rr), dtype=torch.long)
        with torch.no_grad():
            y, z = _Encoder(model)(x, r)
        oy, oz = sess["encoder"].run(None, {"x": x.numpy(), "rate_index": r.numpy()})
        one_y, one_z = sess["encoder"].run(None, {"x": x[:1].numpy(), "rate_index": r[:1].numpy()})
        res["y"] = max(res["y"], float(np.abs(oy - y.numpy()).max()),
                       float(np.abs(one_y - y[:1].numpy()).max()))  # fmt: skip
        res["z"] = max(res["z"], float(np.abs(oz - z.numpy()).max()),
                       float(np.abs(one_z - z[:1].numpy()).max()))  # fmt: skip
        res["single_image_checked"] = True
        ref = codec.encode(x, int(rr))
        got = codec.streams_from_latents(torch.from_numpy(oy), torch.from_numpy(oz))
        res["streams"] += len(ref)
        res["streams_different"] += sum(a != b for a, b in zip(ref, got, strict=True))
        y_hat, erased, _ = codec.decode_latent(ref, int(rr))
        feed = {"y_hat": y_hat.cpu().numpy().astype(np.float32), "rate_index": r.numpy()}
        img = sess["decoder"].run(None, feed)[0]
        want = codec.images_from_latent(y_hat, erased, int(rr))
        res["image"] = max(res["image"], float(np.abs(img - want).max()))
        if "semantic" in sess and codec.semantic is not None:
            logits = sess["semantic"].run(None, feed)[0]
            with torch.no_grad():
                tl = codec.semantic(y_hat, r, codec._pad).numpy()
            res["logits"] = max(res["logits"], float(np.abs(logits - tl).max()))
            res["labels_different"] += int(np.sum(logits.argmax(1) != tl.argmax(1)))
    return res
