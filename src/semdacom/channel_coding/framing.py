"""Bits <-> symbols over the practical link: CRC, LDPC, interleaving, QAM (no GNU Radio).

:func:`encode_bits` cuts ``B`` bits into channel blocks of ``L`` uses (layout of
:func:`.mcs.block_layout`), pads the last block with zeros, appends a CRC-16 to every
codeword, encodes, interleaves, scrambles (:func:`.qam.scrambler`) and maps.
:func:`decode_symbols` undoes it and reports per codeword whether the LDPC syndrome is zero
and whether the CRC holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from semdacom.channel_coding import codes, qam
from semdacom.channel_coding.mcs import BlockLayout, block_layout

__all__ = ["DecodeResult", "decode_symbols", "encode_bits", "n_blocks"]


def n_blocks(n_bits: int, layout: BlockLayout) -> int:
    """Channel blocks needed for ``n_bits`` payload bits (at least one)."""
    return max(1, math.ceil(int(n_bits) / layout.payload_bits))


def encode_bits(bits: np.ndarray, mcs: int, L: int) -> np.ndarray:
    """Payload bits -> unit-energy symbols (complex64), ``n_blocks * L`` of them."""
    b = np.asarray(bits, dtype=np.uint8).reshape(-1)
    lay = block_layout(mcs, L)
    nblk = n_blocks(b.size, lay)
    pad = np.zeros(nblk * lay.payload_bits, dtype=np.uint8)
    pad[: b.size] = b
    pay = pad.reshape(nblk, lay.payload_bits)
    out = np.empty((nblk, sum(lay.n)), dtype=np.uint8)
    p0 = c0 = 0
    for code in lay.codes():
        kp = code.k - codes.CRC_BITS
        u = pay[:, p0 : p0 + kp]
        info = np.concatenate([u, codes.crc16(u)], axis=1)
        cw = code.encode(info)
        perm = qam.interleaver(code.n)
        tx = np.empty_like(cw)
        tx[:, perm] = cw
        out[:, c0 : c0 + code.n] = tx ^ qam.scrambler(code.n)
        p0 += kp
        c0 += code.n
    return qam.modulate(out.reshape(-1), lay.mcs.bits_per_symbol)


@dataclass
class DecodeResult:
    """Output of :func:`decode_symbols`."""

    bits: np.ndarray  # payload bits (uint8)
    crc_ok: np.ndarray  # (blocks * codewords,) bool
    syndrome_ok: np.ndarray  # (blocks * codewords,) bool
    iterations: np.ndarray  # (blocks * codewords,) int
    codeword_payload: np.ndarray  # payload bits of each codeword (for BER accounting)


def decode_symbols(
    y: np.ndarray,
    mcs: int,
    L: int,
    noise_var: float | np.ndarray,
    gain: complex | np.ndarray = 1.0,
    n_bits: int | None = None,
    max_iterations: int = 20,
) -> DecodeResult:
    """Received symbols (a multiple of ``L``) -> payload bits and per-codeword flags.

    Parameters
    ----------
    y : array_like of complex
        ``n_blocks * L`` received symbols ``g x + n``.
    mcs : int
        MCS index.
    L : int
        Channel uses per block.
    noise_var : float or array_like
        Variance of noise plus interference (per symbol or scalar).
    gain : complex or array_like
        Effective channel gain (per symbol or scalar).
    n_bits : int, optional
        Payload length; the padding beyond it is dropped (default: keep all).
    max_iterations : int
        Decoder iterations.
    """
    lay = block_layout(mcs, L)
    y = np.asarray(y).reshape(-1)
    if y.size == 0 or y.size % lay.L:
        raise ValueError(f"{y.size} symbols is not a positive multiple of L={lay.L}")
    nblk = y.size // lay.L
    llr = qam.demap(y, lay.mcs.bits_per_symbol, noise_var, gain).reshape(nblk, -1)
    payload, crc_ok, syn_ok, its, cw_pay = [], [], [], [], []
    c0 = 0
    for code in lay.codes():
        perm = qam.interleaver(code.n)
        flip = 1.0 - 2.0 * qam.scrambler(code.n).astype(np.float32)
        cl = (llr[:, c0 : c0 + code.n] * flip)[:, perm]
        info, ok, it = code.decode(cl, max_iterations=max_iterations)
        kp = code.k - codes.CRC_BITS
        u = info[:, :kp]
        good = np.all(codes.crc16(u) == info[:, kp:], axis=1)
        payload.append(u)
        crc_ok.append(good)
        syn_ok.append(ok)
        its.append(it)
        cw_pay.append(np.full(nblk, kp))
        c0 += code.n
    bits = np.concatenate(payload, axis=1).reshape(-1)
    if n_bits is not None:
        bits = bits[: int(n_bits)]
    # Flags in transmission order: block-major, then codeword.
    return DecodeResult(
        bits=bits,
        crc_ok=np.stack(crc_ok, axis=1).reshape(-1),
        syndrome_ok=np.stack(syn_ok, axis=1).reshape(-1),
        iterations=np.stack(its, axis=1).reshape(-1),
        codeword_payload=np.stack(cw_pay, axis=1).reshape(-1),
    )
