#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The BINDTOOL flags of a binding file, for GNU Radio's GR_PYBIND_MAKE_OOT (GrPybind.cmake).

At configure time GrPybind runs ``python3 header_utils.py all <file>_python.cc`` for every
binding file and reads ``auto;pygccxml;header;hash;``; a header named with a stale hash would
make it regenerate the file with gr_modtool's bind_oot_file.py. The bindings here are written by
hand and carry no BINDTOOL flags, so this prints ``False;False;None;None;`` for each of them and
nothing is regenerated (bind_oot_file.py is not kept).
"""

import re
import sys

FLAGS = ("GEN_AUTOMATIC", "USE_PYGCCXML", "HEADER_FILE", "HEADER_FILE_HASH")


def flags(text: str) -> str:
    """``auto;pygccxml;header;hash;`` as GrPybind reads them (None where a flag is absent)."""
    found = [re.search(rf"BINDTOOL_{name}\(([^\s)]*)\)", text) for name in FLAGS]
    auto, gccxml, header, digest = (m.group(1) if m else None for m in found)
    return f"{auto == '1'};{gccxml == '1'};{header};{digest};"


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "all":
        sys.exit("usage: header_utils.py all <binding file>")
    with open(sys.argv[2]) as f:
        print(flags(f.read()))
