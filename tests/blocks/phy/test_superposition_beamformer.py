"""QA of the C++ ``superposition_beamformer`` block (MU-ASCC eq. 5, docs/architecture.md §3-§4).

Vector sources feed the K user streams, vector sinks collect the N_t antenna streams, and the
output is compared with eq. (5) computed in numpy. Allocation dicts are posted to the ``cmd``
port before the flowgraph starts (the scheduler handles queued messages before the first call
to ``work``), which makes the frame at which an allocation takes effect deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pmt
import pytest
from block_harness import make_tag, sink_tags
from gnuradio import blocks, gr, semdacom
from gnuradio.semdacom import messages
from gnuradio.semdacom.messages import Allocation

FRAME = pmt.intern("frame")
PACKET_LEN = pmt.intern("packet_len")

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def unit_rows(rng: np.random.Generator, k: int, n_t: int) -> np.ndarray:
    w = rng.standard_normal((k, n_t)) + 1j * rng.standard_normal((k, n_t))
    return w / np.linalg.norm(w, axis=1, keepdims=True)


def symbols(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """K streams of unit-energy complex Gaussian symbols, complex64."""
    g = (rng.standard_normal((k, n)) + 1j * rng.standard_normal((k, n))) / math.sqrt(2)
    return g.astype(np.complex64)


def eq5(g: np.ndarray, power: Sequence[float], w: np.ndarray) -> np.ndarray:
    """x = sum_i sqrt(p_i) w_i g_i, shape (N_t, n)."""
    amp = np.sqrt(np.asarray(power, dtype=float))
    return np.einsum("i,ia,in->an", amp, np.asarray(w), g.astype(np.complex128))


def piecewise(g: np.ndarray, segments: Sequence[tuple[int, Sequence[float], np.ndarray]]):
    """Eq. (5) with the allocation ``(power, w)`` of each segment from its start sample on."""
    n = g.shape[1]
    out = np.empty((np.shape(segments[0][2])[1], n), dtype=np.complex128)
    bounds = [s[0] for s in segments] + [n]
    for (start, power, w), stop in zip(segments, bounds[1:], strict=True):
        out[:, start:stop] = eq5(g[:, start:stop], power, w)
    return out


def frame_tags(starts: Sequence[int], numbers: Sequence[int] | None = None) -> list[gr.tag_t]:
    """``frame`` (u64) and ``packet_len`` (long) tags at the given frame starts."""
    numbers = range(len(starts)) if numbers is None else numbers
    ends = list(starts[1:]) + [starts[-1]]
    tags = []
    for s, e, f in zip(starts, ends, numbers, strict=True):
        tags.append(make_tag(s, FRAME, pmt.from_uint64(f)))
        tags.append(make_tag(s, PACKET_LEN, pmt.from_long(max(e - s, 0))))
    return tags


def alloc_msg(seq: int, power: Sequence[float], w: np.ndarray, apply_frame: int = 0) -> object:
    return messages.alloc_to_pmt(
        Allocation(
            seq=seq, apply_frame=apply_frame, power=np.asarray(power, float), w=np.asarray(w)
        )
    )


class Run:
    """One flowgraph run: K vector sources -> superposition_beamformer -> N_t vector sinks."""

    def __init__(
        self,
        g: np.ndarray,
        power: Sequence[float],
        w: np.ndarray,
        *,
        frame_len: int = 0,
        tags: Sequence[Sequence[gr.tag_t]] = (),
        before: Callable[[object], None] | None = None,
        chunk: int = 0,
    ) -> None:
        k, n = g.shape
        n_t = np.shape(w)[1]
        self.tb = gr.top_block()
        self.blk = semdacom.superposition_beamformer(
            k, n_t, list(map(float, power)), list(np.asarray(w).reshape(-1)), frame_len
        )
        if chunk:
            # force many work calls, so that frame boundaries fall inside and at the start
            # of calls
            self.blk.set_max_noutput_items(chunk)
        tags = list(tags) + [[]] * (k - len(tags))
        self.srcs = [
            blocks.vector_source_c(g[i].tolist(), False, 1, list(tags[i])) for i in range(k)
        ]
        self.sinks = [blocks.vector_sink_c() for _ in range(n_t)]
        for i, s in enumerate(self.srcs):
            self.tb.connect(s, (self.blk, i))
        for a, s in enumerate(self.sinks):
            self.tb.connect((self.blk, a), s)
        if before is not None:
            before(self.blk)
        self.tb.run()

    def out(self) -> np.ndarray:
        return np.array([s.data() for s in self.sinks], dtype=np.complex128)

    def out_tags(self, a: int) -> list[tuple[int, str, object]]:
        return sorted(sink_tags(self.sinks[a], pmt.to_python))


def post(blk: object, msg: object) -> None:
    blk.to_basic_block()._post(pmt.intern("cmd"), msg)


def assert_out(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=2e-6 * scale)


def assert_alloc(blk: object, power: Sequence[float], w: np.ndarray) -> None:
    np.testing.assert_allclose(blk.power(), power, rtol=1e-15)
    np.testing.assert_allclose(blk.w(), np.asarray(w).reshape(-1), rtol=0, atol=1e-7)


# A fixed 2x2 set-up whose allocations differ enough that every sample tells them apart.
W0 = np.eye(2, dtype=complex)
P0 = [1.0, 1.0]
W1 = np.array([[1, 1j], [1, -1]], dtype=complex) / math.sqrt(2)
P1 = [4.0, 0.25]
W2 = np.array([[0.6, 0.8j], [-0.8j, 0.6]], dtype=complex)
P2 = [0.5, 9.0]


# ---------------------------------------------------------------------------------------------
# Eq. (5)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "n_t"), [(1, 1), (2, 2), (3, 2), (8, 8)])
def test_output_is_eq5(k: int, n_t: int) -> None:
    rng = np.random.default_rng(10 * k + n_t)
    g = symbols(rng, k, 4000)
    power = rng.uniform(0.0, 3.0, k)
    power[0] = 0.0 if k > 2 else power[0]  # a silent user contributes nothing
    w = unit_rows(rng, k, n_t)
    r = Run(g, power, w)
    assert_out(r.out(), eq5(g, power, w))
    assert_alloc(r.blk, power, w)
    assert r.blk.applied_seq() == 0 and r.blk.pending() == 0 and r.blk.rejected() == 0


def test_constructor_rejects_bad_initial_allocation() -> None:
    for power, w in [
        ([1.0], [1, 0, 0, 1]),  # K powers expected
        ([1.0, -1.0], [1, 0, 0, 1]),
        ([1.0, math.nan], [1, 0, 0, 1]),
        ([1.0, 1.0], [1, 0, 0]),
        ([1.0, 1.0], [2, 0, 0, 1]),  # not unit-norm
    ]:
        with pytest.raises(ValueError):
            semdacom.superposition_beamformer(2, 2, power, w, 0)
    with pytest.raises(ValueError):
        semdacom.superposition_beamformer(2, 2, [1.0, 1.0], [1, 0, 0, 1], -1)


# ---------------------------------------------------------------------------------------------
# Allocations through `cmd`: exact frame timing
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [0, 37, 64])
def test_cmd_applies_at_the_boundary_of_apply_frame(chunk: int) -> None:
    F, n_frames = 64, 10
    g = symbols(np.random.default_rng(1), 2, F * n_frames)
    tags = frame_tags(range(0, F * n_frames, F))
    r = Run(
        g,
        P0,
        W0,
        tags=[tags],
        chunk=chunk,
        before=lambda b: post(b, alloc_msg(7, P1, W1, apply_frame=3)),
    )
    assert_out(r.out(), piecewise(g, [(0, P0, W0), (3 * F, P1, W1)]))
    assert_alloc(r.blk, P1, W1)
    assert r.blk.applied_seq() == 7 and r.blk.pending() == 0 and r.blk.rejected() == 0


def test_cmd_applies_at_first_boundary_at_or_after_apply_frame() -> None:
    """Frames of unequal length numbered 0, 2, 4, ...: apply_frame 3 takes effect at frame 4,
    i.e. at that tag's sample and not on any fixed grid."""
    starts = [0, 50, 120, 150, 240, 300]
    numbers = [0, 2, 4, 6, 8, 10]
    g = symbols(np.random.default_rng(2), 2, 360)
    r = Run(
        g,
        P0,
        W0,
        tags=[frame_tags(starts, numbers)],
        chunk=45,
        before=lambda b: post(b, alloc_msg(1, P1, W1, apply_frame=3)),
    )
    assert_out(r.out(), piecewise(g, [(0, P0, W0), (120, P1, W1)]))
    assert r.blk.applied_seq() == 1


def test_cmd_waits_for_a_boundary_even_when_due() -> None:
    """The stream starts mid-frame: an allocation due at once (apply_frame 0) still waits for
    the first frame boundary, and one never reached stays pending."""
    g = symbols(np.random.default_rng(3), 2, 300)
    r = Run(
        g,
        P0,
        W0,
        tags=[frame_tags([25, 125, 225], [4, 5, 6])],
        before=lambda b: (
            post(b, alloc_msg(1, P1, W1, apply_frame=0)),
            post(b, alloc_msg(2, P2, W2, apply_frame=50)),
        ),
    )
    assert_out(r.out(), piecewise(g, [(0, P0, W0), (25, P1, W1)]))
    assert r.blk.applied_seq() == 1 and r.blk.pending() == 1
    assert_alloc(r.blk, P1, W1)


def test_cmd_with_fixed_frame_length() -> None:
    """frame_len > 0: boundaries every frame_len samples; `frame` tags are not used."""
    F = 50
    g = symbols(np.random.default_rng(4), 2, 500)
    misleading = [make_tag(10, FRAME, pmt.from_uint64(9)), make_tag(75, FRAME, pmt.from_uint64(3))]
    r = Run(
        g,
        P0,
        W0,
        frame_len=F,
        tags=[misleading],
        chunk=33,
        before=lambda b: post(b, alloc_msg(3, P1, W1, apply_frame=3)),
    )
    assert_out(r.out(), piecewise(g, [(0, P0, W0), (3 * F, P1, W1)]))
    assert r.blk.applied_seq() == 3


def test_queued_allocations_apply_in_apply_frame_order() -> None:
    """Partial allocations due out of seq order: each applies at its frame (issue 24: a newer
    seq removes from an older one due later only the keys it carries itself)."""
    F = 40
    g = symbols(np.random.default_rng(5), 2, 10 * F)
    tags = frame_tags(range(0, 10 * F, F))
    power_late = messages.alloc_to_pmt(Allocation(seq=10, apply_frame=6, power=np.array(P2)))
    beams_early = messages.alloc_to_pmt(Allocation(seq=11, apply_frame=3, w=W1))

    def before(b: object) -> None:
        post(b, power_late)  # posted first, applies last
        post(b, beams_early)

    r = Run(g, P0, W0, tags=[tags], chunk=25, before=before)
    assert_out(r.out(), piecewise(g, [(0, P0, W0), (3 * F, P0, W1), (6 * F, P2, W1)]))
    assert r.blk.applied_seq() == 10 and r.blk.pending() == 0
    assert_alloc(r.blk, P2, W1)


def test_partial_allocations_change_only_their_keys() -> None:
    F = 40
    g = symbols(np.random.default_rng(6), 2, 8 * F)
    power_only = messages.alloc_to_pmt(Allocation(seq=1, apply_frame=2, power=np.array(P1)))
    beams_only = pmt.dict_add(
        pmt.dict_add(pmt.make_dict(), pmt.intern("seq"), pmt.from_uint64(2)),
        pmt.intern("w"),
        pmt.init_c64vector(4, W2.reshape(-1).tolist()),
    )
    beams_only = pmt.dict_add(beams_only, pmt.intern("apply_frame"), pmt.from_uint64(5))
    other_keys = messages.alloc_to_pmt(Allocation(seq=3, rc=np.array([1.0, 2.0])))

    def before(b: object) -> None:
        for m in (power_only, beams_only, other_keys):
            post(b, m)

    r = Run(g, P0, W0, tags=[frame_tags(range(0, 8 * F, F))], before=before)
    assert_out(r.out(), piecewise(g, [(0, P0, W0), (2 * F, P1, W0), (5 * F, P1, W2)]))
    assert r.blk.applied_seq() == 2 and r.blk.rejected() == 0 and r.blk.pending() == 0


def test_same_apply_frame_later_message_wins() -> None:
    F = 30
    g = symbols(np.random.default_rng(7), 2, 6 * F)

    def before(b: object) -> None:
        post(b, alloc_msg(1, P1, W1, apply_frame=2))
        post(b, alloc_msg(2, P2, W2, apply_frame=2))

    r = Run(g, P0, W0, tags=[frame_tags(range(0, 6 * F, F))], before=before)
    assert_out(r.out(), piecewise(g, [(0, P0, W0), (2 * F, P2, W2)]))
    assert r.blk.applied_seq() == 2


def test_set_allocation_from_python_applies_at_next_boundary() -> None:
    g = symbols(np.random.default_rng(8), 2, 300)

    def before(b: object) -> None:
        b.set_allocation(P1, list(W1.reshape(-1)))
        assert b.pending() == 1
        assert_alloc(b, P0, W0)  # queued, not applied yet

    r = Run(g, P0, W0, tags=[frame_tags([20, 120, 220])], chunk=16, before=before)
    assert_out(r.out(), piecewise(g, [(0, P0, W0), (20, P1, W1)]))
    assert_alloc(r.blk, P1, W1)
    assert r.blk.pending() == 0


@pytest.mark.parametrize(
    ("power", "w"),
    [
        ([1.0], list(W1.reshape(-1))),
        ([1.0, -0.5], list(W1.reshape(-1))),
        ([1.0, math.inf], list(W1.reshape(-1))),
        (P1, list(W1.reshape(-1))[:3]),
        (P1, [complex(math.nan, 0.0)] + list(W1.reshape(-1))[1:]),
        pytest.param(P1, list(2 * W1.reshape(-1)), id="non-unit-beam"),
    ],
)
def test_set_allocation_rejects_bad_values(power: list, w: list) -> None:
    blk = semdacom.superposition_beamformer(2, 2, P0, list(W0.reshape(-1)), 0)
    with pytest.raises(ValueError):
        blk.set_allocation(power, w)
    assert blk.pending() == 0
    assert_alloc(blk, P0, W0)


# ---------------------------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "n_t", "chunk"), [(2, 2, 0), (3, 4, 29), (1, 3, 7)])
def test_tags_reach_antennas_once_other_users_wrapped(k: int, n_t: int, chunk: int) -> None:
    """User 0's tags go to every antenna as they are; user i's ride on antenna 0 wrapped."""
    rng = np.random.default_rng(9)
    F = 50
    g = symbols(rng, k, 10 * F + 13)
    tags0 = frame_tags(range(0, 10 * F + 13, F)) + [
        make_tag(77, pmt.intern("note"), pmt.intern("hello"))
    ]
    tags_other = [
        [
            make_tag(5 + i, pmt.intern("from_input"), pmt.from_long(i)),
            make_tag(50, pmt.intern("frame"), pmt.from_uint64(99)),  # frames come from input 0
        ]
        for i in range(1, k)
    ]
    r = Run(g, [1.0] * k, unit_rows(rng, k, n_t), tags=[tags0, *tags_other], chunk=chunk)
    want = sorted((t.offset, pmt.symbol_to_string(t.key), pmt.to_python(t.value)) for t in tags0)
    wrapped = [(5 + i, "semdacom_user_tag", (i, "from_input", i)) for i in range(1, k)]
    assert r.out_tags(0) == sorted(want + wrapped)
    for a in range(1, n_t):
        assert r.out_tags(a) == want
    assert r.out().shape == (n_t, 10 * F + 13)


# ---------------------------------------------------------------------------------------------
# Bad input on `cmd`
# ---------------------------------------------------------------------------------------------


def bad_cmd_messages(k: int, n_t: int, good: object) -> list[tuple[str, object]]:
    """Messages that break the allocation schema, each with what is wrong."""
    rng = np.random.default_rng(0)
    w = unit_rows(rng, k, n_t).reshape(-1)
    p = [1.0] * k

    def with_key(key: str, value: object, base: object = good) -> object:
        return pmt.dict_add(base, pmt.intern(key), value)

    no_seq = pmt.dict_add(pmt.make_dict(), pmt.intern("power"), pmt.init_f64vector(k, p))
    return [
        ("not a dict: symbol", pmt.intern("set power")),
        ("not a dict: number", pmt.from_double(2.0)),
        ("not a dict: vector", pmt.init_f64vector(k, p)),
        ("PDU pair", pmt.cons(pmt.make_dict(), pmt.init_u8vector(3, [1, 2, 3]))),
        ("PDU pair around an allocation", pmt.cons(good, pmt.init_u8vector(1, [0]))),
        ("no seq", no_seq),
        ("negative seq", with_key("seq", pmt.from_long(-1))),
        ("seq is a double", with_key("seq", pmt.from_double(3.0))),
        ("apply_frame is a symbol", with_key("apply_frame", pmt.intern("now"))),
        ("power NaN", with_key("power", pmt.init_f64vector(k, [math.nan] + p[1:]))),
        ("power inf", with_key("power", pmt.init_f64vector(k, p[:-1] + [math.inf]))),
        ("negative power", with_key("power", pmt.init_f64vector(k, [-1.0] + p[1:]))),
        ("power too long", with_key("power", pmt.init_f64vector(k + 1, p + [1.0]))),
        ("power empty", with_key("power", pmt.init_f64vector(0, []))),
        ("power complex", with_key("power", pmt.init_c64vector(k, p))),
        ("power a scalar", with_key("power", pmt.from_double(1.0))),
        ("w too short", with_key("w", pmt.init_c64vector(k * n_t - 1, w[1:].tolist()))),
        ("w real", with_key("w", pmt.init_f64vector(k * n_t, np.abs(w).tolist()))),
        (
            "w NaN",
            with_key("w", pmt.init_c64vector(k * n_t, [complex(math.nan, 0)] + w[1:].tolist())),
        ),
        ("w not unit-norm", with_key("w", pmt.init_c64vector(k * n_t, (1.5 * w).tolist()))),
        ("w zero", with_key("w", pmt.init_c64vector(k * n_t, [0j] * (k * n_t)))),
    ]


@pytest.mark.parametrize(("k", "n_t"), [(2, 2), (3, 2)])
def test_bad_cmd_messages_are_dropped_and_state_kept(k: int, n_t: int, capfd) -> None:
    rng = np.random.default_rng(11)
    F, n_frames = 64, 8
    n = F * n_frames
    g = symbols(rng, k, n)
    p0, w0 = [1.0] * k, unit_rows(rng, k, n_t)
    p_good, w_good = list(rng.uniform(0.1, 2.0, k)), unit_rows(rng, k, n_t)
    good = alloc_msg(5, p_good, w_good, apply_frame=2)
    bad = bad_cmd_messages(k, n_t, good)

    def before(b: object) -> None:
        post(b, good)
        for _, m in bad:
            post(b, m)

    r = Run(g, p0, w0, tags=[frame_tags(range(0, n, F))], chunk=50, before=before)
    assert r.blk.rejected() == len(bad)
    assert r.blk.applied_seq() == 5 and r.blk.pending() == 0
    assert_alloc(r.blk, p_good, w_good)
    out = r.out()
    assert out.shape == (n_t, n)  # output count == input count
    assert_out(out, piecewise(g, [(0, p0, w0), (2 * F, p_good, w_good)]))
    log = "".join(capfd.readouterr())
    assert log.count("dropped malformed allocation") == len(bad)


def test_bad_cmd_messages_alone_keep_initial_allocation() -> None:
    g = symbols(np.random.default_rng(12), 2, 256)

    def before(b: object) -> None:
        for _, m in bad_cmd_messages(2, 2, alloc_msg(1, P1, W1)):
            post(b, m)

    r = Run(g, P0, W0, tags=[frame_tags(range(0, 256, 32))], before=before)
    assert r.blk.rejected() == len(bad_cmd_messages(2, 2, alloc_msg(1, P1, W1)))
    assert r.blk.applied_seq() == 0 and r.blk.pending() == 0
    assert_alloc(r.blk, P0, W0)
    assert_out(r.out(), eq5(g, P0, W0))


# ---------------------------------------------------------------------------------------------
# Issue 12 regressions: a huge power, and older allocations
# ---------------------------------------------------------------------------------------------


def _run_with_deadline(blk, g: np.ndarray, n_t: int, timeout: float = 20.0) -> np.ndarray:
    """K vector sources -> blk -> N_t sinks, started and waited for with a deadline (a block
    whose thread died would otherwise hang ``tb.run()``)."""
    import time

    tb = gr.top_block()
    srcs = [blocks.vector_source_c(g[i].tolist(), False) for i in range(g.shape[0])]
    sinks = [blocks.vector_sink_c() for _ in range(n_t)]
    for i, s in enumerate(srcs):
        tb.connect(s, (blk, i))
    for a, s in enumerate(sinks):
        tb.connect((blk, a), s)
    tb.start()
    t0 = time.monotonic()
    # every sink, not only the first: the block's outputs reach their sinks one after another
    while min(len(s.data()) for s in sinks) < g.shape[1] and time.monotonic() - t0 < timeout:
        time.sleep(0.01)
    tb.stop()
    tb.wait()
    data = [s.data() for s in sinks]
    assert len({len(d) for d in data}) == 1, f"sinks got {[len(d) for d in data]} samples"
    return np.array(data, dtype=np.complex128)


def test_huge_finite_power_is_rejected_and_the_thread_survives() -> None:
    """Defect 1: power 1e80 is finite and non-negative but sqrt(p) w overflows the float
    kernel; it must be rejected by the documented limit, and later allocations still apply."""
    rng = np.random.default_rng(12)
    k, n_t, flen = 2, 2, 100
    g = symbols(rng, k, 1000)
    w = np.eye(2, dtype=complex)
    blk = semdacom.superposition_beamformer(k, n_t, [1.0, 1.0], list(w.reshape(-1)), flen)
    huge = pmt.dict_add(  # by hand: alloc_to_pmt itself refuses this power
        alloc_msg(1, [1.0, 0.1], w, apply_frame=2),
        pmt.intern("power"),
        pmt.init_f64vector(2, [1e80, 0.1]),
    )
    later = alloc_msg(2, [0.5, 0.25], w, apply_frame=5)
    blk.to_basic_block()._post(pmt.intern("cmd"), huge)
    blk.to_basic_block()._post(pmt.intern("cmd"), later)
    out = _run_with_deadline(blk, g, n_t)
    assert out.shape[1] == 1000, "the beamformer thread died"
    assert blk.rejected() == 1
    want = piecewise(g, [(0, [1.0, 1.0], w), (500, [0.5, 0.25], w)])
    np.testing.assert_allclose(out, want, atol=1e-5)
    assert semdacom.max_power_w() == messages.MAX_POWER_W


def test_older_or_equal_seq_is_dropped() -> None:
    """Defect 5: an allocation whose seq is not newer than the last one taken is dropped."""
    rng = np.random.default_rng(5)
    k, n_t, flen = 2, 2, 100
    g = symbols(rng, k, 600)
    w = np.eye(2, dtype=complex)
    blk = semdacom.superposition_beamformer(k, n_t, [1.0, 1.0], list(w.reshape(-1)), flen)
    for msg in (
        alloc_msg(5, [0.5, 0.5], w, apply_frame=1),
        alloc_msg(3, [2.0, 2.0], w, apply_frame=2),  # older: dropped
        alloc_msg(5, [3.0, 3.0], w, apply_frame=3),  # same seq: dropped
    ):
        blk.to_basic_block()._post(pmt.intern("cmd"), msg)
    out = _run_with_deadline(blk, g, n_t)
    want = piecewise(g, [(0, [1.0, 1.0], w), (100, [0.5, 0.5], w)])
    np.testing.assert_allclose(out, want, atol=1e-5)
    assert blk.applied_seq() == 5 and blk.rejected() == 2


def test_frame_log_records_the_allocation_each_frame_was_sent_with() -> None:
    """frame_log(): (frame, seq in force) for every frame that started, so a closed loop can
    check that the beamformer switched at the same frame as every other block."""
    F, n_frames = 32, 6
    g = symbols(np.random.default_rng(2), 2, F * n_frames)
    r = Run(
        g,
        P0,
        W0,
        tags=[frame_tags(range(0, F * n_frames, F))],
        before=lambda b: (
            post(b, alloc_msg(4, P1, W1, apply_frame=2)),
            post(b, alloc_msg(5, P2, W2, apply_frame=4)),
        ),
    )
    assert r.blk.frame_log() == [(0, 0), (1, 0), (2, 4), (3, 4), (4, 5), (5, 5)]


# ---------------------------------------------------------------------------------------------
# Issue 24: epochs, one ordering rule, a bounded queue
# ---------------------------------------------------------------------------------------------


def epoch_msg(seq: int, power, w, apply_frame: int = 0, epoch: int = 0) -> object:
    msg = alloc_msg(seq, power, w, apply_frame)
    return pmt.dict_add(msg, pmt.intern("epoch"), pmt.from_uint64(epoch))


def test_restarted_optimizer_is_taken_under_a_new_epoch() -> None:
    """Issue 24, Why 1: after seq = 2**64-1 (or any seq of a previous optimiser instance) the
    allocations of a new instance (new epoch, seq from 1) used to be dropped for good."""
    F = 30
    g = symbols(np.random.default_rng(11), 2, 6 * F)

    def before(b: object) -> None:
        post(b, epoch_msg(2**64 - 1, P1, W1, apply_frame=1, epoch=5))
        post(b, epoch_msg(1, P2, W2, apply_frame=3, epoch=6))

    r = Run(g, P0, W0, tags=[frame_tags(range(0, 6 * F, F))], before=before)
    # both arrive before the first frame: the new epoch drops what epoch 5 left pending
    assert_out(r.out(), piecewise(g, [(0, P0, W0), (3 * F, P2, W2)]))
    assert r.blk.applied_seq() == 1 and r.blk.rejected() == 0


def test_newer_seq_for_an_earlier_frame_stays_in_force() -> None:
    """Issue 24, Why 2: seq 5 for frame 4, then seq 6 for frame 2: from frame 2 on seq 6 is in
    force (seq 5 used to replace it at frame 4)."""
    F = 30
    g = symbols(np.random.default_rng(12), 2, 6 * F)

    def before(b: object) -> None:
        post(b, alloc_msg(5, P1, W1, apply_frame=4))
        post(b, alloc_msg(6, P2, W2, apply_frame=2))

    r = Run(g, P0, W0, tags=[frame_tags(range(0, 6 * F, F))], before=before)
    assert_out(r.out(), piecewise(g, [(0, P0, W0), (2 * F, P2, W2)]))
    assert r.blk.applied_seq() == 6 and r.blk.pending() == 0


def test_pending_queue_is_capped() -> None:
    """Issue 24, Why 4: far-future allocations used to grow the pending queue without limit;
    at most allocation_schedule.max_pending() wait, the rest are dropped and counted."""
    n = 2000
    g = symbols(np.random.default_rng(13), 2, 64)

    def before(b: object) -> None:
        for s in range(1, n + 1):
            post(b, alloc_msg(s, P1, W1, 10**12 + s))

    r = Run(g, P0, W0, tags=[frame_tags([0, 32])], before=before)
    cap = semdacom.allocation_schedule.max_pending()
    assert cap == 64
    assert r.blk.pending() == cap and r.blk.rejected() == n - cap
    assert_alloc(r.blk, P0, W0)
