"""``load_onnx``: an ONNX chain of supported ops rebuilt as a ``Sequential`` on scalegen's kernels.

Supported: Conv, MaxPool, AveragePool, Relu, Sigmoid, Tanh, Softmax, Gemm, MatMul (+ Add),
Flatten, Reshape (to (n, -1), or a Linear's output to an image), BatchNormalization, Dropout,
Identity, Transpose to channels-last right before a Flatten (as ``Sequential.to_onnx``
writes), and the ops of decoders (``_onnx_import_decoder``), in a single chain from
one float input to one output. The graph is NCHW; scalegen computes channels-last, so images
are transposed once on the way in (and out), and the rows of a Dense kernel after a Flatten
are reordered from (c, h, w) to (h, w, c).

The graph is checked before it is run: names defined once and before their use, tensors whose
data match their type and dims, the declared sizes within ``scalegen.set_limits``'s limits
(checked before anything is allocated), the inputs and attributes each op needs.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .. import _core
from ..utils._limits import Budget, LimitError, check_tensor
from ..utils._onnx import import_onnx, parse_model, tensor_array
from ._model import Sequential
from ._onnx_import_decoder import DECODER_OPS, DecoderOps
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
    "LogSoftmax",
    "Gemm",
    "MatMul",
    "Add",
    "Flatten",
    "Reshape",
    "BatchNormalization",
    "Dropout",
    "Identity",
    "Transpose",
    *DECODER_OPS,
)
_ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}


class OnnxModel:
    """A model read from ONNX, run by scalegen: ``predict`` (or a call) takes the ONNX model's
    layout (NCHW images or (n, features)) and returns its output layout; ``model`` is the
    channels-last ``Sequential`` it runs. Made by ``load_onnx``, not constructed directly.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers, load_onnx
    >>> model = Sequential([layers.Input((6, 6, 1)), layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(3)])
    >>> onnx_model = load_onnx(model.to_onnx())  # an onnx.ModelProto, NCHW inputs
    >>> x = np.random.default_rng(0).normal(size=(2, 1, 6, 6)).astype("float32")
    >>> onnx_model.predict(x).shape, onnx_model.model.input_shape
    ((2, 3), (None, 6, 6, 1))
    >>> bool(np.allclose(onnx_model(x), model.predict(x.transpose(0, 2, 3, 1)), atol=1e-5))
    True
    """

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


def _label(node: Any) -> str:
    """A node's name, or the name of its output when it has none."""
    return repr(node.name) if node.name else f"(output {node.output[0]!r})" if node.output else "(unnamed)"


def _unsupported(node: Any, attribute: str, value: Any) -> ValueError:
    return ValueError(f"{node.op_type} node {_label(node)}: attribute {attribute}={value!r} is not supported")


def _bad(node: Any, problem: str) -> ValueError:
    return ValueError(f"{node.op_type} node {_label(node)}: {problem}")


def load_onnx(source: Any) -> OnnxModel:
    """Read an ONNX model made of the supported ops (a chain from one float input to one
    output; see the module's list) to run on scalegen's kernels. Needs ``scalegen[onnx]``.

    Parameters
    ----------
    source : str, path-like, bytes or onnx.ModelProto
        Not modified.

    Returns
    -------
    OnnxModel

    Raises
    ------
    FileNotFoundError
        If there is no file at the path.
    ValueError
        For an unsupported op or attribute, or a graph that is not a consistent ONNX graph
        (duplicate or undefined names, tensors whose data do not match their dims, missing
        inputs or attributes...): the message names what is wrong.
    scalegen.LimitError
        If declared sizes exceed the limits, before anything is allocated (``scalegen.set_limits``).

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers, load_onnx
    >>> model = Sequential([layers.Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(2)])
    >>> _ = model.to_onnx("model.onnx")
    >>> onnx_model = load_onnx("model.onnx")
    >>> x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    >>> bool(np.allclose(onnx_model.predict(x), model.predict(x), atol=1e-5))
    True
    """
    onnx = import_onnx()
    base_dir = None
    if isinstance(source, onnx.ModelProto):
        proto = source
    elif isinstance(source, bytes | bytearray):
        proto = parse_model(onnx, source, "the bytes given")
    else:
        if not os.path.exists(source):
            raise FileNotFoundError(f"no ONNX file at {os.fspath(source)!r}")
        path = os.fspath(source)
        with open(path, "rb") as f:
            proto = parse_model(onnx, f.read(), repr(path))
        base_dir = os.path.dirname(os.path.abspath(path))  # where its external data would be
    return _Reader(onnx, proto, base_dir).build()


def _default_opset(proto: Any) -> int:
    versions = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    if len(versions) != 1:
        raise ValueError(
            f"the model must import the default ONNX opset once, it imports it {len(versions)} times"
        )
    return int(versions[0])


class _Reader(DecoderOps):
    def __init__(self, onnx: Any, proto: Any, base_dir: str | None) -> None:
        self.onnx = onnx
        self.opset = _default_opset(proto)
        graph = proto.graph
        self.graph = graph
        self.budget = Budget("the ONNX model")
        if len(graph.sparse_initializer):
            raise ValueError("sparse initializers are not supported")
        self.consts: dict[str, np.ndarray] = {}
        for t in graph.initializer:
            if not t.name or t.name in self.consts:
                problem = (
                    "an initializer without a name" if not t.name else f"two initializers named {t.name!r}"
                )
                raise ValueError(f"the graph holds {problem}: which value is meant is ambiguous")
            self.consts[t.name] = tensor_array(onnx, t, self.budget, f"initializer {t.name!r}", base_dir)
        names = [i.name for i in graph.input]
        if len(set(names)) != len(names):
            raise ValueError(
                f"the graph lists an input twice: {sorted(n for n in names if names.count(n) > 1)}"
            )
        inputs = [i for i in graph.input if i.name not in self.consts]
        if len(inputs) != 1 or len(graph.output) != 1:
            raise ValueError(
                "only graphs with one input and one output are supported, this one has "
                f"{len(inputs)} input(s) (besides initializers) and {len(graph.output)} output(s)"
            )
        self.input = inputs[0]
        self.check_names()
        if self.input.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            raise ValueError("only float32 inputs are supported")
        shape = self.input.type.tensor_type.shape
        dims: list[Any] = [d.dim_value if d.HasField("dim_value") else None for d in shape.dim]
        if len(dims) not in (2, 4) or any(d is None or d < 1 for d in dims[1:]):
            raise ValueError(
                f"the input must be (n, features) or (n, c, h, w) with fixed sizes >= 1, got {dims}"
            )
        check_tensor(dims[1:], 4, "one input sample of the ONNX model")
        self.spatial_input = len(dims) == 4
        # the running shape, channels-last without the batch axis
        self.shape: tuple[int, ...] = (dims[2], dims[3], dims[1]) if self.spatial_input else (dims[1],)
        self.input_shape = self.shape
        self.layers: list[tuple[Layer, list[np.ndarray], str]] = []  # with the node each comes from
        self.current_node: Any = None
        self.pending_order: np.ndarray | None = None  # our flat index of each ONNX flat index
        self.channels_last = False  # a Transpose to NHWC was read: the next op must be a Flatten

    def check_names(self) -> None:
        """Every tensor is defined once (graph input, initializer or node output) before use."""
        defined = {i.name for i in self.graph.input} | set(self.consts)
        for node in self.graph.node:
            if node.domain not in ("", "ai.onnx"):
                raise _bad(
                    node, f"the op is in the domain {node.domain!r}; only ONNX's default domain is supported"
                )
            missing = [i for i in node.input if i and i not in defined]
            if missing:
                raise _bad(
                    node,
                    f"its input {missing[0]!r} is not defined before it (no graph input, "
                    "initializer or earlier node output has that name)",
                )
            if not node.output or not node.output[0]:
                raise _bad(node, "it has no output")
            for out in node.output:
                if out and out in defined:
                    raise _bad(node, f"its output {out!r} is already defined: each name must be defined once")
                defined.add(out)
        if self.graph.output[0].name not in defined:
            raise ValueError(f"the graph output {self.graph.output[0].name!r} is not computed by any node")

    def attrs(self, node: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for a in node.attribute:
            if a.name in out:
                raise _bad(node, f"the attribute {a.name!r} is given twice")
            try:
                out[a.name] = self.onnx.helper.get_attribute_value(a)
            except Exception as e:  # an attribute of no or an unknown type
                raise _bad(node, f"unreadable attribute {a.name!r} ({type(e).__name__}: {e})") from None
        return out

    def ints(
        self, node: Any, a: dict[str, Any], name: str, default: list[int] | None, n: int, low: int
    ) -> list[int]:
        """The attribute `name`: `n` ints >= low (`default` when absent; required if None)."""
        if name not in a:
            if default is None:
                raise _bad(node, f"the attribute {name} is required")
            return default
        value = a[name]
        if (
            not isinstance(value, list)
            or len(value) != n
            or not all(isinstance(v, int) and v >= low for v in value)
        ):
            raise _bad(node, f"the attribute {name} must be {n} integers >= {low}, got {value!r}")
        return value

    def arg(self, node: Any, index: int, role: str) -> str:
        if len(node.input) <= index or not node.input[index]:
            raise _bad(node, f"input {index} ({role}) is missing")
        return str(node.input[index])

    def const(self, node: Any, name: str) -> np.ndarray:
        if name not in self.consts:
            raise _bad(node, f"input {name!r} must be a constant")
        return self.consts[name]

    def constant(self, node: Any) -> np.ndarray:
        """The value of a Constant node."""
        a = node.attribute
        if len(a) != 1:
            raise _bad(node, f"a Constant has one attribute, this one {len(a)}")
        what = f"the value of Constant node {_label(node)}"
        if a[0].name == "value" and a[0].type == self.onnx.AttributeProto.TENSOR:
            return tensor_array(self.onnx, a[0].t, self.budget, what)
        if a[0].name in ("value_float", "value_floats", "value_int", "value_ints"):
            value = self.attrs(node)[a[0].name]
            floats = a[0].name.startswith("value_float")
            check_tensor([len(value)] if isinstance(value, list) else [], 8, what)
            return np.array(value, dtype=np.float32 if floats else np.int64)
        raise _bad(node, f"a Constant given by {a[0].name!r} is not supported")

    def build(self) -> OnnxModel:
        current = self.input.name
        for node in self.graph.node:
            try:
                current = self.node(node, current)
            except (KeyError, IndexError) as e:  # a malformed node a check above did not foresee
                raise _bad(node, f"malformed node ({type(e).__name__}: {e})") from None
        if current != self.graph.output[0].name:
            raise ValueError(
                f"the graph's output {self.graph.output[0].name!r} is not the end of its chain of ops "
                f"({current!r})"
            )
        if not self.layers:
            raise ValueError("the graph has no layers scalegen runs")
        model = Sequential([Input(self.input_shape)], name=self.graph.name or "onnx")
        for layer, _, _ in self.layers:
            model.add(layer)
        for layer, weights, label in self.layers:
            try:
                layer.set_weights(weights)
            except ValueError as e:
                raise ValueError(f"{label}: {e}") from None
        return OnnxModel(model, self.spatial_input, self.pending_order)

    def node(self, node: Any, current: str) -> str:
        """Reads one node; returns the name of the chain's tensor after it."""
        if node.op_type == "Constant":
            self.consts[node.output[0]] = self.constant(node)
            return current
        if node.op_type in ("Transpose", "Identity") and all(i in self.consts for i in node.input):
            # an exporter's constant left unfolded (PyTorch: the weight of a Linear without bias)
            value = self.consts[self.arg(node, 0, "data")]
            if node.op_type == "Transpose":
                perm = self.attrs(node).get("perm", list(range(value.ndim))[::-1])
                if sorted(perm) != list(range(value.ndim)):
                    raise _unsupported(node, "perm", perm)
                value = value.transpose(perm)
            self.consts[node.output[0]] = value
            return current
        if self.fold(node, current):
            return current
        if node.op_type not in SUPPORTED_OPS:
            raise ValueError(
                f"unsupported ONNX op {node.op_type} (node {_label(node)}); "
                f"supported: {', '.join(SUPPORTED_OPS)}"
            )
        flowing = [i for i in node.input if i and i not in self.consts]
        if flowing != [current]:
            raise _bad(node, "only a chain of ops is supported (each op on the output of the one before)")
        if not node.input or node.input[0] != current:
            raise _bad(node, f"the chain's tensor {current!r} must be its first input")
        self.current_node = node
        self.read(node)
        return str(node.output[0])

    def add(self, layer: Layer, weights: list[np.ndarray] | None = None) -> None:
        node = self.current_node
        self.layers.append((layer, weights or [], f"{node.op_type} node {_label(node)}"))
        # the shape after this layer, from the core (no weights are initialised)
        configs = [lay._core_config() for lay, _, _ in self.layers]
        try:
            self.shape = tuple(_core.Network(configs, list(self.input_shape)).output_shapes[-1])
        except LimitError:
            raise
        except ValueError as e:
            raise _bad(node, str(e)) from None

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
            raise _bad(node, "after a Transpose only a Flatten is supported")
        if op == "Transpose":
            if len(self.shape) != 3 or list(a.get("perm", [])) != [0, 2, 3, 1]:
                raise _unsupported(node, "perm", a.get("perm"))
            self.channels_last = True
            return
        if op == "Dropout" and len(node.input) > 2 and node.input[2]:
            if self.const(node, node.input[2]).any():  # training_mode: random, not the identity
                raise _bad(node, "a Dropout in training mode is not supported")
        if op in ("Dropout", "Identity"):
            return
        if op in DECODER_OPS:
            self.read_decoder_op(node, a)
            return
        if op in _ACTIVATIONS or op in ("Softmax", "LogSoftmax"):
            name = _ACTIVATIONS.get(op, "softmax" if op == "Softmax" else "log_softmax")
            if op in ("Softmax", "LogSoftmax"):
                rank = 4 if len(self.shape) == 3 else 2
                axis = a.get("axis", -1 if self.opset >= 13 else 1)
                if not isinstance(axis, int) or axis % rank != 1:  # the channels (NCHW) or the features
                    raise _unsupported(node, "axis", axis)
                if rank == 4 and self.opset < 13:  # before opset 13: over (c, h, w) together
                    raise _bad(
                        node,
                        f"a Softmax on images at opset {self.opset} normalises over c, h and w "
                        "together, which is not supported (export at opset 13 or later)",
                    )
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

    def pads(self, node: Any, a: dict[str, Any], dilated: bool = False) -> Any:
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode(errors="replace") if isinstance(auto, bytes) else auto
        if auto not in ("NOTSET", "VALID"):
            raise _unsupported(node, "auto_pad", auto)
        if not dilated and self.ints(node, a, "dilations", [1, 1], 2, 1) != [1, 1]:
            raise _unsupported(node, "dilations", a["dilations"])
        top, left, bottom, right = (
            self.ints(node, a, "pads", [0, 0, 0, 0], 4, 0) if auto == "NOTSET" else [0] * 4
        )
        return "valid" if top == left == bottom == right == 0 else ((top, bottom), (left, right))

    def conv(self, node: Any, a: dict[str, Any]) -> None:
        if len(self.shape) != 3:
            raise _bad(node, "a Conv on a flat tensor")
        groups = a.get("group", 1)
        if not isinstance(groups, int) or groups < 1 or self.shape[2] % groups:
            raise _unsupported(node, "group", groups)
        kernel = self.const(node, self.arg(node, 1, "weights"))  # (out, in / groups, kh, kw)
        bias = self.const(node, node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if kernel.ndim != 4 or kernel.shape[1] * groups != self.shape[2] or 0 in kernel.shape:
            raise _bad(
                node,
                f"weights of shape {kernel.shape} do not fit {self.shape[2]} input channels "
                "(expected (filters, channels, height, width))",
            )
        filters, _, kh, kw = kernel.shape
        if self.ints(node, a, "kernel_shape", [kh, kw], 2, 1) != [kh, kw]:
            raise _bad(node, f"kernel_shape {a['kernel_shape']} differs from its weights' {[kh, kw]}")
        if bias is not None and bias.shape != (filters,):
            raise _bad(node, f"a bias of shape {bias.shape} for {filters} filters")
        sh, sw = self.ints(node, a, "strides", [1, 1], 2, 1)
        dh, dw = self.ints(node, a, "dilations", [1, 1], 2, 1)
        padding = self.pads(node, a, dilated=True)
        if filters % groups:
            raise _unsupported(node, "group", groups)
        layer = Conv2D(
            filters,
            (kh, kw),
            strides=(sh, sw),
            padding=padding,
            use_bias=bias is not None,
            dilation_rate=(dh, dw),
            groups=groups,
        )
        weights = [kernel.transpose(2, 3, 1, 0)] + ([] if bias is None else [bias])
        self.add(layer, weights)

    def pool(self, node: Any, a: dict[str, Any]) -> None:
        if len(self.shape) != 3:
            raise _bad(node, "pooling on a flat tensor")
        if a.get("ceil_mode", 0):
            raise _unsupported(node, "ceil_mode", a["ceil_mode"])
        padding = self.pads(node, a)
        if node.op_type == "AveragePool" and a.get("count_include_pad", 0) and padding != "valid":
            raise _unsupported(node, "count_include_pad", 1)
        cls = MaxPooling2D if node.op_type == "MaxPool" else AveragePooling2D
        kh, kw = self.ints(node, a, "kernel_shape", None, 2, 1)
        sh, sw = self.ints(node, a, "strides", [1, 1], 2, 1)
        self.add(cls((kh, kw), strides=(sh, sw), padding=padding))

    def flatten(self, node: Any, a: dict[str, Any]) -> None:
        if node.op_type == "Flatten" and a.get("axis", 1) != 1:
            raise _unsupported(node, "axis", a["axis"])
        if node.op_type == "Reshape":
            target = self.const(node, self.arg(node, 1, "shape"))
            size = int(np.prod(self.shape))
            if target.ndim != 1 or target.dtype.kind not in "iu":
                raise _bad(
                    node, f"the target shape must be a 1-D integer tensor, got {target.dtype} {target.shape}"
                )
            wanted = target.tolist()
            if self.image_reshape(node, wanted):
                return
            if len(wanted) != 2 or wanted[0] not in (0, -1) or wanted[1] not in (-1, size):
                raise _unsupported(node, "shape", wanted)
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
            raise _bad(node, "on an image: flatten it first")
        weight = self.const(node, self.arg(node, 1, "weights"))
        bias = None
        if node.op_type == "Gemm":
            for key, want in (("alpha", 1.0), ("beta", 1.0), ("transA", 0)):
                if a.get(key, want) != want:
                    raise _unsupported(node, key, a[key])
        if weight.ndim != 2 or 0 in weight.shape:
            raise _bad(node, f"weights of shape {weight.shape}: a 2-D matrix is needed")
        kernel = weight.T if node.op_type == "Gemm" and a.get("transB", 0) else weight
        if kernel.shape[0] != self.shape[0]:
            raise _bad(node, f"weights of shape {weight.shape} do not fit {self.shape[0]} input features")
        units = kernel.shape[1]
        if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2]:
            bias = self.row(node, self.const(node, node.input[2]), units)
        kernel = self.take_order(kernel)
        bias = np.zeros(units, np.float32) if bias is None else bias
        self.add(Dense(units), [kernel, bias])

    @staticmethod
    def row(node: Any, value: np.ndarray, units: int) -> np.ndarray:
        """A bias broadcast over the batch: (units,), (1, units), (1,) or a scalar."""
        try:
            if value.ndim > 2:
                raise ValueError
            return np.broadcast_to(value, (1, units)).reshape(units).copy()
        except ValueError:
            raise _bad(node, f"a bias of shape {value.shape} for {units} outputs") from None

    def bias(self, node: Any) -> None:
        other = [i for i in node.input if i in self.consts]
        last = self.layers[-1] if self.layers else None
        if (
            len(node.input) != 2
            or len(other) != 1
            or not (
                last
                and isinstance(last[0], Dense)
                and last[0].activation == "linear"
                and len(self.shape) == 1
            )
        ):
            raise _bad(node, "only a bias added to a MatMul is supported")
        last[1][1] = last[1][1] + self.row(node, self.consts[other[0]], last[1][1].size)

    def batch_norm(self, node: Any, a: dict[str, Any]) -> None:
        if a.get("training_mode", 0):
            raise _unsupported(node, "training_mode", 1)
        if a.get("spatial", 1) != 1:  # before opset 9: statistics per element
            raise _unsupported(node, "spatial", a["spatial"])
        roles = ("scale", "B", "mean", "var")
        gamma, beta, mean, var = (self.const(node, self.arg(node, i + 1, r)) for i, r in enumerate(roles))
        channels = self.shape[-1]
        for role, v in zip(roles, (gamma, beta, mean, var), strict=True):
            if v.shape != (channels,):
                raise _bad(node, f"{role} of shape {v.shape} for {channels} channels")
        if len(self.shape) == 1 and self.pending_order is not None:
            order = self.pending_order
            gamma, beta, mean, var = (self.reorder(v, order) for v in (gamma, beta, mean, var))
        epsilon = a.get("epsilon", 1e-5)
        if not isinstance(epsilon, float):
            raise _unsupported(node, "epsilon", epsilon)
        self.add(BatchNormalization(epsilon=epsilon), [gamma, beta, mean, var])

    @staticmethod
    def reorder(values: np.ndarray, order: np.ndarray) -> np.ndarray:
        """values indexed by ONNX's flat order (first axis) put in ours."""
        out = np.empty_like(values)
        out[order] = values
        return out
