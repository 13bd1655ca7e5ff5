"""A scikit-learn compatible estimator base that does not import scikit-learn."""

from __future__ import annotations

import inspect
import sys
from functools import cache
from typing import Any


class NotFittedError(ValueError, AttributeError):
    """Raised when a method that needs a fitted estimator is called before ``fit``.

    A ``ValueError`` and an ``AttributeError``, as scikit-learn's class of the same name.
    Once scikit-learn has been imported, scalegen raises a subclass of both this class and
    ``sklearn.exceptions.NotFittedError``, so an ``except`` clause written for either
    catches it (scalegen never imports scikit-learn itself).

    Examples
    --------
    >>> from scalegen import GaussianMixture
    >>> from scalegen.exceptions import NotFittedError
    >>> try:
    ...     GaussianMixture().predict([[0.0, 1.0]])
    ... except NotFittedError as err:
    ...     print(err)
    This GaussianMixture instance is not fitted yet. Call 'fit' ...
    """


class ConvergenceWarning(UserWarning):
    """Warned when an iterative fit stops before it has converged.

    A ``UserWarning``, as scikit-learn's class of the same name. The mixtures warn it when
    the best initialization used up ``max_iter`` iterations, or when an M-step collapsed
    a component and the previous parameters were kept. As with ``NotFittedError``, once
    scikit-learn has been imported the category warned is also a subclass of
    ``sklearn.exceptions.ConvergenceWarning``, so filters written for either apply.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from scalegen import GaussianMixture
    >>> from scalegen.exceptions import ConvergenceWarning
    >>> X = np.random.default_rng(0).normal(size=(100, 2))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = GaussianMixture(n_components=2, max_iter=1, random_state=0).fit(X)
    >>> [issubclass(w.category, ConvergenceWarning) for w in caught]
    [True]
    >>> with warnings.catch_warnings():  # silenced inside this block only
    ...     warnings.simplefilter("ignore", ConvergenceWarning)
    ...     _ = GaussianMixture(n_components=2, max_iter=1, random_state=0).fit(X)
    """


@cache
def _with_sklearn_base(ours: type, sklearn_cls: type) -> type:
    return type(ours.__name__, (ours, sklearn_cls), {"__module__": ours.__module__, "__doc__": ours.__doc__})


def compatible(ours: type) -> type:
    """ours, or a subclass of ours and scikit-learn's namesake once scikit-learn is loaded.

    Code can only catch or filter scikit-learn's class after importing it, so scalegen
    never imports scikit-learn itself and still satisfies ``except NotFittedError`` or a
    warnings filter written against scikit-learn.
    """
    sk = sys.modules.get("sklearn.exceptions")
    theirs = getattr(sk, ours.__name__, None) if sk is not None else None
    return ours if theirs is None else _with_sklearn_base(ours, theirs)


class BaseEstimator:
    """get_params/set_params/repr from the __init__ signature, as scikit-learn's."""

    _estimator_type = "density_estimator"

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return sorted(
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this estimator, by name."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> BaseEstimator:
        """Set parameters by name; unknown names are a ValueError."""
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {sorted(valid)!r}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        changed = []
        for name in self._param_names():
            default = sig.parameters[name].default
            value = getattr(self, name)
            try:
                same = bool(value is default or value == default)
            except Exception:  # arrays compare elementwise
                same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self) -> Any:
        # Only scikit-learn's estimator checks ask for tags, so it is imported here.
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(
            estimator_type=self._estimator_type,
            target_tags=TargetTags(required=False),
            input_tags=InputTags(),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))
