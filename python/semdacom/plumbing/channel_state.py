#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The effective channel of one receiving user from its CSI and the beams in force (eqs. 6-7 of
MU-ASCC [1]): ChannelState.
"""

from __future__ import annotations

import bisect
import math

from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.schedule import AllocationSchedule

from semdacom.phy.beamforming import effective_channel

__all__ = ["FRAME_JUMP_WINDOW", "ChannelState", "frame_jumped"]

#: Frames a frame counter may move from the newest frame known, ahead or back, and still be
#: the same counter. A frame further away is a jump (one junk frame number such as 10**12,
#: or a counter that restarted from 0): ``csi_combiner`` starts over, the optimisers start a
#: new allocation epoch, :class:`ChannelState` drops queued CSI that far ahead; each counts
#: and logs it. 2**16 frames is minutes of frames even at kHz frame rates, far more than any
#: reordering or feedback delay, and a legitimate gap longer than that (a long feedback cut)
#: costs one restart: every user's next report.
FRAME_JUMP_WINDOW = 1 << 16


def frame_jumped(frame: int, newest: int | None) -> bool:
    """Whether ``frame`` is more than :data:`FRAME_JUMP_WINDOW` away from ``newest`` (False
    while nothing is known)."""
    return newest is not None and abs(int(frame) - int(newest)) > FRAME_JUMP_WINDOW


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
    crossed; CSI without ``frame`` (or ``on_frame(None)``) is in force at once. At most
    :attr:`MAX_PENDING_CSI` wait (the oldest goes into force when more arrive); a queued CSI
    more than :data:`FRAME_JUMP_WINDOW` frames ahead of the frame being sent is from a frame
    counter that jumped or restarted and would wait forever: :meth:`on_frame` drops it
    (counted in ``dropped_jump``).
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
        self.dropped_jump = 0  # queued CSI dropped: its frame was too far ahead
        #: the newest ``seq`` of the CSI taken from each ``origin`` (``Csi.origin``): a frame
        #: whose stream tag names a newer one of the same origin waits for it
        #: (``FrameReceiver``, the ``semdacom_csi`` tag)
        self.newest_seq: dict[int, int] = {}

    def set_csi(self, csi: messages.Csi) -> None:
        """Queue ``csi`` for its ``frame`` (in force at once when it has none)."""
        if csi.origin is not None and csi.seq > self.newest_seq.get(csi.origin, -1):
            self.newest_seq[csi.origin] = int(csi.seq)
        if csi.frame is None:
            self._pending_csi.clear()
            self.csi = csi
            return
        pos = bisect.bisect_right([c.frame for c in self._pending_csi], csi.frame)
        self._pending_csi.insert(pos, csi)
        if len(self._pending_csi) > self.MAX_PENDING_CSI:
            self.csi = self._pending_csi.pop(0)

    def on_frame(self, frame: int | None) -> None:
        """Put in force every queued CSI whose ``frame`` is at most ``frame`` (all: None);
        drop those more than :data:`FRAME_JUMP_WINDOW` frames ahead of it."""
        while (
            frame is not None
            and self._pending_csi
            and self._pending_csi[-1].frame > frame + FRAME_JUMP_WINDOW
        ):
            self._pending_csi.pop()
            self.dropped_jump += 1
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
