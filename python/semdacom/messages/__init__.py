#
# Copyright 2025 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""PMT message schemas of gr-semdacom: conversion and validation, both ways.

Every block builds and parses its control and data messages through this module; no block
handles these PMT dictionaries by hand. Every reader validates what it gets and raises
:class:`MessageError` (a :class:`ValueError`) with the reason; the calling block logs the reason,
drops the message and keeps its previous state.

Allocation (one dictionary for the whole system, broadcast on ``alloc``/``cmd`` ports; readers
ignore keys they do not know):

============== ===================== =========================================================
key            PMT type              meaning
============== ===================== =========================================================
seq            u64 (or long >= 0)    allocation number, strictly increasing (required)
apply_frame    u64 (or long >= 0)    first frame it applies to (default 0: at once)
rate_index     s32vector[K]          source operating point per user (index >= 0)
rs_bits        f64vector[K]          expected source bits per image (>= 0)
rc             f64vector[K]          channel coding rate, bits per channel use (0, MAX_RC]
mcs            s32vector[K]          practical code/modulation index (>= 0)
power          f64vector[K]          transmit power per user, watts [0, MAX_POWER_W]
w              c64vector[K*N_t]      unit-norm beamformers, user-major (w_1 then w_2 ...)
objective      f64                   optimiser objective (diagnostic)
solve_ms       f64                   solve time in milliseconds (diagnostic, >= 0)
solver         symbol                solver name (diagnostic)
pairs          s32vector[2M]         SFMA user pairs (u_0, v_0, u_1, v_1, ...); -1 = no partner
nu             f64vector[M]          SFMA compression ratio per group (> 0)
group_power    f64vector[M]          SFMA transmit power per group, watts (>= 0)
group_bw       f64vector[M]          SFMA bandwidth per group (>= 0)
============== ===================== =========================================================

Readers accept s32vector or s64vector for integer vectors, f32vector or f64vector for real
vectors and c32vector or c64vector for complex vectors; writers always use the types above.
All numbers must be finite.

Limits (the same in C++, ``include/gnuradio/semdacom/allocation_schedule.h``): every
``power`` entry is at most :data:`MAX_POWER_W` (1 MW: far above any transmitter, and low
enough that ``sqrt(p) w`` is a finite float in the beamformer kernel); ``rc`` is at most
:data:`MAX_RC` bits per channel use; a beam is unit-norm to :func:`beam_norm_tolerance`
(1e-6 for a c64vector, 1e-4 for a c32vector). A reader given ``user=u`` rejects an allocation
or CSI whose K does not include user ``u``.

CSI (``csi`` ports):

============== ===================== =========================================================
key            PMT type              meaning
============== ===================== =========================================================
h              c64vector[K*N_t]      channel rows h_i, user-major; user i receives h_i^H x
noise_var      f64vector[K]          noise variance per user (>= 0; 0 = noiseless simulation)
n_t            long                  transmit antennas N_t
k              long                  users K
seq            u64 (or long >= 0)    CSI number
frame          u64 (or long >= 0)    optional: first frame this channel applies to
============== ===================== =========================================================

CSI limits: ``|h_ij| <=`` :data:`MAX_CHANNEL_GAIN` and ``noise_var <=`` :data:`MAX_NOISE_VAR`;
a reader that divides by the noise (``positive_noise=True``) needs ``noise_var >=``
:data:`MIN_NOISE_VAR`. Within these limits eq. (7) is a finite number.

Bits PDU (``pdus`` ports carrying bits): a pair ``(meta, payload)`` with ``meta`` a dictionary
and ``payload`` a u8vector of the bits packed MSB first. ``meta["n_bits"]`` (long) is the exact
bit count; without it the count is ``8 * len(payload)``. The payload holds exactly
``ceil(n_bits / 8)`` bytes; the pad bits of the last byte are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pmt

__all__ = [
    "MAX_CHANNEL_GAIN",
    "MAX_NOISE_VAR",
    "MAX_POWER_W",
    "MAX_RC",
    "MIN_NOISE_VAR",
    "beam_norm_tolerance",
    "link_allocation",
    "CHAN_MODES",
    "CHAN_TAG",
    "DJSCC_TAG",
    "chan_info",
    "read_count",
    "ALLOC_KEYS",
    "ALLOC_K_KEYS",
    "ALLOC_M_KEYS",
    "Allocation",
    "Csi",
    "MessageError",
    "alloc_from_pmt",
    "alloc_to_pmt",
    "bits_pdu",
    "csi_from_pmt",
    "csi_to_pmt",
    "meta_from_pmt",
    "meta_to_pmt",
    "unpack_bits_pdu",
]

_BUDGET_REL_TOL = 1e-9

#: Largest transmit power per user in an allocation, watts (C++ ``MAX_POWER_W``).
MAX_POWER_W = 1e6
#: Largest channel coding rate ``rc`` in an allocation, bits per complex channel use.
MAX_RC = 32.0
#: Largest channel coefficient magnitude ``|h_ij|`` in a CSI message.
MAX_CHANNEL_GAIN = 1e6
#: Largest noise variance in a CSI message.
MAX_NOISE_VAR = 1e12
#: Smallest noise variance a reader that divides by it accepts (``positive_noise=True``).
MIN_NOISE_VAR = 1e-30


def beam_norm_tolerance(c32: bool) -> float:
    """Unit-norm tolerance ``| ||w_i|| - 1 |`` of a beam read from a c32vector (1e-4: float
    rounding) or a c64vector (1e-6); the C++ ``beam_norm_tolerance`` is the same."""
    return 1e-4 if c32 else 1e-6


#: Allocation keys holding one entry per user.
ALLOC_K_KEYS: tuple[str, ...] = ("rate_index", "rs_bits", "rc", "mcs", "power")
#: Allocation keys holding one entry per SFMA group (``pairs`` holds two).
ALLOC_M_KEYS: tuple[str, ...] = ("nu", "group_power", "group_bw")
#: Every allocation key this module knows.
ALLOC_KEYS: tuple[str, ...] = (
    ("seq", "apply_frame")
    + ALLOC_K_KEYS
    + ("w", "objective", "solve_ms", "solver", "pairs")
    + ALLOC_M_KEYS
)


class MessageError(ValueError):
    """A message does not follow its schema; the text says why."""


# --------------------------------------------------------------------------------------------
# Low-level PMT readers and writers
# --------------------------------------------------------------------------------------------

_INT_VEC_READERS: tuple[tuple[Callable[[Any], bool], Callable[[Any], Any]], ...] = (
    (pmt.is_s32vector, pmt.s32vector_elements),
    (pmt.is_s64vector, pmt.s64vector_elements),
)
_REAL_VEC_READERS: tuple[tuple[Callable[[Any], bool], Callable[[Any], Any]], ...] = (
    (pmt.is_f64vector, pmt.f64vector_elements),
    (pmt.is_f32vector, pmt.f32vector_elements),
)
_COMPLEX_VEC_READERS: tuple[tuple[Callable[[Any], bool], Callable[[Any], Any]], ...] = (
    (pmt.is_c64vector, pmt.c64vector_elements),
    (pmt.is_c32vector, pmt.c32vector_elements),
)


def _require_dict(msg: Any, what: str) -> None:
    if not isinstance(msg, pmt.pmt_base) or not pmt.is_dict(msg):
        raise MessageError(f"{what} must be a PMT dictionary, got {_describe(msg)}")


def _describe(obj: Any) -> str:
    if isinstance(obj, pmt.pmt_base):
        text = pmt.write_string(obj)
        return text if len(text) <= 60 else text[:57] + "..."
    return type(obj).__name__


def _get(msg: Any, key: str) -> Any | None:
    """Value of ``key`` in a PMT dictionary, or None when absent."""
    k = pmt.intern(key)
    if not pmt.dict_has_key(msg, k):
        return None
    return pmt.dict_ref(msg, k, pmt.PMT_NIL)


def _read_vec(value: Any, key: str, readers: tuple, dtype: Any, kind: str) -> np.ndarray:
    for check, elements in readers:
        if check(value):
            return np.asarray(elements(value), dtype=dtype).reshape(-1)
    raise MessageError(f"'{key}' must be a {kind}, got {_describe(value)}")


def _read_int_vec(value: Any, key: str) -> np.ndarray:
    out = _read_vec(value, key, _INT_VEC_READERS, np.int64, "s32vector or s64vector")
    if out.size and (out.min() < np.iinfo(np.int32).min or out.max() > np.iinfo(np.int32).max):
        raise MessageError(f"'{key}' has entries outside the int32 range")
    return out.astype(np.int32)


def _read_real_vec(value: Any, key: str) -> np.ndarray:
    return _read_vec(value, key, _REAL_VEC_READERS, np.float64, "f64vector or f32vector")


def _read_complex_vec(value: Any, key: str) -> np.ndarray:
    return _read_vec(value, key, _COMPLEX_VEC_READERS, np.complex128, "c64vector or c32vector")


def _read_count(value: Any, key: str) -> int:
    """A u64 or a non-negative long."""
    if pmt.is_uint64(value):
        return int(pmt.to_uint64(value))
    if pmt.is_integer(value):
        out = int(pmt.to_long(value))
        if out < 0:
            raise MessageError(f"'{key}' must be non-negative, got {out}")
        return out
    raise MessageError(f"'{key}' must be a u64 or a non-negative long, got {_describe(value)}")


def read_count(value: Any, key: str) -> int:
    """A PMT count: a u64 or a non-negative long (raises MessageError otherwise)."""
    return _read_count(value, key)


def _read_long(value: Any, key: str) -> int:
    if pmt.is_integer(value):
        return int(pmt.to_long(value))
    if pmt.is_uint64(value):
        return int(pmt.to_uint64(value))
    raise MessageError(f"'{key}' must be a long, got {_describe(value)}")


def _read_real(value: Any, key: str) -> float:
    if pmt.is_real(value) or pmt.is_integer(value):
        out = float(pmt.to_double(value))
    elif pmt.is_uint64(value):
        out = float(pmt.to_uint64(value))
    else:
        raise MessageError(f"'{key}' must be a real number, got {_describe(value)}")
    if not math.isfinite(out):
        raise MessageError(f"'{key}' must be finite, got {out}")
    return out


def _read_symbol(value: Any, key: str) -> str:
    if not pmt.is_symbol(value) or pmt.is_bool(value):
        raise MessageError(f"'{key}' must be a symbol, got {_describe(value)}")
    return pmt.symbol_to_string(value)


def _from_count(value: int) -> Any:
    return pmt.from_uint64(int(value))


def _vec_to_pmt(arr: np.ndarray) -> Any:
    arr = np.ascontiguousarray(arr).reshape(-1)
    if arr.dtype == np.int32:
        return pmt.init_s32vector(arr.size, arr.tolist())
    if arr.dtype == np.int64:
        return pmt.init_s64vector(arr.size, arr.tolist())
    if arr.dtype == np.float64:
        return pmt.init_f64vector(arr.size, arr.tolist())
    if arr.dtype == np.float32:
        return pmt.init_f32vector(arr.size, arr.tolist())
    if arr.dtype == np.complex128:
        return pmt.init_c64vector(arr.size, arr.tolist())
    if arr.dtype == np.complex64:
        return pmt.init_c32vector(arr.size, arr.tolist())
    if arr.dtype == np.uint8:
        return pmt.init_u8vector(arr.size, arr.tolist())
    if arr.dtype == np.int8:
        return pmt.init_s8vector(arr.size, arr.tolist())
    if arr.dtype == np.int16:
        return pmt.init_s16vector(arr.size, arr.tolist())
    if arr.dtype == np.uint16:
        return pmt.init_u16vector(arr.size, arr.tolist())
    if arr.dtype == np.uint32:
        return pmt.init_u32vector(arr.size, arr.tolist())
    if arr.dtype == np.uint64:
        return pmt.init_u64vector(arr.size, arr.tolist())
    if arr.dtype == np.bool_:
        return pmt.init_u8vector(arr.size, arr.astype(np.uint8).tolist())
    raise MessageError(f"arrays of dtype {arr.dtype} have no PMT vector type")


# --------------------------------------------------------------------------------------------
# Array checks shared by both directions
# --------------------------------------------------------------------------------------------


def _as_1d(value: Any, key: str, dtype: Any) -> np.ndarray:
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


def _check_len(arr: np.ndarray, key: str, n: int, what: str) -> None:
    if arr.size != n:
        raise MessageError(f"'{key}' has {arr.size} entries, expected {n} ({what})")


# --------------------------------------------------------------------------------------------
# Allocation
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Allocation:
    """One system allocation (see the module docstring for the keys).

    Optional fields are None when the allocation does not carry them. ``w`` has shape
    ``(K, N_t)``; row ``i`` is the unit-norm beamformer of user ``i``.
    """

    seq: int
    apply_frame: int = 0
    rate_index: np.ndarray | None = None
    rs_bits: np.ndarray | None = None
    rc: np.ndarray | None = None
    mcs: np.ndarray | None = None
    power: np.ndarray | None = None
    w: np.ndarray | None = None
    objective: float | None = None
    solve_ms: float | None = None
    solver: str | None = None
    pairs: np.ndarray | None = None
    nu: np.ndarray | None = None
    group_power: np.ndarray | None = None
    group_bw: np.ndarray | None = None

    @property
    def k(self) -> int | None:
        """Number of users K, from whichever per-user field is present (None if none is)."""
        for key in ALLOC_K_KEYS:
            value = getattr(self, key)
            if value is not None:
                return int(np.asarray(value).size)
        if self.w is not None and np.ndim(self.w) == 2:
            return int(np.shape(self.w)[0])
        return None

    @property
    def n_t(self) -> int | None:
        """Number of transmit antennas N_t (from ``w``; None without beams)."""
        if self.w is not None and np.ndim(self.w) == 2:
            return int(np.shape(self.w)[1])
        return None

    @property
    def m(self) -> int | None:
        """Number of SFMA groups M (None when no SFMA field is present)."""
        for key in ALLOC_M_KEYS:
            value = getattr(self, key)
            if value is not None:
                return int(np.asarray(value).size)
        if self.pairs is not None:
            return int(np.asarray(self.pairs).size) // 2
        return None

    def present(self) -> tuple[str, ...]:
        """Names of the fields this allocation carries."""
        return tuple(key for key in ALLOC_KEYS if getattr(self, key) is not None)


_ALLOC_INT_FIELDS = ("rate_index", "mcs", "pairs")


def _validate_alloc(
    a: Allocation,
    *,
    k: int | None,
    n_t: int | None,
    p_max: float | None,
    require: tuple[str, ...],
    w_flat: bool,
    user: int | None = None,
    w_tol: float = 1e-6,
) -> Allocation:
    """Check and normalise an allocation; ``w_flat`` says ``a.w`` is still the flat PMT vector,
    ``w_tol`` is its unit-norm tolerance, ``user`` a user index K must include."""
    for key in require:
        if key not in ALLOC_KEYS:
            raise MessageError(f"unknown required allocation key '{key}'")
        if getattr(a, key) is None:
            raise MessageError(f"allocation lacks required key '{key}'")
    for name, value in (("seq", a.seq), ("apply_frame", a.apply_frame)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise MessageError(f"'{name}' must be an integer, got {type(value).__name__}")
        if value < 0 or value >= 2**64:
            raise MessageError(f"'{name}' must fit a u64, got {value}")
    out = Allocation(seq=int(a.seq), apply_frame=int(a.apply_frame))

    # Per-user vectors: dtype, finiteness, one common K.
    k_found: int | None = None if k is None else int(k)
    k_from = "the k argument"
    for key in ALLOC_K_KEYS:
        value = getattr(a, key)
        if value is None:
            continue
        arr = _as_1d(value, key, np.int32 if key in _ALLOC_INT_FIELDS else np.float64)
        if k_found is None:
            k_found, k_from = arr.size, f"'{key}'"
        else:
            _check_len(arr, key, k_found, f"K from {k_from}")
        setattr(out, key, arr)
    if k_found is not None and k_found < 1:
        raise MessageError(f"K must be at least 1, got {k_found}")
    if user is not None and k_found is not None and not 0 <= user < k_found:
        raise MessageError(f"allocation has K={k_found}, this block is user {user}")
    if out.rate_index is not None and np.any(out.rate_index < 0):
        raise MessageError("'rate_index' has negative entries")
    if out.mcs is not None and np.any(out.mcs < 0):
        raise MessageError("'mcs' has negative entries")
    if out.rs_bits is not None and np.any(out.rs_bits < 0):
        raise MessageError("'rs_bits' has negative entries")
    if out.rc is not None and np.any(out.rc <= 0):
        raise MessageError("'rc' must be positive")
    if out.rc is not None and np.any(out.rc > MAX_RC):
        raise MessageError(f"'rc' exceeds MAX_RC = {MAX_RC:g} bits per channel use")
    if out.power is not None:
        if np.any(out.power < 0):
            raise MessageError("'power' has negative entries")
        if np.any(out.power > MAX_POWER_W):
            raise MessageError(
                f"'power' exceeds the physical limit MAX_POWER_W = {MAX_POWER_W:g} W"
            )
        if p_max is not None:
            total = float(out.power.sum())
            if total > float(p_max) * (1.0 + _BUDGET_REL_TOL):
                raise MessageError(f"sum of 'power' {total:.6g} W exceeds the budget {p_max:.6g} W")

    # Beams.
    if a.w is not None:
        if w_flat:
            flat = np.asarray(a.w, dtype=np.complex128).reshape(-1)
            if not np.all(np.isfinite(flat)):
                raise MessageError("'w' has non-finite entries")
            if n_t is not None:
                if n_t < 1 or flat.size % n_t:
                    raise MessageError(f"'w' has {flat.size} entries, not a multiple of N_t={n_t}")
                rows = flat.size // n_t
            elif k_found is not None:
                if flat.size % k_found:
                    raise MessageError(
                        f"'w' has {flat.size} entries, not a multiple of K={k_found}"
                    )
                rows = k_found
            else:
                raise MessageError("cannot shape 'w': no per-user key and neither k nor n_t given")
            if rows < 1 or flat.size == 0:
                raise MessageError("'w' is empty")
            w = flat.reshape(rows, flat.size // rows)
        else:
            try:
                w = np.asarray(a.w, dtype=np.complex128)
            except (TypeError, ValueError) as exc:
                raise MessageError(f"'w' cannot be read as a complex array: {exc}") from exc
            if w.ndim != 2 or w.size == 0:
                raise MessageError(f"'w' must have shape (K, N_t), got {w.shape}")
            if not np.all(np.isfinite(w)):
                raise MessageError("'w' has non-finite entries")
            if n_t is not None and w.shape[1] != n_t:
                raise MessageError(f"'w' has {w.shape[1]} columns, expected N_t={n_t}")
        if k_found is not None and w.shape[0] != k_found:
            raise MessageError(
                f"'w' has {w.size} entries, expected K*N_t={k_found}*{w.shape[1]} (K from {k_from})"
            )
        norms = np.linalg.norm(w, axis=1)
        bad = np.flatnonzero(np.abs(norms - 1.0) > w_tol)
        if bad.size:
            raise MessageError(
                f"beam of user {int(bad[0])} has norm {norms[bad[0]]:.9g}, expected 1"
            )
        if user is not None and not 0 <= user < w.shape[0]:
            raise MessageError(f"allocation has K={w.shape[0]}, this block is user {user}")
        out.w = w

    # Diagnostics.
    for key in ("objective", "solve_ms"):
        value = getattr(a, key)
        if value is None:
            continue
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise MessageError(f"'{key}' must be a real number, got {type(value).__name__}")
        if isinstance(value, (complex, np.complexfloating)) or not math.isfinite(float(value)):
            raise MessageError(f"'{key}' must be a finite real number, got {value}")
        setattr(out, key, float(value))
    if out.solve_ms is not None and out.solve_ms < 0:
        raise MessageError(f"'solve_ms' must be non-negative, got {out.solve_ms}")
    if a.solver is not None:
        if not isinstance(a.solver, str):
            raise MessageError(f"'solver' must be a string, got {type(a.solver).__name__}")
        out.solver = a.solver

    # SFMA groups: one common M.
    m_found: int | None = None
    m_from = ""
    if a.pairs is not None:
        pairs = _as_1d(a.pairs, "pairs", np.int32)
        if pairs.size % 2:
            raise MessageError(f"'pairs' has {pairs.size} entries, expected an even count 2M")
        if np.any(pairs < -1):
            raise MessageError("'pairs' entries must be user indices or -1")
        if k_found is not None and np.any(pairs >= k_found):
            raise MessageError(f"'pairs' names a user >= K={k_found}")
        m_found, m_from = pairs.size // 2, "'pairs'"
        out.pairs = pairs
    for key in ALLOC_M_KEYS:
        value = getattr(a, key)
        if value is None:
            continue
        arr = _as_1d(value, key, np.float64)
        if m_found is None:
            m_found, m_from = arr.size, f"'{key}'"
        else:
            _check_len(arr, key, m_found, f"M from {m_from}")
        setattr(out, key, arr)
    if out.nu is not None and np.any(out.nu <= 0):
        raise MessageError("'nu' must be positive")
    for key in ("group_power", "group_bw"):
        arr = getattr(out, key)
        if arr is not None and np.any(arr < 0):
            raise MessageError(f"'{key}' has negative entries")
    return out


def alloc_to_pmt(a: Allocation) -> Any:
    """Validate an allocation and turn it into its PMT dictionary.

    Parameters
    ----------
    a : Allocation
        The allocation; absent (None) fields are left out of the dictionary.

    Returns
    -------
    pmt.pmt_base
        The allocation dictionary (types as in the module docstring).

    Raises
    ------
    MessageError
        When the allocation breaks the schema.
    """
    if not isinstance(a, Allocation):
        raise MessageError(f"expected an Allocation, got {type(a).__name__}")
    v = _validate_alloc(a, k=None, n_t=None, p_max=None, require=(), w_flat=False)
    d = pmt.make_dict()
    d = pmt.dict_add(d, pmt.intern("seq"), _from_count(v.seq))
    d = pmt.dict_add(d, pmt.intern("apply_frame"), _from_count(v.apply_frame))
    for key in ALLOC_K_KEYS + ("pairs",) + ALLOC_M_KEYS:
        arr = getattr(v, key)
        if arr is not None:
            d = pmt.dict_add(d, pmt.intern(key), _vec_to_pmt(arr))
    if v.w is not None:
        d = pmt.dict_add(d, pmt.intern("w"), _vec_to_pmt(v.w.reshape(-1)))
    for key in ("objective", "solve_ms"):
        value = getattr(v, key)
        if value is not None:
            d = pmt.dict_add(d, pmt.intern(key), pmt.from_double(value))
    if v.solver is not None:
        d = pmt.dict_add(d, pmt.intern("solver"), pmt.intern(v.solver))
    return d


def alloc_from_pmt(
    msg: Any,
    *,
    k: int | None = None,
    n_t: int | None = None,
    p_max: float | None = None,
    require: tuple[str, ...] = (),
    user: int | None = None,
) -> Allocation:
    """Read and validate an allocation dictionary.

    Parameters
    ----------
    msg : pmt.pmt_base
        The message.
    k : int, optional
        Expected number of users; every per-user vector must have this length.
    n_t : int, optional
        Expected number of transmit antennas; ``w`` must have ``K * n_t`` entries.
    p_max : float, optional
        Power budget in watts; ``sum(power)`` may exceed it by a relative 1e-9 at most.
    require : tuple of str
        Keys that must be present.
    user : int, optional
        The reading block's user index: an allocation whose K (from any per-user key or
        ``w``) does not include it is rejected.

    Returns
    -------
    Allocation
        Arrays as numpy arrays (``w`` of shape ``(K, N_t)``), absent keys as None.

    Raises
    ------
    MessageError
        When the message breaks the schema; the text gives the reason.
    """
    _require_dict(msg, "allocation")
    seq_pmt = _get(msg, "seq")
    if seq_pmt is None:
        raise MessageError("allocation lacks 'seq'")
    af_pmt = _get(msg, "apply_frame")
    raw = Allocation(
        seq=_read_count(seq_pmt, "seq"),
        apply_frame=0 if af_pmt is None else _read_count(af_pmt, "apply_frame"),
    )
    for key in ALLOC_K_KEYS + ("pairs",) + ALLOC_M_KEYS:
        value = _get(msg, key)
        if value is None:
            continue
        if key in _ALLOC_INT_FIELDS:
            setattr(raw, key, _read_int_vec(value, key))
        else:
            setattr(raw, key, _read_real_vec(value, key))
    w_pmt = _get(msg, "w")
    w_tol = beam_norm_tolerance(False)
    if w_pmt is not None:
        raw.w = _read_complex_vec(w_pmt, "w")
        w_tol = beam_norm_tolerance(bool(pmt.is_c32vector(w_pmt)))
    for key in ("objective", "solve_ms"):
        value = _get(msg, key)
        if value is not None:
            setattr(raw, key, _read_real(value, key))
    solver = _get(msg, "solver")
    if solver is not None:
        raw.solver = _read_symbol(solver, "solver")
    return _validate_alloc(
        raw,
        k=k,
        n_t=n_t,
        p_max=p_max,
        require=tuple(require),
        w_flat=True,
        user=user,
        w_tol=w_tol,
    )


#: Key of the per-frame tag of ``channel_encoder`` carrying the coding parameters.
CHAN_TAG = "semdacom_chan"
#: Key of the per-frame tag of ``djscc_encoder`` carrying the image meta.
DJSCC_TAG = "semdacom_djscc"
#: Modes of the channel coder blocks.
CHAN_MODES = ("ldpc", "fbl")
#: Largest ``n_bits`` a ``semdacom_chan`` tag may announce.
MAX_FRAME_BITS = 1 << 31


def chan_info(info: Any) -> dict:
    """Validate the dict of a ``semdacom_chan`` tag (as :func:`meta_from_pmt` returns it).

    Keys: ``user`` (int >= 0), ``mode`` (one of :data:`CHAN_MODES`), ``L`` (int >= 1),
    ``n_bits`` (int in ``[0, 2**31]``), optional ``mcs`` (int >= 0), ``rc`` (finite > 0),
    ``bits`` (u8 array holding at least ``n_bits`` bits), ``erased`` (bool),
    ``erasure_reason``, ``enc_alloc_seq`` (int >= 0: the allocation the frame was coded with),
    ``blocks_sent`` (int >= 0: channel blocks left after the encoder cut the frame at its slot)
    and the forwarded ``pdu_*`` keys. Raises MessageError.
    """
    if not isinstance(info, dict):
        raise MessageError(f"'{CHAN_TAG}' tag must be a dictionary, got {type(info).__name__}")

    def integer(key: str, lo: int, hi: int | None = None) -> int:
        v = info.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise MessageError(f"'{CHAN_TAG}' {key} must be an integer, got {v!r}"[:200])
        if v < lo or (hi is not None and v > hi):
            raise MessageError(f"'{CHAN_TAG}' {key}={v} is out of range")
        return int(v)

    out = dict(info)
    out["user"] = integer("user", 0)
    out["n_bits"] = integer("n_bits", 0, MAX_FRAME_BITS)
    if "L" in info:
        out["L"] = integer("L", 1)
    if info.get("mode") not in CHAN_MODES:
        raise MessageError(f"'{CHAN_TAG}' mode must be one of {CHAN_MODES}")
    if "mcs" in info:
        out["mcs"] = integer("mcs", 0)
    if "enc_alloc_seq" in info:
        out["enc_alloc_seq"] = integer("enc_alloc_seq", 0)
    if "blocks_sent" in info:
        out["blocks_sent"] = integer("blocks_sent", 0)
    if "rc" in info:
        rc = info["rc"]
        if isinstance(rc, bool) or not isinstance(rc, (int, float, np.number)):
            raise MessageError(f"'{CHAN_TAG}' rc must be a real number")
        if not (math.isfinite(float(rc)) and 0 < float(rc) <= MAX_RC):
            raise MessageError(f"'{CHAN_TAG}' rc={rc} is out of range")
        out["rc"] = float(rc)
    if "bits" in info:
        bits = info["bits"]
        if not isinstance(bits, np.ndarray) or bits.dtype != np.uint8:
            raise MessageError(f"'{CHAN_TAG}' bits must be a u8vector")
        if 8 * bits.size < out["n_bits"]:
            raise MessageError(f"'{CHAN_TAG}' bits hold fewer than n_bits={out['n_bits']} bits")
    if "erased" in info and not isinstance(info["erased"], bool):
        raise MessageError(f"'{CHAN_TAG}' erased must be a bool")
    return out


def link_allocation(msg: Any, user: int, blocklength: int) -> Allocation:
    """Read an allocation for a channel coder of ``user`` with blocklength ``L``: on top of
    :func:`alloc_from_pmt` (with ``user``), ``mcs[user]`` must be an MCS of the table whose
    channel block fits ``L`` and ``rc[user]`` must give ``floor(rc L) >= 1`` bits per packet.
    Raises MessageError otherwise."""
    from semdacom.channel_coding import mcs as mcs_mod  # the coder's own range checks
    from semdacom.phy import fbl_emulation

    alloc = alloc_from_pmt(msg, user=user)
    if alloc.mcs is not None:
        try:
            mcs_mod.block_layout(int(alloc.mcs[user]), blocklength)
        except ValueError as exc:
            raise MessageError(f"allocation mcs[{user}]: {exc}") from exc
    if alloc.rc is not None:
        try:
            fbl_emulation.bits_per_packet(float(alloc.rc[user]), blocklength)
        except ValueError as exc:
            raise MessageError(f"allocation rc[{user}]: {exc}") from exc
    return alloc


# --------------------------------------------------------------------------------------------
# CSI
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Csi:
    """Channel state: ``h`` of shape ``(K, N_t)`` (row i is h_i; user i receives h_i^H x)."""

    h: np.ndarray
    noise_var: np.ndarray
    seq: int = 0
    #: First frame this channel applies to (u64 key ``frame``); None when not known (a
    #: channel set from code, or an estimator that does not number frames).
    frame: int | None = None

    @property
    def k(self) -> int:
        """Number of users K."""
        return int(np.shape(self.h)[0])

    @property
    def n_t(self) -> int:
        """Number of transmit antennas N_t."""
        return int(np.shape(self.h)[1])


def _validate_csi(
    h: Any, noise_var: Any, seq: Any, positive_noise: bool = False, frame: Any = None
) -> Csi:
    try:
        h_arr = np.asarray(h, dtype=np.complex128)
    except (TypeError, ValueError) as exc:
        raise MessageError(f"'h' cannot be read as a complex array: {exc}") from exc
    if h_arr.ndim != 2 or h_arr.shape[0] < 1 or h_arr.shape[1] < 1:
        raise MessageError(f"'h' must have shape (K, N_t) with K, N_t >= 1, got {h_arr.shape}")
    if not np.all(np.isfinite(h_arr)):
        raise MessageError("'h' has non-finite entries")
    if np.any(np.abs(h_arr) > MAX_CHANNEL_GAIN):
        raise MessageError(f"'h' has entries above MAX_CHANNEL_GAIN = {MAX_CHANNEL_GAIN:g}")
    nv = _as_1d(noise_var, "noise_var", np.float64)
    _check_len(nv, "noise_var", h_arr.shape[0], "K")
    if np.any(nv < 0):
        # 0 is a noiseless simulated channel (miso_channel accepts it)
        raise MessageError("'noise_var' must be non-negative")
    if np.any(nv > MAX_NOISE_VAR):
        raise MessageError(f"'noise_var' exceeds MAX_NOISE_VAR = {MAX_NOISE_VAR:g}")
    if positive_noise and np.any(nv < MIN_NOISE_VAR):
        raise MessageError(
            f"'noise_var' must be at least MIN_NOISE_VAR = {MIN_NOISE_VAR:g} for this block"
        )
    if isinstance(seq, (bool, np.bool_)) or not isinstance(seq, (int, np.integer)):
        raise MessageError(f"'seq' must be an integer, got {type(seq).__name__}")
    if seq < 0 or seq >= 2**64:
        raise MessageError(f"'seq' must fit a u64, got {seq}")
    if frame is not None:
        if isinstance(frame, (bool, np.bool_)) or not isinstance(frame, (int, np.integer)):
            raise MessageError(f"'frame' must be an integer, got {type(frame).__name__}")
        if frame < 0 or frame >= 2**64:
            raise MessageError(f"'frame' must fit a u64, got {frame}")
        frame = int(frame)
    return Csi(h=h_arr, noise_var=nv, seq=int(seq), frame=frame)


def csi_to_pmt(c: Csi) -> Any:
    """Validate CSI and turn it into its PMT dictionary.

    Parameters
    ----------
    c : Csi
        The channel state.

    Returns
    -------
    pmt.pmt_base
        ``{"h", "noise_var", "n_t", "k", "seq"}`` as in the module docstring, plus
        ``frame`` when the CSI has one.

    Raises
    ------
    MessageError
        When the CSI breaks the schema.
    """
    if not isinstance(c, Csi):
        raise MessageError(f"expected a Csi, got {type(c).__name__}")
    v = _validate_csi(c.h, c.noise_var, c.seq, frame=c.frame)
    d = pmt.make_dict()
    d = pmt.dict_add(d, pmt.intern("h"), _vec_to_pmt(v.h.reshape(-1)))
    d = pmt.dict_add(d, pmt.intern("noise_var"), _vec_to_pmt(v.noise_var))
    d = pmt.dict_add(d, pmt.intern("n_t"), pmt.from_long(v.n_t))
    d = pmt.dict_add(d, pmt.intern("k"), pmt.from_long(v.k))
    d = pmt.dict_add(d, pmt.intern("seq"), _from_count(v.seq))
    if v.frame is not None:
        d = pmt.dict_add(d, pmt.intern("frame"), _from_count(v.frame))
    return d


def csi_from_pmt(
    msg: Any,
    *,
    k: int | None = None,
    n_t: int | None = None,
    user: int | None = None,
    positive_noise: bool = False,
) -> Csi:
    """Read and validate a CSI dictionary.

    Parameters
    ----------
    msg : pmt.pmt_base
        The message.
    k, n_t : int, optional
        Expected number of users and of transmit antennas.
    user : int, optional
        The reading block's user index; a CSI whose K does not include it is rejected.
    positive_noise : bool
        The block divides by the noise variance: every entry must be at least
        :data:`MIN_NOISE_VAR`.

    Returns
    -------
    Csi
        ``h`` as complex128 of shape ``(K, N_t)``, ``noise_var`` as float64 of length K.

    Raises
    ------
    MessageError
        When the message breaks the schema; the text gives the reason.
    """
    _require_dict(msg, "CSI")
    fields = {}
    for key in ("h", "noise_var", "n_t", "k", "seq"):
        value = _get(msg, key)
        if value is None:
            raise MessageError(f"CSI lacks '{key}'")
        fields[key] = value
    msg_k = _read_long(fields["k"], "k")
    msg_n_t = _read_long(fields["n_t"], "n_t")
    if msg_k < 1 or msg_n_t < 1:
        raise MessageError(f"CSI needs k >= 1 and n_t >= 1, got k={msg_k}, n_t={msg_n_t}")
    if k is not None and msg_k != k:
        raise MessageError(f"CSI has k={msg_k}, expected {k}")
    if n_t is not None and msg_n_t != n_t:
        raise MessageError(f"CSI has n_t={msg_n_t}, expected {n_t}")
    if user is not None and not 0 <= user < msg_k:
        raise MessageError(f"CSI has K={msg_k}, this block is user {user}")
    h = _read_complex_vec(fields["h"], "h")
    _check_len(h, "h", msg_k * msg_n_t, f"k*n_t={msg_k}*{msg_n_t}")
    noise_var = _read_real_vec(fields["noise_var"], "noise_var")
    seq = _read_count(fields["seq"], "seq")
    frame_pmt = _get(msg, "frame")
    frame = None if frame_pmt is None else _read_count(frame_pmt, "frame")
    return _validate_csi(h.reshape(msg_k, msg_n_t), noise_var, seq, positive_noise, frame)


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
        if 0 <= ivalue < 2**64:
            return pmt.from_uint64(ivalue)
        raise MessageError(f"meta '{key}': integer {ivalue} does not fit 64 bits")
    if isinstance(value, (float, np.floating)):
        return pmt.from_double(float(value))
    if isinstance(value, (complex, np.complexfloating)):
        return pmt.from_complex(complex(value))
    if isinstance(value, str):
        return pmt.intern(value)
    if isinstance(value, (bytes, bytearray)):
        return pmt.init_u8vector(len(value), list(value))
    if isinstance(value, np.ndarray):
        return _vec_to_pmt(value)
    if isinstance(value, dict):
        return meta_to_pmt(value)
    if isinstance(value, (list, tuple)):
        vec = pmt.make_vector(len(value), pmt.PMT_NIL)
        for i, item in enumerate(value):
            pmt.vector_set(vec, i, _py_to_pmt(item, key))
        return pmt.to_tuple(vec)
    raise MessageError(f"meta '{key}': values of type {type(value).__name__} have no PMT form")


_UVEC_TO_NUMPY: tuple[tuple[Callable[[Any], bool], Callable[[Any], Any], Any], ...] = (
    (pmt.is_u8vector, pmt.u8vector_elements, np.uint8),
    (pmt.is_s8vector, pmt.s8vector_elements, np.int8),
    (pmt.is_u16vector, pmt.u16vector_elements, np.uint16),
    (pmt.is_s16vector, pmt.s16vector_elements, np.int16),
    (pmt.is_u32vector, pmt.u32vector_elements, np.uint32),
    (pmt.is_s32vector, pmt.s32vector_elements, np.int32),
    (pmt.is_u64vector, pmt.u64vector_elements, np.uint64),
    (pmt.is_s64vector, pmt.s64vector_elements, np.int64),
    (pmt.is_f32vector, pmt.f32vector_elements, np.float32),
    (pmt.is_f64vector, pmt.f64vector_elements, np.float64),
    (pmt.is_c32vector, pmt.c32vector_elements, np.complex64),
    (pmt.is_c64vector, pmt.c64vector_elements, np.complex128),
)


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
        for check, elements, dtype in _UVEC_TO_NUMPY:
            if check(value):
                return np.asarray(elements(value), dtype=dtype)
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
    _require_dict(msg, "meta")
    out: dict = {}
    items = pmt.dict_items(msg)
    for i in range(pmt.length(items)):
        item = pmt.nth(i, items)
        key = pmt.car(item)
        if not pmt.is_symbol(key) or pmt.is_bool(key):
            raise MessageError(f"meta keys must be symbols, got {_describe(key)}")
        out[pmt.symbol_to_string(key)] = _pmt_to_py(pmt.cdr(item))
    return out


# --------------------------------------------------------------------------------------------
# Bits PDUs
# --------------------------------------------------------------------------------------------


def bits_pdu(meta: dict | None, bits: Any) -> Any:
    """Pack bits into a bits PDU.

    Parameters
    ----------
    meta : dict or None
        Metadata (see :func:`meta_to_pmt`); ``n_bits`` is set to ``len(bits)`` whatever it held.
    bits : array_like of {0, 1}
        One-dimensional bit array.

    Returns
    -------
    pmt.pmt_base
        ``(meta, u8vector)`` with the bits packed MSB first.

    Raises
    ------
    MessageError
        When ``bits`` is not a one-dimensional 0/1 array or ``meta`` cannot be converted.
    """
    arr = np.asarray(bits)
    if arr.ndim != 1:
        raise MessageError(f"bits must be one-dimensional, got shape {arr.shape}")
    if arr.size and not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise MessageError(f"bits must be integers 0/1, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise MessageError("bits must be 0 or 1")
    meta_d = dict(meta) if meta is not None else {}
    meta_d["n_bits"] = int(arr.size)
    packed = np.packbits(arr.astype(np.uint8))
    return pmt.cons(meta_to_pmt(meta_d), pmt.init_u8vector(packed.size, packed.tolist()))


def unpack_bits_pdu(pdu: Any) -> tuple[dict, np.ndarray]:
    """Read a bits PDU.

    Parameters
    ----------
    pdu : pmt.pmt_base
        ``(meta dict, u8vector)``.

    Returns
    -------
    meta : dict
        The metadata as python values (``n_bits`` included when the PDU carries it).
    bits : numpy.ndarray of uint8
        The ``n_bits`` bits, each 0 or 1.

    Raises
    ------
    MessageError
        When the PDU is not a pair, its car is not a dictionary, its cdr is not a u8vector,
        ``n_bits`` is not a non-negative long, or the payload length is not ``ceil(n_bits/8)``.
    """
    if not isinstance(pdu, pmt.pmt_base) or not pmt.is_pair(pdu) or pmt.is_dict(pdu):
        raise MessageError(f"a PDU must be a pair (meta, u8vector), got {_describe(pdu)}")
    car, cdr = pmt.car(pdu), pmt.cdr(pdu)
    if not pmt.is_dict(car):
        raise MessageError(f"PDU meta must be a dictionary, got {_describe(car)}")
    if not pmt.is_u8vector(cdr):
        raise MessageError(f"PDU payload must be a u8vector, got {_describe(cdr)}")
    meta = meta_from_pmt(car)
    payload = np.asarray(pmt.u8vector_elements(cdr), dtype=np.uint8)
    n_bits_pmt = _get(car, "n_bits")
    if n_bits_pmt is None:
        n_bits = 8 * payload.size
    else:
        if not pmt.is_integer(n_bits_pmt):
            raise MessageError(f"PDU 'n_bits' must be a long, got {_describe(n_bits_pmt)}")
        n_bits = int(pmt.to_long(n_bits_pmt))
        if n_bits < 0:
            raise MessageError(f"PDU 'n_bits' must be non-negative, got {n_bits}")
        if n_bits > 8 * payload.size:
            raise MessageError(
                f"PDU 'n_bits'={n_bits} exceeds the {8 * payload.size} bits of its payload"
            )
        if payload.size != (n_bits + 7) // 8:
            raise MessageError(
                f"PDU payload has {payload.size} bytes, 'n_bits'={n_bits} needs {(n_bits + 7) // 8}"
            )
    bits = np.unpackbits(payload)[:n_bits] if payload.size else np.zeros(0, dtype=np.uint8)
    return meta, bits.astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Image and label PDUs (learned source coding: image_source, source_decoder, semantic_decoder)
# --------------------------------------------------------------------------------------------
#
# Image PDU: ``(meta, u8vector)``; ``meta["shape"]`` (s32vector ``[C, H, W]``) is required and
# the payload holds the ``C*H*W`` pixels (0..255) in C, H, W order. Optional meta: ``label``
# (long), ``image_id`` (long), ``user`` (long), ``frame`` (u64), ``erased`` (bool) with
# ``erasure_reason`` (symbol) when the image is an erasure fill.
#
# Label PDU: ``(meta, empty u8vector)`` with ``meta["pred"]`` (long; -1 = erasure) and the same
# optional keys.

#: Largest image accepted (pixels); larger ones are malformed.
MAX_IMAGE_PIXELS = 1 << 22

__all__ += ["MAX_IMAGE_PIXELS", "image_pdu", "label_pdu", "unpack_image_pdu", "unpack_label_pdu"]


def _pdu_parts(pdu: Any) -> tuple[Any, Any]:
    if not isinstance(pdu, pmt.pmt_base) or not pmt.is_pair(pdu) or pmt.is_dict(pdu):
        raise MessageError(f"a PDU must be a pair (meta, u8vector), got {_describe(pdu)}")
    car, cdr = pmt.car(pdu), pmt.cdr(pdu)
    if not pmt.is_dict(car):
        raise MessageError(f"PDU meta must be a dictionary, got {_describe(car)}")
    if not pmt.is_u8vector(cdr):
        raise MessageError(f"PDU payload must be a u8vector, got {_describe(cdr)}")
    return car, cdr


def image_pdu(meta: dict | None, image: Any) -> Any:
    """Pack a uint8 image ``(H, W)`` or ``(C, H, W)`` into an image PDU (``shape`` set)."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.size == 0:
        raise MessageError(f"image must be (H, W) or (C, H, W), got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise MessageError(f"image must be uint8, got dtype {arr.dtype}")
    if arr.size > MAX_IMAGE_PIXELS:
        raise MessageError(f"image of {arr.size} pixels exceeds {MAX_IMAGE_PIXELS}")
    meta_d = dict(meta) if meta is not None else {}
    meta_d["shape"] = np.asarray(arr.shape, dtype=np.int32)
    flat = np.ascontiguousarray(arr).reshape(-1)
    return pmt.cons(meta_to_pmt(meta_d), pmt.init_u8vector(flat.size, flat.tolist()))


def unpack_image_pdu(pdu: Any) -> tuple[dict, np.ndarray]:
    """Read an image PDU; returns ``(meta, image uint8 (C, H, W))``.

    Raises
    ------
    MessageError
        Not a (dict, u8vector) pair, no valid ``shape`` (2 or 3 positive entries), too many
        pixels, or a payload whose size is not the product of ``shape``.
    """
    car, cdr = _pdu_parts(pdu)
    meta = meta_from_pmt(car)
    shape_pmt = _get(car, "shape")
    if shape_pmt is None:
        raise MessageError("image PDU lacks 'shape'")
    shape = _read_int_vec(shape_pmt, "shape")
    if shape.size not in (2, 3) or np.any(shape <= 0):
        raise MessageError(f"image 'shape' must hold 2 or 3 positive sizes, got {shape.tolist()}")
    if shape.size == 2:
        shape = np.concatenate([[1], shape])
    n = int(np.prod(shape.astype(np.int64)))
    if n > MAX_IMAGE_PIXELS:
        raise MessageError(f"image of {n} pixels exceeds {MAX_IMAGE_PIXELS}")
    if pmt.length(cdr) != n:
        raise MessageError(f"image payload has {pmt.length(cdr)} bytes, 'shape' needs {n}")
    img = np.asarray(pmt.u8vector_elements(cdr), dtype=np.uint8).reshape(tuple(shape))
    meta["shape"] = shape.astype(np.int32)
    return meta, img


def label_pdu(meta: dict | None, pred: int) -> Any:
    """A label PDU: ``meta["pred"] = pred`` (-1 = erasure) and an empty payload."""
    if isinstance(pred, bool) or int(pred) != pred or pred < -1:
        raise MessageError(f"pred must be an integer >= -1, got {pred!r}")
    meta_d = dict(meta) if meta is not None else {}
    meta_d["pred"] = int(pred)
    return pmt.cons(meta_to_pmt(meta_d), pmt.init_u8vector(0, []))


def unpack_label_pdu(pdu: Any) -> tuple[dict, int]:
    """Read a label PDU; returns ``(meta, pred)`` (``pred`` -1 for an erasure)."""
    car, _ = _pdu_parts(pdu)
    pred_pmt = _get(car, "pred")
    if pred_pmt is None:
        raise MessageError("label PDU lacks 'pred'")
    pred = _read_long(pred_pmt, "pred")
    if pred < -1:
        raise MessageError(f"'pred' must be >= -1, got {pred}")
    return meta_from_pmt(car), pred


# --------------------------------------------------------------------------------------------
# Analog symbol PDUs (DeepJSCC baseline: djscc_encoder, djscc_decoder)
# --------------------------------------------------------------------------------------------
#
# Symbol PDU: ``(meta, c32vector)`` holding complex channel symbols (transmitted: unit mean
# energy per image; received: y = g s + n). Optional meta: ``image_id``, ``label``, ``user``,
# ``frame``, ``gain`` (complex effective channel gain the receiver divides by), ``erased``
# (bool) with ``erasure_reason``.

#: Largest symbol PDU accepted (complex symbols).
MAX_SYMBOLS = 1 << 22

__all__ += ["MAX_SYMBOLS", "symbols_pdu", "unpack_symbols_pdu"]


def symbols_pdu(meta: dict | None, symbols: Any) -> Any:
    """Pack complex symbols (1-D) into a symbol PDU ``(meta, c32vector)``."""
    arr = np.asarray(symbols)
    if arr.ndim != 1:
        raise MessageError(f"symbols must be one-dimensional, got shape {arr.shape}")
    if arr.size > MAX_SYMBOLS:
        raise MessageError(f"{arr.size} symbols exceed {MAX_SYMBOLS}")
    arr = arr.astype(np.complex64)
    meta_d = dict(meta) if meta is not None else {}
    return pmt.cons(meta_to_pmt(meta_d), pmt.init_c32vector(arr.size, arr.tolist()))


def unpack_symbols_pdu(pdu: Any) -> tuple[dict, np.ndarray]:
    """Read a symbol PDU; returns ``(meta, complex64 symbols)``.

    Raises
    ------
    MessageError
        Not a (dict, c32vector/c64vector) pair, or more than :data:`MAX_SYMBOLS` symbols.
    """
    if not isinstance(pdu, pmt.pmt_base) or not pmt.is_pair(pdu) or pmt.is_dict(pdu):
        raise MessageError(f"a PDU must be a pair (meta, c32vector), got {_describe(pdu)}")
    car, cdr = pmt.car(pdu), pmt.cdr(pdu)
    if not pmt.is_dict(car):
        raise MessageError(f"PDU meta must be a dictionary, got {_describe(car)}")
    if pmt.is_c32vector(cdr):
        elements = pmt.c32vector_elements
    elif pmt.is_c64vector(cdr):
        elements = pmt.c64vector_elements
    else:
        raise MessageError(f"symbol PDU payload must be a c32vector, got {_describe(cdr)}")
    if pmt.length(cdr) > MAX_SYMBOLS:
        raise MessageError(f"{pmt.length(cdr)} symbols exceed {MAX_SYMBOLS}")
    return meta_from_pmt(car), np.asarray(elements(cdr), dtype=np.complex64)


# --------------------------------------------------------------------------------------------
# Per-user CSI reports (over the air: csi_estimator -> csi_combiner)
# --------------------------------------------------------------------------------------------
#
# A CSI report is a CSI dictionary of one row (``k`` = 1: the reporting user's own channel
# h_u, c64vector[N_t], and noise variance, f64vector[1]) with the key ``user`` (long >= 0:
# whose row it is) and, when the estimator read the frame number from the burst header,
# ``frame`` (u64: the frame it was measured on). Any CSI reader takes it as a one-user CSI;
# csi_combiner stacks the users' latest reports into the K-row CSI the optimiser solves
# (:func:`csi_with_frame`: the CSI dictionary with the optional ``frame`` key).

#: Largest user index a CSI report may name.
MAX_REPORT_USER = 1 << 16

__all__ += ["MAX_REPORT_USER", "csi_frame", "csi_report_from_pmt", "csi_report_to_pmt",
            "csi_with_frame"]  # fmt: skip


def csi_with_frame(c: Csi, frame: int | None) -> Any:
    """:func:`csi_to_pmt` of ``c`` with the key ``frame`` (u64) when ``frame`` is not None.
    Raises MessageError for a CSI that breaks the schema or a frame that is not a u64."""
    d = csi_to_pmt(Csi(h=c.h, noise_var=c.noise_var, seq=c.seq))
    if frame is None:
        return d
    if isinstance(frame, (bool, np.bool_)) or not isinstance(frame, (int, np.integer)):
        raise MessageError(f"'frame' must be an integer, got {type(frame).__name__}")
    if not 0 <= int(frame) < 2**64:
        raise MessageError(f"'frame' must fit a u64, got {frame}")
    return pmt.dict_add(d, pmt.intern("frame"), _from_count(int(frame)))


def csi_frame(msg: Any) -> int | None:
    """The optional ``frame`` of a CSI dictionary (None when absent; MessageError when it is
    not a u64 or a non-negative long)."""
    _require_dict(msg, "CSI")
    value = _get(msg, "frame")
    return None if value is None else _read_count(value, "frame")


def csi_report_to_pmt(user: int, h: Any, noise_var: float, seq: int, frame: int | None) -> Any:
    """The CSI report of ``user``: channel row ``h`` (N_t entries), its noise variance, a
    report number ``seq`` and the frame it was measured on (None: unknown). Raises
    MessageError when any part breaks the CSI schema or ``user`` is out of range."""
    if isinstance(user, (bool, np.bool_)) or not isinstance(user, (int, np.integer)):
        raise MessageError(f"report 'user' must be an integer, got {type(user).__name__}")
    if not 0 <= int(user) <= MAX_REPORT_USER:
        raise MessageError(f"report 'user' {user} is outside [0, {MAX_REPORT_USER}]")
    row = np.asarray(h, dtype=np.complex128).reshape(1, -1)
    c = Csi(h=row, noise_var=np.array([float(noise_var)]), seq=int(seq))
    d = csi_with_frame(c, frame)
    return pmt.dict_add(d, pmt.intern("user"), pmt.from_long(int(user)))


def csi_report_from_pmt(
    msg: Any, *, n_t: int | None = None, k: int | None = None
) -> tuple[Csi, int, int | None]:
    """Read a CSI report: ``(csi with one row, user, frame or None)``. ``k`` (when given) is
    the number of users the reader serves: the report's ``user`` must be below it. Raises
    MessageError."""
    _require_dict(msg, "CSI report")
    user_pmt = _get(msg, "user")
    if user_pmt is None:
        raise MessageError("CSI report lacks 'user'")
    user = _read_long(user_pmt, "user")
    if not 0 <= user <= MAX_REPORT_USER:
        raise MessageError(f"report 'user' {user} is outside [0, {MAX_REPORT_USER}]")
    if k is not None and user >= k:
        raise MessageError(f"report of user {user}, this reader serves K={k}")
    csi = csi_from_pmt(msg, k=1, n_t=n_t)
    return csi, user, csi_frame(msg)


# --------------------------------------------------------------------------------------------
# Frame credits (channel_encoder ``sent`` -> image_source ``trigger``)
# --------------------------------------------------------------------------------------------
#
# ``{"sent_frame": u64, "user": long}``: a channel encoder started sending frame ``sent_frame``.
# Wired to an image_source's ``trigger`` it asks for the next image, so that images are
# coded just in time for their slot (a credit loop: at most the image source's ``prefill``
# images wait between the source and the channel encoder). The key is not ``frame``, so the
# image source keeps numbering its own frames.


def frame_sent_to_pmt(frame: int, user: int) -> Any:
    """The ``sent`` message of a channel encoder that started sending ``frame``."""
    if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) or frame < 0:
        raise MessageError(f"sent_frame must be a non-negative integer, got {frame!r}")
    d = pmt.make_dict()
    d = pmt.dict_add(d, pmt.intern("sent_frame"), _from_count(int(frame)))
    return pmt.dict_add(d, pmt.intern("user"), pmt.from_long(int(user)))


# --------------------------------------------------------------------------------------------
# SC-SFMA: CSI with per-user gains, allocation checks (sfma_optimizer)
# --------------------------------------------------------------------------------------------
#
# SFMA CSI (``csi`` port of sfma_optimizer): ``{"gain": f64vector[K], "seq": u64}`` with
# optional ``"frame": u64`` (first frame this channel applies to) and ``"labels":
# s32vector[K]`` (the Fashion-MNIST class 0..9 of each user's images; the pair classes of
# docs/sc_sfma/model.md). ``gain`` is the linear large-scale power gain g_i of each user (received
# watts per transmitted watt), in (0, MAX_SFMA_GAIN]. The MU-MISO CSI above is accepted too:
# then g_i = ||h_i||^2 (the beam-free power gain of user i), without labels.
# SFMA allocation: the ``pairs``, ``nu``, ``group_power``, ``group_bw`` keys of the
# allocation dictionary; :func:`check_sfma_alloc` adds what an SFMA reader needs beyond the
# schema: ``pairs`` a perfect matching of the K users (M = K/2 groups, no -1), ``nu`` in
# (0, 1], and the power and bandwidth budgets.

#: Largest SFMA channel gain accepted (a gain above 1 would mean amplification by the channel).
MAX_SFMA_GAIN = 1.0


@dataclass
class SfmaCsi:
    """Per-user channel gains for the SFMA optimiser (see the section comment)."""

    gain: np.ndarray
    seq: int
    frame: int | None = None
    labels: np.ndarray | None = None

    @property
    def k(self) -> int:
        return int(self.gain.size)


def sfma_csi_to_pmt(c: SfmaCsi) -> Any:
    """Build an SFMA CSI dictionary (validated first)."""
    c = _validate_sfma_csi(np.asarray(c.gain, dtype=np.float64).reshape(-1), c.seq, c.frame,
                           c.labels)  # fmt: skip
    d = pmt.make_dict()
    d = pmt.dict_add(d, pmt.intern("gain"), _vec_to_pmt(c.gain))
    d = pmt.dict_add(d, pmt.intern("seq"), _from_count(c.seq))
    if c.frame is not None:
        d = pmt.dict_add(d, pmt.intern("frame"), _from_count(c.frame))
    if c.labels is not None:
        d = pmt.dict_add(d, pmt.intern("labels"), _vec_to_pmt(c.labels.astype(np.int32)))
    return d


def _validate_sfma_csi(gain, seq, frame, labels) -> SfmaCsi:
    if isinstance(seq, bool) or not isinstance(seq, (int, np.integer)) or seq < 0:
        raise MessageError(f"'seq' must be a non-negative integer, got {seq!r}")
    if gain.size < 2 or gain.size % 2:
        raise MessageError(f"SFMA CSI needs an even number K >= 2 of gains, got {gain.size}")
    if not np.all(np.isfinite(gain)):
        raise MessageError("'gain' entries must be finite")
    if np.any(gain <= 0) or np.any(gain > MAX_SFMA_GAIN):
        raise MessageError(f"'gain' entries must lie in (0, {MAX_SFMA_GAIN}]")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if labels.size != gain.size:
            raise MessageError(f"'labels' has {labels.size} entries, expected K={gain.size}")
        if np.any(labels < 0) or np.any(labels > 9):
            raise MessageError("'labels' entries must be Fashion-MNIST classes 0..9")
        labels = labels.astype(np.int32)
    return SfmaCsi(gain=gain, seq=int(seq), frame=None if frame is None else int(frame),
                   labels=labels)  # fmt: skip


def sfma_csi_from_pmt(msg: Any, *, k: int | None = None) -> SfmaCsi:
    """Read and validate an SFMA CSI (``gain`` form, or the MU-MISO CSI form: g_i =
    ||h_i||^2). ``k``: expected number of users. Raises :class:`MessageError` with the reason."""
    _require_dict(msg, "SFMA CSI")
    if _get(msg, "gain") is None:
        if _get(msg, "h") is None:
            raise MessageError("SFMA CSI lacks 'gain' (or 'h')")
        csi = csi_from_pmt(msg, k=k)
        gain = np.sum(np.abs(csi.h) ** 2, axis=1)
        return _validate_sfma_csi(gain, csi.seq, getattr(csi, "frame", None), None)
    gain = _read_real_vec(_get(msg, "gain"), "gain")
    if k is not None and gain.size != k:
        raise MessageError(f"SFMA CSI has K={gain.size} gains, expected {k}")
    seq_pmt = _get(msg, "seq")
    if seq_pmt is None:
        raise MessageError("SFMA CSI lacks 'seq'")
    seq = _read_count(seq_pmt, "seq")
    frame_pmt = _get(msg, "frame")
    frame = None if frame_pmt is None else _read_count(frame_pmt, "frame")
    labels_pmt = _get(msg, "labels")
    labels = None if labels_pmt is None else _read_int_vec(labels_pmt, "labels")
    return _validate_sfma_csi(gain, seq, frame, labels)


def check_sfma_alloc(
    a: Allocation, k: int, *, p_max: float | None = None, b_tot: float | None = None
) -> Allocation:
    """Check an allocation as an SFMA reader needs it (see the section comment); returns it or
    raises :class:`MessageError` with the reason."""
    for key in ("pairs", "nu", "group_power", "group_bw"):
        if getattr(a, key) is None:
            raise MessageError(f"SFMA allocation lacks '{key}'")
    pairs = np.asarray(a.pairs).reshape(-1)
    if pairs.size != k or k % 2:
        raise MessageError(f"'pairs' has {pairs.size} entries, expected K={k} (even)")
    if not np.array_equal(np.sort(pairs), np.arange(k)):
        raise MessageError("'pairs' is not a perfect matching of the K users")
    m = k // 2
    for key in ("nu", "group_power", "group_bw"):
        if np.asarray(getattr(a, key)).size != m:
            raise MessageError(f"'{key}' has {np.asarray(getattr(a, key)).size} entries, "
                               f"expected M={m}")  # fmt: skip
    nu = np.asarray(a.nu, dtype=np.float64)
    if np.any(nu <= 0) or np.any(nu > 1 + 1e-12):
        raise MessageError("'nu' entries must lie in (0, 1]")
    for key, budget in (("group_power", p_max), ("group_bw", b_tot)):
        v = np.asarray(getattr(a, key), dtype=np.float64)
        if budget is not None and v.sum() > budget * (1 + 1e-6):
            raise MessageError(f"'{key}' sums to {v.sum():.6g} > budget {budget:.6g}")
    return a


__all__ += ["MAX_SFMA_GAIN", "SfmaCsi", "check_sfma_alloc", "sfma_csi_from_pmt",
            "sfma_csi_to_pmt"]  # fmt: skip


# --------------------------------------------------------------------------------------------
# SC-SFMA frames (sfma_encoder -> sfma_superposer -> sfma_channel -> sfma_decoder)
# --------------------------------------------------------------------------------------------
#
# Every SFMA stream frame starts with a ``frame`` tag (u64) and a ``packet_len`` tag (long); in
# one slot every user's frame and every group's frame has the same length (zero padding), so
# that the streams stay aligned. sfma_encoder tags each user's frame with ``semdacom_sfma``
# (:data:`SFMA_TAG`), a dict:
#
#   user (long >= 0), group (long >= 0), slot (0 or 1: the user's place in its pair, which
#   selects the per-slot decoder of the transceiver), partner (long >= 0), nu (double in
#   (0, 1]: the ratio k/C actually kept), n_sym (long >= 0: useful symbols at the start of the
#   frame, mean |s|^2 = 1 over them), mask (u8vector[C] of 0/1: the code channels kept, the
#   side information of eq. 4), erased (bool) with erasure_reason (symbol); optional
#   enc_alloc_seq (long >= 0) and the image meta forwarded as pdu_image_id, pdu_label,
#   pdu_frame, pdu_seq (longs).
#
# sfma_superposer tags each group's frame with ``semdacom_sfma_group``
# (:data:`SFMA_GROUP_TAG`), a dict: group (long), power (double >= 0, W: P_m), bw (double > 0,
# Hz: B_m), power_split (double in [0, 1]: slot 0's share alpha of eq. 5), optional alloc_seq
# (long >= 0), and slot0, slot1: the two users' ``semdacom_sfma`` dicts. sfma_channel copies
# it onto the received stream of both users of the group; sfma_decoder reads its slot there.

#: Key of the per-frame tag of ``sfma_encoder`` (one user's frame).
SFMA_TAG = "semdacom_sfma"
#: Key of the per-frame tag of ``sfma_superposer`` (one group's frame, both users).
SFMA_GROUP_TAG = "semdacom_sfma_group"
#: Most code channels a mask may have.
MAX_SFMA_CHANNELS = 4096


def _info_int(info: dict, key: str, lo: int, hi: int | None = None, tag: str = SFMA_TAG) -> int:
    v = info.get(key)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise MessageError(f"'{tag}' {key} must be an integer, got {_describe(v)}")
    if v < lo or (hi is not None and v > hi):
        raise MessageError(f"'{tag}' {key}={v} outside [{lo}, {hi if hi is not None else 'inf'}]")
    return int(v)


def _info_real(info: dict, key: str, lo: float, hi: float, tag: str, lo_open: bool) -> float:
    v = info.get(key)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise MessageError(f"'{tag}' {key} must be a real number, got {_describe(v)}")
    v = float(v)
    if not math.isfinite(v) or v < lo or (lo_open and v == lo) or v > hi:
        raise MessageError(f"'{tag}' {key}={v} outside {'(' if lo_open else '['}{lo}, {hi}]")
    return v


def sfma_frame_info(info: Any, code_channels: int | None = None) -> dict:
    """Validate a ``semdacom_sfma`` tag (see the section comment); returns a clean dict with
    ``mask`` as a bool array. ``code_channels``: the mask length the reader's model needs.
    Raises MessageError."""
    if not isinstance(info, dict):
        raise MessageError(f"'{SFMA_TAG}' must be a dictionary, got {type(info).__name__}")
    out: dict[str, Any] = {
        "user": _info_int(info, "user", 0),
        "group": _info_int(info, "group", 0),
        "slot": _info_int(info, "slot", 0, 1),
        "partner": _info_int(info, "partner", 0),
        "nu": _info_real(info, "nu", 0.0, 1.0, SFMA_TAG, True),
        "n_sym": _info_int(info, "n_sym", 0, MAX_SYMBOLS),
    }
    mask = info.get("mask")
    if not isinstance(mask, np.ndarray) or mask.ndim != 1 or mask.dtype != np.uint8:
        raise MessageError(f"'{SFMA_TAG}' mask must be a u8vector, got {_describe(mask)}")
    if not 0 < mask.size <= MAX_SFMA_CHANNELS or np.any(mask > 1):
        raise MessageError(f"'{SFMA_TAG}' mask must hold 1..{MAX_SFMA_CHANNELS} entries 0/1")
    if code_channels is not None and mask.size != code_channels:
        raise MessageError(f"'{SFMA_TAG}' mask has {mask.size} channels, the model {code_channels}")
    out["mask"] = mask.astype(bool)
    erased = info.get("erased", False)
    if not isinstance(erased, (bool, np.bool_)):
        raise MessageError(f"'{SFMA_TAG}' erased must be a bool, got {_describe(erased)}")
    out["erased"] = bool(erased)
    if out["erased"]:
        out["erasure_reason"] = str(info.get("erasure_reason", "?"))[:200]
    for key in ("enc_alloc_seq", "pdu_image_id", "pdu_label", "pdu_frame", "pdu_seq"):
        if key in info:
            out[key] = _info_int(info, key, 0)
    return out


def sfma_group_info(info: Any, code_channels: int | None = None) -> dict:
    """Validate a ``semdacom_sfma_group`` tag (see the section comment): ``slot0`` and
    ``slot1`` become :func:`sfma_frame_info` dicts of one group, in their slots. Raises
    MessageError."""
    tag = SFMA_GROUP_TAG
    if not isinstance(info, dict):
        raise MessageError(f"'{tag}' must be a dictionary, got {type(info).__name__}")
    out: dict[str, Any] = {
        "group": _info_int(info, "group", 0, tag=tag),
        "power": _info_real(info, "power", 0.0, MAX_POWER_W, tag, False),
        "bw": _info_real(info, "bw", 0.0, 1e15, tag, True),
        "power_split": _info_real(info, "power_split", 0.0, 1.0, tag, False),
    }
    if "alloc_seq" in info:
        out["alloc_seq"] = _info_int(info, "alloc_seq", 0, tag=tag)
    for r in (0, 1):
        s = sfma_frame_info(info.get(f"slot{r}"), code_channels)
        if s["slot"] != r or s["group"] != out["group"]:
            raise MessageError(f"'{tag}' slot{r} is slot {s['slot']} of group {s['group']}")
        out[f"slot{r}"] = s
    if out["slot0"]["user"] == out["slot1"]["user"]:
        raise MessageError(f"'{tag}' pairs user {out['slot0']['user']} with itself")
    return out


__all__ += ["MAX_SFMA_CHANNELS", "SFMA_GROUP_TAG", "SFMA_TAG", "sfma_frame_info",
            "sfma_group_info"]  # fmt: skip
