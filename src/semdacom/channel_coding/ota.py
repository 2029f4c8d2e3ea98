#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The over-the-air burst of MU-ASCC: layout, frame header, and the header's coding.

Over the air no stream tag survives, so what the loopback carries in tags (the frame number
and each user's ``semdacom_chan`` dict: payload bits, MCS, image id, label, source rate)
travels in a header inside the burst. One burst per frame, on every antenna (docs/ota.md)::

    | preamble 2N | pilots N_p | header H | pilots N_p | payload (slot) | pilots N_p | guard |

- preamble: ``core.sync.preamble`` (a Zadoff-Chu sequence per antenna, sent twice);
- pilots: ``core.pilots.pilot_matrix`` (DFT rows, orthogonal across antennas), before the
  header, before the payload and after it (channel, noise, and the residual CFO from the
  phase turn between blocks, unwrapped over the growing distances:
  ``core.pilots.estimate_blocks``);
- header: :func:`encode_header` bits, LDPC coded and QPSK mapped with ``framing.encode_bits``
  at ``header_mcs`` in one channel block of ``H`` uses (:func:`header_uses`), sent from every
  antenna at the pilot power with a known pseudo-random phase per antenna and symbol
  (:func:`header_phases`): the user sees the gain ``g[n] = sqrt(p) sum_a conj(h_a) c_a[n]``,
  which no channel nulls for more than a few symbols, and decodes with it;
- payload: the beamformed antenna samples of the frame, zero-padded to the slot;
- guard: zeros.

Header bits (big-endian): version (u8), K (u8), N_t (u8), flags (u8: bit 0 = some user's
frame was longer than the slot and was cut), frame (u64), then per user: flags (u8: bit 0 =
the user has a frame in this burst, bit 1 = erased at the encoder, bit 2 = ``mcs`` known,
bits 4-7 = which of :data:`USER_FIELDS` follow), ``n_bits`` (u32), ``mcs`` (u8), and the
four :data:`USER_FIELDS` as s32 (0 when absent). The LDPC codewords' CRC-16 checks it.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from semdacom.channel_coding import framing
from semdacom.channel_coding.mcs import block_layout
from semdacom.phy import pilots, sync

__all__ = [
    "HEADER_VERSION",
    "USER_FIELDS",
    "BurstLayout",
    "HeaderError",
    "chan_info_from_entry",
    "decode_header",
    "encode_header",
    "entry_from_chan_info",
    "header_bits",
    "header_gain",
    "header_phases",
    "header_uses",
]

HEADER_VERSION = 1
#: Optional per-user PDU keys the header carries (int32), as ``pdu_<key>`` in the chan dict.
USER_FIELDS = ("image_id", "label", "rate_index", "seq")
_HEAD = struct.Struct(">BBBBQ")
_USER = struct.Struct(">BIBiiii")
_PHASE_SEED = 0x5344_4143


class HeaderError(ValueError):
    """A header that cannot be built or read (the text says why)."""


def header_bits(k: int) -> int:
    """Bits of the header of ``k`` users."""
    return 8 * (_HEAD.size + int(k) * _USER.size)


@lru_cache(maxsize=64)
def header_uses(k: int, mcs: int) -> int:
    """Channel uses ``H`` of the header: the shortest block whose layout at ``mcs`` carries
    :func:`header_bits`."""
    need = header_bits(k)
    for uses in range(max(32, need // 8), 64 * need):
        try:
            if block_layout(mcs, uses).payload_bits >= need:
                return uses
        except ValueError:
            continue
    raise HeaderError(f"no block at mcs {mcs} carries {need} header bits")


@lru_cache(maxsize=16)
def header_phases(n_t: int, uses: int) -> np.ndarray:
    """The known unit phases ``c_a[n]`` (shape ``(n_t, uses)``) of the header's symbols."""
    rng = np.random.default_rng(_PHASE_SEED)
    out = np.exp(2j * np.pi * rng.random((int(n_t), int(uses))))
    out.setflags(write=False)
    return out


def header_gain(h: np.ndarray, power: float, uses: int) -> np.ndarray:
    """Per-symbol gain ``sqrt(p) sum_a conj(h_a) c_a[n]`` seen by a user with channel ``h``."""
    h = np.asarray(h, dtype=np.complex128).reshape(-1)
    return math.sqrt(power) * (np.conj(h) @ header_phases(h.size, uses))


def _i32(v) -> int | None:
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        if -(2**31) <= int(v) < 2**31:
            return int(v)
    return None


def entry_from_chan_info(info: dict | None) -> dict:
    """The header entry of one user from its ``semdacom_chan`` dict (None: no frame)."""
    if info is None:
        return {"present": False}
    out = {"present": True, "n_bits": int(info.get("n_bits", 0)),
           "erased": bool(info.get("erased") is True)}  # fmt: skip
    if _i32(info.get("mcs")) is not None and 0 <= int(info["mcs"]) < 256:
        out["mcs"] = int(info["mcs"])
    for key in USER_FIELDS:
        v = _i32(info.get("pdu_" + key))
        if v is not None:
            out[key] = v
    return out


def chan_info_from_entry(entry: dict, user: int, blocklength: int) -> dict:
    """The ``semdacom_chan`` dict a channel decoder of ``user`` expects, from a header entry
    (ldpc mode; an entry erased at the encoder keeps ``erased``)."""
    info = {"user": int(user), "mode": "ldpc", "L": int(blocklength), "n_bits": entry["n_bits"]}
    if "mcs" in entry:
        info["mcs"] = entry["mcs"]
    if entry.get("erased"):
        info["erased"] = True
        info["erasure_reason"] = "erased at the encoder (from the over-the-air header)"
    for key in USER_FIELDS:
        if key in entry:
            info["pdu_" + key] = entry[key]
    return info


def encode_header(frame: int, entries: list[dict], n_t: int, truncated: bool = False) -> np.ndarray:
    """Header bits (uint8 0/1) for ``frame`` and one entry per user
    (:func:`entry_from_chan_info`)."""
    if not 0 <= int(frame) < 2**64:
        raise HeaderError(f"frame {frame} does not fit a u64")
    k = len(entries)
    if not 1 <= k < 256 or not 1 <= int(n_t) < 256:
        raise HeaderError(f"K={k} and N_t={n_t} must be in [1, 255]")
    raw = bytearray(_HEAD.pack(HEADER_VERSION, k, int(n_t), 1 if truncated else 0, int(frame)))
    for e in entries:
        if not e.get("present"):
            raw += _USER.pack(0, 0, 0, 0, 0, 0, 0)
            continue
        n_bits = int(e["n_bits"])
        if not 0 <= n_bits < 2**32:
            raise HeaderError(f"n_bits {n_bits} does not fit a u32")
        flags = 1 | (2 if e.get("erased") else 0) | (4 if "mcs" in e else 0)
        vals = []
        for i, key in enumerate(USER_FIELDS):
            if key in e:
                flags |= 16 << i
            vals.append(int(e.get(key, 0)))
        raw += _USER.pack(flags, n_bits, int(e.get("mcs", 0)), *vals)
    return np.unpackbits(np.frombuffer(bytes(raw), dtype=np.uint8))


def decode_header(bits: np.ndarray, k: int, n_t: int) -> dict:
    """Parse header bits: ``{"frame", "truncated", "entries": [entry per user]}``.

    Raises HeaderError for a wrong version, K or N_t."""
    raw = np.packbits(np.asarray(bits, dtype=np.uint8)[: header_bits(k)]).tobytes()
    version, hk, hn_t, flags, frame = _HEAD.unpack_from(raw, 0)
    if version != HEADER_VERSION or hk != k or hn_t != n_t:
        raise HeaderError(
            f"header version {version}, K={hk}, N_t={hn_t}; expected {HEADER_VERSION}, {k}, {n_t}"
        )
    entries = []
    for u in range(k):
        uf, n_bits, mcs, *vals = _USER.unpack_from(raw, _HEAD.size + u * _USER.size)
        if not uf & 1:
            entries.append({"present": False})
            continue
        e = {"present": True, "n_bits": int(n_bits), "erased": bool(uf & 2)}
        if uf & 4:
            e["mcs"] = int(mcs)
        for i, key in enumerate(USER_FIELDS):
            if uf & (16 << i):
                e[key] = int(vals[i])
        entries.append(e)
    return {"frame": int(frame), "truncated": bool(flags & 1), "entries": entries}


@dataclass(frozen=True)
class BurstLayout:
    """Where each part of a burst lies (sample offsets from the preamble start)."""

    k: int
    n_t: int
    preamble_len: int  # N: the preamble is 2N samples
    n_pilots: int  # N_p per pilot block
    header_mcs: int
    payload_len: int  # the slot
    guard: int = 0

    def __post_init__(self) -> None:
        if self.payload_len < 1 or self.guard < 0:
            raise ValueError(f"payload_len {self.payload_len} must be >= 1 and guard >= 0")
        if self.n_pilots <= self.n_t:
            raise ValueError(
                f"n_pilots={self.n_pilots} must exceed n_t={self.n_t} (noise from the residual)"
            )
        if self.preamble_len < 3 or self.preamble_len % 2 == 0:
            raise ValueError(f"preamble_len must be odd and >= 3, got {self.preamble_len}")
        header_uses(self.k, self.header_mcs)  # raises for a header that does not fit

    @property
    def header_uses(self) -> int:
        return header_uses(self.k, self.header_mcs)

    @property
    def pilots_first(self) -> int:
        return 2 * self.preamble_len

    @property
    def header_start(self) -> int:
        return self.pilots_first + self.n_pilots

    @property
    def pilots_mid(self) -> int:
        return self.header_start + self.header_uses

    @property
    def payload_start(self) -> int:
        return self.pilots_mid + self.n_pilots

    @property
    def pilots_last(self) -> int:
        return self.payload_start + self.payload_len

    @property
    def span(self) -> int:
        """Samples from the preamble start to the end of the last pilot block."""
        return self.pilots_last + self.n_pilots

    @property
    def length(self) -> int:
        """Samples of one burst, guard included."""
        return self.span + self.guard

    @property
    def pilot_offsets(self) -> tuple[int, int, int]:
        """Offsets of the three pilot blocks."""
        return (self.pilots_first, self.pilots_mid, self.pilots_last)

    @property
    def pilots_total(self) -> int:
        """Pilot samples per antenna in a burst (``3 N_p``)."""
        return 3 * self.n_pilots

    def overhead(self) -> float:
        """Share of the burst that is not payload."""
        return 1.0 - self.payload_len / self.length


def header_symbols(bits: np.ndarray, layout: BurstLayout) -> np.ndarray:
    """The header's unit-energy symbols (``H`` of them)."""
    return framing.encode_bits(bits, layout.header_mcs, layout.header_uses)


def decode_header_symbols(
    y: np.ndarray, h: np.ndarray, noise_var: float, power: float, layout: BurstLayout
) -> tuple[dict | None, str]:
    """Decode a received header with the channel estimate ``h``: ``(header, "")`` or
    ``(None, reason)`` when a codeword's CRC fails or the header does not parse."""
    g = header_gain(h, power, layout.header_uses)
    res = framing.decode_symbols(
        y, layout.header_mcs, layout.header_uses, max(noise_var, 1e-12), g,
        header_bits(layout.k), 30,
    )  # fmt: skip
    if not bool(np.all(res.crc_ok)):
        return None, "header CRC failed"
    try:
        return decode_header(res.bits, layout.k, layout.n_t), ""
    except HeaderError as exc:
        return None, str(exc)


__all__ += ["decode_header_symbols", "header_symbols"]


def build_burst(
    layout: BurstLayout,
    frame: int,
    entries: list[dict],
    payload: np.ndarray,
    power: float,
    truncated: bool = False,
) -> np.ndarray:
    """One burst (complex64, shape ``(n_t, layout.length)``) around the antenna samples
    ``payload`` (shape ``(n_t, m)``, ``m <= payload_len``: zero-padded to the slot)."""
    payload = np.asarray(payload)
    n_t = layout.n_t
    if payload.ndim != 2 or payload.shape[0] != n_t or payload.shape[1] > layout.payload_len:
        raise ValueError(f"payload of shape {payload.shape} does not fit ({n_t}, <= slot)")
    out = np.zeros((n_t, layout.length), dtype=np.complex64)
    out[:, : layout.pilots_first] = _cached_preamble(n_t, layout.preamble_len, power)
    x = _cached_pilots(n_t, layout.n_pilots, power)
    out[:, layout.pilots_first : layout.header_start] = x
    s = header_symbols(encode_header(frame, entries, n_t, truncated), layout)
    out[:, layout.header_start : layout.pilots_mid] = (
        math.sqrt(power) * header_phases(n_t, layout.header_uses) * s[None, :]
    )
    out[:, layout.pilots_mid : layout.payload_start] = x
    out[:, layout.payload_start : layout.payload_start + payload.shape[1]] = payload
    out[:, layout.pilots_last : layout.span] = x
    return out


@lru_cache(maxsize=16)
def _cached_preamble(n_t: int, n: int, power: float) -> np.ndarray:
    return sync.preamble(n_t, n, power)


@lru_cache(maxsize=16)
def _cached_pilots(n_t: int, n_p: int, power: float) -> np.ndarray:
    return pilots.pilot_matrix(n_t, n_p, power)


@dataclass
class ReceivedBurst:
    """What :func:`receive_burst` learns from one synchronised burst."""

    h: np.ndarray  # (n_t,) channel, phase-normalised (h[0] real >= 0)
    noise_var: float
    cfo: float  # residual CFO removed, rad/sample
    header: dict | None
    reason: str  # why the header is None ("" otherwise)
    payload: np.ndarray  # (payload_len,) complex64, CFO- and phase-corrected like h


def receive_burst(span: np.ndarray, layout: BurstLayout, power: float) -> ReceivedBurst:
    """Channel estimate, header and payload of one burst (``layout.span`` samples from the
    preamble start, coarse CFO already removed).

    The residual CFO is measured between the three pilot blocks and removed from the header
    and the payload; the channel is the average of the blocks, turned so that its first
    entry is real and non-negative, and the payload is turned with it, so that the channel
    a decoder combines with the beams (``g = sqrt(p_u) h^H w_u``) is the one the payload
    was received through, whichever burst the estimate came from.
    """
    y = np.asarray(span, dtype=np.complex128).reshape(-1)
    if y.size < layout.span:
        raise ValueError(f"a burst needs {layout.span} samples, got {y.size}")
    x = _cached_pilots(layout.n_t, layout.n_pilots, power)
    offs = list(layout.pilot_offsets)
    est = pilots.estimate_blocks([y[o : o + layout.n_pilots] for o in offs], x, offs)
    k = np.arange(y.size) - offs[0]  # phase reference: the first pilot block
    y = y * np.exp(-1j * est.cfo * k)
    h, u = pilots.normalise_phase(est.h)
    y = y * np.conj(u)  # the samples see h^H: turning h by u turns them by conj(u)
    nv = est.noise_var
    hdr = y[layout.header_start : layout.pilots_mid]
    header, reason = decode_header_symbols(hdr, h, nv, power, layout)
    pay = y[layout.payload_start : layout.pilots_last].astype(np.complex64)
    return ReceivedBurst(h, nv, est.cfo, header, reason, pay)


__all__ += ["ReceivedBurst", "build_burst", "receive_burst"]
