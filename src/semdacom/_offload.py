#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""A helper process that runs algorithm functions off the caller's interpreter lock (issue 23).

A flowgraph's Python blocks share one interpreter lock, and outside numpy's and torch's own
loops only one of them runs at a time: the user receiver's Python blocks took about 25 ms of
CPU per 20 ms burst period, serialised, whatever the cores. :class:`Offload` starts one helper
interpreter (``python -m semdacom._offload``, which imports only the function's module: no GNU
Radio, no flowgraph) and :meth:`Offload.call` sends it ``fn(*args)``: the caller waits in a
pipe read, without the lock, while the helper computes on another core and the flowgraph's
other Python blocks run. One call at a time, in order; ``fn`` is a module-level function
(pickled by reference), its arguments and result are pickled.

An exception ``fn`` raises comes back and is raised by :meth:`call` (or a ``RuntimeError``
naming it when it cannot be pickled). A helper that dies, or a pipe that breaks, raises
:class:`OffloadDied`; the caller then computes in its own thread (``csi_estimator`` does, and
counts it) — nothing waits for ever: every read has the helper's exit as its end.

The helper's standard output carries the replies only: whatever the function prints goes to
standard error.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
import threading
from typing import Any

__all__ = ["Offload", "OffloadDied"]


class OffloadDied(RuntimeError):
    """The helper process is gone (it crashed, was killed, or its pipe broke)."""


class Offload:
    """One helper process (module text). ``start`` it, ``call`` functions, ``stop`` it."""

    def __init__(self, name: str = "semdacom-offload") -> None:
        self.name = name
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        #: calls answered by the helper
        self.calls = 0

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, *preload: str) -> None:
        """Start the helper (a no-op when it runs) and import the modules ``preload`` there
        (so that the first call does not wait for them). Raises OffloadDied when it cannot,
        ImportError for a module that is not there."""
        if self.alive:
            return
        self.stop()
        env = dict(os.environ)
        # the helper finds the packages this interpreter found (a venv, a prefix, a checkout)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        # one burst at a time: BLAS and OpenMP pools would only spin beside the flowgraph
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "semdacom._offload", self.name],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            self._proc = None
            raise OffloadDied(f"{self.name}: cannot start the helper: {exc}") from exc
        self.call(_ping)  # the helper is up and answering
        for module in preload:
            self.call(_preload, module)

    def call(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` in the helper; its result, or the exception it raised."""
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                raise OffloadDied(f"{self.name}: the helper is not running")
            try:
                pickle.dump((fn.__module__, fn.__qualname__, args), proc.stdin, protocol=5)
                proc.stdin.flush()
                ok, value = pickle.load(proc.stdout)
            except (OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
                # ValueError: a pipe closed under the call (stop() from another thread)
                self._kill()
                raise OffloadDied(f"{self.name}: the helper died ({type(exc).__name__})") from exc
            self.calls += 1
        if ok:
            return value
        raise value

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for f in (proc.stdin, proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        if proc.poll() is None:
            proc.kill()
        proc.wait()

    def stop(self) -> None:
        """End the helper (it exits at the end of its input); kill it if it does not."""
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        try:
            proc.stdout.close()
        except OSError:
            pass

    def __del__(self) -> None:  # a forgotten helper must not outlive its owner
        try:
            self._kill()
        except Exception:
            pass


def _ping() -> bool:
    return True


def _preload(module: str) -> None:
    importlib.import_module(module)


def _serve(inp, out) -> None:
    """The helper's loop: read ``(module, qualname, args)``, reply ``(True, result)`` or
    ``(False, exception)``, until the input ends."""
    funcs: dict[tuple[str, str], Any] = {}
    while True:
        try:
            module, qualname, args = pickle.load(inp)
        except EOFError:
            return
        try:
            key = (module, qualname)
            if key not in funcs:
                obj: Any = importlib.import_module(module)
                for part in qualname.split("."):
                    obj = getattr(obj, part)
                funcs[key] = obj
            reply: tuple[bool, Any] = (True, funcs[key](*args))
        except Exception as exc:  # the caller raises it
            reply = (False, exc)
        try:
            data = pickle.dumps(reply, protocol=5)
        except Exception as exc:  # an unpicklable result or exception
            data = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")), protocol=5)
        out.write(data)
        out.flush()


def main() -> None:
    # the replies own the original standard output; anything printed goes to standard error
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    inp = os.fdopen(os.dup(0), "rb")
    try:
        _serve(inp, out)
    except (BrokenPipeError, KeyboardInterrupt):
        pass


if __name__ == "__main__":
    main()
