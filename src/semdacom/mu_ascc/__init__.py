"""MU-ASCC ([1]: adaptive source-channel coding for multi-user semantic and data
communications): everything particular to that paper, numpy/scipy only (no torch, no GNU Radio).

Modules
-------
distortion
    Public entry of the distortion tables: synthetic tables, :func:`load_table`, and the
    re-exports of the two modules below.
distortion_table
    :class:`DistortionTable`: eq. (12)/(13) per operating point, interpolation in the source
    rate (26)-(30), subgradient (31), and the erasure-aware form for the physical link.
snr_table
    :class:`SnrTable`: SNR-indexed tables of the DeepJSCC baseline.
distortion_fit
    Fitting eq. (12)/(13) to measured samples (the tables' logistic parameters).
optimizer
    Problem (P1) and its solvers: faithful JRPB (Alg. 1-3), the fast solver, global references.
baselines
    ZF-WF with fixed channel rate, ZF-WF with DeepJSCC, MRT with equal powers.

The PHY maths these use (finite blocklength, beamforming, links) are in :mod:`semdacom.phy`.
"""
