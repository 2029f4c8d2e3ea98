#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``csi_combiner``: the users' CSI reports -> one K-user CSI."""

from __future__ import annotations

import collections
import math
from typing import Any

import numpy as np
import pmt
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.channel_state import FRAME_JUMP_WINDOW, frame_jumped
from gnuradio.semdacom.plumbing.checks import check_finite, check_int

__all__ = ["MARGIN_HISTORY", "MAX_MARGIN_DB", "csi_combiner"]

#: Gain ratios kept per user for the measured margin (the last reports).
MARGIN_HISTORY = 64
#: Ratios needed before the measured margin applies.
MARGIN_MIN_SAMPLES = 8
#: Largest margin applied (dB).
MAX_MARGIN_DB = 20.0


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

    **CSI age and fading margin** (issue 21, Build 3). The optimiser plans the frames from
    ``frame + apply_lead`` on with rows measured up to ``(average - 1) every`` frames before
    ``frame``; a user whose link fades in between is planned on a gain it no longer has, and a
    lost packet costs its image. Every CSI carries, per user, ``age`` (s64: frames from the
    user's newest report to ``frame``), ``span`` (s64: frames from its oldest averaged report
    to its newest) and ``margin_db`` (f64: the margin below). The ``plan`` port publishes the
    same CSI with each user's noise variance raised by its margin, ``10^(margin_u/10)``: wire
    it to the optimiser, and ``csi`` (no margin) to the users' decoders, which use the noise
    for their LLRs. ``margin_u = max(margin_db, m_u)`` where, with ``margin_quantile q > 0``,
    ``m_u`` is measured from the user's own reports: the ``q``-quantile of the gain ratio
    ``||h_u(t)||^2 / ||h_avg_u(t - lag)||^2`` between a report and the averaged row the
    combiner held ``lag`` frames earlier, over its last :data:`MARGIN_HISTORY` reports, in dB
    (at most :data:`MAX_MARGIN_DB`; applied once :data:`MARGIN_MIN_SAMPLES` ratios exist). On a
    static channel it stays at the estimation error (0.2 dB at 10 dB pilot SNR), under fading
    it grows with the Doppler. The default ``q = 0.25`` comes from ``bench/fading_margin.py``
    (bench/results/fading_margin.json; the weighted distortion lost against fresh perfect CSI,
    examples' lead 8, every 4, average 4, 60 draws; Doppler per frame 0 / 0.0043 / 0.043 /
    0.43, i.e. fD*Ts 0 / 1e-6 / 1e-5 / 1e-4 over the simulation's 4268-sample bursts): no
    margin 0.002 / 0.153 / 0.403 / 0.350; measured margin (0.2 / 1.1 / 4.7 / 4.5 dB) 0.001 /
    0.085 / 0.234 / 0.151; the best fixed margin (0 / 3 / 6 / 4 dB) 0.002 / 0.058 / 0.231 /
    0.156. ``q = 0.1`` over-protects fast fading (9 dB: 0.343 at 1e-5), 0.5 protects nothing.

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
    margin_db : float
        Fading margin applied to every user on ``plan`` at least (dB, >= 0).
    margin_quantile : float
        Quantile of the measured gain ratio that sets a user's margin (0 = none, at most 0.5;
        0.25 measured best, above).
    lag : int
        Frames between a CSI and the frames planned on it that the measured margin covers
        (``apply_lead`` plus half of ``every`` in the examples: 10).
    """

    def __init__(
        self, k: int = 2, n_t: int = 2, every: int = 1, average: int = 1, margin_db: float = 0.0,
        margin_quantile: float = 0.25, lag: int = 10,
    ) -> None:  # fmt: skip
        gr.basic_block.__init__(self, name="csi_combiner", in_sig=None, out_sig=None)
        self._k = check_int("k", k, 1, messages.MAX_REPORT_USER)
        self._n_t = check_int("n_t", n_t, 1, 1 << 16)
        self._every = check_int("every", every, 1)
        self._average = check_int("average", average, 1, 1 << 16)
        self._margin_db = check_finite("margin_db", margin_db, 0.0)
        if self._margin_db > MAX_MARGIN_DB:
            raise ValueError(f"margin_db must be at most {MAX_MARGIN_DB}, got {margin_db!r}")
        self._quantile = check_finite("margin_quantile", margin_quantile, 0.0)
        if self._quantile > 0.5:
            raise ValueError(f"margin_quantile must be in [0, 0.5], got {margin_quantile!r}")
        self._lag = check_int("lag", lag, 1, FRAME_JUMP_WINDOW)
        self._ratios = [collections.deque(maxlen=MARGIN_HISTORY) for _ in range(self._k)]
        # per user: (frame, mean gain of the averaged row) after each report, for the ratios
        self._held = [collections.deque(maxlen=MARGIN_HISTORY) for _ in range(self._k)]
        self._margins = np.full(self._k, self._margin_db)
        self._rows: list[list[tuple[np.ndarray, float, int]]] = [[] for _ in range(self._k)]
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
        self.message_out("plan")

    def last_csi(self) -> messages.Csi | None:
        """The last CSI published (None before every user has reported); its ``frame`` is
        :meth:`last_frame`."""
        return self._last

    def last_frame(self) -> int | None:
        """The ``frame`` of the last CSI published."""
        return self._published

    def margins_db(self) -> np.ndarray:
        """Each user's margin of the last CSI published (dB)."""
        return self._margins.copy()

    def _ratio(self, user: int, frame: int, gain: float) -> float | None:
        """The gain ratio of a report against the row held ``lag`` frames before it (None
        when there is no such row yet)."""
        held = [g for f, g in self._held[user] if f <= frame - self._lag]
        if held and held[-1] > 0 and math.isfinite(gain):
            return gain / held[-1]
        return None

    def _margin(self, ratios) -> float:
        """The margin of a user whose measured gain ratios are ``ratios``."""
        if self._quantile <= 0 or len(ratios) < MARGIN_MIN_SAMPLES:
            return self._margin_db
        q = float(np.quantile(np.asarray(ratios), self._quantile))
        measured = MAX_MARGIN_DB if q <= 0 else -10 * math.log10(q)
        return float(min(MAX_MARGIN_DB, max(self._margin_db, measured)))

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
            for d in (*self._ratios, *self._held):
                d.clear()
        kept = self._frames[user]
        if frame is not None and kept is not None and frame <= kept:
            self._counts["stale"] += 1
            return
        if frame is None:  # no frame number: one frame newer than the newest known
            frame = 0 if self._newest is None else self._newest + 1
        if frame >= 2**64 - 1:
            raise messages.MessageError(f"report frame {frame} leaves no room for a newer CSI")
        rows = [list(r) for r in self._rows]
        rows[user].append((csi.h[0].copy(), float(csi.noise_var[0]), frame))
        del rows[user][: -self._average]
        newest = frame if self._newest is None else max(self._newest, frame)
        publish = all(rows) and (self._published is None or newest >= self._published + self._every)
        out = msg_out = plan = None
        ratio = self._ratio(user, frame, float(np.linalg.norm(csi.h[0]) ** 2))
        ratios = [list(r) for r in self._ratios]
        if ratio is not None:
            ratios[user] = (ratios[user] + [ratio])[-MARGIN_HISTORY:]
        held = float(np.linalg.norm(np.mean([r[0] for r in rows[user]], axis=0)) ** 2)
        if publish:  # build (and validate) the CSI before any state changes
            h = np.array([np.mean([r[0] for r in rs], axis=0) for rs in rows])
            nv = np.array([np.mean([r[1] for r in rs]) for rs in rows])
            seq = newest if self._seq is None else max(newest, self._seq + 1)
            out = messages.Csi(h=h, noise_var=nv, seq=int(seq))
            margins = np.array([self._margin(r) for r in ratios])
            age = [newest - rs[-1][2] for rs in rows]
            span = [rs[-1][2] - rs[0][2] for rs in rows]
            msg_out = self._with_age(messages.csi_with_frame(out, int(newest)), age, span, margins)
            raised = np.minimum(nv * 10 ** (margins / 10), messages.MAX_NOISE_VAR)
            planned = messages.Csi(h=h, noise_var=raised, seq=int(seq))
            plan = self._with_age(messages.csi_with_frame(planned, int(newest)), age, span, margins)
        if ratio is not None:
            self._ratios[user].append(ratio)
        self._rows = rows
        self._frames[user] = frame
        self._newest = newest
        self._held[user].append((frame, held))
        self._counts["accepted"] += 1
        if publish:
            self._seq, self._published, self._last = out.seq, newest, out
            self._margins = margins
            self.publish("csi", msg_out)
            self.publish("plan", plan)
            self._counts["published"] += 1

    @staticmethod
    def _with_age(msg: Any, age, span, margins: np.ndarray) -> Any:
        """The CSI message with the keys ``age``, ``span`` (s64 per user) and ``margin_db``."""
        msg = pmt.dict_add(msg, pmt.intern("age"), pmt.init_s64vector(len(age), list(age)))
        msg = pmt.dict_add(msg, pmt.intern("span"), pmt.init_s64vector(len(span), list(span)))
        return pmt.dict_add(
            msg, pmt.intern("margin_db"), pmt.init_f64vector(len(margins), margins.tolist())
        )
