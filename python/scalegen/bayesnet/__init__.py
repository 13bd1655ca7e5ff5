"""Discrete Bayesian networks: structure, tables learned by counting, structure learning,
sampling, scores and BIF files, on scalegen's C++ core."""

from ._approximate import ApproximateInference
from ._bif import BifSyntaxError
from ._bif_io import read_bif
from ._cpd import TabularCPD
from ._inference import DiscreteFactor, VariableElimination
from ._model import BayesianNetwork
from ._pc import PC
from ._scores import structure_score
from ._structure import HillClimbSearch, TreeSearch, structural_hamming_distance

__all__ = [
    "PC",
    "ApproximateInference",
    "BayesianNetwork",
    "BifSyntaxError",
    "DiscreteFactor",
    "HillClimbSearch",
    "TabularCPD",
    "TreeSearch",
    "VariableElimination",
    "read_bif",
    "structural_hamming_distance",
    "structure_score",
]
