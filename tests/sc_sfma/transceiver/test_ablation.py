"""The controlled SCFM ablation (sc_sfma/transceiver/ablation.py): one base per seed, two
branches on identical data, the paired two-level bootstrap, the evaluation's gate-off path."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import TINY

from semdacom.sc_sfma.transceiver.ablation import (
    evaluate_ablation,
    extend_ablation,
    load_runs,
    plot_gains,
    train_ablation,
    weights_of,
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("ablation")
    kw = dict(base_steps=2, branch_steps=2, out=out, batch=4, config=TINY, progress=False)
    return out, kw, train_ablation(seeds=(0, 1), max_train_images=300, **kw)


def test_branches_start_from_the_base_and_see_the_same_data(runs):
    out, _, paths = runs
    for seed in (0, 1):
        infos = {m: torch.load(p, weights_only=False)["info"] for m, p in paths[seed].items()}
        assert infos["base"]["init"] is None and infos["base"]["data_offset"] == 0
        for m in ("swinjscc_noma", "sc_sfma"):
            assert infos[m]["init"] == str(weights_of(out, seed, "base"))
            assert infos[m]["data_offset"] == 2 and infos[m]["seed"] == seed
        for k in ("steps", "batch", "lr", "overlap_share", "snr_range_db", "nu_grid"):
            assert infos["swinjscc_noma"][k] == infos["sc_sfma"][k]


def test_finished_runs_are_not_trained_again(runs):
    out, kw, paths = runs
    stamp = {m: (weights_of(out, 0, m).stat().st_mtime_ns) for m in paths[0]}
    train_ablation(seeds=(0,), max_train_images=300, **kw)
    assert stamp == {m: weights_of(out, 0, m).stat().st_mtime_ns for m in paths[0]}


def test_evaluation_pairs_the_models_and_forces_the_gate(runs, tmp_path):
    _, _, paths = runs
    models = load_runs(paths)
    res = evaluate_ablation(models, n_per_class=6, n_boot=50)
    assert res["seeds"] == [0, 1] and set(res["per_class"]) == {
        "overlap",
        "same",
        "related",
        "dissimilar",
    }
    for r in res["per_class"].values():
        lo, hi = r["gain_db"]["ci95"]
        assert lo <= r["gain_db"]["mean"] <= hi and len(r["gain_db_per_seed"]) == 2
    assert "overlap_minus_dissimilar_db" in res
    assert all(m.scfm[0].gate_override is None for m in [models[0]["sc_sfma"].encoder])
    json.dumps(res)
    assert plot_gains(res, tmp_path / "g.png").stat().st_size > 1000


def test_the_capacity_control_is_a_third_branch(runs):
    out, kw, _ = runs
    paths = train_ablation(seeds=(0,), max_train_images=300, controls=("self",), **kw)[0]
    info = torch.load(paths["sc_sfma_self"], weights_only=False)
    assert info["config"]["partner"] == "self" and info["info"]["data_offset"] == 2
    assert info["info"]["init"] == str(weights_of(out, 0, "base"))
    models = load_runs({0: paths})
    res = evaluate_ablation(models, n_per_class=4, n_boot=20, classes=("overlap",))
    r = res["per_class"]["overlap"]
    assert {"gain_self_db", "gain_over_self_db"} <= set(r)
    assert r["gain_over_self_db"]["mean"] == pytest.approx(
        r["gain_db"]["mean"] - r["gain_self_db"]["mean"], abs=1e-9
    )
    with pytest.raises(ValueError, match="controls"):
        train_ablation(seeds=(0,), controls=("other",), **kw)


def test_a_model_against_itself_gains_nothing(runs):
    _, _, paths = runs
    models = load_runs(paths)
    same = {s: {"swinjscc_noma": m["sc_sfma"], "sc_sfma": m["sc_sfma"]} for s, m in models.items()}
    res = evaluate_ablation(same, n_per_class=4, n_boot=20, classes=("overlap",))
    g = res["per_class"]["overlap"]["gain_db"]
    assert g["mean"] == 0 and g["ci95"] == [0, 0]


def test_an_extension_continues_every_model_on_the_same_later_data(runs, tmp_path):
    out, kw, _ = runs
    paths = train_ablation(seeds=(0,), max_train_images=300, controls=("self",), **kw)[0]
    start = tmp_path / "start"
    start.mkdir()
    for m in ("swinjscc_noma", "sc_sfma", "sc_sfma_self"):
        (start / f"{m}_s0.pt").write_bytes(open(paths[m], "rb").read())
    models = ("swinjscc_noma", "sc_sfma", "sc_sfma_self")
    kw = dict(steps=3, out=tmp_path, batch=4, progress=False, max_train_images=300)
    ext = extend_ablation(start, seeds=(0,), models=models, **kw)[0]
    infos = {m: torch.load(p, weights_only=False) for m, p in ext.items()}
    assert set(infos) == {"swinjscc_noma", "sc_sfma", "sc_sfma_self"}
    for m, saved in infos.items():
        i = saved["info"]
        # base 2 + branch 2 steps: the extension draws the data of steps 4, 5, 6
        assert i["data_offset"] == 4 and i["steps"] == 3 and i["init"] == str(start / f"{m}_s0.pt")
        assert i["lr"] == 2.5e-4 and i["seed"] == 0
    assert infos["sc_sfma_self"]["config"]["partner"] == "self"
    assert infos["sc_sfma"]["config"]["partner"] == "pair"
    # finished runs are skipped; a run that stopped elsewhere is not mixed in
    stamp = (tmp_path / "extend" / "sc_sfma_s0.pt").stat().st_mtime_ns
    extend_ablation(start, seeds=(0,), models=models[:2], **kw)
    assert (tmp_path / "extend" / "sc_sfma_s0.pt").stat().st_mtime_ns == stamp
    other = torch.load(start / "sc_sfma_s0.pt", weights_only=False)
    other["info"]["steps"] = 5
    torch.save(other, start / "sc_sfma_s0.pt")
    with pytest.raises(ValueError, match="different data steps"):
        extend_ablation(start, seeds=(0,), steps=3, out=tmp_path / "x", progress=False)
    with pytest.raises(FileNotFoundError):
        extend_ablation(tmp_path / "none", seeds=(0,), out=tmp_path / "y", progress=False)
