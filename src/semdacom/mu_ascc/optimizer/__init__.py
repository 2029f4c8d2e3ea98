"""MU-ASCC optimiser (paper: adaptive source-channel coding for multi-user semantic and data
communications): problem P1, the faithful JRPB algorithm (Alg. 1-3), the fast solver, global
references and the ZF/WF/MRT baselines. No GNU Radio imports."""

from semdacom.mu_ascc.optimizer.problem import Problem, Solution

__all__ = ["Problem", "Solution"]
