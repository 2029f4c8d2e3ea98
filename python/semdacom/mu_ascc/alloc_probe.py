#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``alloc_probe``: the allocation of one user in force at each frame."""

from __future__ import annotations

import collections
from typing import Any

import pmt
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_int
from gnuradio.semdacom.plumbing.meta import frame_of, salvage_meta

__all__ = ["alloc_probe"]


class alloc_probe(Block, gr.basic_block):
    """What user ``user`` is told to use at each frame: the per-user keys of the MU-ASCC
    allocation in force (MU-ASCC [1], Sec. III: ``rate_index``, ``rs_bits``, ``rc``, ``mcs``,
    ``power``). Allocations arrive on ``cmd`` and apply from their ``apply_frame``. Every
    message on ``frames`` (a channel encoder's ``sent``, a dict or a PDU whose meta has
    ``frame``) gives one report on ``in_force``: ``frame`` (-1: none read, then every queued
    allocation applies), ``alloc_seq`` (-1: none yet) and the keys in force. Reports are kept
    (:meth:`history`, the last 4096) and, with ``log``, logged."""

    KEYS = ("rate_index", "rs_bits", "rc", "mcs", "power")

    def __init__(self, user: int = 0, log: bool = False) -> None:
        gr.basic_block.__init__(self, name="alloc_probe", in_sig=None, out_sig=None)
        self._user, self._log = check_int("user", user), bool(log)
        self._history: collections.deque = collections.deque(maxlen=4096)
        self.setup(("frames_in", "reports_out", "cmd_accepted", "cmd_rejected"))
        self.take_allocations(self.KEYS, lambda m: messages.alloc_from_pmt(m, user=self._user))
        self.message_in("frames", self._on_frame, arrived="frames_in")
        self.message_out("in_force")

    def history(self) -> list[dict]:
        return list(self._history)

    def _on_frame(self, msg: Any) -> None:
        # the meta of a dict message (as the car of a pair), else of a PDU
        meta = salvage_meta(pmt.cons(msg, pmt.PMT_NIL)) or salvage_meta(msg)
        frame = frame_of({"frame": meta.get("sent_frame", meta.get("frame"))})
        self._sched.on_frame(frame)
        seq = self._sched.applied_seq
        report = {"frame": -1 if frame is None else frame, "alloc_seq": -1 if seq is None else seq}
        for key in self.KEYS:
            if self._sched.get(key) is not None:
                report[key] = self._sched.get(key)[self._user].item()
        self._history.append(report)
        if self._log:
            self.logger.info(f"in force: {report}")
        self.count("reports_out")
        self.publish("in_force", messages.meta_to_pmt(report))
