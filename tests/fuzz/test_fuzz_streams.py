"""Stream attacks (``stream_attacks``) on every block with a stream input.

Per block: a clean recorded segment is streamed first (its good results are the reference
``n_clean``), then each attack of ``ATTACKS`` followed by the clean segment again. After every
attack the block must have consumed what was pushed (else a hang), GNU Radio's log must show no
thread ending on an exception, and the clean segment after the attack must give at least
``n_clean`` more good results (else ``lost``: the block was disturbed beyond the junk itself);
a local attack (``LOCAL``: one bad sample ahead of the clean frames of its own segment) must
give ``2 n_clean``: the junk is neutralised in its window only (issue 24, Build 3).
The ``fuzz`` profile repeats every attack ``ROUNDS`` times with other random positions/values.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from stream_attacks import ATTACKS, CAPTURES, CASES, HANG_S, LOCAL, attack, rig
from test_fuzz_ports import DEATH_SIGNS

ROUNDS = {"default": 1, "fuzz": 5}[os.environ.get("SEMDACOM_FUZZ_PROFILE", "default")]

#: block -> good results of its clean segment (measured by its first test).
N_CLEAN: dict[str, int] = {}

#: Attacks that hit a known defect being fixed: (block, attack) -> reason (strict xfail).
KNOWN: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="session")
def recordings():
    """``recordings(chain)``: the clean input of every block of a chain (recorded once)."""
    made: dict = {}

    def get(chain: str):
        if chain not in made:
            made[chain] = CAPTURES[chain]()
        return made[chain]

    return get


def _wait(cond, timeout: float) -> bool:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            return False
        time.sleep(0.005)
    return True


def _settled(fn, quiet_s: float = 0.5, timeout: float = HANG_S) -> int:
    """``fn()`` once it has not changed for ``quiet_s`` seconds."""
    t0 = time.monotonic()
    last, since = fn(), time.monotonic()
    while time.monotonic() - since < quiet_s and time.monotonic() - t0 < timeout:
        time.sleep(0.02)
        now = fn()
        if now != last:
            last, since = now, time.monotonic()
    return last


def _attacks(block: str) -> list:
    return [
        pytest.param(block, a, marks=pytest.mark.xfail(reason=KNOWN[(block, a)], strict=True))
        if (block, a) in KNOWN
        else (block, a)
        for a in ATTACKS
    ]


PARAMS = [p for block in CASES for p in _attacks(block)]


@pytest.mark.parametrize(("block", "name"), PARAMS)
def test_stream_attack(block: str, name: str, recordings, stream_stats, capfd) -> None:
    case = CASES[block]
    clean = recordings(case.chain)[block]
    r = rig(case, len(clean[0]))
    stats = stream_stats[block]
    try:
        r.src.push(clean)
        assert _wait(lambda: r.consumed() >= r.src.pushed - 1024, HANG_S), "clean not consumed"
        if block in N_CLEAN:  # known from the block's first test: no need to let it settle
            assert _wait(lambda: case.good(r) >= N_CLEAN[block], HANG_S), "clean segment lost"
        else:
            N_CLEAN[block] = _settled(lambda: case.good(r))
        n_clean = N_CLEAN[block]
        assert n_clean > 0, f"{block}: the clean segment gave no good result"
        rng = np.random.default_rng([sum(map(ord, block)), sum(map(ord, name))])
        for _ in range(ROUNDS):
            g0 = case.good(r)
            r.src.push(attack(name, clean, rng))
            r.src.push(clean)
            stats["attacks"] += 1
            # a local attack (one bad sample ahead of clean frames) must keep its own frames
            want = g0 + n_clean * (2 if name in LOCAL else 1)
            ok = _wait(lambda want=want: case.good(r) >= want, HANG_S)
            log = capfd.readouterr()
            text = log.out + log.err
            if any(sign in text for sign in DEATH_SIGNS):
                stats["thread_deaths"] += 1
                raise AssertionError(f"{block} / {name}: a thread died:\n{text[-2000:]}")
            if not ok:
                if r.consumed() < r.src.pushed - 1024:
                    stats["hangs"] += 1
                    raise AssertionError(f"{block} / {name}: input not consumed in {HANG_S} s")
                stats["lost"] += 1
                raise AssertionError(
                    f"{block} / {name}: clean frames after the attack gave "
                    f"{case.good(r) - g0} good results, {want - g0} expected ({n_clean} per "
                    "clean segment)"
                )
    finally:
        r.stop()
