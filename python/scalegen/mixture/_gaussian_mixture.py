"""GaussianMixture: scikit-learn's estimator, fitted by a fused OpenMP E-step + M-step."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np

from .. import _core
from .._config import resolve_n_jobs
from ..utils._base import BaseEstimator, ConvergenceWarning, compatible
from ..utils._validation import (
    check_array,
    check_is_fitted,
    check_random_state,
    check_sample_weight,
    feature_names,
)
from . import _sources
from ._gmm_checks import (
    COVARIANCE_TYPES,
    INIT_PARAMS,
    check_parameters,
    checked_inits,
    is_ill_defined,
    scaled_weights,
    weighted_mean,
)

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


def _precisions_from_chol(prec_chol: np.ndarray, covariance_type: str) -> np.ndarray:
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", prec_chol, prec_chol)
    if covariance_type == "tied":
        return prec_chol @ prec_chol.T
    return prec_chol**2


class GaussianMixture(BaseEstimator):
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

    # ------------------------------------------------------------------ validation
    def _check_parameters(self) -> None:
        check_parameters(self)

    def _checked_inits(self, d: int) -> tuple[np.ndarray | None, ...]:
        """Validated float64 copies of weights_init, means_init and precisions_init."""
        return checked_inits(self, d)

    def _validate_X(self, X: Any, *, reset: bool) -> np.ndarray:
        names = feature_names(X)
        arr = check_array(X, "X", "GaussianMixture", min_samples=2 if reset else 1)
        if reset:
            self.n_features_in_ = arr.shape[1]
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            check_is_fitted(self, "means_")
            if arr.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {arr.shape[1]} features, but GaussianMixture is expecting "
                    f"{self.n_features_in_} features as input."
                )
        return arr

    # ------------------------------------------------------------------ kernels
    def _em_step(self, rows: _sources.Rows, p: _Params, n_threads: int) -> tuple[_Params | None, float]:
        """One E-step over all rows + M-step: the new parameters and the lower bound of p;
        None for the parameters when the M-step left a component's covariance ill-defined
        (a divergent start collapsing onto a point)."""
        stats = rows.e_step(self.covariance_type, p, n_threads)
        if not stats.sum_weight > 0:
            raise ValueError("sample_weight sums to zero: at least one sample must have a positive weight")
        lower_bound = stats.log_likelihood / stats.sum_weight
        try:
            return self._m_step(stats, rows.dtype), lower_bound
        except ValueError as e:
            if not is_ill_defined(e):
                raise
            return None, lower_bound

    def _m_step(self, stats: Any, dtype: np.dtype) -> _Params:
        eps = 10 * np.finfo(dtype).eps  # scikit-learn's guard on empty components
        weights, means, covariances, prec_chol = _core.gmm_m_step(stats, float(self.reg_covar), float(eps))
        if self.covariance_type == "tied":
            covariances = covariances.T  # symmetric, returned in column-major order
        return _Params(weights, means, covariances, prec_chol)

    def _initial_params(
        self, rows: _sources.Rows, rng: np.random.Generator, inits: tuple, n_threads: int
    ) -> _Params:
        weights_init, means_init, precisions_init = inits
        k, d = self.n_components, rows.n_features
        assert d is not None
        p: _Params | None = None
        if weights_init is None or means_init is None or precisions_init is None:
            size = self.init_size or _sources.default_init_size(k, d)
            X, sw = rows.init_sample(size, rng)
            if X.shape[0] < k:
                raise ValueError(
                    f"Expected n_samples >= n_components but got n_components = {k}, n_samples = {X.shape[0]}"
                )
            p = self._params_from_data(X, sw, rng, n_threads)
        weights = weights_init if weights_init is not None else p.weights  # type: ignore[union-attr]
        means = means_init if means_init is not None else p.means  # type: ignore[union-attr]
        if precisions_init is not None:
            covariances = None
            prec_chol = _prec_chol_from_precisions(precisions_init, self.covariance_type)
        else:
            covariances, prec_chol = p.covariances, p.prec_chol  # type: ignore[union-attr]
        return _Params(weights, means.reshape(k, d), covariances, prec_chol)

    def _params_from_data(
        self, X: np.ndarray, sw: np.ndarray | None, rng: np.random.Generator, n_threads: int
    ) -> _Params:
        """Parameters from the responsibilities init_params gives (scikit-learn's _initialize)."""
        k, (n, d) = self.n_components, X.shape
        cov = self.covariance_type
        zero_shift = np.zeros((k, d))
        seed = int(rng.integers(2**63 - 1))
        if self.init_params == "random":
            resp = rng.uniform(size=(n, k))
            resp /= resp.sum(axis=1, keepdims=True)

            def stats_at(shift: np.ndarray) -> Any:
                return _core.gmm_resp_stats(X, resp, sw, cov, shift, n_threads)
        else:
            labels = np.full(n, -1, dtype=np.int32)
            if self.init_params == "kmeans":
                seeds = np.asarray(_core.kmeans_plusplus(X, sw, k, seed, n_threads))
                _, labels, _, _ = _core.kmeans_lloyd(X, sw, X[seeds].astype(np.float64), 300, 1e-4, n_threads)
            else:
                if self.init_params == "k-means++":
                    idx = np.asarray(_core.kmeans_plusplus(X, sw, k, seed, n_threads))
                else:  # random_from_data
                    idx = rng.choice(n, size=k, replace=False)
                labels[idx] = np.arange(k, dtype=np.int32)

            def stats_at(shift: np.ndarray) -> Any:
                return _core.gmm_label_stats(X, labels, sw, cov, shift, n_threads)

        # Two passes: the first finds the means, the second sums deviations around them.
        around_zero = stats_at(zero_shift)
        means = around_zero.s1 / (around_zero.nk + 10 * np.finfo(X.dtype).eps)[:, None]
        return self._m_step(stats_at(means), X.dtype)

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> GaussianMixture:
        """Estimate the parameters by EM (n_init starts, the best lower bound kept)."""
        self._fit(X, sample_weight)
        return self

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        """Fit, then the most probable component of each row of X (of all chunks, in order)."""
        rows = self._fit(X, sample_weight)
        return np.concatenate([self._log_resp(Xc).argmax(axis=1) for Xc, _ in rows.chunks()])

    def _rows(self, X: Any, sample_weight: Any) -> _sources.Rows:
        """The source of the rows to fit: chunked for memmaps and chunk functions."""
        rows = _sources.rows_of(X, sample_weight, self.chunk_size)
        if rows is not None:
            return rows
        Xc = self._validate_X(X, reset=True)
        if Xc.shape[0] < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {Xc.shape[0]}"
            )
        return _sources.InMemoryRows(Xc, scaled_weights(check_sample_weight(sample_weight, Xc.shape[0])))

    def _set_features(self, rows: _sources.Rows) -> None:
        assert rows.n_features is not None
        self.n_features_in_ = rows.n_features
        if rows.names is not None:
            self.feature_names_in_ = rows.names
        elif hasattr(self, "feature_names_in_") and not isinstance(rows, _sources.InMemoryRows):
            del self.feature_names_in_

    def _fit(self, X: Any, sample_weight: Any) -> _sources.Rows:
        self._check_parameters()
        rows = self._rows(X, sample_weight)
        if rows.n_features is None:  # a chunked source: its first chunk says
            next(iter(rows.chunks()), None)
            if rows.n_features is None:
                raise ValueError("the chunks hold no rows")
        self._set_features(rows)
        inits = self._checked_inits(rows.n_features)
        n_threads = resolve_n_jobs(self.n_jobs)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        rng = check_random_state(self.random_state)

        best: tuple[float, _Params, int, list[float], bool] | None = None
        for init in range(n_init):
            if self.verbose:
                print(f"Initialization {init}")
            if do_init:
                p = self._initial_params(rows, rng, inits, n_threads)
                lower_bound = -np.inf
            else:
                p = self._fitted_params()
                lower_bound = float(self.lower_bound_)
            bounds: list[float] = []
            converged = False
            n_iter = 0
            progress = _Progress(self.verbose, self.verbose_interval, self.max_iter)
            for n_iter in range(1, self.max_iter + 1):
                prev = lower_bound
                new_p, lower_bound = self._em_step(rows, p, n_threads)
                if not np.isfinite(lower_bound):
                    raise ValueError(
                        "The log-likelihood is not finite: the data may be too far from the "
                        "initial components; scale the input data or increase reg_covar."
                    )
                bounds.append(lower_bound)
                if new_p is None:  # keep p, the last parameters with a defined likelihood
                    warnings.warn(
                        f"EM stopped at iteration {n_iter} of initialization {init}: its M-step "
                        "gave a component an ill-defined covariance (collapsed onto a point), so "
                        "the previous iteration's parameters are kept. Increase reg_covar or try "
                        "other initial parameters.",
                        compatible(ConvergenceWarning),
                        stacklevel=3,
                    )
                    break
                p = new_p
                change = lower_bound - prev
                progress.update(n_iter, lower_bound, change)
                if abs(change) < self.tol:
                    converged = True
                    break
            progress.close(converged, lower_bound)
            if best is None or lower_bound > best[0]:
                best = (lower_bound, p, n_iter, bounds, converged)
        assert best is not None
        lower_bound, p, n_iter, bounds, converged = best
        if not converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                compatible(ConvergenceWarning),
                stacklevel=3,
            )
        self._set_params_(p, rows.dtype)
        self.converged_ = converged
        self.n_iter_ = n_iter
        self.lower_bound_: float = lower_bound
        self.lower_bounds_ = bounds
        self._stepwise: tuple[Any, int] | None = None  # partial_fit's running statistics, step
        return rows

    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> GaussianMixture:
        """One step of stepwise EM on the chunk X (see the class docstring); the first call
        initialises from X as ``fit`` would, unless the model is already fitted."""
        self._check_parameters()
        state = getattr(self, "_stepwise", None)
        fitted = hasattr(self, "means_")
        Xc = self._validate_X(X, reset=not fitted)
        rows = _sources.InMemoryRows(Xc, scaled_weights(check_sample_weight(sample_weight, Xc.shape[0])))
        n_threads = resolve_n_jobs(self.n_jobs)
        if fitted:
            p = self._fitted_params()
        else:
            rng = check_random_state(self.random_state)
            p = self._initial_params(rows, rng, self._checked_inits(Xc.shape[1]), n_threads)
        stats = rows.e_step(self.covariance_type, p, n_threads)
        if not stats.sum_weight > 0:
            raise ValueError("sample_weight sums to zero: at least one sample must have a positive weight")
        lower_bound = stats.log_likelihood / stats.sum_weight
        stats.scale(1.0 / stats.sum_weight)  # per-row statistics: chunks of any size weigh alike
        if state is None:
            running, step = stats, 0
        else:
            running, step = state
            step += 1
            eta = (step + 1.0) ** -float(self.learning_decay)
            running = running.shifted(p.means)
            running.scale(1.0 - eta)
            stats.scale(eta)
            running += stats
        self._stepwise = (running, step)
        self._set_params_(self._m_step(running, Xc.dtype), Xc.dtype)
        bounds = self.lower_bounds_ if fitted else []
        self.converged_ = False
        self.n_iter_ = len(bounds) + 1
        self.lower_bound_ = lower_bound
        self.lower_bounds_ = [*bounds, lower_bound]
        return self

    def _fitted_params(self) -> _Params:
        return _Params(
            np.asarray(self.weights_, dtype=np.float64),
            np.asarray(self.means_, dtype=np.float64),
            np.asarray(self.covariances_, dtype=np.float64),
            np.asarray(self.precisions_cholesky_, dtype=np.float64),
        )

    def _set_params_(self, p: _Params, dtype: np.dtype) -> None:
        covariances = p.covariances
        if covariances is None:  # only with max_iter=0 and precisions_init
            covariances = _covariances_from_chol(p.prec_chol, self.covariance_type)
        self.weights_ = p.weights.astype(dtype)
        self.means_ = p.means.astype(dtype)
        self.covariances_ = covariances.astype(dtype)
        self.precisions_cholesky_ = p.prec_chol.astype(dtype)
        self.precisions_ = _precisions_from_chol(p.prec_chol, self.covariance_type).astype(dtype)

    # ------------------------------------------------------------------ inference
    def _log_prob_norm(self, X: np.ndarray, *, with_resp: bool) -> tuple[np.ndarray, np.ndarray | None]:
        p = self._fitted_params()
        n_threads = resolve_n_jobs(self.n_jobs)
        return _core.gmm_log_prob_norm(
            X, self.covariance_type, p.weights, p.means, p.prec_chol, n_threads, with_resp
        )

    def _log_resp(self, X: np.ndarray) -> np.ndarray:
        log_resp = self._log_prob_norm(X, with_resp=True)[1]
        assert log_resp is not None
        return log_resp

    def score_samples(self, X: Any) -> np.ndarray:
        """Log-likelihood log p(x) of each row of X."""
        Xc = self._validate_X(X, reset=False)
        return self._log_prob_norm(Xc, with_resp=False)[0]

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Mean (weighted, with sample_weight) log-likelihood of the rows of X."""
        scores = self.score_samples(X)
        return weighted_mean(scores, check_sample_weight(sample_weight, scores.shape[0]))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior probability of each component for each row of X."""
        Xc = self._validate_X(X, reset=False)
        log_resp = self._log_resp(Xc)
        return np.exp(log_resp, out=log_resp)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable component of each row of X."""
        Xc = self._validate_X(X, reset=False)
        return self._log_resp(Xc).argmax(axis=1)

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw n_samples rows (float64) and their component labels."""
        check_is_fitted(self, "means_")
        if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples!r}. The sampling requires at least one sample."
            )
        rng = check_random_state(self.random_state)
        p = self._fitted_params()
        weights = p.weights / p.weights.sum()
        counts = rng.multinomial(n_samples, weights)
        d = p.means.shape[1]
        parts = []
        for c, m in enumerate(counts):
            z = rng.standard_normal((m, d))
            if self.covariance_type == "full":
                z = z @ np.linalg.cholesky(p.covariances[c]).T
            elif self.covariance_type == "tied":
                z = z @ np.linalg.cholesky(p.covariances).T
            else:
                z = z * np.sqrt(p.covariances[c])
            parts.append(p.means[c] + z)
        labels = np.repeat(np.arange(self.n_components), counts)
        return np.vstack(parts), labels

    def _n_parameters(self) -> int:
        k, d = self.means_.shape
        cov = {"full": k * d * (d + 1) / 2, "diag": k * d, "tied": d * (d + 1) / 2, "spherical": k}
        return int(cov[self.covariance_type] + k * d + k - 1)

    def to_onnx(self, path: Any = None, opset: int = 13) -> Any:
        """The fitted model as an ``onnx.ModelProto`` with input ``X`` (n, d) and outputs
        ``probabilities`` (predict_proba) and ``log_likelihood`` (score_samples), in the
        fitted dtype; written to ``path`` when given. Needs ``scalegen[onnx]``."""
        from ._onnx import gaussian_mixture_to_onnx

        return gaussian_mixture_to_onnx(self, path, opset)

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
    precisions = _precisions_from_chol(prec_chol, covariance_type)
    if covariance_type in ("full", "tied"):
        return np.linalg.inv(precisions)
    return 1.0 / precisions


class _Progress:
    """Iteration progress: scikit-learn's messages, or a tqdm bar when it is installed."""

    def __init__(self, verbose: int, interval: int, max_iter: int) -> None:
        self.verbose, self.interval = verbose, interval
        self.start = self.last = time.perf_counter()
        self.bar = None
        if verbose >= 1 and max_iter > 1:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=max_iter, desc="EM", unit="it", leave=False)
            except ImportError:
                pass

    def update(self, n_iter: int, lower_bound: float, change: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(lower_bound=f"{lower_bound:.5f}", change=f"{change:.2e}")
        elif self.verbose and n_iter % self.interval == 0:
            now = time.perf_counter()
            if self.verbose >= 2:
                print(f"  Iteration {n_iter}\t time lapse {now - self.last:.5f}s\t ll change {change:.5f}")
            else:
                print(f"  Iteration {n_iter}")
            self.last = now

    def close(self, converged: bool, lower_bound: float) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.verbose:
            msg = "converged" if converged else "did not converge"
            elapsed = time.perf_counter() - self.start
            print(f"Initialization {msg}. time lapse {elapsed:.5f}s\t lower bound {lower_bound:.5f}.")
