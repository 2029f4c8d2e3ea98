"""Load report for tests/grc/test_grc_launch.py, read from inside a running gnuradio-companion.

GRC 3.10 prints file and block-library load errors on its console, but some of what makes a
flowgraph broken it shows only in the canvas: a block id it does not know becomes a grey
"Missing Block" stand-in, and a parameter that does not evaluate turns its block red. Neither
prints anything. The test puts this folder first on PYTHONPATH and names a report file in
SEMDACOM_GRC_PROBE; Python then runs this module at start-up (site's ``sitecustomize`` hook).
It does nothing unless that variable is set. When GRC's main window module is imported, it wraps
``MainWindow.new_page`` so that, once the GTK main loop is idle after the files are loaded, it
writes JSON: per open page the file path, the number of blocks, the ids of missing blocks,
GRC's own error messages for the flowgraph (``FlowGraph.get_error_messages()``, what the
"errors" button of GRC's toolbar lists) and every block's rectangle on the canvas as GRC drew it
(``Block.get_extents()``: the block body sized from its rendered label and parameter text, plus
its ports; and the comment below it, when it has one), so that the test can check that no two
blocks overlap. The report waits until GRC has sized every block (its window is realised and the
flowgraph updated). It changes nothing in GRC's behaviour.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import sys

_REPORT = os.environ.get("SEMDACOM_GRC_PROBE", "")
_TARGET = "gnuradio.grc.gui.MainWindow"


_SIZE_TRIES = 200  # x 50 ms: how long the report waits for GRC to size the blocks


def _rect(block) -> dict:
    """The block's rectangle(s) on GRC's canvas: body with ports, and the comment if any."""
    x0, y0, x1, y1 = block.get_extents()
    rect = {"name": block.name, "key": block.key, "extent": [x0, y0, x1, y1]}
    if str(getattr(block, "comment", "") or "").strip():
        rect["comment"] = list(block.get_extents_comment())
    return rect


def _write_report(window, tries: int = 0) -> bool:
    pages = []
    sized = True
    for page in window.get_pages():
        fg = page.flow_graph
        fg.validate()
        page_sized = all(b.width > 0 and b.height > 0 for b in fg.blocks)
        sized = sized and page_sized
        pages.append(
            {
                "file": page.file_path,
                "blocks": len(fg.blocks),
                "missing": [b.key for b in fg.blocks if getattr(b, "is_dummy_block", False)],
                "errors": [str(m) for m in fg.get_error_messages()],
                "sized": page_sized,
                "rects": [_rect(b) for b in fg.blocks] if page_sized else [],
            }
        )
    if not sized and tries < _SIZE_TRIES:
        # GRC has not sized the blocks yet (its canvas is not realised): look again in 50 ms
        from gi.repository import GLib

        GLib.timeout_add(50, _write_report, window, tries + 1, priority=GLib.PRIORITY_LOW)
        return False
    tmp = _REPORT + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"pages": pages}, f, indent=1)
    os.replace(tmp, _REPORT)
    return False  # run once


def _patch(module) -> None:
    from gi.repository import GLib

    cls = module.MainWindow
    original = cls.new_page
    scheduled = []

    def new_page(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if not scheduled:
            scheduled.append(True)
            GLib.idle_add(_write_report, self, priority=GLib.PRIORITY_LOW)
        return result

    cls.new_page = new_page


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != _TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            _patch(module)

        loader.exec_module = exec_and_patch
        return spec


if _REPORT:
    sys.meta_path.insert(0, _Finder())
