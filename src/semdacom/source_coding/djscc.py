#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""DeepJSCC baseline (Bourtsoulatze, Kurka and Gündüz, 2019): the "ZF-WF-DJSCC" benchmark of
MU-ASCC ([1], Sec. V-A) and the DJSCC baseline of SC-SFMA ([2], Sec. IV-A).

Analog joint source-channel coding of one image into ``k`` complex channel symbols::

    x (1x28x28, [0,1]) --conv encoder--> z (2k reals) --> s = z / sqrt(mean |z|^2)  (k complex)
      --> y = s + n,  n ~ CN(0, 10^(-SNR/10))  (AWGN at the SNR in dB, unit symbol energy)
      --> conv decoder --> x_hat in [0, 1]

The bandwidth ratio is ``rho = k / (C H W)`` complex channel uses per source dimension (per
pixel for grayscale Fashion-MNIST), the quantity the MU-ASCC sweeps call ``--ratio``: rho = 0.6
gives k = 470 symbols per 28x28 image. The encoder and decoder are fully convolutional as in
the paper (strided 5x5 convolutions with PReLU down to 7x7, a 3x3 output layer with
``ceil(2k / 49)`` channels of which the first ``2k`` values are the symbols' real and imaginary
parts); the decoder mirrors it with transposed convolutions and ends with a sigmoid. Training
minimises the MSE at one training SNR (10 dB for the paper's benchmark).

API::

    model = load_djscc()                        # shipped rho = 0.6, 10 dB model
    s = model.encode(x)                         # (n, k) complex64, mean |s|^2 = 1 per image
    x_hat = model.decode(s + noise)             # (n, 1, 28, 28) in [0, 1]
    rows = evaluate_snr_grid(images, labels, [0, 10, 20])   # MS-SSIM, PSNR, MSE, accuracy

This module never imports GNU Radio.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from tqdm import tqdm

from semdacom._torch_util import default_device, save_atomic
from semdacom.data.datasets import load_fashion_mnist

__all__ = [
    "DEFAULT_WEIGHTS",
    "DeepJSCC",
    "awgn",
    "default_weights_path",
    "evaluate_snr_grid",
    "load_djscc",
    "shared_djscc",
    "symbols_for_ratio",
    "train_djscc",
    "weights_name",
]

from semdacom.data import WEIGHTS_DIR  # noqa: E402

#: File name of the main (paper) model: rho = 0.6, trained at 10 dB.
DEFAULT_WEIGHTS = "djscc_r0.60_snr10.pt"


def weights_name(ratio: float, snr_db: float) -> str:
    """Shipped file name of the model with bandwidth ratio ``ratio`` trained at ``snr_db``."""
    return f"djscc_r{ratio:.2f}_snr{snr_db:g}.pt"


def default_weights_path() -> Path:
    """Path of the shipped main model (rho = 0.6, 10 dB)."""
    return WEIGHTS_DIR / DEFAULT_WEIGHTS


def symbols_for_ratio(ratio: float, image_shape: tuple[int, int, int] = (1, 28, 28)) -> int:
    """Complex symbols per image ``k = round(rho C H W)`` (at least 1)."""
    if not (math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"bandwidth ratio must be positive, got {ratio!r}")
    return max(1, int(round(float(ratio) * int(np.prod(image_shape)))))


def power_normalise(z: torch.Tensor) -> torch.Tensor:
    """Complex ``(n, k)`` symbols scaled per row to mean ``|s|^2 = 1`` (all-zero rows stay 0)."""
    p = z.abs().pow(2).mean(dim=1, keepdim=True)
    return z / torch.sqrt(p.clamp_min(1e-12))


def awgn(s: torch.Tensor, snr_db: float | torch.Tensor, generator=None) -> torch.Tensor:
    """``s + n`` with complex Gaussian noise of variance ``10^(-snr_db/10)`` per symbol.

    ``snr_db`` may be a scalar or one value per row.
    """
    var = torch.as_tensor(10.0 ** (-torch.as_tensor(snr_db, dtype=torch.float32) / 10.0))
    if var.ndim == 1:
        var = var[:, None]
    var = var.to(s.device)
    shape = (*s.shape, 2)
    n = torch.randn(shape, generator=generator, dtype=torch.float32, device="cpu").to(s.device)
    noise = torch.complex(n[..., 0], n[..., 1]) * torch.sqrt(var / 2.0)
    return s + noise


class DeepJSCC(nn.Module):
    """DeepJSCC encoder/decoder pair (see the module docstring).

    Parameters
    ----------
    k : int
        Complex channel symbols per image.
    channels, size : int
        Image channels and side (28 for Fashion-MNIST; must be divisible by 4).
    width : int
        Feature maps of the hidden layers.
    train_snr_db : float
        SNR the model was (or will be) trained at; kept in the config.
    """

    def __init__(
        self,
        k: int,
        channels: int = 1,
        size: int = 28,
        width: int = 32,
        train_snr_db: float = 10.0,
    ) -> None:
        super().__init__()
        if size % 4:
            raise ValueError("image side must be divisible by 4")
        self.k = int(k)
        side = size // 4
        self.side = side
        self.c_lat = max(1, math.ceil(2 * self.k / (side * side)))
        self.config = {
            "k": self.k,
            "channels": channels,
            "size": size,
            "width": width,
            "train_snr_db": float(train_snr_db),
        }
        w = width
        self.enc = nn.Sequential(
            nn.Conv2d(channels, w, 5, stride=2, padding=2),
            nn.PReLU(w),
            nn.Conv2d(w, w, 5, stride=2, padding=2),
            nn.PReLU(w),
            nn.Conv2d(w, w, 3, padding=1),
            nn.PReLU(w),
            nn.Conv2d(w, self.c_lat, 3, padding=1),
        )
        self.dec = nn.Sequential(
            nn.Conv2d(self.c_lat, w, 3, padding=1),
            nn.PReLU(w),
            nn.Conv2d(w, w, 3, padding=1),
            nn.PReLU(w),
            nn.ConvTranspose2d(w, w, 5, stride=2, padding=2, output_padding=1),
            nn.PReLU(w),
            nn.ConvTranspose2d(w, channels, 5, stride=2, padding=2, output_padding=1),
            nn.Sigmoid(),
        )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the images."""
        c, s = self.config["channels"], self.config["size"]
        return (c, s, s)

    @property
    def bandwidth_ratio(self) -> float:
        """``k / (C H W)``: complex channel uses per source dimension."""
        return self.k / float(np.prod(self.image_shape))

    @property
    def train_snr_db(self) -> float:
        """Training SNR in dB."""
        return float(self.config["train_snr_db"])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(n, C, H, W)`` in [0, 1] -> ``(n, k)`` complex64, mean ``|s|^2 = 1`` per row."""
        z = self.enc(x).flatten(1)[:, : 2 * self.k]
        zc = torch.complex(z[:, 0::2].contiguous(), z[:, 1::2].contiguous())
        return power_normalise(zc)

    def decode(self, symbols: torch.Tensor) -> torch.Tensor:
        """Received ``(n, k)`` complex symbols -> images ``(n, C, H, W)`` in [0, 1]."""
        y = torch.as_tensor(symbols)
        if not torch.is_complex(y):
            raise ValueError("decode expects complex symbols")
        y = y.to(torch.complex64)
        if y.ndim != 2 or y.shape[1] != self.k:
            raise ValueError(f"decode expects (n, {self.k}) symbols, got {tuple(y.shape)}")
        n = y.shape[0]
        z = torch.stack([y.real, y.imag], dim=2).reshape(n, 2 * self.k)
        full = self.c_lat * self.side * self.side
        if full > 2 * self.k:
            z = torch.cat([z, z.new_zeros(n, full - 2 * self.k)], dim=1)
        return self.dec(z.reshape(n, self.c_lat, self.side, self.side))

    def forward(self, x: torch.Tensor, snr_db: float | torch.Tensor, generator=None):
        """Encode, AWGN at ``snr_db``, decode."""
        return self.decode(awgn(self.encode(x), snr_db, generator))


# --------------------------------------------------------------------------------------------
# Loading and training
# --------------------------------------------------------------------------------------------


def load_djscc(path: str | Path | None = None, device=None) -> DeepJSCC:
    """Load a model saved by :func:`train_djscc` (default: the shipped rho = 0.6, 10 dB one)."""
    path = Path(path) if path not in (None, "") else default_weights_path()
    saved = torch.load(path, map_location=device or "cpu", weights_only=False)
    model = DeepJSCC(**saved["config"])
    model.load_state_dict(saved["state_dict"])
    return model.to(device or "cpu").eval()


_SHARED: dict[str, DeepJSCC] = {}  # by "<weights>|<device>"


def shared_djscc(weights: str | Path | None = None, device=None) -> DeepJSCC:
    """One model per weights file, device and process (the cache the DeepJSCC blocks share);
    ``device`` as a block's parameter (:func:`semdacom._torch_util.resolve_device`: None or
    "auto" is CUDA when present)."""
    from semdacom._torch_util import resolve_device

    path = str(weights) if weights not in (None, "") else str(default_weights_path())
    dev = resolve_device(device)
    key = f"{path}|{dev}"
    if key not in _SHARED:
        _SHARED[key] = load_djscc(path, device=dev)
    return _SHARED[key]


def _images(arr: np.ndarray) -> torch.Tensor:
    a = np.asarray(arr)
    if a.ndim == 3:
        a = a[:, None]
    return torch.from_numpy(a.astype(np.float32) / 255.0)


def train_djscc(
    ratio: float = 0.6,
    snr_db: float = 10.0,
    steps: int = 4000,
    batch: int = 64,
    lr: float = 2e-3,
    width: int = 32,
    seed: int = 0,
    out: str | Path | None = None,
    ckpt_dir: str | Path = "out/djscc",
    device=None,
    progress: bool = True,
    ckpt_every: int = 500,
) -> tuple[DeepJSCC, dict]:
    """Train a DeepJSCC model with the MSE at one SNR; returns ``(model, info)``.

    Seeded; batches drawn from the Fashion-MNIST training split; Adam with a cosine learning
    rate decay; a checkpoint ``<ckpt_dir>/djscc_r<ratio>_snr<snr>.ckpt`` every ``ckpt_every``
    steps from which a restarted run resumes. The final weights go to ``out`` (default
    ``<ckpt_dir>/<weights_name>``) as ``{"config", "state_dict", "info"}``.
    """
    device = torch.device(device) if device is not None else default_device()
    torch.manual_seed(seed)
    k = symbols_for_ratio(ratio)
    model = DeepJSCC(k, width=width, train_snr_db=snr_db).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / max(steps, 1)))
    )
    name = weights_name(ratio, snr_db)
    ckpt = Path(ckpt_dir) / (Path(name).stem + f"_s{seed}.ckpt")
    start = 0
    if ckpt.exists():
        st = torch.load(ckpt, map_location=device, weights_only=False)
        if st.get("config") == model.config and st.get("steps") == steps:
            model.load_state_dict(st["state_dict"])
            opt.load_state_dict(st["opt"])
            sched.load_state_dict(st["sched"])
            start = int(st["step"])
    images, _ = load_fashion_mnist("train")
    x_all = _images(images)
    t0 = time.perf_counter()
    loss_ema = None
    bar = tqdm(range(start, steps), desc=f"djscc rho={ratio:g} {snr_db:g}dB", disable=not progress)
    model.train()
    for step in bar:
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        idx = torch.randint(0, len(x_all), (batch,), generator=g)
        x = x_all[idx].to(device)
        x_hat = model(x, snr_db, generator=g)
        loss = torch.mean((x_hat - x) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item()
        if step % 50 == 0:
            bar.set_postfix(mse=f"{loss_ema:.5f}", psnr=f"{-10 * math.log10(loss_ema):.2f}")
        if (step + 1) % ckpt_every == 0 and step + 1 < steps:
            save_atomic(
                {
                    "config": model.config,
                    "steps": steps,
                    "step": step + 1,
                    "state_dict": model.state_dict(),
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                },
                ckpt,
            )
    model.eval()
    info = {
        "ratio": float(ratio),
        "k": k,
        "train_snr_db": float(snr_db),
        "steps": int(steps),
        "batch": int(batch),
        "lr": float(lr),
        "seed": int(seed),
        "train_seconds_this_run": round(time.perf_counter() - t0, 1),
        "device": str(device),
        "final_train_mse_ema": loss_ema,
    }
    out = Path(out) if out is not None else Path(ckpt_dir) / name
    sd = {k_: v.detach().cpu() for k_, v in model.state_dict().items()}
    save_atomic({"config": model.config, "state_dict": sd, "info": info}, out)
    return model.cpu(), info


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate_snr_grid(
    images: np.ndarray,
    labels: np.ndarray,
    snrs_db: list[float],
    weights: str | None = None,
    seed: int = 0,
) -> list[dict]:
    """MS-SSIM, PSNR, MSE and SU accuracy of a DeepJSCC model at each test SNR (AWGN).

    Parameters
    ----------
    images : ndarray, uint8, shape (n, 28, 28)
        Test images.
    labels : ndarray, shape (n,)
        Their classes (for the accuracy of the classifier E cascaded on the decoded image).
    snrs_db : list of float
        Test SNRs in dB.
    weights : str, optional
        DeepJSCC weights (default: the shipped rho = 0.6, 10 dB model).
    seed : int
        Seed of the channel noise (the same noise draw is reused at every SNR, scaled).

    Returns
    -------
    list of dict
        One row per SNR: ``snr_db``, ``msssim``, ``psnr_db`` (from the mean MSE), ``mse``,
        ``accuracy``, ``bandwidth_ratio``, ``train_snr_db``, ``n``.
    """
    from semdacom.source_coding.codec import load_classifier
    from semdacom.source_coding.metrics import mse, msssim, psnr_from_mse

    model = load_djscc(weights)
    clf = load_classifier()
    x = _images(images)
    lab = np.asarray(labels, dtype=np.int64).reshape(-1)
    if lab.shape[0] != x.shape[0]:
        raise ValueError("images and labels differ in length")
    s = torch.cat([model.encode(x[i : i + 1000]) for i in range(0, len(x), 1000)])
    g = torch.Generator().manual_seed(int(seed))
    nz = torch.randn((*s.shape, 2), generator=g)
    noise = torch.complex(nz[..., 0], nz[..., 1]) * math.sqrt(0.5)
    rows = []
    for snr in snrs_db:
        y = s + noise * math.sqrt(10.0 ** (-float(snr) / 10.0))
        xh = torch.cat([model.decode(y[i : i + 1000]) for i in range(0, len(y), 1000)])
        m = mse(xh, x)
        ms = msssim(xh, x)
        pred = torch.cat([clf(xh[i : i + 1000]).argmax(1) for i in range(0, len(xh), 1000)])
        rows.append(
            {
                "snr_db": float(snr),
                "msssim": float(np.mean(ms)),
                "psnr_db": float(psnr_from_mse(np.mean(m))),
                "mse": float(np.mean(m)),
                "accuracy": float(np.mean(pred.numpy() == lab)),
                "bandwidth_ratio": model.bandwidth_ratio,
                "train_snr_db": model.train_snr_db,
                "n": int(len(x)),
            }
        )
    return rows
