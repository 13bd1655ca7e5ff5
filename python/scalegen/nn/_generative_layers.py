"""The layers decoders and generators are built from (Keras 3 names, arguments, defaults):
transposed convolution, up-sampling, reshaping, zero padding, global average pooling, and
the parametric activations LeakyReLU, ELU and PReLU. ``scalegen.nn.layers`` exports them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _core
from ..utils._validation import check_choice, check_real, is_int
from ._initializers import initialize
from ._layer_base import _INT_MAX, Layer, Padding, _check_data_format, _check_initializer, _pair
from .layers import Conv2D


class Conv2DTranspose(Conv2D):
    """The adjoint of a convolution (a "deconvolution"): each input pixel spreads over a
    window of the output. Kernel (kh, kw, filters, in_channels), as Keras; the output size is
    Keras' (``padding='same'``: input x strides; ``output_padding`` as Keras defines it).
    Explicit ``((top, bottom), (left, right))`` paddings drop that many cells of the full
    output, then ``output_padding`` cells are added at the end (as ONNX and PyTorch do).

    Parameters
    ----------
    filters : int
        Output channels.
    kernel_size, strides : int or (int, int)
        Window and step (default 1).
    padding : "valid" (default), "same" or ((top, bottom), (left, right))
    output_padding : int or (int, int), optional
        Extra rows and columns at the end of the output, each below its stride.
    activation : str or None, default None
        A name in ``layers.ACTIVATIONS``; None is linear.
    use_bias : bool, default True
    kernel_initializer, bias_initializer : str, default "glorot_uniform", "zeros"
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Raises
    ------
    ValueError
        For an argument out of range, e.g. an ``output_padding`` not below the strides.

    Examples
    --------
    >>> from scalegen.nn import Sequential, layers
    >>> model = Sequential([layers.Input((4, 4, 8)), layers.Conv2DTranspose(3, 3, strides=2, padding="same")])
    >>> model.output_shape, [w.shape for w in model.layers[0].get_weights()]
    ((None, 8, 8, 3), [(3, 3, 3, 8), (3,)])
    >>> Sequential([layers.Input((4, 4, 8)), layers.Conv2DTranspose(3, 3, strides=2)]).output_shape
    (None, 9, 9, 3)
    """

    _kind = _core.LayerKind.conv2d_transpose
    _config_keys = (*Conv2D._config_keys[:4], "output_padding", *Conv2D._config_keys[4:8])

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        strides: int | tuple[int, int] = (1, 1),
        padding: Padding = "valid",
        output_padding: Any = None,
        data_format: str | None = None,
        dilation_rate: int | tuple[int, int] = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: str = "glorot_uniform",
        bias_initializer: str = "zeros",
        *,
        name: str | None = None,
        input_shape: Any = None,
        trainable: bool = True,
    ) -> None:
        if _pair(dilation_rate, "dilation_rate") != (1, 1):
            raise ValueError(
                f"Conv2DTranspose: dilation_rate must be 1 (not supported), got {dilation_rate!r}"
            )
        super().__init__(
            filters,
            kernel_size,
            strides,
            padding,
            data_format,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            name=name,
            input_shape=input_shape,
            trainable=trainable,
        )
        if output_padding is None:
            self.output_padding: tuple[int, int] | None = None
        else:
            pads: tuple[Any, ...] = (
                (output_padding, output_padding) if is_int(output_padding) else tuple(output_padding)
            )
            if len(pads) != 2 or not all(
                is_int(p) and 0 <= p < s for p, s in zip(pads, self.strides, strict=True)
            ):
                raise ValueError(
                    f"output_padding must be ints below the strides {self.strides}, got {output_padding!r}"
                )
            self.output_padding = (int(pads[0]), int(pads[1]))

    def _core_config(self) -> Any:
        c = super()._core_config()
        if self.output_padding is not None:
            c.output_padding_h, c.output_padding_w = self.output_padding
        return c


class UpSampling2D(Layer):
    """Repeats rows and columns ``size`` times ('nearest'), or resizes with half-pixel
    bilinear interpolation ('bilinear').

    Parameters
    ----------
    size : int or (int, int), default (2, 2)
        Factors of the height and the width.
    interpolation : {"nearest", "bilinear"}, default "nearest"
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers
    >>> model = Sequential([layers.Input((2, 2, 1)), layers.UpSampling2D(2)])
    >>> model.predict(np.arange(4.0).reshape(1, 2, 2, 1))[0, :, :, 0]
    array([[0., 0., 1., 1.],
           [0., 0., 1., 1.],
           [2., 2., 3., 3.],
           [2., 2., 3., 3.]], dtype=float32)
    """

    _kind = _core.LayerKind.up_sampling2d
    _config_keys = ("size", "interpolation")

    def __init__(
        self,
        size: int | tuple[int, int] = (2, 2),
        data_format: str | None = None,
        interpolation: str = "nearest",
        **kwargs: Any,
    ) -> None:
        _check_data_format(data_format, "UpSampling2D")
        super().__init__(**kwargs)
        self.size = _pair(size, "size")
        self.interpolation = check_choice(
            interpolation, "interpolation", "UpSampling2D", ["nearest", "bilinear"]
        )

    def _core_config(self) -> Any:
        c = super()._core_config()
        c.kernel_h, c.kernel_w = self.size
        c.bilinear = self.interpolation == "bilinear"
        return c


class Reshape(Layer):
    """The same values seen as ``target_shape``, in channels-last order.

    Parameters
    ----------
    target_shape : tuple of int
        (features,) or (height, width, channels), without the batch axis; one entry may be
        -1, inferred from the input's size.
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Raises
    ------
    ValueError
        For a shape that is not 1 or 3 positive ints (one -1 allowed), or, when the model is
        built, one whose size differs from the input's.

    Examples
    --------
    >>> from scalegen.nn import Sequential, layers
    >>> model = Sequential([layers.Input((12,)), layers.Reshape((2, -1, 3))])
    >>> model.output_shape
    (None, 2, 2, 3)
    """

    _kind = _core.LayerKind.reshape
    _config_keys = ("target_shape",)

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        shape = (
            tuple(target_shape)
            if isinstance(target_shape, Sequence) and not isinstance(target_shape, str)
            else ()
        )
        if (
            len(shape) not in (1, 3)
            or not all(is_int(d) and (d == -1 or 1 <= d <= _INT_MAX) for d in shape)
            or (shape.count(-1) > 1)
        ):
            raise ValueError(
                f"target_shape must be (features,) or (height, width, channels), got {target_shape!r}"
            )
        self.target_shape = tuple(int(d) for d in shape)

    def _core_config(self) -> Any:
        c = super()._core_config()  # a -1 is resolved by the core from the input's size
        if len(self.target_shape) == 1:
            c.target_c = self.target_shape[0]
        else:
            c.target_h, c.target_w, c.target_c = self.target_shape
        return c


class GlobalAveragePooling2D(Layer):
    """The mean of each channel over height and width: (h, w, c) -> (c,).

    Parameters
    ----------
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers
    >>> model = Sequential([layers.Input((2, 2, 3)), layers.GlobalAveragePooling2D()])
    >>> model.predict(np.arange(12.0).reshape(1, 2, 2, 3))
    array([[4.5, 5.5, 6.5]], dtype=float32)
    """

    _kind = _core.LayerKind.global_average_pooling2d

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _check_data_format(data_format, "GlobalAveragePooling2D")


class ZeroPadding2D(Layer):
    """Rows and columns of zeros around each image.

    Parameters
    ----------
    padding : int, (int, int) or ((int, int), (int, int)), default (1, 1)
        The same on all sides, (rows, columns) on both sides, or ((top, bottom), (left, right)).
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers
    >>> model = Sequential([layers.Input((2, 2, 1)), layers.ZeroPadding2D(((1, 0), (0, 2)))])
    >>> model.output_shape
    (None, 3, 4, 1)
    >>> model.predict(np.ones((1, 2, 2, 1)))[0, :, :, 0]
    array([[0., 0., 0., 0.],
           [1., 1., 0., 0.],
           [1., 1., 0., 0.]], dtype=float32)
    """

    _kind = _core.LayerKind.zero_padding2d
    _config_keys = ("padding",)

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _check_data_format(data_format, "ZeroPadding2D")
        if is_int(padding):
            padding = ((padding, padding), (padding, padding))
        elif isinstance(padding, Sequence) and len(padding) == 2 and all(is_int(p) for p in padding):
            padding = ((padding[0], padding[0]), (padding[1], padding[1]))
        try:
            (top, bottom), (left, right) = padding
            pads = (top, bottom, left, right)
            if not all(is_int(p) and 0 <= p <= _INT_MAX for p in pads):
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(
                f"padding must be an int, (rows, cols) or ((top, bottom), (left, right)), got {padding!r}"
            ) from None
        self.pads = (int(top), int(bottom), int(left), int(right))
        self.padding: Padding = ((self.pads[0], self.pads[1]), (self.pads[2], self.pads[3]))

    def _core_config(self) -> Any:
        c = super()._core_config()
        c.pad_top, c.pad_bottom, c.pad_left, c.pad_right = self.pads
        return c


class LeakyReLU(Layer):
    """x for x > 0, else negative_slope * x.

    Parameters
    ----------
    negative_slope : float, default 0.3
        Keras 3's default (the activation name "leaky_relu" uses 0.2, as Keras' does).
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers
    >>> model = Sequential([layers.Input((3,)), layers.LeakyReLU(negative_slope=0.1)])
    >>> model.predict(np.array([[-2.0, 0.0, 3.0]]))
    array([[-0.2,  0. ,  3. ]], dtype=float32)
    """

    _kind = _core.LayerKind.activation
    _config_keys = ("negative_slope",)

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.negative_slope = check_real(negative_slope, "negative_slope", "LeakyReLU", low=0.0)

    def _core_config(self) -> Any:
        c = super()._core_config()
        c.activation, c.alpha = "leaky_relu", self.negative_slope
        return c


class ELU(Layer):
    """x for x > 0, else alpha * (exp(x) - 1).

    Parameters
    ----------
    alpha : float, default 1.0
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers
    >>> model = Sequential([layers.Input((3,)), layers.ELU(alpha=1.0)])
    >>> model.predict(np.array([[-2.0, 0.0, 3.0]])).round(3)
    array([[-0.865,  0.   ,  3.   ]], dtype=float32)
    """

    _kind = _core.LayerKind.activation
    _config_keys = ("alpha",)

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = check_real(alpha, "alpha", "ELU")

    def _core_config(self) -> Any:
        c = super()._core_config()
        c.activation, c.alpha = "elu", self.alpha
        return c


class PReLU(Layer):
    """max(x, 0) + alpha * min(x, 0) with a learned alpha per input cell, shared along
    ``shared_axes`` (e.g. [1, 2]: one alpha per channel).

    Parameters
    ----------
    alpha_initializer : str, default "zeros"
        A name in ``layers.INITIALIZERS``.
    shared_axes : int or list of int, optional
        Axes among 1, 2, 3 (height, width, channels) along which alpha is shared.
    name, input_shape, trainable : keyword-only, as for every :class:`Layer`

    Examples
    --------
    >>> from scalegen.nn import Sequential, layers
    >>> model = Sequential([layers.Input((4, 4, 2)), layers.PReLU(shared_axes=[1, 2])])
    >>> [w.shape for w in model.layers[0].get_weights()]
    [(1, 1, 2)]
    """

    _kind = _core.LayerKind.prelu
    _config_keys = ("alpha_initializer", "shared_axes")

    def __init__(
        self, alpha_initializer: str = "zeros", shared_axes: Sequence[int] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.alpha_initializer = _check_initializer(alpha_initializer, "alpha_initializer")
        axes: list[Any] = (
            [] if shared_axes is None else [shared_axes] if is_int(shared_axes) else list(shared_axes)
        )
        if not all(is_int(a) and 1 <= a <= 3 for a in axes):
            raise ValueError(
                f"shared_axes must be axes among 1, 2, 3 (not the batch axis), got {shared_axes!r}"
            )
        self.shared_axes = None if shared_axes is None else sorted({int(a) for a in axes})

    def _core_config(self) -> Any:
        c = super()._core_config()
        axes = self.shared_axes or []
        c.share_h, c.share_w, c.share_c = (1 in axes), (2 in axes), (3 in axes)
        return c

    def _initial_value(self, name: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return initialize(self.alpha_initializer, shape, rng)


GENERATIVE_LAYERS: tuple[type[Layer], ...] = (
    Conv2DTranspose,
    UpSampling2D,
    Reshape,
    GlobalAveragePooling2D,
    ZeroPadding2D,
    LeakyReLU,
    ELU,
    PReLU,
)
