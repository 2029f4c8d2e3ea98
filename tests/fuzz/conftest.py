"""Fixtures and reporting of the fuzz suite.

Profiles (``SEMDACOM_FUZZ_PROFILE``): ``default`` (25 fuzz examples per port, for
``make test``) and ``fuzz`` (1000 per port, ``make fuzz``). With ``SEMDACOM_FUZZ_JSON`` set
(``make fuzz``) the per-port figures are printed as a table and written to
bench/results/fuzz.json with the machine description of bench/common.py, with the figures
of the stream attacks (test_fuzz_streams) under ``stream_attacks``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from fuzz_targets import PORTS, TARGETS
from stream_attacks import CASES

PROFILES = {"default": 25, "fuzz": 1000}
EXAMPLES = PROFILES[os.environ.get("SEMDACOM_FUZZ_PROFILE", "default")]
FIELDS = ("messages", "thread_deaths", "hangs", "lost", "state_corrupted")

#: (block, port) -> figures; filled by the tests.
STATS: dict[tuple[str, str], dict[str, int]] = {key: dict.fromkeys(FIELDS, 0) for key in PORTS}
STREAM_FIELDS = ("attacks", "thread_deaths", "hangs", "lost")
#: block -> figures of the stream attacks (test_fuzz_streams).
STREAM_STATS: dict[str, dict[str, int]] = {b: dict.fromkeys(STREAM_FIELDS, 0) for b in CASES}


@pytest.fixture(scope="session")
def targets():
    """``targets(name)``: the running fuzz target of a block (built once, stopped at the end)."""
    made: dict = {}

    def get(name: str):
        if name not in made:
            made[name] = TARGETS[name]()
        return made[name]

    yield get
    for t in made.values():
        t.stop()


@pytest.fixture
def fuzz_stats():
    return STATS


@pytest.fixture
def stream_stats():
    return STREAM_STATS


def _table() -> list[str]:
    head = f"{'block':26} {'port':8} " + " ".join(f"{f:>15}" for f in FIELDS)
    lines = [head, "-" * len(head)]
    for (block, port), s in STATS.items():
        lines.append(f"{block:26} {port:8} " + " ".join(f"{s[f]:>15}" for f in FIELDS))
    tot = {f: sum(s[f] for s in STATS.values()) for f in FIELDS}
    lines.append("-" * len(head))
    lines.append(f"{'all':26} {len(STATS):<8} " + " ".join(f"{tot[f]:>15}" for f in FIELDS))
    lines += ["", f"{'stream attacks':35} " + " ".join(f"{f:>15}" for f in STREAM_FIELDS)]
    for block, s in STREAM_STATS.items():
        lines.append(f"{block:35} " + " ".join(f"{s[f]:>15}" for f in STREAM_FIELDS))
    return lines


def pytest_terminal_summary(terminalreporter) -> None:
    if not os.environ.get("SEMDACOM_FUZZ_JSON"):
        return
    terminalreporter.section("fuzz: per block and port")
    for line in _table():
        terminalreporter.write_line(line)


def pytest_sessionfinish(session, exitstatus) -> None:
    if not os.environ.get("SEMDACOM_FUZZ_JSON"):
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from common import write  # bench/common.py: machine description (CPU model) + JSON

    tot = {f: sum(s[f] for s in STATS.values()) for f in FIELDS}
    data = {
        "ports": sum(1 for s in STATS.values() if s["messages"]),
        "messages": tot["messages"],
        "thread_deaths": tot["thread_deaths"],
        "hangs": tot["hangs"],
        "lost": tot["lost"],
        "state_corrupted": tot["state_corrupted"],
        "examples_per_port": EXAMPLES,
        "per_port": [{"block": b, "port": p, **s} for (b, p), s in STATS.items()],
        "stream_attacks": {
            "blocks": sum(1 for s in STREAM_STATS.values() if s["attacks"]),
            **{f: sum(s[f] for s in STREAM_STATS.values()) for f in STREAM_FIELDS},
            "per_block": [{"block": b, **s} for b, s in STREAM_STATS.items()],
        },
    }
    write("fuzz", data)
