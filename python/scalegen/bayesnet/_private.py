"""Differentially private tables: every family's counts are released once with noise, then
turned into tables by the ordinary estimators (post-processing).

Neighbouring datasets differ by adding or removing one row, which changes one cell of each
family's count table by 1: over F families, the released vector moves by F in L1 and by
sqrt(F) in L2.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from ..utils._validation import check_real


def check_private_fit(
    epsilon: Any,
    delta: Any,
    estimator: str,
    latents: Mapping[Hashable, Any],
    sample_weight: Any,
    nodes: Sequence[Hashable],
    states: Mapping[Hashable, Any],
) -> tuple[float, float]:
    """The budget, checked, and a ValueError for what a private fit cannot take."""
    eps = check_real(epsilon, "epsilon", "BayesianNetwork.fit", low=0.0, closed="neither")
    dlt = check_real(delta, "delta", "BayesianNetwork.fit", low=0.0, high=1.0, closed="left")
    if estimator == "em" or latents:
        raise ValueError(
            "a private fit counts complete families: estimator='em' and latent variables are not supported"
        )
    if sample_weight is not None:
        raise ValueError(
            "a private fit takes no sample_weight (a weighted row could move a count without bound)"
        )
    undeclared = [v for v in nodes if v not in states]
    if undeclared:
        raise ValueError(
            "a private fit needs every variable's states declared (the observed values would leak): "
            f"{undeclared!r}"
        )
    return eps, dlt


def noisy_counts(
    counts: Sequence[Any], epsilon: float, delta: float, random_state: Any
) -> tuple[list[np.ndarray], tuple[float, float]]:
    """The family counts with noise, clipped at 0, and the (epsilon, delta) spent. delta = 0:
    discrete Laplace (pure epsilon-DP); delta > 0: discrete Gaussian calibrated in zCDP, less
    noise when there are many families."""
    from ..privacy import (
        NoiseSource,
        PrivacyAccountant,
        gaussian_counts,
        laplace_counts,
    )  # it imports bayesnet

    dense = [np.asarray(c.to_dense()) for c in counts]
    flat = np.concatenate([d.ravel() for d in dense]).astype(np.int64)
    n_families = len(dense)
    accountant = PrivacyAccountant(epsilon, delta)
    noise = NoiseSource(random_state)
    if delta == 0.0:
        accountant.spend(epsilon=epsilon, label="family counts")
        released = laplace_counts(flat, epsilon, sensitivity=n_families, noise=noise)
    else:
        rho = accountant.rho_for(epsilon, delta)
        accountant.spend(rho=rho, label="family counts")
        released = gaussian_counts(flat, rho, sensitivity=float(np.sqrt(n_families)), noise=noise)
    clipped = np.maximum(released, 0).astype(np.float64)
    out, start = [], 0
    for d in dense:
        out.append(clipped[start : start + d.size].reshape(d.shape))
        start += d.size
    return out, accountant.spent
