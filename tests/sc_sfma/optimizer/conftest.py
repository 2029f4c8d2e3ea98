"""Fixtures of the SFMA optimiser tests: synthetic tables in the shipped formats (never the
measured ones, so that the tests do not move when the transceiver's tables change)."""

from __future__ import annotations

import pytest

from semdacom.sc_sfma import model as sfma
from semdacom.sc_sfma.optimizer.scenario import Tables


@pytest.fixture(scope="session")
def tables() -> Tables:
    t = Tables()
    for k, m in enumerate(("sc_sfma", "swinjscc_noma")):
        t.xi[m] = sfma.synthetic_xi_table(m, seed=100 + k)
    for k, m in enumerate(("sc_sfma", "swinjscc_noma", "swinjscc_oma", "deepjscc_noma")):
        t.dist[m] = sfma.synthetic_distortion_table(m, seed=200 + k)
    t.synthetic = ["all (test fixture)"]
    return t
