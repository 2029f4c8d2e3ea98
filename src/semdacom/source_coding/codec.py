#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Real encode/decode to bytes with the variable-rate hyperprior (MU-ASCC [1], Sec. II-B).

:class:`LearnedCodec` is the API the blocks, the CLI and the distortion fitting use::

    codec = LearnedCodec.load()                      # shipped weights
    streams = codec.encode(images, rate_index=7)    # list[bytes], one per image
    out = codec.decode(streams, rate_index=7)       # DecodeResult: images + erasures
    labels = codec.classify(streams, rate_index=7)  # semantic decoder Q = E o G

Decoding never raises on a corrupted or truncated stream: it returns an image (or a label) for
whatever is readable and an explicit erasure (``erased[i]`` with a reason) when nothing is.
"""

from __future__ import annotations

import copy
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from compressai.models.utils import update_registered_buffers

from semdacom.data import DATA_DIR, TABLES_DIR, WEIGHTS_DIR, file_sha256
from semdacom.source_coding import bitstream
from semdacom.source_coding.base import SourceCoder
from semdacom.source_coding.low_rate import LowRateHead, pack_codes, unpack_codes
from semdacom.source_coding.models import Classifier, SemanticDecoder, VBRHyperprior, scale_table

__all__ = [
    "DATA_DIR",
    "DecodeResult",
    "LearnedCodec",
    "check_classifier",
    "decode_each",
    "file_sha256",
    "load_classifier",
    "default_low_rate",
    "load_codec",
    "load_low_rate",
    "default_semantic",
    "load_semantic",
    "shared_codec",
]


#: Largest stream accepted (bytes); anything longer is an erasure (a 28x28 image needs < 1 kB).
MAX_STREAM_BYTES = 1 << 16
#: Smallest share of a batch handed to one worker thread (smaller batches stay on the caller).
MIN_WORKER_CHUNK = 32
#: Clamp of decoded symbols (|y| and |z| stay far below this on real data).
Y_BOUND = 255
Z_BOUND = 255


def _load(path: str | Path, device: torch.device | str | None) -> dict:
    return torch.load(Path(path), map_location=device or "cpu", weights_only=False)


def load_codec(path: str | Path | None = None, device=None) -> VBRHyperprior:
    """Load a codec saved by :func:`.train.train_codec` (CDF tables included). The model's
    ``image_shape`` is the ``(C, H, W)`` it was trained on when the file says (None before
    issue 25; those are the 28x28 grayscale Fashion-MNIST models)."""
    path = Path(path) if path is not None else WEIGHTS_DIR / "hyperprior_vbr.pt"
    saved = _load(path, device)
    # Weights saved before the "arch" option existed use transposed convolutions.
    model = VBRHyperprior(**{"arch": "deconv", **saved["config"]})
    sd = saved["state_dict"]
    update_registered_buffers(
        model.gaussian_conditional,
        "gaussian_conditional",
        ["_quantized_cdf", "_offset", "_cdf_length", "scale_table"],
        sd,
    )
    update_registered_buffers(
        model.entropy_bottleneck,
        "entropy_bottleneck",
        ["_quantized_cdf", "_offset", "_cdf_length"],
        sd,
    )
    model.load_state_dict(sd)
    model.lambdas = list(saved.get("lambdas", []))
    shape = saved.get("image_shape")
    model.image_shape = None if shape is None else tuple(int(v) for v in shape)
    return model.to(device or "cpu").eval()


def load_classifier(path: str | Path | None = None, device=None) -> Classifier:
    """Load the classifier E saved by :func:`.train.train_classifier`, or any PyTorch
    classifier saved as ``{"module": "pkg.mod:Class", "kwargs": {...}, "state_dict": ...}``
    (optionally ``"image_shape": [C, H, W]``, checked by :func:`check_classifier`): the class is
    imported, built with ``kwargs`` and given the state dict; it must map a float batch
    ``(n, C, H, W)`` in [0, 1] to logits ``(n, classes)`` (docs/bring_your_model.md). Such a
    classifier labels decoded images (the classical and CompressAI coders); the learned codec's
    Q needs the shipped architecture."""
    path = Path(path) if path is not None else WEIGHTS_DIR / "classifier.pt"
    saved = _load(path, device)
    if "module" in saved:
        import importlib

        mod, _, name = str(saved["module"]).partition(":")
        try:
            cls = getattr(importlib.import_module(mod), name)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ValueError(
                f"{path}: cannot import the classifier {saved['module']!r}: {exc}"
            ) from exc
        model = cls(**dict(saved.get("kwargs") or {}))
        model.load_state_dict(saved["state_dict"])
        shape = saved.get("image_shape")
        model.image_shape = None if shape is None else tuple(int(v) for v in shape)
        return model.to(device or "cpu").eval()
    model = Classifier(**saved["config"])
    model.load_state_dict(saved["state_dict"])
    return model.to(device or "cpu").eval()


def check_classifier(classifier: Classifier, image_shape) -> None:
    """ValueError unless ``classifier`` takes images ``(C, H, W)`` = ``image_shape`` (a
    classifier of another class is checked against its file's ``image_shape`` when it says)."""
    c, h, w = (int(v) for v in image_shape)
    cfg = getattr(classifier, "config", None)
    if not isinstance(cfg, dict) or not {"channels", "size"} <= set(cfg):
        own = getattr(classifier, "image_shape", None)
        if own is not None and tuple(own) != (c, h, w):
            raise ValueError(f"the classifier takes {tuple(own)} images, the codec {(c, h, w)}")
        return
    if (cfg["channels"], cfg["size"], cfg["size"]) != (c, h, w):
        raise ValueError(
            f"the classifier takes {cfg['channels']}x{cfg['size']}x{cfg['size']} images, the "
            f"codec {c}x{h}x{w}: train both with the same --size and --mode"
        )


def _same_codec(saved: dict, codec: VBRHyperprior) -> bool:
    """Whether a saved semantic decoder fits ``codec``'s networks (its config)."""
    cfg = saved.get("config", {}).get("codec", {})
    return {"arch": "deconv", **cfg} == {"arch": "deconv", **codec.config}


def load_semantic(
    path: str | Path | None, codec: VBRHyperprior, classifier: Classifier | None, device=None
) -> SemanticDecoder:
    """Load the semantic decoder Q saved by :func:`.train.train_semantic`.

    Its file holds the classifier E's weights too; ``classifier`` None builds E from the
    file's config, a given one must have the same config (ValueError otherwise)."""
    path = Path(path) if path is not None else WEIGHTS_DIR / "semantic_vbr.pt"
    saved = _load(path, device)
    if not _same_codec(saved, codec):
        raise ValueError(f"{path} decodes a codec of another shape ({saved['config']['codec']}, "
                         f"this one is {codec.config})")  # fmt: skip
    cfg = saved["config"].get("classifier")
    if classifier is None:
        classifier = Classifier(**cfg)
    elif cfg is not None and dict(getattr(classifier, "config", None) or {}) != dict(cfg):
        raise ValueError(f"{path} was trained with a classifier {cfg}, "
                         f"the one given is {getattr(classifier, 'config', None)}")  # fmt: skip
    model = SemanticDecoder(codec, classifier)
    model.load_state_dict(saved["state_dict"])
    model.codec_sha256 = saved.get("codec_sha256")
    return model.to(device or "cpu").eval()


#: The shipped low-rate end of the shipped hyperprior.
LOW_RATE_FILE = "hyperprior_vbr_low_rate.pt"


def load_low_rate(path: str | Path | None = None, device=None) -> LowRateHead:
    """Load the low-rate end saved by :func:`.train.train_low_rate` (issue 26); its dict keeps
    ``codec_sha256``, the hyperprior it was trained on, as ``model.codec_sha256``."""
    path = Path(path) if path is not None else WEIGHTS_DIR / LOW_RATE_FILE
    saved = _load(path, device)
    cfg = saved["config"]
    model = LowRateHead(tuple(cfg["latent_shape"]), [tuple(p) for p in cfg["points"]], cfg["width"])
    model.load_state_dict(saved["state_dict"])
    model.codec_sha256 = saved.get("codec_sha256")
    return model.to(device or "cpu").eval()


#: The semantic decoder beside a codec's weights (the shipped one beside the shipped codec).
SEMANTIC_FILE = "semantic_vbr.pt"
#: The rate table of a codec: ``tables/`` beside its ``weights/`` folder.
RATE_TABLE_FILE = "hyperprior_vbr_eval.json"


def _beside(folder: Path, name: str, shipped: Path) -> list[Path]:
    """The existing files of ``folder / name`` and ``shipped``, in that order, each once."""
    out: list[Path] = []
    for c in (folder / name, shipped):
        if c.exists() and all(c.resolve() != d.resolve() for d in out):
            out.append(c)
    return out


def default_low_rate(weights: str | Path) -> Path | None:
    """The low-rate end trained on the hyperprior ``weights``: the one beside them, else the
    shipped one, when its ``codec_sha256`` is theirs (or unrecorded); None otherwise."""
    weights = Path(weights)
    sha = None
    for path in _beside(weights.parent, LOW_RATE_FILE, WEIGHTS_DIR / LOW_RATE_FILE):
        saved = torch.load(path, map_location="cpu", weights_only=False)
        sha = sha or file_sha256(weights)
        if saved.get("codec_sha256") in (None, sha):
            return path
    return None


def default_semantic(weights: str | Path, model: VBRHyperprior | None = None) -> Path | None:
    """The semantic decoder Q of the codec ``weights``: ``semantic_vbr.pt`` beside them when it
    fits the codec's networks and its ``codec_sha256`` (recorded since issue 25) is the
    weights' or unrecorded; else the shipped one when it was trained on these weights (its
    recorded sha256, or, unrecorded, the weights are the shipped hyperprior); None otherwise."""
    weights = Path(weights)
    model = model if model is not None else load_codec(weights)
    shipped = WEIGHTS_DIR / SEMANTIC_FILE
    sha = None
    for path in _beside(weights.parent, SEMANTIC_FILE, shipped):
        saved = torch.load(path, map_location="cpu", weights_only=False)
        sha = sha or file_sha256(weights)
        ok = {None, sha}
        if path.resolve() == shipped.resolve() and weights.parent.resolve() != WEIGHTS_DIR:
            vbr = WEIGHTS_DIR / "hyperprior_vbr.pt"
            ok = {sha} | ({None} if vbr.exists() and file_sha256(vbr) == sha else set())
        if _same_codec(saved, model) and saved.get("codec_sha256") in ok:
            return path
    return None


@dataclass
class DecodeResult:
    """Decoded images ``(n, C, H, W)`` float32 in [0, 1]; erased ones hold the erasure fill."""

    images: np.ndarray
    erased: np.ndarray
    reasons: list[str] = field(default_factory=list)


def decode_each(streams, fill: np.ndarray, deadline_s: float, decode_one) -> DecodeResult:
    """Decode ``streams`` one at a time (the codecs without a batched decoder: the HEVC
    stand-in, CompressAI models): ``decode_one(stream) -> (image or None, reason)``; None is an
    erasure with its reason and the image ``fill``; streams not reached within ``deadline_s``
    are erased as ``"timeout"``."""
    streams = list(streams)
    n = len(streams)
    images = np.repeat(fill[None], n, axis=0).astype(np.float32)
    erased = np.zeros(n, dtype=bool)
    reasons = [""] * n
    t0 = time.monotonic()
    for i, s in enumerate(streams):
        if time.monotonic() - t0 > deadline_s:
            erased[i], reasons[i] = True, "timeout"
            continue
        img, why = decode_one(s)
        if img is None:
            erased[i], reasons[i] = True, why
        else:
            images[i] = img
    return DecodeResult(images, erased, reasons)


class LearnedCodec(SourceCoder):
    """Variable-rate learned source codec with bytes in and out (see the module docstring).

    Parameters
    ----------
    model : VBRHyperprior
        Trained codec (its CDF tables built).
    image_shape : tuple
        ``(C, H, W)`` of the images (any size; padded to multiples of 16 inside).
    semantic : SemanticDecoder, optional
        Q = E o G for :meth:`classify`.
    rate_table : sequence of float, optional
        Mean bits per image of each operating point (R_s).
    deadline_s : float
        Wall-clock budget of one :meth:`decode` call; streams not reached in time are erased
        with the reason ``"timeout"``.
    low_rate : LowRateHead, optional
        The low-rate end (issue 26): its points come first, so operating point ``r`` is the
        head's point ``r`` for ``r < n_low`` and the hyperprior's point ``r - n_low`` above
        (``n_low`` = :attr:`low_rate_levels`; 0 without a head).
    workers : int
        Threads that share a large batch (at least ``2 * MIN_WORKER_CHUNK`` images) in
        :meth:`encode`, :meth:`decode` and :meth:`classify`. The networks and the rANS kernel
        release the GIL, so on a multi-core CPU two workers with one torch thread each beat one
        worker with two torch threads (torch's intra-op parallelism is poor on these small
        feature maps); set ``torch.set_num_threads(1)`` when using more than one.
    """

    def __init__(
        self,
        model: VBRHyperprior,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        semantic: SemanticDecoder | None = None,
        rate_table: list[float] | None = None,
        deadline_s: float = 30.0,
        sha256: str | None = None,
        workers: int = 1,
        low_rate: LowRateHead | None = None,
    ) -> None:
        self.model = model.eval()
        self.low_rate = None if low_rate is None else low_rate.eval()
        if int(workers) < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = int(workers)
        self._pool: ThreadPoolExecutor | None = None
        self.device = next(model.parameters()).device
        self.image_shape = tuple(int(v) for v in image_shape)
        self.semantic = semantic.eval() if semantic is not None else None
        self.rate_table = None if rate_table is None else [float(v) for v in rate_table]
        if self.rate_table is not None and len(self.rate_table) != self.levels:
            raise ValueError(
                f"rate_table has {len(self.rate_table)} entries for {self.levels} operating points"
            )
        self.deadline_s = float(deadline_s)
        self.sha256 = sha256
        c, h, w = self.image_shape
        if c != model.config["channels"]:
            raise ValueError(f"image_shape has {c} channels, the model {model.config['channels']}")
        pad = model.pad(torch.zeros(1, c, h, w))[1]
        self._pad = pad
        hp, wp = h + pad[2] + pad[3], w + pad[0] + pad[1]
        self._y_shape = (model.config["m"], hp // 4, wp // 4)
        if low_rate is not None and tuple(low_rate.config["latent_shape"]) != self._y_shape:
            raise ValueError(
                f"the low-rate head codes latents {tuple(low_rate.config['latent_shape'])}, "
                f"this codec's are {self._y_shape}"
            )
        self._z_shape = (model.config["nh"], hp // 16, wp // 16)
        self._y_coder = bitstream.make_coder(model.gaussian_conditional)
        self._z_coder = bitstream.make_coder(model.entropy_bottleneck)
        nh, zh, zw = self._z_shape
        self._z_indexes = np.repeat(np.arange(nh, dtype=np.int32), zh * zw)
        eb = model.entropy_bottleneck
        self._medians = eb._get_medians().detach().double().reshape(1, nh, 1, 1).cpu()
        self._h_s = copy.deepcopy(model.h_s).double().cpu().eval()
        table = scale_table().double()
        self._log_lo = float(torch.log(table[0]))
        self._log_step = float((torch.log(table[-1]) - torch.log(table[0])) / (len(table) - 1))
        self._n_scales = len(table)
        with torch.no_grad():  # G(0) at point 0 (one fill for every point)
            zero = torch.zeros(1, dtype=torch.long, device=self.device)
            fill = model.synthesis(torch.zeros(1, *self._y_shape, device=self.device), zero)
            self._fill = model.crop(fill, pad).clamp(0, 1).cpu().numpy()[0].astype(np.float32)

    # ------------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        weights: str | Path | None = None,
        semantic: str | Path | None | bool = None,
        classifier: str | Path | None = None,
        rate_table: str | Path | None | bool = None,
        device=None,
        low_rate: str | Path | None | bool = None,
        **kwargs,
    ) -> LearnedCodec:
        """Load shipped (default) or given weights, by path.

        The images coded are ``image_shape`` (keyword) or the ``(C, H, W)`` the weights were
        trained on (saved with them since issue 25), else ``(1, 28, 28)``.

        ``semantic``: the semantic decoder Q's weights (a path that does not exist: none); by
        default ``semantic_vbr.pt`` beside the weights, else the shipped one, when it was
        trained on these weights (:func:`default_semantic`); ``False`` skips Q.
        ``classifier``: the classifier E's weights, to check against Q's (Q's file holds E's
        weights; by default E is built from it).
        ``rate_table``: the rate table (``eval-codec``'s JSON); by default
        ``tables/hyperprior_vbr_eval.json`` beside the weights' folder, else the shipped one,
        taken only when its ``model_sha256`` is the weights'; ``False``: none.
        ``low_rate``: the low-rate end's weights; by default the one beside the weights or the
        shipped one when it was trained on these hyperprior weights (none otherwise);
        ``False``: the hyperprior's points only.
        """
        weights = Path(weights) if weights is not None else WEIGHTS_DIR / "hyperprior_vbr.pt"
        model = load_codec(weights, device)
        sha = file_sha256(weights)
        if kwargs.get("image_shape") is None and model.image_shape is not None:
            kwargs["image_shape"] = model.image_shape
        head = None
        if low_rate is not False:
            lr_path = Path(low_rate) if low_rate is not None else default_low_rate(weights)
            if lr_path is not None:
                head = load_low_rate(lr_path, device)
                if head.codec_sha256 not in (None, sha):
                    raise ValueError(f"{lr_path} was trained on another hyperprior")
        sem = None
        if semantic is not False:
            sem_path = Path(semantic) if semantic is not None else default_semantic(weights, model)
            if sem_path is not None and sem_path.exists():
                clf = None if classifier is None else load_classifier(classifier, device)
                sem = load_semantic(sem_path, model, clf, device)
                if sem.codec_sha256 not in (None, sha):
                    raise ValueError(f"{sem_path} was trained on another codec than {weights}")
        rates = None
        if rate_table is not False:
            n_points = (0 if head is None else head.levels) + model.levels
            if rate_table is not None:
                cands = [Path(rate_table)] if Path(rate_table).exists() else []
            else:
                tables = weights.resolve().parent.parent / "tables"
                cands = _beside(tables, RATE_TABLE_FILE, TABLES_DIR / RATE_TABLE_FILE)
            for rt_path in cands:
                doc = json.loads(rt_path.read_text())
                if doc.get("model_sha256") in (None, sha) and len(doc["points"]) == n_points:
                    rates = [p["rs_bits"] for p in doc["points"]]
                    break
        return cls(model, semantic=sem, rate_table=rates, sha256=sha, low_rate=head, **kwargs)

    @property
    def levels(self) -> int:
        """Number of operating points (the low-rate end's, then the hyperprior's)."""
        return self.low_rate_levels + self.model.levels

    @property
    def low_rate_levels(self) -> int:
        """Operating points of the low-rate end (0 without one): they are ``0..n_low-1``."""
        return 0 if self.low_rate is None else self.low_rate.levels

    def stream_bytes(self, rate_index: int) -> int | None:
        """Exact stream length of a fixed-length (low-rate) point; None for the hyperprior's."""
        r = self._check_rate(rate_index)
        return self.low_rate.bits(r) // 8 if r < self.low_rate_levels else None

    def _hp(self, r: int) -> int:
        """The hyperprior point of operating point ``r`` (its point 0 for the low-rate end,
        whose latents G and Q decode there)."""
        return max(int(r) - self.low_rate_levels, 0)

    def as_tensor(self, images) -> torch.Tensor:
        """uint8 (0..255) or float (0..1) images ``(n, H, W)``/``(n, C, H, W)`` -> tensor."""
        if isinstance(images, torch.Tensor):
            x = images.detach().to(torch.float32)
        else:
            arr = np.asarray(images)
            x = torch.from_numpy(
                arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
            )
        if x.ndim == 2:
            x = x[None]
        if x.ndim == 3 and self.image_shape[0] == 1 and tuple(x.shape[1:]) == self.image_shape[1:]:
            x = x[:, None]
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(
                f"images must have shape (n, {self.image_shape}), got {tuple(x.shape)}"
            )
        if not torch.isfinite(x).all():
            raise ValueError("images hold non-finite values")
        return x.clamp(0.0, 1.0).to(self.device)

    # ------------------------------------------------------------------------------------
    def _scale_indexes(self, z_hat: torch.Tensor) -> np.ndarray:
        """CDF table index of every latent element; computed in float64 on both sides."""
        with torch.no_grad():
            scales = self._h_s(z_hat)
        # The first table scale >= each scale (compressai's build_indexes), computed from the
        # log-spaced grid: elementwise, so it cannot depend on the batch around an image.
        with np.errstate(divide="ignore", invalid="ignore"):
            pos = np.ceil((np.log(scales.numpy()) - self._log_lo) / self._log_step - 1e-9)
        pos = np.fmax(pos, 0.0)  # also maps NaN to 0
        np.minimum(pos, self._n_scales - 1, out=pos)
        return pos.astype(np.int32).reshape(len(z_hat), -1)

    def _split(self, n: int) -> list[tuple[int, int]] | None:
        """Chunks of a batch of ``n`` for the worker threads, or None to stay on the caller."""
        w = min(self.workers, n // MIN_WORKER_CHUNK)
        if w <= 1:
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="semdacom-codec")
        edges = np.linspace(0, n, w + 1).astype(int)
        return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))

    def encode(self, images, rate_index: int) -> list[bytes]:
        """Encode images at operating point ``rate_index``; one stream (bytes) per image."""
        r = self._check_rate(rate_index)
        x = self.as_tensor(images)
        if r < self.low_rate_levels:
            return self._encode_low(x, r)
        chunks = self._split(len(x))
        if chunks is None:
            return self._encode(x, r)
        parts = self._pool.map(lambda c: self._encode(x[c[0] : c[1]], r), chunks)
        return [s for part in parts for s in part]

    @torch.no_grad()
    def _encode(self, x: torch.Tensor, r: int) -> list[bytes]:
        if len(x) == 0:
            return []
        model = self.model
        xp, _ = model.pad(x)
        ri = torch.full((len(x),), self._hp(r), dtype=torch.long, device=self.device)
        yg = model.analysis(xp, ri)
        return self.streams_from_latents(yg, model.h_a(torch.abs(yg)))

    @torch.no_grad()
    def _encode_low(self, x: torch.Tensor, r: int) -> list[bytes]:
        """Fixed-length streams of low-rate point ``r`` (:mod:`.low_rate`)."""
        if len(x) == 0:
            return []
        xp, _ = self.model.pad(x)
        ri = torch.zeros(len(x), dtype=torch.long, device=self.device)
        u = self.low_rate.encode(self.model.analysis(xp, ri))
        return pack_codes(self.low_rate.quantise(u, r).cpu().numpy(), self.low_rate.points[r][1])

    @torch.no_grad()
    def _decode_latent_low(self, streams: list, r: int) -> tuple[torch.Tensor, np.ndarray, list]:
        """``y_hat`` of fixed-length streams: a stream of another length (or not bytes) is an
        erasure; every stream of the right length decodes (no entropy coder to derail)."""
        n = len(streams)
        head = self.low_rate
        d, b = head.points[r]
        nbytes = d * b // 8
        erased = np.zeros(n, dtype=bool)
        reasons = [""] * n
        good = []
        for i, s in enumerate(streams):
            if not isinstance(s, (bytes, bytearray, memoryview)):
                erased[i], reasons[i] = True, f"stream is {type(s).__name__}, not bytes"
            elif len(s) != nbytes:
                erased[i], reasons[i] = True, f"stream of {len(s)} bytes, point {r} has {nbytes}"
            else:
                good.append(bytes(s))
        y_hat = torch.zeros(n, *self._y_shape, device=self.device)
        if good:
            idx = torch.from_numpy(unpack_codes(good, d, b)).to(self.device)
            k = torch.full((len(good),), r, dtype=torch.long, device=self.device)
            y_hat[torch.from_numpy(~erased).to(self.device)] = head.decode(
                head.dequantise(idx, r), k
            )
        return y_hat, erased, reasons

    @torch.no_grad()
    def streams_from_latents(self, y, z) -> list[bytes]:
        """The streams of the encoder network's outputs: ``y`` the gained latent
        ``g_a(x) gain[r]`` ``(n, M, h, w)`` and ``z = h_a(|y|)`` ``(n, Nh, hz, wz)``, both before
        quantisation (what ``source_encoder.onnx`` computes: docs/your_images.md). Rounding,
        the float64 hyper-synthesis that picks each element's CDF and the rANS coder run here."""
        y = torch.as_tensor(y).cpu()
        z = torch.as_tensor(z).cpu().double()
        n = len(y)
        z_sym = torch.round(z - self._medians).clamp(-Z_BOUND, Z_BOUND)
        z_hat = z_sym + self._medians
        y_idx = self._scale_indexes(z_hat)
        y_sym = torch.round(y).clamp(-Y_BOUND, Y_BOUND).int().reshape(n, -1).numpy()
        z_sym_np = z_sym.int().reshape(n, -1).numpy()
        zs = self._z_coder.encode(z_sym_np, self._z_indexes)
        ys = self._y_coder.encode(y_sym, y_idx)
        return [bitstream.join_stream(a, b) for a, b in zip(zs, ys, strict=True)]

    @torch.no_grad()
    def decode_latent(
        self, streams: list[bytes], rate_index: int
    ) -> tuple[torch.Tensor, np.ndarray, list[str]]:
        """Dequantised latents ``y_hat`` of the streams, the erasure mask and the reasons.

        Never raises on stream contents: unreadable streams are erased (``y_hat`` = 0). The
        rANS kernel's work is bounded by the symbol count; ``deadline_s`` is checked before each
        of the two substream passes (streams not decoded by then are erased as ``"timeout"``).
        """
        t0 = time.monotonic()
        r = self._check_rate(rate_index)
        if r < self.low_rate_levels:
            return self._decode_latent_low(list(streams), r)
        n = len(streams)
        m, yh, yw = self._y_shape
        nh, zh, zw = self._z_shape
        erased = np.zeros(n, dtype=bool)
        reasons = [""] * n
        parts: list[tuple[bytes, bytes] | None] = [None] * n
        for i, s in enumerate(streams):
            try:
                if isinstance(s, (bytes, bytearray, memoryview)) and len(s) > MAX_STREAM_BYTES:
                    raise bitstream.StreamError(f"stream of {len(s)} bytes is too long")
                parts[i] = bitstream.split_stream(s)
            except bitstream.StreamError as exc:
                erased[i], reasons[i] = True, str(exc)
        if n and time.monotonic() - t0 > self.deadline_s:
            for i, p in enumerate(parts):
                if p is not None:
                    erased[i], reasons[i], parts[i] = True, "timeout", None
        z_sym, _ = self._z_coder.decode(
            [b"" if p is None else p[0] for p in parts], self._z_indexes, Z_BOUND
        )
        z_hat = torch.from_numpy(z_sym).double().reshape(n, nh, zh, zw) + self._medians
        y_idx = self._scale_indexes(z_hat) if n else np.zeros((0, m * yh * yw), dtype=np.int32)
        if n and time.monotonic() - t0 > self.deadline_s:
            for i, p in enumerate(parts):
                if p is not None:
                    erased[i], reasons[i], parts[i] = True, "timeout", None
        y_sym, _ = self._y_coder.decode([b"" if p is None else p[1] for p in parts], y_idx, Y_BOUND)
        y_sym[erased] = 0
        ri = torch.full((n,), self._hp(r), dtype=torch.long, device=self.device)
        _, ig = self.model.gains(ri)
        y_hat = torch.from_numpy(y_sym).float().reshape(n, m, yh, yw).to(self.device) * ig
        return y_hat, erased, reasons

    @torch.no_grad()
    def images_from_latent(
        self, y_hat: torch.Tensor, erased: np.ndarray, rate_index: int
    ) -> np.ndarray:
        """G: images ``(n, C, H, W)`` in [0, 1] from the latents of operating point
        ``rate_index``; erased ones get the fill."""
        if len(y_hat) == 0:
            return np.zeros((0, *self.image_shape), np.float32)
        ri = torch.full((len(y_hat),), self._hp(self._check_rate(rate_index)), dtype=torch.long)
        x = self.model.synthesis(y_hat, ri.to(self.device))
        x = self.model.crop(x, self._pad).cpu()
        x = torch.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0).clamp(0.0, 1.0).numpy()
        x[np.asarray(erased, dtype=bool)] = self._fill
        return x.astype(np.float32)

    @torch.no_grad()
    def labels_from_latent(
        self, y_hat: torch.Tensor, erased: np.ndarray, rate_index: int
    ) -> np.ndarray:
        """Q = E o G: labels from latents; -1 for erased ones."""
        if self.semantic is None:
            raise RuntimeError("this codec was loaded without a semantic decoder")
        if len(y_hat) == 0:
            return np.zeros(0, dtype=np.int64)
        r = self._hp(self._check_rate(rate_index))
        ri = torch.full((len(y_hat),), r, dtype=torch.long, device=self.device)
        logits = self.semantic(y_hat, ri, self._pad)
        labels = torch.nan_to_num(logits).argmax(1).cpu().numpy().astype(np.int64)
        labels[np.asarray(erased, dtype=bool)] = -1
        return labels

    def decode(self, streams: list[bytes], rate_index: int) -> DecodeResult:
        """Decode streams at operating point ``rate_index`` (the DU's data decoder G)."""
        streams = list(streams)
        r = self._check_rate(rate_index)
        chunks = self._split(len(streams))
        if chunks is None:
            return self._decode(streams, r)
        parts = list(self._pool.map(lambda c: self._decode(streams[c[0] : c[1]], r), chunks))
        return DecodeResult(
            np.concatenate([p.images for p in parts]),
            np.concatenate([p.erased for p in parts]),
            [why for p in parts for why in p.reasons],
        )

    def _decode(self, streams: list[bytes], r: int) -> DecodeResult:
        y_hat, erased, reasons = self.decode_latent(streams, r)
        return DecodeResult(self.images_from_latent(y_hat, erased, r), erased, reasons)

    def classify(self, streams: list[bytes], rate_index: int) -> tuple[np.ndarray, np.ndarray]:
        """Labels from streams with Q = E o G (the SU's semantic decoder); -1 when erased.

        Returns ``(labels, erased)``.
        """
        if self.semantic is None:
            raise RuntimeError("this codec was loaded without a semantic decoder")
        r = self._check_rate(rate_index)
        streams = list(streams)
        chunks = self._split(len(streams))
        if chunks is None:
            return self._classify(streams, r)
        parts = list(self._pool.map(lambda c: self._classify(streams[c[0] : c[1]], r), chunks))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _classify(self, streams: list[bytes], r: int) -> tuple[np.ndarray, np.ndarray]:
        y_hat, erased, _ = self.decode_latent(streams, r)
        return self.labels_from_latent(y_hat, erased, r), erased


_SHARED: dict[tuple, LearnedCodec] = {}


def shared_codec(
    weights: str | Path | None = None,
    semantic: bool | str | Path = True,
    classifier: str | Path | None = None,
    device=None,
) -> LearnedCodec:
    """One :class:`LearnedCodec` per weights file, device and process (blocks share it;
    read-only use).

    ``semantic``: True loads the default semantic decoder (:meth:`LearnedCodec.load`), a path
    that one, False none; ``classifier``: the classifier E's weights (checked against Q's);
    ``device``: where the networks run (:func:`semdacom._torch_util.resolve_device`: None or
    "auto" is CUDA when present; the rANS coder and the float64 hyper-synthesis that picks the
    CDFs stay on the CPU, so a stream is the same bytes on either)."""
    from semdacom._torch_util import resolve_device

    dev = resolve_device(device)
    sem = semantic if isinstance(semantic, (str, Path)) and str(semantic) else bool(semantic)
    key = (
        str(weights) if weights else "",
        str(sem),
        str(classifier) if classifier else "",
        str(dev),
    )
    if key not in _SHARED:
        _SHARED[key] = LearnedCodec.load(
            weights or None,
            semantic=None if sem is True else sem,
            classifier=classifier or None,
            device=dev,
        )
    return _SHARED[key]
