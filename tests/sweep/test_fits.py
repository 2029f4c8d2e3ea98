"""The Monte-Carlo fits as sweep tasks: ``fit-distortion``/``fit-classical`` (one task per
operating point) and ``fit-djscc`` (one per model and noise draw) give the same numbers on any
worker count, the same as the in-process loop at the tasks' thread count, and resume."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from semdacom.data.datasets import load_fashion_mnist
from semdacom.data.manifest import default_data_dir
from semdacom.mu_ascc import distortion_fit as dfit
from semdacom.sweep import run_tasks, task_hash

torch = pytest.importorskip("torch")
WEIGHTS = default_data_dir() / "weights"


def _same(a, b) -> bool:
    return task_hash(_same, {"r": list(a)}) == task_hash(_same, {"r": list(b)})


@pytest.fixture(scope="module")
def sample():
    images, labels = load_fashion_mnist("test")
    return images[:16], labels[:16]


def test_fit_distortion_tasks_equal_the_in_process_loop(sample):
    from semdacom.source_coding.codec import LearnedCodec

    images, labels = sample
    grid = dfit.default_grid(3)
    files = {"w": "hyperprior_vbr.pt", "s": "semantic_vbr.pt", "c": "classifier.pt"}
    paths = {k: WEIGHTS / f for k, f in files.items()}
    spec = dfit.codec_spec("learned", paths["w"], semantic=paths["s"], classifier=paths["c"])
    assert spec["weights_sha256"] and spec["semantic_sha256"]
    tasks = dfit.measure_tasks(spec, images, labels, grid, trials=1, seed=5, rates=[0, 9])
    two = run_tasks("fd", tasks, dfit.measure_point, workers=2, progress=False)
    serial = run_tasks("fd", tasks, dfit.measure_point, workers=0, progress=False)
    assert _same(two, serial)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the tasks' thread count (semdacom.sweep.task_threads)
    try:
        codec = LearnedCodec.load(paths["w"], semantic=paths["s"], classifier=paths["c"],
                                  rate_table=False)  # fmt: skip
        ref = dfit.measure(codec, images, labels, grid, trials=1, seed=5, rate_indexes=[0, 9],
                           progress=False)  # fmt: skip
    finally:
        torch.set_num_threads(before)
    assert _same(two, ref)
    assert two[0].rs_bits < two[1].rs_bits and "su_error" in two[0].curves


def test_fit_classical_tasks_equal_the_in_process_loop(sample):
    pytest.importorskip("pillow_heif")
    from semdacom.source_coding.classical import ClassicalCodec

    images, labels = sample
    images, labels = images[:8], labels[:8]
    grid = dfit.default_grid(3)
    spec = dfit.codec_spec("classical", classifier=WEIGHTS / "classifier.pt")
    tasks = dfit.measure_tasks(spec, images, labels, grid, trials=1, seed=2, rates=[0, 3])
    two = run_tasks("fc", tasks, dfit.measure_point, workers=2, progress=False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        codec = ClassicalCodec(classifier=WEIGHTS / "classifier.pt", rate_table=False)
        ref = dfit.measure_codec(codec, images, labels, grid, trials=1, seed=2,
                                 rate_indexes=[0, 3], progress=False)  # fmt: skip
    finally:
        torch.set_num_threads(before)
    assert _same(two, ref)
    assert "erasure" in two[0].curves


def test_fit_djscc_resumes(tmp_path, capsys):
    from semdacom.cli import main

    data = tmp_path / "data"
    (data / "weights").mkdir(parents=True)
    shutil.copy(WEIGHTS / "djscc_r0.60_snr10.pt", data / "weights")
    shutil.copy(WEIGHTS / "classifier.pt", data / "weights")
    cmd = ["fit-djscc", "--data-dir", str(data), "--n", "24", "--snr-step", "20",
           "--trials", "2", "--figures", str(tmp_path / "fig"), "--workers", "2",
           "--tasks-dir", str(tmp_path / "out")]  # fmt: skip
    assert main(cmd) == 0
    first = json.loads((data / "tables" / "djscc_du_msssim.json").read_text())
    capsys.readouterr()
    assert main(cmd) == 0
    assert "fit-djscc: resumed 2 of 2 tasks" in capsys.readouterr().err
    again = json.loads((data / "tables" / "djscc_du_msssim.json").read_text())
    assert again["points"] == first["points"]
    raw = np.asarray(first["points"][0]["raw"])
    assert raw.shape == (3,) and np.all((raw >= 0) & (raw <= 1))
