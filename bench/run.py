"""`make bench`: runs every benchmark module in bench/ (each defines main() and writes
bench/results/<name>.json). `make bench ARGS="phy"` runs only the named ones."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem for p in HERE.glob("*.py") if p.stem not in ("run", "common"))
    for name in names:
        print(f"== bench/{name}.py")
        importlib.import_module(name).main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
