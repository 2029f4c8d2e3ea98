"""Modulation and coding schemes and the channel-block layout of the practical link.

An MCS is a (modulation, LDPC code rate) pair carrying ``R_c = m r`` bits per complex channel
use (m bits per symbol, code rate r). :data:`MCS_TABLE` spans ``R_c`` from 0.25 to 6.67.

Channel block layout (docs/channel_coding.md): a block of ``L`` channel uses carries
``L m`` code bits, split into ``c = ceil(L m / 8192)`` codewords of (nearly) equal length
``n_i`` (8192 is the longest codeword), each with ``k_i = round(r n_i)`` information bits of
which the last 16 are a CRC-16 of the others. Code bits are interleaved per codeword and
codewords are placed one after the other, so a symbol never mixes two codewords when ``m``
divides ``n_i``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from semdacom.channel_coding import codes, qam

__all__ = ["MAX_CODEWORD", "MCS_TABLE", "Mcs", "BlockLayout", "block_layout", "mcs_for_rc"]

#: Longest codeword of the family (bits).
MAX_CODEWORD = 8192


@dataclass(frozen=True)
class Mcs:
    """One modulation and coding scheme."""

    index: int
    modulation: str
    rate: Fraction

    @property
    def bits_per_symbol(self) -> int:
        return qam.BITS_PER_SYMBOL[self.modulation]

    @property
    def rc(self) -> float:
        """Bits per complex channel use, ``m r`` (before CRC and rounding)."""
        return self.bits_per_symbol * float(self.rate)


_ROWS = [
    ("qpsk", "1/8"),
    ("qpsk", "1/5"),
    ("qpsk", "1/3"),
    ("qpsk", "1/2"),
    ("qpsk", "2/3"),
    ("qpsk", "3/4"),
    ("16qam", "1/2"),
    ("16qam", "2/3"),
    ("16qam", "3/4"),
    ("16qam", "5/6"),
    ("64qam", "2/3"),
    ("64qam", "3/4"),
    ("64qam", "5/6"),
    ("256qam", "3/4"),
    ("256qam", "5/6"),
]

#: The MCS table, ascending ``R_c``.
MCS_TABLE: tuple[Mcs, ...] = tuple(Mcs(i, mod, Fraction(r)) for i, (mod, r) in enumerate(_ROWS))


def mcs_for_rc(rc: float) -> Mcs:
    """Highest MCS whose ``R_c`` does not exceed ``rc`` (the lowest one if none does)."""
    best = MCS_TABLE[0]
    for m in MCS_TABLE:
        if m.rc <= rc + 1e-12:
            best = m
    return best


@dataclass(frozen=True)
class BlockLayout:
    """How one channel block of ``L`` uses carries codewords for one MCS."""

    mcs: Mcs
    L: int
    n: tuple[int, ...]  # code bits per codeword
    k: tuple[int, ...]  # information bits per codeword (CRC included)

    @property
    def payload_bits(self) -> int:
        """Information bits per block, CRCs excluded."""
        return sum(self.k) - codes.CRC_BITS * len(self.k)

    @property
    def rc_effective(self) -> float:
        """Payload bits per channel use."""
        return self.payload_bits / self.L

    def codes(self) -> list[codes.LdpcCode]:
        return [codes.qc_code(n, k) for n, k in zip(self.n, self.k, strict=True)]


def block_layout(mcs: Mcs | int, L: int) -> BlockLayout:
    """Codewords of one channel block of ``L`` uses for ``mcs`` (see the module docstring)."""
    if not isinstance(mcs, Mcs):
        i = int(mcs)
        if not 0 <= i < len(MCS_TABLE):
            raise ValueError(f"mcs index must be in [0, {len(MCS_TABLE) - 1}], got {mcs}")
        mcs = MCS_TABLE[i]
    if isinstance(L, bool) or int(L) != L or L < 1:
        raise ValueError(f"L must be a positive integer, got {L}")
    total = int(L) * mcs.bits_per_symbol
    c = max(1, math.ceil(total / MAX_CODEWORD))
    base, extra = divmod(total, c)
    n = tuple(base + (1 if i < extra else 0) for i in range(c))
    k = tuple(int(round(float(mcs.rate) * ni)) for ni in n)
    if min(n) < 32 or min(k) <= codes.CRC_BITS or max(np.array(n) - np.array(k)) < 2:
        raise ValueError(f"L={L} is too short for {mcs.modulation} rate {mcs.rate}")
    return BlockLayout(mcs, int(L), n, k)
