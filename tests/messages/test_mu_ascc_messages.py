"""The MU-ASCC allocation keys (``messages.mu_ascc``): beams, the power budget, the limits,
the ``user`` argument and ``link_allocation``."""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from gnuradio.semdacom import messages
from gnuradio.semdacom.messages import Allocation, Csi, MessageError
from msg_helpers import alloc_dict, c64, f64, unit_rows


def test_w_is_user_major() -> None:
    w = unit_rows(np.random.default_rng(1), 2, 3)
    d = messages.alloc_to_pmt(Allocation(seq=0, power=np.ones(2), w=w))
    flat = np.asarray(pmt.c64vector_elements(pmt.dict_ref(d, pmt.intern("w"), pmt.PMT_NIL)))
    np.testing.assert_array_equal(flat[:3], w[0])
    np.testing.assert_array_equal(flat[3:], w[1])


def test_w_shaped_from_n_t_without_per_user_keys() -> None:
    w = unit_rows(np.random.default_rng(3), 2, 3)
    a = messages.alloc_from_pmt(alloc_dict(w=c64(w)), n_t=3)
    np.testing.assert_allclose(a.w, w)
    with pytest.raises(MessageError, match="cannot shape 'w'"):
        messages.alloc_from_pmt(alloc_dict(w=c64(w)))


def test_budget_tolerance_is_relative() -> None:
    msg = alloc_dict(power=f64([0.5, 0.5 * (1 + 1e-12)]))
    assert messages.alloc_from_pmt(msg, p_max=1.0).power.sum() > 1.0
    with pytest.raises(MessageError, match="budget"):
        messages.alloc_from_pmt(msg, p_max=0.999)


def _alloc_dict(**entries: object) -> object:
    d = pmt.dict_add(pmt.make_dict(), pmt.intern("seq"), pmt.from_uint64(1))
    for key, value in entries.items():
        d = pmt.dict_add(d, pmt.intern(key), value)
    return d


def test_power_and_rc_limits() -> None:
    ok = _alloc_dict(power=pmt.init_f64vector(2, [messages.MAX_POWER_W, 0.0]))
    assert messages.alloc_from_pmt(ok).power[0] == messages.MAX_POWER_W
    for bad in (
        _alloc_dict(power=pmt.init_f64vector(2, [1e80, 0.1])),
        _alloc_dict(rc=pmt.init_f64vector(2, [1.0, 1e300])),
        _alloc_dict(rc=pmt.init_f64vector(1, [messages.MAX_RC * 1.01])),
    ):
        with pytest.raises(messages.MessageError, match="exceeds"):
            messages.alloc_from_pmt(bad)


def test_user_argument_rejects_a_k_without_this_user() -> None:
    msg = _alloc_dict(rc=pmt.init_f64vector(2, [1.0, 1.0]))
    assert messages.alloc_from_pmt(msg, user=1).rc.size == 2
    with pytest.raises(messages.MessageError, match="this block is user 2"):
        messages.alloc_from_pmt(msg, user=2)
    w_only = _alloc_dict(w=pmt.init_c64vector(2, [1.0, 1.0]))  # K = 2 from w with n_t = 1
    with pytest.raises(messages.MessageError, match="this block is user 3"):
        messages.alloc_from_pmt(w_only, n_t=1, user=3)
    csi = messages.csi_to_pmt(Csi(h=np.ones((2, 2)), noise_var=np.ones(2)))
    assert messages.csi_from_pmt(csi, user=1).k == 2
    with pytest.raises(messages.MessageError, match="this block is user 2"):
        messages.csi_from_pmt(csi, user=2)


def test_link_allocation_checks_the_coder_range() -> None:
    ok = _alloc_dict(mcs=pmt.init_s32vector(2, [0, 3]), rc=pmt.init_f64vector(2, [1.0, 2.0]))
    assert messages.link_allocation(ok, 1, 256).mcs[1] == 3
    for bad, reason in (
        (_alloc_dict(mcs=pmt.init_s32vector(2, [0, 99])), "mcs\\[1\\]"),
        (_alloc_dict(rc=pmt.init_f64vector(2, [1.0, 0.001])), "rc\\[1\\]"),
        (_alloc_dict(rc=pmt.init_f64vector(1, [1.0])), "this block is user 1"),
    ):
        with pytest.raises(messages.MessageError, match=reason):
            messages.link_allocation(bad, 1, 256)
