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
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.channel_state import ChannelState
from gnuradio.semdacom.plumbing.checks import check_finite, check_int, is_user
from gnuradio.semdacom.plumbing.expected import FrameAccounting
from gnuradio.semdacom.plumbing.frame_rx import FrameReceiver
from gnuradio.semdacom.plumbing.link import LinkBlock

from semdacom.channel_coding import framing
from semdacom.channel_coding import mcs as mcs_mod
from semdacom.phy import fbl_emulation

__all__ = ["channel_decoder"]

CHAN_TAG = messages.CHAN_TAG
MODES = messages.CHAN_MODES


def _blocks_sent(chan: dict | None, default: int) -> int:
    """Channel blocks the encoder sent of this frame (``blocks_sent`` when it cut the frame
    at its slot, else all of them)."""
    v = None if chan is None else chan.get("blocks_sent")
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v < default:
        return int(v)
    return default


class channel_decoder(FrameReceiver, LinkBlock, gr.sync_block):
    """Channel decoder of one user: frames of symbols in, one bits PDU per frame out.

    A frame starts at a ``frame`` tag and is ``packet_len`` symbols long (the tag at the same
    sample; without it the frame ends at the next ``frame`` tag). Samples outside frames are
    ignored. The frame's ``semdacom_chan`` tag (from ``channel_encoder``), when it belongs to
    this user, gives the mode's MCS or ``R_c``, the payload length and, in fbl mode, the bits;
    otherwise the MCS / ``R_c`` of the last allocation applied (``cmd``, from ``apply_frame``)
    or the parameters are used and every decoded bit is output.

    Channel: with CSI (``csi``) and ``power`` and ``w`` in force (from allocations, applied
    from their ``apply_frame``; an allocation whose ``seq`` is not newer than the last one
    taken is dropped), the effective gain is ``g = sqrt(p_u) h_u^H w_u`` and the noise
    ``N0 = sigma_u^2 + sum_{j != u} p_j |h_u^H w_j|^2`` (eqs. 6-7,
    ``core.beamforming.effective_channel``); otherwise ``g = 1`` and ``N0 = 10^(-snr_db/10)``.

    ``ldpc``: max-log demapping, deinterleaving, layered min-sum LDPC, CRC-16 per codeword.
    ``fbl``: eq. (8) decides per packet whether it fails (its bits replaced by random bits),
    at the SINR ``|g|^2 / N0``.

    Every frame gives exactly one PDU (never dropped): meta ``frame``, ``mode``, ``mcs`` /
    ``rc``, ``sinr_db``, ``codewords``, ``codewords_lost``, ``cw_crc_ok`` (s32 0/1 per
    codeword), ``cw_erased`` (1 where the codeword's CRC-16 failed, or its fbl packet failed),
    ``cw_syndrome_ok`` (ldpc: 1 where the LDPC syndrome reached zero), ``erased`` (bool: the
    payload was not recovered as a whole, i.e. ``codewords_lost > 0``; the one meaning of
    ``messages.pdu``) with ``erasure_reason`` and ``partial`` (the bits are still the
    decoder's: those of the codewords that passed and its estimate of the others, which a
    source decoder decodes), ``payload_known`` (whether the payload length came with the
    frame) and ``decoder_reason`` when the frame could not be decoded at all (then every
    codeword is flagged erased, the bits are zeros and ``partial`` is absent). A
    ``semdacom_chan`` tag that does not follow its schema (``messages.chan_info``) or one the
    encoder flagged ``erased`` makes the frame such an erasure; no error in decoding ends the
    block's thread.

    Frames never received (``plumbing.expected``): the frames are accounted by the PDU's own
    number (``pdu_frame`` in this user's tag, which the over-the-air header carries; the
    transmitter's frame number shifted as the last frame that had one when it is absent):
    after beacons (``channel_encoder``'s ``beacons``) the transmitter's numbers run ahead of
    the images', and the output's ``frame`` is the image's (``air_frame`` the transmitter's
    when they differ). The numbers are consecutive from the transmitter's ``first_frame``; a
    number skipped between two frames received, the frames before the first received (from
    ``first_frame`` when it is given) and, with
    ``frame_count`` given, those after the last (once none arrived for ``tail_s`` seconds, or
    at stop) are each answered by an erasure PDU (``frame_missing`` true, no bits,
    ``codewords`` 0). A frame that arrives after it was answered that way is dropped
    (``frames_late``); a step back or a jump of more than 4096 frames is a new numbering
    (``frame_jumps``), not a loss.

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
    first_frame : int
        First frame the transmitter sends (its ``channel_encoder``'s ``first_frame``); -1 =
        unknown (no frame is owed before the first one received).
    frame_count : int
        Frames the transmitter sends from ``first_frame`` (one per image); 0 = unknown (none
        is owed after the last one received).
    tail_s : float
        With ``frame_count``: seconds without any frame after which the frames still owed
        are answered as erasures (0 = only at stop, where a running flowgraph no longer
        delivers them). The longest outage the decoder waits out.
    """

    def __init__(
        self, user: int = 0, mode: str = "ldpc", mcs: int = 3, rc: float = 1.0,
        blocklength: int = 256, snr_db: float = 20.0, max_iterations: int = 20, seed: int = 0,
        first_frame: int = -1, frame_count: int = 0, tail_s: float = 0.0,
    ) -> None:  # fmt: skip
        gr.sync_block.__init__(self, name="channel_decoder", in_sig=[np.complex64], out_sig=None)
        self.setup_link(user, mode, mcs, rc, blocklength)
        max_iterations = check_int("max_iterations", max_iterations, 1)
        seed = check_int("seed", seed)
        snr_db = check_finite("snr_db", snr_db)
        self._snr_db = float(snr_db)
        self._iters = int(max_iterations)
        self._rng = np.random.default_rng(int(seed))
        self.setup(("frames_in", "pdus_out", "erasure_pdus", "cmd_accepted", "cmd_rejected",
                    "csi_accepted", "csi_rejected", "frames_erased", "frames_missing",
                    "frames_late", "codewords", "codewords_lost", "csi_late"))  # fmt: skip
        self._acct = FrameAccounting(first_frame, frame_count, tail_s, self._missing, self.logger)
        self._frame_offset = 0  # transmitter's frame number minus the PDU's (beacons before)
        self.csi_in(lambda msg: self._chan.set_csi(messages.csi_from_pmt(msg, user=self._user)))
        self.take_link_allocations(("mcs", "rc", "power", "w"))
        self._chan = ChannelState(self._user, self._snr_db, self._sched)
        self.setup_frames(CHAN_TAG)
        self.message_out("pdus")

    def _apply_pending(self, frame: int) -> None:
        self._chan.on_frame(frame if frame >= 0 else None)
        self._apply_link(frame)

    # ------------------------------------------------------------------ frames never received
    def set_expected(self, first_frame: int, frame_count: int, tail_s: float | None = None) -> None:
        """The frames the transmitter sends: from ``first_frame`` (-1: unknown), ``frame_count``
        of them (0: unknown), and ``tail_s`` when given (a new value takes effect at the next
        start); the accounting starts over. Raises ValueError for bad values."""
        self._acct.configure(first_frame, frame_count, tail_s)

    def expected(self) -> dict:
        """The accounting: ``first``, ``count``, ``next`` (the next frame owed), ``filled``,
        ``late``, ``jumps``."""
        with self._acct.lock:
            e = self._acct.frames
            return {"first": e.first, "count": e.count, "next": e.next, "filled": e.filled,
                    "late": e.late, "jumps": e.jumps}  # fmt: skip

    def _missing(self, frame: int) -> None:
        """The erasure of a frame that never arrived (``frame``: the PDU's number)."""
        meta = {"frame": frame, "mode": self._mode, "user": self._user, "erased": True,
                "erasure_reason": "frame not received", "frame_missing": True,
                "payload_known": False, "codewords": 0, "codewords_lost": 0}  # fmt: skip
        if self._frame_offset:
            meta["air_frame"] = frame + self._frame_offset
        self.publish("pdus", messages.bits_pdu(meta, np.zeros(0, np.uint8)))
        self._counts["frames_missing"] += 1
        self._counts["frames_erased"] += 1
        self._counts["pdus_out"] += 1

    def start(self) -> bool:
        self._acct.start()
        return True

    def stop(self) -> bool:
        """Frames still open are answered (``FrameReceiver``), then the frames still owed."""
        super().stop()
        try:
            self._acct.stop()
        except Exception as exc:
            self.logger.error(f"stop: {type(exc).__name__}: {exc}")
        return True

    # ------------------------------------------------------------------ decoding
    # (work and stop: plumbing.frame_rx.FrameReceiver)
    def _data_frame(self, f: dict) -> int | None:
        """The frame number this frame is accounted and reported by: the PDU's own
        (``pdu_frame`` of this user's ``semdacom_chan`` tag; over the air from the header),
        else the transmitter's frame number shifted as the last frame that carried one. The
        two differ after beacons (``channel_encoder``'s ``beacons``: frames without data
        went first); without beacons they are equal."""
        air, info = f["frame"], f["info"]
        if air is None:
            return None
        d = info.get("pdu_frame") if isinstance(info, dict) and is_user(
            info.get("user"), self._user) else None  # fmt: skip
        if isinstance(d, (int, np.integer)) and not isinstance(d, bool) and 0 <= d <= air:
            self._frame_offset = int(air) - int(d)
            return int(d)
        return int(air) - self._frame_offset if air >= self._frame_offset else int(air)

    def _emit_frame(self, f: dict, y: np.ndarray) -> None:
        """One PDU for the frame ``f``, whatever happens (an erasure when decoding fails),
        after the erasures of the frames skipped before it."""
        with self._acct.lock:
            data = self._data_frame(f)
            if not self._acct.admit(data):
                self._counts["frames_late"] += 1
                self.logger.warn(f"frame {data} arrived after it was answered: dropped")
                return
            self._decode_frame(f, y, data)

    def _decode_frame(self, f: dict, y: np.ndarray, data: int | None = None) -> None:
        self._counts["frames_in"] += 1
        frame = f["frame"] if f["frame"] is not None else -1
        meta: dict[str, Any] = {"frame": data if data is not None else frame, "mode": self._mode,
                                "user": self._user}  # fmt: skip
        if data is not None and data != frame:
            meta["air_frame"] = frame
        chan, bad_tag = f["info"], None
        try:
            self._apply_pending(frame)
            if isinstance(chan, dict) and is_user(chan.get("user"), self._user):
                chan = messages.chan_info(chan)
            else:
                chan = None
        except Exception as exc:  # a tag of this user that breaks its schema
            bad_tag, chan = f"{type(exc).__name__}: {exc}", None
        try:
            if bad_tag is not None:
                raise messages.MessageError(f"bad '{CHAN_TAG}' tag: {bad_tag}")
            if chan is not None and messages.is_erased(chan):
                raise messages.MessageError(
                    f"erased at the encoder ({chan.get('erasure_reason', '?')})"
                )
            bits, cw_ok, cw_erased, extra = self._decode(y, chan)
            meta.update(extra)
        except Exception as exc:  # never drop a frame: emit an explicit erasure
            self._counts["erasure_pdus"] += 1
            reason = f"{type(exc).__name__}: {exc}"[:200]
            self.logger.error(f"frame {frame}: {reason}")
            n_bits = chan["n_bits"] if chan is not None and "erased" not in chan else 0
            bits = np.zeros(n_bits if n_bits <= 8 * max(y.size, 1) else 0, np.uint8)
            cw_ok = np.zeros(1, np.int32)
            cw_erased = np.ones(1, np.int32)
            meta["decoder_reason"] = reason
            meta["erasure_reason"] = reason
            meta["payload_known"] = chan is not None
        if self._sched.applied_seq is not None:  # the allocation in force at this frame
            meta["dec_alloc_seq"] = self._sched.applied_seq
        if self._chan.csi is not None:  # the channel this frame was decoded with
            meta["csi_seq"] = self._chan.csi.seq
        if chan:
            for key, val in chan.items():
                if key.startswith("pdu_"):
                    meta.setdefault(key[4:], val)
            if "pdu_frame" in chan:
                meta["source_frame"] = chan["pdu_frame"]
            if "enc_alloc_seq" in chan:
                meta["enc_alloc_seq"] = chan["enc_alloc_seq"]
        lost = int(cw_erased.sum())
        meta["codewords"] = int(cw_ok.size)
        meta["codewords_lost"] = lost
        meta["cw_crc_ok"] = cw_ok.astype(np.int32)
        meta["cw_erased"] = cw_erased.astype(np.int32)
        meta["erased"] = lost > 0
        if lost and "decoder_reason" not in meta:  # decoded, some codewords lost: partial
            meta["partial"] = True
            meta["erasure_reason"] = f"{lost} of {cw_ok.size} codewords lost"
        try:
            out = messages.bits_pdu(meta, bits)
        except Exception as exc:  # meta cannot be written: the bare erasure
            self.logger.error(f"frame {frame}: {type(exc).__name__}: {exc}")
            meta = {"frame": frame, "user": self._user, "erased": True, "codewords": 1,
                    "codewords_lost": 1, "decoder_reason": "unwritable meta"}  # fmt: skip
            out = messages.bits_pdu(meta, np.zeros(0, np.uint8))
        self.publish("pdus", out)
        self._counts["pdus_out"] += 1
        self._counts["frames_erased"] += int(meta["erased"])
        self._counts["codewords"] += int(meta["codewords"])
        self._counts["codewords_lost"] += int(meta["codewords_lost"])

    def _decode(self, y: np.ndarray, chan: dict | None):
        g, n0, source = self._chan.channel()
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
            need = nblk if n_bits is None else framing.n_blocks(n_bits, lay)
            nblk = min(nblk, need, _blocks_sent(chan, need))
            res = framing.decode_symbols(
                y[: nblk * self._L], mcs, self._L, n0, g, n_bits, self._iters
            )
            ok = res.crc_ok.astype(np.int32)
            erased = 1 - ok
            syn = res.syndrome_ok.astype(np.int32)
            bits = res.bits
            if nblk < need:  # blocks the encoder cut off at the slot: erased codewords
                per_blk = len(lay.codes())
                miss = (need - nblk) * per_blk
                ok = np.concatenate([ok, np.zeros(miss, np.int32)])
                erased = np.concatenate([erased, np.ones(miss, np.int32)])
                syn = np.concatenate([syn, np.zeros(miss, np.int32)])
                if n_bits is not None and bits.size < n_bits:
                    bits = np.concatenate([bits, np.zeros(n_bits - bits.size, np.uint8)])
                extra["blocks_cut"] = int(need - nblk)
            extra.update({"mcs": mcs, "rc": lay.rc_effective, "L": self._L})
            extra["cw_syndrome_ok"] = syn
            return bits, ok, erased, extra
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
        diff = np.zeros(n_pkt * n, bool)  # a packet is bad where any of its bits differs
        diff[:n_bits] = got != sent
        bad = diff.reshape(n_pkt, n).any(axis=1)
        kept = _blocks_sent(chan, n_pkt)
        if kept < n_pkt:  # packets the encoder cut off at the slot never reached the channel
            bad[kept:] = True
            got = got.copy()
            got[kept * n :] = 0
            extra["blocks_cut"] = int(n_pkt - kept)
        extra["per"] = float(st["per"])
        return got, (~bad).astype(np.int32), bad.astype(np.int32), extra
