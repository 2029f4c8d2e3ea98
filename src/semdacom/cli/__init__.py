"""The ``semdacom`` command (installed as .venv/bin/semdacom by ``make setup``).

Every module of this package that defines ``add_parser(subparsers)`` adds its
subcommand(s); ``add_parser`` registers each with ``set_defaults(func=...)``.
Subcommand modules import heavy dependencies (torch, cvxpy) inside their
functions, so ``semdacom --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``semdacom <command> [options]``."""
    parser = argparse.ArgumentParser(
        prog="semdacom", description="gr-semdacom: multi-user semantic and data communications"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "add_parser"):
            mod.add_parser(sub)
    args = parser.parse_args(argv)
    from semdacom.cli.common import UsageError

    try:
        return int(args.func(args) or 0)
    except UsageError as exc:  # a command line that cannot run: one line, exit status 2
        print(f"semdacom {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
