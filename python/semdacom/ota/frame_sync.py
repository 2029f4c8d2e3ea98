#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``frame_sync``: received samples -> synchronised bursts."""

from __future__ import annotations

import collections
import time

import numpy as np
import pmt
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_finite, check_int
from gnuradio.semdacom.plumbing.ota import MAX_BUFFER, BurstBlock, BurstQueue, burst_layout

from semdacom.channel_coding import ota as ota_layout
from semdacom.phy import sync

#: CFO estimates kept for :meth:`frame_sync.cfo_estimates` (a radio runs for days)
CFO_HISTORY = 4096

__all__ = ["frame_sync", "SYNC_TAG"]

#: Key of the tag on the first sample of every burst out (a dict: start, cfo, metric, rho).
SYNC_TAG = "ota_sync"
#: Half the taps of the interpolator (``sps > 1``).
_HALF = 4
#: Seconds between two warnings about ambiguous CFO estimates (rate-limited log).
_WARN_EVERY_S = 10.0


class frame_sync(BurstBlock, Block, gr.basic_block):
    """User side of the over-the-air split: finds the bursts of ``pilot_inserter`` in the
    received stream and hands each on, timed and with its carrier frequency offset removed.

    Detection, timing and CFO follow ``semdacom.phy.sync`` (docs/ota.md §3): the Schmidl-Cox
    metric of the repeated, phase-masked Zadoff-Chu preamble finds a burst and its CFO up to
    a multiple of ``2 pi / N`` rad/symbol (``angle(P)/N``); a matched filter against the
    antennas' preambles scores the hypotheses ``angle(P)/N + 2 pi k / N``, ``|k| <= 2``, and
    the best one gives the CFO and the burst's first sample: acquisition over
    ``|CFO| < 2.5 / N`` cycles/symbol (0.0197 for ``N = 127``: +-19.7 kHz at 1 Msymbol/s).
    A candidate whose best hypothesis has ``rho < rho_min`` is rejected (``rejected``: a false
    alarm of the metric, or a CFO outside the range); one where a second hypothesis reaches
    half the best one's ``rho`` has an ambiguous CFO and is rejected too (``cfo_rejected``,
    logged at most every 10 s): no burst goes out with a wrapped CFO and a wrong start.
    GNU Radio's ``digital.corr_est_cc`` does not fit here: it correlates against one known
    sequence on the uncorrected stream, and the received preamble is a channel-dependent mix
    of ``N_t`` sequences under an unknown frequency offset.

    Output: for every burst found, its ``span`` samples (preamble to the last pilot block:
    ``layout.span`` of ``semdacom.channel_coding.ota.BurstLayout``), multiplied by
    ``exp(-j cfo n)`` from its first sample, with a ``packet_len`` tag (``span``) and an
    ``ota_sync`` tag (dict: ``start`` the absolute input sample, ``frac`` its fractional
    part, ``cfo`` rad/symbol, ``metric`` Schmidl-Cox, ``rho`` fine-timing energy share,
    ``burst`` count) on the first.
    Samples outside bursts are dropped. Counters: bursts found, candidates rejected by the
    fine timing (``rejected``: false alarms of the metric, CFOs out of range), candidates
    rejected for an ambiguous CFO (``cfo_rejected``), samples in, samples dropped from a full
    buffer (``MAX_BUFFER``), junk samples in (``samples_junk``).

    Junk samples (NaN, inf, or ``|x| > semdacom.phy.sync.MAX_SAMPLE`` = 1e9: a saturating
    front end, a NaN from upstream DSP) are neutralised locally: they count as 0, the
    detection metric of every window that holds one is invalid (0), and a burst that holds
    one goes out with 0 in its place; detection everywhere else is exactly as without them.
    The windowed sums of the metric are computed per window (``sync._window_sum``), so they
    stay exact however long the stream and however loud what came before.

    Parameters
    ----------
    k, n_t, preamble_len, n_pilots, header_mcs, payload_len :
        The burst layout, as in ``pilot_inserter`` (the guard does not matter here).
    threshold : float
        Schmidl-Cox metric above which a burst is a candidate (0 < threshold < 1).
    rho_min : float
        Fine-timing energy share a candidate needs (0 < rho_min < 1).
    sps : int
        Samples per symbol of the input. 1: a symbol-spaced stream, the start is the best
        integer sample. > 1: a pulse-shaped stream after its matched filter (e.g.
        root-raised-cosine, ``core.sync.rrc_taps``); the start gets a fractional part from
        the fine-timing peak and every burst is interpolated at its own symbol instants
        (``core.sync.interpolate``), which absorbs a sample clock offset between the radios
        (the drift within one burst stays small); the output is one sample per symbol.
    """

    def __init__(
        self, k: int = 2, n_t: int = 2, preamble_len: int = 127, n_pilots: int = 16,
        header_mcs: int = 2, payload_len: int = 4096, threshold: float = 0.1,
        rho_min: float = 0.15, sps: int = 1, pilot_spacing: int = ota_layout.PILOT_SPACING,
    ) -> None:  # fmt: skip
        self._layout = burst_layout(
            k, n_t, preamble_len, n_pilots, header_mcs, payload_len, pilot_spacing=pilot_spacing
        )
        self._sps = check_int("sps", sps, 1, 64)
        for name, v in (("threshold", threshold), ("rho_min", rho_min)):
            if not 0 < check_finite(name, v) < 1:
                raise ValueError(f"{name} must be in (0, 1), got {v!r}")
        self._thr, self._rho_min = float(threshold), float(rho_min)
        gr.basic_block.__init__(
            self, name="frame_sync", in_sig=[np.complex64], out_sig=[np.complex64]
        )
        self.set_tag_propagation_policy(gr.TPP_DONT)
        self._pre = sync.preamble(self._layout.n_t, self._layout.preamble_len, 1.0)
        self._buf = np.zeros(0, np.complex64)
        self._buf_start = 0  # absolute input index of self._buf[0]
        self._pos = 0  # absolute index where the search continues
        self._out = BurstQueue(1)
        self.setup(("bursts", "rejected", "cfo_rejected", "samples_in", "samples_dropped",
                    "samples_junk"))  # fmt: skip
        self._cfos: collections.deque = collections.deque(maxlen=CFO_HISTORY)
        self._warned_at = -np.inf  # time.monotonic() of the last cfo_rejected warning
        self._unwarned = 0  # cfo_rejected since that warning

    def _symbols(self, det, span: int) -> np.ndarray:
        """The burst's ``span`` symbols, CFO removed (rad/sample ``det.cfo``)."""
        sps = self._sps
        if sps == 1:
            return sync.rotate(sync.sanitize(self._buf[det.start : det.start + span])[0], det.cfo)
        k = np.arange(span)
        lo = det.start - _HALF
        pad = max(0, -lo)
        part = self._buf[max(lo, 0) : det.start + sps * (span - 1) + _HALF + 2]
        part = np.concatenate([np.zeros(pad, np.complex128), sync.sanitize(part)[0]])
        sym = sync.interpolate(part, _HALF + det.frac + sps * k, _HALF)
        return sym * np.exp(-1j * det.cfo * sps * k)

    def layout(self):
        return self._layout

    def cfo_estimates(self) -> list[float]:
        """The CFO of the last :data:`CFO_HISTORY` bursts found (rad/symbol), oldest first."""
        return list(self._cfos)

    def _cfo_rejected(self, where: int) -> None:
        """Count a candidate rejected for an ambiguous CFO; warn at most every
        ``_WARN_EVERY_S`` seconds (a stream of them must not flood the log)."""
        self._counts["cfo_rejected"] += 1
        self._unwarned += 1
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_S:
            self.logger.warn(
                f"ambiguous CFO (two hypotheses 2 pi/N apart fit the preamble) near input "
                f"sample {where}: {self._unwarned} burst(s) rejected since the last warning, "
                f"cfo_rejected = {self._counts['cfo_rejected']}"
            )
            self._warned_at, self._unwarned = now, 0

    # ------------------------------------------------------------------ stream
    def _take(self, input_items, n: int) -> None:
        x = np.asarray(input_items[0][:n])
        self._counts["samples_in"] += x.size
        self._counts["samples_junk"] += int(np.count_nonzero(sync.junk(x)))
        self._buf = np.concatenate([self._buf, x.astype(np.complex64)])
        sps = self._sps
        span = self._layout.span
        extent = span if sps == 1 else sps * (span - 1) + _HALF + 2  # samples a burst needs
        while True:
            begin = self._pos - self._buf_start
            det, resume, rejected = sync.find_burst(
                self._buf, self._pre, begin, self._thr, self._rho_min, sps=sps
            )
            if rejected == sync.REJECT_CFO:
                self._cfo_rejected(self._buf_start + resume)
            elif rejected:
                self._counts["rejected"] += 1
            if det is None:
                self._pos = self._buf_start + resume
                if not rejected:
                    break
                continue
            if det.start + extent > self._buf.size:
                self._pos = self._buf_start + det.start  # the burst is not all in yet
                break
            seg = self._symbols(det, span)
            info = {"start": int(self._buf_start + det.start), "cfo": det.cfo * sps,
                    "metric": det.metric, "rho": det.rho, "frac": det.frac,
                    "burst": self._counts["bursts"]}  # fmt: skip
            self._out.put(seg[None, :], [(0, "packet_len", pmt.from_long(span)),
                                          (0, SYNC_TAG, messages.meta_to_pmt(info))])  # fmt: skip
            self._counts["bursts"] += 1
            self._cfos.append(det.cfo * sps)
            self._pos = self._buf_start + det.start + sps * span
        cut = max(0, self._pos - self._buf_start - _HALF)  # interpolation needs a margin
        if self._buf.size - cut > MAX_BUFFER:
            drop = self._buf.size - cut - MAX_BUFFER
            self._counts["samples_dropped"] += drop
            cut += drop
            self._pos = self._buf_start + cut
        self._buf = self._buf[cut:]
        self._buf_start += cut
