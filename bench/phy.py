"""PHY benchmark: superposition beamformer (eq. 5) and MU-MISO channel (eq. 6).

C++ kernels against numpy references, measured side by side in one run on the
same data, plus the C++ blocks inside a GNU Radio flowgraph. Throughput is in
Msps = millions of time samples per second (each sample is K user symbols in,
N_t antenna samples out for the beamformer; N_t in, K out for the channel).

numpy references:
- `numpy_msps`: the direct transcription of the equation, one outer product
  per user summed (eq. 5) / h_i^H x per user plus numpy Gaussian noise (eq. 6);
- `numpy_matmul_msps`: the same maths as one BLAS matrix product.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from common import best_time, write
from gnuradio import blocks, gr, semdacom

N = 1 << 15  # samples per call: the size of a typical GNU Radio buffer


def _unit_rows(rng: np.random.Generator, k: int, n_t: int) -> np.ndarray:
    w = rng.standard_normal((k, n_t)) + 1j * rng.standard_normal((k, n_t))
    return w / np.linalg.norm(w, axis=1, keepdims=True)


def bench_beamformer(k: int, n_t: int, rng: np.random.Generator) -> dict:
    p = rng.uniform(0.1, 2.0, k)
    w = _unit_rows(rng, k, n_t)
    g = (rng.standard_normal((k, N)) + 1j * rng.standard_normal((k, N))).astype(np.complex64)
    out = np.empty((n_t, N), np.complex64)
    kern = semdacom.superposition_kernel(k, n_t)
    kern.set_allocation(list(p), list(w.astype(np.complex64).reshape(-1)))

    def cpp() -> None:
        kern.process(g, out)

    sp = np.sqrt(p).astype(np.float32)
    w64 = w.astype(np.complex64)

    def numpy_direct() -> np.ndarray:
        x = np.zeros((n_t, N), np.complex64)
        for i in range(k):
            x += sp[i] * np.outer(w64[i], g[i])
        return x

    c = (sp[:, None] * w64).T.copy()  # (N_t, K)

    def numpy_matmul() -> np.ndarray:
        return c @ g

    ref = numpy_matmul()
    cpp()
    err = float(np.max(np.abs(out - ref)))
    return {
        **_rates(cpp, numpy_direct, numpy_matmul),
        "max_abs_err": err,
        "cpp_block_msps": _block_msps(
            semdacom.superposition_beamformer(k, n_t, list(p), list(w64.reshape(-1)), 0), k, n_t
        ),
    }


def bench_channel(k: int, n_t: int, rng: np.random.Generator) -> dict:
    h = (rng.standard_normal((k, n_t)) + 1j * rng.standard_normal((k, n_t))).astype(np.complex64)
    nv = rng.uniform(0.5, 2.0, k)
    x = (rng.standard_normal((n_t, N)) + 1j * rng.standard_normal((n_t, N))).astype(np.complex64)
    out = np.empty((k, N), np.complex64)
    kern = semdacom.miso_channel_kernel(k, n_t, 1)
    kern.set_channel(list(h.reshape(-1)))
    kern.set_noise_var(list(nv))

    def cpp() -> None:
        kern.process(x, out)

    hc = h.conj()
    sd = np.sqrt(nv / 2).astype(np.float32)[:, None]
    nrng = np.random.default_rng(2)

    def noise() -> np.ndarray:
        z = nrng.standard_normal((k, 2 * N), dtype=np.float32).view(np.complex64)
        return sd * z

    def numpy_direct() -> np.ndarray:
        y = np.empty((k, N), np.complex64)
        for i in range(k):
            y[i] = hc[i] @ x
        return y + noise()

    def numpy_matmul() -> np.ndarray:
        return hc @ x + noise()

    return {
        **_rates(cpp, numpy_direct, numpy_matmul),
        "cpp_block_msps": _block_msps(
            semdacom.miso_channel(k, n_t, list(h.reshape(-1)), list(nv), 1, 0, 0), n_t, k
        ),
    }


def _rates(
    cpp: Callable[[], object], direct: Callable[[], object], matmul: Callable[[], object]
) -> dict:
    """Samples per second of the C++ kernel and of the two numpy references, and the speedups."""
    t_cpp, t_np, t_mm = best_time(cpp), best_time(direct), best_time(matmul)
    return {
        "cpp_msps": N / t_cpp / 1e6,
        "numpy_msps": N / t_np / 1e6,
        "numpy_matmul_msps": N / t_mm / 1e6,
        "speedup_vs_numpy": t_np / t_cpp,
        "speedup_vs_numpy_matmul": t_mm / t_cpp,
    }


def _block_msps(blk: gr.basic_block, n_in: int, n_out: int, n: int = 1 << 23) -> float:
    """Throughput of a block between null sources (with head) and null sinks."""
    tb = gr.top_block()
    for i in range(n_in):
        src = blocks.null_source(gr.sizeof_gr_complex)
        head = blocks.head(gr.sizeof_gr_complex, n)
        tb.connect(src, head, (blk, i))
    for o in range(n_out):
        tb.connect((blk, o), blocks.null_sink(gr.sizeof_gr_complex))
    t0 = time.perf_counter()
    tb.run()
    return n / (time.perf_counter() - t0) / 1e6


def main() -> dict:
    rng = np.random.default_rng(0)
    res = {
        "samples_per_call": N,
        "beamformer": {
            "k2_nt2": bench_beamformer(2, 2, rng),
            "k8_nt8": bench_beamformer(8, 8, rng),
        },
        "channel": {
            "k2_nt2": bench_channel(2, 2, rng),
            "k8_nt8": bench_channel(8, 8, rng),
        },
    }
    # the top-level keys: the superposition beamformer
    res.update(res["beamformer"])
    path = write("phy", res)
    for name in ("beamformer", "channel"):
        for key in ("k2_nt2", "k8_nt8"):
            r = res[name][key]
            print(
                f"{name:10s} {key}: C++ {r['cpp_msps']:8.1f} Msps  numpy {r['numpy_msps']:7.1f}"
                f" (matmul {r['numpy_matmul_msps']:7.1f})  x{r['speedup_vs_numpy']:5.1f}"
                f"  block in flowgraph {r['cpp_block_msps']:7.1f} Msps"
            )
    print(f"wrote {path}")
    return res


if __name__ == "__main__":
    main()
