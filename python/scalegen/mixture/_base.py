"""What GaussianMixture and BayesianGaussianMixture share, as scikit-learn's BaseMixture
serves both: validation of X, the row sources (arrays, memmaps, chunk functions), the
initial responsibilities, the EM loop with n_init, warm start, convergence and divergence,
stepwise partial_fit, and everything a fitted mixture answers from the C++ kernel.

A subclass says what its parameters are (a state object), how an M-step turns E-step
statistics into a new state, what its lower bound is, and which log-weights, means and
precision factors the kernel scores rows with."""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from .. import _core
from .._config import resolve_n_jobs
from ..utils._base import BaseEstimator, ConvergenceWarning, compatible
from ..utils._validation import (
    check_array,
    check_int,
    check_is_fitted,
    check_random_state,
    check_sample_weight,
    feature_names,
)
from . import _sources
from ._checks import scaled_weights, weighted_mean
from ._private import is_private, refuse_stepwise


class BaseMixture(BaseEstimator):
    """The shared machinery; see the module docstring for what subclasses provide."""

    _entropy = False  # whether E-steps accumulate sum r log r (variational bounds need it)

    # parameters every mixture has (set by the subclasses' __init__)
    n_components: int
    covariance_type: str
    tol: float
    reg_covar: float
    max_iter: int
    n_init: int
    init_params: str
    random_state: Any
    warm_start: bool
    verbose: int
    verbose_interval: int
    n_jobs: int | None
    chunk_size: int | None
    init_size: int | None
    learning_decay: float
    # fitted
    weights_: np.ndarray
    means_: np.ndarray
    covariances_: np.ndarray
    precisions_cholesky_: np.ndarray

    # ------------------------------------------------------------------ subclass hooks
    def _check_parameters(self) -> None:
        raise NotImplementedError

    def _prepare(self, rows: _sources.Rows, n_threads: int) -> None:
        """Anything fixed for the whole fit that depends on the data (priors)."""

    def _state_from_init_stats(self, stats: Any, dtype: np.dtype, d: int) -> Any:
        """The starting state from the statistics of the initial responsibilities."""
        raise NotImplementedError

    def _initial_state(self, rows: _sources.Rows, rng: np.random.Generator, n_threads: int) -> Any:
        """The starting state of one initialization from init_params."""
        d = rows.n_features
        assert d is not None
        X, sw = rows.init_sample(self._init_size(d), rng)
        if X.shape[0] < self.n_components:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = {self.n_components}, "
                f"n_samples = {X.shape[0]}"
            )
        return self._state_from_init_stats(self._init_stats(X, sw, rng, n_threads), X.dtype, d)

    def _m_step(self, stats: Any, dtype: np.dtype) -> Any:
        raise NotImplementedError

    def _lower_bound(self, stats: Any, new_state: Any) -> float:
        """The bound an iteration reports from its E-step statistics and the state its
        M-step made of them (None when that M-step failed)."""
        raise NotImplementedError

    def _kernel_args(self, state: Any) -> dict[str, Any]:
        """weights= or log_weights=, means= and prec_chol= the C++ kernel scores rows with."""
        raise NotImplementedError

    def _fitted_state(self) -> Any:
        raise NotImplementedError

    def _fit_private(self, rows: _sources.Rows, resp: np.ndarray | None, n_threads: int) -> None:
        """Differentially private EM (for the mixtures with an ``epsilon`` parameter)."""
        raise NotImplementedError

    def _set_state(self, state: Any, dtype: np.dtype) -> None:
        raise NotImplementedError

    def _weights(self, sample_weight: Any, n: int) -> np.ndarray | None:
        """Checked sample weights; EM does not depend on their scale, so weights near the
        ends of float64 are rescaled (a variational fit, whose priors weigh against the
        total weight, overrides this)."""
        return scaled_weights(check_sample_weight(sample_weight, n))

    def _stream_scale(self, seen: float) -> float:
        """The factor per-row running statistics are scaled by before partial_fit's M-step,
        given the total weight of the rows seen so far."""
        return 1.0

    # ------------------------------------------------------------------ input
    def _init_size(self, d: int) -> int:
        return self.init_size or _sources.default_init_size(self.n_components, d)

    def _validate_X(self, X: Any, *, reset: bool) -> np.ndarray:
        names = feature_names(X)
        owner = type(self).__name__
        arr = check_array(X, "X", owner, min_samples=2 if reset else 1)
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
                    f"X has {arr.shape[1]} features, but {owner} is expecting {self.n_features_in_} "
                    "features as input."
                )
        return arr

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
        return _sources.InMemoryRows(Xc, self._weights(sample_weight, Xc.shape[0]))

    def _set_features(self, rows: _sources.Rows) -> None:
        assert rows.n_features is not None
        self.n_features_in_ = rows.n_features
        if rows.names is not None:
            self.feature_names_in_ = rows.names
        elif hasattr(self, "feature_names_in_") and not isinstance(rows, _sources.InMemoryRows):
            del self.feature_names_in_

    # ------------------------------------------------------------------ initialization
    def _init_stats(
        self, X: np.ndarray, sw: np.ndarray | None, rng: np.random.Generator, n_threads: int
    ) -> Any:
        """Statistics (around their means) of the responsibilities init_params gives:
        scikit-learn's _initialize_parameters."""
        k, n = self.n_components, X.shape[0]
        cov = self.covariance_type
        seed = int(rng.integers(2**63 - 1))
        if self.init_params == "random":
            resp = rng.uniform(size=(n, k))
            resp /= resp.sum(axis=1, keepdims=True)
            return self._resp_stats(X, sw, resp, n_threads)
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

        return _around_means(stats_at, X[0], k, X.dtype)

    def _resp_stats(self, X: np.ndarray, sw: np.ndarray | None, resp: np.ndarray, n_threads: int) -> Any:
        cov = self.covariance_type

        def stats_at(shift: np.ndarray) -> Any:
            return _core.gmm_resp_stats(X, resp, sw, cov, shift, n_threads)

        return _around_means(stats_at, X[0], resp.shape[1], X.dtype)

    def _checked_resp(self, resp: Any, rows: _sources.Rows) -> np.ndarray:
        if not isinstance(rows, _sources.InMemoryRows):
            raise ValueError("initial_responsibilities need the rows in memory (one per row of X)")
        given = np.asarray(resp)
        if given.dtype.kind not in "fiub":
            raise ValueError(f"initial_responsibilities must be real numbers, got dtype {given.dtype}")
        R = np.ascontiguousarray(given, dtype=np.float64)
        shape = (rows.n_rows, self.n_components)
        if R.shape != shape:
            raise ValueError(f"initial_responsibilities must have shape {shape}, got {R.shape}")
        # NaN and infinity fail the sum test too
        if not R.min() >= 0 or not (np.abs(R.sum(axis=1) - 1.0) <= 1e-6).all():
            raise ValueError("initial_responsibilities must be non-negative with rows summing to 1")
        return R

    # ------------------------------------------------------------------ fitting
    def fit(
        self, X: Any, y: Any = None, sample_weight: Any = None, initial_responsibilities: Any = None
    ) -> Any:
        """Estimate the parameters (n_init starts, the best lower bound kept).
        ``initial_responsibilities`` (n_samples x n_components, rows summing to 1) replaces
        init_params: scikit-learn's ``_initialize(X, resp)`` with that resp."""
        self._fit(X, sample_weight, initial_responsibilities)
        return self

    def fit_predict(
        self, X: Any, y: Any = None, sample_weight: Any = None, initial_responsibilities: Any = None
    ) -> np.ndarray:
        """Fit, then the most probable component of each row of X (of all chunks, in order)."""
        rows = self._fit(X, sample_weight, initial_responsibilities)
        return np.concatenate([self._log_resp(Xc).argmax(axis=1) for Xc, _ in rows.chunks()])

    def _fit(self, X: Any, sample_weight: Any, initial_responsibilities: Any = None) -> _sources.Rows:
        self._check_parameters()
        rows = self._rows(X, sample_weight)
        if rows.n_features is None:  # a chunked source: its first chunk says
            next(iter(rows.chunks()), None)
            if rows.n_features is None:
                raise ValueError("the chunks hold no rows")
        self._set_features(rows)
        n_threads = resolve_n_jobs(self.n_jobs)
        resp = (
            None if initial_responsibilities is None else self._checked_resp(initial_responsibilities, rows)
        )
        self._prepare(rows, n_threads)
        if is_private(self):  # DP-EM: its own loop on noisy statistics (_private.py)
            self._fit_private(rows, resp, n_threads)
            return rows
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        rng = check_random_state(self.random_state)

        best: tuple[float, Any, int, list[float], bool] | None = None
        for init in range(n_init):
            if self.verbose:
                print(f"Initialization {init}")
            if not do_init:
                state, lower_bound = self._fitted_state(), float(self.lower_bound_)
            elif resp is not None:
                X0, sw0 = rows.init_sample(rows.n_rows or 0, rng)
                state = self._state_from_init_stats(
                    self._resp_stats(X0, sw0, resp, n_threads), X0.dtype, X0.shape[1]
                )
                lower_bound = -np.inf
            else:
                state, lower_bound = self._initial_state(rows, rng, n_threads), -np.inf
            state, lower_bound, n_iter, bounds, converged = self._iterate(
                rows, state, lower_bound, init, n_threads
            )
            if best is None or lower_bound > best[0]:
                best = (lower_bound, state, n_iter, bounds, converged)
        assert best is not None
        lower_bound, state, n_iter, bounds, converged = best
        if not converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                compatible(ConvergenceWarning),
                stacklevel=4,
            )
        self._set_state(state, rows.dtype)
        self.converged_ = converged
        self.n_iter_ = n_iter
        self.lower_bound_: float = lower_bound
        self.lower_bounds_ = bounds
        self._stepwise: tuple[Any, int, float] | None = None  # partial_fit's running statistics
        return rows

    def _iterate(
        self, rows: _sources.Rows, state: Any, lower_bound: float, init: int, n_threads: int
    ) -> tuple[Any, float, int, list[float], bool]:
        """EM (or variational) iterations from state until the bound changes by less than tol."""
        bounds: list[float] = []
        converged = False
        n_iter = 0
        progress = _Progress(self.verbose, self.verbose_interval, self.max_iter)
        for n_iter in range(1, self.max_iter + 1):
            prev = lower_bound
            stats = self._e_step(rows, state, n_threads)
            new_state = self._guarded_m_step(stats, rows.dtype)
            lower_bound = self._lower_bound(stats, new_state)
            if not np.isfinite(lower_bound):
                raise ValueError(
                    "The log-likelihood is not finite: the data may be too far from the "
                    "initial components; scale the input data or increase reg_covar."
                )
            bounds.append(lower_bound)
            if new_state is None:  # keep state, the last parameters with a defined likelihood
                warnings.warn(
                    f"EM stopped at iteration {n_iter} of initialization {init}: its M-step "
                    "gave a component an ill-defined covariance (collapsed onto a point), so "
                    "the previous iteration's parameters are kept. Increase reg_covar or try "
                    "other initial parameters.",
                    compatible(ConvergenceWarning),
                    stacklevel=4,
                )
                break
            state = new_state
            change = lower_bound - prev
            progress.update(n_iter, lower_bound, change)
            if abs(change) < self.tol:
                converged = True
                break
        progress.close(converged, lower_bound)
        return state, lower_bound, n_iter, bounds, converged

    def _e_step(self, rows: _sources.Rows, state: Any, n_threads: int) -> Any:
        stats = rows.e_step(self.covariance_type, self._kernel_args(state), n_threads, self._entropy)
        if not stats.sum_weight > 0:
            raise ValueError("sample_weight sums to zero: at least one sample must have a positive weight")
        return stats

    def _guarded_m_step(self, stats: Any, dtype: np.dtype) -> Any:
        """The M-step's state, or None when it left a covariance ill-defined (a divergent
        start collapsing a component onto a point)."""
        try:
            return self._m_step(stats, dtype)
        except ValueError as e:
            if not str(e).startswith(ILL_DEFINED):
                raise
            return None

    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> Any:
        """One step of stepwise EM on the chunk X (see the class docstring); the first call
        initialises from X as ``fit`` would, unless the model is already fitted."""
        self._check_parameters()
        refuse_stepwise(self)
        state = getattr(self, "_stepwise", None)
        fitted = hasattr(self, "means_")
        Xc = self._validate_X(X, reset=not fitted)
        rows = _sources.InMemoryRows(Xc, self._weights(sample_weight, Xc.shape[0]))
        n_threads = resolve_n_jobs(self.n_jobs)
        if fitted:
            current = self._fitted_state()
        else:
            self._prepare(rows, n_threads)
            current = self._initial_state(rows, check_random_state(self.random_state), n_threads)
        stats = self._e_step(rows, current, n_threads)
        lower_bound = stats.log_likelihood / stats.sum_weight
        weight = stats.sum_weight
        stats.scale(1.0 / weight)  # per-row statistics: chunks of any size weigh alike
        if state is None:
            running, step, seen = stats, 0, weight
        else:
            running, step, seen = state
            self._check_exchangeable(stats.nk, running.nk, Xc.shape[0])
            step += 1
            seen += weight
            eta = (step + 1.0) ** -float(self.learning_decay)
            running = running.shifted(self._kernel_args(current)["means"])
            running.scale(1.0 - eta)
            stats.scale(eta)
            running += stats
        self._stepwise = (running, step, seen)
        scaled = running.copy()
        scaled.scale(self._stream_scale(seen))
        self._set_state(self._m_step(scaled, Xc.dtype), Xc.dtype)
        bounds = self.lower_bounds_ if fitted else []
        self.converged_ = False
        self.n_iter_ = len(bounds) + 1
        self.lower_bound_ = lower_bound
        self.lower_bounds_ = [*bounds, lower_bound]
        return self

    def _check_exchangeable(self, chunk_nk: np.ndarray, running_nk: np.ndarray, n_rows: int) -> None:
        """Warns (once per model) when a chunk's mixing proportions differ from the running
        ones by far more than sampling explains: chunks in sorted order (all of one cluster,
        then the next) leave stepwise EM with biased means."""
        p = chunk_nk / chunk_nk.sum()
        q = running_nk / running_nk.sum()
        distance = 0.5 * float(np.abs(p - q).sum())  # total variation; ~sqrt(k / n) by chance
        if getattr(self, "_order_warned", False) or distance <= 0.2 + 3.0 * np.sqrt(len(p) / n_rows):
            return
        self._order_warned = True
        warnings.warn(
            f"partial_fit: this chunk's mixing proportions are {distance:.2f} (total variation) from "
            f"those of the chunks before it, far beyond chance for {n_rows} rows. Stepwise EM assumes "
            "exchangeable chunks; chunks in sorted order end with biased means. Shuffle the rows, or "
            "fit on the stream instead.",
            UserWarning,
            stacklevel=3,
        )

    # ------------------------------------------------------------------ metadata routing
    def set_fit_request(self, *, sample_weight: bool | str | None = None) -> Any:
        """scikit-learn's metadata routing: whether a meta-estimator (GridSearchCV, a
        Pipeline) passes ``sample_weight`` on to ``fit`` (True, False, None or an alias)."""
        self.get_metadata_routing().fit.add_request(param="sample_weight", alias=sample_weight)
        return self

    def set_score_request(self, *, sample_weight: bool | str | None = None) -> Any:
        """As ``set_fit_request``, for ``score``."""
        self.get_metadata_routing().score.add_request(param="sample_weight", alias=sample_weight)
        return self

    def get_metadata_routing(self) -> Any:
        """The requests set above, as scikit-learn's ``MetadataRequest`` (kept where
        scikit-learn's ``clone`` copies it). Only scikit-learn's routing asks for it, so
        scikit-learn is imported here."""
        request = getattr(self, "_metadata_request", None)
        if request is None:
            from sklearn.utils.metadata_routing import MetadataRequest

            request = MetadataRequest(owner=type(self).__name__)
            for method in ("fit", "score"):
                getattr(request, method).add_request(param="sample_weight", alias=None)
            self._metadata_request = request
        return request

    # ------------------------------------------------------------------ inference
    def _log_prob_norm(self, X: np.ndarray, *, with_resp: bool) -> tuple[np.ndarray, np.ndarray | None]:
        args = self._kernel_args(self._fitted_state())
        return _core.gmm_log_prob_norm(
            X,
            self.covariance_type,
            args.get("weights"),
            args["means"],
            args["prec_chol"],
            resolve_n_jobs(self.n_jobs),
            with_resp,
            log_weights=args.get("log_weights"),
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
        n_samples = check_int(n_samples, "n_samples", f"{type(self).__name__}.sample", low=1)
        rng = check_random_state(self.random_state)
        weights = np.asarray(self.weights_, dtype=np.float64)
        means = np.asarray(self.means_, dtype=np.float64)
        covariances = np.asarray(self.covariances_, dtype=np.float64)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        d = means.shape[1]
        parts = []
        for c, m in enumerate(counts):
            z = rng.standard_normal((m, d))
            if self.covariance_type == "full":
                z = z @ np.linalg.cholesky(covariances[c]).T
            elif self.covariance_type == "tied":
                z = z @ np.linalg.cholesky(covariances).T
            else:
                z = z * np.sqrt(covariances[c])
            parts.append(means[c] + z)
        labels = np.repeat(np.arange(self.n_components), counts)
        return np.vstack(parts), labels


# The start of the C++ M-step's message when a covariance is not positive definite.
ILL_DEFINED = "Fitting the mixture model failed because some components have ill-defined"


def _around_means(stats_at: Any, origin: np.ndarray, k: int, dtype: np.dtype) -> Any:
    """One pass around a row of the data (never far from the rest, so the second moments
    do not cancel), then the same statistics around the means they give."""
    first = stats_at(np.tile(np.asarray(origin, dtype=np.float64), (k, 1)))
    return first.shifted(first.shift + first.s1 / (first.nk + 10 * np.finfo(dtype).eps)[:, None])


def precisions_from_chol(prec_chol: np.ndarray, covariance_type: str) -> np.ndarray:
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", prec_chol, prec_chol)
    if covariance_type == "tied":
        return prec_chol @ prec_chol.T
    return prec_chol**2


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
