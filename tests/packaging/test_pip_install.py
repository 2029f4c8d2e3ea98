"""`pip install` of the algorithm package alone, in a fresh venv without GNU Radio (issue 20).

The repository root's pyproject.toml builds ``semdacom`` (src/semdacom) and its C++ kernels
``semdacom._kernels`` with scikit-build-core (src/CMakeLists.txt), so a notebook or a Ray worker
gets the algorithms without GNU Radio or CMake by hand. This test does what such a user does:

1. ``python -m venv`` without ``--system-site-packages`` (this machine's GNU Radio lives in the
   system python's dist-packages, which such a venv cannot see);
2. ``pip install <repository root>`` (pip builds the kernels in an isolated build environment
   with scikit-build-core and pybind11 from the package index, and installs numpy, scipy, cvxpy,
   networkx and tqdm);
3. in that venv's python, away from the source tree: imports ``semdacom.mu_ascc``,
   ``semdacom.sc_sfma``, ``semdacom.channel_coding`` and ``semdacom.sweep``, checks that
   ``gnuradio`` cannot be imported and that neither torch nor GNU Radio was loaded, and uses
   the package: an LDPC encode/decode round trip through the C++ kernels, the faithful MU-ASCC
   solver (cvxpy) and SC-SFMA's Alg. 4 on the shipped tables, a two-worker local sweep, and the
   ``semdacom`` command.

It needs the package index (PyPI or the mirror pip is configured with) and takes about 30 s
on a two-core machine (the build itself about 20 s; pip caches neither the wheel it builds
from a folder nor, here, the downloads). It is not skipped when the index cannot be reached:
it fails and says so, since the issue asks for this check to run in ``make test``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIP_TIMEOUT_S = 840

SMOKE = textwrap.dedent(
    """
    import importlib.util
    import sys

    import numpy as np

    import semdacom
    import semdacom.channel_coding as cc
    import semdacom.mu_ascc
    import semdacom.sc_sfma
    import semdacom.sweep
    from semdacom import _kernels
    from semdacom.data import table_path, weights_path
    from semdacom.mu_ascc.distortion import load_table
    from semdacom.mu_ascc.optimizer import Problem
    from semdacom.mu_ascc.optimizer.jrpb import solve_faithful
    from semdacom.phy import beamforming as bf
    from semdacom.phy import fbl
    from semdacom.sc_sfma.optimizer import solve
    from semdacom.sc_sfma.optimizer.scenario import load_tables, make_problem

    # the installed package (not the source tree), its extension and its data
    assert "site-packages" in semdacom.__file__, semdacom.__file__
    assert _kernels.__file__.endswith(".so"), _kernels.__file__
    assert table_path("link_L256.json").is_file(), "tables missing from the wheel"
    assert weights_path("hyperprior_vbr.pt").is_file(), "weights missing from the wheel"

    # LDPC (C++ kernels) + QAM: encode, AWGN at high SNR, decode, the same bits back
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, 3000, dtype=np.uint8)
    x = cc.encode_bits(bits, mcs=4, L=256)
    y = x + 0.05 * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))
    res = cc.decode_symbols(y, mcs=4, L=256, noise_var=0.005, n_bits=bits.size)
    assert res.crc_ok.all() and np.array_equal(res.bits, bits), "LDPC round trip failed"

    # MU-ASCC: faithful JRPB (Alg. 1-3, cvxpy) on the shipped tables, two users
    tabs = [load_table("hyperprior_vbr_du_msssim"), load_table("hyperprior_vbr_su_error")]
    pr = Problem(bf.paper_channel(), 1.0, tabs, [0.8, 0.2], 3.0, 784 * 0.6, 256)
    sol = solve_faithful(pr, time_limit_s=20.0)
    assert np.isfinite(sol.objective), sol

    # SC-SFMA: Alg. 4 (networkx pairing, cvxpy power/bandwidth), four users, shipped tables
    a = solve(make_problem(0, n=4, tables=load_tables()))
    assert a.pairs.shape == (2, 2), a.pairs

    # the sweep runner on two local worker processes
    tasks = [semdacom.sweep.Task(f"s{i}", {"sinr": float(i)}) for i in (1, 2, 3)]
    out = semdacom.sweep.run_tasks("smoke", tasks, fbl.capacity, workers=2, progress=False)
    assert np.allclose(list(out), [fbl.capacity(float(i)) for i in (1, 2, 3)]), list(out)

    # neither torch nor GNU Radio was needed, and GNU Radio is not there at all
    loaded = sorted(m for m in ("torch", "gnuradio", "pmt") if m in sys.modules)
    assert not loaded, f"imported {loaded}"
    assert importlib.util.find_spec("gnuradio") is None, "gnuradio is importable in the venv"
    print("smoke ok", round(float(sol.objective), 4))
    """
)


def _clean_env() -> dict[str, str]:
    """This process's environment without what would let the venv see another install."""
    env = dict(os.environ)
    for var in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV"):
        env.pop(var, None)
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _tail(text: str, n: int = 6000) -> str:
    return text[-n:]


def _run(cmd: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            cmd, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""
        if isinstance(out, bytes):  # subprocess gives bytes on a timeout, even with text=True
            out = out.decode(errors="replace")
        pytest.fail(f"{' '.join(cmd)} ran past {timeout} s; output tail:\n{_tail(out)}")


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    """A venv without system site packages with ``pip install <repository root>`` done."""
    work = tmp_path_factory.mktemp("pip_install")
    venv = work / "venv"
    res = _run([sys.executable, "-m", "venv", str(venv)], work, 300)
    assert res.returncode == 0, f"python -m venv failed:\n{_tail(res.stdout + res.stderr)}"
    py = venv / "bin" / "python"
    t0 = time.perf_counter()
    res = _run(
        [str(py), "-m", "pip", "install", "--disable-pip-version-check", str(ROOT)],
        work,
        PIP_TIMEOUT_S,
    )
    if res.returncode != 0:
        log = res.stdout + res.stderr
        hint = ""
        if any(
            s in log
            for s in ("No matching distribution", "Could not find a version", "NewConnectionError")
        ):
            hint = "pip could not get a package from the index (is PyPI reachable?). "
        pytest.fail(f"{hint}pip install {ROOT} failed (rc {res.returncode}):\n{_tail(log)}")
    print(f"pip install took {time.perf_counter() - t0:.1f} s")
    return venv


@pytest.mark.timeout(PIP_TIMEOUT_S + 300)
def test_the_venv_cannot_see_gnuradio(fresh_venv):
    """The check below means something: the venv sees neither GNU Radio nor the source tree."""
    res = _run(
        [str(fresh_venv / "bin" / "python"), "-c", "import gnuradio"], fresh_venv.parent, 120
    )
    assert res.returncode != 0 and "No module named 'gnuradio'" in res.stderr, res.stderr


@pytest.mark.timeout(PIP_TIMEOUT_S + 300)
def test_pip_installed_package_works_without_gnuradio(fresh_venv):
    smoke = fresh_venv.parent / "smoke.py"
    smoke.write_text(SMOKE)
    res = _run([str(fresh_venv / "bin" / "python"), str(smoke)], fresh_venv.parent, 600)
    assert res.returncode == 0, f"smoke failed:\n{_tail(res.stdout + res.stderr)}"
    assert "smoke ok" in res.stdout, res.stdout


@pytest.mark.timeout(PIP_TIMEOUT_S + 300)
def test_semdacom_command_is_installed(fresh_venv):
    """The console script (pyproject's [project.scripts]) lists the subcommands without GNU
    Radio (the flowgraph commands import it only when run)."""
    res = _run([str(fresh_venv / "bin" / "semdacom"), "--help"], fresh_venv.parent, 300)
    assert res.returncode == 0, _tail(res.stdout + res.stderr)
    assert "sweep" in res.stdout and "fit-distortion" in res.stdout, res.stdout
