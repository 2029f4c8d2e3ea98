"""Frame tagger: marks frame boundaries on a complex stream (docs/architecture.md §4)."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_int


class frame_tagger(Block, gr.sync_block):
    """Adds a ``frame`` tag (u64 frame number) and a ``packet_len`` tag (long)
    every ``frame_len`` samples, starting at sample 0 with frame ``first_frame``.

    Samples pass through unchanged. Use it in front of the superposition
    beamformer when the symbol source does not tag frames itself.
    """

    def __init__(self, frame_len: int = 1024, first_frame: int = 0) -> None:
        gr.sync_block.__init__(
            self, name="frame_tagger", in_sig=[np.complex64], out_sig=[np.complex64]
        )
        self.setup(())
        self.frame_len = check_int("frame_len", frame_len, 1)
        self.first_frame = check_int("first_frame", first_frame)
        self._k_frame = pmt.intern("frame")
        self._k_len = pmt.intern("packet_len")
        self._v_len = pmt.from_long(self.frame_len)

    def work(self, input_items, output_items):
        n = len(output_items[0])
        output_items[0][:] = input_items[0][:n]
        start = self.nitems_written(0)
        first = -(-start // self.frame_len) * self.frame_len
        for off in range(first, start + n, self.frame_len):
            frame = self.first_frame + off // self.frame_len
            self.add_item_tag(0, off, self._k_frame, pmt.from_uint64(frame))
            self.add_item_tag(0, off, self._k_len, self._v_len)
        return n
