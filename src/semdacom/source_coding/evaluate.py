#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Per-operating-point evaluation (rate table R_s, MS-SSIM, PSNR, SU accuracy) and BD-rate."""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from semdacom.source_coding import metrics
from semdacom.source_coding.codec import LearnedCodec

__all__ = ["bd_rate", "evaluate", "evaluate_decoded"]


@torch.no_grad()
def evaluate(
    codec: LearnedCodec,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    rate_indexes: list[int] | None = None,
    batch: int = 500,
    progress: bool = True,
) -> list[dict]:
    """Encode and decode ``images`` at each operating point with real bitstreams.

    Returns one row per point: ``index``, ``rs_bits`` (mean bits per image = R_s),
    ``msssim`` (mean), ``psnr_db`` (of the mean MSE), ``mse`` and, with labels and a semantic
    decoder, ``su_accuracy``.
    """
    rates = list(range(codec.levels)) if rate_indexes is None else list(rate_indexes)
    rows = []
    for r in tqdm(rates, desc="eval-codec", unit="point", disable=not progress):
        bits, ms, se, correct = [], [], [], 0
        for i in range(0, len(images), batch):
            xb = images[i : i + batch]
            streams = codec.encode(xb, r)
            bits.extend(8 * len(s) for s in streams)
            y_hat, erased, _ = codec.decode_latent(streams, r)
            dec = codec.images_from_latent(y_hat, erased, r)
            ref = codec.as_tensor(xb).cpu().numpy()
            ms.append(metrics.msssim(dec, ref))
            se.append(metrics.mse(dec, ref))
            if labels is not None and codec.semantic is not None:
                pred = codec.labels_from_latent(y_hat, erased, r)
                correct += int(np.sum(pred == labels[i : i + batch]))
        row = _row(codec, r, bits, ms, se)
        if labels is not None and codec.semantic is not None:
            row["su_accuracy"] = correct / len(images)
        rows.append(row)
    return rows


def evaluate_decoded(
    codec,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    rate_indexes: list[int] | None = None,
    batch: int = 500,
    progress: bool = True,
    desc: str = "eval-codec",
) -> list[dict]:
    """:func:`evaluate` for any codec with ``encode`` and ``decode`` (a ``DecodeResult``), e.g.
    :class:`.compressai_codec.CompressAICodec`: the SU accuracy is its classifier on the decoded
    image (``labels_from_images``, when it has one), and each row also counts the ``erased``
    images (scored as the codec's erasure fill)."""
    rates = list(range(codec.levels)) if rate_indexes is None else list(rate_indexes)
    clf = getattr(codec, "semantic", None) is not None and hasattr(codec, "labels_from_images")
    rows = []
    for r in tqdm(rates, desc=desc, unit="point", disable=not progress):
        bits, ms, se, correct, erased = [], [], [], 0, 0
        for i in range(0, len(images), batch):
            xb = images[i : i + batch]
            streams = codec.encode(xb, r)
            bits.extend(8 * len(s) for s in streams)
            res = codec.decode(streams, r)
            ref = np.asarray(codec.as_tensor(xb).cpu().numpy(), dtype=np.float32)
            ms.append(metrics.msssim(res.images, ref))
            se.append(metrics.mse(res.images, ref))
            erased += int(res.erased.sum())
            if labels is not None and clf:
                pred = codec.labels_from_images(res.images, res.erased)
                correct += int(np.sum(pred == labels[i : i + batch]))
        row = {**_row(codec, r, bits, ms, se), "erased": erased}
        if labels is not None and clf:
            row["su_accuracy"] = correct / len(images)
        rows.append(row)
    return rows


def _row(codec, r: int, bits, ms, se) -> dict:
    """One point's row: its index, mean bits (R_s), bpp, mean MS-SSIM, MSE and PSNR."""
    mse = float(np.mean(np.concatenate(se)))
    return {
        "index": r,
        "rs_bits": float(np.mean(bits)),
        "bpp": float(np.mean(bits)) / float(np.prod(codec.image_shape[1:])),
        "msssim": float(np.mean(np.concatenate(ms))),
        "mse": mse,
        "psnr_db": float(metrics.psnr_from_mse(mse)),
    }


def bd_rate(r_ref, d_ref, r_test, d_test) -> float:
    """Bjontegaard delta rate (percent) of ``test`` against ``ref``.

    Cubic fits of log rate against the quality ``d`` (PSNR, higher is better), integrated over
    the overlapping quality range; negative means the test codec needs fewer bits.
    """
    lr1, lr2 = np.log(np.asarray(r_ref, float)), np.log(np.asarray(r_test, float))
    d1, d2 = np.asarray(d_ref, float), np.asarray(d_test, float)
    deg1, deg2 = min(3, len(d1) - 1), min(3, len(d2) - 1)
    p1, p2 = np.polyfit(d1, lr1, deg1), np.polyfit(d2, lr2, deg2)
    lo, hi = max(d1.min(), d2.min()), min(d1.max(), d2.max())
    if hi <= lo:
        raise ValueError("the two curves have no overlapping quality range")
    i1 = np.polyval(np.polyint(p1), hi) - np.polyval(np.polyint(p1), lo)
    i2 = np.polyval(np.polyint(p2), hi) - np.polyval(np.polyint(p2), lo)
    return float((np.exp((i2 - i1) / (hi - lo)) - 1.0) * 100.0)
