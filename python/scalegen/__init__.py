"""scalegen: large-scale generative models on an OpenMP C++ core.

Gaussian mixtures fitted by EM (``scalegen.GaussianMixture``) and discrete Bayesian
networks (``scalegen.BayesianNetwork``), with convolutional networks and Dask scale-out
arriving family by family.
"""

from __future__ import annotations

from ._config import get_num_threads, set_num_threads, threads
from ._info import show_config
from .bayesnet import BayesianNetwork
from .mixture import GaussianMixture

__version__ = "0.1.0"

__all__ = [
    "BayesianNetwork",
    "GaussianMixture",
    "__version__",
    "get_num_threads",
    "set_num_threads",
    "show_config",
    "threads",
]
