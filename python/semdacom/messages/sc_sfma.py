#
# Copyright 2025 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""SC-SFMA [2] schemas: its allocation keys, its CSI of per-user gains and its frame tags.

Allocation keys (one entry per group m of M; ``pairs`` holds two):

============== ===================== =========================================================
key            PMT type              meaning
============== ===================== =========================================================
pairs          s32vector[2M]         SFMA user pairs (u_0, v_0, u_1, v_1, ...); -1 = no partner
nu             f64vector[M]          SFMA compression ratio per group (> 0)
group_power    f64vector[M]          SFMA transmit power per group, watts (>= 0)
group_bw       f64vector[M]          SFMA bandwidth per group, Hz (>= 0)
============== ===================== =========================================================

:func:`check_sfma_alloc` adds what an SFMA reader needs beyond the schema: ``pairs`` a perfect
matching of the K users (M = K/2 groups, no -1), ``nu`` in (0, 1], ``group_power`` in
[0, MAX_POWER_W] (1e6 W, ``limits.MAX_POWER_W``, the C++ limit), ``group_bw`` in
(0, :data:`MAX_SFMA_BW_HZ`] (1e15 Hz; the limits of the ``semdacom_sfma_group`` tag, so that
every frame of an accepted allocation carries a valid group tag), every per-user field the
allocation also carries (``rate_index``, ``rs_bits``, ``rc``, ``mcs``, ``power``, ``w``) of
length K, and the power and bandwidth budgets.

SFMA CSI (``csi`` port of sfma_optimizer): ``{"gain": f64vector[K], "seq": u64}`` with optional
``"frame": u64`` (first frame this channel applies to) and ``"labels": s32vector[K]`` (the
Fashion-MNIST class 0..9 of each user's images; the pair classes of docs/sc_sfma/model.md) and
``"scenes": s32vector[K]`` (each user's scene id, -1 for a scene of its own: two users with one
id >= 0 ask for views of one scene, an ``"overlap"`` pair; docs/sc_sfma/optimizer.md).
``gain`` is the linear large-scale power gain g_i of each user (received watts per transmitted
watt), in (0, MAX_SFMA_GAIN]. The MU-MISO CSI (:mod:`.csi`) is accepted too: then
g_i = ||h_i||^2 (the beam-free power gain of user i), without labels.

Frames (sfma_encoder -> sfma_superposer -> sfma_channel -> sfma_decoder): every SFMA stream
frame starts with a ``frame`` tag (u64) and a ``packet_len`` tag (long); in one slot every
user's frame and every group's frame has the same length (zero padding), so that the streams
stay aligned. sfma_encoder tags each user's frame with ``semdacom_sfma`` (:data:`SFMA_TAG`), a
dict:

  user (long >= 0), group (long >= 0), slot (0 or 1: the user's place in its pair, which
  selects the per-slot decoder of the transceiver), partner (long >= 0), nu (double in
  (0, 1]: the ratio k/C actually kept), n_sym (long >= 0: useful symbols at the start of the
  frame, mean |s|^2 = 1 over them), mask (u8vector[C] of 0/1: the code channels kept, the
  side information of eq. (4) of SC-SFMA [2]), erased (bool) with erasure_reason (symbol);
  optional enc_alloc_seq (long >= 0) and the image meta forwarded as pdu_image_id, pdu_label,
  pdu_frame, pdu_seq (longs).

sfma_superposer tags each group's frame with ``semdacom_sfma_group`` (:data:`SFMA_GROUP_TAG`),
a dict: group (long), power (double >= 0, W: P_m), bw (double > 0, Hz: B_m), power_split
(double in [0, 1]: slot 0's share alpha of eq. (5) of SC-SFMA [2]), optional alloc_seq
(long >= 0), and slot0, slot1: the two users' ``semdacom_sfma`` dicts. sfma_channel copies it
onto the received stream of both users of the group; sfma_decoder reads its slot there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from gnuradio.semdacom.messages.allocation import (
    Allocation,
    AllocCheck,
    AllocFamily,
    AllocKey,
    register_family,
)
from gnuradio.semdacom.messages.csi import csi_from_pmt
from gnuradio.semdacom.messages.limits import MAX_POWER_W
from gnuradio.semdacom.messages.pdu import MAX_SYMBOLS
from gnuradio.semdacom.messages.pmt_util import (
    MessageError,
    as_1d,
    check_len,
    describe,
    from_count,
    get,
    make_dict,
    read_count,
    read_int_vec,
    read_real_vec,
    require_dict,
    vec_to_pmt,
)

# --------------------------------------------------------------------------------------------
# Allocation keys
# --------------------------------------------------------------------------------------------

#: Largest group bandwidth B_m, Hz, in an SFMA allocation and a ``semdacom_sfma_group`` tag
#: (1e15: far above any radio, low enough that N0 B stays a normal float).
MAX_SFMA_BW_HZ = 1e15

#: Allocation keys holding one entry per SFMA group (``pairs`` holds two).
ALLOC_M_KEYS: tuple[str, ...] = ("nu", "group_power", "group_bw")


def _validate(a: Allocation, out: Allocation, check: AllocCheck) -> None:
    """``pairs`` (user indices below K, or -1) and the per-group vectors: one common M."""
    m_found: int | None = None
    m_from = ""
    if a.pairs is not None:
        pairs = as_1d(a.pairs, "pairs", np.int32)
        if pairs.size % 2:
            raise MessageError(f"'pairs' has {pairs.size} entries, expected an even count 2M")
        if np.any(pairs < -1):
            raise MessageError("'pairs' entries must be user indices or -1")
        if check.k is not None and np.any(pairs >= check.k):
            raise MessageError(f"'pairs' names a user >= K={check.k}")
        m_found, m_from = pairs.size // 2, "'pairs'"
        out.pairs = pairs
    for key in ALLOC_M_KEYS:
        value = getattr(a, key)
        if value is None:
            continue
        arr = as_1d(value, key, np.float64)
        if m_found is None:
            m_found, m_from = arr.size, f"'{key}'"
        else:
            check_len(arr, key, m_found, f"M from {m_from}")
        setattr(out, key, arr)
    if out.nu is not None and np.any(out.nu <= 0):
        raise MessageError("'nu' must be positive")
    for key in ("group_power", "group_bw"):
        arr = getattr(out, key)
        if arr is not None and np.any(arr < 0):
            raise MessageError(f"'{key}' has negative entries")


def _m(a: Allocation) -> int | None:
    """Number of SFMA groups M (None when no SFMA field is present)."""
    for key in ALLOC_M_KEYS:
        value = getattr(a, key)
        if value is not None:
            return int(np.asarray(value).size)
    if a.pairs is not None:
        return int(np.asarray(a.pairs).size) // 2
    return None


#: The SC-SFMA keys of the allocation dictionary.
SC_SFMA_FAMILY = register_family(
    AllocFamily(
        name="sc_sfma",
        keys=(AllocKey("pairs", lambda v, key, _: read_int_vec(v, key), vec_to_pmt),)
        + tuple(
            AllocKey(key, lambda v, key, _: read_real_vec(v, key), vec_to_pmt)
            for key in ALLOC_M_KEYS
        ),
        validate=_validate,
        dims={"m": _m},
    )
)


def check_sfma_alloc(
    a: Allocation, k: int, *, p_max: float | None = None, b_tot: float | None = None
) -> Allocation:
    """Check an allocation as an SFMA reader needs it (see the module docstring): the pairing
    and the power and bandwidth budgets of SC-SFMA [2]'s problem; returns it or raises
    :class:`MessageError` with the reason. Limits: group powers at most ``MAX_POWER_W``,
    bandwidths in (0, :data:`MAX_SFMA_BW_HZ`], per-user fields of length K."""
    for key in ("pairs",) + ALLOC_M_KEYS:
        if getattr(a, key) is None:
            raise MessageError(f"SFMA allocation lacks '{key}'")
    pairs = np.asarray(a.pairs).reshape(-1)
    if pairs.size != k or k % 2:
        raise MessageError(f"'pairs' has {pairs.size} entries, expected K={k} (even)")
    if not np.array_equal(np.sort(pairs), np.arange(k)):
        raise MessageError("'pairs' is not a perfect matching of the K users")
    m = k // 2
    for key in ALLOC_M_KEYS:
        if np.asarray(getattr(a, key)).size != m:
            raise MessageError(f"'{key}' has {np.asarray(getattr(a, key)).size} entries, "
                               f"expected M={m}")  # fmt: skip
    nu = np.asarray(a.nu, dtype=np.float64)
    if not np.all(np.isfinite(nu)) or np.any(nu <= 0) or np.any(nu > 1 + 1e-12):
        raise MessageError("'nu' entries must lie in (0, 1]")
    power = np.asarray(a.group_power, dtype=np.float64)
    if not np.all((power >= 0) & (power <= MAX_POWER_W)):
        raise MessageError(
            f"'group_power' entries must lie in [0, MAX_POWER_W = {MAX_POWER_W:g}] W"
        )
    bw = np.asarray(a.group_bw, dtype=np.float64)
    if not np.all((bw > 0) & (bw <= MAX_SFMA_BW_HZ)):
        raise MessageError(f"'group_bw' entries must lie in (0, {MAX_SFMA_BW_HZ:g}] Hz")
    k_users = getattr(a, "k", None)  # the per-user (MU-ASCC) fields it also carries
    if k_users is not None and k_users != k:
        raise MessageError(f"per-user fields (e.g. 'rate_index') have {k_users} entries, "
                           f"expected K={k}")  # fmt: skip
    for key, budget in (("group_power", p_max), ("group_bw", b_tot)):
        v = np.asarray(getattr(a, key), dtype=np.float64)
        if budget is not None and v.sum() > budget * (1 + 1e-6):
            raise MessageError(f"'{key}' sums to {v.sum():.6g} > budget {budget:.6g}")
    return a


# --------------------------------------------------------------------------------------------
# CSI: per-user gains
# --------------------------------------------------------------------------------------------

#: Largest SFMA channel gain accepted (a gain above 1 would mean amplification by the channel).
MAX_SFMA_GAIN = 1.0


@dataclass
class SfmaCsi:
    """Per-user channel gains for the SFMA optimiser (see the module docstring)."""

    gain: np.ndarray
    seq: int
    frame: int | None = None
    labels: np.ndarray | None = None
    scenes: np.ndarray | None = None

    @property
    def k(self) -> int:
        return int(self.gain.size)


def check_scenes(scenes: Any, k: int) -> np.ndarray:
    """Scene ids (s32, -1 = a scene of its own) of ``k`` users; raises :class:`MessageError`.

    The library's check (``semdacom.sc_sfma.model.check_scenes``, which ``SfmaProblem`` uses
    too: count, integer dtype, >= -1), plus the s32 range of the wire format.
    """
    from semdacom.sc_sfma.model import check_scenes as check_scene_ids  # numpy only

    try:
        scenes = check_scene_ids(scenes, k)
    except ValueError as exc:
        raise MessageError(str(exc)) from None
    if np.any(scenes > np.iinfo(np.int32).max):
        raise MessageError("'scenes' entries must be integers >= -1 (-1: a scene of its own)")
    return scenes.astype(np.int32)


def _validate_sfma_csi(gain, seq, frame, labels, scenes=None) -> SfmaCsi:
    if isinstance(seq, bool) or not isinstance(seq, (int, np.integer)) or seq < 0:
        raise MessageError(f"'seq' must be a non-negative integer, got {seq!r}")
    if gain.size < 2 or gain.size % 2:
        raise MessageError(f"SFMA CSI needs an even number K >= 2 of gains, got {gain.size}")
    if not np.all(np.isfinite(gain)):
        raise MessageError("'gain' entries must be finite")
    if np.any(gain <= 0) or np.any(gain > MAX_SFMA_GAIN):
        raise MessageError(f"'gain' entries must lie in (0, {MAX_SFMA_GAIN}]")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if labels.size != gain.size:
            raise MessageError(f"'labels' has {labels.size} entries, expected K={gain.size}")
        if np.any(labels < 0) or np.any(labels > 9):
            raise MessageError("'labels' entries must be Fashion-MNIST classes 0..9")
        labels = labels.astype(np.int32)
    if scenes is not None:
        scenes = check_scenes(scenes, gain.size)
    return SfmaCsi(gain=gain, seq=int(seq), frame=None if frame is None else int(frame),
                   labels=labels, scenes=scenes)  # fmt: skip


def sfma_csi_to_pmt(c: SfmaCsi) -> Any:
    """Build an SFMA CSI dictionary (validated first)."""
    c = _validate_sfma_csi(np.asarray(c.gain, dtype=np.float64).reshape(-1), c.seq, c.frame,
                           c.labels, c.scenes)  # fmt: skip
    return make_dict(
        {
            "gain": vec_to_pmt(c.gain),
            "seq": from_count(c.seq),
            "frame": None if c.frame is None else from_count(c.frame),
            "labels": None if c.labels is None else vec_to_pmt(c.labels.astype(np.int32)),
            "scenes": None if c.scenes is None else vec_to_pmt(c.scenes.astype(np.int32)),
        }
    )


def sfma_csi_from_pmt(msg: Any, *, k: int | None = None) -> SfmaCsi:
    """Read and validate an SFMA CSI (``gain`` form, or the MU-MISO CSI form: g_i =
    ||h_i||^2). ``k``: expected number of users. Raises :class:`MessageError` with the reason."""
    require_dict(msg, "SFMA CSI")
    if get(msg, "gain") is None:
        if get(msg, "h") is None:
            raise MessageError("SFMA CSI lacks 'gain' (or 'h')")
        csi = csi_from_pmt(msg, k=k)
        gain = np.sum(np.abs(csi.h) ** 2, axis=1)
        return _validate_sfma_csi(gain, csi.seq, getattr(csi, "frame", None), None)
    gain = read_real_vec(get(msg, "gain"), "gain")
    if k is not None and gain.size != k:
        raise MessageError(f"SFMA CSI has K={gain.size} gains, expected {k}")
    seq_pmt = get(msg, "seq")
    if seq_pmt is None:
        raise MessageError("SFMA CSI lacks 'seq'")
    seq = read_count(seq_pmt, "seq")
    frame_pmt = get(msg, "frame")
    frame = None if frame_pmt is None else read_count(frame_pmt, "frame")
    labels_pmt = get(msg, "labels")
    labels = None if labels_pmt is None else read_int_vec(labels_pmt, "labels")
    scenes_pmt = get(msg, "scenes")
    scenes = None if scenes_pmt is None else read_int_vec(scenes_pmt, "scenes")
    return _validate_sfma_csi(gain, seq, frame, labels, scenes)


# --------------------------------------------------------------------------------------------
# Frame tags
# --------------------------------------------------------------------------------------------

#: Key of the per-frame tag of ``sfma_encoder`` (one user's frame).
SFMA_TAG = "semdacom_sfma"
#: Key of the per-frame tag of ``sfma_superposer`` (one group's frame, both users).
SFMA_GROUP_TAG = "semdacom_sfma_group"
#: Most code channels a mask may have.
MAX_SFMA_CHANNELS = 4096


def _info_int(info: dict, key: str, lo: int, hi: int | None = None, tag: str = SFMA_TAG) -> int:
    v = info.get(key)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise MessageError(f"'{tag}' {key} must be an integer, got {describe(v)}")
    if v < lo or (hi is not None and v > hi):
        raise MessageError(f"'{tag}' {key}={v} outside [{lo}, {hi if hi is not None else 'inf'}]")
    return int(v)


def _info_real(info: dict, key: str, lo: float, hi: float, tag: str, lo_open: bool) -> float:
    v = info.get(key)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise MessageError(f"'{tag}' {key} must be a real number, got {describe(v)}")
    v = float(v)
    if not math.isfinite(v) or v < lo or (lo_open and v == lo) or v > hi:
        raise MessageError(f"'{tag}' {key}={v} outside {'(' if lo_open else '['}{lo}, {hi}]")
    return v


def sfma_frame_info(info: Any, code_channels: int | None = None) -> dict:
    """Validate a ``semdacom_sfma`` tag (see the module docstring); returns a clean dict with
    ``mask`` as a bool array. ``code_channels``: the mask length the reader's model needs.
    Raises MessageError."""
    if not isinstance(info, dict):
        raise MessageError(f"'{SFMA_TAG}' must be a dictionary, got {type(info).__name__}")
    out: dict[str, Any] = {
        "user": _info_int(info, "user", 0),
        "group": _info_int(info, "group", 0),
        "slot": _info_int(info, "slot", 0, 1),
        "partner": _info_int(info, "partner", 0),
        "nu": _info_real(info, "nu", 0.0, 1.0, SFMA_TAG, True),
        "n_sym": _info_int(info, "n_sym", 0, MAX_SYMBOLS),
    }
    mask = info.get("mask")
    if not isinstance(mask, np.ndarray) or mask.ndim != 1 or mask.dtype != np.uint8:
        raise MessageError(f"'{SFMA_TAG}' mask must be a u8vector, got {describe(mask)}")
    if not 0 < mask.size <= MAX_SFMA_CHANNELS or np.any(mask > 1):
        raise MessageError(f"'{SFMA_TAG}' mask must hold 1..{MAX_SFMA_CHANNELS} entries 0/1")
    if code_channels is not None and mask.size != code_channels:
        raise MessageError(f"'{SFMA_TAG}' mask has {mask.size} channels, the model {code_channels}")
    out["mask"] = mask.astype(bool)
    erased = info.get("erased", False)
    if not isinstance(erased, (bool, np.bool_)):
        raise MessageError(f"'{SFMA_TAG}' erased must be a bool, got {describe(erased)}")
    out["erased"] = bool(erased)
    if out["erased"]:
        out["erasure_reason"] = str(info.get("erasure_reason", "?"))[:200]
    for key in ("enc_alloc_seq", "pdu_image_id", "pdu_label", "pdu_frame", "pdu_seq"):
        if key in info:
            out[key] = _info_int(info, key, 0)
    return out


def sfma_group_info(info: Any, code_channels: int | None = None) -> dict:
    """Validate a ``semdacom_sfma_group`` tag (see the module docstring): ``slot0`` and
    ``slot1`` become :func:`sfma_frame_info` dicts of one group, in their slots. Raises
    MessageError."""
    tag = SFMA_GROUP_TAG
    if not isinstance(info, dict):
        raise MessageError(f"'{tag}' must be a dictionary, got {type(info).__name__}")
    out: dict[str, Any] = {
        "group": _info_int(info, "group", 0, tag=tag),
        "power": _info_real(info, "power", 0.0, MAX_POWER_W, tag, False),
        "bw": _info_real(info, "bw", 0.0, MAX_SFMA_BW_HZ, tag, True),
        "power_split": _info_real(info, "power_split", 0.0, 1.0, tag, False),
    }
    if "alloc_seq" in info:
        out["alloc_seq"] = _info_int(info, "alloc_seq", 0, tag=tag)
    for r in (0, 1):
        s = sfma_frame_info(info.get(f"slot{r}"), code_channels)
        if s["slot"] != r or s["group"] != out["group"]:
            raise MessageError(f"'{tag}' slot{r} is slot {s['slot']} of group {s['group']}")
        out[f"slot{r}"] = s
    if out["slot0"]["user"] == out["slot1"]["user"]:
        raise MessageError(f"'{tag}' pairs user {out['slot0']['user']} with itself")
    return out
