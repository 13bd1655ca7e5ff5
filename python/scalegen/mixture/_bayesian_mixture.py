"""BayesianGaussianMixture: scikit-learn's variational mixture on the fused C++ E-step."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..utils._validation import check_choice, check_is_fitted, check_sample_weight, check_scalar
from . import _variational as vb
from ._base import BaseMixture, precisions_from_chol
from ._checks import check_parameters, check_positive_definite, real_array

WEIGHT_PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
#: components whose weight exceeds this count in ``n_effective_components_``
EFFECTIVE_WEIGHT = 0.01


class BayesianGaussianMixture(BaseMixture):
    """Variational Bayesian Gaussian mixture, a drop-in for
    ``sklearn.mixture.BayesianGaussianMixture``.

    A Dirichlet-process (stick-breaking) or Dirichlet-distribution prior on the weights
    and Gaussian-Wishart priors on the components, fitted by coordinate ascent on the
    evidence lower bound (ELBO). With more components than the data need, the prior
    drives the weights of the extra ones towards zero.

    It takes scikit-learn's parameters and has its methods and fitted attributes; on top,
    ``n_jobs``, ``chunk_size``, ``init_size`` and ``learning_decay`` (as in
    ``GaussianMixture``), ``sample_weight`` and ``initial_responsibilities`` in ``fit``
    (a row of weight w counts as w copies of it, so the weights' total matters here, unlike
    in EM), ``partial_fit`` (see below), ``to_onnx`` and ``n_effective_components_``, the
    number of components whose weight exceeds ``EFFECTIVE_WEIGHT`` (0.01). Each iteration
    is one fused pass over X in C++ (expected log-densities, responsibilities, their
    entropy and float64 statistics, reduced in a fixed order: the same bits for any
    thread count); the variational updates act on the k x d x d statistics. The data's
    mean and covariance, which the default priors use, are weighted by ``sample_weight``.

    ``fit`` takes memmaps and chunk functions as ``GaussianMixture.fit`` does.
    ``partial_fit`` is stochastic variational inference over a stream of chunks: running
    per-row statistics blended with step ``(t + 1) ** -learning_decay``, scaled to the
    total weight seen so far, then the variational update; its ``lower_bound_`` is the
    chunk's mean log-normaliser (the ELBO needs the whole data).

    There is no ``epsilon``: differentially private fitting (DP-EM) is
    ``GaussianMixture``'s only, since the default priors are computed from the data and
    the variational updates would need their own private release.

    Parameters
    ----------
    n_components : int, default 1
        Upper bound on the number of components; the prior may leave some empty.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default 'full'
        Shape of the covariances, as in scikit-learn.
    tol, reg_covar, max_iter, n_init, init_params
        As for ``GaussianMixture``; the lower bound that ``tol`` watches is the ELBO.
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}
        Prior on the weights; default 'dirichlet_process'.
    weight_concentration_prior : float or None, default None
        Concentration of the weight prior (None: ``1 / n_components``); smaller values
        leave fewer components active.
    mean_precision_prior : float or None, default None
        Precision prior of the means (None: 1).
    mean_prior : array-like of shape (n_features,) or None, default None
        Prior mean of the means (None: the mean of X).
    degrees_of_freedom_prior : float or None, default None
        Degrees of freedom of the Wishart prior, above ``n_features - 1`` (None:
        ``n_features``).
    covariance_prior : float or array-like or None, default None
        Prior covariance, shaped by ``covariance_type`` (None: from the covariance of X).
    random_state, warm_start, verbose, verbose_interval
        As for ``GaussianMixture``.
    n_jobs, chunk_size, init_size, learning_decay
        scalegen's additions, as for ``GaussianMixture``.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : numpy.ndarray
        The components, computed from the posterior as scikit-learn does, in the dtype of X.
    weight_concentration_, mean_precision_, degrees_of_freedom_ : numpy.ndarray
        Parameters of the posterior, as in scikit-learn (``weight_concentration_`` is a
        pair of arrays for the Dirichlet process).
    weight_concentration_prior_, mean_precision_prior_, mean_prior_ : float or numpy.ndarray
        The priors used (with ``degrees_of_freedom_prior_`` and ``covariance_prior_``).
    converged_, n_iter_, lower_bound_, lower_bounds_, n_features_in_
        As in ``GaussianMixture``, with the ELBO as the lower bound.

    Examples
    --------
    Five components offered, two used by the data:

    >>> import numpy as np
    >>> from scalegen import BayesianGaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(-3, 1, (200, 2)), rng.normal(3, 1, (100, 2))])
    >>> bgm = BayesianGaussianMixture(n_components=5, random_state=0).fit(X)
    >>> bgm.n_effective_components_
    2
    >>> np.sort(bgm.weights_)[-2:].round(2)
    array([0.33, 0.67])
    >>> bgm.predict(X).shape
    (300,)
    """

    _entropy = True

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
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size
        self.init_size = init_size
        self.learning_decay = learning_decay

    # ------------------------------------------------------------------ priors
    def _check_parameters(self) -> None:
        check_parameters(self)
        owner = type(self).__name__
        check_choice(
            self.weight_concentration_prior_type, "weight_concentration_prior_type", owner, WEIGHT_PRIOR_TYPES
        )
        for name in ("weight_concentration_prior", "mean_precision_prior"):
            check_scalar(getattr(self, name), name, owner, float, low=0.0, closed="neither", allow_none=True)
        check_scalar(self.degrees_of_freedom_prior, "degrees_of_freedom_prior", owner, float, allow_none=True)

    @property
    def _process(self) -> bool:
        return self.weight_concentration_prior_type == "dirichlet_process"

    def _prepare(self, rows: Any, n_threads: int) -> None:
        """The priors, from the parameters or (where None) from the data's moments."""
        d = rows.n_features
        assert d is not None
        k, kind = self.n_components, self.covariance_type
        self.weight_concentration_prior_ = (
            1.0 / k if self.weight_concentration_prior is None else float(self.weight_concentration_prior)
        )
        self.mean_precision_prior_ = (
            1.0 if self.mean_precision_prior is None else float(self.mean_precision_prior)
        )
        if self.degrees_of_freedom_prior is None:
            self.degrees_of_freedom_prior_ = float(d)
        elif self.degrees_of_freedom_prior > d - 1.0:
            self.degrees_of_freedom_prior_ = float(self.degrees_of_freedom_prior)
        else:
            raise ValueError(
                f"The parameter 'degrees_of_freedom_prior' should be greater than {d - 1}, but got "
                f"{self.degrees_of_freedom_prior:.3f}."
            )
        mean = covariance = None
        if self.mean_prior is None or self.covariance_prior is None:
            full = kind in ("full", "tied")  # the others need the variances only
            mean, covariance = _data_moments(rows.moments(n_threads, "full" if full else "diag"))
        self.mean_prior_ = mean if self.mean_prior is None else real_array(self.mean_prior, "means", (d,))
        if self.covariance_prior is None:
            assert covariance is not None
            self.covariance_prior_ = covariance if kind != "spherical" else float(covariance.mean())
        else:
            self.covariance_prior_ = _checked_covariance_prior(self.covariance_prior, kind, d)

    def _priors(self) -> vb.Priors:
        return vb.Priors(
            self.weight_concentration_prior_,
            self.mean_precision_prior_,
            np.asarray(self.mean_prior_, dtype=np.float64),
            self.degrees_of_freedom_prior_,
            self.covariance_prior_,
        )

    # ------------------------------------------------------------------ the mixture's hooks
    def _state_from_init_stats(self, stats: Any, dtype: np.dtype, d: int) -> vb.VBState:
        return self._m_step(stats, dtype)

    def _m_step(self, stats: Any, dtype: np.dtype) -> vb.VBState:
        eps = 10 * float(np.finfo(dtype).eps)  # scikit-learn's guard on empty components
        return vb.m_step(stats, self._priors(), self._process, float(self.reg_covar), eps)

    def _lower_bound(self, stats: Any, new_state: Any) -> float:
        return vb.lower_bound(stats.resp_entropy, new_state, self.covariance_type, self._process)

    def _kernel_args(self, state: vb.VBState) -> dict[str, Any]:
        return {
            "log_weights": vb.kernel_log_weights(state, self._process),
            "means": state.means,
            "prec_chol": state.prec_chol,
        }

    def _weights(self, sample_weight: Any, n: int) -> np.ndarray | None:
        """Checked sample weights, never rescaled: the posterior depends on their total."""
        w = check_sample_weight(sample_weight, n)
        if w is not None and w.max() < 1e-290:  # the kernels flush subnormal numbers to zero
            raise ValueError(
                "sample_weight values are all below 1e-290, which the kernels treat as zero; the "
                "variational posterior depends on the total weight, so give weights on the scale you mean"
            )
        return w

    def _stream_scale(self, seen: float) -> float:
        return seen

    def _fitted_state(self) -> vb.VBState:
        def f64(x: Any) -> Any:  # the Dirichlet process's concentration is a pair of arrays
            return tuple(map(f64, x)) if isinstance(x, tuple) else np.asarray(x, dtype=np.float64)

        return vb.VBState(
            f64(self.weight_concentration_),
            f64(self.mean_precision_),
            f64(self.means_),
            f64(self.degrees_of_freedom_),
            f64(self.covariances_),
            f64(self.precisions_cholesky_),
        )

    def _set_state(self, state: vb.VBState, dtype: np.dtype) -> None:
        conc = state.weight_concentration
        self.weight_concentration_ = (
            tuple(c.astype(dtype) for c in conc) if self._process else conc.astype(dtype)
        )
        self.mean_precision_ = state.mean_precision.astype(dtype)
        self.means_ = state.means.astype(dtype)
        nu = state.degrees_of_freedom
        self.degrees_of_freedom_ = float(nu) if np.ndim(nu) == 0 else np.asarray(nu).astype(dtype)
        self.covariances_ = np.asarray(state.covariances).astype(dtype)
        self.precisions_cholesky_ = state.prec_chol.astype(dtype)
        self.precisions_ = precisions_from_chol(state.prec_chol, self.covariance_type).astype(dtype)
        self.weights_ = vb.mixing_weights(conc, self._process).astype(dtype)

    # ------------------------------------------------------------------ what users ask for
    @property
    def n_effective_components_(self) -> int:
        """Components whose weight exceeds EFFECTIVE_WEIGHT (0.01)."""
        check_is_fitted(self, "weights_")
        return int(np.sum(self.weights_ > EFFECTIVE_WEIGHT))

    def __repr__(self) -> str:
        text = super().__repr__()
        if hasattr(self, "weights_"):
            text += f"  # fitted: {self.n_effective_components_} of {self.n_components} components effective"
        return text

    def to_onnx(self, path: Any = None, opset: int = 13) -> Any:
        """The fitted model as an ``onnx.ModelProto`` with input ``X`` (n, d) and outputs
        ``probabilities`` (predict_proba) and ``log_likelihood`` (score_samples), in the
        fitted dtype; written to ``path`` when given. Needs ``scalegen[onnx]``."""
        from ._onnx import mixture_to_onnx

        check_is_fitted(self, "means_")
        return mixture_to_onnx(self, self._kernel_args(self._fitted_state())["log_weights"], path, opset)


def _data_moments(stats: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance matrix (full statistics) or variances (diag statistics), with
    ddof=1 by weight (w copies of a row), of all rows."""
    n = float(stats.nk[0])
    if not n > 1:
        raise ValueError("the default priors need a total sample weight above 1 (a sample covariance)")
    delta = stats.s1[0] / n  # the mean around the shift the sums were taken about
    s2 = stats.s2[0]
    if stats.covariance_type == "diag":
        return stats.shift[0] + delta, (s2 - n * delta**2) / (n - 1.0)
    s2 = s2 + s2.T - np.diag(np.diag(s2))
    return stats.shift[0] + delta, (s2 - n * np.outer(delta, delta)) / (n - 1.0)


def _checked_covariance_prior(value: Any, kind: str, d: int) -> Any:
    if kind == "spherical":
        return check_scalar(
            value, "covariance_prior", "BayesianGaussianMixture", float, low=0.0, closed="neither"
        )
    arr = real_array(value, f"{kind} covariance_prior", (d, d) if kind in ("full", "tied") else (d,))
    check_positive_definite(arr, kind)
    return arr
