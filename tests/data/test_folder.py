"""QA of ``semdacom.data.folder``: your own images for ``image_source`` (issue 25) -- listing,
ImageFolder labels, the three fits, grayscale and colour, ``.npz`` arrays, unreadable files, and
the training/test split and arrays of the training commands' ``--data``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from semdacom.data.folder import ImageFolder, UnreadableImage, fit_image, load_split


def test_listing_labels_and_fits(image_folder) -> None:
    root = image_folder()
    f = ImageFolder(root, size=16, fit="crop", mode="L")
    assert f.classes == ["cat", "dog"]
    names = [f.name(i) for i in range(len(f))]
    assert names == ["cat/a.png", "cat/b.jpg", "cat/c.png", "dog/d.png", "dog/e.png", "top.jpeg"]
    assert [f.label(i) for i in range(len(f))] == [0, 0, 0, 1, 1, -1]
    for i in range(len(f)):
        (img,) = f.load(i)
        assert img.shape == (16, 16) and img.dtype == np.uint8
    rgb = ImageFolder(root, size=20, fit="resize", mode="RGB")
    assert all(rgb.load(i)[0].shape == (3, 20, 20) for i in range(len(rgb)))
    tiles = ImageFolder(root, size=20, fit="tile")
    counts = [len(tiles.load(i)) for i in range(len(tiles))]
    assert counts == [3 * 2, 4 * 1, 5 * 5, 1 * 2, 2 * 2, 1]  # (w // 20) * (h // 20)
    assert len(list(tiles.items())) == sum(counts)


def test_crop_keeps_the_centre_and_tiles_cover_the_image(tmp_path: Path) -> None:
    a = np.arange(60 * 40, dtype=np.uint32).reshape(40, 60) % 251
    img = Image.fromarray(a.astype(np.uint8), "L")
    (c,) = fit_image(img, 40, "crop", "L")  # shorter side already 40: the centre 40 x 40
    np.testing.assert_array_equal(c, a[:, 10:50])
    t = fit_image(img, 20, "tile", "L")
    np.testing.assert_array_equal(np.block([[t[0], t[1], t[2]], [t[3], t[4], t[5]]]), a)
    (same,) = fit_image(img, 0, "resize", "L")  # size 0: as stored
    np.testing.assert_array_equal(same, a)


def test_unreadable_files_raise_and_the_rest_reads(tmp_path: Path, image_folder) -> None:
    root = image_folder(corrupt=True)
    f = ImageFolder(root, size=28)
    bad = [f.name(i) for i in range(len(f)) if _unreadable(f, i)]
    assert bad == ["dog/broken.jpg"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        ImageFolder(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        ImageFolder(tmp_path / "missing")
    for kw in ({"fit": "zoom"}, {"mode": "CMYK"}, {"size": -1}, {"size": 0, "fit": "tile"}):
        with pytest.raises(ValueError):
            ImageFolder(root, **kw)


def _unreadable(f: ImageFolder, i: int) -> bool:
    try:
        f.load(i)
        return False
    except UnreadableImage:
        return True


def test_npz_arrays_in_any_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    hwc = rng.random((4, 30, 20, 3))  # floats in [0, 1], channels last
    np.savez(tmp_path / "a.npz", images=hwc, labels=np.array([3, 1, 4, 1]))
    f = ImageFolder(tmp_path / "a.npz", size=0, fit="resize", mode="RGB")
    assert len(f) == 4 and [f.label(i) for i in range(4)] == [3, 1, 4, 1]
    (img,) = f.load(2)
    np.testing.assert_array_equal(img, np.round(hwc[2] * 255).astype(np.uint8).transpose(2, 0, 1))
    chw = rng.integers(0, 256, (2, 3, 16, 16), dtype=np.uint8)
    np.savez(tmp_path / "b.npz", chw)  # a single array, no labels
    g = ImageFolder(tmp_path / "b.npz", size=8, fit="tile", mode="RGB")
    assert g.label(0) == -1 and len(g.load(1)) == 4
    np.testing.assert_array_equal(g.load(1)[0], chw[1][:, :8, :8])
    np.savez(tmp_path / "c.npz", images=np.full((1, 4, 4), np.nan))
    with pytest.raises(UnreadableImage, match="non-finite"):
        ImageFolder(tmp_path / "c.npz", size=4).load(0)


@settings(max_examples=40, deadline=None)
@given(
    w=st.integers(1, 80),
    h=st.integers(1, 80),
    size=st.integers(1, 40),
    fit=st.sampled_from(["crop", "resize", "tile"]),
    mode=st.sampled_from(["L", "RGB"]),
)
def test_every_fit_gives_size_by_size(photo_maker, w: int, h: int, size: int, fit: str,
                                      mode: str) -> None:  # fmt: skip
    """Whatever the image's size and aspect: crop and resize give one size x size image, tile
    gives (w // size) * (h // size) of them."""
    out = fit_image(photo_maker(w, h, 1), size, fit, mode)
    n = (w // size) * (h // size) if fit == "tile" else 1
    shape = (size, size) if mode == "L" else (3, size, size)
    assert len(out) == n and all(o.shape == shape and o.dtype == np.uint8 for o in out)


def test_tiles_listed_as_loaded_when_the_height_looks_like_channels(tmp_path: Path) -> None:
    """A (H, W, C) array whose height is 3 or 4 is channels-last for the listing as for the
    reading (one rule, ``_channels_last``): before, the listing took it for (C, H, W) and
    counted tiles the reading did not have."""
    a = np.arange(4 * 16 * 3, dtype=np.uint8).reshape(1, 4, 16, 3)
    np.savez(tmp_path / "t.npz", images=a)
    f = ImageFolder(tmp_path / "t.npz", size=4, fit="tile", mode="RGB")
    assert len(list(f.items())) == len(f.load(0)) == 4
    np.testing.assert_array_equal(f.load(0)[1], a[0, :, 4:8].transpose(2, 0, 1))


def test_split_holds_out_every_nth_of_each_class(tmp_path: Path, photo_maker) -> None:
    for c, n in (("a", 7), ("b", 11)):
        (tmp_path / c).mkdir()
        for i in range(n):
            photo_maker(20 + i, 30, i).save(tmp_path / c / f"{i:02d}.png")
    photo_maker(25, 25, 0).save(tmp_path / "loose.png")  # label -1: a group of its own
    f = ImageFolder(tmp_path, size=8, mode="RGB")
    train, test = f.split()
    # a: 0..6 (test 4), b: 7..17 (test 11, 16), loose: 18 (fewer than 5: training)
    assert test.tolist() == [4, 11, 16] and f.n_classes == 2
    assert sorted(train.tolist() + test.tolist()) == list(range(len(f)))
    assert f.split(2)[1].tolist() == [1, 3, 5, 8, 10, 12, 14, 16]
    x, y = f.arrays(test)
    assert x.shape == (3, 3, 8, 8) and x.dtype == np.uint8 and y.tolist() == [0, 1, 1]
    xt, yt = load_split(tmp_path, "test", size=8, mode="RGB")
    np.testing.assert_array_equal(xt, x)
    np.testing.assert_array_equal(yt, y)
    xl, yl = load_split(tmp_path, "train", size=8, mode="L")
    assert xl.shape == (16, 8, 8) and yl.dtype == np.int64 and (yl == -1).sum() == 1
    with pytest.raises(ValueError, match="test_every"):
        f.split(1)


def test_arrays_skip_unreadable_files_and_count_tiles(image_folder) -> None:
    root = image_folder(corrupt=True)
    bad: list[str] = []
    x, y = ImageFolder(root, size=12).arrays(unreadable=bad)
    assert len(x) == len(y) == 6 and len(bad) == 1 and "broken.jpg" in bad[0]
    tiles = ImageFolder(root, size=20, fit="tile")
    xt, yt = tiles.arrays([0, 1])  # cat/a.png: 3 x 2 tiles, cat/b.jpg: 1 x 4
    assert xt.shape == (10, 20, 20) and yt.tolist() == [0] * 10
    empty, labels = ImageFolder(root, size=12, mode="RGB").arrays([])
    assert empty.shape == (0, 3, 12, 12) and labels.shape == (0,)
