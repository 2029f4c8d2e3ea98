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
import pmt
from gnuradio import gr

from . import messages
from ._block_util import guarded
from .core import fbl_emulation
from .core.beamforming import downlink_sinr

__all__ = ["fbl_link"]

_PORT_PDUS = pmt.intern("pdus")
_PORT_CSI = pmt.intern("csi")
_PORT_CMD = pmt.intern("cmd")


class fbl_link(gr.basic_block):
    """Finite-blocklength random-coding link for one user (MU-ASCC, seed 000, Sec. II-C).

    Bits PDUs in, bits PDUs out. Each PDU of ``B`` bits is cut into ``ceil(B / N)`` packets of
    ``N = floor(R_c L)`` bits which fail as eq. (8) says (``"packet"``) or whose bits flip as
    eq. (14) says (``"bitflip"``); see :mod:`gnuradio.semdacom.core.fbl_emulation`.

    The SINR of eq. (7) comes from the last valid CSI (``csi`` port) and the last valid
    allocation carrying both ``power`` and ``w`` (``cmd`` port). Until both are known, and
    whenever their shapes disagree, the fixed ``sinr_db`` is used; with no ``sinr_db`` either,
    every packet fails and the output meta says ``fbl_reason = "no_sinr"``. ``rc[user]`` of an
    allocation overrides the ``rc`` parameter.

    An allocation with ``apply_frame > 0`` waits until a PDU whose meta ``frame`` (integer) is
    at least ``apply_frame`` arrives; a PDU without ``frame`` meta applies every waiting
    allocation first.

    Every input PDU leaves as exactly one output PDU with the same meta plus ``fbl_*`` keys.
    Malformed messages are logged with the reason and dropped; the block keeps its state.

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
        if isinstance(user, bool) or int(user) != user or user < 0:
            raise ValueError(f"user must be a non-negative integer, got {user!r}")
        if isinstance(blocklength, bool) or int(blocklength) != blocklength or blocklength < 1:
            raise ValueError(f"blocklength must be a positive integer, got {blocklength!r}")
        if error_model not in fbl_emulation.MODELS:
            raise ValueError(
                f"error_model must be one of {fbl_emulation.MODELS}, got {error_model!r}"
            )
        if sinr_db is not None and not math.isfinite(float(sinr_db)):
            raise ValueError(f"sinr_db must be finite or None, got {sinr_db!r}")
        if isinstance(seed, bool) or int(seed) != seed or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self._user = int(user)
        self._L = int(blocklength)
        fbl_emulation.bits_per_packet(rc, self._L)  # raises ValueError when rc * L < 1
        self._default_rc = float(rc)
        self._model = str(error_model)
        self._sinr_db = None if sinr_db is None else float(sinr_db)
        self._rng = np.random.default_rng(int(seed))

        self._rc = self._default_rc
        self._csi: messages.Csi | None = None
        self._beams: tuple[np.ndarray, np.ndarray] | None = None  # (power[K], w[K, N_t])
        self._alloc_seq = -1
        self._pending: list[messages.Allocation] = []
        self._warned: set[str] = set()
        self._counts = {
            "pdus_in": 0,
            "pdus_out": 0,
            "pdus_dropped": 0,
            "cmd_accepted": 0,
            "cmd_rejected": 0,
            "csi_accepted": 0,
            "csi_rejected": 0,
        }

        self.message_port_register_in(_PORT_PDUS)
        self.message_port_register_in(_PORT_CSI)
        self.message_port_register_in(_PORT_CMD)
        self.message_port_register_out(_PORT_PDUS)
        # The GNU Radio 3.10 gateway finds handlers by name: they must be methods of the block.
        self.set_msg_handler(_PORT_PDUS, self._on_pdus)
        self.set_msg_handler(_PORT_CSI, self._on_csi)
        self.set_msg_handler(_PORT_CMD, self._on_cmd)

    # ----------------------------------------------------------------------------------------
    # Inspection
    # ----------------------------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """Message counters: PDUs in/out/dropped, commands and CSI accepted/rejected."""
        return dict(self._counts)

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
        guarded(self.logger, self._counts, "pdus_dropped", self._handle_pdu, msg)

    def _on_csi(self, msg: Any) -> None:
        guarded(self.logger, self._counts, "csi_rejected", self._handle_csi, msg)

    def _on_cmd(self, msg: Any) -> None:
        guarded(self.logger, self._counts, "cmd_rejected", self._handle_cmd, msg)

    def _handle_cmd(self, msg: Any) -> None:
        alloc = messages.alloc_from_pmt(msg)
        k = alloc.k
        if k is not None and self._user >= k:
            raise messages.MessageError(f"allocation has K={k}, this block is user {self._user}")
        if alloc.rc is not None:
            try:
                fbl_emulation.bits_per_packet(float(alloc.rc[self._user]), self._L)
            except ValueError as exc:
                raise messages.MessageError(f"allocation rc[{self._user}]: {exc}") from exc
        if (alloc.power is None) != (alloc.w is None):
            self._warn(
                f"allocation seq={alloc.seq} carries only one of 'power' and 'w'; "
                "the beams in force stay unchanged"
            )
        self._counts["cmd_accepted"] += 1
        self._pending.append(alloc)
        self._pending.sort(key=lambda a: a.apply_frame)  # stable: arrival order within a frame
        self._apply_pending(frame=0)

    def _handle_csi(self, msg: Any) -> None:
        csi = messages.csi_from_pmt(msg)
        if self._user >= csi.k:
            raise messages.MessageError(f"CSI has K={csi.k}, this block is user {self._user}")
        self._csi = csi
        self._counts["csi_accepted"] += 1

    def _handle_pdu(self, msg: Any) -> None:
        meta, bits = messages.unpack_bits_pdu(msg)
        self._counts["pdus_in"] += 1
        frame = meta.get("frame")
        if isinstance(frame, (int, np.integer)) and not isinstance(frame, bool):
            self._apply_pending(frame=int(frame))
        else:
            self._apply_pending(frame=None)

        sinr, source = self._resolve_sinr()
        if sinr is None and "no_sinr" not in self._warned:
            self._warned.add("no_sinr")
            self._warn(
                "no SINR known (no CSI with beams and no sinr_db): every packet counts as failed"
            )
        out_bits, st = fbl_emulation.emulate(bits, sinr, self._rc, self._L, self._model, self._rng)
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
                "fbl_alloc_seq": self._alloc_seq,
                "fbl_csi_seq": -1 if self._csi is None else self._csi.seq,
            }
        )
        if sinr is None:
            meta["fbl_reason"] = "no_sinr"
        self.message_port_pub(_PORT_PDUS, messages.bits_pdu(meta, out_bits))
        self._counts["pdus_out"] += 1

    # ----------------------------------------------------------------------------------------
    # State
    # ----------------------------------------------------------------------------------------

    def _apply_pending(self, frame: int | None) -> None:
        """Apply waiting allocations with ``apply_frame <= frame`` (all of them if None)."""
        keep: list[messages.Allocation] = []
        for alloc in self._pending:
            if frame is not None and alloc.apply_frame > frame:
                keep.append(alloc)
                continue
            if alloc.rc is not None:
                self._rc = float(alloc.rc[self._user])
            if alloc.power is not None and alloc.w is not None:
                self._beams = (alloc.power, alloc.w)
                self._warned.discard("shape")
            self._alloc_seq = alloc.seq
        self._pending = keep

    def _resolve_sinr(self) -> tuple[float | None, str]:
        """SINR in force and where it comes from (``"csi"``, ``"fixed"`` or ``"none"``)."""
        if self._csi is not None and self._beams is not None:
            power, w = self._beams
            if w.shape == self._csi.h.shape:
                sinr = downlink_sinr(self._csi.h, power, w, self._csi.noise_var)
                return float(np.asarray(sinr).reshape(-1)[self._user]), "csi"
            if "shape" not in self._warned:
                self._warned.add("shape")
                self._warn(
                    f"CSI shape {self._csi.h.shape} and beam shape {w.shape} disagree; "
                    "falling back to sinr_db"
                )
        if self._sinr_db is not None:
            return 10.0 ** (self._sinr_db / 10.0), "fixed"
        return None, "none"


def _to_db(sinr: float | None) -> float:
    if sinr is None:
        return math.nan
    if sinr <= 0.0:
        return -math.inf
    return 10.0 * math.log10(sinr)
