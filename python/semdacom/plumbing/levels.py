#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""What the transmit-level blocks share (``ota.tx_level``, ``ota.pa_model``): ``N_t`` complex
streams in and out, one per antenna, tags passed one to one; every chunk is cleaned
(non-finite samples set to 0 and counted), measured against digital full scale
(:class:`semdacom.phy.tx_level.LevelMeter`: samples beyond full scale, RMS and peak in dBFS),
shaped by the block's own ``_shape`` and logged at most once every ``log_interval_s`` when
samples lie beyond full scale or are not finite (docs/ota.md "Transmit levels")."""

from __future__ import annotations

import time

import numpy as np
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_finite, check_int

from semdacom.phy import tx_level as tl

__all__ = ["LevelStreams"]


class LevelStreams(Block):
    """Mixin before ``gr.sync_block`` (``class b(LevelStreams, gr.sync_block)``): call
    :meth:`level_setup` after ``gr.sync_block.__init__``; the block defines
    ``_measured(x)`` (what the meter sees: the input, or the scaled input) and
    ``_shape(x, n_over)`` (the samples out from those measured, ``n_over`` of them beyond
    full scale)."""

    _what = "samples beyond full scale"

    def level_setup(
        self, n_t: int, mode: str, log_interval_s: float, report_every: int, extra=()
    ) -> None:
        self._n_t = n_t
        self.set_tag_propagation_policy(gr.TPP_ONE_TO_ONE)
        self._meter = tl.LevelMeter(n_t, mode)
        self._throttle = tl.LogThrottle(check_finite("log_interval_s", log_interval_s, 0.0))
        self._report_every = check_int("report_every", report_every)
        self._since = 0
        self._bad_held = 0
        # counters: samples per antenna in (all antennas together), samples beyond full scale
        # (all antennas), non-finite samples set to 0, and the block's own
        self.setup(("samples_in", "clipped", "nonfinite", *extra))
        self.message_out("levels")

    # ------------------------------------------------------------------ inspection
    def levels(self) -> dict:
        """Per antenna and overall levels against full scale (``LevelMeter.summary``) with
        the counters."""
        return {**self._meter.summary(), **self.counters()}

    # ------------------------------------------------------------------ stream
    def work(self, input_items, output_items):
        n = len(output_items[0])
        try:
            over = bad = 0
            for a in range(self._n_t):
                x, nb = tl.finite_or_zero(input_items[a][:n])
                m = self._measured(x)
                n_over = self._meter.update(a, m)
                over += n_over
                bad += nb
                output_items[a][:n] = self._shape(m, n_over)
            self._counts["samples_in"] += n
            self._counts["clipped"] += over
            self._counts["nonfinite"] += bad
            self._log(over, bad)
            self._since += n
            if self._report_every and self._since >= self._report_every:
                self._since = 0
                self._publish()
        except Exception as exc:  # work() must never end the thread
            self.logger.error(f"work: {type(exc).__name__}: {exc}")
            for a in range(self._n_t):
                output_items[a][:n] = 0
        return n

    def _log(self, over: int, bad: int) -> None:
        held = self._throttle.note(over)
        self._bad_held += bad
        if (held or self._bad_held) and self._throttle.due(time.monotonic()):
            s = self._meter.summary()
            self.logger.warn(
                f"{self._throttle.take()} {self._what} ({s['mode']}) and {self._bad_held} "
                f"non-finite samples (set to 0) since the last report; peak "
                f"{s['peak_dbfs_max']:.1f} dBFS, RMS {s['rms_dbfs_max']:.1f} dBFS, "
                f"{self._counts['clipped']} of {self._counts['samples_in'] * self._n_t} in all"
            )
            self._bad_held = 0

    def _publish(self) -> None:
        self.publish("levels", messages.meta_to_pmt(self.levels()))

    def stop(self) -> bool:
        if self._report_every:
            self._publish()
        return True

    # ------------------------------------------------------------------ the block's own
    def _measured(self, x: np.ndarray) -> np.ndarray:
        return x

    def _shape(self, x: np.ndarray, n_over: int) -> np.ndarray:
        """The samples out, from those measured (``n_over`` of them beyond full scale)."""
        return x
