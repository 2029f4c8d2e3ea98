"""`make bench`: runs every benchmark module in bench/ (each defines main() and writes
bench/results/<name>.json). `make bench ARGS="phy"` runs only the named ones; modules named
_*.py are helpers of others."""

from __future__ import annotations

import os

# Benchmarks time single-core kernels and tiny matrices: a multi-threaded BLAS only adds
# thread hand-offs (measured: a 2x2 complex solve took ~2 ms with OpenBLAS threads on a loaded
# 2-core machine). Set before numpy loads; a benchmark that wants threads sets them itself.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import importlib  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main(argv: list[str]) -> int:
    names = argv or sorted(
        p.stem
        for p in HERE.glob("*.py")
        # _x: helpers; soak: `make soak` (half an hour at its default size, not `make bench`)
        if p.stem not in ("run", "common", "soak") and not p.stem.startswith("_")
    )
    for name in names:
        print(f"== bench/{name}.py")
        importlib.import_module(name).main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
