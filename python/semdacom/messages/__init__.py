#
# Copyright 2025 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""PMT message schemas of gr-semdacom: conversion and validation, both ways.

Every block builds and parses its control and data messages through this package; no block
handles these PMT dictionaries by hand. Every reader validates what it gets and raises
:class:`MessageError` (a :class:`ValueError`) with the reason; the calling block logs the reason,
drops the message and keeps its previous state. The public names of the modules below are
importable from ``gnuradio.semdacom.messages`` (``pmt_util`` also holds the readers and checks the
schema modules build on); each module's docstring gives its schemas key by key.

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
    PDUs: bits, images, labels, analog symbols; the one meaning of ``erased`` (``is_erased``,
    ``partial_payload``, ``codeword_counts``).
``frames``
    Per-frame stream tags of the channel coder and DeepJSCC (``CHAN_TAG``, ``chan_info``,
    ``DJSCC_TAG``) and the credits (``frame_sent_to_pmt``, ``frame_sent_from_pmt``;
    ``metrics_sink``'s ``result_done_to_pmt``, ``done_user``).

A third paper adds a module: its allocation keys as an ``AllocFamily`` registered at import,
its own messages beside them, and its import and names here.
"""

from __future__ import annotations

from gnuradio.semdacom.messages.allocation import (
    Allocation,
    AllocCheck,
    AllocFamily,
    AllocKey,
    alloc_from_pmt,
    alloc_keys,
    alloc_to_pmt,
    register_family,
)
from gnuradio.semdacom.messages.csi import (
    Csi,
    csi_frame,
    csi_from_pmt,
    csi_to_pmt,
    csi_with_frame,
)
from gnuradio.semdacom.messages.frames import (
    CHAN_MODES,
    CHAN_TAG,
    DJSCC_TAG,
    MAX_FRAME_BITS,
    chan_info,
    done_user,
    frame_sent_from_pmt,
    frame_sent_to_pmt,
    result_done_to_pmt,
)
from gnuradio.semdacom.messages.limits import (
    MAX_CHANNEL_GAIN,
    MAX_NOISE_VAR,
    MAX_POWER_W,
    MAX_RC,
    MIN_NOISE_VAR,
    beam_norm_tolerance,
)
from gnuradio.semdacom.messages.mu_ascc import (
    ALLOC_K_KEYS,
    MU_ASCC_FAMILY,
    link_allocation,
)
from gnuradio.semdacom.messages.ota import (
    MAX_REPORT_USER,
    csi_report_from_pmt,
    csi_report_to_pmt,
)
from gnuradio.semdacom.messages.pdu import (
    MAX_IMAGE_PIXELS,
    MAX_SYMBOLS,
    bits_pdu,
    codeword_counts,
    image_pdu,
    is_erased,
    label_pdu,
    partial_payload,
    symbols_pdu,
    unpack_bits_pdu,
    unpack_image_pdu,
    unpack_label_pdu,
    unpack_symbols_pdu,
)
from gnuradio.semdacom.messages.pmt_util import (
    MessageError,
    int_fits,
    meta_from_pmt,
    meta_to_pmt,
    read_count,
)
from gnuradio.semdacom.messages.sc_sfma import (
    ALLOC_M_KEYS,
    MAX_SFMA_CHANNELS,
    MAX_SFMA_GAIN,
    SC_SFMA_FAMILY,
    SFMA_GROUP_TAG,
    SFMA_TAG,
    SfmaCsi,
    check_scenes,
    check_sfma_alloc,
    sfma_csi_from_pmt,
    sfma_csi_to_pmt,
    sfma_frame_info,
    sfma_group_info,
)

# The allocation families register when their module is imported: mu_ascc, then sc_sfma (the
# imports above, in name order); an allocation is checked family by family in that order.

#: Every allocation key known: seq, apply_frame, each registered family's, then the diagnostics
#: (objective, solve_ms, solver).
ALLOC_KEYS: tuple[str, ...] = alloc_keys()

__all__ = [
    "ALLOC_KEYS",
    "ALLOC_K_KEYS",
    "ALLOC_M_KEYS",
    "AllocCheck",
    "AllocFamily",
    "AllocKey",
    "Allocation",
    "CHAN_MODES",
    "CHAN_TAG",
    "Csi",
    "DJSCC_TAG",
    "MAX_CHANNEL_GAIN",
    "MAX_FRAME_BITS",
    "MAX_IMAGE_PIXELS",
    "MAX_NOISE_VAR",
    "MAX_POWER_W",
    "MAX_RC",
    "MAX_REPORT_USER",
    "MAX_SFMA_CHANNELS",
    "MAX_SFMA_GAIN",
    "MAX_SYMBOLS",
    "MIN_NOISE_VAR",
    "MU_ASCC_FAMILY",
    "MessageError",
    "SC_SFMA_FAMILY",
    "SFMA_GROUP_TAG",
    "SFMA_TAG",
    "SfmaCsi",
    "alloc_from_pmt",
    "alloc_keys",
    "alloc_to_pmt",
    "beam_norm_tolerance",
    "bits_pdu",
    "chan_info",
    "check_scenes",
    "check_sfma_alloc",
    "codeword_counts",
    "csi_frame",
    "csi_from_pmt",
    "csi_report_from_pmt",
    "csi_report_to_pmt",
    "csi_to_pmt",
    "csi_with_frame",
    "done_user",
    "frame_sent_from_pmt",
    "frame_sent_to_pmt",
    "result_done_to_pmt",
    "image_pdu",
    "int_fits",
    "is_erased",
    "label_pdu",
    "link_allocation",
    "meta_from_pmt",
    "meta_to_pmt",
    "partial_payload",
    "read_count",
    "register_family",
    "sfma_csi_from_pmt",
    "sfma_csi_to_pmt",
    "sfma_frame_info",
    "sfma_group_info",
    "symbols_pdu",
    "unpack_bits_pdu",
    "unpack_image_pdu",
    "unpack_label_pdu",
    "unpack_symbols_pdu",
]
