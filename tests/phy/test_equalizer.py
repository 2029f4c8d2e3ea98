"""phy.equalizer through channel_coding.ota.receive_burst: a burst through echoes, clock offset,
phase noise and IQ imbalance (tests/phy/ota_channel.py, pulse-shaped at 8 samples per symbol)
is equalised to within a few tenths of a dB of the AWGN run (echoes: of the linear MMSE
equaliser's own bound), and the reported noise is the effective noise the decoder sees."""

from __future__ import annotations

import math

import numpy as np
import ota_channel as oc
import pytest

from semdacom.channel_coding import ota
from semdacom.phy import equalizer

LAY = ota.BurstLayout(2, 2, 127, 16, 2, 1024, 64)
P = 1.0
H = np.array([0.8 + 0.3j, -0.5 + 0.6j])
SNR_DB = 10.0
SEEDS = (0, 1, 2)


def receive(seed: int, **kw) -> dict:
    """One burst through the air: the payload's SINR after equalisation against the burst's
    own estimate (what a decoder with that CSI sees), and the reported noise over the true
    effective noise."""
    rng = np.random.default_rng(seed)
    x, pay = oc.burst(LAY, P, rng)
    y, nv = oc.air(x, H, rng, snr_db=SNR_DB, power=P, **kw)
    rb = ota.receive_burst(y, LAY, P)
    s = np.conj(rb.h) @ pay
    err = float(np.mean(np.abs(rb.payload - s) ** 2))
    return {"sinr_db": 10 * math.log10(float(np.mean(np.abs(s) ** 2)) / err),
            "nv_ratio": rb.noise_var / err, "header": rb.header, "rb": rb, "nv": nv}  # fmt: skip


@pytest.fixture(scope="module")
def awgn() -> dict:
    return {seed: receive(seed) for seed in SEEDS}


def le_bound_db(taps, snr_db: float = SNR_DB) -> float:
    """SINR of the unbiased infinite-length linear MMSE equaliser of the symbol-spaced channel
    ``taps`` (unit energy) at ``snr_db``: ``1 / mean_f(1 / (1 + snr |A(f)|^2)) - 1``."""
    a = np.asarray(taps, complex) / np.linalg.norm(taps)
    f = np.fft.fft(a, 4096)
    mmse = np.mean(1.0 / (1.0 + 10 ** (snr_db / 10) * np.abs(f) ** 2))
    return 10 * math.log10(1 / mmse - 1)


def test_awgn_reaches_the_snr_and_reports_its_noise(awgn) -> None:
    for r in awgn.values():
        assert r["header"] is not None and r["header"]["frame"] == 7
        assert r["sinr_db"] > SNR_DB - 0.3, r["sinr_db"]
        assert 0.85 < r["nv_ratio"] < 1.15, r["nv_ratio"]
        assert abs(r["rb"].noise_var / r["nv"] - 1) < 0.15


IMPAIRMENTS = {
    "sco +100 ppm": dict(sco_ppm=100.0),
    "sco -100 ppm": dict(sco_ppm=-100.0),
    "phase noise 10 Hz at 1 Msymbol/s": dict(pn_hz=10.0, sym_rate=1e6),
    "iq 1 dB / 5 deg": dict(iq_db=1.0, iq_deg=5.0, cfo=1e-3),
    "timing 0.2 symbol": dict(timing=0.2),
    "residual cfo 3e-4 cycles/symbol": dict(cfo=3e-4),
}


@pytest.mark.parametrize("name", list(IMPAIRMENTS))
def test_impairments_cost_a_few_tenths_of_a_db_and_show_in_the_noise(awgn, name: str) -> None:
    losses = []
    for seed in SEEDS:
        r = receive(seed, **IMPAIRMENTS[name])
        assert r["header"] is not None, name
        losses.append(awgn[seed]["sinr_db"] - r["sinr_db"])
        # the reported noise is what the decoder sees, within 20 %
        assert 0.8 < r["nv_ratio"] < 1.2, (name, r["nv_ratio"])
    assert np.mean(losses) < 0.5 and max(losses) < 0.7, (name, losses)


ECHOES = {
    "echo 0.25 one symbol late": ((1.0, 0.25j), (0, 1)),
    "three taps, 0.5 two and 0.3 four symbols late": ((1.0, 0.5j, 0.3), (0, 2, 4)),
    "three taps, 0.5 and 0.5 within 4 symbols": ((1.0, -0.5, 0.5j), (0, 1, 4)),
    "weaker first tap": ((0.5, 1.0, 0.3j), (0, 1, 3)),
}


@pytest.mark.parametrize("name", list(ECHOES))
def test_echoes_are_equalised_to_the_linear_mmse_bound(name: str) -> None:
    taps, delays = ECHOES[name]
    sym = np.zeros(int(max(delays)) + 1, complex)
    sym[list(delays)] = taps
    bound = le_bound_db(sym)
    # one burst's SINR scatters by about +-0.3 dB around the bound (one payload's noise and
    # estimate; over seeds 0-11 every channel's worst burst was seed 7, 0.5-0.7 dB below):
    # the mean over 8 bursts within 0.3 dB of the bound, none more than 1 dB below
    got = []
    for seed in range(8):
        r = receive(seed, taps=taps, delays=delays)
        assert r["header"] is not None, name
        assert r["sinr_db"] > bound - 1.0, (name, seed, r["sinr_db"], bound)
        got.append(r["sinr_db"])
        assert 0.8 < r["nv_ratio"] < 1.2, (name, r["nv_ratio"])
        # impairments lower the SINR a link adaptation would plan with
        planned = 10 * math.log10(P * np.linalg.norm(r["rb"].h) ** 2 / r["rb"].noise_var)
        assert planned < SNR_DB + 0.3
    assert np.mean(got) > bound - 0.3, (name, got, bound)


def test_a_clean_oscillator_smooths_to_a_line() -> None:
    rng = np.random.default_rng(4)
    t = np.arange(0, 2000, 100.0)
    truth = 0.3 + 2e-4 * t
    var = np.full(t.size, 1e-3)
    sm, slope = equalizer.smooth_phase(t, truth + rng.standard_normal(t.size) * 0.03, var)
    assert slope == pytest.approx(2e-4, rel=0.1)
    assert np.sqrt(np.mean((sm - truth) ** 2)) < 0.015  # below one measurement's 0.03


def test_mmse_taps_are_unbiased_and_undo_an_echo() -> None:
    lg = equalizer.lags(6, 2)
    alpha = np.zeros(6, complex)
    alpha[2], alpha[3] = 1.0, 0.5j
    e, k1, beta = equalizer.mmse_taps(alpha, lg, 1e6, 25)
    assert 0.99 < beta <= 1.0
    # the equaliser convolved with the channel is a delayed unit pulse
    rng = np.random.default_rng(0)
    s = rng.standard_normal(400) + 1j * rng.standard_normal(400)
    y = np.zeros(s.size, complex)
    for a, lag in zip(alpha, lg, strict=True):
        y += a * np.roll(s, lag)
    pad = np.concatenate([np.zeros(25), y, np.zeros(25)])
    z = np.array([np.vdot(e, pad[n - k1 + 25 : n - k1 + 50]) for n in range(50, 350)])
    assert np.max(np.abs(z - s[50:350])) < 1e-2


def test_lags_refuse_bad_values() -> None:
    with pytest.raises(ValueError):
        equalizer.lags(4, 4)
    with pytest.raises(ValueError):
        equalizer.lags(0, 0)
