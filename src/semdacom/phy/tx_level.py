#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Transmit levels a radio accepts: watts to digital full scale, the clip, a PA model (numpy).

**Full scale.** A USRP is fed complex float samples that UHD converts to 16-bit I/Q (``sc16``
on the wire): each of I and Q is multiplied by 32767 and saturated to the int16 range on its
own. UHD's SIMD converters (``convert_with_sse2`` / ``avx2``: ``_mm_packs_epi32``) and the
scalar one of ``host/lib/convert/convert_common.hpp`` (``clamp<int16_t>``) saturate per rail;
old UHD versions' scalar path cast without a clamp and wrapped around, which is worse. So
**full scale is per I/Q rail**: a sample is transmitted as it is when ``|Re x| <= 1`` and
``|Im x| <= 1`` (:func:`over_full_scale` ``mode="rail"``, the default; a complex sample may
then reach ``|x| = sqrt(2)``, +3 dBFS). ``mode="envelope"`` (``|x| <= 1``) is the stricter,
phase-preserving bound of a PA's saturation. Levels are given in dBFS against an amplitude of
1: ``rms_dbfs = 10 log10 mean |x|^2``, ``peak_dbfs = 20 log10 max |x|``.

**The scale.** The allocation's powers are watts: ``P_max`` is the total transmit power of
MU-ASCC [1] (``sum_i p_i ||w_i||^2 <= P_max``), the pilots and preamble are sent at the
per-antenna power ``p = P_max / N_t`` (docs/ota.md), and the RRC shaping of the examples keeps
the power per sample (``sqrt(sps) * rrc`` with unit-energy taps). :func:`full_scale_gain`
``g = 10^(-B/20) / sqrt(P_max / N_t)`` maps that per-antenna power to an RMS of ``-B`` dBFS
per antenna (the back-off ``B``); the radiated power is then the TX gain's job.

**The back-off.** ``B = 12 dB`` (:data:`DEFAULT_BACKOFF_DB`), from the measured PAPR of the
examples' shaped bursts (``mu_ascc_ota_sim`` at P_max = 5 dBW, K = N_t = 2, MCS 3, RRC
roll-off 0.35 at 2 samples per symbol): PAPR 5.3-6.9 dB over whole bursts, envelope peaks at
-8.1 to -6.4 dBFS and I/Q peaks at -8.4 to -8.3 dBFS, no sample beyond full scale; the 6 dB
left cover a beam that puts more than ``P_max / N_t`` on one antenna (up to
``+10 log10 N_t`` dB) and rarer peaks (docs/ota.md §8).

**PA model.** Rapp's solid-state amplifier (C. Rapp, "Effects of HPA-nonlinearity on a
4-DPSK/OFDM-signal for a digital sound broadcasting system", Proc. 2nd European Conf. on
Satellite Communications, ESA SP-332, 1991): AM/AM ``A(r) = r / (1 + (r / A_sat)^(2p))^(1/(2p))``
with smoothness ``p`` and output saturation ``A_sat``, no AM/PM (:func:`rapp`): unit
small-signal gain, monotone in ``r``, never above ``A_sat``, the clip at ``A_sat`` for
``p -> infinity``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DEFAULT_BACKOFF_DB",
    "ENVELOPE_LIMIT",
    "MODES",
    "LevelMeter",
    "LogThrottle",
    "clip",
    "db",
    "finite_or_zero",
    "full_scale_gain",
    "over_full_scale",
    "papr_db",
    "peak_dbfs",
    "rail_peak",
    "rapp",
    "rms_dbfs",
]

#: RMS level of the per-antenna power ``P_max / N_t`` below full scale, dB (module text).
DEFAULT_BACKOFF_DB = 12.0

#: Where the envelope clip puts a sample: 1 - 1e-6 (complex64 rounding stays below 1).
ENVELOPE_LIMIT = 1.0 - 1e-6

#: What full scale bounds: each of I and Q (UHD's sc16) or the complex envelope.
MODES = ("rail", "envelope")


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"full-scale mode must be one of {MODES}, not {mode!r}")
    return mode


def full_scale_gain(p_max: float, n_t: int = 1, backoff_db: float = DEFAULT_BACKOFF_DB) -> float:
    """The amplitude factor ``g`` that puts the per-antenna power ``p_max / n_t`` (watts,
    mean ``|x|^2`` per sample) at an RMS of ``-backoff_db`` dBFS: ``g^2 p_max / n_t =
    10^(-backoff_db / 10)``."""
    p_max, backoff_db = float(p_max), float(backoff_db)
    if not (math.isfinite(p_max) and p_max > 0):
        raise ValueError(f"p_max must be a finite power > 0 W, not {p_max}")
    if not (isinstance(n_t, (int, np.integer)) and n_t >= 1):
        raise ValueError(f"n_t must be an integer >= 1, not {n_t!r}")
    if not (math.isfinite(backoff_db) and 0.0 <= backoff_db <= 100.0):
        raise ValueError(f"backoff_db must lie in [0, 100] dB, not {backoff_db}")
    return 10 ** (-backoff_db / 20) / math.sqrt(p_max / int(n_t))


def db(power: float) -> float:
    """``10 log10 power`` (``-inf`` for 0)."""
    return 10 * math.log10(power) if power > 0 else -math.inf


def rms_dbfs(x: np.ndarray) -> float:
    """RMS level, ``10 log10 mean |x|^2`` dBFS (``-inf`` for silence or no sample)."""
    x = np.asarray(x)
    return db(float(np.mean(np.abs(x) ** 2))) if x.size else -math.inf


def peak_dbfs(x: np.ndarray) -> float:
    """Envelope peak, ``20 log10 max |x|`` dBFS."""
    x = np.asarray(x)
    return 2 * db(float(np.max(np.abs(x)))) if x.size else -math.inf


def rail_peak(x: np.ndarray) -> float:
    """The largest ``|Re x|`` or ``|Im x|``: what UHD's per-rail saturation sees."""
    x = np.asarray(x)
    return float(max(np.max(np.abs(x.real)), np.max(np.abs(x.imag)))) if x.size else 0.0


def papr_db(x: np.ndarray) -> float:
    """Peak-to-average power ratio ``max |x|^2 / mean |x|^2`` in dB (nan for silence)."""
    x = np.asarray(x)
    p = np.abs(x) ** 2
    mean = float(np.mean(p)) if x.size else 0.0
    return db(float(np.max(p)) / mean) if mean > 0 else math.nan


def over_full_scale(x: np.ndarray, mode: str = "rail") -> np.ndarray:
    """Mask of the samples beyond full scale: ``|Re x| > 1 or |Im x| > 1`` (``rail``) or
    ``|x| > 1`` (``envelope``)."""
    x = np.asarray(x)
    if _check_mode(mode) == "rail":
        return (np.abs(x.real) > 1.0) | (np.abs(x.imag) > 1.0)
    return np.abs(x) > 1.0


def clip(x: np.ndarray, mode: str = "rail") -> np.ndarray:
    """The samples as the DAC path transmits them: I and Q each saturated to ``[-1, 1]``
    (``rail``, UHD's sc16 conversion) or ``x`` scaled onto ``|x| = 1`` where it exceeds it
    (``envelope``: the phase kept; onto :data:`ENVELOPE_LIMIT`, a hair below 1, so that no
    rounding, to complex64 included, puts it beyond). Samples within full scale are returned
    unchanged."""
    x = np.asarray(x, dtype=np.complex128)
    if _check_mode(mode) == "rail":
        return np.clip(x.real, -1.0, 1.0) + 1j * np.clip(x.imag, -1.0, 1.0)
    r = np.abs(x)
    return np.where(r > 1.0, x * (ENVELOPE_LIMIT / np.maximum(r, 1.0)), x)


def rapp(x: np.ndarray, smoothness: float = 3.0, saturation: float = 1.0) -> np.ndarray:
    """Rapp's AM/AM model (module text): ``x / (1 + (|x| / A_sat)^(2p))^(1/(2p))``, the phase
    kept. ``smoothness`` ``p > 0`` (2-3 for typical solid-state PAs), ``saturation``
    ``A_sat > 0`` in full-scale units."""
    p, a = float(smoothness), float(saturation)
    if not (math.isfinite(p) and p > 0):
        raise ValueError(f"smoothness must be a finite p > 0, not {p}")
    if not (math.isfinite(a) and a > 0):
        raise ValueError(f"saturation must be a finite amplitude > 0, not {a}")
    x = np.asarray(x, dtype=np.complex128)
    r = np.abs(x) / a
    # (1 + r^(2p))^(1/(2p)) computed as r * (1 + r^-(2p))^(1/(2p)) where r is large, so that
    # r^(2p) never overflows: the output then tends to A_sat itself.
    big = r > 1.0
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        small_den = (1.0 + r ** (2 * p)) ** (1 / (2 * p))
        big_den = r * (1.0 + r ** (-2 * p)) ** (1 / (2 * p))
    den = np.where(big, big_den, small_den)
    return x / den


def finite_or_zero(x: np.ndarray) -> tuple[np.ndarray, int]:
    """``x`` with every non-finite sample (NaN, inf in I or Q) set to 0, and their number: a
    NaN handed to the radio's converter gives an undefined int16."""
    x = np.asarray(x)
    ok = np.isfinite(x)
    if ok.all():
        return x, 0
    return np.where(ok, x, 0).astype(x.dtype), int(ok.size - np.count_nonzero(ok))


@dataclass
class LevelMeter:
    """Running levels of ``n_t`` streams (one per antenna) against full scale: samples, mean
    power, envelope and rail peaks, and the samples beyond full scale (``mode``).
    :meth:`update` takes each antenna's new samples (vectorised, any lengths)."""

    n_t: int = 1
    mode: str = "rail"
    samples: np.ndarray = field(init=False)
    energy: np.ndarray = field(init=False)
    peak: np.ndarray = field(init=False)
    rail: np.ndarray = field(init=False)
    over: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        _check_mode(self.mode)
        if not (isinstance(self.n_t, (int, np.integer)) and self.n_t >= 1):
            raise ValueError(f"n_t must be an integer >= 1, not {self.n_t!r}")
        self.samples = np.zeros(self.n_t, np.int64)
        self.energy = np.zeros(self.n_t)
        self.peak = np.zeros(self.n_t)
        self.rail = np.zeros(self.n_t)
        self.over = np.zeros(self.n_t, np.int64)

    def update(self, a: int, x: np.ndarray) -> int:
        """Add antenna ``a``'s samples ``x`` (finite); returns how many are beyond full scale.

        One pass over I and Q as real numbers (``x`` viewed as pairs); the samples beyond full
        scale are only looked for when the chunk's peak exceeds it."""
        x = np.ascontiguousarray(x)
        if not x.size:
            return 0
        if not np.iscomplexobj(x):
            x = x.astype(np.complex128)
        iq = np.abs(x.view(x.real.dtype).reshape(-1, 2))  # |I|, |Q| per sample
        rail = float(iq.max())
        mag2 = np.einsum("ij,ij->i", iq, iq)
        peak2 = float(mag2.max())
        n_over = 0
        if self.mode == "rail" and rail > 1.0:
            n_over = int(np.count_nonzero(iq.max(axis=1) > 1.0))
        elif self.mode == "envelope" and peak2 > 1.0:
            n_over = int(np.count_nonzero(mag2 > 1.0))
        self.samples[a] += x.size
        self.energy[a] += float(np.sum(mag2, dtype=np.float64))
        self.peak[a] = max(self.peak[a], math.sqrt(peak2))
        self.rail[a] = max(self.rail[a], rail)
        self.over[a] += n_over
        return n_over

    def summary(self) -> dict:
        """Per antenna (lists) and overall: ``samples``, ``clipped_per_antenna`` (beyond full
        scale) and ``clipped_total``,
        ``rms_dbfs``, ``peak_dbfs`` (envelope), ``rail_peak_dbfs`` (largest I or Q),
        ``papr_db`` (peak power over mean power)."""
        n = np.maximum(self.samples, 1)
        mean = np.where(self.samples > 0, self.energy / n, 0.0)
        out = {
            "mode": self.mode,
            "samples": [int(v) for v in self.samples],
            "clipped_per_antenna": [int(v) for v in self.over],
            "rms_dbfs": [db(float(v)) for v in mean],
            "peak_dbfs": [2 * db(float(v)) for v in self.peak],
            "rail_peak_dbfs": [2 * db(float(v)) for v in self.rail],
            "papr_db": [
                db(float(pk) ** 2 / m) if m > 0 else math.nan
                for pk, m in zip(self.peak, mean, strict=True)
            ],  # fmt: skip
        }
        out["clipped_total"] = int(self.over.sum())
        out["peak_dbfs_max"] = max(out["peak_dbfs"])
        out["rms_dbfs_max"] = max(out["rms_dbfs"])
        return out


@dataclass
class LogThrottle:
    """At most one log line every ``interval_s`` seconds: :meth:`due` says whether to log now
    (the first event always is), :meth:`note` counts events held back meanwhile."""

    interval_s: float = 5.0
    last: float = -math.inf
    held: int = 0

    def due(self, now: float) -> bool:
        if now - self.last >= self.interval_s:
            self.last = now
            return True
        return False

    def note(self, n: int = 1) -> int:
        """Add ``n`` events; returns the events since the last :meth:`take`."""
        self.held += n
        return self.held

    def take(self) -> int:
        n, self.held = self.held, 0
        return n
