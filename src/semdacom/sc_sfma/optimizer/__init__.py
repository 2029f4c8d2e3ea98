"""SC-SFMA network optimiser (SC-SFMA [2], *Semantic Feature Multiple Access Empowered Integrated
Learning and Communication Networks*, Sec. III); docs/sc_sfma/optimizer.md, docs/sc_sfma/model.md.

numpy, scipy, cvxpy and networkx only (no torch, no GNU Radio).

Modules
-------
problem
    Problem (20): :class:`SfmaProblem` (users, budgets, tables), :class:`Allocation` (pairs, nu,
    group power and bandwidth, objective, slacks, history), the pruning (21).
compression
    Alg. 1: dual decomposition on the energy budget, Newton on (25), subgradient steps (26).
power_bw
    Alg. 2: trust-region SCA on (P, B) with a DPP-parametrised cvxpy surrogate (35), ratio (36).
pairing
    Alg. 3: dynamic feasible edges (37), dual pricing (39)-(43), conflict resolution, residual
    matching (44) and assignment (45), repair (46), pair swaps.
solver
    Alg. 4: the outer loop with the monotone check (47), then (default) the multi-start stage
    (a deviation, docs/sc_sfma/optimizer.md); :func:`solve`.
bruteforce
    The pairing reference: every perfect matching for N <= 8, its continuous blocks from a
    grid of starts, the solver's point included.
scenario
    Sec. IV-A Monte-Carlo scenarios; :func:`make_problem`, :func:`load_tables`.

The model they use (xi, rates, tables) is :mod:`semdacom.sc_sfma.model`; the baselines of
Sec. IV (:func:`~semdacom.sc_sfma.baselines.run_scheme`) are :mod:`semdacom.sc_sfma.baselines`.
"""

from semdacom.sc_sfma.optimizer.problem import Allocation, SfmaProblem
from semdacom.sc_sfma.optimizer.solver import solve

__all__ = ["Allocation", "SfmaProblem", "solve"]
