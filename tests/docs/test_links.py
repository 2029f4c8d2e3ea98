"""The documentation's links and file references point at files that exist.

Three checks over README.md and docs/**/*.md:

- every relative Markdown link and image, ``[text](target)`` and ``![alt](target)``, resolves
  (from the page's own folder) to an existing file or folder; ``#anchors`` and web addresses
  are not checked;
- every repository path written in backticks, e.g. `` `src/semdacom/phy/fbl.py` `` or
  `` `make bench ARGS=... bench/results/e2e.json` ``, names an existing file or folder (from the
  repository root). Brace lists (``{a,b}``) are expanded, globs (``*``) must match at least
  one file, and placeholders (``<name>``, ``...``) are not checked;
- every dotted name of the two packages in backticks (`` `semdacom.phy.sync.rrc_taps` ``,
  `` `gnuradio.semdacom.messages` ``) names a module, or a name its module defines.

The check is plain text work: no GNU Radio, no build needed.
"""

from __future__ import annotations

import glob
import itertools
import re
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# folders whose paths, written in backticks, must exist
PATH_PREFIXES = (
    "src/",
    "python/",
    "tests/",
    "grc/",
    "examples/",
    "bench/",
    "docs/",
    "lib/",
    "include/",
    "scripts/",
)

# where a short path in backticks (`phy/fbl.py`, `tables/x.json`) may live
SHORT_PATH_BASES = ("", "src/semdacom/", "python/semdacom/", "src/semdacom/data/")
SHORT_PATH_RE = re.compile(r"^(?:[\w.-]+/)+[\w*.-]+\.(?:py|json|pt|yml|grc|md)$")

LINK_RE = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE_RE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN_RE = re.compile(r"(`+)(.+?)\1")
# a path: no spaces, quotes, brackets or commas, except commas inside a brace list `{a,b}`
_PATH_CHARS = r"(?:[^\s`'\"(),;{}]|\{[^{}\s]*\})"
PATH_TOKEN_RE = re.compile(
    r"(?<![\w./-])((?:" + "|".join(re.escape(p) for p in PATH_PREFIXES) + r")" + _PATH_CHARS + "*)"
)
SHORT_TOKEN_RE = re.compile(r"(?<![\w./<>-])(" + _PATH_CHARS + "+)")


def doc_pages() -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """The page's lines outside fenced code blocks, with their line numbers."""
    out, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE_RE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append((number, line))
    return out


def relative_links(page: Path) -> list[tuple[int, str]]:
    """(line, target) of every relative link or image of the page, anchors removed."""
    found = []
    for number, line in _prose_lines(page.read_text(encoding="utf-8")):
        line = CODE_SPAN_RE.sub("", line)
        for match in LINK_RE.finditer(line):
            target = match.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # web address, mailto:, or an anchor on the same page
            target = target.split("#", 1)[0]
            if target:
                found.append((number, target))
    return found


def _expand_braces(token: str) -> list[str]:
    """`a/{b,c}/d` -> [`a/b/d`, `a/c/d`] (shell brace expansion, one level per brace)."""
    parts = re.split(r"\{([^{}]*)\}", token)
    if len(parts) == 1:
        return [token]
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return ["".join(combo) for combo in itertools.product(*choices)]


def _clean(token: str) -> list[str] | None:
    """The path(s) a token names, or None for a placeholder (`<name>`, `...`, `$VAR`)."""
    if "<" in token or "..." in token or "$" in token:
        return None
    if token.endswith("**"):  # bold in prose: **docs/x.md**
        token = token.rstrip("*")
    token = token.rstrip(".:")
    token = re.sub(r"::?[\w\[\]-]+.*$", "", token)  # file.py:123, file.py::test_x
    return _expand_braces(token)


def referenced_paths(page: Path) -> list[tuple[int, str]]:
    """(line, path) of every repository path the page names.

    Paths under the repository's folders (`src/...`, `tests/...`, ...) count in code spans and
    in prose; a short path in a code span (`phy/fbl.py`, `tables/x.json`) counts too, and is
    looked up from the root, `src/semdacom/`, `python/semdacom/` and `src/semdacom/data/`
    (the returned path is then the first that exists, or the short path itself).
    """
    found = []
    for number, line in _prose_lines(page.read_text(encoding="utf-8")):
        spans = [m.group(2) for m in CODE_SPAN_RE.finditer(line)]
        prose = LINK_RE.sub("", CODE_SPAN_RE.sub(" ", line))
        for text in [*spans, prose]:
            for match in PATH_TOKEN_RE.finditer(text):
                found.extend((number, path) for path in _clean(match.group(1)) or [])
        for text in spans:
            for match in SHORT_TOKEN_RE.finditer(text):
                token = match.group(1)
                if token.startswith(PATH_PREFIXES) or token.startswith("out/"):
                    continue
                for path in _clean(token) or []:
                    if not SHORT_PATH_RE.match(path):
                        continue
                    hits = [base + path for base in SHORT_PATH_BASES if _exists(base + path)]
                    found.append((number, hits[0] if hits else path))
    return found


MODULE_RE = re.compile(r"(?<![\w./-])((?:gnuradio\.)?semdacom(?:\.[A-Za-z_]\w*)+)(?![\w/-])")
# where a package's compiled names are defined: (package root, folders of its bindings)
PACKAGES = {
    "semdacom": (ROOT / "src" / "semdacom", (ROOT / "src" / "bindings",)),
    "gnuradio.semdacom": (
        ROOT / "python" / "semdacom",
        (ROOT / "python" / "semdacom" / "bindings",),
    ),
}


def module_refs(page: Path) -> list[tuple[int, str]]:
    """(line, name) of every dotted name of the two packages written in a code span, e.g.
    `semdacom.phy.sync.rrc_taps` or `gnuradio.semdacom.messages`."""
    found = []
    for number, line in _prose_lines(page.read_text(encoding="utf-8")):
        for span in CODE_SPAN_RE.finditer(line):
            found.extend((number, m.group(1)) for m in MODULE_RE.finditer(span.group(2)))
    return found


def _defines(files: list[Path], name: str) -> bool:
    """Whether one of ``files`` defines ``name``: def, class, assignment, import, a quoted
    name (``__all__``, a pybind11 ``def("name", ...)``) or a pybind11 module."""
    n = re.escape(name)
    pattern = re.compile(
        rf"^\s*(?:def|class)\s+{n}\b|^\s*{n}\s*[:=]|^from .* import .*\b{n}\b"
        rf"|^\s+{n},?\s*(?:#.*)?$|\bas\s+{n}\b|\"{n}\"|PYBIND11_MODULE\(\s*{n}\b",
        re.MULTILINE,
    )
    return any(f.is_file() and pattern.search(f.read_text(encoding="utf-8")) for f in files)


def _resolves_in(package: str, parts: list[str]) -> bool:
    """Whether ``package.<parts>`` names a module, package, or a name its module defines."""
    root, bindings = PACKAGES[package]
    here, i = root, 0
    while i < len(parts) and here.is_dir():
        if (here / parts[i]).is_dir():
            here = here / parts[i]
        elif (here / f"{parts[i]}.py").is_file():
            here = here / f"{parts[i]}.py"
        else:
            break
        i += 1
    if i == len(parts):
        return True
    files = [here / "__init__.py"] if here.is_dir() else [here]
    if here == root:  # compiled modules and the names they bind
        files += [f for folder in bindings for f in sorted(folder.glob("*.cc"))]
    return _defines(files, parts[i])


def module_ref_resolves(ref: str) -> bool:
    """`semdacom.a.b` in the package `semdacom` (or, as written after
    `from gnuradio import semdacom`, in `gnuradio.semdacom`); `gnuradio.semdacom.a` there."""
    parts = ref.split(".")
    if parts[0] == "gnuradio":
        return _resolves_in("gnuradio.semdacom", parts[2:])
    return _resolves_in("semdacom", parts[1:]) or _resolves_in("gnuradio.semdacom", parts[1:])


def _exists(path: str) -> bool:
    if any(ch in path for ch in "*?["):
        return bool(glob.glob(str(ROOT / path), recursive=True))
    return (ROOT / path).exists()


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _failing(page: Path, found: list[tuple[int, str]], ok: Callable[[str], bool]) -> str:
    """One line per found item that is not ok: "page:line: item"."""
    return "\n".join(f"{_page_id(page)}:{n}: {item}" for n, item in found if not ok(item))


@pytest.mark.parametrize("page", doc_pages(), ids=_page_id)
def test_relative_links_resolve(page: Path) -> None:
    broken = _failing(page, relative_links(page), lambda target: (page.parent / target).exists())
    assert not broken, "broken links:\n" + broken


@pytest.mark.parametrize("page", doc_pages(), ids=_page_id)
def test_referenced_paths_exist(page: Path) -> None:
    missing = _failing(page, referenced_paths(page), _exists)
    assert not missing, "paths that do not exist:\n" + missing


@pytest.mark.parametrize("page", doc_pages(), ids=_page_id)
def test_module_names_resolve(page: Path) -> None:
    stale = _failing(page, module_refs(page), module_ref_resolves)
    assert not stale, "module names that do not resolve:\n" + stale


def test_the_checks_catch_a_broken_link(tmp_path: Path) -> None:
    """The checks see broken links, images and paths, and let good ones and placeholders pass."""
    page = tmp_path / "page.md"
    page.write_text(
        "See [the index](index.md), ![fig](figures/none.png), [web](https://x.org),\n"
        "[here](#top) and `src/semdacom/no_such_module.py`, `tests/blocks/<group>/x.py`,\n"
        "`python/semdacom/{phy,nowhere}/__init__.py:12`, `core/fbl.py`, `phy/fbl.py`\n"
        "and in prose docs/no_such_page.md.\n"
        "```\nsrc/semdacom/inside_a_fence.py [x](fenced.md)\n```\n",
        encoding="utf-8",
    )
    assert relative_links(page) == [(1, "index.md"), (1, "figures/none.png")]
    assert not (page.parent / "index.md").exists()
    paths = [path for _, path in referenced_paths(page)]
    assert paths == [
        "src/semdacom/no_such_module.py",
        "python/semdacom/phy/__init__.py",
        "python/semdacom/nowhere/__init__.py",
        "core/fbl.py",
        "src/semdacom/phy/fbl.py",
        "docs/no_such_page.md",
    ]
    assert [_exists(p) for p in paths] == [False, True, False, False, True, False]


def test_the_module_check_catches_a_stale_name(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "`semdacom.core.fbl`, `semdacom.phy.fbl.log_q`, `semdacom.phy.fbl.no_such_name`,\n"
        "`gnuradio.semdacom.messages`, `semdacom.superposition_beamformer`, `semdacom._kernels`\n",
        encoding="utf-8",
    )
    refs = [ref for _, ref in module_refs(page)]
    assert [module_ref_resolves(r) for r in refs] == [False, True, False, True, True, True]


def test_the_index_maps_every_page() -> None:
    """docs/index.md links every page of docs/ (and the README), so that a new page is placed."""
    index = ROOT / "docs" / "index.md"
    linked = {(index.parent / target).resolve() for _, target in relative_links(index)}
    pages = [p for p in doc_pages() if p != index]
    missing = [_page_id(p) for p in pages if p.resolve() not in linked]
    assert not missing, "pages docs/index.md does not link: " + ", ".join(missing)


def test_the_blocks_index_lists_every_block_in_its_group() -> None:
    """docs/blocks/index.md names every block (grc/<group>/semdacom_<name>.block.yml) in the
    section of its group (the section that names the folder grc/<group>/)."""
    text = (ROOT / "docs" / "blocks" / "index.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    missing = []
    for yml in sorted((ROOT / "grc").glob("*/semdacom_*.block.yml")):
        group, name = yml.parent.name, yml.name.removeprefix("semdacom_").removesuffix(".block.yml")
        section = next((s for s in sections if f"`grc/{group}/`" in s), "")
        if f"`{name}`" not in section:
            missing.append(f"{group}/{name}")
    assert not missing, "blocks docs/blocks/index.md does not list in their group: " + ", ".join(
        missing
    )
