"""QA of the Python ``frame_tagger`` block: ``frame`` (u64) and ``packet_len`` (long) tags
every ``frame_len`` samples, samples unchanged (docs/architecture.md §4)."""

from __future__ import annotations

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr
from gnuradio.semdacom.phy.frame_tagger import frame_tagger


def run_tagger(x: np.ndarray, frame_len: int, first_frame: int = 0, chunk: int = 0):
    tb = gr.top_block()
    src = blocks.vector_source_c(x.tolist(), False)
    blk = frame_tagger(frame_len=frame_len, first_frame=first_frame)
    if chunk:
        blk.set_max_noutput_items(chunk)
    snk = blocks.vector_sink_c()
    tb.connect(src, blk, snk)
    tb.run()
    return np.array(snk.data()), list(snk.tags())


@pytest.mark.parametrize(
    ("n", "frame_len", "first_frame", "chunk"),
    [(1000, 100, 0, 0), (1037, 64, 7, 0), (999, 50, 3, 17), (500, 1, 0, 64), (30, 100, 2, 0)],
)
def test_tags_every_frame_len_samples(n: int, frame_len: int, first_frame: int, chunk: int):
    x = (np.arange(n) * (1 + 0.5j)).astype(np.complex64)
    y, tags = run_tagger(x, frame_len, first_frame, chunk)
    np.testing.assert_array_equal(y, x)
    starts = list(range(0, n, frame_len))
    frames = sorted((t.offset, t.value) for t in tags if pmt.symbol_to_string(t.key) == "frame")
    lens = sorted((t.offset, t.value) for t in tags if pmt.symbol_to_string(t.key) == "packet_len")
    assert len(tags) == 2 * len(starts)
    assert [off for off, _ in frames] == starts
    assert [off for off, _ in lens] == starts
    for f, (_, value) in enumerate(frames):
        assert pmt.is_uint64(value)
        assert pmt.to_uint64(value) == first_frame + f
    for _, value in lens:
        assert pmt.is_integer(value) and pmt.to_long(value) == frame_len


@pytest.mark.parametrize("frame_len", [0, -3])
def test_rejects_bad_frame_len(frame_len: int) -> None:
    with pytest.raises(ValueError):
        frame_tagger(frame_len=frame_len)
