#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``sfma_channel``: the groups' streams -> each user's received stream."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pmt
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_even_k, check_finite, check_int
from gnuradio.semdacom.plumbing.sfma import FrameWalker, noise_w_per_hz

__all__ = ["sfma_channel"]

GROUP_TAG = messages.SFMA_GROUP_TAG


class sfma_channel(FrameWalker, Block, gr.sync_block):
    """Downlink channel of SC-SFMA ([2], eq. 6): user ``i`` of group ``m`` receives
    ``y_i = sqrt(g_i) x_m + n_i``, ``n_i ~ CN(0, N0 B_m)``, with ``g_i`` its large-scale power
    gain and ``B_m`` the group's bandwidth (so that its SNR is ``P_m g_i / (N0 B_m)``).

    Inputs ``0..M-1`` are the group streams of ``sfma_superposer``; each frame's
    ``semdacom_sfma_group`` tag names the group's two users and ``B_m``, so the routing of
    groups to users follows the pairing frame by frame. Output ``i`` is user ``i``'s received
    stream, with the frame's ``frame``, ``packet_len`` and group tags copied onto it; a user
    in no group at a sample (before the first frame, or its group's tag was unreadable:
    logged, counted in ``frames_unrouted``) receives zeros.

    ``csi`` publishes the SFMA CSI (``messages.sfma_csi_to_pmt``: ``gain``, ``seq``,
    ``frame`` and, when given, ``labels``) when the flowgraph starts (frame 0) and after
    :meth:`set_gains` (the next frame to start), for ``sfma_optimizer`` and the decoders.

    Parameters
    ----------
    k : int
        Users ``K`` (even): ``M = K / 2`` inputs, ``K`` outputs.
    gains : sequence of float
        ``g_i`` of every user, linear, in (0, 1].
    noise_dbm_hz : float
        ``N0`` in dBm/Hz (thermal -174 plus the receiver noise figure).
    labels : sequence of int
        Image class of every user, published in the CSI (empty: none).
    seed : int
        Noise seed (one generator per user; the same seed gives the same noise every run).
    """

    def __init__(
        self,
        k: int = 2,
        gains: Sequence[float] = (1e-10, 1e-10),
        noise_dbm_hz: float = -165.0,
        labels: Sequence[int] = (),
        seed: int = 0,
    ) -> None:
        k = check_even_k(k)
        gr.sync_block.__init__(
            self, name="sfma_channel", in_sig=[np.complex64] * (k // 2), out_sig=[np.complex64] * k
        )
        self.set_tag_propagation_policy(gr.TPP_DONT)
        self._k, self._m = k, k // 2
        self._n0 = noise_w_per_hz(check_finite("noise_dbm_hz", noise_dbm_hz))
        self._labels = None if len(labels) == 0 else np.asarray(labels, dtype=np.int32)
        self._seq = 0
        self._gains = self._check(gains)
        self._gains_next = self._gains
        # one generator per user: its noise does not depend on how the scheduler cuts the
        # stream into work calls, so a seed gives the same realisation every run
        seed = check_int("seed", seed)
        self._rngs = [np.random.default_rng([seed, u]) for u in range(k)]
        self._route: list[tuple[int, float] | None] = [None] * k  # (group, B_m) per user
        self._csi_due: int | None = None  # publish CSI at the next frame start
        self._last_frame = -1
        self.setup(("frames_out", "frames_unrouted", "csi_out"))
        self.message_out("csi")

    def _check(self, gains: Sequence[float]) -> np.ndarray:
        g = np.asarray(gains, dtype=np.float64).reshape(-1)
        if g.size != self._k:
            raise ValueError(f"gains must hold K={self._k} values, got {g.size}")
        # validated exactly as a reader will (gain range, labels)
        messages.sfma_csi_from_pmt(
            messages.sfma_csi_to_pmt(messages.SfmaCsi(gain=g, seq=0, labels=self._labels))
        )
        return g

    # ------------------------------------------------------------------ control
    def gains(self) -> np.ndarray:
        return self._gains.copy()

    def set_gains(self, gains: Sequence[float]) -> None:
        """New gains from the next frame on; a CSI with that frame is published then."""
        self._gains_next = self._check(gains)
        self._csi_due = 1

    def _publish_csi(self, frame: int) -> None:
        self._seq += 1
        c = messages.SfmaCsi(gain=self._gains, seq=self._seq, frame=frame, labels=self._labels)
        self.publish("csi", messages.sfma_csi_to_pmt(c))
        self._counts["csi_out"] += 1

    def start(self) -> bool:
        self._publish_csi(0)
        return True

    # ------------------------------------------------------------------ stream
    def _frame_boundary(self, off: int, rel: int, per_input: list[dict]) -> None:
        out_off = self.nitems_written(0) + rel
        for m, d in enumerate(per_input):
            tags = d.get(off)
            if tags is None or "frame" not in tags:
                continue
            frame = tags.get("frame")
            if self._csi_due is not None and frame is not None and frame > self._last_frame:
                self._gains, self._csi_due = self._gains_next, None
                self._publish_csi(frame)
            if frame is not None:
                self._last_frame = max(self._last_frame, frame)
            for u in range(self._k):  # users routed to this group leave it
                if self._route[u] is not None and self._route[u][0] == m:
                    self._route[u] = None
            try:
                info = messages.sfma_group_info(tags.get(GROUP_TAG, "no group tag"))
                if info["group"] != m:
                    raise messages.MessageError(f"tag of group {info['group']} on input {m}")
                users = [info["slot0"]["user"], info["slot1"]["user"]]
                if max(users) >= self._k:
                    raise messages.MessageError(f"users {users} outside K={self._k}")
            except Exception as exc:
                self._counts["frames_unrouted"] += 1
                self.logger.error(f"frame {frame} group {m}: not routed: {exc}")
                continue
            for u in users:
                self._route[u] = (m, info["bw"])
                if frame is not None:
                    self.add_item_tag(u, out_off, pmt.intern("frame"), pmt.from_uint64(frame))
                if tags.get("packet_len"):
                    plen = pmt.from_long(tags["packet_len"])
                    self.add_item_tag(u, out_off, pmt.intern("packet_len"), plen)
                raw = messages.meta_to_pmt(_uint8_masks(info))
                self.add_item_tag(u, out_off, pmt.intern(GROUP_TAG), raw)
                self._counts["frames_out"] += 1

    def _fill(self, inp, out, a: int, b: int) -> None:
        if b <= a:
            return
        for u in range(self._k):
            r = self._route[u]
            if r is None:
                out[u][a:b] = 0
                continue
            m, bw = r
            std = math.sqrt(self._n0 * bw / 2.0)
            nz = self._rngs[u].standard_normal((b - a, 2)) * std
            out[u][a:b] = math.sqrt(self._gains[u]) * inp[m][a:b] + (nz[:, 0] + 1j * nz[:, 1])


def _uint8_masks(info: dict) -> dict[str, Any]:
    """A validated group tag back in its PMT form (masks as u8 vectors)."""
    out = dict(info)
    for r in (0, 1):
        out[f"slot{r}"] = dict(info[f"slot{r}"], mask=info[f"slot{r}"]["mask"].astype(np.uint8))
    return out
