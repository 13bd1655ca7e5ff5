"""GaussianMixture on a dask.array: the C++ E-step per block on the workers, statistics
merged by a fixed tree, the M-step on the client."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..mixture import BayesianGaussianMixture, GaussianMixture
from ..mixture._base import BaseMixture
from ..mixture._sources import Rows, e_step_chunk, moments_chunk
from ..utils._dask import is_dask_collection
from ..utils._validation import check_array, check_sample_weight
from ._tasks import compute, persist, task_context, task_threads, tree_reduce


def _block(X: np.ndarray, sw: np.ndarray | None, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray | None]:
    arr = check_array(X, "X", "DaskGaussianMixture")
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr, check_sample_weight(sw, arr.shape[0], positive_sum=False)


def gmm_e_step_block(
    X: np.ndarray, sw: np.ndarray | None, dtype: np.dtype, cov: str, kernel: dict[str, Any], entropy: bool
) -> Any:
    """E-step statistics of one block (runs on a worker)."""
    X, sw = _block(X, sw, dtype)
    return e_step_chunk(X, sw, cov, kernel, task_threads(), entropy)


def gmm_moments_block(
    X: np.ndarray, sw: np.ndarray | None, dtype: np.dtype, shift: np.ndarray, kind: str
) -> Any:
    """Statistics of one block as a single component around shift (runs on a worker)."""
    X, sw = _block(X, sw, dtype)
    return moments_chunk(X, sw, shift, task_threads(), kind=kind)


def gmm_merge_stats(*parts: Any) -> Any:
    """The sum of the statistics of consecutive blocks, merged in order."""
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    return total


def _rows_at(X: np.ndarray, sw: np.ndarray | None, index: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    return X[index], None if sw is None else sw[index]


def fits_in_memory(client: Any, nbytes: int) -> bool:
    """Whether nbytes take at most half the memory of the workers (of this machine under
    dask's local schedulers)."""
    if client is None:
        try:
            from distributed import get_client

            client = get_client()
        except (ImportError, ValueError):
            client = None
    if client is not None:
        limits = [w.get("memory_limit") or 0 for w in client.scheduler_info()["workers"].values()]
        total = sum(limits) if all(limits) else os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    else:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return nbytes <= total // 2


def _rows_in_task(block: np.ndarray, model: BaseMixture, method: str) -> np.ndarray:
    """model.method(block) in a Dask task, with the worker's share of threads."""
    with task_context():
        return getattr(model, method)(block)


def _block_rows(block: np.ndarray) -> np.ndarray:
    return np.array([len(block)])


class DaskRows(Rows):
    """The blocks of a persisted dask array (rows split in blocks, all columns in each)."""

    def __init__(self, X: Any, sample_weight: Any, client: Any, keep: bool | str) -> None:
        if X.ndim != 2:
            raise ValueError(f"Expected a 2D dask array, got {X.ndim}D array instead.")
        if any(np.isnan(c) for c in X.chunks[0]):
            X = X.compute_chunk_sizes()
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(
                f"Found array with shape {X.shape}: at least one sample and one feature are needed"
            )
        if X.dtype.kind not in "fiub":
            raise ValueError(f"X must be numeric, got dtype {X.dtype}")
        X = X.rechunk({1: -1})
        sw = None
        if sample_weight is not None:
            if not is_dask_collection(sample_weight, "dask.array"):
                import dask.array as da

                sample_weight = da.from_array(np.asarray(sample_weight, dtype=np.float64), chunks=X.chunks[0])
            if sample_weight.ndim != 1 or sample_weight.shape[0] != X.shape[0]:
                raise ValueError(f"sample_weight.shape == {sample_weight.shape}, expected ({X.shape[0]},)!")
            sw = sample_weight.rechunk(X.chunks[0])
        self.client = client
        if keep is True or (keep == "auto" and fits_in_memory(client, X.nbytes)):
            X, sw = persist(client, X, sw) if sw is not None else (persist(client, X)[0], None)
        self.X, self.sw = X, sw
        self.n_rows, self.n_features = int(X.shape[0]), int(X.shape[1])
        self.dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)

    def _blocks(self) -> list[tuple[Any, Any]]:
        xs = list(self.X.to_delayed().ravel())
        ws = [None] * len(xs) if self.sw is None else list(self.sw.to_delayed().ravel())
        return list(zip(xs, ws, strict=True))

    def e_step(
        self, covariance_type: str, kernel: dict[str, Any], n_threads: int, entropy: bool = False
    ) -> Any:
        import dask

        step = dask.delayed(gmm_e_step_block, pure=True)
        parts = [step(x, w, self.dtype, covariance_type, kernel, entropy) for x, w in self._blocks()]
        return compute(self.client, tree_reduce(parts, gmm_merge_stats))[0]

    def moments(self, n_threads: int, kind: str = "full") -> Any:
        import dask

        step = dask.delayed(gmm_moments_block, pure=True)
        origin = self.init_sample(1, np.random.default_rng(0))[0][:1].astype(np.float64)  # a row of the data
        parts = [step(x, w, self.dtype, origin, kind) for x, w in self._blocks()]
        return compute(self.client, tree_reduce(parts, gmm_merge_stats))[0]

    def init_sample(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        import dask

        n = self.n_rows
        assert n is not None
        chosen = np.arange(n) if n <= size else np.sort(rng.choice(n, size=size, replace=False))
        bounds = np.cumsum((0, *self.X.chunks[0]))
        take = dask.delayed(_rows_at, pure=True)
        picks = []
        for (x, w), r0, r1 in zip(self._blocks(), bounds[:-1], bounds[1:], strict=True):
            local = chosen[(chosen >= r0) & (chosen < r1)] - r0
            if local.size:
                picks.append(take(x, w, local))
        parts = compute(self.client, *picks)
        X = np.concatenate([_block(x, None, self.dtype)[0] for x, _ in parts])
        sw = None if self.sw is None else np.concatenate([w for _, w in parts]).astype(np.float64)
        return X, sw

    def chunks(self) -> Any:
        raise TypeError("a dask array is read on the workers, not chunk by chunk on the client")


class _OnDask(BaseMixture):
    """What a mixture does differently on a dask.array: rows from the workers, answers
    as dask arrays. ``_local`` is the in-memory class ``to_local`` returns."""

    _local: type[BaseMixture]
    client: Any
    persist: bool | str

    def _rows(self, X: Any, sample_weight: Any) -> Rows:
        if not is_dask_collection(X, "dask.array"):
            raise TypeError(
                f"{type(self).__name__} fits a dask.array, got {type(X).__name__}: use "
                f"scalegen.mixture.{self._local.__name__} for data in memory"
            )
        if self.persist not in (True, False, "auto"):
            raise ValueError(f"persist must be True, False or 'auto', got {self.persist!r}")
        return DaskRows(X, sample_weight, self.client, self.persist)

    def fit_predict(
        self, X: Any, y: Any = None, sample_weight: Any = None, initial_responsibilities: Any = None
    ) -> Any:
        """Fit, then the most probable component of each row (a dask array)."""
        return self.fit(
            X, sample_weight=sample_weight, initial_responsibilities=initial_responsibilities
        ).predict(X)

    def to_local(self) -> Any:
        """The fitted mixture in memory (same class without Dask, parameters and attributes)."""
        from ..utils._validation import check_is_fitted

        check_is_fitted(self, "means_")
        params = self.get_params()
        params.pop("client")
        params.pop("persist")
        local = self._local(**params)
        for name, value in vars(self).items():
            if name.endswith("_") and not name.startswith("_"):
                setattr(local, name, value)
        return local

    def _map_rows(self, X: Any, method: str, columns: int | None) -> Any:
        local = self.to_local()
        if not is_dask_collection(X, "dask.array"):
            return getattr(local, method)(X)
        if X.ndim != 2:
            raise ValueError(f"Expected a 2D dask array, got {X.ndim}D array instead.")
        X = X.rechunk({1: -1})
        dtype = np.int64 if method == "predict" else self.means_.dtype
        shape: dict[str, Any] = {"drop_axis": 1} if columns is None else {"chunks": (X.chunks[0], (columns,))}
        return X.map_blocks(_rows_in_task, model=local, method=method, dtype=dtype, **shape)

    def predict(self, X: Any) -> Any:
        """Most probable component of each row: a dask array for a dask array."""
        return self._map_rows(X, "predict", None)

    def predict_proba(self, X: Any) -> Any:
        """Component probabilities of each row: a dask array for a dask array."""
        return self._map_rows(X, "predict_proba", self.n_components)

    def score_samples(self, X: Any) -> Any:
        """log p(x) of each row: a dask array for a dask array."""
        return self._map_rows(X, "score_samples", None)

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Mean (weighted) log-likelihood of the rows, computed on the workers."""
        if not is_dask_collection(X, "dask.array"):
            return self.to_local().score(X, sample_weight=sample_weight)
        scores = self.score_samples(X).astype(np.float64)
        if sample_weight is None:
            return float(compute(self.client, scores.mean())[0])
        total, weight = compute(self.client, (scores * sample_weight).sum(), sample_weight.sum())
        return float(total / weight)


class DaskGaussianMixture(_OnDask, GaussianMixture):
    """``GaussianMixture`` fitted on a ``dask.array`` (rows in blocks, any number).

    ``fit`` persists the array once (with ``persist='auto'``, when it takes at most half
    of the workers' memory; larger arrays are recomputed from their graph, e.g. re-read or
    re-generated, at every pass instead of spilling), runs the C++ E-step on every block
    where it lives (with the worker's threads) and merges the blocks' statistics by a
    fixed tree of ``split_every=8`` on the workers; the client only runs the M-step on the
    merged statistics (kilobytes). The initial parameters are those of the in-memory fit
    on a uniform sample of ``init_size`` rows (all rows when there are not more). Results
    equal the in-memory ones to rounding (the merge order differs), and do not change when
    a worker dies during the fit (lost blocks are recomputed, the tree is the same).

    No cluster is needed: without ``client``, dask's current scheduler runs the tasks
    (the local threaded scheduler, or a ``distributed.Client`` set as the default).
    ``predict``, ``predict_proba`` and ``score_samples`` of a dask array are lazy dask
    arrays, block by block (of a NumPy array, NumPy arrays); ``score``, ``bic`` and
    ``aic`` compute on the workers; ``to_local()`` returns the fitted ``GaussianMixture``.
    ``fit`` refuses anything but a dask array.

    Parameters
    ----------
    n_components, covariance_type, tol, reg_covar, max_iter, n_init, init_params
        As for ``scalegen.GaussianMixture``.
    weights_init, means_init, precisions_init, random_state, warm_start, verbose, verbose_interval
        As for ``scalegen.GaussianMixture``.
    n_jobs : int or None, default None
        Threads of the kernels run in this process (the initialization on the sample) and
        of the ``predict``-like blocks (through ``to_local()``); the fit's E-step tasks
        use the worker's threads instead.
    chunk_size, init_size, learning_decay
        As for ``scalegen.GaussianMixture``; ``chunk_size`` has no effect on a fit on Dask
        (``to_local()`` passes it on).
    client : distributed.Client or None, default None
        The cluster to compute on; None uses dask's current scheduler.
    persist : bool or 'auto', default 'auto'
        Keep the array in the workers' memory during the fit: always (True), never
        (False, every pass recomputes it), or when it takes at most half of the memory
        of the workers (of this machine without a distributed cluster).

    Examples
    --------
    On dask's local scheduler (no cluster):

    >>> import numpy as np
    >>> import dask.array as da
    >>> from scalegen.distributed import DaskGaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(-3, 1, (200, 2)), rng.normal(3, 1, (100, 2))])
    >>> dX = da.from_array(X, chunks=(100, 2))  # three blocks of 100 rows
    >>> gm = DaskGaussianMixture(n_components=2, random_state=0).fit(dX)
    >>> sorted(gm.weights_.round(2).tolist())
    [0.33, 0.67]
    >>> gm.predict(dX).compute().shape
    (300,)
    >>> gm.to_local()
    GaussianMixture(n_components=2, random_state=0)
    """

    _local = GaussianMixture

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init: Any = None,
        means_init: Any = None,
        precisions_init: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        n_jobs: int | None = None,
        chunk_size: int | None = None,
        init_size: int | None = None,
        learning_decay: float = 0.7,
        client: Any = None,
        persist: bool | str = "auto",
    ) -> None:
        super().__init__(
            n_components,
            covariance_type=covariance_type,
            tol=tol,
            reg_covar=reg_covar,
            max_iter=max_iter,
            n_init=n_init,
            init_params=init_params,
            weights_init=weights_init,
            means_init=means_init,
            precisions_init=precisions_init,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
            verbose_interval=verbose_interval,
            n_jobs=n_jobs,
            chunk_size=chunk_size,
            init_size=init_size,
            learning_decay=learning_decay,
        )
        self.client = client
        self.persist = persist

    def _total_and_rows(self, X: Any) -> tuple[float, int]:
        """Sum of log p(x) and the row count, in one pass on the workers (a dask array's
        row count may be unknown until computed)."""
        if not is_dask_collection(X, "dask.array"):
            scores = self.to_local().score_samples(X)
            return float(scores.sum()), len(scores)
        scores = self.score_samples(X).astype(np.float64)
        rows = scores.map_blocks(_block_rows, chunks=((1,) * scores.numblocks[0],), dtype=np.int64)
        total, n = compute(self.client, scores.sum(), rows.sum())
        return float(total), int(n)

    def bic(self, X: Any) -> float:
        total, n = self._total_and_rows(X)
        return -2 * total + self._n_parameters() * np.log(n)

    def aic(self, X: Any) -> float:
        total, _ = self._total_and_rows(X)
        return -2 * total + 2 * self._n_parameters()


class DaskBayesianGaussianMixture(_OnDask, BayesianGaussianMixture):
    """``BayesianGaussianMixture`` fitted on a ``dask.array``, as ``DaskGaussianMixture``
    fits a ``GaussianMixture``.

    The C++ E-step (with the responsibilities' entropy) runs per block on the workers,
    the statistics are merged by a fixed tree, and the variational update runs on the
    client; the default priors' mean and covariance come from two passes on the workers.
    No cluster is needed (dask's current scheduler runs the tasks). ``predict``,
    ``predict_proba`` and ``score_samples`` of a dask array are lazy dask arrays;
    ``to_local()`` returns the fitted ``BayesianGaussianMixture``.

    Parameters
    ----------
    n_components, covariance_type, tol, reg_covar, max_iter, n_init, init_params
        As for ``scalegen.BayesianGaussianMixture``.
    weight_concentration_prior_type, weight_concentration_prior, mean_precision_prior
        The priors, as for ``scalegen.BayesianGaussianMixture``.
    mean_prior, degrees_of_freedom_prior, covariance_prior
        The priors, as for ``scalegen.BayesianGaussianMixture``.
    random_state, warm_start, verbose, verbose_interval
        As for ``scalegen.BayesianGaussianMixture``.
    n_jobs, chunk_size, init_size, learning_decay
        As for ``DaskGaussianMixture``.
    client : distributed.Client or None, default None
        The cluster to compute on; None uses dask's current scheduler.
    persist : bool or 'auto', default 'auto'
        Keep the array in the workers' memory during the fit, as for ``DaskGaussianMixture``.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> from scalegen.distributed import DaskBayesianGaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(-3, 1, (200, 2)), rng.normal(3, 1, (100, 2))])
    >>> dX = da.from_array(X, chunks=(100, 2))
    >>> bgm = DaskBayesianGaussianMixture(n_components=4, random_state=0).fit(dX)
    >>> bgm.n_effective_components_
    2
    >>> type(bgm.to_local()).__name__
    'BayesianGaussianMixture'
    """

    _local = BayesianGaussianMixture

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weight_concentration_prior_type: str = "dirichlet_process",
        weight_concentration_prior: float | None = None,
        mean_precision_prior: float | None = None,
        mean_prior: Any = None,
        degrees_of_freedom_prior: float | None = None,
        covariance_prior: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        n_jobs: int | None = None,
        chunk_size: int | None = None,
        init_size: int | None = None,
        learning_decay: float = 0.7,
        client: Any = None,
        persist: bool | str = "auto",
    ) -> None:
        super().__init__(
            n_components,
            covariance_type=covariance_type,
            tol=tol,
            reg_covar=reg_covar,
            max_iter=max_iter,
            n_init=n_init,
            init_params=init_params,
            weight_concentration_prior_type=weight_concentration_prior_type,
            weight_concentration_prior=weight_concentration_prior,
            mean_precision_prior=mean_precision_prior,
            mean_prior=mean_prior,
            degrees_of_freedom_prior=degrees_of_freedom_prior,
            covariance_prior=covariance_prior,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
            verbose_interval=verbose_interval,
            n_jobs=n_jobs,
            chunk_size=chunk_size,
            init_size=init_size,
            learning_decay=learning_decay,
        )
        self.client = client
        self.persist = persist
