"""End-to-end benchmark: bench/results/e2e.json.

One function per key group, merged by :func:`main`:

- :func:`ota_keys`: ``ota_sim_frames_detected_pct`` -- examples/mu_ascc_ota_sim.grc at 10 dB
  pilot SNR with CFO (0.001 and 0.0015 cycles/sample), timing offsets and a two-tap multipath:
  the share of bursts the users found (the worse user), with what it ran; ``ota_sim_vs_snr``:
  bursts found and headers read at lower SNRs; ``ota_sim_vs_sco_ppm``: the same and the data
  user's MS-SSIM under a sample clock offset between the radios.
- :func:`csi_keys`: ``csi_mse_db`` -- per pilot length (pilot samples per antenna per burst,
  ``3 N_p``: three pilot blocks) the phase-aligned LS estimation error measured in that
  flowgraph, ``csi_mse_theory_db`` beside it (``(1 - 1/(2 N_t)) sigma^2 / (3 N_p p)``), the
  library Monte-Carlo of plain LS (``csi_mse_library_db``, no carrier phase) with its theory
  ``sigma^2 / (N_p p)`` (``csi_mse_ls_theory_db``), and ``csi_planning_loss``: the weighted
  distortion lost by planning on estimated CSI (the optimiser's objective on the true channel
  with the allocation solved on the estimate, minus that of the allocation solved on the true
  channel), Monte-Carlo at the library level and measured on the flowgraph's last allocation.

- :func:`_e2e_loopback.loopback_keys`: ``loopback_images_per_s``, ``loopback_channel_msps``,
  ``measured_vs_predicted_distortion`` and where the loop's time goes (see that module).
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np
from _e2e_loopback import loopback_keys
from _e2e_loopback import report as report_loopback
from common import write

ROOT = Path(__file__).resolve().parents[1]
#: Pilot block lengths N_p measured (each > N_t = 2); a burst carries 3 blocks.
N_PILOTS = (4, 8, 16, 32)
OTA_IMAGES = 40
SNR_DB = 10.0
#: Pilot SNRs of the detection sweep (dB).
SWEEP_SNR_DB = (-6.0, -3.0, 0.0, 5.0)
#: Sample clock offsets of the timing sweep (ppm).
SWEEP_SCO_PPM = (0.0, 20.0, 50.0)


def _db(x: float) -> float:
    return 10.0 * math.log10(x) if x > 0 else -math.inf


_MODULE = None


def _ota_module():
    global _MODULE
    if _MODULE is None:
        from semdacom.cli.examples import compile_example, load_flowgraph_module

        out = Path(tempfile.mkdtemp(prefix="bench_e2e_"))
        py = compile_example(ROOT / "examples" / "mu_ascc_ota_sim.grc", out)
        _MODULE = load_flowgraph_module(py)
    return _MODULE


def run_ota_sim(n_images: int = OTA_IMAGES, timeout_s: float = 300.0, **kw):
    """examples/mu_ascc_ota_sim.grc headless until every image has its result (or every burst
    has left and nothing new arrived for 5 s: the rest was lost on the air)."""
    from semdacom.cli.examples import UntilIdle, free_port_base, run_until

    mod = _ota_module()
    tb = mod.mu_ascc_ota_sim(n_images=n_images, zmq_port=free_port_base(), **kw)
    done = UntilIdle(
        lambda: sum(getattr(tb, f"metrics_{u}").summary()["counts"]["results"] for u in (0, 1)),
        2 * n_images,
        lambda: tb.pilots.counters()["bursts_out"] >= n_images,
    )
    tb.bench_wall_s = run_until(tb, done, timeout_s, poll_s=0.05, settle_s=0.3)
    return tb


def _problem(h, noise_var, link: str = "tabulated_mcs", p_max_dbw: float = 5.0,
             blocklength: int = 256):  # fmt: skip
    """Problem (P1) exactly as the flowgraph's optimiser block sets it up (its tables, made
    erasure-aware where its link calls for it, and its link model)."""
    from gnuradio import semdacom

    from semdacom.mu_ascc.optimizer.problem import Problem

    delay = 0.6 * 784
    names = ["hyperprior_vbr_du_msssim", "hyperprior_vbr_su_error"]
    blk = semdacom.mu_ascc_optimizer(names, [0.8, 0.2], 10 ** (p_max_dbw / 10), delay,
                                     blocklength, link)  # fmt: skip
    return Problem(np.asarray(h), np.asarray(noise_var), blk._tables, np.array([0.8, 0.2]),
                   10 ** (p_max_dbw / 10), np.full(2, delay), blocklength,
                   blk._link)  # fmt: skip


def _on_true(true_problem, sol) -> float:
    """Objective on the true channel of an allocation solved elsewhere."""
    sinr = true_problem.sinr(sol.power, sol.w)
    return float(true_problem.objective(sol.rs_bits, sinr))


def planning_loss(n_p_total: int, average: int = 1, trials: int = 200, seed: int = 0) -> dict:
    """Weighted distortion lost by planning on LS estimates from ``n_p_total`` pilots per
    antenna (the flowgraph's channel, SNR and powers), each the mean of ``average`` bursts'
    estimates (channel and noise, as ``csi_combiner`` averages reports)."""
    from semdacom.mu_ascc.optimizer import fast
    from semdacom.phy import beamforming as bf
    from semdacom.phy import pilots

    rng = np.random.default_rng(seed)
    H = bf.paper_channel()
    P = 10**0.5
    p = P / 2
    nv = np.array([p * float(np.linalg.norm(H[u]) ** 2) / 10 ** (SNR_DB / 10) for u in (0, 1)])
    true = _problem(H, nv)
    best = fast.solve_fast(true)
    x = pilots.pilot_matrix(2, n_p_total, p)
    losses = []
    for _ in range(trials):
        h_hat, nv_hat = np.zeros_like(H), np.zeros(2)
        for u in (0, 1):
            for _ in range(average):
                v = rng.standard_normal(n_p_total) + 1j * rng.standard_normal(n_p_total)
                h1, nv1 = pilots.ls_estimate(np.conj(H[u]) @ x + v * math.sqrt(nv[u] / 2), x)
                h_hat[u] += h1 / average
                nv_hat[u] += nv1 / average
        sol = fast.solve_fast(true.with_channel(h_hat, nv_hat))
        losses.append(_on_true(true, sol) - best.objective)
    return {"perfect_csi_objective": float(best.objective), "average": average,
            "mean_loss": float(np.mean(losses)), "p95_loss": float(np.percentile(losses, 95)),
            "trials": trials}  # fmt: skip


def ota_keys() -> dict:
    """``ota_sim_frames_detected_pct`` (and the flowgraph's figures)."""
    tb = run_ota_sim(snr_db=SNR_DB, cfo=0.001)
    sent = tb.pilots.counters()["bursts_out"]
    users = {}
    for u in (0, 1):
        fs = getattr(tb, f"frame_sync_{u}").counters()
        est = getattr(tb, f"csi_estimator_{u}").counters()
        s = getattr(tb, f"metrics_{u}").summary()
        users[str(u)] = {"bursts_sent": sent, "bursts_found": fs["bursts"],
                         "false_alarms_rejected": fs["rejected"],
                         "headers_ok": est["headers_ok"], "frames_missed": est["frames_missed"],
                         "images_in": s["counts"]["refs"], "results_out": s["counts"]["results"],
                         **{k: v for k, v in s["users"][str(u)].items()
                            if k != "task"}}  # fmt: skip
    pct = min(100.0 * users[u]["bursts_found"] / max(sent, 1) for u in users)
    sweep = {}
    for snr in SWEEP_SNR_DB:  # detection and headers below the 10 dB of the criterion
        t = run_ota_sim(n_images=30, snr_db=snr, cfo=0.001)
        n = max(t.pilots.counters()["bursts_out"], 1)
        sweep[str(snr)] = {
            "detected_pct": min(100.0 * getattr(t, f"frame_sync_{u}").counters()["bursts"] / n
                                for u in (0, 1)),
            "headers_ok_pct": min(100.0 * getattr(t, f"csi_estimator_{u}").counters()["headers_ok"]
                                  / n for u in (0, 1)),
            "false_alarms": sum(getattr(t, f"frame_sync_{u}").counters()["rejected"]
                                for u in (0, 1)),
        }  # fmt: skip
    sco = {}
    for ppm in SWEEP_SCO_PPM:  # sample clock offsets between the radios, 10 dB
        t = run_ota_sim(n_images=30, snr_db=SNR_DB, cfo=0.001, sco_ppm=ppm)
        n = max(t.pilots.counters()["bursts_out"], 1)
        du = t.metrics_0.summary()["users"].get("0", {})
        sco[str(ppm)] = {
            "detected_pct": min(100.0 * getattr(t, f"frame_sync_{u}").counters()["bursts"] / n
                                for u in (0, 1)),
            "headers_ok_pct": min(100.0 * getattr(t, f"csi_estimator_{u}").counters()["headers_ok"]
                                  / n for u in (0, 1)),
            "du_msssim": du.get("msssim"),
            "du_erased": du.get("erased"),
        }  # fmt: skip
    return {
        "ota_sim_frames_detected_pct": pct,
        "ota_sim_vs_snr": sweep,
        "ota_sim_vs_sco_ppm": sco,
        "ota_sim": {
            "snr_db": SNR_DB,
            "cfo_cycles_per_symbol": [0.001, 0.0015],
            "timing_offset_samples": [tb.delay_0, tb.delay_1],
            "samples_per_symbol": tb.sps,
            "multipath_taps": [1.0, f"{tb.echo}j"],
            "burst_samples": tb.pilots.layout().length,
            "burst_overhead": tb.pilots.layout().overhead(),
            "wall_s": tb.bench_wall_s,
            "users": users,
        },
    }


def csi_keys() -> dict:
    """``csi_mse_db`` measured per pilot length, with the theory and the planning loss."""
    from semdacom.mu_ascc.optimizer import fast
    from semdacom.phy import pilots

    measured, theory, lib, lib_theory, loss, loss_avg, loss_fg = {}, {}, {}, {}, {}, {}, {}
    for n_p in N_PILOTS:
        total = 3 * n_p
        key = str(total)
        tb = run_ota_sim(n_images=60, snr_db=SNR_DB, cfo=0.001, n_pilots=n_p)
        mse, th = [], []
        for u in (0, 1):
            est = getattr(tb, f"csi_estimator_{u}").estimates()
            mse += [pilots.aligned_mse(e["h"], tb.H[u]) for e in est]
            th.append(pilots.aligned_mse_theory(tb.noise_var[u], total, tb.p_pilot, 2))
        measured[key] = _db(float(np.mean(mse)))
        theory[key] = _db(float(np.mean(th)))
        # plain LS at the library level (no carrier phase): sigma^2 / (N_p p), same SNR
        nv = float(np.mean(tb.noise_var))
        mc = pilots.monte_carlo_mse(2, total, tb.p_pilot, nv, trials=3000, seed=n_p)
        lib[key], lib_theory[key] = _db(mc["mse"]), _db(mc["theory"])
        loss[key] = planning_loss(total)
        loss_avg[key] = planning_loss(total, average=tb.csi_average)
        a = tb.optimizer.last_allocation()
        true = _problem(tb.H, tb.noise_var, tb.link)
        best = fast.solve_fast(true)
        if a is not None and a.rs_bits is not None:
            sinr = true.sinr(a.power, a.w)
            loss_fg[key] = float(true.objective(a.rs_bits, sinr) - best.objective)
    return {
        "csi_mse_db": measured,
        "csi_mse_theory_db": theory,
        "csi_mse_library_db": lib,
        "csi_mse_ls_theory_db": lib_theory,
        "csi_planning_loss": loss,
        "csi_planning_loss_averaged": loss_avg,
        "csi_planning_loss_flowgraph": loss_fg,
        "csi_note": "keys: pilot samples per antenna per burst (3 blocks of N_p); flowgraph "
        "MSE after the best common phase per user (CFO leaves the carrier phase unknown), "
        "theory (1 - 1/(2 N_t)) sigma^2/(3 N_p p); library: plain LS, theory sigma^2/(N_p p); "
        "planning loss: optimiser objective on the true channel, estimated-CSI allocation "
        "minus perfect-CSI allocation (library: one burst's estimate, or the mean of "
        "csi_average bursts as csi_combiner in the flowgraph; flowgraph: its last allocation)",
    }


def main() -> None:
    out: dict = {}
    for group in (loopback_keys, ota_keys, csi_keys):
        t0 = time.monotonic()
        out.update(group())
        print(f"e2e: {group.__name__} in {time.monotonic() - t0:.1f} s")
    path = write("e2e", out)
    report_loopback(out)
    print(f"ota_sim_frames_detected_pct = {out['ota_sim_frames_detected_pct']:.1f}")
    for snr, r in out["ota_sim_vs_snr"].items():
        det, hdr = r["detected_pct"], r["headers_ok_pct"]
        print(f"  {snr:>5} dB: detected {det:5.1f} %, headers {hdr:5.1f} %")
    for ppm, r in out["ota_sim_vs_sco_ppm"].items():
        det, hdr, q = r["detected_pct"], r["headers_ok_pct"], r["du_msssim"]
        print(f"  {ppm:>5} ppm: detected {det:5.1f} %, headers {hdr:5.1f} %, DU MS-SSIM {q:.3f}")
    for k in out["csi_mse_db"]:
        print(f"pilots {k:>3}: CSI MSE {out['csi_mse_db'][k]:6.2f} dB "
              f"(theory {out['csi_mse_theory_db'][k]:6.2f} dB; library LS "
              f"{out['csi_mse_library_db'][k]:6.2f} vs {out['csi_mse_ls_theory_db'][k]:6.2f} dB), "
              f"planning loss {out['csi_planning_loss'][k]['mean_loss']:.4f} "
              f"(averaged {out['csi_planning_loss_averaged'][k]['mean_loss']:.4f})")  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
