"""Images from a folder or an ``.npz`` file, for ``image_source`` (issue 25: your own images).

:class:`ImageFolder` lists the images of a folder (PNG, JPEG, BMP, GIF, TIFF, WebP: whatever
Pillow reads; every file whose suffix is one of :data:`SUFFIXES`, searched recursively, in sorted
order) or the arrays of an ``.npz`` file, and gives each as a uint8 array of the size and mode
a codec needs, by one of three policies (:data:`FITS`):

- ``resize``: the whole image scaled to ``size x size`` (the aspect ratio is not kept);
- ``crop``: scaled so that its shorter side is ``size``, then the centre ``size x size``;
- ``tile``: cut into ``size x size`` tiles without scaling (row-major; the right and bottom
  remainders are dropped; an image smaller than a tile gives none): each tile is one image.

Mode ``L`` gives ``(H, W)`` grayscale (ITU-R 601-2 luma, Pillow's ``convert("L")``), ``RGB``
gives ``(3, H, W)``. Labels follow the ImageFolder convention (``root/<class>/<image>``): the
class index of the first sub-folder under the root, classes in sorted order (:attr:`classes`);
images directly in the root, and ``.npz`` files without a ``labels`` array, have label -1.

Files are read when their image is asked for (:meth:`load`), so a folder of any size is listed
at once; a file that cannot be read (corrupt, truncated, not an image) raises
:class:`UnreadableImage`, which the caller counts and skips. With ``tile`` the number of tiles
of a file is known only once the file is read: :meth:`items` lists ``(file, tile)`` pairs
lazily, reading each file's header (not its pixels) on the way.

``.npz``: the array ``images`` (or the only array when there is one), shape ``(n, H, W)``,
``(n, H, W, C)`` or ``(n, C, H, W)`` with ``C`` in 1, 3 or 4 (integers 0-255, or floats in
``[0, 1]``), and optionally ``labels`` ``(n,)``.

Training on a folder (``semdacom train-classifier/train-codec/eval-codec/fit-distortion
--data``): :meth:`ImageFolder.split` holds out every ``test_every``-th entry of each class
(:data:`TEST_EVERY`, default 5: entries 4, 9, 14, ... of each class in listing order, about
20 %) as the test split, the rest is the training split; a file and all its tiles fall on
the same side. :meth:`ImageFolder.arrays` reads entries into one uint8 array, and
:func:`load_split` does both, so that every command uses the same images for the same split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "FITS",
    "MODES",
    "SPLITS",
    "SUFFIXES",
    "TEST_EVERY",
    "ImageFolder",
    "UnreadableImage",
    "fit_image",
    "load_split",
]

#: File suffixes taken as images (lower case).
SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
#: Policies that bring an image to ``size x size``.
FITS = ("resize", "crop", "tile")
#: Output modes: grayscale ``(H, W)`` or colour ``(3, H, W)``.
MODES = ("L", "RGB")
#: Splits of :meth:`ImageFolder.split` and :func:`load_split`.
SPLITS = ("train", "test")
#: Every ``TEST_EVERY``-th entry of each class is a test entry (:meth:`ImageFolder.split`).
TEST_EVERY = 5


class UnreadableImage(ValueError):
    """An image file (or array) that cannot be read or converted; the text says which and why."""


def _channels_last(a: np.ndarray) -> np.ndarray:
    """An ``.npz`` image as ``(H, W)`` or ``(H, W, C)``: a ``(C, H, W)`` one (``C`` in 1, 3, 4
    first and not last) transposed."""
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[2] not in (1, 3, 4):
        return a.transpose(1, 2, 0)
    return a


def _pil_image(arr: np.ndarray):
    """A Pillow image of a ``(H, W)`` or ``(H, W, C)`` uint8 array."""
    from PIL import Image

    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return Image.fromarray(np.ascontiguousarray(arr))


def fit_image(img, size: int, fit: str, mode: str) -> list[np.ndarray]:
    """The ``size x size`` images of one Pillow image by the policy ``fit`` (one, or the tiles
    with ``tile``), each uint8 ``(size, size)`` in mode ``L`` or ``(3, size, size)`` in ``RGB``.
    ``size`` 0 keeps the image's own size (``resize`` and ``crop`` only)."""
    from PIL import Image

    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    img = img.convert(mode)
    w, h = img.size
    out = []
    if size <= 0:
        if fit == "tile":
            raise ValueError("fit 'tile' needs size > 0")
        out.append(img)
    elif fit == "resize":
        out.append(img.resize((size, size), Image.Resampling.BICUBIC))
    elif fit == "crop":
        s = size / min(w, h)
        nw, nh = max(size, round(w * s)), max(size, round(h * s))
        r = img.resize((nw, nh), Image.Resampling.BICUBIC)
        left, top = (nw - size) // 2, (nh - size) // 2
        out.append(r.crop((left, top, left + size, top + size)))
    else:
        for top in range(0, h - size + 1, size):
            for left in range(0, w - size + 1, size):
                out.append(img.crop((left, top, left + size, top + size)))
    arrs = [np.asarray(o, dtype=np.uint8) for o in out]
    return [a if mode == "L" else np.ascontiguousarray(a.transpose(2, 0, 1)) for a in arrs]


@dataclass(frozen=True)
class _Entry:
    path: Path | None  # None: an array of the .npz
    index: int  # the array's index in the .npz (-1 for a file)
    label: int


class ImageFolder:
    """The images of a folder or an ``.npz`` file (see the module docstring).

    Parameters
    ----------
    root : path
        A folder (searched recursively) or an ``.npz`` file.
    size : int
        Side of the images given (0: their own size; not with ``tile``).
    fit : {"resize", "crop", "tile"}
    mode : {"L", "RGB"}
    """

    def __init__(self, root: str | Path, size: int = 28, fit: str = "crop", mode: str = "L"):
        root = Path(root).expanduser()
        if fit not in FITS:
            raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if isinstance(size, bool) or int(size) < 0 or (fit == "tile" and int(size) == 0):
            raise ValueError(f"size must be a positive integer (0: as stored, not with tile), "
                             f"got {size!r}")  # fmt: skip
        self.root, self.size, self.fit, self.mode = root, int(size), fit, mode
        self._arrays: np.ndarray | None = None
        if root.is_file() and root.suffix.lower() == ".npz":
            self._entries, self.classes = self._list_npz(root)
        elif root.is_dir():
            self._entries, self.classes = self._list_folder(root)
        else:
            raise FileNotFoundError(f"{root}: not a folder or an .npz file")
        if not self._entries:
            raise ValueError(f"{root}: no images (suffixes {', '.join(SUFFIXES)})")

    # ------------------------------------------------------------------ listing
    @staticmethod
    def _list_folder(root: Path) -> tuple[list[_Entry], list[str]]:
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        rel = [p.relative_to(root).parts for p in files]
        subs = sorted({parts[0] for parts in rel if len(parts) > 1})
        index = {c: i for i, c in enumerate(subs)}
        entries = [_Entry(p, -1, index[parts[0]] if len(parts) > 1 else -1)
                   for p, parts in zip(files, rel, strict=True)]  # fmt: skip
        return entries, subs

    def _list_npz(self, root: Path) -> tuple[list[_Entry], list[str]]:
        try:
            with np.load(root, allow_pickle=False) as z:
                names = list(z.files)
                key = "images" if "images" in names else None
                if key is None:
                    arrays = [n for n in names if n != "labels"]
                    if len(arrays) != 1:
                        raise ValueError(f"{root}: an 'images' array (or a single array) is "
                                         f"needed, found {names}")  # fmt: skip
                    key = arrays[0]
                images = np.asarray(z[key])
                labels = np.asarray(z["labels"]) if "labels" in names else None
        except (OSError, ValueError) as exc:
            raise ValueError(f"{root}: {exc}") from exc
        if images.ndim not in (3, 4):
            raise ValueError(f"{root}: images must be (n, H, W) or (n, H, W, C) / (n, C, H, W), "
                             f"got {images.shape}")  # fmt: skip
        if labels is not None and labels.shape != (images.shape[0],):
            raise ValueError(f"{root}: labels of shape {labels.shape} for {images.shape[0]} images")
        self._arrays = images
        entries = [_Entry(None, i, -1 if labels is None else int(labels[i]))
                   for i in range(images.shape[0])]  # fmt: skip
        return entries, []

    def __len__(self) -> int:
        """Files (or arrays) listed: with ``tile`` each may give several images or none."""
        return len(self._entries)

    def label(self, i: int) -> int:
        return self._entries[i].label

    def name(self, i: int) -> str:
        """The file (relative to the root) or ``<npz>[i]`` of entry ``i``."""
        e = self._entries[i]
        if e.path is None:
            return f"{self.root.name}[{e.index}]"
        return str(e.path.relative_to(self.root))

    # ------------------------------------------------------------------ reading
    def _pil(self, i: int):
        """Entry ``i`` as a Pillow image; UnreadableImage when it cannot be read."""
        from PIL import Image, UnidentifiedImageError

        e = self._entries[i]
        try:
            if e.path is None:
                a = _channels_last(np.asarray(self._arrays[e.index]))
                if np.issubdtype(a.dtype, np.floating):
                    if not np.all(np.isfinite(a)):
                        raise ValueError("non-finite pixels")
                    a = np.round(np.clip(a, 0.0, 1.0) * 255.0)
                return _pil_image(a.astype(np.uint8))
            img = Image.open(e.path)
            img.load()  # reads the pixels: a truncated or corrupt file fails here
            return img
        except (OSError, ValueError, UnidentifiedImageError, SyntaxError) as exc:
            raise UnreadableImage(f"{self.name(i)}: {type(exc).__name__}: {exc}") from exc

    def load(self, i: int) -> list[np.ndarray]:
        """The images of entry ``i`` (one, or its tiles), fitted. Raises UnreadableImage."""
        img = self._pil(i)
        try:
            return fit_image(img, self.size, self.fit, self.mode)
        except (OSError, ValueError) as exc:
            raise UnreadableImage(f"{self.name(i)}: {type(exc).__name__}: {exc}") from exc

    def items(self, order: list[int] | np.ndarray | None = None) -> Iterator[tuple[int, int]]:
        """``(entry, tile)`` pairs in ``order`` (default: the listing's): one per entry, or with
        ``tile`` one per tile (a file's header is read to count them; an unreadable one gives
        a pair with tile -1, whose :meth:`load` raises)."""
        from PIL import Image

        for i in range(len(self)) if order is None else order:
            i = int(i)
            if self.fit != "tile":
                yield i, 0
                continue
            e = self._entries[i]
            try:
                if e.path is None:
                    h, w = (int(v) for v in _channels_last(self._arrays[e.index]).shape[:2])
                else:
                    with Image.open(e.path) as img:
                        w, h = img.size
            except Exception:
                yield i, -1
                continue
            for t in range((h // self.size) * (w // self.size)):
                yield i, t

    # ------------------------------------------------------------------ training sets
    @property
    def n_classes(self) -> int:
        """Number of classes: the sub-folders, or for an ``.npz`` the largest label + 1 (0
        without labels)."""
        if self.classes:
            return len(self.classes)
        return max((e.label for e in self._entries), default=-1) + 1

    def split(self, test_every: int = TEST_EVERY) -> tuple[np.ndarray, np.ndarray]:
        """The entries of the training and the test split (sorted index arrays).

        Within each label (each class, and -1 for the unlabelled), in listing order, the
        entries ``test_every - 1``, ``2 test_every - 1``, ... are test entries and the others
        training entries: deterministic, about ``1 / test_every`` of each class held out (none
        of a class with fewer than ``test_every`` entries)."""
        if isinstance(test_every, bool) or int(test_every) < 2:
            raise ValueError(f"test_every must be an integer >= 2, got {test_every!r}")
        k = int(test_every)
        seen: dict[int, int] = {}
        test = np.zeros(len(self), dtype=bool)
        for i, e in enumerate(self._entries):
            j = seen.get(e.label, 0)
            seen[e.label] = j + 1
            test[i] = j % k == k - 1
        return np.flatnonzero(~test), np.flatnonzero(test)

    def arrays(
        self, indices=None, unreadable: list[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The images of the entries ``indices`` (default: all), each fitted image (each tile
        with ``tile``) one row, and their labels.

        Returns uint8 images ``(n, H, W)`` in mode ``L`` or ``(n, 3, H, W)`` in ``RGB`` and int64
        labels ``(n,)``. An entry that cannot be read is skipped; its message is appended to
        ``unreadable`` when a list is given. With ``size`` 0 the images must share one size.
        """
        images: list[np.ndarray] = []
        labels: list[int] = []
        idx = range(len(self)) if indices is None else [int(i) for i in indices]
        for i in idx:
            try:
                got = self.load(i)
            except UnreadableImage as exc:
                if unreadable is not None:
                    unreadable.append(str(exc))
                continue
            images.extend(got)
            labels.extend([self.label(i)] * len(got))
        if not images:
            shape = (self.size, self.size) if self.mode == "L" else (3, self.size, self.size)
            return np.zeros((0, *shape), np.uint8), np.zeros(0, np.int64)
        shapes = {a.shape for a in images}
        if len(shapes) > 1:
            raise ValueError(f"{self.root}: images of different sizes {sorted(shapes)} "
                             "cannot be stacked (give a size)")  # fmt: skip
        return np.stack(images), np.asarray(labels, dtype=np.int64)


def load_split(
    root: str | Path,
    split: str,
    *,
    size: int = 28,
    fit: str = "crop",
    mode: str = "L",
    test_every: int = TEST_EVERY,
    unreadable: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of the ``"train"`` or ``"test"`` split of a folder (or ``.npz``):
    :meth:`ImageFolder.split`, then :meth:`ImageFolder.arrays` (the training commands'
    ``--data``)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    folder = ImageFolder(root, size=size, fit=fit, mode=mode)
    train, test = folder.split(test_every)
    return folder.arrays(train if split == "train" else test, unreadable)
