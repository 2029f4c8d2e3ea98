"""SC-SFMA profiling and commands (sc_sfma/transceiver/{profile,evaluate,separated}.py,
cli/sc_sfma.py): the xi regression on known mixtures, the profiler on a tiny grid (table formats,
envelopes), the separated baseline's AMC, and the three commands on tiny models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from semdacom.cli import main as cli_main
from semdacom.sc_sfma.model import (
    DISTORTION_FORMAT,
    PAIR_CLASSES,
    XI_FORMAT,
    XI_PARAM_KEYS,
    distortion_table_from_dict,
    xi_table_from_dict,
)
from semdacom.sc_sfma.transceiver import load_transceiver
from semdacom.sc_sfma.transceiver.evaluate import eval_pairs
from semdacom.sc_sfma.transceiver.profile import distortion_doc, measure, regression_xi, xi_doc
from semdacom.sc_sfma.transceiver.separated import SeparatedScheme


@pytest.mark.parametrize("w", [0.0, 0.25, 0.6, 1.0])
def test_regression_xi_recovers_the_mixture(w):
    """f_hat = c (o + w p) + noise: xi = w^2 |p|^2 / |o|^2 whatever c, alpha = c, beta = c w."""
    g = torch.Generator().manual_seed(0)
    o = torch.randn(400, 4, 8, generator=g) + 0.5
    p = 0.5 * torch.randn(400, 4, 8, generator=g) + 0.3 * o  # correlated with o
    f = 0.7 * (o + w * p) + 0.05 * torch.randn(o.shape, generator=g) + 2.0
    xi, alpha, beta = regression_xi(f, o, p)
    oc, pc = o - o.mean(0), p - p.mean(0)
    expect = w**2 * float((pc**2).sum()) / float((oc**2).sum())
    assert abs(alpha - 0.7) < 0.01 and abs(beta - 0.7 * w) < 0.01
    assert abs(xi - expect) < 0.01 * max(expect, 0.01) + 1e-4


def test_profiler_tiny_grid(tiny_weights):
    model = load_transceiver(tiny_weights["sc_sfma"])
    pairs = eval_pairs(6)
    snr, nu = (0.0, 10.0, 20.0), (0.25, 0.5, 1.0)
    meas = measure(model, pairs, snr, nu, progress=False)
    xi = xi_doc("sc_sfma", "w.pt", meas, snr, nu)
    dist = distortion_doc("sc_sfma", "w.pt", meas, snr, nu)
    assert xi["format"] == XI_FORMAT and dist["format"] == DISTORTION_FORMAT
    for cls in PAIR_CLASSES:
        e = xi["classes"][cls]
        assert set(e["params"]) == set(XI_PARAM_KEYS)
        assert np.asarray(e["xi"]).shape == (3, 3) and e["n_pairs"] == 6
        d = dist["classes"][cls]
        env = np.asarray(d["envelope"]["d"], dtype=float)
        mean = np.asarray(d["d"], dtype=float)
        assert env.shape == mean.shape == (3, 3)
        assert np.all(np.diff(env, axis=1) <= 1e-12)  # non-increasing in nu
        assert np.all(env >= mean - 1e-9)  # above the class mean (it bounds every label pair)
        psnr = np.asarray(d["psnr"], dtype=float)
        assert np.all((psnr > 3) & (psnr < 60))
    # the documents load with the SFMA model's loaders
    xt = xi_table_from_dict(json.loads(json.dumps(xi)))
    dt = distortion_table_from_dict(json.loads(json.dumps(dist)))
    assert set(xt.params) == set(PAIR_CLASSES) and set(dt.classes) == set(PAIR_CLASSES)


def test_separated_scheme_cliff():
    sep = SeparatedScheme()
    lo, hi = sep.oma(128, 0.0), sep.oma(128, 25.0)
    # nothing fits at 0 dB: the mean image; at 25 dB 256-QAM carries a codec point
    assert abs(lo["mse"] - sep.fail_mse) < 1e-12
    assert hi["psnr"] > lo["psnr"] + 3
    # more channel uses never hurt; NOMA with SIC never beats the failure floor by less than 0
    assert sep.oma(256, 20.0)["psnr"] >= sep.oma(128, 20.0)["psnr"] - 1e-9
    assert sep.noma_sic(128, 0.0)["psnr"] == pytest.approx(10 * np.log10(1 / sep.fail_mse))


def test_commands_on_tiny_models(tiny_weights, tmp_path, capsys):
    wdir = str(next(iter(tiny_weights.values()))).rsplit("/", 1)[0]
    tdir = tmp_path / "tables"
    rc = cli_main(
        [
            "profile-sfma",
            "--models",
            "sc_sfma",
            "swinjscc_oma",
            "--n",
            "4",
            "--snr",
            "0",
            "10",
            "20",
            "--nu",
            "0.25",
            "0.5",
            "1",
            "--weights-dir",
            wdir,
            "--tables-dir",
            str(tdir),
            "--figures",
            str(tmp_path / "fig"),
            "--no-manifest",
        ]
    )
    assert rc == 0
    assert (tdir / "sfma_xi_sc_sfma.json").exists()
    assert (tdir / "sfma_distortion_swinjscc_oma.json").exists()
    assert not (tdir / "sfma_xi_swinjscc_oma.json").exists()  # no partner, no xi
    assert (tmp_path / "fig" / "sfma_xi_surfaces.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "xi[same]: R2" in out
    rc = cli_main(
        [
            "eval-sfma",
            "--measure",
            "3",
            "--snr",
            "0",
            "10",
            "--nu",
            "0.5",
            "1",
            "--weights-dir",
            wdir,
            "--out",
            str(tmp_path / "eval"),
            "--figures",
            "",
            "--no-grid",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    for cls in PAIR_CLASSES:
        assert f"[{cls}] PSNR (dB) vs SNR" in out and f"[{cls}] MS-SSIM vs CBR" in out
    assert "SwinJSCC-OMA has the highest single-user PSNR" in out
    assert "the separated scheme has a cliff at low SNR" in out
    doc = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert set(doc["schemes"]) >= {"sc_sfma", "separated_oma", "separated_noma"}
    assert (tmp_path / "eval" / "sfma_fig3.png").stat().st_size > 1000
