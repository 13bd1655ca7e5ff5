"""scalegen.privacy: differential privacy for the generative models.

Mechanisms with exact discrete noise (Canonne, Kamath & Steinke 2020) drawn from a ChaCha20
keystream: the discrete Laplace mechanism on counts (pure epsilon-DP), the discrete Gaussian
on counts and a grid-rounded Gaussian on real statistics (rho-zCDP), permute-and-flip
selection (epsilon-DP); a ``PrivacyAccountant`` that composes their charges and refuses
the one that would exceed its budget; and ``PrivBayes``, private synthetic tables from a
Bayesian network learned on noisy statistics. Noise is cryptographically keyed by default;
``NoiseSource(random_state=...)`` is reproducible and for tests only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._accountant import BudgetExceededError, PrivacyAccountant, PrivacyCharge, rho_for, zcdp_epsilon
from ._noise import NoiseSource, gaussian_counts, gaussian_mechanism, laplace_counts

if TYPE_CHECKING:
    from ._privbayes import PrivBayes


def __getattr__(name: str) -> object:
    # PrivBayes needs pandas and the Bayesian networks: imported on first use only
    if name == "PrivBayes":
        from ._privbayes import PrivBayes

        return PrivBayes
    raise AttributeError(f"module 'scalegen.privacy' has no attribute {name!r}")


__all__: list[str] = [
    "BudgetExceededError",
    "NoiseSource",
    "PrivBayes",
    "PrivacyAccountant",
    "PrivacyCharge",
    "gaussian_counts",
    "gaussian_mechanism",
    "laplace_counts",
    "rho_for",
    "zcdp_epsilon",
]
