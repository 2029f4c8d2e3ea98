"""Round trips and validation of the PMT schemas in ``gnuradio.semdacom.messages``."""

from __future__ import annotations

import math

import numpy as np
import pmt
import pytest
from gnuradio.semdacom import messages
from gnuradio.semdacom.messages import Allocation, Csi, MessageError
from hypothesis import given, settings
from hypothesis import strategies as st

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def unit_rows(rng: np.random.Generator, k: int, n_t: int) -> np.ndarray:
    w = rng.standard_normal((k, n_t)) + 1j * rng.standard_normal((k, n_t))
    return w / np.linalg.norm(w, axis=1, keepdims=True)


def full_alloc(rng: np.random.Generator, k: int = 3, n_t: int = 4, m: int = 2) -> Allocation:
    return Allocation(
        seq=7,
        apply_frame=12,
        rate_index=rng.integers(0, 5, k).astype(np.int32),
        rs_bits=rng.uniform(1e3, 6e4, k),
        rc=rng.uniform(0.2, 4.0, k),
        mcs=rng.integers(0, 10, k).astype(np.int32),
        power=rng.uniform(0.0, 1.0, k),
        w=unit_rows(rng, k, n_t),
        objective=1.25,
        solve_ms=3.5,
        solver="jrpb",
        pairs=np.arange(2 * m, dtype=np.int32) % k,
        nu=rng.uniform(0.05, 1.0, m),
        group_power=rng.uniform(0.0, 1.0, m),
        group_bw=rng.uniform(0.0, 1e6, m),
    )


def assert_alloc_equal(a: Allocation, b: Allocation) -> None:
    assert a.seq == b.seq
    assert a.apply_frame == b.apply_frame
    for key in messages.ALLOC_KEYS:
        x, y = getattr(a, key), getattr(b, key)
        if x is None or y is None:
            assert x is None and y is None, key
        elif isinstance(x, np.ndarray):
            assert np.shape(x) == np.shape(y), key
            np.testing.assert_array_equal(x, y, err_msg=key)
        else:
            assert x == y, key


def alloc_dict(**entries: object) -> object:
    """An allocation dictionary from raw PMT values (``seq`` added unless given)."""
    d = pmt.make_dict()
    entries.setdefault("seq", pmt.from_uint64(1))
    for key, value in entries.items():
        if value is not None:
            d = pmt.dict_add(d, pmt.intern(key), value)
    return d


def f64(values: object) -> object:
    arr = np.asarray(values, dtype=np.float64)
    return pmt.init_f64vector(arr.size, arr.tolist())


def c64(values: object) -> object:
    arr = np.asarray(values, dtype=np.complex128).reshape(-1)
    return pmt.init_c64vector(arr.size, arr.tolist())


def s32(values: object) -> object:
    arr = np.asarray(values, dtype=np.int32)
    return pmt.init_s32vector(arr.size, arr.tolist())


def csi_dict(h: np.ndarray, noise_var: object, /, **over: object) -> object:
    entries = {
        "h": c64(h),
        "noise_var": f64(noise_var),
        "n_t": pmt.from_long(h.shape[1]),
        "k": pmt.from_long(h.shape[0]),
        "seq": pmt.from_uint64(3),
    }
    entries.update(over)
    d = pmt.make_dict()
    for key, value in entries.items():
        if value is not None:
            d = pmt.dict_add(d, pmt.intern(key), value)
    return d


# ---------------------------------------------------------------------------------------------
# Allocation round trips
# ---------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    k=st.integers(1, 8),
    n_t=st.integers(1, 8),
    m=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_alloc_round_trip(k: int, n_t: int, m: int, seed: int) -> None:
    a = full_alloc(np.random.default_rng(seed), k, n_t, m)
    b = messages.alloc_from_pmt(messages.alloc_to_pmt(a), k=k, n_t=n_t, p_max=float(k))
    assert_alloc_equal(a, b)
    assert b.k == k and b.n_t == n_t and b.m == m
    assert b.w.dtype == np.complex128 and b.w.shape == (k, n_t)
    assert b.rate_index.dtype == np.int32 and b.power.dtype == np.float64


@settings(max_examples=30, deadline=None)
@given(
    keys=st.sets(st.sampled_from(["rate_index", "rs_bits", "rc", "mcs", "power", "w"]), min_size=1),
    seed=st.integers(0, 2**32 - 1),
)
def test_alloc_round_trip_subsets(keys: set[str], seed: int) -> None:
    full = full_alloc(np.random.default_rng(seed))
    a = Allocation(seq=full.seq, **{key: getattr(full, key) for key in keys})
    b = messages.alloc_from_pmt(messages.alloc_to_pmt(a), k=3)
    assert_alloc_equal(a, b)
    assert set(b.present()) == {"seq", "apply_frame"} | keys


def test_alloc_pmt_types_follow_the_schema() -> None:
    d = messages.alloc_to_pmt(full_alloc(np.random.default_rng(0)))

    def ref(key: str) -> object:
        return pmt.dict_ref(d, pmt.intern(key), pmt.PMT_NIL)

    assert pmt.is_uint64(ref("seq")) and pmt.is_uint64(ref("apply_frame"))
    for key in ("rate_index", "mcs", "pairs"):
        assert pmt.is_s32vector(ref(key)), key
    for key in ("rs_bits", "rc", "power", "nu", "group_power", "group_bw"):
        assert pmt.is_f64vector(ref(key)), key
    assert pmt.is_c64vector(ref("w")) and pmt.length(ref("w")) == 12
    assert pmt.is_real(ref("objective")) and pmt.is_real(ref("solve_ms"))
    assert pmt.is_symbol(ref("solver"))


def test_w_is_user_major() -> None:
    w = unit_rows(np.random.default_rng(1), 2, 3)
    d = messages.alloc_to_pmt(Allocation(seq=0, power=np.ones(2), w=w))
    flat = np.asarray(pmt.c64vector_elements(pmt.dict_ref(d, pmt.intern("w"), pmt.PMT_NIL)))
    np.testing.assert_array_equal(flat[:3], w[0])
    np.testing.assert_array_equal(flat[3:], w[1])


def test_alloc_accepts_alternative_vector_kinds_and_counts() -> None:
    rng = np.random.default_rng(2)
    w = unit_rows(rng, 2, 2)
    msg = alloc_dict(
        seq=pmt.from_long(4),
        apply_frame=pmt.from_long(9),
        rate_index=pmt.init_s64vector(2, [1, 2]),
        power=pmt.init_f32vector(2, [0.5, 0.25]),
        w=pmt.init_c32vector(4, w.reshape(-1).astype(np.complex64).tolist()),
        objective=pmt.from_long(3),
        extra_key=pmt.intern("ignored"),
    )
    a = messages.alloc_from_pmt(msg)
    assert (a.seq, a.apply_frame) == (4, 9)
    assert a.rate_index.dtype == np.int32 and list(a.rate_index) == [1, 2]
    np.testing.assert_allclose(a.power, [0.5, 0.25])
    np.testing.assert_allclose(a.w, w, atol=1e-7)
    assert a.objective == 3.0


def test_alloc_defaults_apply_frame_to_zero() -> None:
    a = messages.alloc_from_pmt(alloc_dict(rc=f64([1.0])))
    assert a.apply_frame == 0 and a.k == 1 and a.power is None and a.w is None


def test_w_shaped_from_n_t_without_per_user_keys() -> None:
    w = unit_rows(np.random.default_rng(3), 2, 3)
    a = messages.alloc_from_pmt(alloc_dict(w=c64(w)), n_t=3)
    np.testing.assert_allclose(a.w, w)
    with pytest.raises(MessageError, match="cannot shape 'w'"):
        messages.alloc_from_pmt(alloc_dict(w=c64(w)))


# ---------------------------------------------------------------------------------------------
# Allocation validation
# ---------------------------------------------------------------------------------------------

_W2 = unit_rows(np.random.default_rng(4), 2, 2)


@pytest.mark.parametrize(
    ("msg", "kwargs", "reason"),
    [
        (pmt.intern("alloc"), {}, "must be a PMT dictionary"),
        ({"seq": 1}, {}, "must be a PMT dictionary"),
        (pmt.cons(pmt.intern("seq"), pmt.from_long(1)), {}, "must be a PMT dictionary"),
        (alloc_dict(seq=None, rc=f64([1.0])), {}, "lacks 'seq'"),
        (alloc_dict(seq=pmt.from_long(-1)), {}, "'seq' must be non-negative"),
        (alloc_dict(seq=pmt.from_double(1.0)), {}, "'seq' must be a u64"),
        (alloc_dict(apply_frame=pmt.intern("now")), {}, "'apply_frame' must be a u64"),
        (alloc_dict(power=s32([1, 1])), {}, "'power' must be a f64vector or f32vector"),
        (alloc_dict(power=c64([1, 1])), {}, "'power' must be a f64vector"),
        (alloc_dict(power=pmt.from_double(1.0)), {}, "'power' must be a f64vector"),
        (alloc_dict(rate_index=f64([1, 2])), {}, "'rate_index' must be a s32vector"),
        (alloc_dict(w=f64([1, 0])), {"n_t": 2}, "'w' must be a c64vector"),
        (alloc_dict(power=f64([1, 1]), rc=f64([1.0])), {}, "'power' has 2 entries, expected 1"),
        (alloc_dict(power=f64([0.5, 0.5])), {"k": 3}, "'power' has 2 entries, expected 3"),
        (alloc_dict(power=f64([1, 1]), w=c64(_W2.reshape(-1)[:3])), {}, "not a multiple of K"),
        (alloc_dict(power=f64([1, 1]), w=c64(_W2)), {"n_t": 3}, "not a multiple of N_t"),
        (alloc_dict(rc=f64([1.0]), w=c64(_W2)), {"n_t": 2}, "expected K\\*N_t"),
        (alloc_dict(power=f64([math.nan, 1.0])), {}, "'power' has non-finite"),
        (alloc_dict(rc=f64([math.inf])), {}, "'rc' has non-finite"),
        (alloc_dict(power=f64([1, 1]), w=c64([1, math.nan, 0, 1])), {}, "'w' has non-finite"),
        (alloc_dict(objective=pmt.from_double(math.nan)), {}, "'objective' must be finite"),
        (alloc_dict(power=f64([-0.1, 1.0])), {}, "'power' has negative"),
        (alloc_dict(power=f64([1, 1]), w=c64([1, 0, 1, 1])), {}, "beam of user 1 has norm"),
        (alloc_dict(power=f64([1, 1]), w=c64([0.5, 0, 0, 1])), {}, "beam of user 0 has norm"),
        (alloc_dict(power=f64([0.6, 0.6])), {"p_max": 1.0}, "exceeds the budget"),
        (alloc_dict(rc=f64([1.0, 0.0])), {}, "'rc' must be positive"),
        (alloc_dict(rs_bits=f64([-1.0])), {}, "'rs_bits' has negative"),
        (alloc_dict(mcs=s32([-1])), {}, "'mcs' has negative"),
        (alloc_dict(rc=f64([1.0])), {"require": ("power",)}, "lacks required key 'power'"),
        (alloc_dict(solver=pmt.from_long(1)), {}, "'solver' must be a symbol"),
        (alloc_dict(solve_ms=pmt.from_double(-1.0)), {}, "'solve_ms' must be non-negative"),
        (alloc_dict(pairs=s32([0, 1, 2])), {}, "even count"),
        (alloc_dict(pairs=s32([0, 1]), nu=f64([0.5, 0.5])), {}, "'nu' has 2 entries, expected 1"),
        (alloc_dict(pairs=s32([0, -2])), {}, "user indices or -1"),
        (alloc_dict(rc=f64([1.0]), pairs=s32([0, 1])), {}, "names a user >= K"),
        (alloc_dict(nu=f64([0.0])), {}, "'nu' must be positive"),
        (alloc_dict(group_bw=f64([-1.0])), {}, "'group_bw' has negative"),
    ],
)
def test_alloc_from_pmt_rejects(msg: object, kwargs: dict, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        messages.alloc_from_pmt(msg, **kwargs)


def test_budget_tolerance_is_relative() -> None:
    msg = alloc_dict(power=f64([0.5, 0.5 * (1 + 1e-12)]))
    assert messages.alloc_from_pmt(msg, p_max=1.0).power.sum() > 1.0
    with pytest.raises(MessageError, match="budget"):
        messages.alloc_from_pmt(msg, p_max=0.999)


def test_message_error_is_a_value_error() -> None:
    assert issubclass(MessageError, ValueError)


@pytest.mark.parametrize(
    ("alloc", "reason"),
    [
        (Allocation(seq=-1), "'seq' must fit a u64"),
        (Allocation(seq=1.5), "'seq' must be an integer"),
        (Allocation(seq=0, power=np.ones((2, 2))), "one-dimensional"),
        (Allocation(seq=0, rate_index=np.array([0.5])), "must hold integers"),
        (Allocation(seq=0, power=np.ones(2), w=np.ones((2, 2))), "has norm"),
        (Allocation(seq=0, power=np.ones(2), w=np.ones(2)), "shape \\(K, N_t\\)"),
        (Allocation(seq=0, power=np.ones(3), w=np.eye(2)), "expected K\\*N_t"),
        (Allocation(seq=0, solver=3), "'solver' must be a string"),
        (Allocation(seq=0, objective=math.inf), "'objective' must be a finite"),
    ],
)
def test_alloc_to_pmt_validates(alloc: Allocation, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        messages.alloc_to_pmt(alloc)


# ---------------------------------------------------------------------------------------------
# CSI
# ---------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 8), n_t=st.integers(1, 8), seed=st.integers(0, 2**32 - 1))
def test_csi_round_trip(k: int, n_t: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((k, n_t)) + 1j * rng.standard_normal((k, n_t))
    c = Csi(h=h, noise_var=rng.uniform(1e-3, 1.0, k), seq=seed)
    d = messages.csi_from_pmt(messages.csi_to_pmt(c), k=k, n_t=n_t)
    assert (d.k, d.n_t, d.seq) == (k, n_t, seed)
    np.testing.assert_array_equal(d.h, h)
    np.testing.assert_array_equal(d.noise_var, c.noise_var)


def test_csi_pmt_types_follow_the_schema() -> None:
    h = np.arange(6).reshape(2, 3) * (1 + 1j)
    d = messages.csi_to_pmt(Csi(h=h, noise_var=np.ones(2), seq=5))
    ref = lambda key: pmt.dict_ref(d, pmt.intern(key), pmt.PMT_NIL)  # noqa: E731
    assert pmt.is_c64vector(ref("h")) and pmt.is_f64vector(ref("noise_var"))
    assert pmt.to_long(ref("k")) == 2 and pmt.to_long(ref("n_t")) == 3
    assert pmt.is_uint64(ref("seq"))
    np.testing.assert_array_equal(np.asarray(pmt.c64vector_elements(ref("h")))[:3], h[0])


def test_csi_accepts_c32_and_f32() -> None:
    h = np.array([[1 + 1j, 2]])
    msg = csi_dict(
        h,
        [0.5],
        h=pmt.init_c32vector(2, h.reshape(-1).astype(np.complex64).tolist()),
        noise_var=pmt.init_f32vector(1, [0.5]),
    )
    c = messages.csi_from_pmt(msg)
    np.testing.assert_allclose(c.h, h)
    assert c.noise_var.dtype == np.float64


_H = np.array([[1 + 1j, 0.5], [0.2j, 1.0]])


@pytest.mark.parametrize(
    ("msg", "kwargs", "reason"),
    [
        (pmt.intern("csi"), {}, "must be a PMT dictionary"),
        (csi_dict(_H, [1, 1], h=None), {}, "lacks 'h'"),
        (csi_dict(_H, [1, 1], seq=None), {}, "lacks 'seq'"),
        (csi_dict(_H, [1, 1], h=f64([1, 2, 3, 4])), {}, "'h' must be a c64vector"),
        (csi_dict(_H, [1, 1], h=c64([1, 2, 3])), {}, "'h' has 3 entries, expected 4"),
        (csi_dict(_H, [1, 1], k=pmt.from_double(2.0)), {}, "'k' must be a long"),
        (csi_dict(_H, [1, 1], n_t=pmt.from_long(0)), {}, "n_t >= 1"),
        (csi_dict(_H, [1, 1]), {"k": 3}, "CSI has k=2, expected 3"),
        (csi_dict(_H, [1, 1]), {"n_t": 4}, "CSI has n_t=2, expected 4"),
        (csi_dict(_H, [1, 1], h=c64([1, math.nan, 0, 1])), {}, "'h' has non-finite"),
        (csi_dict(_H, [1, -1]), {}, "'noise_var' must be non-negative"),
        (csi_dict(_H, [1, math.inf]), {}, "'noise_var' has non-finite"),
        (csi_dict(_H, [1]), {}, "'noise_var' has 1 entries, expected 2"),
        (csi_dict(_H, [1, 1], seq=pmt.from_long(-3)), {}, "'seq' must be non-negative"),
    ],
)
def test_csi_from_pmt_rejects(msg: object, kwargs: dict, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        messages.csi_from_pmt(msg, **kwargs)


def test_csi_to_pmt_validates() -> None:
    with pytest.raises(MessageError, match="shape \\(K, N_t\\)"):
        messages.csi_to_pmt(Csi(h=np.ones(3), noise_var=np.ones(1)))
    with pytest.raises(MessageError, match="'noise_var' must be non-negative"):
        messages.csi_to_pmt(Csi(h=np.ones((1, 2)), noise_var=-np.ones(1)))


def test_csi_noiseless_channel_is_valid() -> None:
    c = messages.csi_from_pmt(messages.csi_to_pmt(Csi(h=np.ones((1, 2)), noise_var=np.zeros(1))))
    assert c.noise_var[0] == 0.0


# ---------------------------------------------------------------------------------------------
# Bits PDUs and metadata
# ---------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(bits=st.lists(st.integers(0, 1), max_size=300), tag=st.text(max_size=8))
def test_bits_pdu_round_trip(bits: list[int], tag: str) -> None:
    pdu = messages.bits_pdu({"tag": tag, "frame": 3}, np.asarray(bits, dtype=np.uint8))
    assert pmt.length(pmt.cdr(pdu)) == (len(bits) + 7) // 8
    meta, out = messages.unpack_bits_pdu(pdu)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.asarray(bits, dtype=np.uint8))
    assert meta == {"tag": tag, "frame": 3, "n_bits": len(bits)}


def test_bits_are_packed_msb_first_and_n_bits_defaults() -> None:
    pdu = messages.bits_pdu(None, np.array([1, 0, 0, 0, 0, 0, 0, 1, 1], dtype=np.uint8))
    assert list(pmt.u8vector_elements(pmt.cdr(pdu))) == [0x81, 0x80]
    raw = pmt.cons(pmt.make_dict(), pmt.init_u8vector(2, [0xF0, 0x01]))
    meta, bits = messages.unpack_bits_pdu(raw)
    assert meta == {}
    assert bits.tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]


def test_bits_pdu_overwrites_n_bits() -> None:
    _, bits = messages.unpack_bits_pdu(messages.bits_pdu({"n_bits": 99}, np.ones(5, np.uint8)))
    assert bits.size == 5


def _meta(n_bits: object = None) -> object:
    d = pmt.make_dict()
    if n_bits is not None:
        d = pmt.dict_add(d, pmt.intern("n_bits"), n_bits)
    return d


@pytest.mark.parametrize(
    ("pdu", "reason"),
    [
        (pmt.from_long(3), "must be a pair"),
        (pmt.init_u8vector(1, [1]), "must be a pair"),
        (pmt.dict_add(pmt.make_dict(), pmt.intern("a"), pmt.from_long(1)), "must be a pair"),
        ("not a pmt", "must be a pair"),
        (pmt.cons(pmt.intern("meta"), pmt.init_u8vector(1, [1])), "meta must be a dictionary"),
        (pmt.cons(pmt.make_dict(), pmt.init_f32vector(1, [1.0])), "payload must be a u8vector"),
        (pmt.cons(pmt.make_dict(), pmt.PMT_NIL), "payload must be a u8vector"),
        (pmt.cons(_meta(pmt.from_long(17)), pmt.init_u8vector(2, [1, 2])), "exceeds the 16"),
        (pmt.cons(_meta(pmt.from_long(-1)), pmt.init_u8vector(1, [1])), "non-negative"),
        (pmt.cons(_meta(pmt.from_double(8.0)), pmt.init_u8vector(1, [1])), "must be a long"),
        (pmt.cons(_meta(pmt.from_long(3)), pmt.init_u8vector(2, [1, 2])), "needs 1"),
    ],
)
def test_unpack_bits_pdu_rejects(pdu: object, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        messages.unpack_bits_pdu(pdu)


@pytest.mark.parametrize(
    ("bits", "reason"),
    [
        (np.array([0, 1, 2]), "0 or 1"),
        (np.array([-1, 0]), "0 or 1"),
        (np.ones((2, 2), dtype=np.uint8), "one-dimensional"),
        (np.array([0.0, 1.0]), "integers"),
    ],
)
def test_bits_pdu_rejects(bits: np.ndarray, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        messages.bits_pdu({}, bits)


def test_meta_round_trip() -> None:
    meta = {
        "s": "name",
        "i": -4,
        "u": 2**64 - 1,
        "f": 0.25,
        "c": 1 - 2j,
        "b": True,
        "none": None,
        "np_int": np.int64(5),
        "np_float": np.float32(0.5),
        "vec_f": np.array([1.0, 2.0]),
        "vec_i": np.array([1, 2], dtype=np.int32),
        "vec_c": np.array([1j]),
        "vec_u8": np.array([1, 255], dtype=np.uint8),
        "nested": {"x": 1},
        "tup": (1, "a", 2.5),
    }
    back = messages.meta_from_pmt(messages.meta_to_pmt(meta))
    assert set(back) == set(meta)
    for key in ("s", "i", "u", "f", "c", "b", "none", "nested", "tup"):
        assert back[key] == meta[key], key
    assert back["np_int"] == 5 and isinstance(back["np_int"], int)
    assert back["np_float"] == 0.5
    for key in ("vec_f", "vec_i", "vec_c", "vec_u8"):
        assert back[key].dtype == meta[key].dtype, key
        np.testing.assert_array_equal(back[key], meta[key])


def test_meta_rejects() -> None:
    with pytest.raises(MessageError, match="keys must be strings"):
        messages.meta_to_pmt({1: 2})
    with pytest.raises(MessageError, match="no PMT form"):
        messages.meta_to_pmt({"x": object()})
    with pytest.raises(MessageError, match="does not fit 64 bits"):
        messages.meta_to_pmt({"x": 2**70})
    with pytest.raises(MessageError, match="must be a PMT dictionary"):
        messages.meta_from_pmt(pmt.from_long(1))


# ---------------------------------------------------------------------------------------------
# One validator (issue 12): limits, user=, link_allocation, chan_info
# ---------------------------------------------------------------------------------------------


def _alloc_dict(**entries: object) -> object:
    d = pmt.dict_add(pmt.make_dict(), pmt.intern("seq"), pmt.from_uint64(1))
    for key, value in entries.items():
        d = pmt.dict_add(d, pmt.intern(key), value)
    return d


def test_power_and_rc_limits() -> None:
    ok = _alloc_dict(power=pmt.init_f64vector(2, [messages.MAX_POWER_W, 0.0]))
    assert messages.alloc_from_pmt(ok).power[0] == messages.MAX_POWER_W
    for bad in (
        _alloc_dict(power=pmt.init_f64vector(2, [1e80, 0.1])),
        _alloc_dict(rc=pmt.init_f64vector(2, [1.0, 1e300])),
        _alloc_dict(rc=pmt.init_f64vector(1, [messages.MAX_RC * 1.01])),
    ):
        with pytest.raises(messages.MessageError, match="exceeds"):
            messages.alloc_from_pmt(bad)


def test_user_argument_rejects_a_k_without_this_user() -> None:
    msg = _alloc_dict(rc=pmt.init_f64vector(2, [1.0, 1.0]))
    assert messages.alloc_from_pmt(msg, user=1).rc.size == 2
    with pytest.raises(messages.MessageError, match="this block is user 2"):
        messages.alloc_from_pmt(msg, user=2)
    w_only = _alloc_dict(w=pmt.init_c64vector(2, [1.0, 1.0]))  # K = 2 from w with n_t = 1
    with pytest.raises(messages.MessageError, match="this block is user 3"):
        messages.alloc_from_pmt(w_only, n_t=1, user=3)
    csi = messages.csi_to_pmt(Csi(h=np.ones((2, 2)), noise_var=np.ones(2)))
    assert messages.csi_from_pmt(csi, user=1).k == 2
    with pytest.raises(messages.MessageError, match="this block is user 2"):
        messages.csi_from_pmt(csi, user=2)


def test_csi_limits_and_positive_noise() -> None:
    zero = messages.csi_to_pmt(Csi(h=np.ones((2, 2)), noise_var=np.zeros(2)))
    assert messages.csi_from_pmt(zero).noise_var.tolist() == [0.0, 0.0]  # a noiseless channel
    with pytest.raises(messages.MessageError, match="MIN_NOISE_VAR"):
        messages.csi_from_pmt(zero, positive_noise=True)
    with pytest.raises(messages.MessageError, match="MAX_CHANNEL_GAIN"):
        messages.csi_to_pmt(Csi(h=1e200 * np.eye(2), noise_var=np.ones(2)))


def test_link_allocation_checks_the_coder_range() -> None:
    ok = _alloc_dict(mcs=pmt.init_s32vector(2, [0, 3]), rc=pmt.init_f64vector(2, [1.0, 2.0]))
    assert messages.link_allocation(ok, 1, 256).mcs[1] == 3
    for bad, reason in (
        (_alloc_dict(mcs=pmt.init_s32vector(2, [0, 99])), "mcs\\[1\\]"),
        (_alloc_dict(rc=pmt.init_f64vector(2, [1.0, 0.001])), "rc\\[1\\]"),
        (_alloc_dict(rc=pmt.init_f64vector(1, [1.0])), "this block is user 1"),
    ):
        with pytest.raises(messages.MessageError, match=reason):
            messages.link_allocation(bad, 1, 256)


@pytest.mark.parametrize(
    "info",
    [
        {"user": 0, "mode": "ldpc", "n_bits": "many"},
        {"user": 0, "mode": "ldpc", "n_bits": 2**62},
        {"user": 0, "mode": "ldpc", "n_bits": True},
        {"user": 0, "mode": "x", "n_bits": 1},
        {"user": 0, "mode": "fbl", "n_bits": 20, "bits": np.zeros(1, np.uint8)},
        {"user": 0, "mode": "fbl", "n_bits": 1, "rc": float("inf")},
        {"user": -1, "mode": "fbl", "n_bits": 1},
    ],
)
def test_chan_info_rejects_unusable_tags(info: dict) -> None:
    with pytest.raises(messages.MessageError):
        messages.chan_info(info)


def test_chan_info_accepts_the_encoder_tag() -> None:
    info = {"user": 1, "mode": "fbl", "L": 256, "n_bits": 9, "rc": 1.0}
    info["bits"] = np.zeros(2, np.uint8)
    assert messages.chan_info(info)["n_bits"] == 9


def test_csi_frame_key_is_optional_and_round_trips() -> None:
    """CSI may name the first frame its channel applies to (u64 ``frame``)."""
    h, nv = np.ones((2, 2), complex), np.ones(2)
    c = messages.csi_from_pmt(messages.csi_to_pmt(Csi(h=h, noise_var=nv, seq=3, frame=41)))
    assert c.frame == 41 and c.seq == 3
    assert messages.csi_from_pmt(messages.csi_to_pmt(Csi(h=h, noise_var=nv))).frame is None
    bad = pmt.dict_add(messages.csi_to_pmt(Csi(h=h, noise_var=nv)), pmt.intern("frame"),
                       pmt.from_double(1.5))  # fmt: skip
    with pytest.raises(messages.MessageError, match="frame"):
        messages.csi_from_pmt(bad)
    with pytest.raises(messages.MessageError, match="frame"):
        messages.csi_to_pmt(Csi(h=h, noise_var=nv, frame=-1))


def test_frame_sent_credit() -> None:
    m = messages.meta_from_pmt(messages.frame_sent_to_pmt(7, 1))
    assert m == {"sent_frame": 7, "user": 1}
    with pytest.raises(messages.MessageError):
        messages.frame_sent_to_pmt(-1, 0)
