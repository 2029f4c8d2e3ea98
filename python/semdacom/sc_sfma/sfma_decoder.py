#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``sfma_decoder``: one user's received SC-SFMA frames -> image PDUs."""

from __future__ import annotations

import collections
import math
from typing import Any

import numpy as np
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_finite, check_int
from gnuradio.semdacom.plumbing.codec import model_device, run_batched
from gnuradio.semdacom.plumbing.frame_rx import FrameReceiver
from gnuradio.semdacom.plumbing.sfma import GainSchedule, noise_w_per_hz, shared_sfma

__all__ = ["sfma_decoder"]

GROUP_TAG = messages.SFMA_GROUP_TAG
#: Received SNRs outside this range (dB) are clipped before they condition the decoder.
SNR_RANGE_DB = (-30.0, 60.0)


class sfma_decoder(FrameReceiver, Block, gr.sync_block):
    """SC-SFMA receiver of one user (SC-SFMA [2], eq. 7): each received frame of the user's
    group gives the user's image, decoded by the transceiver's decoder of the user's slot
    from the frame's first ``n_sym`` symbols and the mask side information.

    Frames arrive on the stream input (a ``frame`` tag, ``packet_len`` samples, as every
    frame receiver here: ``plumbing.frame_rx.FrameCutter``) with the ``semdacom_sfma_group`` tag of
    ``sfma_superposer`` (through ``sfma_channel``): the group's two users, their slots, ``nu``,
    ``n_sym``, masks and the group's ``P_m``, ``B_m``. Where tags do not survive (over the
    air) the same dictionary may arrive as a message on ``side`` (``sfma_superposer``'s
    ``side`` output: ``{"frame": u64, "group": ...}``), matched to the stream frame by its
    number.

    Equalisation and SNR: with the user's gain ``g`` known (SFMA CSI on ``csi``:
    ``gain[user]``, in force from its ``frame``; else the ``gain`` parameter when > 0) the
    frame is divided by ``sqrt(P_m g)`` and the decoder is conditioned on
    ``s = P_m g / (N0 B_m)`` (``snr_source`` "csi" / "param"). Without a gain the amplitude
    is estimated blindly from the frame's power at the ``snr_db`` parameter,
    ``sqrt(P g) = sqrt(mean |y|^2 s / (1 + s))`` (``snr_source`` "blind").

    Every frame in gives exactly one image PDU (uint8 1x28x28) on ``pdus``, meta ``user``,
    ``frame``, ``group``, ``slot``, ``partner``, ``nu``, ``snr_db``, ``snr_source``,
    ``enc_alloc_seq`` / ``alloc_seq`` when known, the image's ``image_id``, ``label``,
    ``source_frame``, ``seq``, and ``erased``. A frame without readable side information, one
    not for this user, one the encoder or superposer flagged erased, one shorter than
    ``n_sym`` or with non-finite samples, or a gain too small to equalise, leaves as an
    explicit erasure (``erased`` true, ``erasure_reason``; pixels: the decoder's output for
    zero symbols).

    Parameters
    ----------
    user : int
        This user's index.
    weights : str
        "" (the shipped ``sc_sfma``), ``swinjscc_noma`` or a weights file (the encoder's).
    snr_db : float
        SNR of the blind mode (no gain known).
    gain : float
        This user's linear power gain until a CSI arrives (<= 0: unknown).
    noise_dbm_hz : float
        ``N0`` in dBm/Hz, as in ``sfma_channel`` and ``sfma_optimizer``.
    device : str
        Where the network runs (issue 23): "auto" (default: CUDA when
        ``torch.cuda.is_available()``, else the CPU), "cpu", "cuda" or "cuda:N"; one that is not
        there is an error when the block is built.
    """

    #: side-information dictionaries kept at most (the oldest frame goes first)
    MAX_SIDE = 1024
    #: frames decoded as one batch at most (issue 23)
    BATCH = 64

    def __init__(
        self, user: int = 0, weights: str = "", snr_db: float = 10.0, gain: float = 0.0,
        noise_dbm_hz: float = -165.0, device: str = "auto",
    ) -> None:  # fmt: skip
        gr.sync_block.__init__(self, name="sfma_decoder", in_sig=[np.complex64], out_sig=None)
        self._user = check_int("user", user)
        self._snr_db = check_finite("snr_db", snr_db)
        gain = check_finite("gain", gain)
        self._n0 = noise_w_per_hz(check_finite("noise_dbm_hz", noise_dbm_hz))
        self._model = shared_sfma(weights, device)
        self._device = model_device(self._model)
        self._c = int(self._model.code_channels)
        self._gain = GainSchedule(self._user, gain if gain > 0 else None)
        self._side: collections.OrderedDict[int, Any] = collections.OrderedDict()
        self.setup_frames(GROUP_TAG)
        self._cut: list = []  # frames of the stream chunk being cut (_prepare's)
        self._fill = self._decode(np.zeros(0, np.complex64), np.zeros(self._c, bool), 1.0, 0, 0.0)
        self.setup(("frames_in", "pdus_out", "erasures", "csi_accepted", "csi_rejected",
                    "side_accepted", "side_rejected", "side_other"))  # fmt: skip
        self.csi_in(lambda msg: self._gain.set_csi(messages.sfma_csi_from_pmt(msg)))
        self.message_in("side", self._handle_side, rejected="side_rejected")
        self.message_out("pdus")

    # ------------------------------------------------------------------ inspection
    @property
    def erasure_fill(self) -> np.ndarray:
        return self._fill.copy()

    def _decode(self, y: np.ndarray, mask: np.ndarray, nu: float, slot: int, snr_db: float):
        k = int(mask.sum())
        if k == 0:  # the erasure fill: the decoder's output for zero symbols at nu = 1
            mask = np.ones(self._c, bool)
            y = np.zeros(self._model.symbols_per_user(1.0), np.complex64)
            nu = 1.0
        return self._decode_many([(y, mask, snr_db)], nu, slot)[0]

    def _decode_many(self, jobs: list, nu: float, slot: int) -> list[np.ndarray]:
        """The images of frames ``jobs`` (``(equalised symbols, mask, snr_db)``, one ``nu``
        and slot, masks of one size) decoded as one batch (issue 23: a frame costs a fifth as
        much in a batch of 16 as alone)."""
        import torch

        n_sym = int(jobs[0][1].sum()) * self._model.spatial // 2
        z = np.zeros((len(jobs), n_sym), np.complex64)
        for i, (y, _, _) in enumerate(jobs):
            z[i, : min(n_sym, y.size)] = y[:n_sym]
        masks = np.stack([m for _, m, _ in jobs])
        snrs = np.array([s for _, _, s in jobs], np.float64)
        with torch.no_grad():
            x = self._model.decode(
                torch.from_numpy(z).to(self._device),
                torch.from_numpy(masks).to(self._device),
                nu,
                slot,
                snrs,
            )
        x = np.round(x.clamp(0, 1).cpu().numpy() * 255.0).astype(np.uint8)
        return list(x)

    # ------------------------------------------------------------------ messages
    def _handle_side(self, msg: Any) -> None:
        d = messages.meta_from_pmt(msg)
        frame = d.pop("frame", None)
        if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            raise messages.MessageError(f"side information needs a frame number, got {frame!r}")
        info = messages.sfma_group_info(d, self._c)
        slots = (info["slot0"]["user"], info["slot1"]["user"])
        if self._user not in slots:
            self._counts["side_other"] += 1  # another group's side information
            return
        self._side[frame] = d
        self._side.move_to_end(frame)
        while len(self._side) > self.MAX_SIDE:
            self._side.popitem(last=False)
        self._counts["side_accepted"] += 1

    # ------------------------------------------------------------------ stream
    # (work and stop: plumbing.frame_rx.FrameReceiver)
    def _emit_frame(self, f: dict, y: np.ndarray) -> None:
        """Check a frame and queue it (:meth:`_frames_cut` decodes the frames of one stream
        chunk as batches and answers each)."""
        self._counts["frames_in"] += 1
        self._cut.append(self._prepare(f, y))

    def _frames_cut(self) -> None:
        """Decode the queued frames, one batch per (``nu``, slot, mask size) of at most
        :attr:`BATCH`, and answer every one in its order: an image, or an erasure (a frame
        that failed its checks; when a batch's decoding raises, its frames are decoded one at
        a time, so that only a frame that fails alone is an erasure)."""
        cut, self._cut = self._cut, []
        imgs: list = [None] * len(cut)
        reasons = [reason for _, _, reason in cut]
        groups: dict[tuple, list[int]] = {}
        for i, (_, job, _) in enumerate(cut):
            if job is not None:
                groups.setdefault((job[2], job[3], int(job[1].sum())), []).append(i)
        for (nu, slot, _), members in groups.items():
            out, errors = run_batched(
                [_job3(cut[i][1]) for i in members],
                lambda jobs, nu=nu, slot=slot: self._decode_many(jobs, nu, slot),
                self.BATCH,
            )
            for i, img, err in zip(members, out, errors, strict=True):
                if err is not None:
                    reasons[i] = err
                    self.logger.error(f"frame {cut[i][0]['frame']}: erasure: {err}")
                imgs[i] = img
        for (meta, _, _), img, reason in zip(cut, imgs, reasons, strict=True):
            self.send("pdus", messages.image_pdu, meta, img, self._fill, reason)

    def _prepare(self, f: dict, y: np.ndarray) -> tuple[dict, tuple | None, str | None]:
        """``(meta, job, reason)`` of a frame: ``job`` ``(equalised symbols, mask, nu, slot,
        snr_db)`` to decode, or None with the erasure's ``reason``."""
        frame = f["frame"]
        meta: dict[str, Any] = {"user": self._user, "frame": -1 if frame is None else frame}
        job, reason = None, None
        try:
            self._gain.on_frame(frame)
            raw = f["info"]
            if raw is None and frame is not None:
                raw = self._side.pop(frame, None)
            if raw is None:
                raise messages.MessageError("no SFMA side information for this frame")
            info = messages.sfma_group_info(raw, self._c)
            slot = next((r for r in (0, 1) if info[f"slot{r}"]["user"] == self._user), None)
            if slot is None:
                users = (info["slot0"]["user"], info["slot1"]["user"])
                raise messages.MessageError(f"frame of group {info['group']} is for users {users}")
            s = info[f"slot{slot}"]
            meta.update({"group": info["group"], "slot": slot, "partner": s["partner"],
                         "nu": s["nu"]})  # fmt: skip
            for key in ("enc_alloc_seq",):
                if key in s:
                    meta[key] = s[key]
            if "alloc_seq" in info:
                meta["alloc_seq"] = info["alloc_seq"]
            for key in ("image_id", "label", "seq"):
                if "pdu_" + key in s:
                    meta[key] = s["pdu_" + key]
            if "pdu_frame" in s:
                meta["source_frame"] = s["pdu_frame"]
            if s["erased"]:
                raise messages.MessageError(f"erased at the transmitter ({s['erasure_reason']})")
            n_sym = s["n_sym"]
            if n_sym != int(s["mask"].sum()) * self._model.spatial // 2:
                raise messages.MessageError(f"n_sym={n_sym} does not match the mask")
            if y.size < n_sym:
                raise messages.MessageError(f"frame of {y.size} samples is shorter than {n_sym}")
            ys = np.asarray(y[:n_sym], np.complex128)
            if not np.all(np.isfinite(ys)):
                raise messages.MessageError("non-finite received samples")
            p, bw = info["power"], info["bw"]
            g = self._gain.gain
            if g is not None:
                amp2 = p * g
                snr = amp2 / (self._n0 * bw)
                meta["snr_source"] = "csi" if self._gain.seq is not None else "param"
            else:
                snr = 10.0 ** (self._snr_db / 10.0)
                amp2 = float(np.mean(np.abs(ys) ** 2)) * snr / (1.0 + snr)
                meta["snr_source"] = "blind"
            if not (math.isfinite(amp2) and amp2 > 0 and math.isfinite(snr) and snr > 0):
                raise messages.MessageError(f"signal power {amp2:.3g} cannot be equalised")
            snr_db = min(max(10.0 * math.log10(snr), SNR_RANGE_DB[0]), SNR_RANGE_DB[1])
            meta["snr_db"] = 10.0 * math.log10(snr)
            with np.errstate(over="ignore", invalid="ignore"):
                ye = (ys / math.sqrt(amp2)).astype(np.complex64)
            if not np.all(np.isfinite(ye)):  # beyond complex64 once equalised
                raise messages.MessageError("equalised samples overflow complex64")
            job = (ye, np.asarray(s["mask"], bool), float(s["nu"]), slot, snr_db)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            self.logger.error(f"frame {meta['frame']}: erasure: {reason}")
        return meta, job, reason


def _job3(job: tuple) -> tuple:
    """``(symbols, mask, snr_db)`` of a prepared frame (what a batch takes of it)."""
    return job[0], job[1], job[4]
