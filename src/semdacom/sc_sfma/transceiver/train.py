#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""End-to-end training of the SC-SFMA transceiver and its learned ablations (SC-SFMA [2],
Sec. II-B3 and IV-A).

Every model is trained the same way: Fashion-MNIST training pairs drawn evenly from the three
pair classes (``same``, ``related``, ``dissimilar``; :func:`semdacom.sc_sfma.model.pair_class`), one
compression ratio ``nu`` per step drawn from :data:`~.transceiver.NU_GRID`, each user's received
SNR drawn uniformly in ``[snr_lo, snr_hi]`` dB independently, and the pairwise loss of eq. (9)::

    L = E_{(x_a, x_b), nu, s_a, s_b} [ MSE(x_a, x_hat_a) + MSE(x_b, x_hat_b) ]

Adam with a cosine learning-rate decay; seeded (the batch, ``nu``, SNRs and noise of step ``t``
depend only on ``seed`` and ``t``), so a run resumed from its checkpoint
(``<ckpt_dir>/<variant>_s<seed>.ckpt``, every ``ckpt_every`` steps) continues the same
sequence. A checkpoint resumed with another ``steps`` keeps the optimiser state and continues
the cosine from the resumed step towards the new end (recorded in ``info``).
The final weights are stored in float16 (``{"config", "state_dict", "info"}``) and loaded back
to float32 by :func:`semdacom.sc_sfma.transceiver.load_transceiver`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from semdacom._torch_util import default_device, save_atomic
from semdacom.data.datasets import load_fashion_mnist
from semdacom.sc_sfma.model import PAIR_CLASSES, pair_class
from semdacom.sc_sfma.transceiver.overlap import overlap_pairs
from semdacom.sc_sfma.transceiver.transceiver import (
    LEGACY_CONFIG,
    NU_GRID,
    VARIANTS,
    DeepJsccNoma,
    SfmaTransceiver,
)

__all__ = ["PairSampler", "build_model", "images_tensor", "sample_batch", "train", "warm_start"]

#: All variants :func:`train` knows.
ALL_VARIANTS = (*VARIANTS, "deepjscc_noma")


def images_tensor(arr: np.ndarray) -> torch.Tensor:
    """uint8 ``(n, 28, 28)`` -> float ``(n, 1, 28, 28)`` in [0, 1]."""
    a = np.asarray(arr)
    if a.ndim == 3:
        a = a[:, None]
    return torch.from_numpy(a.astype(np.float32) / 255.0)


class PairSampler:
    """Pairs of dataset indices drawn evenly from the three pair classes.

    For class ``same`` both labels are equal; ``related``: different labels of one super-group
    (tops or footwear: trouser and bag have no related label); ``dissimilar``: labels of
    different super-groups. Labels are drawn uniformly among those that admit the class, then
    the images uniformly among those of each label.
    """

    def __init__(self, labels: np.ndarray) -> None:
        self.labels = np.asarray(labels, dtype=np.int64)
        self.by_label = {c: np.flatnonzero(self.labels == c) for c in range(10)}
        self.partners = {
            cls: {
                a: [b for b in range(10) if pair_class(a, b) == cls and len(self.by_label[b])]
                for a in range(10)
                if len(self.by_label[a])
            }
            for cls in PAIR_CLASSES
        }
        for cls in PAIR_CLASSES:
            self.partners[cls] = {a: bs for a, bs in self.partners[cls].items() if bs}

    def sample(
        self, n: int, rng: np.random.Generator, cls: str | None = None
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``n`` pairs: index arrays ``(ia, ib)`` and the pair class of each."""
        classes = [cls] * n if cls is not None else [PAIR_CLASSES[i] for i in rng.integers(0, 3, n)]
        ia = np.empty(n, dtype=np.int64)
        ib = np.empty(n, dtype=np.int64)
        for j, c in enumerate(classes):
            table = self.partners[c]
            keys = list(table)
            la = keys[rng.integers(len(keys))]
            lb = table[la][rng.integers(len(table[la]))]
            pool_a, pool_b = self.by_label[la], self.by_label[lb]
            ia[j] = pool_a[rng.integers(len(pool_a))]
            ib[j] = pool_b[rng.integers(len(pool_b))]
            while ib[j] == ia[j] and len(pool_b) > 1:
                ib[j] = pool_b[rng.integers(len(pool_b))]
        return ia, ib, classes


def sample_batch(
    x_all: torch.Tensor,
    sampler: PairSampler,
    n: int,
    rng: np.random.Generator,
    overlap_share: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """One training batch of ``n`` pairs ``(x_a, x_b, classes)``: a share ``overlap_share`` of
    content-overlapping pairs (:func:`~.overlap.overlap_pairs`, class ``"overlap"``, built from
    uniformly drawn images; a blend's second image is drawn too), the rest drawn evenly from the
    label pair classes by ``sampler``."""
    if not 0.0 <= overlap_share <= 1.0:
        raise ValueError(f"overlap_share must be in [0, 1], got {overlap_share!r}")
    is_overlap = rng.random(n) < overlap_share
    k = int(is_overlap.sum())
    ia, ib, classes = sampler.sample(n - k, rng)
    xa, xb = torch.empty(n, *x_all.shape[1:]), torch.empty(n, *x_all.shape[1:])
    xa[~torch.from_numpy(is_overlap)], xb[~torch.from_numpy(is_overlap)] = x_all[ia], x_all[ib]
    if k:
        src = rng.integers(0, len(x_all), k)
        other = rng.integers(0, len(x_all), k)
        oa, ob, _ = overlap_pairs(x_all[src], rng, partners=x_all[other])
        xa[torch.from_numpy(is_overlap)], xb[torch.from_numpy(is_overlap)] = oa, ob
    it = iter(classes)
    return xa, xb, ["overlap" if o else next(it) for o in is_overlap]


def warm_start(model: torch.nn.Module, path: str | Path) -> dict:
    """Load the weights of a saved model or checkpoint at ``path`` into ``model``.

    SC-SFMA from SwinJSCC+NOMA: every weight but the SCFM modules' comes from the ablation; the
    SCFM modules keep their initialisation, whose fusion path is zero (``gate="foreground"``),
    so the warm-started model computes exactly what its source does. Any other missing or
    unexpected weight is an error. Returns the source's config.
    """
    saved = torch.load(path, map_location="cpu", weights_only=False)
    sd = {k: v.float() for k, v in saved["state_dict"].items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    bad = [k for k in missing if ".scfm." not in f".{k}"] + list(unexpected)
    if bad:
        raise ValueError(f"{path}: weights do not fit this model: {bad[:6]}")
    if missing and getattr(model.encoder.scfm[0].gate, "kind", None) != "foreground":
        raise ValueError("a warm start adds SCFM only with gate='foreground' (zero fusion)")
    return dict(saved["config"])


def _check_resumable(ckpt: Path, st: dict, config: dict, steps: int, run: dict) -> None:
    """Raise ``ValueError`` unless checkpoint ``st`` continues a run of ``config`` below
    ``steps`` with the same training setup ``run`` (data mix, data offset, batch, learning
    rate, SNR range, nu grid, training images: what decides the data and schedule of the
    steps still to come): a checkpoint of another configuration, another setup or past the
    horizon is never overwritten by a run from step 0 nor continued with other data. Saved
    configs from before the keys of :data:`LEGACY_CONFIG` existed are read with them, as
    :func:`build_model` reads old weights; a checkpoint saved before ``run`` was stored
    resumes without that check."""
    old_run = st.get("run")
    if old_run is not None and dict(old_run) != run:
        diff = sorted(k for k in {*old_run, *run} if old_run.get(k) != run.get(k))
        raise ValueError(
            f"{ckpt} is a checkpoint of another training setup (differs in {diff}); "
            "give another ckpt_dir (--ckpt-dir) or remove it"
        )
    old = dict(st.get("config") or {})
    if old.get("variant") != "deepjscc_noma" and config.get("variant") != "deepjscc_noma":
        old = {**LEGACY_CONFIG, **old}
    if old != config:
        diff = sorted(k for k in {*old, *config} if old.get(k) != config.get(k))
        raise ValueError(
            f"{ckpt} is a checkpoint of another configuration (differs in {diff}); "
            "give another ckpt_dir (--ckpt-dir) or remove it"
        )
    if int(st["step"]) >= steps:
        raise ValueError(
            f"{ckpt} is at step {int(st['step'])}, past this run's {steps} steps; give more "
            "steps, another ckpt_dir (--ckpt-dir) or remove it"
        )


def build_model(config: dict) -> torch.nn.Module:
    """A model from its saved ``config`` (``variant`` selects the class)."""
    cfg = dict(config)
    variant = cfg.pop("variant")
    if variant == "deepjscc_noma":
        return DeepJsccNoma(cfg["djscc"], cfg["code_channels"], cfg["spatial"])
    return SfmaTransceiver(variant, **{**LEGACY_CONFIG, **cfg})


def _init_deepjscc_noma(init: str | Path | None) -> DeepJsccNoma:
    """DeepJSCC-NOMA from the shipped DeepJSCC weights (both users start from the same model),
    or from saved DeepJSCC-NOMA weights (a run continued, :func:`~.ablation.extend_ablation`)."""
    from semdacom.source_coding.djscc import WEIGHTS_DIR

    path = Path(init) if init else WEIGHTS_DIR / "djscc_r0.20_snr10.pt"
    saved = torch.load(path, map_location="cpu", weights_only=False)
    if saved["config"].get("variant") == "deepjscc_noma":  # a DeepJSCC-NOMA run, continued
        model = build_model(saved["config"])
        model.load_state_dict({k: v.float() for k, v in saved["state_dict"].items()})
        return model
    model = DeepJsccNoma(saved["config"])
    for m in model.users_:
        m.load_state_dict(saved["state_dict"])
    return model


def train(
    variant: str = "sc_sfma",
    steps: int = 6000,
    batch: int = 32,
    lr: float = 1e-3,
    snr_range: tuple[float, float] = (0.0, 20.0),
    nu_grid: tuple[float, ...] = NU_GRID,
    seed: int = 0,
    out: str | Path | None = None,
    ckpt_dir: str | Path = "out/sfma",
    ckpt_every: int = 200,
    config: dict | None = None,
    init: str | Path | None = None,
    device=None,
    progress: bool = True,
    max_train_images: int | None = None,
    overlap_share: float = 0.0,
    data_offset: int = 0,
) -> tuple[torch.nn.Module, dict]:
    """Train one variant end to end with eq. (9); returns ``(model, info)``.

    ``variant`` is one of ``sc_sfma``, ``swinjscc_noma``, ``swinjscc_oma`` (networks from
    ``config``, default :data:`~.transceiver.DEFAULT_CONFIG`) or ``deepjscc_noma`` (fine-tuned
    from the DeepJSCC weights ``init``, default the shipped rho = 0.2 model). For the Swin
    variants ``init`` warm-starts from saved weights (:func:`warm_start`; SC-SFMA from
    SwinJSCC+NOMA). ``overlap_share`` of each batch are content-overlapping pairs
    (:func:`sample_batch`). Step ``t`` draws the data of step ``t + data_offset`` of ``seed``'s
    sequence: two runs warm-started from one model train on identical data with
    ``data_offset`` = the steps that model was trained.
    """
    if variant not in ALL_VARIANTS:
        raise ValueError(f"variant must be one of {ALL_VARIANTS}, got {variant!r}")
    device = torch.device(device) if device is not None else default_device()
    torch.manual_seed(seed)
    if variant == "deepjscc_noma":
        model = _init_deepjscc_noma(init)
    else:
        model = SfmaTransceiver(variant, **(config or {}))
        if init is not None:
            warm_start(model, init)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    warm = min(200, steps // 10)

    def lr_at(s: int) -> float:
        if s < warm:
            return (s + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(s, steps) / max(steps, 1)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    ckpt = Path(ckpt_dir) / f"{variant}_s{seed}.ckpt"
    start, history = 0, []
    saved_cfg = {k: list(v) if isinstance(v, tuple) else v for k, v in model.config.items()}
    run = {
        "overlap_share": float(overlap_share),
        "data_offset": int(data_offset),
        "batch": int(batch),
        "lr": float(lr),
        "snr_range": [float(v) for v in snr_range],
        "nu_grid": [float(v) for v in nu_grid],
        "max_train_images": None if max_train_images is None else int(max_train_images),
    }
    resumed = []
    if ckpt.exists():
        st = torch.load(ckpt, map_location=device, weights_only=False)
        _check_resumable(ckpt, st, saved_cfg, steps, run)
        model.load_state_dict(st["state_dict"])
        opt.load_state_dict(st["opt"])
        start, history = int(st["step"]), list(st.get("history", []))
        resumed = list(st.get("resumed", []))
        if st.get("steps") == steps:
            sched.load_state_dict(st["sched"])
        else:
            # A run resumed with another horizon: the cosine restarts its decay from here
            # towards the new end (the optimiser state is kept).
            resumed.append({"at_step": start, "planned_steps": int(st["steps"])})
            for group in opt.param_groups:
                group.setdefault("initial_lr", lr)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at, last_epoch=start - 1)
    images, labels = load_fashion_mnist("train")
    if max_train_images:
        images, labels = images[:max_train_images], labels[:max_train_images]
    x_all = images_tensor(images)
    sampler = PairSampler(labels)
    lo, hi = map(float, snr_range)
    t0 = time.perf_counter()
    loss_ema = None
    bar = tqdm(range(start, steps), desc=f"train-sfma {variant}", disable=not progress)
    model.train()
    for step in bar:
        rng = np.random.default_rng([seed, step + data_offset])
        g = torch.Generator().manual_seed(int(rng.integers(2**62)))
        if overlap_share:
            xa, xb, _ = sample_batch(x_all, sampler, batch, rng, overlap_share)
        else:  # the first shipped models' sequence
            ia, ib, _ = sampler.sample(batch, rng)
            xa, xb = x_all[ia], x_all[ib]
        nu = float(nu_grid[rng.integers(len(nu_grid))])
        snr_a = torch.from_numpy(rng.uniform(lo, hi, batch).astype(np.float32))
        snr_b = torch.from_numpy(rng.uniform(lo, hi, batch).astype(np.float32))
        xa, xb = xa.to(device), xb.to(device)
        ha, hb = model(xa, xb, nu, snr_a, snr_b, generator=g)
        loss = torch.mean((ha - xa) ** 2) + torch.mean((hb - xb) ** 2)  # eq. (9)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        li = loss.item()
        loss_ema = li if loss_ema is None else 0.98 * loss_ema + 0.02 * li
        if step % 50 == 0:
            psnr = -10 * math.log10(loss_ema / 2)
            bar.set_postfix(loss=f"{loss_ema:.5f}", psnr=f"{psnr:.2f}")
            history.append([step, loss_ema])
        if (step + 1) % ckpt_every == 0 and step + 1 < steps:
            save_atomic(
                {
                    "config": saved_cfg,
                    "run": run,
                    "steps": steps,
                    "step": step + 1,
                    "state_dict": model.state_dict(),
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "history": history,
                    "resumed": resumed,
                },
                ckpt,
            )
    model.eval()
    info = {
        "variant": variant,
        "steps": int(steps),
        "batch": int(batch),
        "lr": float(lr),
        "snr_range_db": [lo, hi],
        "nu_grid": [float(v) for v in nu_grid],
        "seed": int(seed),
        "params": int(sum(p.numel() for p in model.parameters())),
        "train_seconds_this_run": round(time.perf_counter() - t0, 1),
        "device": str(device),
        "final_train_loss_ema": loss_ema,
        "loss": "eq. (9): MSE(x_a, x_hat_a) + MSE(x_b, x_hat_b)",
        "pairs": (
            f"{overlap_share:.2f} content-overlapping (overlap.py), the rest even over "
            "same/related/dissimilar, Fashion-MNIST train"
        ),
        "overlap_share": float(overlap_share),
        "data_offset": int(data_offset),
        "init": (
            str(init or "djscc_r0.20_snr10.pt")
            if variant == "deepjscc_noma"
            else (str(init) if init else None)
        ),
        "resumed_with_new_horizon": resumed,
        "history": history,
    }
    out = Path(out) if out is not None else Path(ckpt_dir) / f"sfma_{variant}.pt"
    sd = {k: v.detach().cpu().half() for k, v in model.state_dict().items()}
    save_atomic({"config": saved_cfg, "state_dict": sd, "info": info}, out)
    return model.cpu(), info
