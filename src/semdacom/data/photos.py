"""Natural colour photographs from installed packages, cut into crops (issue 25, step 2).

No photograph can be downloaded at run time, so the colour model trains on photographs that a
Debian package installs. :data:`SOURCES` names each one with its licence (the package's
``copyright`` file); ``make setup`` installs the package (``scripts/setup_apt.sh``).

:func:`make_photo_sets` splits the photographs *by photograph* into a training set and a
held-out set (:data:`HELD_OUT`: never seen in training), then writes

* ``train.npz``: ``images`` ``(n, size, size, 3)`` uint8, random crops of the training
  photographs at several scales (:func:`train_crops`), ready for
  ``semdacom train-codec --data train.npz --mode RGB``;
* ``held_out/``: JPEG and PNG crops of the held-out photographs of mixed sizes and aspect
  ratios (:func:`held_out_crops`): the folder the colour demo sends through the flowgraph.

Deterministic for a given seed. No GNU Radio, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "HELD_OUT",
    "SCALES",
    "SOURCES",
    "Photo",
    "held_out_crops",
    "installed_photos",
    "make_photo_sets",
    "train_crops",
]


@dataclass(frozen=True)
class Photo:
    """One photograph: its file, the package that installs it and that package's licence."""

    path: Path
    package: str
    licence: str

    @property
    def name(self) -> str:
        return self.path.stem


#: Photograph sources: (Debian package, glob under /, licence as in its copyright file).
SOURCES = (
    (
        "mate-backgrounds",
        "usr/share/backgrounds/mate/nature/*.jpg",
        "GPL-2+ (per-file authors: /usr/share/doc/mate-backgrounds/copyright)",
    ),
)

#: Photographs never used in training: the held-out set of the colour demo and bench.
HELD_OUT = ("LadyBird", "Storm", "YellowFlower")

#: Shorter side of a training photograph, in crop sizes, before crops are cut.
SCALES = (2, 4, 8, 16)


def installed_photos(root: str | Path = "/") -> list[Photo]:
    """Every photograph of :data:`SOURCES` installed under ``root``, sorted by name."""
    out = []
    for package, pattern, licence in SOURCES:
        for p in sorted(Path(root).glob(pattern)):
            out.append(Photo(p, package, licence))
    return sorted(out, key=lambda ph: ph.name)


def _open_rgb(path: Path):
    from PIL import Image

    with Image.open(path) as im:
        return im.convert("RGB")


def _scaled(img, short: int):
    from PIL import Image

    w, h = img.size
    f = short / min(w, h)
    return img.resize((max(short, round(w * f)), max(short, round(h * f))), Image.BICUBIC)


def train_crops(photos: list[Photo], size: int, per_photo: int, seed: int = 0) -> np.ndarray:
    """``per_photo`` random ``size x size`` RGB crops of each photograph, spread over the
    scales of :data:`SCALES` (the photograph scaled so its shorter side is ``s * size``, so the
    crops range from a whole-scene thumbnail to close texture); ``(n, size, size, 3)`` uint8."""
    rng = np.random.default_rng(seed)
    out = []
    for ph in photos:
        img = _open_rgb(ph.path)
        for k, s in enumerate(SCALES):
            arr = np.asarray(_scaled(img, s * size))
            n = per_photo // len(SCALES) + (k < per_photo % len(SCALES))
            ys = rng.integers(0, arr.shape[0] - size + 1, n)
            xs = rng.integers(0, arr.shape[1] - size + 1, n)
            out.extend(arr[y : y + size, x : x + size] for y, x in zip(ys, xs, strict=True))
    if not out:
        return np.zeros((0, size, size, 3), np.uint8)
    return np.stack(out).astype(np.uint8)


def held_out_crops(photos: list[Photo], out_dir: str | Path, per_photo: int = 8,
                   seed: int = 1) -> list[Path]:  # fmt: skip
    """Crops of mixed sizes (48..400 px) and aspect ratios (1:2 .. 2:1) of each photograph,
    alternately JPEG (quality 90) and PNG, written to ``out_dir``; returns their paths."""
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ph in photos:
        img = _open_rgb(ph.path)
        w, h = img.size
        for i in range(per_photo):
            side = int(rng.integers(48, 401))
            aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
            cw, ch = max(16, min(w, int(side * aspect))), max(16, min(h, side))
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            crop = img.crop((x, y, x + cw, y + ch))
            if min(cw, ch) > 400:  # keep the files small
                crop = _scaled(crop, 400)
            suffix = ".jpg" if i % 2 == 0 else ".png"
            path = out_dir / f"{ph.name}_{i:02d}{suffix}"
            crop.save(path, quality=90) if suffix == ".jpg" else crop.save(path)
            paths.append(path)
    return paths


def make_photo_sets(out_dir: str | Path, size: int = 32, per_photo: int = 4000,
                    held_out_per_photo: int = 8, root: str | Path = "/",
                    seed: int = 0) -> dict:  # fmt: skip
    """Write ``train.npz`` and ``held_out/`` (module docstring) to ``out_dir``; returns what
    was written (counts, photographs, licences). ``ValueError`` when no photograph is
    installed (``make setup`` installs them)."""
    photos = installed_photos(root)
    if not photos:
        pkgs = ", ".join(s[0] for s in SOURCES)
        raise ValueError(f"no photographs installed (Debian packages: {pkgs}; `make setup`)")
    held = [p for p in photos if p.name in HELD_OUT]
    train = [p for p in photos if p.name not in HELD_OUT]
    if not held or not train:
        raise ValueError(f"need photographs on both sides of the split, got {len(photos)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    x = train_crops(train, size, per_photo, seed)
    np.savez_compressed(out_dir / "train.npz", images=x)
    files = held_out_crops(held, out_dir / "held_out", held_out_per_photo, seed + 1)
    return {
        "train_npz": str(out_dir / "train.npz"),
        "train_crops": int(len(x)),
        "crop_size": size,
        "train_photos": [p.name for p in train],
        "held_out_photos": [p.name for p in held],
        "held_out_files": len(files),
        "sources": sorted({f"{p.package}: {p.licence}" for p in photos}),
    }
