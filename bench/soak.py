"""`make soak`: the MU-ASCC closed loop for a long run, with the feedback cut and the optimiser
restarted, and the over-the-air split with its feedback cut and its base station restarted;
writes bench/results/soak.json and bench/results/soak.png.

Phase 1, ``mu_ascc_loopback`` (examples/mu_ascc_loopback.grc, Rayleigh block fading every
``--fading`` frames, so the optimiser changes the allocation every few frames): ``--images``
images per user through the example's end-to-end credit loop (each result the metrics sink
has scored, ``metrics_sink`` ``done``, triggers its user's next image; image sources that loop
over the test split, a :class:`~_soak_blocks.Limiter` of each user's ``done`` so that exactly N
enter). During the run,
driven by the number of results out:

- at 20 % the optimiser's CSI input is cut (a :class:`~_soak_blocks.Gate` between
  ``miso_channel.csi`` and the optimiser drops every CSI; the channel decoders keep theirs),
  at 30 % it is restored;
- at 60 % the optimiser is replaced: a second ``mu_ascc_optimizer`` (same parameters, never
  fed until then, so its ``seq`` starts at 1 like a restarted base station's) gets the CSI and
  its ``alloc`` reaches every block, while the first one's CSI and ``alloc`` gates close.

Phase 2, ``mu_ascc_ota_sim`` (ZMQ between the base station and the users): ``--ota-images``
images; at 25 % the ZMQ feedback (users' CSI reports, after the ZMQ subscriber) is cut, at
45 % restored; at 65 % the base station's control side is restarted: a new ``csi_combiner``
and ``mu_ascc_optimizer`` pair takes over (gates as above). The base station's stream blocks
(encoders, beamformer, pilot inserter) cannot be restarted inside one running GNU Radio
top block: they keep running (a restart of the whole BS process is not emulated).

bench/results/soak.json: ``images_per_user``; ``lost`` (images in - results out, both phases;
over the air less the bursts frame_sync never found, ``ota_sim.missed_on_air``);
``thread_deaths`` (threads of the process seen 2 s after a phase started and gone before its
stop, names in ``*.threads_ended``); ``hangs`` (phases with no result for ``--stall-s``
seconds before the end); ``rss_growth_pct`` (mean RSS of the samples in the last tenth of the
loopback's images vs the first tenth; RSS and threads sampled every ``--sample-s`` s);
``latency_ms`` (p50/p90/p99/max of each frame's image entering the source encoder -> its
result leaving the decoder; per user and per tenth in ``loopback``); ``events`` (each cut,
restore and restart: images, frame, seconds, messages dropped). For every frame the allocation
``seq`` each block made it with (``src_alloc_seq``, ``enc_alloc_seq``, ``dec_alloc_seq``, the
beamformer's ``frame_log``) is compared with the allocation in force (the last one delivered
whose ``apply_frame`` <= the frame; from the new instance's first ``apply_frame`` on, the new
instance's), per window: ``frames_in_force.<window>.mismatched_by_block``.
``after_feedback_restored_all_in_force``: in both phases every frame after the restore was
decoded by the channel decoder (and, in the loopback, sent by the beamformer) with the
allocation in force. ``restarted_optimizer_applied``: the same for the new optimiser from its
first ``apply_frame`` + the lead, and no frame two leads later made with the old optimiser's
allocation by any block (``ota_sim.restarted_bs_applied``: the over-the-air counterpart, at
least 90 % in force since ZMQ runs in real time). The encoders' frames coded with an
allocation that arrived after its ``apply_frame`` are counted, not hidden.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

RESULTS = ROOT / "bench" / "results"
CMD_LOOPBACK = ("beamformer", "channel_decoder_0", "channel_decoder_1", "channel_encoder_0",
                "channel_encoder_1", "semantic_decoder_1", "source_decoder_0",
                "source_encoder_0", "source_encoder_1")  # fmt: skip
#: The base station's frame period over the air (ms). Its image sources are timer-paced (a
#: radio sends at its own rate); the example's 20 ms is faster than this 2-core machine's user
#: receivers (two users, ~11 bursts/s each while the BS runs in the same process): at 20 ms the
#: users trailed the BS by 400 frames (24 s), so every allocation solved on their CSI was for
#: frames the BS had sent long before, and "the allocation in force" meant nothing. 150 ms is
#: a rate the receivers sustain (a trial picks its frame rate the same way).
OTA_PERIOD_MS = 150
#: Room for the beacons of initial access in the beamformer's frame log of the over-the-air
#: phase (a few tens at the example's feedback delay).
MAX_BEACONS = 4096
CMD_OTA_BS = ("beamformer", "channel_encoder_0", "channel_encoder_1", "source_encoder_0",
              "source_encoder_1")  # fmt: skip


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def threads() -> dict[int, str]:
    """{tid: name} of this process's threads."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                out[int(tid)] = f.read().strip()
        except OSError:
            pass
    return out


def compiled(name: str, out_dir: Path):
    from semdacom.cli.examples import compile_example, load_flowgraph_module

    return load_flowgraph_module(compile_example(ROOT / "examples" / f"{name}.grc", out_dir))


def gate_edges(tb, src, port: str, ends, gate) -> None:
    """Move the message edges (src, port) -> each of ``ends`` onto src -> gate -> ends."""
    for blk, p in ends:
        tb.msg_disconnect((src, port), (blk, p))
        tb.msg_connect((gate, "out"), (blk, p))
    tb.msg_connect((src, port), (gate, "in"))


def swap_alloc_paths(tb, opt2, ends, name: str, images: int):
    """The allocation outputs of the example's optimiser and of ``opt2`` (the restarted one), each
    behind a gate to every end (the first open, the second closed until the swap) and logged.
    Returns (alloc1, alloc2, log1, log2)."""
    from _soak_blocks import AllocLog, Gate

    alloc1, alloc2 = Gate(f"{name}alloc_1"), Gate(f"{name}alloc_2", open_=False)
    log1 = AllocLog(f"{name}1", 2 * images + 64)
    log2 = AllocLog(f"{name}2", 2 * images + 64)
    gate_edges(tb, tb.optimizer, "alloc", ends, alloc1)
    tb.msg_connect((opt2, "alloc"), (alloc2, "in"))
    for blk, p in ends:
        tb.msg_connect((alloc2, "out"), (blk, p))
    tb.msg_connect((alloc1, "out"), (log1, "in"))
    tb.msg_connect((alloc2, "out"), (log2, "in"))
    return alloc1, alloc2, log1, log2


def cut_restore_swap(frame_now, cut_gate, old_gates, new_gates, log1, marks: dict,
                     what: tuple[str, str, str], fractions: tuple[float, float, float],
                     names: tuple[str, str, str]) -> list:  # fmt: skip
    """The three events of a phase, at the given fractions of the run: ``cut_gate`` closed (the
    feedback cut), opened again (restored), and ``old_gates`` closed while ``new_gates`` open
    (the control side restarted). Each records its frame in ``marks`` and returns its event."""

    def cut():
        cut_gate.is_open = False
        marks["cut"] = frame_now()
        return {"frame": marks["cut"], "what": what[0]}

    def restore():
        marks["restore_log"] = log1.n
        cut_gate.is_open = True
        marks["restore"] = frame_now()
        return {"frame": marks["restore"], what[1]: cut_gate.dropped}

    def restart():
        for g in old_gates:
            g.is_open = False
        for g in new_gates:
            g.is_open = True
        marks["restart"] = frame_now()
        old = int(log1.entries()[-1][0]) if log1.n else -1
        return {"frame": marks["restart"], "old_alloc_seq": old, "what": what[2]}

    return list(zip(fractions, names, (cut, restore, restart), strict=True))


def new_optimizer(tb):
    """A second mu_ascc_optimizer with the example's parameters."""
    from gnuradio import semdacom

    return semdacom.mu_ascc_optimizer(
        tables=tb.tables, weights=[0.8, 0.2], p_max=tb.P, delay=tb.delay,
        blocklength=tb.blocklength, link=tb.link, solver="fast", time_limit_s=10.0,
        apply_lead=tb.apply_lead, distortion="auto",
    )  # fmt: skip


def plan_windows(log1, log2, marks: dict, images: int, lead: int, restored: str):
    """The allocation in force per frame (optimiser 1, then optimiser 2 from its first
    allocation's apply_frame: a restarted optimiser's first allocation applies at its CSI's frame,
    nothing is in force for it) and the frame windows the checks score: before the cut, while
    cut (until the first allocation solved after the restore applies), ``restored`` (from then to
    the restart), the restart transition (one lead) and after the restart.
    Returns (expected seq per frame, windows, log1's and log2's entries, optimiser 2's first
    frame)."""
    e2 = log2.entries()
    start2 = int(e2[:, 1].min()) if len(e2) else images
    exp = expected_seqs([log1, log2], [0, start2], images)
    e1 = log1.entries()
    after = e1[marks.get("restore_log", len(e1)) :]
    restore_apply = int(after[:, 1].min()) if len(after) else None
    windows = {"before_cut": (0, marks.get("cut", images))}
    if restore_apply is not None:
        windows["cut"] = (marks["cut"], restore_apply)
        windows[restored] = (restore_apply, min(start2, marks.get("restart", images)))
    windows["restart_transition"] = (start2, start2 + lead)
    windows["after_restart"] = (start2 + lead, images)
    return exp, windows, e1, e2, start2


def expected_seqs(logs: list, starts: list[int], n: int) -> np.ndarray:
    """The seq in force at each frame 0..n-1: instance ``i`` (its AllocLog ``logs[i]``) from
    frame ``starts[i]`` on; within an instance the delivered allocation with the largest
    apply_frame <= frame (ties: the later one); -1 where none is."""
    exp = np.full(n, -1, dtype=np.int64)
    for i, log in enumerate(logs):
        e = log.entries()
        end = starts[i + 1] if i + 1 < len(starts) else n
        for j in sorted(range(len(e)), key=lambda j: (int(e[j][1]), j)):
            lo = max(int(e[j][1]), starts[i])
            if lo < end:
                exp[lo:end] = int(e[j][0])
    return exp


class Monitor:
    """Samples RSS, thread count and progress; copies the beamformer's (frame, seq) log (it
    keeps the last 4096) into an array; snapshots the threads once the flowgraph runs."""

    def __init__(self, tb, n: int, sample_s: float) -> None:
        self.tb, self.sample_s = tb, sample_s
        self.bf_seq = np.full(n, -1, dtype=np.int64)
        self.samples: list[tuple[float, int, int, int]] = []  # (t, images/user, rss, threads)
        self.t0 = time.monotonic()
        self.next = 0.0
        self.first_threads: dict[int, str] | None = None

    def poll(self, images_done: int, force: bool = False) -> None:
        t = time.monotonic() - self.t0
        if not force and t < self.next:
            return
        self.next = t + self.sample_s
        th = threads()
        if self.first_threads is None and t >= 2.0:
            self.first_threads = th
        self.samples.append((t, images_done, rss_bytes(), len(th)))
        n = len(self.bf_seq)
        for frame, seq in self.tb.beamformer.frame_log():
            if frame < n:
                self.bf_seq[frame] = seq

    def deaths(self) -> list[str]:
        """Threads seen 2 s after the start that ended before the stop."""
        if self.first_threads is None:
            return []
        now = threads()
        return sorted(
            f"{name} ({tid})" for tid, name in self.first_threads.items() if tid not in now
        )


def check_frames(probe, bf_seq: np.ndarray, exp: np.ndarray, windows: dict) -> dict:
    """Per window [lo, hi): frames with a result, those whose every recorded seq (source
    encoder, channel encoder, channel decoder, beamformer) is the one in force, the others."""
    out = {}
    n = len(exp)
    for name, (lo, hi) in windows.items():
        lo, hi = max(0, int(lo)), min(n, int(hi))
        checked = ok = unverified = 0
        by_block = dict.fromkeys(("source_encoder", "channel_encoder", "channel_decoder",
                                  "beamformer"), 0)  # fmt: skip
        bad: list[list[int]] = []
        for u in range(probe.seqs.shape[0]):
            for f in range(lo, hi):
                if np.isnan(probe.t_out[u, f]):
                    continue
                rec = dict(zip(by_block, [*probe.seqs[u, f].tolist(), int(bf_seq[f])], strict=True))
                rec = {k: v for k, v in rec.items() if v >= 0}
                checked += 1
                if not rec or exp[f] < 0:
                    unverified += 1
                    continue
                wrong = [k for k, v in rec.items() if v != exp[f]]
                for k in wrong:
                    by_block[k] += 1
                if not wrong:
                    ok += 1
                elif len(bad) < 10:
                    bad.append([u, f, int(exp[f]), *rec.values()])
        out[name] = {
            "frames": [lo, hi],
            "results": checked,
            "in_force": ok,
            "unverified": unverified,
            "mismatched": checked - ok - unverified,
            "mismatched_by_block": by_block,
            "first_mismatches_user_frame_expected_src_enc_dec_bf": bad,
        }
    return out


def decoded_in_force(window: dict | None) -> bool | None:
    """Every frame of the window with a result was decoded (channel decoder) and sent
    (beamformer) with the allocation in force; None without such a window."""
    if window is None or not window["results"]:
        return None
    m = window["mismatched_by_block"]
    return m["channel_decoder"] == 0 and m["beamformer"] == 0


def latency_ms(probe) -> np.ndarray:
    lat = (probe.t_out - probe.t_in) * 1e3
    return lat


def percentiles(lat: np.ndarray) -> dict:
    v = lat[np.isfinite(lat)]
    if not v.size:
        return {}
    return {f"p{q}": float(np.percentile(v, q)) for q in (50, 90, 99)} | {"max": float(v.max())}


def drive(tb, mon, probe, target: int, events: list, stall_s: float, bar, extra_done=None,
          settled=None):  # fmt: skip
    """Start ``tb``, run the ``events`` ((fraction of target, name, action)) as results come
    in, until ``target`` results per user (or ``extra_done()``), or no result for ``stall_s``
    (a hang); then, before the stop, until ``settled()`` (the sinks have taken every result:
    GNU Radio drains one message port before the next, so a sink can trail the decoders by
    hundreds of messages; not settled within ``stall_s`` is a hang). Returns (log of events,
    hangs, thread deaths, wall seconds)."""
    log, hangs = [], 0
    pending = sorted(events, key=lambda e: e[0])
    t0 = time.monotonic()
    tb.start()
    try:
        while True:
            done = probe.n_out // probe.t_in.shape[0]
            while pending and done >= pending[0][0] * target:
                frac, name, action = pending.pop(0)
                info = action() or {}
                log.append({"event": name, "at_images_per_user": int(done),
                            "t_s": round(time.monotonic() - t0, 3)} | info)  # fmt: skip
            mon.poll(done)
            if bar is not None and done > bar.n:
                bar.update(done - bar.n)
            if probe.n_out >= target * probe.t_in.shape[0] or (extra_done and extra_done()):
                break
            if time.monotonic() - max(probe.last_out, t0) > stall_s:
                hangs += 1
                log.append({"event": "hang", "at_images_per_user": int(done),
                            "t_s": round(time.monotonic() - t0, 3)})  # fmt: skip
                break
            time.sleep(0.05)
        t_end = time.monotonic()
        while not hangs and settled is not None and not settled():
            if time.monotonic() - t_end > stall_s:
                hangs += 1
                log.append({"event": "hang", "what": "sinks did not settle",
                            "t_s": round(time.monotonic() - t0, 3)})  # fmt: skip
                break
            time.sleep(0.05)
        time.sleep(0.3)
        mon.poll(probe.n_out // probe.t_in.shape[0], force=True)
        deaths = mon.deaths()
    finally:
        tb.stop()
        tb.wait()
    return log, hangs, deaths, time.monotonic() - t0


def loopback_phase(images: int, fading: int, sample_s: float, stall_s: float, progress: bool,
                   work: Path) -> dict:  # fmt: skip
    """Phase 1 (see the module docstring)."""
    from _soak_blocks import Gate, Limiter, Probe
    from gnuradio import semdacom

    mod = compiled("mu_ascc_loopback", work)
    tb = mod.mu_ascc_loopback(n_images=1, fading_frames=fading, p_max_dbw=5.0)
    prefill = min(int(tb.prefill), images)
    # image sources that loop over the split; exactly ``images`` enter (prefill + triggers)
    sources, limiters = [], []
    for u in (0, 1):
        old = getattr(tb, f"image_source_{u}")
        src_enc = getattr(tb, f"source_encoder_{u}")
        tb.msg_disconnect((tb.metrics, "done"), (old, "trigger"))  # the example's credits
        tb.msg_disconnect((old, "pdus"), (tb.metrics, "ref"))
        tb.msg_disconnect((old, "pdus"), (src_enc, "pdus"))
        new = semdacom.image_source(split="test", user=u, count=0, loop=True, prefill=prefill)
        lim = Limiter(f"credits_{u}", images - prefill, user=u)
        tb.msg_connect((tb.metrics, "done"), (lim, "in"))
        tb.msg_connect((lim, "out"), (new, "trigger"))
        tb.msg_connect((new, "pdus"), (tb.metrics, "ref"))
        tb.msg_connect((new, "pdus"), (src_enc, "pdus"))
        sources.append(new)
        limiters.append(lim)
    probe = Probe(2, images)
    for u in (0, 1):
        tb.msg_connect((sources[u], "pdus"), (probe, "ins"))
    tb.msg_connect((tb.source_decoder_0, "pdus"), (probe, "outs"))
    tb.msg_connect((tb.semantic_decoder_1, "pdus"), (probe, "outs"))
    # optimiser 1 behind gates; optimiser 2 (the restarted one) closed until the swap
    ends = [(getattr(tb, b), "cmd") for b in CMD_LOOPBACK]
    opt2 = new_optimizer(tb)
    csi1, csi2 = Gate("csi_1"), Gate("csi_2", open_=False)
    gate_edges(tb, tb.channel, "csi", [(tb.optimizer, "csi")], csi1)
    tb.msg_connect((tb.channel, "csi"), (csi2, "in"))
    tb.msg_connect((csi2, "out"), (opt2, "csi"))
    alloc1, alloc2, log1, log2 = swap_alloc_paths(tb, opt2, ends, "", images)

    marks: dict = {}

    def frame_now() -> int:
        return int(tb.channel_encoder_0.counters()["frames_out"])

    events = cut_restore_swap(
        frame_now, csi1, (csi1, alloc1), (csi2, alloc2), log1, marks,
        ("optimiser CSI input gate closed", "csi_dropped_while_cut",
         "optimiser 1 gated off, a new optimiser gated in"),
        (0.2, 0.3, 0.6), ("csi_cut", "csi_restored", "optimizer_restarted"),
    )  # fmt: skip
    mon = Monitor(tb, images, sample_s)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=images, desc="loopback images/user", unit="img", mininterval=1.0)
    try:

        def settled() -> bool:  # the metrics sink has every result and its reference
            c = tb.metrics.summary()["counts"]
            return c["results"] >= 2 * images and c["refs"] >= 2 * images and c["pending"] == 0

        log, hangs, deaths, wall = drive(tb, mon, probe, images, events, stall_s, bar,
                                         settled=settled)  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    c = tb.metrics.summary()["counts"]
    n_in = sum(s.counters()["pdus_out"] for s in sources)
    lead = int(tb.apply_lead)
    restored = "after_csi_restored"
    exp, windows, e1, e2, start2 = plan_windows(log1, log2, marks, images, lead, restored)
    checks = check_frames(probe, mon.bf_seq, exp, windows)
    ar = checks["after_restart"]
    # frames made with the old optimiser's last allocation: after the lead (in flight when the
    # new one took over, like any late allocation: reported) and after twice the lead (stuck)
    old_seq = int(e1[-1][0]) if len(e1) else -1

    def with_old(lo: int) -> int:
        lo = min(lo, images)
        bf = np.broadcast_to(mon.bf_seq[lo:], (2, images - lo))[..., None]
        rec = np.concatenate([probe.seqs[:, lo:], bf], axis=2)
        has = ~np.isnan(probe.t_out[:, lo:])
        return int(np.sum(has & np.any(rec == old_seq, axis=2) & (exp[lo:] != old_seq)))

    old_after_lead, stuck = with_old(start2 + lead), with_old(start2 + 2 * lead)
    # applied: the decoders and the beamformer use the new optimiser's allocation due at every
    # frame from its first apply_frame + the lead, and no block still uses the old one two
    # leads after (an encoder one allocation late, as anywhere in the run, is counted in
    # mismatched_by_block)
    restarted_applied = (
        bool(len(e2))
        and ar["results"] > 0
        and ar["mismatched_by_block"]["channel_decoder"] == 0
        and ar["mismatched_by_block"]["beamformer"] == 0
        and stuck == 0
    )
    rejected = {b: getattr(tb, b).counters().get("cmd_rejected") for b in CMD_LOOPBACK
                if b != "beamformer"}  # fmt: skip
    return {
        "images_per_user": images,
        "images_in": n_in,
        "results_out": c["results"],
        "malformed": c["malformed"],
        "unmatched": c["unmatched"],
        "lost": n_in - c["results"],
        "probe": {
            "in": probe.n_in,
            "out": probe.n_out,
            "unreadable": probe.bad,
            "duplicates": probe.duplicate,
        },  # fmt: skip
        "hangs": hangs,
        "thread_deaths": len(deaths),
        "threads_ended": deaths,
        "wall_s": wall,
        "events": log,
        "allocations": {
            "optimizer_1": int(log1.n),
            "optimizer_2": int(log2.n),
            "optimizer_2_first_apply_frame": start2 if len(e2) else None,
            "optimizer_2_seqs": [int(s) for s in e2[:5, 0]],
            "cmd_rejected": rejected,
        },  # fmt: skip
        "frames_in_force": checks,
        # decoded with the allocation in force: the channel decoder and the beamformer
        "after_csi_restored_all_in_force": decoded_in_force(checks.get("after_csi_restored")),
        "restarted_optimizer_applied": restarted_applied,
        "frames_after_restart_lead_with_old_allocation": old_after_lead,
        "frames_after_twice_the_lead_with_old_allocation": stuck,
        "block_counters": {b: getattr(tb, b).counters() for b in CMD_LOOPBACK[1:]},
        "latency_ms": percentiles(latency_ms(probe)),
        "latency_ms_by_user": [percentiles(x) for x in latency_ms(probe)],
        "latency_median_ms_by_tenth": [
            [
                float(np.nanmedian(c)) if np.isfinite(c).any() else None
                for c in np.array_split(x, 10)
            ]
            for x in latency_ms(probe)
        ],  # fmt: skip
        "_samples": mon.samples,
        "_latency": latency_ms(probe),
    }


def ota_phase(images: int, sample_s: float, stall_s: float, progress: bool, work: Path) -> dict:
    """Phase 2 (see the module docstring)."""
    from _soak_blocks import Gate, Probe
    from gnuradio import semdacom

    from semdacom.cli.examples import free_port_base

    mod = compiled("mu_ascc_ota_sim", work)
    tb = mod.mu_ascc_ota_sim(n_images=images, zmq_port=free_port_base(), snr_db=10.0,
                             cfo_0=0.001, cfo_1=0.0015, delay_0=137, delay_1=311,
                             sco_ppm=20.0, period_ms=OTA_PERIOD_MS)  # fmt: skip
    probe = Probe(2, images)
    for u in (0, 1):
        tb.msg_connect((getattr(tb, f"image_source_{u}"), "pdus"), (probe, "ins"))
    tb.msg_connect((tb.source_decoder_0, "pdus"), (probe, "outs"))
    tb.msg_connect((tb.semantic_decoder_1, "pdus"), (probe, "outs"))
    # the feedback (users' CSI reports after ZMQ) behind a gate, then one gate per BS instance
    comb2 = semdacom.csi_combiner(k=2, n_t=2, every=tb.csi_every, average=tb.csi_average)
    opt2 = new_optimizer(tb)
    fb = Gate("feedback")
    in1, in2 = Gate("bs_in_1"), Gate("bs_in_2", open_=False)
    down1, down2 = Gate("bs_csi_1"), Gate("bs_csi_2", open_=False)
    tb.msg_disconnect((tb.zmq_feedback, "out"), (tb.combiner, "csi"))
    tb.msg_connect((tb.zmq_feedback, "out"), (fb, "in"))
    for g, comb in ((in1, tb.combiner), (in2, comb2)):
        tb.msg_connect((fb, "out"), (g, "in"))
        tb.msg_connect((g, "out"), (comb, "csi"))
    gate_edges(tb, tb.combiner, "csi", [(tb.zmq_csi_out, "in")], down1)
    tb.msg_connect((comb2, "csi"), (opt2, "csi"))
    for u in (0, 1):  # plans ahead of the base station's encoders, as the first one
        tb.msg_connect((getattr(tb, f"channel_encoder_{u}"), "sent"), (opt2, "sent"))
    tb.msg_connect((comb2, "csi"), (down2, "in"))
    tb.msg_connect((down2, "out"), (tb.zmq_csi_out, "in"))
    ends = [(getattr(tb, b), "cmd") for b in CMD_OTA_BS] + [(tb.zmq_alloc_out, "in")]
    alloc1, alloc2, log1, log2 = swap_alloc_paths(tb, opt2, ends, "ota_", images)

    marks: dict = {}

    def frame_now() -> int:
        return int(tb.pilots.counters()["bursts_out"])

    events = cut_restore_swap(
        frame_now, fb, (in1, down1, alloc1), (in2, down2, alloc2), log1, marks,
        ("ZMQ feedback (CSI reports) gate closed", "reports_dropped_while_cut",
         "BS control side (csi_combiner + optimiser) replaced by new instances; the BS stream "
         "blocks keep running"),
        (0.25, 0.45, 0.65), ("feedback_cut", "feedback_restored", "base_station_restarted"),
    )  # fmt: skip

    def counts() -> tuple[int, int]:
        c = [getattr(tb, f"metrics_{u}").summary()["counts"] for u in (0, 1)]
        return sum(x["results"] for x in c), sum(x["malformed"] for x in c)

    def found() -> int:
        return sum(getattr(tb, f"frame_sync_{u}").counters()["bursts"] for u in (0, 1))

    def beacons() -> int:  # initial access: bursts without data before the first allocation
        return int(tb.channel_encoder_0.counters()["beacons"])

    def no_data_found() -> int:  # beacons read, and headers lost before a user's first frame
        c = [getattr(tb, f"csi_estimator_{u}").counters() for u in (0, 1)]
        return sum(x["no_frame_for_user"] + x["header_failed_unplaced"] for x in c)

    def all_found_answered() -> bool:  # every burst left and every data burst found has a result
        sent_all = tb.pilots.counters()["bursts_out"] >= images + beacons()
        return sent_all and sum(counts()) >= found() - no_data_found()

    # the beamformer's log is by the air's frame numbers: the beacons' first, then the images'
    mon = Monitor(tb, images + MAX_BEACONS, sample_s)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=images, desc="ota_sim images/user", unit="img", mininterval=1.0)
    try:
        log, hangs, deaths, wall = drive(tb, mon, probe, images, events, stall_s, bar,
                                         all_found_answered)  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    results, malformed = counts()
    n_in = sum(getattr(tb, f"image_source_{u}").counters()["pdus_out"] for u in (0, 1))
    sent = int(tb.pilots.counters()["bursts_out"])
    n_b = beacons()
    # data bursts the air lost (a header lost before a user's first frame counts as found
    # without data: its image, if it carried one, was answered by the frame accounting)
    missed_on_air = 2 * (sent - n_b) - (found() - no_data_found())
    lead = int(tb.apply_lead)
    # allocations, events and the beamformer by the air's frames; the images' frame f went
    # out in the air's frame f + n_b
    exp_air, win_air, e1, e2, start2 = plan_windows(log1, log2, marks, images + n_b, lead,
                                                    "after_feedback_restored")  # fmt: skip
    exp = exp_air[n_b:]
    windows = {k: (max(0, a - n_b), max(0, b - n_b)) for k, (a, b) in win_air.items()}
    start2 = max(0, start2 - n_b)
    bf_seq = mon.bf_seq[n_b : n_b + images]
    # over the air the decoded meta carries the decoder's seq; the beamformer's frame log is
    # compared on its own (bf_vs_expected): its frame numbers are the BS encoders' frames
    checks = check_frames(probe, np.full(images, -1, dtype=np.int64), exp, windows)
    # the new BS's allocations reach the users: no frame two leads after its first apply_frame
    # decoded with the old BS's last allocation, and at least 90 % decoded with the one in
    # force (over ZMQ in real time an allocation can reach a user after its apply_frame on a
    # loaded machine: those frames are in mismatched_by_block)
    old_seq = int(e1[-1][0]) if len(e1) else -1
    lo = min(start2 + 2 * lead, images)
    has = ~np.isnan(probe.t_out[:, lo:])
    stuck = int(np.sum(has & np.any(probe.seqs[:, lo:] == old_seq, axis=2) & (exp[lo:] != old_seq)))
    ar = checks["after_restart"]
    bs_applied = bool(len(e2)) and ar["results"] > 0 and ar["in_force"] >= 0.9 * ar["results"]
    bf_rows = [f for f in range(images) if bf_seq[f] >= 0 and exp[f] >= 0]
    bf_off = sum(int(bf_seq[f] != exp[f]) for f in bf_rows)
    return {
        "images_per_user": images,
        "bs_period_ms": OTA_PERIOD_MS,
        "images_in": n_in,
        "bursts_sent": sent,
        "beacons": n_b,
        "beamformer_log_frames": len(bf_rows),
        "beamformer_log_not_expected_seq": bf_off,
        "missed_on_air": missed_on_air,
        "results_out": results,
        "erasures_without_header": malformed,
        # images in - results out, less the bursts the air lost (counted by frame_sync)
        "lost": n_in - results - malformed - missed_on_air,
        "hangs": hangs,
        "thread_deaths": len(deaths),
        "threads_ended": deaths,
        "wall_s": wall,
        "events": log,
        "allocations": {
            "bs_1": int(log1.n),
            "bs_2": int(log2.n),
            "bs_2_first_apply_frame": start2 if len(e2) else None,
        },  # fmt: skip
        "frames_in_force": checks,
        # decoded with the allocation in force: the channel decoder and the beamformer
        "after_feedback_restored_all_in_force": decoded_in_force(
            checks.get("after_feedback_restored")
        ),
        "restarted_bs_applied": bs_applied and stuck == 0,
        "frames_after_twice_the_lead_with_old_allocation": stuck,
        "latency_ms": percentiles(latency_ms(probe)),
        "_samples": mon.samples,
    }


def rss_growth_pct(samples: list, images: int) -> float | None:
    """Mean RSS of the samples in the last tenth of the images vs the first tenth."""
    a = np.array([(s[1], s[2]) for s in samples], dtype=np.float64)
    if not len(a):
        return None
    first = a[a[:, 0] <= 0.1 * images, 1]
    last = a[a[:, 0] >= 0.9 * images, 1]
    if not first.size or not last.size:
        return None
    return float(100.0 * (last.mean() / first.mean() - 1.0))


def plot(lb: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = np.array(lb["_samples"], dtype=np.float64)
    lat = lb["_latency"]
    fig, ax = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    ax[0].plot(s[:, 1], s[:, 2] / 2**20)
    ax[0].set_ylabel("RSS (MiB)")
    ax[1].plot(s[:, 1], s[:, 3])
    ax[1].set_ylabel("threads")
    frames = np.arange(lat.shape[1])
    for u, name in ((0, "data user"), (1, "semantic user")):
        step = max(1, lat.shape[1] // 5000)
        ax[2].plot(frames[::step], lat[u, ::step], ".", ms=1, label=name)
    ax[2].set_ylabel("latency (ms)")
    ax[2].set_yscale("log")
    ax[2].set_xlabel("images per user")
    ax[2].legend()
    for e in lb["events"]:
        if "at_images_per_user" not in e:  # a hang after the last image (sinks not settled)
            continue
        for a in ax:
            a.axvline(e["at_images_per_user"], color="grey", lw=0.5, ls="--")
    ax[0].set_title("soak: mu_ascc_loopback (dashed: CSI cut, restored, optimiser restarted)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(images: int = 10**5, ota_images: int = 600, fading: int = 4, sample_s: float = 1.0,
        stall_s: float = 60.0, progress: bool = True, out: Path | None = RESULTS,
        work: Path = ROOT / "out" / "soak_fg") -> dict:  # fmt: skip
    """Both phases; returns the soak.json dictionary (and writes it, and the plot, to ``out``
    unless None)."""
    t0 = time.monotonic()
    lb = loopback_phase(images, fading, sample_s, stall_s, progress, work)
    ota = ota_phase(ota_images, sample_s, stall_s, progress, work) if ota_images else None
    phases = [lb] + ([ota] if ota else [])
    res = {
        "images_per_user": images,
        "lost": sum(p["lost"] for p in phases),
        "thread_deaths": sum(p["thread_deaths"] for p in phases),
        "hangs": sum(p["hangs"] for p in phases),
        "rss_growth_pct": rss_growth_pct(lb["_samples"], images),
        "restarted_optimizer_applied": lb["restarted_optimizer_applied"],
        "after_feedback_restored_all_in_force": all(
            p.get(k) is True for p, k in ((lb, "after_csi_restored_all_in_force"),
                                          (ota, "after_feedback_restored_all_in_force")) if p
        ),  # fmt: skip
        "latency_ms": lb["latency_ms"],
        "latency_median_ms_by_tenth": lb["latency_median_ms_by_tenth"],
        "rss_mib": [lb["_samples"][0][2] / 2**20, lb["_samples"][-1][2] / 2**20]
        if lb["_samples"] else None,
        "threads": [lb["_samples"][0][3], lb["_samples"][-1][3]] if lb["_samples"] else None,
        "wall_s": time.monotonic() - t0,
        "loopback": {k: v for k, v in lb.items() if not k.startswith("_")},
        "ota_sim": {k: v for k, v in ota.items() if not k.startswith("_")} if ota else None,
        "rss_samples_images_mib": [[int(s[1]), round(s[2] / 2**20, 2)] for s in
                                   lb["_samples"][:: max(1, len(lb["_samples"]) // 200)]],
    }  # fmt: skip
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "soak.json").write_text(json.dumps(res, indent=1) + "\n")
        plot(lb, out / "soak.png")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=10**5, help="images per user (loopback)")
    ap.add_argument("--ota-images", type=int, default=600, help="images per user (ota_sim)")
    ap.add_argument("--fading", type=int, default=4, help="Rayleigh redraw every N frames")
    ap.add_argument("--sample-s", type=float, default=1.0)
    ap.add_argument("--stall-s", type=float, default=60.0, help="no result this long: a hang")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    res = run(a.images, a.ota_images, a.fading, a.sample_s, a.stall_s, not a.no_progress)
    keys = (
        "images_per_user",
        "lost",
        "thread_deaths",
        "hangs",
        "rss_growth_pct",
        "restarted_optimizer_applied",
        "after_feedback_restored_all_in_force",
        "wall_s",
    )
    print(json.dumps({k: res[k] for k in keys} | {"latency_ms": res["latency_ms"]}, indent=1))
    print(f"wrote {RESULTS / 'soak.json'} and soak.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
