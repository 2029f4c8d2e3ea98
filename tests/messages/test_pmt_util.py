"""PMT primitives (``messages.pmt_util``): MessageError and the metadata dictionaries."""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from gnuradio.semdacom import messages
from gnuradio.semdacom.messages import MessageError, pmt_util
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def test_message_error_is_a_value_error() -> None:
    assert issubclass(MessageError, ValueError)


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
# The C++ conversions (issue 23) against pmt_util's Python reference
# ---------------------------------------------------------------------------------------------


_DTYPES = [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64,
           np.float32, np.float64, np.complex64, np.complex128]  # fmt: skip
_arrays = st.sampled_from(_DTYPES).flatmap(
    lambda dt: hnp.arrays(
        dt, st.integers(0, 40), elements=hnp.from_dtype(np.dtype(dt), allow_nan=False)
    )
)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**64), 2**64 + 5), st.floats(allow_nan=False),
    st.text(max_size=12), st.complex_numbers(allow_nan=False, allow_infinity=False),
    st.integers(0, 2**64 - 1).map(np.uint64), st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.floats(allow_nan=False, width=32).map(np.float32), st.booleans().map(np.bool_),
    st.binary(max_size=20), _arrays,
    # what the C++ conversion leaves to the Python code or reads through numpy's protocols:
    # bool arrays, several dimensions, strided views, other numpy scalar widths
    hnp.arrays(np.bool_, st.integers(0, 9)), _arrays.map(lambda a: a[::2]),
    _arrays.map(lambda a: a[: a.size // 2 * 2].reshape(-1, 2)),
    st.integers(-128, 127).map(np.int8), st.integers(0, 2**32 - 1).map(np.uint32),
    st.floats(allow_nan=False, width=16).map(np.float16),
)  # fmt: skip
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.dictionaries(st.text(max_size=8), inner, max_size=5),
        st.lists(inner, max_size=4).map(tuple),
    ),
    max_leaves=12,
)
_metas = st.dictionaries(st.text(max_size=10), _values, max_size=12)


def _same(a, b) -> bool:
    """Python values equal, arrays by dtype and value."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and np.array_equal(a, b))  # fmt: skip
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and (a == b or (a != a and b != b))


def _outcome(fn, *args):
    try:
        return True, fn(*args)
    except MessageError as exc:
        return False, str(exc)


@settings(max_examples=300, deadline=None)
@given(_metas)
def test_the_cpp_meta_conversions_give_the_python_references(meta) -> None:
    """Property: ``meta_to_pmt`` (C++ for the common types) builds the dictionary the Python
    reference builds (pmt.equal), or fails with the same error; ``meta_from_pmt`` reads
    any such dictionary back as the reference reads it, types included."""
    assert pmt_util._meta_to_pmt_c is not None  # the bindings are built (make setup)
    ok, fast = _outcome(messages.meta_to_pmt, meta)
    ok_ref, ref = _outcome(pmt_util.meta_to_pmt_reference, meta)
    assert ok == ok_ref
    if not ok:
        assert fast == ref
        return
    assert pmt.equal(fast, ref)
    assert _same(messages.meta_from_pmt(ref), pmt_util.meta_from_pmt_reference(ref))


@settings(max_examples=200, deadline=None)
@given(_arrays)
def test_uniform_vectors_convert_by_buffer_as_by_list(arr) -> None:
    """Property: a numpy array becomes the uniform vector the pmt module's list path makes,
    and reads back with its dtype and values."""
    v = pmt_util.vec_to_pmt(arr)
    for dtype, check, elements, init in pmt_util._UVECS:
        if arr.dtype == dtype:
            assert check(v) and pmt.equal(v, init(arr.size, arr.tolist()))
            back = pmt_util.uvector_to_array(init(arr.size, arr.tolist()))
            assert back.dtype == dtype and np.array_equal(back, arr)
            assert np.array_equal(np.asarray(elements(v), dtype=dtype), arr)


def test_keys_that_are_not_symbols_and_odd_values_take_the_reference_path() -> None:
    """A PMT dictionary with a non-symbol key is refused with the reference's error; pairs,
    vectors and other PMTs inside a dictionary come back as the reference gives them."""
    bad = pmt.dict_add(pmt.make_dict(), pmt.from_long(3), pmt.from_long(1))
    with pytest.raises(MessageError, match="keys must be symbols"):
        messages.meta_from_pmt(bad)
    d = pmt.make_dict()
    d = pmt.dict_add(d, pmt.intern("pair"), pmt.cons(pmt.from_long(1), pmt.intern("a")))
    d = pmt.dict_add(d, pmt.intern("vec"), pmt.make_vector(2, pmt.from_double(0.5)))
    d = pmt.dict_add(d, pmt.intern("f"), pmt.PMT_F)
    d = pmt.dict_add(d, pmt.intern("empty"), pmt.make_dict())
    assert _same(messages.meta_from_pmt(d), pmt_util.meta_from_pmt_reference(d))
    assert messages.meta_from_pmt(d)["pair"] == (1, "a")
