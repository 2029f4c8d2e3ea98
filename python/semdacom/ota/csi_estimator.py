#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``csi_estimator``: synchronised bursts -> CSI report and tagged payload."""

from __future__ import annotations

import collections
import math

import numpy as np
import pmt
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.ota.frame_sync import SYNC_TAG
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_int
from gnuradio.semdacom.plumbing.ota import (
    MAX_BUFFER,
    BurstBlock,
    BurstQueue,
    burst_layout,
    receiver_taps,
)
from gnuradio.semdacom.plumbing.ota import pilot_power as _check_power

from semdacom._offload import Offload, OffloadDied
from semdacom.channel_coding import ota

__all__ = ["csi_estimator"]

#: Estimates kept for inspection (:meth:`csi_estimator.estimates`).
HISTORY = 4096


class csi_estimator(BurstBlock, Block, gr.basic_block):
    """Pilot-based CSI of one user and the frame's payload, from the bursts of
    ``frame_sync`` (docs/ota.md).

    For every burst (``ota_sync`` tag and ``packet_len`` samples from ``frame_sync``):

    - a multi-tap channel fitted on the preamble and the pilot blocks (``taps`` symbol-spaced
      taps per antenna, ``precursor`` before the main path), its phase tracked over the pilot
      blocks spread through the payload and its drift fitted when significant
      (``semdacom.channel_coding.ota.receive_burst``, ``semdacom.phy.equalizer``): the spatial
      channel ``h_u`` (``N_t`` coefficients) and a scalar impulse response; the burst is
      equalised (MMSE FIR, unbiased), the header decoded, and with the header's samples known
      the fit and the equalisation are repeated for the payload;
    - the noise reported is the effective noise after equalisation, measured on the
      equalised training samples (noise plus residual echoes, phase jitter, IQ image: what
      the decoder sees), so impairments lower the SINR the optimiser plans with;
    - the channel is turned so that ``h_u[0]`` is real and non-negative, and the samples
      with it: estimates of different bursts (each with its own carrier phase) then
      describe the payload in the same frame of reference, so a decoder may combine the
      payload with an older estimate (the base station's combined CSI);
    - the header (``coding.ota``) is decoded with the estimate: frame number and this
      user's entry (payload bits, MCS, image id, label, source rate);
    - a CSI report is published on ``csi`` (``messages.csi_report_to_pmt``: one row,
      ``user``, ``frame`` when the header was read, ``seq`` counting reports);
    - the payload (``payload_len`` samples; preamble, pilots and header removed) goes out
      with a ``frame`` tag (u64), a ``packet_len`` tag and the ``semdacom_chan`` tag the
      channel decoder of this user reads (``coding.ota.chan_info_from_entry``).

    A burst whose header fails (CRC) still gives its CSI report (without ``frame``) and its
    payload, tagged with the frame after the last one read (``frame_inferred`` in the
    ``semdacom_chan`` tag) and marked erased, so its decoder answers with an erasure; but
    only once a header with an entry for this user was read last: before the user's first
    frame (no header read yet, or beacons of ``channel_encoder``'s ``beacons``, which have no
    entry) nobody knows whether the burst carried data for this user, so it gives no payload
    (``header_failed_unplaced``) and the decoder answers a lost image by the gap in the
    images' frame numbers.
    Frames skipped between two headers are counted as missed (``frames_missed``); a burst
    whose header has no frame for this user gives no payload (``no_frame_for_user``).

    Parameters
    ----------
    user : int
        This user's index in the header.
    k, n_t, preamble_len, n_pilots, pilot_power, header_mcs, payload_len, pilot_spacing :
        The burst layout and pilot power, as in ``pilot_inserter``.
    blocklength : int
        ``L`` written into the ``semdacom_chan`` tag.
    taps : int
        Channel taps fitted per antenna (symbol-spaced).
    precursor : int
        How many of them lie before the main path (``0 <= precursor < taps``).
    helper_process : bool
        Compute each burst's channel fit, equalisation and header (``ota.receive_burst``) in
        a helper process (``semdacom._offload``, started with the flowgraph, one burst at a
        time, in order): the block's thread waits for it without the interpreter lock, so
        the other Python blocks run meanwhile on the other core (issue 23: the user receiver's
        Python blocks were serialised on the lock). The results are the same (tested). A
        helper that cannot start or dies is logged and counted (``helper_failed``) and the
        bursts are computed in the block's thread from then on; ``in_helper`` counts the
        bursts the helper computed. Default off (one process less; a flowgraph script run
        this way needs nothing special: the helper imports only ``semdacom``).
    """

    WORK_ERRORS = "errors"

    def __init__(
        self, user: int = 0, k: int = 2, n_t: int = 2, preamble_len: int = 127, n_pilots: int = 16,
        pilot_power: float = 1.0, header_mcs: int = 2, payload_len: int = 4096,
        blocklength: int = 256, pilot_spacing: int = ota.PILOT_SPACING, taps: int = ota.TAPS,
        precursor: int = ota.PRECURSOR, helper_process: bool = False,
    ) -> None:  # fmt: skip
        self._layout = burst_layout(k, n_t, preamble_len, n_pilots, header_mcs, payload_len,
                                    0, pilot_spacing)  # fmt: skip
        self._taps, self._precursor = receiver_taps(taps, precursor)
        self._user = check_int("user", user, 0, self._layout.k - 1)
        self._power = _check_power(pilot_power)
        self._L = check_int("blocklength", blocklength, 1)
        gr.basic_block.__init__(
            self, name="csi_estimator", in_sig=[np.complex64], out_sig=[np.complex64]
        )
        self.set_tag_propagation_policy(gr.TPP_DONT)
        self.message_out("csi")
        self._buf = np.zeros(0, np.complex64)
        self._buf_start = 0
        self._starts: list[int] = []  # absolute starts of bursts not processed yet
        self._out = BurstQueue(1)
        self._last_frame: int | None = None
        self._entry_last = False  # the last header read had an entry for this user
        self._seq = 0
        self._last: ota.ReceivedBurst | None = None
        self._history: collections.deque = collections.deque(maxlen=HISTORY)
        self.setup(("bursts", "headers_ok", "header_failed", "frames_missed",
                    "no_frame_for_user", "header_failed_unplaced", "reports", "payloads_out",
                    "errors", "in_helper", "helper_failed"))  # fmt: skip
        self._helper = Offload(f"csi_estimator_{self._user}") if helper_process else None
        self._helper_on = False  # started with the flowgraph and not found dead

    # ------------------------------------------------------------------ inspection
    def last_estimate(self) -> ota.ReceivedBurst | None:
        """What the last burst gave (channel, noise, residual CFO, header, payload)."""
        return self._last

    def estimates(self) -> list[dict]:
        """The last :data:`HISTORY` estimates, oldest first: ``{"frame"`` (None when the
        header failed), ``"h"``, ``"noise_var"`` (effective, after equalisation), ``"cfo"``
        (residual, rad/sample), ``"noise_fit"`` (residual of the channel fit)``}``."""
        return list(self._history)

    def layout(self) -> ota.BurstLayout:
        return self._layout

    # ------------------------------------------------------------------ stream
    def _take(self, input_items, n: int) -> None:
        x, start = np.asarray(input_items[0][:n]), self.nitems_read(0)
        for t in self.get_tags_in_window(0, 0, x.size):
            if pmt.is_symbol(t.key) and pmt.symbol_to_string(t.key) == SYNC_TAG:
                self._starts.append(int(t.offset))
        if not self._starts:
            self._buf = np.zeros(0, np.complex64)
            self._buf_start = start + x.size
            return
        if self._buf.size == 0:
            self._buf_start = start
        self._buf = np.concatenate([self._buf, x])
        self._step()

    def _has_work(self) -> bool:
        """Whether a whole burst waits in the buffer (``BurstBlock`` calls :meth:`_step`)."""
        span = self._layout.span
        return bool(self._starts) and self._starts[0] - self._buf_start + span <= self._buf.size

    def _step(self) -> None:
        """Process the next whole burst in the buffer, if any: one per call, so that each
        payload goes out as soon as it is ready (a backlog of bursts processed in one call
        would hold every output back until the last)."""
        span = self._layout.span
        while self._starts:
            a = self._starts[0] - self._buf_start
            if a < 0:  # its samples were dropped (a full buffer)
                self._starts.pop(0)
                continue
            if a + span > self._buf.size:
                break
            self._starts.pop(0)
            try:
                self._burst(self._buf[a : a + span])
            except Exception as exc:  # one bad burst must not end the thread
                self._counts["errors"] += 1
                self.logger.error(f"burst: {type(exc).__name__}: {exc}")
            break
        keep = self._starts[0] if self._starts else self._buf_start + self._buf.size
        cut = max(0, keep - self._buf_start, self._buf.size - MAX_BUFFER)
        self._buf = self._buf[cut:]
        self._buf_start += cut

    # ------------------------------------------------------------------ the helper process
    def start(self) -> bool:
        if self._helper is not None:
            try:
                self._helper.start(ota.__name__)
                self._helper_on = True
            except Exception as exc:  # no helper: the flowgraph still starts
                self._helper.stop()
                self._counts["helper_failed"] += 1
                self.logger.error(
                    f"helper process: {type(exc).__name__}: {exc}: the bursts are computed "
                    "in the block's thread"
                )
        return True

    def stop(self) -> bool:
        self._helper_on = False
        if self._helper is not None:
            self._helper.stop()
        return True

    def _receive(self, y: np.ndarray) -> ota.ReceivedBurst:
        """``ota.receive_burst`` of one burst: in the helper process while it runs (the
        block's thread waits without the interpreter lock), else here. A helper found dead
        is counted in ``helper_failed`` and logged, and this burst and the next are computed
        here; an error of the burst itself is raised either way."""
        args = (y, self._layout, self._power, self._taps, self._precursor)
        if self._helper_on:
            try:
                rb = self._helper.call(ota.receive_burst, *args)
            except OffloadDied as exc:
                self._helper_on = False
                self._counts["helper_failed"] += 1
                self.logger.error(f"{exc}: the bursts are computed in the block's thread")
            else:
                self._counts["in_helper"] += 1
                return rb
        return ota.receive_burst(*args)

    def _burst(self, y: np.ndarray) -> None:
        self._counts["bursts"] += 1
        rb = self._receive(y)
        self._last = rb
        frame: int | None = None
        entry: dict | None = None
        if rb.header is not None:
            self._counts["headers_ok"] += 1
            frame = rb.header["frame"]
            if self._last_frame is not None and frame > self._last_frame + 1:
                self._counts["frames_missed"] += frame - self._last_frame - 1
            entry = rb.header["entries"][self._user]
        else:
            self._counts["header_failed"] += 1
            self.logger.warn(f"user {self._user}: burst {self._counts['bursts']}: {rb.reason}")
        self._history.append({"frame": frame, "h": rb.h, "noise_var": rb.noise_var,
                              "cfo": rb.cfo, "noise_fit": rb.noise_fit})  # fmt: skip
        self._report(rb, frame)
        if frame is None and not self._entry_last:
            # before this user's first frame (beacons, or no header read yet): whether the
            # burst carried data for this user is unknown; its decoder answers the frame if
            # it did, by the gap in the images' frame numbers (channel_decoder)
            self._counts["header_failed_unplaced"] += 1
            if self._last_frame is not None:
                self._last_frame = (self._last_frame + 1) % 2**64
            return
        if frame is None:
            frame = 0 if self._last_frame is None else (self._last_frame + 1) % 2**64
            info = {"user": self._user, "mode": "ldpc", "L": self._L, "n_bits": 0,
                    "erased": True, "erasure_reason": f"over-the-air header lost: {rb.reason}",
                    "frame_inferred": True}  # fmt: skip
        elif not entry.get("present"):
            self._counts["no_frame_for_user"] += 1
            self._last_frame, self._entry_last = frame, False
            return
        else:
            info = ota.chan_info_from_entry(entry, self._user, self._L)
            if rb.header["truncated"]:
                info["slot_cut"] = True
            self._entry_last = True
        self._last_frame = frame
        tags = [(0, "frame", pmt.from_uint64(int(frame))),
                (0, "packet_len", pmt.from_long(int(rb.payload.size))),
                (0, messages.CHAN_TAG, messages.meta_to_pmt(info))]  # fmt: skip
        self._out.put(rb.payload[None, :], tags)
        self._counts["payloads_out"] += 1

    def _report(self, rb: ota.ReceivedBurst, frame: int | None) -> None:
        if not (np.all(np.isfinite(rb.h)) and math.isfinite(rb.noise_var)):
            return
        try:
            msg = messages.csi_report_to_pmt(self._user, rb.h, rb.noise_var, self._seq, frame)
        except messages.MessageError as exc:  # e.g. a gain beyond MAX_CHANNEL_GAIN
            self.logger.warn(f"no CSI report: {exc}")
            return
        self._seq += 1
        self.publish("csi", msg)
        self._counts["reports"] += 1
