"""Fixtures of the SFMA optimiser tests: synthetic tables in the shipped formats (never the
measured ones, so that the tests do not move when the transceiver's tables change)."""

from __future__ import annotations

import pytest

from semdacom.sc_sfma import model as sfma
from semdacom.sc_sfma.optimizer import solve
from semdacom.sc_sfma.optimizer.bruteforce import solve_bruteforce
from semdacom.sc_sfma.optimizer.scenario import Tables, make_problem


@pytest.fixture(scope="session")
def tables() -> Tables:
    t = Tables()
    for k, m in enumerate(("sc_sfma", "swinjscc_noma")):
        t.xi[m] = sfma.synthetic_xi_table(m, seed=100 + k)
    for k, m in enumerate(("sc_sfma", "swinjscc_noma", "swinjscc_oma", "deepjscc_noma")):
        t.dist[m] = sfma.synthetic_distortion_table(m, seed=200 + k)
    t.synthetic = ["all (test fixture)"]
    return t


@pytest.fixture(scope="session")
def solved(tables):
    """``solved(n, seed, dense=False, **kw)``: the instance, the solver's point and the
    multi-start reference (with the solver's point as a candidate), cached per case."""
    cache: dict = {}

    def get(n: int, seed: int, dense: bool = False, **kw):
        key = (n, seed, dense, tuple(sorted(kw.items())))
        if key not in cache:
            prob = make_problem(seed, n=n, tables=tables, **kw)
            a = solve(prob)
            cache[key] = prob, a, solve_bruteforce(prob, starts="multi", dense=dense, alg4=a)
        return cache[key]

    return get
