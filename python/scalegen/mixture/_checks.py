"""The mixtures' checks of their parameters, initial values and sample weights
(scikit-learn's messages where it has them)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._config import resolve_n_jobs
from ..utils._validation import check_choice, check_scalar

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
# The start of the C++ M-step's message when a covariance is not positive definite.
ILL_DEFINED = "Fitting the mixture model failed because some components have ill-defined"


def param_shape(covariance_type: str, k: int, d: int) -> tuple[int, ...]:
    return {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[covariance_type]


def check_parameters(est: Any) -> None:
    """Every constructor parameter a mixture shares with GaussianMixture, as scikit-learn's
    validation does."""
    owner = type(est).__name__
    for name, low in (("n_components", 1), ("max_iter", 0), ("n_init", 1), ("verbose_interval", 1)):
        check_scalar(getattr(est, name), name, owner, int, low=low, closed="left")
    for name in ("tol", "reg_covar"):  # NaN and inf are refused: a NaN tol would never stop EM
        check_scalar(getattr(est, name), name, owner, float, low=0.0, closed="left")
    for name in ("chunk_size", "init_size"):
        check_scalar(getattr(est, name), name, owner, int, low=1, closed="left", allow_none=True)
    check_scalar(est.learning_decay, "learning_decay", owner, float, low=0.5, high=1.0, closed="right")
    if not isinstance(est.verbose, bool | np.bool_):
        check_scalar(est.verbose, "verbose", owner, int, low=0, closed="left")
    if not isinstance(est.warm_start, bool | np.bool_):
        raise TypeError(
            f"The 'warm_start' parameter of {owner} must be an instance of 'bool'. "
            f"Got {est.warm_start!r} instead."
        )
    check_choice(est.covariance_type, "covariance_type", owner, COVARIANCE_TYPES)
    check_choice(est.init_params, "init_params", owner, INIT_PARAMS)
    resolve_n_jobs(est.n_jobs)


def _as_array(value: Any, name: str, shape: tuple[int, ...]) -> tuple[np.ndarray, np.dtype] | None:
    """real_array of an initial value (None stays None) and the dtype scikit-learn would
    check it in (float32 stays float32, anything else is float64)."""
    if value is None:
        return None
    return real_array(value, name, shape), np.dtype(
        np.float32 if np.asarray(value).dtype == np.float32 else np.float64
    )


def real_array(value: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A float64 copy of a parameter's array (the user's is never touched): real, finite,
    of the given shape, with scikit-learn's messages."""
    given = np.asarray(value)
    if given.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: the parameter '{name}' must hold real numbers.")
    try:
        arr = np.array(given, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"The parameter '{name}' must be numeric: {e}") from None
    if arr.shape != shape:
        raise ValueError(f"The parameter '{name}' should have the shape of {shape}, but got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"The parameter '{name}' contains NaN or infinity")
    return arr


def check_positive_definite(values: np.ndarray, cov: str) -> None:
    """scikit-learn's check of precisions: symmetric positive-definite matrices (full, tied:
    one or a stack of them), positive values otherwise."""
    if cov in ("full", "tied"):
        for p in values if values.ndim == 3 else [values]:
            if not np.allclose(p, p.T) or not (np.linalg.eigvalsh(p) > 0).all():
                raise ValueError(f"'{cov} precision' should be symmetric, positive-definite")
    elif (values <= 0).any():
        raise ValueError(f"'{cov} precision' should be positive")


def checked_inits(est: Any, d: int) -> tuple[np.ndarray | None, ...]:
    """Validated float64 copies of weights_init, means_init and precisions_init."""
    k, cov = est.n_components, est.covariance_type
    weights = means = precisions = None
    checked = _as_array(est.weights_init, "weights", (k,))
    if checked is not None:
        weights, dtype = checked
        if (weights < 0).any() or (weights > 1).any():
            raise ValueError(
                "The parameter 'weights' should be in the range [0, 1], but got max value "
                f"{weights.max():.5f}, min value {weights.min():.5f}"
            )
        # scikit-learn's tolerance: float32 weights summing to one in float32 pass
        atol = 1e-6 if dtype == np.float32 else 1e-8
        if not abs(1.0 - weights.sum()) <= atol:
            raise ValueError(
                f"The parameter 'weights' should be normalized, but got sum(weights) = {weights.sum():.5f}"
            )
    checked = _as_array(est.means_init, "means", (k, d))
    if checked is not None:
        means = checked[0]
    checked = _as_array(est.precisions_init, f"{cov} precision", param_shape(cov, k, d))
    if checked is not None:
        precisions = checked[0]
        check_positive_definite(precisions, cov)
    return weights, means, precisions


def scaled_weights(sw: np.ndarray | None) -> np.ndarray | None:
    """Sample weights whose largest is far from 1 (near 1e308 their sums overflow;
    subnormal ones the kernels flush to zero) divided by a power of two near it, in a
    new array: EM does not depend on their scale. Other weights are returned as they
    are, so that an in-memory fit keeps the bits of the same rows fitted in chunks."""
    if sw is None:
        return None
    top = float(sw.max())
    if top <= 0 or 2.0**-500 <= top <= 2.0**500:
        return sw
    return np.ldexp(sw, -int(np.frexp(top)[1]))  # exact, and no 2.0**1024 to overflow


def weighted_mean(values: np.ndarray, sw: np.ndarray | None) -> float:
    """Mean of float64 values weighted by sw; rows of weight zero count for nothing, even
    at -inf."""
    values = np.asarray(values, dtype=np.float64)
    if sw is None:
        return float(values.mean())
    w = scaled_weights(sw)
    assert w is not None
    keep = w > 0
    return float(np.average(values[keep], weights=w[keep]))


def is_ill_defined(error: ValueError) -> bool:
    """Whether an M-step failed because a covariance is not positive definite."""
    return str(error).startswith(ILL_DEFINED)
