"""GaussianMixture: scikit-learn's estimator, fitted by a fused OpenMP E-step + M-step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _core
from ..utils._validation import check_is_fitted
from ._base import BaseMixture, precisions_from_chol
from ._checks import COVARIANCE_TYPES, INIT_PARAMS, check_parameters, checked_inits, weighted_mean

__all__ = ["COVARIANCE_TYPES", "INIT_PARAMS", "GaussianMixture"]


@dataclass
class _Params:
    """A mixture in float64, as the kernels take it."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray | None
    prec_chol: np.ndarray


def _prec_chol_from_precisions(precisions: np.ndarray, covariance_type: str) -> np.ndarray:
    if covariance_type == "full":
        return np.stack([np.linalg.cholesky(p) for p in precisions])
    if covariance_type == "tied":
        return np.linalg.cholesky(precisions)
    return np.sqrt(precisions)


class GaussianMixture(BaseMixture):
    """Gaussian mixture fitted by EM, a drop-in for ``sklearn.mixture.GaussianMixture``.

    Same parameters, methods and fitted attributes as scikit-learn's, plus ``n_jobs``
    (threads of the C++ kernels; None uses ``scalegen.get_num_threads()``),
    ``sample_weight`` in ``fit`` and ``lower_bounds_``. Each EM iteration is one fused
    pass over X: log-densities, responsibilities and float64 sufficient statistics,
    reduced in a fixed order so that results do not depend on the thread count.

    Data larger than memory: ``fit`` also takes a ``numpy.memmap`` (read in chunks of
    ``chunk_size`` rows, never copied whole) or a function returning a fresh iterable of
    chunks at every call (arrays or DataFrames, or ``(X, sample_weight)`` pairs), read
    once per EM iteration. Those fits start from the parameters the in-memory fit would
    start from on a uniform sample of ``init_size`` rows (all rows when there are not
    more), then run exact EM over all rows: chunks of multiples of
    ``_core.gmm_block_rows`` (2048) rows give the in-memory fit's bits.

    ``partial_fit`` is stepwise (online) EM over a stream of chunks: running statistics
    s <- (1 - eta) s + eta s(chunk), with s(chunk) the chunk's per-row statistics under
    the current parameters and eta = (t + 1) ** -learning_decay at the t-th step after the
    first; each step ends with an M-step. ``learning_decay=1`` weighs every chunk
    equally; smaller values (down to 0.5) forget old chunks faster.
    """

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
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size
        self.init_size = init_size
        self.learning_decay = learning_decay

    # ------------------------------------------------------------------ the mixture's hooks
    def _check_parameters(self) -> None:
        check_parameters(self)

    def _prepare(self, rows: Any, n_threads: int) -> None:
        assert rows.n_features is not None
        self._inits = checked_inits(self, rows.n_features)

    def _state_from_init_stats(self, stats: Any, dtype: np.dtype, d: int) -> _Params:
        """The M-step of the initial statistics, with weights_init, means_init and
        precisions_init in place of what they give."""
        weights_init, means_init, precisions_init = self._inits
        k = self.n_components
        p = self._m_step(stats, dtype)
        weights = weights_init if weights_init is not None else p.weights
        means = means_init if means_init is not None else p.means
        if precisions_init is not None:
            covariances = None
            prec_chol = _prec_chol_from_precisions(precisions_init, self.covariance_type)
        else:
            covariances, prec_chol = p.covariances, p.prec_chol
        return _Params(weights, means.reshape(k, d), covariances, prec_chol)

    def _initial_state(self, rows: Any, rng: np.random.Generator, n_threads: int) -> _Params:
        weights_init, means_init, precisions_init = self._inits
        if weights_init is None or means_init is None or precisions_init is None:
            return super()._initial_state(rows, rng, n_threads)
        d = rows.n_features
        return _Params(
            weights_init,
            means_init.reshape(self.n_components, d),
            None,
            _prec_chol_from_precisions(precisions_init, self.covariance_type),
        )

    def _m_step(self, stats: Any, dtype: np.dtype) -> _Params:
        eps = 10 * np.finfo(dtype).eps  # scikit-learn's guard on empty components
        weights, means, covariances, prec_chol = _core.gmm_m_step(stats, float(self.reg_covar), float(eps))
        if self.covariance_type == "tied":
            covariances = covariances.T  # symmetric, returned in column-major order
        return _Params(weights, means, covariances, prec_chol)

    def _lower_bound(self, stats: Any, new_state: Any) -> float:
        return stats.log_likelihood / stats.sum_weight  # the mean log-likelihood before the M-step

    def _kernel_args(self, state: _Params) -> dict[str, Any]:
        return {"weights": state.weights, "means": state.means, "prec_chol": state.prec_chol}

    def _fitted_state(self) -> _Params:
        return _Params(
            np.asarray(self.weights_, dtype=np.float64),
            np.asarray(self.means_, dtype=np.float64),
            np.asarray(self.covariances_, dtype=np.float64),
            np.asarray(self.precisions_cholesky_, dtype=np.float64),
        )

    def _set_state(self, p: _Params, dtype: np.dtype) -> None:
        covariances = p.covariances
        if covariances is None:  # only with max_iter=0 and precisions_init
            covariances = _covariances_from_chol(p.prec_chol, self.covariance_type)
        self.weights_ = p.weights.astype(dtype)
        self.means_ = p.means.astype(dtype)
        self.covariances_ = covariances.astype(dtype)
        self.precisions_cholesky_ = p.prec_chol.astype(dtype)
        self.precisions_ = precisions_from_chol(p.prec_chol, self.covariance_type).astype(dtype)

    # ------------------------------------------------------------------ model selection, export
    def _n_parameters(self) -> int:
        k, d = self.means_.shape
        cov = {"full": k * d * (d + 1) / 2, "diag": k * d, "tied": d * (d + 1) / 2, "spherical": k}
        return int(cov[self.covariance_type] + k * d + k - 1)

    def to_onnx(self, path: Any = None, opset: int = 13) -> Any:
        """The fitted model as an ``onnx.ModelProto`` with input ``X`` (n, d) and outputs
        ``probabilities`` (predict_proba) and ``log_likelihood`` (score_samples), in the
        fitted dtype; written to ``path`` when given. Needs ``scalegen[onnx]``."""
        from ._onnx import mixture_to_onnx

        check_is_fitted(self, "means_")
        return mixture_to_onnx(self, np.log(np.asarray(self.weights_, dtype=np.float64)), path, opset)

    def bic(self, X: Any) -> float:
        """Bayesian information criterion of the model on X (lower is better)."""
        scores = self.score_samples(X)
        n = scores.shape[0]
        return -2 * weighted_mean(scores, None) * n + self._n_parameters() * np.log(n)

    def aic(self, X: Any) -> float:
        """Akaike information criterion of the model on X (lower is better)."""
        scores = self.score_samples(X)
        return -2 * weighted_mean(scores, None) * scores.shape[0] + 2 * self._n_parameters()


def _covariances_from_chol(prec_chol: np.ndarray, covariance_type: str) -> np.ndarray:
    precisions = precisions_from_chol(prec_chol, covariance_type)
    if covariance_type in ("full", "tied"):
        return np.linalg.inv(precisions)
    return 1.0 / precisions
