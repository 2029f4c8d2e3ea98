"""Learned-codec benchmark (MU-ASCC [1], Sec. II-B): speed, rate span, memory, BD-rate.

* ``images_per_s_batch1`` / ``images_per_s_batch256``: real encode + decode to and from bytes
  (analysis, entropy coding, guarded decoding, synthesis) of 28x28 Fashion-MNIST images per
  second, middle operating point, on this machine's CPU with all its cores: one worker thread
  per core (``LearnedCodec(workers=...)``, each with one torch thread; ``SEMDACOM_THREADS``
  overrides the worker count). ``..._1thread`` is one worker, ``..._torch_threads`` one worker
  with a torch thread per core (torch's own intra-op parallelism, for comparison), and
  ``..._top_point`` all workers at the highest operating point. ``stage_us_per_image`` splits one
  batch-256 pass into its stages (analysis, entropy coding, synthesis).
* ``bits_span_ratio``: highest / lowest mean bits per image of the VBR model.
* ``bd_rate_vbr_vs_separate_pct``: Bjontegaard delta rate (PSNR) of the one variable-rate model
  against the fixed-rate models trained separately at four of its lambdas (positive = the VBR
  model needs that many percent more bits for the same PSNR), on the first ``N_EVAL`` test
  images, over the PSNR range both cover. ``bd_rate_vbr_vs_separate_lower_pct`` leaves out the
  highest-rate reference; ``fixed_points[i].vbr_extra_bits_pct`` compares point by point.
* ``vbr_model_bytes`` / ``separate_models_bytes``: weight files of the one VBR model and of the
  separately trained models (the four trained here, and scaled to one per VBR point).
* ``colour`` (issue 25): the shipped colour model (``semdacom/data/colour``, 32x32 RGB) on
  crops of the photographs held back from its training (``COLOUR_CROPS_PER_PHOTO`` per
  photograph, at the training crops' scales), against the HEVC-intra stand-in (x265 in HEIF,
  YUV 4:2:0, headers stripped) on the same crops: images/s (encode + decode, batch 256, middle
  point), bpp span, every point's bpp / PSNR / MS-SSIM, PSNR of both at matched bpp, and the
  BD-rate (PSNR) of the colour model against the stand-in (positive: it needs that many
  percent more bits).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from common import best_time, write

from semdacom.data.datasets import load_fashion_mnist
from semdacom.source_coding.codec import WEIGHTS_DIR, LearnedCodec, load_codec
from semdacom.source_coding.evaluate import bd_rate, evaluate

N_EVAL = 1000
#: Crops per held-out photograph of the colour section, and the bpp at which both codecs'
#: PSNR is read off.
COLOUR_CROPS_PER_PHOTO = 400
MATCHED_BPP = (0.4, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0)


def _psnr_at(bpp: np.ndarray, psnr: np.ndarray, at: float) -> float | None:
    """PSNR at ``at`` bpp on the log-rate interpolation of a codec's points (None outside)."""
    if not bpp.min() <= at <= bpp.max():
        return None
    return float(np.interp(np.log(at), np.log(bpp), psnr))


def colour(threads: int) -> dict:
    """The ``colour`` section (module docstring)."""
    from semdacom.cli.demo_colour import COLOUR_WEIGHTS
    from semdacom.data.photos import HELD_OUT, installed_photos, train_crops
    from semdacom.source_coding.classical import ClassicalCodec, heif_available
    from semdacom.source_coding.evaluate import evaluate_decoded

    held = [ph for ph in installed_photos() if ph.name in HELD_OUT]
    if not held or not heif_available():
        return {"skipped": "held-out photographs (mate-backgrounds) or pillow-heif missing"}
    crops = train_crops(held, 32, COLOUR_CROPS_PER_PHOTO, seed=7)
    x = np.ascontiguousarray(crops.transpose(0, 3, 1, 2))
    ours = LearnedCodec.load(COLOUR_WEIGHTS, semantic=False, workers=threads)
    hevc = ClassicalCodec(image_shape=(3, 32, 32), classifier=False, rate_table=False)
    res = {"test_set": f"{len(x)} 32x32 crops of the held-out photographs "
           f"{', '.join(ph.name for ph in held)} (mate-backgrounds, GPL-2+)",
           "weights": "semdacom/data/colour/weights/hyperprior_vbr.pt"}  # fmt: skip
    batch = x[:256]
    for name, codec in (("colour_model", ours), ("hevc_intra_stand_in", hevc)):
        mid = codec.levels // 2
        t = best_time(lambda c=codec, m=mid: c.decode(c.encode(batch, m), m), repeats=3)
        rows = evaluate_decoded(codec, x, progress=False, desc=name)
        for r in rows:
            r["bpp"] = r["rs_bits"] / (32 * 32)
        bpp = np.array([r["bpp"] for r in rows])
        res[name] = {
            "images_per_s_batch256": 256.0 / t,
            "bpp_min": float(bpp.min()),
            "bpp_max": float(bpp.max()),
            "bpp_span_ratio": float(bpp.max() / bpp.min()),
            "points": rows,
        }
    a, b = res["colour_model"]["points"], res["hevc_intra_stand_in"]["points"]
    ab, ap = np.array([r["bpp"] for r in a]), np.array([r["psnr_db"] for r in a])
    bb, bp = np.array([r["bpp"] for r in b]), np.array([r["psnr_db"] for r in b])
    res["psnr_db_at_matched_bpp"] = [
        {"bpp": v, "colour_model": _psnr_at(ab, ap, v), "hevc_intra_stand_in": _psnr_at(bb, bp, v)}
        for v in MATCHED_BPP
    ]
    res["bd_rate_colour_vs_hevc_pct"] = bd_rate(bb * 1024, bp, ab * 1024, ap)
    return res


def _stages(codec: LearnedCodec, x: np.ndarray, r: int) -> dict:
    """Microseconds per image of each stage of a batch encode + decode (best of 3)."""
    from semdacom.source_coding import bitstream

    m = codec.model
    xt = codec.as_tensor(x)
    xp, _ = m.pad(xt)
    ri = torch.full((len(x),), r, dtype=torch.long)
    with torch.no_grad():
        _, ig = m.gains(ri)
        yg = m.analysis(xp, ri)
        z = m.h_a(torch.abs(yg)).double()
        y_hat = torch.round(yg) * ig
    streams = codec.encode(x, r)
    parts = [bitstream.split_stream(s) for s in streams]
    ys = [p[1] for p in parts]
    y_idx = codec._scale_indexes(torch.round(z))
    y_sym = torch.round(yg).int().reshape(len(x), -1).numpy()
    n = len(x)

    def us(fn):
        return best_time(fn, repeats=3, min_time=0.2) / n * 1e6

    with torch.no_grad():
        return {
            "g_a": us(lambda: m.analysis(xp, ri)),
            "h_a": us(lambda: m.h_a(torch.abs(yg))),
            "h_s_float64_and_scale_index": us(lambda: codec._scale_indexes(torch.round(z))),
            "rans_encode_y": us(lambda: codec._y_coder.encode(y_sym, y_idx)),
            "rans_decode_y": us(lambda: codec._y_coder.decode(ys, y_idx, 255)),
            "g_s": us(lambda: m.synthesis(y_hat, ri)),
            "encode_total": us(lambda: codec.encode(x, r)),
            "decode_total": us(lambda: codec.decode(streams, r)),
        }


def main() -> dict:
    cores = os.cpu_count() or 1
    threads = int(os.environ.get("SEMDACOM_THREADS", str(cores)))
    images, labels = load_fashion_mnist("test")
    vbr_path = WEIGHTS_DIR / "hyperprior_vbr.pt"
    codec = LearnedCodec.load(vbr_path, semantic=False, workers=threads)
    single = LearnedCodec.load(vbr_path, semantic=False, workers=1)
    mid = codec.levels // 2

    def run(batch):
        x = images[:batch]
        return lambda: codec.decode(codec.encode(x, mid), mid)

    def run_single(batch):
        x = images[:batch]
        return lambda: single.decode(single.encode(x, mid), mid)

    def run_top(batch):
        x = images[:batch]
        top = codec.levels - 1
        return lambda: codec.decode(codec.encode(x, top), top)

    torch.set_num_threads(threads)
    t256_torch = best_time(run_single(256), repeats=3, min_time=0.5)
    torch.set_num_threads(1)
    t256_1 = best_time(run_single(256), repeats=3, min_time=0.5)
    stages = _stages(single, images[:256], mid)
    t1 = best_time(run(1), repeats=5, min_time=0.3)
    t256 = best_time(run(256), repeats=3, min_time=0.5)
    t256_top = best_time(run_top(256), repeats=3, min_time=0.5)

    rows = evaluate(codec, images[:N_EVAL], progress=False)
    vbr_bits = np.array([r["rs_bits"] for r in rows])
    vbr_psnr = np.array([r["psnr_db"] for r in rows])
    fixed_paths = sorted(WEIGHTS_DIR.glob("hyperprior_fixed_*.pt"))
    fixed = []
    for p in fixed_paths:
        c = LearnedCodec(load_codec(p))
        r = evaluate(c, images[:N_EVAL], progress=False)[0]
        fixed.append({"file": p.name, "lambda": load_codec(p).lambdas[0], **r})
    res = {
        "images": N_EVAL,
        "operating_point_for_speed": mid,
        "workers": threads,
        "torch_threads_per_worker": 1,
        "images_per_s_batch1": 1.0 / t1,
        "images_per_s_batch256": 256.0 / t256,
        "images_per_s_batch256_1thread": 256.0 / t256_1,
        "images_per_s_batch256_torch_threads": 256.0 / t256_torch,
        "images_per_s_batch256_top_point": 256.0 / t256_top,
        "stage_us_per_image_1thread": stages,
        "bits_span_ratio": float(vbr_bits.max() / vbr_bits.min()),
        "vbr_points": rows,
        "fixed_points": fixed,
        "vbr_model_bytes": vbr_path.stat().st_size,
        "separate_models_bytes": int(sum(p.stat().st_size for p in fixed_paths)),
        "separate_models_count": len(fixed_paths),
        "separate_models_bytes_for_all_points": int(
            np.mean([p.stat().st_size for p in fixed_paths]) * codec.levels
        )
        if fixed_paths
        else None,
        "bd_rate_vbr_vs_separate_pct": None,
    }
    if len(fixed) >= 2:
        fb, fp = [f["rs_bits"] for f in fixed], [f["psnr_db"] for f in fixed]
        res["bd_rate_vbr_vs_separate_pct"] = bd_rate(fb, fp, vbr_bits, vbr_psnr)
        if len(fixed) >= 3:  # without the highest-rate reference (the hardest one to train)
            res["bd_rate_vbr_vs_separate_lower_pct"] = bd_rate(fb[:-1], fp[:-1], vbr_bits, vbr_psnr)
        # point by point: the VBR model's bits at each fixed model's PSNR (log-rate interpolation)
        for f in fixed:
            inside = vbr_psnr.min() <= f["psnr_db"] <= vbr_psnr.max()
            bits = float(np.exp(np.interp(f["psnr_db"], vbr_psnr, np.log(vbr_bits))))
            f["vbr_bits_at_same_psnr"] = bits if inside else None
            f["vbr_extra_bits_pct"] = 100.0 * (bits / f["rs_bits"] - 1.0) if inside else None
    res["colour"] = colour(threads)
    path = write("source_coding", res)
    print(
        f"encode+decode: {res['images_per_s_batch1']:.0f} images/s (batch 1), "
        f"{res['images_per_s_batch256']:.0f} images/s (batch 256)"
    )
    print(
        f"bits span {res['bits_span_ratio']:.2f}x; VBR model {res['vbr_model_bytes']} B vs "
        f"{res['separate_models_count']} separate models {res['separate_models_bytes']} B; "
        f"BD-rate VBR vs separate: {res['bd_rate_vbr_vs_separate_pct']}"
    )
    c = res["colour"]
    if "skipped" not in c:
        print(
            f"colour: {c['colour_model']['images_per_s_batch256']:.0f} images/s, bpp "
            f"{c['colour_model']['bpp_min']:.2f}..{c['colour_model']['bpp_max']:.2f}; BD-rate vs "
            f"the HEVC-intra stand-in {c['bd_rate_colour_vs_hevc_pct']:+.1f} %"
        )
    print(f"wrote {path}")
    return res


if __name__ == "__main__":
    main()
