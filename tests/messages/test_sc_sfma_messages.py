"""The SC-SFMA frame tags of ``messages`` (``sfma_frame_info``, ``sfma_group_info``): a valid
tag reads back through PMT as written; each broken field is rejected with its reason."""

from __future__ import annotations

import numpy as np
import pytest
from gnuradio.semdacom import messages


def _slot(user=0, group=1, slot=0, partner=3, **kw):
    mask = np.zeros(64, np.uint8)
    mask[[1, 5, 9]] = 1
    d = {"user": user, "group": group, "slot": slot, "partner": partner, "nu": 3 / 64,
         "n_sym": 6, "mask": mask, "erased": False, "pdu_image_id": 17,
         "enc_alloc_seq": 2}  # fmt: skip
    d.update(kw)
    return d


def _group(**kw):
    d = {"group": 1, "power": 0.02, "bw": 2.5e6, "power_split": 0.5, "alloc_seq": 2,
         "slot0": _slot(), "slot1": _slot(user=3, slot=1, partner=0)}  # fmt: skip
    d.update(kw)
    return d


def _through_pmt(d):
    return messages.meta_from_pmt(messages.meta_to_pmt(d))


def test_valid_tags_round_trip() -> None:
    s = messages.sfma_frame_info(_through_pmt(_slot()), code_channels=64)
    assert (s["user"], s["group"], s["slot"], s["partner"], s["n_sym"]) == (0, 1, 0, 3, 6)
    assert s["mask"].dtype == bool and list(np.flatnonzero(s["mask"])) == [1, 5, 9]
    assert s["nu"] == pytest.approx(3 / 64) and s["pdu_image_id"] == 17 and not s["erased"]
    g = messages.sfma_group_info(_through_pmt(_group()), code_channels=64)
    assert (g["group"], g["power"], g["bw"], g["alloc_seq"]) == (1, 0.02, 2.5e6, 2)
    assert g["slot1"]["user"] == 3 and g["slot1"]["slot"] == 1
    e = messages.sfma_frame_info(_slot(erased=True, erasure_reason="x" * 500))
    assert e["erased"] and len(e["erasure_reason"]) == 200


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"user": -1}, "user"), ({"user": True}, "user"), ({"slot": 2}, "slot"),
        ({"nu": 0.0}, "nu"), ({"nu": 1.5}, "nu"), ({"nu": float("nan")}, "nu"),
        ({"n_sym": -3}, "n_sym"), ({"mask": np.zeros(64, np.int32)}, "mask"),
        ({"mask": np.full(64, 2, np.uint8)}, "mask"), ({"mask": np.zeros(0, np.uint8)}, "mask"),
        ({"mask": np.ones(32, np.uint8)}, "model"), ({"erased": 1}, "erased"),
        ({"pdu_image_id": -5}, "pdu_image_id"), ({"partner": "x"}, "partner"),
    ],
)  # fmt: skip
def test_broken_frame_tag_rejected(change, word) -> None:
    with pytest.raises(messages.MessageError, match=word):
        messages.sfma_frame_info(_slot(**change), code_channels=64)


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"power": -1.0}, "power"), ({"power": float("inf")}, "power"), ({"bw": 0.0}, "bw"),
        ({"power_split": 1.2}, "power_split"), ({"group": -1}, "group"),
        ({"slot0": _slot(slot=1)}, "slot0"), ({"slot1": _slot(slot=1, group=0)}, "slot1"),
        ({"slot1": _slot(slot=1)}, "itself"), ({"slot0": "x"}, "dictionary"),
        ({"alloc_seq": -1}, "alloc_seq"),
    ],
)  # fmt: skip
def test_broken_group_tag_rejected(change, word) -> None:
    with pytest.raises(messages.MessageError, match=word):
        messages.sfma_group_info(_group(**change), code_channels=64)


def test_not_a_dict() -> None:
    for bad in (None, "x", 3, [1]):
        with pytest.raises(messages.MessageError):
            messages.sfma_frame_info(bad)
        with pytest.raises(messages.MessageError):
            messages.sfma_group_info(bad)


def _sfma_alloc(power=(0.1, 0.2), bw=(1e6, 2e6), **kw):
    return messages.Allocation(seq=1, apply_frame=0, pairs=np.array([0, 1, 2, 3], np.int32),
                               nu=np.array([0.5, 1.0]), group_power=np.asarray(power, float),
                               group_bw=np.asarray(bw, float), **kw)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "word"),
    [({"power": (1e300, 0.1)}, "MAX_POWER_W"), ({"power": (1e6 * 1.01, 0.1)}, "MAX_POWER_W"),
     ({"bw": (0.0, 1e6)}, "group_bw"), ({"bw": (1e6, 1e16)}, "group_bw"),
     ({"rate_index": np.arange(5, dtype=np.int32)}, "K=4"),
     ({"mcs": np.ones(6, np.int32)}, "K=4")],
)  # fmt: skip
def test_unusable_sfma_allocation_rejected(change, word) -> None:
    """Issue 24: group powers above MAX_POWER_W (the C++ limit), a bandwidth that is 0 or above
    MAX_SFMA_BW_HZ (the group-tag limits) and per-user fields whose length is not K."""
    a = messages.alloc_from_pmt(messages.alloc_to_pmt(_sfma_alloc(**change)))
    with pytest.raises(messages.MessageError, match=word):
        messages.check_sfma_alloc(a, 4)


def test_usable_sfma_allocation_at_the_limits_accepted() -> None:
    a = _sfma_alloc(power=(1e6, 0.0), bw=(1e15, 1.0), rate_index=np.array([0, 1, 2, 3], np.int32))
    assert (
        messages.check_sfma_alloc(messages.alloc_from_pmt(messages.alloc_to_pmt(a)), 4) is not None
    )


def test_sfma_csi_scenes_round_trip_and_bad_scenes_rejected() -> None:
    g = np.array([1e-10, 2e-10, 3e-10, 4e-10])
    c = messages.SfmaCsi(gain=g, seq=3, labels=np.array([0, 0, 5, 7]),
                         scenes=np.array([0, 0, -1, 2]))  # fmt: skip
    back = messages.sfma_csi_from_pmt(messages.sfma_csi_to_pmt(c), k=4)
    assert back.scenes.tolist() == [0, 0, -1, 2] and back.scenes.dtype == np.int32
    assert (
        messages.sfma_csi_from_pmt(messages.sfma_csi_to_pmt(messages.SfmaCsi(gain=g, seq=1))).scenes
        is None
    )  # optional
    for scenes, reason in (([0, 0, -1], "3 entries"), ([0, 0, -2, -1], ">= -1"),
                           (np.array([0.5, 0, 0, 0]), ">= -1")):  # fmt: skip
        with pytest.raises(messages.MessageError, match=reason):
            messages.sfma_csi_to_pmt(messages.SfmaCsi(gain=g, seq=1, scenes=scenes))
