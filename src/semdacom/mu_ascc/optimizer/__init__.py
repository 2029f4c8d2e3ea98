"""Optimiser of problem (P1) of MU-ASCC ([1]: adaptive source-channel coding for multi-user
semantic and data communications). numpy/scipy (cvxpy for the faithful solver); no GNU Radio.

Modules:

- :mod:`~semdacom.mu_ascc.optimizer.problem`: problem (P1), its data, evaluation and
  :class:`Solution`;
- :mod:`~semdacom.mu_ascc.optimizer.jrpb`: the faithful JRPB algorithm (Alg. 1-3, cvxpy);
- :mod:`~semdacom.mu_ascc.optimizer.fast`: the fast solver :func:`solve_fast` (public entry),
  built from
  :mod:`~semdacom.mu_ascc.optimizer.sinr` (MMSE SINRs of the virtual uplink, eqs. (33), (43),
  and the dual downlink, eqs. (34)-(37)),
  :mod:`~semdacom.mu_ascc.optimizer.objective` (the objective at given SINRs, every table
  point tried), :mod:`~semdacom.mu_ascc.optimizer.lookup` (the cached candidate lookup of the
  operating points) and :mod:`~semdacom.mu_ascc.optimizer.search` (the searches over the power
  simplex);
- :mod:`~semdacom.mu_ascc.optimizer.bruteforce`: global references (K = 2 grid, any-K lattice).

The ZF/WF/MRT baselines are in :mod:`semdacom.mu_ascc.baselines`.
"""

from semdacom.mu_ascc.optimizer.problem import Problem, Solution

__all__ = ["Problem", "Solution"]
