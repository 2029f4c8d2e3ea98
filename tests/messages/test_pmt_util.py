"""PMT primitives (``messages.pmt_util``): MessageError and the metadata dictionaries."""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from gnuradio.semdacom import messages
from gnuradio.semdacom.messages import MessageError


def test_message_error_is_a_value_error() -> None:
    assert issubclass(MessageError, ValueError)


def test_meta_round_trip() -> None:
    meta = {
        "s": "name",
        "i": -4,
        "u": 2**64 - 1,
        "f": 0.25,
        "c": 1 - 2j,
        "b": True,
        "none": None,
        "np_int": np.int64(5),
        "np_float": np.float32(0.5),
        "vec_f": np.array([1.0, 2.0]),
        "vec_i": np.array([1, 2], dtype=np.int32),
        "vec_c": np.array([1j]),
        "vec_u8": np.array([1, 255], dtype=np.uint8),
        "nested": {"x": 1},
        "tup": (1, "a", 2.5),
    }
    back = messages.meta_from_pmt(messages.meta_to_pmt(meta))
    assert set(back) == set(meta)
    for key in ("s", "i", "u", "f", "c", "b", "none", "nested", "tup"):
        assert back[key] == meta[key], key
    assert back["np_int"] == 5 and isinstance(back["np_int"], int)
    assert back["np_float"] == 0.5
    for key in ("vec_f", "vec_i", "vec_c", "vec_u8"):
        assert back[key].dtype == meta[key].dtype, key
        np.testing.assert_array_equal(back[key], meta[key])


def test_meta_rejects() -> None:
    with pytest.raises(MessageError, match="keys must be strings"):
        messages.meta_to_pmt({1: 2})
    with pytest.raises(MessageError, match="no PMT form"):
        messages.meta_to_pmt({"x": object()})
    with pytest.raises(MessageError, match="does not fit 64 bits"):
        messages.meta_to_pmt({"x": 2**70})
    with pytest.raises(MessageError, match="must be a PMT dictionary"):
        messages.meta_from_pmt(pmt.from_long(1))
