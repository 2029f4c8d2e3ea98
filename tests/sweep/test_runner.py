"""The sweep runner on the local engine: task order, identical numbers for any worker count,
retries, failure reports, resume after an interrupted run, and the task cache's key."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import sweep_tasks as st

from semdacom.sweep import (
    SweepError,
    Task,
    add_engine_args,
    engine_kwargs,
    run_tasks,
    task_hash,
    tasks_dir,
)

HERE = Path(__file__).resolve().parent


def _grid(points=(0.0, 2.0, 4.0, 6.0), seeds=(0, 1, 2)) -> list[Task]:
    return [Task(f"p{p}_s{s}", {"point": p, "seed": s, "n": 3000}) for p in points for s in seeds]


def _same(a, b) -> bool:
    """Bit-for-bit equality of two result lists: the runner's canonical encoding (floats by
    their bits, arrays by dtype, shape and bytes) of both."""
    return task_hash(_same, {"r": list(a)}) == task_hash(_same, {"r": list(b)})


def test_results_in_task_order_and_identical_for_any_worker_count():
    tasks = _grid()
    serial = run_tasks("mc", tasks, st.mc_block, workers=0, progress=False)
    one = run_tasks("mc", tasks, st.mc_block, workers=1, progress=False)
    two = run_tasks("mc", tasks, st.mc_block, workers=2, progress=False)
    assert [(r["point"], r["seed"]) for r in two] == [
        (t.kwargs["point"], t.kwargs["seed"]) for t in tasks
    ]
    assert _same(list(serial), list(one)) and _same(list(one), list(two))
    # seeds are per task: another seed gives other numbers
    assert two[0]["noise_sum"] != two[1]["noise_sum"]
    assert two.computed == len(tasks) and two.resumed == 0
    assert all(s is not None and s >= 0 for s in two.seconds)


def test_worker_killed_mid_sweep_is_rerun(tmp_path):
    tasks = [Task(f"p{p}", {"point": p, "seed": 5, "marker_dir": str(tmp_path)}) for p in range(6)]
    out = run_tasks("crash", tasks, st.crash_once, workers=2, retries=2, progress=False)
    assert len(out) == 6 and all(r is not None for r in out)
    assert len(list(tmp_path.glob("crashed_*"))) == 6  # every point's first worker died
    ref = [st.mc_block(float(p), 5, 500) for p in range(6)]
    assert _same([r["noise_sum"] for r in out], [r["noise_sum"] for r in ref])


@pytest.mark.parametrize("workers", [0, 2])
def test_failing_task_reported_by_name_after_the_others(tmp_path, workers):
    attempts = tmp_path / "attempts"
    attempts.mkdir()
    tasks = [
        Task(f"point={p}", {"point": p, "seed": 1, "bad": 2.0, "attempts_dir": str(attempts)})
        for p in (0.0, 1.0, 2.0, 3.0)
    ]
    with pytest.raises(SweepError) as ei:
        run_tasks(
            "fails", tasks, st.fails_at, workers=workers, retries=2, out_dir=tmp_path,
            progress=False,
        )  # fmt: skip
    err = ei.value
    assert list(err.failures) == ["point=2.0"]
    assert "ValueError: no convergence at point 2.0" in err.failures["point=2.0"]
    assert "point=2.0" in str(err) and "1 of 4 tasks failed" in str(err)
    assert len(list(attempts.iterdir())) == 3  # 1 + 2 retries
    # the others finished and were kept: a rerun computes only the failed one (and fails again)
    saved = sorted(p.name for p in tasks_dir(tmp_path, "fails").glob("*.pkl"))
    assert len(saved) == 3


def test_resume_after_interrupted_run_computes_only_the_missing_tasks(tmp_path):
    calls1, calls2, out_dir = tmp_path / "calls1", tmp_path / "calls2", tmp_path / "out"
    calls1.mkdir()
    calls2.mkdir()
    n = 8

    def tasks(calls):
        return [
            Task(f"t{i}", {"point": float(i), "seed": 3, "calls_dir": str(calls), "sleep": 0.4})
            for i in range(n)
        ]

    # the first run is a separate process, killed (SIGKILL, no cleanup) after 3 saved tasks
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        import sweep_tasks as st
        from semdacom.sweep import Task, run_tasks
        tasks = [Task(f"t{{i}}", {{"point": float(i), "seed": 3, "calls_dir": {str(calls1)!r},
                 "sleep": 0.4}}) for i in range({n})]
        run_tasks("resume", tasks, st.logged, workers=1, out_dir={str(out_dir)!r},
                  progress=False)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    folder = tasks_dir(out_dir, "resume")
    try:
        t0 = time.monotonic()
        while len(list(folder.glob("*.pkl"))) < 3:
            assert proc.poll() is None, "the first run ended before it was interrupted"
            assert time.monotonic() - t0 < 60
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done_before = len(list(folder.glob("*.pkl")))
    assert 3 <= done_before < n
    # the rerun (same tasks, so the same hashes) counts its calls as the files it adds
    before = set(os.listdir(calls1))
    out = run_tasks("resume", tasks(calls1), st.logged, workers=1, out_dir=out_dir, progress=False)
    new_calls = set(os.listdir(calls1)) - before
    assert out.resumed == done_before and out.computed == n - done_before
    assert len(new_calls) == n - done_before
    fresh = run_tasks("fresh", tasks(calls2), st.logged, workers=0, progress=False)
    assert _same([r["noise_sum"] for r in out], [r["noise_sum"] for r in fresh])
    # a third run computes nothing
    again = run_tasks("resume", tasks(calls1), st.logged, workers=1, out_dir=out_dir,
                      progress=False)  # fmt: skip
    assert again.resumed == n and again.computed == 0


def test_resume_message_and_changed_task_recomputed(tmp_path, capsys):
    tasks = _grid(points=(0.0, 1.0), seeds=(0, 1))
    first = run_tasks("chg", tasks, st.mc_block, workers=0, out_dir=tmp_path, progress=False)
    changed = list(tasks)
    changed[2] = Task(changed[2].key, {**changed[2].kwargs, "n": 3001})
    capsys.readouterr()
    second = run_tasks("chg", changed, st.mc_block, workers=0, out_dir=tmp_path, progress=False)
    assert "chg: resumed 3 of 4 tasks" in capsys.readouterr().err
    assert second.resumed == 3 and second.computed == 1
    assert _same(list(second)[:2], list(first)[:2])
    assert second[2]["noise_sum"] != first[2]["noise_sum"]
    # a corrupt task file is recomputed, not trusted
    path = next(tasks_dir(tmp_path, "chg").glob("p0.0_s0*.pkl"))
    path.write_bytes(b"\x80\x05truncated")
    third = run_tasks("chg", changed, st.mc_block, workers=0, out_dir=tmp_path, progress=False)
    assert third.resumed == 3 and _same(list(third), list(second))


def test_task_hash_is_canonical():
    a = {"x": 1.0, "arr": np.arange(4.0), "nested": {"b": [1, 2], "a": (3, "s")}}
    b = {"nested": {"a": (3, "s"), "b": [1, 2]}, "arr": np.arange(4.0), "x": 1.0}
    assert task_hash(st.mc_block, a) == task_hash(st.mc_block, b)
    for change in (
        {"x": 1.0 + 2**-52},
        {"arr": np.arange(4.0, dtype=np.float32)},
        {"arr": np.arange(5.0)},
        {"nested": {"a": [3, "s"], "b": [1, 2]}},
    ):
        assert task_hash(st.mc_block, {**a, **change}) != task_hash(st.mc_block, a)
    assert task_hash(st.logged, a) != task_hash(st.mc_block, a)


def test_rejects_what_cannot_run_identically():
    with pytest.raises(ValueError, match="unique"):
        run_tasks("dup", [Task("a", {}), Task("a", {})], st.mc_block, progress=False)
    with pytest.raises(TypeError, match="module-level"):
        run_tasks("lam", [Task("a", {})], lambda: 1, progress=False)
    with pytest.raises(ValueError, match="engine"):
        run_tasks("e", [Task("a", {})], st.mc_block, engine="dask", progress=False)


def test_engine_flags():
    p = argparse.ArgumentParser()
    add_engine_args(p)
    kw = engine_kwargs(p.parse_args([]))
    assert kw == {"engine": "local", "workers": None, "address": None, "out_dir": Path("out")}
    args = p.parse_args(
        ["--engine", "ray", "--address", "10.0.0.1:6379", "--workers", "8", "--tasks-dir", ""]
    )
    assert engine_kwargs(args) == {
        "engine": "ray", "workers": 8, "address": "10.0.0.1:6379", "out_dir": None,
    }  # fmt: skip
    with pytest.raises(SystemExit):
        p.parse_args(["--engine", "spark"])
    with pytest.raises(SystemExit):
        engine_kwargs(p.parse_args(["--address", "h:6379"]))
