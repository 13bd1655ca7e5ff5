# mypy: disable-error-code="misc"
# (methods typed with self: Sequential, the class they are mixed into)
"""Sequential's checks of training data and the numbers it reports: inputs and targets
against the model's shapes and loss, Keras' sample and class weights, and the logs made of
the core's sums."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _core
from ..utils._validation import check_int, check_real
from . import losses as _losses

if TYPE_CHECKING:
    from ._model import Sequential

ACCURACY_NAMES = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy")
# the metrics offered, by the position of their sum in the core's batch statistics
METRICS = {
    **dict.fromkeys(ACCURACY_NAMES, 1),
    **dict.fromkeys(("mae", "mean_absolute_error"), 3),
    **dict.fromkeys(("mse", "mean_squared_error"), 4),
}


class DataChecks:
    """Mixed into Sequential."""

    def _check_x(self: Sequential, x: Any, what: str = "x", check_finite: bool = True) -> np.ndarray:
        if x is None:
            raise ValueError(f"{what} is required")
        arr = np.asarray(x)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"{what} must be numeric, got dtype {arr.dtype}")
        if arr.ndim < 2:
            raise ValueError(f"{what} must have a batch axis and at least one more, got shape {arr.shape}")
        if arr.shape[0] == 0:
            raise ValueError(f"{what} is empty")
        if self._input_shape is None:
            self.build(arr.shape[1:])
        assert self._input_shape is not None
        if arr.shape[1:] != self._input_shape:
            hint = ""
            if (*arr.shape[1:], 1) == self._input_shape:
                hint = f": add a channel axis with {what}[..., None]"
            raise ValueError(
                f"{what} has shape {arr.shape} but the model takes "
                f"(n, {', '.join(map(str, self._input_shape))})" + hint
            )
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if check_finite and not np.isfinite(arr).all():
            raise ValueError(f"{what} contains NaN or infinity")
        if not self.built:
            self._rebuild()
        return arr

    def _check_y(
        self: Sequential, y: Any, n: int, what: str = "y"
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(labels, None) for the sparse loss, else (None, values)."""
        if y is None:
            raise ValueError(f"{what} is required to train or evaluate")
        arr = np.asarray(y)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"{what} must be numeric, got dtype {arr.dtype}")
        if arr.ndim == 0 or arr.shape[0] != n:
            raise ValueError(f"{what} must have one row per sample ({n}), got shape {arr.shape}")
        out_shape = self._output_shapes[-1]
        assert self._loss is not None
        if self._loss.sparse:
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
            if arr.ndim != 1:
                raise ValueError(
                    f"sparse_categorical_crossentropy takes {what} as class indices of shape (n,)"
                )
            if arr.dtype.kind == "f" and not (np.isfinite(arr).all() and (arr == np.round(arr)).all()):
                raise ValueError(f"{what} must hold integer class indices")
            classes = out_shape[-1]
            if len(out_shape) != 1:
                raise ValueError("sparse_categorical_crossentropy needs a flat output: add a Flatten layer")
            if arr.min() < 0 or arr.max() >= classes:
                raise ValueError(
                    f"{what} holds labels in [{arr.min()}, {arr.max()}] but the last layer has "
                    f"{classes} outputs "
                    f"(labels must be in [0, {classes}))"
                )
            return np.ascontiguousarray(arr, dtype=np.int32), None
        if arr.ndim == 1 and out_shape == (1,):  # Keras takes (n,) targets for one output
            arr = arr[:, None]
        if arr.shape[1:] != out_shape:
            hint = ""
            if self._loss._kind == _core.Loss.categorical_crossentropy and arr.ndim == 1:
                hint = ": one-hot encode the labels or use sparse_categorical_crossentropy"
            shape = ", ".join(map(str, ("n", *out_shape)))
            raise ValueError(f"{what} has shape {arr.shape}, the model outputs ({shape}){hint}")
        values = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.isfinite(values).all():
            raise ValueError(f"{what} contains NaN or infinity")
        return None, values

    def _logs(self: Sequential, stats: Sequence[float], prefix: str = "") -> dict[str, float]:
        """Means from the core's sums (loss, correct, count, absolute and squared errors)."""
        count = stats[2]
        logs = {prefix + "loss": stats[0] / count}
        for m in self.metrics:
            logs[prefix + m] = stats[METRICS[m]] / count
        return logs

    def _sample_weights(
        self,
        sample_weight: Any,
        class_weight: Any,
        labels: np.ndarray | None,
        values: np.ndarray | None,
        n: int,
    ) -> np.ndarray | None:
        """Keras' sample_weight times the class_weight of each row's class (its label, or the
        argmax of its one-hot target), or None."""
        weights = _losses.sample_weights(sample_weight, n)
        if class_weight is None:
            return weights
        if not isinstance(class_weight, dict) or not class_weight:
            raise ValueError("class_weight must be a dict {class index: weight}")
        if labels is not None:
            classes = labels
        else:
            rows = np.asarray(values).reshape(n, -1)
            classes = (rows[:, 0] > 0.5).astype(np.int64) if rows.shape[1] == 1 else rows.argmax(axis=1)
        per_row = np.ones(n, np.float32)
        for k, w in class_weight.items():
            k = check_int(k, "class_weight key", "Sequential.fit", low=0)
            per_row[classes == k] = check_real(w, f"class_weight[{k}]", "Sequential.fit", low=0)
        return per_row if weights is None else np.ascontiguousarray(weights * per_row)

    def _result(
        self: Sequential, logs: dict[str, float], return_dict: bool
    ) -> float | list[float] | dict[str, float]:
        """Keras' return value: the dict, the loss alone, or [loss, *metrics]."""
        if return_dict:
            return logs
        if not self.metrics:
            return logs["loss"]
        return [logs[k] for k in self.metrics_names]
