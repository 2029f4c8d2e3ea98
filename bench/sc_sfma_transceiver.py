"""SC-SFMA transceiver benchmark (SC-SFMA [2], Sec. II-B, IV-B):

* ``images_per_s_batch256``: images per second through the whole SC-SFMA chain (encode pair
  with SCFM, Rate-ModNet and code mask, superposition, AWGN per user, both users' decoders) for
  a batch of 256 pairs (512 images), ``nu`` = :data:`NU`, on this machine's CPU with one torch
  thread per core (``SEMDACOM_THREADS`` overrides); ``..._1thread`` with one thread.
* ``params``: trainable parameters of the shipped SC-SFMA model (``params_by_model`` for all).
* ``psnr_db_snr10``: PSNR (of the mean MSE, both users) at received SNR 10 dB and ``nu`` =
  :data:`NU` on :data:`N_PER_CLASS` Fashion-MNIST test pairs per pair class, even over
  ``same``/``related``/``dissimilar`` (``pair_class`` = "all"); ``psnr_db_snr10_by_class``
  splits it by class.
* ``xi_r2_min``: the smallest R^2 of the eq. (10) fits over the pair classes of the shipped
  ``sfma_xi_sc_sfma.json`` (``xi_r2_min_by_model`` adds SwinJSCC+NOMA's).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from common import best_time, write

from semdacom.sc_sfma.model import load_xi_table
from semdacom.sc_sfma.transceiver import MODELS, load_transceiver
from semdacom.sc_sfma.transceiver.evaluate import eval_pairs, reconstruct
from semdacom.source_coding import metrics

NU = 0.5
SNR_DB = 10.0
N_PER_CLASS = 200


def main() -> dict:
    cores = os.cpu_count() or 1
    threads = int(os.environ.get("SEMDACOM_THREADS", str(cores)))
    models = {m: load_transceiver(m, device="cpu") for m in MODELS}
    sc = models["sc_sfma"]
    pairs = eval_pairs(N_PER_CLASS)
    xa = torch.cat([p[0] for p in pairs.values()])[:256]
    xb = torch.cat([p[1] for p in pairs.values()])[:256]
    g = torch.Generator().manual_seed(0)

    def run():
        with torch.no_grad():
            sc(xa, xb, NU, SNR_DB, generator=g)

    torch.set_num_threads(threads)
    t = best_time(run, repeats=3, min_time=0.5)
    torch.set_num_threads(1)
    t1 = best_time(run, repeats=3, min_time=0.5)
    torch.set_num_threads(threads)
    psnr, by_class = {}, {}
    for name, m in models.items():
        se, per = [], {}
        for cls, (a, b, _, _) in pairs.items():
            ha, hb = reconstruct(m, a, b, NU, SNR_DB, seed=1)
            e = np.concatenate([metrics.mse(ha, a), metrics.mse(hb, b)])
            per[cls] = round(float(metrics.psnr_from_mse(e.mean())), 3)
            se.append(e)
        psnr[name] = round(float(metrics.psnr_from_mse(np.concatenate(se).mean())), 3)
        by_class[name] = per
    r2 = {}
    for name in ("sc_sfma", "swinjscc_noma"):
        tab = load_xi_table(f"sfma_xi_{name}.json")
        r2[name] = round(min(tab.r2.values()), 4)
    out = {
        "images_per_s_batch256": round(512 / t, 1),
        "images_per_s_batch256_1thread": round(512 / t1, 1),
        "threads": threads,
        "params": int(sum(p.numel() for p in sc.parameters())),
        "params_by_model": {
            n: int(sum(p.numel() for p in m.parameters())) for n, m in models.items()
        },
        "psnr_db_snr10": psnr,
        "psnr_db_snr10_by_class": by_class,
        "xi_r2_min": r2["sc_sfma"],
        "xi_r2_min_by_model": r2,
        "nu": NU,
        "cbr": sc.bandwidth_ratio(NU),
        "snr_db": SNR_DB,
        "pair_class": "all (even over same/related/dissimilar)",
        "n_pairs_per_class": N_PER_CLASS,
        "weights": {n: m.weights_file for n, m in models.items()},
    }
    path = write("sc_sfma_transceiver", out)
    print(
        f"sfma: {out['images_per_s_batch256']} img/s (batch 256 pairs, {threads} threads), "
        f"{out['params']} params, PSNR at 10 dB nu {NU}: {psnr}, xi R2 min {out['xi_r2_min']}"
    )
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()
