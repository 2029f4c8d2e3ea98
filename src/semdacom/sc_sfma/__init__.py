"""SC-SFMA ([2]: *Semantic Feature Multiple Access Empowered Integrated Learning and
Communication Networks*): everything particular to that paper; docs/sc_sfma/.

Modules
-------
model
    Public entry of the numpy system model (docs/sc_sfma/model.md), re-exporting:
xi
    the semantic interference factor xi, eq. (10), its fit, and the pair classes;
rates
    SINR (11), rate (12)-(13), delay (14), latency (15), energy (16), residual time (27);
tables
    distortion envelopes (17)-(19), :class:`XiTable`, :class:`DistortionEnvelopeTable`, loaders
    and synthetic tables.
optimizer
    The network optimiser (Alg. 1-4) and a brute-force reference.
baselines
    The comparison schemes of Sec. IV (NOMA/FDMA, channel-gain pairing, equal allocation,
    DeepJSCC-NOMA, separated HEVC + LDPC + QAM).
transceiver
    The learned transceiver (torch): networks, training, profiling, evaluation.

Everything but ``transceiver`` is numpy/scipy/cvxpy/networkx only: importing this package,
``model`` or ``optimizer`` never imports torch or GNU Radio.
"""
