#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Plumbing every block shares (not a block): guarded handlers, the allocation schedule, the
effective channel of a receiver, erasure PDUs, parameter checks and frame transmission.

One copy of each: a block that needs one of these uses it from here.
"""

from __future__ import annotations

import bisect
import math
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pmt
from gnuradio.semdacom import messages

from semdacom.phy.beamforming import effective_channel

__all__ = [
    "AllocationSchedule",
    "ChannelState",
    "FrameTx",
    "check_choice",
    "check_finite",
    "check_int",
    "describe",
    "erasure_meta",
    "frame_of",
    "guarded",
    "is_user",
    "pdu_or_bare",
    "PduWorker",
    "AllocationPublisher",
    "salvage_meta",
]

#: Longest erasure reason written into metadata (characters).
MAX_REASON = 200


# --------------------------------------------------------------------------------------------
# Guarded handlers, log text
# --------------------------------------------------------------------------------------------


def describe(msg: Any) -> str:
    """Short text of a message for the log (never fails)."""
    try:
        text = pmt.write_string(msg) if isinstance(msg, pmt.pmt_base) else type(msg).__name__
    except Exception:  # a description must never fail
        text = type(msg).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def guarded(logger, counts: dict, counter: str, handler: Callable[[Any], None], msg: Any) -> None:
    """Run a handler so that no exception escapes into the scheduler thread: a
    :class:`messages.MessageError` or any other error is logged, counted in
    ``counts[counter]`` and the message is dropped."""
    try:
        handler(msg)
    except messages.MessageError as exc:
        counts[counter] += 1
        logger.error(f"dropped message: {exc}")
    except Exception as exc:  # a handler must never kill the thread
        counts[counter] += 1
        logger.error(f"dropped message after {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


def check_int(name: str, value: Any, lo: int = 0, hi: int | None = None) -> int:
    """A block parameter that must be an integer in ``[lo, hi]``; raises ValueError."""
    ok = not isinstance(value, bool)
    try:
        ok = ok and int(value) == value
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be an integer {rng}, got {value!r}")
    return int(value)


def check_finite(name: str, value: Any, lo: float | None = None) -> float:
    """A block parameter that must be a finite real (``>= lo`` when given); raises ValueError."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = math.nan
    if isinstance(value, bool) or not math.isfinite(out) or (lo is not None and out < lo):
        extra = "" if lo is None else f" and >= {lo}"
        raise ValueError(f"{name} must be finite{extra}, got {value!r}")
    return out


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """A block parameter that must be one of ``choices``; raises ValueError."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


# --------------------------------------------------------------------------------------------
# Metadata and erasures
# --------------------------------------------------------------------------------------------


def is_user(value: Any, user: int) -> bool:
    """``value`` (a meta or tag entry) names user ``user``: an integer equal to it, not a bool,
    an array or anything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value == user


def frame_of(meta: dict) -> int | None:
    """The frame number a PDU's meta carries (a non-negative integer), or None."""
    frame = meta.get("frame")
    if isinstance(frame, (int, np.integer)) and not isinstance(frame, bool) and frame >= 0:
        return int(frame)
    return None


def salvage_meta(msg: Any) -> dict:
    """Whatever metadata a malformed PDU still carries (empty dict when none)."""
    try:
        if isinstance(msg, pmt.pmt_base) and pmt.is_pair(msg) and not pmt.is_dict(msg):
            car = pmt.car(msg)
            if pmt.is_dict(car):
                meta = messages.meta_from_pmt(car)
                return {k: v for k, v in meta.items() if isinstance(k, str)}
    except Exception:  # salvage is best effort (non-symbol keys, deep nesting, ...)
        pass
    return {}


def erasure_meta(meta: dict, reason: str, user: int, drop: Sequence[str] = ()) -> dict:
    """The meta of an erasure: ``meta`` without the keys ``drop``, with ``erased`` true,
    ``erasure_reason`` (at most 200 characters) and ``user`` (kept when present)."""
    out = {k: v for k, v in meta.items() if k not in drop}
    out.update(
        {"erased": True, "erasure_reason": str(reason)[:MAX_REASON], "user": out.get("user", user)}
    )
    return out


def pdu_or_bare(build: Callable[[dict, Any], Any], meta: dict, payload: Any) -> Any:
    """``build(meta, payload)``; when the meta cannot be written as PMT, the same payload with
    only the meta keys every result has (``user``, ``erased``, ``erasure_reason``,
    ``image_id``, ``frame``) that can be written."""
    try:
        return build(meta, payload)
    except Exception:  # meta itself cannot be written: send the bare result
        bare = {}
        for key in ("user", "erased", "erasure_reason", "image_id", "frame"):
            if key in meta:
                try:
                    messages.meta_to_pmt({key: meta[key]})
                    bare[key] = meta[key]
                except Exception:  # a key with no PMT form is left out
                    continue
        return build(bare, payload)


# --------------------------------------------------------------------------------------------
# Allocations
# --------------------------------------------------------------------------------------------


class AllocationSchedule:
    """Pending allocations applied at frame boundaries: the Python twin of the C++
    ``allocation_schedule`` (include/gnuradio/semdacom/allocation_schedule.h).

    :meth:`push` takes an allocation whose ``seq`` is newer than every ``seq`` pushed before
    (the first one is always taken) and returns False, taking nothing, for an older or equal
    one. :meth:`on_frame` applies, in ``apply_frame`` order (arrival order within a frame),
    every queued allocation with ``apply_frame <= frame``: each key of ``keys`` it carries
    overrides the value in force. ``on_frame(None)`` (a PDU without a frame number) applies
    every queued allocation. The values in force are read with :meth:`get`.
    """

    def __init__(self, keys: Sequence[str], initial: dict | None = None) -> None:
        self.keys = tuple(keys)
        self._state: dict[str, Any] = dict(initial or {})
        self._pending: list[messages.Allocation] = []
        self._frames: list[int] = []  # apply_frame of each pending allocation
        self.last_seq: int | None = None
        self.applied_seq: int | None = None

    def push(self, alloc: messages.Allocation) -> bool:
        """Queue ``alloc``; False (nothing queued) when its seq is not newer."""
        if self.last_seq is not None and alloc.seq <= self.last_seq:
            return False
        self.last_seq = int(alloc.seq)
        pos = bisect.bisect_right(self._frames, alloc.apply_frame)
        self._frames.insert(pos, int(alloc.apply_frame))
        self._pending.insert(pos, alloc)
        return True

    def accept(self, alloc: messages.Allocation) -> None:
        """:meth:`push`, raising MessageError for an allocation that is not newer."""
        if not self.push(alloc):
            raise messages.MessageError(
                f"allocation seq={alloc.seq} is not newer than seq={self.last_seq}"
            )

    def on_frame(self, frame: int | None) -> bool:
        """Apply every queued allocation due at ``frame``; True if one was applied."""
        n = 0
        while n < len(self._pending) and (frame is None or self._frames[n] <= frame):
            a = self._pending[n]
            for key in self.keys:
                value = getattr(a, key)
                if value is not None:
                    self._state[key] = value
            self.applied_seq = int(a.seq)
            n += 1
        del self._pending[:n]
        del self._frames[:n]
        return n > 0

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` in force (``default`` while none was applied)."""
        return self._state.get(key, default)

    @property
    def pending(self) -> int:
        return len(self._pending)


# --------------------------------------------------------------------------------------------
# The effective channel of a receiver
# --------------------------------------------------------------------------------------------


class ChannelState:
    """CSI and beams of one receiving user, and its effective channel (eqs. 6-7).

    ``csi`` is the last valid CSI; the beams are ``power`` and ``w`` in force in ``schedule``.
    :meth:`channel` returns ``(g, N0, source)``: with CSI and beams of the CSI's shape,
    ``g = sqrt(p_u) h_u^H w_u`` and ``N0 = sigma_u^2 + sum_{j != u} p_j |h_u^H w_j|^2``
    (:func:`core.beamforming.effective_channel`, source ``"csi"``); otherwise the fixed
    ``snr_db`` (``g = 1``, ``N0 = 10^(-snr_db/10)``, ``"fixed"``) or, with no ``snr_db``,
    ``(None, None, "none")``. The message limits of :mod:`messages` keep ``g`` and ``N0``
    finite; a non-finite result falls back as a shape mismatch does.

    CSI is frame-exact like allocations: :meth:`set_csi` queues a CSI that carries ``frame``
    (the first frame of that channel) and :meth:`on_frame` puts it in force from that frame
    on, so frames still in flight when the channel changed are decoded with the channel they
    crossed; CSI without ``frame`` (or ``on_frame(None)``) is in force at once.
    """

    #: queued CSI kept at most (the oldest goes into force when more arrive)
    MAX_PENDING_CSI = 64

    def __init__(self, user: int, snr_db: float | None, schedule: AllocationSchedule) -> None:
        self.user = int(user)
        self.snr_db = snr_db
        self.schedule = schedule
        self.csi: messages.Csi | None = None
        self._pending_csi: list[messages.Csi] = []  # sorted by frame
        self.mismatch = False  # CSI and beams are known but cannot be combined

    def set_csi(self, csi: messages.Csi) -> None:
        """Queue ``csi`` for its ``frame`` (in force at once when it has none)."""
        if csi.frame is None:
            self._pending_csi.clear()
            self.csi = csi
            return
        pos = bisect.bisect_right([c.frame for c in self._pending_csi], csi.frame)
        self._pending_csi.insert(pos, csi)
        if len(self._pending_csi) > self.MAX_PENDING_CSI:
            self.csi = self._pending_csi.pop(0)

    def on_frame(self, frame: int | None) -> None:
        """Put in force every queued CSI whose ``frame`` is at most ``frame`` (all: None)."""
        while self._pending_csi and (frame is None or self._pending_csi[0].frame <= frame):
            self.csi = self._pending_csi.pop(0)

    def channel(self) -> tuple[complex | None, float | None, str]:
        p, w = self.schedule.get("power"), self.schedule.get("w")
        self.mismatch = False
        if self.csi is not None and p is not None and w is not None:
            h = self.csi.h
            if w.shape == h.shape and p.size == h.shape[0]:
                g, n0 = effective_channel(h, self.csi.noise_var, p, w, self.user)
                if math.isfinite(abs(g)) and math.isfinite(n0):
                    return g, n0, "csi"
            self.mismatch = True
        if self.snr_db is not None:
            return 1.0 + 0.0j, 10.0 ** (-self.snr_db / 10.0), "fixed"
        return None, None, "none"

    def sinr(self) -> tuple[float | None, str]:
        """Linear SINR ``|g|^2 / N0`` in force (inf for N0 = 0) and its source."""
        g, n0, source = self.channel()
        if g is None:
            return None, source
        s = abs(g) ** 2 / n0 if n0 > 0 else math.inf
        return float(s), source


# --------------------------------------------------------------------------------------------
# The allocation an optimiser block has in force
# --------------------------------------------------------------------------------------------


class AllocationPublisher:
    """The allocation a CSI-driven optimiser block (``mu_ascc_optimizer``, ``sfma_optimizer``)
    has in force, and how it leaves on the ``alloc`` port.

    :meth:`publish` sends a new allocation (and keeps it with the channel ``key`` it was
    solved for); :meth:`repeat` sends the one in force again when the same channel comes
    back; :meth:`fail` logs why a CSI gave no new allocation and re-publishes the one in
    force (nothing before the first), so downstream blocks keep their last good state.
    ``counts`` gets ``alloc_out`` and ``republished``; ``reason`` is the last failure ("" after
    a success). Nothing here raises: a failure to publish is kept in ``reason``.
    """

    def __init__(self, block, port: Any, counts: dict, logger) -> None:
        self._block, self._port, self._counts, self._logger = block, port, counts, logger
        self.msg: Any | None = None
        self.alloc: Any | None = None
        self.key: Any | None = None
        self.reason = ""

    def _send(self, msg: Any, republished: bool) -> None:
        self._block.message_port_pub(self._port, msg)
        self._counts["alloc_out"] += 1
        if republished:
            self._counts["republished"] += 1

    def publish(self, msg: Any, alloc: Any, key: Any) -> None:
        """Send a new allocation ``msg`` (``alloc``: its parsed form) solved for ``key``."""
        self.msg, self.alloc, self.key, self.reason = msg, alloc, key, ""
        self._send(msg, republished=False)

    def repeat(self, key: Any) -> bool:
        """Re-publish the allocation in force if it was solved for ``key``; False otherwise."""
        if self.msg is None or key != self.key:
            return False
        self.reason = ""
        self._send(self.msg, republished=True)
        return True

    def apply_frame(self, csi_frame: int | None, lead: int) -> int:
        """``apply_frame`` of an allocation solved for CSI of ``csi_frame`` (the first frame
        of that channel): ``csi_frame + lead``, the first allocation at ``csi_frame`` itself
        (nothing is in force to switch from); 0 (at once) with ``lead < 0`` or no frame."""
        if lead < 0 or csi_frame is None:
            return 0
        return int(csi_frame) if self.msg is None else int(csi_frame) + int(lead)

    def fail(self, reason: str) -> None:
        """Log ``reason`` and re-publish the allocation in force (if any)."""
        self.reason = reason
        try:
            if self.msg is None:
                self._logger.error(f"{reason}; no valid allocation yet, nothing published")
                return
            self._logger.error(f"{reason}; re-publishing allocation seq={self.alloc.seq}")
            self._send(self.msg, republished=True)
        except Exception as exc:  # even re-publishing must not end the thread
            self.reason = f"{reason}; {type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------------------
# Work off the message thread
# --------------------------------------------------------------------------------------------


class PduWorker:
    """A thread that handles a message block's PDUs in arrival order, off the message thread.

    GNU Radio drains one input message port before it looks at the next, so a block whose
    PDU handler is slow (a neural encoder) and whose PDUs keep coming would handle its
    ``cmd`` port only after the PDUs stop: allocations arrive late. With the slow work here,
    the PDU handler only queues and returns, and ``cmd`` is handled at once. ``fn`` must not
    raise (it is the block's own guarded handler). Without :meth:`start` (a block used outside
    a running flowgraph) :meth:`submit` calls ``fn`` at once; :meth:`stop` handles what is
    still queued before it returns, so every PDU in gives its result out.
    """

    def __init__(self, fn: Callable[[Any], None], name: str) -> None:
        self._fn = fn
        self._name = name
        self._q: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def submit(self, item: Any) -> None:
        if self._thread is None:
            self._fn(item)
        else:
            self._q.put(item)

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _STOP:
                return
            self._fn(item)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._q.put(_STOP)
            self._thread.join()
            self._thread = None


_STOP = object()


# --------------------------------------------------------------------------------------------
# Stream transmission
# --------------------------------------------------------------------------------------------


class FrameTx:
    """The frame a stream-source block is sending: ``(symbols, tags)``, written in chunks.

    The tags (``(key, pmt value)`` pairs) go on the frame's first item.
    """

    def __init__(self) -> None:
        self._frame: tuple[Any, list] | None = None
        self._pos = 0

    @property
    def idle(self) -> bool:
        """No frame is being sent."""
        return self._frame is None

    @property
    def fresh(self) -> bool:
        """A frame is waiting whose first item has not been written yet."""
        return self._frame is not None and self._pos == 0

    def start(self, frame: tuple[Any, list]) -> None:
        self._frame, self._pos = frame, 0

    def write(self, block, out) -> tuple[int, bool]:
        """Copy the next chunk into ``out``; returns ``(items written, frame finished)``."""
        sym, tags = self._frame
        if self._pos == 0:
            off = block.nitems_written(0)
            for key, val in tags:
                block.add_item_tag(0, off, pmt.intern(key), val)
        n = min(len(out), sym.size - self._pos)
        out[:n] = sym[self._pos : self._pos + n]
        self._pos += n
        if self._pos >= sym.size:
            self._frame = None
            return n, True
        return n, False
