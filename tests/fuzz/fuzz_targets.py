"""Every message port of every block, as fuzz targets.

A :class:`Target` builds one block in a running flowgraph (its output ports collected, an idle
source on a stream input, a null sink on a stream output) and knows, for each input port:

* ``handled()``: a count that grows once the block has dealt with a message on that port;
* ``accepted()`` / ``state()``: for control ports, whether the last message was taken and a
  snapshot of the state messages on that port may change (it must not move on a rejection);
* ``outputs()``: for data ports, the results out (one per message in);
* ``valid(draw)``: a valid message for the port (it must be taken and update the state).
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import os
import queue
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pmt
from gnuradio import blocks, gr, semdacom
from gnuradio.semdacom import messages
from hypothesis import strategies as st

K, N_T = 2, 2
#: Makes every valid message distinct (a valid message must change the state).
_UNIQUE = itertools.count(1)


def _block_harness():
    """tests/blocks/conftest.py, the shared block-test harness (its IdleSource)."""
    if "block_harness" not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "blocks" / "conftest.py"
        spec = importlib.util.spec_from_file_location("block_harness", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["block_harness"] = mod
        spec.loader.exec_module(mod)
    return sys.modules["block_harness"]


IdleSource = _block_harness().IdleSource

#: Samples of a frame pushed on a stream input (>= the DeepJSCC k and two LDPC blocks).
FRAME = 512


class PushSource(gr.sync_block):
    """A stream source fed from Python: each pushed tag value becomes one frame of ``FRAME``
    QPSK samples with a ``frame`` tag, a ``packet_len`` tag and the tag ``key = value``.

    ``work`` waits for the next value (in 50 ms steps, until :attr:`stopping`): a source
    whose ``work`` returns 0 is called again only after 250 ms (GNU Radio 3.10's scheduler),
    which made every message on a stream port take 250 ms."""

    def __init__(self, key: str) -> None:
        gr.sync_block.__init__(self, name="push_source", in_sig=None, out_sig=[np.complex64])
        self.key = pmt.intern(key)
        self.queue: queue.Queue = queue.Queue()
        self.frame = 0
        rng = np.random.default_rng(7)
        q = rng.integers(0, 4, FRAME)
        self.samples = (((1 - 2 * (q & 1)) + 1j * (1 - 2 * (q >> 1))) / math.sqrt(2)).astype(
            np.complex64
        )
        self._pos = None
        self.stopping = False

    def work(self, input_items, output_items):
        out = output_items[0]
        if self._pos is None:
            while True:
                try:
                    value = self.queue.get(timeout=0.05)
                    break
                except queue.Empty:
                    if self.stopping:
                        return 0
            off = self.nitems_written(0)
            self.add_item_tag(0, off, pmt.intern("frame"), pmt.from_uint64(self.frame))
            self.add_item_tag(0, off, pmt.intern("packet_len"), pmt.from_long(FRAME))
            self.add_item_tag(0, off, self.key, value)
            self.frame += 1
            self._pos = 0
        n = min(len(out), FRAME - self._pos)
        out[:n] = self.samples[self._pos : self._pos + n]
        self._pos += n
        if self._pos >= FRAME:
            self._pos = None
        return n


@dataclass
class Port:
    name: str
    kind: str  # "control" or "data"
    handled: Callable[[], int]
    valid: Callable[[st.DrawFn], Any]
    state: Callable[[], Any] = lambda: None
    accepted: Callable[[], int] = lambda: 0
    outputs: Callable[[], int] = lambda: 0


@dataclass
class Target:
    name: str
    blk: Any
    ports: dict[str, Port] = field(default_factory=dict)
    tb: Any = None
    keep: list = field(default_factory=list)
    dbg: dict[str, Any] = field(default_factory=dict)

    push: Any = None  # the PushSource of a fuzzed stream input

    def post(self, port: str, msg: Any) -> None:
        if port == "stream":
            self.push.queue.put(msg)
            return
        self.blk.to_basic_block()._post(pmt.intern(port), msg)

    def n_out(self, port: str) -> int:
        return self.dbg[port].num_messages()

    def stop(self) -> None:
        if self.push is not None:
            self.push.stopping = True
        self.tb.stop()
        self.tb.wait()


def _start(
    t: Target, out_ports=(), stream_in: int = 0, stream_out: int = 0, push: str = ""
) -> Target:
    t.tb = gr.top_block()
    if push:
        t.push = PushSource(push)
        t.keep.append(t.push)
        t.tb.connect(t.push, t.blk)
        stream_in = 0
    for p in out_ports:
        t.dbg[p] = blocks.message_debug()
        t.tb.msg_connect((t.blk, p), (t.dbg[p], "store"))
    for i in range(stream_in):
        src = IdleSource()
        t.keep.append(src)  # a collected Python block crashes the flowgraph
        t.tb.connect(src, (t.blk, i))
    for i in range(stream_out):
        snk = blocks.null_sink(gr.sizeof_gr_complex)
        t.keep.append(snk)
        t.tb.connect((t.blk, i), snk)
    if not out_ports and not stream_in and not stream_out:  # a flowgraph needs an edge
        src = semdacom.image_source(count=1)
        t.keep.append(src)
        t.tb.msg_connect((src, "pdus"), (t.blk, "ref"))
    t.tb.start()
    return t


# --------------------------------------------------------------------------------------------
# Valid messages
# --------------------------------------------------------------------------------------------


class SeqCounter:
    """Seqs for valid allocations: newer than anything the block has taken."""

    def __init__(self, last: Callable[[], int | None]) -> None:
        self.last = last

    def next(self) -> int:
        last = self.last()
        return 1 if last is None else int(last) + 1


def _unit_rows(rng: np.random.Generator) -> np.ndarray:
    w = rng.standard_normal((K, N_T)) + 1j * rng.standard_normal((K, N_T))
    return w / np.linalg.norm(w, axis=1, keepdims=True)


def valid_alloc(seqs: SeqCounter, keys: tuple[str, ...]) -> Callable[[st.DrawFn], Any]:
    """A valid allocation for user 0 of K=2 users carrying ``keys`` (and sometimes more)."""

    def make(draw: st.DrawFn) -> Any:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        a = messages.Allocation(seq=seqs.next())
        for key in keys:
            if key == "rc":
                a.rc = rng.uniform(0.5, 3.0, K)
            elif key == "mcs":
                a.mcs = rng.integers(0, 6, K).astype(np.int32)
            elif key == "rate_index":
                a.rate_index = rng.integers(0, 16, K).astype(np.int32)
            elif key == "power":
                a.power = rng.uniform(0.0, 2.0, K)
            elif key == "w":
                a.w = _unit_rows(rng)
        return messages.alloc_to_pmt(a)

    return make


def valid_csi(draw: st.DrawFn) -> Any:
    rng = np.random.default_rng([draw(st.integers(0, 2**32 - 1)), next(_UNIQUE)])
    h = (rng.standard_normal((K, N_T)) + 1j * rng.standard_normal((K, N_T))) / math.sqrt(2)
    nv = rng.uniform(0.01, 1.0, K)
    return messages.csi_to_pmt(messages.Csi(h=h, noise_var=nv, seq=next(_UNIQUE)))


def valid_bits(draw: st.DrawFn) -> Any:
    n = draw(st.integers(0, 600))
    bits = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, 2, n)
    meta = {"image_id": draw(st.integers(0, 10**6))}
    if draw(st.booleans()):
        meta["frame"] = draw(st.integers(0, 1000))
    return messages.bits_pdu(meta, bits.astype(np.uint8))


def valid_image(draw: st.DrawFn) -> Any:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    img = rng.integers(0, 256, (1, 28, 28), dtype=np.uint8)
    return messages.image_pdu({"user": 0, "image_id": next(_UNIQUE)}, img)


_STREAMS: list[Any] = []


def valid_stream(draw: st.DrawFn) -> Any:
    """A bits PDU of source_encoder (a real stream of the learned codec)."""
    if not _STREAMS:
        from gnuradio.semdacom.plumbing.codec import shared_codec

        codec = shared_codec(None, semantic=False)
        rng = np.random.default_rng(0)
        for r in (0, 7, 15):
            img = rng.integers(0, 256, (1, 1, 28, 28), dtype=np.uint8)
            stream = codec.encode(img, r)[0]
            bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))
            meta = {"rate_index": r, "codec": "hyperprior_vbr", "user": 0, "image_id": r}
            _STREAMS.append(messages.bits_pdu(meta, bits))
    return draw(st.sampled_from(_STREAMS))


def valid_symbols(k: int) -> Callable[[st.DrawFn], Any]:
    def make(draw: st.DrawFn) -> Any:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        s = (rng.standard_normal(k) + 1j * rng.standard_normal(k)) / math.sqrt(2)
        meta = {"image_id": draw(st.integers(0, 10**6))}
        if draw(st.booleans()):
            meta["gain"] = complex(rng.uniform(0.2, 2.0), rng.uniform(-1, 1))
        return messages.symbols_pdu(meta, s)

    return make


def valid_result(draw: st.DrawFn) -> Any:
    if draw(st.booleans()):
        return messages.label_pdu(
            {"user": 0, "label": draw(st.integers(0, 9))}, draw(st.integers(-1, 9))
        )
    return valid_image(draw)


def valid_chan_tag(draw: st.DrawFn) -> Any:
    """A ``semdacom_chan`` tag of channel_encoder for a frame of FRAME samples (L = 256)."""
    info = {"user": 0, "mode": "ldpc", "L": 256, "n_bits": draw(st.integers(0, 400)), "mcs": 3}
    info["pdu_image_id"] = next(_UNIQUE)
    return messages.meta_to_pmt(info)


def valid_djscc_tag(draw: st.DrawFn) -> Any:
    """A ``semdacom_djscc`` tag of djscc_encoder."""
    info = {"user": 0, "k": 470, "erased": draw(st.booleans()), "pdu_image_id": next(_UNIQUE)}
    return messages.meta_to_pmt(info)


def valid_trigger(draw: st.DrawFn) -> Any:
    if draw(st.booleans()):
        return pmt.PMT_T
    return messages.meta_to_pmt({"frame": np.uint64(draw(st.integers(0, 2**64 - 1)))})


# --------------------------------------------------------------------------------------------
# State snapshots
# --------------------------------------------------------------------------------------------


def _arr(x: Any) -> Any:
    return None if x is None else np.asarray(x).tobytes()


def sched_state(sched: Any) -> tuple:
    return (
        sched.last_seq,
        sched.epoch,
        sched.applied_seq,
        sched.pending,
        tuple((k, _arr(sched.get(k))) for k in sched.keys),
    )


def csi_state(chan: Any) -> tuple:
    c = chan.csi
    return None if c is None else (c.seq, c.h.tobytes(), c.noise_var.tobytes())


def _c(blk: Any, *keys: str) -> Callable[[], int]:
    return lambda: sum(blk.counters()[k] for k in keys)


# --------------------------------------------------------------------------------------------
# The blocks
# --------------------------------------------------------------------------------------------


def t_superposition_beamformer() -> Target:
    w0 = np.eye(K, N_T, dtype=complex).reshape(-1)
    blk = semdacom.superposition_beamformer(K, N_T, [1.0] * K, list(w0), 64)
    t = Target("superposition_beamformer", blk)
    last = {"seq": None}

    def handled() -> int:  # issue 24: a newer allocation may supersede a pending one
        return blk.accepted() + blk.rejected()

    def state() -> tuple:
        return (tuple(blk.power()), tuple(blk.w()), blk.pending(), blk.applied_seq(),
                blk.accepted(), blk.epoch())  # fmt: skip

    seqs = SeqCounter(lambda: last["seq"])
    t.ports["cmd"] = Port(
        "cmd", "control", handled, valid_alloc(seqs, ("power", "w")), state, blk.accepted
    )
    t.note_accepted = lambda msg: last.update(  # type: ignore[attr-defined]
        seq=semdacom.parse_beam_allocation(msg, K, N_T)["seq"]
    )
    return _start(t, stream_in=K, stream_out=N_T)


def t_fbl_link() -> Target:
    blk = semdacom.fbl_link(user=0, blocklength=128, sinr_db=10.0)
    t = Target("fbl_link", blk)
    seqs = SeqCounter(lambda: blk._sched.last_seq)
    t.ports["pdus"] = Port("pdus", "data", _c(blk, "pdus_out"), valid_bits,
                           outputs=lambda: t.n_out("pdus"))  # fmt: skip
    t.ports["csi"] = Port("csi", "control", _c(blk, "csi_accepted", "csi_rejected"), valid_csi,
                          lambda: csi_state(blk._chan), _c(blk, "csi_accepted"))  # fmt: skip
    t.ports["cmd"] = Port("cmd", "control", _c(blk, "cmd_accepted", "cmd_rejected"),
                          valid_alloc(seqs, ("rc", "power", "w")),
                          lambda: (sched_state(blk._sched), blk.current_rc()),
                          _c(blk, "cmd_accepted"))  # fmt: skip
    return _start(t, out_ports=["pdus"])


def t_channel_encoder() -> Target:
    blk = semdacom.channel_encoder(user=0, mode="ldpc", mcs=3, blocklength=256)
    t = Target("channel_encoder", blk)
    seqs = SeqCounter(lambda: blk._sched.last_seq)
    t.ports["pdus"] = Port("pdus", "data", _c(blk, "pdus_in"), valid_bits,
                           outputs=_c(blk, "frames_out"))  # fmt: skip
    t.ports["cmd"] = Port("cmd", "control", _c(blk, "cmd_accepted", "cmd_rejected"),
                          valid_alloc(seqs, ("mcs", "rc")), lambda: sched_state(blk._sched),
                          _c(blk, "cmd_accepted"))  # fmt: skip
    return _start(t, stream_out=1)


def t_channel_decoder() -> Target:
    blk = semdacom.channel_decoder(user=0, mode="ldpc", mcs=3, blocklength=256)
    t = Target("channel_decoder", blk)
    seqs = SeqCounter(lambda: blk._sched.last_seq)
    t.ports["csi"] = Port("csi", "control", _c(blk, "csi_accepted", "csi_rejected"), valid_csi,
                          lambda: csi_state(blk._chan), _c(blk, "csi_accepted"))  # fmt: skip
    t.ports["cmd"] = Port("cmd", "control", _c(blk, "cmd_accepted", "cmd_rejected"),
                          valid_alloc(seqs, ("mcs", "rc", "power", "w")),
                          lambda: sched_state(blk._sched), _c(blk, "cmd_accepted"))  # fmt: skip
    t.ports["stream"] = Port("stream", "data", _c(blk, "frames_in"), valid_chan_tag,
                             outputs=lambda: t.n_out("pdus"))  # fmt: skip
    return _start(t, out_ports=["pdus"], push=messages.CHAN_TAG)


def t_image_source() -> Target:
    blk = semdacom.image_source(count=50, loop=True)
    t = Target("image_source", blk)
    # a trigger for another user (a dict with an integer "user" other than 0: metrics_sink's
    # done) is answered by its count in triggers_other, not by an image
    other = _c(blk, "triggers_other")
    t.ports["trigger"] = Port("trigger", "data", _c(blk, "triggers"), valid_trigger,
                              outputs=lambda: t.n_out("pdus") + other())  # fmt: skip
    return _start(t, out_ports=["pdus"])


def _codec_target(name: str, blk: Any, valid_pdu: Callable) -> Target:
    t = Target(name, blk)
    seqs = SeqCounter(lambda: blk._rates._sched.last_seq)
    t.ports["pdus"] = Port("pdus", "data", _c(blk, "pdus_out"), valid_pdu,
                           outputs=lambda: t.n_out("pdus"))  # fmt: skip
    t.ports["cmd"] = Port("cmd", "control", _c(blk, "cmd_accepted", "cmd_rejected"),
                          valid_alloc(seqs, ("rate_index",)),
                          lambda: (sched_state(blk._rates._sched), blk._rates.rate_index),
                          _c(blk, "cmd_accepted"))  # fmt: skip
    return _start(t, out_ports=["pdus"])


def t_source_encoder() -> Target:
    return _codec_target("source_encoder", semdacom.source_encoder(), valid_image)


def t_source_decoder() -> Target:
    return _codec_target("source_decoder", semdacom.source_decoder(), valid_stream)


def t_semantic_decoder() -> Target:
    return _codec_target("semantic_decoder", semdacom.semantic_decoder(), valid_stream)


def t_metrics_sink() -> Target:
    blk = semdacom.metrics_sink(max_refs=1000, max_pending=1000)
    t = Target("metrics_sink", blk)

    def total() -> int:
        c = blk.summary()["counts"]
        return c["refs"] + c["results"] + c["malformed"]

    def ref_state() -> tuple:
        with blk._lock:
            return (len(blk._refs), tuple(blk._refs.keys())[-3:])

    # every message in is counted once: as a ref, a result, or malformed
    t.ports["pdus"] = Port("pdus", "data", total, valid_result, outputs=total)
    t.ports["ref"] = Port("ref", "control", total, valid_image, ref_state,
                          lambda: blk.summary()["counts"]["refs"])  # fmt: skip
    return _start(t)


def t_mu_ascc_optimizer() -> Target:
    blk = semdacom.mu_ascc_optimizer()
    t = Target("mu_ascc_optimizer", blk)

    def state() -> Any:
        a = blk.last_allocation()
        return None if a is None else a.seq

    t.ports["csi"] = Port("csi", "control", _c(blk, "csi_in"), valid_csi, state,
                          _c(blk, "solves"))  # fmt: skip

    def valid_sent(draw: st.DrawFn) -> Any:
        return messages.frame_sent_to_pmt(next(_UNIQUE), draw(st.integers(0, 1)))

    accepted = lambda: blk.counters()["sent_in"] - blk.counters()["sent_rejected"]  # noqa: E731
    t.ports["sent"] = Port("sent", "control", _c(blk, "sent_in"), valid_sent,
                           lambda: blk._out.frame_sent, accepted)  # fmt: skip
    return _start(t, out_ports=["alloc"])


def t_sfma_optimizer() -> Target:
    blk = semdacom.sfma_optimizer(labels=(0, 0, 5, 7), xi_table="synthetic",
                                  distortion_table="synthetic", source_bits=32 * 6272)  # fmt: skip
    t = Target("sfma_optimizer", blk)

    def valid(draw: st.DrawFn) -> Any:
        """Per-user gains of the SC-SFMA cell (path loss + shadowing), sometimes labels and
        scene ids."""
        rng = np.random.default_rng([draw(st.integers(0, 2**32 - 1)), next(_UNIQUE)])
        d = rng.uniform(35.0, 250.0, 4)
        g = 10 ** (-(128.1 + 37.6 * np.log10(d / 1000) + 8 * rng.standard_normal(4)) / 10)
        labels = rng.integers(0, 10, 4) if draw(st.booleans()) else None
        scenes = rng.integers(-1, 2, 4) if draw(st.booleans()) else None  # "overlap" pairs
        return messages.sfma_csi_to_pmt(
            messages.SfmaCsi(
                gain=np.minimum(g, 1.0), seq=next(_UNIQUE), labels=labels, scenes=scenes
            )  # fmt: skip
        )

    def state() -> Any:
        # the allocation in force and the CSI taken (a valid CSI may have no feasible
        # allocation: then only the count of CSI solved moves)
        a = blk.last_allocation()
        return (None if a is None else a.seq, blk.counters()["solves"])

    t.ports["csi"] = Port("csi", "control", _c(blk, "csi_in"), valid, state,
                          _c(blk, "solves"))  # fmt: skip
    return _start(t, out_ports=["alloc"])


def t_djscc_encoder() -> Target:
    blk = semdacom.djscc_encoder()
    t = Target("djscc_encoder", blk)
    t.ports["pdus"] = Port("pdus", "data", _c(blk, "pdus_in"), valid_image,
                           outputs=lambda: min(blk.counters()["frames_out"],
                                               t.n_out("symbols")))  # fmt: skip
    return _start(t, out_ports=["symbols"], stream_out=1)


def t_djscc_decoder() -> Target:
    blk = semdacom.djscc_decoder()
    t = Target("djscc_decoder", blk)
    seqs = SeqCounter(lambda: blk._sched.last_seq)
    t.ports["symbols"] = Port("symbols", "data", _c(blk, "pdus_out"), valid_symbols(blk.k),
                              outputs=lambda: t.n_out("pdus"))  # fmt: skip
    t.ports["csi"] = Port("csi", "control", _c(blk, "csi_accepted", "csi_rejected"), valid_csi,
                          lambda: csi_state(blk._chan), _c(blk, "csi_accepted"))  # fmt: skip
    t.ports["cmd"] = Port("cmd", "control", _c(blk, "cmd_accepted", "cmd_rejected"),
                          valid_alloc(seqs, ("power", "w")), lambda: sched_state(blk._sched),
                          _c(blk, "cmd_accepted"))  # fmt: skip
    t.ports["stream"] = Port("stream", "data", _c(blk, "frames_in"), valid_djscc_tag,
                             outputs=lambda: t.n_out("pdus"))  # fmt: skip
    return _start(t, out_ports=["pdus"], push=messages.DJSCC_TAG)


def t_csi_combiner() -> Target:
    blk = semdacom.csi_combiner(k=K, n_t=N_T)
    t = Target("csi_combiner", blk)

    def valid(draw: st.DrawFn) -> Any:
        """A report newer than what the block keeps for its user."""
        user = draw(st.integers(0, K - 1))
        rng = np.random.default_rng([draw(st.integers(0, 2**32 - 1)), next(_UNIQUE)])
        kept = blk._frames[user]
        # the next frame; after a (fuzzed) frame near the u64 top, a small one: a jump of more
        # than FRAME_JUMP_WINDOW, on which the block starts over
        frame = next(_UNIQUE) if kept is None or kept >= 2**63 else kept + 1
        h = (rng.standard_normal(N_T) + 1j * rng.standard_normal(N_T)) / math.sqrt(2)
        return messages.csi_report_to_pmt(user, h, rng.uniform(0.01, 1.0), 0, frame)

    def state() -> tuple:
        rows = tuple(tuple(_arr(r[0]) for r in rs) for rs in blk._rows)
        return (tuple(blk._frames), rows, blk._published)

    t.ports["csi"] = Port("csi", "control", _c(blk, "reports"), valid, state,
                          _c(blk, "accepted"))  # fmt: skip
    return _start(t, out_ports=["csi"])


def t_pilot_inserter() -> Target:
    """The burst builder reads the transmitters' ``semdacom_chan`` tags into its header: the
    fuzzed message is that tag (one antenna, so the harness's single stream feeds it)."""
    blk = semdacom.pilot_inserter(k=K, n_t=1, preamble_len=31, n_pilots=4, payload_len=FRAME,
                                  guard=0)  # fmt: skip
    t = Target("pilot_inserter", blk)
    t.ports["stream"] = Port("stream", "data", _c(blk, "frames_in"), valid_chan_tag,
                             outputs=_c(blk, "bursts_out"))  # fmt: skip
    return _start(t, stream_out=1, push=messages.CHAN_TAG)


def _sfma_weights() -> str:
    """The SFMA blocks' transceiver: the shipped sc_sfma, else the shipped swinjscc_noma (the
    blocks' logic is the same); skips while neither weights file is shipped."""
    import pytest

    from semdacom.sc_sfma.transceiver import weights_path

    for v in ("sc_sfma", "swinjscc_noma"):
        if weights_path(v).exists():
            return v
    pytest.skip("no SC-SFMA weights shipped yet (sfma_sc_sfma.pt, sfma_swinjscc_noma.pt)")


def _sfma_alloc(seqs: SeqCounter) -> Callable[[st.DrawFn], Any]:
    """A valid SFMA allocation for K = 2 users (one group)."""

    def make(draw: st.DrawFn) -> Any:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        a = messages.Allocation(
            seq=seqs.next(), apply_frame=draw(st.integers(0, 50)),
            pairs=np.asarray(rng.permutation(2), np.int32), nu=rng.uniform(0.05, 1.0, 1),
            group_power=rng.uniform(0.0, 1.0, 1), group_bw=rng.uniform(1e5, 1e7, 1),
        )  # fmt: skip
        return messages.alloc_to_pmt(a)

    return make


def _sfma_group_tag(draw: st.DrawFn, frame: int | None = None) -> dict:
    """A valid ``semdacom_sfma_group`` dict of a group holding user 0 (C = 64 channels)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = int(rng.integers(1, 65))
    slots = {}
    for r, u in enumerate(rng.permutation(2)):
        mask = np.zeros(64, np.uint8)
        mask[rng.choice(64, k, replace=False)] = 1
        slots[f"slot{r}"] = {"user": int(u), "group": 0, "slot": r, "partner": int(1 - u),
                             "nu": k / 64, "n_sym": 2 * k, "mask": mask, "erased": False,
                             "pdu_image_id": next(_UNIQUE)}  # fmt: skip
    tag = {"group": 0, "power": float(rng.uniform(0.01, 1.0)), "bw": 1e6, "power_split": 0.5}
    tag.update(slots)
    if frame is not None:
        tag["frame"] = np.uint64(frame)
    return tag


@dataclass
class PairedTarget(Target):
    """sfma_encoder: each message on ``pdus0`` (``pdus1``) is followed by a valid image of the
    other user on ``pdus1`` (``pdus0``), so that every fuzzed message completes one slot."""

    #: fuzzed port -> (the other user's port, a valid image of that user)
    partner: dict = field(default_factory=dict)

    def post(self, port: str, msg: Any) -> None:
        super().post(port, msg)
        if port in self.partner:
            other, image = self.partner[port]
            self.blk.to_basic_block()._post(pmt.intern(other), image)


def t_sfma_encoder() -> Target:
    blk = semdacom.sfma_encoder(k=2, weights=_sfma_weights())
    img = np.random.default_rng(3).integers(0, 256, (1, 28, 28), dtype=np.uint8)
    partner = {"pdus0": ("pdus1", messages.image_pdu({"user": 1}, img)),
               "pdus1": ("pdus0", messages.image_pdu({"user": 0}, img))}  # fmt: skip
    t = PairedTarget("sfma_encoder", blk, partner=partner)
    seqs = SeqCounter(lambda: blk._cmds.sched.last_seq)
    for port in ("pdus0", "pdus1"):
        t.ports[port] = Port(port, "data", _c(blk, "pdus_in"), valid_image,
                             outputs=_c(blk, "slots_out"))  # fmt: skip
    t.ports["cmd"] = Port("cmd", "control", _c(blk, "cmd_accepted", "cmd_rejected"),
                          _sfma_alloc(seqs), lambda: sched_state(blk._cmds.sched),
                          _c(blk, "cmd_accepted"))  # fmt: skip
    return _start(t, stream_out=2)


def t_sfma_superposer() -> Target:
    blk = semdacom.sfma_superposer(k=2)
    t = Target("sfma_superposer", blk)
    seqs = SeqCounter(lambda: blk._cmds.sched.last_seq)
    t.ports["cmd"] = Port("cmd", "control", _c(blk, "cmd_accepted", "cmd_rejected"),
                          _sfma_alloc(seqs), lambda: sched_state(blk._cmds.sched),
                          _c(blk, "cmd_accepted"))  # fmt: skip
    return _start(t, stream_in=2, stream_out=1)


def t_sfma_decoder() -> Target:
    blk = semdacom.sfma_decoder(user=0, weights=_sfma_weights(), gain=1e-10)
    t = Target("sfma_decoder", blk)

    def valid_csi_sfma(draw: st.DrawFn) -> Any:
        rng = np.random.default_rng([draw(st.integers(0, 2**32 - 1)), next(_UNIQUE)])
        frame = next(_UNIQUE) if draw(st.booleans()) else None
        c = messages.SfmaCsi(gain=rng.uniform(1e-12, 1e-9, 2), seq=next(_UNIQUE), frame=frame)
        return messages.sfma_csi_to_pmt(c)

    t.ports["csi"] = Port("csi", "control", _c(blk, "csi_accepted", "csi_rejected"),
                          valid_csi_sfma, blk._gain.state, _c(blk, "csi_accepted"))  # fmt: skip
    t.ports["side"] = Port("side", "control",
                           _c(blk, "side_accepted", "side_rejected", "side_other"),
                           lambda draw: messages.meta_to_pmt(_sfma_group_tag(draw, next(_UNIQUE))),
                           lambda: tuple(blk._side), _c(blk, "side_accepted"))  # fmt: skip
    t.ports["stream"] = Port("stream", "data", _c(blk, "frames_in"),
                             lambda draw: messages.meta_to_pmt(_sfma_group_tag(draw)),
                             outputs=lambda: t.n_out("pdus"))  # fmt: skip
    return _start(t, out_ports=["pdus"], push=messages.SFMA_GROUP_TAG)


def t_alloc_probe() -> Target:
    blk = semdacom.alloc_probe(user=0)
    t = Target("alloc_probe", blk)
    seqs = SeqCounter(lambda: blk._sched.last_seq)
    t.ports["cmd"] = Port("cmd", "control", _c(blk, "cmd_accepted", "cmd_rejected"),
                          valid_alloc(seqs, ("rate_index", "rc", "mcs", "power")),
                          lambda: sched_state(blk._sched), _c(blk, "cmd_accepted"))  # fmt: skip

    def frame(draw: st.DrawFn) -> Any:
        return messages.frame_sent_to_pmt(draw(st.integers(0, 2**40)), 0)

    t.ports["frames"] = Port("frames", "data", _c(blk, "frames_in"), frame,
                             outputs=lambda: t.n_out("in_force"))  # fmt: skip
    return _start(t, out_ports=["in_force"])


#: Every block with an input message port (miso_channel, frame_tagger, phy_probe, frame_sync,
#: csi_estimator and sfma_channel have none), and pilot_inserter for the tags it parses.
TARGETS: dict[str, Callable[[], Target]] = {
    "superposition_beamformer": t_superposition_beamformer,
    "fbl_link": t_fbl_link,
    "channel_encoder": t_channel_encoder,
    "channel_decoder": t_channel_decoder,
    "image_source": t_image_source,
    "source_encoder": t_source_encoder,
    "source_decoder": t_source_decoder,
    "semantic_decoder": t_semantic_decoder,
    "metrics_sink": t_metrics_sink,
    "mu_ascc_optimizer": t_mu_ascc_optimizer,
    "sfma_optimizer": t_sfma_optimizer,
    "djscc_encoder": t_djscc_encoder,
    "djscc_decoder": t_djscc_decoder,
    "csi_combiner": t_csi_combiner,
    "pilot_inserter": t_pilot_inserter,
    "sfma_encoder": t_sfma_encoder,
    "sfma_superposer": t_sfma_superposer,
    "sfma_decoder": t_sfma_decoder,
    "alloc_probe": t_alloc_probe,
}

#: (block, port) of every input message port, and ("stream") the stream input of the two
#: frame receivers, fed frames whose transmitter tag is the fuzzed message.
PORTS: list[tuple[str, str]] = [
    ("superposition_beamformer", "cmd"),
    ("fbl_link", "pdus"),
    ("fbl_link", "csi"),
    ("fbl_link", "cmd"),
    ("channel_encoder", "pdus"),
    ("channel_encoder", "cmd"),
    ("channel_decoder", "csi"),
    ("channel_decoder", "cmd"),
    ("channel_decoder", "stream"),
    ("image_source", "trigger"),
    ("source_encoder", "pdus"),
    ("source_encoder", "cmd"),
    ("source_decoder", "pdus"),
    ("source_decoder", "cmd"),
    ("semantic_decoder", "pdus"),
    ("semantic_decoder", "cmd"),
    ("metrics_sink", "pdus"),
    ("metrics_sink", "ref"),
    ("mu_ascc_optimizer", "csi"),
    ("mu_ascc_optimizer", "sent"),
    ("sfma_optimizer", "csi"),
    ("djscc_encoder", "pdus"),
    ("djscc_decoder", "symbols"),
    ("djscc_decoder", "csi"),
    ("djscc_decoder", "cmd"),
    ("djscc_decoder", "stream"),
    ("csi_combiner", "csi"),
    ("pilot_inserter", "stream"),
    ("sfma_encoder", "pdus0"),
    ("sfma_encoder", "pdus1"),
    ("sfma_encoder", "cmd"),
    ("sfma_superposer", "cmd"),
    ("sfma_decoder", "csi"),
    ("sfma_decoder", "side"),
    ("sfma_decoder", "stream"),
    ("alloc_probe", "cmd"),
    ("alloc_probe", "frames"),
]

#: Fuzz examples per port: ``SEMDACOM_FUZZ_PROFILE`` = default (make test) or fuzz (make fuzz).
PROFILES = {"default": 25, "fuzz": 1000}
EXAMPLES = PROFILES[os.environ.get("SEMDACOM_FUZZ_PROFILE", "default")]
FIELDS = ("messages", "thread_deaths", "hangs", "lost", "state_corrupted")
#: (block, port) -> figures, filled by the tests.
STATS: dict[tuple[str, str], dict[str, int]] = {key: dict.fromkeys(FIELDS, 0) for key in PORTS}
