"""QA of ``pa_model`` (simulation only): the DAC's clip at full scale, then Rapp's PA
(docs/ota.md "Transmit levels")."""

from __future__ import annotations

import math

import numpy as np
import pmt
import pytest
from block_harness import make_tag, run_antennas
from gnuradio import semdacom

from semdacom.phy import tx_level as tl


def run(blk, xs, tags=None, chunk=0):
    """``xs`` through ``blk``: the outputs and each output's tags ``(offset, key)``."""
    outs, out_tags, _ = run_antennas(blk, xs, tags, chunk)
    return outs, out_tags


def _noise(seed: int, scale: float, n: int = 4000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return scale * (rng.standard_normal(n) + 1j * rng.standard_normal(n))


@pytest.mark.parametrize("chunk", [0, 13])
def test_the_dac_clip_then_rapp(chunk: int) -> None:
    xs = [_noise(1, 0.8), _noise(2, 0.3)]
    blk = semdacom.pa_model(n_t=2, clip="rail", smoothness=2.0, saturation=0.9)
    outs, _ = run(blk, xs, chunk=chunk)
    for a in range(2):
        want = tl.rapp(tl.clip(xs[a], "rail"), 2.0, 0.9)
        assert np.allclose(outs[a], want, rtol=1e-5, atol=1e-6)
        assert np.all(np.abs(outs[a]) <= 0.9 + 1e-6)
    c = blk.counters()
    assert c["clipped"] == sum(int(tl.over_full_scale(x, "rail").sum()) for x in xs) > 0
    assert c["samples_in"] == 4000 and c["nonfinite"] == 0
    lv = blk.levels()  # the levels of what drives the PA
    assert math.isclose(lv["rms_dbfs"][1], tl.rms_dbfs(xs[1].astype(np.complex64)), abs_tol=1e-4)


def test_clip_only_and_pa_only() -> None:
    x = [_noise(4, 1.0)]
    outs, _ = run(semdacom.pa_model(n_t=1, clip="envelope", smoothness=0.0), x)
    assert np.allclose(outs[0], tl.clip(x[0], "envelope"), rtol=1e-5, atol=1e-6)
    assert np.all(np.abs(outs[0]) <= 1.0)
    outs, _ = run(semdacom.pa_model(n_t=1, clip="off", smoothness=3.0, saturation=1.0), x)
    assert np.allclose(outs[0], tl.rapp(x[0], 3.0, 1.0), rtol=1e-5, atol=1e-6)
    outs, _ = run(semdacom.pa_model(n_t=1, clip="off", smoothness=0.0), x)
    assert np.allclose(outs[0], x[0].astype(np.complex64))


def test_at_the_default_backoff_the_pa_leaves_the_signal_nearly_as_it_is() -> None:
    # RMS -12 dBFS, a Gaussian signal (PAPR beyond what the bursts have): Rapp p = 3 at
    # saturation 1 costs under 0.05 dB of power and keeps the EVM below -30 dB
    x = _noise(5, 10 ** (-12 / 20) / math.sqrt(2), 20000)
    outs, _ = run(semdacom.pa_model(n_t=1), [x])
    y = outs[0]
    assert abs(tl.rms_dbfs(y) - tl.rms_dbfs(x)) < 0.05
    evm = np.mean(np.abs(y - x) ** 2) / np.mean(np.abs(x) ** 2)
    assert 10 * math.log10(evm) < -30


def test_tags_pass_one_to_one_and_non_finite_samples_leave_as_zero() -> None:
    x0 = np.array([0.1, math.nan, 0.2, 0.3])
    tags = [[make_tag(0, "tx_sob", pmt.PMT_T)], [make_tag(3, "tx_eob", pmt.PMT_T)]]
    blk = semdacom.pa_model(n_t=2)
    outs, out_tags = run(blk, [x0, np.full(4, complex(0, math.inf))], tags)
    assert out_tags == [[(0, "tx_sob")], [(3, "tx_eob")]]
    assert outs[0][1] == 0 and np.all(outs[1] == 0) and np.all(np.isfinite(outs[0]))
    assert blk.counters()["nonfinite"] == 5


@pytest.mark.parametrize(
    "kwargs",
    [dict(n_t=0), dict(clip="soft"), dict(smoothness=-1.0), dict(smoothness=math.nan),
     dict(saturation=0.0), dict(saturation=math.inf), dict(report_every=-5)],
)  # fmt: skip
def test_bad_parameters_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        semdacom.pa_model(**kwargs)
