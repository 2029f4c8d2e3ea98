"""Optimisers of gr-semdacom (no GNU Radio imports).

Subpackages
-----------
mu_ascc
    MU-ASCC (adaptive source-channel coding, joint rate/power/beamforming):
    ``problem`` (problem P1 and the :class:`Solution` record), ``jrpb`` (faithful JRPB,
    Alg. 1-3, cvxpy for P6.2), ``fast`` (the same problem without cvxpy), ``bruteforce``
    (global references), ``baselines`` (ZF/WF/MRT).
sfma
    SC-SFMA network optimiser (dual decomposition, trust-region SCA, user pairing).
"""

from .mu_ascc.problem import Problem, Solution

__all__ = ["Problem", "Solution"]
