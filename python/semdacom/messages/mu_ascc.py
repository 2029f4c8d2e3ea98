#
# Copyright 2025 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""MU-ASCC [1] keys of the allocation dictionary (one entry per user), and the channel coder's
reading of them.

============== ===================== =========================================================
key            PMT type              meaning
============== ===================== =========================================================
rate_index     s32vector[K]          source operating point per user (index >= 0)
rs_bits        f64vector[K]          expected source bits per image (>= 0)
rc             f64vector[K]          channel coding rate, bits per channel use (0, MAX_RC]
mcs            s32vector[K]          practical code/modulation index (>= 0)
power          f64vector[K]          transmit power per user, watts [0, MAX_POWER_W]
w              c64vector[K*N_t]      unit-norm beamformers, user-major (w_1 then w_2 ...)
============== ===================== =========================================================

Every per-user vector has the same length K; ``sum(power)`` may exceed the reader's budget
``p_max`` by a relative 1e-9 at most; a beam is unit-norm to :func:`.beam_norm_tolerance`. A
reader given ``user=u`` rejects an allocation whose K does not include user ``u``. The C++
parser (``lib/allocation_schedule.cc``) reads ``seq``, ``apply_frame``, ``power`` and ``w`` by
the same rules (``tests/blocks/test_cmd_conformance.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pmt
from gnuradio.semdacom.messages.allocation import (
    Allocation,
    AllocCheck,
    AllocFamily,
    AllocKey,
    alloc_from_pmt,
    register_family,
)
from gnuradio.semdacom.messages.limits import MAX_POWER_W, MAX_RC, beam_norm_tolerance
from gnuradio.semdacom.messages.pmt_util import (
    MessageError,
    as_1d,
    check_len,
    read_complex_vec,
    read_int_vec,
    read_real_vec,
    reraise,
    vec_to_pmt,
)

#: Allocation keys holding one entry per user.
ALLOC_K_KEYS: tuple[str, ...] = ("rate_index", "rs_bits", "rc", "mcs", "power")
_INT_KEYS = ("rate_index", "mcs")
_BUDGET_REL_TOL = 1e-9


def _read_w(value: Any, key: str, check: AllocCheck) -> np.ndarray:
    check.w_tol = beam_norm_tolerance(bool(pmt.is_c32vector(value)))
    return read_complex_vec(value, key)


def _flat_w(value: Any, check: AllocCheck) -> np.ndarray:
    """The beams of a flat PMT vector, shaped (K, N_t) by ``check.n_t`` or by K."""
    flat = np.asarray(value, dtype=np.complex128).reshape(-1)
    if not np.all(np.isfinite(flat)):
        raise MessageError("'w' has non-finite entries")
    if check.n_t is not None:
        if check.n_t < 1 or flat.size % check.n_t:
            raise MessageError(f"'w' has {flat.size} entries, not a multiple of N_t={check.n_t}")
        rows = flat.size // check.n_t
    elif check.k is not None:
        if flat.size % check.k:
            raise MessageError(f"'w' has {flat.size} entries, not a multiple of K={check.k}")
        rows = check.k
    else:
        raise MessageError("cannot shape 'w': no per-user key and neither k nor n_t given")
    if rows < 1 or flat.size == 0:
        raise MessageError("'w' is empty")
    return flat.reshape(rows, flat.size // rows)


def _shaped_w(value: Any, check: AllocCheck) -> np.ndarray:
    """The beams given as a python (K, N_t) array."""
    try:
        w = np.asarray(value, dtype=np.complex128)
    except (TypeError, ValueError) as exc:
        raise MessageError(f"'w' cannot be read as a complex array: {exc}") from exc
    if w.ndim != 2 or w.size == 0:
        raise MessageError(f"'w' must have shape (K, N_t), got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise MessageError("'w' has non-finite entries")
    if check.n_t is not None and w.shape[1] != check.n_t:
        raise MessageError(f"'w' has {w.shape[1]} columns, expected N_t={check.n_t}")
    return w


def _validate_w(value: Any, check: AllocCheck) -> np.ndarray:
    """Beams: one unit-norm row (to ``check.w_tol``) per user."""
    w = _flat_w(value, check) if check.from_pmt else _shaped_w(value, check)
    if check.k is not None and w.shape[0] != check.k:
        expected = f"K*N_t={check.k}*{w.shape[1]} (K from {check.k_from})"
        raise MessageError(f"'w' has {w.size} entries, expected {expected}")
    norms = np.linalg.norm(w, axis=1)
    bad = np.flatnonzero(np.abs(norms - 1.0) > check.w_tol)
    if bad.size:
        raise MessageError(f"beam of user {int(bad[0])} has norm {norms[bad[0]]:.9g}, expected 1")
    if check.user is not None and not 0 <= check.user < w.shape[0]:
        raise MessageError(f"allocation has K={w.shape[0]}, this block is user {check.user}")
    return w


def _validate(a: Allocation, out: Allocation, check: AllocCheck) -> None:
    """Per-user vectors (dtype, finiteness, one common K, ranges, the power budget), then the
    beams; sets ``check.k`` to the K found."""
    if check.k is not None:
        check.k = int(check.k)
    for key in ALLOC_K_KEYS:
        value = getattr(a, key)
        if value is None:
            continue
        arr = as_1d(value, key, np.int32 if key in _INT_KEYS else np.float64)
        if check.k is None:
            check.k, check.k_from = arr.size, f"'{key}'"
        else:
            check_len(arr, key, check.k, f"K from {check.k_from}")
        setattr(out, key, arr)
    if check.k is not None and check.k < 1:
        raise MessageError(f"K must be at least 1, got {check.k}")
    if check.user is not None and check.k is not None and not 0 <= check.user < check.k:
        raise MessageError(f"allocation has K={check.k}, this block is user {check.user}")
    for key in ("rate_index", "mcs", "rs_bits"):
        if getattr(out, key) is not None and np.any(getattr(out, key) < 0):
            raise MessageError(f"'{key}' has negative entries")
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
        if check.p_max is not None:
            total = float(out.power.sum())
            if total > float(check.p_max) * (1.0 + _BUDGET_REL_TOL):
                raise MessageError(
                    f"sum of 'power' {total:.6g} W exceeds the budget {check.p_max:.6g} W"
                )
    if a.w is not None:
        out.w = _validate_w(a.w, check)


def _k(a: Allocation) -> int | None:
    """Number of users K, from whichever per-user field is present (None if none is)."""
    for key in ALLOC_K_KEYS:
        value = getattr(a, key)
        if value is not None:
            return int(np.asarray(value).size)
    if a.w is not None and np.ndim(a.w) == 2:
        return int(np.shape(a.w)[0])
    return None


def _n_t(a: Allocation) -> int | None:
    """Number of transmit antennas N_t (from ``w``; None without beams)."""
    if a.w is not None and np.ndim(a.w) == 2:
        return int(np.shape(a.w)[1])
    return None


def _vector_key(name: str) -> AllocKey:
    reader = read_int_vec if name in _INT_KEYS else read_real_vec
    return AllocKey(name, lambda v, key, _: reader(v, key), vec_to_pmt)


#: The MU-ASCC keys of the allocation dictionary.
MU_ASCC_FAMILY = register_family(
    AllocFamily(
        name="mu_ascc",
        keys=tuple(_vector_key(name) for name in ALLOC_K_KEYS)
        + (AllocKey("w", _read_w, lambda w: vec_to_pmt(w.reshape(-1))),),
        validate=_validate,
        dims={"k": _k, "n_t": _n_t},
    )
)


def link_allocation(msg: Any, user: int, blocklength: int) -> Allocation:
    """Read an allocation for a channel coder of ``user`` with blocklength ``L``: on top of
    :func:`.alloc_from_pmt` (with ``user``), ``mcs[user]`` must be an MCS of the table whose
    channel block fits ``L`` and ``rc[user]`` must give ``floor(rc L) >= 1`` bits per packet
    (the packet size N of Sec. II-C of MU-ASCC [1]). Raises MessageError otherwise."""
    from semdacom.channel_coding import mcs as mcs_mod  # the coder's own range checks
    from semdacom.phy import fbl_emulation

    alloc = alloc_from_pmt(msg, user=user)
    if alloc.mcs is not None:
        with reraise(f"allocation mcs[{user}]: "):
            mcs_mod.block_layout(int(alloc.mcs[user]), blocklength)
    if alloc.rc is not None:
        with reraise(f"allocation rc[{user}]: "):
            fbl_emulation.bits_per_packet(float(alloc.rc[user]), blocklength)
    return alloc
