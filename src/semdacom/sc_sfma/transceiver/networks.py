#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Networks of the SC-SFMA learned transceiver (SC-SFMA [2], Sec. II-A/II-B; Fig. 1).

Pipeline of one pair ``(a, b)`` (docs/sc_sfma/transceiver.md has the figure in words)::

    x_a, x_b (1x28x28, [0,1]) --pad to 32x32--> patch embed 2x2 (+ user-slot embedding)
      stage 1..4: [patch merging] -> SCFM(pair) -> Swin blocks    (eq. 3; SCFM eq. 8)
      -> F_a, F_b  (2x2 x 8C)  -> per-slot channel head (C_code channels)
      -> Rate-ModNet(nu) gate -> code mask top-k, k = round(nu C_code)  (mask = side info)
      -> compacted, flattened, power-normalised symbols s_a, s_b      (eq. 4)
      -> x = sqrt(alpha) s_a + sqrt(1 - alpha) s_b                    (eq. 5, unit power)
      -> y_u = x + n_u / sqrt(snr_u)   per user                       (eq. 6, equalised)
      -> decoder u: scatter by its mask, Swin stages with patch expansion -> x_hat_u (eq. 7)

The Swin blocks and patch merging are timm's (``SwinTransformerBlock``, ``PatchMerging``);
the SCFM module (DC-SimM gate + windowed and shifted-window cross-attention), Rate-ModNet, the
code mask and the patch expansion are ours. No GNU Radio here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.models.swin_transformer import PatchMerging, SwinTransformerBlock, window_partition
from torch import nn

__all__ = [
    "FOREGROUND_LEVEL",
    "GATES",
    "PARTNERS",
    "DCSimM",
    "RateModNet",
    "SCFM",
    "SwinDecoder",
    "SwinEncoder",
    "WindowCrossAttention",
    "code_mask",
    "pad_image",
    "count_parameters",
    "crop_image",
]

#: Side the 28x28 images are zero-padded to (divisible by the 16x total down-sampling).
PADDED = 32
IMAGE = 28
#: Pixel level above which a patch counts as foreground for the SCFM gate's descriptors.
FOREGROUND_LEVEL = 0.02


def pad_image(x: torch.Tensor) -> torch.Tensor:
    """``(n, 1, 28, 28)`` -> ``(n, 1, 32, 32)``, zero-padded 2 pixels on each side."""
    p = (PADDED - x.shape[-1]) // 2
    return F.pad(x, (p, PADDED - x.shape[-1] - p, p, PADDED - x.shape[-2] - p))


def crop_image(x: torch.Tensor, side: int = IMAGE) -> torch.Tensor:
    """Inverse of :func:`pad_image`."""
    p = (x.shape[-1] - side) // 2
    return x[..., p : p + side, p : p + side]


class WindowCrossAttention(nn.Module):
    """Multi-head cross-attention inside (optionally shifted) windows: queries from the user's
    own feature, keys and values from the partner's (the cross-attention of SCFM, Sec. II-B1).

    Features are NHWC. With ``shift > 0`` both maps are cyclically rolled by ``-shift`` before
    the window partition and the attention is masked to tokens of the same region, as Swin's
    SW-MSA does; the result is rolled back.
    """

    def __init__(self, dim: int, heads: int, window: int, shift: int = 0) -> None:
        super().__init__()
        self.dim, self.heads, self.window, self.shift = dim, heads, window, shift
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self._mask_cache: dict[tuple[int, int], torch.Tensor] = {}

    def _mask(self, h: int, w: int, device) -> torch.Tensor | None:
        if self.shift == 0:
            return None
        key = (h, w)
        if key not in self._mask_cache:
            img = torch.zeros(1, h, w, 1)
            cnt = 0
            ws, s = self.window, self.shift
            for hs in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
                for wsl in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
                    img[:, hs, wsl, :] = cnt
                    cnt += 1
            win = window_partition(img, (ws, ws)).reshape(-1, ws * ws)
            diff = win[:, None, :] - win[:, :, None]
            self._mask_cache[key] = diff != 0  # True = blocked
        return self._mask_cache[key].to(device)

    def forward(self, own: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        n, h, w, c = own.shape
        ws = min(self.window, h, w)
        shift = self.shift if ws < min(h, w) else 0
        q_in, kv_in = self.norm_q(own), self.norm_kv(other)
        if shift:
            q_in = torch.roll(q_in, (-shift, -shift), (1, 2))
            kv_in = torch.roll(kv_in, (-shift, -shift), (1, 2))
        qw = window_partition(q_in, (ws, ws)).reshape(-1, ws * ws, c)
        kw = window_partition(kv_in, (ws, ws)).reshape(-1, ws * ws, c)
        hd = c // self.heads
        q = self.q(qw).reshape(-1, ws * ws, self.heads, hd).transpose(1, 2)
        k, v = self.kv(kw).reshape(-1, ws * ws, 2, self.heads, hd).permute(2, 0, 3, 1, 4)
        attn_mask = None
        if shift:
            blocked = self._mask(h, w, own.device)  # (nW, T, T)
            nw = blocked.shape[0]
            attn_mask = torch.zeros(blocked.shape, device=own.device).masked_fill(
                blocked, float("-inf")
            )
            attn_mask = attn_mask.repeat(n, 1, 1)[:, None]  # (n*nW, 1, T, T)
            assert attn_mask.shape[0] == q.shape[0] == n * nw
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        o = self.proj(o.transpose(1, 2).reshape(-1, ws * ws, c))
        o = o.reshape(n, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
        o = o.reshape(n, h, w, c)
        if shift:
            o = torch.roll(o, (shift, shift), (1, 2))
        return o


#: Whose feature the SCFM modules attend to: the pair's partner (SC-SFMA) or the user's own
#: (``"self"``: the capacity control -- the same modules, parameters and training, without any
#: information from the partner; a gain it shares is not the fusion's).
PARTNERS = ("pair", "self")

#: DC-SimM gate designs: ``"legacy"`` (the first shipped models: descriptors over every token of
#: features that carry the user-slot embedding, last layer zero with bias -2, i.e. nearly closed)
#: and ``"foreground"`` (descriptors over foreground tokens, normalised; starts open; the fusion
#: path zero-initialised so that SC-SFMA starts exactly as its SwinJSCC+NOMA ablation).
GATES = ("legacy", "foreground")


class DCSimM(nn.Module):
    """Dual-conditioned similarity modulator (Sec. II-B1): a 3-layer FC network from the pair's
    global cosine similarity and channel-wise mean absolute difference to a per-channel gate
    ``g in (0, 1)^C`` (sigmoid output).

    ``gate="foreground"``: the descriptors are taken over the tokens where either image has
    content (``fg``), the cosine is centred (each channel's foreground mean removed) and the
    mean absolute difference is divided by the pair's feature RMS per channel, so that they
    measure similarity rather than feature scale or background; the last layer keeps its random
    initialisation with bias 0 (g about 0.5: gradient reaches it from the first step).
    ``gate="legacy"``: descriptors over every token, unnormalised; last layer zero weights and
    bias -2 (g = 0.12), the design of the first shipped models (docs/sc_sfma/transceiver.md).
    """

    def __init__(self, dim: int, hidden: int | None = None, gate: str = "foreground") -> None:
        super().__init__()
        if gate not in GATES:
            raise ValueError(f"gate must be one of {GATES}, got {gate!r}")
        self.kind = gate
        hidden = hidden or max(16, dim)
        self.net = nn.Sequential(
            nn.Linear(dim + 1, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, dim),
        )
        if gate == "legacy":
            nn.init.zeros_(self.net[-1].weight)
            nn.init.constant_(self.net[-1].bias, -2.0)
        else:
            nn.init.zeros_(self.net[-1].bias)

    @staticmethod
    def descriptors(
        own: torch.Tensor, other: torch.Tensor, fg: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Global cosine similarity ``(n, 1)`` and channel-wise mean absolute difference
        ``(n, C)`` of two NHWC feature maps.

        Without ``fg`` (legacy): over every token, unnormalised. With ``fg`` ``(n, h, w)`` (1 on
        foreground tokens): over the foreground tokens, the cosine centred per channel and the
        difference divided by the pair's RMS per channel.
        """
        if fg is None:
            cos = F.cosine_similarity(own.flatten(1), other.flatten(1), dim=1, eps=1e-6)[:, None]
            mad = (own - other).abs().mean(dim=(1, 2))
            return cos, mad
        w = fg.to(own.dtype)[..., None]  # (n, h, w, 1)
        cnt = w.sum(dim=(1, 2)).clamp_min(1.0)  # (n, 1)
        mo = (own * w).sum(dim=(1, 2)) / cnt
        mp = (other * w).sum(dim=(1, 2)) / cnt
        oc = (own - mo[:, None, None, :]) * w
        pc = (other - mp[:, None, None, :]) * w
        cos = F.cosine_similarity(oc.flatten(1), pc.flatten(1), dim=1, eps=1e-6)[:, None]
        rms = torch.sqrt(((own.pow(2) + other.pow(2)) * w).sum(dim=(1, 2)) / (2 * cnt) + 1e-6)
        mad = ((own - other).abs() * w).sum(dim=(1, 2)) / cnt / rms
        return cos, mad

    def forward(
        self, own: torch.Tensor, other: torch.Tensor, fg: torch.Tensor | None = None
    ) -> torch.Tensor:
        cos, mad = self.descriptors(own, other, fg if self.kind == "foreground" else None)
        return torch.sigmoid(self.net(torch.cat([cos, mad], dim=1)))


class SCFM(nn.Module):
    """Similarity-conditioned cross-attention feature modulation (Sec. II-B1, eq. 8).

    ``out = F_own + g(F_own, F_partner) * F_cross``, where ``g`` is the DC-SimM gate broadcast
    over space and ``F_cross`` is windowed then shifted-window cross-attention from the
    partner's feature (g -> 0 keeps the user's own feature, g -> 1 adds the full cross-user
    information). The module is applied to both users symmetrically.

    With ``gate="foreground"`` both cross-attentions' output projections start at zero, so the
    module starts as the identity (SC-SFMA starts exactly as SwinJSCC+NOMA; any gain is the
    fusion's). ``gate_override`` (None, or a value in [0, 1]) forces ``g`` at inference: the
    gate-off ablation sets 0.
    """

    def __init__(self, dim: int, heads: int, window: int, gate: str = "foreground") -> None:
        super().__init__()
        self.gate = DCSimM(dim, gate=gate)
        self.cross_w = WindowCrossAttention(dim, heads, window, shift=0)
        self.cross_sw = WindowCrossAttention(dim, heads, window, shift=window // 2)
        if gate == "foreground":
            for m in (self.cross_w.proj, self.cross_sw.proj):
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)
        self.gate_override: float | None = None
        self.last_gate: torch.Tensor | None = None

    def fuse(
        self, own: torch.Tensor, other: torch.Tensor, fg: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.gate_override is None:
            g = self.gate(own, other, fg)
        else:
            g = own.new_full((own.shape[0], own.shape[-1]), float(self.gate_override))
        cross = self.cross_w(own, other)
        cross = cross + self.cross_sw(own + cross, other)
        self.last_gate = g.detach()
        return own + g[:, None, None, :] * cross

    def forward(
        self, fa: torch.Tensor, fb: torch.Tensor, fg: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.fuse(fa, fb, fg), self.fuse(fb, fa, fg)


class RateModNet(nn.Module):
    """Rate-ModNet (Sec. II-B2, after SwinJSCC): a 3-layer FC network from the conditioning
    scalars (the compression ratio nu, and for the decoder also the SNR) to a per-channel
    modulation in (0, 1) via a sigmoid (starts near 1 so the feature passes)."""

    def __init__(self, cond: int, channels: int, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(cond, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, channels),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.constant_(self.net[-1].bias, 3.0)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(c))


def code_mask(z: torch.Tensor, k: int) -> torch.Tensor:
    """Code mask of Sec. II-B2: the ``k`` channels of largest mean absolute activation.

    ``z`` is NHWC ``(n, h, w, C)``; returns a bool ``(n, C)`` mask with exactly ``k`` True per
    row (ties broken by the lower channel index, so the mask is deterministic).
    """
    c = z.shape[-1]
    if not 1 <= k <= c:
        raise ValueError(f"k must be in [1, {c}], got {k}")
    score = z.detach().abs().mean(dim=(1, 2))
    # Stable ordering: sort by score descending, ties by index ascending.
    idx = torch.argsort(-score, dim=1, stable=True)[:, :k]
    mask = torch.zeros_like(score, dtype=torch.bool)
    mask.scatter_(1, idx, True)
    return mask


def _blocks(dim: int, res: int, depth: int, heads: int, window: int, mlp_ratio: float):
    return nn.Sequential(
        *[
            SwinTransformerBlock(
                dim,
                (res, res),
                num_heads=heads,
                window_size=window,
                shift_size=0 if (i % 2 == 0 or window >= res) else window // 2,
                mlp_ratio=mlp_ratio,
            )
            for i in range(depth)
        ]
    )


class SwinEncoder(nn.Module):
    """Four-stage Swin encoder with an SCFM module at every stage (Sec. II-B1).

    Stage 1 embeds 2x2 patches of the padded 32x32 image into ``dims[0]`` channels (16x16
    tokens); stages 2-4 merge 2x2 patches (timm's ``PatchMerging``: half the resolution, double
    the channels). Each stage: [merge] -> SCFM -> ``depths[i]`` Swin blocks. ``slots`` learned
    user-slot embeddings (added after the patch embedding) tell the two users of a pair apart
    so that their decoders can separate the superposed signals. With ``scfm=False`` (the
    SwinJSCC ablations) the users are coded independently.
    """

    def __init__(
        self,
        dims: tuple[int, ...],
        depths: tuple[int, ...],
        heads: tuple[int, ...],
        windows: tuple[int, ...],
        mlp_ratio: float,
        scfm: bool,
        slots: int,
        slot_embed: bool = True,
        gate: str = "foreground",
        partner: str = "pair",
    ) -> None:
        super().__init__()
        if partner not in PARTNERS:
            raise ValueError(f"partner must be one of {PARTNERS}, got {partner!r}")
        self.partner = partner
        self.embed = nn.Conv2d(1, dims[0], 2, stride=2)
        self.embed_norm = nn.LayerNorm(dims[0])
        self.slot = nn.Parameter(torch.zeros(slots, dims[0])) if slot_embed else None
        if slot_embed:
            nn.init.normal_(self.slot, std=0.5)
        res = PADDED // 2
        self.merges = nn.ModuleList()
        self.scfm = nn.ModuleList() if scfm else None
        self.stages = nn.ModuleList()
        for i, d in enumerate(dims):
            if i > 0:
                self.merges.append(PatchMerging(dims[i - 1], d))
                res //= 2
            if scfm:
                self.scfm.append(SCFM(d, heads[i], windows[i], gate=gate))
            self.stages.append(_blocks(d, res, depths[i], heads[i], windows[i], mlp_ratio))
        self.out_res = res

    def _embed(self, x: torch.Tensor, slot: int) -> torch.Tensor:
        f = self.embed_norm(self.embed(pad_image(x)).permute(0, 2, 3, 1))
        return f if self.slot is None else f + self.slot[slot]

    @staticmethod
    def foreground(xa: torch.Tensor, xb: torch.Tensor, stages: int) -> list[torch.Tensor]:
        """Per stage, the ``(n, h, w)`` tokens whose image patch holds content (a pixel above
        :data:`FOREGROUND_LEVEL`) in either image of the pair."""
        content = (torch.maximum(pad_image(xa), pad_image(xb)) > FOREGROUND_LEVEL).to(xa.dtype)
        return [F.max_pool2d(content, 2 ** (i + 1))[:, 0] for i in range(stages)]

    def forward_pair(self, xa: torch.Tensor, xb: torch.Tensor):
        """NHWC features ``(F_a, F_b)`` of the last stage (eq. 3) for a pair."""
        fa, fb = self._embed(xa, 0), self._embed(xb, 1)
        fg = self.foreground(xa, xb, len(self.stages)) if self.scfm is not None else None
        for i, stage in enumerate(self.stages):
            if i > 0:
                fa, fb = self.merges[i - 1](fa), self.merges[i - 1](fb)
            if self.scfm is not None and self.partner == "self":
                fa, fb = self.scfm[i].fuse(fa, fa, fg[i]), self.scfm[i].fuse(fb, fb, fg[i])
            elif self.scfm is not None:
                fa, fb = self.scfm[i](fa, fb, fg[i])
            fa, fb = stage(fa), stage(fb)
        return fa, fb

    def set_gate(self, value: float | None) -> None:
        """Force every SCFM gate to ``value`` at inference (None: the learned gate)."""
        if self.scfm is None:
            raise RuntimeError("this encoder has no SCFM gate")
        if value is not None and not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"a gate is in [0, 1], got {value!r}")
        for m in self.scfm:
            m.gate_override = None if value is None else float(value)

    def forward_single(self, x: torch.Tensor, slot: int = 0) -> torch.Tensor:
        """NHWC feature of one user coded alone (no SCFM)."""
        if self.scfm is not None:
            raise RuntimeError("an encoder with SCFM needs the pair: use forward_pair")
        f = self._embed(x, slot)
        for i, stage in enumerate(self.stages):
            if i > 0:
                f = self.merges[i - 1](f)
            f = stage(f)
        return f

    def gates(self) -> list[torch.Tensor]:
        """The DC-SimM gates of the last forward pass (first user's view), one per stage."""
        return [] if self.scfm is None else [m.last_gate for m in self.scfm]


class PatchExpand(nn.Module):
    """Patch expansion (the decoder's inverse of patch merging): a linear map to ``4 d_out``
    channels rearranged into a 2x2 neighbourhood, then LayerNorm."""

    def __init__(self, dim: int, out_dim: int, norm: bool = True) -> None:
        super().__init__()
        self.lin = nn.Linear(dim, 4 * out_dim)
        self.norm = nn.LayerNorm(out_dim) if norm else nn.Identity()
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, _ = x.shape
        y = self.lin(x).reshape(n, h, w, 2, 2, self.out_dim).permute(0, 1, 3, 2, 4, 5)
        return self.norm(y.reshape(n, 2 * h, 2 * w, self.out_dim))


class SwinDecoder(nn.Module):
    """Semantic decoder of one user (Sec. II-B3, eq. 7): the channel decoder (Rate-ModNet
    conditioned on ``nu`` and the SNR, then a linear map of the mask-scattered code back to the
    feature width) and four Swin stages in reverse, each followed by patch expansion; the last
    expansion gives 2x2 pixels per token, a sigmoid, and the crop to 28x28."""

    def __init__(
        self,
        dims: tuple[int, ...],
        depths: tuple[int, ...],
        heads: tuple[int, ...],
        windows: tuple[int, ...],
        mlp_ratio: float,
        code_channels: int,
    ) -> None:
        super().__init__()
        rd = list(reversed(dims))
        self.modnet = RateModNet(2, code_channels)
        self.unproj = nn.Linear(2 * code_channels, rd[0])
        res = PADDED // 2 ** len(dims)
        self.stages = nn.ModuleList()
        self.expands = nn.ModuleList()
        for j, d in enumerate(rd):
            i = len(dims) - 1 - j
            self.stages.append(_blocks(d, res, depths[i], heads[i], windows[i], mlp_ratio))
            last = j == len(rd) - 1
            self.expands.append(PatchExpand(d, 1 if last else rd[j + 1], norm=not last))
            res *= 2

    def forward(
        self, z: torch.Tensor, mask: torch.Tensor, nu: torch.Tensor, snr_db: torch.Tensor
    ) -> torch.Tensor:
        """``z``: the recovered code, NHWC ``(n, h, w, C_code)`` with zeros where ``mask`` is
        False; ``mask`` bool ``(n, C_code)``; ``nu`` and ``snr_db`` ``(n,)``."""
        f = self.stages[0](self._unproject(z, mask, nu, snr_db))
        f = self.expands[0](f)
        for stage, expand in zip(self.stages[1:], self.expands[1:], strict=True):
            f = expand(stage(f))
        return crop_image(torch.sigmoid(f.permute(0, 3, 1, 2)))

    def _unproject(self, z, mask, nu, snr_db) -> torch.Tensor:
        cond = torch.stack([nu, snr_db / 20.0], dim=1)
        z = z * self.modnet(cond)[:, None, None, :]
        m = mask.to(z.dtype)[:, None, None, :].expand_as(z)
        return self.unproj(torch.cat([z, m], dim=-1))

    def recovered_feature(self, z, mask, nu, snr_db) -> torch.Tensor:
        """The recovered semantic feature ``f_hat`` (NHWC, the last encoder stage's shape): the
        channel decoder (Rate-ModNet, linear map) and the first Swin stage at the code's
        resolution, before the first patch expansion. Profiling measures xi here."""
        return self.stages[0](self._unproject(z, mask, nu, snr_db))


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
