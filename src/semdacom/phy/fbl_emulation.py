"""Finite-blocklength random-coding link emulation (MU-ASCC [1], Sec. II-C).

A bit string of ``B`` bits is cut into ``ceil(B / N)`` packets of ``N = floor(R_c L)`` bits (the
last one padded, so every packet is one ``(N, L)`` codeword), and the codewords go through a
channel of SINR ``gamma``. Two error models are offered:

``"packet"``
    Each packet fails independently with the probability ``rho`` of eq. (8); the bits of a failed
    packet are replaced by uniform random bits (the decoder output carries no information).
``"bitflip"``
    Every bit flips independently with the probability ``10 ** log10 BER`` of eq. (14), clipped
    to ``[0, 0.5]`` (the paper's i.i.d. Bernoulli approximation, Sec. III-B).

The probabilities use the rate ``N / L`` that the emulated code really carries, which is at most
the requested ``R_c``. With no SINR known (``sinr=None``) every packet fails under both models.

Numpy only; the probabilities come from :mod:`.fbl`.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from semdacom.phy import fbl

__all__ = ["MODELS", "bits_per_packet", "emulate", "num_packets"]

#: Names of the error models :func:`emulate` accepts.
MODELS: tuple[str, ...] = ("packet", "bitflip")

_FLOOR_SLACK = 1e-9


def bits_per_packet(rc: float, L: int) -> int:
    """Information bits per codeword, ``N = floor(R_c L)``.

    Parameters
    ----------
    rc : float
        Channel coding rate in bits per complex channel use, ``> 0``.
    L : int
        Blocklength in channel uses, ``>= 1``.

    Returns
    -------
    int
        ``N >= 1`` (a product within 1e-9 of an integer counts as that integer).

    Raises
    ------
    ValueError
        When ``rc`` or ``L`` is invalid or ``R_c L < 1``.
    """
    rc = float(rc)
    if not (math.isfinite(rc) and rc > 0.0):
        raise ValueError(f"rc must be positive and finite, got {rc}")
    if isinstance(L, bool) or int(L) != L or L < 1:
        raise ValueError(f"L must be a positive integer, got {L}")
    n = math.floor(rc * int(L) + _FLOOR_SLACK)
    if n < 1:
        raise ValueError(f"rc * L = {rc * int(L):.6g} < 1: a codeword would carry no bit")
    return n


def num_packets(n_bits: int, n_per_packet: int) -> int:
    """Number of packets ``ceil(B / N)`` for ``B`` bits in packets of ``N`` bits.

    Parameters
    ----------
    n_bits : int
        ``B >= 0``.
    n_per_packet : int
        ``N >= 1``.

    Returns
    -------
    int
        ``ceil(B / N)`` (0 for ``B = 0``).
    """
    if n_per_packet < 1:
        raise ValueError(f"n_per_packet must be >= 1, got {n_per_packet}")
    if n_bits < 0:
        raise ValueError(f"n_bits must be >= 0, got {n_bits}")
    return -(-int(n_bits) // int(n_per_packet))


def _check_bits(bits: Any) -> np.ndarray:
    arr = np.asarray(bits)
    if arr.ndim != 1:
        raise ValueError(f"bits must be one-dimensional, got shape {arr.shape}")
    if not arr.size or arr.dtype == np.bool_:
        return arr.astype(np.uint8)
    if arr.dtype == np.uint8:  # the common case (every block's bits): one pass, no copy
        if arr.max() > 1:
            raise ValueError("bits must be 0 or 1")
        return arr
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"bits must be integers 0/1, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() > 1:
        raise ValueError("bits must be 0 or 1")
    return arr.astype(np.uint8)


@functools.lru_cache(maxsize=256)
def _probabilities(sinr: float, rc_eff: float, L: int, paper_form: bool) -> tuple[float, float]:
    """``(per, log10_ber)`` of eqs. (8) and (14) at one operating point. A block's frames
    share their SINR and rate until the channel or the allocation changes, so each point is
    computed once (issue 23: these scalar calls were 7 % of the loop's GIL time)."""
    per = float(fbl.packet_error_prob(sinr, rc_eff, L, paper_form=paper_form))
    return per, float(fbl.log10_ber(sinr, rc_eff, L, paper_form=paper_form))


def emulate(
    bits: Any,
    sinr: float | None,
    rc: float,
    L: int,
    model: str,
    rng: np.random.Generator,
    *,
    paper_form: bool = False,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Pass bits through the finite-blocklength random-coding link.

    Parameters
    ----------
    bits : array_like of {0, 1}
        One-dimensional bits (``B`` of them).
    sinr : float or None
        Linear SINR ``gamma >= 0`` of eq. (7); None when no SINR is known (every packet fails).
    rc : float
        Requested channel coding rate in bits per complex channel use; the code carries
        ``N = floor(rc L)`` bits per codeword.
    L : int
        Blocklength in channel uses.
    model : {"packet", "bitflip"}
        Error model (see the module docstring).
    rng : numpy.random.Generator
        Source of randomness.
    paper_form : bool, optional
        Use the dispersion as printed in eq. (8) (see :func:`.fbl.dispersion`).

    Returns
    -------
    bits_out : numpy.ndarray of uint8
        The received bits, same length as ``bits``.
    stats : dict
        ``packets`` (``ceil(B/N)``), ``packets_failed`` (packets drawn as failed for
        ``"packet"``, packets with at least one flipped bit for ``"bitflip"``), ``bit_errors``
        (bits that differ from the input), ``n_per_packet`` (``N``), ``rc`` (``N / L``, the rate
        used in the probabilities), ``per`` (eq. (8)), ``log10_ber`` (eq. (14)) and ``ber``
        (the flip probability of ``"bitflip"``: ``10 ** log10_ber`` clipped to [0, 0.5]).

    Raises
    ------
    ValueError
        For malformed bits, an unknown model, a negative or NaN SINR, or ``rc L < 1``.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    x = _check_bits(bits)
    n = bits_per_packet(rc, L)
    rc_eff = n / int(L)
    n_bits = x.size
    n_pkt = num_packets(n_bits, n)

    if sinr is None:
        per, log10_ber, ber = 1.0, math.log10(0.5), 0.5
        model_used = "packet"
    else:
        sinr = float(sinr)
        if not sinr >= 0.0:
            raise ValueError(f"sinr must be linear and non-negative, got {sinr}")
        per, log10_ber = _probabilities(sinr, rc_eff, int(L), bool(paper_form))
        ber = min(max(10.0**log10_ber, 0.0), 0.5)
        model_used = model

    out = x.copy()
    if model_used == "packet":
        failed = rng.random(n_pkt) < per if per < 1.0 else np.ones(n_pkt, dtype=bool)
        packets_failed = int(failed.sum())
        if packets_failed:
            hit = np.repeat(failed, n)[:n_bits]  # the bits of the failed packets
            out[hit] = rng.integers(0, 2, size=int(hit.sum()), dtype=np.uint8)
    else:
        n_flip = int(rng.binomial(n_bits, ber)) if n_bits else 0
        where = rng.choice(n_bits, size=n_flip, replace=False) if n_flip else np.zeros(0, int)
        out[where] ^= 1
        packets_failed = int(np.unique(where // n).size)

    stats: dict[str, Any] = {
        "packets": n_pkt,
        "packets_failed": packets_failed,
        "bit_errors": int(np.count_nonzero(out != x)),
        "n_per_packet": n,
        "rc": rc_eff,
        "per": per,
        "log10_ber": log10_ber,
        "ber": ber,
    }
    return out, stats
