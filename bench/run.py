"""`make bench`: runs every benchmark; each writes bench/results/<name>.json."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import phy  # noqa: E402


def main() -> int:
    phy.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
