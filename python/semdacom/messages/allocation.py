#
# Copyright 2025 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The allocation dictionary: its common envelope and the families of keys the papers add.

One dictionary carries the whole system's allocation, broadcast on ``alloc``/``cmd`` ports;
readers ignore keys they do not know. The envelope, common to every paper:

============== ===================== =========================================================
key            PMT type              meaning
============== ===================== =========================================================
seq            u64 (or long >= 0)    allocation number, strictly increasing within an epoch
                                     (required)
apply_frame    u64 (or long >= 0)    first frame it applies to (default 0: at once)
epoch          u64 (or long >= 0)    publisher instance id, a random non-zero 64-bit number
                                     drawn when the optimiser starts (default 0: the epoch
                                     of every message without one; 0 is not written)
objective      f64                   optimiser objective (diagnostic)
solve_ms       f64                   solve time in milliseconds (diagnostic, >= 0)
solver         symbol                solver name (diagnostic)
============== ===================== =========================================================

Each paper declares its own keys in its module as an :class:`AllocFamily` (for every key a
reader and a writer, and one validator for the family) and calls :func:`register_family`:
:mod:`.mu_ascc` (rate_index, rs_bits, rc, mcs, power, w) and :mod:`.sc_sfma` (pairs, nu,
group_power, group_bw). :class:`Allocation` carries the envelope and the fields of every
registered family (None when absent). A reader checks ``seq``, ``apply_frame`` and
``epoch``, then every family in the order they were registered, then the diagnostics; the
first fault found is the one reported.

``(epoch, seq)`` is the allocation's identity: a reader orders allocations by ``seq`` within
an epoch and starts over when the epoch changes (a restarted optimiser numbers from 1 again);
the rule, and what "newer" means when ``seq`` and ``apply_frame`` disagree, is
``plumbing.schedule.AllocationSchedule``'s (docs/blocks/implementation_notes.md, "The
allocation path").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pmt
from gnuradio.semdacom.messages.limits import beam_norm_tolerance
from gnuradio.semdacom.messages.pmt_util import (
    MessageError,
    check_u64,
    from_count,
    get,
    make_dict,
    read_count,
    read_real,
    read_symbol,
    require_dict,
)

#: The envelope's identity and timing keys.
ENVELOPE_KEYS: tuple[str, ...] = ("seq", "apply_frame", "epoch")

#: The envelope's diagnostic keys.
DIAGNOSTIC_KEYS: tuple[str, ...] = ("objective", "solve_ms", "solver")


@dataclass
class AllocCheck:
    """What one read or write of an allocation shares among the envelope and the families
    (the arguments of :func:`alloc_from_pmt`, and the K the families find)."""

    #: Number of users K: the ``k`` argument, then the first family key that fixes it.
    k: int | None = None
    #: Where ``k`` came from (for error messages).
    k_from: str = "the k argument"
    n_t: int | None = None
    p_max: float | None = None
    user: int | None = None
    #: The fields were read from PMT (flat vectors) rather than given as python values.
    from_pmt: bool = False
    #: Unit-norm tolerance of the beams read (:func:`beam_norm_tolerance`).
    w_tol: float = field(default_factory=lambda: beam_norm_tolerance(False))


@dataclass(frozen=True)
class AllocKey:
    """One key of a family: ``read(pmt_value, key, check)`` gives the raw python value (type
    checks only; it may note what it read in ``check``), ``write(value)`` the PMT value of a
    validated field."""

    name: str
    read: Callable[[Any, str, AllocCheck], Any]
    write: Callable[[Any], Any]


@dataclass(frozen=True)
class AllocFamily:
    """The keys one paper adds to the allocation dictionary.

    ``validate(raw, out, check)`` checks the family's fields of ``raw`` and sets their
    normalised values on ``out`` (raising :class:`MessageError`); ``dims`` are read-only
    properties it adds to :class:`Allocation` (e.g. ``k``), each a function of the allocation.
    """

    name: str
    keys: tuple[AllocKey, ...]
    validate: Callable[[Allocation, Allocation, AllocCheck], None]
    dims: dict[str, Callable[[Allocation], int | None]] = field(default_factory=dict)

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys)


_FAMILIES: list[AllocFamily] = []


def register_family(family: AllocFamily) -> AllocFamily:
    """Add a family of allocation keys (once, at import of its module); its ``dims`` become
    properties of :class:`Allocation`. Raises ValueError for a key or dim already taken."""
    taken = set(alloc_keys()) | {d for f in _FAMILIES for d in f.dims}
    clash = taken & (set(family.key_names) | set(family.dims))
    if clash:
        raise ValueError(f"allocation family '{family.name}' redefines {sorted(clash)}")
    for name, fn in family.dims.items():
        setattr(Allocation, name, property(fn, doc=fn.__doc__))
    _FAMILIES.append(family)
    return family


def families() -> tuple[AllocFamily, ...]:
    """The registered families, in registration order."""
    return tuple(_FAMILIES)


def alloc_keys() -> tuple[str, ...]:
    """Every allocation key known: ``seq``, ``apply_frame``, ``epoch``, each family's, the
    diagnostics."""
    out: tuple[str, ...] = ENVELOPE_KEYS
    for fam in _FAMILIES:
        out += fam.key_names
    return out + DIAGNOSTIC_KEYS


class Allocation:
    """One system allocation: ``Allocation(seq, apply_frame=0, epoch=0, **fields)``.

    ``fields`` are the diagnostics (``objective``, ``solve_ms``, ``solver``) and the keys of the
    registered families (see the module docstrings of :mod:`.mu_ascc` and :mod:`.sc_sfma`); a
    field the allocation does not carry is None. ``w`` has shape ``(K, N_t)``; row ``i`` is the
    unit-norm beamformer of user ``i``. The families add the properties ``k`` (users), ``n_t``
    (transmit antennas) and ``m`` (SFMA groups).
    """

    def __init__(self, seq: int, apply_frame: int = 0, epoch: int = 0, **fields: Any) -> None:
        self.seq = seq
        self.apply_frame = apply_frame
        self.epoch = epoch
        for key in alloc_keys()[len(ENVELOPE_KEYS) :]:
            setattr(self, key, fields.pop(key, None))
        if fields:
            raise TypeError(
                f"Allocation() got an unexpected keyword argument '{next(iter(fields))}'"
            )

    def present(self) -> tuple[str, ...]:
        """Names of the fields this allocation carries (``epoch`` when it is not 0)."""
        return tuple(
            key
            for key in alloc_keys()
            if getattr(self, key) is not None and not (key == "epoch" and self.epoch == 0)
        )

    def __repr__(self) -> str:
        body = ", ".join(f"{key}={getattr(self, key)!r}" for key in self.present())
        return f"Allocation({body})"


# --------------------------------------------------------------------------------------------
# The envelope
# --------------------------------------------------------------------------------------------


def _validate(a: Allocation, check: AllocCheck, require: tuple[str, ...]) -> Allocation:
    """Check and normalise an allocation: ``seq`` and ``apply_frame``, every family, then the
    diagnostics."""
    for key in require:
        if key not in alloc_keys():
            raise MessageError(f"unknown required allocation key '{key}'")
        if getattr(a, key) is None:
            raise MessageError(f"allocation lacks required key '{key}'")
    out = Allocation(
        seq=check_u64(a.seq, "seq"),
        apply_frame=check_u64(a.apply_frame, "apply_frame"),
        epoch=check_u64(a.epoch, "epoch"),
    )
    for fam in _FAMILIES:
        fam.validate(a, out, check)
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
    return out


_DIAGNOSTICS = (
    AllocKey("objective", lambda v, key, _: read_real(v, key), pmt.from_double),
    AllocKey("solve_ms", lambda v, key, _: read_real(v, key), pmt.from_double),
    AllocKey("solver", lambda v, key, _: read_symbol(v, key), pmt.intern),
)


def _all_keys() -> tuple[AllocKey, ...]:
    """Every key but the envelope's: the families', then the diagnostics."""
    return tuple(key for fam in _FAMILIES for key in fam.keys) + _DIAGNOSTICS


def alloc_to_pmt(a: Allocation) -> Any:
    """Validate an allocation and turn it into its PMT dictionary.

    Parameters
    ----------
    a : Allocation
        The allocation; absent (None) fields are left out of the dictionary.

    Returns
    -------
    pmt.pmt_base
        The allocation dictionary (types as in the module docstrings).

    Raises
    ------
    MessageError
        When the allocation breaks the schema.
    """
    if not isinstance(a, Allocation):
        raise MessageError(f"expected an Allocation, got {type(a).__name__}")
    v = _validate(a, AllocCheck(), ())
    entries = {"seq": from_count(v.seq), "apply_frame": from_count(v.apply_frame)}
    if v.epoch:
        entries["epoch"] = from_count(v.epoch)
    for spec in _all_keys():
        value = getattr(v, spec.name)
        if value is not None:
            entries[spec.name] = spec.write(value)
    return make_dict(entries)


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
    require_dict(msg, "allocation")
    seq_pmt = get(msg, "seq")
    if seq_pmt is None:
        raise MessageError("allocation lacks 'seq'")
    af_pmt = get(msg, "apply_frame")
    epoch_pmt = get(msg, "epoch")
    raw = Allocation(
        seq=read_count(seq_pmt, "seq"),
        apply_frame=0 if af_pmt is None else read_count(af_pmt, "apply_frame"),
        epoch=0 if epoch_pmt is None else read_count(epoch_pmt, "epoch"),
    )
    check = AllocCheck(k=k, n_t=n_t, p_max=p_max, user=user, from_pmt=True)
    for spec in _all_keys():
        value = get(msg, spec.name)
        if value is not None:
            setattr(raw, spec.name, spec.read(value, spec.name, check))
    return _validate(raw, check, tuple(require))
