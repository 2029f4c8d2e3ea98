"""End-to-end distortion tables of MU-ASCC ([1]): the public entry.

A :class:`DistortionTable` holds the operating points of one codec for one task (data users,
"du", or semantic users, "su"), sorted by ascending source rate ``R_s``, each with the logistic
fit of eq. (12) (DUs) or eq. (13) (SUs) in ``x = log10 BER`` (eq. (14)), interpolated in
``R_s`` by eqs. (26)-(30) with the subgradient rule of eq. (31); or, for ``"model":
"tabulated"``, a monotone curve per point. The class, the maths and the erasure-aware form
(:func:`erasure_aware`) live in :mod:`semdacom.mu_ascc.distortion_table`.
:class:`SnrTable` is the SNR-indexed table of the DeepJSCC baseline (``"x": "snr_db"``), in
:mod:`semdacom.mu_ascc.snr_table`. Both are re-exported here.

This module adds the loader :func:`load_table` (a path, a shipped table name or
``synthetic:<task>[:seed]``) and :func:`synthetic_table`, which, like
:func:`synthetic_snr_table`, builds a table in the same format with plausible
Fashion-MNIST-like numbers for tests and for runs made before measured tables exist; they are
labelled ``"synthetic": true`` and their ``made_by`` says so. The JSON format is documented in
``docs/mu_ascc/tables.md``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from semdacom.data import TABLES_DIR
from semdacom.mu_ascc.distortion_table import (
    FORMAT,
    METRICS,
    TASKS,
    X_MAX,
    DistortionTable,
    erasure_aware,
    logistic,
)
from semdacom.mu_ascc.snr_table import SNR_FORMAT, SnrTable, synthetic_snr_table

__all__ = [
    "FORMAT",
    "METRICS",
    "SNR_FORMAT",
    "TASKS",
    "X_MAX",
    "DistortionTable",
    "SnrTable",
    "erasure_aware",
    "TABLES_DIR",
    "load_table",
    "logistic",
    "synthetic_snr_table",
    "synthetic_table",
]


# --------------------------------------------------------------------------------------------
# Synthetic tables (same format, clearly labelled)
# --------------------------------------------------------------------------------------------

_SYNTH_NOTE = (
    "SYNTHETIC: plausible Fashion-MNIST-like numbers made by "
    "semdacom.mu_ascc.distortion.synthetic_table; not measured"
)


def synthetic_table(
    task: str = "du",
    n_points: int = 8,
    rs_range: tuple[float, float] = (120.0, 1600.0),
    seed: int = 0,
    model: str = "logistic",
    codec: str = "synthetic_hyperprior",
    robustness_shift: float = 0.0,
    source_penalty: float = 1.0,
) -> DistortionTable:
    """A synthetic distortion table in the format of ``docs/mu_ascc/tables.md``.

    The numbers mimic a learned codec on 28x28 Fashion-MNIST: rates from about 120 to 1600 bits
    per image (geometric spacing), 1-MS-SSIM falling from about 0.25 to 0.02 (DU) and
    classification error from about 0.22 to 0.085 (SU) with error-free bits, a maximal
    distortion near 0.8 (DU) or 0.9 (SU, random guessing over 10 classes), and higher rates
    breaking down at lower BER (the behaviour of Remark 3.1: the logistic centre moves from
    about -3 to -5.5 in log10 BER). A little seeded jitter keeps tables from being identical.
    Tables are marked ``"synthetic": true``.

    Parameters
    ----------
    task : {"du", "su"}
        Data user (1-MS-SSIM) or semantic user (classification error).
    n_points : int
        Number of operating points.
    rs_range : (float, float)
        Smallest and largest rate in bits per image.
    seed : int
        Seed of the jitter.
    model : {"logistic", "tabulated"}
        ``"tabulated"`` stores the logistic sampled on a grid as per-point curves (how a
        classical codec table looks).
    codec : str
        Codec name to record.
    robustness_shift : float
        Added to every logistic centre (a classical codec whose header breaks early: > 0).
    source_penalty : float
        Multiplies the error-free distortion ``d_s`` (a weaker codec: > 1).

    Returns
    -------
    DistortionTable
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}")
    if n_points < 1:
        raise ValueError("n_points must be >= 1")
    lo, hi = float(rs_range[0]), float(rs_range[1])
    if not (0.0 < lo < hi) and n_points > 1:
        raise ValueError("rs_range must satisfy 0 < lo < hi")
    rng = np.random.default_rng(seed)
    rs = np.geomspace(lo, hi, n_points) if n_points > 1 else np.array([lo])
    u = np.linspace(0.0, 1.0, n_points) if n_points > 1 else np.zeros(1)
    jit = rng.uniform(-1.0, 1.0, (4, n_points))
    if task == "du":
        d_s = 0.25 * np.exp(-2.5 * u) + 0.001 * jit[0]
        top = 0.8
        metric = "1-msssim"
    else:
        d_s = 0.085 + 0.135 * np.exp(-3.0 * u) + 0.001 * jit[0]
        top = 0.9
        metric = "classification_error"
    d_s = np.minimum(d_s * float(source_penalty), 0.5 * top)
    d_c = top - d_s
    a1 = 2.6 + 0.4 * u + 0.1 * jit[2]
    a0 = -3.0 - 2.5 * u + 0.05 * jit[3] + robustness_shift
    x = np.linspace(-9.0, -0.5, 18)
    samples = []
    curves = [] if model == "tabulated" else None
    for n in range(n_points):
        d = logistic(x, d_s[n], d_c[n], a1[n], a0[n])
        noisy = d + 0.004 * rng.standard_normal(x.size)
        samples.append({"log10_ber": x.round(4).tolist(), "distortion": noisy.round(6).tolist()})
        if curves is not None:
            curves.append((x.copy(), np.maximum.accumulate(d)))
    name = f"synthetic_{codec}_{task}_{metric.replace('-', '')}"
    return DistortionTable(
        name=name,
        codec=codec,
        task=task,
        metric=metric,
        model=model,
        rs_bits=rs,
        d_s=d_s,
        d_c=d_c,
        a1=a1,
        a0=a0,
        index=np.arange(n_points),
        curves=curves,
        r2=np.full(n_points, math.nan),
        samples=samples,
        meta={
            "synthetic": True,
            "dataset": "synthetic (fashion-mnist-like)",
            "split": "none",
            "image_shape": [1, 28, 28],
            "made_by": _SYNTH_NOTE + f" (task={task}, seed={seed})",
        },
    )


def load_table(spec: str) -> DistortionTable:
    """A distortion table from a path, a shipped table name, or ``synthetic:<task>[:seed]``.

    ``spec`` is tried as a file path first, then as a name (with or without ``.json``) in
    :data:`TABLES_DIR`. ``"synthetic:du"`` / ``"synthetic:su:3"`` build a synthetic table
    (:func:`synthetic_table`), which says so in its metadata.
    """
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"a table spec must be a non-empty string, got {spec!r}")
    if spec.startswith("synthetic:"):
        parts = spec.split(":")
        seed = int(parts[2]) if len(parts) > 2 else 0
        return synthetic_table(parts[1], seed=seed)
    path = Path(spec)
    if path.is_file():
        return DistortionTable.load(path)
    for cand in (TABLES_DIR / spec, TABLES_DIR / f"{spec}.json"):
        if cand.is_file():
            return DistortionTable.load(cand)
    raise FileNotFoundError(f"no distortion table '{spec}' (as a path or in {TABLES_DIR})")
