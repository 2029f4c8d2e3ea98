#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Plumbing of the over-the-air blocks ``pilot_inserter``, ``frame_sync`` and
``csi_estimator`` (not a block): their common burst parameters and the queue that writes
whole bursts, with their tags, into one or several output streams in chunks, and the
``forecast``/``general_work`` they share (BurstBlock).
"""

from __future__ import annotations

import collections
import time
from typing import Any

import numpy as np
import pmt
from gnuradio.semdacom.plumbing.checks import check_finite, check_int

from semdacom.channel_coding import mcs as mcs_mod
from semdacom.channel_coding import ota

__all__ = ["BurstBlock", "BurstQueue", "burst_layout", "receiver_taps", "MAX_BUFFER"]

#: Most samples a receiving block buffers before it drops the oldest (a stream with no burst
#: in it must not grow memory without bound).
MAX_BUFFER = 1 << 22


def burst_layout(
    k: int, n_t: int, preamble_len: int, n_pilots: int, header_mcs: int, payload_len: int,
    guard: int = 0, pilot_spacing: int = ota.PILOT_SPACING,
) -> ota.BurstLayout:  # fmt: skip
    """The burst layout from block parameters (ValueError with the reason for bad ones);
    ``pilot_spacing``: payload samples between the pilot blocks inside the payload (0: none)."""
    k = check_int("k", k, 1, 255)
    n_t = check_int("n_t", n_t, 1, 255)
    preamble_len = check_int("preamble_len", preamble_len, 3, 1 << 16)
    n_pilots = check_int("n_pilots", n_pilots, 2, 1 << 16)
    header_mcs = check_int("header_mcs", header_mcs, 0, len(mcs_mod.MCS_TABLE) - 1)
    payload_len = check_int("payload_len", payload_len, 1, 1 << 24)
    guard = check_int("guard", guard, 0, 1 << 24)
    pilot_spacing = check_int("pilot_spacing", pilot_spacing, 0, 1 << 24)
    if 0 < pilot_spacing < n_pilots:
        raise ValueError(f"pilot_spacing {pilot_spacing} must be 0 or >= n_pilots {n_pilots}")
    return ota.BurstLayout(k, n_t, preamble_len, n_pilots, header_mcs, payload_len, guard,
                           pilot_spacing)  # fmt: skip


def receiver_taps(taps: Any, precursor: Any) -> tuple[int, int]:
    """The receiver's channel taps and how many lie before the main path (ValueError for
    bad ones): ``1 <= taps <= 64``, ``0 <= precursor < taps``."""
    taps = check_int("taps", taps, 1, 64)
    precursor = check_int("precursor", precursor, 0, taps - 1)
    return taps, precursor


def pilot_power(value: Any) -> float:
    """The per-antenna pilot power parameter (watts, > 0)."""
    p = check_finite("pilot_power", value, 0.0)
    if p <= 0:
        raise ValueError(f"pilot_power must be positive, got {value!r}")
    return p


class BurstQueue:
    """Bursts waiting to be written: each is ``(samples (n_out, m), tags)`` with tags as
    ``(position in the burst, key, pmt value)``; :meth:`write` copies as much as the output
    buffers take and puts every tag on its absolute output offset."""

    def __init__(self, n_out: int) -> None:
        self.n_out = int(n_out)
        self._q: collections.deque = collections.deque()
        self._pos = 0

    def __len__(self) -> int:
        return len(self._q)

    def put(self, samples: np.ndarray, tags: list[tuple[int, str, Any]]) -> None:
        samples = np.asarray(samples, dtype=np.complex64).reshape(self.n_out, -1)
        self._q.append((samples, sorted(tags, key=lambda t: t[0])))

    def write(self, block, outputs) -> int:
        """Fill ``outputs`` (the same count on each); returns the items written."""
        room = min(len(o) for o in outputs)
        done = 0
        while self._q and done < room:
            samples, tags = self._q[0]
            n = min(room - done, samples.shape[1] - self._pos)
            base = block.nitems_written(0) + done
            for pos, key, value in tags:
                if self._pos <= pos < self._pos + n:
                    for o in range(self.n_out):
                        block.add_item_tag(o, base + pos - self._pos, pmt.intern(key), value)
            for o in range(self.n_out):
                outputs[o][done : done + n] = samples[o, self._pos : self._pos + n]
            self._pos += n
            done += n
            if self._pos >= samples.shape[1]:
                self._q.popleft()
                self._pos = 0
        return done


class BurstBlock:
    """``forecast`` and ``general_work`` of a block that takes a stream and writes whole bursts
    (``pilot_inserter``, ``frame_sync``, ``csi_estimator``): mix in before
    ``gr.basic_block``; the block sets ``self._out`` (a :class:`BurstQueue`) and defines
    ``_take(input_items, n)``, which takes the next ``n`` items of every input, and may define
    ``_has_work()`` and ``_step()`` to do buffered work a piece per call (``csi_estimator``:
    one burst per call, so that each output leaves as soon as it is ready). ``work`` never
    ends the thread: an error is logged (and counted in ``WORK_ERRORS`` when it names a
    counter); the items are consumed all the same."""

    WORK_ERRORS: str | None = None
    #: pieces of buffered work one call does at most while none has output (a burst with no
    #: frame for this user, a beacon): each ``_step`` must make progress
    MAX_STEPS = 256

    def _has_work(self) -> bool:
        """Whether the block has buffered work left without new input (then ``general_work``
        calls ``_step()``, which does one piece of it)."""
        return False

    def forecast(self, noutput_items, ninputs):
        return [0 if len(self._out) or self._has_work() else 1] * ninputs

    def general_work(self, input_items, output_items):
        n = min(len(x) for x in input_items)
        t0 = time.thread_time()
        try:
            if n:
                self._take(input_items, n)
            steps = 0  # pieces of buffered work until one has output (see MAX_STEPS)
            while not len(self._out) and self._has_work() and steps < self.MAX_STEPS:
                self._step()
                steps += 1
        except Exception as exc:  # work() must never end the thread
            if self.WORK_ERRORS is not None:
                self._counts[self.WORK_ERRORS] += 1
            self.logger.error(f"work: {type(exc).__name__}: {exc}")
        if n:
            self.consume_each(n)
        out = self._out.write(self, output_items)
        self.add_busy("work", time.thread_time() - t0)  # Block.busy_s (bench/block_profile.py)
        return out
