"""The sweep runner on Ray: a real two-node cluster on 127.0.0.1 (``ray start --head`` and a
second node joining it with ``ray start --address``), whose results equal the local engine's
bit for bit; a worker that dies, or is killed from outside, mid-sweep; failures by name; a local
cluster started on demand."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

# Ray reads RAY_AUTH_MODE once, at import, and connecting to a cluster by address never turns
# token authentication on by itself: the driver of a token-authenticated cluster (which
# `ray start` makes) needs it set before `import ray` (docs/sweeps.md)
os.environ.setdefault("RAY_AUTH_MODE", "token")
ray = pytest.importorskip("ray")

import sweep_tasks as st  # noqa: E402

from semdacom.sweep import SweepError, Task, run_tasks, task_hash  # noqa: E402

HERE = Path(__file__).resolve().parent
RAY = str(Path(sys.executable).with_name("ray"))


def _same(a, b) -> bool:
    return task_hash(_same, {"r": list(a)}) == task_hash(_same, {"r": list(b)})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pids_under(path: str) -> list[int]:
    """PIDs of processes whose command line names ``path`` (this test's Ray processes)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if path.encode() in (d / "cmdline").read_bytes():
                    out.append(int(d.name))
            except OSError:
                pass
    return out


class Cluster:
    """``ray start --block`` head + one joining node, each in its own session and temp dir;
    stopped by signalling those sessions (``ray stop`` would stop every Ray on the machine)."""

    def __init__(self, cpus_per_node: int = 1):
        # short: Ray's socket paths under --temp-dir must fit in AF_UNIX's 107 bytes
        self.base = tempfile.mkdtemp(prefix="sdray", dir="/tmp")
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        # token authentication with Ray's default token file (~/.ray/auth_token, made by the
        # head when missing), the one this process's ray.init also reads
        self.env = dict(
            os.environ,
            RAY_AUTH_MODE="token",
            RAY_USAGE_STATS_ENABLED="0",
            PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        )
        self.common = [
            "--block",
            "--node-ip-address", "127.0.0.1",
            "--num-cpus", str(cpus_per_node),
            "--object-store-memory", str(80 * 2**20),
            "--disable-usage-stats",
        ]  # fmt: skip
        self.procs: list[subprocess.Popen] = []

    def _start(self, name: str, args: list[str]) -> None:
        log = open(Path(self.base, f"{name}.log"), "w")
        self.procs.append(
            subprocess.Popen(
                [RAY, "start", *args, "--temp-dir", f"{self.base}/{name}", *self.common],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def start(self) -> None:
        self._start("h", ["--head", "--port", str(self.port), "--include-dashboard=false"])
        self._wait(lambda: self._status_ok(), "head")
        self._start("w", ["--address", self.address])
        self._wait(lambda: self._nodes() >= 2, "second node")

    def _status_ok(self) -> bool:
        r = subprocess.run(
            [RAY, "status", "--address", self.address], env=self.env, capture_output=True
        )
        return r.returncode == 0

    def _nodes(self) -> int:
        r = subprocess.run(
            [RAY, "status", "--address", self.address], env=self.env, capture_output=True,
            text=True,
        )  # fmt: skip
        return r.stdout.count(" node_") if r.returncode == 0 else 0

    def _wait(self, ok, what: str, timeout: float = 90) -> None:
        t0 = time.monotonic()
        while not ok():
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"ray start exited ({what}): {self.logs()}")
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"{what} not up after {timeout} s: {self.logs()}")
            time.sleep(0.5)

    def logs(self) -> str:
        return " | ".join(p.read_text()[-1500:] for p in sorted(Path(self.base).glob("*.log")))

    def stop(self) -> None:
        for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
            for p in self.procs:
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
            t0 = time.monotonic()
            while _pids_under(self.base) and time.monotonic() - t0 < wait_s:
                time.sleep(0.2)
        for pid in _pids_under(self.base):  # workers that left the sessions (setsid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in self.procs:
            p.wait(timeout=10)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    # the nodes and this process share Ray's default token file, ~/.ray/auth_token
    c = Cluster()
    try:
        c.start()
        yield c
    finally:
        if ray.is_initialized():
            ray.shutdown()
        c.stop()
    assert not _pids_under(c.base), "Ray processes of the test cluster survived"


def _grid() -> list[Task]:
    return [
        Task(f"p{p}_s{s}", {"point": p, "seed": s, "n": 4000})
        for p in (0.0, 3.0, 6.0, 9.0)
        for s in range(3)
    ]


def test_local_ray_cluster_on_demand_equals_local():
    tasks = _grid()[:4]
    local = run_tasks("mc", tasks, st.mc_block, workers=2, progress=False)
    on_ray = run_tasks("mc", tasks, st.mc_block, engine="ray", workers=2, progress=False)
    assert _same(on_ray, local)
    assert not ray.is_initialized()  # the cluster it started is gone


def test_two_node_cluster_equals_local_bit_for_bit(cluster):
    tasks = _grid()
    local = run_tasks("mc", tasks, st.mc_block, workers=1, progress=False)
    on_ray = run_tasks("mc", tasks, st.mc_block, engine="ray", address=cluster.address,
                       progress=False)  # fmt: skip
    assert _same(on_ray, local)
    assert [r["point"] for r in on_ray] == [t.kwargs["point"] for t in tasks]
    assert cluster._nodes() == 2
    # --workers 1 on a cluster: one task at a time, the same numbers
    one = run_tasks("mc", tasks[:4], st.mc_block, engine="ray", address=cluster.address,
                    workers=1, progress=False)  # fmt: skip
    assert _same(one, local[:4])


def test_real_semdacom_task_on_the_cluster(cluster):
    """A real Monte-Carlo task of the package (one MCS of ``fit-link``, tiny sizes) imports
    and runs on the cluster's workers, with the local engine's numbers."""
    from semdacom.channel_coding.linktable import link_tasks, mcs_curve

    tasks = link_tasks(64, seed=4, mcs_indices=[3, 6], min_errors=5, max_bits=4e3,
                       max_iterations=5, step_db=1.0, max_points=3)  # fmt: skip
    local = run_tasks("link", tasks, mcs_curve, workers=0, progress=False)
    on_ray = run_tasks("link", tasks, mcs_curve, engine="ray", address=cluster.address,
                       progress=False)  # fmt: skip
    assert _same(on_ray, local)
    assert all(len(r["snr_db"]) >= 1 for r in on_ray)


def test_worker_exits_mid_sweep_and_the_sweep_completes(cluster, tmp_path):
    tasks = [Task(f"p{p}", {"point": float(p), "seed": 2, "marker_dir": str(tmp_path)})
             for p in range(5)]  # fmt: skip
    out = run_tasks("crash", tasks, st.crash_once, engine="ray", address=cluster.address,
                    retries=2, progress=False)  # fmt: skip
    assert len(list(tmp_path.glob("crashed_*"))) == 5  # every first attempt killed its worker
    assert _same(out, [st.mc_block(float(p), 2, 500) for p in range(5)])


def test_worker_killed_from_outside_mid_sweep(cluster, tmp_path):
    victim = 3.0
    tasks = [
        Task(f"p{p}", {"point": float(p), "seed": 7, "pid_dir": str(tmp_path), "victim": victim})
        for p in range(8)
    ]
    killed: list[int] = []

    def killer() -> None:
        pid_file = tmp_path / "pid"
        t0 = time.monotonic()
        while not pid_file.exists() and time.monotonic() - t0 < 60:
            time.sleep(0.05)
        if pid_file.exists():
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    th = threading.Thread(target=killer)
    th.start()
    t0 = time.monotonic()
    out = run_tasks("kill", tasks, st.pid_then_sleep, engine="ray", address=cluster.address,
                    retries=2, progress=False)  # fmt: skip
    th.join()
    assert killed, "the victim task never started"
    assert time.monotonic() - t0 < 50  # it did not wait out the victim's 60 s sleep
    assert _same(out, [st.mc_block(float(p), 7, 500) for p in range(8)])


def test_failing_task_reported_by_name_on_ray(cluster, tmp_path):
    tasks = [
        Task(f"point={p}", {"point": p, "seed": 1, "bad": 1.0, "attempts_dir": str(tmp_path)})
        for p in (0.0, 1.0, 2.0)
    ]
    with pytest.raises(SweepError) as ei:
        run_tasks("fails", tasks, st.fails_at, engine="ray", address=cluster.address,
                  retries=1, progress=False)  # fmt: skip
    assert list(ei.value.failures) == ["point=1.0"]
    assert "no convergence at point 1.0" in ei.value.failures["point=1.0"]
    assert len(list(tmp_path.glob("attempt_*"))) == 2  # 1 + 1 retry


def test_mu_ascc_points_on_the_cluster(cluster):
    """Points of ``sweep mu-ascc --figure 7a`` (the optimiser and every baseline) on the
    cluster's workers give the local engine's rows."""
    import argparse

    from semdacom.cli import sweep

    args = argparse.Namespace(figure="7a", solver="fast", link="random_coding", L=[256],
                              p_dbw=[0.0, 8.0], ratio=0.6)  # fmt: skip
    tasks = [Task(sweep._task_key(j), j) for j in sweep._jobs(args, sweep.load_tables())]
    local = run_tasks("7a", tasks, sweep.solve_point, workers=2, progress=False)
    on_ray = run_tasks("7a", tasks, sweep.solve_point, engine="ray", address=cluster.address,
                       progress=False)  # fmt: skip

    def strip(rows):  # solve_ms is a wall-clock time, not a result
        return [[{k: v for k, v in r.items() if k != "solve_ms"} for r in pt] for pt in rows]

    assert _same(strip(on_ray), strip(local))
    assert {r["solver"] for r in on_ray[0]} == set(sweep.SOLVER_LABELS)
