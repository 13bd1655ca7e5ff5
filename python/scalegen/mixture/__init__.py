"""Gaussian mixture models fitted by EM on scalegen's C++ core."""

from ._gaussian_mixture import GaussianMixture

__all__ = ["GaussianMixture"]
