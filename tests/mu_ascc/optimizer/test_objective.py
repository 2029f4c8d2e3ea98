"""The exhaustive objective of (P1) at given SINRs (optimizer/objective.py)."""

from __future__ import annotations

import numpy as np
from opt_helpers import make_problem, random_channel

from semdacom.mu_ascc.optimizer import objective


def test_objective_gradient_matches_finite_differences() -> None:
    pr = make_problem(random_channel(np.random.default_rng(2), 3, 3), p_max=4.0)
    Q = np.array([[1.0, 2.0, 1.0], [0.3, 0.2, 3.5]])
    f, pos, G = objective.evaluate(pr, Q)
    for j in range(3):
        dq = np.zeros(3)
        dq[j] = 1e-6
        f2, pos2 = objective.evaluate(pr, Q + dq, grad=False)
        same = np.all(pos2 == pos, axis=1)
        np.testing.assert_allclose(((f2 - f) / 1e-6)[same], G[same, j], rtol=1e-3, atol=1e-6)
