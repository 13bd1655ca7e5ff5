"""What every layer of ``scalegen.nn`` shares: the ``Layer`` base class, the activations by
name, and the checks of hyper-parameters (sizes are C ints in the core)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .. import _core
from ..utils._validation import check_int, is_int
from ._initializers import INITIALIZERS, initialize

if TYPE_CHECKING:
    from ._model import Sequential

ACTIVATIONS = (
    "linear", "relu", "sigmoid", "tanh", "softmax", "log_softmax",
    "leaky_relu", "elu", "gelu", "softplus", "swish", "silu",
)  # fmt: skip
# Keras' parameters of the activations given by name (the layers LeakyReLU and ELU set their own)
ACTIVATION_ALPHA = {"leaky_relu": 0.2, "elu": 1.0}


def _check_activation(activation: Any) -> str:
    if activation is None:
        return "linear"
    if not isinstance(activation, str) or activation.lower() not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: use one of {', '.join(ACTIVATIONS)} or None")
    return "swish" if activation.lower() == "silu" else activation.lower()


def _set_activation(c: Any, name: str) -> None:
    c.activation = name
    c.alpha = ACTIVATION_ALPHA.get(name, 0.0)


def _check_initializer(name: Any, what: str) -> str:
    if not isinstance(name, str) or name.lower() not in INITIALIZERS:
        raise ValueError(f"unknown {what} {name!r}: use one of {', '.join(INITIALIZERS)}")
    return name.lower()


_INT_MAX = 2**31 - 1  # the core's sizes are C ints


def _positive_int(value: Any, what: str) -> int:
    message = f"{what} must be a positive integer up to {_INT_MAX}, got {value!r}"
    return check_int(value, what, "the layer", low=1, high=_INT_MAX, message=message)


def _pair(value: Any, what: str) -> tuple[int, int]:
    """An int or a pair of ints, as Keras takes kernel sizes, strides and pool sizes."""
    if is_int(value):
        v = _positive_int(value, what)
        return v, v
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        return _positive_int(value[0], what), _positive_int(value[1], what)
    raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")


Padding = str | tuple[tuple[int, int], tuple[int, int]]


def _padding(value: Any) -> Padding:
    """'valid', 'same' (TensorFlow's rule), or explicit ((top, bottom), (left, right)) as ONNX
    and PyTorch pad (a scalegen extension, used by ``load_onnx``)."""
    if isinstance(value, str) and value.lower() in ("valid", "same"):
        return value.lower()
    try:
        (top, bottom), (left, right) = value
        given = (top, bottom, left, right)
        pads = tuple(int(v) for v in given)
        pairs = zip(given, pads, strict=True)
        bad = (isinstance(v, bool) or not 0 <= p <= _INT_MAX or v != p for v, p in pairs)
        if any(bad):
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(
            "padding must be 'valid', 'same' or ((top, bottom), (left, right)) of ints in "
            f"[0, 2**31 - 1], got {value!r}"
        ) from None
    return (pads[0], pads[1]), (pads[2], pads[3])


def _set_padding(c: Any, padding: Padding) -> None:
    if isinstance(padding, str):
        c.same_padding = padding == "same"
    else:
        (c.pad_top, c.pad_bottom), (c.pad_left, c.pad_right) = padding


def _shape(value: Any, what: str) -> tuple[int, ...]:
    if is_int(value):
        value = (value,)
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValueError(f"{what} must be a tuple of positive ints, got {value!r}")
    shape = tuple(_positive_int(v, what) for v in value)
    if len(shape) not in (1, 3):
        raise ValueError(f"{what} must be (features,) or (height, width, channels), got {value!r}")
    return shape


class Layer:
    """Base class of the layers: a name, an optional input shape, and the weights once the
    model is built. Activations are names in ``ACTIVATIONS`` (None: linear), initializers
    names in ``INITIALIZERS``; names and defaults follow Keras 3 (channels last).

    Parameters
    ----------
    name : str, optional
        Unique in a model; by default Keras' name from the class ("dense", "dense_1", ...).
    input_shape : tuple of int, optional
        (features,) or (height, width, channels), without the batch axis (first layer).
    trainable : bool, default True
        False freezes the weights (and runs a BatchNormalization in inference mode).

    Raises
    ------
    ValueError
        From every layer's constructor, for an argument out of range (TypeError for ``trainable``).

    Examples
    --------
    >>> from scalegen.nn import Sequential, layers
    >>> dense = layers.Dense(4)
    >>> model = Sequential([layers.Input((3,)), dense])
    >>> dense.name, dense.output_shape, dense.count_params()
    ('dense', (None, 4), 16)
    >>> dense.trainable = False
    >>> len(dense.trainable_weights), len(dense.non_trainable_weights)
    (0, 2)
    """

    _kind: ClassVar[Any] = None  # the _core.LayerKind of a concrete layer
    _config_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, name: str | None = None, input_shape: Any = None, trainable: bool = True) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"a layer name must be a non-empty string, got {name!r}")
        self.name = name
        self.input_shape = None if input_shape is None else _shape(input_shape, "input_shape")
        self.trainable = trainable
        self._model: Sequential | None = None
        self._index = -1

    # ---- configuration -------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-ready (what ``save`` writes)."""
        config: dict[str, Any] = {"name": self.name}
        for key in self._config_keys:
            value = getattr(self, key)
            config[key] = list(value) if isinstance(value, tuple) else value
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        if not self.trainable:
            config["trainable"] = False
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def _core_config(self) -> Any:
        c = _core.LayerConfig()
        c.kind = self._kind
        return c

    # ---- weights ---------------------------------------------------------------------
    def _initial_value(
        self, name: str, shape: tuple[int, ...], rng: np.random.Generator
    ) -> np.ndarray | None:
        """The initial value of a weight tensor, or None for the core's (zeros, ones)."""
        return None

    @property
    def trainable(self) -> bool:
        """False freezes the weights: training leaves them alone, and a BatchNormalization
        runs in inference mode (Keras)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, bool | np.bool_):
            raise TypeError(f"trainable must be True or False, got {value!r}")
        self._trainable = bool(value)

    @property
    def weights(self) -> list[np.ndarray]:
        return self.get_weights()

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """Copies of the weights training changes (none when frozen; moving statistics never)."""
        if not (self.trainable and self._model is not None and self._model.built):
            return []
        return [
            w
            for w, (_, _, _, t) in zip(self.get_weights(), self._model._layer_slots(self._index), strict=True)
            if t
        ]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        if self._model is None or not self._model.built:
            return []
        slots = self._model._layer_slots(self._index)
        return [
            w for w, (_, _, _, t) in zip(self.get_weights(), slots, strict=True) if not (t and self.trainable)
        ]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of this layer's weights in Keras' order ([] before the model is built)."""
        if self._model is None or not self._model.built:
            return []
        return self._model._layer_weights(self._index)

    def set_weights(self, weights: Sequence[Any]) -> None:
        if self._model is None or not self._model.built:
            raise ValueError(f"layer {self.name!r} has no weights yet: build the model first")
        self._model._set_layer_weights(self._index, weights)

    def count_params(self) -> int:
        return int(sum(w.size for w in self.get_weights()))

    @property
    def output_shape(self) -> tuple[Any, ...]:
        if self._model is None or not self._model.built:
            raise AttributeError(f"layer {self.name!r} has no output shape until its model is built")
        return (None, *self._model._output_shapes[self._index])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._config_keys)
        return f"{type(self).__name__}({args})"


class _Activated(Layer):
    """A layer with a fused output activation and Keras' weight initializers."""

    def __init__(
        self,
        *,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: str = "glorot_uniform",
        bias_initializer: str = "zeros",
        name: str | None = None,
        input_shape: Any = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        self.activation = _check_activation(activation)
        if not isinstance(use_bias, bool | np.bool_):
            raise ValueError(f"use_bias must be True or False, got {use_bias!r}")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _check_initializer(kernel_initializer, "kernel_initializer")
        self.bias_initializer = _check_initializer(bias_initializer, "bias_initializer")

    def _core_config(self) -> Any:
        c = super()._core_config()
        _set_activation(c, self.activation)
        c.use_bias = self.use_bias
        return c

    def _initial_value(self, name: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        init = self.kernel_initializer if name == "kernel" else self.bias_initializer
        return initialize(init, shape, rng)


def _check_data_format(value: Any, owner: str) -> None:
    """Keras' ``data_format``: scalegen's tensors are channels-last."""
    if value not in (None, "channels_last"):
        raise ValueError(
            f"{owner}: data_format={value!r} is not supported: scalegen.nn tensors are channels-last "
            "(None or 'channels_last'); transpose NCHW input with x.transpose(0, 2, 3, 1)"
        )
