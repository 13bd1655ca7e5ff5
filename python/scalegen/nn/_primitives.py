"""Sequential's training primitives: forward and backward as an API, accumulated gradients,
optimizer steps, frozen layers, and Keras' ``*_on_batch`` methods.

``fit`` stays the fast path (one C++ call per batch: forward, loss, backward, update). These
are for custom training loops and for models that chain (a decoder's input gradient is its
encoder's output gradient): the same kernels, the same gradients.
"""

# mypy: disable-error-code="misc"
# (methods typed with self: Sequential, the class they are mixed into)
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

if TYPE_CHECKING:
    from . import optimizers as _optimizers
    from ._model import Sequential


class TrainingPrimitives:
    """Mixed into Sequential."""

    def _sync_trainable(self: Sequential) -> None:
        """The core's frozen layers, from each layer's ``trainable`` and the model's."""
        for layer in self.layers:
            self._net.set_trainable(layer._index, bool(self.trainable and layer.trainable))

    def _trainable_slots(self: Sequential) -> list[tuple[tuple[int, ...], int]]:
        """(shape, offset) of every trainable weight, in ``trainable_weights``' order."""
        return [
            (shape, offset)
            for layer in self.layers
            if self.trainable and layer.trainable
            for _, shape, offset, trainable in self._layer_slots(layer._index)
            if trainable
        ]

    @property
    def trainable_weights(self: Sequential) -> list[np.ndarray]:
        """Copies of the weights training changes, layer by layer."""
        self._require_built()
        params = self._net.get_params()
        return [params[o : o + int(np.prod(s))].reshape(s).copy() for s, o in self._trainable_slots()]

    @property
    def non_trainable_weights(self: Sequential) -> list[np.ndarray]:
        """Copies of the other weights (frozen layers', and moving statistics)."""
        return (
            [w for layer in self.layers for w in layer.non_trainable_weights]
            if self.trainable
            else [w for layer in self.layers for w in layer.get_weights()]
        )

    # ---- forward and backward ---------------------------------------------------------------
    def forward(self: Sequential, x: Any, training: bool = True) -> np.ndarray:
        """The outputs for x. In training mode (dropout active, batch statistics) what
        ``backward`` needs is kept, until the next forward or training call."""
        if not training:
            return self.predict_on_batch(x)
        x = self._check_x(x, check_finite=False)  # the core checks it, in one pass over the bits
        with self._lock:
            self._sync_trainable()
            return self._net.forward(x, int(self._rng.integers(2**63)), self._threads())

    @overload
    def backward(self: Sequential, dy: Any, input_gradient: Literal[True] = ...) -> np.ndarray: ...
    @overload
    def backward(self: Sequential, dy: Any, input_gradient: Literal[False]) -> None: ...

    def backward(self: Sequential, dy: Any, input_gradient: bool = True) -> np.ndarray | None:
        """Backward pass of the last ``forward(training=True)``: ``dy`` is the gradient of the
        loss with respect to its output. The parameter gradients are added to those
        ``gradients()`` returns; the gradient with respect to the input is returned, or None
        with ``input_gradient=False`` (the first layer then skips computing it)."""
        self._require_built()
        dy = np.ascontiguousarray(dy, dtype=np.float32)  # NaN or infinity: the core refuses it
        with self._lock:
            return self._net.backward(dy, bool(input_gradient), self._threads())

    def gradients(self: Sequential) -> list[np.ndarray]:
        """The gradients added up by ``backward`` since ``zero_gradients``, one array per
        trainable weight (``trainable_weights``' order)."""
        self._require_built()
        flat = self._net.get_accumulated_grads()
        return [flat[o : o + int(np.prod(s))].reshape(s) for s, o in self._trainable_slots()]

    def zero_gradients(self: Sequential) -> None:
        self._require_built()
        self._net.zero_accumulated_grads()

    def apply_gradients(self: Sequential, gradients: Sequence[Any] | None = None) -> None:
        """One step of the compiled optimizer from the accumulated gradients, or from
        ``gradients`` (one array per trainable weight, as ``gradients()`` returns)."""
        self._require_compiled()
        assert self.optimizer is not None
        self._step(self.optimizer, gradients)

    def _step(self: Sequential, optimizer: _optimizers.Optimizer, gradients: Sequence[Any] | None) -> None:
        self._require_built()
        with self._lock:
            self._sync_trainable()
            if gradients is not None:
                slots = self._trainable_slots()
                if len(gradients) != len(slots):
                    raise ValueError(
                        f"expected {len(slots)} gradients (one per trainable weight), got {len(gradients)}"
                    )
                flat = np.zeros(self._net.param_count, np.float32)
                for g, (shape, offset) in zip(gradients, slots, strict=True):
                    g = np.asarray(g, dtype=np.float32)
                    if g.shape != shape or not np.isfinite(g).all():
                        raise ValueError(
                            f"a gradient of shape {g.shape} (or not finite) for a weight of shape {shape}"
                        )
                    flat[offset : offset + g.size] = g.ravel()
                self._net.set_accumulated_grads(flat)
            self._net.apply_gradients(optimizer._core_config(), self._threads())

    # ---- Keras' batch methods -----------------------------------------------------------------
    def train_on_batch(
        self: Sequential,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: dict[int, float] | None = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """One optimizer step on all rows of x: the loss (and metrics) before the step."""
        self._require_compiled()
        assert self.optimizer is not None and self._loss is not None
        x = self._check_x(x)
        labels, values = self._check_y(y, x.shape[0])
        weights = self._sample_weights(sample_weight, class_weight, labels, values, x.shape[0])
        idx = np.arange(x.shape[0], dtype=np.int64)
        with self._lock:
            self._sync_trainable()
            stats = self._net.train_step(
                x, labels, values, weights, idx, self._loss._kind, self._loss.from_logits,
                self.optimizer._core_config(), int(self._rng.integers(2**63)), self._threads(),
            )  # fmt: skip
        return self._result(self._logs(stats), return_dict)

    def test_on_batch(
        self: Sequential, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> float | list[float] | dict[str, float]:
        x = self._check_x(x)
        return self.evaluate(
            x, y, batch_size=x.shape[0], verbose=0, sample_weight=sample_weight, return_dict=return_dict
        )

    def predict_on_batch(self: Sequential, x: Any) -> np.ndarray:
        x = self._check_x(x, check_finite=False)  # the core's predict checks
        return self._net.predict(x, x.shape[0], self._threads())
