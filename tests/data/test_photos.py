"""Colour crops from installed photographs (issue 25): the split by photograph, the crops."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from shared_helpers import photo

from semdacom.data import photos
from semdacom.data.folder import ImageFolder

CLI = "import sys; from semdacom.cli import main; sys.exit(main(sys.argv[1:]))"


def _fake_root(tmp_path: Path) -> Path:
    """A root with the package's photo folder: the three held-out names and four others."""
    d = tmp_path / "root" / "usr/share/backgrounds/mate/nature"
    d.mkdir(parents=True)
    names = [*photos.HELD_OUT, "Aqua", "Dune", "Garden", "Wood"]
    for i, name in enumerate(names):
        photo(300 + 40 * i, 200 + 25 * i, i + 1).save(d / f"{name}.jpg", quality=92)
    return tmp_path / "root"


def test_split_by_photograph_and_crops(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    res = photos.make_photo_sets(tmp_path / "out", size=16, per_photo=10,
                                 held_out_per_photo=7, root=root)  # fmt: skip
    assert sorted(res["held_out_photos"]) == sorted(photos.HELD_OUT)
    assert not set(res["train_photos"]) & set(photos.HELD_OUT)
    x = np.load(tmp_path / "out" / "train.npz")["images"]
    assert x.shape == (4 * 10, 16, 16, 3) and x.dtype == np.uint8 and x.std() > 0
    held = sorted((tmp_path / "out" / "held_out").iterdir())
    assert len(held) == 3 * 7 >= 20
    assert {p.suffix for p in held} == {".jpg", ".png"}
    assert all(p.stem.split("_")[0] in photos.HELD_OUT for p in held)
    sizes = set()
    from PIL import Image

    for p in held:
        with Image.open(p) as im:
            sizes.add(im.size)
            assert im.mode == "RGB" and min(im.size) >= 16
    assert len(sizes) > 10  # mixed sizes and aspect ratios
    # the folder and the npz both read back through ImageFolder, in colour
    assert ImageFolder(tmp_path / "out" / "held_out", size=16, mode="RGB").load(0)[0].shape == (
        3, 16, 16)  # fmt: skip
    assert len(ImageFolder(tmp_path / "out" / "train.npz", size=16, mode="RGB")) == 40
    again = photos.make_photo_sets(tmp_path / "again", size=16, per_photo=10,
                                   held_out_per_photo=7, root=root)  # fmt: skip
    np.testing.assert_array_equal(np.load(tmp_path / "again" / "train.npz")["images"], x)
    assert again["held_out_files"] == res["held_out_files"]


def test_no_photographs_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no photographs installed"):
        photos.make_photo_sets(tmp_path / "out", root=tmp_path)
    r = subprocess.run([sys.executable, "-c", CLI, "make-photos", "--root",
                        str(tmp_path), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 2 and "no photographs installed" in r.stderr


def test_command_writes_its_summary(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    r = subprocess.run([sys.executable, "-c", CLI, "make-photos", "--root", str(root),
                        "--out", str(tmp_path / "o"), "--size", "16", "--per-photo", "4"],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "o" / "photos.json").read_text())
    assert doc["train_crops"] == 16 and doc["held_out_files"] == 24
    assert any("GPL-2+" in s for s in doc["sources"])
