#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Evaluation of the SC-SFMA transceiver and its baselines (SC-SFMA [2], Sec. IV-B,
Fig. 3 and Fig. 4): PSNR and MS-SSIM vs SNR and vs channel bandwidth ratio, split by pair
class, on Fashion-MNIST test pairs.
"""

from __future__ import annotations

import numpy as np
import torch

from semdacom.sc_sfma.model import PAIR_CLASSES
from semdacom.sc_sfma.transceiver.pairs import eval_pairs, pyplot, reconstruct, save_figure
from semdacom.source_coding import metrics

__all__ = [
    "LABELS",
    "check_ordering",
    "evaluate",
    "plot_fig3",
    "plot_fig4",
    "print_tables",
    "quick_metric",
    "reconstruct",
    "eval_pairs",
]

#: Schemes of the Fig. 3 analogue: the learned models, then the separated baseline.
LEARNED = ("sc_sfma", "swinjscc_noma", "swinjscc_oma", "deepjscc_noma")
SEPARATED = ("separated_oma", "separated_noma")
LABELS = {
    "sc_sfma": "SC-SFMA",
    "swinjscc_noma": "SwinJSCC+NOMA",
    "swinjscc_oma": "SwinJSCC-OMA",
    "deepjscc_noma": "DeepJSCC-NOMA",
    "separated_oma": "HEVC+LDPC+QAM (OMA)",
    "separated_noma": "HEVC+LDPC+QAM (NOMA, SIC)",
}


def _scores(h: torch.Tensor, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    return metrics.mse(h, x), metrics.msssim(h, x)


def quick_metric(model, n_pairs: int = 500, nu: float = 0.5, snr_db: float = 10.0) -> str:
    """One line for the manifest: test PSNR and MS-SSIM at one (SNR, nu)."""
    pairs = eval_pairs(max(1, n_pairs // 3))
    se, ms = [], []
    for xa, xb, _, _ in pairs.values():
        ha, hb = reconstruct(model, xa, xb, nu, snr_db)
        for h, x in ((ha, xa), (hb, xb)):
            m, s = _scores(h, x)
            se.append(m)
            ms.append(s)
    mse = float(np.mean(np.concatenate(se)))
    n = sum(len(v[0]) for v in pairs.values())
    return (
        f"test PSNR {float(metrics.psnr_from_mse(mse)):.2f} dB, MS-SSIM "
        f"{float(np.mean(np.concatenate(ms))):.4f} at SNR {snr_db:g} dB, nu {nu:g} "
        f"({n} pairs even over same/related/dissimilar)"
    )


# --------------------------------------------------------------------------------------------
# Fig. 3 / Fig. 4 analogues
# --------------------------------------------------------------------------------------------


def _from_table(doc: dict) -> dict:
    """Per class ``psnr`` and ``msssim`` arrays ``[i_snr, i_nu]`` of a distortion table."""
    return {
        cls: {
            "psnr": np.asarray(e["psnr"], dtype=float),
            "msssim": np.asarray(e["msssim"], dtype=float),
        }
        for cls, e in doc["classes"].items()
    }


def evaluate(
    tables_dir=None,
    measure_pairs: int | None = None,
    snr_grid=None,
    nu_grid=None,
    seed: int = 0,
    progress: bool = True,
    weights: dict | None = None,
) -> dict:
    """PSNR and MS-SSIM of every scheme per pair class over the (SNR, nu) grid.

    By default the learned models' numbers are read from the shipped measured tables
    ``sfma_distortion_<model>.json`` (written by ``profile-sfma`` on Fashion-MNIST test pairs);
    with ``measure_pairs`` they are measured afresh on that many test pairs per class. The
    separated baseline is computed from the classical-codec and link tables
    (:class:`~.separated.SeparatedScheme`; it does not depend on the pair class).

    Returns ``{"snr_db", "nu", "cbr", "schemes": {name: {class: {"psnr", "msssim"}}}}``.
    """
    import json
    from pathlib import Path

    from semdacom.sc_sfma.model import TABLES_DIR
    from semdacom.sc_sfma.transceiver import load_transceiver
    from semdacom.sc_sfma.transceiver.pairs import SNR_GRID
    from semdacom.sc_sfma.transceiver.profile import measure
    from semdacom.sc_sfma.transceiver.separated import SeparatedScheme
    from semdacom.sc_sfma.transceiver.transceiver import NU_GRID, channel_uses

    tdir = Path(tables_dir) if tables_dir else TABLES_DIR
    schemes, source = {}, {}
    snr = list(snr_grid or SNR_GRID)
    nus = list(nu_grid or NU_GRID)
    pairs = eval_pairs(measure_pairs, seed=1234 + seed) if measure_pairs else None
    for name in LEARNED:
        path = tdir / f"sfma_distortion_{name}.json"
        if pairs is None:
            doc = json.loads(path.read_text())
            snr, nus = doc["snr_db"], doc["nu"]
            schemes[name] = _from_table(doc)
            source[name] = f"{path.name} ({doc['weights']})"
        else:
            model = load_transceiver((weights or {}).get(name, name))
            meas = measure(model, pairs, snr, nus, seed=seed, progress=progress)
            schemes[name] = {c: {"psnr": r["psnr"], "msssim": r["msssim"]} for c, r in meas.items()}
            source[name] = f"measured, {measure_pairs} test pairs per class"
    sep = SeparatedScheme(tdir)
    from semdacom.sc_sfma.model import PAIR_CLASSES as classes

    for name, fn in (("separated_oma", sep.oma), ("separated_noma", sep.noma_sic)):
        ps = np.zeros((len(snr), len(nus)))
        ms = np.zeros_like(ps)
        for i, s in enumerate(snr):
            for j, v in enumerate(nus):
                r = fn(channel_uses(v, 64), s)
                ps[i, j], ms[i, j] = r["psnr"], r["msssim"]
        schemes[name] = {c: {"psnr": ps, "msssim": ms} for c in classes}
        source[name] = "classical_heif-x265 + link_L256 tables (AMC)"
    cbr = [channel_uses(v, 64) / 784.0 for v in nus]
    return {"snr_db": list(snr), "nu": list(nus), "cbr": cbr, "schemes": schemes, "source": source}


def _idx(grid, value) -> int:
    return int(np.argmin(np.abs(np.asarray(grid, dtype=float) - value)))


def print_tables(res: dict, snr_db: float = 10.0, nu: float = 0.5, file=None) -> None:
    """Print PSNR / MS-SSIM vs SNR (at ``nu``) and vs CBR (at ``snr_db``) per pair class."""
    import sys

    out = file or sys.stdout
    snr, nus, cbr = res["snr_db"], res["nu"], res["cbr"]
    j0, i0 = _idx(nus, nu), _idx(snr, snr_db)
    names = list(res["schemes"])
    for cls in PAIR_CLASSES:
        for metric, fmt in (("psnr", "{:7.2f}"), ("msssim", "{:7.4f}")):
            unit = "PSNR (dB)" if metric == "psnr" else "MS-SSIM"
            print(f"\n[{cls}] {unit} vs SNR at nu = {nus[j0]:g} (CBR {cbr[j0]:.4f})", file=out)
            print(f"{'scheme':28s}" + "".join(f"{s:>7g}" for s in snr), file=out)
            for n in names:
                row = res["schemes"][n][cls][metric][:, j0]
                print(f"{LABELS[n]:28s}" + "".join(fmt.format(v) for v in row), file=out)
            print(f"[{cls}] {unit} vs CBR at SNR = {snr[i0]:g} dB", file=out)
            print(f"{'scheme':28s}" + "".join(f"{c:>7.3f}" for c in cbr), file=out)
            for n in names:
                row = res["schemes"][n][cls][metric][i0, :]
                print(f"{LABELS[n]:28s}" + "".join(fmt.format(v) for v in row), file=out)


def check_ordering(res: dict, snr_db: float = 10.0, nu: float = 0.5) -> list[dict]:
    """The paper's orderings (Sec. IV-B) checked with numbers; one dict per claim."""
    snr, nus = res["snr_db"], res["nu"]
    i0, j0 = _idx(snr, snr_db), _idx(nus, nu)
    S = res["schemes"]
    claims = []
    learned = [n for n in LEARNED if n in S]
    # 1. OMA highest single-user PSNR.
    for cls in PAIR_CLASSES:
        vals = {n: float(S[n][cls]["psnr"][i0, j0]) for n in learned}
        grid = np.stack([S[n][cls]["psnr"] for n in learned])
        frac = float(np.mean(np.argmax(grid, axis=0) == learned.index("swinjscc_oma")))
        top = max(vals, key=vals.get)
        claims.append(
            {
                "claim": "SwinJSCC-OMA has the highest single-user PSNR",
                "class": cls,
                "holds": top == "swinjscc_oma",
                "at": {"snr_db": snr[i0], "nu": nus[j0]},
                "psnr_db": vals,
                "fraction_of_grid": frac,
            }
        )
    # 2. SC-SFMA above SwinJSCC+NOMA and DeepJSCC-NOMA.
    for other in ("swinjscc_noma", "deepjscc_noma"):
        for cls in PAIR_CLASSES:
            a = S["sc_sfma"][cls]["psnr"]
            b = S[other][cls]["psnr"]
            claims.append(
                {
                    "claim": f"SC-SFMA above {LABELS[other]}",
                    "class": cls,
                    "holds": bool(a[i0, j0] > b[i0, j0]),
                    "at": {"snr_db": snr[i0], "nu": nus[j0]},
                    "gain_db": float(a[i0, j0] - b[i0, j0]),
                    "fraction_of_grid": float(np.mean(a > b)),
                    "mean_gain_db": float(np.mean(a - b)),
                }
            )
    # 3. The separated scheme's cliff at low SNR (at the largest nu).
    sep = S["separated_oma"]["same"]["psnr"][:, -1]
    floor = float(sep.min())
    above = [s for s, v in zip(snr, sep, strict=True) if v > floor + 0.5]
    cliff = above[0] if above else None
    low = float(S["sc_sfma"]["same"]["psnr"][0, -1])
    claims.append(
        {
            "claim": "the separated scheme has a cliff at low SNR",
            "class": "all",
            "holds": cliff is not None and cliff > snr[0],
            "at": {"nu": nus[-1]},
            "separated_oma_psnr_db": [float(v) for v in sep],
            "floor_psnr_db": floor,
            "first_snr_above_floor_db": cliff,
            "sc_sfma_psnr_at_lowest_snr_db": low,
            "separated_noma_psnr_db": [
                float(v) for v in S["separated_noma"]["same"]["psnr"][:, -1]
            ],
        }
    )
    return claims


def describe_claims(claims: list[dict]) -> list[str]:
    """One plain sentence per claim, with its numbers."""
    lines = []
    for c in claims:
        tag = "HOLDS" if c["holds"] else "DOES NOT HOLD"
        if "psnr_db" in c:
            vals = ", ".join(f"{LABELS[k]} {v:.2f}" for k, v in c["psnr_db"].items())
            lines.append(
                f"[{tag}] {c['claim']} ({c['class']}, SNR {c['at']['snr_db']:g} dB, nu "
                f"{c['at']['nu']:g}): {vals} dB; OMA highest at "
                f"{100 * c['fraction_of_grid']:.0f}% of the (SNR, nu) grid"
            )
        elif "gain_db" in c:
            lines.append(
                f"[{tag}] {c['claim']} ({c['class']}, SNR {c['at']['snr_db']:g} dB, nu "
                f"{c['at']['nu']:g}): {c['gain_db']:+.2f} dB; above at "
                f"{100 * c['fraction_of_grid']:.0f}% of the grid, mean {c['mean_gain_db']:+.2f} dB"
            )
        else:
            sep = ", ".join(f"{v:.1f}" for v in c["separated_oma_psnr_db"])
            lines.append(
                f"[{tag}] {c['claim']} (nu {c['at']['nu']:g}): separated OMA PSNR over the SNR "
                f"grid {sep} dB (floor {c['floor_psnr_db']:.2f} dB = the mean image, first SNR "
                f"above it {c['first_snr_above_floor_db']} dB); SC-SFMA at the lowest SNR "
                f"{c['sc_sfma_psnr_at_lowest_snr_db']:.2f} dB"
            )
    return lines


def plot_fig3(res: dict, path, snr_db: float = 10.0, nu: float = 0.5):
    """Fig. 3 analogue: rows (a) PSNR vs CBR at ``snr_db``, (b) PSNR vs SNR at ``nu``, (c)
    MS-SSIM vs SNR at ``nu``; one column per pair class."""
    plt = pyplot()

    snr, nus, cbr = res["snr_db"], res["nu"], res["cbr"]
    i0, j0 = _idx(snr, snr_db), _idx(nus, nu)
    fig, axes = plt.subplots(3, 3, figsize=(14, 11))
    styles = {"separated_oma": "--", "separated_noma": ":"}
    for c, cls in enumerate(PAIR_CLASSES):
        for name, d in res["schemes"].items():
            st = styles.get(name, "-")
            axes[0, c].plot(cbr, d[cls]["psnr"][i0], st, marker="o", ms=3, label=LABELS[name])
            axes[1, c].plot(snr, d[cls]["psnr"][:, j0], st, marker="o", ms=3, label=LABELS[name])
            axes[2, c].plot(snr, d[cls]["msssim"][:, j0], st, marker="o", ms=3, label=LABELS[name])
        axes[0, c].set(xlabel="CBR", ylabel="PSNR (dB)", title=f"(a) {cls}: SNR {snr[i0]:g} dB")
        axes[1, c].set(xlabel="SNR (dB)", ylabel="PSNR (dB)", title=f"(b) {cls}: CBR {cbr[j0]:.3f}")
        axes[2, c].set(xlabel="SNR (dB)", ylabel="MS-SSIM", title=f"(c) {cls}: CBR {cbr[j0]:.3f}")
        for r in range(3):
            axes[r, c].grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    return save_figure(fig, path, 100)


@torch.no_grad()
def plot_fig4(path, snr_db: float = 10.0, nu: float = 0.5, seed: int = 7, weights=None):
    """Fig. 4 analogue: one test pair per class, the originals and each learned model's
    reconstructions (user a and user b) with PSNR / MS-SSIM."""
    from semdacom.sc_sfma.transceiver import load_transceiver

    plt = pyplot()

    pairs = eval_pairs(1, seed=seed)
    rows = [("original", None)] + [
        (n, load_transceiver((weights or {}).get(n, n))) for n in LEARNED
    ]
    fig, axes = plt.subplots(len(rows), 6, figsize=(9, 1.7 * len(rows)))
    for c, (cls, (xa, xb, _, _)) in enumerate(pairs.items()):
        for r, (name, model) in enumerate(rows):
            if model is None:
                ha, hb = xa, xb
            else:
                ha, hb = reconstruct(model.cpu(), xa, xb, nu, snr_db, seed=seed)
            for u, (h, x) in enumerate(((ha, xa), (hb, xb))):
                ax = axes[r, 2 * c + u]
                ax.imshow(h[0, 0].numpy(), cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                if model is not None:
                    p = float(metrics.psnr_from_mse(metrics.mse(h, x)[0]))
                    s = float(metrics.msssim(h, x)[0])
                    ax.set_title(f"{p:.1f} dB / {s:.2f}", fontsize=6)
                elif r == 0:
                    ax.set_title(f"{cls} user {'ab'[u]}", fontsize=7)
                if 2 * c + u == 0:
                    ax.set_ylabel(LABELS.get(name, name), fontsize=7)
    fig.suptitle(f"Reconstructions at SNR {snr_db:g} dB, nu {nu:g} (PSNR / MS-SSIM)", fontsize=9)
    return save_figure(fig, path, 110)
