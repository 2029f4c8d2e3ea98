#
# Copyright 2025 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Over-the-air feedback: the per-user CSI reports (csi_estimator -> csi_combiner).

A CSI report is a CSI dictionary (:mod:`.csi`) of one row (``k`` = 1: the reporting user's own
channel h_u, c64vector[N_t], and noise variance, f64vector[1]) with the key ``user`` (long >= 0:
whose row it is) and, when the estimator read the frame number from the burst header, ``frame``
(u64: the frame it was measured on). Any CSI reader takes it as a one-user CSI; csi_combiner
stacks the users' latest reports into the K-row CSI the MU-ASCC optimiser solves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pmt
from gnuradio.semdacom.messages.csi import Csi, csi_frame, csi_from_pmt, csi_with_frame
from gnuradio.semdacom.messages.pmt_util import MessageError, get, read_long, require_dict

#: Largest user index a CSI report may name.
MAX_REPORT_USER = 1 << 16


def csi_report_to_pmt(user: int, h: Any, noise_var: float, seq: int, frame: int | None) -> Any:
    """The CSI report of ``user``: channel row ``h`` (N_t entries), its noise variance, a
    report number ``seq`` and the frame it was measured on (None: unknown). Raises
    MessageError when any part breaks the CSI schema or ``user`` is out of range."""
    if isinstance(user, (bool, np.bool_)) or not isinstance(user, (int, np.integer)):
        raise MessageError(f"report 'user' must be an integer, got {type(user).__name__}")
    if not 0 <= int(user) <= MAX_REPORT_USER:
        raise MessageError(f"report 'user' {user} is outside [0, {MAX_REPORT_USER}]")
    row = np.asarray(h, dtype=np.complex128).reshape(1, -1)
    c = Csi(h=row, noise_var=np.array([float(noise_var)]), seq=int(seq))
    d = csi_with_frame(c, frame)
    return pmt.dict_add(d, pmt.intern("user"), pmt.from_long(int(user)))


def csi_report_from_pmt(
    msg: Any, *, n_t: int | None = None, k: int | None = None
) -> tuple[Csi, int, int | None]:
    """Read a CSI report: ``(csi with one row, user, frame or None)``. ``k`` (when given) is
    the number of users the reader serves: the report's ``user`` must be below it. Raises
    MessageError."""
    require_dict(msg, "CSI report")
    user_pmt = get(msg, "user")
    if user_pmt is None:
        raise MessageError("CSI report lacks 'user'")
    user = read_long(user_pmt, "user")
    if not 0 <= user <= MAX_REPORT_USER:
        raise MessageError(f"report 'user' {user} is outside [0, {MAX_REPORT_USER}]")
    if k is not None and user >= k:
        raise MessageError(f"report of user {user}, this reader serves K={k}")
    csi = csi_from_pmt(msg, k=1, n_t=n_t)
    return csi, user, csi_frame(msg)
