"""The ``semdacom`` command (installed as .venv/bin/semdacom by ``make setup``)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``semdacom <command> [options]``."""
    parser = argparse.ArgumentParser(
        prog="semdacom", description="gr-semdacom: multi-user semantic and data communications"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    from . import demo

    demo.add_parser(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
