"""LDPC code definitions: the semdacom quasi-cyclic family, alist codes, CRC-16.

The family (docs/channel_coding.md) is a quasi-cyclic irregular repeat-accumulate code built
by this module, not a standard's table:

* base matrix ``mb x nb`` with ``nb = kb + mb``: ``kb`` information columns with circulant
  shifts, then an accumulator (dual-diagonal) parity part that runs as ONE chain through all
  ``mb Z`` checks (:func:`lifted_rows`), so H is lower triangular in its parity bits and the
  C++ encoder runs in O(edges). (Z separate accumulators of length ``mb``, the plain lifted
  staircase, give low-weight codewords from the short tails: an error floor near 1e-3.)
* information column degrees follow a rate-dependent profile (a share of high-degree columns,
  the rest of degree 3, like DVB-S2), placed row by row to keep check degrees balanced
  (progressive edge growth at the base-graph level);
* circulant shifts are drawn so that the lifted graph has no 4-cycles (checked exactly on the
  base matrix: ``s_ij - s_ij' + s_i'j' - s_i'j != 0 mod Z``) and as few 6-cycles as the draws
  allow.

Any (n, k) is reached by lifting with ``Z = ceil(n / 32)``, shortening the last
``kb Z - k`` information bits (known zeros, never sent) and puncturing ``mb Z - (n - k)``
parity bits spread evenly along the accumulator chain (never sent, decoded as erasures).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from semdacom import _kernels as _k

__all__ = [
    "CRC_BITS",
    "DEFAULT_ALPHA",
    "AlistCode",
    "LdpcCode",
    "crc16",
    "design_base_matrix",
    "qc_code",
]

#: Bits of the per-codeword CRC (CRC-16-CCITT, init 0xFFFF).
CRC_BITS = 16
_CRC_POLY = 0x1021
_BASE_COLUMNS = 32
#: Normalisation of the min-sum decoder for the family (measured best near 0.9 at n = 512).
DEFAULT_ALPHA = 0.9


def _degree_profile(kb: int, mb: int) -> list[int]:
    """Degrees of the ``kb`` information columns (high-degree columns first)."""
    r = kb / (kb + mb)
    if r < 0.3:  # low rates: every information bit needs several checks (measured: 6 best)
        return [min(6, mb)] * kb
    if r <= 0.45:
        share, hi = 1.0 / 3.0, 10
    elif r <= 0.55:
        share, hi = 0.35, 8
    elif r <= 0.7:
        share, hi = 0.25, 8
    else:
        share, hi = 0.15, 6
    hi = max(3, min(hi, mb))
    n_hi = int(round(share * kb)) if hi > 3 else 0
    lo = min(3, mb)
    return [hi] * n_hi + [lo] * (kb - n_hi)


def design_base_matrix(kb: int, mb: int, z: int, seed: int = 1) -> np.ndarray:
    """Base matrix of circulant shifts (``-1`` = zero block) of the semdacom QC family.

    Parameters
    ----------
    kb, mb : int
        Information and parity block columns (``kb >= 1``, ``mb >= 2``).
    z : int
        Lifting size.
    seed : int
        Seed of the shift draws and of the tie-breaks.

    Returns
    -------
    numpy.ndarray of int, shape (mb, kb + mb)
    """
    if kb < 1 or mb < 2 or z < 1:
        raise ValueError(f"need kb >= 1, mb >= 2, z >= 1; got {kb}, {mb}, {z}")
    rng = np.random.default_rng(seed)
    nb = kb + mb
    base = -np.ones((mb, nb), dtype=np.int64)
    for i in range(mb):  # dual diagonal of the accumulator
        base[i, kb + i] = 0
        if i > 0:
            base[i, kb + i - 1] = 0
    base[0, nb - 1] = z - 1  # the chain wraps from lane t-1 to lane t (see lifted_rows)
    row_deg = (base >= 0).sum(axis=1).astype(float)

    def cycles4(i: int, j: int, s: int) -> int:
        bad = 0
        for j2 in np.flatnonzero(base[i] >= 0):
            if j2 == j:
                continue
            rows = np.flatnonzero((base[:, j] >= 0) & (base[:, j2] >= 0))
            for i2 in rows:
                if i2 != i and (s - base[i, j2] + base[i2, j2] - base[i2, j]) % z == 0:
                    bad += 1
        return bad

    for j, deg in enumerate(_degree_profile(kb, mb)):
        for _ in range(deg):
            free = np.flatnonzero(base[:, j] < 0)
            score = row_deg[free] + 0.01 * rng.random(free.size)
            i = int(free[np.argmin(score)])
            best, best_bad = 0, None
            for _try in range(40):
                s = int(rng.integers(0, z))
                bad = cycles4(i, j, s)
                if best_bad is None or bad < best_bad:
                    best, best_bad = s, bad
                if bad == 0:
                    break
            base[i, j] = best
            row_deg[i] += 1
    return base


def lifted_rows(base: np.ndarray, kb: int, z: int) -> list[list[int]]:
    """Check rows of the lifted H: circulants for the information part, one accumulator chain.

    Lifted row ``(i, t)`` (block row ``i``, lane ``t``) is check ``j = t mb + i`` and holds
    information bit ``c z + (t + s_ic) mod z`` for every information block column ``c`` with a
    shift ``s_ic``, plus parity bits ``j`` and ``j - 1`` (numbered ``kb z + j``). The parity
    part is thus one accumulator running through all ``mb z`` checks lane after lane (like
    DVB-S2's), not ``z`` short ones: the parity block column ``mb - 1`` enters block row 0 with
    shift ``z - 1`` minus its wrap-around entry. H is lower triangular in the parity bits, so
    encoding is one pass (``p_j = p_{j-1} + sum of the information bits of check j``).
    """
    mb = base.shape[0]
    info = [(i, np.flatnonzero(base[i, :kb] >= 0)) for i in range(mb)]
    rows: list[list[int]] = []
    for t in range(z):
        for i, cols in info:
            j = t * mb + i
            r = (cols * z + (t + base[i, cols]) % z).tolist()
            r.append(kb * z + j)
            if j > 0:
                r.append(kb * z + j - 1)
            rows.append(r)
    return rows


class LdpcCode:
    """A rate-matched code of the semdacom QC family: ``k`` information bits, ``n`` sent bits.

    Parameters
    ----------
    n : int
        Transmitted code bits, ``n >= 32``.
    k : int
        Information bits, ``1 <= k < n``.
    seed : int
        Seed of :func:`design_base_matrix`.
    """

    def __init__(self, n: int, k: int, seed: int = 1) -> None:
        n, k = int(n), int(k)
        if n < 32 or not 1 <= k < n:
            raise ValueError(f"need n >= 32 and 1 <= k < n, got n={n}, k={k}")
        self.n, self.k, self.seed = n, k, int(seed)
        self.z = math.ceil(n / _BASE_COLUMNS)
        self.kb = math.ceil(k / self.z)
        self.mb = max(2, math.ceil((n - k) / self.z))
        self.base = design_base_matrix(self.kb, self.mb, self.z, seed)
        nb = self.kb + self.mb
        self.mother = _k.ldpc_code(nb * self.z, lifted_rows(self.base, self.kb, self.z))
        info = np.asarray(self.mother.info_positions)
        parity = np.asarray(self.mother.parity_positions)
        self.n_short = self.kb * self.z - k
        self.n_punct = self.mb * self.z - (n - k)
        self._info_pos = info[:k]  # sent information bits
        self._short_pos = info[k:]  # shortened (known zero)
        # Punctured parity bits are spread evenly along the accumulator chain (never two in a
        # row, never its last bit): a run of punctured chain bits would leave the information
        # bits whose checks all fall in the run without protection (an error floor).
        m_all = parity.size
        punct = (np.arange(self.n_punct) + 0.5) * (m_all - 1) // max(self.n_punct, 1)
        keep = np.ones(m_all, dtype=bool)
        keep[punct.astype(np.int64)] = False
        self._sent = np.concatenate([info[:k], parity[keep]])
        self._decoders: dict[tuple[int, float, float], object] = {}

    @property
    def rate(self) -> float:
        return self.k / self.n

    def __repr__(self) -> str:
        return (
            f"LdpcCode(n={self.n}, k={self.k}, Z={self.z}, base={self.mb}x"
            f"{self.kb + self.mb}, shortened={self.n_short}, punctured={self.n_punct})"
        )

    def encode(self, info: np.ndarray) -> np.ndarray:
        """Information bits ``(B, k)`` -> transmitted code bits ``(B, n)`` (uint8)."""
        u = np.atleast_2d(np.asarray(info, dtype=np.uint8))
        if u.shape[1] != self.k:
            raise ValueError(f"info must have {self.k} columns, got {u.shape}")
        full = np.zeros((u.shape[0], self.mother.k), dtype=np.uint8)
        full[:, : self.k] = u
        cw = self.mother.encode(full)
        return cw[:, self._sent]

    def decode(
        self,
        llr: np.ndarray,
        max_iterations: int = 20,
        alpha: float = DEFAULT_ALPHA,
        beta: float = 0.0,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """LLRs of the sent bits ``(B, n)`` (positive = 0) -> info ``(B, k)``, ok, iterations.

        ``ok`` is True where the mother code's syndrome is zero.
        """
        y = np.atleast_2d(np.asarray(llr, dtype=np.float32))
        if y.shape[1] != self.n:
            raise ValueError(f"llr must have {self.n} columns, got {y.shape}")
        full = np.zeros((y.shape[0], self.mother.n), dtype=np.float32)
        full[:, self._sent] = y
        full[:, self._short_pos] = _k.ldpc_decoder.llr_clip()
        dec = self.decoder(max_iterations, alpha, beta)
        bits, its, ok = dec.decode(full)
        return bits[:, self._info_pos], ok, its

    def decoder(self, max_iterations: int = 20, alpha: float = DEFAULT_ALPHA, beta: float = 0.0):
        """The C++ :class:`ldpc_decoder` of the mother code (cached per setting)."""
        key = (int(max_iterations), float(alpha), float(beta))
        if key not in self._decoders:
            self._decoders[key] = _k.ldpc_decoder(self.mother, *key)
        return self._decoders[key]


class AlistCode:
    """A code read from an alist file (no shortening or puncturing).

    Parameters
    ----------
    path : str or Path
        The alist file (e.g. /usr/share/gnuradio/fec/ldpc/n_1800_k_0902_gap_28.alist).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.mother = _k.ldpc_code.from_alist_file(self.path)
        self.n, self.k = self.mother.n, self.mother.k
        self._info_pos = np.asarray(self.mother.info_positions)
        self._decoders: dict[tuple[int, float, float], object] = {}

    @property
    def rate(self) -> float:
        return self.k / self.n

    def encode(self, info: np.ndarray) -> np.ndarray:
        """Information bits ``(B, k)`` -> codewords ``(B, n)``."""
        return self.mother.encode(np.atleast_2d(np.asarray(info, dtype=np.uint8)))

    def decode(
        self, llr: np.ndarray, max_iterations: int = 20, alpha: float = 0.8, beta: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """LLRs ``(B, n)`` (positive = 0) -> info ``(B, k)``, syndrome ok, iterations."""
        dec = self.decoder(max_iterations, alpha, beta)
        bits, its, ok = dec.decode(np.atleast_2d(np.asarray(llr, dtype=np.float32)))
        return bits[:, self._info_pos], ok, its

    def decoder(self, max_iterations: int = 20, alpha: float = 0.8, beta: float = 0.0):
        key = (int(max_iterations), float(alpha), float(beta))
        if key not in self._decoders:
            self._decoders[key] = _k.ldpc_decoder(self.mother, *key)
        return self._decoders[key]


@functools.lru_cache(maxsize=128)
def qc_code(n: int, k: int, seed: int = 1) -> LdpcCode:
    """Cached :class:`LdpcCode` of the family for ``(n, k)``."""
    return LdpcCode(n, k, seed)


@functools.lru_cache(maxsize=64)
def _crc_matrix(length: int) -> tuple[np.ndarray, np.ndarray]:
    """Affine map of CRC-16-CCITT over ``length`` bits: ``crc = (bits @ A + c) mod 2``."""
    # Contribution of a single 1 followed by j zeros (init 0), j = 0 .. length-1.
    contrib = np.zeros((length, CRC_BITS), dtype=np.uint8)
    state = 0
    states = []
    for j in range(length):
        # feed 1 (j == 0) or 0 into the register
        fb = ((state >> 15) & 1) ^ (1 if j == 0 else 0)
        state = (state << 1) & 0xFFFF
        if fb:
            state ^= _CRC_POLY
        states.append(state)
    for i in range(length):
        s = states[length - 1 - i]
        contrib[i] = [(s >> (15 - b)) & 1 for b in range(CRC_BITS)]
    state = 0xFFFF
    for _ in range(length):
        fb = (state >> 15) & 1
        state = (state << 1) & 0xFFFF
        if fb:
            state ^= _CRC_POLY
    const = np.array([(state >> (15 - b)) & 1 for b in range(CRC_BITS)], dtype=np.uint8)
    return contrib, const


def crc16(bits: np.ndarray) -> np.ndarray:
    """CRC-16-CCITT (poly 0x1021, init 0xFFFF, MSB first) of each row of ``bits`` ``(B, K)``.

    Returns ``(B, 16)`` uint8 bits. The all-zero word has a nonzero CRC, so an all-zero
    decoder output never passes as valid.
    """
    b = np.atleast_2d(np.asarray(bits, dtype=np.uint8))
    if b.shape[1] == 0:
        return np.tile(np.array([1] * CRC_BITS, dtype=np.uint8), (b.shape[0], 1))
    a, c = _crc_matrix(b.shape[1])
    return ((b.astype(np.int32) @ a.astype(np.int32) + c) & 1).astype(np.uint8)
