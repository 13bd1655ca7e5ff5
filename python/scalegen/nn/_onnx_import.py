"""``load_onnx``: an ONNX chain of supported ops rebuilt as a ``Sequential`` on scalegen's kernels.

Supported: Conv, MaxPool, AveragePool, Relu, Sigmoid, Tanh, Softmax, Gemm, MatMul (+ Add),
Flatten, Reshape (to (n, -1)), BatchNormalization, Dropout, Identity, and Transpose to
channels-last right before a Flatten (as ``Sequential.to_onnx`` writes), in a single chain from
one float input to one output. The graph is NCHW; scalegen computes channels-last, so images
are transposed once on the way in (and out), and the rows of a Dense kernel after a Flatten
are reordered from (c, h, w) to (h, w, c).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .. import _core
from ..utils._onnx import import_onnx
from ._model import Sequential
from .layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Flatten,
    Input,
    Layer,
    MaxPooling2D,
)

SUPPORTED_OPS = (
    "Conv",
    "MaxPool",
    "AveragePool",
    "Relu",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "Gemm",
    "MatMul",
    "Add",
    "Flatten",
    "Reshape",
    "BatchNormalization",
    "Dropout",
    "Identity",
    "Transpose",
)
_ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}


class OnnxModel:
    """A model read from ONNX, run by scalegen: ``predict`` takes the ONNX model's layout
    (NCHW images or (n, features)) and returns its output layout; ``model`` is the
    channels-last ``Sequential`` it runs."""

    def __init__(self, model: Sequential, spatial_input: bool, output_order: np.ndarray | None) -> None:
        self.model = model
        self._spatial_input = spatial_input
        self._output_order = output_order  # ONNX column j is our column output_order[j]

    def predict(self, x: Any, batch_size: int | None = None) -> np.ndarray:
        arr = np.asarray(x)
        if self._spatial_input:
            if arr.ndim != 4:
                raise ValueError(f"the model takes (n, channels, height, width) images, got {arr.shape}")
            arr = arr.transpose(0, 2, 3, 1)
        out = self.model.predict(arr, batch_size=batch_size)
        if out.ndim == 4:
            out = np.ascontiguousarray(out.transpose(0, 3, 1, 2))
        elif self._output_order is not None:
            out = np.ascontiguousarray(out[:, self._output_order])
        return out

    def __call__(self, x: Any) -> np.ndarray:
        return self.predict(x)


def _unsupported(node: Any, attribute: str, value: Any) -> ValueError:
    return ValueError(f"{node.op_type} node {node.name!r}: attribute {attribute}={value!r} is not supported")


def load_onnx(source: Any) -> OnnxModel:
    """Read an ONNX model (path, bytes or ``onnx.ModelProto``) made of the supported ops."""
    onnx = import_onnx()
    if isinstance(source, onnx.ModelProto):
        proto = source
    elif isinstance(source, bytes | bytearray):
        proto = onnx.load_from_string(bytes(source))
    else:
        if not os.path.exists(source):
            raise FileNotFoundError(f"no ONNX file at {os.fspath(source)!r}")
        try:
            proto = onnx.load(os.fspath(source))
        except Exception as e:  # protobuf's DecodeError and friends
            raise ValueError(f"{os.fspath(source)!r} is not a readable ONNX model ({e})") from None
    return _Reader(onnx, proto).build()


class _Reader:
    def __init__(self, onnx: Any, proto: Any) -> None:
        self.onnx = onnx
        graph = proto.graph
        self.graph = graph
        self.consts: dict[str, np.ndarray] = {
            t.name: onnx.numpy_helper.to_array(t).copy() for t in graph.initializer
        }
        inputs = [i for i in graph.input if i.name not in self.consts]
        if len(inputs) != 1 or len(graph.output) != 1:
            raise ValueError("only graphs with one input and one output are supported")
        self.input = inputs[0]
        if self.input.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            raise ValueError("only float32 inputs are supported")
        shape = self.input.type.tensor_type.shape
        dims: list[Any] = [d.dim_value if d.HasField("dim_value") else None for d in shape.dim]
        if len(dims) not in (2, 4) or any(d is None for d in dims[1:]):
            raise ValueError(f"the input must be (n, features) or (n, c, h, w) with fixed sizes, got {dims}")
        self.spatial_input = len(dims) == 4
        # the running shape, channels-last without the batch axis
        self.shape: tuple[int, ...] = (dims[2], dims[3], dims[1]) if self.spatial_input else (dims[1],)
        self.input_shape = self.shape
        self.layers: list[tuple[Layer, list[np.ndarray]]] = []
        self.pending_order: np.ndarray | None = None  # our flat index of each ONNX flat index
        self.channels_last = False  # a Transpose to NHWC was read: the next op must be a Flatten

    def attrs(self, node: Any) -> dict[str, Any]:
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}

    def const(self, node: Any, name: str) -> np.ndarray:
        if name not in self.consts:
            raise ValueError(f"{node.op_type} node {node.name!r}: input {name!r} must be a constant")
        return self.consts[name]

    def build(self) -> OnnxModel:
        current = self.input.name
        for node in self.graph.node:
            if node.op_type == "Constant":
                self.consts[node.output[0]] = self.onnx.numpy_helper.to_array(node.attribute[0].t).copy()
                continue
            if node.op_type in ("Transpose", "Identity") and all(i in self.consts for i in node.input):
                # an exporter's constant left unfolded (PyTorch: the weight of a Linear without bias)
                value = self.consts[node.input[0]]
                perm = self.attrs(node).get("perm")
                self.consts[node.output[0]] = value.transpose(perm) if node.op_type == "Transpose" else value
                continue
            if node.op_type not in SUPPORTED_OPS:
                raise ValueError(
                    f"unsupported ONNX op {node.op_type} (node {node.name!r}); "
                    f"supported: {', '.join(SUPPORTED_OPS)}"
                )
            flowing = [i for i in node.input if i and i not in self.consts]
            if flowing != [current]:
                raise ValueError(f"{node.op_type} node {node.name!r}: only a chain of ops is supported")
            self.read(node)
            current = node.output[0]
        if current != self.graph.output[0].name:
            raise ValueError("the graph's output is not the end of its chain of ops")
        model = Sequential([Input(self.input_shape)], name=self.graph.name or "onnx")
        for layer, _ in self.layers:
            model.add(layer)
        if not self.layers:
            raise ValueError("the graph has no layers scalegen runs")
        for layer, weights in self.layers:
            layer.set_weights(weights)
        return OnnxModel(model, self.spatial_input, self.pending_order)

    def add(self, layer: Layer, weights: list[np.ndarray] | None = None) -> None:
        self.layers.append((layer, weights or []))
        # the shape after this layer, from the core (no weights are initialised)
        configs = [lay._core_config() for lay, _ in self.layers]
        self.shape = tuple(_core.Network(configs, list(self.input_shape)).output_shapes[-1])

    def last_linear(self) -> Layer | None:
        """The last layer if it has a fused activation still linear."""
        if self.layers and isinstance(self.layers[-1][0], Conv2D | Dense):
            layer = self.layers[-1][0]
            if layer.activation == "linear":
                return layer
        return None

    def read(self, node: Any) -> None:
        op, a = node.op_type, self.attrs(node)
        if self.channels_last and op not in ("Flatten", "Reshape"):
            raise ValueError(f"{op} node {node.name!r} after a Transpose: only a Flatten may follow it")
        if op == "Transpose":
            if len(self.shape) != 3 or list(a.get("perm", [])) != [0, 2, 3, 1]:
                raise _unsupported(node, "perm", a.get("perm"))
            self.channels_last = True
            return
        if op in ("Dropout", "Identity"):
            return
        if op in _ACTIVATIONS or op == "Softmax":
            name = _ACTIVATIONS.get(op, "softmax")
            if op == "Softmax":
                axis = a.get("axis", -1)
                rank = 4 if len(self.shape) == 3 else 2
                if axis % rank != 1:  # the channels (NCHW) or the features
                    raise _unsupported(node, "axis", axis)
            target = self.last_linear()
            if target is not None:
                target.activation = name  # type: ignore[attr-defined]
            else:
                self.add(Activation(name))
            return
        if op == "Conv":
            self.conv(node, a)
        elif op in ("MaxPool", "AveragePool"):
            self.pool(node, a)
        elif op in ("Gemm", "MatMul"):
            self.dense(node, a)
        elif op == "Add":
            self.bias(node)
        elif op in ("Flatten", "Reshape"):
            self.flatten(node, a)
        elif op == "BatchNormalization":
            self.batch_norm(node, a)

    def pads(self, node: Any, a: dict[str, Any]) -> Any:
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto not in ("NOTSET", "VALID"):
            raise _unsupported(node, "auto_pad", auto)
        if any(d != 1 for d in a.get("dilations", [1, 1])):
            raise _unsupported(node, "dilations", a["dilations"])
        top, left, bottom, right = a.get("pads", [0, 0, 0, 0]) if auto == "NOTSET" else [0, 0, 0, 0]
        return "valid" if top == left == bottom == right == 0 else ((top, bottom), (left, right))

    def conv(self, node: Any, a: dict[str, Any]) -> None:
        if len(self.shape) != 3:
            raise ValueError(f"Conv node {node.name!r} on a flat tensor")
        if a.get("group", 1) != 1:
            raise _unsupported(node, "group", a["group"])
        kernel = self.const(node, node.input[1])  # (out, in, kh, kw)
        bias = self.const(node, node.input[2]) if len(node.input) > 2 and node.input[2] else None
        filters, _, kh, kw = kernel.shape
        strides = tuple(a.get("strides", [1, 1]))
        padding = self.pads(node, a)
        layer = Conv2D(filters, (kh, kw), strides=strides, padding=padding, use_bias=bias is not None)
        weights = [kernel.transpose(2, 3, 1, 0)] + ([] if bias is None else [bias])
        self.add(layer, weights)

    def pool(self, node: Any, a: dict[str, Any]) -> None:
        if a.get("ceil_mode", 0):
            raise _unsupported(node, "ceil_mode", a["ceil_mode"])
        padding = self.pads(node, a)
        if node.op_type == "AveragePool" and a.get("count_include_pad", 0) and padding != "valid":
            raise _unsupported(node, "count_include_pad", 1)
        cls = MaxPooling2D if node.op_type == "MaxPool" else AveragePooling2D
        kernel = tuple(a["kernel_shape"])
        self.add(cls(kernel, strides=tuple(a.get("strides", [1, 1])), padding=padding))

    def flatten(self, node: Any, a: dict[str, Any]) -> None:
        if node.op_type == "Flatten" and a.get("axis", 1) != 1:
            raise _unsupported(node, "axis", a["axis"])
        if node.op_type == "Reshape":
            target = self.const(node, node.input[1]).tolist()
            size = int(np.prod(self.shape))
            if len(target) != 2 or target[0] not in (0, -1) or target[1] not in (-1, size):
                raise _unsupported(node, "shape", target)
        if len(self.shape) == 3:
            if not self.channels_last:
                h, w, c = self.shape
                # ONNX flattens (c, h, w); scalegen (h, w, c): ONNX index i is our order[i]
                self.pending_order = np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).ravel()
            self.channels_last = False
            self.add(Flatten())

    def take_order(self, rows: np.ndarray) -> np.ndarray:
        """Rows indexed by ONNX's flat order, reordered to ours (then the order is consumed)."""
        if self.pending_order is None:
            return rows
        out = self.reorder(rows, self.pending_order)
        self.pending_order = None
        return out

    def dense(self, node: Any, a: dict[str, Any]) -> None:
        if len(self.shape) != 1:
            raise ValueError(f"{node.op_type} node {node.name!r} on an image: flatten it first")
        weight = self.const(node, node.input[1])
        bias = None
        if node.op_type == "Gemm":
            for key, want in (("alpha", 1.0), ("beta", 1.0), ("transA", 0)):
                if a.get(key, want) != want:
                    raise _unsupported(node, key, a[key])
            kernel = weight.T if a.get("transB", 0) else weight
            if len(node.input) > 2 and node.input[2]:
                bias = self.const(node, node.input[2]).reshape(-1)
        else:
            kernel = weight
        if kernel.ndim != 2 or kernel.shape[0] != self.shape[0]:
            raise ValueError(f"{node.op_type} node {node.name!r}: weights of shape {weight.shape} do not fit")
        kernel = self.take_order(kernel)
        units = kernel.shape[1]
        bias = np.zeros(units, np.float32) if bias is None else bias
        self.add(Dense(units), [kernel, bias])

    def bias(self, node: Any) -> None:
        other = [i for i in node.input if i in self.consts]
        last = self.layers[-1] if self.layers else None
        if len(other) != 1 or not (last and isinstance(last[0], Dense) and last[0].activation == "linear"):
            raise ValueError(f"Add node {node.name!r}: only a bias added to a MatMul is supported")
        value = self.consts[other[0]].reshape(-1)
        if value.size != last[1][1].size:
            raise ValueError(f"Add node {node.name!r}: {value.size} bias values, {last[1][1].size} outputs")
        last[1][1] = last[1][1] + value

    def batch_norm(self, node: Any, a: dict[str, Any]) -> None:
        if a.get("training_mode", 0):
            raise _unsupported(node, "training_mode", 1)
        gamma, beta, mean, var = (self.const(node, name) for name in node.input[1:5])
        if len(self.shape) == 1 and self.pending_order is not None:
            order = self.pending_order
            gamma, beta, mean, var = (self.reorder(v, order) for v in (gamma, beta, mean, var))
        self.add(BatchNormalization(epsilon=float(a.get("epsilon", 1e-5))), [gamma, beta, mean, var])

    @staticmethod
    def reorder(values: np.ndarray, order: np.ndarray) -> np.ndarray:
        """values indexed by ONNX's flat order (first axis) put in ours."""
        out = np.empty_like(values)
        out[order] = values
        return out
