#
# Copyright 2025 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Physical limits the schemas of several families share.

The allocation limits are the same in C++ (``include/gnuradio/semdacom/allocation_schedule.h``):
every ``power`` entry is at most :data:`MAX_POWER_W` (1 MW: far above any transmitter, and low
enough that ``sqrt(p) w`` is a finite float in the beamformer kernel); ``rc`` is at most
:data:`MAX_RC` bits per channel use; a beam is unit-norm to :func:`beam_norm_tolerance` (1e-6
for a c64vector, 1e-4 for a c32vector).

CSI limits: ``|h_ij| <=`` :data:`MAX_CHANNEL_GAIN` and ``noise_var <=`` :data:`MAX_NOISE_VAR`;
a reader that divides by the noise (``positive_noise=True``) needs ``noise_var >=``
:data:`MIN_NOISE_VAR`. Within these limits the SINR of eq. (7) of MU-ASCC [1] is a finite
number.
"""

from __future__ import annotations

#: Largest transmit power per user in an allocation, watts (C++ ``MAX_POWER_W``).
MAX_POWER_W = 1e6
#: Largest channel coding rate ``rc`` in an allocation, bits per complex channel use.
MAX_RC = 32.0
#: Largest channel coefficient magnitude ``|h_ij|`` in a CSI message.
MAX_CHANNEL_GAIN = 1e6
#: Largest noise variance in a CSI message.
MAX_NOISE_VAR = 1e12
#: Smallest noise variance a reader that divides by it accepts (``positive_noise=True``).
MIN_NOISE_VAR = 1e-30


def beam_norm_tolerance(c32: bool) -> float:
    """Unit-norm tolerance ``| ||w_i|| - 1 |`` of a beam read from a c32vector (1e-4: float
    rounding) or a c64vector (1e-6); the C++ ``beam_norm_tolerance`` is the same."""
    return 1e-4 if c32 else 1e-6
