#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""semdacom: the algorithm layers of gr-semdacom, importable without GNU Radio.

Installed from ``src/semdacom`` (this file is src/semdacom/__init__.py). The GNU Radio blocks
are the separate package ``gnuradio.semdacom`` (``python/semdacom``), which imports this one;
nothing here imports ``gnuradio`` or ``pmt``.

Subpackages
-----------
phy             shared PHY maths (numpy/scipy): finite blocklength, beamforming and
                uplink-downlink duality, link models, pilots, synchronisation, metrics
source_coding   learned and classical source codecs, DeepJSCC, bitstreams, training (torch)
channel_coding  LDPC + CRC + Gray QAM over the C++ kernels in ``semdacom._kernels``, MCS,
                framing, link tables, over-the-air framing
mu_ascc         MU-ASCC [1]: distortion tables and their fits, optimiser of (P1), baselines
sc_sfma         SC-SFMA [2]: numpy system model, optimiser, baselines, learned transceiver
                (torch, in ``sc_sfma.transceiver`` only)
sweep           the task runner for sweeps and Monte-Carlo (local processes or Ray)
cli             the ``semdacom`` command
data            shipped weights and tables, one registry (``weights_path()``,
                ``table_path()``), datasets, manifest.json

``mu_ascc``, ``sc_sfma`` and ``channel_coding`` import without torch.
"""
