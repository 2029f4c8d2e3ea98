"""Conformance of the two allocation parsers: the C++ one used by the C++ blocks
(``semdacom.parse_beam_allocation``) and ``messages.alloc_from_pmt``.

Over hypothesis-generated good allocations and mutations of the keys the C++ parser reads
(seq, apply_frame, power, w), both must accept or both must reject, and when both accept they
must read the same values. Both hold beams to the same unit-norm tolerance
(``beam_norm_tolerance``: 1e-6 for c64, 1e-4 for c32) and powers to ``MAX_POWER_W``.

The Python ``AllocationSchedule`` of the Python blocks is run against the C++
``allocation_schedule`` of the C++ blocks on the same message sequences.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pmt
import pytest
from gnuradio import semdacom
from gnuradio.semdacom import messages
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# ---------------------------------------------------------------------------------------------
# Good allocations
# ---------------------------------------------------------------------------------------------


@dataclass
class Good:
    """A valid allocation as its PMT entries, with the values it should read back as."""

    k: int
    n_t: int
    entries: dict[str, object]  # key -> PMT value
    seq: int
    apply_frame: int
    power: np.ndarray | None
    w: np.ndarray | None  # flat, K*N_t

    def msg(self, **changes: object) -> object:
        """The dictionary, with entries replaced (a value of None removes the key)."""
        entries = dict(self.entries)
        for key, value in changes.items():
            if value is None:
                entries.pop(key, None)
            else:
                entries[key] = value
        d = pmt.make_dict()
        for key, value in entries.items():
            d = pmt.dict_add(d, pmt.intern(key), value)
        return d


def count_pmt(draw: st.DrawFn, lo: int = 0) -> tuple[int, object]:
    if draw(st.booleans()):
        v = draw(st.integers(lo, 2**64 - 1))
        return v, pmt.from_uint64(v)
    v = draw(st.integers(lo, 2**63 - 1))
    return v, pmt.from_long(v)


def unit_rows(draw: st.DrawFn, k: int, n_t: int) -> np.ndarray:
    parts = st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False)
    raw = np.array(draw(st.lists(parts, min_size=2 * k * n_t, max_size=2 * k * n_t)))
    w = (raw[0::2] + 1j * raw[1::2]).reshape(k, n_t)
    for i in range(k):
        if np.linalg.norm(w[i]) < 0.1:
            w[i] = 0
            w[i, i % n_t] = 1.0
    return w / np.linalg.norm(w, axis=1, keepdims=True)


@st.composite
def good_allocations(draw: st.DrawFn) -> Good:
    k = draw(st.integers(1, 5))
    n_t = draw(st.integers(1, 5))
    entries: dict[str, object] = {}
    seq, entries["seq"] = count_pmt(draw)
    apply_frame = 0
    if draw(st.booleans()):
        apply_frame, entries["apply_frame"] = count_pmt(draw)
    power = None
    if draw(st.booleans()):
        values = draw(
            st.lists(
                st.floats(0.0, 100.0, allow_nan=False, allow_subnormal=False, width=32),
                min_size=k,
                max_size=k,
            )
        )
        power = np.array(values, dtype=float)
        if draw(st.booleans()):
            entries["power"] = pmt.init_f64vector(k, power.tolist())
        else:
            entries["power"] = pmt.init_f32vector(k, power.tolist())
    w = None
    if draw(st.booleans()):
        w = unit_rows(draw, k, n_t).reshape(-1)
        if draw(st.booleans()):
            entries["w"] = pmt.init_c64vector(k * n_t, w.tolist())
        else:
            w = w.astype(np.complex64).astype(np.complex128)
            entries["w"] = pmt.init_c32vector(k * n_t, w.tolist())
    if draw(st.booleans()):  # keys neither parser reads must not matter
        entries["comment"] = pmt.intern("hello")
    return Good(k, n_t, entries, seq, apply_frame, power, w)


# ---------------------------------------------------------------------------------------------
# Mutations: (name, expected to be accepted, builder)
# ---------------------------------------------------------------------------------------------

Builder = Callable[[st.DrawFn, Good], object]


def with_nonfinite(draw: st.DrawFn, values: np.ndarray) -> np.ndarray:
    out = np.array(values)
    i = draw(st.integers(0, out.size - 1))
    bad = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    if np.iscomplexobj(out):
        out[i] = complex(bad, out[i].imag) if draw(st.booleans()) else complex(out[i].real, bad)
    else:
        out[i] = bad
    return out


def power_of(g: Good) -> np.ndarray:
    return g.power if g.power is not None else np.ones(g.k)


def w_of(g: Good) -> np.ndarray:
    if g.w is not None:
        return g.w
    w = np.zeros((g.k, g.n_t), dtype=complex)
    w[np.arange(g.k), np.arange(g.k) % g.n_t] = 1.0
    return w.reshape(-1)


def resized(draw: st.DrawFn, values: np.ndarray, right: int) -> np.ndarray:
    n = draw(st.integers(0, right + 3).filter(lambda m: m != right))
    return np.resize(values, n)


def scaled_beams(draw: st.DrawFn, g: Good) -> np.ndarray:
    w = w_of(g).reshape(g.k, g.n_t).copy()
    i = draw(st.integers(0, g.k - 1))
    factor = draw(st.one_of(st.floats(1.01, 10.0), st.floats(0.0, 0.99)))
    w[i] *= factor
    return w.reshape(-1)


def _vector_cases(key: str, of, size, init, init32, name32: str) -> list:
    """The rejected forms of a vector key: ``<key> wrong size`` (``size(g)`` entries wanted),
    ``<key> non-finite`` and ``<key> non-finite <name32>`` (single precision)."""
    return [
        (f"{key} wrong size", False,
         lambda d, g: g.msg(**{key: init(*_vec(resized(d, of(g), size(g))))})),
        (f"{key} non-finite", False,
         lambda d, g: g.msg(**{key: init(*_vec(with_nonfinite(d, of(g))))})),
        (f"{key} non-finite {name32}", False,
         lambda d, g: g.msg(**{key: init32(*_vec(with_nonfinite(d, of(g))))})),
    ]  # fmt: skip


MUTATIONS: list[tuple[str, bool, Builder]] = [
    ("unchanged", True, lambda d, g: g.msg()),
    # seq
    ("seq missing", False, lambda d, g: g.msg(seq=None)),
    ("seq negative", False, lambda d, g: g.msg(seq=pmt.from_long(d(st.integers(-(2**63), -1))))),
    ("seq double", False, lambda d, g: g.msg(seq=pmt.from_double(d(st.floats(0, 1e6))))),
    ("seq symbol", False, lambda d, g: g.msg(seq=pmt.intern("1"))),
    ("seq bool", False, lambda d, g: g.msg(seq=pmt.PMT_T)),
    ("seq complex", False, lambda d, g: g.msg(seq=pmt.from_complex(1 + 0j))),
    ("seq vector", False, lambda d, g: g.msg(seq=pmt.init_u64vector(1, [1]))),
    ("seq nil", False, lambda d, g: g.msg(seq=pmt.PMT_NIL)),
    ("seq u64 max", True, lambda d, g: g.msg(seq=pmt.from_uint64(2**64 - 1))),
    ("seq long zero", True, lambda d, g: g.msg(seq=pmt.from_long(0))),
    # apply_frame
    ("apply_frame missing", True, lambda d, g: g.msg(apply_frame=None)),
    (
        "apply_frame negative",
        False,
        lambda d, g: g.msg(apply_frame=pmt.from_long(d(st.integers(-(2**63), -1)))),
    ),
    ("apply_frame double", False, lambda d, g: g.msg(apply_frame=pmt.from_double(3.0))),
    ("apply_frame symbol", False, lambda d, g: g.msg(apply_frame=pmt.intern("next"))),
    ("apply_frame vector", False, lambda d, g: g.msg(apply_frame=pmt.init_s32vector(1, [3]))),
    # epoch (issue 24): absent = 0
    ("epoch u64 max", True, lambda d, g: g.msg(epoch=pmt.from_uint64(2**64 - 1))),
    ("epoch long", True, lambda d, g: g.msg(epoch=pmt.from_long(d(st.integers(0, 2**63 - 1))))),
    ("epoch negative", False, lambda d, g: g.msg(epoch=pmt.from_long(-1))),
    ("epoch double", False, lambda d, g: g.msg(epoch=pmt.from_double(1.0))),
    ("epoch symbol", False, lambda d, g: g.msg(epoch=pmt.intern("new"))),
    ("epoch nil", False, lambda d, g: g.msg(epoch=pmt.PMT_NIL)),
    # power
    ("power missing", True, lambda d, g: g.msg(power=None)),
    *_vector_cases("power", power_of, lambda g: g.k, pmt.init_f64vector, pmt.init_f32vector, "f32"),
    (
        "power negative",
        False,
        lambda d, g: g.msg(
            power=pmt.init_f64vector(
                *_vec(_set(power_of(g), d(st.integers(0, g.k - 1)), -d(st.floats(1e-3, 100))))
            )
        ),
    ),
    (
        "power complex",
        False,
        lambda d, g: g.msg(power=pmt.init_c64vector(*_vec(power_of(g).astype(complex)))),
    ),
    (
        "power integers",
        False,
        lambda d, g: g.msg(power=pmt.init_s32vector(g.k, [1] * g.k)),
    ),
    ("power scalar", False, lambda d, g: g.msg(power=pmt.from_double(1.0))),
    (
        "power above the physical limit",
        False,
        lambda d, g: g.msg(
            power=pmt.init_f64vector(
                *_vec(_set(power_of(g), d(st.integers(0, g.k - 1)), d(st.floats(1.001e6, 1e300))))
            )
        ),
    ),
    (
        "power at the physical limit",
        True,
        lambda d, g: g.msg(power=pmt.init_f64vector(*_vec(np.full(g.k, messages.MAX_POWER_W)))),
    ),
    ("power symbol", False, lambda d, g: g.msg(power=pmt.intern("max"))),
    # w
    ("w missing", True, lambda d, g: g.msg(w=None)),
    *_vector_cases("w", w_of, lambda g: g.k * g.n_t, pmt.init_c64vector, pmt.init_c32vector, "c32"),
    ("w not unit-norm", False, lambda d, g: g.msg(w=pmt.init_c64vector(*_vec(scaled_beams(d, g))))),
    (
        "w not unit-norm c32",
        False,
        lambda d, g: g.msg(w=pmt.init_c32vector(*_vec(scaled_beams(d, g)))),
    ),
    ("w real", False, lambda d, g: g.msg(w=pmt.init_f64vector(*_vec(np.abs(w_of(g)))))),
    ("w c32", True, lambda d, g: g.msg(w=pmt.init_c32vector(*_vec(w_of(g))))),
    (
        "w c32 off unit norm within 1e-4",
        True,
        lambda d, g: g.msg(w=pmt.init_c32vector(*_vec(w_of(g) * d(st.floats(0.99996, 1.00004))))),
    ),
    (
        "w c64 off unit norm beyond 1e-6",
        False,
        lambda d, g: g.msg(
            w=pmt.init_c64vector(*_vec(w_of(g) * d(st.sampled_from([1 - 5e-6, 1 + 5e-6]))))
        ),
    ),
    ("w scalar", False, lambda d, g: g.msg(w=pmt.from_complex(1 + 0j))),
    # the whole message
    ("empty dict", False, lambda d, g: pmt.make_dict()),
    ("symbol", False, lambda d, g: pmt.intern("allocation")),
    ("long", False, lambda d, g: pmt.from_long(7)),
    ("vector", False, lambda d, g: pmt.init_f64vector(*_vec(power_of(g)))),
    ("tuple", False, lambda d, g: pmt.make_tuple(pmt.intern("seq"), pmt.from_uint64(1))),
    ("pair", False, lambda d, g: pmt.cons(pmt.intern("seq"), pmt.from_uint64(1))),
    (
        "PDU pair",
        False,
        lambda d, g: pmt.cons(pmt.make_dict(), pmt.init_u8vector(3, [1, 2, 3])),
    ),
    (
        "PDU pair with an allocation as meta",
        False,
        lambda d, g: pmt.cons(g.msg(), pmt.init_u8vector(1, [0])),
    ),
    ("bool", False, lambda d, g: pmt.PMT_T),
]


#: The mutations that keep a dictionary (they change one key).
KEY_MUTATIONS = [
    m for m in MUTATIONS if m[0].split()[0] in ("seq", "apply_frame", "epoch", "power", "w")
]


def _vec(values: np.ndarray) -> tuple[int, list]:
    values = np.asarray(values).reshape(-1)
    return values.size, values.tolist()


def _set(values: np.ndarray, i: int, v: float) -> np.ndarray:
    out = np.array(values, dtype=float)
    out[i] = v
    return out


# ---------------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------------


def parse_both(msg: object, k: int, n_t: int) -> tuple[object, object]:
    """(C++ result: dict or reason, python result: Allocation or MessageError)."""
    cpp = semdacom.parse_beam_allocation(msg, k, n_t)
    try:
        py: object = messages.alloc_from_pmt(msg, k=k, n_t=n_t)
    except messages.MessageError as exc:  # any other exception is a failure of the test
        py = exc
    return cpp, py


def assert_agree(msg: object, k: int, n_t: int, expect: bool | None = None) -> None:
    cpp, py = parse_both(msg, k, n_t)
    cpp_ok = isinstance(cpp, dict)
    py_ok = isinstance(py, messages.Allocation)
    text = pmt.write_string(msg)[:300]
    assert cpp_ok == py_ok, f"C++ {cpp!r} vs python {py!r} on {text}"
    if expect is not None:
        assert cpp_ok == expect, f"both {'accept' if cpp_ok else 'reject'} {text}: {cpp!r}"
    if not cpp_ok:
        assert isinstance(cpp, str) and cpp
        return
    assert cpp["seq"] == py.seq and cpp["apply_frame"] == py.apply_frame
    assert cpp["epoch"] == py.epoch
    if py.power is None:
        assert cpp["power"] is None
    else:
        np.testing.assert_array_equal(cpp["power"], py.power)
    if py.w is None:
        assert cpp["w"] is None
    else:
        assert py.w.shape == (k, n_t)
        np.testing.assert_allclose(np.array(cpp["w"]), py.w.reshape(-1), rtol=0, atol=1e-7)


@pytest.mark.parametrize(("name", "expect", "build"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(good=good_allocations(), data=st.data())
def test_parsers_agree(name: str, expect: bool, build: Builder, good: Good, data) -> None:
    msg = build(data.draw, good)
    assert_agree(msg, good.k, good.n_t, expect)


@settings(max_examples=200, deadline=None)
@given(good=good_allocations(), data=st.data())
def test_parsers_agree_on_random_mutations(good: Good, data) -> None:
    """One to three mutations at once; only agreement is required."""
    msg_entries = dict(good.entries)
    for _ in range(data.draw(st.integers(1, 3))):
        _, _, build = data.draw(st.sampled_from(KEY_MUTATIONS))
        mutated = build(data.draw, Good(**{**good.__dict__, "entries": msg_entries}))
        if not pmt.is_dict(mutated) or pmt.is_null(mutated):
            break
        msg_entries = {}
        items = pmt.dict_items(mutated)
        for j in range(pmt.length(items)):
            item = pmt.nth(j, items)
            msg_entries[pmt.symbol_to_string(pmt.car(item))] = pmt.cdr(item)
    msg = Good(**{**good.__dict__, "entries": msg_entries}).msg()
    assert_agree(msg, good.k, good.n_t)


@pytest.mark.parametrize(("k", "n_t"), [(1, 1), (2, 2), (3, 4)])
def test_parsers_agree_on_sizes_of_other_systems(k: int, n_t: int) -> None:
    """A good allocation for another (K, N_t) is rejected by both."""
    rng = np.random.default_rng(k * n_t)
    for k2, n_t2 in [(k + 1, n_t), (k, n_t + 1), (k + 1, n_t + 1)]:
        w = rng.standard_normal((k2, n_t2)) + 1j * rng.standard_normal((k2, n_t2))
        w /= np.linalg.norm(w, axis=1, keepdims=True)
        a = messages.Allocation(seq=1, power=np.ones(k2), w=w)
        assert_agree(messages.alloc_to_pmt(a), k, n_t, expect=False)
    w = np.eye(max(k, n_t))[:k, :n_t].astype(complex)
    w[np.linalg.norm(w, axis=1) == 0, 0] = 1.0
    assert_agree(
        messages.alloc_to_pmt(messages.Allocation(seq=1, power=np.ones(k), w=w)), k, n_t, True
    )


@pytest.mark.parametrize("key", ["apply_frame", "power", "w"])
def test_parsers_agree_on_nil_values(key: str) -> None:
    w = np.eye(2, dtype=complex)
    msg = messages.alloc_to_pmt(messages.Allocation(seq=1, power=np.ones(2), w=w))
    assert_agree(pmt.dict_add(msg, pmt.intern(key), pmt.PMT_NIL), 2, 2)


# ---------------------------------------------------------------------------------------------
# Issue 12 regressions: one tolerance (defect 4)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("off", "c32", "accept"),
    [
        (5e-5, True, True),  # inside the c32 tolerance 1e-4: both apply it
        (5e-4, True, False),
        (5e-7, False, True),
        (5e-5, False, False),  # a c64 beam is held to 1e-6
    ],
)
def test_beam_norm_tolerance_is_the_same_in_cpp_and_python(off: float, c32: bool, accept: bool):
    """A c32 beam off unit norm by 5e-5 used to be applied by the beamformer (1e-4) and
    rejected by messages.alloc_from_pmt (1e-6), so the Python blocks dropped the whole
    broadcast allocation, rate_index included."""
    w = (np.eye(2, dtype=complex) * (1.0 + off)).reshape(-1)
    d = pmt.make_dict()
    d = pmt.dict_add(d, pmt.intern("seq"), pmt.from_uint64(3))
    d = pmt.dict_add(d, pmt.intern("rate_index"), pmt.init_s32vector(2, [1, 2]))
    vec = pmt.init_c32vector if c32 else pmt.init_c64vector
    d = pmt.dict_add(d, pmt.intern("w"), vec(4, w.tolist()))
    assert_agree(d, 2, 2, expect=accept)
    assert messages.beam_norm_tolerance(c32) == (1e-4 if c32 else 1e-6)


# ---------------------------------------------------------------------------------------------
# The schedules: Python AllocationSchedule against C++ allocation_schedule
# ---------------------------------------------------------------------------------------------


@st.composite
def schedule_ops(draw: st.DrawFn) -> tuple[int, int, list]:
    k, n_t = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ops: list = []
    for _ in range(draw(st.integers(1, 25))):
        if draw(st.booleans()):
            good = draw(good_allocations_for(k, n_t))
            seq = draw(st.integers(0, 12))
            af = draw(st.integers(0, 12))  # apply_frames out of seq order
            msg = good.msg(seq=pmt.from_uint64(seq), apply_frame=pmt.from_uint64(af))
            epoch = draw(st.sampled_from([None, None, None, 0, 1, 1, 2, 2**64 - 1]))
            if epoch is not None:  # now and then a restarted publisher (or an old one)
                msg = pmt.dict_add(msg, pmt.intern("epoch"), pmt.from_uint64(epoch))
            if draw(st.integers(0, 5)) == 0:  # now and then a malformed one
                _, _, build = draw(st.sampled_from(KEY_MUTATIONS))
                msg = build(draw, Good(**{**good.__dict__, "entries": _entries(msg)}))
            ops.append(("push", msg))
        else:
            ops.append(("frame", draw(st.integers(0, 15))))
    return k, n_t, ops


def good_allocations_for(k: int, n_t: int):
    @st.composite
    def build(draw: st.DrawFn) -> Good:
        entries: dict[str, object] = {"seq": pmt.from_uint64(0)}
        power = w = None
        if draw(st.booleans()):
            power = np.array(draw(st.lists(st.floats(0.0, 10.0), min_size=k, max_size=k)))
            entries["power"] = pmt.init_f64vector(k, power.tolist())
        if draw(st.booleans()):
            w = unit_rows(draw, k, n_t).reshape(-1)
            entries["w"] = pmt.init_c64vector(k * n_t, w.tolist())
        return Good(k, n_t, entries, 0, 0, power, w)

    return build()


def _entries(msg: object) -> dict[str, object]:
    out = {}
    items = pmt.dict_items(msg)
    for j in range(pmt.length(items)):
        item = pmt.nth(j, items)
        out[pmt.symbol_to_string(pmt.car(item))] = pmt.cdr(item)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=schedule_ops())
def test_python_schedule_matches_the_cpp_schedule(case) -> None:
    """Same messages, same frames: the same pushes taken, the same allocation in force, over
    epochs (absent = 0, restarts, retired ones) and apply_frames out of seq order."""
    from gnuradio.semdacom.plumbing.schedule import AllocationSchedule

    k, n_t, ops = case
    p0 = [1.0] * k
    w0 = np.zeros((k, n_t), complex)
    w0[np.arange(k), np.arange(k) % n_t] = 1.0
    cpp = semdacom.allocation_schedule(p0, list(w0.reshape(-1)))
    py = AllocationSchedule(("power", "w"), {"power": np.array(p0), "w": w0})
    for op, arg in ops:
        if op == "push":
            c = cpp.push_message(arg, k, n_t)
            try:
                p = py.push(messages.alloc_from_pmt(arg, k=k, n_t=n_t))
            except messages.MessageError as exc:
                p = str(exc)
            assert isinstance(c, str) == isinstance(p, str), (c, p)
            if not isinstance(c, str):
                assert c == p
        else:
            assert cpp.on_frame(arg) == py.on_frame(arg)
        assert cpp.pending() == py.pending
        assert cpp.has_seq() == (py.last_seq is not None)
        if py.last_seq is not None:
            assert cpp.last_seq() == py.last_seq
        assert cpp.applied_seq() == (py.applied_seq or 0)
        assert cpp.epoch() == py.epoch
        assert (cpp.epoch_resets(), cpp.superseded(), cpp.dropped_full()) == (
            py.epoch_resets,
            py.superseded,
            py.dropped_full,
        )
        np.testing.assert_allclose(cpp.power(), py.get("power"), rtol=0, atol=0)
        np.testing.assert_allclose(np.array(cpp.w()), py.get("w").reshape(-1), rtol=0, atol=1e-7)


def test_schedule_drops_older_and_equal_seq_in_both() -> None:
    from gnuradio.semdacom.plumbing.schedule import AllocationSchedule

    cpp = semdacom.allocation_schedule([1.0], [1.0 + 0j])
    py = AllocationSchedule(("power",), {"power": np.array([1.0])})
    for seq, expect in ((5, True), (5, False), (4, False), (6, True), (0, False)):
        msg = messages.alloc_to_pmt(messages.Allocation(seq=seq, power=np.array([float(seq)])))
        assert cpp.push_message(msg, 1, 1) is expect
        assert py.push(messages.alloc_from_pmt(msg, k=1, n_t=1)) is expect
    assert cpp.on_frame(0) and py.on_frame(0)
    assert cpp.power() == [6.0] and py.get("power").tolist() == [6.0]
    assert cpp.applied_seq() == py.applied_seq == 6


# ---------------------------------------------------------------------------------------------
# Issue 24: epochs (a restarted optimiser), one ordering rule, bounded queues
# ---------------------------------------------------------------------------------------------


def _both(p0: float = 1.0):
    from gnuradio.semdacom.plumbing.schedule import AllocationSchedule

    cpp = semdacom.allocation_schedule([p0], [1.0 + 0j])
    py = AllocationSchedule(("power", "w"), {"power": np.array([p0]), "w": np.ones((1, 1))})
    return cpp, py


def _push_both(cpp, py, seq: int, power: float, apply_frame: int = 0, epoch: int | None = None):
    msg = messages.alloc_to_pmt(
        messages.Allocation(seq=seq, apply_frame=apply_frame, power=np.array([power]))
    )
    if epoch is not None:
        msg = pmt.dict_add(msg, pmt.intern("epoch"), pmt.from_uint64(epoch))
    c = cpp.push_message(msg, 1, 1)
    p = py.push(messages.alloc_from_pmt(msg, k=1, n_t=1))
    assert c is p, (c, p)
    return c


def test_a_new_epoch_resets_the_ordering_in_both() -> None:
    """Issue 24, Why 1: a restarted optimiser numbers from 1 again under a new epoch; both
    schedules take it (and drop what the old epoch left pending), and seq = 2**64-1 does not
    block a later epoch. Before the fix every allocation of the new instance was dropped."""
    cpp, py = _both()
    assert _push_both(cpp, py, 10, 2.0, apply_frame=0, epoch=111)
    assert _push_both(cpp, py, 11, 3.0, apply_frame=50, epoch=111)  # pending at the restart
    assert cpp.on_frame(1) and py.on_frame(1)
    assert _push_both(cpp, py, 1, 4.0, apply_frame=5, epoch=222)  # the restarted optimiser
    assert cpp.pending() == py.pending == 1  # seq 11 of epoch 111 dropped
    assert cpp.on_frame(60) and py.on_frame(60)
    assert cpp.power() == [4.0] and py.get("power").tolist() == [4.0]
    assert cpp.epoch() == py.epoch == 222 and cpp.applied_seq() == py.applied_seq == 1
    assert not _push_both(cpp, py, 1, 5.0, epoch=222)  # same epoch: seq must grow
    assert not _push_both(cpp, py, 99, 5.0, epoch=111)  # a retired epoch stays retired
    assert _push_both(cpp, py, 2**64 - 1, 6.0, epoch=222)
    assert _push_both(cpp, py, 1, 7.0, epoch=333)  # u64 max does not block a later epoch
    assert cpp.on_frame(61) and py.on_frame(61)
    assert cpp.power() == [7.0] and py.get("power").tolist() == [7.0]
    assert cpp.epoch_resets() == py.epoch_resets == 2


def test_absent_epoch_is_epoch_zero_in_both() -> None:
    cpp, py = _both()
    assert _push_both(cpp, py, 4, 2.0)
    assert _push_both(cpp, py, 5, 3.0, epoch=0)  # the same epoch as no epoch
    assert not _push_both(cpp, py, 5, 3.0)
    assert cpp.epoch() == py.epoch == 0 and cpp.epoch_resets() == py.epoch_resets == 0


def test_a_newer_seq_supersedes_an_older_one_due_later_in_both() -> None:
    """Issue 24, Why 2: seq 5 for frame 100, then seq 6 for frame 50: at frame 120 seq 6 is in
    force. Before the fix seq 5 replaced the newer seq 6 at frame 100."""
    cpp, py = _both()
    assert _push_both(cpp, py, 5, 5.0, apply_frame=100)
    assert _push_both(cpp, py, 6, 6.0, apply_frame=50)
    assert cpp.pending() == py.pending == 1  # seq 5 superseded before it was due
    for frame in (60, 120):
        cpp.on_frame(frame)
        py.on_frame(frame)
        assert cpp.power() == [6.0] and py.get("power").tolist() == [6.0]
        assert cpp.applied_seq() == py.applied_seq == 6
    assert cpp.superseded() == py.superseded == 1


def test_pending_queue_is_capped_in_both() -> None:
    """Issue 24, Why 4: 20000 allocations for far-future frames used to grow the pending queue
    without limit; now at most MAX_PENDING wait and the rest are dropped (counted)."""
    from gnuradio.semdacom.plumbing.schedule import AllocationSchedule

    cap = AllocationSchedule.MAX_PENDING
    assert semdacom.allocation_schedule.max_pending() == cap == 64
    cpp, py = _both()
    taken = [_push_both(cpp, py, s, 1.0, apply_frame=10**12 + s) for s in range(1, 20001)]
    assert cpp.pending() == py.pending == cap and sum(taken) == cap
    assert cpp.dropped_full() == py.dropped_full == 20000 - cap
    # a newer allocation for a near frame still gets in (it supersedes the far-future ones)
    assert _push_both(cpp, py, 30000, 9.0, apply_frame=3)
    assert cpp.on_frame(3) and py.on_frame(3)
    assert cpp.power() == [9.0] and py.get("power").tolist() == [9.0]
    assert cpp.pending() == py.pending == 0
