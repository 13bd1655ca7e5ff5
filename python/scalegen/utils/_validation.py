"""Input checks shared by the estimators; messages follow scikit-learn's where it has one."""

from __future__ import annotations

import math
from collections.abc import Hashable
from numbers import Integral, Real
from typing import Any, overload

import numpy as np

from ._base import NotFittedError, compatible


def check_array(X: Any, name: str, estimator: str, *, min_samples: int = 1) -> np.ndarray:
    """A C-contiguous float32/float64 2-D copy-or-view of X with finite values."""
    if hasattr(X, "tocsr") or hasattr(X, "todense"):  # scipy.sparse, without importing scipy
        raise TypeError(
            f"Sparse data was passed for {name}, but dense data is required. "
            "Use '.toarray()' to convert to a dense numpy array."
        )
    if hasattr(X, "dtypes") and hasattr(X, "to_numpy"):  # pandas DataFrame
        X = X.to_numpy()
    arr = np.asarray(X)
    if arr.dtype.kind == "c":  # lists of complex numbers too: casting would drop the imaginary parts
        raise ValueError(f"Complex data not supported: {name} must hold real numbers.")
    if arr.dtype.kind not in "fiub":
        try:
            arr = arr.astype(np.float64)
        except ValueError as e:
            raise ValueError(f"{name} must be numeric: {e}") from None
        except TypeError as e:
            raise TypeError(f"{name} must be numeric: {e}") from None
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    if arr.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {arr.ndim}D array instead. Reshape your data either using "
            "array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) if "
            "it contains a single sample."
        )
    n, d = arr.shape
    if n < min_samples:
        raise ValueError(
            f"Found array with {n} sample(s) (shape={arr.shape}) while a minimum of "
            f"{min_samples} is required by {estimator}."
        )
    if d < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum of 1 is "
            f"required by {estimator}."
        )
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if not np.isfinite(arr).all():
        if np.isnan(arr).any():
            raise ValueError(f"Input {name} contains NaN.")
        raise ValueError(f"Input {name} contains infinity or a value too large for {arr.dtype!r}.")
    return arr


def check_sample_weight(
    sample_weight: Any, n_samples: int, *, positive_sum: bool = True
) -> np.ndarray | None:
    """None or a float64 vector of n_samples finite, non-negative weights with a positive sum
    (a zero sum is allowed when positive_sum is False: one chunk of many)."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    if w.dtype.kind == "c":
        raise ValueError("Complex data not supported: sample_weight must hold real numbers.")
    if w.dtype.kind not in "fiub":
        raise ValueError(f"sample_weight must be numeric, got dtype {w.dtype}")
    if w.ndim == 0:
        w = np.full(n_samples, float(w))
    w = np.ascontiguousarray(w, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError("Sample weights must be 1D array or scalar")
    if w.shape[0] != n_samples:
        raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n_samples},)!")
    if not np.isfinite(w).all():
        raise ValueError("sample_weight contains NaN or infinity")
    if (w < 0).any():
        raise ValueError("Negative values in data passed to sample_weight")
    if positive_sum and not (w > 0).any():  # not w.sum(): huge weights would overflow it
        raise ValueError("sample_weight sums to zero: at least one sample must have a positive weight")
    return w


def check_is_fitted(estimator: Any, attribute: str) -> None:
    """NotFittedError with scikit-learn's wording when attribute is missing."""
    if not hasattr(estimator, attribute):
        raise compatible(NotFittedError)(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before using this estimator."
        )


def feature_names(X: Any) -> np.ndarray | None:
    """Column names of a DataFrame when they are all strings, as scikit-learn keeps them."""
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = list(columns)
    if names and all(isinstance(c, str) for c in names):
        return np.asarray(names, dtype=object)
    return None


def check_random_state(random_state: Any) -> np.random.Generator:
    """A numpy Generator from None, an int, a Generator or a legacy RandomState."""
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if is_int(random_state):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}")
        return np.random.default_rng(int(random_state))
    raise ValueError(
        f"random_state must be None, an int, a numpy Generator or RandomState, got {random_state!r}"
    )


class InvalidParameterError(ValueError, TypeError):
    """A parameter of the wrong type or out of its range.

    Raised by the estimators when they check their parameters (at ``fit``, as
    scikit-learn does) and by the functions that take counts or sizes. It is both a
    ``ValueError`` and a ``TypeError``, as scikit-learn's class of the same name, so
    either ``except`` clause catches it.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen import GaussianMixture, InvalidParameterError
    >>> X = np.zeros((10, 2))
    >>> try:
    ...     GaussianMixture(n_components=0).fit(X)
    ... except InvalidParameterError as err:
    ...     print(err)
    The 'n_components' parameter of GaussianMixture must be an int in the range [1, inf). Got 0 instead.
    >>> issubclass(InvalidParameterError, ValueError), issubclass(InvalidParameterError, TypeError)
    (True, True)
    """


_RANGES = {"both": "[]", "left": "[)", "right": "(]", "neither": "()"}


def is_int(value: Any) -> bool:
    """An integer that is not a bool: a Python int or any Integral (numpy's ints too)."""
    return type(value) is int or (isinstance(value, Integral) and not isinstance(value, bool))


def check_scalar(
    value: Any,
    name: str,
    owner: str,
    kind: type,
    *,
    low: float | None = None,
    high: float | None = None,
    closed: str = "both",
    allow_none: bool = False,
    message: str | None = None,
) -> Any:
    """A parameter checked as scikit-learn's _param_validation does: its type (bool is not a
    number; a float parameter takes ints), finiteness and range; returns it as int/float.

    Unbounded ends are open. NaN is never in range, so a NaN tolerance cannot loop forever.
    `message` replaces scikit-learn's wording where a caller has a better one."""
    if value is None and allow_none:
        return None
    brackets = _RANGES[closed]
    left = brackets[0] if low is not None else "("
    right = brackets[1] if high is not None else ")"
    if is_int(value) if kind is int else (isinstance(value, Real) and not isinstance(value, bool)):
        try:
            v = int(value) if kind is int else float(value)
        except OverflowError:  # an int beyond the floats
            v = math.inf
        if (
            (kind is int or math.isfinite(v))
            and (low is None or v > low or (v == low and left == "["))
            and (high is None or v < high or (v == high and right == "]"))
        ):
            return v
    if message is None:
        lo = "-inf" if low is None else repr(float(low) if kind is float else low)
        hi = "inf" if high is None else repr(float(high) if kind is float else high)
        message = (
            f"The '{name}' parameter of {owner} must be {'an int' if kind is int else 'a float'} in the "
            f"range {left}{lo}, {hi}{right}{' or None' if allow_none else ''}. Got {value!r} instead."
        )
    raise InvalidParameterError(message)


@overload
def check_int(
    value: Any, name: str, owner: str, *, low: int | None = ..., high: int | None = ..., message: str = ...
) -> int: ...
@overload
def check_int(
    value: Any,
    name: str,
    owner: str,
    *,
    low: int | None = ...,
    high: int | None = ...,
    allow_none: bool,
    message: str = ...,
) -> int | None: ...
def check_int(
    value: Any,
    name: str,
    owner: str,
    *,
    low: int | None = None,
    high: int | None = None,
    allow_none: bool = False,
    message: str | None = None,
) -> int | None:
    """An int in [low, high] (numpy's ints accepted and returned as int; bools and floats such
    as 3.0 refused), or None when allowed; else an InvalidParameterError (a ValueError and a
    TypeError)."""
    return check_scalar(value, name, owner, int, low=low, high=high, allow_none=allow_none, message=message)


def check_real(
    value: Any,
    name: str,
    owner: str,
    *,
    low: float | None = None,
    high: float | None = None,
    closed: str = "both",
    message: str | None = None,
) -> float:
    """A finite float (ints accepted, bools refused) from low to high, the ends given `closed`
    ("both", "left", "right" or "neither"); else an InvalidParameterError."""
    return check_scalar(value, name, owner, float, low=low, high=high, closed=closed, message=message)


def check_choice(value: Any, name: str, owner: str, options: Any) -> Any:
    """A parameter that must be one of `options` (compared by equality, strings exactly)."""
    if isinstance(value, Hashable) and any(type(value) is type(o) and value == o for o in options):
        return value
    raise InvalidParameterError(
        f"The '{name}' parameter of {owner} must be a str among {sorted(map(str, options))}. "
        f"Got {value!r} instead."
    )
