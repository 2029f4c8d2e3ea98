"""`make bench ARGS=user_rx`: the user receivers at radio rate (issue 23, build step 3);
writes bench/results/user_rx.json.

**MU-ASCC user** (examples/mu_ascc_user_usrp.grc). The recording is what the base station of the
over-the-air split sends (examples/mu_ascc_bs_usrp.grc's chain, as mu_ascc_ota_sim runs it:
image sources, source and channel encoders, superposition beamformer, ``pilot_inserter``,
root-raised-cosine shaping at 2 samples per symbol), for one fixed allocation (the optimiser's
for the paper channel, planned ``PLAN_MARGIN_DB`` below the recording's SNR, as a static trial
would run once the loop settled), received by user 0 (``y = h_0^H x``) through a small air:
carrier frequency offset ``CFO`` cycles/symbol, a fractional timing offset ``DELAY`` samples and
white noise at a pilot SNR ``SNR_DB`` per symbol (``p ||h_0||^2 / sigma^2``, noise everywhere,
between the bursts too). The bursts come at the USRP example's pace: one frame every
``PERIOD_MS`` = 20 ms at ``SAMP_RATE`` = 2 MS/s (mu_ascc_bs_usrp's defaults), i.e. one burst of
4268 samples (2134 symbols: preamble, pilots, header, 1024 payload symbols) plus its guard in
every 40 000 samples, a duty cycle of 10.7 %; each burst starts at a random offset within its
period (the receiver may not rely on a grid). ``BURSTS`` bursts, complex64, cached under
out/user_rx/ (never committed).

The receive chain is the example's, compiled by grcc with the UHD source replaced by a
``blocks.file_source`` (no throttle, the radio's output buffer: the example's ``rx_buffer``)
and everything behind it unchanged (the decoders' ``batch_wait_ms`` too): DC blocker, matched
filter, ``frame_sync``, ``csi_estimator``, ``channel_decoder`` (LDPC), source and semantic
decoders, the two metrics sinks with their local ``image_source`` references. The base
station's allocation and combined CSI (ZMQ over the air) are posted to the decoders before the
start; the ZMQ blocks stay in the flowgraph (pointed at 127.0.0.1, nothing listening). It runs
as fast as it goes; ``user_rx_sustained_msps`` is the recording's samples over the wall time
from ``start()`` until both metrics sinks hold a result for every image, and
``user_rx_bursts_decoded_pct`` the share of the recording's bursts whose payload the channel
decoder recovered whole (no codeword lost, not erased, not missing). Beside them, against
``budget_ms_per_burst`` (20 ms: one burst period at 2 MS/s): ``cpu_ms_per_burst`` (the
process and the CSI estimator's helper process, ``csi_helper`` 1 as in the example; the
helper's start-up included; ``--csi-helper 0`` runs the estimator in its own thread),
``two_core_bound_msps`` (the rate if that CPU time were spread evenly over two
idle cores) and ``python_blocks_cpu_ms_per_burst`` (the Python blocks, which share one
interpreter lock outside numpy's and torch's own loops). CPU times grow with the machine's
load; the load (``uptime``) is recorded beside every figure.

**SC-SFMA users** (examples/sfma_usrp.grc's receive part: four RX channels -> ``frame_tagger``
-> ``sfma_decoder`` -> ``metrics_sink``). The recording is the example's transmit part
(image sources, ``sfma_encoder``, ``sfma_superposer``, ``tx_scale``), each group's stream heard
by its two users at ``SNR_DB`` (white noise; no CFO or timing offset: the example has no
over-the-air synchronisation, TX and RX start together), frames back to back as the example
streams them (a continuous stream, 100 % duty), the superposer's side information recorded
and posted to the decoders before the start (over USRPs it arrives as messages too).
``sfma_user_rx_sustained_msps`` is the samples per RX channel over the wall time (the radio's
``samp_rate`` it could keep up with), ``sfma_user_rx_bursts_decoded_pct`` the share of frames
whose image PDU is not an erasure.

Per block (both chains): CPU milliseconds per burst / frame, from ``Block.busy_s`` and GNU
Radio's performance counters (bench/block_profile.py's :func:`block_profile.block_rows`).
Run alone: ``python bench/user_rx.py [--bursts N] [--frames N] [--only mu_ascc|sfma]
[--csi-helper 0|1]``.
"""

from __future__ import annotations

import os

# as bench/run.py: one BLAS / OpenMP thread (set before numpy and torch load)
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import block_profile  # noqa: E402, F401  (sets GR_CONF_PERFCOUNTERS_ON before GNU Radio loads)
import numpy as np  # noqa: E402
from block_profile import block_rows  # noqa: E402
from common import RESULTS, cpu_model, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "out" / "user_rx"

#: MU-ASCC recording: bursts, pace, air (see the module docstring)
BURSTS = 300
SAMP_RATE = 2e6
PERIOD_MS = 20.0
SNR_DB = 15.0
PLAN_MARGIN_DB = 3.0
CFO = 0.001  # cycles/symbol
DELAY = 0.37  # samples (fractional timing offset)
SEED = 7
#: burst layout of the examples
SPS, SLOT, GUARD, P_MAX_DBW, MCS, L = 2, 1024, 256, 5.0, 3, 256
TABLES = ["hyperprior_vbr_du_msssim", "hyperprior_vbr_su_error"]

#: runs of each chain (the median is reported, every run beside it: the machine is shared)
REPEATS = 3
#: SC-SFMA recording: frames per user (one frame of 128 samples per group each)
SFMA_FRAMES = 200
SFMA_FRAME_LEN = 128


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------------------------------------
# the examples with their UHD blocks replaced
# ---------------------------------------------------------------------------------------------


def file_example(
    grc: Path,
    out_dir: Path,
    files: list[str],
    drop: tuple[str, ...] = (),
    params: dict[str, dict[str, str]] | None = None,
):
    """Compile ``grc`` with its ``uhd_usrp_source`` replaced by one ``blocks_file_source`` per
    channel (``files[i]`` feeds what channel ``i`` fed; complex64, no repeat, no throttle, the
    radio's ``minoutbuf``),
    the blocks named in ``drop`` (and their connections) removed and the parameters in
    ``params`` (``{block: {param: value}}``) changed; returns the generated module."""
    import yaml

    from semdacom.cli.examples import compile_example, load_flowgraph_module

    fg = yaml.safe_load(grc.read_text())
    uhd = [b for b in fg["blocks"] if b["id"] == "uhd_usrp_source"]
    if len(uhd) != 1:
        raise RuntimeError(f"{grc.name}: expected one uhd_usrp_source, found {len(uhd)}")
    name, states = uhd[0]["name"], uhd[0].get("states", {})
    minoutbuf = str(uhd[0]["parameters"].get("minoutbuf", "0"))  # the radio's buffer, kept
    drop = (*drop, name)
    fg["blocks"] = [b for b in fg["blocks"] if b["name"] not in drop]
    for i, f in enumerate(files):
        fg["blocks"].append({
            "name": f"{name}_file{i}", "id": "blocks_file_source", "states": states,
            "parameters": {"file": str(f), "type": "complex", "repeat": "False", "vlen": "1",
                           "offset": "0", "length": "0", "begin_tag": "pmt.PMT_NIL",
                           "affinity": "", "alias": "", "comment": "", "maxoutbuf": "0",
                           "minoutbuf": minoutbuf},
        })  # fmt: skip
    conns = []
    for c in fg["connections"]:
        src, sport, dst, dport = c
        if src == name:
            conns.append([f"{name}_file{int(sport)}", "0", dst, dport])
        elif src not in drop and dst not in drop:
            conns.append(c)
    fg["connections"] = conns
    for blk, vals in (params or {}).items():
        b = next(b for b in fg["blocks"] if b["name"] == blk)
        b["parameters"].update(vals)
    fg["options"]["parameters"]["id"] = grc.stem + "_file"
    path = out_dir / f"{grc.stem}_file.grc"
    path.write_text(yaml.safe_dump(fg, sort_keys=False))
    return load_flowgraph_module(compile_example(path, out_dir))


def _post(block, port: str, msg) -> None:
    import pmt

    block.to_basic_block()._post(pmt.intern(port), msg)


def _children_cpu() -> float:
    """CPU seconds of this process's children that have ended and been waited for
    (``csi_estimator``'s helper process, stopped with the flowgraph)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(tb, done, timeout_s: float, poll_s: float = 0.01) -> tuple[float, float, bool]:
    """Start ``tb``, wait until ``done()``; returns (wall seconds from start to done, CPU
    seconds over it of the process, plus those of the helper processes started with the
    flowgraph, start-up included, counted once they have ended with it; whether it
    finished); the flowgraph is stopped after."""
    cpu0, t0 = time.process_time(), time.monotonic()
    kids0 = _children_cpu()
    tb.start()
    ok = True
    try:
        while not done():
            if time.monotonic() - t0 > timeout_s:
                ok = False
                break
            time.sleep(poll_s)
        wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
    finally:
        tb.stop()
        tb.wait()
    return wall, cpu + _children_cpu() - kids0, ok


# ---------------------------------------------------------------------------------------------
# MU-ASCC: the recording
# ---------------------------------------------------------------------------------------------


def _setup() -> dict:
    from semdacom.phy import beamforming as bf

    p = 10 ** (P_MAX_DBW / 10)
    h = bf.paper_channel()
    p_pilot = p / 2

    def noise(snr_db: float) -> np.ndarray:
        return np.array([p_pilot * float(abs(h[u]) @ abs(h[u])) / 10 ** (snr_db / 10)
                         for u in range(2)])  # fmt: skip

    return {"P": p, "p_pilot": p_pilot, "H": h, "noise_var": noise(SNR_DB),
            "plan_noise_var": noise(SNR_DB - PLAN_MARGIN_DB)}  # fmt: skip


def _allocation(s: dict):
    """The optimiser's allocation (its block, as on the base station) for the paper channel
    planned at ``SNR_DB - PLAN_MARGIN_DB``, in force from frame 0."""
    import pmt
    from gnuradio import blocks, gr, semdacom
    from gnuradio.semdacom import messages

    tb = gr.top_block()
    opt = semdacom.mu_ascc_optimizer(
        tables=TABLES, weights=[0.8, 0.2], p_max=s["P"], delay=0.6 * 784, blocklength=L,
        link="tabulated_mcs", solver="fast", time_limit_s=10.0, apply_lead=0, distortion="auto",
    )  # fmt: skip
    dbg = blocks.message_debug()
    tb.msg_connect((opt, "alloc"), (dbg, "store"))
    tb.start()
    _post(opt, "csi", messages.csi_to_pmt(messages.Csi(h=s["H"], noise_var=s["plan_noise_var"],
                                                       seq=1)))  # fmt: skip
    t0 = time.monotonic()
    while dbg.num_messages() < 1 and time.monotonic() - t0 < 60:
        time.sleep(0.01)
    tb.stop()
    tb.wait()
    if dbg.num_messages() < 1:
        raise RuntimeError("the optimiser gave no allocation")
    msg = dbg.get_message(0)
    msg = pmt.dict_add(msg, pmt.intern("apply_frame"), pmt.from_uint64(0))
    return msg


def _bs_bursts(n: int, s: dict, alloc) -> np.ndarray:
    """``n`` bursts of the base station, shape (N_t, n, samples per burst): the chain of
    mu_ascc_bs_usrp (without tx_level, whose scaling the air would undo) at the allocation."""
    import pmt
    from gnuradio import blocks, filter, gr, semdacom

    from semdacom.phy import sync as ota_sync

    rrc_tx = [math.sqrt(SPS) * t for t in ota_sync.rrc_taps(SPS)]
    tb = gr.top_block()
    bfm = semdacom.superposition_beamformer(2, 2, [s["P"] / 2] * 2, [1, 0, 0, 1], 0)
    pil = semdacom.pilot_inserter(k=2, n_t=2, preamble_len=127, n_pilots=16,
                                  pilot_power=s["p_pilot"], header_mcs=2, payload_len=SLOT,
                                  guard=GUARD, pilot_spacing=256)  # fmt: skip
    per_burst = SPS * (pil.layout().span + GUARD)
    sinks, keep = [], [bfm, pil]
    for u in range(2):
        # a credit loop (each frame sent triggers the user's next image): no image is shed
        src = semdacom.image_source(split="test", user=u, count=n, start=0, loop=False,
                                    shuffle=False, seed=0, period_ms=0.0, prefill=4, folder="",
                                    size=28, fit="crop", mode="L")  # fmt: skip
        senc = semdacom.source_encoder(user=u, rate_index=0, weights="", codec="learned",
                                       hold=False)  # fmt: skip
        cenc = semdacom.channel_encoder(user=u, mode="ldpc", mcs=MCS, rc=1.0, blocklength=L,
                                        frame_len=SLOT, first_frame=0, seed=u, hold=False,
                                        beacons=False)  # fmt: skip
        shape = filter.interp_fir_filter_ccc(SPS, rrc_tx)
        shape.declare_sample_delay(0)
        sink = blocks.vector_sink_c(1, per_burst * n)
        tb.msg_connect((src, "pdus"), (senc, "pdus"))
        tb.msg_connect((senc, "pdus"), (cenc, "pdus"))
        tb.msg_connect((cenc, "sent"), (src, "trigger"))
        tb.connect((cenc, 0), (bfm, u))
        tb.connect((bfm, u), (pil, u), shape, sink)
        for b in (senc, cenc):
            _post(b, "cmd", alloc)
        sinks.append(sink)
        keep += [src, senc, cenc, shape]
    _post(bfm, "cmd", alloc)
    tb.start()
    t0 = time.monotonic()
    while min(len(k.data()) for k in sinks) < n * per_burst:
        if time.monotonic() - t0 > 60 + 2.0 * n:
            raise RuntimeError("the base station did not send every burst")
        time.sleep(0.05)
    tb.stop()
    tb.wait()
    x = np.array([np.asarray(k.data()[: n * per_burst]) for k in sinks])
    starts = sorted({int(t.offset) for t in sinks[0].tags()
                     if pmt.symbol_to_string(t.key) == "tx_sob"})  # fmt: skip
    if starts[:n] != list(range(0, n * per_burst, per_burst)):
        raise RuntimeError("bursts not back to back at the base station's output")
    return x.reshape(2, n, per_burst)


def _frac_delay(x: np.ndarray, d: float, half: int = 16) -> np.ndarray:
    """``x`` delayed by ``d`` samples (0 <= d < 1; a windowed-sinc FIR, same length)."""
    k = np.arange(-half, half + 1)
    taps = np.sinc(k - d) * np.hamming(2 * half + 1)
    taps /= taps.sum()
    return np.convolve(x, taps)[half : half + x.size]


def _data_fingerprint() -> str:
    """A digest of the shipped data's manifest (every weight file's and table's sha256): a
    recording made by the encoders of other weights is made again. (A cached SC-SFMA recording
    of older weights was decoded by newer ones: MS-SSIM 0.24-0.28 instead of 0.86 in sessions
    15 and 16's first run, unnoticed until then.)"""
    from semdacom.data import DATA_DIR  # where the blocks load their weights from

    manifest = DATA_DIR / "manifest.json"
    return hashlib.sha1(manifest.read_bytes()).hexdigest()[:12] if manifest.is_file() else ""


def make_recording(n: int = BURSTS, refresh: bool = False) -> tuple[Path, dict]:
    """The MU-ASCC recording (cached under out/user_rx/) and its description."""
    import pmt

    cfg = {"bursts": n, "samp_rate": SAMP_RATE, "period_ms": PERIOD_MS, "snr_db": SNR_DB,
           "plan_margin_db": PLAN_MARGIN_DB, "cfo_cycles_per_symbol": CFO,
           "timing_offset_samples": DELAY, "seed": SEED, "sps": SPS, "slot": SLOT,
           "guard": GUARD, "p_max_dbw": P_MAX_DBW, "user": 0, "version": 2,
           "data": _data_fingerprint()}  # fmt: skip
    key = hashlib.sha1(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:10]
    CACHE.mkdir(parents=True, exist_ok=True)
    path, meta_path = CACHE / f"mu_ascc_user0_{key}.c64", CACHE / f"mu_ascc_user0_{key}.json"
    alloc_path = CACHE / f"mu_ascc_user0_{key}.alloc.pmt"
    if not refresh and path.is_file() and meta_path.is_file() and alloc_path.is_file():
        return path, json.loads(meta_path.read_text())
    t0 = time.monotonic()
    s = _setup()
    alloc = _allocation(s)
    x = _bs_bursts(n, s, alloc)  # (N_t, n, per_burst)
    per_burst = x.shape[2]
    period = int(round(SAMP_RATE * PERIOD_MS / 1e3))
    rng = np.random.default_rng(SEED)
    h0 = s["H"][0]
    sigma2 = SPS * s["noise_var"][0]  # per sample (the air of mu_ascc_ota_sim)
    total = n * period + period // 2
    rx = np.sqrt(sigma2 / 2) * (rng.standard_normal(total) + 1j * rng.standard_normal(total))
    offs = []
    for b in range(n):
        burst = np.conj(h0) @ x[:, b, :]  # y = h_0^H x
        off = b * period + int(rng.integers(0, period - per_burst - 64))
        offs.append(off)
        rx[off : off + per_burst] += _frac_delay(burst, DELAY)
    nn = np.arange(total)
    rx *= np.exp(2j * np.pi * CFO / SPS * nn + 1j * rng.uniform(0, 2 * np.pi))
    rx.astype(np.complex64).tofile(path)
    alloc_path.write_bytes(pmt.serialize_str(alloc))
    a = {k: pmt.to_python(pmt.dict_ref(alloc, pmt.intern(k), pmt.PMT_NIL))
         for k in ("mcs", "rate_index", "power")}  # fmt: skip
    meta = {**cfg, "samples": int(total), "burst_samples": per_burst,
            "period_samples": period, "duty_cycle": per_burst / period,
            "burst_offsets": offs, "noise_var_per_sample": float(sigma2),
            "allocation": {k: np.asarray(v).tolist() for k, v in a.items()},
            "seconds_to_make": round(time.monotonic() - t0, 1)}  # fmt: skip
    meta_path.write_text(json.dumps(meta))
    return path, meta


# ---------------------------------------------------------------------------------------------
# MU-ASCC: the user's receive chain on the recording
# ---------------------------------------------------------------------------------------------


def run_mu_ascc(path: Path, meta: dict, timeout_s: float = 900.0, csi_helper: int = 1) -> dict:
    import pmt
    from gnuradio.semdacom import messages

    from semdacom.cli.examples import free_port_base

    n = meta["bursts"]
    s = _setup()
    alloc = pmt.deserialize_str(path.with_suffix(".alloc.pmt").read_bytes())
    # the base station's combined CSI (csi_combiner: the users' estimates; here the truth),
    # each row turned as csi_estimator turns its estimate (h_u[0] real and non-negative)
    h = s["H"] * np.exp(-1j * np.angle(s["H"][:, :1]))
    csi = messages.csi_to_pmt(messages.Csi(h=h, noise_var=s["noise_var"], seq=1))
    with tempfile.TemporaryDirectory() as tmp:
        mod = file_example(ROOT / "examples" / "mu_ascc_user_usrp.grc", Path(tmp), [str(path)])
    tb = mod.mu_ascc_user_usrp_file(n_images=n, user=0, bs_host="127.0.0.1",
                                    zmq_port=free_port_base(3), p_pilot=s["p_pilot"],
                                    samp_rate=SAMP_RATE, csi_helper=csi_helper)  # fmt: skip
    for blk in (tb.channel_decoder_0, tb.source_decoder_0, tb.semantic_decoder_0):
        _post(blk, "cmd", alloc)
    _post(tb.channel_decoder_0, "csi", csi)
    pdus: list = []
    store = _pdu_store(tb, tb.channel_decoder_0, pdus)

    def results(m) -> int:
        return int(m.counters()["results"])

    def done() -> bool:
        return results(tb.metrics_0) >= n and results(tb.metrics_su_0) >= n

    load0 = _loadavg()
    t_start = time.monotonic()
    wall, cpu, ok = _run(tb, done, timeout_s)
    del store
    ts = [m["t"] - t_start for m in pdus]
    good = {m["frame"] for m in pdus if not m.get("erased") and not m.get("frame_missing")}
    good &= set(range(n))  # the images of the recording (frames 0 .. n-1), each decoded
    est, fs = tb.csi_estimator_0.counters(), tb.frame_sync_0.counters()
    dec = tb.channel_decoder_0.counters()
    du, su = tb.metrics_0.summary(), tb.metrics_su_0.summary()
    rows = block_rows(tb, n)
    py_ms = sum(r["total"] for b, r in rows.items() if hasattr(getattr(tb, b, None), "busy_s"))
    budget = meta["period_samples"] / SAMP_RATE * 1e3
    cpu_ms = cpu * 1e3 / n
    return {
        "recording": {k: v for k, v in meta.items() if k != "burst_offsets"},
        "csi_helper": int(csi_helper),
        "cpu_ms_per_burst": round(cpu_ms, 2),
        "wall_ms_per_burst": round(wall * 1e3 / n, 2),
        "budget_ms_per_burst": budget,
        "python_blocks_cpu_ms_per_burst": round(py_ms, 2),
        "two_core_bound_msps": round(meta["period_samples"] / (cpu_ms / 2) / 1e3, 3),
        "finished": ok,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "cpu_per_wall": round(cpu / wall, 3),
        "user_rx_sustained_msps": round(meta["samples"] / wall / 1e6, 4),
        "user_rx_bursts_decoded_pct": round(100.0 * len(good) / n, 2),
        "bursts_in_recording": n,
        "first_payload_s": round(min(ts), 3) if ts else None,
        "last_payload_s": round(max(ts), 3) if ts else None,
        "bursts_found": fs.get("bursts"),
        "frame_sync": fs,
        "csi_estimator": est,
        "channel_decoder": dec,
        "du_summary": _short(du),
        "su_summary": _short(su),
        "per_block_ms_per_burst": rows,
        "load_before": load0,
        "load_after": _loadavg(),
        "uptime_after": _uptime(),
    }


def _pdu_store(tb, blk, out: list):
    """A Python message sink on ``blk``'s ``pdus`` that keeps each PDU's meta (a dict)."""
    import pmt
    from gnuradio import gr

    class _Store(gr.basic_block):
        def __init__(self) -> None:
            gr.basic_block.__init__(self, name="pdu_store", in_sig=None, out_sig=None)
            self.message_port_register_in(pmt.intern("in"))
            self.set_msg_handler(pmt.intern("in"), self._on)

        def _on(self, msg) -> None:
            meta = pmt.car(msg)
            keys = ("frame", "erased", "frame_missing", "codewords_lost")
            d = {k: pmt.to_python(pmt.dict_ref(meta, pmt.intern(k), pmt.PMT_NIL)) for k in keys}
            d["t"] = time.monotonic()
            out.append(d)

    st = _Store()
    tb.msg_connect((blk, "pdus"), (st, "in"))
    return st


def _short(summary: dict) -> dict:
    """The scalar parts of a metrics_sink summary."""
    if isinstance(summary, dict):
        return {k: _short(v) for k, v in summary.items()
                if isinstance(v, (dict, int, float, str, bool)) or v is None}  # fmt: skip
    return summary


# ---------------------------------------------------------------------------------------------
# SC-SFMA
# ---------------------------------------------------------------------------------------------


def make_sfma_recording(n: int = SFMA_FRAMES, refresh: bool = False) -> tuple[list[Path], dict]:
    """Four RX channels (users 0-3) of examples/sfma_usrp.grc's transmit part at ``SNR_DB``,
    and the superposer's side information (cached under out/user_rx/)."""
    import pmt
    from gnuradio import blocks, gr, semdacom

    cfg = {"frames": n, "snr_db": SNR_DB, "seed": SEED, "version": 1, "data": _data_fingerprint()}
    key = hashlib.sha1(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:10]
    CACHE.mkdir(parents=True, exist_ok=True)
    files = [CACHE / f"sfma_{key}_user{u}.c64" for u in range(4)]
    side_path, meta_path = CACHE / f"sfma_{key}.side.pmt", CACHE / f"sfma_{key}.json"
    if not refresh and all(f.is_file() for f in files) and meta_path.is_file():
        return files, json.loads(meta_path.read_text())
    t0 = time.monotonic()
    nu, tx_scale, samp_rate = 0.5, 0.5, 1e6  # sfma_usrp's defaults
    tb = gr.top_block()
    enc = semdacom.sfma_encoder(k=4, weights="", pairs=[], nu=nu, frame_len=SFMA_FRAME_LEN,
                                first_frame=0, hold=False)  # fmt: skip
    sup = semdacom.sfma_superposer(k=4, power=1.0, bandwidth=samp_rate, power_split=0.5)
    dbg = blocks.message_debug()
    keep = []  # (sfma_usrp wires the encoder's `sent`, for every user, to each trigger)
    for u in range(4):
        src = semdacom.image_source(split="test", user=u, count=n, start=u * 2500, loop=False,
                                    shuffle=False, seed=0, period_ms=0.0, prefill=2, folder="",
                                    size=28, fit="crop", mode="L")  # fmt: skip
        tb.msg_connect((enc, "sent"), (src, "trigger"))
        tb.msg_connect((src, "pdus"), (enc, f"pdus{u}"))
        tb.connect((enc, u), (sup, u))
        keep.append(src)
    sinks = []
    for g in range(2):
        sc = blocks.multiply_const_cc(tx_scale)
        sink = blocks.vector_sink_c(1, n * SFMA_FRAME_LEN)
        tb.connect((sup, g), sc, sink)
        sinks.append(sink)
        keep.append(sc)
    tb.msg_connect((sup, "side"), (dbg, "store"))
    tb.start()
    while min(len(k.data()) for k in sinks) < n * SFMA_FRAME_LEN or dbg.num_messages() < 2 * n:
        if time.monotonic() - t0 > 120 + 2.0 * n:
            raise RuntimeError("the SC-SFMA transmitter did not send every frame")
        time.sleep(0.05)
    tb.stop()
    tb.wait()
    rng = np.random.default_rng(SEED + 1)
    x = [np.asarray(k.data()[: n * SFMA_FRAME_LEN]) for k in sinks]
    noise = []
    for u in range(4):
        sig = x[u // 2]  # users 0, 1 hear group 0's carrier; 2, 3 group 1's (sfma_usrp)
        p = float(np.mean(np.abs(sig) ** 2))
        v = p / 10 ** (SNR_DB / 10)
        y = sig + np.sqrt(v / 2) * (rng.standard_normal(sig.size)
                                    + 1j * rng.standard_normal(sig.size))  # fmt: skip
        y.astype(np.complex64).tofile(files[u])
        noise.append(v)
    side = [dbg.get_message(i) for i in range(dbg.num_messages())]
    lst = pmt.PMT_NIL  # a PMT list of the side dictionaries, in order
    for m in reversed(side):
        lst = pmt.cons(m, lst)
    side_path.write_bytes(pmt.serialize_str(lst))
    meta = {**cfg, "samples_per_channel": n * SFMA_FRAME_LEN, "channels": 4,
            "frame_len": SFMA_FRAME_LEN, "nu": nu, "tx_scale": tx_scale,
            "samp_rate": samp_rate, "noise_var": noise, "side_messages": len(side),
            "duty_cycle": 1.0, "seconds_to_make": round(time.monotonic() - t0, 1)}  # fmt: skip
    meta_path.write_text(json.dumps(meta))
    return files, meta


def run_sfma(files: list[Path], meta: dict, timeout_s: float = 900.0) -> dict:
    import pmt

    n = meta["frames"]
    side_path = files[0].parent / files[0].name.replace("_user0.c64", ".side.pmt")
    lst, side = pmt.deserialize_str(side_path.read_bytes()), []
    while pmt.is_pair(lst):
        side.append(pmt.car(lst))
        lst = pmt.cdr(lst)
    drop = ("usrp_sink", "scale_0", "scale_1", "superposer", "encoder")
    ref = {"period_ms": "1.0", "prefill": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        mod = file_example(ROOT / "examples" / "sfma_usrp.grc", Path(tmp),
                           [str(f) for f in files], drop,
                           {f"image_source_{u}": ref for u in range(4)})  # fmt: skip
    tb = mod.sfma_usrp_file(n_images=n, snr_db=SNR_DB)
    decs = [getattr(tb, f"decoder_{u}") for u in range(4)]
    for d in decs:
        for m in side:
            _post(d, "side", m)
    pdus: list = []
    stores = [_pdu_store(tb, d, pdus) for d in decs]

    def done() -> bool:
        return int(tb.metrics.counters()["results"]) >= 4 * n

    load0 = _loadavg()
    wall, cpu, ok = _run(tb, done, timeout_s)
    del stores
    good = [m for m in pdus if not m.get("erased")]
    rows = block_rows(tb, n)
    return {
        "recording": meta,
        "finished": ok,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "cpu_per_wall": round(cpu / wall, 3),
        "sfma_user_rx_sustained_msps": round(meta["samples_per_channel"] / wall / 1e6, 5),
        "sfma_user_rx_total_msps": round(4 * meta["samples_per_channel"] / wall / 1e6, 5),
        "sfma_user_rx_bursts_decoded_pct": round(100.0 * len(good) / (4 * n), 2),
        "frames_per_user": n,
        "pdus": len(pdus),
        "decoders": [d.counters() for d in decs],
        "metrics_summary": _short(tb.metrics.summary()),
        "per_block_ms_per_frame": rows,
        "load_before": load0,
        "load_after": _loadavg(),
        "uptime_after": _uptime(),
    }


# ---------------------------------------------------------------------------------------------


def plot(res: dict, path: Path) -> None:
    """Per-block CPU milliseconds per burst (MU-ASCC) and per frame (SC-SFMA) beside the wall
    time per burst / frame the radio allows and the one measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = [(k, res[k]) for k in ("mu_ascc_user", "sfma_user") if k in res]
    fig, axes = plt.subplots(1, len(parts), figsize=(6.5 * len(parts), 4.5), squeeze=False)
    for ax, (key, r) in zip(axes[0], parts, strict=True):
        rows = r.get("per_block_ms_per_burst") or r.get("per_block_ms_per_frame") or {}
        names = sorted(rows, key=lambda b: rows[b]["total"])
        ax.barh(names, [rows[b]["total"] for b in names], color="C0")
        if key == "mu_ascc_user":
            rec = r["recording"]
            n = rec["bursts"]
            budget = rec["period_samples"] / 2e6 * 1e3  # ms of stream per burst at 2 Msps
            title = (f"MU-ASCC user: {r['user_rx_sustained_msps']:.2f} Msps, "
                     f"{r['user_rx_bursts_decoded_pct']:.0f} % decoded")  # fmt: skip
            unit = "CPU ms per burst"
        else:
            n = r["frames_per_user"]
            budget = r["recording"]["frame_len"] / r["recording"]["samp_rate"] * 1e3
            title = (f"SC-SFMA users: {r['sfma_user_rx_sustained_msps'] * 1e3:.2f} kS/s per "
                     f"channel, {r['sfma_user_rx_bursts_decoded_pct']:.0f} % decoded")  # fmt: skip
            unit = "CPU ms per frame (4 users)"
        ax.axvline(r["wall_s"] * 1e3 / n, color="C3", label="wall time measured")
        ax.axvline(budget, color="C2", ls="--", label="the radio's budget (2 Msps)"
                   if key == "mu_ascc_user" else "the radio's budget (1 MS/s)")  # fmt: skip
        ax.set_xlabel(unit)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(f"user receivers on a recorded stream ({res['machine_note']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _median_run(run, repeats: int, rate: str, pct: str) -> dict:
    """``repeats`` runs of a chain on its recording: the run of median rate, with every run's
    rate, decoded share, wall and CPU time and the load (1-minute average) before it in
    ``runs``, and the worst decoded share of all in ``pct``."""
    runs = [run() for _ in range(max(1, repeats))]
    order = sorted(range(len(runs)), key=lambda i: runs[i][rate])
    out = dict(runs[order[len(runs) // 2]])
    out["runs"] = [{"msps": r[rate], "decoded_pct": r[pct], "wall_s": r["wall_s"],
                    "cpu_s": r["cpu_s"], "load_1min": r["load_before"][0]}
                   for r in runs]  # fmt: skip
    out[pct] = min(r[pct] for r in runs)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bursts", type=int, default=BURSTS)
    ap.add_argument("--frames", type=int, default=SFMA_FRAMES, help="SC-SFMA frames per user")
    ap.add_argument("--only", choices=("mu_ascc", "sfma"), default=None)
    ap.add_argument("--refresh", action="store_true", help="remake the recordings")
    ap.add_argument("--no-write", action="store_true", help="print, do not write the JSON")
    ap.add_argument("--repeats", type=int, default=REPEATS, help="runs of each chain")
    ap.add_argument(
        "--csi-helper",
        type=int,
        choices=(0, 1),
        default=1,
        help="MU-ASCC: the CSI estimator in a helper process (the example's default)",
    )
    a = ap.parse_args(argv if argv is not None else [])
    res: dict = {"load_at_start": _uptime(), "repeats": a.repeats}
    chains = {
        "mu_ascc": ("mu_ascc_user", "user_rx", "MU-ASCC user", "Msps", "bursts"),
        "sfma": ("sfma_user", "sfma_user_rx", "SC-SFMA users", "Msps per channel", "frames"),
    }
    for name, (key, prefix, label, unit, what) in chains.items():
        if a.only not in (None, name):
            continue
        if name == "mu_ascc":
            path, meta = make_recording(a.bursts, a.refresh)
            run = functools.partial(run_mu_ascc, path, meta, csi_helper=a.csi_helper)
            total = meta["bursts"]
        else:
            files, meta = make_sfma_recording(a.frames, a.refresh)
            run, total = functools.partial(run_sfma, files, meta), 4 * meta["frames"]
        rate, pct = f"{prefix}_sustained_msps", f"{prefix}_bursts_decoded_pct"
        r = _median_run(run, a.repeats, rate, pct)
        res[key] = r
        res[rate], res[pct] = r[rate], r[pct]
        print(f"{label}: {r[rate]} {unit}, {r[pct]} % of {total} {what} decoded, "
              f"wall {r['wall_s']} s, CPU {r.get('cpu_s')} s (median of "
              f"{[(x['msps'], x['load_1min']) for x in r['runs']]}: Msps, load)")  # fmt: skip
    res["targets"] = {"user_rx_sustained_msps": 2.0, "user_rx_bursts_decoded_pct": 100.0}
    if a.no_write:
        print(json.dumps(res, indent=1, default=str)[:4000])
        return
    res["machine_note"] = f"{cpu_model()}, {os.cpu_count()} cores, load {_loadavg()[0]}"
    path = write("user_rx", res)
    plot(res, RESULTS / "user_rx.png")
    print(f"wrote {path} and user_rx.png")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main(sys.argv[1:])
