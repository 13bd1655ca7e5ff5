"""ONNX export of a built ``Sequential``: opset 13, NCHW inside the graph, dynamic batch.

scalegen computes channels-last; ONNX's Conv and pooling are channels-first. The graph
takes NCHW (or NHWC, transposed once at its entrance), keeps NCHW through the
convolutional part, and turns back to channels-last before a Flatten so that the Dense
weights stay as trained. Dropout is left out (inference), BatchNormalization uses its
moving statistics.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _core
from ..utils._onnx import GraphBuilder, check_opset, finish_model, import_onnx
from ._layer_base import ACTIVATION_ALPHA
from .layers import (
    ELU,
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Conv2DTranspose,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    LeakyReLU,
    MaxPooling2D,
    PReLU,
    Reshape,
    UpSampling2D,
    ZeroPadding2D,
)

if TYPE_CHECKING:
    from ._model import Sequential

_ACT_OPS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus"}


def pads_of(layer: Any, shape: tuple[int, ...], window: tuple[int, int], strides: tuple[int, int]) -> Any:
    """ONNX's pads [top, left, bottom, right] of a conv or pooling layer."""
    if isinstance(layer.padding, tuple):
        (top, bottom), (left, right) = layer.padding
    else:
        same = layer.padding == "same"
        top, bottom = tf_pads(shape[0], window[0], strides[0], same)
        left, right = tf_pads(shape[1], window[1], strides[1], same)
    return [top, left, bottom, right]


def tf_pads(size: int, window: int, stride: int, same: bool) -> tuple[int, int]:
    """TensorFlow's 'same' padding (the odd cell at the end); none for 'valid'. The rule
    lives in the C++ core, which the layers use too."""
    if not same:
        return 0, 0
    _, begin, end = _core.nn_window_axis(size, window, stride, True)
    return begin, end


def _activation(
    g: GraphBuilder, x: str, name: str, *, spatial: bool, hint: str, alpha: float | None = None
) -> str:
    if name == "linear":
        return x
    if name in ("softmax", "log_softmax"):
        op = "Softmax" if name == "softmax" else "LogSoftmax"
        return g.op(op, [x], f"{hint}_{name}", axis=1 if spatial else -1)
    alpha = ACTIVATION_ALPHA.get(name, 0.0) if alpha is None else alpha
    if name == "leaky_relu":
        return g.op("LeakyRelu", [x], f"{hint}_leaky_relu", alpha=float(alpha))
    if name == "elu":
        return g.op("Elu", [x], f"{hint}_elu", alpha=float(alpha))
    if name == "swish":  # x sigmoid(x)
        return g.op("Mul", [x, g.op("Sigmoid", [x], f"{hint}_sigmoid")], f"{hint}_swish")
    if name == "gelu":  # x (1 + erf(x / sqrt 2)) / 2 (Gelu is an op from opset 20 only)
        erf = g.op(
            "Erf",
            [g.op("Mul", [x, g.const(f"{hint}_inv_sqrt2", np.float32(0.5**0.5))], f"{hint}_scaled")],
            f"{hint}_erf",
        )
        half = g.op("Mul", [x, g.const(f"{hint}_half", np.float32(0.5))], f"{hint}_half_x")
        return g.op(
            "Mul",
            [half, g.op("Add", [erf, g.const(f"{hint}_one", np.float32(1))], f"{hint}_1erf")],
            f"{hint}_gelu",
        )
    return g.op(_ACT_OPS[name], [x], f"{hint}_{name}")


def _conv_transpose_attrs(layer: Conv2DTranspose, shape: tuple[int, ...]) -> dict[str, Any]:
    """ONNX's ConvTranspose placing the windows as TensorFlow does: the full output's cells
    the core drops before and after (its rule, the only copy); an output_padding past the full
    output is ONNX's output_padding."""
    pads_begin, pads_end, extra = [], [], []
    op = layer.output_padding or (-1, -1)
    explicit = layer.padding if isinstance(layer.padding, tuple) else ((-1, -1), (-1, -1))
    for axis in range(2):
        size, k, s = shape[axis], layer.kernel_size[axis], layer.strides[axis]
        length, begin, end = _core.nn_deconv_axis(
            size, k, s, layer.padding == "same", op[axis], *explicit[axis]
        )
        pads_begin.append(begin)
        pads_end.append(end)
        extra.append(length - ((size - 1) * s + k - begin - end))
    attrs = {"kernel_shape": list(layer.kernel_size), "strides": list(layer.strides)}
    return {**attrs, "pads": pads_begin + pads_end, "output_padding": extra}


def _to_nhwc(g: GraphBuilder, x: str, hint: str) -> str:
    return g.op("Transpose", [x], f"{hint}_to_nhwc", perm=[0, 2, 3, 1])


def _to_nchw(g: GraphBuilder, x: str, hint: str) -> str:
    return g.op("Transpose", [x], f"{hint}_to_nchw", perm=[0, 3, 1, 2])


def to_onnx(
    model: Sequential, path: str | os.PathLike[str] | None = None, opset: int = 13, input_layout: str = "NCHW"
) -> Any:
    """The model as an ``onnx.ModelProto`` (written to ``path`` when given)."""
    onnx = import_onnx()
    model._require_built()
    if input_layout not in ("NCHW", "NHWC"):
        raise ValueError(f"input_layout must be 'NCHW' or 'NHWC', got {input_layout!r}")
    check_opset(opset)
    g = GraphBuilder(onnx)
    shape = tuple(model._input_shape or ())
    spatial = len(shape) == 3  # the tensor in the graph is NCHW while spatial
    x = "input"
    if spatial:
        h, w, c = shape
        dims: list[Any] = ["N", c, h, w] if input_layout == "NCHW" else ["N", h, w, c]
        if input_layout == "NHWC":
            x = _to_nchw(g, x, "input")
    else:
        dims = ["N", shape[0]]
    weights = [layer.get_weights() for layer in model.layers]
    for layer, ws, out_shape in zip(model.layers, weights, model._output_shapes, strict=True):
        hint = layer.name or "layer"
        if isinstance(layer, Conv2DTranspose):
            inputs = [x, g.const(f"{hint}_kernel", ws[0].transpose(3, 2, 0, 1))]
            if layer.use_bias:
                inputs.append(g.const(f"{hint}_bias", ws[1]))
            x = g.op("ConvTranspose", inputs, hint, **_conv_transpose_attrs(layer, shape))
            x = _activation(g, x, layer.activation, spatial=True, hint=hint)
        elif isinstance(layer, Conv2D):
            (kh, kw), (sh, sw), (dh, dw) = layer.kernel_size, layer.strides, layer.dilation_rate
            inputs = [x, g.const(f"{hint}_kernel", ws[0].transpose(3, 2, 0, 1))]
            if layer.use_bias:
                inputs.append(g.const(f"{hint}_bias", ws[1]))
            pads = pads_of(layer, shape, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), (sh, sw))  # a dilated span
            window = {"kernel_shape": [kh, kw], "strides": [sh, sw], "pads": pads, "dilations": [dh, dw]}
            x = g.op("Conv", inputs, hint, group=layer.groups, **window)
            x = _activation(g, x, layer.activation, spatial=True, hint=hint)
        elif isinstance(layer, MaxPooling2D | AveragePooling2D):
            (ph, pw), (sh, sw) = layer.pool_size, layer.strides
            attrs: dict[str, Any] = {
                "kernel_shape": [ph, pw],
                "strides": [sh, sw],
                "pads": pads_of(layer, shape, (ph, pw), (sh, sw)),  # 'same', 'valid' or explicit
            }
            if isinstance(layer, AveragePooling2D):
                attrs["count_include_pad"] = 0  # TensorFlow averages over the cells inside the input
            x = g.op("MaxPool" if isinstance(layer, MaxPooling2D) else "AveragePool", [x], hint, **attrs)
        elif isinstance(layer, Flatten):
            if spatial:
                x = g.op("Flatten", [_to_nhwc(g, x, hint)], hint, axis=1)
                spatial = False
        elif isinstance(layer, Dense):
            if spatial:  # on the channel axis: in channels-last order, then back
                x = g.op("MatMul", [_to_nhwc(g, x, hint), g.const(f"{hint}_kernel", ws[0])], hint)
                if layer.use_bias:
                    x = g.op("Add", [x, g.const(f"{hint}_bias", ws[1])], f"{hint}_bias")
                x = _to_nchw(g, x, hint)
            else:
                inputs = [x, g.const(f"{hint}_kernel", ws[0])]
                if layer.use_bias:
                    inputs.append(g.const(f"{hint}_bias", ws[1]))
                x = g.op("Gemm", inputs, hint)
            x = _activation(g, x, layer.activation, spatial=spatial, hint=hint)
        elif isinstance(layer, BatchNormalization):
            channels = out_shape[-1]
            k = 0
            gamma = ws[k] if layer.scale else np.ones(channels, np.float32)
            k += layer.scale
            beta = ws[k] if layer.center else np.zeros(channels, np.float32)
            k += layer.center
            mean, var = ws[k], ws[k + 1]
            inputs = [x] + [
                g.const(f"{hint}_{n}", v)
                for n, v in zip(("scale", "B", "mean", "var"), (gamma, beta, mean, var), strict=True)
            ]
            x = g.op("BatchNormalization", inputs, hint, epsilon=layer.epsilon)
        elif isinstance(layer, Activation):
            x = _activation(g, x, layer.activation, spatial=spatial, hint=hint)
        elif isinstance(layer, LeakyReLU):
            x = _activation(g, x, "leaky_relu", spatial=spatial, hint=hint, alpha=layer.negative_slope)
        elif isinstance(layer, ELU):
            x = _activation(g, x, "elu", spatial=spatial, hint=hint, alpha=layer.alpha)
        elif isinstance(layer, PReLU):
            slope = ws[0].transpose(2, 0, 1) if spatial else ws[0]  # (h, w, c) -> (c, h, w)
            x = g.op("PRelu", [x, g.const(f"{hint}_slope", slope)], hint)
        elif isinstance(layer, UpSampling2D):
            scales = g.const(f"{hint}_scales", np.array([1, 1, *layer.size], np.float32))
            mode = {
                "mode": "nearest",
                "coordinate_transformation_mode": "asymmetric",
                "nearest_mode": "floor",
            }
            if layer.interpolation == "bilinear":
                mode = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
            x = g.op("Resize", [x, "", scales], hint, **mode)
        elif isinstance(layer, ZeroPadding2D):
            top, bottom, left, right = layer.pads
            pads = g.const(f"{hint}_pads", np.array([0, 0, top, left, 0, 0, bottom, right], np.int64))
            x = g.op("Pad", [x, pads], hint, mode="constant")
        elif isinstance(layer, GlobalAveragePooling2D):
            x = g.op("Flatten", [g.op("GlobalAveragePool", [x], hint)], f"{hint}_flat", axis=1)
            spatial = False
        elif isinstance(layer, Reshape):  # in channels-last order, as the layer reshapes
            if spatial:
                x = _to_nhwc(g, x, hint)
            x = g.op("Reshape", [x, g.const(f"{hint}_shape", np.array([0, *out_shape], np.int64))], hint)
            spatial = len(out_shape) == 3
            if spatial:
                x = _to_nchw(g, x, hint)
        elif isinstance(layer, Dropout):
            continue  # identity at inference
        else:
            raise ValueError(f"no ONNX export for layer {layer.name!r} ({type(layer).__name__})")
        shape = out_shape
    out_dims: list[Any]
    if spatial:
        oh, ow, oc = shape
        if input_layout == "NHWC":
            x = _to_nhwc(g, x, "output")
            out_dims = ["N", oh, ow, oc]
        else:
            out_dims = ["N", oc, oh, ow]
    else:
        out_dims = ["N", shape[-1]]
    g.op("Identity", [x], "output", output="output")
    graph = onnx.helper.make_graph(
        g.nodes,
        model.name,
        [onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, dims)],
        [onnx.helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, out_dims)],
        initializer=g.initializers,
    )
    return finish_model(onnx, graph, opset, path)
