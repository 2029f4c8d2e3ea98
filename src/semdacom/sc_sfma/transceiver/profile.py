#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Offline profiling of the learned SFMA transceivers (SC-SFMA [2], Sec. II-C, II-E and
the offline stage of Sec. III): the semantic interference factor xi per pair class over an
(SNR, nu) grid with its eq. (10) fit, and the distortion per pair class with its monotone
piecewise-linear upper envelope (eqs. 17-18). Pair classes are whatever the ``pairs`` dict holds
(``{class: (x_a, x_b, label_a, label_b[, similarity])}``, the format of
:func:`~.pairs.eval_pairs`), so a new class profiles without a change here.

**How xi is measured** (docs/sc_sfma/transceiver.md, "Measuring xi"), two methods:

* ``"distortion"`` (default; issue 22, Build 5): the **distortion-equivalent** interference. For
  class ``c``, received SNR ``gamma`` and ratio ``nu`` the pair's distortion ``D_pair`` is measured
  as the model's forward makes it (both users superposed at power split 1/2, both at received
  SNR ``gamma``). The **reference** ``D_ref(s, nu)`` is the same decoder fed only its own user's
  stream, the partner's half removed, ``y_u = sqrt(1/2) s_u + n / sqrt(s)``, over a fine SNR
  grid reaching well above the pair grid (:data:`REF_SNR_GRID`, -10 to 50 dB). The single-user
  SNR ``s_eq`` with ``D_ref(s_eq) = D_pair(gamma)`` is found on the monotone reference
  (:func:`semdacom.sc_sfma.xi.snr_equivalent`) and eq. (11), ``gamma / (xi gamma + 1) = s_eq``,
  gives ``xi = 1 / s_eq - 1 / gamma``. Power split convention: ``gamma`` is the SNR of the whole
  block, in the pair and in the reference the user's own stream carries half of it, so xi = 0
  means "as good as with the partner's half absent" (the 3 dB of the split are not charged as
  interference, as eq. (11) gives a user with xi = 0 the whole block's SNR). xi < 0 (the pair
  beats the reference: the partner's stream carries the user's own content) is kept as measured;
  the eq. (10) fit (loss on the implied SINR in dB, :func:`semdacom.sc_sfma.xi.fit_xi`) clips it
  at 0 because the table's eq. (10) is non-negative. Distortion measure: MSE by default (see
  :func:`xi_doc`), 1 - MS-SSIM selectable.
* ``"regression"`` (the first tables): the normalised regression coefficient of the partner's
  feature in the user's recovered feature. User ``u``'s recovered feature ``f_hat_u = R_u(y_u)``
  (decoder's channel decoder and first Swin stage,
  :meth:`~.transceiver.SfmaTransceiver.recovered_feature`) is regressed on what the same receiver
  makes of each user's signal alone, without noise, ``o_u = R_u(sqrt(1/2) s_u)`` and
  ``p_u = R_u(sqrt(1/2) s_p)``; least squares over every entry (centred, both users pooled)::

      f_hat_u = alpha o_u + beta p_u + e,     xi = beta^2 |p|^2 / (alpha^2 |o|^2)

  Under SCFM the partner's stream carries the user's own content by design, so this charges
  shared content as interference (issue 22, item 4).

**Distortion** (eq. 17): 1 - MS-SSIM per image; the table stores per class the mean over the
pairs, PSNR (of the mean MSE) and mean MS-SSIM, and the upper envelope (eq. 17-18,
:func:`semdacom.sc_sfma.model.upper_envelope`) of a stated quantile over the class's groups:
ordered (user label, partner label) combinations when the class has labels, else bins of the
pairs' continuous similarity when given, else the single pairs (:func:`pair_groups`).
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
from semdacom.sc_sfma.xi import distortion_equivalent_xi, xi_fit_errors
from semdacom.source_coding import metrics

__all__ = [
    "ENVELOPE_QUANTILE",
    "REF_SNR_GRID",
    "SNR_GRID",
    "XI_METHODS",
    "XI_METRICS",
    "XI_SNR_GRID",
    "distortion_doc",
    "distortion_xi",
    "measure",
    "pair_groups",
    "profile_model",
    "regression_xi",
    "save_raw",
    "with_similarity",
    "xi_doc",
]

#: xi measurements (module docstring).
XI_METHODS = ("distortion", "regression")
#: Distortion measures of the distortion-equivalent xi.
XI_METRICS = ("mse", "1-msssim")
#: SNR grid (dB) of the interference-free reference curve: fine, and well above the pair grid so
#: that the saturation is covered and s_eq > gamma (xi < 0) can be seen.
REF_SNR_GRID = tuple(float(s) for s in range(-10, 51))
#: Pair SNR grid (dB) of ``profile-sfma`` with the distortion method: up to 40 dB, so that the
#: samples cover xi's saturation (the floor xi_lo that caps eq. (11)'s SINR at 1/xi_lo).
XI_SNR_GRID = tuple(float(s) for s in range(0, 41, 2))
#: Default quantile over a class's label pairs (or similarity bins, or pairs) of the distortion
#: envelope and of ``xi_quantile``; 1.0 is the worst group (the first tables).
ENVELOPE_QUANTILE = 0.9


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


def pair_groups(
    entry, group_by: str = "auto", n_bins: int = 5, label_class: bool = True
) -> tuple[str, np.ndarray, list]:
    """The groups of a class's users over which envelopes and ``xi_quantile`` take their
    quantile: ``(mode, group index per user, group names)``, users ordered as the profiler
    stacks them (every pair's user a, then every pair's user b).

    ``entry`` is ``(x_a, x_b, label_a, label_b[, similarity])``. ``group_by``: ``"label"``
    (ordered (user label, partner label) combinations: a pair of users holding those image
    classes), ``"similarity"`` (``n_bins`` quantile bins of the per-pair continuous similarity),
    ``"pair"`` (every pair its own group, both users pooled) or ``"auto"``: the similarity bins
    when a similarity is given, else the label pairs when labels are given and the class is a
    label class (``label_class``: one of ``PAIR_CLASSES``), else the pairs. A class such as
    content-overlap pairs, whose equal labels say nothing of the pair, thus falls back to the
    similarity or the pairs. Labels may be ``None``."""
    n = len(entry[0])
    la, lb = entry[2], entry[3]
    sim = entry[4] if len(entry) > 4 else None
    mode = group_by
    if mode == "auto":
        if sim is not None:
            mode = "similarity"
        else:
            mode = "label" if la is not None and lb is not None and label_class else "pair"
    if mode == "label":
        if la is None or lb is None:
            raise ValueError("group_by='label' needs labels")
        a = [int(v) for v in torch.as_tensor(la).tolist()]
        b = [int(v) for v in torch.as_tensor(lb).tolist()]
        roles = [f"{x},{y}" for x, y in zip(a, b, strict=True)]
        roles += [f"{y},{x}" for x, y in zip(a, b, strict=True)]
    elif mode == "similarity":
        if sim is None:
            raise ValueError("group_by='similarity' needs a similarity per pair")
        sv = np.asarray(torch.as_tensor(sim, dtype=torch.float64).reshape(-1))
        edges = np.unique(np.quantile(sv, np.linspace(0, 1, max(int(n_bins), 1) + 1)))
        k = np.clip(np.searchsorted(edges, sv, side="right") - 1, 0, max(edges.size - 2, 0))
        lab = [f"sim[{edges[i]:.3g},{edges[min(i + 1, edges.size - 1)]:.3g}]" for i in k]
        roles = lab + lab
    elif mode == "pair":
        roles = [str(i) for i in range(n)] * 2
    else:
        raise ValueError(f"group_by must be auto, label, similarity or pair, got {group_by!r}")
    names = sorted(set(roles))
    index = {c: i for i, c in enumerate(names)}
    return mode, np.array([index[r] for r in roles]), names


def with_similarity(pairs: dict) -> dict:
    """``pairs`` with a per-pair content similarity appended (5th element) to every class that
    is not a label class and has none (:func:`semdacom.sc_sfma.transceiver.overlap.
    content_similarity`, when that module exists), so that its envelopes bin by similarity."""
    try:
        from semdacom.sc_sfma.transceiver.overlap import content_similarity
    except ImportError:  # pragma: no cover - older trees
        return dict(pairs)
    out = {}
    for cls, entry in pairs.items():
        if cls not in PAIR_CLASSES and len(entry) == 4:
            sim = torch.as_tensor(content_similarity(entry[0], entry[1]), dtype=torch.float64)
            entry = (*entry, sim)
        out[cls] = entry
    return out


def _encode(model, xa, xb, nu, dev, batch):
    """The pair's channel symbols and masks, in batches."""
    return [
        model.encode_pair(xa[i : i + batch].to(dev), xb[i : i + batch].to(dev), nu)
        for i in range(0, len(xa), batch)
    ]


def _send(model, coded, nu, noise, std, snr, oma, with_xi):
    """Both users' reconstructions of the coded pairs with the given unit noise scaled by
    ``std``, and (``with_xi``) per user the features ``(f_hat, own component, partner
    component)`` of the regression method."""
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


def _send_alone(model, coded, nu, noise, std, snr):
    """The interference-free reference: each user's decoder fed only its own stream at its
    half of the power (``sqrt(1/2) s_u``, the partner's half removed) plus the same unit noise
    scaled by ``std``."""
    h = math.sqrt(0.5)
    ha, hb = [], []
    for (sa, sb, masks), nz in zip(coded, noise, strict=True):
        ma = None if masks is None else masks[:, 0]
        mb = None if masks is None else masks[:, 1]
        ha.append(model.decode(h * sa + std * nz[0], ma, nu, 0, snr).cpu())
        hb.append(model.decode(h * sb + std * nz[1], mb, nu, 1, snr).cpu())
    return torch.cat([torch.cat(ha), torch.cat(hb)])


@torch.no_grad()
def measure(
    model,
    pairs: dict,
    snr_grid=SNR_GRID,
    nu_grid=NU_GRID,
    seed: int = 0,
    batch: int = 250,
    progress: bool = True,
    with_xi: bool = False,
    xi_method: str = "distortion",
    ref_snr_grid=REF_SNR_GRID,
    group_by: str = "auto",
    n_bins: int = 5,
) -> dict:
    """Reconstruct every pair of every class at every (SNR, nu); returns per class arrays
    indexed ``[i_snr, i_nu]``: ``mse``, ``psnr``, ``msssim``, ``d`` (1 - MS-SSIM) (class means),
    per user ``img_mse``, ``img_d`` ``(2 n, n_snr, n_nu)`` (users a then b), the groups
    (:func:`pair_groups`: ``group_by``, ``groups``, ``group_names``) and ``per_group``
    ``{name: mean d array}`` (also as ``per_label``).

    ``pairs``: ``{class: (x_a, x_b, label_a, label_b[, similarity])}``, any class names.
    xi (``with_xi=True``; never for OMA, which has no partner; off by default so that an
    evaluation pays for no reference curve):

    * ``xi_method="distortion"``: per user ``ref_mse``, ``ref_d`` ``(2 n, len(ref_snr_grid),
      n_nu)``, the interference-free reference over ``ref_snr_grid`` (module docstring);
      :func:`xi_doc` turns them into xi;
    * ``xi_method="regression"``: ``xi``, ``alpha``, ``beta`` (Swin receivers only);
    * ``"both"``: both.

    The same unit noise draw per (class, nu) is scaled to every SNR and reused by the pair, the
    reference and the regression passes (common random numbers: smooth surfaces)."""
    if xi_method not in (*XI_METHODS, "both"):
        raise ValueError(f"xi_method must be one of {XI_METHODS} or 'both', got {xi_method!r}")
    dev = next(model.parameters()).device
    oma = getattr(model, "oma", False)
    has_rf = hasattr(model, "recovered_feature")
    with_xi = bool(with_xi) and not oma
    do_reg = with_xi and has_rf and xi_method in ("regression", "both")
    do_ref = with_xi and xi_method in ("distortion", "both")
    ref_snr_grid = tuple(float(s) for s in ref_snr_grid)
    out = {}
    total = len(pairs) * len(nu_grid)
    bar = tqdm(total=total, desc=f"profile {getattr(model, 'variant', '')}", disable=not progress)
    for ci, (cls, entry) in enumerate(pairs.items()):
        xa, xb = entry[0], entry[1]
        ns, nv, nr, n2 = len(snr_grid), len(nu_grid), len(ref_snr_grid), 2 * len(xa)
        res = {k: np.full((ns, nv), np.nan) for k in ("xi", "alpha", "beta", "mse", "msssim")}
        img = {k: np.full((n2, ns, nv), np.nan, dtype=np.float32) for k in ("img_mse", "img_d")}
        if do_ref:
            img.update(
                {k: np.full((n2, nr, nv), np.nan, dtype=np.float32) for k in ("ref_mse", "ref_d")}
            )
        mode, groups, names = pair_groups(entry, group_by, n_bins, cls in PAIR_CLASSES)
        own = torch.cat([xa, xb])
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
                ha, hb, feats = _send(model, coded, nu, noise, std, snr, oma, do_reg)
                hat = torch.cat([ha, hb])
                if do_reg:
                    # both users pooled: stack their (f_hat, own, partner) entries
                    xi, al, be = regression_xi(*(torch.cat(f) for f in feats))
                    res["xi"][i_s, j], res["alpha"][i_s, j], res["beta"][i_s, j] = xi, al, be
                m = metrics.mse(hat, own)
                s = metrics.msssim(hat, own)
                img["img_mse"][:, i_s, j], img["img_d"][:, i_s, j] = m, 1.0 - s
                res["mse"][i_s, j] = float(np.mean(m))
                res["msssim"][i_s, j] = float(np.mean(s))
            if do_ref:
                for i_r, snr in enumerate(ref_snr_grid):
                    std = math.sqrt(10.0 ** (-snr / 10.0))
                    hat = _send_alone(model, coded, nu, noise, std, snr)
                    img["ref_mse"][:, i_r, j] = metrics.mse(hat, own)
                    img["ref_d"][:, i_r, j] = 1.0 - metrics.msssim(hat, own)
            bar.update(1)
        res["psnr"] = metrics.psnr_from_mse(res["mse"])
        res["d"] = 1.0 - res["msssim"]
        res.update(img)
        res["per_group"] = {
            name: np.mean(img["img_d"][groups == k], axis=0).astype(float)
            for k, name in enumerate(names)
        }
        res["per_label"] = res["per_group"]
        res["group_by"], res["groups"], res["group_names"] = mode, groups, names
        res["n_pairs"] = len(xa)
        res["xi_method"] = xi_method if with_xi else None
        if do_ref:
            res["ref_snr_db"] = ref_snr_grid
        out[cls] = res
    bar.close()
    return out


def _grid(a) -> list:
    return [[None if not np.isfinite(v) else round(float(v), 6) for v in row] for row in a]


def _quantile(samples: np.ndarray, q: float) -> np.ndarray:
    """``q``-quantile over the first axis, NaN-aware (linear interpolation)."""
    with np.errstate(all="ignore"):
        return np.nanquantile(samples, q, axis=0)


def distortion_xi(r: dict, snr_grid, metric: str = "mse", quantile: float = ENVELOPE_QUANTILE):
    """The distortion-equivalent xi of one class of :func:`measure`'s output (eqs. (10)-(11)):
    ``{"xi", "s_eq_db", "flag", "d_pair", "d_ref", "xi_quantile", "n_groups"}``, grids
    ``[i_snr, i_nu]`` (``d_ref`` over the reference grid).

    ``xi`` is from the class's mean distortion (mean over every user of the class) matched on the
    class's mean reference curve; ``xi_quantile`` is the ``quantile`` over the class's groups
    (:func:`pair_groups`) of the xi each group gets from its own mean distortion and reference
    (NaN where a group's xi is not finite)."""
    if metric not in XI_METRICS:
        raise ValueError(f"metric must be one of {XI_METRICS}, got {metric!r}")
    if "ref_mse" not in r:
        raise ValueError("no reference curve: measure with xi_method='distortion' or 'both'")
    kp, kr = ("img_mse", "ref_mse") if metric == "mse" else ("img_d", "ref_d")
    snr = np.asarray(snr_grid, dtype=float)
    ref_snr = np.asarray(r["ref_snr_db"], dtype=float)

    def invert(dp, dr):
        out = {k: np.full(dp.shape, np.nan) for k in ("xi", "s_eq_db", "flag")}
        for j in range(dp.shape[1]):
            if not np.all(np.isfinite(dr[:, j])):
                continue
            e = distortion_equivalent_xi(dp[:, j], snr, ref_snr, dr[:, j])
            for k in out:
                out[k][:, j] = e[k]
        return out

    dp = r[kp].astype(float).mean(axis=0)
    dr = r[kr].astype(float).mean(axis=0)
    res = invert(dp, dr)
    groups = np.asarray(r["groups"])
    per_group = []
    for k in np.unique(groups):
        sel = groups == k
        per_group.append(
            invert(r[kp][sel].astype(float).mean(0), r[kr][sel].astype(float).mean(0))["xi"]
        )
    res["xi_quantile"] = _quantile(np.stack(per_group), quantile)
    res["d_pair"], res["d_ref"] = dp, dr
    res["n_groups"] = len(per_group)
    return res


def xi_doc(
    model_name: str,
    weights: str,
    meas: dict,
    snr_grid,
    nu_grid,
    method: str = "distortion",
    metric: str = "mse",
    quantile: float = ENVELOPE_QUANTILE,
) -> dict:
    """The ``semdacom-sfma-xi/1`` table of measured xi with its eq. (10) fits.

    ``method="distortion"`` (:func:`distortion_xi`): ``xi`` holds the measured
    distortion-equivalent xi (negative values kept), fitted with the SINR-in-dB loss
    (:func:`semdacom.sc_sfma.xi.fit_xi`, samples clipped at 0, surface bounded by the measured
    range); each class also stores ``s_eq_db``, ``flag`` (+1 / -1: the pair's distortion was
    above / below the reference's range, s_eq clamped), ``xi_quantile``, ``d_pair``,
    ``reference`` and ``fit_error`` (:func:`semdacom.sc_sfma.xi.xi_fit_errors` at 20 dB,
    nu = 1). ``metric``: ``"mse"`` (default: the decoders' training loss, eq. (9), so the
    reference's distortion-SNR curve is the one the network was trained to move along, a mean
    over pairs that is unbiased, and it keeps falling with the SNR where MS-SSIM has saturated)
    or ``"1-msssim"`` (eq. (17), the tables' distortion).

    ``method="regression"``: the first tables (absolute-error fit)."""
    if method not in XI_METHODS:
        raise ValueError(f"method must be one of {XI_METHODS}, got {method!r}")
    s, v = np.asarray(snr_grid, dtype=float), np.asarray(nu_grid, dtype=float)
    classes = {}
    for cls, r in meas.items():
        if method == "regression":
            params, r2 = fit_xi(s, v, r["xi"])
            classes[cls] = {
                "params": {k: float(x) for k, x in params.items()},
                "r2": float(r2),
                "xi": _grid(r["xi"]),
                "n_pairs": int(r["n_pairs"]),
            }
            continue
        e = distortion_xi(r, s, metric, quantile)
        params, r2 = fit_xi(s, v, e["xi"], loss="sinr_db")
        classes[cls] = {
            "params": {k: float(x) for k, x in params.items()},
            "r2": float(r2),
            "xi": _grid(e["xi"]),
            "s_eq_db": _grid(e["s_eq_db"]),
            "flag": [[int(x) if np.isfinite(x) else 0 for x in row] for row in e["flag"]],
            "xi_quantile": _grid(e["xi_quantile"]),
            "d_pair": _grid(e["d_pair"]),
            "reference": {"snr_db": [float(x) for x in r["ref_snr_db"]], "d": _grid(e["d_ref"])},
            "fit_error": xi_fit_errors(s, v, e["xi"], params),
            "n_pairs": int(r["n_pairs"]),
            "n_groups": int(e["n_groups"]),
            "group_by": r["group_by"],
        }
    if method == "regression":
        how = (
            "f_hat_u ~ alpha o_u + beta p_u over the recovered 2x2 feature (decoder "
            "channel decoder + first Swin stage), o_u / p_u the same receiver's noise-free "
            "response to the user's / the partner's signal alone; xi = beta^2 |p|^2 / (alpha^2 "
            "|o|^2); pooled over entries, pairs and both users (docs/sc_sfma/transceiver.md)"
        )
        extra = {"method": "regression", "fit_loss": "abs"}
    else:
        how = (
            f"distortion-equivalent: D_pair(gamma, nu) = mean {metric} of the pair (both users "
            "superposed at power split 1/2, both at received SNR gamma); D_ref(s, nu) = the same "
            "decoder fed only sqrt(1/2) s_u (partner removed) at SNR s; s_eq: D_ref(s_eq) = "
            "D_pair(gamma) on the monotone (PAV) reference, linear in dB; eq. (11) gamma / (xi "
            "gamma + 1) = s_eq gives xi = 1/s_eq - 1/gamma; xi < 0 kept (clipped at 0 only for "
            "the eq. (10) fit); flag +1/-1: D_pair above/below the reference range, s_eq clamped "
            "(docs/sc_sfma/transceiver.md)"
        )
        extra = {
            "method": "distortion",
            "metric": metric,
            "power_split": 0.5,
            "fit_loss": "sinr_db",
            "clip": "xi < 0 kept in 'xi'; clipped at 0 for the eq. (10) fit (xi_lo >= 0)",
            "xi_quantile": float(quantile),
        }
    return {
        "format": XI_FORMAT,
        "model": model_name,
        "weights": weights,
        "dataset": "fashion-mnist test",
        "measure": how,
        **extra,
        "snr_db": [float(x) for x in snr_grid],
        "nu": [float(x) for x in nu_grid],
        "classes": classes,
    }


def distortion_doc(
    model_name: str,
    weights: str,
    meas: dict,
    snr_grid,
    nu_grid,
    quantile: float = ENVELOPE_QUANTILE,
) -> dict:
    """The ``semdacom-sfma-distortion/1`` table (metric 1 - MS-SSIM) with envelopes.

    The envelope (eq. 17) of a class at each SNR is :func:`upper_envelope` over nu of the
    ``quantile`` over the class's groups (:func:`pair_groups`: label pairs, similarity bins or
    pairs) of their mean 1 - MS-SSIM, never below the class mean. ``quantile = 1`` is the worst
    group (the first tables); the default 0.9 does not penalise a class for having more label
    pairs (10 same, 26 related, 64 dissimilar)."""
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {quantile!r}")
    nu = np.asarray(nu_grid, dtype=float)
    classes = {}
    group_by = set()
    for cls, r in meas.items():
        samples = np.stack(list(r["per_group"].values()))  # (n_groups, n_snr, n_nu)
        q = np.fmax(_quantile(samples, quantile), np.asarray(r["d"], dtype=float))
        env = np.stack([upper_envelope(nu, q[i]) for i in range(len(snr_grid))])
        group_by.add(r["group_by"])
        classes[cls] = {
            "d": _grid(r["d"]),
            "psnr": _grid(r["psnr"]),
            "msssim": _grid(r["msssim"]),
            "envelope": {"nu": [float(x) for x in nu], "d": _grid(env)},
            "n_pairs": int(r["n_pairs"]),
            "n_label_pairs": int(samples.shape[0]),
            "group_by": r["group_by"],
        }
    what = {
        "label": "each ordered (user label, partner label) combination of the class",
        "similarity": "each similarity bin of the class",
        "pair": "each pair of the class",
    }
    return {
        "format": DISTORTION_FORMAT,
        "model": model_name,
        "weights": weights,
        "dataset": "fashion-mnist test",
        "metric": "1-msssim",
        "psnr": "10 log10(1 / mean MSE) over the class's pairs, both users",
        "envelope_samples": f"the {quantile:g}-quantile (never below the class mean) of the "
        "mean 1-MS-SSIM of " + "; ".join(f"{what[g]} (group_by {g})" for g in sorted(group_by)),
        "envelope_quantile": float(quantile),
        "snr_db": [float(x) for x in snr_grid],
        "nu": [float(x) for x in nu_grid],
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
    xi_method: str = "distortion",
    xi_metric: str = "mse",
    quantile: float = ENVELOPE_QUANTILE,
    ref_snr_grid=REF_SNR_GRID,
    pairs: dict | None = None,
    group_by: str = "auto",
    classes: tuple[str, ...] | None = None,
) -> tuple[dict | None, dict, dict]:
    """Measure one model: ``(xi table, distortion table, raw)``. The xi table is None for the
    models without a partner (OMA), and with ``xi_method="regression"`` also for those without a
    Swin receiver (DeepJSCC-NOMA). ``pairs``: ``{class: (x_a, x_b, label_a, label_b[,
    similarity])}`` (default :func:`~.pairs.eval_pairs` of ``n_per_class`` for ``classes``,
    default the three label classes). A class beyond the label classes without a similarity
    gets the content similarity of its pairs (:func:`with_similarity`) for its envelope groups."""
    from semdacom.sc_sfma.transceiver import load_transceiver

    model = load_transceiver(weights or variant)
    if pairs is None:
        kw = {} if classes is None else {"classes": tuple(classes)}
        pairs = eval_pairs(n_per_class, seed=1234 + seed, **kw)
    pairs = with_similarity(pairs)
    meas = measure(
        model,
        pairs,
        snr_grid,
        nu_grid,
        seed=seed,
        progress=progress,
        with_xi=True,
        xi_method=xi_method,
        ref_snr_grid=ref_snr_grid,
        group_by=group_by,
    )
    name = model.weights_file
    has_xi = not getattr(model, "oma", False)
    if xi_method == "regression":
        has_xi = has_xi and hasattr(model, "recovered_feature")
    xi = (
        xi_doc(variant, name, meas, snr_grid, nu_grid, xi_method, xi_metric, quantile)
        if has_xi
        else None
    )
    dist = distortion_doc(variant, name, meas, snr_grid, nu_grid, quantile)
    return xi, dist, meas


def save_raw(meas: dict, path: str | Path) -> Path:
    """The per-user distortions of :func:`measure` (``img_mse``, ``img_d``, ``ref_mse``,
    ``ref_d``, ``groups``) per class in one ``.npz`` (keys ``<class>/<name>``), so that xi can be
    recomputed with another metric or quantile without measuring again."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for cls, r in meas.items():
        for k in ("img_mse", "img_d", "ref_mse", "ref_d", "groups"):
            if k in r:
                arrays[f"{cls}/{k}"] = np.asarray(r[k])
        if "ref_snr_db" in r:
            arrays[f"{cls}/ref_snr_db"] = np.asarray(r["ref_snr_db"])
    np.savez_compressed(path, **arrays)
    return path


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
    cols = max(len(d["classes"]) for d in xi_docs.values())
    fig = plt.figure(figsize=(4.2 * cols, 3.8 * len(rows)))
    for r, name in enumerate(rows):
        doc = xi_docs[name]
        s, v = np.asarray(doc["snr_db"]), np.asarray(doc["nu"])
        S, V = np.meshgrid(s, v, indexing="ij")
        for c, (cls, e) in enumerate(doc["classes"].items()):
            ax = fig.add_subplot(len(rows), cols, r * cols + c + 1, projection="3d")
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
