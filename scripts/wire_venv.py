"""Wire the locally installed module into .venv and GRC (run by `make setup`).

`make setup` installs two packages side by side into ./prefix's site-packages: `semdacom`
(the algorithms, src/semdacom) and `gnuradio.semdacom` (the blocks, python/semdacom; GNU
Radio's own `gnuradio` package uses pkgutil.extend_path, so it finds the subpackage there).
Neither python knows that folder, so:

- a .pth file in the venv's site-packages, and one in the system python3's user
  site-packages (python3 runs grcc and gnuradio-companion), put it on sys.path;
- .venv/bin/semdacom runs the command-line interface (the entry point pyproject.toml's
  [project.scripts] declares for `pip install .`);
- ~/.gnuradio/config.conf gets the prefix's GRC blocks folder in
  [grc] local_blocks_path, so grcc and gnuradio-companion find the blocks.
Idempotent: running it twice changes nothing the second time.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` unless it already holds it (setup stays idempotent)."""
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)


def main() -> int:
    venv, prefix = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    pyver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = venv / "lib" / pyver / "site-packages"
    # the prefix's site-packages (GrPython's GR_PYTHON_DIR: lib/python3.X/site-packages here,
    # dist-packages on some systems): the folder that holds gnuradio/semdacom
    found = sorted(prefix.glob("**/gnuradio/semdacom/__init__.py"))
    target = found[0].parents[2] if found else None
    if target is None or not (target / "semdacom" / "__init__.py").is_file():
        print(
            f"wire_venv: semdacom and gnuradio/semdacom not found under {prefix}", file=sys.stderr
        )
        return 1
    # put this checkout's prefix first: the user-site .pth below may point at another
    # checkout (the last one set up), and user site-packages come before the venv's
    _write(site / "gr-semdacom.pth", f"import sys; sys.path.insert(0, {str(target)!r})\n")
    # The system python3 runs grcc and gnuradio-companion (and the flowgraphs GRC
    # starts): its user site gets the same .pth, so plain `grcc` works after setup.
    user_site = subprocess.run(
        ["/usr/bin/python3", "-m", "site", "--user-site"], capture_output=True, text=True
    ).stdout.strip()
    if user_site:
        Path(user_site).mkdir(parents=True, exist_ok=True)
        _write(Path(user_site) / "gr-semdacom.pth", f"{target}\n")

    script = venv / "bin" / "semdacom"
    python = venv / "bin" / "python"
    _write(script, f"#!{python}\nimport sys\nfrom semdacom.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)

    blocks = str(prefix / "share" / "gnuradio" / "grc" / "blocks")
    conf_path = Path(os.path.expanduser("~/.gnuradio/config.conf"))
    conf_path.parent.mkdir(parents=True, exist_ok=True)
    conf = configparser.ConfigParser()
    conf.optionxform = str  # keep key case
    if conf_path.exists():
        conf.read(conf_path)
    if not conf.has_section("grc"):
        conf.add_section("grc")
    old = [p for p in conf.get("grc", "local_blocks_path", fallback="").split(":") if p]
    # one copy of the blocks: drop other checkouts' installs of this module
    paths = [p for p in old if p == blocks or not list(Path(p).glob("semdacom_*.block.yml"))]
    if blocks not in paths:
        paths.append(blocks)
    if paths != old:
        conf.set("grc", "local_blocks_path", ":".join(paths))
        with conf_path.open("w") as f:
            conf.write(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
