"""Shared fixtures: real datasets bundled with scikit-learn and small synthetic mixtures."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

# The property and fuzz tests draw the same cases on every run, so that `make test` passes or
# fails on the code alone; `make fuzz` (SCALEGEN_FUZZ=explore) draws new cases each time to
# look for new findings, which then become fixed regression cases.
settings.register_profile("fixed", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile("explore" if os.environ.get("SCALEGEN_FUZZ") == "explore" else "fixed")


@pytest.fixture(scope="session")
def blobs() -> np.ndarray:
    """Three well separated 2-D Gaussian blobs, 600 rows."""
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [6.0, 1.0], [2.0, 7.0]])
    scales = np.array([[1.0, 0.5], [0.7, 1.2], [1.5, 0.4]])
    return np.vstack([c + s * rng.standard_normal((200, 2)) for c, s in zip(centers, scales, strict=True)])


def load(name: str) -> np.ndarray:
    """Features of one of scikit-learn's bundled datasets, as float64."""
    import sklearn.datasets as ds

    loader = {
        "iris": ds.load_iris,
        "wine": ds.load_wine,
        "breast_cancer": ds.load_breast_cancer,
        "digits": ds.load_digits,
    }[name]
    return np.asarray(loader().data, dtype=np.float64)


@pytest.fixture(scope="session")
def dask_client():
    """A local Dask cluster of two single-threaded worker processes (spawned, not forked)."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, memory_limit="200MiB", dashboard_address=":0"
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
