"""Per-frame tags and credits (``messages.frames``): ``chan_info`` and the frame credit."""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio.semdacom import messages


@pytest.mark.parametrize(
    "info",
    [
        {"user": 0, "mode": "ldpc", "n_bits": "many"},
        {"user": 0, "mode": "ldpc", "n_bits": 2**62},
        {"user": 0, "mode": "ldpc", "n_bits": True},
        {"user": 0, "mode": "x", "n_bits": 1},
        {"user": 0, "mode": "fbl", "n_bits": 20, "bits": np.zeros(1, np.uint8)},
        {"user": 0, "mode": "fbl", "n_bits": 1, "rc": float("inf")},
        {"user": -1, "mode": "fbl", "n_bits": 1},
    ],
)
def test_chan_info_rejects_unusable_tags(info: dict) -> None:
    with pytest.raises(messages.MessageError):
        messages.chan_info(info)


def test_chan_info_accepts_the_encoder_tag() -> None:
    info = {"user": 1, "mode": "fbl", "L": 256, "n_bits": 9, "rc": 1.0}
    info["bits"] = np.zeros(2, np.uint8)
    assert messages.chan_info(info)["n_bits"] == 9


def test_frame_sent_credit() -> None:
    m = messages.meta_from_pmt(messages.frame_sent_to_pmt(7, 1))
    assert m == {"sent_frame": 7, "user": 1}
    with pytest.raises(messages.MessageError):
        messages.frame_sent_to_pmt(-1, 0)
