"""semdacom._blas.one_thread: BLAS on one thread inside the block, the previous setting after
it, and the equaliser's small solves (phy/equalizer.py) unchanged by it."""

from __future__ import annotations

import numpy as np
from threadpoolctl import ThreadpoolController

from semdacom._blas import one_thread
from semdacom.phy.equalizer import _lstsq, _solve


def _threads() -> set[int]:
    return {i["num_threads"] for i in ThreadpoolController().select(user_api="blas").info()}


def test_one_thread_inside_and_restored_after():
    ctl = ThreadpoolController().select(user_api="blas")
    with ctl.limit(limits=2):
        before = _threads()
        with one_thread():
            assert _threads() == {1}
        assert _threads() == before


def test_small_solves_match_the_definition():
    rng = np.random.default_rng(0)
    m = rng.standard_normal((5, 12, 12)) + 1j * rng.standard_normal((5, 12, 12))
    a = m @ np.conj(np.swapaxes(m, 1, 2)) + np.eye(12)
    b = rng.standard_normal((5, 12, 3)) + 1j * rng.standard_normal((5, 12, 3))
    x = _solve(a, b)
    assert np.allclose(a @ x, b)
    A = rng.standard_normal((300, 8)) + 1j * rng.standard_normal((300, 8))
    y = A @ (np.arange(8) + 1j) + 1e-3 * rng.standard_normal(300)
    assert np.allclose(_lstsq(A, y), np.linalg.lstsq(A, y, rcond=None)[0], atol=1e-6)
    assert np.all(_lstsq(np.zeros((20, 3)), np.zeros(20)) == 0)  # no training energy: zeros


def test_a_blas_loaded_after_the_first_use_is_limited_too(monkeypatch):
    """The libraries are found again when modules were imported since the last search (CI
    imported one after the first ``one_thread``: it stayed at 2 threads inside)."""
    import semdacom._blas as blas

    with one_thread():
        pass
    monkeypatch.setattr(blas, "_LIBS", [])  # as if found before any BLAS was loaded
    ctl = ThreadpoolController().select(user_api="blas")
    with ctl.limit(limits=2):
        monkeypatch.setattr(blas, "_LIBS_AT", -1)  # modules imported since
        with one_thread():
            assert _threads() == {1}


def test_one_thread_limits_every_thread_not_only_the_first():
    """threadpoolctl lets only one live thread change OpenBLAS's pool; a flowgraph's block
    threads (or an earlier test's) must not take the limit away from the others (CI failed
    here after the flowgraph tests)."""
    import threading

    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with one_thread():
            entered.set()
        release.wait(10)

    t = threading.Thread(target=other)
    t.start()
    try:
        assert entered.wait(10)
        before = _threads()
        with one_thread():
            assert _threads() == {1}
        assert _threads() == before
    finally:
        release.set()
        t.join()
