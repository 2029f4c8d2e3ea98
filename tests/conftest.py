"""Fixtures shared by every test directory: small folders of your own images (issue 25)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


def photo(w: int, h: int, seed: int, mode: str = "RGB"):
    """A smooth colour picture ``w x h`` (gradients and a disc) as a Pillow image in ``mode``."""
    from PIL import Image

    y, x = np.mgrid[0:h, 0:w]
    r = (255 * x / max(w - 1, 1)).astype(np.uint8)
    g = (255 * y / max(h - 1, 1)).astype(np.uint8)
    b = np.where((x - w / 2) ** 2 + (y - h / 2) ** 2 < (min(w, h) / 3) ** 2, 40 * seed % 255, 200)
    img = Image.fromarray(np.stack([r, g, b.astype(np.uint8)], axis=2), "RGB")
    return img.convert(mode)


def make_image_folder(root: Path, corrupt: bool = False) -> Path:
    """root/cat (3 images), root/dog (2), root itself (1) and a text file: PNG and JPEG of mixed
    sizes, aspect ratios and modes; with ``corrupt`` a truncated JPEG in dog/ as well."""
    (root / "cat").mkdir(parents=True)
    (root / "dog").mkdir()
    photo(64, 48, 1).save(root / "cat" / "a.png")
    photo(30, 90, 2).save(root / "cat" / "b.jpg", quality=90)
    photo(100, 100, 3, "L").save(root / "cat" / "c.png")
    photo(57, 33, 4, "RGBA").save(root / "dog" / "d.png")
    photo(40, 41, 5, "P").save(root / "dog" / "e.png")
    photo(28, 28, 6).save(root / "top.jpeg")
    (root / "notes.txt").write_text("not an image")
    if corrupt:
        raw = (root / "cat" / "b.jpg").read_bytes()
        (root / "dog" / "broken.jpg").write_bytes(raw[: len(raw) // 3])
    return root


@pytest.fixture(scope="session")
def photo_maker() -> Callable:
    """:func:`photo` (session scope: usable in hypothesis tests)."""
    return photo


@pytest.fixture
def image_folder(tmp_path: Path) -> Callable[..., Path]:
    """``image_folder(corrupt=False)``: :func:`make_image_folder` in a fresh temporary folder."""
    n = [0]

    def make(corrupt: bool = False) -> Path:
        n[0] += 1
        return make_image_folder(tmp_path / f"images{n[0]}", corrupt)

    return make


def post_and_collect(blk, port: str, msgs: list) -> list:
    """``msgs`` into ``blk``'s ``port`` in a flowgraph; the PDUs it publishes on ``pdus``."""
    import pmt
    from gnuradio import blocks, gr

    tb = gr.top_block()
    dbg = blocks.message_debug()
    tb.msg_connect((blk, "pdus"), (dbg, "store"))
    tb.start()
    try:
        for m in msgs:
            blk.to_basic_block()._post(pmt.intern(port), m)
        t0 = time.monotonic()
        while dbg.num_messages() < len(msgs):
            assert time.monotonic() - t0 < 30, f"{dbg.num_messages()} of {len(msgs)} PDUs"
            time.sleep(0.01)
    finally:
        tb.stop()
        tb.wait()
    return [dbg.get_message(i) for i in range(dbg.num_messages())]


SEMDACOM = Path(sys.executable).with_name("semdacom")


def semdacom(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """``semdacom args`` in a subprocess (one torch thread: the tests share 2 cores)."""
    env = {**os.environ, "SEMDACOM_THREADS": "1"}
    res = subprocess.run(
        [str(SEMDACOM), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    if check:
        assert res.returncode == 0, f"semdacom {' '.join(args)}: {res.stderr[-3000:]}"
    return res


# Test modules import the plain helpers above as ``from shared_helpers import ...`` (a
# directory's own conftest.py would shadow the name ``conftest``).
sys.modules["shared_helpers"] = sys.modules[__name__]
