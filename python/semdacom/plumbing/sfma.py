#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Shared plumbing of the SC-SFMA blocks (not a block): the process-wide transceiver, the SFMA
part of the allocation (``pairs``, ``nu``, ``group_power``, ``group_bw`` on
``schedule.AllocationSchedule``), tag reading, the
frame-exact per-user channel gain of the SFMA CSI and the frame walk of the multi-input
stream blocks (FrameWalker).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import numpy as np
import pmt
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.codec import check_device
from gnuradio.semdacom.plumbing.meta import to_int
from gnuradio.semdacom.plumbing.schedule import AllocationSchedule

__all__ = [
    "FrameWalker",
    "GainSchedule",
    "SfmaCommands",
    "check_pairs",
    "frame_tags",
    "noise_w_per_hz",
    "shared_sfma",
]


def shared_sfma(weights: str, device: str = "auto") -> Any:
    """The process-wide SC-SFMA transceiver (``semdacom.sc_sfma.transceiver.shared_transceiver``) of
    ``weights``: "" = the shipped ``sc_sfma``, a variant name (``sc_sfma``,
    ``swinjscc_noma``) or a weights file, on ``device`` (``plumbing.codec.check_device``).
    Only the superposing (NOMA) transceivers fit these blocks. torch is imported here, when a
    block is built."""
    from semdacom.sc_sfma.transceiver import SfmaTransceiver, shared_transceiver

    model = shared_transceiver(weights or "sc_sfma", device=check_device(device))
    if not isinstance(model, SfmaTransceiver) or model.oma:
        raise ValueError(
            f"weights {weights!r} are not a superposing SfmaTransceiver (sc_sfma or swinjscc_noma)"
        )
    return model


def noise_w_per_hz(noise_dbm_hz: float) -> float:
    """N0 in W/Hz from dBm/Hz."""
    return 10.0 ** ((float(noise_dbm_hz) - 30.0) / 10.0)


def check_pairs(pairs: Sequence[int], k: int) -> np.ndarray:
    """A fixed pairing parameter: a perfect matching of the ``k`` users as ``2M`` indices
    (group m serves ``pairs[2m]``, ``pairs[2m+1]``); empty = (0, 1), (2, 3), ...
    Raises ValueError."""
    p = np.arange(k, dtype=np.int32) if len(pairs) == 0 else np.asarray(pairs).reshape(-1)
    if p.size != k or not np.array_equal(np.sort(p), np.arange(k)):
        raise ValueError(f"pairs must be a perfect matching of the {k} users, got {list(pairs)!r}")
    return p.astype(np.int32)


class SfmaCommands:
    """The SFMA allocation of ``cmd``: validated by ``messages.check_sfma_alloc`` for ``k``
    users, queued on an ``AllocationSchedule`` of ``keys`` and applied from ``apply_frame``
    (one whose ``seq`` is not newer than the last one taken is dropped)."""

    def __init__(self, k: int, keys: Sequence[str], initial: dict) -> None:
        self.k = int(k)
        self.sched = AllocationSchedule(tuple(keys), initial)

    def accept(self, msg: Any) -> None:
        """Validate and queue an allocation; raises MessageError."""
        alloc = messages.check_sfma_alloc(messages.alloc_from_pmt(msg), self.k)
        self.sched.accept(alloc)

    def at(self, frame: int | None) -> dict:
        """Apply what is due at ``frame``; the values in force and ``seq`` (None: fixed)."""
        self.sched.on_frame(frame)
        out = {key: self.sched.get(key) for key in self.sched.keys}
        out["seq"] = self.sched.applied_seq
        return out


def frame_tags(block, port: int, n: int) -> dict[int, dict[str, Any]]:
    """Tags ``frame``, ``packet_len`` and the SFMA tags on input ``port`` in the next ``n``
    items, by absolute offset: ``{offset: {"frame": int|None, "packet_len": int|None, key:
    parsed dict or the exception text}}``."""
    out: dict[int, dict[str, Any]] = {}
    for t in block.get_tags_in_window(port, 0, n):
        if not pmt.is_symbol(t.key):
            continue
        key = pmt.symbol_to_string(t.key)
        d = out.setdefault(int(t.offset), {})
        if key in ("frame", "packet_len"):
            d[key] = to_int(t.value)
        elif key in (messages.SFMA_TAG, messages.SFMA_GROUP_TAG):
            try:
                d[key] = messages.meta_from_pmt(t.value)
            except Exception as exc:  # an unreadable tag is kept as its reason
                d[key] = f"{type(exc).__name__}: {exc}"
    return out


class GainSchedule:
    """The linear channel power gain of one user, frame-exact like allocations: an SFMA CSI
    with ``frame`` is in force from that frame on, one without it at once; before any CSI the
    ``initial`` gain (None: unknown)."""

    MAX_PENDING = 64

    def __init__(self, user: int, initial: float | None) -> None:
        self.user = int(user)
        self.gain = initial
        self.seq: int | None = None
        self._pending: list[tuple[int, float, int]] = []  # (frame, gain, seq)

    def set_csi(self, csi: messages.SfmaCsi) -> None:
        if not 0 <= self.user < csi.k:
            raise messages.MessageError(f"CSI has K={csi.k}, this block is user {self.user}")
        g = float(csi.gain[self.user])
        if csi.frame is None:
            self._pending.clear()
            self.gain, self.seq = g, csi.seq
            return
        frames = [p[0] for p in self._pending]
        self._pending.insert(bisect.bisect_right(frames, csi.frame), (csi.frame, g, csi.seq))
        if len(self._pending) > self.MAX_PENDING:
            _, self.gain, self.seq = self._pending.pop(0)

    def on_frame(self, frame: int | None) -> None:
        while self._pending and (frame is None or self._pending[0][0] <= frame):
            _, self.gain, self.seq = self._pending.pop(0)

    def state(self) -> tuple:
        return (self.gain, self.seq, tuple(self._pending))


def walk_frames(block, n_inputs: int, n: int, fill, start) -> None:
    """The next ``n`` items of a multi-input SFMA stream block, segment by segment:
    ``fill(pos, stop)`` copies relative items ``pos .. stop`` with the state in force, and at
    every ``frame`` tag on any input ``start(offset, rel, per_input)`` changes the state
    (``per_input``: :func:`frame_tags` of every input)."""
    base = block.nitems_read(0)
    per_input = [frame_tags(block, i, n) for i in range(n_inputs)]
    offsets = sorted({off for d in per_input for off in d if "frame" in d[off]})
    pos = 0
    for off in offsets:
        rel = max(0, min(n, off - base))
        fill(pos, rel)
        pos = rel
        start(off, rel, per_input)
    fill(pos, n)


class FrameWalker:
    """``work`` of a multi-input SFMA stream block (``sfma_superposer``, ``sfma_channel``): mix
    in before ``gr.sync_block``; the block defines ``_fill(inputs, outputs, a, b)`` (items
    ``a .. b`` with the state in force) and ``_frame_boundary(offset, rel, per_input)`` (frames
    start: :func:`walk_frames`). ``work`` never ends the thread: after an error the call's
    outputs are zeros."""

    def work(self, input_items, output_items):
        n = len(output_items[0])
        try:

            def fill(a: int, b: int) -> None:
                self._fill(input_items, output_items, a, b)

            walk_frames(self, len(input_items), n, fill, self._frame_boundary)
        except Exception as exc:  # work() must never end the thread
            self.logger.error(f"work: {type(exc).__name__}: {exc}")
            for o in output_items:
                o[:n] = 0
        return n
