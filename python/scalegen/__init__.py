"""scalegen: large-scale generative models on an OpenMP C++ core.

Gaussian mixtures fitted by EM (``scalegen.GaussianMixture``), discrete Bayesian
networks (``scalegen.BayesianNetwork``), Keras-style convolutional networks
(``scalegen.nn``) and the same estimators on Dask (``scalegen.distributed``).
"""

from __future__ import annotations

from ._config import get_num_threads, set_num_threads, threads
from ._info import show_config
from .mixture import GaussianMixture

__version__ = "0.1.0"



def __getattr__(name: str) -> object:
    # pandas is imported only when Bayesian networks are used (Dask workers stay small)
    if name == "BayesianNetwork":
        from .bayesnet import BayesianNetwork

        return BayesianNetwork
    raise AttributeError(f"module 'scalegen' has no attribute {name!r}")


__all__ = [
    "BayesianNetwork",
    "GaussianMixture",
    "__version__",
    "get_num_threads",
    "set_num_threads",
    "show_config",
    "threads",
]
