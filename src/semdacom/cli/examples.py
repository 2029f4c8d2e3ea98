"""Finding, compiling (grcc) and loading the example flowgraphs."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
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
    env = dict(os.environ, GRC_BLOCKS_PATH=grc_blocks_path())
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
