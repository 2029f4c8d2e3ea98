"""GRC categories have one axis, the block's role: grc/<group>/ is the category, and the block
tree grc/semdacom.tree.yml lists every block once, under its folder's group.

The checks read whatever block YAMLs exist (a glob), so a new block is checked as soon as its
YAML is added. Each check is a function that returns the problems it found, and the negative
tests below break a copy of grc/ in each way the checks must catch.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRC = ROOT / "grc"
TREE = "semdacom.tree.yml"
MODULE = "[semdacom]"
# grc/<folder>/ -> the GRC category (the same groups as python/semdacom/<folder>/)
GROUPS = {
    "phy": "PHY",
    "channel_coding": "Channel coding",
    "source_coding": "Source coding",
    "ota": "Over the air",
    "mu_ascc": "MU-ASCC",
    "sc_sfma": "SC-SFMA",
}


def tree_entries(tree_file: Path) -> list[tuple[tuple[str, ...], str]]:
    """(category path, block id) for every block the tree names, in file order, read the way
    GRC 3.10 reads a ``.tree.yml`` (Platform.load_category_tree_description: a mapping
    ``{module: [block id | {sub-category: [...]}, ...]}``). Duplicates are kept."""
    data = yaml.safe_load(tree_file.read_text())
    assert isinstance(data, dict) and len(data) == 1, f"{tree_file.name}: one module at the top"
    entries: list[tuple[tuple[str, ...], str]] = []

    def walk(path: tuple[str, ...], elements) -> None:
        for element in elements if isinstance(elements, list) else [elements]:
            if isinstance(element, str):
                entries.append((path, element))
            elif isinstance(element, dict) and len(element) == 1:
                (name, sub), *_ = element.items()
                walk((*path, str(name)), sub)
            else:
                entries.append((path, f"<not a block id or category: {element!r}>"))

    (module, top), *_ = data.items()
    walk((str(module),), top)
    return entries


def block_files(grc_dir: Path) -> list[Path]:
    return sorted(grc_dir.rglob("*.block.yml"))


def folder_problems(grc_dir: Path) -> list[str]:
    """Every block YAML sits in a group folder, grc/<group>/<id>.block.yml."""
    out = []
    for path in block_files(grc_dir):
        rel = path.relative_to(grc_dir)
        if len(rel.parts) != 2 or rel.parts[0] not in GROUPS:
            out.append(f"{rel}: not in a group folder grc/<{'|'.join(GROUPS)}>/")
    return out


def category_problems(grc_dir: Path) -> list[str]:
    """Every block YAML's ``category:`` is its folder's group."""
    out = []
    for path in block_files(grc_dir):
        rel = path.relative_to(grc_dir)
        group = GROUPS.get(rel.parts[0]) if len(rel.parts) == 2 else None
        if group is None:
            continue  # folder_problems reports it
        category = yaml.safe_load(path.read_text()).get("category")
        want = f"{MODULE}/{group}"
        if category != want:
            out.append(f"{rel}: category {category!r}, its folder says {want!r}")
    return out


def tree_problems(grc_dir: Path) -> list[str]:
    """The tree lists every block once, under its folder's group, and names no other block;
    its categories are exactly the groups, one level under the module."""
    tree_file = grc_dir / TREE
    if not tree_file.is_file():
        return [f"no {TREE} in {grc_dir}"]
    out = []
    entries = tree_entries(tree_file)
    where: dict[str, list[tuple[str, ...]]] = {}
    for path, block_id in entries:
        where.setdefault(block_id, []).append(path)
    blocks = {
        p.name.removesuffix(".block.yml"): p.relative_to(grc_dir) for p in block_files(grc_dir)
    }
    for block_id, rel in blocks.items():
        paths = where.get(block_id, [])
        want = (MODULE, GROUPS.get(rel.parts[0], "?"))
        if not paths:
            out.append(f"{block_id} ({rel}) is not in {TREE}")
        elif len(paths) > 1:
            out.append(f"{block_id} is listed {len(paths)} times in {TREE}: {paths}")
        elif paths[0] != want:
            out.append(f"{block_id} ({rel}) is under {paths[0]} in {TREE}, its folder says {want}")
    for block_id in where.keys() - blocks.keys():
        out.append(f"{TREE} names {block_id!r}, which has no block YAML")
    categories = {path for path, _ in entries}
    for path in sorted(categories - {(MODULE, g) for g in GROUPS.values()}):
        out.append(f"{TREE} has category {'/'.join(path)!r}, not one of the groups")
    return out


def all_problems(grc_dir: Path) -> list[str]:
    return folder_problems(grc_dir) + category_problems(grc_dir) + tree_problems(grc_dir)


def test_blocks_exist_in_every_group() -> None:
    assert block_files(GRC)
    for folder in GROUPS:
        assert list((GRC / folder).glob("*.block.yml")), f"grc/{folder}/ holds no block"


def test_every_block_yaml_is_in_a_group_folder() -> None:
    assert not folder_problems(GRC)


def test_every_category_is_its_folders_group() -> None:
    assert not category_problems(GRC)


def test_the_tree_lists_every_block_once_under_its_group() -> None:
    assert not tree_problems(GRC)


def test_the_tree_is_installed_with_the_blocks() -> None:
    """CMake installs grc/**/*.yml; make install-py copies the same files."""
    cmake = (GRC / "CMakeLists.txt").read_text()
    assert "GLOB_RECURSE" in cmake and "*.yml" in cmake


# -- the checks catch each defect ---------------------------------------------------------------


def _broken_copy(tmp_path: Path, case: str) -> Path:
    grc_dir = tmp_path / "grc"
    shutil.copytree(GRC, grc_dir)
    tree_file = grc_dir / TREE
    encoder = grc_dir / "channel_coding" / "semdacom_channel_encoder.block.yml"
    assert encoder.is_file()
    if case == "wrong_category":
        text = encoder.read_text()
        assert "category: '[semdacom]/Channel coding'" in text
        encoder.write_text(text.replace("[semdacom]/Channel coding", "[semdacom]/PHY", 1))
    elif case == "yaml_in_grc_root":
        encoder.rename(grc_dir / encoder.name)
    elif case == "yaml_in_unknown_folder":
        (grc_dir / "misc").mkdir()
        encoder.rename(grc_dir / "misc" / encoder.name)
    elif case == "missing_from_tree":
        text = tree_file.read_text()
        assert "  - semdacom_channel_encoder\n" in text
        tree_file.write_text(text.replace("  - semdacom_channel_encoder\n", "", 1))
    elif case == "listed_twice":
        text = tree_file.read_text()
        tree_file.write_text(text + "- MU-ASCC:\n  - semdacom_channel_encoder\n")
    elif case == "listed_under_other_group":
        text = tree_file.read_text().replace("  - semdacom_channel_encoder\n", "", 1)
        tree_file.write_text(text.replace("- PHY:\n", "- PHY:\n  - semdacom_channel_encoder\n", 1))
    elif case == "tree_names_unknown_block":
        tree_file.write_text(tree_file.read_text() + "- PHY:\n  - semdacom_no_such_block\n")
    elif case == "no_tree":
        tree_file.unlink()
    else:
        raise AssertionError(case)
    return grc_dir


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("wrong_category", "semdacom_channel_encoder.block.yml: category '[semdacom]/PHY'"),
        ("yaml_in_grc_root", "semdacom_channel_encoder.block.yml: not in a group folder"),
        ("yaml_in_unknown_folder", "misc/semdacom_channel_encoder.block.yml: not in a group"),
        ("missing_from_tree", "semdacom_channel_encoder (channel_coding/"),
        ("listed_twice", "semdacom_channel_encoder is listed 2 times"),
        ("listed_under_other_group", "semdacom_channel_encoder (channel_coding/"),
        ("tree_names_unknown_block", "names 'semdacom_no_such_block', which has no block YAML"),
        ("no_tree", f"no {TREE}"),
    ],
)
def test_each_defect_is_caught(case: str, expect: str, tmp_path: Path) -> None:
    problems = all_problems(_broken_copy(tmp_path, case))
    assert any(expect in p for p in problems), problems
