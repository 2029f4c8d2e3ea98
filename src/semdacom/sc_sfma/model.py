"""SC-SFMA system model ([2], *Semantic Feature Multiple Access Empowered Integrated Learning
and Communication Networks*), as reconstructed in ``docs/sc_sfma/model.md``.

numpy/scipy only: the SC-SFMA optimiser (``sc_sfma/optimizer``) and the learned transceiver's
profiling code (``sc_sfma/transceiver``) both import it, and it never imports torch or GNU Radio.

Contents (equation numbers of SC-SFMA):

- pair classes of Fashion-MNIST labels (:func:`pair_class`) and the check of scene ids
  (:func:`check_scenes`);
- the semantic interference factor xi of eq. (10) with its derivatives (:func:`xi`,
  :func:`xi_grad`, :func:`xi_dnu2`) and its least-squares fit (:func:`fit_xi`);
- SNR, effective SINR (11), rate (12)-(13) with the rate's derivatives, delay (14), latency (15),
  energy (16) and the residual time budget (27);
- the monotone upper envelope of distortion samples (17), :func:`nu_min` (18)-(19);
- the table formats ``semdacom-sfma-xi/1`` and ``semdacom-sfma-distortion/1``
  (docs/mu_ascc/tables.md, "SFMA tables": :class:`XiTable`,
  :class:`DistortionEnvelopeTable`) with loaders (:func:`load_xi_table`,
  :func:`load_distortion_table`) and synthetic tables in the same format for tests and for
  runs made before measured tables exist (flagged ``"synthetic": true``; never shipped).

Units: powers in watts, bandwidths in Hz, rates in bit/s, sizes in bits, times in seconds,
energies in joules; SNRs in dB only where the name says ``_db``.

This module is the public entry of the model; the pieces live in :mod:`semdacom.sc_sfma.xi`
(eq. (10), pair classes), :mod:`semdacom.sc_sfma.rates` (eqs. (11)-(16), (27)) and
:mod:`semdacom.sc_sfma.tables` (eqs. (17)-(19), tables, loaders, synthetic tables).
"""

from __future__ import annotations

from semdacom.sc_sfma.rates import (
    comp_energy,
    energy,
    latency,
    rate,
    rate_dnu,
    residual_time,
    sinr,
    snr_db,
    tx_delay,
)
from semdacom.sc_sfma.tables import (
    DISTORTION_FORMAT,
    TABLES_DIR,
    XI_FORMAT,
    DistortionEnvelopeTable,
    XiTable,
    distortion_table_from_dict,
    load_distortion_table,
    load_xi_table,
    nu_min,
    synthetic_distortion_table,
    synthetic_xi_table,
    upper_envelope,
    xi_table_from_dict,
)
from semdacom.sc_sfma.xi import (
    OVERLAP_CLASS,
    PAIR_CLASSES,
    SUPER_GROUPS,
    XI_PARAM_KEYS,
    check_scenes,
    fit_xi,
    pair_class,
    xi,
    xi_dnu2,
    xi_grad,
)

__all__ = [
    "DISTORTION_FORMAT",
    "OVERLAP_CLASS",
    "PAIR_CLASSES",
    "SUPER_GROUPS",
    "TABLES_DIR",
    "XI_FORMAT",
    "XI_PARAM_KEYS",
    "DistortionEnvelopeTable",
    "XiTable",
    "check_scenes",
    "comp_energy",
    "distortion_table_from_dict",
    "energy",
    "fit_xi",
    "latency",
    "load_distortion_table",
    "load_xi_table",
    "nu_min",
    "pair_class",
    "rate",
    "rate_dnu",
    "residual_time",
    "sinr",
    "snr_db",
    "synthetic_distortion_table",
    "synthetic_xi_table",
    "tx_delay",
    "upper_envelope",
    "xi",
    "xi_dnu2",
    "xi_grad",
    "xi_table_from_dict",
]
