"""``Sequential``: Keras' model API over scalegen's compiled network.

The whole model is one C++ object: ``fit`` makes one call per batch (forward, loss,
backward and optimizer update, with the GIL released), ``predict`` and ``evaluate`` one
call for all rows.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .. import _core
from .._config import resolve_n_jobs
from ..utils._validation import check_int, check_real
from . import losses as _losses
from . import optimizers as _optimizers
from ._callbacks import Callback, CallbackList, History
from ._data import METRICS, DataChecks
from ._layer_base import Layer, _shape
from ._primitives import TrainingPrimitives
from ._progress import ProgressBar, format_epoch_line
from ._summary import summary_lines
from .layers import Input

_global_seed: list[int | None] = [None]


def set_random_seed(seed: int | None) -> None:
    """Seed the weights, shuffling and dropout of the Sequentials created afterwards (Keras' name).

    Parameters
    ----------
    seed : int or None
        Non-negative (else ValueError); None goes back to fresh entropy. A model's ``seed`` wins.

    Examples
    --------
    >>> from scalegen.nn import Sequential, layers, set_random_seed
    >>> set_random_seed(42)
    >>> a = Sequential([layers.Input((2,)), layers.Dense(3)])
    >>> set_random_seed(42)
    >>> b = Sequential([layers.Input((2,)), layers.Dense(3)])
    >>> bool((a.get_weights()[0] == b.get_weights()[0]).all())
    True
    >>> set_random_seed(None)
    """
    _global_seed[0] = check_int(seed, "seed", "set_random_seed", low=0, allow_none=True)


def _snake(name: str) -> str:
    """Keras' automatic layer names: a capitalised word after any character, then a capital
    after a lower-case letter, start a new part (Conv2DTranspose -> conv2d_transpose,
    PReLU -> p_re_lu)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Sequential(DataChecks, TrainingPrimitives):
    """A linear stack of layers with Keras' ``Sequential`` API, built once its input shape is known.

    Parameters
    ----------
    layers : iterable of layers, optional
        An ``Input(shape)`` may come first.
    name : str, default "sequential"
    seed : int, optional
        Seeds the weights, shuffling and dropout (else ``set_random_seed``'s seed, else fresh
        entropy): the same seed gives the same model for any thread count.
    n_jobs : int, optional
        Threads of the kernels (default: ``scalegen.get_num_threads()``).

    Raises
    ------
    ValueError
        If a layer does not fit the shape it receives, or for a negative ``seed``.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers
    >>> x = np.random.default_rng(0).normal(size=(64, 4))
    >>> model = Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(1)], seed=0)
    >>> model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    >>> history = model.fit(x, x.sum(axis=1, keepdims=True), epochs=3, batch_size=16, verbose=0)
    >>> sorted(history.history), model.predict(x[:5]).shape, model.count_params()
    (['loss', 'mae'], (5, 1), 49)
    """

    def __init__(
        self,
        layers: Iterable[Layer | Input] | None = None,
        name: str | None = None,
        *,
        seed: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.name = "sequential" if name is None else str(name)
        seed = check_int(seed, "seed", "Sequential", low=0, allow_none=True)
        if seed is None:
            seed = _global_seed[0]
        self.seed = seed
        resolve_n_jobs(n_jobs)
        self.n_jobs = n_jobs
        self.layers: list[Layer] = []
        self.stop_training = False
        self.history: History | None = None
        self.optimizer: _optimizers.Optimizer | None = None
        self.loss: Any = None  # as given to compile: a name or a Loss
        self._loss: _losses.Loss | None = None
        self.metrics: list[str] = []
        self.trainable = True
        self._input_shape: tuple[int, ...] | None = None
        self._net: Any = None
        self._output_shapes: list[tuple[int, ...]] = []
        self._rng = np.random.default_rng(seed)
        self._lock = threading.RLock()
        for layer in [] if layers is None else layers:
            self.add(layer)

    # ---- structure -----------------------------------------------------------------
    def add(self, layer: Layer | Input) -> None:
        """Append a layer; with a known input shape the model is (re)built at once, so a
        layer that does not fit the shape it receives is refused here."""
        if isinstance(layer, Input):
            if self.layers or self._input_shape is not None:
                raise ValueError("an Input can only come first")
            self._input_shape = layer.shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"expected a scalegen.nn layer, got {type(layer).__name__}")
        if layer._model is not None:
            raise ValueError(f"layer {layer.name!r} already belongs to a model")
        previous_shape, given_name = self._input_shape, layer.name
        if not self.layers and layer.input_shape is not None:
            if self._input_shape is not None and self._input_shape != layer.input_shape:
                raise ValueError(f"input_shape {layer.input_shape} contradicts the Input {self._input_shape}")
            self._input_shape = layer.input_shape
        if layer.name is None:
            base = _snake(type(layer).__name__)
            taken = {other.name for other in self.layers}
            k = 0
            while (candidate := base if k == 0 else f"{base}_{k}") in taken:
                k += 1
            layer.name = candidate
        elif any(other.name == layer.name for other in self.layers):
            raise ValueError(f"the model already has a layer named {layer.name!r}")
        layer._model, layer._index = self, len(self.layers)
        self.layers.append(layer)
        if self._input_shape is not None:
            try:
                self._rebuild()
            except ValueError:
                # refused: the model (and its network, weights and optimizer state) stays as it was
                self.layers.pop()
                layer._model, layer._index, layer.name = None, -1, given_name
                self._input_shape = previous_shape
                raise

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self.layers:
            raise ValueError("the model has no layers")
        layer = self.layers.pop()
        layer._model, layer._index = None, -1
        if self.layers and self._input_shape is not None:
            self._rebuild()
        else:
            self._net = None
        return layer

    @property
    def built(self) -> bool:
        return self._net is not None

    @property
    def input_shape(self) -> tuple[Any, ...]:
        if self._input_shape is None:
            raise AttributeError("the model has no input shape yet: pass input_shape or call build()")
        return (None, *self._input_shape)

    @property
    def output_shape(self) -> tuple[Any, ...]:
        self._require_built()
        return (None, *self._output_shapes[-1])

    def build(self, input_shape: Sequence[Any] | None = None) -> None:
        """Build for inputs of ``input_shape`` (with or without the leading batch axis)."""
        previous = self._input_shape
        if input_shape is not None:
            shape = tuple(input_shape)
            if shape and shape[0] is None:
                shape = shape[1:]
            shape = _shape(shape, "input_shape")
            if self._input_shape is not None and shape != self._input_shape:
                raise ValueError(f"the model was built for inputs {self._input_shape}, not {shape}")
            self._input_shape = shape
        if self._input_shape is None:
            raise ValueError("build() needs an input shape: set the first layer's input_shape or pass one")
        if not self.built:
            try:
                self._rebuild()
            except ValueError:
                self._input_shape = previous  # a refused shape is not remembered
                raise

    def _rebuild(self) -> None:
        """A new compiled network for the current layers, keeping the weights of layers
        that had some and whose shapes did not change."""
        if not self.layers:
            raise ValueError("the model has no layers")
        assert self._input_shape is not None
        old = {}
        if self.built:
            flat = self._net.get_params(), self._net.get_state()
            old = {id(layer): self._layer_weights(layer._index, flat) for layer in self.layers}
        configs = [layer._core_config() for layer in self.layers]
        try:
            net = _core.Network(configs, list(self._input_shape))
        except ValueError as e:
            raise type(e)(f"{e} (input shape {self._input_shape})") from None  # LimitError stays one
        params, state = net.get_params(), net.get_state()
        for index, name, shape, offset, trainable in net.slots:
            value = self.layers[index]._initial_value(name, tuple(shape), self._rng) if trainable else None
            if value is not None:
                params[offset : offset + value.size] = value.ravel()
        net.set_params(params)
        net.set_state(state)
        self._net = net
        self._output_shapes = [tuple(s) for s in net.output_shapes]
        for layer in self.layers:
            kept = old.get(id(layer))
            if kept and [w.shape for w in kept] == [w.shape for w in layer.get_weights()]:
                self._set_layer_weights(layer._index, kept)

    def _require_built(self) -> None:
        if not self.built:
            raise ValueError(
                "the model is not built: give the first layer an input_shape, call build(), or fit/predict"
            )

    # ---- weights ---------------------------------------------------------------------
    def _layer_slots(self, index: int) -> list[tuple[str, tuple[int, ...], int, bool]]:
        return [(n, tuple(s), o, t) for i, n, s, o, t in self._net.slots if i == index]

    def _layer_weights(
        self, index: int, flat: tuple[np.ndarray, np.ndarray] | None = None
    ) -> list[np.ndarray]:
        """Copies of layer ``index``'s tensors, from ``flat`` = (params, state) when given."""
        params, state = flat if flat is not None else (self._net.get_params(), self._net.get_state())
        out = []
        for _, shape, offset, trainable in self._layer_slots(index):
            source = params if trainable else state
            size = int(np.prod(shape))
            out.append(source[offset : offset + size].reshape(shape).copy())
        return out

    def _checked_layer_weights(self, index: int, weights: Sequence[Any]) -> list[np.ndarray]:
        """float32 copies of ``weights`` after checking them against the layer's tensors."""
        slots = self._layer_slots(index)
        layer = self.layers[index]
        weights = list(weights)
        if len(weights) != len(slots):
            raise ValueError(
                f"layer {layer.name!r} expects {len(slots)} weight arrays "
                f"({', '.join(str(s[1]) for s in slots) or 'none'}), got {len(weights)}"
            )
        out = []
        for (name, shape, _, _), w in zip(slots, weights, strict=True):
            arr = np.asarray(w, dtype=np.float32)
            if arr.shape != shape:
                raise ValueError(f"{layer.name}/{name} has shape {shape}, got an array of shape {arr.shape}")
            if not np.isfinite(arr).all():
                raise ValueError(f"{layer.name}/{name} contains NaN or infinity")
            out.append(arr)
        return out

    def _write_weights(self, per_layer: dict[int, list[np.ndarray]]) -> None:
        """Writes checked arrays (layer index -> arrays) into the network in one go."""
        with self._lock:
            params, state = self._net.get_params(), self._net.get_state()
            for index, arrays in per_layer.items():
                for (_, _, offset, trainable), arr in zip(self._layer_slots(index), arrays, strict=True):
                    (params if trainable else state)[offset : offset + arr.size] = arr.ravel()
            self._net.set_params(params)
            self._net.set_state(state)

    def _set_layer_weights(self, index: int, weights: Sequence[Any]) -> None:
        self._write_weights({index: self._checked_layer_weights(index, weights)})

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights, layer by layer in Keras' order."""
        self._require_built()
        flat = self._net.get_params(), self._net.get_state()
        return [w for i in range(len(self.layers)) for w in self._layer_weights(i, flat)]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace all weights (Keras' order); nothing is written unless every array fits."""
        self._require_built()
        weights = list(weights)
        counts = [len(self._layer_slots(i)) for i in range(len(self.layers))]
        if len(weights) != sum(counts):
            raise ValueError(f"the model has {sum(counts)} weight arrays, got {len(weights)}")
        checked, start = {}, 0
        for i, k in enumerate(counts):
            checked[i] = self._checked_layer_weights(i, weights[start : start + k])
            start += k
        self._write_weights(checked)

    def count_params(self) -> int:
        self._require_built()
        return int(self._net.get_params().size + self._net.get_state().size)

    # ---- compile ---------------------------------------------------------------------
    def compile(
        self,
        optimizer: str | _optimizers.Optimizer = "rmsprop",
        loss: str | _losses.Loss | None = None,
        metrics: Sequence[str] | None = None,
    ) -> None:
        """Choose the optimizer, the loss (a ``scalegen.nn.losses`` object or its name) and
        the metrics: 'accuracy', and 'mae' / 'mse' for losses on values."""
        opt = _optimizers.get(optimizer)
        loss_obj = _losses.get(loss)
        names = []
        for m in [] if metrics is None else ([metrics] if isinstance(metrics, str) else list(metrics)):
            if not isinstance(m, str) or m.lower() not in METRICS:
                raise ValueError(f"unknown metric {m!r}: use 'accuracy', 'mae' or 'mse'")
            if loss_obj.sparse and METRICS[m.lower()] != 1:
                raise ValueError(f"the metric {m!r} compares values: {loss_obj.name} takes class indices")
            names.append(m.lower())
        self.optimizer, self.loss, self._loss, self.metrics = opt, loss, loss_obj, names
        if self.built:
            self._net.set_optimizer_state(*self._fresh_optimizer_state())

    def _fresh_optimizer_state(self) -> tuple[np.ndarray, np.ndarray, int]:
        size = self._net.get_params().size
        return np.zeros(size, np.float32), np.zeros(size, np.float32), 0

    @property
    def compiled(self) -> bool:
        return self.loss is not None

    @property
    def metrics_names(self) -> list[str]:
        return ["loss", *self.metrics]

    def _require_compiled(self) -> None:
        if not self.compiled:
            raise ValueError("You must call compile() before training or evaluating the model")

    def _threads(self) -> int:
        return resolve_n_jobs(self.n_jobs)

    # ---- training ---------------------------------------------------------------------
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: Sequence[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple[Any, Any] | None = None,
        shuffle: bool = True,
        class_weight: dict[int, float] | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
    ) -> History:
        """Train for ``epochs`` epochs; returns the History (also ``model.history``).

        ``sample_weight`` (one per row) and ``class_weight`` ({class: weight}) weigh each
        row's loss as in Keras: the loss is the weighted sum over a batch divided by its rows."""
        self._require_compiled()
        batch_size = _batch_size(batch_size, "fit")
        epochs = check_int(epochs, "epochs", "Sequential.fit", low=1)
        initial_epoch = check_int(initial_epoch, "initial_epoch", "Sequential.fit", low=0)
        verbosity = _verbosity(verbose)
        x = self._check_x(x)
        labels, values = self._check_y(y, x.shape[0])
        weights = self._sample_weights(sample_weight, class_weight, labels, values, x.shape[0])
        validation_split = check_real(
            validation_split, "validation_split", "Sequential.fit", low=0, high=1, closed="left"
        )
        val: tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None] | None = None
        if validation_data is not None:
            if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (x_val, y_val)")
            vx = self._check_x(validation_data[0], "validation x")
            val = (vx, *self._check_y(validation_data[1], vx.shape[0], "validation y"), None)
        elif validation_split > 0:
            # Keras: the last fraction of the rows, before any shuffling
            split = int(x.shape[0] * (1 - validation_split))
            if split == 0 or split == x.shape[0]:
                raise ValueError(
                    f"validation_split={validation_split} leaves no rows to train or to validate on"
                )

            def head(a: np.ndarray | None) -> np.ndarray | None:
                return None if a is None else a[:split]

            def tail(a: np.ndarray | None) -> np.ndarray | None:
                return None if a is None else a[split:]

            val = (x[split:], tail(labels), tail(values), tail(weights))
            x, labels, values, weights = x[:split], head(labels), head(values), head(weights)
        n = x.shape[0]
        steps = math.ceil(n / batch_size)
        history = History()
        cbs = CallbackList([history, *([] if callbacks is None else list(callbacks))])
        cbs.set_model(self)
        cbs.set_params({"epochs": epochs, "steps": steps, "verbose": verbosity})
        assert self.optimizer is not None and self._loss is not None
        loss_kind, from_logits = self._loss._kind, self._loss.from_logits
        threads = self._threads()
        with self._lock:
            self._sync_trainable()
            self.stop_training = False
            self.history = history
            cbs.on_train_begin()
            for epoch in range(initial_epoch, epochs):
                cbs.on_epoch_begin(epoch)
                opt = self.optimizer._core_config()  # learning rate may be changed by a callback
                order = self._rng.permutation(n) if shuffle else np.arange(n)
                seed = int(self._rng.integers(2**63))
                bar = ProgressBar(steps) if verbosity == 1 else None
                if bar is not None:
                    ProgressBar.epoch_header(epoch + 1, epochs)
                started = time.perf_counter()
                totals = [0.0] * 5
                logs: dict[str, float] = {}
                for step in range(steps):
                    cbs.on_train_batch_begin(step)
                    idx = np.ascontiguousarray(
                        order[step * batch_size : (step + 1) * batch_size], dtype=np.int64
                    )
                    stats = self._net.train_step(
                        x, labels, values, weights, idx, loss_kind, from_logits, opt, seed + step, threads
                    )
                    totals = [t + v for t, v in zip(totals, stats, strict=True)]
                    logs = self._logs(totals)
                    if not math.isfinite(logs["loss"]):
                        raise FloatingPointError(
                            f"the loss became {logs['loss']} at epoch {epoch + 1}, batch {step + 1}: "
                            "lower the learning rate or check the data"
                        )
                    cbs.on_train_batch_end(step, logs)
                    if bar is not None:
                        bar.update(step + 1, logs, finalize=False)
                    if self.stop_training:
                        break
                if val is not None:
                    vstats = self._net.evaluate(*val, loss_kind, from_logits, max(batch_size, 256), threads)
                    logs.update(self._logs(vstats, "val_"))
                if bar is not None:
                    bar.update(steps, logs, finalize=True)
                elif verbosity == 2:
                    ProgressBar.epoch_header(epoch + 1, epochs)
                    print(format_epoch_line(logs, time.perf_counter() - started, steps), flush=True)
                cbs.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
            cbs.on_train_end()
        return history

    # ---- inference ---------------------------------------------------------------------
    def predict(self, x: Any, batch_size: int | None = None, verbose: int | str = 0) -> np.ndarray:
        """The outputs for all rows of x (float32), computed in one call by batches."""
        batch_size = _batch_size(batch_size, "predict")
        _verbosity(verbose)
        x = self._check_x(x, check_finite=False)  # the core's predict checks
        return self._net.predict(x, batch_size, self._threads())

    def __call__(self, x: Any, training: bool = False) -> np.ndarray:
        """The outputs for x, as ``forward(x, training)``."""
        return self.forward(x, training)

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        sample_weight: Any = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """Loss (and metrics) over all rows: a float, a list as ``metrics_names``, or a dict."""
        self._require_compiled()
        batch_size = _batch_size(batch_size, "evaluate")
        verbosity = _verbosity(verbose)
        x = self._check_x(x)
        labels, values = self._check_y(y, x.shape[0])
        weights = _losses.sample_weights(sample_weight, x.shape[0])
        assert self._loss is not None
        started = time.perf_counter()
        stats = self._net.evaluate(
            x, labels, values, weights, self._loss._kind, self._loss.from_logits, batch_size, self._threads()
        )
        logs = self._logs(stats)
        if verbosity:
            steps = math.ceil(x.shape[0] / batch_size)
            print(format_epoch_line(logs, time.perf_counter() - started, steps), flush=True)
        return self._result(logs, return_dict)

    # ---- description -------------------------------------------------------------------
    def summary(self, print_fn: Any = None) -> None:
        """Print each layer's name, type, output shape and parameter count, then the totals."""
        for line in summary_lines(self):
            (print if print_fn is None else print_fn)(line)

    # ---- files -----------------------------------------------------------------------------
    def save(self, filepath: Any, include_optimizer: bool = True) -> None:
        """Write the architecture, weights, compile settings and optimizer state to one file
        (a zip of JSON and ``.npz``; no pickle). ``scalegen.nn.load_model`` reads it."""
        from ._saving import save_model

        save_model(self, filepath, include_optimizer=include_optimizer)

    def to_onnx(self, path: Any = None, opset: int = 13, input_layout: str = "NCHW") -> Any:
        """The model as an ``onnx.ModelProto`` (opset 13, dynamic batch), written to ``path``
        when given. ``input_layout`` is the layout of image inputs (and outputs): 'NCHW'
        as ONNX's convolutions, or 'NHWC' as scalegen's. Needs ``scalegen[onnx]``."""
        from ._onnx import to_onnx

        return to_onnx(self, path, opset=opset, input_layout=input_layout)

    def save_native(self, filepath: Any) -> None:
        """Write the network for C++ programs: ``scalegen::nn::load_network(path)`` reads it
        (see cpp/examples/nn_predict.cpp); inputs there are channels-last float32 rows."""
        self._require_built()
        self._net.save(os.fspath(filepath))

    def save_weights(self, filepath: Any) -> None:
        """Write the weights alone, as named arrays in an ``.npz`` file."""
        from ._saving import save_weights

        save_weights(self, filepath)

    def load_weights(self, filepath: Any) -> None:
        """Read weights written by ``save_weights`` into this (built) model."""
        from ._saving import load_weights

        load_weights(self, filepath)

    def __getstate__(self) -> dict[str, Any]:
        from ._saving import model_state

        config, arrays = model_state(self)
        return {"config": config, "arrays": arrays, "n_jobs": self.n_jobs}

    def __setstate__(self, state: dict[str, Any]) -> None:
        from ._saving import model_from_state

        other = model_from_state(state["config"], state["arrays"])
        self.__dict__.update(other.__dict__)
        self.n_jobs = state["n_jobs"]
        for layer in self.layers:
            layer._model = self

    def get_config(self) -> dict[str, Any]:
        """The architecture, JSON-ready (``Sequential.from_config`` rebuilds it)."""
        return {
            "name": self.name,
            "input_shape": None if self._input_shape is None else list(self._input_shape),
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()} for layer in self.layers
            ],
        }

    def __repr__(self) -> str:
        return f"<Sequential {self.name!r}: {len(self.layers)} layers{'' if self.built else ', not built'}>"


def _batch_size(batch_size: Any, method: str) -> int:
    """Keras' default of 32 rows, or a positive int."""
    return 32 if batch_size is None else check_int(batch_size, "batch_size", f"Sequential.{method}", low=1)


def _verbosity(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)
