#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``csi_combiner``: the users' CSI reports -> one K-user CSI."""

from __future__ import annotations

from typing import Any

import numpy as np
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.channel_state import FRAME_JUMP_WINDOW, frame_jumped
from gnuradio.semdacom.plumbing.checks import check_int

__all__ = ["csi_combiner"]


class csi_combiner(Block, gr.basic_block):
    """Base-station side of the CSI feedback (docs/ota.md): every user's ``csi_estimator``
    reports its own channel row (``messages.csi_report_from_pmt``: one row, ``user``,
    ``frame``), the downlink optimiser needs all ``K`` rows at once.

    The block keeps each user's latest report (a report measured on an older frame than
    the one kept is stale: dropped and counted, not an error) and, once every user has
    reported, publishes on ``csi`` the CSI of ``messages.csi_to_pmt`` with the ``K`` rows,
    each user's noise variance, ``frame`` = the newest frame among the rows and ``seq`` =
    that frame (strictly increasing: at least the last ``seq`` plus one), so an optimiser
    whose ``apply_frame`` is ``seq`` plus a lead plans ahead of the frames on air. It
    publishes again when a report is at least ``every`` frames newer than the last CSI
    published (reports without a frame number count as one frame newer). With
    ``average > 1`` each row is the mean of the user's last ``average`` reports (their
    phases are the estimator's: ``h[0]`` real, so they add up coherently), which divides
    the estimation error by ``average`` on a static channel.

    A report whose frame is more than ``FRAME_JUMP_WINDOW`` (2**16, from
    ``plumbing.channel_state``) frames from the newest frame known, ahead or back, comes from
    a frame counter that jumped (one junk frame number such as 10**12) or restarted: the
    block starts over (every user's rows and frames, the last frame published and ``seq``
    forgotten; counted in ``frame_resets``, logged) and takes the report, so it publishes
    again once every user has reported on the new numbering. Without that, one report with
    frame 10**12 made every later report stale. The optimisers treat the same jump of the
    CSI frame as a new allocation epoch (``plumbing.publisher.AllocationPublisher``).

    A malformed report (not a CSI of one row, no ``user``, ``user >= K``, wrong ``N_t``,
    NaN) is logged with the reason and dropped (``rejected``); the block keeps its state.

    Parameters
    ----------
    k : int
        Users ``K``.
    n_t : int
        Antennas ``N_t``.
    every : int
        Frames between two CSIs published (>= 1).
    average : int
        Reports averaged per user (>= 1).
    """

    def __init__(self, k: int = 2, n_t: int = 2, every: int = 1, average: int = 1) -> None:
        gr.basic_block.__init__(self, name="csi_combiner", in_sig=None, out_sig=None)
        self._k = check_int("k", k, 1, messages.MAX_REPORT_USER)
        self._n_t = check_int("n_t", n_t, 1, 1 << 16)
        self._every = check_int("every", every, 1)
        self._average = check_int("average", average, 1, 1 << 16)
        self._rows: list[list[tuple[np.ndarray, float]]] = [[] for _ in range(self._k)]
        self._frames: list[int | None] = [None] * self._k
        self._newest: int | None = None  # frame of the newest report taken
        self._published: int | None = None  # frame of the last CSI published
        self._seq: int | None = None
        self._last: messages.Csi | None = None
        # counters: reports in, accepted, rejected (malformed), stale, CSIs published, restarts
        # after a frame jump
        self.setup(("reports", "accepted", "rejected", "stale", "published", "frame_resets"))
        self.message_in("csi", self._handle, rejected="rejected", dealt="reports")
        self.message_out("csi")

    def last_csi(self) -> messages.Csi | None:
        """The last CSI published (None before every user has reported); its ``frame`` is
        :meth:`last_frame`."""
        return self._last

    def last_frame(self) -> int | None:
        """The ``frame`` of the last CSI published."""
        return self._published

    def _handle(self, msg: Any) -> None:
        csi, user, frame = messages.csi_report_from_pmt(msg, n_t=self._n_t, k=self._k)
        if frame is not None and frame_jumped(frame, self._newest):
            self._counts["frame_resets"] += 1
            self.logger.warn(
                f"report of user {user} for frame {frame} is more than {FRAME_JUMP_WINDOW} "
                f"frames from the newest one ({self._newest}): the frame counter jumped or "
                "restarted; starting over"
            )
            self._rows = [[] for _ in range(self._k)]
            self._frames = [None] * self._k
            self._newest = self._published = self._seq = None
        kept = self._frames[user]
        if frame is not None and kept is not None and frame <= kept:
            self._counts["stale"] += 1
            return
        if frame is None:  # no frame number: one frame newer than the newest known
            frame = 0 if self._newest is None else self._newest + 1
        if frame >= 2**64 - 1:
            raise messages.MessageError(f"report frame {frame} leaves no room for a newer CSI")
        rows = [list(r) for r in self._rows]
        rows[user].append((csi.h[0].copy(), float(csi.noise_var[0])))
        del rows[user][: -self._average]
        newest = frame if self._newest is None else max(self._newest, frame)
        publish = all(rows) and (self._published is None or newest >= self._published + self._every)
        out = msg_out = None
        if publish:  # build (and validate) the CSI before any state changes
            h = np.array([np.mean([r[0] for r in rs], axis=0) for rs in rows])
            nv = np.array([np.mean([r[1] for r in rs]) for rs in rows])
            seq = newest if self._seq is None else max(newest, self._seq + 1)
            out = messages.Csi(h=h, noise_var=nv, seq=int(seq))
            msg_out = messages.csi_with_frame(out, int(newest))
        self._rows = rows
        self._frames[user] = frame
        self._newest = newest
        self._counts["accepted"] += 1
        if publish:
            self._seq, self._published, self._last = out.seq, newest, out
            self.publish("csi", msg_out)
            self._counts["published"] += 1
