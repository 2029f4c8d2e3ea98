#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""One task runner for every sweep and Monte-Carlo loop (docs/sweeps.md).

A sweep is a list of :class:`Task` (a figure point, or one Monte-Carlo seed block of it), each
evaluated by one module-level pure function ``fn(**task.kwargs)``. Seeds travel inside the
kwargs, never per worker, and results come back in task order, so a sweep gives the same numbers
bit for bit on any engine and any number of workers.

Engines: ``local`` (processes on this machine, :mod:`concurrent.futures`) and ``ray``
(``ray.init(address=...)``: an existing cluster, or a local one started for the sweep when
``address`` is None). ``ray`` is imported only when that engine runs.

Robustness: with ``out_dir`` each finished task is written to ``<out_dir>/<name>/tasks/`` (one
file per task key, written to a temporary name and renamed), keyed by a hash of the function,
its module's source and the task's kwargs; a rerun loads the tasks whose hash matches and
computes only the others ("resumed N of M"). A task that raises, or whose worker dies, is run
again up to ``retries`` times; one that still fails is reported by name with its error in a
:class:`SweepError` raised after every other task has finished (and been saved).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import os
import pickle
import re
import struct
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "ENGINES",
    "SweepError",
    "SweepResults",
    "Task",
    "load_cached",
    "run_tasks",
    "task_hash",
    "task_threads",
    "tasks_dir",
]

ENGINES = ("local", "ray")
CACHE_FORMAT = "semdacom-sweep-task/1"
#: kwargs values whose pickle exceeds this are put in Ray's object store once per sweep
#: (one copy per node) instead of once per task
SHARED_ARG_BYTES = 64 * 1024


@dataclasses.dataclass(frozen=True)
class Task:
    """One unit of work: ``fn(**kwargs)``; ``key`` names it (unique within a sweep)."""

    key: str
    kwargs: dict


class SweepError(RuntimeError):
    """Tasks that kept failing after their retries; ``failures`` maps task key to error."""

    def __init__(self, name: str, failures: dict[str, str], total: int):
        self.name = name
        self.failures = dict(failures)
        self.total = total
        lines = [f"sweep {name!r}: {len(failures)} of {total} tasks failed after retries:"]
        lines += [f"  {key}: {err}" for key, err in failures.items()]
        super().__init__("\n".join(lines))


class SweepResults(list):
    """The results in task order (a list), with what the run did: ``resumed`` (tasks loaded
    from the task folder), ``computed`` (tasks run now), ``seconds`` (per task, the time the
    function itself took, measured in the worker; None for a resumed task whose file lacks it)
    and ``wall_s`` (the whole call)."""

    resumed: int = 0
    computed: int = 0
    seconds: list
    wall_s: float = 0.0


# ----------------------------------------------------------------------------------------------
# Task identity and the task folder
# ----------------------------------------------------------------------------------------------


def _fn_name(fn: Callable) -> str:
    return f"{fn.__module__}:{fn.__qualname__}"


def _check_fn(fn: Callable) -> None:
    if not callable(fn) or "<locals>" in fn.__qualname__ or fn.__name__ == "<lambda>":
        raise TypeError(f"fn must be a module-level function (picklable), got {fn!r}")


def _module_source_digest(fn: Callable) -> bytes:
    """sha256 of the source file of fn's module (b"" when it has none)."""
    try:
        path = inspect.getsourcefile(fn)
        return hashlib.sha256(Path(path).read_bytes()).digest() if path else b""
    except (OSError, TypeError):
        return b""


def _feed(h, obj: Any, depth: int = 0) -> None:
    """Feed a canonical encoding of ``obj`` to hash ``h`` (dict order, float bits, arrays)."""
    if depth > 50:
        raise ValueError("task kwargs nest too deeply to hash")
    t = type(obj)
    if obj is None or t is bool:
        h.update(b"N" if obj is None else (b"T" if obj else b"F"))
    elif t is int:
        h.update(b"i" + str(obj).encode() + b";")
    elif t is float:
        h.update(b"f" + struct.pack("<d", obj))
    elif t is str:
        b = obj.encode()
        h.update(b"s%d:" % len(b) + b)
    elif t is bytes:
        h.update(b"b%d:" % len(obj) + obj)
    elif isinstance(obj, os.PathLike):
        _feed(h, ("path", os.fspath(obj)), depth + 1)
    elif isinstance(obj, dict):
        items = sorted(obj.items(), key=lambda kv: repr(kv[0]))
        h.update(b"d%d{" % len(items))
        for k, v in items:
            _feed(h, k, depth + 1)
            _feed(h, v, depth + 1)
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update((b"l" if isinstance(obj, list) else b"t") + b"%d[" % len(obj))
        for v in obj:
            _feed(h, v, depth + 1)
        h.update(b"]")
    elif type(obj).__module__ == "numpy" and hasattr(obj, "dtype") and hasattr(obj, "tobytes"):
        import numpy as np

        a = np.ascontiguousarray(obj)
        h.update(b"a" + a.dtype.str.encode() + repr(a.shape).encode() + a.tobytes())
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        h.update(b"D" + _type_name(obj).encode())
        _feed(h, {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, depth + 1)
    elif hasattr(obj, "__dict__") and not callable(obj):
        h.update(b"O" + _type_name(obj).encode())
        _feed(h, vars(obj), depth + 1)
    elif callable(obj) and hasattr(obj, "__qualname__"):
        h.update(b"c" + f"{getattr(obj, '__module__', '')}:{obj.__qualname__}".encode())
    else:
        h.update(b"p" + _type_name(obj).encode() + pickle.dumps(obj, protocol=5))


def _type_name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def task_hash(fn: Callable, kwargs: dict) -> str:
    """Hex sha256 identifying ``fn(**kwargs)``: fn's qualified name, the source of fn's module
    and a canonical encoding of the kwargs (a changed kwarg or edited module recomputes)."""
    h = hashlib.sha256(CACHE_FORMAT.encode())
    h.update(_fn_name(fn).encode() + b"\0" + _module_source_digest(fn))
    _feed(h, kwargs)
    return h.hexdigest()


def tasks_dir(out_dir: str | os.PathLike, name: str) -> Path:
    """``<out_dir>/<name>/tasks``: where a sweep keeps its finished tasks."""
    return Path(out_dir) / name / "tasks"


def _file_name(key: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._=+-]", "_", key)[:150]
    if safe != key or safe.startswith("."):
        safe = f"{safe}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"
    return safe + ".pkl"


def load_cached(folder: Path, task: Task, digest: str) -> dict | None:
    """The saved record of ``task`` when its file exists and carries ``digest``, else None."""
    path = folder / _file_name(task.key)
    try:
        with open(path, "rb") as f:
            rec = pickle.load(f)
    except FileNotFoundError:
        return None
    except Exception:  # a truncated or foreign file: recompute it
        return None
    if not isinstance(rec, dict) or rec.get("format") != CACHE_FORMAT:
        return None
    if rec.get("hash") != digest or rec.get("key") != task.key:
        return None
    return rec


def _save(folder: Path, task: Task, digest: str, fn: Callable, result: Any, seconds: float):
    rec = {
        "format": CACHE_FORMAT,
        "key": task.key,
        "hash": digest,
        "fn": _fn_name(fn),
        "seconds": seconds,
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "result": result,
    }
    path = folder / _file_name(task.key)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        pickle.dump(rec, f, protocol=5)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------
# What runs in a worker
# ----------------------------------------------------------------------------------------------


def task_threads() -> int:
    """Compute threads of one task: ``SEMDACOM_TASK_THREADS`` of the driver, default 1.

    Every engine runs a task with this many torch threads, because torch's results depend on
    it in the last bits (measured: 1 vs 2 threads move the codec's MS-SSIM by 4e-9); N workers
    of one thread fill N cores. Ray gives its tasks OMP_NUM_THREADS=1 likewise."""
    return max(1, int(os.environ.get("SEMDACOM_TASK_THREADS", "1")))


def _timed_call(
    fn: Callable, threads: int, names: Sequence[str], *values: Any
) -> tuple[Any, float]:
    """``fn(**dict(zip(names, values)))`` with ``threads`` compute threads, and the seconds
    it took (runs in the worker; restores torch's thread count after, for the serial case)."""
    env = {var: os.environ.get(var) for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    os.environ.update(dict.fromkeys(env, str(threads)))  # for libraries that fn loads
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None and before != threads:
        torch.set_num_threads(threads)
    try:
        t0 = time.perf_counter()
        out = fn(**dict(zip(names, values, strict=True)))
        return out, time.perf_counter() - t0
    finally:
        for var, v in env.items():
            if v is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = v
        torch = sys.modules.get("torch")
        if torch is not None and before is not None and torch.get_num_threads() != before:
            torch.set_num_threads(before)
        elif torch is not None and before is None:
            torch.set_num_threads(threads)  # imported by fn: keep it at the tasks' count


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


# ----------------------------------------------------------------------------------------------
# Engines: each calls done(i, result, seconds) or failed(i, error) once per pending index
# ----------------------------------------------------------------------------------------------


def _run_local(tasks, pending, fn, workers, retries, done, failed) -> None:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    threads = task_threads()
    attempts = dict.fromkeys(pending, 0)
    queue = list(pending)
    queue.reverse()  # pop() from the end takes tasks in order
    # fork (as before the runner): workers need neither a guarded __main__ (spawn/forkserver
    # import the driver script again in each worker) nor a fresh import of torch; a task
    # function must not rely on thread pools the driver started (it gets its own seeds only)
    ctx = mp.get_context("fork")

    def settle(fut, i: int) -> bool:
        """Book a finished task (done, or retried/failed); True if its worker pool broke."""
        try:
            out, sec = fut.result()
        except BrokenProcessPool:
            err = "worker process died (BrokenProcessPool)"
            _retry_or_fail(i, err, attempts, retries, queue, failed)
            return True
        except Exception as exc:
            _retry_or_fail(i, _error_text(exc), attempts, retries, queue, failed)
        else:
            done(i, out, sec)
        return False

    while queue:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
        inflight: dict = {}
        broken = False
        try:
            while queue or inflight:
                while queue and len(inflight) < workers and not broken:
                    i = queue.pop()
                    t = tasks[i]
                    names = list(t.kwargs)
                    vals = (t.kwargs[n] for n in names)
                    fut = pool.submit(_timed_call, fn, threads, names, *vals)
                    inflight[fut] = i
                if not inflight:
                    break
                finished, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                for fut in finished:
                    if settle(fut, inflight.pop(fut)):
                        # a worker died (killed, os._exit, out of memory): every task then in
                        # flight is charged an attempt and requeued on a fresh pool
                        broken = True
                if broken:
                    for fut, i in list(inflight.items()):
                        settle(fut, i)
                    inflight.clear()
                    break
        finally:
            pool.shutdown(wait=not broken, cancel_futures=True)


def _retry_or_fail(i, err, attempts, retries, queue, failed) -> None:
    attempts[i] += 1
    if attempts[i] > retries:
        failed(i, f"{err} (after {attempts[i]} attempts)")
    else:
        queue.append(i)


def _run_serial(tasks, pending, fn, retries, done, failed) -> None:
    """``workers=0``: in this process, one task after another (debugging, profiling)."""
    for i in pending:
        t = tasks[i]
        for attempt in range(retries + 1):
            try:
                out, sec = _timed_call(fn, task_threads(), list(t.kwargs), *t.kwargs.values())
            except Exception as exc:
                if attempt == retries:
                    failed(i, f"{_error_text(exc)} (after {attempt + 1} attempts)")
            else:
                done(i, out, sec)
                break


def _ray_error_text(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return _error_text(cause)
    text = _error_text(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _run_ray(tasks, pending, fn, workers, address, retries, done, failed) -> None:
    try:
        import ray
    except ImportError as exc:
        raise ImportError(
            "--engine ray needs Ray: pip install ray==2.60.0 (requirements.txt)"
        ) from exc

    started = False
    if not ray.is_initialized():
        kw: dict[str, Any] = {"address": address, "log_to_driver": False}
        if address is None:  # a local cluster for this sweep
            kw.update(num_cpus=workers or os.cpu_count(), include_dashboard=False)
            # its workers run on this machine: let them import what this process imports
            # (a cluster's nodes instead need the package installed, docs/sweeps.md)
            path = [os.path.abspath(p) for p in sys.path if p and os.path.isdir(p)]
            kw["runtime_env"] = {"env_vars": {"PYTHONPATH": os.pathsep.join(path)}}
        ray.init(**kw)
        started = True
    inflight: dict = {}
    try:
        remote = ray.remote(num_cpus=1, max_retries=retries, retry_exceptions=True)(_timed_call)
        fn_ref = ray.put(fn)
        threads = task_threads()
        shared: dict[int, Any] = {}  # id(value) -> ObjectRef of a large kwargs value

        def arg(v: Any) -> Any:
            key = id(v)
            if key not in shared:
                try:
                    big = len(pickle.dumps(v, protocol=5)) > SHARED_ARG_BYTES
                except Exception:
                    big = False
                shared[key] = ray.put(v) if big else None
            return v if shared[key] is None else shared[key]

        limit = workers if (workers and address is not None) else len(pending)
        queue = list(reversed(pending))
        while queue or inflight:
            while queue and len(inflight) < max(1, limit):
                i = queue.pop()
                t = tasks[i]
                names = list(t.kwargs)
                vals = (arg(t.kwargs[n]) for n in names)
                ref = remote.remote(fn_ref, threads, names, *vals)
                inflight[ref] = i
            ready, _ = ray.wait(list(inflight), num_returns=1)
            for ref in ready:
                i = inflight.pop(ref)
                try:
                    out, sec = ray.get(ref)
                except Exception as exc:  # RayTaskError, WorkerCrashedError, ... after retries
                    failed(i, f"{_ray_error_text(exc)} (after {retries + 1} attempts)")
                else:
                    done(i, out, sec)
    except BaseException:
        for ref in inflight:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


# ----------------------------------------------------------------------------------------------
# The entry point
# ----------------------------------------------------------------------------------------------


def run_tasks(
    name: str,
    tasks: Sequence[Task],
    fn: Callable[..., Any],
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    out_dir: str | os.PathLike | None = None,
    retries: int = 2,
    progress: bool = True,
) -> SweepResults:
    """Evaluate ``fn(**t.kwargs)`` for every task; the results in task order.

    ``engine``: ``local`` (``workers`` processes, default the CPU count; ``0`` runs in this
    process) or ``ray`` (``address`` of an existing cluster, e.g. ``"head:6379"`` or ``"auto"``;
    None starts a local cluster of ``workers`` CPUs for the call). ``out_dir``: keep finished
    tasks in ``<out_dir>/<name>/tasks/`` and resume from them (None: keep nothing). ``retries``:
    extra attempts of a task that raises or whose worker dies. Raises :class:`SweepError` naming
    every task that still failed, after all the others finished.
    """
    from tqdm import tqdm

    t_start = time.perf_counter()
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if workers is not None and workers < 0:
        raise ValueError("workers must be >= 0")
    if engine == "ray" and workers == 0:
        raise ValueError("the ray engine needs workers >= 1 (or None)")
    _check_fn(fn)
    tasks = list(tasks)
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"task keys must be unique within a sweep; repeated: {dup[:5]}")

    n = len(tasks)
    results: list[Any] = [None] * n
    seconds: list[float | None] = [None] * n
    have = [False] * n
    folder = None
    digests: list[str] = []
    if out_dir is not None:
        folder = tasks_dir(out_dir, name)
        folder.mkdir(parents=True, exist_ok=True)
        digests = [task_hash(fn, t.kwargs) for t in tasks]
        for i, t in enumerate(tasks):
            rec = load_cached(folder, t, digests[i])
            if rec is not None:
                results[i], seconds[i], have[i] = rec["result"], rec.get("seconds"), True
    resumed = sum(have)
    if folder is not None and resumed:
        print(f"{name}: resumed {resumed} of {n} tasks from {folder}", file=sys.stderr)
    pending = [i for i in range(n) if not have[i]]
    failures: dict[str, str] = {}
    bar = tqdm(
        total=n,
        initial=resumed,
        desc=name,
        unit="task",
        disable=not progress,
        dynamic_ncols=True,
    )

    def done(i: int, out: Any, sec: float) -> None:
        results[i], seconds[i], have[i] = out, sec, True
        if folder is not None:
            _save(folder, tasks[i], digests[i], fn, out, sec)
        bar.update(1)

    def failed(i: int, err: str) -> None:
        failures[tasks[i].key] = err
        bar.update(1)
        bar.set_postfix(failed=len(failures))

    try:
        if pending:
            if engine == "ray":
                _run_ray(tasks, pending, fn, workers, address, retries, done, failed)
            elif workers == 0:
                _run_serial(tasks, pending, fn, retries, done, failed)
            else:
                w = min(workers or os.cpu_count() or 1, len(pending))
                _run_local(tasks, pending, fn, w, retries, done, failed)
    finally:
        bar.close()
    missing = [tasks[i].key for i in range(n) if not have[i] and tasks[i].key not in failures]
    for key in missing:  # an engine that lost a task without reporting it: never silent
        failures[key] = "no result came back"
    if failures:
        ordered = {t.key: failures[t.key] for t in tasks if t.key in failures}
        raise SweepError(name, ordered, n)
    out = SweepResults(results)
    out.resumed, out.computed = resumed, len(pending)
    out.seconds = seconds
    out.wall_s = time.perf_counter() - t_start
    return out
