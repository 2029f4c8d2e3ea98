"""Pure numpy/scipy maths of gr-semdacom.

This package never imports GNU Radio, PMT or torch, so everything in it can be unit tested on
its own.

Modules
-------
fbl
    Finite-blocklength normal approximation: packet error probability (eq. (8) of MU-ASCC,
    MU-ASCC [1]) and the log-BER model (eq. (14)), with analytic derivatives.
link
    ``LinkModel``: the interface the optimisers use to map (SINR, R_c, L) to log10 BER, and
    ``RandomCodingLink``, the paper's ideal random-coding bound.
beamforming
    MU-MISO SINRs (eqs. (7), (33)), uplink-downlink duality (eqs. (34)-(37)), MMSE (eq. (43)),
    ZF and MRT beamformers, water-filling and the paper's example channel (Sec. V-A).

Conventions: the channel matrix ``H`` has shape ``(K, N_t)`` with row ``i`` equal to ``h_i``;
user ``i`` receives ``np.vdot(h_i, x)``; beamformers ``W`` have shape ``(K, N_t)`` with unit-norm
rows; powers are in watts, noise as variances and SINRs are linear (never dB).
"""

from semdacom.phy import beamforming, fbl, link
from semdacom.phy.link import LinkModel, RandomCodingLink

__all__ = ["beamforming", "fbl", "link", "LinkModel", "RandomCodingLink"]
