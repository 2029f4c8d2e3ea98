"""GRC files: every example compiles with grcc, every block description parses and loads in
GRC's own platform loader with a documentation section."""

from __future__ import annotations

import ast
import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from gnuradio import gr
from gnuradio.grc.core.platform import Platform

from semdacom.cli.examples import installed_prefix

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.grc"))
BLOCK_FILES = sorted((ROOT / "grc").rglob("*.block.yml"))
INSTALLED_BLOCKS = installed_prefix() / "share" / "gnuradio" / "grc" / "blocks"


def test_there_is_something_to_check() -> None:
    assert EXAMPLES and BLOCK_FILES
    assert INSTALLED_BLOCKS.is_dir()


@pytest.mark.parametrize("grc", EXAMPLES, ids=lambda p: p.name)
def test_example_compiles_with_grcc(grc: Path, tmp_path: Path) -> None:
    grcc = shutil.which("grcc")
    assert grcc is not None, "grcc not found"
    env = dict(os.environ, GRC_BLOCKS_PATH=str(INSTALLED_BLOCKS))
    res = subprocess.run(
        [grcc, "-o", str(tmp_path), str(grc)], capture_output=True, text=True, env=env, timeout=120
    )
    assert res.returncode == 0, f"grcc failed:\n{res.stdout}\n{res.stderr}"
    generated = list(tmp_path.glob("*.py"))
    assert len(generated) == 1, generated
    source = generated[0].read_text()
    ast.parse(source)
    assert "from gnuradio import semdacom" in source or "semdacom" not in grc.read_text()


@pytest.mark.parametrize("path", BLOCK_FILES, ids=lambda p: p.name)
def test_block_yml_parses(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    assert data["id"] == path.name.removesuffix(".block.yml")
    assert data["id"].startswith("semdacom_")
    assert data.get("file_format") == 1
    assert data.get("label") and data.get("category")
    assert "make" in data.get("templates", {})
    doc = data.get("documentation")
    assert isinstance(doc, str) and doc.strip()
    # the documentation names every parameter and every message port
    params = [p["id"] for p in data.get("parameters", [])]
    ports = [
        p.get("id") or p.get("label")
        for p in data.get("inputs", []) + data.get("outputs", [])
        if p.get("domain") == "message"
    ]
    for port in ports:
        assert port in doc, f"message port {port!r} not documented"
    assert params, "no parameters"


@pytest.fixture(scope="module")
def platform() -> tuple[Platform, list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.WARNING)
    grc_logger = logging.getLogger("gnuradio.grc")
    grc_logger.addHandler(handler)
    try:
        p = Platform(
            name="gr-semdacom QA",
            prefs=gr.prefs(),
            version=gr.version(),
            version_parts=(gr.major_version(), gr.api_version(), gr.minor_version()),
        )
        system = Path(gr.prefix()) / "share" / "gnuradio" / "grc" / "blocks"
        p.build_library(path=[str(system), str(ROOT / "grc")])
    finally:
        grc_logger.removeHandler(handler)
    return p, records


def test_platform_loads_without_complaints(platform) -> None:
    _, records = platform
    ours = [
        r.getMessage()
        for r in records
        if "semdacom" in r.getMessage() or str(ROOT / "grc") in r.getMessage()
    ]
    assert not ours, ours


@pytest.mark.parametrize("path", BLOCK_FILES, ids=lambda p: p.name)
def test_block_loads_in_grc_platform(platform, path: Path) -> None:
    p, _ = platform
    block_id = yaml.safe_load(path.read_text())["id"]
    assert block_id in p.blocks, f"{block_id} not registered"
    cls = p.blocks[block_id]
    assert Path(cls.loaded_from) == path
    doc = cls.documentation
    text = doc.get("", "") if isinstance(doc, dict) else str(doc)
    assert text.strip(), f"{block_id} has no documentation"
    assert cls.category and cls.category[0] == "semdacom"
    # one sub-category level under [semdacom] (PHY, Channel coding, Source coding, Over the air,
    # MU-ASCC, SC-SFMA: the role groups of grc/<group>/)
    assert len(cls.category) == 2, f"{block_id}: category {cls.category}, no sub-category"
    # what GRC shows (grc/semdacom.tree.yml wins over the YAML) is the YAML's own category
    shown = f"[{cls.category[0]}]/{cls.category[1]}"
    assert shown == yaml.safe_load(path.read_text())["category"], (block_id, cls.category)
