#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""What the channel encoder and decoder of one user share (LinkBlock): their link parameters
(mode, MCS, ``R_c``, blocklength ``L``) and the MCS / ``R_c`` in force from the allocations on
``cmd`` (MU-ASCC [1], Sec. II-C and Remark 3.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_choice, check_int

from semdacom.channel_coding import mcs as mcs_mod
from semdacom.phy import fbl_emulation

__all__ = ["LinkBlock"]


class LinkBlock(Block):
    """Base of ``channel_encoder`` and ``channel_decoder``: ``self._mode``, ``self._user``,
    ``self._L`` and the ``self._mcs`` / ``self._rc`` in force."""

    def setup_link(self, user: Any, mode: Any, mcs: Any, rc: Any, blocklength: Any) -> None:
        """Check the link parameters (ValueError with the reason for bad ones)."""
        self._mode = check_choice("mode", mode, messages.CHAN_MODES)
        self._user = check_int("user", user)
        self._L = check_int("blocklength", blocklength, 1)
        if mode == "ldpc":
            mcs_mod.block_layout(int(mcs), self._L)  # raises on a bad MCS or L
        else:
            fbl_emulation.bits_per_packet(rc, self._L)
        self._mcs, self._rc = int(mcs), float(rc)

    def take_link_allocations(self, keys: Sequence[str], then: Any = None) -> None:
        """The ``cmd`` port: allocations read for this user and ``L``
        (``messages.link_allocation``), queued on ``self._sched`` (call after the counters);
        ``then(None)`` after each accepted one."""
        self.take_allocations(
            keys, lambda m: messages.link_allocation(m, self._user, self._L), then=then
        )

    def _apply_link(self, frame: int | None) -> None:
        """Apply the allocations due at ``frame``: the MCS and ``R_c`` they carry."""
        if self._sched.on_frame(frame):
            mcs, rc = self._sched.get("mcs"), self._sched.get("rc")
            self._mcs = self._mcs if mcs is None else int(mcs[self._user])
            self._rc = self._rc if rc is None else float(rc[self._user])
