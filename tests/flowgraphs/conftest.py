"""Shared setup of the flowgraph tests.

- One fixture per example flowgraph (``phy_loopback``, ``mu_ascc_loopback``,
  ``mu_ascc_ota_sim``, ``sfma_loopback``): ``examples/<name>.grc`` compiled with grcc into a
  temporary folder and imported (``semdacom.cli.examples``), once per test module.
- ``run_until`` (from ``semdacom.cli.examples``): start a flowgraph, poll until done or the
  deadline, stop it.
- ``block_harness`` (tests/blocks/conftest.py: ``GatedSource``, ``wait_until``, ...) is made
  importable here too, so that a flowgraph test reuses the block tests' sources instead of a
  copy.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from semdacom.cli.examples import compile_example, load_flowgraph_module

ROOT = Path(__file__).resolve().parents[2]


def _register_block_harness() -> None:
    """Import tests/blocks/conftest.py as ``block_harness`` unless pytest already did."""
    if "block_harness" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "block_harness", ROOT / "tests" / "blocks" / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["block_harness"] = module
    spec.loader.exec_module(module)


_register_block_harness()


def load_example(name: str, out_dir: Path) -> ModuleType:
    """examples/<name>.grc compiled with grcc into ``out_dir`` and imported."""
    return load_flowgraph_module(compile_example(ROOT / "examples" / f"{name}.grc", out_dir))


def example_fixture(name: str) -> Callable[..., ModuleType]:
    """A module-scoped fixture called ``name``: the compiled examples/<name>.grc."""

    @pytest.fixture(scope="module", name=name)
    def compiled(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
        return load_example(name, tmp_path_factory.mktemp("fg"))

    return compiled


phy_loopback = example_fixture("phy_loopback")
mu_ascc_loopback = example_fixture("mu_ascc_loopback")
mu_ascc_ota_sim = example_fixture("mu_ascc_ota_sim")
sfma_loopback = example_fixture("sfma_loopback")
