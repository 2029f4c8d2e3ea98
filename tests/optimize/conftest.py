"""Fixtures of the optimiser tests."""

from __future__ import annotations

import pytest
from gnuradio.semdacom.optimize.problem import Problem
from opt_helpers import make_problem


@pytest.fixture
def paper_problem() -> Problem:
    return make_problem()
