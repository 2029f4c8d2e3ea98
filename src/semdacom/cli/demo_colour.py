"""The colour part of ``semdacom demo-mu-ascc`` (issue 25): photographs through the closed loop.

The data user sends a folder of colour photographs (by default ``out/photos/held_out``: crops of
mixed sizes and aspect ratios of the photographs held back from training, made here from the
Debian package ``mate-backgrounds`` when missing; docs/your_images.md), each centre-cropped to
32 x 32 RGB, coded by the shipped colour model (``semdacom/data/colour``: the variable-rate
hyperprior trained on crops of the other photographs) and planned by the optimiser with that
model's own distortion table; the semantic user keeps Fashion-MNIST. For every P_max: images in
and results out per user, the PSNR and MS-SSIM of every image (``metrics_sink``'s
``keep_scores``, against the image actually sent) and the weighted distortion measured next to
the optimiser's prediction. Then the same folder with one corrupt file added: the file is
logged, counted (``unreadable``) and skipped, and the same images as before go through.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from semdacom.data import DATA_DIR

#: The shipped colour model: weights and tables in the layout ``train-codec --out`` writes.
COLOUR_DIR = DATA_DIR / "colour"
COLOUR_WEIGHTS = COLOUR_DIR / "weights" / "hyperprior_vbr.pt"
COLOUR_TABLE = COLOUR_DIR / "tables" / "hyperprior_vbr_du_msssim.json"
#: The held-out photographs (``semdacom make-photos`` writes them here).
DEFAULT_PHOTOS = Path("out/photos/held_out")
#: The colour model's image side and mode, and how a photograph is brought to it.
SIZE, MODE, FIT = 32, "RGB", "crop"
#: Name of the corrupt file added for the second run (sorted among the others).
CORRUPT_NAME = "LadyBird_03_corrupt.jpg"


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("colour photographs (issue 25, docs/your_images.md)")
    g.add_argument(
        "--photos",
        type=Path,
        default=DEFAULT_PHOTOS,
        help="folder of colour photographs for the data user (default: the held-out crops, "
        "made from mate-backgrounds when missing)",
    )
    g.add_argument("--no-colour", dest="colour", action="store_false", help="skip the colour runs")


def photos_folder(path: Path) -> Path:
    """``path``; the default held-out crops are made when missing (``UsageError`` when the
    photographs are not installed or ``path`` is no folder)."""
    from semdacom.cli.common import UsageError

    if path.resolve() == DEFAULT_PHOTOS.resolve() and not any(path.glob("*")):
        from semdacom.data.photos import HELD_OUT, held_out_crops, installed_photos

        held = [ph for ph in installed_photos() if ph.name in HELD_OUT]
        if not held:
            raise UsageError("no held-out photographs installed (mate-backgrounds; make setup)")
        held_out_crops(held, path, seed=1)  # as semdacom make-photos
    if not path.is_dir():
        raise UsageError(f"--photos {path} is not a folder")
    return path


def _readable_images(folder: Path) -> list[str]:
    """The files of ``folder`` that ``image_source`` will send (the unreadable ones left out:
    the source skips them, so they must not count in ``n_images``)."""
    from semdacom.data.folder import ImageFolder, UnreadableImage

    images = ImageFolder(folder, SIZE, FIT, MODE)
    names = []
    for i in range(len(images)):
        try:
            images.load(i)
        except UnreadableImage:
            continue
        names.append(images.name(i))
    return names


def with_corrupt_file(folder: Path, out: Path) -> Path:
    """A copy of ``folder`` in ``out`` with one corrupt JPEG added (the first JPEG's first
    quarter: a truncated file, as a failed download leaves it)."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(folder, out)
    jpeg = next(p for p in sorted(out.rglob("*")) if p.suffix.lower() in (".jpg", ".jpeg"))
    raw = jpeg.read_bytes()
    (out / CORRUPT_NAME).write_bytes(raw[: len(raw) // 4])
    return out


def _flowgraph_params(folder: Path, n: int) -> dict:
    return {
        "folder": str(folder),
        "du_size": SIZE,
        "du_mode": MODE,
        "du_fit": FIT,
        "du_weights": str(COLOUR_WEIGHTS),
        "du_tables": str(COLOUR_TABLE),
        "keep_scores": n,
    }


def _per_image(r: dict) -> list[dict]:
    """Each DU image's file, PSNR and MS-SSIM (the sink's scores joined with what was sent)."""
    files = {e["image_id"]: e["file"] for e in r["examples"]["sent"]}
    return [{"file": files.get(x["image_id"]), **x} for x in r["du"].get("images", [])]


def run_colour(mod, args: argparse.Namespace, run_point) -> dict:
    """The colour runs at every ``--p-dbw`` and the corrupt-file run at the last one;
    ``run_point`` is demo-mu-ascc's one run of the closed loop."""
    from tqdm import tqdm

    from semdacom.cli.common import UsageError

    folder = photos_folder(args.photos)
    n = len(_readable_images(folder))
    if n == 0:
        raise UsageError(f"no readable images in {folder}")
    rows = []
    for p in tqdm(args.p_dbw, desc="P_max (colour)"):
        r = run_point(mod, p, args, n=n, shown=n, **_flowgraph_params(folder, n))
        r["per_image"] = _per_image(r)
        rows.append(r)
    bad = with_corrupt_file(folder, args.out / "photos_with_corrupt_file")
    c = run_point(mod, args.p_dbw[-1], args, n=n, shown=n, **_flowgraph_params(bad, n))
    c["per_image"] = _per_image(c)
    # (an erasure matched by frame has no image id, so no file: "?")
    sent_clean = sorted(Path(x["file"] or "?").name for x in rows[-1]["per_image"])
    sent_bad = sorted(Path(x["file"] or "?").name for x in c["per_image"])
    corrupt = {
        "folder": str(bad),
        "files": n + 1,
        "corrupt_file": CORRUPT_NAME,
        "unreadable": int(c["source"]["unreadable"]),
        "du_in": int(c["source"]["pdus_out"]),
        "du_out": int(c["du"]["received"]),
        "su_out": int(c["su"]["received"]),
        "same_images_as_clean_run": sent_bad == sent_clean,
        "measured_weighted": c["measured_weighted"],
        "predicted_weighted": c["predicted_weighted"],
    }
    return {"folder": str(folder), "images": n, "size": SIZE, "mode": MODE, "fit": FIT,
            "weights": str(COLOUR_WEIGHTS.relative_to(DATA_DIR.parent.parent)),
            "rows": rows, "corrupt_run": corrupt}  # fmt: skip


def print_colour(colour: dict) -> int:
    """Print the colour runs; returns images in - results out over them (0 when none lost)."""
    print(f"\ncolour: {colour['images']} photographs of {colour['folder']} -> "
          f"{colour['size']}x{colour['size']} {colour['mode']} ({colour['fit']}), the shipped "
          f"colour model")  # fmt: skip
    print(f"{'P dBW':>6} {'DU in/out':>9} {'SU in/out':>9} {'erased':>6} {'PSNR dB':>8} "
          f"{'MS-SSIM':>8} {'rate':>4} {'measured':>9} {'predicted':>9}")  # fmt: skip
    lost = 0
    for r in colour["rows"]:
        du, su, n = r["du"], r["su"], r["images"]
        lost += 2 * n - du["received"] - su["received"]
        print(f"{r['p_max_dbw']:6.1f} {du['received']:>4}/{n:<4} {su['received']:>4}/{n:<4} "
              f"{du['erased']:6d} {du.get('psnr_db', float('nan')):8.2f} "
              f"{du.get('msssim', float('nan')):8.4f} {r['rate_index'][0]:4d} "
              f"{r['measured_weighted']:9.4f} {r['predicted_weighted']:9.4f}")  # fmt: skip
    last = colour["rows"][-1]
    print(f"per image at {last['p_max_dbw']:g} dBW (PSNR dB / MS-SSIM; all in report.json):")
    for x in last["per_image"]:
        name = Path(x["file"] or "?").name
        print(f"  {name:<24} {x['psnr_db']:6.2f} {x['msssim']:.4f}{' erased' * x['erased']}")
    c = colour["corrupt_run"]
    lost += (c["du_in"] - c["du_out"]) + (colour["images"] - c["su_out"])
    print(f"with {c['corrupt_file']} added ({c['files']} files): unreadable {c['unreadable']}, "
          f"DU {c['du_in']} in / {c['du_out']} out, SU {c['su_out']} out, the same images as "
          f"the clean run: {c['same_images_as_clean_run']}")  # fmt: skip
    ok = c["unreadable"] == 1 and c["same_images_as_clean_run"]
    return lost + (0 if ok else 1)


def plot_colour(fig, cell, colour: dict, shown: int = 8) -> None:
    """Colour originals (as sent, top row) and the DU's reconstructions at every P_max, with
    each reconstruction's PSNR (grey: erased)."""
    rows = colour["rows"]
    sent = [e for e in rows[0]["examples"]["sent"] if e["image"] is not None]
    sent = sent[:: max(1, len(sent) // shown)][:shown]  # spread over the folder
    if not sent:
        return
    axes = cell.subgridspec(len(rows) + 1, len(sent), hspace=0.5, wspace=0.05).subplots(
        squeeze=False
    )
    for j, e in enumerate(sent):
        axes[0, j].imshow(e["image"])
        axes[0, j].set_title(Path(e["file"] or "?").stem[:16], fontsize=6)
    for i, r in enumerate(rows, start=1):
        recon = {e["image_id"]: e for e in r["examples"]["du"]}
        scores = {x["image_id"]: x for x in r["per_image"]}
        for j, e in enumerate(sent):
            ax = axes[i, j]
            d, sc = recon.get(e["image_id"]), scores.get(e["image_id"])
            if d is not None and d["image"] is not None:
                ax.imshow(d["image"])
            else:
                ax.text(0.5, 0.5, "erased", ha="center", va="center", fontsize=7)
                ax.set_box_aspect(1)
            if sc is not None:
                ax.set_xlabel(f"{sc['psnr_db']:.1f} dB", fontsize=6,
                              color="grey" if sc["erased"] else "black")  # fmt: skip
            if j == 0:
                ax.set_ylabel(f"{r['p_max_dbw']:g} dBW", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("sent", fontsize=7)
