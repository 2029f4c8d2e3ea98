#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``pa_model`` (simulation only): what a radio transmits of full-scale
samples: the DAC's clip at full scale, then Rapp's PA."""

from __future__ import annotations

import numpy as np
from gnuradio import gr
from gnuradio.semdacom.plumbing.checks import check_choice, check_finite, check_int
from gnuradio.semdacom.plumbing.levels import LevelStreams

from semdacom.phy import tx_level as tl

__all__ = ["pa_model"]


class pa_model(LevelStreams, gr.sync_block):
    """The transmitter's non-linearity for simulations (``semdacom.phy.tx_level``, docs/ota.md
    "Transmit levels"), on the ``N_t`` full-scale streams of ``tx_level``: first the DAC path
    clips at full scale (``clip``: ``rail`` = I and Q each to ``[-1, 1]``, as UHD's sc16
    conversion saturates; ``envelope`` = onto ``|x| = 1``, the phase kept; ``off``), then the
    PA applies Rapp's AM/AM curve ``r / (1 + (r/A_sat)^(2p))^(1/(2p))`` (C. Rapp, ESA SP-332,
    1991; ``smoothness`` ``p``, 0 = no PA model; ``saturation`` ``A_sat`` in full-scale units;
    unit small-signal gain, no AM/PM). Output in full-scale units: scale it back to watts
    (``blocks.multiply_const_cc(1 / g)``, ``g`` of ``tx_level``) before a channel whose noise
    is set in watts.

    ``clipped`` counts the input samples beyond full scale (the ``clip`` mode's bound; ``rail``
    when ``clip`` is ``off``), logged at most once every ``log_interval_s``; a non-finite
    sample is set to 0 and counted (``nonfinite``); :meth:`levels` gives the input's levels
    per antenna (RMS, peak in dBFS, PAPR) and goes out on ``levels`` every ``report_every``
    samples (0: never) and at stop. Tags pass one to one.

    Parameters
    ----------
    n_t : int
        Antennas (inputs and outputs).
    clip : str
        ``rail``, ``envelope`` or ``off``.
    smoothness : float
        Rapp's ``p`` (> 0; 0 leaves the PA out).
    saturation : float
        Rapp's output saturation ``A_sat`` (> 0), full-scale units.
    report_every : int
        Samples per antenna between ``levels`` messages (0: only at stop if ever).
    log_interval_s : float
        Least time between two warnings.
    """

    CLIPS = ("rail", "envelope", "off")

    def __init__(
        self, n_t: int = 2, clip: str = "rail", smoothness: float = 3.0, saturation: float = 1.0,
        report_every: int = 0, log_interval_s: float = 5.0,
    ) -> None:  # fmt: skip
        n_t = check_int("n_t", n_t, 1, 64)
        self._clip = check_choice("clip", clip, self.CLIPS)
        self._p = check_finite("smoothness", smoothness, 0.0)
        self._sat = check_finite("saturation", saturation, 0.0)
        if self._sat <= 0:
            raise ValueError(f"saturation must be > 0, not {saturation}")
        gr.sync_block.__init__(
            self, name="pa_model", in_sig=[np.complex64] * n_t, out_sig=[np.complex64] * n_t
        )
        mode = "rail" if self._clip == "off" else self._clip
        self.level_setup(n_t, mode, log_interval_s, report_every)

    def _shape(self, x: np.ndarray, n_over: int) -> np.ndarray:
        if self._clip != "off" and n_over:
            x = tl.clip(x, self._clip)
        if self._p > 0:
            x = tl.rapp(x, self._p, self._sat)
        return x
