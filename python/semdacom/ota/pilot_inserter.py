#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``pilot_inserter``: beamformed frames -> over-the-air bursts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pmt
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import is_user
from gnuradio.semdacom.plumbing.frame_rx import FrameCutter
from gnuradio.semdacom.plumbing.meta import to_int
from gnuradio.semdacom.plumbing.ota import BurstBlock, BurstQueue, burst_layout
from gnuradio.semdacom.plumbing.ota import pilot_power as _check_power

from semdacom.channel_coding import ota

__all__ = ["pilot_inserter"]

CHAN_TAG = messages.CHAN_TAG
USER_TAG = "semdacom_user_tag"


class pilot_inserter(BurstBlock, Block, gr.basic_block):
    """Base-station side of the over-the-air split (docs/ota.md): every frame of the
    ``N_t`` antenna streams of ``superposition_beamformer`` becomes one burst
    ``preamble | pilots | header | pilots | payload (a pilot block every pilot_spacing
    samples) | pilots | guard``
    (``semdacom.channel_coding.ota``).

    A frame starts at a ``frame`` tag on antenna 0 and lasts ``packet_len`` samples
    (``plumbing.frame_rx.FrameCutter``, the frame receivers' rule). The header carries the frame
    number and, per user, what its channel decoder needs: the ``semdacom_chan`` tag of user 0
    (on antenna 0) and of users ``i > 0`` (wrapped as ``semdacom_user_tag`` ``(i, key,
    value)`` by the beamformer): payload bits, MCS, erased flag, image id, label, source rate
    index. A frame shorter than the slot is zero-padded; a longer one is cut to the slot
    (counted in ``frames_cut``, flagged in the header: its receivers see erasures).

    Every burst carries ``tx_sob`` on its first and ``tx_eob`` on its last sample (what the
    UHD sink expects for bursts) and the frame's ``frame`` tag on its first sample, on every
    output. Samples outside frames are dropped (``samples_in - samples_framed`` of
    :meth:`counters`). Every frame in gives one burst out; a frame whose header cannot be
    built (a number that does not fit) is counted in ``frames_dropped`` and logged.

    Parameters
    ----------
    k : int
        Users ``K`` (header entries).
    n_t : int
        Antennas ``N_t`` (inputs and outputs).
    preamble_len : int
        ``N``, the Zadoff-Chu length (odd); the preamble is ``2N`` samples.
    n_pilots : int
        ``N_p`` (> ``N_t``) samples per pilot block.
    pilot_power : float
        Per-antenna power of preamble, pilots and header, watts.
    header_mcs : int
        MCS of the header (QPSK rates: 0-5).
    payload_len : int
        The slot: payload samples per burst.
    guard : int
        Zeros after every burst.
    pilot_spacing : int
        ``M``: a pilot block after every ``M`` payload samples inside the payload (0: none),
        so that the receiver tracks phase, residual CFO and timing drift through the payload
        (``semdacom.phy.equalizer``). Every receiver of the bursts (``frame_sync``,
        ``csi_estimator``) must use the same value.
    """

    def __init__(
        self, k: int = 2, n_t: int = 2, preamble_len: int = 127, n_pilots: int = 16,
        pilot_power: float = 1.0, header_mcs: int = 2, payload_len: int = 4096, guard: int = 64,
        pilot_spacing: int = ota.PILOT_SPACING,
    ) -> None:  # fmt: skip
        self._layout = burst_layout(k, n_t, preamble_len, n_pilots, header_mcs, payload_len,
                                    guard, pilot_spacing)  # fmt: skip
        self._power = _check_power(pilot_power)
        self._k, self._n_t = self._layout.k, self._layout.n_t
        gr.basic_block.__init__(
            self,
            name="pilot_inserter",
            in_sig=[np.complex64] * self._n_t,
            out_sig=[np.complex64] * self._n_t,
        )
        self.set_tag_propagation_policy(gr.TPP_DONT)
        self._cutters = [FrameCutter(CHAN_TAG) for _ in range(self._n_t)]
        self._user_infos: dict[int, dict[int, Any]] = {}  # frame start -> user -> info PMT
        self._out = BurstQueue(self._n_t)
        self._next_frame = 0
        # counters: frames in, bursts out, frames cut to the slot, frames dropped, frames
        # without a frame number, malformed user tags, samples in and samples in frames (the
        # difference lay outside frames or waits in an open frame)
        self.setup(("frames_in", "bursts_out", "frames_cut", "frames_dropped", "frames_unnumbered",
                    "bad_user_tags", "samples_in", "samples_framed"))  # fmt: skip

    # ------------------------------------------------------------------ inspection
    def layout(self) -> ota.BurstLayout:
        return self._layout

    # ------------------------------------------------------------------ stream
    def _take(self, input_items, n: int) -> None:
        start = self.nitems_read(0)
        tags = self.get_tags_in_window(0, 0, n)
        for t in tags:
            if pmt.is_symbol(t.key) and pmt.symbol_to_string(t.key) == USER_TAG:
                self._note_user_tag(t)
        frames: list[list] = [[] for _ in range(self._n_t)]
        for a, cutter in enumerate(self._cutters):
            x = np.asarray(input_items[a][:n])
            cutter.push(x, start, tags, self.logger, lambda f, y, a=a: frames[a].append((f, y)))
        self._counts["samples_in"] += n
        for parts in zip(*frames, strict=True):
            self._counts["samples_framed"] += parts[0][1].size
            self._burst(parts[0][0], np.stack([y for _, y in parts]))

    def _note_user_tag(self, t) -> None:
        v = t.value
        if not (pmt.is_tuple(v) and pmt.length(v) == 3):
            self._counts["bad_user_tags"] += 1
            return
        user, key = to_int(pmt.tuple_ref(v, 0)), pmt.tuple_ref(v, 1)
        if user is None or not 0 < user < self._k or not pmt.is_symbol(key):
            self._counts["bad_user_tags"] += 1
            return
        if pmt.symbol_to_string(key) == CHAN_TAG:
            self._user_infos.setdefault(int(t.offset), {})[user] = pmt.tuple_ref(v, 2)

    def _info(self, f: dict, user: int) -> dict | None:
        if user == 0:
            info = f["info"]
        else:
            raw = self._user_infos.get(f["start"], {}).get(user)
            try:
                info = None if raw is None else messages.meta_from_pmt(raw)
            except messages.MessageError:
                info = None
        if not isinstance(info, dict) or not is_user(info.get("user"), user):
            return None
        try:
            return messages.chan_info(info)
        except messages.MessageError as exc:
            self.logger.warn(f"user {user}: ignored '{CHAN_TAG}' tag: {exc}")
            return None

    def _burst(self, f: dict, y: np.ndarray) -> None:
        self._counts["frames_in"] += 1
        frame = f["frame"]
        if frame is None:
            self._counts["frames_unnumbered"] += 1
            frame = self._next_frame
        self._next_frame = (int(frame) + 1) % 2**64
        entries = [ota.entry_from_chan_info(self._info(f, u)) for u in range(self._k)]
        for off in [o for o in self._user_infos if o <= f["start"]]:
            del self._user_infos[off]
        cut = y.shape[1] > self._layout.payload_len
        if cut:
            self._counts["frames_cut"] += 1
            y = y[:, : self._layout.payload_len]
        try:
            burst = ota.build_burst(self._layout, frame, entries, y, self._power, cut)
        except Exception as exc:  # a frame whose header cannot be built
            self._counts["frames_dropped"] += 1
            self.logger.error(f"frame {frame}: no burst ({type(exc).__name__}: {exc})")
            return
        last = burst.shape[1] - 1
        tags = [(0, "tx_sob", pmt.PMT_T), (0, "frame", pmt.from_uint64(int(frame))),
                (last, "tx_eob", pmt.PMT_T)]  # fmt: skip
        self._out.put(burst, tags)
        self._counts["bursts_out"] += 1
