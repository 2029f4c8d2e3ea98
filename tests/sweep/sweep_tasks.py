"""Task functions of the sweep tests: module-level (so workers unpickle them by name) and pure
(each draws only from the seed in its kwargs)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np


def mc_block(point: float, seed: int, n: int = 2000) -> dict:
    """One Monte-Carlo seed block at one figure point: BPSK over AWGN at ``point`` dB, bit
    errors of ``n`` draws, plus the raw noise sum (a float whose every bit depends on the
    draws, so two engines agree bit for bit or not at all)."""
    rng = np.random.default_rng([seed, int(round(point * 1000))])
    bits = rng.integers(0, 2, n)
    noise = rng.standard_normal(n) * 10 ** (-point / 20)
    y = (1 - 2 * bits) + noise
    return {
        "point": point,
        "seed": seed,
        "errors": int(np.sum((y < 0) != bits.astype(bool))),
        "noise_sum": float(noise.sum()),
        "first": noise[:4].copy(),
    }


def logged(point: float, seed: int, calls_dir: str, sleep: float = 0.0) -> dict:
    """:func:`mc_block` that also leaves one file per call in ``calls_dir`` (the tests count
    what was computed), after ``sleep`` seconds."""
    time.sleep(sleep)
    Path(calls_dir, f"{point}_{seed}_{os.getpid()}_{time.time_ns()}").touch()
    return mc_block(point, seed, 500)


def crash_once(point: float, seed: int, marker_dir: str) -> dict:
    """Kills its own worker process (``os._exit``) on the first attempt at each point, then
    computes normally: the runner must rerun it elsewhere."""
    marker = Path(marker_dir, f"crashed_{point}_{seed}")
    if not marker.exists():
        marker.touch()
        os._exit(17)
    return mc_block(point, seed, 500)


def pid_then_sleep(point: float, seed: int, pid_dir: str, victim: float) -> dict:
    """At ``point == victim``, first attempt: write this worker's PID and sleep long (the test
    kills that PID from outside); otherwise a quick result."""
    if point == victim:
        mark = Path(pid_dir, "pid")
        if not mark.exists():
            tmp = Path(pid_dir, "pid.tmp")
            tmp.write_text(str(os.getpid()))
            tmp.rename(mark)
            time.sleep(60)
    time.sleep(0.05)
    return mc_block(point, seed, 500)


def fails_at(point: float, seed: int, bad: float, attempts_dir: str) -> dict:
    """Raises at ``point == bad`` every time (one file per attempt in ``attempts_dir``)."""
    if point == bad:
        Path(attempts_dir, f"attempt_{time.time_ns()}_{os.getpid()}").touch()
        raise ValueError(f"no convergence at point {point}")
    return mc_block(point, seed, 500)
