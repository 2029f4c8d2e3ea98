"""QA of the C++ ``miso_channel`` block (MU-ASCC eq. 6: y_i = h_i^H x + n_i; architecture §3-§4).

Vector sources feed the N_t antenna streams and vector sinks collect the K user streams. The
``csi`` output port is collected with ``blocks.message_debug``. Calls that must happen while
the flowgraph runs (``set_h``, ``set_noise_var``) are made while a gated source holds the
stream at a known sample.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import pmt
import pytest
from block_harness import GatedSource, make_tag, sink_tags
from gnuradio import blocks, gr, semdacom
from gnuradio.semdacom import messages

FRAME = pmt.intern("frame")
PACKET_LEN = pmt.intern("packet_len")
TIMEOUT_S = 10.0

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def cn(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / math.sqrt(2)


def frame_tags(n: int, frame_len: int) -> list[gr.tag_t]:
    tags = []
    for f, s in enumerate(range(0, n, frame_len)):
        tags.append(make_tag(s, FRAME, pmt.from_uint64(f)))
        tags.append(make_tag(s, PACKET_LEN, pmt.from_long(frame_len)))
    return tags


def wait_for(cond: Callable[[], bool], what: str) -> None:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < TIMEOUT_S, f"timed out waiting for {what}"
        time.sleep(0.002)


class Run:
    """N_t vector sources (or a gated source) -> miso_channel -> K vector sinks (+ csi)."""

    def __init__(
        self,
        x: np.ndarray,
        h: np.ndarray,
        noise_var: Sequence[float],
        *,
        seed: int = 0,
        fading_frames: int = 0,
        frame_len: int = 0,
        tags: Sequence[Sequence[gr.tag_t]] = (),
        hold_at: int | None = None,
        chunk: int = 0,
    ) -> None:
        n_t, n = x.shape
        k = h.shape[0]
        self.tb = gr.top_block()
        self.blk = semdacom.miso_channel(
            k, n_t, list(h.reshape(-1)), list(map(float, noise_var)), seed, fading_frames, frame_len
        )
        if chunk:
            self.blk.set_max_noutput_items(chunk)
        if hold_at is None:
            tags = list(tags) + [[]] * (n_t - len(tags))
            srcs = [
                blocks.vector_source_c(x[a].tolist(), False, 1, list(tags[a])) for a in range(n_t)
            ]
            self.gated = None
            for a, s in enumerate(srcs):
                self.tb.connect(s, (self.blk, a))
        else:
            raw = [(t.offset, t.key, t.value) for t in (tags[0] if tags else [])]
            self.gated = GatedSource(x, raw, hold_at)
            for a in range(n_t):
                self.tb.connect((self.gated, a), (self.blk, a))
        self.sinks = [blocks.vector_sink_c() for _ in range(k)]
        for i, s in enumerate(self.sinks):
            self.tb.connect((self.blk, i), s)
        self.dbg = blocks.message_debug()
        self.tb.msg_connect(self.blk, "csi", self.dbg, "store")

    def run(self) -> Run:
        self.tb.run()
        self.wait_csi(int(self.blk.csi_seq()))
        return self

    def wait_csi(self, n: int) -> None:
        wait_for(lambda: self.dbg.num_messages() >= n, f"{n} CSI messages")

    def csi(self) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(seq, h (K, N_t), noise_var) of every CSI message, read straight from the PMT (the
        noiseless channels used here have noise_var 0, which messages.csi_from_pmt refuses)."""
        out = []
        for i in range(self.dbg.num_messages()):
            m = self.dbg.get_message(i)
            k = pmt.to_long(pmt.dict_ref(m, pmt.intern("k"), pmt.PMT_NIL))
            n_t = pmt.to_long(pmt.dict_ref(m, pmt.intern("n_t"), pmt.PMT_NIL))
            h = np.array(pmt.c64vector_elements(pmt.dict_ref(m, pmt.intern("h"), pmt.PMT_NIL)))
            nv = pmt.f64vector_elements(pmt.dict_ref(m, pmt.intern("noise_var"), pmt.PMT_NIL))
            seq = pmt.to_uint64(pmt.dict_ref(m, pmt.intern("seq"), pmt.PMT_NIL))
            out.append((seq, h.reshape(k, n_t), np.array(nv)))
        return out

    def out(self) -> np.ndarray:
        return np.array([s.data() for s in self.sinks], dtype=np.complex128)

    def out_tags(self, i: int) -> list[tuple[int, str, object]]:
        return sorted(sink_tags(self.sinks[i], pmt.to_python))


def f32(a: np.ndarray) -> np.ndarray:
    """Values as the block stores them (complex64)."""
    return np.asarray(a).astype(np.complex64).astype(np.complex128)


# ---------------------------------------------------------------------------------------------
# Eq. (6)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "n_t"), [(1, 1), (2, 2), (3, 2), (2, 4), (8, 8)])
def test_noiseless_output_is_h_hermitian_x(k: int, n_t: int) -> None:
    rng = np.random.default_rng(k * 10 + n_t)
    h = f32(cn(rng, k, n_t) * 1.7)
    x = f32(cn(rng, n_t, 3000))
    r = Run(x, h, [0.0] * k).run()
    y = r.out()
    want = np.conj(h) @ x  # y_i = h_i^H x
    for i in range(k):
        np.testing.assert_allclose(y[i], np.conj(h[i]) @ x, rtol=0, atol=2e-6 * n_t)
    np.testing.assert_allclose(y, want, rtol=0, atol=2e-6 * n_t)
    np.testing.assert_allclose(r.blk.h(), h.reshape(-1), rtol=1e-7)


def test_noise_variance_per_user() -> None:
    rng = np.random.default_rng(1)
    k, n_t, n = 3, 2, 100_000
    nv = [0.5, 2.0, 0.01]
    h = f32(cn(rng, k, n_t))
    x = f32(cn(rng, n_t, n))
    y = Run(x, h, nv, seed=3).run().out()
    noise = y - np.conj(h) @ x
    for i in range(k):
        z = noise[i]
        assert np.var(z) == pytest.approx(nv[i], rel=0.03)
        assert np.var(z.real) == pytest.approx(nv[i] / 2, rel=0.03)
        assert np.var(z.imag) == pytest.approx(nv[i] / 2, rel=0.03)
        assert abs(np.mean(z)) < 5 * math.sqrt(nv[i] / n)
        # circular: E[z^2] = 0
        assert abs(np.mean(z * z)) < 5 * nv[i] / math.sqrt(n)
    # independent across users
    c = np.corrcoef(noise)
    assert np.max(np.abs(c - np.diag(np.diag(c)))) < 0.02


@pytest.mark.parametrize("k", [1, 3])
def test_seed_reproducibility(k: int) -> None:
    """Same seed, same output; another seed, other noise. The runs use one sample per work
    call, which makes the split of the stream into work calls the same in every run (see the
    expected failure below for why that matters)."""
    rng = np.random.default_rng(2)
    h = f32(cn(rng, k, 2))
    x = f32(cn(rng, 2, 3000))
    nv = [0.3] * k
    a, b = (Run(x, h, nv, seed=42, chunk=1).run().out() for _ in range(2))
    np.testing.assert_array_equal(a, b)
    other = Run(x, h, nv, seed=43, chunk=1).run().out()
    assert np.mean(np.abs(a - other) > 1e-4) > 0.99
    if k > 1:
        c = np.corrcoef(a - np.conj(h) @ x)
        assert np.max(np.abs(c - np.diag(np.diag(c)))) < 0.1  # users get different noise


def test_single_user_noise_does_not_depend_on_work_sizes() -> None:
    """One user draws one generator output per sample, in order, whatever the work sizes
    (equal up to float rounding of the vectorised Box-Muller transform)."""
    rng = np.random.default_rng(3)
    h = f32(cn(rng, 1, 2))
    x = f32(cn(rng, 2, 3000))
    runs = [Run(x, h, [0.3], seed=42, chunk=c).run().out() for c in (0, 333, 1000, 1)]
    for y in runs[1:]:
        np.testing.assert_allclose(y, runs[0], rtol=0, atol=1e-6)


def test_seed_reproducibility_does_not_depend_on_work_sizes() -> None:
    rng = np.random.default_rng(2)
    h = f32(cn(rng, 2, 2))
    x = f32(cn(rng, 2, 5000))
    a = Run(x, h, [0.3, 0.3], seed=42).run().out()
    b = Run(x, h, [0.3, 0.3], seed=42, chunk=333).run().out()
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_constructor_rejects_bad_parameters() -> None:
    h = [1, 0, 0, 1]
    for args in [
        (2, 2, [1, 0, 0], [1.0, 1.0]),
        (2, 2, h, [1.0]),
        (2, 2, h, [1.0, -1.0]),
        (2, 2, h, [1.0, math.nan]),
        (2, 2, [complex(math.inf, 0), 0, 0, 1], [1.0, 1.0]),
    ]:
        with pytest.raises(ValueError):
            semdacom.miso_channel(*args)
    with pytest.raises(ValueError):
        semdacom.miso_channel(2, 2, h, [1.0, 1.0], 0, -1, 0)
    with pytest.raises(ValueError):
        semdacom.miso_channel(2, 2, h, [1.0, 1.0], 0, 0, -5)


# ---------------------------------------------------------------------------------------------
# CSI port
# ---------------------------------------------------------------------------------------------


def test_csi_published_at_start() -> None:
    rng = np.random.default_rng(3)
    h = cn(rng, 3, 2)
    nv = [0.1, 0.2, 0.4]
    r = Run(f32(cn(rng, 2, 100)), h, nv).run()
    assert r.blk.csi_seq() == 1
    msgs = r.csi()
    assert len(msgs) == 1
    c = messages.csi_from_pmt(r.dbg.get_message(0), k=3, n_t=2)
    assert c.seq == 1 and c.frame == 0  # the channel of the first frame
    np.testing.assert_allclose(c.h, h, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(c.noise_var, nv)


def test_set_h_and_set_noise_var_publish_new_csi() -> None:
    rng = np.random.default_rng(4)
    k, n_t, n, hold = 2, 2, 4000, 2000
    h0, h1 = f32(cn(rng, k, n_t)), f32(cn(rng, k, n_t))
    x = f32(cn(rng, n_t, n))
    r = Run(x, h0, [1e-10, 1e-10], hold_at=hold)
    r.tb.start()
    try:
        wait_for(lambda: r.blk.nitems_read(0) == hold, "the channel to reach the hold")
        r.wait_csi(1)
        r.blk.set_h(list(h1.reshape(-1)))
        r.blk.set_noise_var([0.25, 0.5])
        r.wait_csi(3)
        np.testing.assert_allclose(r.blk.h(), h1.reshape(-1), rtol=1e-7)
        assert r.blk.noise_var() == [0.25, 0.5]
        r.blk.set_noise_var([0.0, 0.0])
        r.wait_csi(4)
    finally:
        r.gated.gate.set()
        r.tb.wait()
    assert r.blk.csi_seq() == 4
    seqs = [
        pmt.to_uint64(pmt.dict_ref(r.dbg.get_message(i), pmt.intern("seq"), pmt.PMT_NIL))
        for i in range(4)
    ]
    assert seqs == [1, 2, 3, 4]
    first = [messages.csi_from_pmt(r.dbg.get_message(i), k=k, n_t=n_t) for i in range(3)]
    np.testing.assert_allclose(first[0].h, h0, atol=1e-7)
    np.testing.assert_allclose(first[1].h, h1, atol=1e-7)
    np.testing.assert_allclose(first[2].h, h1, atol=1e-7)
    np.testing.assert_array_equal(first[2].noise_var, [0.25, 0.5])
    # the new channel is in force after the hold, with no noise at the end
    y = r.out()
    assert y.shape == (k, n)
    np.testing.assert_allclose(y[:, :hold], np.conj(h0) @ x[:, :hold], atol=1e-4)
    np.testing.assert_allclose(y[:, hold:], np.conj(h1) @ x[:, hold:], atol=1e-5)


def test_csi_of_noiseless_channel_is_readable() -> None:
    r = Run(np.ones((1, 10), np.complex64), np.ones((1, 1)), [0.0]).run()
    messages.csi_from_pmt(r.dbg.get_message(0))


# ---------------------------------------------------------------------------------------------
# Rayleigh block fading
# ---------------------------------------------------------------------------------------------


def check_fading(r: Run, x_col: np.ndarray, F: int, n_frames: int, every: int) -> None:
    """Noiseless channel, constant input: the output is constant within every block of
    ``every`` frames, changes between blocks, and matches the CSI of its block."""
    y = r.out()
    k = y.shape[0]
    n_epochs = -(-n_frames // every)
    csi = r.csi()
    assert len(csi) == n_epochs == r.blk.csi_seq()
    assert [c[0] for c in csi] == list(range(1, n_epochs + 1))
    # each CSI names the first frame of its channel (the optimiser's apply_frame base)
    frames = [messages.csi_from_pmt(r.dbg.get_message(i)).frame for i in range(n_epochs)]
    assert frames == [e * every for e in range(n_epochs)]
    for e in range(n_epochs):
        seg = y[:, e * every * F : min(n_frames, (e + 1) * every) * F]
        want = np.conj(csi[e][1]) @ x_col
        np.testing.assert_allclose(seg, np.repeat(want[:, None], seg.shape[1], 1), atol=1e-5)
        if e:
            prev = y[:, e * every * F - 1]
            assert np.all(np.abs(seg[:, 0] - prev) > 1e-4)
    assert y.shape == (k, n_frames * F)


@pytest.mark.parametrize(("every", "chunk"), [(1, 0), (3, 0), (3, 47), (4, 100)])
def test_rayleigh_redraws_at_frame_boundaries_from_tags(every: int, chunk: int) -> None:
    F, n_frames = 100, 20
    n = F * n_frames
    x_col = np.array([1.0, 0.5j], dtype=complex)
    x = np.repeat(x_col[:, None], n, 1).astype(np.complex64)
    h = np.array([[1.0, 1.0j], [2.0, 0.0]])
    r = Run(
        x,
        h,
        [0.0, 0.0],
        seed=5,
        fading_frames=every,
        tags=[frame_tags(n, F)],
        chunk=chunk,
    ).run()
    check_fading(r, x_col, F, n_frames, every)


def test_rayleigh_redraws_with_fixed_frame_length() -> None:
    F, n_frames, every = 64, 12, 2
    n = F * n_frames
    x_col = np.array([1.0 - 1j], dtype=complex)
    x = np.repeat(x_col[:, None], n, 1).astype(np.complex64)
    r = Run(x, np.array([[1.0], [0.3j]]), [0.0, 0.0], seed=6, fading_frames=every, frame_len=F)
    r.blk.set_max_noutput_items(50)
    check_fading(r.run(), x_col, F, n_frames, every)


def test_rayleigh_keeps_mean_gain_per_user() -> None:
    F, n_frames = 4, 2000
    n = F * n_frames
    h = np.array([[1.0, 1.0, 1.0, 1.0], [0.1, 0.0, 0.2j, 0.0]])  # ||h_i||^2 / N_t = 1, 0.0125
    x = np.zeros((4, n), np.complex64)
    r = Run(x, h, [0.0, 0.0], seed=8, fading_frames=1, frame_len=F).run()
    draws = np.array([c[1] for c in r.csi()])
    assert draws.shape == (n_frames, 2, 4)
    gain = np.mean(np.abs(draws) ** 2, axis=(0, 2))
    np.testing.assert_allclose(gain, [1.0, 0.0125], rtol=0.05)


def test_no_redraw_without_fading() -> None:
    F, n = 50, 1000
    r = Run(np.ones((2, n), np.complex64), np.eye(2), [0.0, 0.0], tags=[frame_tags(n, F)]).run()
    assert r.blk.csi_seq() == 1 and len(r.csi()) == 1
    np.testing.assert_allclose(r.out(), np.ones((2, n)), atol=1e-7)


# ---------------------------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "n_t", "chunk"), [(2, 2, 0), (4, 3, 31), (3, 1, 7)])
def test_tags_route_to_their_user(k: int, n_t: int, chunk: int) -> None:
    """Frame tags reach every user once; user tags (wrapped by the beamformer) their user;
    other tags of antenna 0 are user 0's; tags of the other antennas are not forwarded."""
    rng = np.random.default_rng(9)
    n = 613
    frames = frame_tags(n, 60)
    user_tags = [
        make_tag(
            7 + u,
            pmt.intern("semdacom_user_tag"),
            pmt.make_tuple(pmt.from_long(u), pmt.intern("mine"), pmt.from_long(10 * u)),
        )
        for u in range(k)
    ]
    malformed = [
        make_tag(9, pmt.intern("semdacom_user_tag"), pmt.make_tuple(pmt.from_long(k))),
        make_tag(11, pmt.intern("semdacom_user_tag"), pmt.intern("not a tuple")),
    ]
    note = [make_tag(100, pmt.intern("note"), pmt.from_double(2.5))]
    tags0 = frames + user_tags + malformed + note
    tags1 = [make_tag(3, pmt.intern("from_input_1"), pmt.PMT_T)]
    r = Run(
        f32(cn(rng, n_t, n)),
        cn(rng, k, n_t),
        [0.1] * k,
        fading_frames=2,
        tags=[tags0, tags1],
        chunk=chunk,
    ).run()

    def rows(tags):
        return [(t.offset, pmt.symbol_to_string(t.key), pmt.to_python(t.value)) for t in tags]

    only_frames = [t for t in frames if pmt.eq(t.key, FRAME)]
    packet_len = [t for t in frames if not pmt.eq(t.key, FRAME)]  # user 0's, like the note
    # every new channel (fading_frames=2: frames 2, 4, ...) is announced on every output by a
    # semdacom_csi tag with its CSI message's seq (1 is the first channel's, at start)
    news = [t for t in only_frames if pmt.to_python(t.value) % 2 == 0 and t.offset > 0]
    csi = [(t.offset, "semdacom_csi", 2 + i) for i, t in enumerate(news)]
    for u in range(k):
        want = rows(only_frames) + [(7 + u, "mine", 10 * u)] + csi
        if u == 0:
            want += rows(packet_len) + rows(malformed) + rows(note)
        got = r.out_tags(u)  # a semdacom_csi tag's value is (origin, seq): one origin
        assert len({v[0] for _, key, v in got if key == "semdacom_csi"}) == 1, u
        got = [(o, key, v[1] if key == "semdacom_csi" else v) for o, key, v in got]
        assert got == sorted(want), u
    assert r.out().shape == (k, n)
