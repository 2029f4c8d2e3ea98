"""``semdacom demo-sc-sfma``: the SC-SFMA closed loop (examples/sfma_loopback.grc) headless, on
users whose content overlaps.

SC-SFMA is for users whose content overlaps (users in one place asking for views of one scene).
The demo gives the loopback's four users such streams: two users (``--overlap-users``, default
0 and 1) receive two views of the same Fashion-MNIST test images of one class
(:func:`semdacom.sc_sfma.transceiver.overlap.overlap_pairs`: shifts, rotations, contrast,
noise, overlapping crops, blends), the other two unrelated test images of other classes
(``--other-classes``). Each user's images are written as an ``.npz`` that its ``image_source``
reads (docs/your_images.md), and the flowgraph's ``labels`` (the classes the channel publishes
in its CSI and the optimiser plans with) are the users' true classes. Where the shipped tables
hold the ``overlap`` class, the optimiser's ``scenes`` tell it that the two overlapping users
share a scene (their pair is planned as ``overlap``). The loopback is compiled with grcc from a
copy of examples/sfma_loopback.grc that differs only in those parameters, then run to the end:
every image in must come out as exactly one result.

It reports

1. the allocation in force: the optimiser's pairing, nu per group (the nu the encoder kept,
   k/C), power and bandwidth (and their shares of P_max and B), as the results carry them;
2. per user: images in / results out, the PSNR and MS-SSIM the flowgraph's metrics sink
   measured, next to the library's prediction for that user's allocation (the SC-SFMA
   distortion table the optimiser plans with, at the pair class it plans with -- ``overlap``
   for the users who share a scene where the tables have it, else the label class), and next
   to the library chain on the same image pairs, nu and received SNRs (``encode_pair`` ->
   ``superpose`` -> ``awgn`` -> ``decode``, the same noise draws) of SC-SFMA and of
   SwinJSCC+NOMA (the same transceiver without SCFM);
3. out/demo/sc_sfma_report.json and out/demo/sc_sfma_report.png (per group: originals,
   partners, SC-SFMA reconstructions from the flowgraph, SwinJSCC+NOMA reconstructions
   offline).

Models and tables are always the shipped ones, loaded by name.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np

from semdacom.cli.common import UsageError
from semdacom.cli.examples import compile_example, find_example, load_flowgraph_module, run_until

#: Users of examples/sfma_loopback.grc (two groups).
K = 4
#: Images per user by default (the loopback's request size; about 30 s on two busy cores).
IMAGES = 64
#: Fashion-MNIST class names.
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")  # fmt: skip
#: Library noise draws per image of the offline chains.
DRAWS = 4
#: Image pairs per group shown in the report's picture.
SHOWN = 8
#: The decoder block's clamp of the SNR it conditions the network on (sfma_decoder).
SNR_RANGE_DB = (-30.0, 60.0)
#: The transceiver without SCFM compared on the same pairs.
ABLATION = "swinjscc_noma"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo-sc-sfma",
        help="run the SC-SFMA closed loop (sfma_loopback.grc) headless on users whose "
        "content overlaps",
    )
    p.add_argument("--images", type=int, default=IMAGES, help="images per user")
    p.add_argument(
        "--overlap-users",
        type=int,
        nargs=2,
        default=[0, 1],
        metavar=("A", "B"),
        help="the two users that receive two views of the same images",
    )
    p.add_argument(
        "--overlap-class", type=int, default=0, help="Fashion-MNIST class of their images"
    )
    p.add_argument(
        "--other-classes",
        type=int,
        nargs=2,
        default=[7, 5],
        help="classes of the other two users' (unrelated) images",
    )
    p.add_argument("--seed", type=int, default=0, help="views' transforms and channel noise")
    p.add_argument("--d-max", type=float, default=0.3, help="the optimiser's distortion threshold")
    p.add_argument("--request-images", type=int, default=64, help="images per user request (S_i)")
    p.add_argument("--out", type=Path, default=Path("out/demo"))
    p.set_defaults(func=run)


# --------------------------------------------------------------------------------- content
def build_content(
    n: int, overlap: tuple[int, int], overlap_class: int, other_classes, seed: int, root: Path
) -> dict:
    """The users' image streams, written as ``root/user<u>.npz`` (images uint8 ``(n, 28, 28)``,
    labels): the overlapping users two views of the same ``n`` test images of
    ``overlap_class`` (:func:`overlap_pairs`, seeded), the others ``n`` test images each of
    ``other_classes`` (none shared with anyone). Returns ``{"images": {u: uint8 array},
    "labels": [K], "users": [per-user description], "kinds": [n], "paths": {u: Path}}``."""
    import torch

    from semdacom.data.datasets import load_fashion_mnist
    from semdacom.sc_sfma.transceiver.overlap import overlap_pairs

    a, b = (int(u) for u in overlap)
    if a == b or not (0 <= a < K and 0 <= b < K):
        raise UsageError(f"--overlap-users: two different users of 0..{K - 1}, got {overlap}")
    classes = [int(c) for c in (overlap_class, *other_classes)]
    if any(not 0 <= c <= 9 for c in classes):
        raise UsageError(f"classes must be Fashion-MNIST classes 0..9, got {classes}")
    if n < 1:
        raise UsageError(f"--images must be >= 1, got {n}")
    test, test_labels = load_fashion_mnist("test")
    used: set[int] = set()

    def take(cls: int) -> np.ndarray:  # the first n unused test images of class cls
        idx = [int(i) for i in np.nonzero(test_labels == cls)[0] if int(i) not in used][:n]
        if len(idx) < n:
            raise UsageError(f"fewer than {n} unused test images of class {cls}")
        used.update(idx)
        return np.asarray(idx)

    rng = np.random.default_rng(seed)
    base = take(classes[0])
    x = torch.from_numpy(test[base].astype(np.float32) / 255.0)[:, None]
    xa, xb, kinds = overlap_pairs(x, rng)
    to_u8 = lambda t: np.round(t[:, 0].numpy() * 255.0).astype(np.uint8)  # noqa: E731
    images = {a: to_u8(xa), b: to_u8(xb)}
    labels = [0] * K
    users: list[dict] = [{} for _ in range(K)]
    for u, view in ((a, "a"), (b, "b")):
        labels[u] = classes[0]
        users[u] = {"user": u, "class": classes[0], "overlaps_with": b if u == a else a,
                    "content": f"view {view} of overlap_pairs of the test images",
                    "test_ids": base.tolist()}  # fmt: skip
    others = [u for u in range(K) if u not in (a, b)]
    for u, cls in zip(others, classes[1:], strict=True):
        ids = take(cls)
        images[u] = test[ids].copy()
        labels[u] = cls
        users[u] = {"user": u, "class": cls, "overlaps_with": None,
                    "content": "unrelated test images", "test_ids": ids.tolist()}  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    paths = {}
    for u in range(K):
        paths[u] = root / f"user{u}.npz"
        np.savez(paths[u], images=images[u], labels=np.full(n, labels[u], np.int64))
        users[u]["class_name"] = CLASS_NAMES[labels[u]]
        users[u]["npz"] = str(paths[u])
    return {"images": images, "labels": labels, "users": users, "kinds": list(kinds),
            "paths": paths, "overlap": (a, b)}  # fmt: skip


# ------------------------------------------------------------------------------- flowgraph
def demo_flowgraph(content: dict, out_dir: Path) -> Path:
    """examples/sfma_loopback.grc with each ``image_source`` reading its user's ``.npz``, the
    ``labels`` variable set to the users' classes, the optimiser's ``scenes`` to
    ``content["scenes"]`` when given, written to ``out_dir`` and compiled with grcc; returns the
    generated Python file."""
    import yaml

    grc = find_example("sfma_loopback")
    doc = yaml.safe_load(grc.read_text())
    seen = set()
    for blk in doc["blocks"]:
        par = blk["parameters"]
        if blk["id"] == "semdacom_image_source":
            u = int(par["user"])
            par.update(folder=repr(str(content["paths"][u].resolve())), start="0",
                       size="28", fit="'crop'", mode="'L'")  # fmt: skip
            seen.add(f"source{u}")
        elif blk["id"] == "variable" and blk["name"] == "labels":
            par["value"] = repr([int(c) for c in content["labels"]])
            seen.add("labels")
        elif blk["id"] == "semdacom_sfma_superposer":
            content["power_split"] = float(par.get("power_split", 0.5))
        elif blk["id"] == "semdacom_sfma_optimizer" and content.get("scenes") is not None:
            # the overlapping users share a scene: the optimiser plans their pair as "overlap"
            par["scenes"] = repr([int(c) for c in content["scenes"]])
    want = {*(f"source{u}" for u in range(K)), "labels"}
    if seen != want:
        raise RuntimeError(f"{grc}: expected blocks not found: {sorted(want - seen)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / grc.name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return compile_example(path, out_dir)


def _complete(counts: dict, n: int) -> bool:
    """All ``n`` results in, all ``n`` references in, none waiting for its reference."""
    return counts["results"] >= n and counts["refs"] >= n and counts["pending"] == 0


def run_loop(mod, args: argparse.Namespace) -> dict:
    """One run of the loopback: the decoders' results (meta, image) per user, the metrics
    sink's summary, the optimiser's allocation and the blocks' counters."""
    import pmt
    from gnuradio import blocks
    from gnuradio.semdacom import messages

    n = int(args.images)
    tb = mod.sfma_loopback(n_images=n, seed=int(args.seed), d_max=float(args.d_max),
                           request_images=int(args.request_images))  # fmt: skip
    probes = {u: blocks.message_debug() for u in range(K)}
    for u in range(K):
        tb.msg_connect((getattr(tb, f"decoder_{u}"), "pdus"), (probes[u], "store"))
    # an optimiser that finds no allocation leaves the encoder waiting HOLD_TIMEOUT_S (30 s)
    wall = run_until(tb, lambda: _complete(tb.metrics.summary()["counts"], K * n),
                     90.0 + 2.0 * n, describe=tb.metrics.summary)  # fmt: skip
    results: dict[int, list] = {u: [] for u in range(K)}
    for u in range(K):
        for i in range(probes[u].num_messages()):
            msg = probes[u].get_message(i)
            try:
                meta, img = messages.unpack_image_pdu(msg)
                img = img[0]
            except messages.MessageError:  # an erasure without pixels
                meta, img = messages.meta_from_pmt(pmt.car(msg)), None
            results[u].append((meta, img))
    return {
        "wall_s": wall,
        "results": results,
        "summary": tb.metrics.summary(),
        "alloc": tb.optimizer.last_allocation(),
        "optimizer": tb.optimizer.counters(),
        "optimizer_reason": tb.optimizer.last_reason(),
        "encoder": tb.encoder.counters(),
        "sources": {u: getattr(tb, f"image_source_{u}").counters() for u in range(K)},
        "p_max": float(tb.p_max),
        "bandwidth": float(tb.bandwidth),
    }


# ----------------------------------------------------------------------------- predictions
def _bilinear(s_grid, v_grid, z, s: float, v: float) -> float:
    """``z[i_snr, i_nu]`` interpolated at ``(s, v)``, clamped to the grid."""
    s_grid, v_grid, z = (np.asarray(a, dtype=float) for a in (s_grid, v_grid, z))
    col = np.array([np.interp(v, v_grid, row) for row in z])
    return float(np.interp(s, s_grid, col))


def predict(table, cls: str, snr_db: float, nu: float) -> dict | None:
    """The distortion table's prediction for a user of pair class ``cls`` at ``snr_db``, ``nu``:
    the class's mean PSNR and MS-SSIM (bilinear in SNR and nu, clamped to the grid), and the
    envelope 1 - MS-SSIM the optimiser plans with (eq. (17) at the conservative SNR level)."""
    entry = table.raw.get("classes", {}).get(cls)
    if entry is None:
        return None
    s_grid, v_grid = table.snr_db, table.raw.get("nu", table.env_nu[cls])
    out = {"class": cls, "envelope_1_msssim": float(table.distortion(cls, snr_db, nu))}
    for key in ("psnr", "msssim"):
        z = entry.get(key)
        out[key if key == "msssim" else "psnr_db"] = (
            None if z is None else _bilinear(s_grid, v_grid, z, snr_db, nu)
        )
    out["snr_outside_grid"] = not (s_grid[0] <= snr_db <= s_grid[-1])
    return out


# --------------------------------------------------------------------------------- offline
def group_frames(results: dict) -> dict:
    """The coded pairs: ``{(frame, group): {slot: meta}}`` of the results that were decoded."""
    frames: dict = {}
    for items in results.values():
        for meta, _ in items:
            if "group" in meta and "slot" in meta and not meta.get("erased"):
                frames.setdefault((int(meta["frame"]), int(meta["group"])), {})[
                    int(meta["slot"])
                ] = meta
    return {k: v for k, v in frames.items() if set(v) == {0, 1}}


def offline(frames: dict, images: dict, variants, split: float, draws: int, seed: int) -> dict:
    """Each variant's library chain on the flowgraph's pairs (same images, slots, nu and
    received SNRs), ``draws`` noise draws per pair, the same draws for every variant. Returns
    ``{variant: {user: {"mse": {image_id: [per draw]}, "msssim": {...}, "recon": {image_id:
    uint8}}}}`` (the reconstructions of the first draw)."""
    import torch

    from semdacom.sc_sfma.transceiver import awgn, load_transceiver, superpose
    from semdacom.source_coding import metrics

    by_nu: dict[float, list[dict]] = {}
    for _, slots in sorted(frames.items()):
        by_nu.setdefault(float(slots[0]["nu"]), []).append(slots)
    out: dict = {}
    for variant in variants:
        model = load_transceiver(variant, device="cpu")
        res = {u: {"mse": {}, "msssim": {}, "recon": {}} for u in range(K)}
        for k, (nu, groups) in enumerate(sorted(by_nu.items())):
            x = [
                torch.from_numpy(
                    np.stack([images[gr[r]["user"]][gr[r]["image_id"]] for gr in groups])
                    .astype(np.float32)[:, None] / 255.0
                )
                for r in (0, 1)
            ]  # fmt: skip
            with torch.no_grad():
                sa, sb, masks = model.encode_pair(x[0], x[1], nu)
                sup = superpose(sa, sb, split)
                for d in range(draws):
                    for r in (0, 1):  # each user its own noise; every variant the same draws
                        gen = torch.Generator().manual_seed(seed + 1000 * k + 10 * d + r)
                        snr = torch.tensor([float(gr[r]["snr_db"]) for gr in groups])
                        cond = snr.clamp(*SNR_RANGE_DB)
                        y = awgn(sup, snr, generator=gen)
                        xh = model.decode(y, masks[:, r], nu, r, cond)
                        xh = torch.round(xh.clamp(0, 1) * 255.0) / 255.0
                        ms = metrics.msssim(xh, x[r])
                        se = metrics.mse(xh, x[r])
                        for i, gr in enumerate(groups):
                            u = int(gr[r]["user"])
                            iid = int(gr[r]["image_id"])
                            res[u]["mse"].setdefault(iid, []).append(float(se[i]))
                            res[u]["msssim"].setdefault(iid, []).append(float(ms[i]))
                            if d == 0:
                                img = (xh[i, 0].numpy() * 255.0).round().astype(np.uint8)
                                res[u]["recon"][int(gr[r]["image_id"])] = img
        out[variant] = res
    return out


def _scores(res: dict) -> dict:
    """PSNR of the mean MSE and mean MS-SSIM over every image and draw (the metrics sink's
    definitions)."""
    mse = [v for vals in res["mse"].values() for v in vals]
    if not mse:
        return {"psnr_db": None, "msssim": None}
    ms = [v for vals in res["msssim"].values() for v in vals]
    return {
        "psnr_db": float(10 * math.log10(1.0 / max(float(np.mean(mse)), 1e-10))),
        "msssim": float(np.mean(ms)),
    }


def paired_gain(a: dict, b: dict, n_boot: int = 2000, seed: int = 0) -> dict:
    """PSNR (of the mean MSE) of ``a`` minus that of ``b`` on the same images and noise draws,
    with a 95 % bootstrap interval over the images (resampled with replacement), and the same
    for the mean MS-SSIM. ``a``, ``b``: :func:`offline` entries of one user."""
    ids = sorted(set(a["mse"]) & set(b["mse"]))
    if not ids:
        return {"psnr_db": None, "msssim": None, "images": 0}
    ma, mb = (np.array([np.mean(x["mse"][i]) for i in ids]) for x in (a, b))
    sa, sb = (np.array([np.mean(x["msssim"][i]) for i in ids]) for x in (a, b))
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(ids), (n_boot, len(ids)))

    def gain(m1, m2):
        return 10 * np.log10(np.maximum(m2, 1e-10) / np.maximum(m1, 1e-10))

    out: dict = {"images": len(ids)}
    boots = gain(ma[pick].mean(1), mb[pick].mean(1))
    out["psnr_db"] = {"mean": float(gain(ma.mean(), mb.mean())),
                      "ci95": [float(v) for v in np.quantile(boots, [0.025, 0.975])]}  # fmt: skip
    boots = sa[pick].mean(1) - sb[pick].mean(1)
    out["msssim"] = {"mean": float(sa.mean() - sb.mean()),
                     "ci95": [float(v) for v in np.quantile(boots, [0.025, 0.975])]}  # fmt: skip
    return out


def _per_image(items: list, originals: np.ndarray) -> list[dict]:
    """Each result's PSNR and MS-SSIM against the image sent (the metrics sink's metrics)."""
    from semdacom.source_coding import metrics

    out = []
    for meta, img in items:
        row = {"image_id": meta.get("image_id"), "frame": meta.get("frame"),
               "erased": bool(meta.get("erased", False))}  # fmt: skip
        if img is not None and meta.get("image_id") is not None:
            x = img[None].astype(np.float32) / 255.0
            r = originals[int(meta["image_id"])][None].astype(np.float32) / 255.0
            row["psnr_db"] = float(metrics.psnr_from_mse(metrics.mse(x, r))[0])
            row["msssim"] = float(metrics.msssim(x, r)[0])
        out.append(row)
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


# ------------------------------------------------------------------------------------- run
def run(args: argparse.Namespace) -> int:
    import torch

    from semdacom.sc_sfma import model as sfma_model
    from semdacom.sc_sfma.transceiver import weights_path
    from semdacom.sc_sfma.transceiver.overlap import content_similarity
    from semdacom.sc_sfma.xi import OVERLAP_CLASS, pair_class

    torch.set_num_threads(1)
    t0 = time.monotonic()
    n = int(args.images)
    out = Path(args.out)
    content = build_content(n, tuple(args.overlap_users), args.overlap_class,
                            args.other_classes, args.seed, out / "sc_sfma_images")  # fmt: skip
    a, b = content["overlap"]
    dist_name = "sfma_distortion_sc_sfma.json"
    try:
        table = sfma_model.load_distortion_table(dist_name)
        xi_classes = set(sfma_model.load_xi_table("sfma_xi_sc_sfma.json").params)
    except FileNotFoundError:
        table = sfma_model.synthetic_distortion_table("sc_sfma", seed=200)
        xi_classes = set(sfma_model.synthetic_xi_table("sc_sfma", seed=100).params)
        dist_name = "synthetic (no shipped table)"
    # the optimiser knows users a and b share a scene where the tables have that class
    plan_overlap = OVERLAP_CLASS in table.classes and OVERLAP_CLASS in xi_classes
    content["scenes"] = [0 if u in (a, b) else -1 for u in range(K)] if plan_overlap else None
    mod = load_flowgraph_module(demo_flowgraph(content, out / "flowgraphs" / "sc_sfma"))
    kinds = dict(Counter(content["kinds"]))
    print(
        f"sfma_loopback ({find_example('sfma_loopback')}): {K} users, {n} images each; users "
        f"{a} and {b} see two views of the same {n} {CLASS_NAMES[args.overlap_class]} test "
        f"images (overlap_pairs: {', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}), "
        + ", ".join(
            f"user {u} unrelated {content['users'][u]['class_name']} images"
            for u in range(K)
            if u not in (a, b)
        )
    )
    loop = run_loop(mod, args)
    results, summary, alloc = loop["results"], loop["summary"], loop["alloc"]

    # the allocation in force, as the results carry it
    frames = group_frames(results)
    groups: dict[int, dict] = {}
    for (_, m), slots in sorted(frames.items()):
        g = groups.setdefault(m, {"group": m, "users": [int(slots[0]["user"]),
                                  int(slots[1]["user"])], "frames": 0, "nu": set(),
                                  "alloc_seq": set(), "similarity": []})  # fmt: skip
        g["frames"] += 1
        g["nu"].add(float(slots[0]["nu"]))
        g["alloc_seq"].add(slots[0].get("alloc_seq"))
        xs = [content["images"][slots[r]["user"]][slots[r]["image_id"]] for r in (0, 1)]
        g["similarity"].append(float(content_similarity(xs[0][None], xs[1][None])[0]))
    solved = alloc is not None
    for m, g in groups.items():
        u0, u1 = g["users"]
        g["overlap"] = {u0, u1} == {a, b}
        g["label_class"] = pair_class(content["labels"][u0], content["labels"][u1])
        g["planned_class"] = (OVERLAP_CLASS if plan_overlap and g["overlap"]
                              else g["label_class"])  # fmt: skip
        g["nu"] = sorted(g["nu"])
        g["alloc_seq"] = sorted(s for s in g["alloc_seq"] if s is not None)
        from_opt = solved and g["alloc_seq"] == [alloc.seq]
        p = float(alloc.group_power[m]) if from_opt else loop["p_max"] / (K // 2)
        bw = float(alloc.group_bw[m]) if from_opt else loop["bandwidth"] / (K // 2)
        g.update(power_w=p, bw_hz=bw, power_share=p / loop["p_max"],
                 bw_share=bw / loop["bandwidth"], from_optimiser=bool(from_opt),
                 nu_planned=float(alloc.nu[m]) if from_opt else None,
                 similarity_mean=float(np.mean(g["similarity"])))  # fmt: skip
        del g["similarity"]

    # offline library chains on the same pairs
    off = offline(frames, content["images"], ("sc_sfma", ABLATION), content["power_split"],
                  DRAWS, 1234 + int(args.seed))  # fmt: skip
    users = []
    for u in range(K):
        metas = [meta for meta, _ in results[u]]
        ids = [int(meta["image_id"]) for meta in metas if "image_id" in meta]
        us = summary["users"].get(str(u), {})
        sent = int(loop["sources"][u]["pdus_out"])
        one_each = sorted(ids) == list(range(sent)) and len(metas) == sent
        ok = [meta for meta in metas if "group" in meta]
        grp = groups.get(int(ok[0]["group"])) if ok else None
        partner = int(ok[0]["partner"]) if ok else None
        snr = float(np.mean([float(meta["snr_db"]) for meta in ok if "snr_db" in meta] or [0]))
        nu = float(ok[0]["nu"]) if ok else float("nan")
        pred = {}
        if partner is not None:
            cls = pair_class(content["labels"][u], content["labels"][partner])
            if {u, partner} == {a, b} and OVERLAP_CLASS in table.classes:
                pred["overlap"] = predict(table, OVERLAP_CLASS, snr, nu)
                if plan_overlap:
                    cls = OVERLAP_CLASS
            pred["planned"] = predict(table, cls, snr, nu)
        users.append({
            "user": u,
            "class": content["labels"][u],
            "overlaps_with": content["users"][u]["overlaps_with"],
            "group": None if grp is None else grp["group"],
            "partner": partner,
            "partner_overlaps": partner is not None and {u, partner} == {a, b},
            "images_in": sent,
            "results_out": len(metas),
            "one_result_per_image": bool(one_each),
            "erased": int(us.get("erased", 0)),
            "snr_db": snr,
            "nu": nu,
            "measured": {"psnr_db": us.get("psnr_db"), "msssim": us.get("msssim")},
            "predicted": pred.get("planned"),
            "predicted_overlap_class": pred.get("overlap"),
            "library_sc_sfma": _scores(off["sc_sfma"][u]),
            "library_swinjscc_noma": _scores(off[ABLATION][u]),
            "sc_sfma_minus_swinjscc_noma": paired_gain(off["sc_sfma"][u], off[ABLATION][u]),
            "per_image": _per_image(results[u], content["images"][u]),
        })  # fmt: skip

    _print(users, groups, alloc, loop, content, dist_name)
    lost = sum(r["images_in"] - r["results_out"] for r in users)
    every = all(r["one_result_per_image"] for r in users)
    print(f"images in - results out: {lost}; every image one result: {every}")
    report = {
        "flowgraph": str(find_example("sfma_loopback")),
        "images_per_user": n,
        "seed": int(args.seed),
        "d_max": float(args.d_max),
        "request_images": int(args.request_images),
        "wall_s": time.monotonic() - t0,
        "flowgraph_wall_s": loop["wall_s"],
        "models": {v: {"weights": weights_path(v).name, "sha256": _sha(weights_path(v))}
                   for v in ("sc_sfma", ABLATION)},  # fmt: skip
        "distortion_table": {"name": dist_name, "synthetic": bool(table.synthetic),
                             "classes": list(table.classes), "metric": table.metric},
        "library_draws_per_image": DRAWS,
        "similarity": "content_similarity: largest pixel correlation over shifts <= 2 px "
        "(semdacom.sc_sfma.transceiver.overlap), of the pairs actually coded together",
        "planned_with_scenes": content["scenes"],
        "prediction": "predicted: the sc_sfma distortion table at the pair class the optimiser "
        "plans with ('overlap' for the users who share a scene where the tables have that "
        "class, else the label classes), mean PSNR / MS-SSIM bilinear in SNR and nu, and the "
        "envelope 1 - MS-SSIM of eq. (17) the optimiser plans with; predicted_overlap_class: "
        "the table's 'overlap' class where it has one",
        "content": {"overlap_users": [a, b], "overlap_class": int(args.overlap_class),
                    "overlap_kinds": content["kinds"], "users": content["users"]},
        "optimizer": _alloc_json(alloc, loop),
        "groups": [groups[m] for m in sorted(groups)],
        "users": users,
        "images_in_minus_results_out": lost,
        "every_image_one_result": every,
    }  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "sc_sfma_report.json").write_text(json.dumps(report, indent=1))
    _plot(report, results, off, content, out / "sc_sfma_report.png")
    print(f"wrote {out / 'sc_sfma_report.json'} and {out / 'sc_sfma_report.png'} "
          f"({report['wall_s']:.0f} s)")  # fmt: skip
    return 0 if lost == 0 and every else 1


def _alloc_json(alloc, loop: dict) -> dict:
    c = loop["optimizer"]
    base = {"counters": c, "last_reason": loop["optimizer_reason"]}
    if alloc is None:
        return {"solved": False, **base}
    pairs = [int(v) for v in alloc.pairs]
    return {
        "solved": True,
        "seq": int(alloc.seq),
        "solver": alloc.solver,
        "objective_bit_s": None if alloc.objective is None else float(alloc.objective),
        "solve_ms": None if alloc.solve_ms is None else float(alloc.solve_ms),
        "pairs": [pairs[i : i + 2] for i in range(0, len(pairs), 2)],
        "nu": [float(v) for v in alloc.nu],
        "power_w": [float(v) for v in alloc.group_power],
        "bw_hz": [float(v) for v in alloc.group_bw],
        "power_share": [float(v) / loop["p_max"] for v in alloc.group_power],
        "bw_share": [float(v) / loop["bandwidth"] for v in alloc.group_bw],
        **base,
    }


def _f(v, fmt: str = "7.2f") -> str:
    return "-" if v is None else format(v, fmt)


def _print(users, groups, alloc, loop, content, dist_name) -> None:
    if alloc is None:
        print(f"optimiser: no allocation ({loop['optimizer_reason']}); the blocks ran with "
              "their fixed pairing, nu and P/M, B/M")  # fmt: skip
    else:
        obj = "-" if alloc.objective is None else f"{float(alloc.objective) / 1e6:.2f} Mbit/s"
        print(f"optimiser: allocation {alloc.seq} ({alloc.solver}, sum rate {obj}) in force")
    print(
        f"{'group':>5} {'users':>5} {'overlap':>7} {'planned as':>11} {'nu':>6} {'P (W)':>7} "
        f"{'P share':>7} {'B (MHz)':>7} {'B share':>7} {'similarity':>10}"
    )
    for m in sorted(groups):
        g = groups[m]
        print(f"{m:5d} {g['users'][0]:>2},{g['users'][1]:<2} {'yes' if g['overlap'] else 'no':>7} "
              f"{g['planned_class']:>11} {','.join(f'{v:.3f}' for v in g['nu']):>6} "
              f"{g['power_w']:7.4f} {g['power_share']:7.3f} {g['bw_hz'] / 1e6:7.3f} "
              f"{g['bw_share']:7.3f} {g['similarity_mean']:10.3f}")  # fmt: skip
    print(
        f"PSNR (dB) and MS-SSIM per user: flowgraph measured | table prediction ({dist_name}, "
        "the class the optimiser plans with) | library SC-SFMA and SwinJSCC+NOMA on the same "
        "pairs, nu, SNRs"
    )
    hdr = (f"{'user':>4} {'in/out':>7} {'erased':>6} {'partner':>7} {'SNR dB':>6} {'nu':>5} "
           f"{'PSNR meas':>9} {'pred':>6} {'lib SC':>6} {'lib Swin':>8} {'MSSSIM meas':>11} "
           f"{'pred':>6} {'plan>=':>6} {'lib SC':>6} {'lib Swin':>8}")  # fmt: skip
    print(hdr)
    print("-" * len(hdr))
    for r in users:
        p = r["predicted"] or {}
        print(f"{r['user']:4d} {r['images_in']:>3}/{r['results_out']:<3} {r['erased']:6d} "
              f"{_f(r['partner'], 'd'):>4}{'*' if r['partner_overlaps'] else ' ':3} "
              f"{r['snr_db']:6.2f} {r['nu']:5.3f} {_f(r['measured']['psnr_db'], '9.3f')} "
              f"{_f(p.get('psnr_db'), '6.2f')} {_f(r['library_sc_sfma']['psnr_db'], '6.2f')} "
              f"{_f(r['library_swinjscc_noma']['psnr_db'], '8.2f')} "
              f"{_f(r['measured']['msssim'], '11.4f')} {_f(p.get('msssim'), '6.3f')} "
              f"{_f(1 - p['envelope_1_msssim'] if p else None, '6.3f')} "
              f"{_f(r['library_sc_sfma']['msssim'], '6.3f')} "
              f"{_f(r['library_swinjscc_noma']['msssim'], '8.3f')}")  # fmt: skip
    print(
        "(* partner's images overlap this user's; pred = the table's mean at the pair class "
        "the optimiser plans with; plan>= = 1 - its envelope (eq. 17), the MS-SSIM the "
        "optimiser planned for)"
    )
    print("SC-SFMA - SwinJSCC+NOMA on the same pairs and noise draws (library), mean [95 % CI "
          "over images]:")  # fmt: skip
    for r in users:
        d = r["sc_sfma_minus_swinjscc_noma"]
        if d["psnr_db"] is None:
            continue
        ps, ms = d["psnr_db"], d["msssim"]
        who = "overlapping" if r["partner_overlaps"] else "unrelated"
        print(
            f"  user {r['user']} ({who} partner): PSNR {ps['mean']:+.3f} dB "
            f"[{ps['ci95'][0]:+.3f}, {ps['ci95'][1]:+.3f}], MS-SSIM {ms['mean']:+.4f} "
            f"[{ms['ci95'][0]:+.4f}, {ms['ci95'][1]:+.4f}]"
        )
    for r in users:
        q = r["predicted_overlap_class"]
        if q is not None:
            print(
                f"user {r['user']}: the table's 'overlap' class predicts PSNR "
                f"{_f(q['psnr_db'], '.2f')} dB, MS-SSIM {_f(q['msssim'], '.3f')}"
            )


# ------------------------------------------------------------------------------------ plot
def _plot(report: dict, results: dict, off: dict, content: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    users, groups = report["users"], report["groups"]
    shown = min(SHOWN, report["images_per_user"])
    rows_per_group = 6
    heights = [3.2] + [1.15 * rows_per_group] * len(groups)
    fig = plt.figure(figsize=(11, sum(heights)))
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights, hspace=0.3,
                            top=1 - 0.5 / sum(heights))  # fmt: skip
    bars = grid[0].subgridspec(1, 2, wspace=0.25).subplots()
    x = np.arange(len(users))
    series = (
        ("measured (flowgraph)", lambda r, k: r["measured"][k]),
        ("predicted (table)", lambda r, k: (r["predicted"] or {}).get(k)),
        ("SC-SFMA (library, same pairs)", lambda r, k: r["library_sc_sfma"][k]),
        ("SwinJSCC+NOMA (library, same pairs)", lambda r, k: r["library_swinjscc_noma"][k]),
    )
    for ax, key, label in ((bars[0], "psnr_db", "PSNR (dB)"), (bars[1], "msssim", "MS-SSIM")):
        for i, (name, get) in enumerate(series):
            vals = [get(r, key) for r in users]
            vals = [np.nan if v is None else v for v in vals]
            ax.bar(x + (i - 1.5) * 0.2, vals, 0.2, label=name)
        ax.set_xticks(x, [f"user {r['user']}{' *' if r['partner_overlaps'] else ''}"
                          for r in users])  # fmt: skip
        ax.set_ylabel(label)
        finite = [v for r in users for _, get in series
                  if (v := get(r, key)) is not None and np.isfinite(v)]  # fmt: skip
        if finite:
            lo, hi = min(finite), max(finite)
            ax.set_ylim(lo - 0.15 * (hi - lo + 1e-3) - (1.0 if key == "psnr_db" else 0.02),
                        hi + 0.1 * (hi - lo + 1e-3))  # fmt: skip
        ax.grid(True, axis="y", alpha=0.3)
    bars[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.12), ncol=4)
    flow = {u: {int(m["image_id"]): img for m, img in results[u] if "image_id" in m}
            for u in range(K)}  # fmt: skip
    for gi, g in enumerate(groups):
        u0, u1 = g["users"]
        axes = grid[gi + 1].subgridspec(rows_per_group, shown, hspace=0.5, wspace=0.05)
        axes = axes.subplots(squeeze=False)
        frames = sorted(
            (int(m["frame"]), int(m["image_id"]), int(m2["image_id"]))
            for m, _ in results[u0]
            if m.get("group") == g["group"] and "image_id" in m
            for m2, _ in results[u1]
            if m2.get("frame") == m["frame"] and "image_id" in m2
        )[:shown]
        originals = {u: dict(enumerate(content["images"][u])) for u in (u0, u1)}
        rows = (  # (label, images by id, slot)
            (f"user {u0} original", originals[u0], 0),
            (f"user {u1} (partner)", originals[u1], 1),
            (f"SC-SFMA flowgraph u{u0}", flow[u0], 0),
            (f"SC-SFMA flowgraph u{u1}", flow[u1], 1),
            (f"SwinJSCC+NOMA u{u0}", off[ABLATION][u0]["recon"], 0),
            (f"SwinJSCC+NOMA u{u1}", off[ABLATION][u1]["recon"], 1),
        )
        for j in range(shown):
            for i, (name, source, r) in enumerate(rows):
                ax = axes[i, j]
                ax.set_xticks([])
                ax.set_yticks([])
                if j >= len(frames):
                    ax.axis("off")
                    continue
                image_id = frames[j][1 + r]
                img = source.get(image_id)
                if img is None:
                    ax.text(0.5, 0.5, "erased", ha="center", va="center", fontsize=7)
                else:
                    ax.imshow(img, cmap="gray", vmin=0, vmax=255)
                    if i >= 2:
                        ref = originals[(u0, u1)[r]][image_id].astype(float)
                        mse = np.mean((img.astype(float) - ref) ** 2) / 255.0**2
                        ax.set_xlabel(f"{10 * math.log10(1 / max(mse, 1e-10)):.1f} dB",
                                      fontsize=6)  # fmt: skip
                if j == 0:
                    ax.set_ylabel(name, fontsize=6, rotation=0, ha="right", va="center")
        axes[0, 0].set_title(
            f"group {g['group']}: users {u0}, {u1} "
            f"({'overlapping views' if g['overlap'] else 'unrelated images'}), "
            f"nu {','.join(f'{v:.3f}' for v in g['nu'])}, P share {g['power_share']:.2f}, "
            f"B share {g['bw_share']:.2f}, similarity {g['similarity_mean']:.2f}",
            fontsize=8, loc="left",
        )  # fmt: skip
    opt = report["optimizer"]
    pairs = opt.get("pairs") if opt.get("solved") else "fixed (no allocation)"
    fig.suptitle(
        f"SC-SFMA closed loop (sfma_loopback.grc), {report['images_per_user']} images per "
        f"user; optimiser pairs {pairs}; * = partner's content overlaps",
        fontsize=10,
    )
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
