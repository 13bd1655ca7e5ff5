"""Differentially private tables: every family's counts are released once with noise, then
turned into tables by the ordinary estimators (post-processing).

Neighbouring datasets differ by adding or removing one row, which changes one cell of each
family's count table by 1: over F families, the released vector moves by F in L1 and by
sqrt(F) in L2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..utils._validation import check_real


def check_private_fit(
    epsilon: Any, delta: Any, estimator: str, sample_weight: Any, model: Any
) -> tuple[float, float] | None:
    """The budget, checked (None for an ordinary fit), and a ValueError for what a private fit
    cannot take."""
    if epsilon is None:
        if delta != 0.0:
            raise ValueError("delta is only used with epsilon (a private fit): give epsilon too")
        return None
    eps = check_real(epsilon, "epsilon", "BayesianNetwork.fit", low=0.0, closed="neither")
    dlt = check_real(delta, "delta", "BayesianNetwork.fit", low=0.0, high=1.0, closed="left")
    if estimator == "em" or model.latents:
        raise ValueError(
            "a private fit counts complete families: estimator='em' and latent variables are not supported"
        )
    if sample_weight is not None:
        raise ValueError(
            "a private fit takes no sample_weight (a weighted row could move a count without bound)"
        )
    undeclared = [v for v in model.nodes if v not in model._states or v in model._states_from_data]
    if undeclared:
        raise ValueError(
            "a private fit needs every variable's states declared, not taken from data by an earlier "
            f"fit (the observed values would leak): {undeclared!r}"
        )
    return eps, dlt


def noisy_counts(
    counts: Sequence[Any],
    epsilon: float,
    delta: float,
    random_state: Any,
    scopes: Sequence[tuple[int, ...]] | None = None,
) -> tuple[list[np.ndarray], tuple[float, float]]:
    """The family counts with noise, and the (epsilon, delta) spent. delta = 0: discrete
    Laplace (pure epsilon-DP); delta > 0: discrete Gaussian calibrated in zCDP, less noise when
    there are many families. Then post-processing: with ``scopes`` (each family's variables,
    child first, as its table's axes), the tables are made consistent where they share
    variables and non-negative (privacy._consistency); without, negative counts are clipped
    at 0."""
    # imported here: scalegen.privacy imports bayesnet
    from ..privacy import PrivacyAccountant, gaussian_counts, laplace_counts
    from ..privacy._consistency import clip, consistent_counts
    from ..privacy._noise import discrete_laplace_moments, fit_noise

    dense = [np.asarray(c.to_dense()) for c in counts]
    flat = np.concatenate([d.ravel() for d in dense]).astype(np.int64)
    n_families = len(dense)
    accountant = PrivacyAccountant(epsilon, delta)
    noise = fit_noise(random_state, "BayesianNetwork fit", stacklevel=3)
    if delta == 0.0:
        accountant.spend(epsilon=epsilon, label="family counts")
        released = laplace_counts(flat, epsilon, sensitivity=n_families, noise=noise)
        moments = discrete_laplace_moments(n_families / epsilon)
    else:
        rho = accountant.rho_for(epsilon, delta)
        accountant.spend(rho=rho, label="family counts")
        sensitivity = math.nextafter(math.sqrt(n_families), math.inf)  # rounded up: more noise
        released = gaussian_counts(flat, rho, sensitivity=sensitivity, noise=noise)
        variance = sensitivity**2 / (2 * rho)
        # the continuous law's moments: the discrete law's for variance >= 1 (below, at huge
        # budgets, the noise is too small for the choice they make to matter)
        moments = (variance, 3 * variance**2)
    tables, start = [], 0
    for d in dense:
        tables.append(released[start : start + d.size])
        start += d.size
    if scopes is None:
        out = [clip(t).reshape(d.shape) for t, d in zip(tables, dense, strict=True)]
    else:
        # one axis per variable of two or more states (the child's rows, then the parent
        # configurations split, the last parent fastest); one-state variables hold nothing
        cards = {scope[0]: d.shape[0] for d, scope in zip(dense, scopes, strict=True)}  # all are children
        scopes = [tuple(v for v in scope if cards[v] > 1) for scope in scopes]
        shaped = [t.reshape([cards[v] for v in s]) for t, s in zip(tables, scopes, strict=True)]
        consistent = consistent_counts(shaped, scopes, moments)
        out = [t.reshape(d.shape) for t, d in zip(consistent, dense, strict=True)]
    return out, accountant.spent
