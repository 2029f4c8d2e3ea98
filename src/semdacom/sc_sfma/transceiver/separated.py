#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The separated baseline of SC-SFMA ([2], Sec. IV-A, scheme 4: "BPG+LDPC+QAM", OMA and
NOMA) evaluated from the project's measured tables, without training:

* source: the classical codec (HEVC intra via x265 in HEIF, the BPG stand-in; its measured
  points ``classical_heif-x265_du_{mse,msssim}.json``: bits per image and distortion);
* channel: our LDPC + QAM codes, 15 MCS, measured BLER vs SNR at blocklength 256
  (``link_L256.json``); ``rc_effective`` information bits per channel use.

Adaptive modulation and coding: for a user with ``T`` channel uses per image at SINR ``g``,
every (MCS, codec point) whose bits fit (``R_s <= T rc_eff``) is a candidate; the chosen one
minimises the expected distortion ``(1 - p) d_s + p d_fail`` with ``p = 1 - (1 - BLER(g))^m``
(``m = R_s / k`` codewords of ``k`` information bits). A lost or unsendable image counts as
the mean Fashion-MNIST training image (``d_fail``), as the classical tables do.

* OMA: each user of a pair gets half the block, ``T = n / 2`` channel uses, at SINR ``s``
  (half the power on half the band).
* NOMA with SIC: both users on all ``n`` channel uses with power split ``alpha`` (user a) and
  ``1 - alpha`` (user b, the first layer); user b decodes its layer at
  ``(1 - alpha) s / (alpha s + 1)``; user a decodes b's layer first at the same SINR, cancels
  it, then its own at ``alpha s`` (an error in b's layer loses a's image too). ``alpha`` from
  {0.1, 0.2, 0.3, 0.4} and the MCS of each layer are chosen to minimise the pair's mean
  distortion.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from semdacom.sc_sfma.model import TABLES_DIR

__all__ = ["SeparatedScheme"]

ALPHAS = (0.1, 0.2, 0.3, 0.4)


class SeparatedScheme:
    """Expected MSE and MS-SSIM of the separated scheme (see the module docstring)."""

    def __init__(self, tables_dir: str | Path | None = None, link: str = "link_L256.json"):
        d = Path(tables_dir) if tables_dir else TABLES_DIR
        mse = json.loads((d / "classical_heif-x265_du_mse.json").read_text())
        ms = json.loads((d / "classical_heif-x265_du_msssim.json").read_text())
        self.rs = np.array([p["rs_bits"] for p in mse["points"]])
        self.mse = np.array([p["d_s"] for p in mse["points"]])
        rs_ms = np.array([p["rs_bits"] for p in ms["points"]])
        self.msssim = 1.0 - np.interp(self.rs, rs_ms, [p["d_s"] for p in ms["points"]])
        self.link = json.loads((d / link).read_text())
        self.mcs = self.link["mcs"]
        self.fail_mse, self.fail_msssim = self._mean_image_distortion()
        self.sources = {
            "codec": mse.get("codec"),
            "codec_tables": [mse.get("name"), ms.get("name")],
            "link": link,
        }

    @staticmethod
    def _mean_image_distortion() -> tuple[float, float]:
        from semdacom.data.datasets import load_fashion_mnist
        from semdacom.source_coding import metrics

        tr, _ = load_fashion_mnist("train")
        te, _ = load_fashion_mnist("test")
        mean = tr.astype(np.float32).mean(0) / 255.0
        x = te[:2000].astype(np.float32)[:, None] / 255.0
        m = np.broadcast_to(mean, x.shape[1:])[None].repeat(len(x), 0)
        return float(np.mean(metrics.mse(m, x))), float(np.mean(metrics.msssim(m, x)))

    def bler(self, i_mcs: int, sinr_db: float) -> float:
        """Measured BLER of MCS ``i_mcs`` at ``sinr_db`` (1 below the table, 0 above)."""
        e = self.mcs[i_mcs]
        s, b = np.asarray(e["snr_db"]), np.asarray(e["bler"], dtype=float)
        if sinr_db < s[0]:
            return 1.0
        if sinr_db > s[-1]:
            return float(b[-1])
        return float(np.interp(sinr_db, s, b))

    def _options(self, t_uses: float, sinr_db: float):
        """``(mse, msssim, p_fail)`` of every feasible (MCS, point), plus the all-fail option."""
        opts = [(self.fail_mse, self.fail_msssim, 1.0)]
        for i, e in enumerate(self.mcs):
            cap = t_uses * float(e["rc_effective"])
            k = float(e["codeword_k"][0])
            p_cw = self.bler(i, sinr_db)
            for rs, m, s in zip(self.rs, self.mse, self.msssim, strict=True):
                if rs > cap:
                    break
                p = 1.0 - (1.0 - p_cw) ** max(1.0, rs / k)
                opts.append((m, s, p))
        return opts

    def _expected(self, opt) -> tuple[float, float]:
        m, s, p = opt
        return (1 - p) * m + p * self.fail_mse, (1 - p) * s + p * self.fail_msssim

    def oma(self, n_uses: int, snr_db: float) -> dict:
        """One user on half of a pair's ``n_uses`` block at SNR ``snr_db`` (AMC on MSE)."""
        best = min(self._options(n_uses / 2.0, snr_db), key=lambda o: self._expected(o)[0])
        m, s = self._expected(best)
        return {"mse": m, "msssim": s, "psnr": 10 * math.log10(1 / m)}

    def noma_sic(self, n_uses: int, snr_db: float) -> dict:
        """The pair on all ``n_uses`` with SIC; mean over the two users (best alpha, MCS)."""
        s_lin = 10 ** (snr_db / 10)
        best = None
        for alpha in ALPHAS:
            g_b = 10 * math.log10((1 - alpha) * s_lin / (alpha * s_lin + 1))
            g_a = 10 * math.log10(alpha * s_lin)
            ob = self._options(float(n_uses), g_b)
            oa = self._options(float(n_uses), g_a)
            # user b's layer: its choice also gates user a (SIC); choose the pair jointly
            best_a = min(oa, key=lambda o: self._expected(o)[0])
            for o_b in ob:
                mb, sb = self._expected(o_b)
                p_b = o_b[2]
                ma_ok, sa_ok = self._expected(best_a)
                ma = (1 - p_b) * ma_ok + p_b * self.fail_mse
                sa = (1 - p_b) * sa_ok + p_b * self.fail_msssim
                cand = ((ma + mb) / 2, (sa + sb) / 2, alpha)
                if best is None or cand[0] < best[0]:
                    best = cand
        m, s, alpha = best
        return {"mse": m, "msssim": s, "psnr": 10 * math.log10(1 / m), "alpha": alpha}
