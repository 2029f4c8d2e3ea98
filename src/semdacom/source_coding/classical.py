#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Classical image codec: HEVC intra (x265) in HEIF -- the BPG stand-in of MU-ASCC [1], Sec. V-A.

The papers' separate source-channel coding benchmark uses BPG, i.e. an HEVC intra frame in a
small container. BPG itself is not packaged here; ``pillow-heif`` (PyPI wheel bundling libheif
with the x265 encoder and the libde265 decoder) is, and HEIF is the same HEVC intra coding in an
ISO-BMFF container. :class:`ClassicalCodec` has the API of :class:`.codec.LearnedCodec`::

    codec = ClassicalCodec()                      # name "heif-x265"
    streams = codec.encode(images, 7)             # list[bytes], one per image
    out = codec.decode(streams, 7)                # DecodeResult: images + erasures + reasons
    labels, erased = codec.classify(streams, 7)   # classifier E on the decoded image

**Stream format (header stripping).** A 28x28 grayscale HEIF file is ~410 bytes of container
(``ftyp``, ``meta`` with the HEVC parameter sets in ``hvcC``, ``ispe``/``clap``/``pixi`` ...)
plus an ``mdat`` box holding one length-prefixed HEVC NAL unit (the IDR slice). With fixed
encoder settings the container is identical for every image and every quality, except the
``iloc`` extent length. The stream sent is therefore only the slice NAL unit **without** its
4-byte length prefix and its 2-byte NAL unit header (always ``0x2801``, IDR_N_LP); the decoder
rebuilds the HEIF file from the template (:attr:`ClassicalCodec.template`, made at start-up by
encoding a blank image, and checked against every encoded image) with the extent length, the
``mdat`` size and the NAL length set from the stream length. So bit errors only ever hit the
HEVC slice data (the container cannot be corrupted), and no stream can declare another image
size (no decompression bomb). x265 runs single-threaded without WPP (``pools=none``,
``frame-threads=1``, ``no-wpp``) so that the bitstream does not depend on the machine's cores.

**Erasures.** Anything the decoder rejects (empty or over-long stream, libde265 error, a wrong
size or mode, the per-call deadline) is an explicit erasure with a reason; decoding never
raises on stream contents. An erased image is replaced by :attr:`ClassicalCodec.erasure_fill`,
the mean Fashion-MNIST training image (blank, all zeros, when the data set is not installed),
and counts at that image's distortion in the tables; ``classify`` gives -1 for it.
"""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np

from semdacom.source_coding.base import SourceCoder
from semdacom.source_coding.codec import TABLES_DIR, DecodeResult, decode_each, load_classifier

__all__ = [
    "DEFAULT_QUALITIES",
    "NAME",
    "ClassicalCodec",
    "heif_available",
    "mean_training_image",
    "shared_classical",
]

#: Codec name used in tables, plots and logs (what it really is: HEVC intra via x265 in HEIF).
NAME = "heif-x265"
#: x265 quality (pillow-heif 0..100) of each quality index; ~340..3800 bits per 28x28 image.
DEFAULT_QUALITIES = (0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 70, 80, 90)
#: x265 settings that make the stream independent of the machine (no thread pools, no WPP).
ENCODER_PARAMS = {"x265:pools": "none", "x265:frame-threads": "1", "x265:no-wpp": "1"}
#: NAL unit header of the single IDR slice (type 20 IDR_N_LP, layer 0, temporal id 1).
NAL_HEADER = b"\x28\x01"
#: Largest stream accepted (bytes); a 28x28 image at quality 100 needs ~550.
MAX_STREAM_BYTES = 1 << 14

_MEAN_CACHE: dict[tuple[int, int, int], np.ndarray] = {}


def heif_available() -> bool:
    """True when pillow-heif with an HEVC encoder is importable."""
    try:
        import pillow_heif

        return bool(pillow_heif.libheif_info().get("encoders", {}).get("x265"))
    except Exception:  # not installed or broken: no HEIF
        return False


def mean_training_image(image_shape: tuple[int, int, int] = (1, 28, 28)) -> np.ndarray:
    """Mean Fashion-MNIST training image ``(C, H, W)`` in [0, 1] (zeros if unavailable)."""
    shape = tuple(int(v) for v in image_shape)
    if shape not in _MEAN_CACHE:
        fill = np.zeros(shape, np.float32)
        try:
            from semdacom.data.datasets import load_fashion_mnist

            x, _ = load_fashion_mnist("train")
            if (1, *x.shape[1:]) == shape:
                fill = (x.astype(np.float64).mean(0) / 255.0).astype(np.float32)[None]
        except (OSError, ValueError):
            pass
        _MEAN_CACHE[shape] = fill
    return _MEAN_CACHE[shape].copy()


def _boxes(buf: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, offset, size) of the ISO-BMFF boxes in ``buf[start:end]``."""
    out = []
    off = start
    while off + 8 <= end:
        size, typ = struct.unpack_from(">I4s", buf, off)
        if size < 8 or off + size > end:
            raise ValueError(f"bad box {typ!r} at {off}")
        out.append((typ, off, size))
        off += size
    return out


class ClassicalCodec(SourceCoder):
    """HEVC-intra (x265) HEIF codec with the API of :class:`.codec.LearnedCodec`.

    Parameters
    ----------
    qualities : sequence of int
        x265 quality (0..100) of each quality index, ascending.
    image_shape : tuple
        ``(1, H, W)`` grayscale or ``(3, H, W)`` colour (coded by x265 as YUV 4:2:0, libheif's
        default for RGB input).
    classifier : path or ``False``, optional
        Weights of the classifier E for :meth:`classify` (default: shipped; ``False``: none).
    rate_table : sequence of float or path or ``False``, optional
        Mean bits per image of each quality index (default: from the shipped
        ``classical_heif-x265_du_msssim.json`` when present).
    deadline_s : float
        Wall-clock budget of one :meth:`decode` call; streams not reached in time are erased
        with the reason ``"timeout"``.
    """

    index_name = "quality_index"

    name = NAME

    def __init__(
        self,
        qualities: tuple[int, ...] | list[int] = DEFAULT_QUALITIES,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        classifier: str | Path | None | bool = None,
        rate_table: list[float] | str | Path | None | bool = None,
        deadline_s: float = 30.0,
    ) -> None:
        import pillow_heif

        self._heif = pillow_heif
        q = [int(v) for v in qualities]
        if not q or any(not 0 <= v <= 100 for v in q) or np.any(np.diff(q) <= 0):
            raise ValueError(f"qualities must be ascending integers in 0..100, got {qualities!r}")
        self.qualities = tuple(q)
        self.image_shape = tuple(int(v) for v in image_shape)
        if len(self.image_shape) != 3 or self.image_shape[0] not in (1, 3):
            raise ValueError(f"images must be (1, H, W) or (3, H, W), got {image_shape}")
        self._mode = "L" if self.image_shape[0] == 1 else "RGB"
        if min(self.image_shape[1:]) < 8 or max(self.image_shape[1:]) > 4096:
            raise ValueError(f"image side must be in 8..4096, got {image_shape}")
        self.deadline_s = float(deadline_s)
        self.sha256 = None
        self._make_template()
        self._classifier = None
        self._classifier_path = classifier
        self.rate_table = self._load_rate_table(rate_table)
        self._fill = mean_training_image(self.image_shape)

    # ------------------------------------------------------------------------------------
    @property
    def levels(self) -> int:
        """Number of quality indexes."""
        return len(self.qualities)

    @property
    def semantic(self):
        """The classifier E used by :meth:`classify` (loaded on first use; None if disabled)."""
        if self._classifier is None and self._classifier_path is not False:
            path = None if self._classifier_path in (None, True) else self._classifier_path
            self._classifier = load_classifier(path)
        return self._classifier

    def _read_rate_table(self, rate_table) -> list[float] | None:
        path = (
            Path(rate_table)
            if rate_table not in (None, True)
            else TABLES_DIR / f"classical_{NAME}_du_msssim.json"
        )
        try:
            doc = json.loads(path.read_text())
            if doc.get("qualities") != list(self.qualities):
                return None
            rates = {int(p["index"]): float(p["rs_bits"]) for p in doc["points"]}
            return [rates[i] for i in range(self.levels)]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    # ------------------------------------------------------------------------------------
    def _heif_file(self, img8: np.ndarray, quality: int) -> bytes:
        """One HEIF file of a uint8 image ``(C, H, W)``."""
        h, w = self.image_shape[1:]
        hwc = np.ascontiguousarray(img8[0] if self._mode == "L" else img8.transpose(1, 2, 0))
        heif = self._heif.from_bytes(mode=self._mode, size=(w, h), data=hwc.tobytes())
        buf = io.BytesIO()
        heif.save(buf, quality=int(quality), enc_params=dict(ENCODER_PARAMS))
        return buf.getvalue()

    def _make_template(self) -> None:
        """Container template from a blank image: everything but the slice NAL unit."""
        h, w = self.image_shape[1:]
        raw = self._heif_file(np.zeros(self.image_shape, np.uint8), self.qualities[0])
        top = _boxes(raw, 0, len(raw))
        types = [t for t, _, _ in top]
        if types[-1] != b"mdat" or b"meta" not in types:
            raise RuntimeError(f"unexpected HEIF layout {types}")
        _, meta_off, meta_size = top[types.index(b"meta")]
        inner = _boxes(raw, meta_off + 12, meta_off + meta_size)
        iloc = [(o, s) for t, o, s in inner if t == b"iloc"]
        if len(iloc) != 1:
            raise RuntimeError("HEIF file without a single iloc box")
        o, s = iloc[0]
        # version 0, offset/length/base-offset sizes 4, one item, one extent: the extent length
        # is the box's last 4 bytes.
        if raw[o + 8] != 0 or raw[o + 12 : o + 14] != b"\x44\x40" or s != 34:
            raise RuntimeError("unsupported iloc layout")
        self._len_off = o + s - 4
        mdat_off = top[-1][1]
        self._hdr = bytearray(raw[:mdat_off])
        struct.pack_into(">I", self._hdr, self._len_off, 0)
        self.template = bytes(self._hdr)
        self._check_file(raw)

    def _check_file(self, raw: bytes) -> bytes:
        """The slice payload of an encoded file; raises if it does not fit the template."""
        n = len(self._hdr)
        hdr = bytearray(raw[:n])
        if len(raw) < n + 14:
            raise RuntimeError("encoded HEIF file is too short")
        struct.pack_into(">I", hdr, self._len_off, 0)
        if bytes(hdr) != self.template:
            raise RuntimeError("x265/libheif produced a container that differs from the template")
        size, typ = struct.unpack_from(">I4s", raw, n)
        nal_len = struct.unpack_from(">I", raw, n + 8)[0]
        if typ != b"mdat" or size != len(raw) - n or nal_len != size - 12:
            raise RuntimeError("encoded HEIF file does not hold exactly one NAL unit")
        if raw[n + 12 : n + 14] != NAL_HEADER:
            raise RuntimeError(f"unexpected NAL unit header {raw[n + 12 : n + 14].hex()}")
        return raw[n + 14 :]

    def rebuild(self, stream: bytes) -> bytes:
        """The HEIF file of a stream (template + lengths + NAL header + payload)."""
        nal = NAL_HEADER + bytes(stream)
        hdr = bytearray(self._hdr)
        struct.pack_into(">I", hdr, self._len_off, 4 + len(nal))
        return bytes(hdr) + struct.pack(">I4sI", 12 + len(nal), b"mdat", len(nal)) + nal

    def encode(self, images, quality_index: int) -> list[bytes]:
        """Encode images at ``quality_index``; one stream (stripped HEVC slice) per image."""
        r = self._check_rate(quality_index)
        x = self.as_array(images)
        img8 = np.round(x * 255.0).astype(np.uint8)
        return [self._check_file(self._heif_file(im, self.qualities[r])) for im in img8]

    def _decode_one(self, stream) -> tuple[np.ndarray | None, str]:
        if not isinstance(stream, (bytes, bytearray, memoryview)):
            return None, f"stream is {type(stream).__name__}, not bytes"
        stream = bytes(stream)
        if len(stream) == 0:
            return None, "empty stream"
        if len(stream) > MAX_STREAM_BYTES:
            return None, f"stream of {len(stream)} bytes is too long"
        try:
            heif = self._heif.open_heif(io.BytesIO(self.rebuild(stream)), convert_hdr_to_8bit=True)
            if heif.mode != self._mode or tuple(heif.size) != self.image_shape[:0:-1]:
                return None, (f"decoded {heif.mode} {heif.size}, expected {self._mode} "
                              f"{self.image_shape[1:]}")  # fmt: skip
            arr = np.asarray(heif)
        except Exception as exc:  # libheif/libde265 reject it: an erasure
            return None, f"heif: {type(exc).__name__}: {str(exc)[:120]}"
        chw = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        if chw.shape != self.image_shape or arr.dtype != np.uint8:
            return None, f"decoded array {arr.shape} {arr.dtype}"
        return chw.astype(np.float32) / 255.0, ""

    def decode(self, streams: list[bytes], quality_index: int) -> DecodeResult:
        """Decode streams (the quality index is not needed by HEVC; it is only validated)."""
        self._check_rate(quality_index)
        return decode_each(streams, self._fill, self.deadline_s, self._decode_one)

    def labels_from_images(self, images: np.ndarray, erased: np.ndarray) -> np.ndarray:
        """Classifier E on decoded images ``(n, C, H, W)``; -1 where erased."""
        from semdacom.source_coding.models import classify_images

        if self.semantic is None:
            raise RuntimeError("this codec was built without a classifier")
        return classify_images(self.semantic, images, erased)

    def classify(self, streams: list[bytes], quality_index: int) -> tuple[np.ndarray, np.ndarray]:
        """Labels from streams: classifier E on the decoded image; -1 when erased.

        Returns ``(labels, erased)``.
        """
        res = self.decode(streams, quality_index)
        return self.labels_from_images(res.images, res.erased), res.erased


_SHARED: dict[tuple, ClassicalCodec] = {}


def shared_classical(classifier: bool | str | Path = True) -> ClassicalCodec:
    """One :class:`ClassicalCodec` per process and classifier (blocks share it; read-only use):
    ``classifier`` True the shipped classifier E, a path that one, False none."""
    if isinstance(classifier, (str, Path)) and str(classifier):
        key, arg = ("path", str(classifier)), str(classifier)
    else:
        key, arg = (bool(classifier),), None if classifier else False
    if key not in _SHARED:
        _SHARED[key] = ClassicalCodec(classifier=arg)
    return _SHARED[key]
