"""Fuzz target for scalegen.metrics, run by ``isolated.run_cases`` in a child process: one
parameter of one metric set to a hostile value, the others at their defaults, on small
samples. A refused case raises a ValueError or a TypeError; an accepted one must give
finite numbers (else an AssertionError fails the test)."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

FUZZED = {
    "mmd": ("kernel", "bandwidth", "unbiased"),
    "mmd_test": ("n_permutations", "bandwidth", "random_state"),
    "energy": (),
    "manifold": ("k",),
    "c2st": ("cv", "n_neighbors", "random_state"),
    "sliced": ("n_projections", "p", "random_state"),
    "prd": ("num_clusters", "num_angles", "num_runs", "random_state"),
    "frechet": (),
    "tvd": ("order",),
}
# valid but slow requests are capped by the test: these at most this much
CAPS = {"n_permutations": 200, "n_projections": 500, "num_runs": 3, "num_angles": 2001}


@functools.cache
def _samples() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(0, 1, (40, 3)), rng.normal(0.5, 1, (40, 3))


def _finite(value: Any) -> None:
    if isinstance(value, tuple):  # NamedTuples and pairs
        for v in value:
            _finite(v)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            _finite(getattr(value, name))
    elif isinstance(value, float | np.floating):
        assert math.isfinite(value), value
    elif isinstance(value, np.ndarray):
        assert np.isfinite(value).all()


def metric_params(case: tuple[str, dict[str, Any]]) -> Any:
    """metric(X, Y, **params) on two small samples (tvd: on their signs as tables)."""
    from scalegen import metrics

    entry, params = case
    X, Y = _samples()
    calls = {
        "mmd": lambda: metrics.mmd(X, Y, **params),
        "mmd_test": lambda: metrics.mmd_test(X, Y, **{"n_permutations": 50, **params}),
        "energy": lambda: metrics.energy_distance(X, Y, **params),
        "manifold": lambda: metrics.manifold_scores(X, Y, **params),
        "c2st": lambda: metrics.classifier_two_sample_test(X, Y, **params),
        "sliced": lambda: metrics.sliced_wasserstein(X, Y, **params),
        "prd": lambda: metrics.prd_curve(X, Y, **{"num_clusters": 5, "num_runs": 2, **params}),
        "frechet": lambda: metrics.frechet_distance(X, Y, **params),
        "tvd": lambda: metrics.marginal_tvd(np.sign(X).astype(int), np.sign(Y).astype(int), **params),
    }
    value = calls[entry]()
    _finite(value)
    return repr(value)[:200]


def metric_data(case: tuple[str, Any, Any]) -> Any:
    """metric(X, Y) on hostile samples."""
    from scalegen import metrics

    entry, X, Y = case
    calls = {
        "mmd": lambda: metrics.mmd(X, Y, bandwidth=1.0),
        "energy": lambda: metrics.energy_distance(X, Y),
        "manifold": lambda: metrics.manifold_scores(X, Y, k=2),
        "c2st": lambda: metrics.classifier_two_sample_test(X, Y, cv=2, n_neighbors=1),
        "sliced": lambda: metrics.sliced_wasserstein(X, Y, n_projections=8),
        "frechet": lambda: metrics.frechet_distance(X, Y),
    }
    value = calls[entry]()
    _finite(value)
    return repr(value)[:200]
