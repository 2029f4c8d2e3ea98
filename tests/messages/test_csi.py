"""MU-MISO CSI (``messages.csi``): round trips, PMT types, validation, limits and the
optional ``frame`` key."""

from __future__ import annotations

import math

import numpy as np
import pmt
import pytest
from gnuradio.semdacom import messages
from gnuradio.semdacom.messages import Csi, MessageError
from hypothesis import given, settings
from hypothesis import strategies as st
from msg_helpers import c64, f64


def csi_dict(h: np.ndarray, noise_var: object, /, **over: object) -> object:
    entries = {
        "h": c64(h),
        "noise_var": f64(noise_var),
        "n_t": pmt.from_long(h.shape[1]),
        "k": pmt.from_long(h.shape[0]),
        "seq": pmt.from_uint64(3),
    }
    entries.update(over)
    d = pmt.make_dict()
    for key, value in entries.items():
        if value is not None:
            d = pmt.dict_add(d, pmt.intern(key), value)
    return d


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 8), n_t=st.integers(1, 8), seed=st.integers(0, 2**32 - 1))
def test_csi_round_trip(k: int, n_t: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((k, n_t)) + 1j * rng.standard_normal((k, n_t))
    c = Csi(h=h, noise_var=rng.uniform(1e-3, 1.0, k), seq=seed)
    d = messages.csi_from_pmt(messages.csi_to_pmt(c), k=k, n_t=n_t)
    assert (d.k, d.n_t, d.seq) == (k, n_t, seed)
    np.testing.assert_array_equal(d.h, h)
    np.testing.assert_array_equal(d.noise_var, c.noise_var)


def test_csi_pmt_types_follow_the_schema() -> None:
    h = np.arange(6).reshape(2, 3) * (1 + 1j)
    d = messages.csi_to_pmt(Csi(h=h, noise_var=np.ones(2), seq=5))
    ref = lambda key: pmt.dict_ref(d, pmt.intern(key), pmt.PMT_NIL)  # noqa: E731
    assert pmt.is_c64vector(ref("h")) and pmt.is_f64vector(ref("noise_var"))
    assert pmt.to_long(ref("k")) == 2 and pmt.to_long(ref("n_t")) == 3
    assert pmt.is_uint64(ref("seq"))
    np.testing.assert_array_equal(np.asarray(pmt.c64vector_elements(ref("h")))[:3], h[0])


def test_csi_accepts_c32_and_f32() -> None:
    h = np.array([[1 + 1j, 2]])
    msg = csi_dict(
        h,
        [0.5],
        h=pmt.init_c32vector(2, h.reshape(-1).astype(np.complex64).tolist()),
        noise_var=pmt.init_f32vector(1, [0.5]),
    )
    c = messages.csi_from_pmt(msg)
    np.testing.assert_allclose(c.h, h)
    assert c.noise_var.dtype == np.float64


_H = np.array([[1 + 1j, 0.5], [0.2j, 1.0]])


@pytest.mark.parametrize(
    ("msg", "kwargs", "reason"),
    [
        (pmt.intern("csi"), {}, "must be a PMT dictionary"),
        (csi_dict(_H, [1, 1], h=None), {}, "lacks 'h'"),
        (csi_dict(_H, [1, 1], seq=None), {}, "lacks 'seq'"),
        (csi_dict(_H, [1, 1], h=f64([1, 2, 3, 4])), {}, "'h' must be a c64vector"),
        (csi_dict(_H, [1, 1], h=c64([1, 2, 3])), {}, "'h' has 3 entries, expected 4"),
        (csi_dict(_H, [1, 1], k=pmt.from_double(2.0)), {}, "'k' must be a long"),
        (csi_dict(_H, [1, 1], n_t=pmt.from_long(0)), {}, "n_t >= 1"),
        (csi_dict(_H, [1, 1]), {"k": 3}, "CSI has k=2, expected 3"),
        (csi_dict(_H, [1, 1]), {"n_t": 4}, "CSI has n_t=2, expected 4"),
        (csi_dict(_H, [1, 1], h=c64([1, math.nan, 0, 1])), {}, "'h' has non-finite"),
        (csi_dict(_H, [1, -1]), {}, "'noise_var' must be non-negative"),
        (csi_dict(_H, [1, math.inf]), {}, "'noise_var' has non-finite"),
        (csi_dict(_H, [1]), {}, "'noise_var' has 1 entries, expected 2"),
        (csi_dict(_H, [1, 1], seq=pmt.from_long(-3)), {}, "'seq' must be non-negative"),
    ],
)
def test_csi_from_pmt_rejects(msg: object, kwargs: dict, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        messages.csi_from_pmt(msg, **kwargs)


def test_csi_to_pmt_validates() -> None:
    with pytest.raises(MessageError, match="shape \\(K, N_t\\)"):
        messages.csi_to_pmt(Csi(h=np.ones(3), noise_var=np.ones(1)))
    with pytest.raises(MessageError, match="'noise_var' must be non-negative"):
        messages.csi_to_pmt(Csi(h=np.ones((1, 2)), noise_var=-np.ones(1)))


def test_csi_noiseless_channel_is_valid() -> None:
    c = messages.csi_from_pmt(messages.csi_to_pmt(Csi(h=np.ones((1, 2)), noise_var=np.zeros(1))))
    assert c.noise_var[0] == 0.0


def test_csi_limits_and_positive_noise() -> None:
    zero = messages.csi_to_pmt(Csi(h=np.ones((2, 2)), noise_var=np.zeros(2)))
    assert messages.csi_from_pmt(zero).noise_var.tolist() == [0.0, 0.0]  # a noiseless channel
    with pytest.raises(messages.MessageError, match="MIN_NOISE_VAR"):
        messages.csi_from_pmt(zero, positive_noise=True)
    with pytest.raises(messages.MessageError, match="MAX_CHANNEL_GAIN"):
        messages.csi_to_pmt(Csi(h=1e200 * np.eye(2), noise_var=np.ones(2)))


def test_csi_frame_key_is_optional_and_round_trips() -> None:
    """CSI may name the first frame its channel applies to (u64 ``frame``)."""
    h, nv = np.ones((2, 2), complex), np.ones(2)
    c = messages.csi_from_pmt(messages.csi_to_pmt(Csi(h=h, noise_var=nv, seq=3, frame=41)))
    assert c.frame == 41 and c.seq == 3
    assert messages.csi_from_pmt(messages.csi_to_pmt(Csi(h=h, noise_var=nv))).frame is None
    bad = pmt.dict_add(messages.csi_to_pmt(Csi(h=h, noise_var=nv)), pmt.intern("frame"),
                       pmt.from_double(1.5))  # fmt: skip
    with pytest.raises(messages.MessageError, match="frame"):
        messages.csi_from_pmt(bad)
    with pytest.raises(messages.MessageError, match="frame"):
        messages.csi_to_pmt(Csi(h=h, noise_var=nv, frame=-1))
