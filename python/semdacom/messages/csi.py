#
# Copyright 2025 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Channel state of the MU-MISO downlink (``csi`` ports).

============== ===================== =========================================================
key            PMT type              meaning
============== ===================== =========================================================
h              c64vector[K*N_t]      channel rows h_i, user-major; user i receives h_i^H x
noise_var      f64vector[K]          noise variance per user (>= 0; 0 = noiseless simulation)
n_t            long                  transmit antennas N_t
k              long                  users K
seq            u64 (or long >= 0)    CSI number
frame          u64 (or long >= 0)    optional: first frame this channel applies to
============== ===================== =========================================================

Limits: :data:`.MAX_CHANNEL_GAIN`, :data:`.MAX_NOISE_VAR` and, for a reader that divides by the
noise, :data:`.MIN_NOISE_VAR` (see :mod:`.limits`): the SINR of eq. (7) of MU-ASCC [1] stays
finite. A reader given ``user=u`` rejects a CSI whose K does not include user ``u``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pmt
from gnuradio.semdacom.messages.limits import MAX_CHANNEL_GAIN, MAX_NOISE_VAR, MIN_NOISE_VAR
from gnuradio.semdacom.messages.pmt_util import (
    MessageError,
    as_1d,
    check_len,
    check_u64,
    from_count,
    get,
    make_dict,
    read_complex_vec,
    read_count,
    read_long,
    read_real_vec,
    require_dict,
    vec_to_pmt,
)


@dataclass(eq=False)
class Csi:
    """Channel state: ``h`` of shape ``(K, N_t)`` (row i is h_i; user i receives h_i^H x)."""

    h: np.ndarray
    noise_var: np.ndarray
    seq: int = 0
    #: First frame this channel applies to (u64 key ``frame``); None when not known (a
    #: channel set from code, or an estimator that does not number frames).
    frame: int | None = None
    #: Which source's seqs these are (u64 key ``origin``; ``miso_channel``'s, the value of
    #: its stream's ``semdacom_csi`` tags); None when the message has none.
    origin: int | None = None

    @property
    def k(self) -> int:
        """Number of users K."""
        return int(np.shape(self.h)[0])

    @property
    def n_t(self) -> int:
        """Number of transmit antennas N_t."""
        return int(np.shape(self.h)[1])


def _validate_csi(
    h: Any, noise_var: Any, seq: Any, positive_noise: bool = False, frame: Any = None
) -> Csi:
    try:
        h_arr = np.asarray(h, dtype=np.complex128)
    except (TypeError, ValueError) as exc:
        raise MessageError(f"'h' cannot be read as a complex array: {exc}") from exc
    if h_arr.ndim != 2 or h_arr.shape[0] < 1 or h_arr.shape[1] < 1:
        raise MessageError(f"'h' must have shape (K, N_t) with K, N_t >= 1, got {h_arr.shape}")
    if not np.all(np.isfinite(h_arr)):
        raise MessageError("'h' has non-finite entries")
    if np.any(np.abs(h_arr) > MAX_CHANNEL_GAIN):
        raise MessageError(f"'h' has entries above MAX_CHANNEL_GAIN = {MAX_CHANNEL_GAIN:g}")
    nv = as_1d(noise_var, "noise_var", np.float64)
    check_len(nv, "noise_var", h_arr.shape[0], "K")
    if np.any(nv < 0):
        # 0 is a noiseless simulated channel (miso_channel accepts it)
        raise MessageError("'noise_var' must be non-negative")
    if np.any(nv > MAX_NOISE_VAR):
        raise MessageError(f"'noise_var' exceeds MAX_NOISE_VAR = {MAX_NOISE_VAR:g}")
    if positive_noise and np.any(nv < MIN_NOISE_VAR):
        raise MessageError(
            f"'noise_var' must be at least MIN_NOISE_VAR = {MIN_NOISE_VAR:g} for this block"
        )
    seq = check_u64(seq, "seq")
    frame = None if frame is None else check_u64(frame, "frame")
    return Csi(h=h_arr, noise_var=nv, seq=seq, frame=frame)


def _checked(c: Csi) -> Csi:
    if not isinstance(c, Csi):
        raise MessageError(f"expected a Csi, got {type(c).__name__}")
    return _validate_csi(c.h, c.noise_var, c.seq, frame=c.frame)


def csi_to_pmt(c: Csi) -> Any:
    """Validate CSI and turn it into its PMT dictionary.

    Parameters
    ----------
    c : Csi
        The channel state.

    Returns
    -------
    pmt.pmt_base
        ``{"h", "noise_var", "n_t", "k", "seq"}`` as in the module docstring, plus
        ``frame`` when the CSI has one.

    Raises
    ------
    MessageError
        When the CSI breaks the schema.
    """
    v = _checked(c)
    return make_dict(
        {
            "h": vec_to_pmt(v.h.reshape(-1)),
            "noise_var": vec_to_pmt(v.noise_var),
            "n_t": pmt.from_long(v.n_t),
            "k": pmt.from_long(v.k),
            "seq": from_count(v.seq),
            "frame": None if v.frame is None else from_count(v.frame),
        }
    )


def csi_from_pmt(
    msg: Any,
    *,
    k: int | None = None,
    n_t: int | None = None,
    user: int | None = None,
    positive_noise: bool = False,
) -> Csi:
    """Read and validate a CSI dictionary.

    Parameters
    ----------
    msg : pmt.pmt_base
        The message.
    k, n_t : int, optional
        Expected number of users and of transmit antennas.
    user : int, optional
        The reading block's user index; a CSI whose K does not include it is rejected.
    positive_noise : bool
        The block divides by the noise variance: every entry must be at least
        :data:`.MIN_NOISE_VAR`.

    Returns
    -------
    Csi
        ``h`` as complex128 of shape ``(K, N_t)``, ``noise_var`` as float64 of length K.

    Raises
    ------
    MessageError
        When the message breaks the schema; the text gives the reason.
    """
    require_dict(msg, "CSI")
    fields = {}
    for key in ("h", "noise_var", "n_t", "k", "seq"):
        value = get(msg, key)
        if value is None:
            raise MessageError(f"CSI lacks '{key}'")
        fields[key] = value
    msg_k = read_long(fields["k"], "k")
    msg_n_t = read_long(fields["n_t"], "n_t")
    if msg_k < 1 or msg_n_t < 1:
        raise MessageError(f"CSI needs k >= 1 and n_t >= 1, got k={msg_k}, n_t={msg_n_t}")
    if k is not None and msg_k != k:
        raise MessageError(f"CSI has k={msg_k}, expected {k}")
    if n_t is not None and msg_n_t != n_t:
        raise MessageError(f"CSI has n_t={msg_n_t}, expected {n_t}")
    if user is not None and not 0 <= user < msg_k:
        raise MessageError(f"CSI has K={msg_k}, this block is user {user}")
    h = read_complex_vec(fields["h"], "h")
    check_len(h, "h", msg_k * msg_n_t, f"k*n_t={msg_k}*{msg_n_t}")
    noise_var = read_real_vec(fields["noise_var"], "noise_var")
    seq = read_count(fields["seq"], "seq")
    frame = csi_frame(msg)
    c = _validate_csi(h.reshape(msg_k, msg_n_t), noise_var, seq, positive_noise, frame)
    origin = get(msg, "origin")
    if origin is not None:
        c.origin = read_count(origin, "origin")
    return c


def csi_with_frame(c: Csi, frame: int | None) -> Any:
    """:func:`csi_to_pmt` of ``c`` with the key ``frame`` (u64) when ``frame`` is not None.
    Raises MessageError for a CSI that breaks the schema or a frame that is not a u64."""
    return csi_to_pmt(Csi(h=c.h, noise_var=c.noise_var, seq=c.seq, frame=frame))


def csi_frame(msg: Any) -> int | None:
    """The optional ``frame`` of a CSI dictionary (None when absent; MessageError when it is
    not a u64 or a non-negative long)."""
    require_dict(msg, "CSI")
    value = get(msg, "frame")
    return None if value is None else read_count(value, "frame")
