"""``semdacom demo-mu-ascc``: the MU-ASCC closed loop (examples/mu_ascc_loopback.grc) headless.

For each P_max it runs the flowgraph on the first ``--images`` Fashion-MNIST test images per
user (the paper's channel, DU weight 0.8, SU weight 0.2, the physical link by default) and
prints, per user, images in/out, erasures, the measured metric (MS-SSIM of the data user,
accuracy of the semantic user), the optimiser's rate index, R_c and power; then the weighted
distortion measured by the flowgraph next to the optimiser's prediction from the tables and
next to the best baseline at the same P_max (sweep mu-ascc's ZF-WF-BPG, ZF-WF-DJSCC and MRT-EP
on the BER-indexed tables and the same link). The optimiser block plans with erasure-aware
tables (``mu_ascc_optimizer(distortion="auto")`` with the physical link). MRT-EP also runs
through the same flowgraph on the same images (the optimiser block's ``mrt_ep`` solver), so the
closest baseline is measured as well as predicted (``--no-measure-mrt`` skips it). Then the
colour runs (:mod:`semdacom.cli.demo_colour`; ``--no-colour`` skips them): held-out colour
photographs through the same flowgraph with the shipped colour model, PSNR and MS-SSIM per
image, and the same folder with one corrupt file. Writes out/demo/report.json
(``fashion_mnist``: one row per P_max; ``colour``: its rows, per-image scores and the
corrupt-file run) and out/demo/report.png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from semdacom.cli import demo_colour
from semdacom.cli.examples import compile_example, find_example, load_flowgraph_module

DEFAULT_P_DBW = [-6.0, -2.0, 2.0, 6.0]


#: images per user shown in the report's picture rows
SHOWN = 6
#: Images in flight per user by default (examples/mu_ascc_loopback.grc's prefill; issue 23).
PREFILL = 64


def in_flight(prefill: int) -> dict:
    """The credit loop's parameters of ``prefill`` images in flight per user: they leave in
    bursts of half as many (coded as batches), and an allocation takes effect ``prefill + 8``
    frames after its CSI, beyond the pipeline's depth (frame-exact reconfiguration). A
    ``prefill`` above what one block of the chain holds (``MAX_IN_FLIGHT``, 256) is a
    ``ValueError``: those images would be dropped and the loop would stall."""
    from gnuradio.semdacom.plumbing.worker import MAX_IN_FLIGHT

    if int(prefill) > MAX_IN_FLIGHT:
        raise ValueError(f"prefill must be at most {MAX_IN_FLIGHT} (images in flight per user)")
    prefill = max(1, int(prefill))
    return {"prefill": prefill, "burst": max(1, prefill // 2), "apply_lead": prefill + 8}


def _prefill(text: str) -> int:
    """``--prefill``: 1 to 256 images in flight per user (``in_flight``)."""
    try:
        value = int(text)
        in_flight(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"prefill must be at least 1, got {value}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo-mu-ascc", help="run the MU-ASCC closed loop (mu_ascc_loopback.grc) headless"
    )
    p.add_argument("--images", type=int, default=100, help="images per user and power")
    p.add_argument("--p-dbw", type=float, nargs="+", default=DEFAULT_P_DBW, help="P_max values")
    p.add_argument("--L", type=int, default=256, help="blocklength (channel uses)")
    p.add_argument("--link", default="physical", help="the optimiser's link model")
    p.add_argument(
        "--prefill",
        type=_prefill,
        default=PREFILL,
        help="images in flight per user (the credit loop: each result of a user's decoder "
        "asks its image source for the next image); they leave in bursts of half as many, "
        "coded as batches, and allocations take effect prefill + 8 frames after their CSI",
    )
    p.add_argument(
        "--no-measure-mrt",
        dest="measure_mrt",
        action="store_false",
        help="do not run the MRT-EP baseline through the flowgraph",
    )
    p.add_argument("--out", type=Path, default=Path("out/demo"))
    demo_colour.add_arguments(p)
    p.set_defaults(func=run)


def _run_point(
    mod, p_dbw: float, args: argparse.Namespace, solver: str = "fast", n: int | None = None,
    shown: int = SHOWN, **flowgraph,
) -> dict:  # fmt: skip
    """One run of the closed loop at ``p_dbw``: ``n`` images per user (default ``--images``),
    the flowgraph's other parameters from ``flowgraph`` (e.g. a colour folder for the DU)."""
    n = args.images if n is None else int(n)
    tb = mod.mu_ascc_loopback(
        p_max_dbw=p_dbw,
        blocklength=args.L,
        link=args.link,
        n_images=n,
        **{**in_flight(args.prefill), "solver": solver, **flowgraph},
    )
    from gnuradio import blocks

    probes = {"du": blocks.message_debug(), "su": blocks.message_debug(),
              "sent": blocks.message_debug()}  # fmt: skip
    tb.msg_connect((tb.source_decoder_0, "pdus"), (probes["du"], "store"))
    tb.msg_connect((tb.semantic_decoder_1, "pdus"), (probes["su"], "store"))
    tb.msg_connect((tb.image_source_0, "pdus"), (probes["sent"], "store"))
    t0 = time.monotonic()
    tb.start()
    try:
        # every result and every reference: a result whose reference is still queued at stop
        # would count as unmatched (GNU Radio drains one message port before the next, so the
        # sink's `ref` queue can trail its `pdus` queue by tens of images)
        while not _complete(tb.metrics.summary()["counts"], 2 * n):
            if time.monotonic() - t0 > 60 + n * 0.5:
                raise RuntimeError(f"closed loop stalled: {tb.metrics.summary()}")
            time.sleep(0.02)
    finally:
        tb.stop()
        tb.wait()
    wall = time.monotonic() - t0
    s = tb.metrics.summary()
    a = tb.optimizer.last_allocation()
    du, su = s["users"]["0"], s["users"]["1"]
    measured = 0.8 * du["one_minus_msssim"] + 0.2 * su["classification_error"]
    return {
        "examples": _examples(probes, shown),
        "source": tb.image_source_0.counters(),
        "mcs": None if a.mcs is None else [int(v) for v in a.mcs],
        "p_max_dbw": p_dbw,
        "images": n,
        "wall_s": wall,
        "du": du,
        "su": su,
        "rate_index": [int(v) for v in a.rate_index],
        "rc": [float(v) for v in a.rc],
        "power_w": [float(v) for v in a.power],
        "predicted_weighted": float(a.objective),
        "measured_weighted": float(measured),
    }


#: What the report keeps of a baseline's own run through the flowgraph.
_MEASURED_KEYS = ("du", "su", "rate_index", "rc", "power_w", "predicted_weighted",
                  "measured_weighted")  # fmt: skip


def _complete(counts: dict, n: int) -> bool:
    """All ``n`` results in, all ``n`` references in, none waiting for its reference."""
    return counts["results"] >= n and counts["refs"] >= n and counts["pending"] == 0


def _examples(probes: dict, n: int = SHOWN) -> dict:
    """The first ``n`` results of each user: DU reconstructions (None when erased; ``(H, W)``
    grayscale or ``(H, W, 3)`` colour) and SU predictions, by image id, for the report's
    pictures; and the DU's images as sent (``sent``: image id, file and image), all of them
    (each image's file for the per-image table), the pixels of the first ``n``."""
    import pmt
    from gnuradio.semdacom import messages

    out: dict = {"du": [], "su": [], "sent": []}
    for key, dbg in probes.items():
        for i in range(dbg.num_messages() if key == "sent" else min(n, dbg.num_messages())):
            msg = dbg.get_message(i)
            meta = messages.meta_from_pmt(pmt.car(msg))
            item = {"image_id": int(meta.get("image_id", -1)), "erased": bool(meta.get("erased"))}
            if key in ("du", "sent"):
                try:
                    img = messages.unpack_image_pdu(msg)[1]
                    img = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
                except messages.MessageError:  # an erasure without pixels
                    img = None
                item["image"] = None if item["erased"] or (key == "sent" and i >= n) else img
                item["file"] = meta.get("file")
            else:
                item["pred"], item["label"] = int(meta.get("pred", -1)), int(meta.get("label", -1))
            out[key].append(item)
    return out


def _baselines(p_dbw: float, args: argparse.Namespace, tables: dict) -> dict:
    from semdacom.cli.sweep import solve_point

    job = {"figure": "7a", "solver": "fast", "tables": tables, "link": args.link, "L": args.L,
           "p_max": 10 ** (p_dbw / 10), "ratio": 0.6, "weights": (0.8, 0.2)}  # fmt: skip
    return {r["solver"]: r["weighted_distortion"] for r in solve_point(**job)}


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from semdacom.cli.sweep import SOLVER_LABELS, load_tables

    grc = find_example("mu_ascc_loopback")
    mod = load_flowgraph_module(compile_example(grc, args.out / "flowgraphs"))
    tables = load_tables()
    print(
        f"mu_ascc_loopback ({grc}): paper channel, DU weight 0.8 / SU weight 0.2, L = {args.L}, "
        f"link {args.link}, {args.images} test images per user and power"
    )
    rows = []
    for p in tqdm(args.p_dbw, desc="P_max"):
        r = _run_point(mod, p, args)
        r["baselines"] = _baselines(p, args, tables)
        if getattr(args, "measure_mrt", True):
            m = _run_point(mod, p, args, solver="mrt_ep")
            r["mrt_ep_measured"] = {k: m[k] for k in _MEASURED_KEYS}
        rows.append(r)
    hdr = (
        f"{'P dBW':>6} {'user':>4} {'in/out':>8} {'erased':>6} {'metric':>16} {'rate':>4} "
        f"{'R_c':>6} {'MCS':>4} {'p (W)':>7}"
    )
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        for u, key in ((0, "du"), (1, "su")):
            m = r[key]
            metric = (
                f"MS-SSIM {m['msssim']:.4f}" if key == "du" else f"accuracy {m['accuracy']:.3f}"
            )
            print(
                f"{r['p_max_dbw']:6.1f} {u:4d} {m['received']:>3}/{r['images']:<4} "
                f"{m['erased']:6d} {metric:>16} {r['rate_index'][u]:4d} {r['rc'][u]:6.3f} "
                f"{'-' if r['mcs'] is None else r['mcs'][u]:>4} {r['power_w'][u]:7.3f}"
            )
    print()
    print(
        f"{'P dBW':>6} {'measured':>9} {'predicted':>9} {'best baseline (tables)':>32} "
        f"{'MRT-EP measured / predicted':>28}"
    )
    for r in rows:
        others = {k: v for k, v in r["baselines"].items() if k != "mu_ascc"}
        best = min(others, key=others.get)
        m = r.get("mrt_ep_measured")
        mrt = "-" if m is None else f"{m['measured_weighted']:.4f} / {m['predicted_weighted']:.4f}"
        print(
            f"{r['p_max_dbw']:6.1f} {r['measured_weighted']:9.4f} {r['predicted_weighted']:9.4f} "
            f"{SOLVER_LABELS[best][:24]:>24} {others[best]:7.4f} {mrt:>28}"
        )
    lost = sum(2 * r["images"] - r["du"]["received"] - r["su"]["received"] for r in rows)
    lost += sum(
        2 * r["images"] - m["du"]["received"] - m["su"]["received"]
        for r in rows
        if (m := r.get("mrt_ep_measured")) is not None
    )
    colour = None
    if getattr(args, "colour", False):
        colour = demo_colour.run_colour(mod, args, _run_point)
        lost += demo_colour.print_colour(colour)
    print(f"images in - results out over all runs: {lost}")
    args.out.mkdir(parents=True, exist_ok=True)
    public: dict = {"fashion_mnist": _public(rows), "colour": None}
    if colour is not None:
        public["colour"] = {**colour, "rows": _public(colour["rows"])}
    (args.out / "report.json").write_text(json.dumps(public, indent=1))
    _plot(rows, args.out / "report.png", SOLVER_LABELS, colour)
    print(f"wrote {args.out / 'report.json'} and {args.out / 'report.png'}")
    return 0 if lost == 0 else 1


def _public(rows: list[dict]) -> list[dict]:
    """The rows as report.json keeps them (without the pictures)."""
    return [{k: v for k, v in r.items() if k != "examples"} for r in rows]


def _plot(rows: list[dict], path: Path, labels: dict, colour: dict | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from semdacom.data.datasets import load_fashion_mnist

    x = [r["p_max_dbw"] for r in rows]
    heights = [4, 1.25 * (len(rows) + 1)]
    if colour is not None:
        heights.append(1.35 * (len(colour["rows"]) + 1))
    fig = plt.figure(figsize=(13, sum(heights)))
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights, top=1 - 0.7 / sum(heights))
    axes = grid[0].subgridspec(1, 3).subplots()
    _plot_examples(fig, grid[1], rows, load_fashion_mnist("test"))
    if colour is not None:
        demo_colour.plot_colour(fig, grid[2], colour)
    ax = axes[0]
    ax.plot(x, [r["measured_weighted"] for r in rows], "o-", label="MU-ASCC measured (flowgraph)")
    ax.plot(x, [r["predicted_weighted"] for r in rows], "s--", label="MU-ASCC predicted (tables)")
    for name in ("zf_wf_bpg", "zf_wf_djscc", "mrt_ep"):
        ax.plot(x, [r["baselines"][name] for r in rows], ".:", label=labels[name] + " (tables)")
    if all("mrt_ep_measured" in r for r in rows):
        ax.plot(x, [r["mrt_ep_measured"]["measured_weighted"] for r in rows], "^-",
                label=labels["mrt_ep"] + " measured (flowgraph)")  # fmt: skip
    ax.set_xlabel("P_max (dBW)")
    ax.set_ylabel("weighted-sum distortion")
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
    axes[1].plot(x, [r["du"]["msssim"] for r in rows], "o-")
    axes[1].set_ylabel("DU MS-SSIM (measured)")
    axes[2].plot(x, [r["su"]["accuracy"] for r in rows], "o-")
    axes[2].set_ylabel("SU accuracy (measured)")
    for a in axes[1:]:
        a.set_xlabel("P_max (dBW)")
        a.grid(True, alpha=0.3)
    n = rows[0]["images"] if rows else 0
    fig.suptitle(f"MU-ASCC closed loop, paper channel, {n} images per user and power")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _plot_examples(fig, cell, rows: list[dict], data) -> None:
    """Originals (top row) and the DU's reconstructions at every P_max; under each, the SU's
    prediction of its own image (green: right, red: wrong, grey: erased)."""
    images, _ = data
    n = max((len(r["examples"]["du"]) for r in rows), default=0)
    if n == 0:
        return
    axes = cell.subgridspec(len(rows) + 1, n, hspace=0.45, wspace=0.05).subplots(squeeze=False)
    classes = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Boot")  # fmt: skip
    for j, item in enumerate(rows[0]["examples"]["du"]):
        axes[0, j].imshow(images[item["image_id"]], cmap="gray", vmin=0, vmax=255)
        axes[0, j].set_title(f"DU original #{item['image_id']}", fontsize=7)
    for i, r in enumerate(rows, start=1):
        for j in range(n):
            ax = axes[i, j]
            du = r["examples"]["du"][j] if j < len(r["examples"]["du"]) else None
            if du is not None and du["image"] is not None:
                ax.imshow(du["image"], cmap="gray", vmin=0, vmax=255)
            else:
                ax.text(0.5, 0.5, "erased", ha="center", va="center", fontsize=8)
                ax.set_box_aspect(1)
            su = r["examples"]["su"][j] if j < len(r["examples"]["su"]) else None
            if su is not None:
                right = su["pred"] == su["label"]
                colour = "grey" if su["erased"] else ("green" if right else "red")
                word = "erased" if su["erased"] else classes[su["pred"]] if su["pred"] >= 0 else "?"
                ax.set_xlabel(f"SU: {word} ({classes[su['label']]})", fontsize=6, color=colour)
            if j == 0:
                ax.set_ylabel(f"{r['p_max_dbw']:g} dBW", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
