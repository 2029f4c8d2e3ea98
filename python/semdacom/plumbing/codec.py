#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Shared plumbing of the codec message blocks (not a block itself).

The ``rate_index`` of the ``cmd`` allocations (on ``schedule.AllocationSchedule``), stream
PDUs, the process-wide codec models, and :class:`CodecBlock`, the base of ``source_encoder``,
``source_decoder`` and ``semantic_decoder``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_finite, check_int
from gnuradio.semdacom.plumbing.meta import salvage_meta, sent_frame_of
from gnuradio.semdacom.plumbing.schedule import AllocationSchedule
from gnuradio.semdacom.plumbing.worker import MAX_IN_FLIGHT


class RateCommands:
    """``rate_index[user]`` from allocations, applied from their ``apply_frame`` on
    (``schedule.AllocationSchedule``: an allocation whose ``seq`` is not newer is dropped)."""

    def __init__(self, user: int, levels: int, rate_index: int) -> None:
        self.user = user
        self.levels = levels
        self.rate_index = rate_index
        self._sched = AllocationSchedule(("rate_index",))

    def accept(self, msg: Any) -> bool:
        """Validate an allocation and queue it; False when it carries no rate (it still
        counts as the newest allocation). Raises MessageError."""
        alloc = messages.alloc_from_pmt(msg, user=self.user)
        if alloc.rate_index is not None:
            r = int(alloc.rate_index[self.user])
            if not 0 <= r < self.levels:
                raise messages.MessageError(
                    f"rate_index[{self.user}]={r} outside the codec's 0..{self.levels - 1}"
                )
        self._sched.accept(alloc)
        self.apply(0)
        return alloc.rate_index is not None

    def apply(self, frame: int | None) -> None:
        """Apply every queued rate due at ``frame`` (all of them when ``frame`` is None)."""
        if self._sched.on_frame(frame):
            r = self._sched.get("rate_index")
            if r is not None:
                self.rate_index = int(r[self.user])

    @property
    def last_seq(self) -> int | None:
        """``seq`` of the newest allocation accepted (None before any)."""
        return self._sched.last_seq

    @property
    def applied_seq(self) -> int | None:
        """``seq`` of the last allocation applied (None before any)."""
        return self._sched.applied_seq

    def rate_for(self, meta: dict) -> int:
        """The operating point of a bits PDU: its meta ``rate_index`` if present, else the
        allocation in force at its (transmitter's) frame. Raises MessageError when out of
        range."""
        self.apply(sent_frame_of(meta))
        r = meta.get("rate_index", self.rate_index)
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)):
            raise messages.MessageError(f"meta 'rate_index' must be an integer, got {r!r}")
        if not 0 <= int(r) < self.levels:
            raise messages.MessageError(f"meta 'rate_index'={r} outside 0..{self.levels - 1}")
        return int(r)


def stream_from_bits(bits: np.ndarray) -> bytes:
    """Bits (MSB first) back to the codec's bytes; a partial last byte is zero-padded."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()


def unpack_stream_pdu(msg: Any, codec_name: str, rates: RateCommands) -> tuple[dict, bytes, int]:
    """A decoder's input: ``(meta, stream bytes, rate_index)`` of a bits PDU.

    A PDU erased upstream with its payload kept (``messages.partial_payload``: some codewords
    lost, the rest decoded) is decoded all the same; its result stays erased
    (:func:`result_meta`). Raises :class:`messages.MessageError` for a malformed PDU, one erased
    upstream without a payload, or a stream of another codec than ``codec_name`` (by its meta
    ``codec``).
    """
    meta, bits = messages.unpack_bits_pdu(msg)
    if messages.is_erased(meta) and not messages.partial_payload(meta):
        raise messages.MessageError(f"erased upstream ({meta.get('erasure_reason', '?')})")
    if isinstance(meta.get("codec"), str) and meta["codec"] != codec_name:
        raise messages.MessageError(
            f"stream of codec {meta['codec']!r}, this decoder is {codec_name!r}"
        )
    return meta, stream_from_bits(bits), rates.rate_for(meta)


def result_meta(meta: dict, user: int) -> dict:
    """The meta of a decoder's result (image or label) of a stream PDU's ``meta``: ``erased``
    (bool, ``messages.pdu``'s meaning) stays true for a stream erased upstream and decoded from
    what was recovered (``partial`` kept, with its ``erasure_reason``); ``n_bits`` dropped;
    ``user`` set when absent."""
    out = {k: v for k, v in meta.items() if k != "n_bits"}
    partial = messages.partial_payload(meta)
    out["erased"] = partial
    if not partial:
        out.pop("partial", None)
    out["user"] = out.get("user", user)
    return out


#: Codec choices of the codec blocks (``codec`` parameter) and the name each writes in meta
#: (a CompressAI coder's is ``compressai_<arch>`` of its model files: ``codec.name``).
CODECS = {"learned": "hyperprior_vbr", "classical": "heif-x265", "compressai": "compressai_<arch>"}

#: The longest a decoder waits for its batch to fill (``batch_wait_ms``): an image's latency
#: grows by at most this much.
MAX_BATCH_WAIT_MS = 1000.0


def check_codec(codec: str) -> str:
    """Validate a block's ``codec`` parameter ("learned", "classical" or "compressai")."""
    if not isinstance(codec, str) or codec not in CODECS:
        raise ValueError(f"codec must be one of {sorted(CODECS)}, got {codec!r}")
    return codec


def check_device(device: Any) -> str:
    """Validate a learned block's ``device`` parameter (issue 23): "auto" (CUDA when
    ``torch.cuda.is_available()``, else the CPU), "cpu", "cuda" or "cuda:N" (ValueError when that
    GPU is not there: ``semdacom._torch_util.resolve_device``); returns it as given."""
    if not isinstance(device, str):
        raise ValueError(f"device must be a string ('auto', 'cpu', 'cuda'), got {device!r}")
    from semdacom._torch_util import resolve_device

    resolve_device(device)
    return device


def model_device(model: Any) -> Any:
    """The torch device a shared model's weights are on (where the block sends its tensors)."""
    return next(model.parameters()).device


def run_batched(
    items: list, code: Callable[[list], list], batch: int
) -> tuple[list, list[str | None]]:
    """``code`` (a learned model's batch call: a list in, one result per item out) over
    ``items`` in batches of at most ``batch`` (issue 23: a frame or image costs a fraction in a
    batch of what it costs alone). A batch whose call raises, or returns another number of
    results, is coded again one item at a time, so that only an item that fails alone fails.
    Returns ``(results, errors)``: ``results[i]`` is None where ``errors[i]`` says why
    (``"<Type>: <message>"``), and ``errors[i]`` is None where it was coded."""
    results: list = [None] * len(items)
    errors: list[str | None] = [None] * len(items)
    for a in range(0, len(items), max(1, int(batch))):
        part = items[a : a + max(1, int(batch))]
        try:
            out = list(code(part))
            if len(out) != len(part):
                raise ValueError(f"{len(out)} results for {len(part)} items")
        except Exception:
            out = []
            for i, item in enumerate(part):
                try:
                    out.append(code([item])[0])
                except Exception as exc:
                    out.append(None)
                    errors[a + i] = f"{type(exc).__name__}: {exc}"
        results[a : a + len(part)] = out
    return results, errors


def shared_djscc(weights: str | None, device: str = "auto") -> Any:
    """The process-wide DeepJSCC model of a weights file on ``device``
    (``codec.djscc.shared_djscc``; torch is imported when a DeepJSCC block is built, not when
    ``gnuradio.semdacom`` is imported)."""
    from semdacom.source_coding.djscc import shared_djscc as _shared

    return _shared(weights or None, device=check_device(device))


def shared_codec(
    weights: str | None,
    *,
    semantic: bool,
    codec: str = "learned",
    semantic_weights: str = "",
    classifier: str = "",
    device: str = "auto",
) -> Any:
    """The process-wide codec: the learned one (``codec.codec.shared_codec``) or, for
    ``codec="classical"``, the HEVC-intra/HEIF one (``codec.classical.shared_classical``;
    ``weights`` does not apply to it, ``semantic`` loads its classifier E), or for
    ``codec="compressai"`` CompressAI models (``codec.compressai_codec.shared_compressai``:
    ``weights`` the model files, comma-separated, one per operating point in ascending rate;
    ``semantic`` loads the classifier E that labels the decoded image, as for "classical";
    docs/bring_your_model.md).

    With ``semantic``, ``semantic_weights`` is the semantic decoder Q's file ("" = the one
    beside ``weights``, or the shipped one: ``LearnedCodec.load``) and ``classifier`` the
    classifier E's ("" = Q's own copy; for the classical codec: the shipped E).

    ``device`` (:func:`check_device`): where the learned codec's networks run. The classical
    and CompressAI codecs run on the CPU (their coders are CPU code): with them only "auto" and
    "cpu" are accepted.

    torch is imported here, when a codec block is built, not when ``gnuradio.semdacom``
    is imported: blocks that need no DNN load in a fraction of a second.
    """
    if check_codec(codec) != "learned" and device not in ("auto", "cpu"):
        raise ValueError(
            f"device {device!r}: the {codec!r} codec runs on the CPU ('auto' or 'cpu'); "
            "a GPU serves the learned codec"
        )
    check_device(device)
    for name, value in (("semantic", semantic_weights), ("classifier", classifier)):
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a path (a string; '' for the default), got {value!r}")
        if semantic and value and not Path(value).expanduser().is_file():
            raise ValueError(f"{name} weights {value!r}: no such file")
    if check_codec(codec) == "compressai":
        if not isinstance(weights, str) or not weights.strip():
            raise ValueError(
                "codec='compressai' needs weights: the CompressAI model files, comma-separated, "
                "one per operating point in ascending rate"
            )
        from semdacom.source_coding.compressai_codec import shared_compressai

        clf = str(Path(classifier).expanduser()) if classifier else True
        return shared_compressai(weights, classifier=clf if semantic else None)
    if codec == "classical":
        from semdacom.source_coding.classical import shared_classical

        clf = str(Path(classifier).expanduser()) if classifier else True
        return shared_classical(classifier=clf if semantic else False)
    from semdacom.source_coding.codec import shared_codec as _shared

    if not semantic:
        return _shared(weights, semantic=False, device=device)
    sem = str(Path(semantic_weights).expanduser()) if semantic_weights else True
    clf = str(Path(classifier).expanduser()) if classifier else None
    return _shared(weights, semantic=sem, classifier=clf, device=device)


class CodecBlock(Block):
    """Base of the codec blocks of one user (``source_encoder``, ``source_decoder``,
    ``semantic_decoder``): the codec of the ``codec`` parameter, the ``rate_index`` in force
    (``self._rates``, a :class:`RateCommands`), the counters ``pdus_in``, ``pdus_out``,
    ``erasures``, ``shed``, ``cmd_accepted``, ``cmd_rejected`` and the ``pdus`` output."""

    #: PDUs a decoder takes from its queue and decodes as one batch at most (issue 23)
    BATCH = 64
    #: a decoder whose ``pdus`` queue holds more than this many PDUs answers the next one at once
    #: as an erasure instead of decoding it (``shed``): the encoder's worker cap (PduWorker.CAP)
    MAX_BACKLOG = MAX_IN_FLIGHT

    def setup_codec(
        self,
        user: Any,
        rate_index: Any,
        weights: str,
        codec: str,
        *,
        semantic: bool,
        semantic_weights: str = "",
        classifier: str = "",
        device: str = "auto",
    ) -> int:
        """Check the parameters, load the codec (its networks on ``device``:
        :func:`shared_codec`); returns the initial ``rate_index``."""
        user = check_int("user", user)
        check_codec(codec)
        self._codec = shared_codec(
            weights or None,
            semantic=semantic,
            codec=codec,
            semantic_weights=semantic_weights,
            classifier=classifier,
            device=device,
        )
        self._codec_name = self._codec.name if codec == "compressai" else CODECS[codec]
        if semantic and self._codec.semantic is None:
            raise ValueError("no semantic decoder weights were found for this codec")
        rate_index = check_int("rate_index", rate_index, 0, self._codec.levels - 1)
        self._user = int(user)
        self._rates = RateCommands(self._user, self._codec.levels, int(rate_index))
        self.setup(("pdus_in", "pdus_out", "erasures", "shed", "cmd_accepted", "cmd_rejected"))
        return int(rate_index)

    def decoder_ports(self, batch_wait_ms: Any = 0.0) -> None:
        """The ports of a decoder: each PDU on ``pdus`` gives one result (``self._results``) or
        erasure (``self._erasure(meta, reason)``) on ``pdus``; ``cmd`` sets the
        ``rate_index`` used when a PDU carries none. The PDUs waiting in the queue when one is
        handled (at most :attr:`BATCH`) are decoded with it as one batch (issue 23); with
        ``batch_wait_ms`` > 0 (at most :data:`MAX_BATCH_WAIT_MS`) the decoder first waits up
        to that long for the batch to fill (``Block.gather``): a radio's PDUs come one by one.

        Bound (issue 24): while more than :attr:`MAX_BACKLOG` PDUs wait in the ``pdus`` queue
        (GNU Radio's message queue, which has no cap of its own), each PDU taken is answered at
        once as an erasure (``Block.shed``, counted in ``shed``) instead of being decoded, so the
        queue drains at the speed of an erasure and every PDU still gives one result. A credit
        loop (examples/mu_ascc_loopback.grc) never gets there; a radio faster than the decoder
        does."""
        wait_ms = check_finite("batch_wait_ms", batch_wait_ms, 0.0)
        if wait_ms > MAX_BATCH_WAIT_MS:
            raise ValueError(f"batch_wait_ms must be at most {MAX_BATCH_WAIT_MS}, got {wait_ms}")
        self._batch_wait_s = wait_ms / 1e3
        self.message_in("pdus", self._on_pdus, arrived="pdus_in")
        self.cmd_in(self._rates.accept)  # MessageError for a malformed or older allocation
        self.message_out("pdus")

    def _on_pdus(self, msg: Any) -> None:
        erasure = self._input_erasure
        if self.queued("pdus") > self.MAX_BACKLOG:
            self.shed("pdus", msg, erasure, self.MAX_BACKLOG)
            return
        msgs = [msg, *self.gather("pdus", self.BATCH - 1, self._batch_wait_s)]
        self.answer_all("pdus", msgs, self._prepare, self._results, erasure)

    def _prepare(self, msg: Any) -> tuple[int, tuple[dict, bytes]]:
        """``(rate_index, (meta, stream))`` of a bits PDU (:func:`unpack_stream_pdu`)."""
        meta, stream, r = unpack_stream_pdu(msg, self._codec_name, self._rates)
        return r, (meta, stream)

    def _results(self, r: int, items: list) -> list:
        """The decoder's result PDUs of the streams ``items`` (``(meta, stream)``) of operating
        point ``r``, decoded as one batch."""
        raise NotImplementedError

    def _input_erasure(self, msg: Any, reason: str) -> Any:
        return self._erasure(salvage_meta(msg), reason)
