"""The MU-ASCC closed loop's keys of bench/results/e2e.json (bench/e2e.py merges them).

- ``loopback_images_per_s``: images (both users) through examples/mu_ascc_loopback.grc per
  second of wall time, from ``start()`` to the last result (credit-paced: the loop runs as fast
  as the chain allows), default settings (paper channel, L = 256, physical link);
- ``loopback_channel_msps``: channel symbols per second per user through the whole chain
  (frames x slot symbols / wall), next to the issue's 1.0 target;
- ``measured_vs_predicted_distortion``: ``{P_max dBW: [measured, predicted]}`` weighted-sum
  distortion (flowgraph vs the optimiser's tables) at a few powers;
- ``measured_vs_best_baseline``: ``{P_max dBW: [MU-ASCC measured, best baseline]}``, the
  flowgraph's weighted distortion next to the best of ZF-WF-BPG, ZF-WF-DJSCC and MRT-EP at the
  same P_max (``semdacom demo-mu-ascc``'s baselines: the sweep's solvers on the measured tables
  and the same link); ``measured_vs_best_baseline_solver`` names that baseline;
  ``measured_vs_mrt_ep_measured``: ``{P_max dBW: [MU-ASCC measured, MRT-EP measured]}``, MRT-EP
  run through the same flowgraph on the same images (the optimiser block's ``mrt_ep`` solver);
- ``loopback_time_per_image_ms``: where the time goes — the library calls each block makes per
  image, timed alone on this machine (one image at a time, and in a batch of 64 for the codec);
- issue 23, side by side in one run (:func:`throughput`, ``THROUGHPUT_IMAGES`` images per user
  at 2 dBW, static paper channel): ``loopback_channel_msps`` at the flowgraph's default images
  in flight (``semdacom.cli.demo_mu_ascc.PREFILL``, bursts of half as many coded as batches)
  and ``loopback_channel_msps_one_in_flight`` (prefill 1); ``loopback_latency_ms``
  ``{p50, p99}``, image_source to metrics_sink per image; ``loopback_cpu_ms_per_frame``
  (the process's CPU time per frame, both users) and ``loopback_overhead_share``, the share of
  that CPU time outside the library's own batched calls (1 - batched library ms / CPU ms);
  ``loopback_ldpc_channel_msps``: the same at the default images in flight with
  ``link = tabulated_mcs`` (real LDPC + QAM frames through the channel, ``LDPC_IMAGES`` per user).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
POWERS_DBW = (-6.0, -2.0, 2.0, 6.0)
IMAGES = 100
#: images per user of each throughput run (issue 23)
THROUGHPUT_IMAGES = 1000
#: images per user of the LDPC + QAM throughput run (link = tabulated_mcs)
LDPC_IMAGES = 300


def throughput(
    mod,
    prefill: int,
    images: int = THROUGHPUT_IMAGES,
    p_dbw: float = 2.0,
    link: str = "physical",
) -> dict:
    """The closed loop at ``prefill`` images in flight per user (``demo_mu_ascc.in_flight``):
    wall and CPU time per frame and each image's latency from image_source to metrics_sink.
    ``link``: the flowgraph's ``link`` (``tabulated_mcs``: real LDPC + QAM frames through the
    channel instead of the finite-blocklength emulation)."""
    import time

    import pmt
    from gnuradio import gr
    from gnuradio.semdacom import messages

    from semdacom.cli.demo_mu_ascc import in_flight
    from semdacom.cli.examples import run_until

    class _Clock(gr.basic_block):
        """When each image left its source and when its result was taken (by user, id)."""

        def __init__(self) -> None:
            gr.basic_block.__init__(self, name="latency_clock", in_sig=None, out_sig=None)
            self.sent: dict = {}
            self.done: dict = {}
            for port in ("sent", "done"):
                self.message_port_register_in(pmt.intern(port))
            self.set_msg_handler(pmt.intern("sent"), self._on_sent)
            self.set_msg_handler(pmt.intern("done"), self._on_done)

        def _on_sent(self, msg) -> None:
            meta = messages.meta_from_pmt(pmt.car(msg))
            self.sent[(int(meta["user"]), int(meta["image_id"]))] = time.monotonic()

        def _on_done(self, msg) -> None:
            meta = messages.meta_from_pmt(msg)
            if "image_id" in meta:
                self.done[(int(meta["user"]), int(meta["image_id"]))] = time.monotonic()

    tb = mod.mu_ascc_loopback(p_max_dbw=p_dbw, n_images=images, link=link, **in_flight(prefill))
    clock = _Clock()
    for src in (tb.image_source_0, tb.image_source_1):
        tb.msg_connect((src, "pdus"), (clock, "sent"))
    tb.msg_connect((tb.metrics, "done"), (clock, "done"))
    cpu0 = time.process_time()
    wall = run_until(tb, lambda: tb.metrics.counters()["results"] >= 2 * images, 120.0 + images)
    cpu = time.process_time() - cpu0
    lat = np.array([1e3 * (t - clock.sent[k]) for k, t in clock.done.items() if k in clock.sent])
    return {
        "prefill": prefill,
        "link": link,
        "images_per_user": images,
        "wall_s": wall,
        "wall_ms_per_frame": 1e3 * wall / images,
        "cpu_ms_per_frame": 1e3 * cpu / images,
        "msps": images * int(tb.slot) / wall / 1e6,
        "latency_ms": {"p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99))},
        "summary": tb.metrics.summary()["counts"],
    }


def _module():
    from semdacom.cli.examples import compile_example, load_flowgraph_module

    py = compile_example(ROOT / "examples" / "mu_ascc_loopback.grc", ROOT / "out" / "bench_fg")
    return load_flowgraph_module(py)


def _stage_times() -> dict:
    """Per-image cost of each stage's library call (ms), single and batched."""
    from semdacom.data.datasets import load_fashion_mnist
    from semdacom.phy import fbl_emulation
    from semdacom.source_coding.codec import shared_codec

    x, _ = load_fashion_mnist("test")
    codec = shared_codec(None, semantic=False)
    sem = shared_codec(None, semantic=True)
    r = codec.low_rate_levels + 4  # the hyperprior's point 4 (about 650 bits)
    one = x[:1, None]  # (N, 1, 28, 28) as the blocks call it
    batch = x[:64, None]

    from common import best_time

    def per(fn, n: int, reps: int = 5) -> float:
        """Best time of one call (of ``reps`` rounds), per image, in ms: the machine is shared,
        the best round is the cost without the neighbours' load."""
        return 1e3 * best_time(fn, repeats=reps, min_time=0.1) / n

    s1 = codec.encode(one, r)
    sb = codec.encode(batch, r)
    bits = np.unpackbits(np.frombuffer(s1[0], np.uint8))
    rng = np.random.default_rng(0)
    return {
        "source_encode_1": per(lambda: codec.encode(one, r), 1),
        "source_encode_batch64": per(lambda: codec.encode(batch, r), 64),
        "source_decode_1": per(lambda: codec.decode(s1, r), 1),
        "source_decode_batch64": per(lambda: codec.decode(sb, r), 64),
        "semantic_decode_1": per(lambda: sem.classify(s1, r), 1),
        "semantic_decode_batch64": per(lambda: sem.classify(sb, r), 64),
        "fbl_emulation_1": per(
            lambda: fbl_emulation.emulate(bits, 10.0, 1.5, 256, "packet", rng), 1, 50
        ),
    }


def loopback_keys(images: int = IMAGES, powers=POWERS_DBW) -> dict:
    from semdacom.cli import demo_mu_ascc
    from semdacom.cli.demo_mu_ascc import PREFILL
    from semdacom.cli.sweep import load_tables

    mod = _module()
    args = argparse.Namespace(images=images, L=256, link="physical", prefill=PREFILL, out=None)
    runs, best, mrt = {}, {}, {}
    tables = load_tables()
    for p in powers:
        runs[p] = demo_mu_ascc._run_point(mod, p, args)
        mrt[p] = demo_mu_ascc._run_point(mod, p, args, solver="mrt_ep")["measured_weighted"]
        base = demo_mu_ascc._baselines(p, args, tables)
        others = {k: v for k, v in base.items() if k != "mu_ascc"}
        best[p] = min(others, key=others.get), float(min(others.values()))
    tb = mod.mu_ascc_loopback(n_images=1)
    slot = int(tb.slot)
    walls = [r["wall_s"] for r in runs.values()]
    wall = float(np.median(walls))
    stages = _stage_times()
    # one frame = both users' source encodes and fbl emulations, the DU's source decode and
    # the SU's semantic decode
    frame_ms = (
        2 * stages["source_encode_1"]
        + stages["source_decode_1"]
        + stages["semantic_decode_1"]
        + 2 * stages["fbl_emulation_1"]
    )
    frame_ms_batched = (
        2 * stages["source_encode_batch64"]
        + stages["source_decode_batch64"]
        + stages["semantic_decode_batch64"]
        + 2 * stages["fbl_emulation_1"]
    )
    many, one = throughput(mod, PREFILL), throughput(mod, 1)
    ldpc = throughput(mod, PREFILL, images=LDPC_IMAGES, link="tabulated_mcs")
    return {
        "loopback_images_per_s": 2 * THROUGHPUT_IMAGES / many["wall_s"],
        "loopback_channel_msps": many["msps"],
        "loopback_channel_msps_one_in_flight": one["msps"],
        "loopback_ldpc_channel_msps": ldpc["msps"],
        "loopback_ldpc_channel_msps_target": 0.5,
        "loopback_prefill": PREFILL,
        "loopback_latency_ms": many["latency_ms"],
        "loopback_latency_ms_one_in_flight": one["latency_ms"],
        "loopback_cpu_ms_per_frame": many["cpu_ms_per_frame"],
        "loopback_overhead_share": 1.0 - frame_ms_batched / many["cpu_ms_per_frame"],
        "loopback_throughput_runs": {"default": many, "one_in_flight": one, "ldpc": ldpc},
        "loopback_demo_wall_s_per_point": wall,
        "loopback_channel_msps_target": 1.0,
        "loopback_slot_symbols": slot,
        "loopback_wall_s": {f"{p:g}": r["wall_s"] for p, r in runs.items()},
        "loopback_images_per_user": images,
        "measured_vs_predicted_distortion": {
            f"{p:g}": [r["measured_weighted"], r["predicted_weighted"]] for p, r in runs.items()
        },
        "measured_vs_best_baseline": {
            f"{p:g}": [r["measured_weighted"], best[p][1]] for p, r in runs.items()
        },
        "measured_vs_best_baseline_solver": {f"{p:g}": best[p][0] for p in runs},
        "measured_vs_mrt_ep_measured": {
            f"{p:g}": [r["measured_weighted"], mrt[p]] for p, r in runs.items()
        },
        "loopback_time_per_image_ms": stages,
        "loopback_wall_ms_per_frame": many["wall_ms_per_frame"],
        "loopback_library_ms_per_frame_both_users": frame_ms,
        "loopback_library_ms_per_frame_batched64": frame_ms_batched,
        "loopback_note": (
            "throughput: THROUGHPUT_IMAGES images per user at 2 dBW, the flowgraph's default "
            "prefill (bursts of prefill/2 coded as batches) against prefill 1, one after the "
            "other in one run; overhead share: the process's CPU time per frame outside the "
            "library's batched calls (codec encode/decode/classify at batch 64, fbl emulation)"
        ),
    }


def report(out: dict) -> None:
    """Print the loopback keys of ``out``."""
    frame_ms = 1e3 * 2 / out["loopback_images_per_s"]
    print(
        f"loopback: {out['loopback_images_per_s']:.1f} images/s (both users), "
        f"{out['loopback_channel_msps']:.4f} Msps per user (target 1.0; one in flight "
        f"{out['loopback_channel_msps_one_in_flight']:.4f}), {frame_ms:.1f} ms per frame, "
        f"{out['loopback_cpu_ms_per_frame']:.1f} ms CPU vs "
        f"{out['loopback_library_ms_per_frame_batched64']:.1f} ms of batched library calls "
        f"(overhead share {out['loopback_overhead_share']:.2f}), latency p50/p99 "
        f"{out['loopback_latency_ms']['p50']:.0f}/{out['loopback_latency_ms']['p99']:.0f} ms"
    )
    for p, (m, q) in out["measured_vs_predicted_distortion"].items():
        b = out.get("measured_vs_best_baseline", {}).get(p, [None, float("nan")])[1]
        print(f"  P_max {p:>5} dBW: measured {m:.4f}  predicted {q:.4f}  best baseline {b:.4f}")
    for k, v in out["loopback_time_per_image_ms"].items():
        print(f"  {k:26s} {v:8.2f} ms/image")
