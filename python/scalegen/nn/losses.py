"""Losses as objects, with Keras' names, arguments and definitions.

``compile(loss=...)`` takes one of these or its name. Each is also callable on numpy
arrays, returning the loss Keras reports (the weighted sum over rows divided by the number of
rows), and ``value_and_gradient`` adds its gradient with respect to ``y_pred``, the ``dy``
that ``Sequential.backward`` takes in a custom training loop. The arithmetic is the core's,
the same that ``fit`` minimises.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from .._config import resolve_n_jobs
from ..utils._validation import check_choice


class Loss:
    """Base class of the losses: ``loss(y_true, y_pred, sample_weight=None)`` is the float
    Keras reports (the weighted sum of the rows' losses divided by the number of rows), and
    ``value_and_gradient`` adds its gradient with respect to ``y_pred``.

    Parameters
    ----------
    from_logits : bool, default False
        Cross-entropies only: ``y_pred`` holds logits, not probabilities.
    name : str, optional
        Default: the Keras name of the class (``"mean_squared_error"``, ...).

    Raises
    ------
    ValueError
        For ``from_logits=True`` on a loss that takes no logits; when called, for arrays
        whose shapes do not match or that hold NaN or infinity.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers, losses
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(8, 3))
    >>> y = x.sum(axis=1, keepdims=True)
    >>> model = Sequential([layers.Input((3,)), layers.Dense(1)], seed=0)
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> loss = losses.MeanSquaredError()
    >>> model.zero_gradients()  # a custom training step
    >>> value, dy = loss.value_and_gradient(y, model.forward(x))
    >>> _ = model.backward(dy)
    >>> model.apply_gradients()
    >>> bool(loss(y, model.predict(x)) < value)
    True
    """

    _kind: Any = None
    name = "loss"
    _takes_logits = False

    def __init__(self, from_logits: bool = False, name: str | None = None) -> None:
        if from_logits and not self._takes_logits:
            raise ValueError(f"{type(self).__name__} has no from_logits")
        self.from_logits = bool(check_choice(from_logits, "from_logits", type(self).__name__, [False, True]))
        if name is not None:
            self.name = str(name)

    @property
    def sparse(self) -> bool:
        """Targets are class indices (one per row of outputs), not values of the outputs' shape."""
        return self._kind == _core.Loss.sparse_categorical_crossentropy

    def targets(self, y_true: Any, y_pred: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(labels, None) or (None, values) for the core, checked against y_pred's shape."""
        arr = np.asarray(y_true)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"y_true must be numeric, got dtype {arr.dtype}")
        if self.sparse:
            if arr.shape == (*y_pred.shape[:-1], 1):
                arr = arr[..., 0]
            if arr.shape != y_pred.shape[:-1]:
                raise ValueError(
                    f"{self.name} takes class indices of shape {y_pred.shape[:-1]}, got {arr.shape}"
                )
            if arr.dtype.kind == "f" and not (np.isfinite(arr).all() and (arr == np.round(arr)).all()):
                raise ValueError("y_true must hold integer class indices")
            return np.ascontiguousarray(arr, dtype=np.int32).ravel(), None
        if arr.shape != y_pred.shape:
            raise ValueError(f"y_true has shape {arr.shape}, y_pred {y_pred.shape}: they must be equal")
        values = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.isfinite(values).all():
            raise ValueError("y_true contains NaN or infinity")
        return None, values

    def value_and_gradient(
        self, y_true: Any, y_pred: Any, sample_weight: Any = None
    ) -> tuple[float, np.ndarray]:
        """The loss and its gradient with respect to y_pred (float32, y_pred's shape)."""
        pred = np.ascontiguousarray(y_pred, dtype=np.float32)
        if pred.ndim < 2 or pred.shape[0] == 0:
            raise ValueError(f"y_pred must have a batch axis and a last axis, got shape {pred.shape}")
        if not np.isfinite(pred).all():
            raise ValueError("y_pred contains NaN or infinity")
        labels, values = self.targets(y_true, pred)
        weights = sample_weights(sample_weight, pred.shape[0])
        stats, grad = _core.nn_loss(
            pred, labels, values, weights, self._kind, self.from_logits, resolve_n_jobs(None)
        )
        return stats[0] / stats[2], grad

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
        return self.value_and_gradient(y_true, y_pred, sample_weight)[0]

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name}
        if self._takes_logits:
            config["from_logits"] = self.from_logits
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy of class indices (``y_true`` of shape (n,) or (n, 1)) against
    probabilities, or logits with ``from_logits=True``, over the last axis.

    Parameters
    ----------
    from_logits : bool, default False
    name : str, default "sparse_categorical_crossentropy"

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import losses
    >>> probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    >>> round(losses.SparseCategoricalCrossentropy()([0, 2], probs), 4)  # -(log 0.7 + log 0.8) / 2
    0.2899
    """

    _kind = _core.Loss.sparse_categorical_crossentropy
    name = "sparse_categorical_crossentropy"
    _takes_logits = True


class CategoricalCrossentropy(Loss):
    """Cross-entropy of one-hot (or soft) targets against probabilities, or logits with
    ``from_logits=True``, over the last axis.

    Parameters
    ----------
    from_logits : bool, default False
    name : str, default "categorical_crossentropy"

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import losses
    >>> probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    >>> round(losses.CategoricalCrossentropy()(np.array([[1, 0, 0], [0, 0, 1]]), probs), 4)
    0.2899
    """

    _kind = _core.Loss.categorical_crossentropy
    name = "categorical_crossentropy"
    _takes_logits = True


class BinaryCrossentropy(Loss):
    """Cross-entropy of targets in [0, 1] against probabilities, or logits with
    ``from_logits=True``, averaged over the last axis.

    Parameters
    ----------
    from_logits : bool, default False
    name : str, default "binary_crossentropy"

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import losses
    >>> y_true = np.array([[1.0], [0.0]])
    >>> round(losses.BinaryCrossentropy()(y_true, np.array([[0.9], [0.2]])), 3)  # -(log 0.9 + log 0.8) / 2
    0.164
    >>> round(losses.BinaryCrossentropy(from_logits=True)(y_true, np.zeros((2, 1))), 4)  # log 2
    0.6931
    """

    _kind = _core.Loss.binary_crossentropy
    name = "binary_crossentropy"
    _takes_logits = True


class MeanSquaredError(Loss):
    """The mean of the squared differences over the last axis (Keras' "mse").

    Parameters
    ----------
    name : str, default "mean_squared_error"

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import losses
    >>> mse = losses.MeanSquaredError()
    >>> value, grad = mse.value_and_gradient(np.array([[0.0], [1.0]]), np.array([[0.5], [1.0]]))
    >>> value, grad.ravel().tolist()
    (0.125, [0.5, 0.0])
    >>> mse(np.array([[0.0], [1.0]]), np.array([[0.5], [1.0]]), sample_weight=[2.0, 0.0])
    0.25
    """

    _kind = _core.Loss.mse
    name = "mean_squared_error"


class MeanAbsoluteError(Loss):
    """The mean of the absolute differences over the last axis (Keras' "mae").

    Parameters
    ----------
    name : str, default "mean_absolute_error"

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import losses
    >>> losses.MeanAbsoluteError()(np.array([[0.0, 1.0]]), np.array([[0.5, 0.0]]))
    0.75
    """

    _kind = _core.Loss.mae
    name = "mean_absolute_error"


_NAMES: dict[str, type[Loss]] = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
}


def get(identifier: Any) -> Loss:
    """A Loss from a Loss (returned as is), a Loss subclass or a Keras name.

    Parameters
    ----------
    identifier : Loss, type or str
        Names: "sparse_categorical_crossentropy", "categorical_crossentropy",
        "binary_crossentropy", "mean_squared_error" ("mse"), "mean_absolute_error" ("mae").

    Returns
    -------
    Loss
        Named as given (Keras keeps the name).

    Raises
    ------
    ValueError
        For anything else.

    Examples
    --------
    >>> from scalegen.nn import losses
    >>> losses.get("mse")
    MeanSquaredError(name='mse')
    >>> losses.get(losses.BinaryCrossentropy)
    BinaryCrossentropy(name='binary_crossentropy', from_logits=False)
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss) and identifier is not Loss:
        return identifier()
    if isinstance(identifier, str) and identifier.lower() in _NAMES:
        loss = _NAMES[identifier.lower()]()
        loss.name = identifier.lower()  # Keras keeps the name given
        return loss
    raise ValueError(
        f"unknown loss {identifier!r}: use a scalegen.nn.losses.Loss or one of {', '.join(_NAMES)}"
    )


def sample_weights(sample_weight: Any, n: int, what: str = "sample_weight") -> np.ndarray | None:
    """n finite non-negative float32 weights, or None."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "fiub":
        raise TypeError(f"{what} must be numeric, got dtype {w.dtype}")
    if w.shape != (n,):
        raise ValueError(f"{what} must have one weight per sample, shape ({n},), got {w.shape}")
    w = np.ascontiguousarray(w, dtype=np.float32)
    if not (np.isfinite(w).all() and (w >= 0).all()):
        raise ValueError(f"{what} must be finite and non-negative (in float32)")
    return w


__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "SparseCategoricalCrossentropy",
    "get",
]
