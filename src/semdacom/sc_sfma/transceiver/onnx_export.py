"""The SC-SFMA user decoders as ONNX files (issue 25, Build 4; ``semdacom export-onnx``).

``sfma_<variant>_decoder_user<u>.onnx``: an SC-SFMA user's decoder network. ``z`` (the NHWC code
unpacked from the received complex symbols by the mask), ``mask`` (float 0/1), ``nu`` (the kept
share of the channels) and ``snr_db`` give the image. The unpacking stays in Python
(``SfmaTransceiver.decoder_inputs``): ONNX has no complex tensors. OMA's users share one
decoder, so it has one file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from semdacom.source_coding.onnx_export import export_module

__all__ = ["check_sfma_onnx", "export_sfma_onnx", "sfma_file"]


class _SfmaDecoder(nn.Module):
    """An SC-SFMA user's decoder network: ``(z, mask, nu, snr_db) -> image``."""

    def __init__(self, dec: nn.Module) -> None:
        super().__init__()
        self.dec = dec

    def forward(self, z, mask, nu, snr_db):
        return self.dec(z, mask > 0.5, nu, snr_db)


def sfma_file(variant: str, user: int) -> str:
    return f"sfma_{variant}_decoder_user{int(user)}.onnx"


def export_sfma_onnx(out_dir: str | Path, variant: str = "sc_sfma") -> dict:
    """Write each user's decoder of the SC-SFMA transceiver ``variant`` (one file for OMA,
    whose users share it) to ``out_dir``; returns ``{"files": [...], "code": [side, side,
    C]}``."""
    from semdacom.sc_sfma.transceiver import load_transceiver

    t = load_transceiver(variant, device="cpu")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    side = int(round(t.spatial**0.5))
    z = torch.randn(2, side, side, t.code_channels)
    args = (z, torch.ones(2, t.code_channels), torch.full((2,), 0.5), torch.full((2,), 10.0))
    files = []
    for u in range(1 if t.oma else 2):
        f = sfma_file(variant, u)
        export_module(_SfmaDecoder(t.decoders[u]), args, ["z", "mask", "nu", "snr_db"], ["image"],
                out / f)  # fmt: skip
        files.append(f)
    return {"variant": variant, "files": files, "code": [side, side, t.code_channels]}


def check_sfma_onnx(out_dir: str | Path, images: np.ndarray, variant: str = "sc_sfma",
                    nus=(0.25, 1.0), snrs_db=(0.0, 10.0), seed: int = 0) -> dict:  # fmt: skip
    """Pairs of ``images`` (uint8 ``(2n, H, W)``: even and odd ones paired) encoded,
    superposed and sent through AWGN at each ratio in ``nus`` and SNR in ``snrs_db``; each
    user's image decoded by PyTorch and by the ONNX file: the largest absolute difference."""
    import onnxruntime as ort

    from semdacom.sc_sfma.transceiver import load_transceiver
    from semdacom.sc_sfma.transceiver.transceiver import awgn, superpose

    t = load_transceiver(variant, device="cpu")
    sess = [ort.InferenceSession(str(Path(out_dir) / sfma_file(variant, u)),
                                 providers=["CPUExecutionProvider"])
            for u in range(1 if t.oma else 2)]  # fmt: skip
    x = torch.from_numpy(np.asarray(images, np.float32) / 255.0)
    if x.ndim == 3:
        x = x[:, None]
    xa, xb = x[0::2], x[1::2]
    g = torch.Generator().manual_seed(seed)
    worst, n = 0.0, 0
    with torch.no_grad():
        for nu in nus:
            sa, sb, masks = t.encode_pair(xa, xb, nu)
            for snr in snrs_db:
                sent = (sa, sb) if t.oma else (superpose(sa, sb),) * 2
                for u in (0, 1):
                    y = awgn(sent[u], snr, g)
                    dec, z, m, nu_eff, s = t.decoder_inputs(y, masks[:, u], nu, u, snr)
                    want = dec(z, m, nu_eff, s).numpy()
                    feed = {"z": z.numpy(), "mask": m.float().numpy(), "nu": nu_eff.numpy(),
                            "snr_db": s.numpy()}  # fmt: skip
                    got = sess[0 if t.oma else u].run(None, feed)[0]
                    worst = max(worst, float(np.abs(got - want).max()))
                    n += len(z)
    return {"variant": variant, "decoded": n, "image": worst}
