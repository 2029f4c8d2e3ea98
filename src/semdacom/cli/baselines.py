#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Baseline commands: ``fit-classical`` and ``eval-baselines`` (MU-ASCC [1], Sec. V-A).

* ``fit-classical``: E2E distortion of the classical codec (HEVC intra via x265 in HEIF, the BPG
  stand-in; :mod:`semdacom.source_coding.classical`) against the BER, Monte-Carlo bit flips into
  the real streams, eq. (12)/(13) fit or a monotone tabulated curve, written to
  ``src/semdacom/data/tables/classical_heif-x265_{du_msssim,du_mse,su_error}.json`` (listed in
  the manifest) with Fig. 4-like plots in ``docs/figures``.
* ``eval-baselines``: per quality level of the classical codec bits/image, MS-SSIM, PSNR and SU
  accuracy next to the learned codec's operating point at the most similar bits/image, and the
  DeepJSCC rows (MS-SSIM/PSNR/accuracy against SNR).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from semdacom.cli.common import data_dir as _data_dir
from semdacom.cli.common import fit_meta, fit_tables, register_tables
from semdacom.cli.common import made_by as _made_by
from semdacom.cli.common import threads as _threads

DATASET = "fashion-mnist"


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.replace(",", " ").split()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from exc


def add_parser(sub: argparse._SubParsersAction) -> None:
    from semdacom.sweep import add_engine_args

    p = sub.add_parser(
        "fit-classical",
        help="E2E distortion vs BER of the classical codec (HEVC intra/HEIF), eq. (12)/(13)",
    )
    p.add_argument("--data-dir", default=None, help="shipped-data folder (default: checkout's)")
    p.add_argument("--n", type=int, default=1000, help="test images (first n)")
    p.add_argument(
        "--points", type=int, default=29, help="BER grid points over 1e-8..1e-1 (+ 0.2, 0.35, 0.5)"
    )
    p.add_argument("--trials", type=int, default=1, help="Monte-Carlo repetitions per BER")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-r2", type=float, default=0.95, help="below: tabulated monotone curve")
    p.add_argument("--figures", default="docs/figures", help="folder for the PNG plots")
    add_engine_args(p)
    p.set_defaults(func=run_fit_classical)

    p = sub.add_parser(
        "eval-baselines",
        help="classical codec vs learned codec per rate, and DeepJSCC vs SNR",
    )
    p.add_argument("--data-dir", default=None)
    p.add_argument("--n", type=int, default=2000, help="test images (first n)")
    p.add_argument(
        "--snrs",
        type=_floats,
        default=[0.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 17.5, 20.0],
        help="DeepJSCC SNRs in dB (comma separated)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write all rows to this JSON file")
    p.set_defaults(func=run_eval_baselines)


def run_fit_classical(args) -> int:
    from semdacom.data import file_sha256
    from semdacom.mu_ascc import distortion_fit as dfit
    from semdacom.source_coding.classical import ENCODER_PARAMS, NAME, ClassicalCodec

    _threads()
    data = _data_dir(args)
    clf_path = data / "weights" / "classifier.pt"
    codec = ClassicalCodec(classifier=clf_path, rate_table=False)
    # one sweep task per quality level (docs/sweeps.md); each worker builds the codec itself
    spec = dfit.codec_spec("classical", classifier=clf_path)
    paths, measures = fit_tables(
        args, data, "fit-classical", spec, codec, f"classical_{NAME}", file_sha256(clf_path)
    )
    import pillow_heif

    info = pillow_heif.libheif_info()
    meta = {
        "codec": NAME,
        "qualities": list(codec.qualities),
        "encoder": f"pillow-heif {pillow_heif.__version__}, libheif {info.get('libheif')}, "
        f"{info.get('HEIF')}, params {ENCODER_PARAMS}",
        "model_sha256_is": "sha256 of the classifier E used for the SU error",
        "stream": "HEVC IDR slice NAL unit without its length prefix and 2-byte NAL header; "
        "the HEIF container is rebuilt by the decoder (docs/mu_ascc/baselines.md)",
        "erasure": "erased images count as the mean Fashion-MNIST training image (DU); "
        "an erased SU label is -1, i.e. an error",
        **fit_meta(args, measures),
    }
    dfit.tabulate_tables(paths, min_r2=args.min_r2, meta=meta)
    register_tables(paths, data, DATASET, args.figures, named=True)
    return 0


def evaluate_classical(codec, images, labels, progress: bool = True) -> list[dict]:
    """Per quality index: bits/image, MS-SSIM, PSNR (of the mean MSE), SU accuracy, erasures."""
    import numpy as np
    from tqdm import tqdm

    from semdacom.source_coding import metrics

    ref = codec.as_array(images)
    rows = []
    for r in tqdm(range(codec.levels), desc="classical", unit="level", disable=not progress):
        streams = codec.encode(images, r)
        res = codec.decode(streams, r)
        mse = float(np.mean(metrics.mse(res.images, ref)))
        row = {
            "index": r,
            "quality": codec.qualities[r],
            "rs_bits": float(np.mean([8 * len(s) for s in streams])),
            "msssim": float(np.mean(metrics.msssim(res.images, ref))),
            "mse": mse,
            "psnr_db": float(metrics.psnr_from_mse(mse)),
            "erased": int(res.erased.sum()),
        }
        if labels is not None and codec.semantic is not None:
            pred = codec.labels_from_images(res.images, res.erased)
            row["su_accuracy"] = float(np.mean(pred == labels))
        rows.append(row)
    return rows


def run_eval_baselines(args) -> int:
    import numpy as np

    from semdacom.data.datasets import load_fashion_mnist
    from semdacom.source_coding.classical import ClassicalCodec
    from semdacom.source_coding.codec import LearnedCodec
    from semdacom.source_coding.evaluate import evaluate

    _threads()
    data = _data_dir(args)
    images, labels = load_fashion_mnist("test")
    images, labels = images[: args.n], labels[: args.n]
    clf = data / "weights" / "classifier.pt"
    classical = ClassicalCodec(classifier=clf if clf.exists() else False)
    c_rows = evaluate_classical(classical, images, labels)
    l_rows: list[dict] = []
    try:
        learned = LearnedCodec.load()
        l_rows = evaluate(learned, images, labels)
    except Exception as exc:  # the learned codec is optional for this table
        print(f"learned codec: not available ({type(exc).__name__}: {exc})")

    def acc(row) -> str:
        return f"{row['su_accuracy']:.4f}" if "su_accuracy" in row else "   -  "

    print(
        f"\nFashion-MNIST test split, first {len(images)} images, real bitstreams. "
        f"Classical = {classical.name} (HEVC intra via x265 in HEIF, header stripped; "
        "BPG stand-in) vs learned hyperprior_vbr at the most similar bits/image."
    )
    hdr = (
        f"{'q-idx':>5} {'x265 q':>6} {'bits/img':>9} {'MS-SSIM':>8} {'PSNR dB':>8} "
        f"{'SU acc':>7} {'eras':>5} | {'pt':>3} {'bits/img':>9} {'MS-SSIM':>8} "
        f"{'PSNR dB':>8} {'SU acc':>7}"
    )
    print(hdr)
    print("-" * len(hdr))
    lb = np.array([r["rs_bits"] for r in l_rows]) if l_rows else None
    for r in c_rows:
        left = (
            f"{r['index']:>5} {r['quality']:>6} {r['rs_bits']:>9.1f} {r['msssim']:>8.4f} "
            f"{r['psnr_db']:>8.2f} {acc(r):>7} {r['erased']:>5}"
        )
        if lb is not None:
            j = int(np.argmin(np.abs(np.log(lb) - np.log(r["rs_bits"]))))
            m = l_rows[j]
            r["learned_match"] = m["index"]
            right = (
                f"{m['index']:>3} {m['rs_bits']:>9.1f} {m['msssim']:>8.4f} "
                f"{m['psnr_db']:>8.2f} {acc(m):>7}"
            )
        else:
            right = "  (learned codec not available)"
        print(f"{left} | {right}")

    d_rows: list[dict] = []
    print("\nDeepJSCC (analog, AWGN), MS-SSIM / PSNR / SU accuracy vs channel SNR:")
    try:
        from semdacom.source_coding.djscc import evaluate_snr_grid

        d_rows = evaluate_snr_grid(
            np.asarray(images, dtype=np.uint8),
            np.asarray(labels),
            list(args.snrs),
            weights=None,
            seed=args.seed,
        )
        hdr = (
            f"{'SNR dB':>7} {'MS-SSIM':>8} {'PSNR dB':>8} {'SU acc':>7} {'bw ratio':>9} "
            f"{'train dB':>9}"
        )
        print(hdr)
        print("-" * len(hdr))
        for r in d_rows:
            print(
                f"{float(r['snr_db']):>7.1f} {float(r['msssim']):>8.4f} "
                f"{float(r['psnr_db']):>8.2f} {float(r['accuracy']):>7.4f} "
                f"{float(r['bandwidth_ratio']):>9.4f} {float(r['train_snr_db']):>9.1f}"
            )
    except Exception as exc:  # another engineer's module; optional here
        print(f"DeepJSCC: not available ({type(exc).__name__}: {exc})")

    if args.json:
        doc = {
            "dataset": DATASET,
            "split": "test",
            "n_images": len(images),
            "made_by": _made_by(),
            "classical": {"codec": classical.name, "rows": c_rows},
            "learned": {"codec": "hyperprior_vbr", "rows": l_rows},
            "djscc": {"rows": [{k: _plain(v) for k, v in r.items()} for r in d_rows]},
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


def _plain(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)
