"""Resuming ``train`` from its checkpoint (``train._check_resumable``): a run resumed from its
checkpoint ends with the weights of the uninterrupted run; a checkpoint of another configuration,
of another training setup (data mix, data offset) or past the horizon is refused, never
overwritten by a run from step 0 nor continued with other data; a checkpoint saved before the
newer config keys and the setup existed resumes a run of the legacy configuration."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY

from semdacom.sc_sfma.transceiver.train import train
from semdacom.sc_sfma.transceiver.transceiver import LEGACY_CONFIG

KW = dict(steps=3, batch=2, progress=False, max_train_images=200, ckpt_every=1)


def _weights(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def test_resume_ends_where_the_uninterrupted_run_ends(tmp_path) -> None:
    ck = tmp_path / "ckpt"
    train("swinjscc_oma", config=TINY, ckpt_dir=ck, out=tmp_path / "a.pt", **KW)
    st = torch.load(ck / "swinjscc_oma_s0.ckpt", weights_only=False)
    assert st["step"] == 2  # saved after steps 1 and 2, not after the last
    train("swinjscc_oma", config=TINY, ckpt_dir=ck, out=tmp_path / "b.pt", **KW)  # step 3 only
    a, b = _weights(tmp_path / "a.pt"), _weights(tmp_path / "b.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_another_configuration_or_a_shorter_horizon_is_refused(tmp_path) -> None:
    ck = tmp_path / "ckpt"
    train("swinjscc_oma", config=TINY, ckpt_dir=ck, out=tmp_path / "a.pt", **KW)
    before = (ck / "swinjscc_oma_s0.ckpt").read_bytes()
    with pytest.raises(ValueError, match="another configuration.*code_channels"):
        train("swinjscc_oma", config=dict(TINY, code_channels=8), ckpt_dir=ck, **KW)
    with pytest.raises(ValueError, match="past this run's 2 steps"):
        train("swinjscc_oma", config=TINY, ckpt_dir=ck, **dict(KW, steps=2))
    with pytest.raises(ValueError, match="another training setup.*overlap_share"):
        train("swinjscc_oma", config=TINY, ckpt_dir=ck, **dict(KW, overlap_share=0.5))
    with pytest.raises(ValueError, match="another training setup.*data_offset"):
        train("swinjscc_oma", config=TINY, ckpt_dir=ck, **dict(KW, data_offset=7))
    assert (ck / "swinjscc_oma_s0.ckpt").read_bytes() == before  # nothing overwritten


def test_a_checkpoint_without_the_newer_keys_resumes_the_legacy_configuration(tmp_path) -> None:
    ck = tmp_path / "ckpt"
    legacy = dict(TINY, **LEGACY_CONFIG)
    train("swinjscc_noma", config=legacy, ckpt_dir=ck, out=tmp_path / "a.pt", **KW)
    path = ck / "swinjscc_noma_s0.ckpt"
    st = torch.load(path, weights_only=False)
    st["config"] = {k: v for k, v in st["config"].items() if k not in LEGACY_CONFIG}
    del st["run"]  # nor the training setup
    torch.save(st, path)  # as saved before slot_embed / gate / partner existed
    train("swinjscc_noma", config=legacy, ckpt_dir=ck, out=tmp_path / "b.pt", **KW)
    a, b = _weights(tmp_path / "a.pt"), _weights(tmp_path / "b.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
