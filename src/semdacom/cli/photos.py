#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""``semdacom make-photos``: colour training crops and a held-out folder from the photographs
that Debian packages install (issue 25; :mod:`semdacom.data.photos`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "make-photos",
        help="colour training crops (train.npz) and a held-out folder from installed photographs",
    )
    p.add_argument("--out", default="out/photos", help="folder for train.npz and held_out/")
    p.add_argument("--size", type=int, default=32, help="training crop side (pixels)")
    p.add_argument("--per-photo", type=int, default=4000, help="training crops per photograph")
    p.add_argument(
        "--held-out-per-photo",
        type=int,
        default=8,
        help="held-out crops (mixed sizes, JPEG and PNG) per held-out photograph",
    )
    p.add_argument("--root", default="/", help="where the packages are installed")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args) -> int:
    from semdacom.data.photos import make_photo_sets

    try:
        res = make_photo_sets(args.out, args.size, args.per_photo, args.held_out_per_photo,
                              args.root, args.seed)  # fmt: skip
    except ValueError as exc:
        print(f"semdacom make-photos: error: {exc}", file=sys.stderr)
        return 2
    (Path(args.out) / "photos.json").write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))
    return 0
