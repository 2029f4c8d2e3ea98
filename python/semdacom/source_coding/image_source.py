#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``image_source``: a dataset split, or your own image folder, as image PDUs,
one per frame."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pmt
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_finite, check_int, describe
from gnuradio.semdacom.plumbing.worker import MAX_IN_FLIGHT

from semdacom.data.datasets import load_fashion_mnist
from semdacom.data.folder import FITS, MODES, ImageFolder, UnreadableImage

__all__ = ["image_source"]


def _trigger_frame(msg: Any) -> int | None:
    """The frame number a trigger sets: its ``frame`` key when the trigger is a dictionary and
    ``frame`` a u64 or a non-negative long (only that key is read), else None."""
    try:
        if not (isinstance(msg, pmt.pmt_base) and pmt.is_dict(msg)) or pmt.is_null(msg):
            return None
        key = pmt.intern("frame")
        if not pmt.dict_has_key(msg, key):
            return None
        return messages.read_count(pmt.dict_ref(msg, key, pmt.PMT_NIL), "frame")
    except Exception:  # an odd dictionary (a pair that is not one, ...) sets no frame
        return None


class image_source(Block, gr.basic_block):
    """Images as image PDUs (MU-ASCC [1], Fig. 2: the source x_i): Fashion-MNIST, or your own
    folder of images or ``.npz`` file (``folder``; issue 25).

    Each PDU is ``(meta, u8vector)`` (see :mod:`messages`, image PDUs) with meta ``label``,
    ``image_id`` (index in the split; for a folder the image's index in the folder's listing,
    tiles counted), ``user``, ``frame``, ``shape``, ``dataset``, ``split`` (for a folder
    ``dataset`` "folder", ``split`` the folder's path, and ``file``: the file's path relative
    to it, or ``name.npz[i]``).

    **A folder** (``semdacom.data.folder.ImageFolder``): every PNG / JPEG / BMP / GIF / TIFF /
    WebP file under ``folder`` (recursively, sorted), or the arrays of an ``.npz``; each image is
    brought to ``size x size`` by ``fit`` -- ``resize`` (scaled, aspect not kept), ``crop``
    (shorter side scaled to ``size``, centre crop) or ``tile`` (cut into ``size x size`` tiles,
    each one image) -- in ``mode`` ``L`` (grayscale ``(H, W)``, what the shipped 28 x 28 codecs
    take) or ``RGB`` (``(3, H, W)``). The label is the class of the image's first sub-folder
    (``root/<class>/<image>``, classes in sorted order), -1 for images in the root. A file that
    cannot be read is logged, counted in ``unreadable`` and skipped: the next image goes out in
    its place (no image, no stall), and ``count`` still counts the images that go out (the
    users of a superposition send the same number of frames). The
    reference ``image_source`` of a ``metrics_sink`` takes the same parameters, so the metrics
    are against exactly what was sent.

    With ``period_ms > 0`` a thread emits one image every ``period_ms`` milliseconds; with
    ``period_ms == 0`` every message on ``trigger`` emits one (a trigger that is a dictionary
    with a ``frame`` that is a u64 or a non-negative long sets the frame number; its other keys
    are not read; otherwise frames count 0, 1, ... modulo 2**64). Every trigger emits exactly
    one image until a finite source is finished. A trigger that is a dictionary with an
    integer ``user`` other than this source's (``metrics_sink``'s ``done``, which says whose
    result it took) is for another user's source: counted in ``triggers_other``, no image; a
    negative ``user`` is for every user (``sfma_encoder``'s ``sent``, one slot of every user).
    ``count`` images are emitted (0 = the whole split from ``start``); with ``loop`` the
    sequence restarts and never ends. Once finished, triggers are counted and ignored.

    ``prefill`` images (at most :data:`~.plumbing.worker.MAX_IN_FLIGHT`, 256: what one block
    of the chain holds waiting) are emitted when the flowgraph starts (trigger mode). With
    ``metrics_sink``'s ``done`` (or the user's results, ``source_decoder`` /
    ``semantic_decoder`` ``pdus``) wired to ``trigger`` this is a credit loop end to end
    (examples/mu_ascc_loopback.grc): each result asks for one image, so at most ``prefill``
    images per user are in flight anywhere in the chain and an allocation whose lead exceeds
    ``prefill`` reaches the source encoder before the frames it applies to are coded
    (frame-exact reconfiguration). A channel encoder's ``sent`` port bounds only the frames
    ahead of the channel.

    With ``burst > 1`` (issue 23) triggers are banked and ``burst`` images leave together
    once ``burst`` have come (the first takes a banked trigger's ``frame``, if any): the blocks
    behind it then find a batch waiting and code it in one call. In a credit loop ``prefill``
    must be at least ``burst`` (2 x ``burst`` keeps one batch coding while the next is on the
    air).

    Parameters
    ----------
    split : {"train", "test"}
        Fashion-MNIST split (without ``folder``).
    user : int
        User index written into the metadata.
    count : int
        Images to emit (0 = all from ``start`` to the end of the split).
    start : int
        First image index.
    loop : bool
        Restart after ``count`` images.
    shuffle : bool
        Visit the images in a seeded random order.
    seed : int
    period_ms : float
        Emission period of the free-running mode; 0 = driven by ``trigger``.
    prefill : int
        Images emitted at start in trigger mode (the credits of a credit loop), 0 to 256.
    folder : str
        A folder of images or an ``.npz`` file ('' : Fashion-MNIST ``split``).
    size : int
        Side of the images taken from ``folder`` (0: as stored; not with ``tile``).
    fit : {"resize", "crop", "tile"}
        How a folder's image becomes ``size x size``.
    mode : {"L", "RGB"}
        Grayscale or colour.
    burst : int
        Triggers banked before images leave, ``burst`` at a time (1: one per trigger).
    """

    def __init__(
        self,
        split: str = "test",
        user: int = 0,
        count: int = 0,
        start: int = 0,
        loop: bool = False,
        shuffle: bool = False,
        seed: int = 0,
        period_ms: float = 0.0,
        prefill: int = 0,
        folder: str = "",
        size: int = 28,
        fit: str = "crop",
        mode: str = "L",
        burst: int = 1,
    ) -> None:
        gr.basic_block.__init__(self, name="image_source", in_sig=None, out_sig=None)
        user = check_int("user", user)
        self._folder: ImageFolder | None = None
        self._items: list[tuple[int, int]] = []
        if str(folder):
            if fit not in FITS or mode not in MODES:
                raise ValueError(f"fit must be one of {FITS} and mode one of {MODES}, "
                                 f"got {fit!r}, {mode!r}")  # fmt: skip
            self._folder = ImageFolder(str(folder), check_int("size", size), fit, mode)
            self._items = list(self._folder.items())
            n_items = len(self._items)
            images, labels = None, None
        else:
            images, labels = load_fashion_mnist(split)
            n_items = len(images)
        if not 0 <= int(start) < n_items:
            raise ValueError(f"start must be in [0, {n_items - 1}], got {start!r}")
        count = check_int("count", count)
        period_ms = check_finite("period_ms", period_ms, 0.0)
        self._prefill = check_int("prefill", prefill)
        if self._prefill > MAX_IN_FLIGHT:
            raise ValueError(
                f"prefill must be at most {MAX_IN_FLIGHT}, got {prefill!r}: every image in "
                f"flight may wait in one block of the chain, and each holds at most "
                f"{MAX_IN_FLIGHT} (plumbing.worker.MAX_IN_FLIGHT); more would be dropped or "
                "shed and a credit loop would stall"
            )
        self._burst = check_int("burst", burst, 1)
        if period_ms == 0 and 0 < self._prefill < self._burst:
            raise ValueError(
                f"burst ({burst}) exceeds prefill ({prefill}): a credit loop would never bank "
                "a burst's triggers"
            )
        self._banked = 0
        self._banked_frame: int | None = None
        order = np.arange(n_items)
        if shuffle:
            order = np.random.default_rng(int(seed)).permutation(n_items)
        order = order[int(start) :]
        if int(count) and loop:  # a loop goes round the first ``count`` images
            order = order[: int(count)]
        self._count = int(count)  # a finite source ends after this many images (0: all)
        self._images, self._labels = images, labels
        self._cached: tuple[int, list[np.ndarray]] | None = None  # a folder's last file read
        self._order = order
        self._split = split
        self._user = int(user)
        self._loop = bool(loop)
        self._period = float(period_ms) / 1000.0
        self._next = 0
        self._frame = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.setup(("pdus_out", "triggers", "triggers_ignored", "triggers_other", "unreadable"))
        self.message_in("trigger", self._on_trigger, arrived="triggers", on_error=self._ignored)
        self.message_out("pdus")

    def finished(self) -> bool:
        """True once a finite source has emitted all its images (``count`` of them, or every
        image listed from ``start``)."""
        if self._loop:
            return False
        done = self._count and self._counts["pdus_out"] >= self._count
        return bool(done) or self._next >= len(self._order)

    def _image(self, idx: int) -> tuple[np.ndarray, dict]:
        """Image ``idx`` of the listing and its meta (label, dataset, split, file). Raises
        UnreadableImage for a folder's file that cannot be read."""
        if self._folder is None:
            meta = {"label": int(self._labels[idx]), "dataset": "fashion-mnist",
                    "split": self._split}  # fmt: skip
            return self._images[idx], meta
        entry, tile = self._items[idx]
        if self._cached is None or self._cached[0] != entry:
            self._cached = None
            self._cached = (entry, self._folder.load(entry))
        tiles = self._cached[1]
        if not 0 <= tile < len(tiles):
            raise UnreadableImage(f"{self._folder.name(entry)}: tile {tile} of {len(tiles)}")
        meta = {"label": self._folder.label(entry), "dataset": "folder",
                "split": str(self._folder.root), "file": self._folder.name(entry)}  # fmt: skip
        return tiles[tile], meta

    def _emit(self, frame: int | None = None) -> bool:
        with self._lock:
            tried = 0
            while True:  # an unreadable file is skipped: the next image goes in its place
                if self.finished() or tried >= len(self._order):  # (a loop of unreadable files)
                    return False
                tried += 1
                if self._next >= len(self._order):
                    self._next = 0
                idx = int(self._order[self._next])
                self._next += 1
                try:
                    img, extra = self._image(idx)
                    break
                except UnreadableImage as exc:
                    self._counts["unreadable"] += 1
                    self.logger.error(f"image {idx} skipped: {exc}")
            f = self._frame if frame is None else frame
            self._frame = (f + 1) % 2**64  # frames are u64: the count wraps
            meta = {**extra, "image_id": idx, "user": self._user, "frame": np.uint64(f)}
            pdu = messages.image_pdu(meta, img)
            self._counts["pdus_out"] += 1
        self.publish("pdus", pdu)
        return True

    def _on_trigger(self, msg: Any) -> None:
        user = messages.done_user(msg)
        if user is not None and user >= 0 and user != self._user:  # negative: every user
            self._counts["triggers_other"] += 1
            return
        frame = _trigger_frame(msg)
        if self._burst > 1:
            self._banked += 1
            if self._banked_frame is None:
                self._banked_frame = frame
            if self._banked < self._burst:
                return
            frames = [self._banked_frame] + [None] * (self._burst - 1)
            self._banked, self._banked_frame = 0, None
        else:
            frames = [frame]
        for f in frames:
            if not self._emit(f):
                self._counts["triggers_ignored"] += 1

    def _ignored(self, msg: Any, exc: Exception) -> None:
        self._counts["triggers_ignored"] += 1
        self.logger.error(f"ignored trigger {describe(msg)}: {type(exc).__name__}: {exc}")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._emit():
                    return
            except Exception as exc:  # the emitting thread must not end on an error
                self.logger.error(f"image not emitted: {type(exc).__name__}: {exc}")
            self._stop.wait(self._period)

    def start(self) -> bool:
        if self._period <= 0:
            for _ in range(self._prefill):
                try:
                    if not self._emit():
                        break
                except Exception as exc:  # start() must not fail on one image
                    self.logger.error(f"prefill image not emitted: {type(exc).__name__}: {exc}")
        if self._period > 0:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="image_source", daemon=True)
            self._thread.start()
        return True

    def stop(self) -> bool:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        return True
