"""The soak's instruments (bench/soak.py): message blocks put into a running example flowgraph.

- :class:`Gate`: passes messages while open, drops (and counts) them while closed: a cut
  feedback link, or an optimiser instance that is not (or no longer) connected;
- :class:`Limiter`: passes the first ``limit`` messages (of one user), then drops (the credit
  loop of a looping image source, so that exactly N images enter);
- :class:`Probe`: the time each image enters (``ins``), the time each result leaves with the
  allocation ``seq`` every block coded it with (``outs``), in arrays allocated before the run
  (the soak measures the flowgraph's memory, not its own);
- :class:`AllocLog`: every allocation that reached the blocks through one gate: (seq,
  apply_frame, epoch when present), in arrival order (a few per CSI change: bounded by the
  run's length / the fading period).

Timestamps are ``time.monotonic()``; a message that cannot be read is counted in ``bad``.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pmt
from gnuradio import gr
from gnuradio.semdacom import messages

NONE = -1  # "not seen" in the int arrays


class Gate(gr.basic_block):
    """``in`` -> ``out`` while open; dropped (counted) while closed."""

    def __init__(self, name: str, open_: bool = True) -> None:
        gr.basic_block.__init__(self, name=f"gate_{name}", in_sig=None, out_sig=None)
        self.is_open = bool(open_)
        self.passed = self.dropped = 0
        self.message_port_register_in(pmt.intern("in"))
        self.message_port_register_out(pmt.intern("out"))
        self.set_msg_handler(pmt.intern("in"), self._on)

    def _on(self, msg) -> None:
        if self.is_open:
            self.passed += 1
            self.message_port_pub(pmt.intern("out"), msg)
        else:
            self.dropped += 1


class Limiter(Gate):
    """A gate that closes by itself after ``limit`` messages; with ``user``, only the messages
    whose dictionary says that ``user`` (metrics_sink ``done``) pass or count."""

    def __init__(self, name: str, limit: int, user: int | None = None) -> None:
        super().__init__(name, open_=limit > 0)
        self.limit = int(limit)
        self.user = user

    def _on(self, msg) -> None:
        if self.user is not None and messages.done_user(msg) != self.user:
            return
        super()._on(msg)
        if self.passed >= self.limit:
            self.is_open = False


def _meta(msg) -> dict:
    """The meta dictionary of a PDU (or of a dict message) as Python values."""
    is_pdu = pmt.is_pair(msg) and pmt.is_uniform_vector(pmt.cdr(msg))  # a dict is a pair too
    m = pmt.car(msg) if is_pdu else msg
    return pmt.to_python(m) if pmt.is_dict(m) else {}


SEQ_KEYS = ("src_alloc_seq", "enc_alloc_seq", "dec_alloc_seq")


class Probe(gr.basic_block):
    """Input and result times and allocation seqs per (user, frame), frames 0 .. n - 1."""

    def __init__(self, n_users: int, n: int) -> None:
        gr.basic_block.__init__(self, name="soak_probe", in_sig=None, out_sig=None)
        self.t_in = np.full((n_users, n), np.nan)
        self.t_out = np.full((n_users, n), np.nan)
        self.seqs = np.full((n_users, n, len(SEQ_KEYS)), NONE, dtype=np.int64)
        self.erased = np.zeros((n_users, n), dtype=bool)
        self.n_in = self.n_out = self.bad = self.duplicate = self.out_of_range = 0
        self.last_out = time.monotonic()
        self._lock = threading.Lock()
        for port in ("ins", "outs"):
            self.message_port_register_in(pmt.intern(port))
        self.set_msg_handler(pmt.intern("ins"), self._on_in)
        self.set_msg_handler(pmt.intern("outs"), self._on_out)

    def _index(self, meta: dict) -> tuple[int, int] | None:
        u, f = meta.get("user"), meta.get("frame", meta.get("source_frame"))
        if not isinstance(u, (int, np.integer)) or not isinstance(f, (int, np.integer)):
            return None
        if not (0 <= u < self.t_in.shape[0] and 0 <= f < self.t_in.shape[1]):
            self.out_of_range += 1
            return None
        return int(u), int(f)

    def _on_in(self, msg) -> None:
        try:
            idx = self._index(_meta(msg))
        except Exception:
            idx = None
        with self._lock:
            self.n_in += 1
            if idx is None:
                self.bad += 1
            else:
                self.t_in[idx] = time.monotonic()

    def _on_out(self, msg) -> None:
        now = time.monotonic()
        try:
            meta = _meta(msg)
            idx = self._index(meta)
        except Exception:
            meta, idx = {}, None
        with self._lock:
            self.n_out += 1
            self.last_out = now
            if idx is None:
                self.bad += 1
                return
            if not np.isnan(self.t_out[idx]):
                self.duplicate += 1
            self.t_out[idx] = now
            self.erased[idx] = meta.get("erased") is True
            for j, key in enumerate(SEQ_KEYS):
                v = meta.get(key)
                if isinstance(v, (int, np.integer)):
                    self.seqs[idx][j] = int(v)


class AllocLog(gr.basic_block):
    """(seq, apply_frame, epoch or -1) of every allocation on ``in``, in arrival order, in an
    array of ``capacity`` rows allocated up front (``overflow`` counts the ones beyond)."""

    def __init__(self, name: str, capacity: int) -> None:
        gr.basic_block.__init__(self, name=f"alloc_log_{name}", in_sig=None, out_sig=None)
        self.rows = np.full((int(capacity), 3), NONE, dtype=np.int64)
        self.n = self.overflow = self.bad = 0
        self.message_port_register_in(pmt.intern("in"))
        self.set_msg_handler(pmt.intern("in"), self._on)

    def entries(self) -> np.ndarray:
        return self.rows[: self.n]

    def _on(self, msg) -> None:
        try:
            d = pmt.to_python(msg)
            epoch = d.get("epoch")
            epoch = NONE if epoch is None else int(epoch) & (2**62 - 1)
            row = (int(d["seq"]), int(d.get("apply_frame", 0)), epoch)
        except Exception:
            self.bad += 1
            return
        if self.n >= len(self.rows):
            self.overflow += 1
            return
        self.rows[self.n] = row
        self.n += 1
