#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Offline profiling of the learned SFMA transceivers (SC-SFMA [2], Sec. II-C, II-E and
the offline stage of Sec. III): the semantic interference factor xi per pair class over an
(SNR, nu) grid with its eq. (10) fit, and the distortion per pair class with its monotone
piecewise-linear upper envelope (eqs. 17-18).

**How xi is measured** (docs/sc_sfma/transceiver.md, "Measuring xi"): as the normalised regression
coefficient of the partner's feature in the user's recovered feature. For pair class ``c``, SNR
``s`` and ratio ``nu``, every test pair of the class is sent (both users at received SNR ``s``,
power split 1/2). User ``u``'s recovered feature ``f_hat_u = R_u(y_u)`` is the output of its
decoder's channel decoder and first Swin stage (the 2x2 feature that mirrors the encoder's
``f`` of eq. 3; :meth:`~.transceiver.SfmaTransceiver.recovered_feature`). The two components it
is regressed on are what the same receiver (same SNR conditioning) makes of each user's signal
alone, without noise: ``o_u = R_u(sqrt(1/2) s_u)`` (desired) and ``p_u = R_u(sqrt(1/2) s_p)``
(the partner's feature as user ``u``'s receiver sees it). Least squares over every feature entry
of every pair (each variable centred by its mean over the pairs; both users pooled)::

    f_hat_u = alpha o_u + beta p_u + e,     xi = beta^2 |p|^2 / (alpha^2 |o|^2)

i.e. the power of the partner's component relative to the desired one in what the decoder
recovers (the role xi plays in eq. 11). The regressors are noise-free, so the channel noise in
``f_hat`` does not bias ``alpha`` and ``beta``; the SNR acts through the receiver itself.

**Distortion** (eq. 17): 1 - MS-SSIM per image; the table stores per class the mean over the
pairs, PSNR (of the mean MSE) and mean MS-SSIM, and the upper envelope (eq. 17-18,
:func:`semdacom.sc_sfma.model.upper_envelope`) of the per-label-pair samples: the mean distortion
of each ordered (user label, partner label) combination of the class, i.e. of a user pair whose
users hold those image classes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from semdacom.sc_sfma.model import (
    DISTORTION_FORMAT,
    PAIR_CLASSES,
    XI_FORMAT,
    fit_xi,
    upper_envelope,
)
from semdacom.sc_sfma.transceiver.pairs import SNR_GRID, eval_pairs, pyplot, save_figure
from semdacom.sc_sfma.transceiver.transceiver import NU_GRID, superpose
from semdacom.source_coding import metrics

__all__ = [
    "SNR_GRID",
    "distortion_doc",
    "measure",
    "profile_model",
    "regression_xi",
    "xi_doc",
]


def regression_xi(f_hat: torch.Tensor, own: torch.Tensor, partner: torch.Tensor):
    """``(xi, alpha, beta)`` of ``f_hat ~ alpha own + beta partner`` (module docstring); the
    tensors are ``(n, ...)``, centred over ``n`` here."""
    y = f_hat.double().flatten(1)
    o = own.double().flatten(1)
    p = partner.double().flatten(1)
    y, o, p = y - y.mean(0), o - o.mean(0), p - p.mean(0)
    oo, pp, op = float((o * o).sum()), float((p * p).sum()), float((o * p).sum())
    g = torch.tensor([[oo, op], [op, pp]], dtype=torch.float64)
    r = torch.tensor([float((o * y).sum()), float((p * y).sum())], dtype=torch.float64)
    alpha, beta = torch.linalg.solve(g, r).tolist()
    if abs(alpha) < 1e-12 or oo <= 0:
        return math.nan, alpha, beta
    return beta**2 * pp / (alpha**2 * oo), alpha, beta


def _encode(model, xa, xb, nu, dev, batch):
    """The pair's channel symbols and masks, in batches."""
    return [
        model.encode_pair(xa[i : i + batch].to(dev), xb[i : i + batch].to(dev), nu)
        for i in range(0, len(xa), batch)
    ]


def _send(model, coded, nu, noise, std, snr, oma, with_xi):
    """Both users' reconstructions of the coded pairs with the given unit noise scaled by
    ``std``, and (``with_xi``) per user the features ``(f_hat, own component, partner
    component)`` of the module docstring."""
    ha, hb, feats = [], [], [[], [], []]
    for (sa, sb, masks), nz in zip(coded, noise, strict=True):
        if oma:
            ya, yb = sa + std * nz[0], sb + std * nz[1]
        else:
            x = superpose(sa, sb, 0.5)
            ya, yb = x + std * nz[0], x + std * nz[1]
        ma = None if masks is None else masks[:, 0]
        mb = None if masks is None else masks[:, 1]
        ha.append(model.decode(ya, ma, nu, 0, snr).cpu())
        hb.append(model.decode(yb, mb, nu, 1, snr).cpu())
        if with_xi:
            h = math.sqrt(0.5)
            for u, (y, m, own, other) in enumerate(((ya, ma, sa, sb), (yb, mb, sb, sa))):
                rf = model.recovered_feature
                feats[0].append(rf(y, m, nu, u, snr).cpu())
                feats[1].append(rf(h * own, m, nu, u, snr).cpu())
                feats[2].append(rf(h * other, m, nu, u, snr).cpu())
    return torch.cat(ha), torch.cat(hb), feats


@torch.no_grad()
def measure(
    model,
    pairs: dict,
    snr_grid=SNR_GRID,
    nu_grid=NU_GRID,
    seed: int = 0,
    batch: int = 250,
    progress: bool = True,
    with_xi: bool | None = None,
) -> dict:
    """Reconstruct every pair of every class at every (SNR, nu); returns per class arrays
    indexed ``[i_snr, i_nu]``: ``xi``, ``alpha``, ``beta`` (module docstring; NaN without a
    partner, i.e. OMA, or with ``with_xi=False``), ``mse``, ``psnr``, ``msssim``, ``d``
    (1 - MS-SSIM), and ``per_label`` ``{(la, lb): d array}`` of the ordered label pairs.

    The same unit noise draw per (class, nu) is scaled to every SNR and reused by the three
    passes of the xi measurement (common random numbers: smooth surfaces)."""
    dev = next(model.parameters()).device
    oma = getattr(model, "oma", False)
    has_rf = hasattr(model, "recovered_feature")
    with_xi = (not oma and has_rf) if with_xi is None else (with_xi and not oma and has_rf)
    out = {}
    total = len(pairs) * len(nu_grid)
    bar = tqdm(total=total, desc=f"profile {getattr(model, 'variant', '')}", disable=not progress)
    for ci, (cls, (xa, xb, la, lb)) in enumerate(pairs.items()):
        ns, nv = len(snr_grid), len(nu_grid)
        res = {k: np.full((ns, nv), np.nan) for k in ("xi", "alpha", "beta", "mse", "msssim")}
        lab = list(zip(la.tolist(), lb.tolist(), strict=True))
        roles = lab + [(b, a) for a, b in lab]
        combos = sorted(set(roles))
        sel = {c: np.array([r == c for r in roles]) for c in combos}
        per_label = {c: np.full((ns, nv), np.nan) for c in combos}
        for j, nu in enumerate(nu_grid):
            coded = _encode(model, xa, xb, nu, dev, batch)
            g = torch.Generator().manual_seed(int(seed) * 1000 + ci * 100 + j)
            noise = []
            for i in range(0, len(xa), batch):
                n = min(batch, len(xa) - i)
                z = torch.randn((2, n, model.symbols_per_user(nu), 2), generator=g)
                noise.append(torch.complex(z[..., 0], z[..., 1]).to(dev) * math.sqrt(0.5))
            for i_s, snr in enumerate(snr_grid):
                std = math.sqrt(10.0 ** (-snr / 10.0))
                ha, hb, feats = _send(model, coded, nu, noise, std, snr, oma, with_xi)
                hat, own = torch.cat([ha, hb]), torch.cat([xa, xb])
                if with_xi:
                    # both users pooled: stack their (f_hat, own, partner) entries
                    xi, al, be = regression_xi(*(torch.cat(f) for f in feats))
                    res["xi"][i_s, j], res["alpha"][i_s, j], res["beta"][i_s, j] = xi, al, be
                m = metrics.mse(hat, own)
                s = metrics.msssim(hat, own)
                res["mse"][i_s, j] = float(np.mean(m))
                res["msssim"][i_s, j] = float(np.mean(s))
                d = 1.0 - s
                for c in combos:
                    per_label[c][i_s, j] = float(np.mean(d[sel[c]]))
            bar.update(1)
        res["psnr"] = metrics.psnr_from_mse(res["mse"])
        res["d"] = 1.0 - res["msssim"]
        res["per_label"] = per_label
        res["n_pairs"] = len(xa)
        out[cls] = res
    bar.close()
    return out


def _grid(a) -> list:
    return [[None if not np.isfinite(v) else round(float(v), 6) for v in row] for row in a]


def xi_doc(model_name: str, weights: str, meas: dict, snr_grid, nu_grid) -> dict:
    """The ``semdacom-sfma-xi/1`` table of measured xi with its eq. (10) fits."""
    classes = {}
    for cls, r in meas.items():
        params, r2 = fit_xi(np.asarray(snr_grid), np.asarray(nu_grid), r["xi"])
        classes[cls] = {
            "params": {k: float(v) for k, v in params.items()},
            "r2": float(r2),
            "xi": _grid(r["xi"]),
            "n_pairs": int(r["n_pairs"]),
        }
    return {
        "format": XI_FORMAT,
        "model": model_name,
        "weights": weights,
        "dataset": "fashion-mnist test",
        "measure": "f_hat_u ~ alpha o_u + beta p_u over the recovered 2x2 feature (decoder "
        "channel decoder + first Swin stage), o_u / p_u the same receiver's noise-free "
        "response to the user's / the partner's signal alone; xi = beta^2 |p|^2 / (alpha^2 "
        "|o|^2); pooled over entries, pairs and both users (docs/sc_sfma/transceiver.md)",
        "snr_db": [float(s) for s in snr_grid],
        "nu": [float(v) for v in nu_grid],
        "classes": classes,
    }


def distortion_doc(model_name: str, weights: str, meas: dict, snr_grid, nu_grid) -> dict:
    """The ``semdacom-sfma-distortion/1`` table (metric 1 - MS-SSIM) with envelopes."""
    nu = np.asarray(nu_grid, dtype=float)
    classes = {}
    for cls, r in meas.items():
        samples = np.stack(list(r["per_label"].values()))  # (n_combos, n_snr, n_nu)
        env = np.stack([upper_envelope(nu, samples[:, i]) for i in range(len(snr_grid))])
        classes[cls] = {
            "d": _grid(r["d"]),
            "psnr": _grid(r["psnr"]),
            "msssim": _grid(r["msssim"]),
            "envelope": {"nu": [float(v) for v in nu], "d": _grid(env)},
            "n_pairs": int(r["n_pairs"]),
            "n_label_pairs": int(samples.shape[0]),
        }
    return {
        "format": DISTORTION_FORMAT,
        "model": model_name,
        "weights": weights,
        "dataset": "fashion-mnist test",
        "metric": "1-msssim",
        "psnr": "10 log10(1 / mean MSE) over the class's pairs, both users",
        "envelope_samples": "mean 1-MS-SSIM of each ordered (user label, partner label) "
        "combination of the class",
        "snr_db": [float(s) for s in snr_grid],
        "nu": [float(v) for v in nu_grid],
        "classes": classes,
    }


def profile_model(
    variant: str,
    n_per_class: int = 200,
    snr_grid=SNR_GRID,
    nu_grid=NU_GRID,
    seed: int = 0,
    weights: str | Path | None = None,
    progress: bool = True,
) -> tuple[dict | None, dict, dict]:
    """Measure one shipped model: ``(xi table, distortion table, raw)``; the xi table is None
    for the models without a partner (OMA) or without a Swin receiver (DeepJSCC-NOMA)."""
    from semdacom.sc_sfma.transceiver import load_transceiver

    model = load_transceiver(weights or variant)
    pairs = eval_pairs(n_per_class, seed=1234 + seed)
    meas = measure(model, pairs, snr_grid, nu_grid, seed=seed, progress=progress)
    name = model.weights_file
    has_xi = not getattr(model, "oma", False) and hasattr(model, "recovered_feature")
    xi = xi_doc(variant, name, meas, snr_grid, nu_grid) if has_xi else None
    return xi, distortion_doc(variant, name, meas, snr_grid, nu_grid), meas


def write_json(doc: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def plot_xi_surfaces(xi_docs: dict[str, dict], path: str | Path) -> Path:
    """Fig. 2 analogue: measured xi (points) and the eq. (10) fit (surface) per pair class."""
    plt = pyplot()

    from semdacom.sc_sfma.model import xi as xi_fn

    rows = list(xi_docs)
    fig = plt.figure(figsize=(4.2 * len(PAIR_CLASSES), 3.8 * len(rows)))
    for r, name in enumerate(rows):
        doc = xi_docs[name]
        s, v = np.asarray(doc["snr_db"]), np.asarray(doc["nu"])
        S, V = np.meshgrid(s, v, indexing="ij")
        for c, cls in enumerate(PAIR_CLASSES):
            e = doc["classes"][cls]
            ax = fig.add_subplot(
                len(rows), len(PAIR_CLASSES), r * len(PAIR_CLASSES) + c + 1, projection="3d"
            )
            fs, fv = np.meshgrid(
                np.linspace(s[0], s[-1], 30), np.linspace(v[0], v[-1], 30), indexing="ij"
            )
            ax.plot_surface(fs, fv, xi_fn(fs, fv, e["params"]), cmap="viridis", alpha=0.6)
            meas = np.array(e["xi"], dtype=float)
            ax.scatter(S.ravel(), V.ravel(), meas.ravel(), s=6, c="k")
            ax.set_xlabel("SNR (dB)")
            ax.set_ylabel("nu")
            ax.set_zlabel("xi")
            ax.set_title(f"{name}: {cls}, R2 = {e['r2']:.3f}", fontsize=9)
    return save_figure(fig, path, 110)


def plot_psnr_surface(dist_doc: dict, model, path: str | Path) -> Path:
    """Fig. 3(d) analogue: PSNR over (SNR, channel bandwidth ratio), all pairs of all classes."""
    plt = pyplot()

    s = np.asarray(dist_doc["snr_db"])
    cbr = np.asarray([model.bandwidth_ratio(v) for v in dist_doc["nu"]])
    mse = np.mean(
        [10 ** (-np.asarray(e["psnr"], dtype=float) / 10) for e in dist_doc["classes"].values()],
        axis=0,
    )
    psnr = 10 * np.log10(1 / mse)
    S, R = np.meshgrid(s, cbr, indexing="ij")
    fig = plt.figure(figsize=(6, 4.5))
    ax = fig.add_subplot(projection="3d")
    ax.plot_surface(S, R, psnr, cmap="plasma")
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel("CBR")
    ax.set_zlabel("PSNR (dB)")
    ax.set_title(f"{dist_doc['model']}: PSNR over SNR and CBR (all pair classes)")
    return save_figure(fig, path, 110)
