"""PHY probe: measured SINR and BER of one user against its transmitted symbols."""

from __future__ import annotations

import json

import numpy as np
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_int

from semdacom.phy.metrics import SinrBerMeter


class phy_probe(Block, gr.sync_block):
    """Sink with two complex inputs: 0 = transmitted symbols of user ``user``
    (unit average energy, Gray QPSK), 1 = that user's received samples.

    It equalises by the least-squares effective gain, counts QPSK bit errors and
    measures SINR = |g|^2 E|s|^2 / E|y - g s|^2 (converges to eq. (7)). Results:
    ``results()`` (dict) and a JSON file written at stop when ``json_path`` is set (the
    final figures), and the ``stats`` message port (a PMT dict published every
    ``report_every`` samples; a last one is sent at stop, but GNU Radio may already
    have stopped the blocks downstream, so read final figures from results()/JSON).
    """

    def __init__(self, user: int = 0, report_every: int = 0, json_path: str = "") -> None:
        gr.sync_block.__init__(
            self, name="phy_probe", in_sig=[np.complex64, np.complex64], out_sig=None
        )
        self.user = check_int("user", user)
        self.report_every = check_int("report_every", report_every)
        self.json_path = str(json_path)
        self.meter = SinrBerMeter()
        self._since = 0
        self.setup(())
        self.message_out("stats")

    def work(self, input_items, output_items):
        ref, rx = input_items[0], input_items[1]
        n = min(len(ref), len(rx))
        try:
            self.meter.update(ref[:n], rx[:n])
            self._since += n
            if self.report_every > 0 and self._since >= self.report_every:
                self._since = 0
                self._publish()
        except Exception as exc:  # work() must never end the thread
            self.logger.error(f"work: {type(exc).__name__}: {exc}")
        return n

    def results(self) -> dict:
        """Measured SINR/BER so far, with the user index."""
        return {"user": self.user, **self.meter.summary()}

    def _publish(self) -> None:
        self.publish("stats", messages.meta_to_pmt(self.results()))

    def stop(self) -> bool:
        self._publish()
        if self.json_path:
            with open(self.json_path, "w") as f:
                json.dump(self.results(), f, indent=1)
        return True
