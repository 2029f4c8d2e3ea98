"""The import rules of docs/architecture.md §2 hold in the source tree.

Every ``import`` of every module of ``src/semdacom/`` (the package ``semdacom``) and
``python/semdacom/`` (the package ``gnuradio.semdacom``) is read with ``ast`` (nothing is
imported) and checked against the table of §2: which part of ``semdacom`` may import which, that
the algorithms never import GNU Radio or PMT (the command line only inside a command), and that
a block imports ``messages``, ``plumbing`` and the algorithms but never another block. The
exceptions the page names are listed in ``EXCEPTIONS``; a new one fails here until the page and
this list say why.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "semdacom"
BLOCKS = ROOT / "python" / "semdacom"

#: part of `semdacom` -> the other parts it may import (its own modules always)
ALGORITHM_RULES: dict[str, set[str]] = {
    "data": set(),
    "sweep": set(),
    "phy": {"data", "_blas", "_kernels"},
    "source_coding": {"data", "_kernels", "_torch_util"},
    "channel_coding": {"data", "_kernels", "phy", "sweep"},
    "mu_ascc": {"data", "phy", "source_coding", "channel_coding", "sweep"},
    "sc_sfma": {"data", "phy", "source_coding", "channel_coding", "sweep", "_torch_util", "_stats"},
    "cli": {"*"},
}
#: third-party packages a part of `semdacom` must not import
ALGORITHM_FORBIDDEN: dict[str, set[str]] = {"phy": {"torch"}, "data": {"torch"}}
#: the block groups of `gnuradio.semdacom` (python/semdacom/<group>/)
BLOCK_GROUPS = {"phy", "channel_coding", "source_coding", "ota", "mu_ascc", "sc_sfma"}
#: (importing module, imported module) pairs docs/architecture.md §2 names as exceptions
EXCEPTIONS = {
    # a tag name (a constant) the CSI estimator reads from the frame sync's bursts
    ("gnuradio.semdacom.ota.csi_estimator", "gnuradio.semdacom.ota.frame_sync"),
}


def module_name(path: Path) -> str:
    """The import name of a source file of either package."""
    if path.is_relative_to(SRC):
        parts = ("semdacom", *path.relative_to(SRC).with_suffix("").parts)
    else:
        parts = ("gnuradio", "semdacom", *path.relative_to(BLOCKS).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[tuple[str, bool]]:
    """(imported module, at module level?) for every import of the file; ``from a import b``
    gives ``a.b`` (a submodule or a name of ``a``: the rules below read it either way)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in top
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (the project's imports are absolute)"
            for alias in node.names:
                yield f"{node.module}.{alias.name}", id(node) in top


def sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "bindings" not in p.relative_to(folder).parts)


def _part(name: str, prefix: str) -> str | None:
    """The first component after ``prefix.`` (``semdacom.phy.fbl`` -> ``phy``), or None."""
    if not name.startswith(prefix + "."):
        return None
    return name[len(prefix) + 1 :].split(".")[0]


def algorithm_violations(path: Path) -> list[str]:
    me = module_name(path)
    part = _part(me, "semdacom")
    out = []
    for name, top_level in imports(path):
        root = name.split(".")[0]
        if root in ("gnuradio", "pmt"):
            if part != "cli" or top_level:
                out.append(f"{me} imports {name}" + (" at module level" if top_level else ""))
            continue
        if root in ALGORITHM_FORBIDDEN.get(part, set()):
            out.append(f"{me} imports {name}")
        other = _part(name, "semdacom")
        allowed = ALGORITHM_RULES.get(part, set())
        if other and other != part and "*" not in allowed and other not in allowed:
            out.append(f"{me} imports {name}")
    return out


def block_violations(path: Path) -> list[str]:
    me = module_name(path)
    part = _part(me, "gnuradio.semdacom")
    if part is None:  # python/semdacom/__init__.py: exports every block
        return []
    out = []
    for name, _ in imports(path):
        other = _part(name, "gnuradio.semdacom")
        if other is None or other == part:
            if part in BLOCK_GROUPS and other == part and name.count(".") > 3:
                target = ".".join(name.split(".")[:4])
                if target != me and (me, target) not in EXCEPTIONS:
                    out.append(f"{me} imports the block module {name}")
            continue
        if other in BLOCK_GROUPS and (me, ".".join(name.split(".")[:4])) not in EXCEPTIONS:
            out.append(f"{me} imports the block module {name}")
        elif part == "messages" and other == "plumbing":
            out.append(f"{me} imports {name}")
    return out


@pytest.mark.parametrize("path", sources(SRC), ids=lambda p: str(p.relative_to(ROOT)))
def test_algorithms_follow_the_import_rules(path: Path) -> None:
    assert not algorithm_violations(path)


@pytest.mark.parametrize("path", sources(BLOCKS), ids=lambda p: str(p.relative_to(ROOT)))
def test_blocks_follow_the_import_rules(path: Path) -> None:
    assert not block_violations(path)


def test_the_rules_catch_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A phy module importing torch and mu_ascc, a paper package importing the other, a block
    importing another group's block and an algorithm importing pmt are all caught."""
    src = tmp_path / "src" / "semdacom"
    blocks = tmp_path / "python" / "semdacom"
    for folder in (src / "phy", src / "mu_ascc", blocks / "ota", blocks / "plumbing"):
        folder.mkdir(parents=True)
    cases = {
        src / "phy" / "x.py": "import torch\nfrom semdacom.mu_ascc import distortion\n",
        src / "mu_ascc" / "y.py": "from semdacom.sc_sfma import model\nimport pmt\n",
        blocks / "ota" / "z.py": "from gnuradio.semdacom.phy.fbl_link import fbl_link\n",
        blocks / "plumbing" / "ok.py": "from gnuradio.semdacom import messages\nimport pmt\n",
    }
    for path, text in cases.items():
        path.write_text(text, encoding="utf-8")
    monkeypatch.setitem(globals(), "SRC", src)
    monkeypatch.setitem(globals(), "BLOCKS", blocks)
    assert len(algorithm_violations(src / "phy" / "x.py")) == 2
    assert len(algorithm_violations(src / "mu_ascc" / "y.py")) == 2
    assert len(block_violations(blocks / "ota" / "z.py")) == 1
    assert block_violations(blocks / "plumbing" / "ok.py") == []
