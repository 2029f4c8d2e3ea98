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

- :func:`ota_impairments_keys`: ``ota_impairments`` -- examples/mu_ascc_ota_sim.grc under one
  impairment per point (issue 21's list: CFO +-0.01 cycles/symbol, three-tap echoes, a 0.25
  echo one sample late, 100 ppm clock offset, 10 Hz phase noise at 2 MS/s, DC -10 dB, IQ
  1 dB / 5 deg, Rayleigh fading fD*Ts 1e-5) beside the AWGN reference, ``seeds`` channel seeds
  of ``images`` images each: bursts found, headers read, images in / results out, erasures,
  the data user's MS-SSIM and the semantic user's accuracy; and the base station's sample
  levels (peak, RMS, samples above digital full scale). Run alone with
  ``make bench ARGS=ota_impairments`` or ``python bench/e2e.py --only ota_impairments``;
  plotted in bench/results/ota_impairments.png.
- :func:`_devices.devices_keys`: ``learned_images_per_s`` -- the learned codec, semantic decoder
  and SC-SFMA transceiver at a batch of 256 on the CPU and, where there is one, the GPU, in one
  run (see that module).
- :func:`_e2e_loopback.loopback_keys`: ``loopback_images_per_s``, ``loopback_channel_msps``,
  ``measured_vs_predicted_distortion`` and where the loop's time goes (see that module).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _devices import devices_keys
from _e2e_loopback import loopback_keys
from _e2e_loopback import report as report_loopback
from common import RESULTS, machine, write

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
        lambda: sum(getattr(tb, f"metrics_{u}").counters()["results"] for u in (0, 1)),
        2 * n_images,
        lambda: tb.pilots.counters()["bursts_out"] >= n_images + _beacons(tb),
    )
    tb.bench_wall_s = run_until(tb, done, timeout_s, poll_s=0.05, settle_s=0.3)
    return tb


def _beacons(tb) -> int:
    """Beacons the base station sent before its first allocation (initial access)."""
    return int(tb.channel_encoder_0.counters()["beacons"])


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
    tb = run_ota_sim(snr_db=SNR_DB)
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
        t = run_ota_sim(n_images=30, snr_db=snr)
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
        t = run_ota_sim(n_images=30, snr_db=SNR_DB, sco_ppm=ppm)
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
            "cfo_cycles_per_symbol": [tb.cfo_0, tb.cfo_1],
            "timing_offset_samples": [tb.delay_0, tb.delay_1],
            "samples_per_symbol": tb.sps,
            "multipath_taps": [str(t) for t in tb.taps_0],
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
        tb = run_ota_sim(n_images=60, snr_db=SNR_DB, n_pilots=n_p)
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


#: The points of ``ota_impairments`` (issue 21, Must show): keyword arguments of
#: examples/mu_ascc_ota_sim.grc on top of :data:`IMPAIRMENT_BASE` (the AWGN reference: no CFO,
#: one tap, no clock offset; a frame every 40 ms so that a loaded machine delays the first
#: allocation less). Taps are sample-spaced (2 samples per symbol) and normalised to
#: unit energy by the flowgraph, so every point has the same pilot SNR.
IMPAIRMENT_BASE = {"snr_db": SNR_DB, "period_ms": 40, "cfo_0": 0.0, "cfo_1": 0.0, "taps_0": [1.0],
                   "taps_1": [1.0]}  # fmt: skip
IMPAIRMENT_POINTS = {
    "awgn": {},
    # the AWGN reference without the simulated DAC clip and PA model (every other row has them)
    "awgn_no_clip_no_pa": {"pa_clip": "off", "pa_p": 0.0},
    "cfo_+0.01/-0.01": {"cfo_0": 0.01, "cfo_1": -0.01},
    "cfo_-0.01/+0.01": {"cfo_0": -0.01, "cfo_1": 0.01},
    # the example's former echo parameter at 0.25 (taps [1, 0.25j], one sample: half a symbol)
    "echo_0.25j_1sample": {"taps_0": [1.0, 0.25j], "taps_1": [1.0, 0.25j]},
    # three taps within 4 symbols (8 samples), echoes at half the main tap
    "3tap_0.5_within_4sym": {"taps_0": [1.0, 0, 0, 0.5j, 0, 0, 0, 0, -0.5],
                             "taps_1": [1.0, 0, 0.5, 0, 0, 0, -0.5j]},
    # a weaker first tap: the strongest path arrives 1 symbol after a precursor of half its size
    "3tap_weak_first": {"taps_0": [0.5, 0, 1.0, 0, 0, 0, 0.3j],
                        "taps_1": [0.5j, 0, 1.0, 0, 0, 0, 0, 0, 0.3]},
    "sco_100ppm": {"sco_ppm": 100.0},
    "phase_noise_10Hz_at_2MSps": {"pn_hz": 10.0, "samp_rate": 2e6},
    "dc_-10dB": {"dc_db": -10.0},
    "iq_1dB_5deg": {"iq_db": 1.0, "iq_deg": 5.0},
    "rayleigh_fdts_1e-5": {"fd_ts": 1e-5},
}  # fmt: skip
IMPAIRMENT_SEEDS = 3
IMPAIRMENT_IMAGES = 60


class _LevelProbe:
    """Peak, RMS and samples above digital full scale of the base station's antenna streams
    as a UHD sink would be handed them: the outputs of ``tx_level`` (watts mapped to full
    scale, issue 21 Build 5) where the flowgraph has one, else the shaped samples in watts.
    Full scale per I/Q rail (UHD's sc16 conversion saturates |I| or |Q| > 1); the envelope
    beside it. Vector sinks per antenna, connected before the flowgraph starts."""

    def __init__(self, tb) -> None:
        from gnuradio import blocks

        self.sinks = [blocks.vector_sink_c() for _ in (0, 1)]
        self.scaled = getattr(tb, "tx_level", None) is not None
        for a, snk in enumerate(self.sinks):
            src = (tb.tx_level, a) if self.scaled else (getattr(tb, f"shaping_{a}"), 0)
            tb.connect(src, snk)

    def levels(self) -> dict:
        x = np.concatenate([np.asarray(s.data()) for s in self.sinks])
        x = x[x != 0] if x.size else np.zeros(1, complex)
        mag = np.abs(x)
        rail = np.maximum(np.abs(x.real), np.abs(x.imag))
        rms = float(np.sqrt(np.mean(mag**2)))
        return {"where": "tx_level output" if self.scaled else "shaping output (watts)",
                "peak": float(mag.max()), "rail_peak": float(rail.max()), "rms": rms,
                "papr_db": _db(float(mag.max()) ** 2 / rms**2) if rms > 0 else None,
                "above_full_scale": int(np.count_nonzero(rail > 1.0)),
                "envelope_above_1": int(np.count_nonzero(mag > 1.0)),
                "samples": int(mag.size)}  # fmt: skip


def _tx_counters(tb) -> dict | None:
    """The counters of the base station's ``tx_level`` and simulated ``pa`` (issue 21, Build
    5), where the flowgraph has them."""
    out = {}
    for name in ("tx_level", "pa"):
        blk = getattr(tb, name, None)
        if blk is not None and hasattr(blk, "counters"):
            out[name] = {k: v for k, v in blk.counters().items() if isinstance(v, int | float)}
    return out or None


def _impairment_run(point: dict, n_images: int, seed: int) -> dict:
    """One run of the flowgraph at one point and seed: per user what was found, read,
    delivered and erased."""
    from gnuradio import blocks

    from semdacom.cli.examples import UntilIdle, free_port_base, run_until

    kw = {**IMPAIRMENT_BASE, **point}
    tb = _ota_module().mu_ascc_ota_sim(n_images=n_images, zmq_port=free_port_base(), seed=seed,
                                       **kw)  # fmt: skip
    probe = _LevelProbe(tb)
    dbg = [blocks.message_debug() for _ in (0, 1)]
    for u in (0, 1):
        tb.msg_connect((getattr(tb, f"channel_decoder_{u}"), "pdus"), (dbg[u], "store"))

    def finished() -> int:
        c = [getattr(tb, f"metrics_{u}").summary()["counts"] for u in (0, 1)]
        return sum(x["results"] + x["malformed"] for x in c)

    # idle 20 s: on a loaded machine the receivers trail the base station by many seconds
    sent = lambda: tb.pilots.counters()["bursts_out"] >= n_images + _beacons(tb)  # noqa: E731
    done = UntilIdle(finished, 2 * n_images, sent, idle_s=20.0)
    t0 = time.monotonic()
    run_until(tb, done, 120.0 + n_images, poll_s=0.05, settle_s=0.3)
    sent = tb.pilots.counters()["bursts_out"]
    beacons = _beacons(tb)
    users = {}
    for u in (0, 1):
        from gnuradio.semdacom import messages

        fs = getattr(tb, f"frame_sync_{u}").counters()
        est = getattr(tb, f"csi_estimator_{u}").counters()
        dec = getattr(tb, f"channel_decoder_{u}").counters()
        s = getattr(tb, f"metrics_{u}").summary()
        q = s["users"].get(str(u), {})
        metas = [messages.unpack_bits_pdu(dbg[u].get_message(i))[0]
                 for i in range(dbg[u].num_messages())]  # fmt: skip
        users[str(u)] = {
            "bursts_found": fs["bursts"], "false_alarms_rejected": fs["rejected"],
            "headers_ok": est["headers_ok"], "header_failed": est["header_failed"],
            "frames_missed": est["frames_missed"], "no_frame_for_user": est["no_frame_for_user"],
            "header_failed_unplaced": est["header_failed_unplaced"],
            "images_in": s["counts"]["refs"], "results_out": s["counts"]["results"],
            "malformed": s["counts"]["malformed"],
            "erasures": q.get("erased", 0), "decoder_pdus": len(metas),
            "decoder_pdus_erased": sum(1 for m in metas if m.get("erased")),
            "decoder_codewords": dec.get("codewords", 0),
            "decoder_codewords_lost": dec.get("codewords_lost", 0),
            **{k: q[k] for k in ("msssim", "accuracy", "codewords", "codewords_lost", "partial",
                                 "missing", "frames_missing") if k in q},
            "decoder": {k: v for k, v in dec.items() if isinstance(v, int | float)},
        }  # fmt: skip
    return {"bursts_sent": sent, "beacons": beacons, "users": users, "levels": probe.levels(),
            "tx": _tx_counters(tb), "wall_s": time.monotonic() - t0}  # fmt: skip


def _impairment_row(runs: list[dict]) -> dict:
    """The ``ota_impairments`` row of one point: counts summed over seeds and users, the
    image metrics averaged over seeds (their spread beside them)."""
    sent = sum(r["bursts_sent"] for r in runs)
    us = [r["users"][u] for r in runs for u in ("0", "1")]

    def per_user(key):
        return [sum(r["users"][u].get(key, 0) for r in runs) for u in ("0", "1")]

    du = [r["users"]["0"].get("msssim") for r in runs]
    su = [r["users"]["1"].get("accuracy") for r in runs]
    du = [x for x in du if x is not None]
    su = [x for x in su if x is not None]
    found = per_user("bursts_found")
    return {
        "bursts_found": found,
        "bursts_sent": sent,
        "beacons": sum(r["beacons"] for r in runs),
        "headers_ok_pct": min(100.0 * h / max(sent, 1) for h in per_user("headers_ok")),
        "images_in": sum(x["images_in"] for x in us),
        "results_out": sum(x["results_out"] for x in us),
        "erasures": sum(x["erasures"] for x in us),
        "du_msssim": float(np.mean(du)) if du else None,
        "su_accuracy": float(np.mean(su)) if su else None,
        "du_msssim_per_seed": du,
        "su_accuracy_per_seed": su,
        "per_user": {u: {k: sum(r["users"][u].get(k, 0) for r in runs)
                         for k in ("headers_ok", "header_failed", "frames_missed", "images_in",
                                   "no_frame_for_user", "header_failed_unplaced",
                                   "results_out", "malformed", "erasures", "codewords",
                                   "codewords_lost", "decoder_pdus", "decoder_pdus_erased",
                                   "decoder_codewords", "decoder_codewords_lost",
                                   "false_alarms_rejected")}
                     for u in ("0", "1")},
        "wall_s": sum(r["wall_s"] for r in runs),
    }  # fmt: skip


def _jsonable(x):
    """Point parameters for JSON: complex taps as strings (``"0.5j"``)."""
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return str(x) if isinstance(x, complex) else x


def ota_impairments_keys(
    seeds: int = IMPAIRMENT_SEEDS,
    images: int = IMPAIRMENT_IMAGES,
    points: list[str] | None = None,
    progress: bool = True,
) -> dict:
    """``ota_impairments``: ``{point: row}``, one row per point of :data:`IMPAIRMENT_POINTS`
    (issue 21, Must show), each over ``seeds`` channel seeds of ``images`` images; their
    conditions in ``ota_impairments_conditions`` and the base station's sample levels at the
    defaults (peak, RMS, samples above full scale) in ``ota_bs_levels``."""
    names = points or list(IMPAIRMENT_POINTS)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(names) * seeds, desc="ota_impairments runs", unit="run")
    rows, levels, tx = {}, [], []
    for name in names:
        runs = []
        for seed in range(1, seeds + 1):
            runs.append(_impairment_run(IMPAIRMENT_POINTS[name], images, seed))
            if bar is not None:
                bar.set_postfix_str(name)
                bar.update(1)
        rows[name] = _impairment_row(runs)
        levels += [r["levels"] for r in runs]
        tx += [r["tx"] for r in runs if r["tx"] is not None]
    if bar is not None:
        bar.close()
    tot = {k: sum(t[b][k] for t in tx for b in t if k in t[b])
           for k in ("clipped", "samples_in", "nonfinite")}  # fmt: skip
    bs = {"where": levels[0]["where"],
          "peak": max(x["peak"] for x in levels),
          "rail_peak": max(x["rail_peak"] for x in levels),
          "rms": float(np.sqrt(np.mean([x["rms"] ** 2 for x in levels]))),
          "above_full_scale": sum(x["above_full_scale"] for x in levels),
          "envelope_above_1": sum(x["envelope_above_1"] for x in levels),
          "samples": sum(x["samples"] for x in levels),
          "tx_level_clipped": tot["clipped"] if tx else None,
          "counters_last_run": tx[-1] if tx else None,
          "note": "the antenna samples a UHD sink would be handed (tx_level's outputs), all "
                  "runs, guard zeros left out; full scale per I/Q rail (|I|, |Q| <= 1); "
                  "tx_level_clipped: tx_level's own count, all runs"}  # fmt: skip
    bs["above_full_scale_pct"] = 100.0 * bs["above_full_scale"] / max(bs["samples"], 1)
    bs["peak_dbfs"], bs["rms_dbfs"] = _db(bs["peak"] ** 2), _db(bs["rms"] ** 2)
    return {
        "ota_impairments": rows,
        "ota_impairments_conditions": {"snr_db": SNR_DB, "seeds": seeds, "images_per_run": images,
                       "samples_per_symbol": 2, "base": _jsonable(IMPAIRMENT_BASE),
                       "points": {n: _jsonable(IMPAIRMENT_POINTS[n]) for n in names},
                       "note": "counts summed over seeds and both users; du_msssim and "
                               "su_accuracy are means over seeds; taps sample-spaced and "
                               "normalised to unit energy; CFO in cycles/symbol; fd_ts per "
                               "sample; bursts_sent includes the beacons of initial access "
                               "(sent before the first allocation, no data; per_user "
                               "no_frame_for_user counts those read)"},
        "ota_bs_levels": bs,
    }  # fmt: skip


def plot_impairments(res: dict, path: Path) -> None:
    """bench/results/ota_impairments.png: per point the data user's MS-SSIM, the semantic
    user's accuracy and the share of headers read, the AWGN reference as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = res["points"]
    names = list(rows)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(10, 5))
    w = 0.27
    du = [rows[n]["du_msssim"] or 0.0 for n in names]
    su = [rows[n]["su_accuracy"] or 0.0 for n in names]
    hd = [rows[n]["headers_ok_pct"] / 100.0 for n in names]
    ax.bar(x - w, du, w, label="data user MS-SSIM")
    ax.bar(x, su, w, label="semantic user accuracy")
    ax.bar(x + w, hd, w, label="headers read (worse user)")
    if "awgn" in rows and rows["awgn"]["du_msssim"] is not None:
        ref = rows["awgn"]["du_msssim"]
        ax.axhline(ref, color="C0", ls="--", lw=0.8)
        ax.axhline(ref - 0.05, color="C0", ls=":", lw=0.8, label="AWGN MS-SSIM - 0.05")
    for i, n in enumerate(names):
        r = rows[n]
        ax.text(i, 1.02, f"{r['results_out']}/{r['images_in']}\n{r['erasures']} er.",
                ha="center", fontsize=7)  # fmt: skip
    c = res["conditions"]
    ax.set_title(f"mu_ascc_ota_sim under impairments, {c['snr_db']:g} dB pilot SNR, "
                 f"{c['seeds']} seeds x {c['images_per_run']} images (results/images, erasures)",
                 fontsize=9)  # fmt: skip
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.15)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report_impairments(res: dict) -> None:
    print(f"{'point':28s} {'found':>9s} {'hdr %':>6s} {'in':>4s} {'out':>4s} {'eras':>4s} "
          f"{'DU MS-SSIM':>10s} {'SU acc':>6s}")  # fmt: skip
    for n, r in res["points"].items():
        q = "-" if r["du_msssim"] is None else f"{r['du_msssim']:.3f}"
        a = "-" if r["su_accuracy"] is None else f"{r['su_accuracy']:.3f}"
        f = "/".join(str(v) for v in r["bursts_found"])
        print(f"{n:28s} {f:>9s} {r['headers_ok_pct']:6.1f} {r['images_in']:4d} "
              f"{r['results_out']:4d} {r['erasures']:4d} {q:>10s} {a:>6s}")  # fmt: skip
    b = res["bs_levels"]
    print(f"BS levels ({b['where']}): peak {b['peak']:.3f} ({b['peak_dbfs']:.1f} dBFS), RMS "
          f"{b['rms']:.3f} ({b['rms_dbfs']:.1f} dBFS), samples beyond full scale "
          f"{b['above_full_scale']} ({b['above_full_scale_pct']:.1f} %), tx_level clipped "
          f"{b['tx_level_clipped']}")  # fmt: skip


GROUPS = {"loopback": loopback_keys, "ota": ota_keys, "csi": csi_keys, "devices": devices_keys}


def merge_write(new: dict, groups: list[str]) -> Path:
    """bench/results/e2e.json with the keys of ``new`` replaced and every other key kept (each
    group can be rerun alone). ``machine_by_group`` says which machine measured each group,
    ``groups`` (those rerun) this one; the top-level ``machine`` is that of the last write.
    A file from before ``machine_by_group`` gives its one ``machine`` to every group it
    holds."""
    path = RESULTS / "e2e.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    was = old.pop("machine", None)
    by_group = dict(old.pop("machine_by_group", None) or {})
    if was is not None and not by_group:
        keys = {**_GROUP_KEY, "ota_impairments": "ota_impairments"}
        by_group = {g: was for g, key in keys.items() if key in old}
    for g in groups:
        by_group[g] = machine()
    return write("e2e", {**old, **new, "machine_by_group": by_group})


#: a key that only its group writes (to tell which groups an old file holds)
_GROUP_KEY = {"loopback": "loopback_channel_msps", "ota": "ota_sim_frames_detected_pct",
              "csi": "csi_mse_db", "devices": "learned_images_per_s"}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="bench/results/e2e.json")
    ap.add_argument("--only", default=",".join(GROUPS),
                    help=f"comma-separated groups of {', '.join([*GROUPS, 'ota_impairments'])} "
                    "(default: all but ota_impairments, which `make bench` runs as its own "
                    "module, bench/ota_impairments.py)")  # fmt: skip
    ap.add_argument("--seeds", type=int, default=IMPAIRMENT_SEEDS)
    ap.add_argument("--images", type=int, default=IMPAIRMENT_IMAGES)
    ap.add_argument("--points", default="", help="comma-separated ota_impairments points")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args([] if argv is None else argv)
    only = [g for g in a.only.split(",") if g]
    out: dict = {}
    for name in only:
        t0 = time.monotonic()
        if name == "ota_impairments":
            pts = [p for p in a.points.split(",") if p] or None
            res = ota_impairments_keys(a.seeds, a.images, pts, not a.no_progress)
            out.update(res)
            view = {"points": res["ota_impairments"],
                    "conditions": res["ota_impairments_conditions"],
                    "bs_levels": res["ota_bs_levels"]}  # fmt: skip
            plot_impairments(view, RESULTS / "ota_impairments.png")
            report_impairments(view)
        else:
            out.update(GROUPS[name]())
        print(f"e2e: {name} in {time.monotonic() - t0:.1f} s")
    path = merge_write(out, only)
    if "loopback" in only:
        report_loopback(out)
    if "ota" in only:
        print(f"ota_sim_frames_detected_pct = {out['ota_sim_frames_detected_pct']:.1f}")
        for snr, r in out["ota_sim_vs_snr"].items():
            det, hdr = r["detected_pct"], r["headers_ok_pct"]
            print(f"  {snr:>5} dB: detected {det:5.1f} %, headers {hdr:5.1f} %")
        for ppm, r in out["ota_sim_vs_sco_ppm"].items():
            det, hdr, q = r["detected_pct"], r["headers_ok_pct"], r["du_msssim"]
            print(
                f"  {ppm:>5} ppm: detected {det:5.1f} %, headers {hdr:5.1f} %, DU MS-SSIM {q:.3f}"
            )
    if "devices" in only:
        for dev, rates in out["learned_images_per_s"].items():
            name = out["learned_devices"][dev]
            print(f"  {dev} ({name}): " + ", ".join(f"{k} {v:.0f}/s" for k, v in rates.items()))
        if "cuda" not in out["learned_images_per_s"]:
            print(f"  cuda: {out['learned_devices']['cuda']}")
    if "csi" in only:
        for k in out["csi_mse_db"]:
            mse, th = out["csi_mse_db"][k], out["csi_mse_theory_db"][k]
            lib, lth = out["csi_mse_library_db"][k], out["csi_mse_ls_theory_db"][k]
            loss = out["csi_planning_loss"][k]["mean_loss"]
            avg = out["csi_planning_loss_averaged"][k]["mean_loss"]
            print(
                f"pilots {k:>3}: CSI MSE {mse:6.2f} dB (theory {th:6.2f} dB; library LS "
                f"{lib:6.2f} vs {lth:6.2f} dB), planning loss {loss:.4f} (averaged {avg:.4f})"
            )
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
