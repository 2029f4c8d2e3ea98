#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``sfma_superposer``: the users' SFMA frames -> one stream per group."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pmt
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_even_k, check_finite
from gnuradio.semdacom.plumbing.sfma import FrameWalker, SfmaCommands

__all__ = ["sfma_superposer"]

SFMA_TAG = messages.SFMA_TAG
GROUP_TAG = messages.SFMA_GROUP_TAG


class sfma_superposer(FrameWalker, Block, gr.sync_block):
    """Feature superposition of SC-SFMA ([2], eq. 5): group ``m`` sends
    ``x_m = sqrt(P_m) (sqrt(alpha) s_i + sqrt(1 - alpha) s_j)`` for its pair ``(i, j)``, at
    the group power ``P_m`` in watts (unit-power features: mean ``|x_m|^2 = P_m``).

    Inputs ``0..K-1`` are the users' aligned frame streams of ``sfma_encoder``; which users
    form group ``m`` and in which slot is read from each frame's ``semdacom_sfma`` tag (what
    was coded), so pairing changes follow the encoder frame by frame. ``P_m`` and ``B_m`` are
    those in force at the frame: the last SFMA allocation on ``cmd`` (``group_power``,
    ``group_bw``; ``messages.check_sfma_alloc``, applied from ``apply_frame``; an older or
    equal ``seq`` is dropped), else ``power / M`` and ``bandwidth / M``. An unusable allocation
    is logged and dropped, the last good one kept, with the limits of the C++ side and of the
    group tag: ``group_power`` in [0, ``MAX_POWER_W`` = 1e6 W], ``group_bw`` in
    (0, ``MAX_SFMA_BW_HZ`` = 1e15 Hz], per-user fields (``rate_index``...) of length ``K``; so
    every sample out is finite and every group tag valid.

    Output ``m`` carries group ``m``'s frames with the input's ``frame`` and ``packet_len``
    tags and a ``semdacom_sfma_group`` tag (``messages.sfma_group_info``: group, power, bw,
    power_split, alloc_seq, and both users' frame tags as slot0 / slot1) for the channel and
    the decoders. A user frame whose tag is missing or malformed is sent as silence; its
    slot in the group tag is then rebuilt from the partner's tag, flagged erased with the
    reason, so that its decoder still answers the image; a group with no valid member at a
    frame sends silence and no tag (every user frame sent as silence is logged and counted in
    ``frames_silent``). ``side``
    publishes every group tag as a message, with the frame number (``{"frame": u64, ...}``):
    the side information for receivers that see no stream tags (``sfma_decoder``'s ``side``).

    Parameters
    ----------
    k : int
        Users ``K`` (even): ``K`` inputs, ``M = K / 2`` outputs.
    power : float
        Total power before any allocation, watts (``P_m = power / M``).
    bandwidth : float
        Total bandwidth before any allocation, Hz (``B_m = bandwidth / M``).
    power_split : float
        ``alpha``, slot 0's share of the group power, in [0, 1] (the transceiver is
        trained at 1/2).
    """

    def __init__(
        self, k: int = 2, power: float = 1.0, bandwidth: float = 1e6, power_split: float = 0.5
    ) -> None:
        k = check_even_k(k)
        m = k // 2
        gr.sync_block.__init__(
            self, name="sfma_superposer", in_sig=[np.complex64] * k, out_sig=[np.complex64] * m
        )
        self.set_tag_propagation_policy(gr.TPP_DONT)
        power = check_finite("power", power, 0.0)
        bandwidth = check_finite("bandwidth", bandwidth, 0.0)
        if not bandwidth > 0:
            raise ValueError(f"bandwidth must be positive, got {bandwidth!r}")
        self._alpha = check_finite("power_split", power_split, 0.0)
        if self._alpha > 1.0:
            raise ValueError(f"power_split must be in [0, 1], got {power_split!r}")
        self._k, self._m = k, m
        self._cmds = SfmaCommands(
            k,
            ("group_power", "group_bw"),
            {"group_power": np.full(m, power / m), "group_bw": np.full(m, bandwidth / m)},
        )
        # per group: (amplitude of slot 0 input, input index; slot 1 ...) in force
        self._route: list[list[tuple[int, float]]] = [[] for _ in range(m)]
        self._frame_log: list[tuple[int, int, float, float]] = []
        self.setup(("frames_in", "frames_out", "frames_silent", "slots_rebuilt", "cmd_accepted",
                    "cmd_rejected"))  # fmt: skip
        self.cmd_in(self._cmds.accept)
        self.message_out("side")

    # ------------------------------------------------------------------ inspection
    def frame_log(self) -> list[tuple[int, int, float, float]]:
        """``(frame, group, P_m, B_m)`` of every group frame sent (the last 10000)."""
        return list(self._frame_log)

    def in_force(self) -> dict:
        """The group powers and bandwidths the next frame would use (no allocation applied)."""
        s = self._cmds.sched
        return {"group_power": s.get("group_power"), "group_bw": s.get("group_bw"),
                "seq": s.applied_seq}  # fmt: skip

    # ------------------------------------------------------------------ frames
    def _start_frames(self, off: int, starts: dict[int, dict]) -> tuple[list, Any, Any]:
        """New frames at ``off`` on the inputs ``starts`` (input -> its tags): the routing of
        every group they belong to and the group tags to write."""
        frame = next((d["frame"] for d in starts.values() if d.get("frame") is not None), None)
        plen = next((d["packet_len"] for d in starts.values() if d.get("packet_len")), None)
        members: dict[int, dict[int, tuple[int, dict]]] = {}
        for u, d in sorted(starts.items()):
            self._counts["frames_in"] += 1
            for m in range(self._m):  # a user that starts a new frame leaves its old group
                self._route[m] = [(a, uu) for a, uu in self._route[m] if uu != u]
            try:
                info = messages.sfma_frame_info(d.get(SFMA_TAG, "no semdacom_sfma tag"))
                if info["user"] != u:
                    raise messages.MessageError(f"tag of user {info['user']} on input {u}")
                if info["group"] >= self._m or info["partner"] >= self._k:
                    raise messages.MessageError(f"group {info['group']} / partner out of range")
                if info["partner"] == u:
                    raise messages.MessageError(f"user {u} is its own partner")
                if info["slot"] in members.get(info["group"], {}):
                    raise messages.MessageError(
                        f"slot {info['slot']} of group {info['group']} is taken"
                    )
                members.setdefault(info["group"], {})[info["slot"]] = (u, info)
            except Exception as exc:
                self._counts["frames_silent"] += 1
                self.logger.error(f"frame {frame} input {u}: sent as silence: {exc}")
        alloc = self._cmds.at(frame)
        out = []
        for m, slots in sorted(members.items()):
            p, b = float(alloc["group_power"][m]), float(alloc["group_bw"][m])
            tag: dict[str, Any] = {"group": m, "power": p, "bw": b, "power_split": self._alpha}
            if alloc["seq"] is not None:
                tag["alloc_seq"] = int(alloc["seq"])
            for r in (0, 1):
                if r in slots:
                    tag[f"slot{r}"] = dict(slots[r][1])
                    continue
                other = slots[1 - r][1]
                lost = {key: v for key, v in other.items() if not key.startswith("pdu_")}
                lost.update(user=other["partner"], partner=other["user"], slot=r, erased=True,
                            erasure_reason="frame tag lost before the superposer",
                            mask=np.zeros(other["mask"].size, bool))  # fmt: skip
                tag[f"slot{r}"] = lost
                self._counts["slots_rebuilt"] += 1
            for r in (0, 1):
                tag[f"slot{r}"]["mask"] = tag[f"slot{r}"]["mask"].astype(np.uint8)
            amp = (math.sqrt(p * self._alpha), math.sqrt(p * (1.0 - self._alpha)))
            self._route[m] = [(amp[r], slots[r][0]) for r in (0, 1) if r in slots]
            out.append((m, tag))
            self._frame_log.append((-1 if frame is None else frame, m, p, b))
        del self._frame_log[:-10000]
        return out, frame, plen

    def _frame_boundary(self, off: int, rel: int, per_input: list[dict]) -> None:
        """Frames start at input offset ``off`` (output item ``rel`` of this call): new group
        state, and the group tags on every output and the ``side`` port."""
        starts = {u: d[off] for u, d in enumerate(per_input) if off in d and "frame" in d[off]}
        tags, frame, plen = self._start_frames(off, starts)
        out_off = self.nitems_written(0) + rel
        for m, tag in tags:
            if frame is not None:
                self.add_item_tag(m, out_off, pmt.intern("frame"), pmt.from_uint64(frame))
            if plen is not None:
                self.add_item_tag(m, out_off, pmt.intern("packet_len"), pmt.from_long(plen))
            self.add_item_tag(m, out_off, pmt.intern(GROUP_TAG), messages.meta_to_pmt(tag))
            self._counts["frames_out"] += 1
            if frame is not None:
                side = messages.meta_to_pmt({"frame": np.uint64(frame), **tag})
                self.publish("side", side)

    def _fill(self, inp, out, a: int, b: int) -> None:
        if b <= a:
            return
        for m in range(self._m):
            o = out[m]
            o[a:b] = 0
            for amp, u in self._route[m]:
                o[a:b] += np.complex64(amp) * inp[u][a:b]
