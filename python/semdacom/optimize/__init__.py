"""Optimisers of gr-semdacom (no GNU Radio imports).

Modules
-------
problem
    Problem (P1) of MU-ASCC (seed 000) and the :class:`Solution` record.
mu_ascc
    Faithful JRPB (Sec. IV, Alg. 1-3) with cvxpy for the SCA subproblem (P6.2).
fast
    The same problem without cvxpy: exact per-user rate search and projected gradient on the
    uplink power simplex with MMSE beams.
bruteforce
    Global grid search for K = 2 (reference for optimality gaps).
baselines
    ZF + water-filling with a fixed R_c (classical codec), ZF-WF with DeepJSCC, MRT + equal
    power.
"""

from .problem import Problem, Solution

__all__ = ["Problem", "Solution"]
