"""Discrete Bayesian networks: structure, tables learned by counting, sampling, scores
and BIF files, on scalegen's C++ core."""

from ._bif import BifSyntaxError
from ._cpd import TabularCPD
from ._estimators import structure_score
from ._model import BayesianNetwork, read_bif

__all__ = ["BayesianNetwork", "BifSyntaxError", "TabularCPD", "read_bif", "structure_score"]
