"""Monte-Carlo link tables: BER and BLER of every MCS against SNR at a channel blocklength L.

The channel is complex AWGN with unit-energy symbols, so the SNR is ``Es/N0 = 1 / N0``; in the
MU-MISO system it is the SINR of eq. (7) (interference treated as Gaussian noise). Each point
runs whole channel blocks (:func:`.framing.encode_bits` / :func:`.framing.decode_symbols`) until
``min_errors`` codeword errors or ``max_bits`` code bits. BER counts payload bit errors (CRC
bits excluded), BLER codeword errors (CRC failure, or any payload bit wrong; a codeword whose LDPC
syndrome is still nonzero after the last iteration but whose payload and CRC are right counts
as received, as in the channel_decoder block).
The output is the ``link_L<L>.json`` format of docs/mu_ascc/tables.md, read by
:class:`semdacom.phy.link.TabulatedLink`.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from semdacom.channel_coding import framing
from semdacom.channel_coding.mcs import MCS_TABLE, block_layout

__all__ = ["FORMAT", "assemble_table", "build_table", "link_tasks", "mcs_curve", "simulate_point"]

FORMAT = "semdacom-link-table/1"


def simulate_point(
    mcs: int,
    L: int,
    snr_db: float,
    rng: np.random.Generator,
    *,
    min_errors: int = 50,
    max_bits: float = 2e6,
    max_iterations: int = 20,
) -> dict[str, Any]:
    """BER and BLER of one MCS at one SNR (see the module docstring)."""
    lay = block_layout(mcs, L)
    n0 = 10.0 ** (-snr_db / 10.0)
    coded_per_block = sum(lay.n)
    batch = max(1, int(min(64, math.ceil(2e5 / coded_per_block))))
    bit_err = bits = cw_err = cws = coded = 0
    while cw_err < min_errors and coded < max_bits:
        u = rng.integers(0, 2, batch * lay.payload_bits, dtype=np.uint8)
        x = framing.encode_bits(u, mcs, L)
        noise = rng.standard_normal((x.size, 2)) @ np.array([1.0, 1j]) * math.sqrt(n0 / 2)
        res = framing.decode_symbols(x + noise, mcs, L, n0, 1.0, u.size, max_iterations)
        wrong = res.bits != u
        bit_err += int(wrong.sum())
        bits += u.size
        # per-codeword payload errors (codewords in transmission order)
        edges = np.concatenate([[0], np.cumsum(res.codeword_payload)])
        cw_wrong = np.add.reduceat(wrong.astype(np.int32), edges[:-1]) > 0
        bad = cw_wrong | ~res.crc_ok
        cw_err += int(bad.sum())
        cws += bad.size
        coded += batch * coded_per_block
    return {
        "snr_db": float(snr_db),
        "ber": bit_err / bits,
        "bler": cw_err / cws,
        "bit_errors": bit_err,
        "bits": bits,
        "cw_errors": cw_err,
        "codewords": cws,
    }


def mcs_curve(
    mcs: int,
    L: int,
    *,
    seed: int = 1,
    step_db: float = 0.5,
    max_points: int = 16,
    min_errors: int = 50,
    max_bits: float = 2e6,
    max_iterations: int = 20,
) -> dict[str, Any]:
    """One MCS of a link table (one sweep task): its SNR curve and layout.

    The SNR grid starts ``1.5`` dB below the Shannon SNR ``2^{R_c} - 1`` of the effective rate
    and steps by ``step_db`` until a point shows no error at all (or ``max_points`` points).
    The random stream is ``default_rng([seed, L, mcs])``: the task's own, whatever runs it.
    """
    rng = np.random.default_rng([seed, L, mcs])
    lay = block_layout(mcs, L)
    m = lay.mcs
    start = 10 * math.log10(2.0**lay.rc_effective - 1.0) - 1.5
    pts = []
    for p in range(max_points):
        pt = simulate_point(
            mcs,
            L,
            round(start + p * step_db, 2),
            rng,
            min_errors=min_errors,
            max_bits=max_bits,
            max_iterations=max_iterations,
        )
        pts.append(pt)
        if pt["bit_errors"] == 0:
            break
    entry = {
        "index": m.index,
        "modulation": m.modulation,
        "rate": str(m.rate),
        "bits_per_symbol": m.bits_per_symbol,
        "rc": m.rc,
        "rc_effective": lay.rc_effective,
        "codeword_n": list(lay.n),
        "codeword_k": list(lay.k),
    }
    for key in pts[0]:
        entry[key] = [pt[key] for pt in pts]
    return entry


def link_tasks(
    L: int,
    *,
    seed: int = 1,
    step_db: float = 0.5,
    max_points: int = 16,
    min_errors: int = 50,
    max_bits: float = 2e6,
    max_iterations: int = 20,
    mcs_indices: list[int] | None = None,
) -> list:
    """The tasks of the link table at blocklength ``L``: one :func:`mcs_curve` per MCS."""
    from semdacom.sweep import Task

    idx = list(range(len(MCS_TABLE))) if mcs_indices is None else list(mcs_indices)
    kw = dict(seed=seed, step_db=step_db, max_points=max_points, min_errors=min_errors,
              max_bits=max_bits, max_iterations=max_iterations)  # fmt: skip
    return [Task(f"L{L}_mcs{i}", {"mcs": i, "L": int(L), **kw}) for i in idx]


def assemble_table(
    L: int,
    entries: list[dict[str, Any]],
    *,
    seed: int,
    min_errors: int,
    max_bits: float,
    max_iterations: int,
    seconds: float,
) -> dict[str, Any]:
    """The ``link_L<L>.json`` document from the :func:`mcs_curve` results of one L."""
    return {
        "format": FORMAT,
        "L": int(L),
        "channel": "complex AWGN, unit-energy symbols; snr_db = Es/N0 (the SINR of eq. 7)",
        "decoder": {
            "algorithm": "layered normalised min-sum",
            "max_iterations": max_iterations,
            "demapper": "max-log",
        },
        "stopping": {"min_errors": min_errors, "max_code_bits": max_bits},
        "seed": seed,
        "rng": "numpy default_rng([seed, L, mcs]) per MCS",
        "mcs": list(entries),
        "seconds": round(seconds, 1),
    }


def build_table(
    L: int,
    *,
    seed: int = 1,
    step_db: float = 0.5,
    max_points: int = 16,
    min_errors: int = 50,
    max_bits: float = 2e6,
    max_iterations: int = 20,
    mcs_indices: list[int] | None = None,
    progress: bool = True,
    **engine: Any,
) -> dict[str, Any]:
    """Link table of every MCS at blocklength ``L`` (:func:`mcs_curve` per MCS, run by
    :func:`semdacom.sweep.run_tasks`; ``engine`` holds its engine/workers/address/out_dir)."""
    from semdacom.sweep import run_tasks

    tasks = link_tasks(L, seed=seed, step_db=step_db, max_points=max_points,
                       min_errors=min_errors, max_bits=max_bits, max_iterations=max_iterations,
                       mcs_indices=mcs_indices)  # fmt: skip
    t0 = time.time()
    entries = run_tasks(f"fit-link-L{L}", tasks, mcs_curve, progress=progress, **engine)
    return assemble_table(L, entries, seed=seed, min_errors=min_errors, max_bits=max_bits,
                          max_iterations=max_iterations, seconds=time.time() - t0)  # fmt: skip
