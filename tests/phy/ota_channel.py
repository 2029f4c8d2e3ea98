"""A burst through the air for the receiver tests: root-raised-cosine shaping at 8 samples per
symbol, a multipath channel, sample clock offset, phase noise, IQ imbalance, DC, noise, the
matched filter, and sampling at the receiver's (drifting) symbol instants (numpy only)."""

from __future__ import annotations

import math

import numpy as np

from semdacom.channel_coding import ota

OS = 8  # samples per symbol of the simulation


def rrc(os: int = OS, beta: float = 0.35, span: int = 12) -> np.ndarray:
    """Unit-energy root-raised-cosine taps at ``os`` samples per symbol."""
    t = np.arange(-span * os // 2, span * os // 2 + 1) / os
    out = np.empty(t.size)
    for i, x in enumerate(t):
        if abs(x) < 1e-12:
            out[i] = 1 - beta + 4 * beta / math.pi
        elif abs(abs(x) - 1 / (4 * beta)) < 1e-9:
            out[i] = (
                beta
                / math.sqrt(2)
                * (
                    (1 + 2 / math.pi) * math.sin(math.pi / (4 * beta))
                    + (1 - 2 / math.pi) * math.cos(math.pi / (4 * beta))
                )
            )
        else:
            out[i] = (
                math.sin(math.pi * x * (1 - beta))
                + 4 * beta * x * math.cos(math.pi * x * (1 + beta))
            ) / (math.pi * x * (1 - (4 * beta * x) ** 2))
    return out / np.linalg.norm(out)


def burst(lay: ota.BurstLayout, power: float, rng, frame: int = 7):
    """A burst with a random payload (complex Gaussian antenna samples at ``power``):
    ``(x (n_t, span), payload (n_t, payload_len))``."""
    ent = [{"present": True, "n_bits": 900, "erased": False, "mcs": 3, "image_id": 5}] * lay.k
    pay = (
        rng.standard_normal((lay.n_t, lay.payload_len))
        + 1j * rng.standard_normal((lay.n_t, lay.payload_len))
    ) * math.sqrt(power / 2)
    x = ota.build_burst(lay, frame, ent, pay, power).astype(np.complex128)
    return x[:, : lay.span], pay


def air(
    x,
    h,
    rng,
    snr_db=10.0,
    power=1.0,
    taps=(1.0,),
    delays=None,
    sco_ppm=0.0,
    pn_hz=0.0,
    sym_rate=1e6,
    iq_db=0.0,
    iq_deg=0.0,
    dc=0.0,
    cfo=0.0,
    timing=0.0,
):
    """The user's symbol-spaced samples of the antenna samples ``x`` (n_t, n) through
    ``h^H`` and the multipath ``taps`` (at ``delays`` symbols, default 0, 1, 2...; the
    taps are scaled to unit energy), as ``frame_sync`` hands them on: at the instants it
    measured at the burst start (``timing`` symbols off), with the CFO removed. Noise for
    ``snr_db`` pilot SNR ``p ||h||^2 / sigma^2``. Returns ``(y, noise_var)``."""
    h = np.asarray(h, complex)
    s = np.conj(h) @ x  # symbol rate
    n = s.size
    taps = np.asarray(taps, complex)
    taps = taps / np.linalg.norm(taps)
    delays = np.arange(taps.size) if delays is None else np.asarray(delays, float)
    g = rrc()
    pad = 40
    up = np.zeros((n + 2 * pad) * OS, complex)
    up[pad * OS :: OS][:n] = s
    tx = np.convolve(up, g)
    rxs = np.zeros(tx.size + int(OS * (max(delays) + 2)), complex)
    for a, d in zip(taps, delays, strict=True):
        k = int(round(d * OS))
        rxs[k : k + tx.size] += a * tx
    t = np.arange(rxs.size)
    nv = power * float(np.linalg.norm(h) ** 2) / 10 ** (snr_db / 10)
    # oscillator: CFO and phase noise (Wiener, variance 2 pi linewidth / fs per sample)
    step = 2 * math.pi * pn_hz / (sym_rate * OS)
    phase = 2 * math.pi * cfo * t / OS + np.cumsum(rng.standard_normal(t.size) * math.sqrt(step))
    r = rxs * np.exp(1j * phase)
    # noise at the simulation rate, so that after the unit-energy matched filter it is nv
    r = r + (rng.standard_normal(r.size) + 1j * rng.standard_normal(r.size)) * math.sqrt(nv / 2)
    if iq_db or iq_deg:
        gi, ph = 10 ** (iq_db / 20), math.radians(iq_deg)
        a_ = (1 + gi * np.exp(-1j * ph)) / 2
        b_ = (1 - gi * np.exp(1j * ph)) / 2
        r = a_ * r + b_ * np.conj(r)
    r = r + dc * math.sqrt(nv)
    mf = np.convolve(r, g[::-1])
    # the receiver's symbol instants: its clock runs (1 + sco) times the transmitter's
    centre = pad * OS + (g.size - 1)  # first symbol's peak after both filters
    inst = centre + OS * (np.arange(n) * (1 + sco_ppm * 1e-6) + timing)
    lo = np.floor(inst).astype(int)
    fr = inst - lo
    y = mf[lo] * (1 - fr) + mf[lo + 1] * fr
    y = y * np.exp(-1j * 2 * math.pi * cfo * np.arange(n) * (1 + sco_ppm * 1e-6))
    y = y * np.exp(-1j * 2 * math.pi * cfo * centre / OS)
    return y, nv
