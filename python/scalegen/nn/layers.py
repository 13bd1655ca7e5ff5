"""Layers of ``scalegen.nn`` with Keras' names and defaults (channels-last tensors).

A layer holds its hyper-parameters; the weights live in the model's compiled network
once the model is built (``layer.get_weights()`` then reads them).
"""

from __future__ import annotations

from typing import Any, ClassVar

from .. import _core
from ..utils._validation import check_real
from ._initializers import INITIALIZERS, initialize
from ._layer_base import (
    ACTIVATIONS,
    Layer,
    Padding,
    _Activated,
    _check_activation,
    _check_data_format,
    _padding,
    _pair,
    _positive_int,
    _set_activation,
    _set_padding,
    _shape,
)


class Conv2D(_Activated):
    """2-D convolution of (height, width, channels) images; kernel (kh, kw, in / groups, filters).

    Parameters
    ----------
    filters : int
    kernel_size, strides, dilation_rate : int or (int, int)
        Window, step (default 1) and spacing of the taps (default 1).
    padding : "valid" (default), "same" or ((top, bottom), (left, right))
        "same" as TensorFlow pads; explicit pads are a scalegen extension.
    activation : str or None, default None
    use_bias : bool, default True
    kernel_initializer, bias_initializer : str, default "glorot_uniform", "zeros"
    groups : int, default 1
        Channels and filters split into groups convolved apart (depthwise: one per channel).
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Examples
    --------
    >>> from scalegen.nn import Sequential, layers
    >>> model = Sequential([layers.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu")])
    >>> model.output_shape, [w.shape for w in model.layers[0].get_weights()]
    ((None, 6, 6, 4), [(3, 3, 1, 4), (4,)])
    """

    _kind = _core.LayerKind.conv2d
    _config_keys: ClassVar[tuple[str, ...]] = (
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "activation",
        "use_bias",
        "kernel_initializer",
        "bias_initializer",
        "dilation_rate",
        "groups",
    )

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        strides: int | tuple[int, int] = (1, 1),
        padding: Padding = "valid",
        data_format: str | None = None,
        dilation_rate: int | tuple[int, int] = (1, 1),
        groups: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: str = "glorot_uniform",
        bias_initializer: str = "zeros",
        *,
        name: str | None = None,
        input_shape: Any = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            name=name,
            input_shape=input_shape,
            trainable=trainable,
        )
        _check_data_format(data_format, type(self).__name__)
        self.filters = _positive_int(filters, "filters")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _padding(padding)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        self.groups = _positive_int(groups, "groups")
        if self.filters % self.groups:
            raise ValueError(f"groups ({self.groups}) must divide filters ({self.filters})")

    def _core_config(self) -> Any:
        c = super()._core_config()
        c.filters = self.filters
        c.kernel_h, c.kernel_w = self.kernel_size
        c.stride_h, c.stride_w = self.strides
        _set_padding(c, self.padding)
        c.dilation_h, c.dilation_w = self.dilation_rate
        c.groups = self.groups
        return c


class _Pooling2D(Layer):
    _config_keys = ("pool_size", "strides", "padding")

    def __init__(
        self,
        pool_size: int | tuple[int, int] = (2, 2),
        strides: int | tuple[int, int] | None = None,
        padding: Padding = "valid",
        data_format: str | None = None,
        *,
        name: str | None = None,
        input_shape: Any = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        _check_data_format(data_format, type(self).__name__)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _pair(strides, "strides")
        self.padding = _padding(padding)

    def _core_config(self) -> Any:
        c = super()._core_config()
        c.kernel_h, c.kernel_w = self.pool_size
        c.stride_h, c.stride_w = self.strides
        _set_padding(c, self.padding)
        return c


class MaxPooling2D(_Pooling2D):
    """The maximum of each channel over windows.

    Parameters
    ----------
    pool_size : int or (int, int), default (2, 2)
    strides : int or (int, int), default pool_size
    padding : "valid" (default), "same" or ((top, bottom), (left, right))
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> Sequential([layers.Input((4, 4, 1)), layers.MaxPooling2D(2)]).predict(x)[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    """

    _kind = _core.LayerKind.max_pool2d


class AveragePooling2D(_Pooling2D):
    """The mean of each channel over windows; with "same" padding the padded cells do not count.

    Parameters
    ----------
    pool_size : int or (int, int), default (2, 2)
    strides : int or (int, int), default pool_size
    padding : "valid" (default), "same" or ((top, bottom), (left, right))
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> Sequential([layers.Input((4, 4, 1)), layers.AveragePooling2D(2)]).predict(x)[0, :, :, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """

    _kind = _core.LayerKind.avg_pool2d


class Flatten(Layer):
    """(height, width, channels) -> (height * width * channels,), in channels-last order.

    Parameters
    ----------
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Examples
    --------
    >>> from scalegen.nn import Sequential, layers
    >>> Sequential([layers.Input((2, 3, 4)), layers.Flatten()]).output_shape
    (None, 24)
    """

    _kind = _core.LayerKind.flatten


class Dense(_Activated):
    """Fully connected layer, ``activation(x @ kernel + bias)``; kernel (in, units).

    Parameters
    ----------
    units : int
    activation : str or None, default None
    use_bias : bool, default True
    kernel_initializer, bias_initializer : str, default "glorot_uniform", "zeros"
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Examples
    --------
    >>> from scalegen.nn import Sequential, layers
    >>> model = Sequential([layers.Input((5,)), layers.Dense(3, activation="relu")])
    >>> model.output_shape, [w.shape for w in model.layers[0].get_weights()]
    ((None, 3), [(5, 3), (3,)])
    """

    _kind = _core.LayerKind.dense
    _config_keys = ("units", "activation", "use_bias", "kernel_initializer", "bias_initializer")

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: str = "glorot_uniform",
        bias_initializer: str = "zeros",
        *,
        name: str | None = None,
        input_shape: Any = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            name=name,
            input_shape=input_shape,
            trainable=trainable,
        )
        self.units = _positive_int(units, "units")

    def _core_config(self) -> Any:
        c = super()._core_config()
        c.units = self.units
        return c


class Dropout(Layer):
    """Zeroes a fraction ``rate`` (in [0, 1)) of its inputs while training and scales the rest
    by 1 / (1 - rate); the identity at inference.

    Parameters
    ----------
    rate : float
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers
    >>> model = Sequential([layers.Input((100,)), layers.Dropout(0.5)], seed=0)
    >>> x = np.ones((1, 100), dtype="float32")
    >>> np.unique(model.predict(x)).tolist(), np.unique(model(x, training=True)).tolist()
    ([1.0], [0.0, 2.0])
    """

    _kind = _core.LayerKind.dropout
    _config_keys = ("rate",)

    def __init__(
        self, rate: float, *, name: str | None = None, input_shape: Any = None, trainable: bool = True
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        self.rate = check_real(rate, "rate", "Dropout", low=0.0, high=1.0, closed="left")

    def _core_config(self) -> Any:
        c = super()._core_config()
        c.rate = self.rate
        return c


class BatchNormalization(Layer):
    """Normalises each channel (the last axis) with the batch's statistics while training and
    moving averages at inference; weights gamma, beta, moving_mean, moving_variance.

    Parameters
    ----------
    axis : int, default -1
        Only -1 (channels last); another raises ValueError.
    momentum : float, default 0.99
    epsilon : float, default 1e-3
    center, scale : bool, default True
        Learn beta (an offset) and gamma (a scale).
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Examples
    --------
    >>> from scalegen.nn import Sequential, layers
    >>> model = Sequential([layers.Input((4, 4, 3)), layers.BatchNormalization()])
    >>> [w.shape for w in model.layers[0].get_weights()]
    [(3,), (3,), (3,), (3,)]
    """

    _kind = _core.LayerKind.batch_norm
    _config_keys = ("axis", "momentum", "epsilon", "center", "scale")

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        *,
        name: str | None = None,
        input_shape: Any = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        if axis != -1:
            raise ValueError(f"BatchNormalization supports axis=-1 (channels last) only, got {axis!r}")
        self.axis = -1
        self.momentum = check_real(momentum, "momentum", "BatchNormalization", low=0.0, high=1.0)
        self.epsilon = check_real(epsilon, "epsilon", "BatchNormalization", low=0.0, closed="neither")
        self.center: bool = bool(center)
        self.scale: bool = bool(scale)

    def _core_config(self) -> Any:
        c = super()._core_config()
        c.momentum = self.momentum
        c.epsilon = self.epsilon
        c.center = self.center
        c.scale = self.scale
        return c


class Activation(Layer):
    """Applies an activation by name (softmax and log_softmax over the last axis).

    Parameters
    ----------
    activation : str
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers
    >>> Sequential([layers.Input((3,)), layers.Activation("softmax")]).predict(np.zeros((1, 3))).round(3)
    array([[0.333, 0.333, 0.333]], dtype=float32)
    """

    _kind = _core.LayerKind.activation
    _config_keys = ("activation",)

    def __init__(
        self, activation: str, *, name: str | None = None, input_shape: Any = None, trainable: bool = True
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        self.activation = _check_activation(activation)

    def _core_config(self) -> Any:
        c = super()._core_config()
        _set_activation(c, self.activation)
        return c


class Input:
    """The input shape of a model, without the batch axis (Keras' ``keras.Input``).

    Parameters
    ----------
    shape : int or tuple of int
        (features,) or (height, width, channels).
    name : str, optional

    Examples
    --------
    >>> from scalegen.nn import Sequential, layers
    >>> model = Sequential([layers.Input((28, 28, 1)), layers.Flatten()])
    >>> model.input_shape, model.output_shape
    ((None, 28, 28, 1), (None, 784))
    """

    def __init__(self, shape: Any, *, name: str | None = None) -> None:
        self.shape = _shape(shape, "shape")
        self.name = name

    def __repr__(self) -> str:
        return f"Input(shape={self.shape})"


# the layers of decoders and generators (they build on the classes above)
from ._generative_layers import (  # noqa: E402
    ELU,
    GENERATIVE_LAYERS,
    Conv2DTranspose,
    GlobalAveragePooling2D,
    LeakyReLU,
    PReLU,
    Reshape,
    UpSampling2D,
    ZeroPadding2D,
)

LAYERS: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (
        Conv2D,
        MaxPooling2D,
        AveragePooling2D,
        Flatten,
        Dense,
        Dropout,
        BatchNormalization,
        Activation,
        *GENERATIVE_LAYERS,
    )
}


__all__ = [
    "ACTIVATIONS",
    "ELU",
    "INITIALIZERS",
    "Activation",
    "AveragePooling2D",
    "BatchNormalization",
    "Conv2D",
    "Conv2DTranspose",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAveragePooling2D",
    "Input",
    "Layer",
    "LeakyReLU",
    "MaxPooling2D",
    "PReLU",
    "Reshape",
    "UpSampling2D",
    "ZeroPadding2D",
    "initialize",
]
