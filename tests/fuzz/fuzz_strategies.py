"""Hypothesis strategies for PMT messages: wrong types, nested dicts, wrong sizes,
NaN/inf/huge/negative values, u64 extremes, random and truncated PDUs, and valid messages with
one key replaced or their payload's bits flipped.

Allocation ``seq`` values stay below 2**63 except as a wrong type: an accepted allocation with
``seq = 2**64 - 1`` would, by design (a monotone seq), freeze a block's allocation for good, and
the fuzzer could then no longer check that valid allocations still update it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pmt
from hypothesis import strategies as st

#: Keys the blocks read, used as dict keys so that wrong values reach real code paths.
KNOWN_KEYS = (
    "seq", "apply_frame", "rate_index", "rs_bits", "rc", "mcs", "power", "w", "objective",
    "solve_ms", "solver", "pairs", "nu", "group_power", "group_bw", "h", "noise_var", "n_t",
    "k", "n_bits", "shape", "frame", "user", "image_id", "label", "pred", "erased",
    "erasure_reason", "gain", "codec", "rate_index", "mode", "L", "bits",
)  # fmt: skip

U64_EXTREMES = (0, 1, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1)
LONG_EXTREMES = (-(2**63), -(2**31), -1, 0, 1, 2**31 - 1, 2**63 - 1)
FLOAT_EXTREMES = (
    math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, 1e-300, 1e-30, 1e77, 1e80, 1e200, 1e300,
    1.7976931348623157e308, -1e300, -1.0,
)  # fmt: skip

finite_or_not = st.one_of(
    st.sampled_from(FLOAT_EXTREMES),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-10.0, 10.0),
)


# Every strategy is built once (functools.cache): hypothesis validates a strategy object the
# first time it draws from it, and building them anew per example made the validation of the
# recursive ones ~80 % of the fuzz suite's time.


@functools.cache
def _symbol() -> st.SearchStrategy:
    return st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=12)).map(pmt.intern)


@functools.cache
def scalars() -> st.SearchStrategy:
    """PMT scalars of every kind, extremes included."""
    return st.one_of(
        st.just(pmt.PMT_NIL),
        st.sampled_from([pmt.PMT_T, pmt.PMT_F]),
        st.one_of(st.sampled_from(LONG_EXTREMES), st.integers(-(2**63), 2**63 - 1)).map(
            pmt.from_long
        ),
        st.one_of(st.sampled_from(U64_EXTREMES), st.integers(0, 2**64 - 1)).map(pmt.from_uint64),
        finite_or_not.map(pmt.from_double),
        st.builds(complex, finite_or_not, finite_or_not).map(pmt.from_complex),
        _symbol(),
    )


_VEC_KINDS: tuple[tuple[Callable[[int, list], Any], st.SearchStrategy], ...] = (
    (pmt.init_u8vector, st.integers(0, 255)),
    (pmt.init_s8vector, st.integers(-128, 127)),
    (pmt.init_s16vector, st.integers(-(2**15), 2**15 - 1)),
    (pmt.init_u16vector, st.integers(0, 2**16 - 1)),
    (pmt.init_s32vector, st.sampled_from([-(2**31), -1, 0, 1, 3, 15, 16, 2**31 - 1])),
    (pmt.init_u32vector, st.integers(0, 2**32 - 1)),
    (pmt.init_s64vector, st.sampled_from(LONG_EXTREMES)),
    (pmt.init_u64vector, st.sampled_from(U64_EXTREMES)),
    (pmt.init_f32vector, st.one_of(st.floats(width=32), st.sampled_from([1e38, -1.0]))),
    (pmt.init_f64vector, finite_or_not),
    (pmt.init_c32vector, st.builds(complex, st.floats(width=32), st.floats(width=32))),
    (pmt.init_c64vector, st.builds(complex, finite_or_not, finite_or_not)),
)


_VEC_KIND = st.sampled_from(_VEC_KINDS)


@functools.cache
def _sizes(max_size: int) -> st.SearchStrategy:
    return st.one_of(st.integers(0, max_size), st.sampled_from([0, 1, 2, 4, 8, 784]))


@functools.cache
def _values(elem: st.SearchStrategy, n: int) -> st.SearchStrategy:
    return st.lists(elem, min_size=n, max_size=n)


@st.composite
def _uniform_vectors(draw: st.DrawFn, max_size: int) -> Any:
    init, elem = draw(_VEC_KIND)
    n = draw(_sizes(max_size))
    if n > max_size and draw(st.booleans()):  # a long vector of one value
        return init(n, [draw(elem)] * n)
    values = draw(_values(elem, min(n, max_size)))
    return init(len(values), values)


@functools.cache
def uniform_vectors(max_size: int = 12) -> st.SearchStrategy:
    """A uniform vector of a random type and size with random, extreme values."""
    return _uniform_vectors(max_size)


def _containers(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.lists(st.tuples(st.one_of(_symbol(), scalars()), children), max_size=6).map(_dict_of),
        st.tuples(children, children).map(lambda ab: pmt.cons(*ab)),
        st.lists(children, max_size=4).map(_tuple_of),
        st.lists(children, max_size=4).map(_vector_of),
    )


def _dict_of(items: list) -> Any:
    d = pmt.make_dict()
    for k, v in items:
        d = pmt.dict_add(d, k, v)
    return d


def _tuple_of(items: list) -> Any:
    return pmt.to_tuple(_vector_of(items))


def _vector_of(items: list) -> Any:
    vec = pmt.make_vector(len(items), pmt.PMT_NIL)
    for i, x in enumerate(items):
        pmt.vector_set(vec, i, x)
    return vec


@st.composite
def deep_dicts(draw: st.DrawFn) -> Any:
    """A dictionary nested ``depth`` levels deep (up to 3000)."""
    depth = draw(st.sampled_from([10, 100, 1000, 3000]))
    d = draw(scalars())
    key = pmt.intern(draw(st.sampled_from(KNOWN_KEYS)))
    for _ in range(depth):
        d = pmt.dict_add(pmt.make_dict(), key, d)
    return d


@functools.cache
def random_pmts() -> st.SearchStrategy:
    """Any PMT: scalars, vectors, (nested) dicts, pairs, tuples, vectors of PMTs."""
    leaves = st.one_of(scalars(), uniform_vectors())
    return st.one_of(
        st.recursive(leaves, _containers, max_leaves=12),
        deep_dicts(),
    )


@functools.cache
def _scalar_or_vector(max_size: int = 12) -> st.SearchStrategy:
    return st.one_of(scalars(), uniform_vectors(max_size))


@functools.cache
def _any_value() -> st.SearchStrategy:
    return st.one_of(scalars(), uniform_vectors(), random_pmts())


@functools.cache
def _one_of(*strategies: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(*strategies)


@functools.cache
def random_pdus() -> st.SearchStrategy:
    """Pairs that look like PDUs: a (meta-ish) car and a vector-ish cdr, with ``n_bits`` and
    ``shape`` that do not match the payload, truncated or oversized payloads."""
    return _random_pdus()


@st.composite
def _random_pdus(draw: st.DrawFn) -> Any:
    meta = pmt.make_dict()
    for key in draw(st.lists(st.sampled_from(KNOWN_KEYS), max_size=5)):
        value = draw(_scalar_or_vector(4))
        meta = pmt.dict_add(meta, pmt.intern(key), value)
    car = meta if draw(st.booleans()) else draw(random_pmts())
    cdr = draw(_one_of(uniform_vectors(64), random_pmts()))
    return pmt.cons(car, cdr)


# --------------------------------------------------------------------------------------------
# Mutations of a valid message
# --------------------------------------------------------------------------------------------


def _entries(d: Any) -> list[tuple[Any, Any]]:
    items = pmt.dict_items(d)
    return [
        (pmt.car(pmt.nth(i, items)), pmt.cdr(pmt.nth(i, items))) for i in range(pmt.length(items))
    ]


@st.composite
def mutated_dict(draw: st.DrawFn, valid: Any) -> Any:
    """``valid`` (a dict) with one to three keys replaced by random values, removed, or added."""
    d = valid
    for _ in range(draw(st.integers(1, 3))):
        entries = _entries(d) if pmt.is_dict(d) and not pmt.is_null(d) else []
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace" and entries:
            key, _ = entries[draw(st.integers(0, len(entries) - 1))]
            if pmt.is_symbol(key) and pmt.symbol_to_string(key) == "seq" and draw(st.booleans()):
                value = pmt.from_long(draw(st.integers(-5, 2**62)))  # see the module docstring
            else:
                value = draw(_any_value())
                if pmt.is_symbol(key) and pmt.symbol_to_string(key) == "seq":
                    value = _no_huge_seq(value)
            d = pmt.dict_add(d, key, value)
        elif action == "remove" and entries:
            key, _ = entries[draw(st.integers(0, len(entries) - 1))]
            d = pmt.dict_delete(d, key)
        else:
            key = pmt.intern(draw(st.sampled_from(KNOWN_KEYS)))
            value = draw(_scalar_or_vector())
            if pmt.symbol_to_string(key) == "seq":
                value = _no_huge_seq(value)
            d = pmt.dict_add(d, key, value)
    return d


def cap_seq(msg: Any) -> Any:
    """``msg`` with a ``seq`` entry of 2**62 or more (a dict's, at any key position) folded
    below 2**62 (see the module docstring); anything else as it is."""
    try:
        if pmt.is_dict(msg) and not pmt.is_null(msg):
            key = pmt.intern("seq")
            if pmt.dict_has_key(msg, key):
                return pmt.dict_add(msg, key, _no_huge_seq(pmt.dict_ref(msg, key, pmt.PMT_NIL)))
    except Exception:  # not a well-formed dict: no seq can be read from it
        pass
    return msg


def _no_huge_seq(value: Any) -> Any:
    """A seq that, if accepted, leaves room for newer ones (module docstring)."""
    try:
        if pmt.is_uint64(value) and pmt.to_uint64(value) >= 2**62:
            return pmt.from_uint64(pmt.to_uint64(value) % 2**62)
        if pmt.is_integer(value) and pmt.to_long(value) >= 2**62:
            return pmt.from_long(pmt.to_long(value) % 2**62)
    except Exception:
        pass
    return value


@st.composite
def mutated_pdu(draw: st.DrawFn, valid: Any) -> Any:
    """``valid`` (a PDU) with its meta mutated, its payload truncated, extended, retyped, or
    its bits flipped."""
    car, cdr = pmt.car(valid), pmt.cdr(valid)
    action = draw(st.sampled_from(["meta", "truncate", "extend", "retype", "flip", "flip"]))
    if action == "meta":
        return pmt.cons(draw(mutated_dict(car)), cdr)
    if pmt.is_u8vector(cdr):
        data = np.asarray(pmt.u8vector_elements(cdr), dtype=np.uint8)
    elif pmt.is_c32vector(cdr):
        data = np.asarray(pmt.c32vector_elements(cdr), dtype=np.complex64).view(np.uint8)
    else:
        data = np.zeros(0, np.uint8)
    if action == "truncate" and data.size:
        data = data[: draw(st.integers(0, data.size - 1))]
    elif action == "extend":
        data = np.concatenate([data, np.full(draw(st.integers(1, 16)), 0xA5, np.uint8)])
    elif action == "retype":
        return pmt.cons(car, draw(uniform_vectors(max(8, min(int(data.size), 64)))))
    elif data.size:  # flip 1 to 8 random bits
        bits = np.unpackbits(data)
        for i in draw(st.lists(st.integers(0, bits.size - 1), min_size=1, max_size=8)):
            bits[i] ^= 1
        data = np.packbits(bits)
    if pmt.is_c32vector(cdr) and data.size % 8 == 0:
        sym = data.view(np.complex64)
        return pmt.cons(car, pmt.init_c32vector(sym.size, sym.tolist()))
    return pmt.cons(car, pmt.init_u8vector(data.size, data.tolist()))
