"""messages: the per-user CSI reports of the over-the-air split and the CSI ``frame`` key."""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from gnuradio.semdacom import messages


def test_report_round_trip_and_any_csi_reader_takes_it() -> None:
    h = np.array([0.5 - 1.0j, 2.0 + 0.25j])
    msg = messages.csi_report_to_pmt(1, h, 0.3, 7, 2**40)
    csi, user, frame = messages.csi_report_from_pmt(msg, n_t=2, k=2)
    assert user == 1 and frame == 2**40 and csi.seq == 7
    assert np.allclose(csi.h, h[None, :]) and np.allclose(csi.noise_var, [0.3])
    plain = messages.csi_from_pmt(msg)  # a one-user CSI to every reader
    assert plain.k == 1 and plain.n_t == 2
    assert messages.csi_frame(msg) == 2**40
    no_frame = messages.csi_report_to_pmt(0, h, 0.3, 0, None)
    assert messages.csi_report_from_pmt(no_frame)[2] is None
    assert messages.csi_frame(no_frame) is None


def test_csi_with_frame_adds_the_key_only_when_given() -> None:
    c = messages.Csi(h=np.eye(2, dtype=complex), noise_var=np.ones(2), seq=3)
    d = messages.csi_with_frame(c, 12)
    assert messages.csi_frame(d) == 12 and messages.csi_from_pmt(d, k=2).seq == 3
    assert messages.csi_frame(messages.csi_with_frame(c, None)) is None
    for bad in (-1, 2**64, True, 1.5):
        with pytest.raises(messages.MessageError):
            messages.csi_with_frame(c, bad)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: pmt.dict_delete(m, pmt.intern("user")),
        lambda m: pmt.dict_add(m, pmt.intern("user"), pmt.from_long(-1)),
        lambda m: pmt.dict_add(m, pmt.intern("user"), pmt.from_long(2)),  # K = 2
        lambda m: pmt.dict_add(m, pmt.intern("user"), pmt.intern("x")),
        lambda m: pmt.dict_add(m, pmt.intern("frame"), pmt.from_double(1.0)),
        lambda m: pmt.dict_add(m, pmt.intern("k"), pmt.from_long(2)),
        lambda m: pmt.dict_add(m, pmt.intern("h"), pmt.init_c64vector(1, [1j])),
    ],
)
def test_malformed_reports_raise(mutate) -> None:
    msg = mutate(messages.csi_report_to_pmt(0, np.ones(2), 0.1, 0, 5))
    with pytest.raises(messages.MessageError):
        messages.csi_report_from_pmt(msg, n_t=2, k=2)


def test_report_writer_refuses_bad_users_and_channels() -> None:
    for user in (-1, messages.MAX_REPORT_USER + 1, True, 1.0):
        with pytest.raises(messages.MessageError):
            messages.csi_report_to_pmt(user, np.ones(2), 0.1, 0, None)
    with pytest.raises(messages.MessageError):
        messages.csi_report_to_pmt(0, np.array([np.nan, 1.0]), 0.1, 0, None)
    with pytest.raises(messages.MessageError):
        messages.csi_report_to_pmt(0, np.ones(2), -0.1, 0, None)
