"""Fading margin of ``csi_combiner``: the planning loss against the margin, the Doppler and the
age of the CSI (issue 21, Build 3: "CSI age and fading handled with a margin").

Over the air the optimiser plans frame ``F + lead`` on the users' reports of frames ``F`` and
before (``csi_combiner``: the mean of the last ``average`` reports, one per frame, published
every ``every`` frames), and the allocation stays in force for ``every`` frames. A user whose
link fades in between is planned on a gain it no longer has, and an optimistic plan loses its
packets (the erasure-aware tables: a lost packet costs its image). The margin plans on a noise
``margin_db`` higher: fixed margins, and the combiner's measured one (``margin_quantile`` q: the
q-quantile of the gain ratio between a report and the row held ``lag`` frames before, here
from 4000 draws of the same fade).

Model (the example ``mu_ascc_ota_sim``: ``channels.fading_model`` on each user's received
stream, a scalar Rayleigh fade on the whole row): ``h_u(t) = a_u(t) H0[u]``, ``a_u`` Clarke's
sum of 16 sinusoids with unit power, Doppler ``nu`` = fD times the frame duration (fD*Ts per
sample times the samples per frame: 4268 in the simulation, where the air only moves during a
burst; 40000 at 2 MS/s and 20 ms frames on radios). The CSI row is the mean of the reports'
``|a_u| H0[u]`` (the estimator fixes the phase of ``h[0]``) plus LS noise of ``3 N_p = 48``
pilots at 10 dB; the plan is solved on it with the noise times ``10^(margin/10)``; the loss is
the optimiser's objective on the true channel of each frame the plan is in force minus the
objective of the plan solved on that true channel (perfect, fresh CSI), averaged.

Writes bench/results/fading_margin.json; ``python bench/fading_margin.py [--trials N]``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from common import write
from e2e import SNR_DB, _on_true, _problem

#: Doppler per frame (fD x frame duration) measured: static, then fD*Ts 1e-6, 1e-5, 1e-4 per
#: sample over the simulation's 4268-sample bursts.
NU = (0.0, 4.268e-3, 4.268e-2, 4.268e-1)
MARGINS_DB = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0)
#: Quantiles of the measured margin evaluated (``csi_combiner`` ``margin_quantile``).
QUANTILES = (0.1, 0.25, 0.5)
#: The examples' feedback: allocation lead, CSI every N frames, reports averaged.
LEAD, EVERY, AVERAGE = 8, 4, 4
LAG = LEAD + EVERY // 2
N_SINUSOIDS = 16
N_P, PILOT_SNR_DB = 48, 10.0


def clarke(rng: np.random.Generator, frames: np.ndarray, nu: float) -> np.ndarray:
    """A unit-power Rayleigh fade at the frame times ``frames`` (Doppler ``nu`` per frame)."""
    theta = rng.uniform(0, 2 * np.pi, N_SINUSOIDS)
    phi = rng.uniform(0, 2 * np.pi, N_SINUSOIDS)
    arg = 2 * np.pi * nu * np.outer(frames, np.cos(theta)) + phi
    return np.exp(1j * arg).sum(axis=1) / math.sqrt(N_SINUSOIDS)


def trial(rng, true0, h0, nv, nu: float, margins, fast) -> tuple[np.ndarray, float]:
    """One draw: the loss for every margin, and the perfect-CSI objective (mean over the frames
    the plan is in force)."""
    from semdacom.phy import pilots

    n_p = N_P
    p = 10**0.5 / 2
    x = pilots.pilot_matrix(2, n_p, p)
    report_frames = -np.arange(AVERAGE)[::-1]  # one report per frame: F - 3 .. F
    use_frames = LEAD + np.arange(EVERY)
    if nu == 0.0:
        a = np.ones((2, AVERAGE + EVERY), complex)
    else:
        frames = np.concatenate([report_frames, use_frames]).astype(float)
        a = np.array([clarke(rng, frames, nu) for _ in (0, 1)])
    h_hat, nv_hat = np.zeros_like(h0), np.zeros(2)
    for u in (0, 1):
        for k in range(AVERAGE):
            row = abs(a[u, k]) * h0[u]
            v = rng.standard_normal(n_p) + 1j * rng.standard_normal(n_p)
            h1, nv1 = pilots.ls_estimate(np.conj(row) @ x + v * math.sqrt(nv[u] / 2), x)
            h_hat[u] += h1 / AVERAGE
            nv_hat[u] += nv1 / AVERAGE
    trues = [true0.with_channel(np.abs(a[:, AVERAGE + j])[:, None] * h0, nv) for j in range(EVERY)]
    best = [fast.solve_fast(t).objective for t in trues]
    losses = np.zeros(len(margins))
    for i, m in enumerate(margins):
        sol = fast.solve_fast(true0.with_channel(h_hat, nv_hat * 10 ** (m / 10)))
        losses[i] = np.mean([_on_true(t, sol) - b for t, b in zip(trues, best, strict=True)])
    return losses, float(np.mean(best))


def measured_margin(rng: np.random.Generator, nu: float, q: float, draws: int = 4000) -> float:
    """The margin ``csi_combiner`` measures at Doppler ``nu``: the ``q``-quantile of
    ``|a(t)|^2 (1 + e) / |mean of the 4 reports held lag frames before|^2`` (``e``: the gain
    estimation error of 48 pilots at 10 dB), in dB, at most 20."""
    frames = np.concatenate([-LAG - np.arange(AVERAGE)[::-1], [0]]).astype(float)
    err = math.sqrt(2 * 10 ** (-PILOT_SNR_DB / 10) / N_P)  # relative error of |h|^2, about
    ratios = []
    for _ in range(draws):
        a = np.abs(clarke(rng, frames, nu)) if nu else np.ones(frames.size)
        a = a * (1 + err / 2 * rng.standard_normal(frames.size))
        ratios.append(a[-1] ** 2 / np.mean(a[:-1]) ** 2)
    return float(min(20.0, max(0.0, -10 * math.log10(np.quantile(ratios, q)))))


def measure(trials: int, seed: int = 0) -> dict:
    from semdacom.mu_ascc.optimizer import fast
    from semdacom.phy import beamforming as bf

    rng = np.random.default_rng(seed)
    h0 = bf.paper_channel()
    p = 10**0.5 / 2
    nv = np.array([p * float(np.linalg.norm(h0[u]) ** 2) / 10 ** (SNR_DB / 10) for u in (0, 1)])
    true0 = _problem(h0, nv)
    out = {}
    for nu in NU:
        t0 = time.time()
        auto = [measured_margin(rng, nu, q) for q in QUANTILES]
        margins = (*MARGINS_DB, *auto)
        rows = [trial(rng, true0, h0, nv, nu, margins, fast) for _ in range(trials)]
        loss = np.array([r[0] for r in rows])
        mean, p95 = loss.mean(axis=0), np.percentile(loss, 95, axis=0)
        n = len(MARGINS_DB)
        out[f"{nu:g}"] = {
            "nu_per_frame": nu,
            "fd_ts_sim": nu / 4268,
            "perfect_csi_objective": float(np.mean([r[1] for r in rows])),
            "mean_loss": {f"{m:g}": float(v) for m, v in zip(MARGINS_DB, mean[:n], strict=True)},
            "p95_loss": {f"{m:g}": float(v) for m, v in zip(MARGINS_DB, p95[:n], strict=True)},
            "best_margin_db": float(MARGINS_DB[int(np.argmin(mean[:n]))]),
            "measured_margin": {f"{q:g}": {"margin_db": m, "mean_loss": float(v),
                                           "p95_loss": float(w)}
                                for q, m, v, w in zip(QUANTILES, auto, mean[n:], p95[n:],
                                                      strict=True)},
            "trials": trials,
            "wall_s": time.time() - t0,
        }  # fmt: skip
        print(
            f"nu {nu:g}: "
            + " ".join(f"{m:.3g} dB {v:.4f}" for m, v in zip(margins, mean, strict=True))
        )
    return {
        "lead": LEAD, "every": EVERY, "average": AVERAGE, "lag": LAG, "snr_db": SNR_DB,
        "pilots_per_antenna": N_P, "margins_db": list(MARGINS_DB),
        "quantiles": list(QUANTILES), "by_doppler": out,
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=60)
    args = ap.parse_args()
    write("fading_margin", measure(args.trials))


if __name__ == "__main__":
    main()
