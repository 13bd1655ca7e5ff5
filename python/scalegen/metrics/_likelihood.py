"""Held-out log-likelihood of any scalegen model, and a paired test between two models."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..mixture._base import BaseMixture

# keyword arguments passed through to each kind of model's per-row method
_KWARGS = {
    "GaussianMixture": (),
    "BayesianNetwork": ("n_jobs",),
    "VAE": ("n_importance", "random_state", "labels"),
}


def loaded_type(module: str, name: str) -> type[Any] | None:
    """The class `name` of `module` if that module is already imported, else None: an object
    can only be an instance of a class whose module is loaded, so checking costs no import
    (scalegen.bayesnet brings pandas, scalegen.nn the network code)."""
    mod = sys.modules.get(module)
    return getattr(mod, name, None) if mod is not None else None


def _model_kind(model: Any) -> str | None:
    if isinstance(model, BaseMixture):
        return "GaussianMixture"
    network = loaded_type("scalegen.bayesnet._model", "BayesianNetwork")
    if network is not None and isinstance(model, network):
        return "BayesianNetwork"
    vae = loaded_type("scalegen.nn._vae", "VAE")
    if vae is not None and isinstance(model, vae):
        return "VAE"
    return None


def per_row_log_likelihood(model: Any, X: Any, **kwargs: Any) -> np.ndarray:
    """log p(x) of every row of X under `model`, as a float64 vector (the importance-weighted
    bound for a VAE). Raises TypeError for a model without a likelihood or a keyword argument
    the model does not take."""
    kind = _model_kind(model)
    if kind is None:
        raise TypeError(
            f"cannot compute a log-likelihood for a {type(model).__module__}.{type(model).__name__}: "
            "expected a scalegen GaussianMixture, BayesianGaussianMixture, BayesianNetwork or nn.VAE"
        )
    unknown = sorted(set(kwargs) - set(_KWARGS[kind]))
    if unknown:
        allowed = ", ".join(_KWARGS[kind]) or "none"
        raise TypeError(
            f"{type(model).__name__} does not take the keyword argument(s) {unknown} "
            f"(allowed for it: {allowed})"
        )
    if kind == "VAE":
        scores = model.log_likelihood(X, **kwargs)
    else:
        scores = model.score_samples(X, **kwargs)
    return np.asarray(scores, dtype=np.float64).reshape(-1)


def mean_log_likelihood(model: Any, X: Any, **kwargs: Any) -> float:
    """Mean log-likelihood per row of held-out data X under a fitted scalegen model.

    GaussianMixture and BayesianGaussianMixture: ``model.score_samples(X)``; BayesianNetwork:
    ``model.score_samples(X)`` (keyword ``n_jobs``), ``-inf`` if a row has probability zero;
    nn.VAE: the mean importance-weighted lower bound ``model.log_likelihood(X, ...)``
    (keywords ``n_importance``, ``random_state``, ``labels``). Higher is better; the values
    of continuous models are densities, comparable only on the same data in the same units.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture, BayesianNetwork or nn.VAE
        A fitted scalegen model.
    X : array-like or DataFrame
        Held-out rows, in the form the model's own scoring method takes.
    **kwargs
        Passed to that method (only the keywords listed above for each model).

    Returns
    -------
    float
        The mean log-likelihood (or bound) per row, in nats.

    Raises
    ------
    TypeError
        A model without a likelihood, or a keyword argument that model does not take.
    ValueError
        ``X`` without rows (the model's own method may raise for other bad input).

    Examples
    --------
    On held-out data from two well-separated clusters, two components fit better than one:

    >>> import numpy as np
    >>> from scalegen import GaussianMixture
    >>> from scalegen.metrics import mean_log_likelihood
    >>> rng = np.random.default_rng(0)
    >>> train = np.vstack([rng.normal(-3, 1, (100, 1)), rng.normal(3, 1, (100, 1))])
    >>> test = np.vstack([rng.normal(-3, 1, (50, 1)), rng.normal(3, 1, (50, 1))])
    >>> one = GaussianMixture(1, random_state=0).fit(train)
    >>> two = GaussianMixture(2, random_state=0).fit(train)
    >>> round(mean_log_likelihood(one, test), 2), round(mean_log_likelihood(two, test), 2)
    (-2.57, -2.24)
    """
    scores = per_row_log_likelihood(model, X, **kwargs)
    if scores.size == 0:
        raise ValueError("X has no rows: the mean log-likelihood needs at least one")
    return float(np.mean(scores))


@dataclass(frozen=True)
class LikelihoodComparison:
    """The result of `log_likelihood_ratio_test`: a paired comparison of two models on the
    same rows.

    Attributes
    ----------
    mean_difference : float
        Mean of log p_a(x) - log p_b(x) per row; positive favours model a.
    standard_error : float
        Sample standard deviation (ddof=1) of the per-row differences over sqrt(n).
    z : float
        ``mean_difference / standard_error``.
    p_value : float
        Two-sided, from the standard normal; the null is that both models fit the data
        equally well.
    n_samples : int
        n, the rows compared.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen import GaussianMixture
    >>> from scalegen.metrics import log_likelihood_ratio_test
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> model = GaussianMixture(1, random_state=0).fit(X)
    >>> log_likelihood_ratio_test(model, model, X)  # a model against itself
    LikelihoodComparison(mean_difference=0.0, standard_error=0.0, z=0.0, p_value=1.0, n_samples=200)
    """

    mean_difference: float
    standard_error: float
    z: float
    p_value: float
    n_samples: int


def _finite_scores(model: Any, X: Any, which: str, kwargs: dict[str, Any]) -> np.ndarray:
    scores = per_row_log_likelihood(model, X, **kwargs)
    bad = np.flatnonzero(~np.isfinite(scores))
    if bad.size:
        raise ValueError(
            f"{which} gives row {int(bad[0])} the log-likelihood {float(scores[bad[0]])!r}: the test "
            "needs finite log-likelihoods (a Bayesian network with zeros in its tables can be "
            "smoothed with fit(..., estimator='bayes'))"
        )
    return scores


def log_likelihood_ratio_test(model_a: Any, model_b: Any, X: Any, **kwargs: Any) -> LikelihoodComparison:
    """Is model_a's held-out log-likelihood on X higher than model_b's? A paired test on the
    per-row differences (Vuong's test for non-nested models, without the size correction).

    ``kwargs`` go to both models (see `mean_log_likelihood`); for VAEs give an integer
    ``random_state`` so that both bounds are estimated with fixed draws. Needs at least two
    rows and finite log-likelihoods. When every row has the same difference the standard
    error is 0: z is then 0 with p_value 1 (no difference) or +-inf with p_value 0.

    Parameters
    ----------
    model_a, model_b : fitted scalegen models
        Any model `mean_log_likelihood` accepts; they may be of different kinds.
    X : array-like or DataFrame
        Held-out rows, at least 2.
    **kwargs
        Passed to both models' scoring methods.

    Returns
    -------
    LikelihoodComparison

    Raises
    ------
    TypeError
        As `mean_log_likelihood`.
    ValueError
        Fewer than 2 rows, or a row with a non-finite log-likelihood under either model.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen import GaussianMixture
    >>> from scalegen.metrics import log_likelihood_ratio_test
    >>> rng = np.random.default_rng(0)
    >>> train = np.vstack([rng.normal(-3, 1, (100, 1)), rng.normal(3, 1, (100, 1))])
    >>> test = np.vstack([rng.normal(-3, 1, (50, 1)), rng.normal(3, 1, (50, 1))])
    >>> one = GaussianMixture(1, random_state=0).fit(train)
    >>> two = GaussianMixture(2, random_state=0).fit(train)
    >>> result = log_likelihood_ratio_test(two, one, test)
    >>> round(result.mean_difference, 2), round(result.z, 1), result.p_value < 0.001
    (0.33, 3.5, True)
    """
    a = _finite_scores(model_a, X, "model_a", kwargs)
    b = _finite_scores(model_b, X, "model_b", kwargs)
    n = a.size
    if n < 2:
        raise ValueError(f"X has {n} row(s): the test needs at least 2 held-out rows")
    if b.size != n:
        raise ValueError(f"model_a scored {n} rows but model_b scored {b.size}")
    diff = a - b
    mean = float(np.mean(diff))
    se = float(np.std(diff, ddof=1)) / math.sqrt(n)
    if se > 0:
        z = mean / se
    else:
        z = 0.0 if mean == 0 else math.copysign(math.inf, mean)
    p_value = math.erfc(abs(z) / math.sqrt(2.0))  # 2 * (1 - Phi(|z|)) without cancellation
    return LikelihoodComparison(mean, se, z, p_value, n)
