"""The estimators on Dask: data in blocks on the workers, statistics reduced by a tree.

Needs ``scalegen[dask]``. Kernels inside tasks use the worker's threads, not
``OMP_NUM_THREADS`` (Dask sets it to 1 in workers).
"""

from __future__ import annotations

try:
    import dask  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised without the extra
    raise ImportError("scalegen.distributed needs Dask: pip install 'scalegen[dask]'") from e

from ._mixture import DaskBayesianGaussianMixture, DaskGaussianMixture
from ._nn import predict_batches

__all__ = ["DaskBayesianGaussianMixture", "DaskGaussianMixture", "predict_batches"]
