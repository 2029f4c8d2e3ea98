#
# Copyright 2025 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``fbl_link``: finite-blocklength random-coding link emulator for bits PDUs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.channel_state import ChannelState
from gnuradio.semdacom.plumbing.checks import check_choice, check_finite, check_int
from gnuradio.semdacom.plumbing.meta import frame_of, salvage_meta

from semdacom.phy import fbl_emulation

__all__ = ["fbl_link"]


class fbl_link(Block, gr.basic_block):
    """Finite-blocklength random-coding link for one user (MU-ASCC [1], Sec. II-C).

    Bits PDUs in, bits PDUs out. Each PDU of ``B`` bits is cut into ``ceil(B / N)`` packets of
    ``N = floor(R_c L)`` bits which fail as eq. (8) says (``"packet"``) or whose bits flip as
    eq. (14) says (``"bitflip"``); see :mod:`semdacom.phy.fbl_emulation`.

    The SINR of eq. (7) comes from the last valid CSI (``csi`` port; its noise variances must
    be at least ``messages.MIN_NOISE_VAR``, since the SINR divides by them) and the ``power``
    and ``w`` in force from the allocations (``cmd`` port; each key an allocation carries
    overrides the one in force, as in the C++ beamformer). Until both are known, and whenever
    their shapes disagree, the fixed ``sinr_db`` is used; with no ``sinr_db`` either, every
    packet fails and the output meta says ``fbl_reason = "no_sinr"``. ``rc[user]`` of an
    allocation (at most ``messages.MAX_RC``) overrides the ``rc`` parameter.

    Allocations go through ``plumbing.schedule.AllocationSchedule``: one whose ``seq`` is not newer
    than the last one taken is dropped; one with ``apply_frame > 0`` waits until a PDU whose
    meta ``frame`` (integer) is at least ``apply_frame`` arrives; a PDU without ``frame``
    meta applies every waiting allocation first.

    Every input PDU leaves as exactly one output PDU with the same meta plus ``fbl_*`` keys.
    A malformed PDU leaves as an erasure: no bits, ``erased`` true, ``erasure_reason`` and the
    meta it still carried. Malformed CSI and allocations are logged with the reason and
    dropped; the block keeps its state.

    Parameters
    ----------
    user : int
        Index of this user in the allocation and CSI (0-based).
    blocklength : int
        Blocklength ``L`` in channel uses.
    rc : float
        Default channel coding rate ``R_c`` in bits per complex channel use.
    error_model : {"packet", "bitflip"}
        Error model.
    sinr_db : float or None
        Fixed SINR in dB, used until CSI and an allocation with beams are known.
    seed : int
        Seed of the random generator.
    """

    def __init__(
        self,
        user: int = 0,
        blocklength: int = 256,
        rc: float = 1.0,
        error_model: str = "packet",
        sinr_db: float | None = None,
        seed: int = 0,
    ) -> None:
        gr.basic_block.__init__(self, name="fbl_link", in_sig=None, out_sig=None)
        self._user = check_int("user", user)
        self._L = check_int("blocklength", blocklength, 1)
        check_choice("error_model", error_model, fbl_emulation.MODELS)
        if sinr_db is not None:
            sinr_db = check_finite("sinr_db", sinr_db)
        seed = check_int("seed", seed)
        fbl_emulation.bits_per_packet(rc, self._L)  # raises ValueError when rc * L < 1
        self._default_rc = float(rc)
        self._model = str(error_model)
        self._sinr_db = None if sinr_db is None else float(sinr_db)
        self._rng = np.random.default_rng(int(seed))

        self._rc = self._default_rc
        self._warned: set[str] = set()
        self.setup(("pdus_in", "pdus_out", "erasures", "cmd_accepted", "cmd_rejected",
                    "csi_accepted", "csi_rejected"))  # fmt: skip
        self.message_in("pdus", self._on_pdus, arrived="pdus_in")
        self.csi_in(self._handle_csi)
        self.take_allocations(
            ("rc", "power", "w"),
            lambda msg: messages.link_allocation(msg, self._user, self._L),
            then=lambda _: self._apply_pending(frame=0),
        )
        self._chan = ChannelState(self._user, self._sinr_db, self._sched)
        self.message_out("pdus")

    # ----------------------------------------------------------------------------------------
    # Inspection
    # ----------------------------------------------------------------------------------------

    def current_rc(self) -> float:
        """Channel coding rate ``R_c`` in force (before rounding to ``floor(R_c L) / L``)."""
        return self._rc

    def current_sinr(self) -> float | None:
        """Linear SINR the next PDU will see (applied allocations only); None if unknown."""
        return self._resolve_sinr()[0]

    # ----------------------------------------------------------------------------------------
    # Handlers
    # ----------------------------------------------------------------------------------------

    def _warn(self, text: str) -> None:
        self.logger.warn(text)  # gr.logger has no warning()

    def _on_pdus(self, msg: Any) -> None:
        self.answer("pdus", msg, self._emulate, self._erasure)

    def _erasure(self, msg: Any, reason: str) -> Any:
        meta = salvage_meta(msg)
        meta["fbl_reason"] = "malformed_pdu"
        return self.erasure(messages.bits_pdu, meta, reason, np.zeros(0, np.uint8), ("n_bits",))

    def _handle_csi(self, msg: Any) -> None:
        self._chan.set_csi(messages.csi_from_pmt(msg, user=self._user, positive_noise=True))

    def _emulate(self, msg: Any) -> Any:
        meta, bits = messages.unpack_bits_pdu(msg)
        self._apply_pending(frame_of(meta))
        sinr, source = self._resolve_sinr()
        if sinr is None and "no_sinr" not in self._warned:
            self._warned.add("no_sinr")
            self._warn(
                "no SINR known (no CSI with beams and no sinr_db): every packet counts as failed"
            )
        out_bits, st = fbl_emulation.emulate(bits, sinr, self._rc, self._L, self._model, self._rng)
        alloc_seq = self._sched.applied_seq
        meta.update(
            {
                "fbl_sinr_db": _to_db(sinr),
                "fbl_sinr_source": source,
                "fbl_rc": float(st["rc"]),
                "fbl_L": self._L,
                "fbl_model": self._model,
                "fbl_packets": int(st["packets"]),
                "fbl_packets_failed": int(st["packets_failed"]),
                "fbl_bit_errors": int(st["bit_errors"]),
                "fbl_per": float(st["per"]),
                "fbl_log10_ber": float(st["log10_ber"]),
                "fbl_alloc_seq": -1 if alloc_seq is None else alloc_seq,
                "fbl_csi_seq": -1 if self._chan.csi is None else self._chan.csi.seq,
            }
        )
        if sinr is None:
            meta["fbl_reason"] = "no_sinr"
        return messages.bits_pdu(meta, out_bits)

    # ----------------------------------------------------------------------------------------
    # State
    # ----------------------------------------------------------------------------------------

    def _apply_pending(self, frame: int | None) -> None:
        """Apply waiting allocations with ``apply_frame <= frame`` (all of them if None), and
        the CSI queued for frames up to ``frame``."""
        self._chan.on_frame(frame)
        if self._sched.on_frame(frame):
            rc = self._sched.get("rc")
            if rc is not None:
                self._rc = float(rc[self._user])
            self._warned.discard("shape")

    def _resolve_sinr(self) -> tuple[float | None, str]:
        """SINR in force and where it comes from (``"csi"``, ``"fixed"`` or ``"none"``)."""
        sinr, source = self._chan.sinr()
        if self._chan.mismatch and "shape" not in self._warned:
            self._warned.add("shape")
            self._warn(
                "CSI and the beams in force do not combine (shapes disagree); "
                "falling back to sinr_db"
            )
        return sinr, source


def _to_db(sinr: float | None) -> float:
    if sinr is None:
        return math.nan
    if sinr <= 0.0:
        return -math.inf
    return 10.0 * math.log10(sinr)
