"""SC-SFMA profiling and commands (sc_sfma/transceiver/{profile,evaluate,separated}.py,
cli/sc_sfma.py): the xi regression on known mixtures, the profiler on a tiny grid (table formats,
the distortion-equivalent xi, quantile envelopes, classes beyond the three label classes), the
separated baseline's AMC, and the three commands on tiny models."""

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
from semdacom.sc_sfma.transceiver.profile import (
    distortion_doc,
    measure,
    pair_groups,
    regression_xi,
    xi_doc,
)
from semdacom.sc_sfma.transceiver.separated import SeparatedScheme

#: A short reference grid keeps the tiny-model tests fast.
REF = tuple(float(s) for s in range(-10, 41, 5))


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
    meas = measure(
        model, pairs, snr, nu, progress=False, with_xi=True, xi_method="both", ref_snr_grid=REF
    )
    xi = xi_doc("sc_sfma", "w.pt", meas, snr, nu)
    old = xi_doc("sc_sfma", "w.pt", meas, snr, nu, method="regression")
    dist = distortion_doc("sc_sfma", "w.pt", meas, snr, nu)
    assert xi["format"] == XI_FORMAT and dist["format"] == DISTORTION_FORMAT
    assert xi["method"] == "distortion" and old["method"] == "regression"
    for cls in PAIR_CLASSES:
        e = xi["classes"][cls]
        assert set(e["params"]) == set(XI_PARAM_KEYS)
        assert np.asarray(e["xi"]).shape == (3, 3) and e["n_pairs"] == 6
        assert (
            e["params"]["xi_lo"] >= 0
            and e["params"]["xi_hi"]
            <= max(max(v for row in e["xi"] for v in row if v is not None), 0.0) + 1e-9
        )
        # eq. (11) inverted: xi = 1/s_eq - 1/gamma where the pair's distortion is in range
        x, s_eq = np.asarray(e["xi"], dtype=float), np.asarray(e["s_eq_db"], dtype=float)
        g = 10 ** (np.asarray(snr)[:, None] / 10)
        np.testing.assert_allclose(x, 10 ** (-s_eq / 10) - 1 / g, rtol=1e-4, atol=1e-6)
        assert len(e["reference"]["d"]) == len(REF) and set(np.ravel(e["flag"])) <= {-1, 0, 1}
        assert np.isfinite(old["classes"][cls]["xi"][0][0])
        d = dist["classes"][cls]
        env = np.asarray(d["envelope"]["d"], dtype=float)
        mean = np.asarray(d["d"], dtype=float)
        assert env.shape == mean.shape == (3, 3)
        assert np.all(np.diff(env, axis=1) <= 1e-12)  # non-increasing in nu
        assert np.all(env >= mean - 1e-9)  # never below the class mean
        psnr = np.asarray(d["psnr"], dtype=float)
        assert np.all((psnr > 3) & (psnr < 60))
    # the documents load with the SFMA model's loaders
    xt = xi_table_from_dict(json.loads(json.dumps(xi)))
    dt = distortion_table_from_dict(json.loads(json.dumps(dist)))
    assert set(xt.params) == set(PAIR_CLASSES) and set(dt.classes) == set(PAIR_CLASSES)


def _fake_meas(per_group: dict, mean) -> dict:
    return {
        "c": {
            "per_group": per_group,
            "d": mean,
            "psnr": np.full_like(mean, 20.0),
            "msssim": 1 - mean,
            "n_pairs": 10,
            "group_by": "label",
        }
    }


def test_quantile_envelopes():
    """quantile 1 is the worst group (the first tables); a lower quantile is lower, monotone in
    nu, and never below the class mean; a class is not penalised for having more groups."""
    nu = (0.25, 0.5, 1.0)
    rng = np.random.default_rng(0)
    base = np.array([[0.3, 0.2, 0.1]])
    few = {f"g{k}": base * (1 + 0.1 * rng.standard_normal()) for k in range(10)}
    many = {f"g{k}": base * (1 + 0.1 * rng.standard_normal()) for k in range(64)}
    for groups in (few, many):
        mean = np.mean(list(groups.values()), axis=0)
        worst = distortion_doc("m", "w", _fake_meas(groups, mean), [10.0], nu, quantile=1.0)
        q9 = distortion_doc("m", "w", _fake_meas(groups, mean), [10.0], nu, quantile=0.9)
        ew = np.asarray(worst["classes"]["c"]["envelope"]["d"])
        e9 = np.asarray(q9["classes"]["c"]["envelope"]["d"])
        np.testing.assert_allclose(ew[0], np.max(list(groups.values()), axis=0)[0], atol=1e-6)
        assert np.all(e9 <= ew + 1e-12) and np.all(e9 >= mean - 1e-6)
        assert np.all(np.diff(e9, axis=1) <= 1e-12)
        assert q9["envelope_quantile"] == 0.9
    # 0.9-quantiles of the two classes (same spread) differ less than their worst groups
    get = lambda g, q: np.asarray(  # noqa: E731
        distortion_doc("m", "w", _fake_meas(g, base), [10.0], nu, quantile=q)["classes"]["c"][
            "envelope"
        ]["d"]
    )
    assert abs(get(many, 0.9) - get(few, 0.9)).max() < abs(get(many, 1.0) - get(few, 1.0)).max()
    with pytest.raises(ValueError):
        distortion_doc("m", "w", _fake_meas(few, base), [10.0], nu, quantile=1.5)


def test_pair_groups_fall_back():
    x = torch.zeros(6, 28, 28)
    la, lb = torch.tensor([0, 0, 1, 1, 2, 2]), torch.tensor([3, 3, 1, 1, 5, 5])
    mode, g, names = pair_groups((x, x, la, lb))
    assert mode == "label" and names == ["0,3", "1,1", "2,5", "3,0", "5,2"]
    assert g.shape == (12,)
    sim = torch.linspace(0, 1, 6)
    mode, g, names = pair_groups((x, x, la, lb, sim), n_bins=3)
    assert mode == "similarity" and len(names) == 3 and np.all(g[:6] == g[6:])
    mode, g, names = pair_groups((x, x, None, None))
    assert mode == "pair" and len(names) == 6
    # a class that is not a label class (equal labels saying nothing of the pair): the pairs
    mode, g, names = pair_groups((x, x, la, la), label_class=False)
    assert mode == "pair" and len(names) == 6
    with pytest.raises(ValueError):
        pair_groups((x, x, None, None), group_by="label")


def test_profiler_takes_any_class(tiny_weights):
    """A class beyond the three label classes (content-overlap pairs, no labels, a similarity)
    profiles with no change, here on a NOMA model without a Swin receiver (DeepJSCC-NOMA: the
    distortion-equivalent xi needs only the decoders)."""
    pairs = eval_pairs(4)
    xa, xb, _, _ = pairs["same"]
    pairs = {"overlap": (xa, xa.flip(-1), None, None, torch.linspace(0.2, 0.9, 4)), **pairs}
    snr, nu = (0.0, 10.0, 20.0), (0.5, 1.0)
    for name in ("deepjscc_noma",):
        model = load_transceiver(tiny_weights[name])
        meas = measure(model, pairs, snr, nu, progress=False, with_xi=True, ref_snr_grid=REF)
        xi = xi_doc(name, "w.pt", meas, snr, nu, metric="1-msssim", quantile=0.5)
        dist = distortion_doc(name, "w.pt", meas, snr, nu)
        assert list(xi["classes"]) == ["overlap", *PAIR_CLASSES]
        assert xi["classes"]["overlap"]["group_by"] == "similarity"
        assert dist["classes"]["overlap"]["group_by"] == "similarity"
        assert xi_table_from_dict(json.loads(json.dumps(xi))).params.keys() >= {"overlap"}


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
            "--ref-snr",
            *(str(s) for s in REF),
            "--save-raw",
        ]
    )
    assert rc == 0
    assert json.loads((tdir / "sfma_xi_sc_sfma.json").read_text())["method"] == "distortion"
    assert (tdir / "sfma_profile_raw_sc_sfma.npz").exists()
    assert (tdir / "sfma_xi_sc_sfma.json").exists()
    assert (tdir / "sfma_distortion_swinjscc_oma.json").exists()
    assert not (tdir / "sfma_xi_swinjscc_oma.json").exists()  # no partner, no xi
    assert (tmp_path / "fig" / "sfma_xi_surfaces.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "xi[same]: R2" in out and "max SINR error" in out
    rc = cli_main(
        ["profile-sfma", "--models", "sc_sfma", "--n", "3", "--snr", "0", "20", "--nu", "0.25",
         "0.5", "1", "--weights-dir", wdir, "--tables-dir", str(tdir / "old"), "--figures", "",
         "--no-manifest", "--xi-method", "regression", "--quantile", "1", "--classes", "overlap",
         *PAIR_CLASSES]
    )  # fmt: skip
    assert rc == 0
    doc = json.loads((tdir / "old" / "sfma_xi_sc_sfma.json").read_text())
    assert doc["method"] == "regression" and doc["fit_loss"] == "abs"
    assert list(doc["classes"]) == ["overlap", *PAIR_CLASSES]
    dist = json.loads((tdir / "old" / "sfma_distortion_sc_sfma.json").read_text())
    assert dist["classes"]["overlap"]["group_by"] == "similarity"  # content similarity bins
    assert dist["classes"]["same"]["group_by"] == "label"
    assert "xi[same]: R2" in capsys.readouterr().out
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
