"""semdacom._offload: a helper process runs module-level functions off the caller's interpreter
lock: results and exceptions come back, the caller's other threads run meanwhile, what the
function prints does not corrupt the replies, and a dead helper raises OffloadDied (never a
hang) and can be started again."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from semdacom._offload import Offload, OffloadDied


@pytest.fixture
def helper():
    h = Offload("test-offload")
    h.start()
    yield h
    h.stop()


def test_results_and_exceptions_come_back(helper) -> None:
    assert helper.call(math.hypot, 3.0, 4.0) == 5.0
    x = np.arange(10.0)
    assert np.array_equal(helper.call(np.cumsum, x), np.cumsum(x))
    with pytest.raises(ValueError, match="math domain error"):
        helper.call(math.sqrt, -1.0)
    assert helper.call(print, "to standard error, not into the replies") is None
    assert helper.call(math.hypot, 6.0, 8.0) == 10.0  # the replies are still in step


def test_the_caller_waits_without_the_interpreter_lock(helper) -> None:
    """While one thread waits for a 0.5 s call, another thread of the caller runs Python."""
    counted = []

    def spin() -> None:
        n, t_end = 0, time.monotonic() + 0.4
        while time.monotonic() < t_end:
            n += 1
        counted.append(n)

    t = threading.Thread(target=spin)
    t0 = time.monotonic()
    t.start()
    helper.call(time.sleep, 0.5)
    t.join()
    assert time.monotonic() - t0 < 2.0
    assert counted[0] > 10_000  # it ran the whole time the caller waited


def test_a_dead_helper_raises_and_can_be_started_again(helper) -> None:
    helper._proc.kill()
    helper._proc.wait()
    assert not helper.alive
    with pytest.raises(OffloadDied):
        helper.call(math.hypot, 1.0, 1.0)
    helper.start()
    assert helper.alive and helper.call(math.hypot, 3.0, 4.0) == 5.0


def test_preloaded_modules_and_a_missing_one() -> None:
    h = Offload()
    try:
        h.start("semdacom.phy.pilots")
        assert h.call(math.hypot, 3.0, 4.0) == 5.0
    finally:
        h.stop()
    with pytest.raises(ImportError):
        h.start("semdacom.no_such_module")
    h.stop()


def test_stop_ends_the_helper() -> None:
    h = Offload()
    h.start()
    proc = h._proc
    h.stop()
    assert proc.poll() is not None and not h.alive
    with pytest.raises(OffloadDied):
        h.call(math.hypot, 1.0, 1.0)
