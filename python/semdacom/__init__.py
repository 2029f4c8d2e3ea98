#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""gr-semdacom: multi-user semantic and data communications for GNU Radio.

``gnuradio.semdacom`` holds the GNU Radio blocks, grouped by role in subpackages (the same
groups as ``grc/`` and ``tests/blocks/``), the PMT schemas (``messages``) and the block plumbing
(``plumbing``: the base class ``plumbing.base.Block`` and its helpers). Every block is also
exported here, so ``from gnuradio import semdacom; semdacom.<block>`` works:

- phy: superposition_beamformer, miso_channel (C++), frame_tagger, phy_probe, fbl_link
- channel_coding: channel_encoder, channel_decoder
- source_coding: image_source, source_encoder, source_decoder, semantic_decoder,
  djscc_encoder, djscc_decoder, metrics_sink
- ota (over the air): pilot_inserter, frame_sync, csi_estimator, csi_combiner, tx_level,
  pa_model
- mu_ascc: mu_ascc_optimizer, alloc_probe
- sc_sfma: sfma_encoder, sfma_superposer, sfma_channel, sfma_decoder, sfma_optimizer

The algorithms are the standalone package ``semdacom`` (src/semdacom: phy, source_coding,
channel_coding, mu_ascc, sc_sfma, sweep, cli, data), which imports without GNU Radio.
"""

# pybind11 bindings of the C++ blocks (and the gr-fec wrappers of the LDPC kernels); the
# kernels themselves (ldpc_code, ldpc_decoder, rans_coder) are in semdacom._kernels and
# re-exported here. A checkout that has not been built yet has neither.
try:
    from gnuradio.semdacom.semdacom_python import *  # noqa: F403

    from semdacom._kernels import ldpc_code, ldpc_decoder, rans_coder  # noqa: F401
except ModuleNotFoundError:
    pass

from gnuradio.semdacom.channel_coding.channel_decoder import channel_decoder  # noqa: E402, F401
from gnuradio.semdacom.channel_coding.channel_encoder import channel_encoder  # noqa: E402, F401
from gnuradio.semdacom.mu_ascc.alloc_probe import alloc_probe  # noqa: E402, F401
from gnuradio.semdacom.mu_ascc.mu_ascc_optimizer import mu_ascc_optimizer  # noqa: E402, F401
from gnuradio.semdacom.ota.csi_combiner import csi_combiner  # noqa: E402, F401
from gnuradio.semdacom.ota.csi_estimator import csi_estimator  # noqa: E402, F401
from gnuradio.semdacom.ota.frame_sync import frame_sync  # noqa: E402, F401
from gnuradio.semdacom.ota.pa_model import pa_model  # noqa: E402, F401
from gnuradio.semdacom.ota.pilot_inserter import pilot_inserter  # noqa: E402, F401
from gnuradio.semdacom.ota.tx_level import tx_level  # noqa: E402, F401
from gnuradio.semdacom.phy.fbl_link import fbl_link  # noqa: E402, F401
from gnuradio.semdacom.phy.frame_tagger import frame_tagger  # noqa: E402, F401
from gnuradio.semdacom.phy.phy_probe import phy_probe  # noqa: E402, F401
from gnuradio.semdacom.sc_sfma.sfma_channel import sfma_channel  # noqa: E402, F401
from gnuradio.semdacom.sc_sfma.sfma_decoder import sfma_decoder  # noqa: E402, F401
from gnuradio.semdacom.sc_sfma.sfma_encoder import sfma_encoder  # noqa: E402, F401
from gnuradio.semdacom.sc_sfma.sfma_optimizer import sfma_optimizer  # noqa: E402, F401
from gnuradio.semdacom.sc_sfma.sfma_superposer import sfma_superposer  # noqa: E402, F401
from gnuradio.semdacom.source_coding.djscc_decoder import djscc_decoder  # noqa: E402, F401
from gnuradio.semdacom.source_coding.djscc_encoder import djscc_encoder  # noqa: E402, F401
from gnuradio.semdacom.source_coding.image_source import image_source  # noqa: E402, F401
from gnuradio.semdacom.source_coding.metrics_sink import metrics_sink  # noqa: E402, F401
from gnuradio.semdacom.source_coding.semantic_decoder import semantic_decoder  # noqa: E402, F401
from gnuradio.semdacom.source_coding.source_decoder import source_decoder  # noqa: E402, F401
from gnuradio.semdacom.source_coding.source_encoder import source_encoder  # noqa: E402, F401
