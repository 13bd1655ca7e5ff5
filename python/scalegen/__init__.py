"""scalegen: large-scale generative models on an OpenMP C++ core.

Gaussian mixtures fitted by EM and variational Bayes (``scalegen.GaussianMixture``,
``scalegen.BayesianGaussianMixture``), discrete Bayesian
networks (``scalegen.BayesianNetwork``), Keras-style convolutional networks
(``scalegen.nn``) and the same estimators on Dask (``scalegen.distributed``).
"""

from __future__ import annotations

import importlib
from importlib.metadata import version as _package_version

from ._config import get_num_threads, set_num_threads, threads
from ._info import show_config
from .mixture import BayesianGaussianMixture, GaussianMixture
from .utils._limits import LimitError, Limits, get_limits, limits, set_limits
from .utils._validation import InvalidParameterError

set_limits()  # the core starts with the limits of SCALEGEN_MAX_* environment variables

__version__ = _package_version("scalegen")  # from pyproject.toml, the one place it is written


_SUBMODULES = ("bayesnet", "datasets", "distributed", "exceptions", "metrics", "nn", "privacy")


def __getattr__(name: str) -> object:
    # pandas is imported only when Bayesian networks are used (Dask workers stay small), and
    # the other families' modules on first use: `import scalegen; scalegen.nn.Sequential` works
    if name == "BayesianNetwork":
        from .bayesnet import BayesianNetwork

        return BayesianNetwork
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'scalegen' has no attribute {name!r}")


__all__ = [
    "BayesianGaussianMixture",
    "BayesianNetwork",
    "GaussianMixture",
    "InvalidParameterError",
    "LimitError",
    "Limits",
    "__version__",
    "get_limits",
    "get_num_threads",
    "limits",
    "set_limits",
    "set_num_threads",
    "show_config",
    "threads",
]
