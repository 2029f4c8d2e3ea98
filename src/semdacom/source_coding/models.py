#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Networks of the learned source codec (MU-ASCC [1], Sec. II-B; Fig. 3).

* :class:`VBRHyperprior` -- the DNN source encoder F and data decoder G of Fig. 3(a)/(b): a
  scale hyperprior (Balle et al. 2018, the paper's Sec. V-A choice) sized for small images,
  made variable-rate with gain units (Cui et al. 2021): one pair of per-channel gain vectors per
  operating point scales the latent before quantisation and rescales it after, so a single
  model serves every operating point instead of the paper's lookup table of separately trained
  models (its footnote 1).
* :class:`Classifier` -- the image classifier E of Sec. II-B-3.
* :class:`SemanticDecoder` -- Q = E o G of Fig. 3(c), fine-tuned with eq. (4) and conditioned
  on the operating point.

No GNU Radio here; the entropy coding lives in :mod:`.codec`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.layers import GDN
from torch import nn

__all__ = [
    "Classifier",
    "classify_images",
    "SemanticDecoder",
    "VBRHyperprior",
    "pad_amounts",
    "scale_table",
]

#: Total down-sampling of the analysis transform followed by the hyper analysis (2 * 2 * 2 * 2).
DOWNSAMPLING = 16


def scale_table(lo: float = 0.11, hi: float = 24.0, levels: int = 40) -> torch.Tensor:
    """Scales of the Gaussian conditional's CDF tables (log-spaced).

    Smaller than compressai's default (0.11..256, 64 levels): the latents of 28x28 images never
    need wider scales, and a short table stays in cache. Values beyond a table's range are still
    coded exactly (the rANS coder's bypass mode).
    """
    return torch.exp(torch.linspace(math.log(lo), math.log(hi), levels))


def pad_amounts(h: int, w: int, multiple: int = DOWNSAMPLING) -> tuple[int, int, int, int]:
    """Zero padding ``(left, right, top, bottom)`` bringing ``h x w`` to multiples of 16."""
    ph = (-h) % multiple
    pw = (-w) % multiple
    return (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)


def _conv(cin: int, cout: int, k: int = 5, s: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=s, padding=k // 2)


def _deconv(cin: int, cout: int, k: int = 5, s: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, k, stride=s, output_padding=s - 1, padding=k // 2)


class SubPixelConv(nn.Module):
    """Up-sampling by 2: a ``k x k`` convolution to ``4 cout`` channels, then a pixel shuffle.

    Spans the same functions as a stride-2 transposed convolution with kernel ``2k - 1`` (Shi
    et al. 2016) but runs on the convolution path, which is 2-3x faster on CPU for the small
    feature maps here (measured: docs/source_coding.md).
    """

    def __init__(self, cin: int, cout: int, k: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, 4 * cout, k, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.conv(x), 2)


#: Architectures of the up-sampling layers: "subpixel" (default) or "deconv" (Balle et al.).
ARCHS = ("subpixel", "deconv")


def _up(cin: int, cout: int, arch: str) -> nn.Module:
    if arch == "deconv":
        return _deconv(cin, cout)
    if arch == "subpixel":
        return SubPixelConv(cin, cout)
    raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")


def synthesis(m: int, n: int, channels: int, arch: str = "subpixel") -> nn.Sequential:
    """The synthesis transform G (``g_s``): ``M x H/4 x W/4`` latent -> ``C x H x W`` image."""
    return nn.Sequential(_up(m, n, arch), GDN(n, inverse=True), _up(n, channels, arch))


def film_parameter(levels: int, channels: int) -> nn.Parameter:
    """Per-operating-point channel-wise affine map ``(levels, 2, C)``: log-scale, bias (zeros).

    The conditional convolution of Choi et al. (ICCV 2019): a layer's output ``h`` of a sample
    at point ``r`` becomes ``h * exp(p[r, 0]) + p[r, 1]``. Starts as the identity.
    """
    return nn.Parameter(torch.zeros(levels, 2, channels))


def apply_film(h: torch.Tensor, p: torch.Tensor | None, rate_index: torch.Tensor) -> torch.Tensor:
    """``h * exp(p[r, 0]) + p[r, 1]`` per sample (``p`` None: ``h`` unchanged)."""
    if p is None:
        return h
    q = p[rate_index]
    return h * torch.exp(q[:, 0])[:, :, None, None] + q[:, 1][:, :, None, None]


def run_synthesis(
    g_s: nn.Sequential,
    film_s: torch.Tensor | None,
    film_o: torch.Tensor | None,
    y_hat: torch.Tensor,
    rate_index: torch.Tensor,
) -> torch.Tensor:
    """G at operating point ``rate_index`` (padded size): ``g_s`` with the optional FiLM maps."""
    if film_s is None and film_o is None:
        return g_s(y_hat)
    h = apply_film(g_s[0](y_hat), film_s, rate_index)
    return apply_film(g_s[2](g_s[1](h)), film_o, rate_index)


class VBRHyperprior(nn.Module):
    """Variable-rate scale-hyperprior codec (eq. 1-3 of MU-ASCC [1] with gain units).

    ``g_a`` (two stride-2 convolutions with GDN) maps a padded ``C x H x W`` image to
    ``M x H/4 x W/4``; ``h_a`` (two more stride-2 convolutions) to the hyper latent
    ``Nh x H/16 x W/16``. ``g_s`` and ``h_s`` up-sample with sub-pixel convolutions
    (``arch="subpixel"``, the default) or transposed convolutions (``"deconv"``, as Balle et al.).
    Operating point ``r`` multiplies the latent by ``gain[r]`` before
    the rounding (the uniform scalar quantiser of Sec. II-B) and by ``inv_gain[r]`` after it.
    With ``film=True`` each point also has channel-wise affine maps (conditional convolutions,
    Choi et al. 2019) after the first layer of ``g_a`` and after both layers of ``g_s``; use
    :meth:`analysis` and :meth:`synthesis`, which apply them, rather than ``g_a``/``g_s``.

    Parameters
    ----------
    channels : int
        Image channels C.
    n : int
        Hidden width of ``g_a``/``g_s``.
    m : int
        Latent channels M.
    nh : int
        Hyper-latent channels.
    levels : int
        Number of operating points (gain vectors); 1 makes a fixed-rate model.
    arch : str
        Up-sampling layers, ``"subpixel"`` or ``"deconv"``.
    film : bool
        Rate-conditioned affine maps in ``g_a``/``g_s`` (the shipped model has them).
    """

    def __init__(
        self,
        channels: int = 1,
        n: int = 32,
        m: int = 32,
        nh: int = 16,
        levels: int = 16,
        arch: str = "subpixel",
        film: bool = False,
    ) -> None:
        super().__init__()
        self.config = {
            "channels": channels,
            "n": n,
            "m": m,
            "nh": nh,
            "levels": levels,
            "arch": arch,
            "film": bool(film),
        }
        self.g_a = nn.Sequential(_conv(channels, n), GDN(n), _conv(n, m))
        self.g_s = synthesis(m, n, channels, arch)
        self.h_a = nn.Sequential(
            _conv(m, nh, 3, 1), nn.ReLU(), _conv(nh, nh), nn.ReLU(), _conv(nh, nh)
        )
        self.h_s = nn.Sequential(
            _up(nh, nh, arch),
            nn.ReLU(),
            _up(nh, nh, arch),
            nn.ReLU(),
            _conv(nh, m, 3, 1),
            nn.ReLU(),
        )
        self.entropy_bottleneck = EntropyBottleneck(nh)
        self.gaussian_conditional = GaussianConditional(None)
        # Gains start log-spaced over 16x so that the operating points start apart.
        init = torch.linspace(math.log(0.35), math.log(0.35 * 16.0), levels) if levels > 1 else None
        log_gain = init[:, None].repeat(1, m) if init is not None else torch.zeros(1, m)
        self.log_gain = nn.Parameter(log_gain.clone())
        self.log_inv_gain = nn.Parameter(-log_gain.clone())
        # Optional rate-conditioned transforms (conditional convolutions, Choi et al. 2019):
        # a per-point affine map after the first layer of g_a and after both layers of g_s.
        self.film_a = film_parameter(levels, n) if film else None
        self.film_s = film_parameter(levels, n) if film else None
        self.film_o = film_parameter(levels, channels) if film else None

    @property
    def levels(self) -> int:
        return int(self.log_gain.shape[0])

    def gains(self, rate_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gain and inverse gain ``(B, M, 1, 1)`` of each sample's operating point."""
        g = torch.exp(self.log_gain[rate_index])[:, :, None, None]
        ig = torch.exp(self.log_inv_gain[rate_index])[:, :, None, None]
        return g, ig

    def analysis(self, xp: torch.Tensor, rate_index: torch.Tensor) -> torch.Tensor:
        """F up to the quantiser: the gained latent ``g_a(x) * gain[r]`` of padded images."""
        g, _ = self.gains(rate_index)
        if self.film_a is None:
            return self.g_a(xp) * g
        h = apply_film(self.g_a[0](xp), self.film_a, rate_index)
        return self.g_a[2](self.g_a[1](h)) * g

    def synthesis(self, y_hat: torch.Tensor, rate_index: torch.Tensor) -> torch.Tensor:
        """G at point ``rate_index``: padded images from the dequantised latent ``y_hat``."""
        return run_synthesis(self.g_s, self.film_s, self.film_o, y_hat, rate_index)

    def pad(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
        p = pad_amounts(x.shape[-2], x.shape[-1])
        return (F.pad(x, p) if any(p) else x), p

    @staticmethod
    def crop(x: torch.Tensor, p: tuple[int, int, int, int]) -> torch.Tensor:
        left, right, top, bottom = p
        return x[..., top : x.shape[-2] - bottom, left : x.shape[-1] - right]

    def forward(self, x: torch.Tensor, rate_index: torch.Tensor) -> dict:
        """Training pass: additive-noise rate proxy, straight-through rounding for the decoder.

        Returns ``x_hat`` (cropped, not clamped), ``y_hat`` and the likelihoods of y and z.
        """
        xp, p = self.pad(x)
        _, ig = self.gains(rate_index)
        yg = self.analysis(xp, rate_index)
        z = self.h_a(torch.abs(yg))
        z_hat, z_lik = self.entropy_bottleneck(z)
        scales = self.h_s(z_hat)
        _, y_lik = self.gaussian_conditional(yg, scales)
        yq = yg + (torch.round(yg) - yg).detach()
        y_hat = yq * ig
        x_hat = self.crop(self.synthesis(y_hat, rate_index), p)
        return {"x_hat": x_hat, "y_hat": y_hat, "likelihoods": {"y": y_lik, "z": z_lik}}

    def aux_loss(self) -> torch.Tensor:
        return self.entropy_bottleneck.loss()

    def update(self) -> None:
        """Build the entropy coder's CDF tables from the learned densities."""
        self.gaussian_conditional.update_scale_table(scale_table(), force=True)
        self.entropy_bottleneck.update(force=True)


class MaxPool2d(nn.MaxPool2d):
    """:class:`torch.nn.MaxPool2d` computed on a channels-last copy and handed back contiguous:
    the same values bit for bit (a maximum is exact), 4-6x faster on a CPU with one intra-op
    thread (issue 23: pooling was a quarter of the semantic decoder's time). The module and its
    state dict are those of ``nn.MaxPool2d``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.is_cuda:
            return super().forward(x)
        return super().forward(x.contiguous(memory_format=torch.channels_last)).contiguous()


class Classifier(nn.Module):
    """Image classifier E (Sec. II-B-3): two conv/pool stages and two dense layers."""

    def __init__(self, channels: int = 1, classes: int = 10, size: int = 28) -> None:
        super().__init__()
        self.config = {"channels": channels, "classes": classes, "size": size}
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1),
            nn.ReLU(),
            MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            MaxPool2d(2),
        )
        side = size // 4
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * side * side, 128), nn.ReLU()
        )
        self.out = nn.Linear(128, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.head(self.features(x)))


class SemanticDecoder(nn.Module):
    """Semantic decoder Q = E o G (Fig. 3(c)), conditioned on the operating point.

    Starts as a copy of the codec's synthesis transform G and of the classifier E; a learned
    per-operating-point channel scale (FiLM-like, initialised to one) on the dequantised latent
    conditions it on the rate. Fine-tuned end to end with the cross entropy of eq. (4).
    """

    def __init__(self, codec: VBRHyperprior, classifier: Classifier) -> None:
        super().__init__()
        cfg = codec.config
        self.config = {"codec": dict(cfg), "classifier": dict(classifier.config)}
        self.g_s = synthesis(cfg["m"], cfg["n"], cfg["channels"], cfg.get("arch", "deconv"))
        self.g_s.load_state_dict(codec.g_s.state_dict())
        self.classifier = Classifier(**classifier.config)
        self.classifier.load_state_dict(classifier.state_dict())
        self.rate_scale = nn.Parameter(torch.ones(cfg["levels"], cfg["m"]))
        film = codec.film_s is not None
        self.film_s = nn.Parameter(codec.film_s.detach().clone()) if film else None
        self.film_o = nn.Parameter(codec.film_o.detach().clone()) if film else None

    def forward(
        self, y_hat: torch.Tensor, rate_index: torch.Tensor, pad: tuple[int, int, int, int]
    ) -> torch.Tensor:
        """Class logits from the dequantised latent ``y_hat`` of operating point ``rate_index``."""
        y = y_hat * self.rate_scale[rate_index][:, :, None, None]
        x = run_synthesis(self.g_s, self.film_s, self.film_o, y, rate_index)
        x = VBRHyperprior.crop(x, pad)
        return self.classifier(x.clamp(0.0, 1.0))


@torch.no_grad()
def classify_images(classifier: nn.Module, images, erased) -> np.ndarray:
    """Labels of a classifier E on decoded images ``(n, C, H, W)`` in [0, 1] (batches of
    1000); -1 where ``erased``. The semantic user of the codecs without a Q of their own (the
    HEVC stand-in, CompressAI models)."""
    if len(images) == 0:
        return np.zeros(0, dtype=np.int64)
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    out = [classifier(x[i : i + 1000]).argmax(1).cpu().numpy() for i in range(0, len(x), 1000)]
    labels = np.concatenate(out).astype(np.int64)
    labels[np.asarray(erased, dtype=bool)] = -1
    return labels
