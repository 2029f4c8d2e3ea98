#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The over-the-air burst of MU-ASCC: layout, frame header, and the header's coding.

Over the air no stream tag survives, so what the loopback carries in tags (the frame number
and each user's ``semdacom_chan`` dict: payload bits, MCS, image id, label, source rate)
travels in a header inside the burst. One burst per frame, on every antenna (docs/ota.md)::

    | preamble 2N | pilots | header H | pilots | payload M | pilots | payload M | ... |
      ... | pilots | guard |

- preamble: ``semdacom.phy.sync.preamble`` (a Zadoff-Chu sequence per antenna, sent twice);
- pilots: ``semdacom.phy.pilots.pilot_matrix`` (DFT rows times a phase mask of their own per
  block, orthogonal across antennas), ``N_p`` samples before the header, before the payload,
  after every ``M = pilot_spacing`` payload samples inside it, and after it;
- the receiver (:func:`receive_burst`, ``semdacom.phy.equalizer``) trains a multi-tap channel
  on everything known (preamble, pilots, then the decoded header), tracks its phase and drift
  over the pilot blocks, and equalises header and payload;
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
four :data:`USER_FIELDS` as s32 (0 when absent). The LDPC codewords' CRC-16 checks it. A
beacon (``channel_encoder``'s ``beacons``: a burst sent before the first allocation, for the
users' first CSI) has no entry for its user.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from semdacom.channel_coding import framing
from semdacom.channel_coding.mcs import block_layout
from semdacom.phy import equalizer, pilots, sync

__all__ = [
    "HEADER_VERSION",
    "PILOT_SPACING",
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

HEADER_VERSION = 2
#: Optional per-user PDU keys the header carries (int32), as ``pdu_<key>`` in the chan dict.
#: ``frame`` is the PDU's own frame number (``image_source``'s, one per image), which differs
#: from the burst's frame number once beacons have gone before the data (``channel_encoder``'s
#: ``beacons``): the user's decoder accounts for its images by it (version 1 had ``seq``, read
#: by no receiver, in its place).
USER_FIELDS = ("image_id", "label", "rate_index", "frame")
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
    """The header entry of one user from its ``semdacom_chan`` dict (None or a beacon: no
    frame for the user)."""
    if info is None or info.get("beacon") is True:
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


#: Default payload samples between two pilot blocks inside the payload.
PILOT_SPACING = 256


@dataclass(frozen=True)
class BurstLayout:
    """Where each part of a burst lies (sample offsets from the preamble start).

    ``pilot_spacing`` ``M``: a pilot block after every ``M`` payload samples inside the
    payload (0: none, only before the header, before and after the payload); the slot
    ``payload_len`` counts payload samples only."""

    k: int
    n_t: int
    preamble_len: int  # N: the preamble is 2N samples
    n_pilots: int  # N_p per pilot block
    header_mcs: int
    payload_len: int  # the slot
    guard: int = 0
    pilot_spacing: int = PILOT_SPACING

    def __post_init__(self) -> None:
        if self.payload_len < 1 or self.guard < 0:
            raise ValueError(f"payload_len {self.payload_len} must be >= 1 and guard >= 0")
        if self.n_pilots <= self.n_t:
            raise ValueError(
                f"n_pilots={self.n_pilots} must exceed n_t={self.n_t} (noise from the residual)"
            )
        if self.preamble_len < 3 or self.preamble_len % 2 == 0:
            raise ValueError(f"preamble_len must be odd and >= 3, got {self.preamble_len}")
        if self.pilot_spacing < 0:
            raise ValueError(f"pilot_spacing must be >= 0, got {self.pilot_spacing}")
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
    def inner_blocks(self) -> int:
        """Pilot blocks inside the payload."""
        m = self.pilot_spacing
        return (self.payload_len - 1) // m if m > 0 else 0

    @property
    def payload_segments(self) -> tuple[tuple[int, int], ...]:
        """``(start, length)`` of the payload's pieces between pilot blocks."""
        m = self.pilot_spacing if self.pilot_spacing > 0 else self.payload_len
        out, left, pos = [], self.payload_len, self.payload_start
        while left > 0:
            n = min(m, left)
            out.append((pos, n))
            pos += n + self.n_pilots
            left -= n
        return tuple(out)

    @property
    def pilots_last(self) -> int:
        return self.payload_start + self.payload_len + self.inner_blocks * self.n_pilots

    @property
    def span(self) -> int:
        """Samples from the preamble start to the end of the last pilot block."""
        return self.pilots_last + self.n_pilots

    @property
    def length(self) -> int:
        """Samples of one burst, guard included."""
        return self.span + self.guard

    @property
    def pilot_offsets(self) -> tuple[int, ...]:
        """Offsets of the pilot blocks, in order (block ``b`` sends
        ``pilot_matrix(n_t, n_p, p, b)``)."""
        inner = tuple(s + n for s, n in self.payload_segments[:-1])
        return (self.pilots_first, self.pilots_mid, *inner, self.pilots_last)

    @property
    def pilots_total(self) -> int:
        """Pilot samples per antenna in a burst."""
        return len(self.pilot_offsets) * self.n_pilots

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
    x, _ = _training(layout, power)
    out = np.zeros((n_t, layout.length), dtype=np.complex64)
    out[:, : layout.span] = x
    bits = encode_header(frame, entries, n_t, truncated)
    out[:, layout.header_start : layout.pilots_mid] = _header_samples(bits, layout, power)
    slot = np.zeros((n_t, layout.payload_len), np.complex64)
    slot[:, : payload.shape[1]] = payload
    done = 0
    for start, n in layout.payload_segments:
        out[:, start : start + n] = slot[:, done : done + n]
        done += n
    return out


def _header_samples(bits: np.ndarray, layout: BurstLayout, power: float) -> np.ndarray:
    """The header's antenna samples ``sqrt(p) c_a[n] s[n]`` (shape ``(n_t, H)``)."""
    s = header_symbols(bits, layout)
    return math.sqrt(power) * header_phases(layout.n_t, layout.header_uses) * s[None, :]


@lru_cache(maxsize=16)
def _training_cached(layout: BurstLayout, power: float) -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros((layout.n_t, layout.span), np.complex128)
    known = np.zeros(layout.span, bool)
    x[:, : layout.pilots_first] = sync.preamble(layout.n_t, layout.preamble_len, power)
    known[: layout.pilots_first] = True
    for b, o in enumerate(layout.pilot_offsets):
        x[:, o : o + layout.n_pilots] = pilots.pilot_matrix(layout.n_t, layout.n_pilots, power, b)
        known[o : o + layout.n_pilots] = True
    x.setflags(write=False)
    known.setflags(write=False)
    return x, known


def _training(layout: BurstLayout, power: float) -> tuple[np.ndarray, np.ndarray]:
    """What a receiver knows of a burst before its header: the antenna samples ``x``
    (``(n_t, span)``, zeros elsewhere) and where (preamble and pilot blocks)."""
    return _training_cached(layout, float(power))


#: Channel taps the receiver fits (lags ``-PRECURSOR .. TAPS - PRECURSOR - 1`` symbols):
#: echoes up to 4 symbols after the main path, a weaker one up to 2 before, and the
#: raised-cosine tails of a fractional timing error.
TAPS = 10
PRECURSOR = 3
#: Longest run of training samples given one phase (the tracking's time step).
SEG_LEN = 128


@dataclass
class ReceivedBurst:
    """What :func:`receive_burst` learns from one synchronised burst."""

    h: np.ndarray  # (n_t,) channel, phase-normalised (h[0] real >= 0)
    noise_var: float  # effective noise after equalisation, per symbol
    cfo: float  # residual CFO removed (slope of the tracked phase), rad/sample
    header: dict | None
    reason: str  # why the header is None ("" otherwise)
    payload: np.ndarray  # (payload_len,) complex64, equalised: ~ h^H x + noise_var
    taps: np.ndarray | None = None  # the scalar taps alpha at the payload's middle
    noise_fit: float = math.nan  # residual of the channel fit (before equalisation)


def _equalised(
    y: np.ndarray, cf, x: np.ndarray, known: np.ndarray, upto: int | None = None
) -> tuple[np.ndarray, float]:
    """The burst equalised (its first ``upto`` samples only when given) and its effective
    noise, measured on the training samples whose equaliser window lies inside it."""
    nv = max(cf.noise_var, 1e-12) if math.isfinite(cf.noise_var) else 1.0
    pw = np.convolve(np.abs(y) ** 2, np.ones(64) / 64, mode="same")
    snr = np.maximum(pw - nv, 0.05 * nv) / nv
    length = 2 * cf.lags.size + 5
    z = equalizer.equalize(y, cf, snr, length=length, upto=upto)
    target = np.einsum("a,an->n", np.conj(cf.h), x)
    pos = np.flatnonzero(known)
    end = y.size if upto is None else min(y.size, int(upto))
    pos = pos[(pos >= length) & (pos < end - length)]
    nv_eff = equalizer.effective_noise(z, target, pos, cf.n_params)
    return z, (nv_eff if math.isfinite(nv_eff) else nv)


def receive_burst(
    span: np.ndarray, layout: BurstLayout, power: float, taps: int = TAPS,
    precursor: int = PRECURSOR,
) -> ReceivedBurst:  # fmt: skip
    """Channel estimate, header and payload of one burst (``layout.span`` samples from the
    preamble start, coarse CFO already removed; docs/ota.md sections 2 and 4).

    1. The channel (``taps`` symbol-spaced taps per antenna, ``precursor`` of them before the
       main path) is fitted on the preamble and the pilot blocks, with its phase tracked
       over the burst and a drift of the taps when significant (``semdacom.phy.equalizer``):
       the spatial channel ``h`` and a scalar impulse response common to the antennas.
    2. The burst is equalised (MMSE FIR per chunk, unbiased) and the header decoded with
       ``h`` and the effective noise measured on the equalised training samples.
    3. A decoded header is known samples too: the fit is repeated with it (a few hundred
       more training samples) and the payload equalised with that fit. The payload of a
       burst whose header failed (an erasure for its decoder) is not equalised: zeros.

    ``h`` is turned so that its first entry is real and non-negative, and the equalised
    samples with it, so that the channel a decoder combines with the beams
    (``g = sqrt(p_u) h^H w_u``) is the one the payload was received through, whichever
    burst the estimate came from. ``noise_var`` is the effective noise after equalisation
    (noise, residual echoes, phase jitter, IQ image, anything the model does not explain).
    """
    y = np.asarray(span, dtype=np.complex128).reshape(-1)
    if y.size < layout.span:
        raise ValueError(f"a burst needs {layout.span} samples, got {y.size}")
    y = y[: layout.span]
    x, known = _training(layout, power)
    mid = layout.payload_start + (layout.pilots_last - layout.payload_start) / 2
    cf = equalizer.fit(y, x, known, taps, precursor, SEG_LEN, t0=mid,
                       init_len=layout.header_start, iterations=1, drift=False)  # fmt: skip
    z, nv = _equalised(y, cf, x, known, layout.payload_start + SEG_LEN)
    h, u = pilots.normalise_phase(cf.h)
    hdr = z[layout.header_start : layout.pilots_mid] * np.conj(u)
    header, reason = decode_header_symbols(hdr, h, nv, power, layout)
    if header is not None:  # the header's samples are known now: train on them too
        bits = encode_header(header["frame"], header["entries"], layout.n_t, header["truncated"])
        x = x.copy()
        known = known.copy()
        x[:, layout.header_start : layout.pilots_mid] = _header_samples(bits, layout, power)
        known[layout.header_start : layout.pilots_mid] = True
        cf = equalizer.fit(y, x, known, taps, precursor, SEG_LEN, t0=mid, start=cf,
                           iterations=1)  # fmt: skip
        h, u = pilots.normalise_phase(cf.h)
        z, nv = _equalised(y, cf, x, known)
    # (a burst whose header failed is an erasure: its payload is not equalised, zeros)
    z = z * np.conj(u)  # the samples see h^H: turning h by u turns them by conj(u)
    pay = np.concatenate([z[a : a + n] for a, n in layout.payload_segments]).astype(np.complex64)
    return ReceivedBurst(h, nv, cf.cfo, header, reason, pay, cf.alpha0 * u, cf.noise_var)


__all__ += ["PRECURSOR", "TAPS", "ReceivedBurst", "build_burst", "receive_burst"]
