"""``plumbing.codec``'s block-independent helpers: ``run_batched`` (issue 23: a learned model's
batch call over items, a failing batch redone item by item) and the ``device`` check."""

from __future__ import annotations

import pytest
from gnuradio.semdacom.plumbing.codec import check_device, run_batched
from hypothesis import given
from hypothesis import strategies as st


def _double(items: list) -> list:
    if any(x < 0 for x in items):
        raise ValueError(f"negative among {items}")
    return [2 * x for x in items]


@given(st.lists(st.integers(-3, 20), max_size=40), st.integers(1, 9))
def test_every_item_is_coded_or_says_why_in_its_place(items: list, batch: int) -> None:
    calls: list[int] = []

    def code(part: list) -> list:
        calls.append(len(part))
        return _double(part)

    out, errors = run_batched(items, code, batch)
    assert len(out) == len(errors) == len(items) and max(calls, default=0) <= batch
    for x, y, err in zip(items, out, errors, strict=True):
        if x < 0:  # fails alone: None with the reason
            assert y is None and err.startswith("ValueError: negative")
        else:  # coded, in a batch or alone after its batch failed
            assert y == 2 * x and err is None


def test_a_call_with_the_wrong_number_of_results_is_redone_alone() -> None:
    out, errors = run_batched([1, 2, 3], lambda part: [0] if len(part) > 1 else [part[0]], 8)
    assert out == [1, 2, 3] and errors == [None] * 3
    out, errors = run_batched([1, 2], lambda part: [], 8)
    assert out == [None, None] and all("IndexError" in e for e in errors)
    assert run_batched([], _double, 4) == ([], [])


def test_device_must_be_a_string_and_there() -> None:
    assert check_device("auto") == "auto"
    for bad in (None, 0, ["cpu"]):
        with pytest.raises(ValueError, match="string"):
            check_device(bad)
    with pytest.raises(ValueError, match="device"):
        check_device("quantum")
