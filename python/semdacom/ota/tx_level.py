#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``tx_level``: the base station's antenna streams in watts -> digital full
scale, with every sample beyond it counted."""

from __future__ import annotations

import numpy as np
from gnuradio import gr
from gnuradio.semdacom.plumbing.checks import check_choice, check_finite, check_int
from gnuradio.semdacom.plumbing.levels import LevelStreams

from semdacom.phy import tx_level as tl

__all__ = ["tx_level"]


class tx_level(LevelStreams, gr.sync_block):
    """Maps the ``N_t`` shaped antenna streams of the base station (watts, MU-ASCC [1]'s
    powers) to the DAC's full scale (``semdacom.phy.tx_level``, docs/ota.md "Transmit
    levels"): every sample is multiplied by ``g = 10^(-backoff_db/20) / sqrt(p_max / n_t)``,
    which puts the per-antenna power ``p_max / n_t`` (the pilots' and, on average, the
    payload's) at an RMS of ``-backoff_db`` dBFS. Goes after the pulse shaping, before the
    UHD sink (or, in simulation, before ``pa_model`` and the channel).

    Every sample beyond full scale (``full_scale``: ``rail`` = ``|I| > 1`` or ``|Q| > 1``, where
    UHD's conversion to sc16 saturates; ``envelope`` = ``|x| > 1``) is counted in ``clipped``
    (per antenna in :meth:`levels`, with the RMS, envelope and rail peak in dBFS and the
    PAPR) and logged at most once every ``log_interval_s``; with ``clip`` the block clips it
    itself (per rail as UHD would, or onto the unit circle, keeping the phase). A non-finite
    sample is set to 0 and counted (``nonfinite``). :meth:`levels` goes out on ``levels``
    every ``report_every`` samples per antenna (0: never) and at stop. Tags pass one to one
    (``tx_sob`` / ``tx_eob`` stay on their antenna and sample).

    Parameters
    ----------
    n_t : int
        Antennas ``N_t`` (inputs and outputs).
    p_max : float
        ``P_max``, the total transmit power of the allocation, watts (> 0).
    backoff_db : float
        RMS of the per-antenna power ``p_max / n_t`` below full scale, dB (default 12:
        ``semdacom.phy.tx_level.DEFAULT_BACKOFF_DB``, from the measured PAPR).
    full_scale : str
        ``rail`` (UHD sc16) or ``envelope``.
    clip : bool
        Clip the samples beyond full scale here (else they are only counted).
    report_every : int
        Samples per antenna between ``levels`` messages (0: only at stop if ever).
    log_interval_s : float
        Least time between two warnings about samples beyond full scale.
    """

    def __init__(
        self, n_t: int = 2, p_max: float = 1.0, backoff_db: float = tl.DEFAULT_BACKOFF_DB,
        full_scale: str = "rail", clip: bool = False, report_every: int = 0,
        log_interval_s: float = 5.0,
    ) -> None:  # fmt: skip
        n_t = check_int("n_t", n_t, 1, 64)
        self._p_max = check_finite("p_max", p_max, 0.0)
        self._gain = tl.full_scale_gain(self._p_max, n_t, check_finite("backoff_db", backoff_db))
        self._mode = check_choice("full_scale", full_scale, tl.MODES)
        self._clip = bool(clip)
        gr.sync_block.__init__(
            self, name="tx_level", in_sig=[np.complex64] * n_t, out_sig=[np.complex64] * n_t
        )
        self.level_setup(n_t, self._mode, log_interval_s, report_every)

    def gain(self) -> float:
        """The amplitude factor ``g`` in force."""
        return self._gain

    def set_backoff_db(self, backoff_db: float) -> None:
        """A new back-off (dB); a bad one raises ValueError and leaves ``g`` as it was."""
        self._gain = tl.full_scale_gain(self._p_max, self._n_t, float(backoff_db))

    def _measured(self, x: np.ndarray) -> np.ndarray:
        return x * np.float32(self._gain)

    def _shape(self, x: np.ndarray, n_over: int) -> np.ndarray:
        return tl.clip(x, self._mode) if self._clip and n_over else x
