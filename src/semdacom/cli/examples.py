"""Finding, compiling (grcc), loading and running the example flowgraphs."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType


def installed_prefix() -> Path:
    """The install prefix of this package (prefix/lib/pythonX.Y/site-packages/semdacom/cli)."""
    return Path(__file__).resolve().parents[5]


def find_example(name: str) -> Path:
    """Locate examples/<name>.grc: the working tree first, then the installed copy."""
    candidates = [
        Path.cwd() / "examples" / f"{name}.grc",
        installed_prefix() / "share" / "gr-semdacom" / "examples" / f"{name}.grc",
    ]
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(
        f"example {name}.grc not found in: " + ", ".join(str(c) for c in candidates)
    )


def grc_blocks_path() -> str:
    """GRC search path that includes this module's installed blocks."""
    ours = str(installed_prefix() / "share" / "gnuradio" / "grc" / "blocks")
    extra = os.environ.get("GRC_BLOCKS_PATH", "")
    return ":".join(p for p in (ours, extra) if p)


def compile_example(grc: Path, out_dir: Path) -> Path:
    """Compile a .grc with grcc into out_dir; returns the generated Python file."""
    grcc = shutil.which("grcc")
    if grcc is None:
        raise RuntimeError("grcc not found: install gnuradio (make setup)")
    out_dir.mkdir(parents=True, exist_ok=True)
    # GRC reads GRC_BLOCKS_PATH first and [grc] local_blocks_path of ~/.gnuradio/config.conf
    # after it, a later block of the same id replacing an earlier one: with another checkout's
    # prefix in that file, its blocks would replace these. The environment's
    # GR_CONF_GRC_LOCAL_BLOCKS_PATH overrides the file (GNU Radio's prefs), so these come last.
    ours = str(installed_prefix() / "share" / "gnuradio" / "grc" / "blocks")
    env = dict(os.environ, GRC_BLOCKS_PATH=grc_blocks_path(), GR_CONF_GRC_LOCAL_BLOCKS_PATH=ours)
    res = subprocess.run(
        [grcc, "-o", str(out_dir), str(grc)], capture_output=True, text=True, env=env
    )
    if res.returncode != 0:
        raise RuntimeError(f"grcc failed on {grc}:\n{res.stdout}\n{res.stderr}")
    py = out_dir / f"{grc.stem}.py"
    if not py.is_file():
        raise RuntimeError(f"grcc produced no {py}")
    return py


def load_flowgraph_module(py: Path) -> ModuleType:
    """Import a grcc-generated Python file as a module."""
    spec = importlib.util.spec_from_file_location(py.stem, py)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {py}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[py.stem] = mod
    spec.loader.exec_module(mod)
    return mod


def free_port_base(n: int = 3) -> int:
    """A port p such that p .. p+n-1 are free on 127.0.0.1 (the ZMQ ports of a flowgraph
    split over message sockets, such as mu_ascc_ota_sim)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n >= 65535:
            continue
        try:
            socks = []
            for i in range(n):
                t = socket.socket()
                socks.append(t)
                t.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for t in socks:
                t.close()
    raise RuntimeError("no free port range")


def run_until(
    tb,
    done: Callable[[], bool],
    timeout_s: float,
    *,
    poll_s: float = 0.02,
    settle_s: float = 0.1,
    describe: Callable[[], object] | None = None,
) -> float:
    """Start the flowgraph ``tb``, poll ``done()`` every ``poll_s`` seconds until it holds or
    ``timeout_s`` have passed, wait ``settle_s`` more (nothing more may arrive), then stop it and
    wait for it. A timeout raises TimeoutError with ``describe()`` where ``describe`` is given
    (a test's check), and otherwise just ends the run (a benchmark counts what arrived).
    Returns the seconds from start to the end of the wait."""
    t0 = time.monotonic()
    tb.start()
    try:
        while not done():
            if time.monotonic() - t0 >= timeout_s:
                if describe is not None:
                    raise TimeoutError(f"not done after {timeout_s} s: {describe()}")
                break
            time.sleep(poll_s)
        time.sleep(settle_s)
    finally:
        tb.stop()
        tb.wait()
    return time.monotonic() - t0


class UntilIdle:
    """A ``done()`` for :func:`run_until` on a flowgraph that may lose items (a simulated air):
    true once ``count()`` reaches ``target``, or once ``sent()`` holds and ``count()`` has not
    moved for ``idle_s`` seconds (the rest was lost)."""

    def __init__(
        self,
        count: Callable[[], int],
        target: int,
        sent: Callable[[], bool],
        idle_s: float = 5.0,
    ) -> None:
        self.count, self.target, self.sent, self.idle_s = count, target, sent, idle_s
        self.last, self.since = -1, time.monotonic()

    def __call__(self) -> bool:
        n = self.count()
        if n >= self.target:
            return True
        if n != self.last:
            self.last, self.since = n, time.monotonic()
        return self.sent() and time.monotonic() - self.since > self.idle_s
