"""Load report for tests/grc/test_grc_launch.py, read from inside a running gnuradio-companion.

GRC 3.10 prints file and block-library load errors on its console, but some of what makes a
flowgraph broken it shows only in the canvas: a block id it does not know becomes a grey
"Missing Block" stand-in, and a parameter that does not evaluate turns its block red. Neither
prints anything. The test puts this folder first on PYTHONPATH and names a report file in
SEMDACOM_GRC_PROBE; Python then runs this module at start-up (site's ``sitecustomize`` hook).
It does nothing unless that variable is set. When GRC's main window module is imported, it wraps
``MainWindow.new_page`` so that, once the GTK main loop is idle after the files are loaded, it
writes JSON: per open page the file path, the number of blocks, the ids of missing blocks and
GRC's own error messages for the flowgraph (``FlowGraph.get_error_messages()``, what the
"errors" button of GRC's toolbar lists). It changes nothing in GRC's behaviour.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import sys

_REPORT = os.environ.get("SEMDACOM_GRC_PROBE", "")
_TARGET = "gnuradio.grc.gui.MainWindow"


def _write_report(window) -> bool:
    pages = []
    for page in window.get_pages():
        fg = page.flow_graph
        fg.validate()
        pages.append(
            {
                "file": page.file_path,
                "blocks": len(fg.blocks),
                "missing": [b.key for b in fg.blocks if getattr(b, "is_dummy_block", False)],
                "errors": [str(m) for m in fg.get_error_messages()],
            }
        )
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
