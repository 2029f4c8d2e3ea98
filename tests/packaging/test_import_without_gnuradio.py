"""The algorithm layers import on a machine without GNU Radio (a notebook, a Ray worker).

Each module of the standalone ``semdacom`` package (phy, source_coding, channel_coding, mu_ascc,
sc_sfma, sweep, cli, data) is imported in a fresh interpreter where ``gnuradio`` and ``pmt``
cannot be imported (a meta-path finder refuses them), and the test checks that neither was loaded.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import semdacom

LAYERS = ("phy", "source_coding", "channel_coding", "mu_ascc", "sc_sfma", "sweep", "cli", "data")

_BLOCKER = """
import importlib.abc, sys
class _NoGnuRadio(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('gnuradio', 'pmt'):
            raise ModuleNotFoundError(f'No module named {name!r} (blocked by the test)')
        return None
sys.meta_path.insert(0, _NoGnuRadio())
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('gnuradio', 'pmt'))
assert not loaded, loaded
print('ok', len(sys.argv) - 1)
"""


def _modules() -> list[str]:
    names = []
    for layer in LAYERS:
        try:
            pkg = __import__(f"semdacom.{layer}", fromlist=["_"])
        except ModuleNotFoundError:  # a layer not written yet
            continue
        names.append(pkg.__name__)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + "."):
            names.append(info.name)
    return names


def test_every_layer_is_found():
    """The layers this test covers exist (so the subprocess test cannot pass vacuously)."""
    names = _modules()
    for layer in (
        "phy",
        "source_coding",
        "channel_coding",
        "mu_ascc",
        "sc_sfma",
        "sweep",
        "cli",
        "data",
    ):
        assert f"semdacom.{layer}" in names
    assert "semdacom.channel_coding.codes" in names and "semdacom.source_coding.bitstream" in names
    assert len(names) > 30


def test_the_blocker_works():
    res = subprocess.run(
        [sys.executable, "-c", _BLOCKER, "gnuradio.gr"], capture_output=True, text=True
    )
    assert res.returncode != 0 and "blocked by the test" in res.stderr


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_without_gnuradio(layer):
    names = [
        n for n in _modules() if n == f"semdacom.{layer}" or n.startswith(f"semdacom.{layer}.")
    ]
    if not names:
        pytest.skip(f"semdacom.{layer} does not exist yet")
    res = subprocess.run(
        [sys.executable, "-c", _BLOCKER, *names], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip() == f"ok {len(names)}"


def test_kernels_extension_is_free_of_gnuradio():
    """semdacom._kernels (LDPC, rANS) is its own extension module, not the block bindings."""
    import semdacom._kernels as k

    assert k.__name__ == "semdacom._kernels"
    assert {"ldpc_code", "ldpc_decoder", "rans_coder"} <= set(dir(k))
    assert semdacom.__file__ is not None
