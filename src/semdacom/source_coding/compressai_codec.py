#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Any CompressAI image model as a source coder (issue 25, Build 3; docs/bring_your_model.md).

:class:`CompressAICodec` has the API of :class:`.codec.LearnedCodec` that the blocks and
:mod:`semdacom.mu_ascc.distortion_fit` use::

    codec = CompressAICodec(["q0.pt", "q1.pt", "q2.pt"])   # one model file per operating point
    streams = codec.encode(images, rate_index=1)          # list[bytes], one per image
    out = codec.decode(streams, rate_index=1)             # DecodeResult: images + erasures
    labels, erased = codec.classify(streams, 1)           # classifier E on the decoded image

**Model files.** One file per operating point, as CompressAI's own zoo has one model per
quality; a list of files, in ascending rate, is a codec with that many operating points. A
file is ``torch.save`` of a dict::

    {"arch": "ScaleHyperprior",          # a class of compressai.models
     "kwargs": {"N": 32, "M": 48},       # its constructor's arguments
     "state_dict": model.state_dict(),   # with or without the CDF tables (update() is called)
     "image_shape": [1, 28, 28]}         # (C, H, W) coded; optional with image_shape= given

and may hold more (``lmbda``, ``data`` options, ...: :func:`train_compressai` writes them). A
model whose analysis takes 3 channels codes grayscale images as three equal channels and
returns the mean of its three decoded channels (CompressAI's image models are RGB).

**Stream format.** ``model.compress`` gives ``k`` strings per image (``k`` = 2 for the
hyperpriors: y then z; 1 for ``FactorizedPrior``); one image's stream is::

    varint(len(s_0)) ... varint(len(s_{k-2})) | s_0 | s_1 | ... | s_{k-1}

(LEB128 lengths, at most 3 bytes each; the last string's length is what remains, so a
one-string model's stream is its string alone). ``compress``'s ``shape`` (the hyper latent's
size) is not sent: it is fixed by the codec's image shape, so the decoder takes it from a probe
of a blank image made at start-up, and a corrupted stream can never ask for another size.

**Robustness.** CompressAI's C++ rANS decoder trusts its input: on a corrupted string it reads
past the end of the buffer (:mod:`.bitstream`). Every entropy model of a loaded model
(``EntropyBottleneck``, ``GaussianConditional``) gets this package's C++ ``rans_coder`` in
place of CompressAI's coder: the same stream format (byte-identical for the same tables), but
reads past the end of a string give zeros, escapes are bounded and values are clamped to
+-:data:`VALUE_BOUND`, so the work per stream is bounded by its symbol count. Models that call
CompressAI's ``RansDecoder`` themselves (the serial autoregressive context models:
``JointAutoregressiveHierarchicalPriors``, ``Cheng2020Anchor``, ``Cheng2020Attention``,
``JointAutoregressiveHierarchicalPriorsVbr``) are refused with a ValueError; the checkerboard
and channel-group ones (``Cheng2020AnchorCheckerboard``, ``Elic2022*``) decode through entropy
models and are guarded. On top: a stream that is not bytes, empty, longer than
:attr:`CompressAICodec.max_stream_bytes`, or ends inside a length field is an erasure with the
reason; lengths past the end of the stream cut the strings there (what is readable is
decoded, as the learned codec does); any exception of the model's ``decompress`` is an erasure
with its text; and one :meth:`CompressAICodec.decode` call has a wall-clock budget
(``deadline_s``): streams not reached in time are erased as ``"timeout"``.

**Determinism.** Every image is coded and decoded on its own (batch of one) in float64 by
default (float32 for a model whose decoder only runs in float32), so the scale indexes that
pick each element's CDF are computed by exactly the same operations at both ends, whatever the
batch around the image.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from semdacom.data import file_sha256
from semdacom.source_coding import bitstream
from semdacom.source_coding.base import SourceCoder
from semdacom.source_coding.codec import (
    DecodeResult,
    check_classifier,
    decode_each,
    load_classifier,
)
from semdacom.source_coding.models import pad_amounts

__all__ = [
    "NAME_PREFIX",
    "VALUE_BOUND",
    "CompressAICodec",
    "StreamError",
    "build_model",
    "load_model_file",
    "pack_stream",
    "parse_weights",
    "shared_compressai",
    "train_compressai",
    "unpack_stream",
]

#: Codec names are ``compressai_<arch>`` (tables, meta ``codec`` of the stream PDUs).
NAME_PREFIX = "compressai_"
#: Decoded symbols are clamped to +-VALUE_BOUND (real latents stay far below).
VALUE_BOUND = 1 << 15
#: Longest length field (LEB128 bytes): strings of up to 2 MiB.
MAX_VARINT_BYTES = 3
#: Entropy-model buffers that ``update()`` rebuilds (they may be missing from a state dict).
CDF_BUFFERS = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")

StreamError = bitstream.StreamError


# ----------------------------------------------------------------------------------------------
# stream format
# ----------------------------------------------------------------------------------------------


def pack_stream(strings: Sequence[bytes]) -> bytes:
    """One image's stream from its ``k`` strings (the module docstring's format)."""
    strings = [bytes(s) for s in strings]
    if not strings:
        raise ValueError("a stream needs at least one string")
    lengths = b"".join(bitstream.write_varint(len(s), MAX_VARINT_BYTES) for s in strings[:-1])
    return lengths + b"".join(strings)


def unpack_stream(data, k: int) -> list[bytes]:
    """The ``k`` strings of a stream; raises :class:`StreamError` when nothing is readable.

    A length that runs past the end of the stream (corrupted, or a truncated stream) cuts that
    string at the end and leaves the later ones empty: the caller decodes what it can."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise StreamError(f"stream is {type(data).__name__}, not bytes")
    data = bytes(data)
    if not data:
        raise StreamError("empty stream")
    lengths, pos = [], 0
    for _ in range(k - 1):
        n, pos = bitstream.read_varint(data, pos, MAX_VARINT_BYTES)
        lengths.append(n)
    if pos >= len(data):
        raise StreamError("stream holds only its length fields")
    out = []
    for n in lengths:
        out.append(data[pos : pos + n])
        pos = min(pos + n, len(data))
    out.append(data[pos:])
    return out


# ----------------------------------------------------------------------------------------------
# guarded entropy coding
# ----------------------------------------------------------------------------------------------


class _GuardedCoder:
    """Stands in for CompressAI's ``_EntropyCoder`` of one entropy model: the C++
    ``rans_coder`` (:func:`.bitstream.make_coder`) with the model's tables, built once. The
    tables CompressAI passes on every call are ignored (they are the ones held)."""

    name = "ans"  # what EntropyModel.__getstate__ records (the stream format is ans)

    def __init__(self, entropy_model) -> None:
        self._coder = bitstream.make_coder(entropy_model)

    def encode_with_indexes(self, symbols, indexes, *_tables) -> bytes:
        s = np.asarray(symbols, dtype=np.int32).reshape(1, -1)
        ix = np.asarray(indexes, dtype=np.int32).reshape(1, -1)
        return bytes(self._coder.encode(s, ix)[0])

    def decode_with_indexes(self, stream, indexes, *_tables) -> list[int]:
        ix = np.asarray(indexes, dtype=np.int32).reshape(1, -1)
        values, _clean = self._coder.decode([bytes(stream)], ix, VALUE_BOUND)
        return values[0].tolist()


def _entropy_models(model) -> list:
    from compressai.entropy_models import EntropyModel

    return [m for m in model.modules() if isinstance(m, EntropyModel)]


_CALLS_RANS: dict[type, bool] = {}


def _calls_rans_decoder(cls: type) -> bool:
    if cls not in _CALLS_RANS:
        try:
            _CALLS_RANS[cls] = "RansDecoder" in inspect.getsource(cls)
        except (OSError, TypeError):  # no source (a builtin, a class made at run time)
            _CALLS_RANS[cls] = False
    return _CALLS_RANS[cls]


def _unguarded(model) -> list[str]:
    """Classes among ``model``'s modules whose code calls CompressAI's ``RansDecoder`` itself
    (autoregressive context models): their decoding cannot be guarded here."""
    from compressai.entropy_models import EntropyModel

    found = []
    for m in model.modules():
        if isinstance(m, EntropyModel):
            continue
        for cls in type(m).__mro__:
            if cls.__module__.startswith("torch") or cls is object:
                continue
            if _calls_rans_decoder(cls) and cls.__name__ not in found:
                found.append(cls.__name__)
    return found


def _guard(model) -> None:
    """Give every entropy model of ``model`` the guarded coder (tables must be built)."""
    for em in _entropy_models(model):
        em.entropy_coder = _GuardedCoder(em)


# ----------------------------------------------------------------------------------------------
# model files
# ----------------------------------------------------------------------------------------------


def _arch_class(arch: str):
    import compressai.models as cm
    from compressai.models import CompressionModel

    cls = getattr(cm, str(arch), None)
    if not (inspect.isclass(cls) and issubclass(cls, CompressionModel)):
        names = sorted(
            n
            for n, c in vars(cm).items()
            if inspect.isclass(c) and issubclass(c, CompressionModel) and c is not CompressionModel
        )
        raise ValueError(f"arch {arch!r} is not a compressai.models class; one of {names}")
    return cls


def build_model(arch: str, kwargs: dict | None = None):
    """A fresh ``compressai.models.<arch>(**kwargs)``."""
    return _arch_class(arch)(**dict(kwargs or {}))


def arch_kwargs(arch: str, N: int, M: int) -> dict:
    """``{"N": N, "M": M}``, less what ``arch``'s constructor does not take."""
    params = inspect.signature(_arch_class(arch).__init__).parameters
    return {k: int(v) for k, v in (("N", N), ("M", M)) if k in params}


def load_model_file(path: str | Path) -> tuple[object, dict]:
    """The model of one file (the module docstring's format), CDF tables built, in eval
    mode, and the file's dict without its state dict. ValueError for a file that is not one."""
    path = Path(path)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, or one holding code: not a model file
        raise ValueError(
            f"{path}: not a CompressAI model file ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(saved, dict) or "arch" not in saved or "state_dict" not in saved:
        raise ValueError(
            f"{path}: a CompressAI model file is a dict with 'arch', 'kwargs' and 'state_dict' "
            "(docs/bring_your_model.md)"
        )
    model = build_model(saved["arch"], saved.get("kwargs"))
    sd = dict(saved["state_dict"])
    try:  # the zoo's old GDN key names (a pure renaming, nothing is downloaded)
        from compressai.zoo.pretrained import load_pretrained

        sd = load_pretrained(sd)
    except Exception:  # pragma: no cover - older or newer compressai: keys as they are
        pass
    fits = f"{path}: the state dict does not fit {saved['arch']}({saved.get('kwargs')})"
    try:
        res = model.load_state_dict(sd, strict=False)
    except (RuntimeError, KeyError, ValueError) as exc:  # tensors of other sizes
        raise ValueError(f"{fits}: {str(exc)[:300]}") from exc
    bad = [k for k in res.missing_keys if k.rsplit(".", 1)[-1] not in CDF_BUFFERS]
    if bad or res.unexpected_keys:
        raise ValueError(f"{fits}: missing {bad[:4]}, unexpected {list(res.unexpected_keys)[:4]}")
    if any(em._quantized_cdf.numel() == 0 for em in _entropy_models(model)):
        model.update(force=True)
    info = {k: v for k, v in saved.items() if k != "state_dict"}
    return model.eval(), info


def parse_weights(weights) -> list[Path]:
    """Model files from a comma-separated string, a list of paths (each may hold commas), or
    a folder (its ``compressai_*.pt``, in order of their ``_q<i>`` index)."""
    if isinstance(weights, (str, Path)):
        weights = [weights]
    out: list[Path] = []
    for item in weights:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            p = Path(part).expanduser()
            if p.is_dir():
                out.extend(sorted(p.glob(f"{NAME_PREFIX}*.pt"), key=_point_key))
            else:
                out.append(p)
    if not out:
        raise ValueError("no CompressAI model file given (weights: one file per operating point)")
    missing = [str(p) for p in out if not p.is_file()]
    if missing:
        raise ValueError(f"no such model file: {', '.join(missing)}")
    return out


def _point_key(path: Path) -> tuple:
    """Sort key of ``..._q<i>.pt``: by ``i``, then by name."""
    stem = path.stem
    tail = stem.rsplit("_q", 1)[-1]
    return (int(tail) if tail.isdigit() else math.inf, stem)


# ----------------------------------------------------------------------------------------------
# the codec
# ----------------------------------------------------------------------------------------------


class CompressAICodec(SourceCoder):
    """CompressAI image models, one per operating point, with the API of
    :class:`.codec.LearnedCodec` (see the module docstring).

    Parameters
    ----------
    weights : str, path or sequence
        Model files in ascending rate (:func:`parse_weights`: a comma-separated string, a list,
        or a folder of ``compressai_*_q<i>.pt``).
    image_shape : tuple, optional
        ``(C, H, W)`` coded (default: the files' ``image_shape``, which must agree).
    classifier : path, True or None
        The classifier E that :meth:`classify` runs on the decoded image: a path, True for the
        shipped one, None for none.
    rate_table : sequence of float, path, None or False
        Mean bits per image of each point: a list, an ``eval-codec`` JSON, None for the
        ``tables/<name>_eval.json`` beside the files' folder when it was made with these files
        (their sha256), False for none.
    deadline_s : float
        Wall-clock budget of one :meth:`decode` call; streams not reached in time are erased
        with the reason ``"timeout"``.
    double : bool
        Run the models in float64 (default), so that both ends compute the same CDF indexes;
        a model whose decoder fails in float64 (it makes float32 tensors of its own, as the
        ELIC models do) runs in float32 (``_probe[r]["dtype"]``).
    """

    def __init__(
        self,
        weights,
        image_shape: tuple[int, int, int] | None = None,
        classifier: str | Path | bool | None = None,
        rate_table=None,
        deadline_s: float = 30.0,
        double: bool = True,
    ) -> None:
        self.weights = parse_weights(weights)
        self.deadline_s = float(deadline_s)
        self._dtype = torch.float64 if double else torch.float32
        self.models, self.info = [], []
        for path in self.weights:
            model, info = load_model_file(path)
            bad = _unguarded(model)
            if bad:
                raise ValueError(
                    f"{path}: {info['arch']} decodes with CompressAI's own RansDecoder ({bad}), "
                    "which reads past a corrupted string; only models whose entropy coding goes "
                    "through CompressAI's entropy models (FactorizedPrior, ScaleHyperprior, "
                    "MeanScaleHyperprior, ...) can be guarded"
                )
            _guard(model)
            self.models.append(model)
            self.info.append(info)
        shapes = {tuple(int(v) for v in i["image_shape"]) for i in self.info
                  if i.get("image_shape")}  # fmt: skip
        if image_shape is None:
            if len(shapes) != 1:
                raise ValueError(
                    "give image_shape (C, H, W): "
                    + ("the files do not say it" if not shapes else f"the files differ: {shapes}")
                )
            image_shape = shapes.pop()
        self.image_shape = tuple(int(v) for v in image_shape)
        if len(self.image_shape) != 3 or self.image_shape[0] not in (1, 3):
            raise ValueError(f"image_shape must be (1 or 3, H, W), got {image_shape}")
        archs = list(dict.fromkeys(str(i["arch"]) for i in self.info))
        self.arch = "+".join(archs)
        self.name = NAME_PREFIX + self.arch
        shas = [file_sha256(p) for p in self.weights]
        self.file_sha256 = shas
        joined = hashlib.sha256(",".join(shas).encode()).hexdigest()
        self.sha256 = shas[0] if len(shas) == 1 else joined
        c, h, w = self.image_shape
        self._probe = [self._probe_model(m, i) for i, m in enumerate(self.models)]
        self.max_stream_bytes = max(4096, 8 * c * h * w)
        self._classifier = None
        if classifier is not None and classifier is not False:
            clf = load_classifier(None if classifier is True else classifier)
            check_classifier(clf, self.image_shape)
            self._classifier = clf
        self.rate_table = self._load_rate_table(rate_table)
        self._fill = self._erasure_image()

    # ------------------------------------------------------------------------------------
    def _in_channels(self, model) -> int:
        root = getattr(model, "g_a", model)
        for m in root.modules():
            if isinstance(m, torch.nn.Conv2d):
                return int(m.in_channels)
        return self.image_shape[0]

    def _probe_model(self, model, i: int) -> dict:
        """What a point needs to code: padding, channels, strings per image and shape."""
        c, h, w = self.image_shape
        mult = int(getattr(model, "downsampling_factor", 64))
        cin = self._in_channels(model)
        if cin != c and not (c == 1 and cin == 3):
            raise ValueError(f"{self.weights[i]}: the model takes {cin} channels, images have {c}")
        probe = {"pad": pad_amounts(h, w, mult), "cin": cin}
        why = ""
        # float64 unless asked otherwise; float32 for a model whose decoder makes float32
        # tensors of its own (e.g. the ELIC models' channel contexts)
        for dtype in dict.fromkeys((self._dtype, torch.float32)):
            model.to(dtype)
            probe["dtype"] = dtype
            try:
                with torch.no_grad():
                    out = model.compress(self._model_input(torch.zeros(1, c, h, w), probe))
            except Exception as exc:
                why = f"compress() fails on a {c}x{h}x{w} image ({type(exc).__name__}: {exc})"
                continue
            strings = out.get("strings") if isinstance(out, dict) else None
            one_each = isinstance(strings, list) and all(
                isinstance(s, list) and len(s) == 1 and isinstance(s[0], bytes) for s in strings
            )
            if not strings or not one_each:
                raise ValueError(
                    f"{self.weights[i]}: compress() gives no list of byte strings per image (only "
                    "models with compress/decompress of CompressAI's image models are supported)"
                )
            probe["k"] = len(strings)
            probe["shape"] = out.get("shape")
            try:
                with torch.no_grad():
                    model.decompress(strings, probe["shape"])
            except Exception as exc:
                why = f"decompress() fails on its own stream ({type(exc).__name__}: {exc})"
                continue
            return probe
        raise ValueError(f"{self.weights[i]}: {why}")

    def _model_input(self, x: torch.Tensor, probe: dict) -> torch.Tensor:
        x = x.to(probe["dtype"])
        if probe["cin"] != x.shape[1]:
            x = x.repeat(1, probe["cin"] // x.shape[1], 1, 1)
        return F.pad(x, probe["pad"]) if any(probe["pad"]) else x

    def _model_output(self, x: torch.Tensor, probe: dict) -> np.ndarray:
        left, right, top, bottom = probe["pad"]
        x = x[..., top : x.shape[-2] - bottom, left : x.shape[-1] - right]
        if x.shape[1] != self.image_shape[0]:
            x = x.mean(1, keepdim=True)
        x = torch.nan_to_num(x.float(), nan=0.0, posinf=1.0, neginf=0.0).clamp(0.0, 1.0)
        return x.cpu().numpy().astype(np.float32)

    def _erasure_image(self) -> np.ndarray:
        """The lowest point's decoder output for an all-zero latent (when the model has
        ``g_a``/``g_s``), else the mean Fashion-MNIST image (zeros for other shapes)."""
        model, probe = self.models[0], self._probe[0]
        try:
            with torch.no_grad():
                y = model.g_a(self._model_input(torch.zeros(1, *self.image_shape), probe))
                return self._model_output(model.g_s(torch.zeros_like(y)), probe)[0]
        except Exception:  # a model without g_a/g_s
            from semdacom.source_coding.classical import mean_training_image

            return mean_training_image(self.image_shape)

    def _read_rate_table(self, rate_table) -> list[float] | None:
        if rate_table in (None, True):
            path = self.weights[0].resolve().parent.parent / "tables" / f"{self.name}_eval.json"
        else:
            path = Path(rate_table)
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if doc.get("model_sha256") != self.sha256 or len(doc.get("points", [])) != self.levels:
            if rate_table is not None:
                raise ValueError(f"{path} is the rate table of other model files")
            return None
        return [float(p["rs_bits"]) for p in doc["points"]]

    # ------------------------------------------------------------------------------------
    @property
    def levels(self) -> int:
        """Number of operating points (model files)."""
        return len(self.models)

    @property
    def low_rate_levels(self) -> int:
        """0: no low-rate end (the :class:`.codec.LearnedCodec` attribute)."""
        return 0

    def stream_bytes(self, rate_index: int) -> None:
        """None: streams have no fixed length (the :class:`.codec.LearnedCodec` method)."""
        self._check_rate(rate_index)
        return None

    @property
    def semantic(self):
        """The classifier E of :meth:`classify` (None without one)."""
        return self._classifier

    # ------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, images, rate_index: int) -> list[bytes]:
        """Encode images at operating point ``rate_index``; one stream (bytes) per image."""
        r = self._check_rate(rate_index)
        x = torch.from_numpy(self.as_array(images))
        model, probe = self.models[r], self._probe[r]
        out = []
        for i in range(len(x)):  # one at a time: the decoder's computation exactly
            res = model.compress(self._model_input(x[i : i + 1], probe))
            strings = [s[0] for s in res["strings"]]
            if len(strings) != probe["k"]:
                raise RuntimeError(f"compress() gave {len(strings)} strings, {probe['k']} before")
            out.append(pack_stream(strings))
        return out

    def decode(self, streams, rate_index: int) -> DecodeResult:
        """Decode streams at operating point ``rate_index`` (the data user's decoder).

        Never raises on the streams' contents (the module docstring's *Robustness*)."""
        r = self._check_rate(rate_index)
        return decode_each(streams, self._fill, self.deadline_s, lambda s: self._decode_one(s, r))

    @torch.no_grad()
    def _decode_one(self, stream, r: int) -> tuple[np.ndarray | None, str]:
        model, probe = self.models[r], self._probe[r]
        if isinstance(stream, (bytes, bytearray, memoryview)) and (
            len(stream) > self.max_stream_bytes
        ):
            return None, f"stream of {len(stream)} bytes is too long"
        try:
            strings = unpack_stream(stream, probe["k"])
        except StreamError as exc:
            return None, str(exc)
        try:
            out = model.decompress([[s] for s in strings], probe["shape"])
            return self._model_output(out["x_hat"], probe)[0], ""
        except Exception as exc:  # the model cannot use what was read: an erasure
            return None, f"decompress: {type(exc).__name__}: {str(exc)[:120]}"

    def labels_from_images(self, images: np.ndarray, erased: np.ndarray) -> np.ndarray:
        """Classifier E on decoded images ``(n, C, H, W)``; -1 where erased."""
        from semdacom.source_coding.models import classify_images

        if self.semantic is None:
            raise RuntimeError("this codec was built without a classifier")
        return classify_images(self.semantic, images, erased)

    def classify(self, streams, rate_index: int) -> tuple[np.ndarray, np.ndarray]:
        """Labels from streams: classifier E on the decoded image; -1 when erased.

        Returns ``(labels, erased)``."""
        if self.semantic is None:
            raise RuntimeError("this codec was built without a classifier")
        res = self.decode(streams, rate_index)
        return self.labels_from_images(res.images, res.erased), res.erased


_SHARED: dict[tuple, CompressAICodec] = {}


def shared_compressai(weights, classifier: str | Path | bool | None = None) -> CompressAICodec:
    """One :class:`CompressAICodec` per list of files and classifier, per process (blocks share
    it; read-only use)."""
    paths = tuple(str(p.resolve()) for p in parse_weights(weights))
    key = (paths, str(classifier))
    if key not in _SHARED:
        _SHARED[key] = CompressAICodec(list(paths), classifier=classifier)
    return _SHARED[key]


# ----------------------------------------------------------------------------------------------
# training of small instances
# ----------------------------------------------------------------------------------------------


def train_compressai(
    out_dir: str | Path,
    *,
    arch: str = "ScaleHyperprior",
    N: int = 32,
    M: int = 48,
    lambdas: Sequence[float] = (0.001, 0.01, 0.1),
    epochs: int | None = None,
    steps: int | None = None,
    batch: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    ckpt_dir: str | Path | None = None,
    images: np.ndarray | None = None,
    meta: dict | None = None,
    progress: bool = True,
) -> list[dict]:
    """Train one ``compressai.models.<arch>`` per lambda (ascending lambda = ascending rate)
    and write ``out_dir/compressai_<arch>_q<i>.pt`` (the module docstring's file format).

    The loss is CompressAI's rate-distortion loss, ``lambda * 255^2 * MSE + bpp``, with the
    rate in bits per pixel of the image (not of its padding) and the MSE on the image (for a
    grayscale image and an RGB model: on each of the three decoded channels), plus
    the entropy bottleneck's auxiliary loss; Adam, gradients clipped at norm 1, the learning
    rate ten times lower for the last 15 % of the steps. ``images`` (uint8 ``(n, H, W)`` or
    ``(n, C, H, W)``) default to Fashion-MNIST's training split. Each model has its own
    checkpoint in ``ckpt_dir`` (default ``out_dir/../ckpt``); a run started again resumes.
    Returns one dict per model (file, lambda, steps).
    """
    from semdacom._torch_util import default_device, save_atomic
    from semdacom.source_coding.train import (
        _epochs,
        _resume,
        _set_threads,
        _steps,
        _training_set,
        images_to_tensor,
        rd_step,
    )

    _set_threads()
    device = default_device()
    lambdas = [float(v) for v in lambdas]
    if not lambdas or any(v <= 0 for v in lambdas):
        raise ValueError(f"lambdas must be positive, got {lambdas}")
    lambdas = sorted(lambdas)
    kwargs = arch_kwargs(arch, N, M)
    images, _ = _training_set(images, None)
    x_all = images_to_tensor(images)
    c, h, w = x_all.shape[1:]
    if c not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got {c}")
    batch = min(int(batch), len(x_all))
    epochs = _epochs(epochs, 1, steps, len(x_all) // batch)
    total = epochs * (len(x_all) // batch)
    if steps is not None:
        total = min(total, int(steps))
    out_dir = Path(out_dir)
    ckpt_dir = Path(ckpt_dir) if ckpt_dir is not None else out_dir.parent / "ckpt"
    results = []
    for q, lam in enumerate(lambdas):
        torch.manual_seed(seed + q)
        model = build_model(arch, kwargs).to(device)
        cin = 3
        for m in getattr(model, "g_a", model).modules():
            if isinstance(m, torch.nn.Conv2d):
                cin = int(m.in_channels)
                break
        if cin != c and not (c == 1 and cin == 3):
            raise ValueError(f"{arch} takes {cin} channels, the images have {c}")
        pad = pad_amounts(h, w, int(getattr(model, "downsampling_factor", 64)))
        params = [p for k, p in model.named_parameters() if not k.endswith(".quantiles")]
        aux_params = [p for k, p in model.named_parameters() if k.endswith(".quantiles")]
        opt = torch.optim.Adam(params, lr=lr)
        aux_opt = torch.optim.Adam(aux_params, lr=1e-3)
        stem = f"{NAME_PREFIX}{arch}_q{q}"
        ckpt = ckpt_dir / f"{stem}.ckpt"
        state, save_state = _resume(ckpt, device, model, {"opt": opt, "aux_opt": aux_opt})
        model.train()
        t0 = time.time()
        name = f"{stem} (lambda {lam:g})" if progress else stem
        for _epoch, g, idx in _steps(
            name, ckpt, state, len(x_all), batch, epochs, seed + q, 200, save_state, steps
        ):
            for group in opt.param_groups:
                group["lr"] = lr * (0.1 if g >= 0.85 * total else 1.0)
            xb = x_all[idx].to(device)
            # a grayscale image is three equal channels for an RGB model, and each decoded
            # channel is held to it (a loss on their mean would let them drift apart, and
            # decompress() clamps each to [0, 1] before the coder averages them)
            xin = xb.repeat(1, cin // c, 1, 1) if cin != c else xb
            res = model(F.pad(xin, pad) if any(pad) else xin)
            x_hat = res["x_hat"][..., pad[2] : pad[2] + h, pad[0] : pad[0] + w]
            bits = sum((-torch.log2(lk)).sum() for lk in res["likelihoods"].values())
            bpp = bits / (len(idx) * h * w)
            mse = (x_hat - xin).pow(2).mean()
            loss = lam * 255.0**2 * mse + bpp
            rd_step(model, loss, params, opt, aux_opt)
            state["postfix"] = {"bpp": f"{bpp.item():.3f}", "mse": f"{mse.item():.4f}"}
        model.eval()
        model.update(force=True)
        path = out_dir / f"{stem}.pt"
        save_atomic(
            {
                "arch": arch,
                "kwargs": kwargs,
                "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                "image_shape": [int(c), int(h), int(w)],
                "lmbda": lam,
                "quality": q,
                "steps": int(state.get("global_step", 0)),
                "train_seconds": time.time() - t0,
                **(meta or {}),
            },
            path,
        )
        results.append({"file": str(path), "lmbda": lam, "steps": state.get("global_step", 0)})
    return results
