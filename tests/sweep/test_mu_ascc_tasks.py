"""``sweep mu-ascc`` points as tasks: a faithful-solver point gives the same rows whatever the
process solved before (so on any engine and worker count), and the CLI resumes."""

from __future__ import annotations

import argparse

from semdacom.cli import main, sweep
from semdacom.sweep import Task, run_tasks, task_hash


def _strip(res):
    return [[{k: v for k, v in r.items() if k != "solve_ms"} for r in pt] for pt in res]


def test_faithful_point_independent_of_what_ran_before():
    args = argparse.Namespace(figure="7a", solver="faithful", link="random_coding", L=[256],
                              p_dbw=[-4.0, 4.0, 12.0], ratio=0.6)  # fmt: skip
    tasks = [Task(sweep._task_key(j), j) for j in sweep._jobs(args, sweep.load_tables())]
    fwd = _strip(run_tasks("f", tasks, sweep.solve_point, workers=0, progress=False))
    back = _strip(run_tasks("b", tasks[::-1], sweep.solve_point, workers=0, progress=False))
    assert task_hash(_strip, {"r": fwd}) == task_hash(_strip, {"r": back[::-1]})


def test_cli_resumes_and_recomputes_a_changed_point(tmp_path, capsys):
    base = ["sweep", "mu-ascc", "--figure", "7a", "--L", "256", "--out", str(tmp_path),
            "--tasks-dir", str(tmp_path / "t"), "--workers", "2"]  # fmt: skip
    assert main([*base, "--p-dbw", "0", "8"]) == 0
    first = (tmp_path / "sweep_mu_ascc_7a.csv").read_text()
    capsys.readouterr()
    assert main([*base, "--p-dbw", "0", "8", "10"]) == 0
    assert "sweep-mu-ascc-7a: resumed 2 of 3 tasks" in capsys.readouterr().err
    assert main([*base, "--p-dbw", "0", "8", "--jobs", "1"]) == 0  # the deprecated alias
    assert "resumed 2 of 2 tasks" in capsys.readouterr().err

    def rows(text):  # solve_ms is a wall-clock time
        hdr, *lines = text.splitlines()
        i = hdr.split(",").index("solve_ms")
        return [ln.split(",")[:i] + ln.split(",")[i + 1 :] for ln in lines]

    assert rows((tmp_path / "sweep_mu_ascc_7a.csv").read_text()) == rows(first)
