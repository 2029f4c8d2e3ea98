"""Flowgraph integration of the PHY chain.

1. ``examples/phy_loopback.grc`` compiled with grcc and run for the paper channel: the measured
   SINR of both users agrees with eq. (7) of MU-ASCC within 0.2 dB.
2. Bad input mid-run: frame-tagged user streams -> superposition_beamformer -> miso_channel ->
   sinks while malformed ``cmd`` messages arrive. The flowgraph finishes, every input sample
   leaves, and the allocation in force is the last good one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pmt
import pytest
from block_harness import GatedSource, wait_until
from gnuradio import blocks, gr, semdacom
from gnuradio.semdacom import messages
from gnuradio.semdacom.messages import Allocation

from semdacom.phy import beamforming as bf

TOLERANCE_DB = 0.2
N_SYMBOLS = 100_000
TIMEOUT_S = 10.0

# ---------------------------------------------------------------------------------------------
# phy_loopback.grc against eq. (7)
# ---------------------------------------------------------------------------------------------


def beams(name: str, h: np.ndarray, p: np.ndarray) -> np.ndarray:
    return {
        "mrt": bf.mrt_beamformers,
        "zf": bf.zf_beamformers,
        "mmse": lambda x: bf.mmse_beamformers(x, p),
    }[name](h)


@pytest.mark.parametrize(
    ("p1", "p2", "beam"),
    [(1.0, 1.0, "mrt"), (2.0, 0.5, "mrt"), (0.5, 4.0, "mrt"), (3.0, 1.0, "zf")],
)
def test_phy_loopback_sinr_matches_eq7(phy_loopback, tmp_path, p1, p2, beam) -> None:
    prefix = str(tmp_path / "run_")
    tb = phy_loopback.phy_loopback(
        p1=p1, p2=p2, n_symbols=N_SYMBOLS, beams=beam, seed=11, json_prefix=prefix
    )
    tb.start()
    tb.wait()
    h = bf.paper_channel()
    p = np.array([p1, p2])
    w = beams(beam, h, p)
    theory = bf.downlink_sinr(h, p, w, np.ones(2))
    # the flowgraph uses these very beams and powers
    np.testing.assert_allclose(tb.beamformer.w(), w.reshape(-1), atol=1e-7)
    np.testing.assert_allclose(tb.beamformer.power(), p)
    for u, probe in enumerate((tb.probe_0, tb.probe_1)):
        r = probe.results()
        assert r["symbols"] == N_SYMBOLS
        assert r["sinr_db"] == pytest.approx(10 * math.log10(theory[u]), abs=TOLERANCE_DB), (
            f"user {u}: measured {r['sinr_db']:.3f} dB, eq. (7) {10 * math.log10(theory[u]):.3f}"
        )
        saved = json.loads(Path(f"{prefix}user{u}.json").read_text())
        assert saved["user"] == u and saved["symbols"] == N_SYMBOLS
        assert saved["sinr_db"] == pytest.approx(r["sinr_db"], rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Bad input mid-run
# ---------------------------------------------------------------------------------------------

FRAME = pmt.intern("frame")
PACKET_LEN = pmt.intern("packet_len")


def alloc_msg(seq: int, power: Sequence[float], w: np.ndarray, apply_frame: int) -> object:
    return messages.alloc_to_pmt(
        Allocation(seq=seq, apply_frame=apply_frame, power=np.asarray(power, float), w=w)
    )


def malformed(good: object, k: int, n_t: int) -> list[object]:
    def with_key(key: str, value: object) -> object:
        return pmt.dict_add(good, pmt.intern(key), value)

    w = np.asarray(pmt.c64vector_elements(pmt.dict_ref(good, pmt.intern("w"), pmt.PMT_NIL)))
    return [
        pmt.intern("garbage"),
        pmt.from_long(42),
        pmt.cons(pmt.make_dict(), pmt.init_u8vector(4, [0, 1, 2, 3])),  # a PDU
        pmt.make_dict(),  # no seq
        with_key("seq", pmt.from_long(-7)),
        with_key("power", pmt.init_f64vector(k, [math.nan] * k)),
        with_key("power", pmt.init_f64vector(k, [-1.0] * k)),
        with_key("power", pmt.init_f64vector(k + 2, [1.0] * (k + 2))),
        with_key("w", pmt.init_c64vector(k * n_t, (3.0 * w).tolist())),
        with_key("w", pmt.init_c64vector(k * n_t, [complex(math.inf, 0)] * (k * n_t))),
        with_key("w", pmt.init_c64vector(1, [1.0])),
        with_key("apply_frame", pmt.from_double(1.5)),
    ]


def test_bad_cmd_messages_mid_run_keep_last_good_allocation() -> None:
    k = n_t = 2
    F, n_frames, hold_frame = 256, 40, 10
    n = F * n_frames
    hold = hold_frame * F + F // 3  # mid-frame
    rng = np.random.default_rng(3)
    g = ((rng.standard_normal((k, n)) + 1j * rng.standard_normal((k, n))) / math.sqrt(2)).astype(
        np.complex64
    )
    h = bf.paper_channel()
    p0, w0 = np.array([1.0, 1.0]), bf.mrt_beamformers(h)
    pa, wa = np.array([2.0, 0.5]), bf.zf_beamformers(h)
    pb, wb = np.array([0.3, 3.0]), bf.random_unit_beamformers(k, n_t, rng=rng)
    good_a = alloc_msg(1, pa, wa, apply_frame=0)  # due at once: waits for the next boundary
    good_b = alloc_msg(2, pb, wb, apply_frame=hold_frame + 5)
    bad = malformed(good_a, k, n_t)

    tags = []
    for off in range(0, n, F):  # frame and packet_len tags at every frame start
        tags += [(off, FRAME, pmt.from_uint64(off // F)), (off, PACKET_LEN, pmt.from_long(F))]
    tb = gr.top_block()
    src = GatedSource(g, tags, hold, hold_timeout=TIMEOUT_S)
    bfm = semdacom.superposition_beamformer(k, n_t, list(p0), list(w0.reshape(-1)), 0)
    ch = semdacom.miso_channel(k, n_t, list(h.reshape(-1)), [0.0, 0.0], 1, 0, 0)
    sinks = [blocks.vector_sink_c() for _ in range(k)]
    for i in range(k):
        tb.connect((src, i), (bfm, i))
    for a in range(n_t):
        tb.connect((bfm, a), (ch, a))
    for i, s in enumerate(sinks):
        tb.connect((ch, i), s)

    def post(msg: object) -> None:
        bfm.to_basic_block()._post(pmt.intern("cmd"), msg)

    tb.start()
    try:
        wait_until(
            lambda: bfm.nitems_read(0) == hold, TIMEOUT_S, "the beamformer to reach the hold"
        )
        for m in bad[:6]:
            post(m)
        post(good_a)
        for m in bad[6:]:
            post(m)
        post(good_b)
        for m in bad:
            post(m)
        wait_until(lambda: bfm.rejected() == 2 * len(bad), TIMEOUT_S, "the messages to be handled")
        wait_until(lambda: bfm.pending() == 2, TIMEOUT_S, "the good allocations to be queued")
        assert bfm.applied_seq() == 0
    finally:
        src.gate.set()
    tb.wait()

    assert bfm.rejected() == 2 * len(bad) and bfm.pending() == 0
    assert bfm.applied_seq() == 2
    np.testing.assert_allclose(bfm.power(), pb)
    np.testing.assert_allclose(bfm.w(), wb.reshape(-1), atol=1e-7)

    y = np.array([s.data() for s in sinks])
    assert y.shape == (k, n)  # output count == input count
    x = np.empty((n_t, n), dtype=complex)
    for start, stop, p, w in [
        (0, (hold_frame + 1) * F, p0, w0),
        ((hold_frame + 1) * F, (hold_frame + 5) * F, pa, wa),
        ((hold_frame + 5) * F, n, pb, wb),
    ]:
        x[:, start:stop] = np.einsum("i,ia,in->an", np.sqrt(p), w, g[:, start:stop])
    np.testing.assert_allclose(y, np.conj(h) @ x, rtol=0, atol=1e-4)
    # tags went through both blocks: one frame tag per frame on every user stream
    for s in sinks:
        frames = [t for t in s.tags() if pmt.eq(t.key, FRAME)]
        assert [t.offset for t in frames] == list(range(0, n, F))
