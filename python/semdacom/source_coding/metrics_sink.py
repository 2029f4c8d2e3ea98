#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``metrics_sink``: per-user MS-SSIM/PSNR (DUs) and accuracy (SUs)."""

from __future__ import annotations

import heapq
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_int, describe

__all__ = ["metrics_sink"]

#: Image ids listed per user in the summary's ``missing_ids`` (the count is complete).
MAX_MISSING_LISTED = 32


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return None


class metrics_sink(Block, gr.basic_block):
    """End-to-end metrics of every user (MU-ASCC [1], eqs. 9 and 11, measured).

    ``pdus`` takes the results: image PDUs of ``source_decoder`` (data users) and label PDUs of
    ``semantic_decoder`` (semantic users). ``ref`` takes the original image PDUs of
    ``image_source``; a decoded image is compared with the reference of the same ``user`` and
    ``image_id`` (MS-SSIM as in :mod:`semdacom.source_coding.metrics`, MSE, PSNR of the mean
    MSE). A label is compared with the ``label`` its meta carries from the source. Erasures
    count as results: an erased image with its fill pixels, an erased label as wrong.

    A reference is consumed by its result (a decoded image or a label of the same ``user`` and
    ``image_id``), so the references kept are those of the images in flight: memory stays flat
    over any number of images (the per-user means are running sums, not lists). At most
    ``max_refs`` references are kept (oldest dropped first, counted as ``refs_dropped``): a
    reference whose result never comes (a result lost upstream) stays until then.
    A decoded image whose reference has not arrived waits (at most ``max_pending``; further ones
    are counted as ``evicted``); when the flowgraph stops, waiting ones are counted as
    ``unmatched``. Malformed messages (a result
    without an integer ``user``, a decoded image without an integer ``image_id`` that is not
    an erasure with a ``frame``) are logged and counted as ``malformed`` only: never as
    received, never evaluated. :meth:`summary` returns the per-user counts and means; on stop
    the summary is logged and, with ``json_path``, written as JSON.

    Erasures (one meaning: ``messages.pdu``, ``messages.is_erased``): ``erased`` counts the
    results whose frame was not recovered as a whole, ``partial`` those of them decoded from
    what was recovered (scored as they are), ``frames_missing`` those of frames never received;
    ``codewords`` and ``codewords_lost`` add up the channel decoder's counts the results carry.
    An erasure without ``image_id`` (a frame never received or whose header was lost over the
    air) is matched by ``frame`` to the reference of the same user and frame (``image_source``
    numbers its frames as the base station's channel encoder: one per image from 0), and
    scored against it. ``missing`` (per user) counts the references no result has answered
    (final at stop; before, it includes the images in flight), with the first
    :data:`MAX_MISSING_LISTED` of their image ids in ``missing_ids``: images in = ``received``
    + ``missing``.

    ``done`` says, once per result taken (scored, or waiting for its reference), whose it was:
    a dictionary ``{user, image_id}`` (``image_id`` absent for an erasure matched by frame; no
    ``frame`` key, so that an ``image_source`` trigger does not read one). Wired to every
    user's ``image_source`` ``trigger`` (each takes only its own user's), it closes the credit
    loop behind the scoring (examples/mu_ascc_loopback.grc): the sink, the slowest block of
    the loop on a quiet machine, cannot fall behind and its message queues stay bounded by the
    credits (issue 24's soak: with the decoders' results as credits they grew to 5000
    messages). A result that is dropped as malformed gives no ``done``.

    Parameters
    ----------
    json_path : str
        File for the JSON summary at stop ("" = none).
    max_refs : int
        References kept at most (oldest dropped first, counted as ``refs_dropped``); only the
        references of images whose result has not arrived are kept.
    max_pending : int
        Results kept while they wait for their reference.
    keep_scores : int
        Per-image scores kept for the report: the first ``keep_scores`` images scored of each
        data user, each ``{image_id, frame, erased, msssim, psnr_db}`` in the order scored,
        under the user's ``images`` in :meth:`summary` (0: none; the means are over every
        image either way).
    """

    def __init__(
        self, json_path: str = "", max_refs: int = 100000, max_pending: int = 10000,
        keep_scores: int = 0,
    ):  # fmt: skip
        gr.basic_block.__init__(self, name="metrics_sink", in_sig=None, out_sig=None)
        max_refs = check_int("max_refs", max_refs, 1)
        max_pending = check_int("max_pending", max_pending)
        self._keep_scores = check_int("keep_scores", keep_scores)
        self._scores: dict[int, list[dict]] = {}  # user -> at most keep_scores per-image scores
        self._json = str(json_path)
        self._max_refs = int(max_refs)
        self._max_pending = int(max_pending)
        self._lock = threading.Lock()
        self._refs: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._ref_frame: dict[tuple[int, int], int] = {}  # (user, image_id) -> frame
        self._by_frame: dict[tuple[int, int], int] = {}  # (user, frame) -> image_id
        self._pending: OrderedDict[tuple[int, int], list[tuple[dict, np.ndarray]]] = OrderedDict()
        # erased images without image_id waiting for the reference of their frame
        self._pending_frame: OrderedDict[tuple[int, int], list] = OrderedDict()
        # labels that came before their reference: ("id" | "frame", user, number), at most
        # max_pending; the reference is consumed on arrival
        self._answered: OrderedDict[tuple[str, int, int], None] = OrderedDict()
        self._n_pending = 0
        self._to_score: list[tuple[dict, np.ndarray, np.ndarray]] = []  # (meta, image, ref)
        self._users: dict[int, dict] = {}
        self.setup(("refs", "results", "malformed", "unmatched", "evicted", "refs_dropped"))
        self.message_in("pdus", self._handle_result, on_error=self._dropped("result"))
        self.message_in("ref", self._on_ref, on_error=self._dropped("reference"))
        self.message_out("done")
        # at the flowgraph's end, stay until every reference has its result (several
        # upstreams: the first one's end must not stop the sink; plumbing.base.hold_done)
        self.hold_done(lambda: bool(self._refs) or self._n_pending > 0)

    def _dropped(self, what: str):
        """The error handler of a port: the message is counted as malformed and logged."""

        def on_error(msg: Any, exc: Exception) -> None:
            with self._lock:
                self._counts["malformed"] += 1
            self.logger.error(f"dropped {what} {describe(msg)}: {type(exc).__name__}: {exc}")

        return on_error

    # ----------------------------------------------------------------------------------------
    def _user(self, user: int, task: str) -> dict:
        u = self._users.setdefault(
            user,
            {
                "task": task,
                "received": 0,
                "evaluated": 0,
                "erased": 0,
                "partial": 0,
                "frames_missing": 0,
                "codewords": 0,
                "codewords_lost": 0,
                "msssim_sum": 0.0,
                "mse_sum": 0.0,
                "scored": 0,
                "correct": 0,
                "no_label": 0,
            },
        )
        if u["task"] != task:
            u["task"] = "mixed"
        return u

    def _on_ref(self, msg: Any) -> None:
        meta, img = messages.unpack_image_pdu(msg)
        user, image_id = _int_or_none(meta.get("user")), _int_or_none(meta.get("image_id"))
        if user is None or image_id is None:
            raise messages.MessageError("reference lacks integer 'user' and 'image_id'")
        frame = _int_or_none(meta.get("frame"))
        with self._lock:
            self._counts["refs"] += 1
            self._refs[(user, image_id)] = img
            self._refs.move_to_end((user, image_id))
            if frame is not None:
                self._ref_frame[(user, image_id)] = frame
                self._by_frame[(user, frame)] = image_id
            while len(self._refs) > self._max_refs:
                self._take_ref(*next(iter(self._refs)))
                self._counts["refs_dropped"] += 1
            waiting = self._pending.pop((user, image_id), [])
            if frame is not None:
                waiting += self._pending_frame.pop((user, frame), [])
            self._n_pending -= len(waiting)
            answered = self._answered.pop(("id", user, image_id), 0) is None
            if frame is not None:
                answered |= self._answered.pop(("frame", user, frame), 0) is None
            if waiting or answered:
                self._take_ref(user, image_id)  # consumed by the result that came before it
            for m, x in waiting:
                self._score_image(m, x, img)
            self._score_pending()

    def _take_ref(self, user: int, image_id: int | None) -> np.ndarray | None:
        """Remove and return the reference ``(user, image_id)`` (None when not kept)."""
        if image_id is None:
            return None
        frame = self._ref_frame.pop((user, image_id), None)
        if frame is not None:
            self._by_frame.pop((user, frame), None)
        return self._refs.pop((user, image_id), None)

    def _count_erasure(self, u: dict, meta: dict, erased: bool) -> None:
        """The erasure and codeword counts of one result (``messages.pdu``'s meaning)."""
        u["erased"] += int(erased)
        u["partial"] += int(erased and messages.partial_payload(meta))
        u["frames_missing"] += int(meta.get("frame_missing") is True)
        total, lost = messages.codeword_counts(meta)
        u["codewords"] += total
        u["codewords_lost"] += lost

    #: results taken from the ``pdus`` queue with the one being handled, at most (issue 23:
    #: their images are scored as one batch). It was 1 for a while: with batches of 64,
    #: bench/user_rx.py's SC-SFMA receiver lost the last results -- not a missed wake-up but
    #: GNU Radio finishing the sink at the first decoder's end (``hold_done`` now;
    #: docs/blocks/implementation_notes.md, "Batches").
    BATCH = 64

    def _handle_result(self, msg: Any) -> None:
        """Take one result and those queued behind it (at most :attr:`BATCH`), queue their
        images for scoring (scored in batches of :attr:`SCORE_BATCH`), then say so on ``done``
        for each (the credit of its user's next image). A malformed one among them is counted
        and logged as on its own."""
        taken = [self._take_result(msg)]
        for m in self.take_queued("pdus", self.BATCH - 1, counter=None):
            try:
                taken.append(self._take_result(m))
            except Exception as exc:
                self._dropped("result")(m, exc)
        with self._lock:
            self._score_pending()
        for user, image_id in taken:
            self.publish("done", messages.result_done_to_pmt(user, image_id))

    def _take_result(self, msg: Any) -> tuple[int, int | None]:
        """Count and score one result; its ``(user, image_id)``."""
        try:
            meta, pred = messages.unpack_label_pdu(msg)
            is_label = True
        except messages.MessageError:
            meta, img = messages.unpack_image_pdu(msg)
            is_label = False
        user = _int_or_none(meta.get("user"))
        if user is None or user < 0:
            raise messages.MessageError("result lacks a non-negative integer 'user'")
        image_id = _int_or_none(meta.get("image_id"))
        frame = _int_or_none(meta.get("frame"))
        erased = messages.is_erased(meta)
        by_frame = image_id is None and erased and frame is not None
        if not is_label and image_id is None and not by_frame:  # checked before any count
            raise messages.MessageError("decoded image lacks an integer 'image_id'")
        with self._lock:
            self._counts["results"] += 1
            if by_frame:  # an erasure of a frame whose header never arrived: its image by frame
                image_id = self._by_frame.get((user, frame))
            if is_label:
                u = self._user(user, "su")
                u["received"] += 1
                self._count_erasure(u, meta, erased or pred < 0)
                # the label's reference is not needed: consumed (on arrival if not here yet)
                if self._take_ref(user, image_id) is None and (image_id, frame) != (None, None):
                    key = ("id", user, image_id) if image_id is not None else ("frame", user, frame)
                    self._answered[key] = None
                    while len(self._answered) > self._max_pending:
                        self._answered.popitem(last=False)
                label = _int_or_none(meta.get("label"))
                if label is None:
                    u["no_label"] += 1
                    return user, image_id
                u["evaluated"] += 1
                u["correct"] += int(pred == label)
                return user, image_id
            u = self._user(user, "du")
            u["received"] += 1
            self._count_erasure(u, meta, erased)
            ref = self._take_ref(user, image_id)  # consumed by its result
            if ref is not None:
                self._score_image(meta, img, ref)
            elif self._n_pending < self._max_pending:
                if image_id is None:
                    self._pending_frame.setdefault((user, frame), []).append((meta, img))
                else:
                    self._pending.setdefault((user, image_id), []).append((meta, img))
                self._n_pending += 1
            else:
                self._counts["evicted"] += 1
        return user, image_id

    def _score_image(self, meta: dict, img: np.ndarray, ref: np.ndarray) -> None:
        """Queue a decoded image and its reference for :meth:`_score_pending` (lock held)."""
        if img.shape != ref.shape:
            self._counts["malformed"] += 1
            self.logger.error(f"decoded shape {img.shape} differs from reference {ref.shape}")
            return
        self._to_score.append((meta, img, ref))

    #: decoded images queued before they are scored as one batch (issue 23: MS-SSIM of one
    #: 28 x 28 image costs about as much as of 16). :meth:`summary` (and so ``stop``) scores
    #: the rest first: every count and mean it returns includes every result taken. ``done``
    #: does not wait for the scoring.
    SCORE_BATCH = 32

    def _score_pending(self, force: bool = False) -> None:
        """MS-SSIM and MSE of the queued images, one batch per image shape (lock held); only
        once :attr:`SCORE_BATCH` are queued unless ``force``."""
        if not self._to_score or (not force and len(self._to_score) < self.SCORE_BATCH):
            return
        from semdacom.source_coding import metrics  # torch is loaded on first use

        todo, self._to_score = self._to_score, []
        by_shape: dict[tuple, list] = {}
        for item in todo:
            by_shape.setdefault(item[1].shape, []).append(item)
        for group in by_shape.values():
            try:  # the credits of these results must go out whatever happens here
                x = np.stack([img for _, img, _ in group]).astype(np.float32) / 255.0
                r = np.stack([ref for _, _, ref in group]).astype(np.float32) / 255.0
                scores = list(zip(metrics.msssim(x, r), metrics.mse(x, r), strict=True))
            except Exception as exc:
                self._counts["malformed"] += len(group)
                self.logger.error(f"{len(group)} images not scored: {type(exc).__name__}: {exc}")
                continue
            for (meta, _, _), (msssim, mse) in zip(group, scores, strict=True):
                self._add_score(meta, float(msssim), float(mse))

    def _add_score(self, meta: dict, msssim: float, mse: float) -> None:
        from semdacom.source_coding import metrics

        u = self._users[int(meta["user"])]
        u["msssim_sum"] += msssim
        u["mse_sum"] += mse
        u["scored"] += 1
        u["evaluated"] += 1
        kept = self._scores.setdefault(int(meta["user"]), []) if self._keep_scores else []
        if len(kept) < self._keep_scores:
            kept.append(
                {
                    "image_id": _int_or_none(meta.get("image_id")),
                    "frame": _int_or_none(meta.get("frame")),
                    "erased": bool(messages.is_erased(meta)),
                    "msssim": msssim,
                    "psnr_db": float(metrics.psnr_from_mse(mse)),
                }
            )

    # ----------------------------------------------------------------------------------------
    def summary(self) -> dict:
        """Per-user counts and means, plus global counters (JSON-ready)."""
        from semdacom.source_coding import metrics  # torch is loaded on first use

        with self._lock:
            self._score_pending(force=True)  # the images queued for a batch
            users = {}
            missing: dict[int, list[int]] = {}  # one pass over the references kept
            for v, i in self._refs:
                missing.setdefault(v, []).append(i)
            for user, u in sorted(self._users.items()):
                keys = ("task", "received", "evaluated", "erased", "partial", "frames_missing",
                        "codewords", "codewords_lost")  # fmt: skip
                d = {k: u[k] for k in keys}
                ids = missing.get(user, [])
                d["missing"] = len(ids)
                d["missing_ids"] = heapq.nsmallest(MAX_MISSING_LISTED, ids)
                if u["scored"]:
                    mse = u["mse_sum"] / u["scored"]
                    msssim = u["msssim_sum"] / u["scored"]
                    d.update(
                        {
                            "msssim": msssim,
                            "one_minus_msssim": 1.0 - msssim,
                            "mse": mse,
                            "psnr_db": float(metrics.psnr_from_mse(mse)),
                        }
                    )
                if u["task"] in ("su", "mixed") and u["evaluated"] and not u["scored"]:
                    d["accuracy"] = u["correct"] / u["evaluated"]
                    d["classification_error"] = 1.0 - d["accuracy"]
                if u["no_label"]:
                    d["no_label"] = u["no_label"]
                if self._scores.get(user):
                    d["images"] = [dict(x) for x in self._scores[user]]
                users[str(user)] = d
            for user in sorted(set(missing) - set(self._users)):  # no result at all
                ids = missing[user]
                first = heapq.nsmallest(MAX_MISSING_LISTED, ids)
                users[str(user)] = {"task": "none", "received": 0, "evaluated": 0, "erased": 0,
                                    "missing": len(ids), "missing_ids": first}  # fmt: skip
            counts = dict(self._counts)
            counts["pending"] = self._n_pending
            counts["refs_kept"] = len(self._refs)
            counts["missing"] = len(self._refs)
            return {"users": users, "counts": counts}

    def start(self) -> bool:
        self._done_reset()  # a done held when a previous run was stopped is not this run's
        return True

    def stop(self) -> bool:
        with self._lock:
            self._counts["unmatched"] += self._n_pending
            self._pending.clear()
            self._pending_frame.clear()
            self._n_pending = 0
        summary = self.summary()
        text = json.dumps(summary, indent=1)
        self.logger.info(f"metrics summary: {json.dumps(summary)}")
        if self._json:
            try:
                Path(self._json).parent.mkdir(parents=True, exist_ok=True)
                Path(self._json).write_text(text + "\n")
            except OSError as exc:
                self.logger.error(f"cannot write {self._json}: {exc}")
        return True
