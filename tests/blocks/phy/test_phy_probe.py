"""QA of the Python ``phy_probe`` block: measured SINR, effective gain and Gray-QPSK BER of
synthetic data ``rx = g * ref + noise`` with a known noise variance."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr
from gnuradio.semdacom.phy.phy_probe import phy_probe

from semdacom.phy.metrics import qpsk_ber

KEYS = {"user", "symbols", "gain_re", "gain_im", "sinr", "sinr_db", "ber", "bit_errors", "bits"}
QPSK = np.array([1 + 1j, -1 + 1j, 1 - 1j, -1 - 1j]) / math.sqrt(2)


def synthetic(n: int, gain: complex, noise_var: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref = QPSK[rng.integers(0, 4, n)]
    noise = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * math.sqrt(noise_var / 2)
    return ref.astype(np.complex64), (gain * ref + noise).astype(np.complex64)


class Run:
    def __init__(self, ref: np.ndarray, rx: np.ndarray, chunk: int = 0, **kwargs: object) -> None:
        self.tb = gr.top_block()
        self.probe = phy_probe(**kwargs)
        if chunk:
            self.probe.set_max_noutput_items(chunk)
        self.dbg = blocks.message_debug()
        self.tb.connect(blocks.vector_source_c(ref.tolist(), False), (self.probe, 0))
        self.tb.connect(blocks.vector_source_c(rx.tolist(), False), (self.probe, 1))
        self.tb.msg_connect(self.probe, "stats", self.dbg, "store")
        self.tb.run()

    def stats(self) -> list[dict]:
        out = []
        for i in range(self.dbg.num_messages()):
            items = pmt.dict_items(self.dbg.get_message(i))
            out.append(
                {
                    pmt.symbol_to_string(pmt.car(pmt.nth(j, items))): pmt.to_python(
                        pmt.cdr(pmt.nth(j, items))
                    )
                    for j in range(pmt.length(items))
                }
            )
        return out

    def wait_stats(self, cond: Callable[[list[dict]], bool]) -> list[dict]:
        t0 = time.monotonic()
        while not cond(self.stats()):
            assert time.monotonic() - t0 < 10.0, "timed out waiting for stats messages"
            time.sleep(0.002)
        return self.stats()


@pytest.mark.parametrize(
    ("gain", "sinr_db"),
    [(1.0, 10.0), (0.7 * np.exp(0.3j), 3.0), (2.5j, 20.0), (0.05 - 0.02j, -3.0)],
)
def test_measures_known_sinr_and_gain(gain: complex, sinr_db: float) -> None:
    n = 100_000
    noise_var = abs(gain) ** 2 / 10 ** (sinr_db / 10)
    ref, rx = synthetic(n, gain, noise_var, seed=1)
    r = Run(ref, rx, user=1).probe.results()
    assert set(r) == KEYS
    assert r["user"] == 1 and r["symbols"] == n and r["bits"] == 2 * n
    assert r["sinr_db"] == pytest.approx(sinr_db, abs=0.05)
    assert r["sinr"] == pytest.approx(10 ** (sinr_db / 10), rel=0.012)
    assert complex(r["gain_re"], r["gain_im"]) == pytest.approx(gain, abs=0.01 * abs(gain))
    # Gray QPSK in Gaussian noise: Q(sqrt(SINR)) per bit
    want = float(qpsk_ber(10 ** (sinr_db / 10)))
    assert r["ber"] == pytest.approx(want, rel=0.1, abs=2e-4)
    assert r["bit_errors"] == round(r["ber"] * r["bits"])


def test_ber_zero_at_high_snr() -> None:
    ref, rx = synthetic(50_000, 0.8 * np.exp(-2.0j), 0.8**2 / 10**3, seed=2)  # 30 dB
    r = Run(ref, rx).probe.results()
    assert r["ber"] == 0.0 and r["bit_errors"] == 0
    assert r["sinr_db"] == pytest.approx(30.0, abs=0.1)


def test_noiseless_input_gives_infinite_sinr() -> None:
    ref, _ = synthetic(1000, 1.0, 0.0, seed=3)
    r = Run(ref, (1j * ref).astype(np.complex64)).probe.results()
    assert r["ber"] == 0.0
    assert r["sinr_db"] > 100.0


def test_json_written_at_stop(tmp_path) -> None:
    ref, rx = synthetic(20_000, 1.5, 0.5, seed=4)
    path = tmp_path / "probe.json"
    probe = Run(ref, rx, user=3, json_path=str(path)).probe
    assert path.is_file()
    data = json.loads(path.read_text())
    assert set(data) == KEYS
    r = probe.results()
    assert data["user"] == 3 and data["symbols"] == 20_000
    for key in KEYS:
        assert data[key] == pytest.approx(r[key], rel=1e-12), key


def test_stats_messages_every_report_every_samples() -> None:
    n, every, chunk = 12_000, 2_500, 1_000
    ref, rx = synthetic(n, 1.0, 0.1, seed=5)
    run = Run(ref, rx, user=2, report_every=every, chunk=chunk)
    stats = run.wait_stats(lambda got: len(got) >= n // (every + chunk))
    assert all(set(s) == KEYS and s["user"] == 2 for s in stats)
    counts = [s["symbols"] for s in stats]
    gaps = [b - a for a, b in zip(counts, counts[1:], strict=False)]
    if counts[-1] == n:
        gaps = gaps[:-1]  # the last one may be the report made at stop
    assert counts[0] >= every and all(gap >= every for gap in gaps)
    assert counts[-1] <= n
    final = run.probe.results()
    assert stats[-1]["sinr_db"] == pytest.approx(final["sinr_db"], abs=0.2)


def test_no_json_without_path(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    ref, rx = synthetic(100, 1.0, 0.1, seed=6)
    Run(ref, rx)
    assert list(tmp_path.iterdir()) == []
