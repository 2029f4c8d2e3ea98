#
# Copyright 2025 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""PMT message schemas of gr-semdacom: conversion and validation, both ways.

Every block builds and parses its control and data messages through this package; no block
handles these PMT dictionaries by hand. Every reader validates what it gets and raises
:class:`MessageError` (a :class:`ValueError`) with the reason; the calling block logs the reason,
drops the message and keeps its previous state. Every name below is importable from
``gnuradio.semdacom.messages``; each module's docstring gives its schemas key by key.

Families (one module each; a schema's reader, writer and validator sit together):

``pmt_util``
    PMT primitives: :class:`MessageError`, typed readers of PMT values (``read_count``, ...),
    writers of numpy arrays, array checks, metadata dictionaries (``meta_to_pmt``,
    ``meta_from_pmt``).
``limits``
    Physical limits several schemas share and C++ mirrors: ``MAX_POWER_W``, ``MAX_RC``,
    ``beam_norm_tolerance``, ``MAX_CHANNEL_GAIN``, ``MAX_NOISE_VAR``, ``MIN_NOISE_VAR``.
``allocation``
    The allocation dictionary's envelope (``seq``, ``apply_frame``, diagnostics), the
    :class:`Allocation` it reads into, ``alloc_to_pmt`` / ``alloc_from_pmt``, and the registry
    (``AllocFamily``, ``register_family``) through which each paper adds its keys.
``mu_ascc``
    MU-ASCC [1] allocation keys (``rate_index``, ``rs_bits``, ``rc``, ``mcs``, ``power``, ``w``)
    and ``link_allocation`` (the channel coder's reading of them).
``sc_sfma``
    SC-SFMA [2] allocation keys (``pairs``, ``nu``, ``group_power``, ``group_bw``) with
    ``check_sfma_alloc``, the SFMA CSI of per-user gains (``SfmaCsi``) and the SFMA frame tags
    (``sfma_frame_info``, ``sfma_group_info``).
``csi``
    MU-MISO channel state: :class:`Csi`, ``csi_to_pmt`` / ``csi_from_pmt``, the optional
    ``frame`` key (``csi_with_frame``, ``csi_frame``).
``ota``
    Over-the-air feedback: the per-user CSI reports (``csi_report_to_pmt`` / ``_from_pmt``).
``pdu``
    PDUs: bits, images, labels, analog symbols.
``frames``
    Per-frame stream tags of the channel coder and DeepJSCC (``CHAN_TAG``, ``chan_info``,
    ``DJSCC_TAG``) and the frame credits (``frame_sent_to_pmt``).

A third paper adds a module: its allocation keys as an ``AllocFamily`` registered at import,
its own messages beside them, and one import line here.
"""

from __future__ import annotations

# Each module's __all__ is its public API; the package re-exports all of them. The allocation
# families register when their module is imported: mu_ascc, then sc_sfma (the imports below, in
# name order); an allocation is checked family by family in that order.
from gnuradio.semdacom.messages import (
    allocation,
    csi,
    frames,
    limits,
    mu_ascc,
    ota,
    pdu,
    pmt_util,
    sc_sfma,
)
from gnuradio.semdacom.messages.allocation import *  # noqa: F403
from gnuradio.semdacom.messages.csi import *  # noqa: F403
from gnuradio.semdacom.messages.frames import *  # noqa: F403
from gnuradio.semdacom.messages.limits import *  # noqa: F403
from gnuradio.semdacom.messages.mu_ascc import *  # noqa: F403
from gnuradio.semdacom.messages.ota import *  # noqa: F403
from gnuradio.semdacom.messages.pdu import *  # noqa: F403
from gnuradio.semdacom.messages.pmt_util import *  # noqa: F403
from gnuradio.semdacom.messages.sc_sfma import *  # noqa: F403

#: Every allocation key known: seq, apply_frame, each registered family's, then the diagnostics
#: (objective, solve_ms, solver).
ALLOC_KEYS: tuple[str, ...] = allocation.alloc_keys()

__all__ = ["ALLOC_KEYS"]
for _module in (pmt_util, limits, allocation, mu_ascc, sc_sfma, csi, ota, pdu, frames):
    __all__ += _module.__all__
del _module
