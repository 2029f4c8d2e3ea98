#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Docstring headers for the pybind11 bindings, as GNU Radio's GrPybind.cmake asks for them.

GrPybind.cmake runs ``docs/doxygen/update_pydoc.py copy --bindings_dir D --output_dir O``
when Doxygen is off: each ``*_pydoc_template.h`` in D is copied to O as ``*_pydoc.h``, and
O/docstring_status records that it ran. gr-semdacom builds without Doxygen (its block
documentation lives in the GRC YAML and docs/), so this replaces gr_modtool's generated
Doxygen scraper: only the ``copy`` operation exists.
"""

import argparse
import glob
import os
import sys


def copy_docstring_templates(bindings_dir: str, output_dir: str) -> None:
    for template in glob.glob(os.path.join(bindings_dir, "*_pydoc_template.h")):
        target = os.path.join(output_dir, os.path.basename(template).replace("_template.h", ".h"))
        with open(template) as fin, open(target, "w") as fout:
            fout.write(fin.read())
    with open(os.path.join(output_dir, "docstring_status"), "w") as status:
        status.write("DONE")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("function", choices=["copy", "scrape", "sub"])
    parser.add_argument("--bindings_dir")
    parser.add_argument("--output_dir")
    parser.add_argument("--xml_path")
    parser.add_argument("--json_path")
    parser.add_argument("--filter", default=None)
    args = parser.parse_args()
    if args.function != "copy":
        print(
            f"update_pydoc.py: '{args.function}' needs Doxygen, which gr-semdacom does not use; "
            "configure with -DENABLE_DOXYGEN=OFF",
            file=sys.stderr,
        )
        return 1
    copy_docstring_templates(args.bindings_dir, args.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
