#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``channel_decoder``: a frame of received symbols -> one bits PDU."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pmt
from gnuradio import gr

from . import messages
from ._block_util import guarded
from ._frame_rx import FrameCutter, effective_channel
from .channel_encoder import CHAN_TAG, MODES, link_allocation
from .coding import framing
from .coding import mcs as mcs_mod
from .core import fbl_emulation

__all__ = ["channel_decoder"]

_PORT_PDUS = pmt.intern("pdus")
_PORT_CSI = pmt.intern("csi")
_PORT_CMD = pmt.intern("cmd")


class channel_decoder(gr.sync_block):
    """Channel decoder of one user: frames of symbols in, one bits PDU per frame out.

    A frame starts at a ``frame`` tag and is ``packet_len`` symbols long (the tag at the same
    sample; without it the frame ends at the next ``frame`` tag). Samples outside frames are
    ignored. The frame's ``semdacom_chan`` tag (from ``channel_encoder``), when it belongs to
    this user, gives the mode's MCS or ``R_c``, the payload length and, in fbl mode, the bits;
    otherwise the MCS / ``R_c`` of the last allocation applied (``cmd``, from ``apply_frame``)
    or the parameters are used and every decoded bit is output.

    Channel: with CSI (``csi``) and an allocation with ``power`` and ``w`` known, the effective
    gain is ``g = sqrt(p_u) h_u^H w_u`` and the noise ``N0 = sigma_u^2 + sum_{j != u} p_j
    |h_u^H w_j|^2`` (eqs. 6-7); otherwise ``g = 1`` and ``N0 = 10^(-snr_db/10)``.

    ``ldpc``: max-log demapping, deinterleaving, layered min-sum LDPC, CRC-16 per codeword.
    ``fbl``: eq. (8) decides per packet whether it fails (its bits replaced by random bits),
    at the SINR ``|g|^2 / N0``.

    Every frame gives exactly one PDU (never dropped): meta ``frame``, ``mode``, ``mcs`` /
    ``rc``, ``sinr_db``, ``codewords``, ``cw_crc_ok`` (s32 0/1 per codeword),
    ``cw_erased`` (1 where the codeword's CRC-16 failed, or its fbl packet failed),
    ``cw_syndrome_ok`` (ldpc: 1 where the LDPC syndrome reached zero),
    ``erased`` (count), ``payload_known`` (whether the payload length came with the frame)
    and ``decoder_reason`` when the frame could not be decoded at all (then every codeword
    is flagged erased and the bits are zeros).

    Parameters
    ----------
    user : int
    mode : {"ldpc", "fbl"}
    mcs : int
        Default MCS index.
    rc : float
        Default rate (fbl).
    blocklength : int
        ``L``.
    snr_db : float
        SNR used while no CSI with beams is known.
    max_iterations : int
        LDPC decoder iterations.
    seed : int
        Seed of the fbl emulator.
    """

    def __init__(
        self,
        user: int = 0,
        mode: str = "ldpc",
        mcs: int = 3,
        rc: float = 1.0,
        blocklength: int = 256,
        snr_db: float = 20.0,
        max_iterations: int = 20,
        seed: int = 0,
    ) -> None:
        gr.sync_block.__init__(self, name="channel_decoder", in_sig=[np.complex64], out_sig=None)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        for name, v, lo in (("user", user, 0), ("blocklength", blocklength, 1),
                            ("max_iterations", max_iterations, 1), ("seed", seed, 0)):  # fmt: skip
            if isinstance(v, bool) or int(v) != v or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        if not math.isfinite(float(snr_db)):
            raise ValueError(f"snr_db must be finite, got {snr_db!r}")
        self._user, self._mode, self._L = int(user), mode, int(blocklength)
        if mode == "ldpc":
            mcs_mod.block_layout(int(mcs), self._L)
        else:
            fbl_emulation.bits_per_packet(rc, self._L)
        self._mcs, self._rc = int(mcs), float(rc)
        self._snr_db = float(snr_db)
        self._iters = int(max_iterations)
        self._rng = np.random.default_rng(int(seed))
        self._csi: messages.Csi | None = None
        self._beams: tuple[np.ndarray, np.ndarray] | None = None
        self._pending: list[messages.Allocation] = []
        self._cutter = FrameCutter(CHAN_TAG)
        self._counts = {"frames_in": 0, "pdus_out": 0, "erasure_pdus": 0,
                        "cmd_accepted": 0, "cmd_rejected": 0,
                        "csi_accepted": 0, "csi_rejected": 0}  # fmt: skip
        self.message_port_register_in(_PORT_CSI)
        self.message_port_register_in(_PORT_CMD)
        self.message_port_register_out(_PORT_PDUS)
        self.set_msg_handler(_PORT_CSI, self._on_csi)
        self.set_msg_handler(_PORT_CMD, self._on_cmd)

    def counters(self) -> dict[str, int]:
        return dict(self._counts)

    # ------------------------------------------------------------------ messages
    def _on_csi(self, msg: Any) -> None:
        guarded(self.logger, self._counts, "csi_rejected", self._handle_csi, msg)

    def _on_cmd(self, msg: Any) -> None:
        guarded(self.logger, self._counts, "cmd_rejected", self._handle_cmd, msg)

    def _handle_csi(self, msg: Any) -> None:
        csi = messages.csi_from_pmt(msg)
        if self._user >= csi.k:
            raise messages.MessageError(f"CSI has K={csi.k}, this block is user {self._user}")
        self._csi = csi
        self._counts["csi_accepted"] += 1

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
            if a.power is not None and a.w is not None:
                self._beams = (a.power, a.w)
        self._pending = keep

    def _channel(self) -> tuple[complex, float, str]:
        """Effective gain, noise-plus-interference variance, and where they come from."""
        return effective_channel(self._csi, self._beams, self._user, self._snr_db)

    # ------------------------------------------------------------------ stream
    def work(self, input_items, output_items):
        x = input_items[0]
        tags = self.get_tags_in_window(0, 0, len(x))
        self._cutter.push(x, self.nitems_read(0), tags, self.logger, self._emit)
        return len(x)

    def stop(self) -> bool:
        """Flowgraph stop: frames still open are answered with what arrived of them."""
        self._cutter.flush(self._emit)
        return True

    # ------------------------------------------------------------------ decoding
    def _emit(self, f: dict, y: np.ndarray) -> None:
        self._counts["frames_in"] += 1
        frame = f["frame"] if f["frame"] is not None else -1
        self._apply_pending(frame)
        chan = f["info"]
        if not (isinstance(chan, dict) and chan.get("user") == self._user):
            chan = None
        meta: dict[str, Any] = {"frame": frame, "mode": self._mode, "user": self._user}
        try:
            bits, cw_ok, cw_erased, extra = self._decode(y, chan)
            meta.update(extra)
        except Exception as exc:  # never drop a frame: emit an explicit erasure
            self._counts["erasure_pdus"] += 1
            self.logger.error(f"frame {frame}: {type(exc).__name__}: {exc}")
            n_bits = int(chan["n_bits"]) if chan and "n_bits" in chan else 0
            bits = np.zeros(max(n_bits, 0), np.uint8)
            cw_ok = np.zeros(1, np.int32)
            cw_erased = np.ones(1, np.int32)
            meta["decoder_reason"] = f"{type(exc).__name__}: {exc}"
            meta["payload_known"] = chan is not None
        if chan:
            for key, val in chan.items():
                if key.startswith("pdu_"):
                    meta.setdefault(key[4:], val)
        meta["codewords"] = int(cw_ok.size)
        meta["cw_crc_ok"] = cw_ok.astype(np.int32)
        meta["cw_erased"] = cw_erased.astype(np.int32)
        meta["erased"] = int(cw_erased.sum())
        self.message_port_pub(_PORT_PDUS, messages.bits_pdu(meta, bits))
        self._counts["pdus_out"] += 1

    def _decode(self, y: np.ndarray, chan: dict | None):
        g, n0, source = self._channel()
        sinr = abs(g) ** 2 / n0 if n0 > 0 else math.inf
        extra: dict[str, Any] = {
            "sinr_db": 10 * math.log10(sinr) if sinr > 0 else -math.inf,
            "sinr_source": source,
            "payload_known": chan is not None,
        }
        nblk = y.size // self._L
        if nblk < 1:
            raise ValueError(f"frame of {y.size} symbols is shorter than L={self._L}")
        if self._mode == "ldpc":
            mcs = int(chan["mcs"]) if chan and "mcs" in chan else self._mcs
            n_bits = int(chan["n_bits"]) if chan and "n_bits" in chan else None
            lay = mcs_mod.block_layout(mcs, self._L)
            if n_bits is not None:
                nblk = min(nblk, framing.n_blocks(n_bits, lay))
            res = framing.decode_symbols(
                y[: nblk * self._L], mcs, self._L, n0, g, n_bits, self._iters
            )
            ok = res.crc_ok.astype(np.int32)
            extra.update({"mcs": mcs, "rc": lay.rc_effective, "L": self._L})
            extra["cw_syndrome_ok"] = res.syndrome_ok.astype(np.int32)
            return res.bits, res.crc_ok.astype(np.int32), 1 - ok, extra
        rc = float(chan["rc"]) if chan and "rc" in chan else self._rc
        n = fbl_emulation.bits_per_packet(rc, self._L)
        extra.update({"rc": n / self._L, "L": self._L})
        if chan is None or "bits" not in chan:
            # No bits reached this decoder: every packet of the frame is an erasure.
            extra["decoder_reason"] = "no_fbl_bits"
            erased = np.ones(nblk, np.int32)
            return np.zeros(nblk * n, np.uint8), np.zeros(nblk, np.int32), erased, extra
        n_bits = int(chan["n_bits"])
        sent = np.unpackbits(np.asarray(chan["bits"], dtype=np.uint8))[:n_bits]
        got, st = fbl_emulation.emulate(sent, sinr, rc, self._L, "packet", self._rng)
        n_pkt = max(1, fbl_emulation.num_packets(n_bits, n))
        pkt = np.arange(n_bits) // n
        bad = np.zeros(n_pkt, bool)
        np.logical_or.at(bad, pkt, got != sent)
        extra["per"] = float(st["per"])
        return got, (~bad).astype(np.int32), bad.astype(np.int32), extra
