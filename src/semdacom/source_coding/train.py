#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Training of the codec, the classifier and the semantic decoder (MU-ASCC [1], Sec. II-B-3).

* Codec: eq. (3) with the rate term ``R`` in bits per pixel and the distortion scaled as in
  compressai (``lambda * 255^2 * MSE + bpp``), one lambda per operating point; every sample of a
  batch draws its operating point at random (gain units, Cui et al. 2021).
* Classifier E: cross entropy on clean images.
* Semantic decoder Q = E o G: eq. (4), cross entropy on the *really quantised* latent of the frozen
  encoder F at a random operating point.

Every trainer is seeded, shows a tqdm bar, runs on CUDA when present (CPU otherwise), writes a
checkpoint every few hundred steps and at each epoch end, and resumes from it when restarted.

Every trainer reads Fashion-MNIST by default; ``images``/``labels`` (uint8 ``(n, H, W)`` or
``(n, C, H, W)``, e.g. :func:`semdacom.data.folder.load_split` of your own folder) train on
other images of any size and 1 or 3 channels. The batch is cut to the training set when the set
is smaller; ``epochs=None`` with ``max_steps`` runs as many epochs as the steps take.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from semdacom._torch_util import default_device, save_atomic
from semdacom.data.datasets import load_fashion_mnist
from semdacom.source_coding.models import Classifier, SemanticDecoder, VBRHyperprior

__all__ = [
    "default_device",
    "default_lambdas",
    "images_to_tensor",
    "train_classifier",
    "train_codec",
    "train_low_rate",
    "train_semantic",
]


def default_lambdas(levels: int = 16, lo: float = 0.0012, hi: float = 0.2) -> list[float]:
    """Log-spaced rate-distortion multipliers, one per operating point (ascending rate)."""
    if levels == 1:
        return [lo]
    return [float(v) for v in np.exp(np.linspace(math.log(lo), math.log(hi), levels))]


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``(n, H, W)`` or ``(n, C, H, W)`` images -> float ``(n, C, H, W)`` in [0, 1]."""
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[:, None]
    return torch.from_numpy(arr.astype(np.float32) / 255.0)


def _training_set(images, labels, split: str = "train"):
    """``images``/``labels`` as given, else the Fashion-MNIST ``split``."""
    if images is None:
        images, fm_labels = load_fashion_mnist(split)
        labels = fm_labels if labels is None else labels
    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"images must be a non-empty (n, H, W) or (n, C, H, W) array, "
                         f"got shape {images.shape}")  # fmt: skip
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int64)
        if labels.shape != (len(images),):
            raise ValueError(f"{len(images)} images with labels of shape {labels.shape}")
    return images, labels


def _epochs(epochs: int | None, default: int, max_steps: int | None, per_epoch: int) -> int:
    """``epochs``; when None, enough epochs for ``max_steps`` (else ``default``)."""
    if epochs is not None:
        return int(epochs)
    if max_steps is not None:
        return max(1, math.ceil(int(max_steps) / max(per_epoch, 1)))
    return default


def _set_threads() -> None:
    n = int(os.environ.get("SEMDACOM_THREADS", "2"))
    torch.set_num_threads(max(1, n))


def _batches(n: int, batch: int, seed: int, epoch: int) -> list[np.ndarray]:
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    return [perm[i : i + batch] for i in range(0, n - batch + 1, batch)]


def rd_step(model, loss, params, opt, aux_opt) -> None:
    """One step of a model with an entropy bottleneck: the rate-distortion ``loss`` on
    ``params`` (gradient norm clipped to 1), then the bottleneck's auxiliary loss (its
    quantiles) on ``aux_opt``."""
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    aux = model.aux_loss()
    aux_opt.zero_grad()
    aux.backward()
    aux_opt.step()


def _steps(
    name: str,
    ckpt: Path,
    state: dict,
    n: int,
    batch: int,
    epochs: int,
    seed: int,
    every: int,
    save_state,
    max_steps: int | None = None,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(epoch, step, batch indices)`` from the resume point, checkpointing as it goes.

    ``max_steps`` ends training early (after that many batches in all).
    """
    total = epochs * (n // batch)
    if max_steps is not None:
        total = min(total, int(max_steps))
    done = state.get("global_step", 0)
    with tqdm(total=total, initial=done, desc=name, unit="batch", dynamic_ncols=True) as bar:
        for epoch in range(epochs):
            for step, idx in enumerate(_batches(n, batch, seed, epoch)):
                g = epoch * (n // batch) + step
                if g >= total:
                    return
                if g < done:
                    continue
                yield epoch, g, idx
                bar.update(1)
                state["global_step"] = g + 1
                if (g + 1) % every == 0 or step == n // batch - 1 or g + 1 == total:
                    save_atomic(save_state(), ckpt)
                if "postfix" in state:
                    bar.set_postfix(state["postfix"], refresh=False)


def _resume(
    ckpt: Path, device, model, opts: dict, strict: bool = True, keep: tuple[str, ...] = ()
) -> tuple[dict, Callable[[], dict]]:
    """Resume ``model`` and the optimisers ``opts`` (by checkpoint key) from ``ckpt`` if it
    exists; returns the training state (``global_step`` and the ``keep`` entries) and the
    function that makes the checkpoint (model, optimisers, state) for :func:`_steps`."""
    state: dict = {}
    if ckpt.exists():
        saved = torch.load(ckpt, map_location=device, weights_only=False)
        model.load_state_dict(saved["model"], strict=strict)
        for key, opt in opts.items():
            opt.load_state_dict(saved[key])
        state["global_step"] = saved["global_step"]
        state.update({k: saved[k] for k in keep if k in saved})

    def save_state() -> dict:
        return {
            "model": model.state_dict(),
            **{key: opt.state_dict() for key, opt in opts.items()},
            **state,
        }

    return state, save_state


def train_classifier(
    out: str | Path,
    *,
    epochs: int | None = 4,
    batch: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    ckpt_dir: str | Path = "out/codec",
    device: torch.device | None = None,
    images: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    test: tuple[np.ndarray, np.ndarray] | None = None,
    classes: int | None = None,
    max_steps: int | None = None,
    meta: dict | None = None,
) -> dict:
    """Train the classifier E on the Fashion-MNIST training split (or ``images``/``labels``);
    save to ``out`` (its config, state dict, test accuracy and ``meta``).

    ``test`` = ``(images, labels)`` scored at the end (default: the Fashion-MNIST test split);
    ``classes`` the number of classes (default: the largest label + 1, 10 for Fashion-MNIST). The
    network takes the images' channels and size. Returns the test accuracy and the file written.
    """
    _set_threads()
    device = device or default_device()
    torch.manual_seed(seed)
    images, labels = _training_set(images, labels)
    if labels is None or (labels < 0).any():
        raise ValueError("the classifier needs a label >= 0 for every training image")
    x_all = images_to_tensor(images)
    y_all = torch.from_numpy(labels)
    if x_all.shape[-1] != x_all.shape[-2]:
        raise ValueError(f"the classifier needs square images, got {tuple(x_all.shape[1:])}")
    classes = int(classes) if classes is not None else int(labels.max()) + 1
    if int(labels.max()) >= classes:
        raise ValueError(f"label {int(labels.max())} for {classes} classes")
    model = Classifier(x_all.shape[1], classes, x_all.shape[-1]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    ckpt = Path(ckpt_dir) / "classifier.ckpt"
    state, save_state = _resume(ckpt, device, model, {"opt": opt})

    batch = min(batch, len(x_all))
    epochs = _epochs(epochs, 4, max_steps, len(x_all) // batch)
    model.train()
    total = epochs * (len(x_all) // batch)
    if max_steps is not None:
        total = min(total, int(max_steps))
    for _epoch, g, idx in _steps(
        "classifier", ckpt, state, len(x_all), batch, epochs, seed, 200, save_state, max_steps
    ):
        for group in opt.param_groups:
            group["lr"] = lr * (0.1 if g >= 0.8 * total else 1.0)
        xb, yb = x_all[idx].to(device), y_all[idx].to(device)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        state["postfix"] = {"ce": f"{loss.item():.3f}"}
    model.eval()
    test_images, test_labels = (None, None) if test is None else test
    acc = classifier_accuracy(model, device, images=test_images, labels=test_labels)
    out = Path(out)
    save_atomic(
        {
            "config": model.config,
            "state_dict": model.state_dict(),
            "test_accuracy": acc,
            **(meta or {}),
        },
        out,
    )
    return {"file": str(out), "test_accuracy": acc, "n_train": len(x_all)}


@torch.no_grad()
def classifier_accuracy(
    model: Classifier,
    device: torch.device | None = None,
    n: int | None = None,
    *,
    images: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> float | None:
    """Accuracy of ``model`` on clean images: the Fashion-MNIST test split, or ``images`` with
    ``labels`` (their first ``n``); None when there are no images."""
    device = device or next(model.parameters()).device
    if images is None:
        images, labels = load_fashion_mnist("test")
    if n is not None:
        images, labels = images[:n], labels[:n]
    if len(images) == 0:
        return None
    labels = np.asarray(labels, dtype=np.int64)
    x = images_to_tensor(images)
    correct = 0
    for i in range(0, len(x), 1000):
        pred = model(x[i : i + 1000].to(device)).argmax(1).cpu()
        correct += int((pred == torch.from_numpy(labels[i : i + 1000])).sum())
    return correct / len(x)


def train_codec(
    out: str | Path,
    *,
    levels: int = 16,
    lambdas: list[float] | None = None,
    epochs: int | None = 6,
    batch: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    n: int = 32,
    m: int = 32,
    nh: int = 16,
    arch: str = "subpixel",
    ckpt_dir: str | Path = "out/codec",
    name: str = "hyperprior_vbr",
    init: str | Path | None = None,
    max_steps: int | None = None,
    gain_lr_scale: float = 1.0,
    init_point: int | None = None,
    film: bool = False,
    balance: bool = False,
    device: torch.device | None = None,
    images: np.ndarray | None = None,
    meta: dict | None = None,
) -> dict:
    """Train a (variable-rate) hyperprior codec with eq. (3); save weights and CDF tables.

    ``images`` (uint8 ``(n, H, W)`` or ``(n, C, H, W)``, default the Fashion-MNIST training
    split) set the model's channels; the saved dict keeps ``image_shape`` ``(C, H, W)`` (what
    :meth:`.codec.LearnedCodec.load` codes) and ``meta``.

    ``n``, ``m``, ``nh`` and ``arch`` size the networks (:class:`.models.VBRHyperprior`).
    ``levels == 1`` trains a fixed-rate model at ``lambdas[0]``. ``init`` starts from the
    weights of a saved model (fine-tuning, e.g. to a new lambda range); ``gain_lr_scale``
    multiplies the learning rate of the gain units (so that they can move to new lambdas fast).
    ``init_point`` (with ``init`` and ``levels == 1``) starts the gain units from the init
    model's operating point ``init_point``: a fixed-rate model then starts exactly where the
    variable-rate model is at that point and is fine-tuned from there.

    ``film`` adds the rate-conditioned affine maps of :class:`.models.VBRHyperprior`.
    ``balance`` divides each sample's loss ``lambda_r D + R`` by a running mean of that
    point's loss, so that every operating point pulls on the shared weights with the same
    relative strength (the gradient of ``sum_r log L_r``; each point's own optimum is
    unchanged, but without it the high-lambda points, whose losses are several times larger,
    dominate the shared transforms).
    """
    _set_threads()
    device = device or default_device()
    lambdas = list(lambdas) if lambdas is not None else default_lambdas(levels)
    if len(lambdas) != levels:
        raise ValueError(f"{levels} levels need {levels} lambdas, got {len(lambdas)}")
    torch.manual_seed(seed)
    images, _ = _training_set(images, None)
    x_all = images_to_tensor(images)
    batch = min(batch, len(x_all))
    epochs = _epochs(epochs, 6, max_steps, len(x_all) // batch)
    saved_init = None
    if init is not None:
        saved_init = torch.load(Path(init), map_location=device, weights_only=False)
        # a point taken from a FiLM model keeps its affine maps (else it would start elsewhere)
        film = film or (init_point is not None and bool(saved_init["config"].get("film")))
    model = VBRHyperprior(
        channels=x_all.shape[1], n=n, m=m, nh=nh, levels=levels, arch=arch, film=film
    ).to(device)
    main_params = [p for k, p in model.named_parameters() if not k.endswith("quantiles")]
    aux_params = [p for k, p in model.named_parameters() if k.endswith("quantiles")]
    gain_params = [model.log_gain, model.log_inv_gain]
    other = [p for p in main_params if all(p is not g for g in gain_params)]
    opt = torch.optim.Adam(
        [{"params": other, "scale": 1.0}, {"params": gain_params, "scale": gain_lr_scale}], lr=lr
    )
    aux_opt = torch.optim.Adam(aux_params, lr=1e-3)
    if saved_init is not None:
        saved = saved_init
        sd = {k: v for k, v in saved["state_dict"].items() if not k.startswith("gaussian")}
        sd = {k: v for k, v in sd.items() if not k.startswith("entropy_bottleneck._")}
        own = model.state_dict()  # gain units of another number of points are not taken
        sd = {k: v for k, v in sd.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(sd, strict=False)
        if init_point is not None:
            if levels != 1:
                raise ValueError("init_point needs levels == 1")
            with torch.no_grad():
                model.log_gain.copy_(saved["state_dict"]["log_gain"][init_point][None])
                model.log_inv_gain.copy_(saved["state_dict"]["log_inv_gain"][init_point][None])
                for key in ("film_a", "film_s", "film_o"):
                    if getattr(model, key) is not None:
                        getattr(model, key).copy_(saved["state_dict"][key][init_point][None])
    lam = torch.tensor(lambdas, dtype=torch.float32, device=device)
    ckpt = Path(ckpt_dir) / f"{name}.ckpt"
    state, save_state = _resume(
        ckpt, device, model, {"opt": opt, "aux_opt": aux_opt}, strict=False, keep=("loss_ema",)
    )

    gen = torch.Generator().manual_seed(seed + 1)
    for _ in range(state.get("global_step", 0)):  # same rate draws as an uninterrupted run
        torch.randint(0, levels, (batch,), generator=gen)
    total = epochs * (len(x_all) // batch)
    if max_steps is not None:
        total = min(total, int(max_steps))
    npix = x_all.shape[-1] * x_all.shape[-2]
    model.train()
    t0 = time.time()
    for _epoch, g, idx in _steps(
        name, ckpt, state, len(x_all), batch, epochs, seed, 300, save_state, max_steps
    ):
        for group in opt.param_groups:
            group["lr"] = lr * group["scale"] * (0.1 if g >= 0.85 * total else 1.0)
        xb = x_all[idx].to(device)
        r = torch.randint(0, levels, (len(idx),), generator=gen).to(device)
        res = model(xb, r)
        bits = sum(
            (-torch.log2(lk)).flatten(1).sum(1) for lk in res["likelihoods"].values()
        )  # per image
        mse = (res["x_hat"] - xb).pow(2).flatten(1).mean(1)
        per = lam[r] * 255.0**2 * mse + bits / npix
        if balance:
            per = per / _balance_scale(state, per.detach(), r, levels)
        loss = per.mean()
        rd_step(model, loss, main_params, opt, aux_opt)
        state["postfix"] = {"loss": f"{loss.item():.3f}", "bits": f"{bits.mean().item():.0f}"}
    model.eval()
    model.update()
    out = Path(out)
    save_atomic(
        {
            "config": model.config,
            "lambdas": lambdas,
            "state_dict": model.state_dict(),
            "train_seconds": time.time() - t0,
            "init": None if init is None else str(init),
            "image_shape": list(x_all.shape[1:]),
            **(meta or {}),
        },
        out,
    )
    return {"file": str(out), "n_train": len(x_all), "image_shape": list(x_all.shape[1:])}


def _balance_scale(state: dict, per: torch.Tensor, r: torch.Tensor, levels: int) -> torch.Tensor:
    """Running mean (EMA 0.99) of each operating point's loss, per sample of the batch."""
    ema = state.get("loss_ema")
    if ema is None:
        ema = torch.full((levels,), float("nan"))
    ema = ema.clone()
    rc = r.cpu()
    for k in torch.unique(rc).tolist():
        v = float(per[rc == k].mean())
        ema[k] = v if not torch.isfinite(ema[k]) else 0.99 * float(ema[k]) + 0.01 * v
    state["loss_ema"] = ema
    return ema.to(per.device)[r]


def train_semantic(
    out: str | Path,
    codec_path: str | Path,
    classifier_path: str | Path,
    *,
    epochs: int | None = 2,
    batch: int = 128,
    lr: float = 3e-4,
    seed: int = 0,
    ckpt_dir: str | Path = "out/codec",
    max_steps: int | None = None,
    device: torch.device | None = None,
    images: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    meta: dict | None = None,
) -> dict:
    """Fine-tune Q = E o G with eq. (4) on the frozen encoder's quantised latents of the
    Fashion-MNIST training split (or ``images``/``labels``; every label >= 0). The saved dict
    keeps ``codec_sha256``, the codec it decodes, and ``meta``."""
    from semdacom.source_coding.codec import check_classifier, load_classifier, load_codec

    _set_threads()
    device = device or default_device()
    torch.manual_seed(seed)
    images, labels = _training_set(images, labels)
    if labels is None or (labels < 0).any():
        raise ValueError("the semantic decoder needs a label >= 0 for every training image")
    codec = load_codec(codec_path, device=device)
    classifier = load_classifier(classifier_path, device=device)
    check_classifier(classifier, images.shape[1:] if images.ndim == 4 else (1, *images.shape[1:]))
    if int(labels.max()) >= classifier.config["classes"]:
        raise ValueError(f"label {int(labels.max())} for a classifier of "
                         f"{classifier.config['classes']} classes")  # fmt: skip
    model = SemanticDecoder(codec, classifier).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    ckpt = Path(ckpt_dir) / "semantic_vbr.ckpt"
    state, save_state = _resume(ckpt, device, model, {"opt": opt})

    x_all = images_to_tensor(images)
    y_all = torch.from_numpy(labels)
    batch = min(batch, len(x_all))
    epochs = _epochs(epochs, 2, max_steps, len(x_all) // batch)
    gen = torch.Generator().manual_seed(seed + 2)
    levels = codec.levels
    for _ in range(state.get("global_step", 0)):  # same rate draws as an uninterrupted run
        torch.randint(0, levels, (batch,), generator=gen)
    model.train()
    for _epoch, _g, idx in _steps(
        "semantic", ckpt, state, len(x_all), batch, epochs, seed, 200, save_state, max_steps
    ):
        xb, yb = x_all[idx].to(device), y_all[idx].to(device)
        r = torch.randint(0, levels, (len(idx),), generator=gen).to(device)
        with torch.no_grad():
            y_hat, pad = codec_latent(codec, xb, r)
        loss = F.cross_entropy(model(y_hat, r, pad), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        state["postfix"] = {"ce": f"{loss.item():.3f}"}
    model.eval()
    out = Path(out)
    save_atomic(
        {
            "config": model.config,
            "state_dict": model.state_dict(),
            "codec_sha256": _sha(codec_path),
            **(meta or {}),
        },
        out,
    )
    return {"file": str(out), "n_train": len(x_all)}


@torch.no_grad()
def codec_latent(
    codec: VBRHyperprior, x: torch.Tensor, rate_index: torch.Tensor
) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """The really quantised, dequantised latent ``y_hat`` of ``x`` (error-free channel)."""
    xp, pad = codec.pad(x)
    _, ig = codec.gains(rate_index)
    return torch.round(codec.analysis(xp, rate_index)) * ig, pad


def train_low_rate(
    out: str | Path,
    codec_path: str | Path,
    semantic_path: str | Path,
    classifier_path: str | Path,
    *,
    points=None,
    epochs: int | None = 4,
    batch: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    alpha: float = 0.5,
    width: int = 64,
    ckpt_dir: str | Path = "out/codec",
    max_steps: int | None = None,
    device: torch.device | None = None,
    images: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> dict:
    """Train the codec's low-rate end (:class:`.low_rate.LowRateHead`, issue 26) on the
    Fashion-MNIST training split (or ``images``/``labels``, every label >= 0).

    The hyperprior F/G and the semantic decoder Q stay frozen (their points are unchanged).
    Every sample draws one low-rate point; its loss is the image MSE divided by the running
    mean of that point's MSE (the balance of :func:`train_codec`) plus ``alpha`` times the
    cross entropy of eq. (4) of Q (hyperprior point 0) on the decoded latent, so that the few
    bits keep what the semantic user needs as well as what the data user sees. The learning
    rate drops tenfold for the last 15 % of the steps.
    """
    from semdacom.source_coding.codec import load_classifier, load_codec, load_semantic
    from semdacom.source_coding.low_rate import DEFAULT_POINTS, LowRateHead

    _set_threads()
    device = device or default_device()
    torch.manual_seed(seed)
    codec = load_codec(codec_path, device=device)
    sem = load_semantic(semantic_path, codec, load_classifier(classifier_path, device), device)
    for p in list(codec.parameters()) + list(sem.parameters()):
        p.requires_grad_(False)
    images, labels = _training_set(images, labels)
    if labels is None or (labels < 0).any():
        raise ValueError("the low-rate end needs a label >= 0 for every training image")
    x_all = images_to_tensor(images)
    y_all = torch.from_numpy(labels)
    batch = min(batch, len(x_all))
    epochs = _epochs(epochs, 4, max_steps, len(x_all) // batch)
    xp, pad = codec.pad(x_all[:1])
    m, h, w = codec.config["m"], xp.shape[-2] // 4, xp.shape[-1] // 4
    head = LowRateHead((m, h, w), points or DEFAULT_POINTS, width=width).to(device)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    ckpt = Path(ckpt_dir) / "low_rate_head.ckpt"
    state, save_state = _resume(ckpt, device, head, {"opt": opt}, keep=("loss_ema",))
    levels = head.levels
    gen = torch.Generator().manual_seed(seed + 3)
    for _ in range(state.get("global_step", 0)):  # same point draws as an uninterrupted run
        torch.randint(0, levels, (batch,), generator=gen)
    total = epochs * (len(x_all) // batch)
    if max_steps is not None:
        total = min(total, int(max_steps))
    zero = torch.zeros(batch, dtype=torch.long, device=device)
    head.train()
    t0 = time.time()
    for _epoch, g, idx in _steps(
        "low-rate", ckpt, state, len(x_all), batch, epochs, seed, 200, save_state, max_steps
    ):
        for group in opt.param_groups:
            group["lr"] = lr * (0.1 if g >= 0.85 * total else 1.0)
        xb, yb = x_all[idx].to(device), y_all[idx].to(device)
        k = torch.randint(0, levels, (len(idx),), generator=gen).to(device)
        r0 = zero[: len(idx)]
        with torch.no_grad():
            xpb, _ = codec.pad(xb)
            feat = codec.analysis(xpb, r0)
        y_hat = head.decode(head.train_code(head.encode(feat), k), k)
        x_hat = codec.crop(codec.synthesis(y_hat, r0), pad)
        mse = (x_hat - xb).pow(2).flatten(1).mean(1)
        ce = F.cross_entropy(sem(y_hat, r0, pad), yb, reduction="none")
        loss = (mse / _balance_scale(state, mse.detach(), k, levels) + alpha * ce).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0)
        opt.step()
        state["postfix"] = {"loss": f"{loss.item():.3f}", "ce": f"{ce.mean().item():.2f}"}
    head.eval()
    out = Path(out)
    save_atomic(
        {
            "config": head.config,
            "state_dict": head.state_dict(),
            "codec_sha256": _sha(codec_path),
            "semantic_sha256": _sha(semantic_path),
            "alpha": alpha,
            "train_seconds": time.time() - t0,
        },
        out,
    )
    return {"file": str(out), "points": head.config["points"]}


def _sha(path) -> str:
    from semdacom.data import file_sha256

    return file_sha256(Path(path))
