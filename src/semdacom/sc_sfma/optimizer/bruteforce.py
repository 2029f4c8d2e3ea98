"""Brute-force pairing reference for SC-SFMA: every perfect matching of N <= 8 users (1, 3, 15
and 105 matchings for N = 2, 4, 6, 8), each with its continuous blocks (Alg. 1 and 2 of
SC-SFMA, alternated from the made-feasible equal-allocation point) re-optimised. The pairing gap
of Alg. 3 is measured against the best of them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from semdacom.sc_sfma.optimizer.problem import Allocation, SfmaProblem
from semdacom.sc_sfma.optimizer.solver import continuous, feasible_start, placeholder

__all__ = ["perfect_matchings", "solve_bruteforce"]


def perfect_matchings(users: list[int]) -> Iterator[list[tuple[int, int]]]:
    """Every perfect matching of ``users`` ((n-1)!! of them), each as a sorted list of pairs."""
    if not users:
        yield []
        return
    first, rest = users[0], users[1:]
    for k, partner in enumerate(rest):
        for sub in perfect_matchings(rest[:k] + rest[k + 1 :]):
            yield [(first, partner)] + sub


def solve_bruteforce(prob: SfmaProblem, max_n: int = 8, rounds: int = 4) -> Allocation:
    """The best feasible allocation over all perfect matchings (``info["objectives"]`` lists
    every matching's objective, -inf where no feasible point was found)."""
    if prob.n > max_n:
        raise ValueError(f"brute force is for N <= {max_n}, got {prob.n}")
    t0 = time.perf_counter()
    best: Allocation | None = None
    objs = []
    for match in perfect_matchings(list(range(prob.n))):
        pairs = np.array(match, dtype=int)
        a = feasible_start(prob, pairs)
        if a.feasible:
            a, _ = continuous(prob, a, rounds=rounds)
        objs.append(a.objective if a.feasible else -np.inf)
        if a.feasible and (best is None or a.objective > best.objective):
            best = a
    if best is None:
        best = placeholder(prob, "no feasible matching found")
    else:
        best.status = "ok"
    best.solver = "sfma/bruteforce"
    best.info["objectives"] = objs
    best.info["matchings"] = len(objs)
    best.solve_ms = (time.perf_counter() - t0) * 1e3
    return best
