"""The searches of the fast solver over the power simplex (optimizer/search.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from semdacom.mu_ascc.optimizer import search


@settings(max_examples=100, deadline=None)
@given(
    y=hnp.arrays(np.float64, st.integers(1, 9), elements=st.floats(-10, 10)),
    total=st.floats(0.1, 20.0),
)
def test_project_simplex(y: np.ndarray, total: float) -> None:
    x = search.project_simplex(y[None], total)[0]
    assert x.min() >= 0 and x.sum() == pytest.approx(total, rel=1e-9)
    np.testing.assert_allclose(search.project_simplex(x[None], total)[0], x, atol=1e-9)
    # the projection is at least as close as any other simplex point we try
    rng = np.random.default_rng(0)
    others = total * rng.dirichlet(np.ones(y.size), 50)
    assert np.linalg.norm(x - y) <= np.min(np.linalg.norm(others - y, axis=1)) + 1e-9
