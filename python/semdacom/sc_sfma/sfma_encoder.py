#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``sfma_encoder``: the users' image PDUs -> per-user SC-SFMA feature frames."""

from __future__ import annotations

import collections
import functools
import queue
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pmt
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_even_k, check_int
from gnuradio.semdacom.plumbing.codec import model_device, run_batched
from gnuradio.semdacom.plumbing.frame_tx import MultiFrameTx, next_item
from gnuradio.semdacom.plumbing.meta import salvage_meta
from gnuradio.semdacom.plumbing.sfma import SfmaCommands, check_pairs, shared_sfma
from gnuradio.semdacom.plumbing.worker import MAX_IN_FLIGHT, PduWorker

__all__ = ["sfma_encoder"]

SFMA_TAG = messages.SFMA_TAG
_KICK = object()
_FORWARD = ("image_id", "label", "frame", "seq")


class sfma_encoder(Block, gr.sync_block):
    """SC-SFMA transmitter of the base station (SC-SFMA [2], eqs. 3-4, Sec. II-A/B): the images
    of the ``k`` users are coded pair by pair by the learned transceiver (
    ``semdacom.sc_sfma.transceiver``:
    Swin encoder, SCFM fusion of the pair, Rate-ModNet and the top-k code mask at the group's
    compression ratio ``nu``), one frame per user and slot.

    Image PDUs of user ``u`` arrive on ``pdus<u>``. A slot is formed as soon as every user has
    an image waiting (one per user, in arrival order); it is frame ``first_frame``, then +1
    per slot. The pairing and each group's ``nu`` are those in force at that frame: the last
    SFMA allocation on ``cmd`` (``pairs``, ``nu``; checked by ``messages.check_sfma_alloc``:
    group powers at most ``MAX_POWER_W``, bandwidths in (0, ``MAX_SFMA_BW_HZ``], per-user
    fields such as ``rate_index`` of length ``K``; applied from its ``apply_frame``, an
    allocation whose ``seq`` is not newer is dropped), else the ``pairs`` and ``nu``
    parameters. With ``hold`` no slot is coded before the first allocation (at most
    ``MAX_HELD`` slots and ``HOLD_TIMEOUT_S`` seconds wait; then the parameters are used,
    logged).

    Output ``u`` carries user ``u``'s frame: its ``n_sym = symbols_per_user(nu)`` complex
    feature symbols, power-normalised (mean ``|s|^2 = 1`` over them), zero-padded to
    ``frame_len``, with a ``frame`` tag (u64), a ``packet_len`` tag and a ``semdacom_sfma``
    tag (``messages.sfma_frame_info``: user, group, slot, partner, nu, n_sym, the mask as side
    information, erased, enc_alloc_seq, the image's image_id/label/frame/seq as ``pdu_*``).
    All outputs carry the slot's frames at the same items. ``sent`` gets one
    ``messages.frame_sent_to_pmt(frame, -1)`` per slot when it starts (user -1: every user),
    for the image sources' ``trigger`` (a credit loop).

    A malformed PDU (not an image PDU, a shape other than 1x28x28, erased upstream), or a pair
    whose encoding fails, still gives its user's frame: zero symbols, ``erased`` true with
    ``erasure_reason`` (the partner is coded with a blank image in its place). Every image in
    gives one frame out; images still waiting for the other users at stop are logged. A slot
    that cannot be built once its images have left the queues (an unexpected error) goes out
    all erased, with the error as ``erasure_reason``, so no image is lost.

    Frame numbers are u64 and never wrap (allocations are applied by comparing
    ``apply_frame`` with them): ``first_frame`` is at most ``MAX_FIRST_FRAME`` = 2**63, which
    leaves 2**63 slots (292 000 years at a million slots per second).

    Batches (issue 23): the slots whose images are all waiting (at most :attr:`BATCH`) are
    formed together and their groups coded with one network call per ratio ``nu``; a call
    that fails is made again group by group, so only a group that fails alone goes out erased.

    Parameters
    ----------
    k : int
        Users ``K`` (even, >= 2): ``pdus0..pdus<K-1>``, ``K`` stream outputs.
    weights : str
        "" (the shipped ``sc_sfma``), ``swinjscc_noma`` or a weights file.
    pairs : sequence of int
        Pairing before any allocation (``2M`` user indices; empty: (0, 1), (2, 3), ...).
    nu : float
        Compression ratio of every group before any allocation, in (0, 1].
    frame_len : int
        Items per frame (0: the symbols of ``nu = 1``, the longest frame).
    first_frame : int
        Number of the first slot, in [0, ``MAX_FIRST_FRAME`` = 2**63].
    hold : bool
        Wait for the first allocation before coding.
    device : str
        Where the network runs (issue 23): "auto" (default: CUDA when
        ``torch.cuda.is_available()``, else the CPU), "cpu", "cuda" or "cuda:N"; one that is not
        there is an error when the block is built.
    """

    MAX_HELD = MAX_IN_FLIGHT
    #: slots formed and coded together at most (issue 23: their groups, one batch per nu)
    BATCH = 64
    #: largest ``first_frame``: frame numbers are u64 and never wrap, 2**63 slots are left
    MAX_FIRST_FRAME = 1 << 63
    _MAX_FRAME = (1 << 64) - 1
    #: seconds ``hold`` waits for the first allocation before it codes with the parameters
    HOLD_TIMEOUT_S = 30.0

    def __init__(
        self,
        k: int = 2,
        weights: str = "",
        pairs: Sequence[int] = (),
        nu: float = 0.5,
        frame_len: int = 0,
        first_frame: int = 0,
        hold: bool = False,
        device: str = "auto",
    ) -> None:
        k = check_even_k(k)
        gr.sync_block.__init__(self, name="sfma_encoder", in_sig=None, out_sig=[np.complex64] * k)
        self._k, self._m = k, k // 2
        self._model = shared_sfma(weights, device)
        self._device = model_device(self._model)
        self._c = int(self._model.code_channels)
        self._shape = (1, 28, 28)
        nu = float(nu)
        if not 0.0 < nu <= 1.0:
            raise ValueError(f"nu must be in (0, 1], got {nu!r}")
        longest = int(self._model.symbols_per_user(1.0))
        frame_len = check_int("frame_len", frame_len)
        self._frame_len = frame_len or longest
        if self._frame_len < longest:
            raise ValueError(f"frame_len must be 0 or >= {longest}, got {frame_len}")
        self._cmds = SfmaCommands(
            k, ("pairs", "nu"), {"pairs": check_pairs(pairs, k), "nu": np.full(self._m, nu)}
        )
        self._hold = bool(hold)
        self._hold_expired = False
        self._hold_timer: threading.Timer | None = None
        self._next_frame = check_int("first_frame", first_frame, 0, self.MAX_FIRST_FRAME)
        self._lock = threading.Lock()
        self._fifo: list[collections.deque] = [collections.deque() for _ in range(k)]
        self._slots: queue.Queue = queue.Queue()
        self._tx = MultiFrameTx()
        self._worker = PduWorker(
            self._take, "sfma_encoder", batch_fn=self._take_many, batch=self.BATCH * k
        )
        self.setup(("pdus_in", "frames_out", "slots_out", "erasures", "cmd_accepted",
                    "cmd_rejected"))  # fmt: skip
        for u in range(k):
            self.message_in(f"pdus{u}", functools.partial(self._on_pdus, u))
        self.cmd_in(self._take_cmd, then=lambda _: self._worker.submit(_KICK))
        self.message_out("sent")
        # the networks' first call is slow: make it now, not on the first slot
        with self._torch().no_grad():
            z = self._torch().zeros(1, *self._shape)
            self._model.encode_pair(z, z, nu)

    @staticmethod
    def _torch():
        import torch

        return torch

    # ------------------------------------------------------------------ inspection
    @property
    def frame_len(self) -> int:
        return self._frame_len

    def waiting(self) -> list[int]:
        """Images waiting per user for a slot."""
        with self._lock:
            return [len(f) for f in self._fifo]

    # ------------------------------------------------------------------ messages
    def start(self) -> bool:
        self._worker.start()
        if self._hold and self._cmds.sched.last_seq is None:
            self._hold_timer = threading.Timer(self.HOLD_TIMEOUT_S, self._hold_expire)
            self._hold_timer.daemon = True
            self._hold_timer.start()
        return True

    def _hold_expire(self) -> None:
        with self._lock:
            if self._cmds.sched.last_seq is not None:
                return
            self._hold_expired = True
        self.logger.warn(
            f"no allocation within {self.HOLD_TIMEOUT_S:g} s: coding with the parameters"
        )
        self._worker.submit(_KICK)

    def stop(self) -> bool:
        if self._hold_timer is not None:
            self._hold_timer.cancel()
        self._worker.stop()
        left = self.waiting()
        if any(left):
            self.logger.warn(f"stopped with images waiting for a slot: {left} per user")
        return True

    def _take_cmd(self, msg: Any) -> None:
        """Take an allocation; then slots held for the first allocation may go."""
        with self._lock:
            self._cmds.accept(msg)

    def _on_pdus(self, user: int, msg: Any) -> None:
        with self._lock:
            self._counts["pdus_in"] += 1
        self._worker.submit((user, msg))

    # ------------------------------------------------------------------ slots (worker thread)
    def _take(self, item: Any) -> None:
        self._take_many([item])

    def _take_many(self, items: list) -> None:
        """The images (and kicks) that have queued up, then every slot they complete (coded
        together: :meth:`_form_slots`)."""
        for item in items:  # the worker must never end
            if item is not _KICK:
                try:
                    self._queue_image(*item)
                except Exception as exc:
                    self.logger.error(f"image not queued: {type(exc).__name__}: {exc}")
        try:
            self._form_slots()
        except Exception as exc:
            self.logger.error(f"slot not formed: {type(exc).__name__}: {exc}")

    def _queue_image(self, user: int, msg: Any) -> None:
        try:
            meta, img = messages.unpack_image_pdu(msg)
            if messages.is_erased(meta):
                raise messages.MessageError(f"erased upstream ({meta.get('erasure_reason', '?')})")
            if tuple(img.shape) != self._shape:
                raise messages.MessageError(f"image shape {tuple(img.shape)} is not {self._shape}")
            entry = (meta, img, None)
        except Exception as exc:
            self.logger.error(f"user {user}: input PDU is an erasure: {type(exc).__name__}: {exc}")
            entry = (salvage_meta(msg), None, f"{type(exc).__name__}: {exc}"[:200])
        with self._lock:
            self._fifo[user].append(entry)

    def _form_slots(self) -> None:
        """Every slot whose images are all here (at most :attr:`BATCH` at a time), its groups
        coded as batches (:meth:`_code_slots`), then queued for the stream in order."""
        while True:
            ready = []
            with self._lock:
                while len(ready) < self.BATCH and all(self._fifo):
                    held = (
                        self._hold and not self._hold_expired and self._cmds.sched.last_seq is None
                    )
                    if held and max(map(len, self._fifo)) <= self.MAX_HELD:
                        break
                    if self._next_frame > self._MAX_FRAME:  # after 2**63 slots at least
                        self.logger.error("frame counter exhausted: images wait")
                        break
                    entries = [f.popleft() for f in self._fifo]
                    frame = self._next_frame
                    self._next_frame += 1
                    ready.append((frame, entries, self._cmds.at(frame)))
            if not ready:
                return
            try:
                coded = self._code_slots(ready)
            except Exception as exc:  # each slot is then coded on its own
                self.logger.error(f"slots not coded as a batch: {type(exc).__name__}: {exc}")
                coded = [None] * len(ready)
            for (frame, entries, alloc), c in zip(ready, coded, strict=True):
                self._slots.put(self._build_slot(frame, entries, alloc, c))

    def _code_slots(self, slots: list) -> list[dict]:
        """The channel symbols of every group of ``slots`` (``(frame, entries, alloc)``) with
        an image to code, one ``encode_pair`` call per ratio ``nu`` for all of them
        (``run_batched``: a batch that fails is coded group by group, so that only a group that
        fails alone is erased). Returns per slot ``{group: (symbols, masks) or reason}``."""
        by_nu: dict[float, list] = {}
        for s, (_, entries, alloc) in enumerate(slots):
            pairs, nus = alloc["pairs"], alloc["nu"]
            for m in range(self._m):
                users = (int(pairs[2 * m]), int(pairs[2 * m + 1]))
                if all(entries[u][2] is not None for u in users):
                    continue  # both erased: nothing to code
                imgs = tuple(entries[u][1] for u in users)
                by_nu.setdefault(float(nus[m]), []).append((s, m, imgs))
        coded: list[dict] = [{} for _ in slots]
        for nu, jobs in by_nu.items():
            out, errors = run_batched(
                [imgs for _, _, imgs in jobs], lambda p, nu=nu: self._code_pairs(p, nu), self.BATCH
            )
            for (s, m, _), res, err in zip(jobs, out, errors, strict=True):
                coded[s][m] = res if err is None else err[:200]
        return coded

    def _code_pairs(self, pairs: list, nu: float) -> list:
        """``(symbols (a, b), masks (a, b))`` of image pairs (uint8 or None: a blank partner)
        coded as one batch at ratio ``nu``; non-finite or mis-sized symbols raise."""
        torch = self._torch()
        blank = np.zeros(self._shape, np.float32)
        xs = [
            torch.from_numpy(
                np.stack(
                    [blank if p[r] is None else p[r].astype(np.float32) / 255.0 for p in pairs]
                )
            ).to(self._device)
            for r in (0, 1)
        ]
        with torch.no_grad():
            sa, sb, mk = self._model.encode_pair(xs[0], xs[1], nu)
        sa, sb = sa.cpu().numpy(), sb.cpu().numpy()
        mk = mk.cpu().numpy().astype(np.uint8)
        n_sym = int(self._model.symbols_per_user(nu))
        out = []
        for i in range(len(pairs)):
            syms = (sa[i].astype(np.complex64), sb[i].astype(np.complex64))
            if not all(np.all(np.isfinite(s)) and s.size == n_sym for s in syms):
                raise ValueError("encoder produced non-finite or mis-sized symbols")
            out.append((syms, (mk[i, 0], mk[i, 1])))
        return out

    def _build_slot(self, frame: int, entries: list, alloc: dict, coded=None) -> list:
        """The slot of ``entries`` (its groups' symbols ``coded`` already, or coded here); if
        it cannot be built, every user's frame erased (with the images' meta, then without
        it), so that every image still gives one frame."""
        try:
            return self._encode_slot(frame, entries, alloc, coded)
        except Exception as exc:
            reason = f"slot not built: {type(exc).__name__}: {exc}"[:200]
            self.logger.error(f"frame {frame}: {reason}; its frames go out erased")
        for meta in (True, False):
            erased = [(e[0] if meta else {}, None, e[2] or reason) for e in entries]
            try:
                return self._encode_slot(frame, erased, alloc)
            except Exception as exc:  # the forwarded meta or the allocation itself
                self.logger.error(f"frame {frame}: erased slot: {type(exc).__name__}: {exc}")
        raise RuntimeError(f"frame {frame}: no frame could be built, {self._k} images lost")

    def _encode_slot(self, frame: int, entries: list, alloc: dict, coded=None) -> list:
        if coded is None:
            coded = self._code_slots([(frame, entries, alloc)])[0]
        pairs, nus, seq = alloc["pairs"], alloc["nu"], alloc["seq"]
        slot: list = [None] * self._k
        erasures = 0
        for m in range(self._m):
            users = (int(pairs[2 * m]), int(pairs[2 * m + 1]))
            nu = float(nus[m])
            reasons = [entries[u][2] for u in users]
            n_sym = int(self._model.symbols_per_user(nu))
            syms = [np.zeros(n_sym, np.complex64), np.zeros(n_sym, np.complex64)]
            masks = [np.zeros(self._c, np.uint8), np.zeros(self._c, np.uint8)]
            if any(r is None for r in reasons):
                res = coded.get(m, "no symbols were coded for this group")
                if isinstance(res, str):
                    self.logger.error(f"frame {frame} group {m}: {res}")
                    reasons = [r or res for r in reasons]
                else:
                    for r in (0, 1):
                        if reasons[r] is None:
                            syms[r], masks[r] = res[0][r], res[1][r]
            nu_eff = self._model.kept_channels(nu) / self._c
            for r, u in enumerate(users):
                info: dict[str, Any] = {
                    "user": u, "group": m, "slot": r, "partner": users[1 - r], "nu": nu_eff,
                    "n_sym": n_sym, "mask": masks[r], "erased": reasons[r] is not None,
                }  # fmt: skip
                if reasons[r] is not None:
                    info["erasure_reason"] = reasons[r]
                    erasures += 1
                if seq is not None:
                    info["enc_alloc_seq"] = int(seq)
                meta = entries[u][0]
                for key in _FORWARD:
                    v = meta.get(key)
                    if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0:
                        info["pdu_" + key] = int(v)
                sym = np.zeros(self._frame_len, np.complex64)
                sym[:n_sym] = syms[r]
                tags = [
                    ("frame", pmt.from_uint64(frame)),
                    ("packet_len", pmt.from_long(self._frame_len)),
                    (SFMA_TAG, messages.meta_to_pmt(info)),
                ]
                slot[u] = (sym, tags)
        self._counts["erasures"] += erasures
        return [frame, slot]

    # ------------------------------------------------------------------ stream
    def work(self, input_items, output_items):
        if self._tx.idle:
            item = next_item(self._slots, self._worker.busy)
            if item is None:
                return 0
            frame, slot = item
            try:
                self._tx.start(slot)
            except Exception as exc:  # work() must never end the thread
                self.logger.error(f"slot {frame} not sent: {type(exc).__name__}: {exc}")
                return 0
            self.publish("sent", messages.frame_sent_to_pmt(frame, -1))
        n, done = self._tx.write(self, output_items)
        if done:
            self._counts["slots_out"] += 1
            self._counts["frames_out"] += self._k
        return n
