#
# Copyright 2025 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""PMT primitives every schema module builds on: :class:`MessageError`, typed readers of PMT
values, writers of numpy arrays, array checks, and the python <-> PMT metadata dictionaries.

Readers accept s32vector or s64vector for integer vectors, f32vector or f64vector for real
vectors and c32vector or c64vector for complex vectors; writers always use the type of the array
given. All numbers must be finite. Every reader raises :class:`MessageError` with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pmt


class MessageError(ValueError):
    """A message does not follow its schema; the text says why."""


@contextmanager
def reraise(prefix: str = "") -> Iterator[None]:
    """Turn a ValueError raised inside the block into a :class:`MessageError` (text prefixed by
    ``prefix``): the algorithm packages raise ValueError, the blocks drop on MessageError."""
    try:
        yield
    except ValueError as exc:
        raise MessageError(f"{prefix}{exc}") from exc


# --------------------------------------------------------------------------------------------
# Dictionaries
# --------------------------------------------------------------------------------------------


def describe(obj: Any) -> str:
    """A short text of a PMT (or the type name of anything else) for error messages."""
    if isinstance(obj, pmt.pmt_base):
        text = pmt.write_string(obj)
        return text if len(text) <= 60 else text[:57] + "..."
    return type(obj).__name__


def require_dict(msg: Any, what: str) -> None:
    """Raise MessageError unless ``msg`` is a PMT dictionary (``what`` names the schema)."""
    if not isinstance(msg, pmt.pmt_base) or not pmt.is_dict(msg):
        raise MessageError(f"{what} must be a PMT dictionary, got {describe(msg)}")


def get(msg: Any, key: str) -> Any | None:
    """Value of ``key`` in a PMT dictionary, or None when absent."""
    k = pmt.intern(key)
    if not pmt.dict_has_key(msg, k):
        return None
    return pmt.dict_ref(msg, k, pmt.PMT_NIL)


def make_dict(entries: dict[str, Any] | None = None, base: Any = None) -> Any:
    """A PMT dictionary of ``entries`` (key -> PMT value, added in order; None values are left
    out), added to ``base`` when given."""
    d = pmt.make_dict() if base is None else base
    for key, value in (entries or {}).items():
        if value is not None:
            d = pmt.dict_add(d, pmt.intern(key), value)
    return d


# --------------------------------------------------------------------------------------------
# Readers of PMT values
# --------------------------------------------------------------------------------------------

#: the uniform vector types each reader accepts (read by :func:`uvector_to_array`)
_Checks = tuple[Callable[[Any], bool], ...]
_INT_VEC_READERS: _Checks = (pmt.is_s32vector, pmt.is_s64vector)
_REAL_VEC_READERS: _Checks = (pmt.is_f64vector, pmt.is_f32vector)
_COMPLEX_VEC_READERS: _Checks = (pmt.is_c64vector, pmt.is_c32vector)


def _read_vec(value: Any, key: str, readers: _Checks, dtype: Any, kind: str) -> np.ndarray:
    if any(check(value) for check in readers):
        return np.asarray(uvector_to_array(value), dtype=dtype).reshape(-1)
    raise MessageError(f"'{key}' must be a {kind}, got {describe(value)}")


def read_int_vec(value: Any, key: str) -> np.ndarray:
    """An s32vector or s64vector whose entries fit int32, as int32."""
    if pmt.is_s32vector(value):  # int32 already: nothing to check
        return uvector_to_array(value)
    out = _read_vec(value, key, _INT_VEC_READERS, np.int64, "s32vector or s64vector")
    if out.size and (out.min() < np.iinfo(np.int32).min or out.max() > np.iinfo(np.int32).max):
        raise MessageError(f"'{key}' has entries outside the int32 range")
    return out.astype(np.int32)


def read_real_vec(value: Any, key: str) -> np.ndarray:
    """An f64vector or f32vector, as float64."""
    return _read_vec(value, key, _REAL_VEC_READERS, np.float64, "f64vector or f32vector")


def read_complex_vec(value: Any, key: str) -> np.ndarray:
    """A c64vector or c32vector, as complex128."""
    return _read_vec(value, key, _COMPLEX_VEC_READERS, np.complex128, "c64vector or c32vector")


def read_count(value: Any, key: str) -> int:
    """A PMT count: a u64 or a non-negative long (raises MessageError otherwise)."""
    if pmt.is_uint64(value):
        return int(pmt.to_uint64(value))
    if pmt.is_integer(value):
        out = int(pmt.to_long(value))
        if out < 0:
            raise MessageError(f"'{key}' must be non-negative, got {out}")
        return out
    raise MessageError(f"'{key}' must be a u64 or a non-negative long, got {describe(value)}")


def read_long(value: Any, key: str) -> int:
    """A long (or a u64)."""
    if pmt.is_integer(value):
        return int(pmt.to_long(value))
    if pmt.is_uint64(value):
        return int(pmt.to_uint64(value))
    raise MessageError(f"'{key}' must be a long, got {describe(value)}")


def read_real(value: Any, key: str) -> float:
    """A finite real number (a double, a long or a u64)."""
    if pmt.is_real(value) or pmt.is_integer(value):
        out = float(pmt.to_double(value))
    elif pmt.is_uint64(value):
        out = float(pmt.to_uint64(value))
    else:
        raise MessageError(f"'{key}' must be a real number, got {describe(value)}")
    if not math.isfinite(out):
        raise MessageError(f"'{key}' must be finite, got {out}")
    return out


def read_symbol(value: Any, key: str) -> str:
    """A symbol (not a bool), as str."""
    if not pmt.is_symbol(value) or pmt.is_bool(value):
        raise MessageError(f"'{key}' must be a symbol, got {describe(value)}")
    return pmt.symbol_to_string(value)


def _uvec(t: str) -> tuple[Any, Callable[[Any], bool], Callable[[Any], Any], Callable]:
    """(numpy dtype, is_X, X_elements, init_X) of the PMT uniform vector ``t`` (e.g. "c32":
    complex of two float32, the numpy complex64)."""
    kind = {"u": "uint", "s": "int", "f": "float", "c": "complex"}[t[0]]
    dtype = np.dtype(f"{kind}{int(t[1:]) * (2 if t[0] == 'c' else 1)}")
    names = (f"is_{t}vector", f"{t}vector_elements", f"init_{t}vector")
    return (dtype, *(getattr(pmt, name) for name in names))


#: Every PMT uniform vector type: (numpy dtype, is_X, X_elements, init_X).
_UVECS = tuple(map(_uvec, "u8 s8 u16 s16 u32 s32 u64 s64 f32 f64 c32 c64".split()))


# --------------------------------------------------------------------------------------------
# Writers of PMT values
# --------------------------------------------------------------------------------------------


def int_fits(value: int) -> bool:
    """Whether :func:`meta_to_pmt` takes the integer ``value`` (a long, or a uint64 above the
    longs' range)."""
    return -(2**63) <= int(value) < 2**64


def from_count(value: int) -> Any:
    """A count as a u64."""
    return pmt.from_uint64(int(value))


def vec_to_pmt(arr: np.ndarray) -> Any:
    """A numpy array (flattened) as the uniform vector of its dtype (bool: u8vector)."""
    arr = np.ascontiguousarray(arr).reshape(-1)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    for dtype, _, _, init in _UVECS:
        if arr.dtype == dtype:
            if _array_to_uvector is not None:
                return _array_to_uvector(arr)
            return init(arr.size, arr.tolist())
    raise MessageError(f"arrays of dtype {arr.dtype} have no PMT vector type")


def uvector_to_array(value: Any) -> np.ndarray:
    """A copy of a PMT uniform vector as a 1-D numpy array of its type (u8vector: uint8, ...,
    c64vector: complex128); MessageError for anything else."""
    if isinstance(value, pmt.pmt_base) and pmt.is_uniform_vector(value):
        if _uvector_to_array is not None:
            return _uvector_to_array(value)
        for dtype, check, elements, _ in _UVECS:
            if check(value):
                return np.asarray(elements(value), dtype=dtype)
    raise MessageError(f"expected a PMT uniform vector, got {describe(value)}")


# The buffer of a uniform vector copied at once by the C++ bindings (issue 23: through a
# python list, element by element, a PDU's payload cost 40-130 us each way); a checkout that
# has not been built converts through lists (the same values).
try:
    from gnuradio.semdacom.semdacom_python import meta_from_pmt as _meta_from_pmt_c
    from gnuradio.semdacom.semdacom_python import meta_to_pmt as _meta_to_pmt_c
    from gnuradio.semdacom.semdacom_python import uvector_from_array as _array_to_uvector
    from gnuradio.semdacom.semdacom_python import uvector_to_array as _uvector_to_array
except ImportError:  # pragma: no cover - the bindings are built by `make setup`
    _array_to_uvector = _uvector_to_array = _meta_to_pmt_c = _meta_from_pmt_c = None


# --------------------------------------------------------------------------------------------
# Checks of python values, shared by both directions
# --------------------------------------------------------------------------------------------


def as_1d(value: Any, key: str, dtype: Any) -> np.ndarray:
    """``value`` as a one-dimensional array of ``dtype``: integers in range for an integer
    dtype, finite numbers otherwise (a complex array only for a complex dtype)."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise MessageError(f"'{key}' cannot be read as an array: {exc}") from exc
    if arr.ndim != 1:
        raise MessageError(f"'{key}' must be one-dimensional, got shape {arr.shape}")
    if np.issubdtype(dtype, np.integer):
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise MessageError(f"'{key}' must hold integers, got dtype {arr.dtype}")
        info = np.iinfo(dtype)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise MessageError(f"'{key}' has entries outside the {np.dtype(dtype)} range")
        return arr.astype(dtype)
    if np.iscomplexobj(arr) and not np.issubdtype(dtype, np.complexfloating):
        raise MessageError(f"'{key}' must be real, got dtype {arr.dtype}")
    if arr.size and not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise MessageError(f"'{key}' must be numeric, got dtype {arr.dtype}")
    out = arr.astype(dtype)
    if not np.all(np.isfinite(out)):
        raise MessageError(f"'{key}' has non-finite entries")
    return out


def check_len(arr: np.ndarray, key: str, n: int, what: str) -> None:
    """Raise MessageError unless ``arr`` has ``n`` entries (``what`` says where n comes from)."""
    if arr.size != n:
        raise MessageError(f"'{key}' has {arr.size} entries, expected {n} ({what})")


def check_u64(value: Any, key: str) -> int:
    """A python integer (not a bool) that fits a u64."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise MessageError(f"'{key}' must be an integer, got {type(value).__name__}")
    if value < 0 or value >= 2**64:
        raise MessageError(f"'{key}' must fit a u64, got {value}")
    return int(value)


# --------------------------------------------------------------------------------------------
# Metadata dictionaries
# --------------------------------------------------------------------------------------------


def _py_to_pmt(value: Any, key: str) -> Any:
    if isinstance(value, pmt.pmt_base):
        return value
    if value is None:
        return pmt.PMT_NIL
    if isinstance(value, (bool, np.bool_)):
        return pmt.from_bool(bool(value))
    if isinstance(value, (int, np.integer)):
        ivalue = int(value)
        if -(2**63) <= ivalue < 2**63:
            return pmt.from_long(ivalue)
        if int_fits(ivalue):
            return pmt.from_uint64(ivalue)
        raise MessageError(f"meta '{key}': integer {ivalue} does not fit 64 bits")
    if isinstance(value, (float, np.floating)):
        return pmt.from_double(float(value))
    if isinstance(value, (complex, np.complexfloating)):
        return pmt.from_complex(complex(value))
    if isinstance(value, str):
        return pmt.intern(value)
    if isinstance(value, (bytes, bytearray)):
        return vec_to_pmt(np.frombuffer(bytes(value), dtype=np.uint8))
    if isinstance(value, np.ndarray):
        return vec_to_pmt(value)
    if isinstance(value, dict):
        return meta_to_pmt(value)
    if isinstance(value, (list, tuple)):
        vec = pmt.make_vector(len(value), pmt.PMT_NIL)
        for i, item in enumerate(value):
            pmt.vector_set(vec, i, _py_to_pmt(item, key))
        return pmt.to_tuple(vec)
    raise MessageError(f"meta '{key}': values of type {type(value).__name__} have no PMT form")


def _pmt_to_py(value: Any) -> Any:
    if pmt.is_bool(value):
        return pmt.to_bool(value)
    if pmt.is_symbol(value):
        return pmt.symbol_to_string(value)
    if pmt.is_uint64(value):
        return int(pmt.to_uint64(value))
    if pmt.is_integer(value):
        return int(pmt.to_long(value))
    if pmt.is_real(value):
        return float(pmt.to_double(value))
    if pmt.is_complex(value):
        return complex(pmt.to_complex(value))
    if pmt.is_uniform_vector(value):
        return uvector_to_array(value)
    if pmt.is_dict(value) and not pmt.is_null(value):
        return meta_from_pmt(value)
    if pmt.is_null(value):
        return None
    if pmt.is_tuple(value):
        return tuple(_pmt_to_py(pmt.tuple_ref(value, i)) for i in range(pmt.length(value)))
    if pmt.is_vector(value):
        return [_pmt_to_py(pmt.vector_ref(value, i)) for i in range(pmt.length(value))]
    if pmt.is_pair(value):
        return (_pmt_to_py(pmt.car(value)), _pmt_to_py(pmt.cdr(value)))
    return value


def meta_to_pmt(meta: dict) -> Any:
    """Turn a python metadata dictionary into a PMT dictionary.

    Parameters
    ----------
    meta : dict
        String keys; values may be None, bool, int, float, complex, str (becomes a symbol),
        bytes, numpy arrays (the matching uniform vector), nested dicts, lists/tuples (PMT
        tuples) or PMT objects (kept as they are).

    Returns
    -------
    pmt.pmt_base
        The dictionary.

    Raises
    ------
    MessageError
        For a non-string key or a value with no PMT form.
    """
    if not isinstance(meta, dict):
        raise MessageError(f"meta must be a dict, got {type(meta).__name__}")
    return _cpp_or_reference(_meta_to_pmt_c, meta_to_pmt_reference, meta, _py_to_pmt)


def _cpp_or_reference(cpp, reference, value, helper) -> Any:
    """``cpp(value, helper)`` (the C++ conversion, issue 23: the common types in C++, the
    rest through ``helper``) when the bindings are built and it answers, else
    ``reference(value)`` (Python alone: the same result)."""
    if cpp is not None:
        out = cpp(value, helper)
        if out is not None:
            return out
    return reference(value)


def meta_to_pmt_reference(meta: dict) -> Any:
    """:func:`meta_to_pmt` in Python alone (what the C++ conversion is tested against; used
    where the bindings are not built, and for a key that is not a str)."""
    d = pmt.make_dict()
    for key, value in meta.items():
        if not isinstance(key, str):
            raise MessageError(f"meta keys must be strings, got {key!r}")
        d = pmt.dict_add(d, pmt.intern(key), _py_to_pmt(value, key))
    return d


def meta_from_pmt(msg: Any) -> dict:
    """Turn a PMT metadata dictionary into a python dictionary.

    Parameters
    ----------
    msg : pmt.pmt_base
        A dictionary with symbol keys.

    Returns
    -------
    dict
        Symbols become str, longs and u64 int, reals float, uniform vectors numpy arrays,
        nested dictionaries dicts, tuples tuples; other PMTs are kept as PMT objects.

    Raises
    ------
    MessageError
        When ``msg`` is not a dictionary or has a non-symbol key.
    """
    require_dict(msg, "meta")
    return _cpp_or_reference(_meta_from_pmt_c, meta_from_pmt_reference, msg, _pmt_to_py)


def meta_from_pmt_reference(msg: Any) -> dict:
    """:func:`meta_from_pmt` in Python alone (what the C++ conversion is tested against;
    used where the bindings are not built, and for a key that is not a symbol)."""
    require_dict(msg, "meta")
    out: dict = {}
    items = pmt.dict_items(msg)
    for i in range(pmt.length(items)):
        item = pmt.nth(i, items)
        key = pmt.car(item)
        if not pmt.is_symbol(key) or pmt.is_bool(key):
            raise MessageError(f"meta keys must be symbols, got {describe(key)}")
        out[pmt.symbol_to_string(key)] = _pmt_to_py(pmt.cdr(item))
    return out
