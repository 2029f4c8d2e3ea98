#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The SC-SFMA transceiver and its learned ablations (SC-SFMA [2], Sec. II-A/II-B, IV-A).

:class:`SfmaTransceiver` is one network class with three variants:

* ``sc_sfma`` -- the proposed transceiver: SCFM at every encoder stage, the pair superposed.
* ``swinjscc_noma`` -- the same transceiver with SCFM removed (SwinJSCC + NOMA, baseline 1).
* ``swinjscc_oma`` -- one user alone on an orthogonal half band (SwinJSCC-OMA, baseline 2):
  for a pair's resource block of ``n`` channel uses it sends ``n / 2`` symbols, at the same
  per-symbol SNR (half the power on half the band), without interference.

:class:`DeepJsccNoma` is baseline 3: each user its own DeepJSCC model (``source_coding/djscc.py``),
power-domain superposition of the two users' symbols at equal power.

Channel (eqs. 5-6) in SNR units: with per-user received SNR ``s_u = P g_u / (N0 B)``, the BS
sends ``x = sqrt(alpha) s_a + sqrt(1 - alpha) s_b`` (unit mean power per channel use, each
``s`` power-normalised per sample), user ``u`` receives ``sqrt(P g_u) x + n_u`` and its
coherent receiver divides by ``sqrt(P g_u)``: ``y_u = x + n_u / sqrt(s_u)`` (:func:`awgn`).

API (tensors; images ``(n, 1, 28, 28)`` in [0, 1])::

    model = load_transceiver("sc_sfma")
    sa, sb, masks = model.encode_pair(xa, xb, nu=0.5)     # complex (n, L), masks (n, 2, C)
    x = superpose(sa, sb, power_split=0.5)               # eq. (5)
    ya = awgn(x, snr_db=10.0)                            # eq. (6), user a
    xa_hat = model.decode(ya, masks[:, 0], nu=0.5, user=0, snr_db=10.0)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from semdacom.sc_sfma.transceiver.networks import (
    RateModNet,
    SwinDecoder,
    SwinEncoder,
    code_mask,
    count_parameters,
)

__all__ = [
    "DEFAULT_CONFIG",
    "LEGACY_CONFIG",
    "NU_GRID",
    "VARIANTS",
    "DeepJsccNoma",
    "SfmaTransceiver",
    "awgn",
    "channel_uses",
    "power_normalise",
    "superpose",
]

#: Learned variants of :class:`SfmaTransceiver`.
VARIANTS = ("sc_sfma", "swinjscc_noma", "swinjscc_oma")
#: Compression ratios of training and profiling (k = nu C_code channels kept).
NU_GRID = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)

#: Network sizes (CPU-sized: 28x28 images; see docs/sc_sfma/transceiver.md) and the SCFM gate
#: design (:data:`~.networks.GATES`); ``slot_embed``: a learned user-slot embedding added to the
#: encoder's tokens (the first shipped models; the per-slot channel heads tell the users apart
#: without it, and the gate's descriptors then compare content only).
DEFAULT_CONFIG = {
    "dims": (32, 64, 96, 128),
    "depths": (1, 1, 2, 1),
    "heads": (1, 2, 3, 4),
    "windows": (4, 4, 2, 2),
    "mlp_ratio": 2.0,
    "code_channels": 64,
    "slot_embed": False,
    "gate": "foreground",
    "partner": "pair",
}
#: What a saved config without these keys was built with (the first shipped models).
LEGACY_CONFIG = {"slot_embed": True, "gate": "legacy", "partner": "pair"}


def power_normalise(s: torch.Tensor) -> torch.Tensor:
    """Complex ``(n, L)`` symbols scaled per row to mean ``|s|^2 = 1`` (eq. 4's normalisation)."""
    p = s.abs().pow(2).mean(dim=1, keepdim=True)
    return s / torch.sqrt(p.clamp_min(1e-12))


def superpose(sa: torch.Tensor, sb: torch.Tensor, power_split: float = 0.5) -> torch.Tensor:
    """Eq. (5) at unit total power: ``sqrt(alpha) s_a + sqrt(1 - alpha) s_b``."""
    if sa.shape != sb.shape:
        raise ValueError(f"the pair's symbols differ in shape: {sa.shape} vs {sb.shape}")
    a = float(power_split)
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"power_split must be in [0, 1], got {power_split!r}")
    return math.sqrt(a) * sa + math.sqrt(1.0 - a) * sb


def awgn(x: torch.Tensor, snr_db, generator: torch.Generator | None = None) -> torch.Tensor:
    """Eq. (6) after coherent equalisation: ``x + n / sqrt(snr)``, ``n ~ CN(0, 1)``.

    ``snr_db`` is a scalar or one value per row (the user's received SNR in dB).
    """
    snr = torch.as_tensor(snr_db, dtype=torch.float32)
    std = torch.sqrt(10.0 ** (-snr / 10.0) / 2.0)
    if std.ndim == 1:
        std = std[:, None]
    nz = torch.randn((*x.shape, 2), generator=generator, dtype=torch.float32)
    n = torch.complex(nz[..., 0], nz[..., 1]).to(x.device)
    return x + n * std.to(x.device)


def channel_uses(nu: float, code_channels: int, spatial: int = 4) -> int:
    """Channel uses ``n`` of a pair's resource block at ratio ``nu``: ``round(nu C) h w / 2``
    complex symbols (each kept channel carries ``h w`` reals)."""
    return max(1, round(nu * code_channels)) * spatial // 2


def _vec(v, n: int, device) -> torch.Tensor:
    t = torch.as_tensor(v, dtype=torch.float32, device=device)
    return t.expand(n).clone() if t.ndim == 0 else t.reshape(n)


class SfmaTransceiver(nn.Module):
    """Swin transceiver of SC-SFMA and its SwinJSCC ablations (see the module docstring).

    Parameters
    ----------
    variant : {"sc_sfma", "swinjscc_noma", "swinjscc_oma"}
    dims, depths, heads, windows, mlp_ratio : network sizes of the 4 Swin stages.
    code_channels : channels ``C`` of the code the mask selects from (2x2 spatial each).
    slot_embed, gate : see :data:`DEFAULT_CONFIG`.
    partner : ``"pair"``, or ``"self"`` for the capacity control (:data:`~.networks.PARTNERS`).
    """

    def __init__(self, variant: str = "sc_sfma", **cfg) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        c = {**DEFAULT_CONFIG, **cfg}
        c = {k: (tuple(v) if isinstance(v, list) else v) for k, v in c.items()}
        self.variant = variant
        self.config = {"variant": variant, **c}
        self.oma = variant == "swinjscc_oma"
        users = 1 if self.oma else 2
        net = {k: c[k] for k in ("dims", "depths", "heads", "windows", "mlp_ratio")}
        self.encoder = SwinEncoder(
            **net,
            scfm=variant == "sc_sfma",
            slots=users,
            slot_embed=bool(c["slot_embed"]),
            gate=c["gate"],
            partner=c["partner"],
        )
        self.code_channels = int(c["code_channels"])
        # Per-slot channel-coding heads (the channel coding function of eq. 4).
        self.heads = nn.ModuleList(
            nn.Linear(c["dims"][-1], self.code_channels) for _ in range(users)
        )
        self.ratemod = nn.ModuleList(RateModNet(1, self.code_channels) for _ in range(users))
        self.decoders = nn.ModuleList(
            SwinDecoder(**net, code_channels=self.code_channels) for _ in range(users)
        )
        self.spatial = self.encoder.out_res**2

    # ----------------------------------------------------------------------------------------
    @property
    def users(self) -> int:
        return len(self.decoders)

    def kept_channels(self, nu: float) -> int:
        """``k = round(nu C)`` for NOMA; half of it (one user's half band) for OMA."""
        nu = float(nu)
        if not 0.0 < nu <= 1.0:
            raise ValueError(f"compression ratio nu must be in (0, 1], got {nu!r}")
        k = nu * self.code_channels / (2.0 if self.oma else 1.0)
        return max(1, min(self.code_channels, round(k)))

    def symbols_per_user(self, nu: float) -> int:
        """Complex channel symbols each user sends at ``nu``."""
        return self.kept_channels(nu) * self.spatial // 2

    def bandwidth_ratio(self, nu: float, pixels: int = 28 * 28) -> float:
        """Channel bandwidth ratio of a user: its pair's resource block ``n`` over the pixels
        (in OMA the user owns half of the block)."""
        return channel_uses(nu, self.code_channels, self.spatial) / pixels

    # ----------------------------------------------------------------------------------------
    def _code(self, f: torch.Tensor, slot: int, nu: float):
        n = f.shape[0]
        z = self.heads[slot](f)
        z = z * self.ratemod[slot](_vec(nu, n, f.device)[:, None])[:, None, None, :]
        k = self.kept_channels(nu)
        mask = code_mask(z, k)
        # Compact the kept channels in ascending channel order, channel-major (eq. 4).
        idx = torch.nonzero(mask, as_tuple=False)[:, 1].reshape(n, k)
        zc = torch.gather(z.flatten(1, 2), 2, idx[:, None, :].expand(-1, self.spatial, -1))
        reals = zc.transpose(1, 2).reshape(n, k * self.spatial)
        sym = torch.complex(reals[:, 0::2].contiguous(), reals[:, 1::2].contiguous())
        return power_normalise(sym), mask

    def encode_pair(self, xa: torch.Tensor, xb: torch.Tensor, nu: float):
        """Channel symbols of a pair at ratio ``nu`` (eqs. 3-4).

        Returns ``(s_a, s_b, masks)``: complex ``(n, L)`` with mean ``|s|^2 = 1`` per row and
        ``L = symbols_per_user(nu)``, and the bool masks ``(n, 2, C)`` (the side information
        each user's decoder needs). For OMA each user is coded alone.
        """
        if self.oma:
            sa, ma = self._code(self.encoder.forward_single(xa), 0, nu)
            sb, mb = self._code(self.encoder.forward_single(xb), 0, nu)
        else:
            fa, fb = self.encoder.forward_pair(xa, xb)
            sa, ma = self._code(fa, 0, nu)
            sb, mb = self._code(fb, 1, nu)
        return sa, sb, torch.stack([ma, mb], dim=1)

    def encode(self, x: torch.Tensor, nu: float):
        """OMA only: one user's symbols and mask."""
        if not self.oma:
            raise RuntimeError("encode() is the OMA path; use encode_pair for a pair")
        return self._code(self.encoder.forward_single(x), 0, nu)

    def unpack(self, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Received symbols ``(n, L)`` + mask ``(n, C)`` -> NHWC code with zeros off the mask."""
        n = y.shape[0]
        k = int(mask[0].sum())
        if y.shape[1] * 2 != k * self.spatial or not bool((mask.sum(1) == k).all()):
            raise ValueError(f"{y.shape[1]} symbols do not match a mask of {k} channels")
        reals = torch.stack([y.real, y.imag], dim=2).reshape(n, k, self.spatial)
        idx = torch.nonzero(mask, as_tuple=False)[:, 1].reshape(n, k)
        z = reals.new_zeros(n, self.code_channels, self.spatial)
        z.scatter_(1, idx[:, :, None].expand(-1, -1, self.spatial), reals)
        side = int(round(math.sqrt(self.spatial)))
        return z.transpose(1, 2).reshape(n, side, side, self.code_channels)

    def decoder_inputs(self, received, mask, nu: float, user: int, snr_db):
        """What user ``user``'s decoder network takes: ``(decoder, z, mask, nu_eff, snr_db)``,
        ``z`` the NHWC code unpacked from the complex symbols by the mask (the part of
        :meth:`decode` outside the network: complex symbols do not go into an ONNX file)."""
        y = torch.as_tensor(received)
        if not torch.is_complex(y):
            raise ValueError("decode expects complex symbols")
        y = y.to(torch.complex64)
        mask = torch.as_tensor(mask, dtype=torch.bool, device=y.device)
        dec = self.decoders[0 if self.oma else int(user)]
        n = y.shape[0]
        nu_eff = self.kept_channels(nu) / self.code_channels
        z = self.unpack(y, mask)
        return dec, z, mask, _vec(nu_eff, n, y.device), _vec(snr_db, n, y.device)

    def decode(self, received, mask, nu: float, user: int, snr_db) -> torch.Tensor:
        """Eq. (7): user ``user``'s image from its received symbols and its mask side info."""
        dec, z, mask, nu_eff, snr = self.decoder_inputs(received, mask, nu, user, snr_db)
        return dec(z, mask, nu_eff, snr)

    def recovered_feature(self, received, mask, nu: float, user: int, snr_db) -> torch.Tensor:
        """User ``user``'s recovered semantic feature (the decoder's 2x2 stage output) from its
        received symbols: where profiling measures xi (sc_sfma/transceiver/profile.py)."""
        y = torch.as_tensor(received).to(torch.complex64)
        mask = torch.as_tensor(mask, dtype=torch.bool, device=y.device)
        dec = self.decoders[0 if self.oma else int(user)]
        n = y.shape[0]
        nu_eff = self.kept_channels(nu) / self.code_channels
        return dec.recovered_feature(
            self.unpack(y, mask), mask, _vec(nu_eff, n, y.device), _vec(snr_db, n, y.device)
        )

    def forward(self, xa, xb, nu: float, snr_a, snr_b=None, generator=None, power_split=0.5):
        """Encode the pair, superpose (NOMA) or not (OMA), AWGN per user, decode both."""
        snr_b = snr_a if snr_b is None else snr_b
        sa, sb, masks = self.encode_pair(xa, xb, nu)
        if self.oma:
            ya, yb = awgn(sa, snr_a, generator), awgn(sb, snr_b, generator)
        else:
            x = superpose(sa, sb, power_split)
            ya, yb = awgn(x, snr_a, generator), awgn(x, snr_b, generator)
        return (
            self.decode(ya, masks[:, 0], nu, 0, snr_a),
            self.decode(yb, masks[:, 1], nu, 1, snr_b),
        )

    def parameters_count(self) -> int:
        return count_parameters(self)


class DeepJsccNoma(nn.Module):
    """DeepJSCC-NOMA (SC-SFMA baseline 3): each user its own DeepJSCC encoder/decoder
    (``source_coding/djscc.py``), the two users' symbols superposed in the power domain at
    equal power.

    DeepJSCC has no rate adaptation: at ratio ``nu`` each user sends the first
    ``channel_uses(nu)`` of its encoder's outputs (prefix truncation, re-normalised); the
    decoder zero-fills the rest. Trained (fine-tuned) with random ``nu`` so the prefix order
    carries the most important symbols.
    """

    def __init__(self, djscc_config: dict, code_channels: int = 64, spatial: int = 4) -> None:
        super().__init__()
        from semdacom.source_coding.djscc import DeepJSCC

        self.variant = "deepjscc_noma"
        self.config = {
            "variant": "deepjscc_noma",
            "djscc": dict(djscc_config),
            "code_channels": code_channels,
            "spatial": spatial,
        }
        self.users_ = nn.ModuleList(DeepJSCC(**djscc_config) for _ in range(2))
        self.code_channels, self.spatial = code_channels, spatial
        if channel_uses(1.0, code_channels, spatial) > self.users_[0].k:
            raise ValueError("the DeepJSCC model has fewer symbols than the resource block")

    @property
    def users(self) -> int:
        return 2

    def symbols_per_user(self, nu: float) -> int:
        return channel_uses(nu, self.code_channels, self.spatial)

    def bandwidth_ratio(self, nu: float, pixels: int = 28 * 28) -> float:
        return self.symbols_per_user(nu) / pixels

    def _enc(self, x: torch.Tensor, user: int, nu: float) -> torch.Tensor:
        m = self.users_[user]
        n_sym = self.symbols_per_user(nu)
        z = m.enc(x).flatten(1)[:, : 2 * n_sym]
        return power_normalise(torch.complex(z[:, 0::2].contiguous(), z[:, 1::2].contiguous()))

    def encode_pair(self, xa, xb, nu: float):
        """Symbols of the pair (the prefix length is the only side information: no masks)."""
        return self._enc(xa, 0, nu), self._enc(xb, 1, nu), None

    def decode(self, received, mask, nu: float, user: int, snr_db=None) -> torch.Tensor:
        m = self.users_[int(user)]
        y = torch.as_tensor(received).to(torch.complex64)
        n = y.shape[0]
        z = torch.stack([y.real, y.imag], dim=2).reshape(n, -1)
        full = m.c_lat * m.side * m.side
        z = torch.cat([z, z.new_zeros(n, full - z.shape[1])], dim=1)
        return m.dec(z.reshape(n, m.c_lat, m.side, m.side))

    def forward(self, xa, xb, nu: float, snr_a, snr_b=None, generator=None, power_split=0.5):
        snr_b = snr_a if snr_b is None else snr_b
        sa, sb, _ = self.encode_pair(xa, xb, nu)
        x = superpose(sa, sb, power_split)
        ya, yb = awgn(x, snr_a, generator), awgn(x, snr_b, generator)
        return self.decode(ya, None, nu, 0), self.decode(yb, None, nu, 1)

    def parameters_count(self) -> int:
        return count_parameters(self)
