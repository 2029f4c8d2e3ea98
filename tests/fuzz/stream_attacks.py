"""Stream attacks on every block with a stream input.

The clean input of each block is recorded once from the real upstream chain (``capture_*``:
MU-ASCC over the air: channel encoders -> superposition_beamformer -> pilot_inserter ->
miso_channel -> frame_sync -> csi_estimator -> channel_decoder; SC-SFMA: sfma_encoder ->
sfma_superposer -> sfma_channel -> sfma_decoder; djscc_encoder -> djscc_decoder). A
:class:`StreamRig` runs the block under test fed by a :class:`SegmentSource`, and an attack is a
segment derived from the clean one (``ATTACKS``: NaN, inf, huge and zero samples, strong noise,
missing, garbage, wrong, shifted and duplicated tags, a frame cut short) pushed between clean
segments: the block must consume it (no hang), no thread may die, and the clean segment after it
must give as many good results (``good``) as a clean segment does.
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pmt
from fuzz_targets import N_T, K, _sfma_weights
from gnuradio import blocks, gr, semdacom
from gnuradio.semdacom import messages

#: A recorded stream: per input, the samples and the tags ``(offset, key, value)`` (relative).
Segment = tuple[list[np.ndarray], list[list[tuple[int, Any, Any]]]]

HANG_S = 30.0
SLOT, BLOCKLENGTH, MCS = 512, 256, 3
LAY = dict(k=K, n_t=N_T, preamble_len=63, n_pilots=8, header_mcs=2, payload_len=SLOT)
P = 1.0
H = np.array([[0.9 + 0.1j, 0.2 - 0.3j], [-0.1 + 0.2j, 0.8 - 0.2j]])
N_FRAMES = 3


class SegmentSource(gr.sync_block):
    """Streams the segments put on ``queue`` (each ``Segment``, the same length on every
    output), their tags at their offsets; idles while the queue is empty."""

    def __init__(self, n_out: int) -> None:
        gr.sync_block.__init__(
            self, name="segment_source", in_sig=None, out_sig=[np.complex64] * n_out
        )
        self.queue: queue.Queue = queue.Queue()
        self.pushed = 0  # samples per output queued so far
        self._cur: Segment | None = None
        self._pos = 0

    def push(self, seg: Segment) -> None:
        self.pushed += len(seg[0][0])
        self.queue.put(seg)

    def work(self, input_items, output_items):
        if self._cur is None:
            try:
                self._cur = self.queue.get_nowait()
            except queue.Empty:
                time.sleep(0.002)
                return 0
            self._pos = 0
            base = self.nitems_written(0)
            for o, tags in enumerate(self._cur[1]):
                for off, key, value in tags:
                    self.add_item_tag(o, base + off, key, value)
        xs = self._cur[0]
        n = min(len(output_items[0]), len(xs[0]) - self._pos)
        for o, out in enumerate(output_items):
            out[:n] = xs[o][self._pos : self._pos + n]
        self._pos += n
        if self._pos >= len(xs[0]):
            self._cur = None
        return n


class CountSink(gr.sync_block):
    """Counts the finite samples it receives (a stream output under attack)."""

    def __init__(self) -> None:
        gr.sync_block.__init__(self, name="count_sink", in_sig=[np.complex64], out_sig=None)
        self.finite = 0

    def work(self, input_items, output_items):
        self.finite += int(np.count_nonzero(np.isfinite(input_items[0])))
        return len(input_items[0])


# --------------------------------------------------------------------------------------------
# Clean inputs, recorded from the real upstream blocks
# --------------------------------------------------------------------------------------------


def _recorded(snk: Any) -> tuple[np.ndarray, list[tuple[int, Any, Any]]]:
    tags = [(t.offset, t.key, t.value) for t in snk.tags()]
    return np.array(snk.data(), np.complex64), tags


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, f"timed out recording {what}"
        time.sleep(0.005)


def _segment(recs: list[tuple[np.ndarray, list]], pad: int = 0) -> Segment:
    n = max(len(x) for x, _ in recs) + pad
    xs = [np.concatenate([x, np.zeros(n - len(x), np.complex64)]) for x, _ in recs]
    return xs, [list(t) for _, t in recs]


def capture_ota() -> dict[str, Segment]:
    """The MU-ASCC over-the-air chain (as examples/mu_ascc_ota_sim.grc, one sample per symbol,
    no tag crosses the air): the input of each of its stream blocks, user 0's receiver."""
    tb = gr.top_block()
    encs = [semdacom.channel_encoder(user=u, mode="ldpc", mcs=MCS, blocklength=BLOCKLENGTH,
                                     frame_len=SLOT, seed=u) for u in range(K)]  # fmt: skip
    bf = semdacom.superposition_beamformer(K, N_T, [P / 2] * K, [1, 0, 0, 1], 0)
    pil = semdacom.pilot_inserter(**LAY, pilot_power=P / 2, guard=16)
    gate = [blocks.tag_gate(gr.sizeof_gr_complex, False) for _ in range(N_T)]
    nv = [P / 2 * float(abs(H[u]) @ abs(H[u])) / 10 ** (25 / 10) for u in range(K)]
    ch = semdacom.miso_channel(K, N_T, list(H.reshape(-1)), nv, 3, 0, 0)
    fs = semdacom.frame_sync(**LAY)
    est = semdacom.csi_estimator(user=0, pilot_power=P / 2, blocklength=BLOCKLENGTH, **LAY)
    sinks = {name: [blocks.vector_sink_c() for _ in range(n)]
             for name, n in (("bf", K), ("pil", N_T), ("ch", N_T), ("fs", 1), ("est", 1),
                             ("dec", 1))}  # fmt: skip
    keep = [encs, bf, pil, gate, ch, fs, est]
    for u in range(K):
        tb.connect(encs[u], (bf, u))
        tb.connect(encs[u], sinks["bf"][u])
    for a in range(N_T):
        tb.connect((bf, a), (pil, a))
        tb.connect((bf, a), sinks["pil"][a])
        tb.connect((pil, a), gate[a], (ch, a))
        tb.connect(gate[a], sinks["ch"][a])
    tb.connect((ch, 0), fs)
    tb.connect((ch, 0), sinks["fs"][0])
    tb.connect((ch, 1), blocks.null_sink(gr.sizeof_gr_complex))
    tb.connect(fs, est)
    tb.connect(fs, sinks["est"][0])
    tb.connect(est, sinks["dec"][0])
    tb.start()
    rng = np.random.default_rng(11)
    for f in range(N_FRAMES):
        for u in range(K):
            bits = rng.integers(0, 2, 200).astype(np.uint8)
            msg = messages.bits_pdu({"image_id": 100 * u + f, "user": u}, bits)
            encs[u].to_basic_block()._post(pmt.intern("pdus"), msg)
    _wait(lambda: est.counters()["headers_ok"] >= N_FRAMES, 60.0, "the OTA chain")
    time.sleep(0.2)
    tb.stop()
    tb.wait()
    del keep
    rec = {k: [_recorded(s) for s in v] for k, v in sinks.items()}
    rec["fs"] = [(rec["fs"][0][0], [])]  # tags do not cross the air
    return {
        "superposition_beamformer": _segment(rec["bf"]),
        "pilot_inserter": _segment(rec["pil"]),
        "miso_channel": _segment([(x, []) for x, _ in rec["ch"]]),
        "frame_sync": _segment(rec["fs"], pad=600),
        "csi_estimator": _segment(rec["est"]),
        "channel_decoder": _segment(rec["dec"]),
        "frame_tagger": _segment([(rec["fs"][0][0], [])]),
        "dc_blocker": _segment([(rec["fs"][0][0], [])]),
        "phy_probe": _segment([(x, []) for x, _ in rec["ch"]]),
        "tx_level": _segment([(x, []) for x, _ in rec["ch"]]),
        "pa_model": _segment([(x, []) for x, _ in rec["ch"]]),
    }


def capture_sfma() -> dict[str, Segment]:
    """sfma_encoder -> sfma_superposer -> sfma_channel -> (user 0) sfma_decoder."""
    weights = _sfma_weights()
    tb = gr.top_block()
    enc = semdacom.sfma_encoder(k=K, weights=weights)
    sup = semdacom.sfma_superposer(k=K)
    ch = semdacom.sfma_channel(k=K, gains=(1e-10, 1e-10), seed=2)
    s_sup = [blocks.vector_sink_c() for _ in range(K)]
    s_ch, s_dec = blocks.vector_sink_c(), blocks.vector_sink_c()
    for u in range(K):
        tb.connect((enc, u), (sup, u))
        tb.connect((enc, u), s_sup[u])
    tb.connect(sup, ch)
    tb.connect(sup, s_ch)
    tb.connect((ch, 0), s_dec)
    tb.connect((ch, 1), blocks.null_sink(gr.sizeof_gr_complex))
    tb.start()
    rng = np.random.default_rng(12)
    for f in range(N_FRAMES):
        for u in range(K):
            img = rng.integers(0, 256, (1, 28, 28), dtype=np.uint8)
            msg = messages.image_pdu({"user": u, "image_id": 10 * u + f}, img)
            enc.to_basic_block()._post(pmt.intern(f"pdus{u}"), msg)
    _wait(lambda: ch.counters()["frames_out"] >= N_FRAMES, 60.0, "the SC-SFMA chain")
    time.sleep(0.2)
    tb.stop()
    tb.wait()
    return {
        "sfma_superposer": _segment([_recorded(s) for s in s_sup]),
        "sfma_channel": _segment([_recorded(s_ch)]),
        "sfma_decoder": _segment([_recorded(s_dec)]),
    }


def capture_djscc() -> dict[str, Segment]:
    """djscc_encoder -> djscc_decoder (no channel)."""
    tb = gr.top_block()
    enc = semdacom.djscc_encoder()
    snk = blocks.vector_sink_c()
    tb.connect(enc, snk)
    tb.start()
    rng = np.random.default_rng(13)
    for f in range(N_FRAMES):
        img = rng.integers(0, 256, (1, 28, 28), dtype=np.uint8)
        enc.to_basic_block()._post(pmt.intern("pdus"), messages.image_pdu({"image_id": f}, img))
    _wait(lambda: enc.counters()["frames_out"] >= N_FRAMES, 60.0, "djscc_encoder")
    time.sleep(0.3)
    tb.stop()
    tb.wait()
    return {"djscc_decoder": _segment([_recorded(snk)])}


# --------------------------------------------------------------------------------------------
# The blocks under attack
# --------------------------------------------------------------------------------------------


def _good_pdus(dbg: Any) -> int:
    n = 0
    for i in range(dbg.num_messages()):
        meta = pmt.car(dbg.get_message(i))
        if not pmt.to_python(pmt.dict_ref(meta, pmt.intern("erased"), pmt.PMT_F)):
            n += 1
    return n


@dataclass
class StreamCase:
    """A block with stream inputs: how to build it (``make``), which recording feeds it
    (``chain``), what it publishes (``out_ports``: message ports; ``n_out``: stream outputs)
    and its count of good results (``good(rig)``)."""

    make: Callable[[], Any]
    chain: str
    good: Callable[[StreamRig], int]
    out_ports: tuple[str, ...] = ()
    n_out: int = 0


@dataclass
class StreamRig:
    blk: Any
    src: SegmentSource
    tb: Any
    dbg: dict[str, Any] = field(default_factory=dict)
    sinks: list = field(default_factory=list)

    def consumed(self) -> int:
        return self.blk.nitems_read(0)

    def stop(self) -> None:
        self.tb.stop()
        self.tb.wait()


def rig(case: StreamCase, n_in: int) -> StreamRig:
    blk = case.make()
    tb = gr.top_block()
    src = SegmentSource(n_in)
    r = StreamRig(blk, src, tb)
    for i in range(n_in):
        tb.connect((src, i), (blk, i))
    for p in case.out_ports:
        r.dbg[p] = blocks.message_debug()
        tb.msg_connect((blk, p), (r.dbg[p], "store"))
    for o in range(case.n_out):
        r.sinks.append(CountSink())
        tb.connect((blk, o), r.sinks[-1])
    tb.start()
    return r


def _finite(r: StreamRig) -> int:
    return min(s.finite for s in r.sinks)


CASES: dict[str, StreamCase] = {
    "superposition_beamformer": StreamCase(
        lambda: semdacom.superposition_beamformer(K, N_T, [P / 2] * K, [1, 0, 0, 1], 0),
        "ota", _finite, n_out=N_T),
    "pilot_inserter": StreamCase(
        lambda: semdacom.pilot_inserter(**LAY, pilot_power=P / 2, guard=16), "ota",
        lambda r: r.blk.counters()["bursts_out"], n_out=N_T),
    "miso_channel": StreamCase(
        lambda: semdacom.miso_channel(K, N_T, list(H.reshape(-1)), [1e-3] * K, 3, 0, 0), "ota",
        _finite, out_ports=("csi",), n_out=K),
    "frame_sync": StreamCase(
        lambda: semdacom.frame_sync(**LAY), "ota", lambda r: r.blk.counters()["bursts"],
        n_out=1),
    "csi_estimator": StreamCase(
        lambda: semdacom.csi_estimator(user=0, pilot_power=P / 2, blocklength=BLOCKLENGTH,
                                       **LAY),
        "ota", lambda r: r.blk.counters()["headers_ok"], out_ports=("csi",), n_out=1),
    "channel_decoder": StreamCase(
        lambda: semdacom.channel_decoder(user=0, mode="ldpc", mcs=MCS, blocklength=BLOCKLENGTH),
        "ota", lambda r: _good_pdus(r.dbg["pdus"]), out_ports=("pdus",)),
    "frame_tagger": StreamCase(
        lambda: semdacom.frame_tagger(frame_len=SLOT), "ota", _finite, n_out=1),
    "dc_blocker": StreamCase(lambda: semdacom.dc_blocker(64, True), "ota", _finite, n_out=1),
    "phy_probe": StreamCase(
        lambda: semdacom.phy_probe(user=0), "ota", lambda r: r.blk.nitems_read(1)),
    "tx_level": StreamCase(
        lambda: semdacom.tx_level(n_t=N_T, p_max=P, clip=True), "ota", _finite, n_out=N_T),
    "pa_model": StreamCase(lambda: semdacom.pa_model(n_t=N_T), "ota", _finite, n_out=N_T),
    "djscc_decoder": StreamCase(
        lambda: semdacom.djscc_decoder(), "djscc", lambda r: _good_pdus(r.dbg["pdus"]),
        out_ports=("pdus",)),
    "sfma_superposer": StreamCase(
        lambda: semdacom.sfma_superposer(k=K), "sfma",
        lambda r: r.blk.counters()["frames_out"], n_out=1),
    "sfma_channel": StreamCase(
        lambda: semdacom.sfma_channel(k=K, gains=(1e-10, 1e-10), seed=2), "sfma",
        lambda r: r.blk.counters()["frames_out"], out_ports=("csi",), n_out=K),
    "sfma_decoder": StreamCase(
        lambda: semdacom.sfma_decoder(user=0, weights=_sfma_weights(), gain=1e-10), "sfma",
        lambda r: _good_pdus(r.dbg["pdus"]), out_ports=("pdus",)),
}  # fmt: skip

CAPTURES: dict[str, Callable[[], dict[str, Segment]]] = {
    "ota": capture_ota, "sfma": capture_sfma, "djscc": capture_djscc,
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Attacks: a segment derived from the clean one
# --------------------------------------------------------------------------------------------


def garbage_pmts(rng: np.random.Generator) -> Any:
    """A PMT no block reads as a tag value: wrong types, extremes, nested, empty."""
    d = pmt.make_dict()
    for _ in range(int(rng.integers(0, 4))):
        d = pmt.dict_add(d, pmt.intern(str(rng.choice(["frame", "user", "L", "n_bits", "k",
                                                        "group", "mask", "x"]))),
                         pmt.from_double(float(rng.choice([math.nan, -1.0, 1e300]))))  # fmt: skip
    deep = pmt.from_long(1)
    for _ in range(500):
        deep = pmt.dict_add(pmt.make_dict(), pmt.intern("frame"), deep)
    choices = [
        pmt.PMT_NIL, pmt.PMT_T, pmt.from_long(-1), pmt.from_long(-(2**63)),
        pmt.from_uint64(2**64 - 1), pmt.from_double(math.nan), pmt.from_double(math.inf),
        pmt.from_complex(1j), pmt.intern("junk"), pmt.init_u8vector(3, [1, 2, 3]),
        pmt.init_f64vector(2, [math.nan, 1e308]), pmt.cons(pmt.PMT_NIL, pmt.PMT_NIL),
        pmt.make_tuple(pmt.from_long(1), pmt.intern(messages.CHAN_TAG), pmt.PMT_NIL), d, deep,
        pmt.make_dict(),
    ]  # fmt: skip
    return choices[int(rng.integers(0, len(choices)))]


def _wrong(value: Any, rng: np.random.Generator) -> Any:
    """A tag value of the right shape with wrong contents (a dict: fields set to extremes)."""
    if pmt.is_dict(value) and not pmt.is_null(value):
        items = pmt.dict_items(value)
        d = value
        for _ in range(int(rng.integers(1, 4))):
            key = pmt.car(pmt.nth(int(rng.integers(0, pmt.length(items))), items))
            bad = [pmt.from_double(math.nan), pmt.from_long(-1), pmt.from_uint64(2**64 - 1),
                   pmt.from_double(1e300), pmt.from_long(0), pmt.intern("x"),
                   pmt.init_u8vector(1, [1])]  # fmt: skip
            d = pmt.dict_add(d, key, bad[int(rng.integers(0, len(bad)))])
        return d
    bad = [pmt.from_long(0), pmt.from_long(-1), pmt.from_long(2**31 - 1), pmt.from_long(10**9),
           pmt.from_uint64(2**64 - 1), pmt.from_uint64(0), pmt.from_double(math.nan)]  # fmt: skip
    return bad[int(rng.integers(0, len(bad)))]


def _samples(seg: Segment, fn: Callable[[np.ndarray], None]) -> Segment:
    xs = [x.copy() for x in seg[0]]
    for x in xs:
        fn(x)
    return xs, seg[1]


def _sprinkle(value: complex, rng: np.random.Generator, run: int = 1):
    def fn(x: np.ndarray) -> None:
        for at in [0, *rng.integers(0, len(x), 4)]:
            x[at : at + run] = value

    return fn


def _tags(seg: Segment, fn: Callable[[int, Any, Any], list]) -> Segment:
    return seg[0], [[t for off, k, v in tags for t in fn(off, k, v)] for tags in seg[1]]


#: Samples put ahead of the clean segment by the ``*_lead`` attacks, the bad one at LEAD_AT.
LEAD, LEAD_AT = 64, 10


def _lead(seg: Segment, value: complex) -> Segment:
    """``seg`` after LEAD samples of silence holding one bad sample (its tags moved along)."""
    head = np.zeros(LEAD, np.complex64)
    head[LEAD_AT] = value
    xs = [np.concatenate([head, x]) for x in seg[0]]
    return xs, [[(off + LEAD, k, v) for off, k, v in tags] for tags in seg[1]]


def attack(name: str, seg: Segment, rng: np.random.Generator) -> Segment:
    """The attack ``name`` on the clean segment ``seg``."""
    n = len(seg[0][0])
    if name in LOCAL:
        return _lead(seg, LOCAL[name])
    if name == "nan":
        return _samples(seg, _sprinkle(complex(math.nan, 0.0), rng))
    if name == "inf":
        return _samples(seg, _sprinkle(complex(math.inf, -math.inf), rng))
    if name == "huge":
        return _samples(seg, _sprinkle(complex(1e30, 3e38), rng, run=20))
    if name == "saturate":  # every sample 1e12
        return _samples(seg, lambda x: x.__setitem__(slice(None), 1e12 + 1e12j))
    if name == "zeros":
        return _samples(seg, lambda x: x.__setitem__(slice(None), 0))
    if name == "noise":
        return _samples(seg, lambda x: x.__setitem__(slice(None), 1e3 * (
            rng.standard_normal(n) + 1j * rng.standard_normal(n))))  # fmt: skip
    if name == "no_tags":
        return seg[0], [[] for _ in seg[1]]
    if name == "garbage_tags":
        return _tags(seg, lambda off, k, v: [(off, k, garbage_pmts(rng))])
    if name == "wrong_tags":
        return _tags(seg, lambda off, k, v: [(off, k, _wrong(v, rng))])
    if name == "shifted_tags":
        return _tags(seg, lambda off, k, v: [(int(rng.integers(0, n)), k, v), (off, k, v)])
    if name == "cut":  # the segment stops in the middle of a frame
        cut = int(rng.integers(1, n))
        return [x[:cut] for x in seg[0]], [[t for t in tags if t[0] < cut] for tags in seg[1]]
    raise ValueError(name)


#: Local attacks: one bad sample ahead of a clean segment, in the same buffer; the segment's
#: own frames must still be found (the junk is neutralised in its window only).
LOCAL = {"nan_lead": complex(math.nan, 0.0), "inf_lead": complex(math.inf, 0.0),
         "huge_lead": complex(1e12, 0.0)}  # fmt: skip

ATTACKS = ("nan", "inf", "huge", "saturate", "zeros", "noise", "no_tags", "garbage_tags",
           "wrong_tags", "shifted_tags", "cut", *LOCAL)  # fmt: skip
