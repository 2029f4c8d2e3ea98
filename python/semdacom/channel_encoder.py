#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``channel_encoder``: bits PDU -> one frame of complex symbols with tags."""

from __future__ import annotations

import math
import queue
import time
from typing import Any

import numpy as np
import pmt
from gnuradio import gr

from . import messages
from ._block_util import FrameTx, guarded
from .coding import framing
from .coding import mcs as mcs_mod
from .core import fbl_emulation

__all__ = ["channel_encoder", "CHAN_TAG", "MODES"]

#: Key of the per-frame tag carrying the coding parameters for the decoder.
CHAN_TAG = "semdacom_chan"
MODES = ("ldpc", "fbl")
_PORT_PDUS = pmt.intern("pdus")
_PORT_CMD = pmt.intern("cmd")


def link_allocation(msg: Any, user: int, blocklength: int) -> messages.Allocation:
    """Parse an allocation for a channel encoder/decoder of ``user``: its ``mcs`` and ``rc``
    entries must exist and fit blocklength ``L``. Raises MessageError otherwise."""
    alloc = messages.alloc_from_pmt(msg)
    k = alloc.k
    if k is not None and user >= k:
        raise messages.MessageError(f"allocation has K={k}, this block is user {user}")
    if alloc.mcs is not None:
        try:
            mcs_mod.block_layout(int(alloc.mcs[user]), blocklength)
        except ValueError as exc:
            raise messages.MessageError(f"allocation mcs[{user}]: {exc}") from exc
    if alloc.rc is not None:
        try:
            fbl_emulation.bits_per_packet(float(alloc.rc[user]), blocklength)
        except ValueError as exc:
            raise messages.MessageError(f"allocation rc[{user}]: {exc}") from exc
    return alloc


class channel_encoder(gr.sync_block):
    """Channel encoder of one user (MU-ASCC, seed 000, Sec. II-C and Remark 3.2).

    Each bits PDU on ``pdus`` becomes one frame of unit-energy complex symbols on the output.

    ``ldpc`` mode: the bits are cut into channel blocks of ``L`` uses, each carrying the
    codewords of :func:`semdacom.coding.block_layout` for the MCS in force (CRC-16 per
    codeword, LDPC, interleaving, Gray QAM); see docs/channel_coding.md.

    ``fbl`` mode: the finite-blocklength random-coding emulator (eq. 8) runs in the decoder.
    Here every packet of ``N = floor(R_c L)`` bits occupies ``L`` channel uses of random
    unit-energy QPSK (so the beamformer and channel see a real signal of the right length)
    and the bits travel in the frame's ``semdacom_chan`` tag.

    The frame starts with a ``frame`` tag (u64, counting from ``first_frame``), a
    ``packet_len`` tag (long: symbols in the frame) and a ``semdacom_chan`` tag (dict: user,
    mode, mcs, rc, L, n_bits, pdu meta keys, and in fbl mode the bits). With
    ``frame_len > 0`` the frame is zero-padded to a multiple of ``frame_len`` symbols so
    that the users of a slot stay aligned.

    The MCS (ldpc) or ``R_c`` (fbl) in force is the parameter until an allocation on ``cmd``
    carries ``mcs`` / ``rc`` for this user; an allocation applies from the frame number
    ``apply_frame``. Malformed PDUs and allocations are logged and dropped; the block keeps
    its state.

    Parameters
    ----------
    user : int
        Index of this user in the allocation.
    mode : {"ldpc", "fbl"}
    mcs : int
        Default MCS index (ldpc).
    rc : float
        Default rate in bits per channel use (fbl).
    blocklength : int
        ``L``, channel uses per channel block (per packet in fbl mode).
    frame_len : int
        Pad every frame to a multiple of this many symbols (0: no padding).
    first_frame : int
        Number of the first frame.
    seed : int
        Seed of the fbl filler symbols.
    """

    def __init__(
        self,
        user: int = 0,
        mode: str = "ldpc",
        mcs: int = 3,
        rc: float = 1.0,
        blocklength: int = 256,
        frame_len: int = 0,
        first_frame: int = 0,
        seed: int = 0,
    ) -> None:
        gr.sync_block.__init__(self, name="channel_encoder", in_sig=None, out_sig=[np.complex64])
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        for name, v, lo in (("user", user, 0), ("blocklength", blocklength, 1),
                            ("frame_len", frame_len, 0), ("first_frame", first_frame, 0),
                            ("seed", seed, 0)):  # fmt: skip
            if isinstance(v, bool) or int(v) != v or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        self._user, self._mode, self._L = int(user), mode, int(blocklength)
        self._frame_len, self._next_frame = int(frame_len), int(first_frame)
        if mode == "ldpc":
            mcs_mod.block_layout(int(mcs), self._L)  # raises on a bad MCS or L
        else:
            fbl_emulation.bits_per_packet(rc, self._L)
        self._mcs, self._rc = int(mcs), float(rc)
        self._rng = np.random.default_rng(int(seed))
        self._pending: list[messages.Allocation] = []
        self._queue: queue.Queue = queue.Queue()
        self._tx = FrameTx()  # the frame (symbols, tags) being sent
        self._counts = {"pdus_in": 0, "frames_out": 0, "pdus_dropped": 0,
                        "cmd_accepted": 0, "cmd_rejected": 0}  # fmt: skip
        self.message_port_register_in(_PORT_PDUS)
        self.message_port_register_in(_PORT_CMD)
        self.set_msg_handler(_PORT_PDUS, self._on_pdus)
        self.set_msg_handler(_PORT_CMD, self._on_cmd)

    # ------------------------------------------------------------------ inspection
    def counters(self) -> dict[str, int]:
        """PDUs in, frames out, PDUs dropped, allocations accepted/rejected."""
        return dict(self._counts)

    def current_mcs(self) -> int:
        return self._mcs

    def current_rc(self) -> float:
        return self._rc

    # ------------------------------------------------------------------ handlers
    def _on_pdus(self, msg: Any) -> None:
        guarded(self.logger, self._counts, "pdus_dropped", self._handle_pdu, msg)

    def _on_cmd(self, msg: Any) -> None:
        guarded(self.logger, self._counts, "cmd_rejected", self._handle_cmd, msg)

    def _handle_cmd(self, msg: Any) -> None:
        alloc = link_allocation(msg, self._user, self._L)
        self._counts["cmd_accepted"] += 1
        self._pending.append(alloc)
        self._pending.sort(key=lambda a: a.apply_frame)

    def _apply_pending(self, frame: int) -> None:
        keep = []
        for a in self._pending:
            if a.apply_frame > frame:
                keep.append(a)
                continue
            if a.mcs is not None:
                self._mcs = int(a.mcs[self._user])
            if a.rc is not None:
                self._rc = float(a.rc[self._user])
        self._pending = keep

    def _handle_pdu(self, msg: Any) -> None:
        meta, bits = messages.unpack_bits_pdu(msg)
        self._counts["pdus_in"] += 1
        self._queue.put((meta, bits))

    # ------------------------------------------------------------------ framing
    def _build_frame(self, meta: dict, bits: np.ndarray) -> tuple[np.ndarray, list]:
        frame = self._next_frame
        self._apply_pending(frame)
        info: dict[str, Any] = {
            "user": self._user,
            "mode": self._mode,
            "L": self._L,
            "n_bits": int(bits.size),
        }
        if self._mode == "ldpc":
            sym = framing.encode_bits(bits, self._mcs, self._L)
            info["mcs"] = self._mcs
        else:
            n = fbl_emulation.bits_per_packet(self._rc, self._L)
            n_pkt = max(1, fbl_emulation.num_packets(bits.size, n))
            q = self._rng.integers(0, 4, n_pkt * self._L)
            sym = ((1 - 2 * (q & 1)) + 1j * (1 - 2 * (q >> 1))).astype(np.complex64)
            sym /= np.float32(math.sqrt(2.0))
            info["rc"] = self._rc
            info["bits"] = np.packbits(bits).astype(np.uint8)
        for key in ("frame", "seq", "image_id", "label"):
            if key in meta and key not in info:
                info["pdu_" + key] = meta[key]
        if self._frame_len > 0 and sym.size % self._frame_len:
            pad = self._frame_len - sym.size % self._frame_len
            sym = np.concatenate([sym, np.zeros(pad, np.complex64)])
        tags = [
            ("frame", pmt.from_uint64(frame)),
            ("packet_len", pmt.from_long(int(sym.size))),
            (CHAN_TAG, messages.meta_to_pmt(info)),
        ]
        self._next_frame += 1
        return sym, tags

    def work(self, input_items, output_items):
        out = output_items[0]
        if self._tx.idle:
            try:
                meta, bits = self._queue.get_nowait()
            except queue.Empty:
                time.sleep(0.001)
                return 0
            try:
                self._tx.start(self._build_frame(meta, bits))
            except Exception as exc:  # a PDU the coder cannot take is logged and dropped
                self._counts["pdus_dropped"] += 1
                self.logger.error(f"dropped PDU after {type(exc).__name__}: {exc}")
                return 0
        n, done = self._tx.write(self, out)
        if done:
            self._counts["frames_out"] += 1
        return n
