"""Keras-compatible training callbacks: the hook protocol, History, EarlyStopping, ModelCheckpoint.

Epoch and batch indices passed to the hooks are 0-based, as in Keras; messages and
``{epoch}`` in checkpoint file names are 1-based.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeAlias

import numpy as np

from ..utils._validation import check_int

__all__ = ["Callback", "CallbackList", "EarlyStopping", "History", "ModelCheckpoint"]

Logs: TypeAlias = Mapping[str, Any] | None

# Metric names (without a "val_" prefix or a "_<n>" suffix) that are better when larger.
_MAX_PREFIXES = (
    "auc",
    "prc",
    "precision",
    "recall",
    "f1",
    "fbeta",
    "fmeasure",
    "sensitivity",
    "specificity",
    "r2",
)


def _resolve_mode(monitor: str, mode: str, model: Any = None) -> str:
    """``"min"`` or ``"max"``; ``"auto"`` picks from the metric's name.

    ``auto``: a metric of ``model.metrics`` with this name and a Keras ``_direction``
    ("up"/"down") decides; otherwise "max" for accuracies (the name contains "acc"), AUC,
    precision, recall, F-scores, IoU and R², "min" for everything else (losses, errors).
    """
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    if name == "loss":
        return "min"
    for metric in getattr(model, "metrics", None) or ():
        direction = getattr(metric, "_direction", None)
        if getattr(metric, "name", None) == name and direction in ("up", "down"):
            return "max" if direction == "up" else "min"
    base = re.sub(r"_\d+$", "", name)
    if "acc" in base or base.startswith(_MAX_PREFIXES) or base.endswith("iou"):
        return "max"
    return "min"


def _is_better(mode: str, current: float, reference: float | None, min_delta: float = 0.0) -> bool:
    """current beats reference by more than ``min_delta`` (>= 0) in direction ``mode``."""
    if reference is None:
        return True
    if mode == "max":
        return current - min_delta > reference
    return current + min_delta < reference


def _worst(mode: str) -> str:
    return "-inf" if mode == "max" else "inf"


def _scalar(value: Any) -> float | None:
    """A log value as a float, or None when it is not a scalar."""
    if np.ndim(value) != 0:
        return None
    return float(value)


class Callback:
    """Base class of training callbacks (Keras' protocol); every hook is a no-op.

    ``model`` is the model being trained, ``params`` the fit parameters (``epochs``,
    ``steps``, ``verbose``). The ``fit`` of ``Sequential``, ``VAE`` and ``GAN`` calls the
    train, epoch and train-batch hooks (the batch hooks also call Keras' legacy
    ``on_batch_begin``/``on_batch_end``); setting ``model.stop_training = True`` ends
    training after the current batch. ``evaluate`` and ``predict`` take no callbacks.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers
    >>> x = np.random.default_rng(0).normal(size=(16, 2))
    >>> model = Sequential([layers.Input((2,)), layers.Dense(1)], seed=0)
    >>> model.compile(loss="mse")
    >>> from scalegen.nn.callbacks import Callback
    >>> class StopAfterTwo(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print(epoch, sorted(logs))
    ...         self.model.stop_training = epoch >= 1
    >>> history = model.fit(x, x[:, :1], epochs=10, verbose=0, callbacks=[StopAfterTwo()])
    0 ['loss']
    1 ['loss']
    """

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: Mapping[str, Any]) -> None:
        self.params = dict(params)

    def on_train_begin(self, logs: Logs = None) -> None:
        """Called once at the start of ``fit``."""

    def on_train_end(self, logs: Logs = None) -> None:
        """Called once at the end of ``fit`` (also after an early stop)."""

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        """Called at the start of epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        """Called at the end of an epoch with its metrics (``val_*`` included)."""

    def on_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Legacy alias: called by ``on_train_batch_begin``."""

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Legacy alias: called by ``on_train_batch_end``."""

    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Called before training batch ``batch`` (0-based within the epoch)."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Called after a training batch with the epoch's running metrics."""
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs: Logs = None) -> None:
        """Keras' hook at the start of evaluation (scalegen never calls it)."""

    def on_test_end(self, logs: Logs = None) -> None:
        """Keras' hook at the end of evaluation (scalegen never calls it)."""

    def on_test_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Keras' hook before an evaluation batch (scalegen never calls it)."""

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Keras' hook after an evaluation batch (scalegen never calls it)."""

    def on_predict_begin(self, logs: Logs = None) -> None:
        """Keras' hook at the start of ``predict`` (scalegen never calls it)."""

    def on_predict_end(self, logs: Logs = None) -> None:
        """Keras' hook at the end of ``predict`` (scalegen never calls it)."""

    def on_predict_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Keras' hook before a prediction batch (scalegen never calls it)."""

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Keras' hook after a prediction batch (scalegen never calls it)."""


class CallbackList:
    """Callbacks called in order: each hook of ``Callback`` forwards to every one.

    Parameters
    ----------
    callbacks : iterable of Callback, optional
    model, **params : optional
        The model and the fit parameters, given to every callback.

    Raises
    ------
    TypeError
        For an element that is not a ``Callback``.

    Examples
    --------
    >>> from scalegen.nn.callbacks import CallbackList, History
    >>> history = History()
    >>> callbacks = CallbackList([history], epochs=1)
    >>> callbacks.on_train_begin()
    >>> callbacks.on_epoch_end(0, {"loss": 0.5})
    >>> len(callbacks), history.params, history.history
    (1, {'epochs': 1}, {'loss': [0.5]})
    """

    def __init__(
        self, callbacks: Iterable[Callback] | None = None, *, model: Any = None, **params: Any
    ) -> None:
        self.callbacks: list[Callback] = []
        self.model: Any = None
        self.params: dict[str, Any] = {}
        for cb in callbacks or ():
            self.append(cb)
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback: Callback) -> None:
        if not isinstance(callback, Callback):
            raise TypeError(
                f"callbacks must be instances of scalegen.nn Callback, got {type(callback).__qualname__}"
            )
        self.callbacks.append(callback)
        if self.model is not None:
            callback.set_model(self.model)
        if self.params:
            callback.set_params(self.params)

    def __iter__(self) -> Iterator[Callback]:
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def set_model(self, model: Any) -> None:
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: Mapping[str, Any]) -> None:
        self.params = dict(params)
        for cb in self.callbacks:
            cb.set_params(self.params)

    def on_train_begin(self, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_train_batch_end(batch, logs)

    def on_test_begin(self, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_test_begin(logs)

    def on_test_end(self, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_test_end(logs)

    def on_test_batch_begin(self, batch: int, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_test_batch_begin(batch, logs)

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_test_batch_end(batch, logs)

    def on_predict_begin(self, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_predict_begin(logs)

    def on_predict_end(self, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_predict_end(logs)

    def on_predict_batch_begin(self, batch: int, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_predict_batch_begin(batch, logs)

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_predict_batch_end(batch, logs)


class History(Callback):
    """Records the logs of every epoch: ``history[name]`` is the list of per-epoch values.

    ``epoch`` lists the (0-based) epoch indices. A History describes one ``fit``, which makes
    a new one each time, returns it and keeps it as ``model.history`` (as Keras 3 does).

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers
    >>> x = np.random.default_rng(0).normal(size=(16, 2))
    >>> model = Sequential([layers.Input((2,)), layers.Dense(1)], seed=0)
    >>> model.compile(loss="mse", metrics=["mae"])
    >>> history = model.fit(x, x[:, :1], epochs=3, verbose=0, validation_split=0.25)
    >>> history.epoch, sorted(history.history), len(history.history["loss"])
    ([0, 1, 2], ['loss', 'mae', 'val_loss', 'val_mae'], 3)
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[Any]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: Logs = None) -> None:
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving (Keras' parameters and semantics).

    An epoch improves when its value beats the best so far by more than ``abs(min_delta)``.
    After ``patience`` epochs in a row without improvement, ``model.stop_training`` is set
    (never after the first epoch).

    Parameters
    ----------
    monitor : str, default "val_loss"
        A key of the epoch logs; when missing, a ``UserWarning`` and the epoch is not counted.
    min_delta : float, default 0
    patience : int, default 0
    verbose : int, default 0
        Above 0, print when training stops early and when weights are restored.
    mode : {"auto", "min", "max"}, default "auto"
        "auto": "max" for accuracies, AUC, precision, recall, F-scores, IoU and R², else "min".
    baseline : float, optional
        Improvements reset the patience count only once they also beat it (by more than
        ``min_delta``); training stops when ``patience`` epochs pass without beating it, even
        on an epoch that improved (as tf.keras 2; Keras 3's code stops only without improvement).
    restore_best_weights : bool, default False
        Copy the weights at the end of the best epoch and, as Keras 3, put them back at the
        end of training, stopped early or not (unless the last epoch was the best).
    start_from_epoch : int, default 0
        Epochs before it are not monitored.

    Raises
    ------
    ValueError
        For an unknown ``mode``.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers
    >>> x = np.random.default_rng(0).normal(size=(16, 2))
    >>> model = Sequential([layers.Input((2,)), layers.Dense(1)], seed=0)
    >>> from scalegen.nn.callbacks import EarlyStopping
    >>> from scalegen.nn.optimizers import SGD
    >>> model.compile(optimizer=SGD(learning_rate=1e-6), loss="mse")  # too small to make progress
    >>> stop = EarlyStopping(monitor="loss", min_delta=0.01, patience=2)
    >>> history = model.fit(x, x[:, :1], epochs=20, verbose=0, callbacks=[stop])
    >>> len(history.epoch), stop.best_epoch, stop.stopped_epoch
    (3, 0, 2)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._direction: str | None = None
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float | None = None
        self.best_epoch = 0
        self.best_weights: list[Any] | None = None
        self._last_epoch: int | None = None

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_epoch = 0
        self.best_weights = None
        self._last_epoch = None

    @property
    def direction(self) -> str:
        """ "min" or "max": the resolved ``mode``."""
        if self._direction is None:
            self._direction = _resolve_mode(self.monitor, self.mode, self.model)
        return self._direction

    def on_train_begin(self, logs: Logs = None) -> None:
        self._reset()
        self._direction = None

    def get_monitor_value(self, logs: Logs) -> float | None:
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {', '.join(logs.keys())}",
                UserWarning,
                stacklevel=3,
            )
            return None
        return _scalar(value)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self._last_epoch = epoch
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        self.wait += 1
        if _is_better(self.direction, current, self.best, self.min_delta):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = [np.array(w, copy=True) for w in self.model.get_weights()]
            if self.baseline is None or _is_better(self.direction, current, self.baseline, self.min_delta):
                self.wait = 0
                return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if (
            self.restore_best_weights
            and self.best_weights is not None
            and self._last_epoch != self.best_epoch
        ):
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (``model.save``) or its weights (``model.save_weights``) during training.

    Parameters
    ----------
    filepath : str or path-like
        May hold format fields filled from the logs and ``epoch`` (1-based), e.g.
        ``"ckpt/{epoch:02d}-{val_loss:.2f}.keras"`` (also ``batch``, 1-based, when saving
        every ``save_freq`` batches); parent directories are created when a file is written.
    monitor : str, default "val_loss"
        The value ``save_best_only`` watches; when missing, a ``UserWarning`` and no save.
    verbose : int, default 0
    save_best_only : bool, default False
        Save only when ``monitor`` is strictly better than the best value so far (at first,
        ``initial_value_threshold``), judged as ``EarlyStopping`` does with ``min_delta=0``.
    save_weights_only : bool, default False
    mode : {"auto", "min", "max"}, default "auto"
        As for ``EarlyStopping``.
    save_freq : "epoch" or int, default "epoch"
        Or save after every ``save_freq`` training batches, counted across epochs (the batch
        logs are then the ones monitored).
    initial_value_threshold : float, optional

    Raises
    ------
    ValueError
        For an unknown ``mode`` or ``save_freq``.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers
    >>> x = np.random.default_rng(0).normal(size=(16, 2))
    >>> model = Sequential([layers.Input((2,)), layers.Dense(1)], seed=0)
    >>> model.compile(loss="mse")
    >>> from scalegen.nn.callbacks import ModelCheckpoint
    >>> checkpoint = ModelCheckpoint("ckpt/model-{epoch:02d}.keras")
    >>> _ = model.fit(x, x[:, :1], epochs=2, verbose=0, callbacks=[checkpoint])
    >>> import os; sorted(os.listdir("ckpt"))
    ['model-01.keras', 'model-02.keras']
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"ModelCheckpoint mode must be 'auto', 'min' or 'max', got {mode!r}")
        if save_freq != "epoch":
            message = (
                f"Unrecognized save_freq: {save_freq!r}. Expected 'epoch' or a positive number of batches"
            )
            save_freq = check_int(save_freq, "save_freq", "ModelCheckpoint", low=1, message=message)
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = mode
        self.save_freq = save_freq
        self.initial_value_threshold = initial_value_threshold
        self.best: float | None = initial_value_threshold
        self._direction: str | None = None
        self._current_epoch = 0
        self._batches_since_save = 0
        self._last_batch_seen = -1

    @property
    def direction(self) -> str:
        """ "min" or "max": the resolved ``mode``."""
        if self._direction is None:
            self._direction = _resolve_mode(self.monitor, self.mode, self.model)
        return self._direction

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        if self._should_save_on_batch(batch):
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _should_save_on_batch(self, batch: int) -> bool:
        if self.save_freq == "epoch":
            return False
        assert isinstance(self.save_freq, int)
        # batch indices restart at 0 each epoch
        seen = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._batches_since_save += seen
        self._last_batch_seen = batch
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            return True
        return False

    def _file_path(self, epoch: int, batch: int | None, logs: Mapping[str, Any]) -> str:
        fields = dict(logs)
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as e:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: {e} is not in '
                f"the logs (available: {', '.join(fields)})"
            ) from None

    def _save(self, epoch: int, batch: int | None, logs: Logs) -> None:
        logs = logs or {}
        path = self._file_path(epoch, batch, logs)
        if self.save_best_only:
            value = logs.get(self.monitor)
            current = None if value is None else _scalar(value)
            if current is None:
                warnings.warn(
                    f"Can save best model only with {self.monitor} available, skipping. "
                    f"Available metrics are: {', '.join(logs.keys())}",
                    UserWarning,
                    stacklevel=3,
                )
                return
            if not _is_better(self.direction, current, self.best):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                before = f"{self.best:.5f}" if self.best is not None else _worst(self.direction)
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {before} to {current:.5f}, "
                    f"saving model to {path}"
                )
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        self._write(path)

    def _write(self, path: str) -> None:
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
