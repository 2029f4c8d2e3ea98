"""The allocation dictionary (``messages.allocation``): round trips of every family's keys,
PMT types, and validation of the whole dictionary."""

from __future__ import annotations

import math

import numpy as np
import pmt
import pytest
from gnuradio.semdacom import messages
from gnuradio.semdacom.messages import Allocation, MessageError
from hypothesis import given, settings
from hypothesis import strategies as st
from msg_helpers import alloc_dict, c64, f64, s32, unit_rows


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
# Issue 24: the epoch (publisher instance id) beside seq
# ---------------------------------------------------------------------------------------------


def test_epoch_round_trips_as_u64_and_absent_means_zero() -> None:
    a = Allocation(seq=3, epoch=2**64 - 1, power=np.array([1.0]))
    d = messages.alloc_to_pmt(a)
    ref = pmt.dict_ref(d, pmt.intern("epoch"), pmt.PMT_NIL)
    assert pmt.is_uint64(ref) and pmt.to_uint64(ref) == 2**64 - 1
    assert messages.alloc_from_pmt(d, k=1).epoch == 2**64 - 1
    old = messages.alloc_to_pmt(Allocation(seq=3, power=np.array([1.0])))
    assert not pmt.dict_has_key(old, pmt.intern("epoch"))  # epoch 0 is not written
    assert messages.alloc_from_pmt(old, k=1).epoch == 0
    assert "epoch" in messages.ALLOC_KEYS


@pytest.mark.parametrize(
    "bad", [pmt.from_long(-1), pmt.from_double(1.0), pmt.intern("x"), pmt.PMT_NIL]
)
def test_bad_epoch_is_rejected(bad: object) -> None:
    d = pmt.dict_add(
        messages.alloc_to_pmt(Allocation(seq=3, power=np.array([1.0]))), pmt.intern("epoch"), bad
    )
    with pytest.raises(MessageError, match="epoch"):
        messages.alloc_from_pmt(d, k=1)
