#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""semdacom: the algorithm layers of gr-semdacom, importable without GNU Radio.

Installed from python/semdacom/{core,codec,coding,optimize,sfma,sweep,cli,data} (this file is
src/semdacom/__init__.py). The GNU Radio blocks are the separate package
``gnuradio.semdacom``, which imports this one; nothing here imports ``gnuradio`` or ``pmt``.

Subpackages
-----------
core      maths with numpy/scipy (finite blocklength, beamforming, distortion tables, links)
codec     learned and classical source codecs, DeepJSCC, training (torch)
coding    LDPC + QAM channel coding over the C++ kernels in ``semdacom._kernels``
optimize  ``mu_ascc`` and ``sfma`` optimisers
sfma      SC-SFMA learned transceiver (torch)
sweep     the task runner for sweeps and Monte-Carlo (local processes or Ray)
cli       the ``semdacom`` command
data      shipped weights and tables (manifest.json)
"""
