"""Fixtures of the optimiser tests."""

from __future__ import annotations

import pytest
from opt_helpers import make_problem

from semdacom.mu_ascc.optimizer.problem import Problem


@pytest.fixture
def paper_problem() -> Problem:
    return make_problem()
