#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""End-to-end distortion regression of MU-ASCC [1], Sec. III-A (eqs. 12-13, Fig. 4-5).

For every operating point n of the codec: encode a fixed sample of test images, flip every bit
of every stream independently with probability rho_b (Monte-Carlo, as the paper's validation
does), decode, and measure the DU distortions (1-MS-SSIM, MSE) and the SU distortion
(classification error) against log10 rho_b. Then fit eq. (12)/(13),

    D(x) = d_s + d_c / (1 + exp(-a_1 (x - a_0))),   x = log10 rho_b,

with d_s the measured error-free distortion and (d_c, a_1, a_0) the least-squares fit (the
paper's minimum-MSE regression), and report R^2. Tables follow docs/mu_ascc/tables.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import curve_fit
from tqdm import tqdm

from semdacom.source_coding import metrics
from semdacom.source_coding.codec import LearnedCodec

__all__ = [
    "FORMAT",
    "TASKS",
    "codec_from_spec",
    "codec_spec",
    "fit_logistic",
    "flip_bits",
    "logistic",
    "measure",
    "measure_codec",
    "measure_point",
    "measure_tasks",
    "monotone_curve",
    "plot_named_tables",
    "plot_tables",
    "tabulate_tables",
    "write_tables",
]

FORMAT = "semdacom-distortion-table/1"
#: (table suffix, task, metric name in the table)
TASKS = (
    ("du_msssim", "du", "1-msssim"),
    ("du_mse", "du", "mse"),
    ("su_error", "su", "classification_error"),
)


def logistic(x, d_s: float, d_c: float, a1: float, a0: float):
    """Eq. (12)/(13): ``d_s + d_c / (1 + exp(-a1 (x - a0)))`` with ``x = log10 BER``."""
    z = np.clip(-a1 * (np.asarray(x, dtype=np.float64) - a0), -500.0, 500.0)
    return d_s + d_c / (1.0 + np.exp(z))


def flip_bits(stream: bytes, ber: float, rng: np.random.Generator) -> bytes:
    """Flip each bit of ``stream`` independently with probability ``ber`` (0 <= ber <= 1)."""
    n = 8 * len(stream)
    if n == 0 or ber <= 0.0:
        return bytes(stream)
    k = int(rng.binomial(n, min(float(ber), 1.0)))
    if k == 0:
        return bytes(stream)
    pos = rng.choice(n, size=k, replace=False)
    arr = np.frombuffer(bytes(stream), dtype=np.uint8).copy()
    np.bitwise_xor.at(arr, pos >> 3, (0x80 >> (pos & 7)).astype(np.uint8))
    return arr.tobytes()


@dataclass
class PointMeasure:
    index: int
    rs_bits: float
    log10_ber: list[float]
    clean: dict[str, float]
    curves: dict[str, list[float]]


def _metrics(codec: LearnedCodec, y_hat, erased, x_ref, labels, r) -> dict[str, np.ndarray]:
    x = codec.images_from_latent(y_hat, erased, r)
    out = {
        "du_msssim": 1.0 - metrics.msssim(x, x_ref),
        "du_mse": metrics.mse(x, x_ref),
    }
    if codec.semantic is not None:
        pred = codec.labels_from_latent(y_hat, erased, r)
        out["su_error"] = (pred != labels).astype(np.float64)
    return out


def _monte_carlo(codec, images, rates, log10_ber, trials: int, seed: int, bar, score):
    """The Monte-Carlo loop of :func:`measure` and :func:`measure_codec`.

    ``score(streams, r, sel)`` gives per-image metrics (dict of arrays) of decoded ``streams``
    whose references are ``x_ref[sel]``. Only streams that really got a flip are decoded again;
    the others keep their error-free metrics (exactly what decoding them would give).
    """
    out = []
    for r in rates:
        rng = np.random.default_rng([seed, r])
        streams = codec.encode(images, r)
        rs = float(np.mean([8 * len(s) for s in streams]))
        base = score(streams, r, slice(None))
        curves = {k: [] for k in base}
        for lb in log10_ber:
            acc = {k: 0.0 for k in base}
            for _ in range(trials):
                noisy = [flip_bits(s, 10.0**lb, rng) for s in streams]
                hit = np.array([a != b for a, b in zip(noisy, streams, strict=True)])
                vals = {k: v.copy() for k, v in base.items()}
                if hit.any():
                    idx = np.flatnonzero(hit)
                    m1 = score([noisy[i] for i in idx], r, idx)
                    for k in vals:
                        vals[k][idx] = m1[k]
                for k in acc:
                    acc[k] += float(np.mean(vals[k])) / trials
                bar.update(1)
            for k in curves:
                curves[k].append(acc[k])
        out.append(
            PointMeasure(
                index=r,
                rs_bits=rs,
                log10_ber=[float(v) for v in log10_ber],
                clean={k: float(np.mean(v)) for k, v in base.items()},
                curves=curves,
            )
        )
    return out


def measure(
    codec: LearnedCodec,
    images: np.ndarray,
    labels: np.ndarray,
    log10_ber: np.ndarray,
    *,
    trials: int = 1,
    seed: int = 0,
    rate_indexes: list[int] | None = None,
    progress: bool = True,
) -> list[PointMeasure]:
    """Monte-Carlo E2E distortions over a BER grid for each operating point.

    Only streams that really got a flip are decoded again; the others keep their error-free
    metrics (exactly what decoding them would give).
    """
    rates = list(range(codec.levels)) if rate_indexes is None else list(rate_indexes)
    total = len(rates) * len(log10_ber) * trials
    bar = tqdm(total=total, desc="fit-distortion", unit="point", disable=not progress)
    score = _learned_score(codec, images, labels)
    out = _monte_carlo(codec, images, rates, log10_ber, trials, seed, bar, score)
    bar.close()
    return out


def _learned_score(codec: LearnedCodec, images, labels):
    """``score(streams, r, sel)`` of :func:`_monte_carlo` for the learned codec."""
    x_ref = codec.as_tensor(images).cpu().numpy()
    labels = np.asarray(labels)

    def score(streams: list[bytes], r: int, sel) -> dict[str, np.ndarray]:
        y_hat, erased, _ = codec.decode_latent(streams, r)
        return _metrics(codec, y_hat, erased, x_ref[sel], labels[sel], r)

    return score


def fit_logistic(x, d, d_s: float) -> dict:
    """Least-squares fit of eq. (12)/(13) with ``d_s`` fixed; returns d_c, a1, a0 and R^2."""
    x = np.asarray(x, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    d_c0 = max(float(d.max() - d_s), 1e-9)
    half = d_s + 0.5 * d_c0
    above = np.flatnonzero(d >= half)
    a00 = float(x[above[0]]) if above.size else float(x[-1])

    def f(xx, d_c, a1, a0):
        return logistic(xx, d_s, d_c, a1, a0)

    # the ceiling d_s + d_c at most twice the measured rise, the centre at most one decade past
    # the grid: a curve that has not saturated is not extrapolated to absurd ceilings
    hi = (2.0 * d_c0 + 1e-9, 100.0, float(x.max()) + 1.0)
    a00 = min(a00, hi[2])

    best = None
    for a1_0 in (1.0, 3.0, 8.0):
        try:
            p, _ = curve_fit(
                f,
                x,
                d,
                p0=(d_c0, a1_0, a00),
                bounds=([0.0, 1e-3, -20.0], hi),
                maxfev=20000,
            )
        except (RuntimeError, ValueError):
            continue
        res = float(np.sum((f(x, *p) - d) ** 2))
        if best is None or res < best[1]:
            best = (p, res)
    if best is None:
        p, res = np.array([d_c0, 1.0, a00]), float(np.sum((f(x, d_c0, 1.0, a00) - d) ** 2))
    else:
        p, res = best
    ss_tot = float(np.sum((d - d.mean()) ** 2))
    r2 = 1.0 - res / ss_tot if ss_tot > 0 else (1.0 if res < 1e-20 else 0.0)
    return {"d_c": float(p[0]), "a1": float(p[1]), "a0": float(p[2]), "r2": float(r2)}


def write_tables(
    measures: list[PointMeasure],
    out_dir: str | Path,
    *,
    codec_name: str,
    model_sha256: str,
    made_by: str,
    image_shape: tuple[int, int, int],
    dataset: str = "fashion-mnist",
    n_images: int | None = None,
    meta: dict | None = None,
) -> list[Path]:
    """Fit every point; write one JSON table per (task, metric) (docs/mu_ascc/tables.md).
    ``meta`` is merged into every table (e.g. the ``data`` options of your own folder)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    ms = sorted(measures, key=lambda m: m.rs_bits)
    for suffix, task, metric in TASKS:
        if suffix not in ms[0].curves:
            continue
        points = []
        for m in ms:
            d_s = m.clean[suffix]
            fit = fit_logistic(m.log10_ber, m.curves[suffix], d_s)
            points.append(
                {
                    "index": m.index,
                    "rs_bits": m.rs_bits,
                    "d_s": d_s,
                    "d_c": fit["d_c"],
                    "a1": fit["a1"],
                    "a0": fit["a0"],
                    "r2": fit["r2"],
                    "samples": {"log10_ber": m.log10_ber, "distortion": m.curves[suffix]},
                }
            )
        name = f"{codec_name}_{suffix}"
        doc = {
            "format": FORMAT,
            "name": name,
            "codec": codec_name,
            "task": task,
            "metric": metric,
            "x": "log10_ber",
            "dataset": dataset,
            "split": "test",
            "n_images": n_images,
            "image_shape": list(image_shape),
            "model_sha256": model_sha256,
            "made_by": made_by,
            "min_r2": min(p["r2"] for p in points),
            **(meta or {}),
            "points": points,
        }
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(doc, indent=1) + "\n")
        written.append(path)
    return written


def plot_tables(paths: list[Path], out_dir: str | Path, every: int = 3) -> list[Path]:
    """Fig. 4-like plots: simulated points (markers) and fitted logistic (lines) per table
    (``distortion_<task and metric>.png``)."""
    return _plot(
        paths, out_dir, every, lambda doc: f"distortion_{doc['name'].split('_', 2)[-1]}", None
    )


#: BERs above 1e-1 added to every grid (0.2, 0.35, 0.5): the physical link's BER reaches 1/2
#: (a lost packet), and a fixed-length code (the low-rate end) degrades gracefully, so its curve
#: only saturates there; without them the logistic's ceiling would be an extrapolation.
HIGH_BER = (0.2, 0.35, 0.5)


def default_grid(points: int = 29) -> np.ndarray:
    """log10 BER grid: ``points`` from -8 to -1 (1e-8..1e-1), then :data:`HIGH_BER`."""
    return np.concatenate([np.linspace(-8.0, -1.0, points), np.log10(HIGH_BER)])


# ----------------------------------------------------------------------------------------------
# Codec-agnostic entry (any codec with encode/decode -> DecodeResult, e.g. the classical one)
# ----------------------------------------------------------------------------------------------


def _image_metrics(codec, res, x_ref, labels) -> dict[str, np.ndarray]:
    out = {
        "du_msssim": 1.0 - metrics.msssim(res.images, x_ref),
        "du_mse": metrics.mse(res.images, x_ref),
    }
    if getattr(codec, "semantic", None) is not None and hasattr(codec, "labels_from_images"):
        pred = codec.labels_from_images(res.images, res.erased)
        out["su_error"] = (pred != labels).astype(np.float64)
    return out


def measure_codec(
    codec,
    images: np.ndarray,
    labels: np.ndarray,
    log10_ber: np.ndarray,
    *,
    trials: int = 1,
    seed: int = 0,
    rate_indexes: list[int] | None = None,
    progress: bool = True,
    desc: str = "fit-distortion",
) -> list[PointMeasure]:
    """:func:`measure` for any codec with ``encode``/``decode`` (a ``DecodeResult``).

    Erased images are scored as what ``decode`` puts in their place (the codec's erasure fill);
    the SU error uses ``codec.labels_from_images`` (classifier on the decoded image, -1 and so
    an error when erased). Also returns the per-point erasure rate in ``curves["erasure"]``.
    """
    rates = list(range(codec.levels)) if rate_indexes is None else list(rate_indexes)
    bar = tqdm(
        total=len(rates) * len(log10_ber) * trials, desc=desc, unit="point", disable=not progress
    )
    score = _codec_score(codec, images, labels)
    out = _monte_carlo(codec, images, rates, log10_ber, trials, seed, bar, score)
    bar.close()
    return out


def _codec_score(codec, images, labels):
    """``score(streams, r, sel)`` of :func:`_monte_carlo` for any codec with ``decode``."""
    x_ref = np.asarray(codec.as_tensor(images).cpu().numpy(), dtype=np.float32)
    labels = np.asarray(labels)

    def score(streams: list[bytes], r: int, sel) -> dict[str, np.ndarray]:
        res = codec.decode(streams, r)
        m = _image_metrics(codec, res, x_ref[sel], labels[sel])
        m["erasure"] = res.erased.astype(np.float64)
        return m

    return score


# ----------------------------------------------------------------------------------------------
# The same Monte-Carlo as sweep tasks (one per operating point), for semdacom.sweep.run_tasks
# ----------------------------------------------------------------------------------------------

_CODECS: dict = {}  # per worker process: the last codec built from a spec


def codec_spec(
    kind: str,
    weights: str | Path | list | None = None,
    semantic: str | Path | None = None,
    classifier: str | Path | None = None,
    low_rate: str | Path | None = None,
) -> dict:
    """What a worker needs to build the codec: ``kind`` ("learned", "classical" or
    "compressai") and the weight files, with their sha256 (so the sweep's task cache follows
    the weights).

    ``low_rate``: the learned codec's low-rate end (issue 26); by default the one
    :meth:`LearnedCodec.load` would take for ``weights`` (the shipped head when it was trained
    on them), named here so that a retrained head does not reuse another head's results.

    For "compressai", ``weights`` are the model files of the operating points in order
    (:func:`.compressai_codec.parse_weights`: a list or a comma-separated string); the spec
    keeps them as one comma-separated string, and their sha256 likewise (a spec is plain
    strings: picklable and hashable)."""
    from semdacom.data import file_sha256

    if kind not in ("learned", "classical", "compressai"):
        raise ValueError(f"kind must be 'learned', 'classical' or 'compressai', got {kind!r}")
    if kind == "compressai":
        from semdacom.source_coding.compressai_codec import parse_weights

        files = [p.resolve() for p in parse_weights(weights if weights is not None else [])]
        spec = {
            "kind": kind,
            "weights": ",".join(str(p) for p in files),
            "weights_sha256": ",".join(file_sha256(p) for p in files),
        }
        if classifier is not None and Path(classifier).exists():
            spec["classifier"] = str(Path(classifier).resolve())
            spec["classifier_sha256"] = file_sha256(classifier)
        return spec
    if kind == "learned" and low_rate is None and weights is not None:
        from semdacom.source_coding.codec import default_low_rate

        low_rate = default_low_rate(weights)
    spec: dict = {"kind": kind}
    named = (("weights", weights), ("semantic", semantic), ("classifier", classifier))
    for name, path in named + (("low_rate", low_rate),):
        if path is not None and Path(path).exists():
            spec[name] = str(Path(path).resolve())
            spec[f"{name}_sha256"] = file_sha256(path)
    return spec


def codec_from_spec(spec: dict):
    """The codec of :func:`codec_spec` (built once per process and kept for the next task)."""
    key = tuple(sorted(spec.items()))
    if key not in _CODECS:
        _CODECS.clear()
        if spec["kind"] == "learned":
            _CODECS[key] = LearnedCodec.load(
                spec["weights"],
                semantic=spec.get("semantic", False),
                classifier=spec.get("classifier"),
                rate_table=False,
                low_rate=spec.get("low_rate", False),
            )
        elif spec["kind"] == "compressai":
            from semdacom.source_coding.compressai_codec import CompressAICodec

            _CODECS[key] = CompressAICodec(
                spec["weights"], classifier=spec.get("classifier"), rate_table=False
            )
        else:
            from semdacom.source_coding.classical import ClassicalCodec

            _CODECS[key] = ClassicalCodec(
                classifier=spec.get("classifier", False), rate_table=False
            )
    return _CODECS[key]


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass


def measure_point(
    codec: dict, images, labels, rate: int, log10_ber, trials: int, seed: int
) -> PointMeasure:
    """One sweep task: the Monte-Carlo of operating point ``rate`` (the loop of :func:`measure`
    for a learned codec, of :func:`measure_codec` for the others; the same random stream,
    ``default_rng([seed, rate])``, so the same numbers)."""
    c = codec_from_spec(codec)
    score = (_learned_score if codec["kind"] == "learned" else _codec_score)(c, images, labels)
    grid = np.asarray(log10_ber, dtype=np.float64)
    return _monte_carlo(c, images, [int(rate)], grid, trials, seed, _NoBar(), score)[0]


def measure_tasks(codec: dict, images, labels, log10_ber, *, trials: int, seed: int, rates):
    """The :func:`measure_point` tasks of every operating point in ``rates``."""
    from semdacom.sweep import Task

    images, labels = np.asarray(images), np.asarray(labels)
    grid = [float(v) for v in log10_ber]
    return [
        Task(f"rate{r:02d}", dict(codec=codec, images=images, labels=labels, rate=int(r),
                                  log10_ber=grid, trials=int(trials), seed=int(seed)))
        for r in rates
    ]  # fmt: skip


def monotone_curve(d) -> list[float]:
    """Least-squares non-decreasing fit of ``d`` (pool-adjacent-violators, equal weights)."""
    blocks: list[list[float]] = []  # [mean, count]
    for v in np.asarray(d, dtype=np.float64):
        blocks.append([float(v), 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, c2 = blocks.pop()
            m1, c1 = blocks.pop()
            blocks.append([(m1 * c1 + m2 * c2) / (c1 + c2), c1 + c2])
    out: list[float] = []
    for m, c in blocks:
        out.extend([m] * int(c))
    return out


def tabulate_tables(paths: list[Path], *, min_r2: float = 0.95, meta: dict | None = None) -> None:
    """Rewrite tables whose logistic fit has some point with R^2 < ``min_r2`` as
    ``"model": "tabulated"`` (docs/mu_ascc/tables.md): per point the monotone (non-decreasing) least
    squares curve of the Monte-Carlo samples; the logistic fit stays for reference. Tables that
    fit everywhere keep the logistic model. ``meta`` is merged into every table."""
    for path in paths:
        doc = json.loads(Path(path).read_text())
        doc.update(meta or {})
        if doc["min_r2"] < min_r2:
            doc["model"] = "tabulated"
            doc["tabulated_because"] = f"min R^2 {doc['min_r2']:.4f} < {min_r2}"
            for p in doc["points"]:
                xs = p["samples"]["log10_ber"]
                p["curve"] = {
                    "log10_ber": xs,
                    "distortion": monotone_curve(p["samples"]["distortion"]),
                }
        else:
            doc["model"] = "logistic"
        Path(path).write_text(json.dumps(doc, indent=1) + "\n")


def plot_named_tables(paths: list[Path], out_dir: str | Path, every: int = 3) -> list[Path]:
    """Fig. 4-like plots named after the table (``<name>.png``): Monte-Carlo points and the
    model (the logistic of eq. (12)/(13), or the monotone curve of a tabulated table)."""
    return _plot(paths, out_dir, every, lambda doc: doc["name"], 9)


def _plot(paths, out_dir, every: int, stem, title_size) -> list[Path]:
    """One figure per table: every ``every``-th point (and the last), markers for the
    Monte-Carlo samples, a line for the model; saved as ``<stem(doc)>.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        doc = json.loads(Path(path).read_text())
        tab = doc.get("model") == "tabulated"
        fig, ax = plt.subplots(figsize=(6, 4.2))
        pts = doc["points"]
        chosen = pts[::every] if pts[-1] in pts[::every] else pts[::every] + [pts[-1]]
        cmap = plt.get_cmap("viridis")
        for j, p in enumerate(chosen):
            c = cmap(j / max(1, len(chosen) - 1))
            xs = np.asarray(p["samples"]["log10_ber"])
            ax.plot(10**xs, p["samples"]["distortion"], "o", ms=3.5, color=c)
            if tab:
                ax.plot(
                    10**xs,
                    p["curve"]["distortion"],
                    "-",
                    color=c,
                    label=f"R_s={p['rs_bits']:.0f} bits (logistic R²={p['r2']:.3f})",
                )
            else:
                xf = np.linspace(xs.min(), xs.max(), 200)
                ax.plot(
                    10**xf,
                    logistic(xf, p["d_s"], p["d_c"], p["a1"], p["a0"]),
                    "-",
                    color=c,
                    label=f"R_s={p['rs_bits']:.0f} bits (R²={p['r2']:.3f})",
                )
        ax.set_xscale("log")
        ax.set_xlabel("BER")
        ax.set_ylabel(doc["metric"])
        how = "monotone tabulated curve" if tab else "eq. (12)/(13) fit"
        size = {} if title_size is None else {"fontsize": title_size}  # None: rc default
        ax.set_title(f"{doc['name']}: simulated (o) vs {how} (-)", **size)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        png = out_dir / f"{stem(doc)}.png"
        fig.savefig(png, dpi=110)
        plt.close(fig)
        written.append(png)
    return written
