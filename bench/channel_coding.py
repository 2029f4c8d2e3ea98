"""LDPC benchmark: our C++ layered min-sum against GNU Radio's fec.ldpc_decoder, and the gap of
the semdacom (512, 256) code to the normal approximation.

Part 1, on GNU Radio's own code /usr/share/gnuradio/fec/ldpc/n_1800_k_0902_gap_28.alist: the
same codewords (made by GNU Radio's fec.ldpc_encoder), the same BPSK/AWGN noise at Eb/N0 =
4 dB and the same iteration limit go through both decoders in this one process, pinned to one
CPU core (sched_setaffinity; numpy/BLAS threads limited to one). Throughput counts
information bits per second of decoding; GNU Radio's decoder runs in a minimal flowgraph
(vector source -> fec.decoder -> vector sink), whose overhead is negligible at its speed.

Part 2: BLER of the semdacom QC code n=512, k=256 (BPSK, AWGN, 50 iterations) on an Eb/N0
grid, each point run until 100 block errors (or 400k blocks); the Eb/N0 at BLER 1e-3 is
interpolated in log BLER between the two points around it, and compared with the normal
approximation of the BPSK-input AWGN channel (BI-AWGN capacity and dispersion, with the
(1/2) log2 n term) and of the Gaussian-input real AWGN channel.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402
from common import write  # noqa: E402
from scipy import optimize, special  # noqa: E402

ALIST = "/usr/share/gnuradio/fec/ldpc/n_1800_k_0902_gap_28.alist"
EBN0_DB = 4.0
ITERATIONS = 10


def _pin_one_core() -> int:
    cpu = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {cpu})
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    return cpu


def _grfec_run(dec, soft: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    from gnuradio import blocks, fec, gr

    tb = gr.top_block()
    src = blocks.vector_source_f(soft.reshape(-1).tolist())
    d = fec.decoder(dec, gr.sizeof_float, gr.sizeof_char)
    snk = blocks.vector_sink_b()
    tb.connect(src, d, snk)
    t0 = time.perf_counter()
    tb.run()
    dt = time.perf_counter() - t0
    return np.array(snk.data(), dtype=np.uint8).reshape(-1, k), dt


def compare_with_grfec(rng: np.random.Generator) -> dict:
    from gnuradio import blocks, fec, gr

    from semdacom.channel_coding import AlistCode

    ours = AlistCode(ALIST)
    enc = fec.ldpc_encoder.make(ALIST)
    k, n = fec.get_encoder_input_size(enc), fec.get_encoder_output_size(enc)
    frames_gr, frames_ours = 60, 6400
    u = rng.integers(0, 2, (frames_ours, k)).astype(np.uint8)
    tb = gr.top_block()
    src = blocks.vector_source_b(u.reshape(-1).tolist())
    snk = blocks.vector_sink_b()
    tb.connect(src, fec.encoder(enc, gr.sizeof_char, gr.sizeof_char), snk)
    tb.run()
    cw = np.array(snk.data(), dtype=np.uint8).reshape(-1, n)
    assert all(ours.mother.syndrome_weight(w) == 0 for w in cw[:20])
    rate = k / n
    s2 = 1.0 / (2.0 * rate * 10 ** (EBN0_DB / 10))
    y = 1.0 - 2.0 * cw + np.sqrt(s2) * rng.standard_normal(cw.shape)  # bit 0 -> +1

    # GNU Radio: try both sign conventions on noiseless input, keep the one it decodes.
    sign, clean_bler = 1.0, {}
    for sg in (1.0, -1.0):
        dec = fec.ldpc_decoder.make(ALIST, float(np.sqrt(s2)), ITERATIONS)
        out, _ = _grfec_run(dec, sg * (1.0 - 2.0 * cw[:10]), k)
        clean_bler[sg] = float(np.mean(np.any(out != u[:10], axis=1)))
    sign = min(clean_bler, key=clean_bler.get)
    dec = fec.ldpc_decoder.make(ALIST, float(np.sqrt(s2)), ITERATIONS)
    out, dt_gr = _grfec_run(dec, sign * y[:frames_gr], k)
    gr_bler = float(np.mean(np.any(out != u[:frames_gr], axis=1)))
    gr_mbps = frames_gr * k / dt_gr / 1e6

    d = ours.decoder(ITERATIONS)
    llr = (2.0 * y / s2).astype(np.float32)
    d.decode(llr[:64])  # warm up
    t0 = time.perf_counter()
    bits, its, ok = d.decode(llr)
    dt = time.perf_counter() - t0
    our_bler = float(np.mean(np.any(bits != cw, axis=1)))
    our_mbps = frames_ours * ours.k / dt / 1e6
    # The same codewords with early termination defeated (noise only): all 10 iterations.
    t0 = time.perf_counter()
    d.decode((0.01 * rng.standard_normal(llr.shape)).astype(np.float32))
    full_mbps = frames_ours * ours.k / (time.perf_counter() - t0) / 1e6
    return {
        "code": ALIST,
        "n": n,
        "k": k,
        "ebn0_db": EBN0_DB,
        "iterations": ITERATIONS,
        "ours_info_mbps": our_mbps,
        "ours_info_mbps_all_iterations": full_mbps,
        "ours_mean_iterations": float(np.mean(its)),
        "grfec_info_mbps": gr_mbps,
        "ratio": our_mbps / gr_mbps,
        "ours_bler": our_bler,
        "grfec_bler": gr_bler,
        "ours_frames": frames_ours,
        "grfec_frames": frames_gr,
        "grfec_sign_convention": "bit 0 -> +1" if sign > 0 else "bit 0 -> -1",
        "grfec_bler_noiseless": clean_bler[sign],
    }


def biawgn_na_bler(ebn0_db: np.ndarray | float, n: int, k: int) -> np.ndarray:
    """Normal approximation of the BPSK-input AWGN channel (BI-AWGN), with (1/2) log2 n."""
    x, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    out = []
    for e in np.atleast_1d(ebn0_db):
        s2 = 1.0 / (2.0 * (k / n) * 10 ** (e / 10))
        yv = 1.0 + np.sqrt(s2) * x
        i = 1.0 - np.logaddexp(0.0, -2.0 * yv / s2) / np.log(2.0)
        c = float(np.sum(w * i))
        v = float(np.sum(w * i * i) - c * c)
        out.append(special.ndtr(-(n * c - k + 0.5 * np.log2(n)) / np.sqrt(n * v)))
    return np.array(out)


def gaussian_na_bler(ebn0_db: float, n: int, k: int) -> float:
    """Normal approximation of the real AWGN channel with Gaussian input (eq. 8 per real use)."""
    snr = 2.0 * (k / n) * 10 ** (ebn0_db / 10)
    c = 0.5 * np.log2(1 + snr)
    v = snr * (snr + 2) / (2 * (snr + 1) ** 2) * np.log2(np.e) ** 2
    return float(special.ndtr(-(n * c - k + 0.5 * np.log2(n)) / np.sqrt(n * v)))


def gap_to_na(rng: np.random.Generator, n: int = 512, k: int = 256, iters: int = 50) -> dict:
    from tqdm import tqdm

    from semdacom.channel_coding import qc_code

    code = qc_code(n, k)
    grid = np.arange(2.4, 4.01, 0.2)
    pts = []
    batch = 8000
    for e in tqdm(grid, desc=f"BLER ({n},{k})", leave=False):
        s2 = 1.0 / (2.0 * (k / n) * 10 ** (e / 10))
        errs = blocks_run = 0
        while errs < 100 and blocks_run < 400_000:
            u = rng.integers(0, 2, (batch, k), dtype=np.uint8)
            cw = code.encode(u)
            y = 1.0 - 2.0 * cw + np.sqrt(s2) * rng.standard_normal(cw.shape)
            info, _, _ = code.decode(2.0 * y / s2, max_iterations=iters)
            errs += int(np.any(info != u, axis=1).sum())
            blocks_run += batch
        pts.append(
            {"ebn0_db": float(e), "bler": errs / blocks_run, "errors": errs, "blocks": blocks_run}
        )
        if errs / blocks_run < 3e-4 and errs >= 100:
            break
    bl = np.array([p["bler"] for p in pts])
    eb = np.array([p["ebn0_db"] for p in pts])
    i = int(np.flatnonzero(bl <= 1e-3)[0]) if np.any(bl <= 1e-3) else None
    if i is None or i == 0:
        ours_db = float("nan")
    else:
        a, b = np.log10(bl[i - 1]), np.log10(max(bl[i], 1e-12))
        ours_db = float(eb[i - 1] + (-3.0 - a) / (b - a) * (eb[i] - eb[i - 1]))
    na_bi = optimize.brentq(lambda e: biawgn_na_bler(e, n, k)[0] - 1e-3, -2.0, 10.0)
    na_g = optimize.brentq(lambda e: gaussian_na_bler(e, n, k) - 1e-3, -2.0, 10.0)
    return {
        "gap_code": repr(code),
        "gap_iterations": iters,
        "gap_points": pts,
        "ours_ebn0_db_at_bler_1e-3": ours_db,
        "na_biawgn_ebn0_db_at_bler_1e-3": float(na_bi),
        "na_gaussian_ebn0_db_at_bler_1e-3": float(na_g),
        "gap_to_na_db_n512_k256": ours_db - float(na_bi),
        "gap_to_gaussian_na_db_n512_k256": ours_db - float(na_g),
    }


def main() -> None:
    cpu = _pin_one_core()
    rng = np.random.default_rng(2026)
    res = {"cpu_pinned": cpu}
    res.update(compare_with_grfec(rng))
    res.update(gap_to_na(rng))
    path = write("channel_coding", res)
    keys = (
        "ours_info_mbps",
        "grfec_info_mbps",
        "ratio",
        "ours_bler",
        "grfec_bler",
        "gap_to_na_db_n512_k256",
        "ours_ebn0_db_at_bler_1e-3",
    )
    for key in keys:
        print(f"{key}: {res[key]}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
