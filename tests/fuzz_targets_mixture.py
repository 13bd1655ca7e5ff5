"""Fuzz target for GaussianMixture, run by ``isolated.run_cases`` in a child process: one
constructor or method parameter set to a hostile value, the others at their defaults, on
small data. A refused case raises a ValueError or a TypeError; a fit that is accepted
must give finite parameters and valid probabilities (else an AssertionError fails the test).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

ENTRY_POINTS = ("init", "variational", "fit", "score", "sample")


@functools.cache
def _data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(5, 1, (60, 2))])


def gmm_params(case: tuple[str, dict[str, Any]]) -> Any:
    """GaussianMixture(**params).fit(X) ("init"), BayesianGaussianMixture(**params).fit(X)
    ("variational"), GaussianMixture.fit(X, **params) ("fit"), or a fitted
    model's score(X, **params) ("score") and sample(**params) ("sample")."""
    from scalegen import BayesianGaussianMixture, GaussianMixture

    entry, params = case
    X = _data()
    if entry == "init":
        g = GaussianMixture(**{"max_iter": 20, **params}).fit(X)
    elif entry == "variational":
        g = BayesianGaussianMixture(**{"n_components": 3, "max_iter": 20, **params}).fit(X)
    else:
        g = GaussianMixture(2, random_state=0).fit(X, **(params if entry == "fit" else {}))
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.isfinite(getattr(g, name)).all(), name
    assert np.isclose(g.weights_.sum(), 1.0)
    assert np.isfinite(g.lower_bound_) or (g.max_iter == 0 and g.lower_bound_ == -np.inf)  # as scikit-learn
    proba = g.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1.0) and (proba >= 0).all()
    if entry == "score":
        value = g.score(X, **params)
        assert np.isfinite(value)
        return value
    if entry == "sample":
        rows, labels = g.sample(**params)
        assert np.isfinite(rows).all() and len(rows) == len(labels)
        return rows.shape
    return g.n_iter_
