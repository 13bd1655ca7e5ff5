"""Gaussian mixture models fitted by EM (and variational Bayes) on scalegen's C++ core."""

from ._bayesian_mixture import BayesianGaussianMixture
from ._gaussian_mixture import GaussianMixture

__all__ = ["BayesianGaussianMixture", "GaussianMixture"]
