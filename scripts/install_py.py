"""Copy the Python packages and GRC YAML into ./prefix without CMake (`make install-py`).

For the edit-test loop on Python files only: `semdacom` (src/semdacom) and
`gnuradio.semdacom` (python/semdacom, less bindings/) are mirrored into the prefix's
site-packages, stale .py files removed, compiled extensions (.so) kept; grc/**/*.yml go to
the flat blocks folder GRC reads. C++ changes still need `make setup`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = {"bindings", "__pycache__", "CMakeLists.txt", ".gitignore"}


def mirror(src: Path, dst: Path) -> None:
    wanted = set()
    for f in src.rglob("*"):
        rel = f.relative_to(src)
        if any(part in SKIP for part in rel.parts) or f.suffix == ".md" or f.is_dir():
            continue
        wanted.add(rel)
        out = dst / rel
        if not out.exists() or out.stat().st_mtime < f.stat().st_mtime:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, out)
    for f in sorted(dst.rglob("*"), reverse=True):
        rel = f.relative_to(dst)
        stale = rel not in wanted and "__pycache__" not in rel.parts
        if f.is_file() and f.suffix != ".so" and stale:
            f.unlink()
        elif f.is_dir() and not any(f.iterdir()):
            f.rmdir()


def main() -> int:
    prefix = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT / "prefix"
    sites = [p for p in prefix.glob("lib/python3*/site-packages") if (p / "gnuradio").is_dir()]
    if not sites:
        print(f"install_py: nothing installed under {prefix}: `make setup`", file=sys.stderr)
        return 1
    site = sites[0]
    mirror(ROOT / "src" / "semdacom", site / "semdacom")
    mirror(ROOT / "python" / "semdacom", site / "gnuradio" / "semdacom")
    blocks = prefix / "share" / "gnuradio" / "grc" / "blocks"
    blocks.mkdir(parents=True, exist_ok=True)
    for old in blocks.glob("semdacom*.yml"):
        old.unlink()
    for y in (ROOT / "grc").rglob("*.yml"):
        shutil.copy2(y, blocks / y.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
