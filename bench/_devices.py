"""The learned models on each device there is (issue 23, Build 4): ``e2e.json`` keys of
``python bench/e2e.py --only devices``.

``learned_images_per_s``: images per second at a batch of :data:`BATCH` images of the learned
codec's encoder (``codec_encode``: analysis, hyper-analysis, rANS), its decoder
(``codec_decode``: rANS, synthesis), the semantic decoder (``semantic_decode``: rANS and
Q = E o G) and the SC-SFMA transceiver (``sc_sfma_transceiver``: :data:`BATCH` pairs encoded,
superposed, through AWGN at 10 dB and both users decoded, nu = 1/4; two images per pair), on
the CPU and, where ``torch.cuda.is_available()``, on CUDA in the same run (the blocks'
``device`` parameter loads the same shared models: ``shared_codec(device=...)``,
``shared_transceiver(device=...)``). Best of a few rounds (the machine may be shared); torch
intra-op threads as the process has them (``learned_cpu_threads``). ``learned_devices``
names the CPU and the GPU (or says that none was there).
"""

from __future__ import annotations

import numpy as np
import torch
from common import best_time, cpu_model

#: images per call (pairs for the SC-SFMA transceiver)
BATCH = 256


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _rates(dev: torch.device, x: np.ndarray) -> dict:
    from semdacom.sc_sfma.transceiver import shared_transceiver
    from semdacom.source_coding.codec import shared_codec

    codec = shared_codec(None, semantic=True, device=dev)
    r = codec.low_rate_levels + 4  # the hyperprior's point 4, as bench/_e2e_loopback.py
    streams = codec.encode(x, r)
    sfma = shared_transceiver("sc_sfma", device=dev)
    xa = torch.from_numpy(x[:, None].astype(np.float32) / 255.0).to(dev)
    xb = torch.roll(xa, 1, 0)
    snr = torch.full((BATCH,), 10.0)
    gen = torch.Generator().manual_seed(0)

    def timed(fn) -> float:
        def call():
            fn()
            _sync(dev)

        return best_time(call, repeats=3, min_time=0.5)

    with torch.no_grad():
        t = {
            "codec_encode": timed(lambda: codec.encode(x, r)),
            "codec_decode": timed(lambda: codec.decode(streams, r)),
            "semantic_decode": timed(lambda: codec.classify(streams, r)),
            "sc_sfma_transceiver": timed(lambda: sfma(xa, xb, 0.25, snr, snr, generator=gen)) / 2,
        }
    return {k: BATCH / v for k, v in t.items()}


def devices_keys() -> dict:
    from semdacom.data.datasets import load_fashion_mnist

    x, _ = load_fashion_mnist("test")
    x = np.ascontiguousarray(x[:BATCH])
    devs = [torch.device("cpu")]
    names = {"cpu": cpu_model()}
    if torch.cuda.is_available():
        devs.append(torch.device("cuda"))
        names["cuda"] = torch.cuda.get_device_name(0)
    else:
        names["cuda"] = "not available (torch.cuda.is_available() is False)"
    rates = {d.type: _rates(d, x) for d in devs}
    return {
        "learned_images_per_s": rates,
        "learned_batch": BATCH,
        "learned_devices": names,
        "learned_cpu_threads": torch.get_num_threads(),
    }
