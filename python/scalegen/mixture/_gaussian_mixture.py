"""GaussianMixture: scikit-learn's estimator, fitted by a fused OpenMP E-step + M-step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _core
from ..utils._validation import check_is_fitted
from ._base import BaseMixture, precisions_from_chol
from ._checks import COVARIANCE_TYPES, INIT_PARAMS, check_parameters, checked_inits, weighted_mean
from ._private import PRIVATE_ATTRIBUTES, check_private_parameters, fit_private

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

    It takes scikit-learn's parameters and has its methods and fitted attributes; on top,
    ``n_jobs`` and the streaming parameters below, ``sample_weight`` (a row of weight w
    counts as w copies of it) and ``initial_responsibilities`` in ``fit``, stepwise
    ``partial_fit`` and ``to_onnx``. Each EM iteration is one fused pass of the C++ kernel
    over X: log-densities, responsibilities and float64 sufficient statistics, reduced in
    a fixed order, so the result does not depend on the thread count.

    Data larger than memory: ``fit`` also takes a ``numpy.memmap`` (read in chunks of
    ``chunk_size`` rows, never copied whole) or a function returning a fresh iterable of
    chunks at every call (arrays or DataFrames, or ``(X, sample_weight)`` pairs), read
    once per EM iteration. Those fits start from the parameters the in-memory fit would
    start from on a uniform sample of ``init_size`` rows (all rows when there are not
    more), then run exact EM over all rows: chunks of multiples of
    ``_core.gmm_block_rows`` (2048) rows give the in-memory fit's bits.

    ``partial_fit`` is stepwise (online) EM over a stream of chunks: running statistics
    ``s <- (1 - eta) s + eta s(chunk)``, with ``s(chunk)`` the chunk's per-row statistics
    under the current parameters and ``eta = (t + 1) ** -learning_decay`` at the t-th
    step after the first; each step ends with an M-step. Shuffle the rows first: chunks
    sorted by cluster bias the means (a ``UserWarning`` says so).

    Differential privacy: with ``epsilon`` (and ``delta``, ``data_norm``) the fit is DP-EM
    (Park, Foulds, Chaudhuri & Welling, AISTATS 2017), (epsilon, delta)-differentially
    private for datasets that differ by one row added or removed. Each row is clipped to
    L2 norm ``data_norm`` around the origin (``n_clipped_`` counts them and a warning says
    how many); every iteration releases the counts, sums and sums of squares of the
    responsibilities with Gaussian noise calibrated to their sensitivities (1, ``data_norm``
    and ``data_norm**2``), and the M-step sees only those noisy statistics, projected onto
    valid parameters (counts of at least one row, means in the ball of radius
    ``data_norm``, covariance eigenvalues between the noise's standard deviation on a
    covariance entry and ``data_norm**2``, then ``reg_covar`` added). The budget is
    accounted in zero-concentrated DP: the total rho that (epsilon, delta) allows is split
    equally among the rounds of releases and the three statistics of a round.

    Nothing else looks at the data. The start takes one more round of noisy releases: the
    default 'kmeans' is replaced by a private fit of all rows as one Gaussian, over which
    the k initial means are spread (farthest-point traversal of draws from it; each
    component starts with its covariance); ``init_params='random'`` releases the
    statistics of random responsibilities, ``initial_responsibilities`` those of the
    given ones (which must not come from the data); 'k-means++' and 'random_from_data'
    are refused. ``weights_init``, ``means_init`` and ``precisions_init`` are used as
    given and must not come from the data; with all three, the start spends nothing. Like
    EM from any start, a fit can end in a local optimum (two means in one cluster): means
    known from public sources make good ``means_init``. EM runs exactly
    ``max_iter`` iterations (``tol`` is ignored: stopping when the likelihood settles would
    reveal it), so the noise of every release grows with ``max_iter`` (10 to 30 iterations
    suit most private fits); ``n_init`` must be 1; ``warm_start``, ``partial_fit`` and
    ``sample_weight`` are refused. The exact log-likelihood of the data is not released:
    ``lower_bound_`` is NaN and ``lower_bounds_`` empty, ``converged_`` is False. Centre
    the data on a data-independent point and choose ``data_norm`` from what is known of
    the features, not from the data.

    Parameters
    ----------
    n_components : int, default 1
        Number of Gaussian components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default 'full'
        Shape of the covariances, as in scikit-learn.
    tol : float, default 1e-3
        EM stops when the mean log-likelihood changes by less than this.
    reg_covar : float, default 1e-6
        Added to the diagonal of every covariance.
    max_iter : int, default 100
        EM iterations per initialization.
    n_init : int, default 1
        Initializations; the one with the best lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default 'kmeans'
        How the initial responsibilities are drawn.
    weights_init, means_init, precisions_init : array-like, optional
        Initial parameters given by the user, in scikit-learn's shapes.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        Seed of the initialization and of ``sample``; a Generator is accepted too. With
        ``epsilon`` it also seeds the noise, which makes the fit reproducible and NOT private
        (for tests; a ``UserWarning`` says so): a private fit needs None, which draws the
        noise from a cryptographically seeded ``scalegen.privacy.NoiseSource``.
    warm_start : bool, default False
        Start a new ``fit`` from the last fitted parameters (then ``n_init`` is ignored).
    verbose, verbose_interval : int, default 0 and 10
        Progress messages, as in scikit-learn (a tqdm bar when tqdm is installed).
    n_jobs : int or None, default None
        Threads of the C++ kernels: None uses ``scalegen.get_num_threads()``, -1 all the
        cores this process may use, -2 all but one; more than the cores available is
        reduced to that number with a warning, and 0 is an error.
    chunk_size : int or None, default None
        Rows read at a time when ``X`` is a ``numpy.memmap``; None reads about 64 MiB of
        float64 rows, a multiple of 2048 rows. In-memory arrays and chunk functions
        ignore it.
    init_size : int or None, default None
        Rows sampled (uniformly, in one pass) to initialize a fit on a memmap, a chunk
        function or a Dask array; None takes ``max(10 * n_components, min(100_000, r))``
        with ``r`` the rows of 64 MiB of float64. In-memory fits initialize from all rows.
    learning_decay : float in (0.5, 1], default 0.7
        Step exponent of ``partial_fit``: 1 weighs every chunk equally, smaller values
        forget old chunks faster.
    epsilon : float > 0 or None, default None
        Privacy budget of a differentially private fit (see above); None fits ordinary EM,
        and then ``delta`` and ``data_norm`` must be None too.
    delta : float in (0, 1) or None, default None
        The delta of the (epsilon, delta) guarantee, required with ``epsilon`` (the
        Gaussian mechanism has none with delta = 0); take it well below 1 / n_samples.
    data_norm : float > 0 or None, default None
        The L2 norm rows are clipped to, required with ``epsilon``; it sets the noise of the
        sums (proportional to it) and of the squares (to its square).

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : numpy.ndarray
        Fitted parameters, in scikit-learn's shapes and in the dtype of X (float32 data
        gives float32 parameters; the statistics are summed in float64).
    converged_ : bool
        Whether the best initialization converged (False after ``partial_fit``).
    n_iter_ : int
        EM iterations of the best initialization.
    lower_bound_ : float
        Mean log-likelihood per row computed by the last E-step of the best initialization
        (after ``partial_fit``: of the last chunk).
    lower_bounds_ : list of float
        The lower bound of every iteration of the best initialization.
    n_features_in_ : int
        Number of columns of X; ``feature_names_in_`` holds their names when X is a
        DataFrame with string column names.
    privacy_spent_ : tuple of (float, float)
        The (epsilon, delta) a private fit spent, from its ``PrivacyAccountant``; at most
        (``epsilon``, ``delta``).
    n_clipped_ : int
        Rows a private fit clipped to ``data_norm``: an exact count for whoever runs the
        fit (as is the warning), not part of the private release; leave it out of what is
        published with the model.
    rho_per_release_, noise_scales_ : dict of str to float
        The zCDP rho of each release of a private fit and the standard deviation of its
        noise, for the keys 'counts', 'sums' and 'squares' (the same at every round).
    n_releases_ : int
        The noisy releases a private fit made (three per round).

    See Also
    --------
    BayesianGaussianMixture : the variational version, which can switch components off.
    scalegen.distributed.DaskGaussianMixture : the same fit on a ``dask.array``.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen import GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(-3, 1, (200, 2)), rng.normal(3, 1, (100, 2))])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> sorted(gm.weights_.round(2).tolist())
    [0.33, 0.67]
    >>> gm.means_[np.argsort(gm.means_[:, 0])].round()
    array([[-3., -3.],
           [ 3.,  3.]])
    >>> gm.predict(X).shape, gm.converged_
    ((300,), True)
    >>> samples, labels = gm.sample(5)
    >>> samples.shape
    (5, 2)

    A differentially private fit (DP-EM; the noise is private, so the parameters differ
    from run to run):

    >>> Z = np.vstack([rng.normal(-3, 1, (10_000, 2)), rng.normal(3, 1, (10_000, 2))])
    >>> dp = GaussianMixture(2, epsilon=1.0, delta=1e-5, data_norm=10.0, max_iter=20).fit(Z)
    >>> eps, delta = dp.privacy_spent_
    >>> bool(eps <= 1.0 and delta <= 1e-5), dp.n_clipped_, dp.n_releases_
    (True, 0, 63)
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
        epsilon: float | None = None,
        delta: float | None = None,
        data_norm: float | None = None,
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
        self.epsilon = epsilon
        self.delta = delta
        self.data_norm = data_norm

    # ------------------------------------------------------------------ the mixture's hooks
    def _check_parameters(self) -> None:
        check_parameters(self)
        check_private_parameters(self)

    def _prepare(self, rows: Any, n_threads: int) -> None:
        assert rows.n_features is not None
        self._inits = checked_inits(self, rows.n_features)
        for name in PRIVATE_ATTRIBUTES:  # a previous private fit's
            self.__dict__.pop(name, None)

    def _fit_private(self, rows: Any, resp: np.ndarray | None, n_threads: int) -> None:
        fit_private(self, rows, resp, n_threads, self._private_state)

    def _private_state(
        self,
        weights: np.ndarray,
        means: np.ndarray,
        covariances: np.ndarray,
        prec_chol: np.ndarray,
        start: bool,
    ) -> _Params:
        """A state from DP-EM's arrays; at the start, weights_init, means_init and
        precisions_init replace what they give."""
        if start:
            weights_init, means_init, precisions_init = self._inits
            weights = weights if weights_init is None else weights_init
            means = means if means_init is None else means_init.reshape(means.shape)
            if precisions_init is not None:
                prec_chol = _prec_chol_from_precisions(precisions_init, self.covariance_type)
                covariances = _covariances_from_chol(prec_chol, self.covariance_type)
        return _Params(weights, means, covariances, prec_chol)

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
