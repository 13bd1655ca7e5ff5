# mypy: disable-error-code="attr-defined"
# (the methods of a mixin: the reader in _onnx_import.py holds the state they use)
"""``load_onnx``'s ops of decoders and generators: ConvTranspose, Resize/Upsample (nearest,
bilinear), Pad (zeros on height and width), GlobalAveragePool, LeakyRelu, Elu, PRelu,
Softplus, and a Reshape from a Linear's output to an image (its units reordered so that our
channels-last Reshape sees the values ONNX's channels-first one does)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..utils._limits import check_tensor
from .layers import (
    ELU,
    Activation,
    Conv2DTranspose,
    Dense,
    GlobalAveragePooling2D,
    LeakyReLU,
    PReLU,
    Reshape,
    UpSampling2D,
    ZeroPadding2D,
)

DECODER_OPS = (
    "ConvTranspose",
    "Resize",
    "Upsample",
    "Pad",
    "GlobalAveragePool",
    "LeakyRelu",
    "Elu",
    "PRelu",
    "Softplus",
)


# the ops of an exporter's shape arithmetic, folded to constants when their inputs are constants
# (or the Shape of the chain's tensor): what PyTorch writes for Unflatten, view and ZeroPad2d
FOLDED_OPS = (
    "Shape",
    "Gather",
    "Slice",
    "Concat",
    "Unsqueeze",
    "Squeeze",
    "Reshape",
    "Transpose",
    "Cast",
    "ConstantOfShape",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Mod",
    "Identity",
)
# the batch size in a folded shape: unknown, and what Reshape's 0 or -1 stands for there
BATCH = -1


def _text(value: Any, default: str) -> str:
    if value is None:
        return default
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class DecoderOps:
    """Handlers of DECODER_OPS; ``read_decoder_op`` dispatches one node; ``fold`` evaluates
    an exporter's shape arithmetic."""

    def onnx_shape(self) -> list[int]:
        """The chain tensor's ONNX shape, the batch as BATCH."""
        if len(self.shape) == 3 and not self.channels_last:
            h, w, c = self.shape
            return [BATCH, c, h, w]
        return [BATCH, *self.shape]

    def fold(self, node: Any, current: str) -> bool:
        """Evaluates a node of shape arithmetic into self.consts; False when it is not one."""
        from ._onnx_import import _bad

        op = node.op_type
        if op not in FOLDED_OPS:
            return False
        if op == "Shape":
            if list(node.input) != [current]:
                return False
            value = np.array(self.onnx_shape(), np.int64)
        else:
            if not node.input or not all(i in self.consts for i in node.input if i):
                return False
            args = [self.consts[i] if i else None for i in node.input]
            a = self.attrs(node)
            try:
                value = self.evaluate(op, args, a)
            except (ValueError, IndexError, TypeError) as e:
                raise _bad(node, f"cannot evaluate its constant inputs ({e})") from None
        self.budget.add(value.shape, value.itemsize, f"the value of node {node.name!r}")
        self.consts[node.output[0]] = value
        return True

    @staticmethod
    def evaluate(op: str, args: list[Any], a: dict[str, Any]) -> np.ndarray:
        x = args[0]
        if op in ("Add", "Sub", "Mul", "Div", "Mod"):
            y = args[1]
            check_tensor(np.broadcast_shapes(x.shape, y.shape), 8, "a folded constant")  # before it exists
            if op == "Div":
                return x // y if x.dtype.kind in "iu" else x / y
            return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Mod": np.mod}[op](x, y)
        if op == "Identity":
            return x
        if op == "Cast":
            return x.astype({1: np.float32, 6: np.int32, 7: np.int64, 11: np.float64}[a["to"]])
        if op == "ConstantOfShape":
            shape = [int(d) for d in x]
            if any(d < 0 for d in shape) or int(np.prod(shape)) > 1 << 20:
                raise ValueError(f"shape {shape}")
            return np.zeros(shape, np.float32)  # the default value; a given one is not supported
        if op == "Gather":
            return np.take(x, args[1], axis=a.get("axis", 0))
        if op == "Concat":
            return np.concatenate([np.atleast_1d(v) for v in args], axis=a["axis"])
        if op in ("Unsqueeze", "Squeeze"):
            axes = [int(v) for v in (args[1] if len(args) > 1 and args[1] is not None else a.get("axes", []))]
            return np.expand_dims(x, axes) if op == "Unsqueeze" else np.squeeze(x, tuple(axes) or None)
        if op == "Reshape":
            return x.reshape([int(d) for d in args[1]])
        if op == "Transpose":
            return x.transpose(a.get("perm"))
        # Slice (opset 10+: starts, ends, axes, steps as inputs)
        starts, ends = args[1], args[2]
        axes_in = args[3] if len(args) > 3 and args[3] is not None else np.arange(len(starts))
        steps = args[4] if len(args) > 4 and args[4] is not None else np.ones(len(starts), np.int64)
        index = [slice(None)] * x.ndim
        for axis, start, end, step in zip(axes_in, starts, ends, steps, strict=True):
            index[int(axis)] = slice(int(start), int(min(end, 2**62)), int(step))
        return x[tuple(index)]

    def read_decoder_op(self, node: Any, a: dict[str, Any]) -> None:
        from ._onnx_import import _bad, _unsupported

        op = node.op_type
        spatial = len(self.shape) == 3
        if op in ("ConvTranspose", "Resize", "Upsample", "Pad", "GlobalAveragePool") and not spatial:
            raise _bad(node, f"a {op} on a flat tensor")
        if op == "LeakyRelu":
            self.add(LeakyReLU(negative_slope=float(a.get("alpha", 0.01))))
        elif op == "Elu":
            self.add(ELU(alpha=float(a.get("alpha", 1.0))))
        elif op == "Softplus":
            self.add(Activation("softplus"))
        elif op == "GlobalAveragePool":
            self.add(GlobalAveragePooling2D())
        elif op == "PRelu":
            self.prelu(node)
        elif op == "ConvTranspose":
            self.conv_transpose(node, a)
        elif op == "Pad":
            mode = _text(a.get("mode"), "constant")
            pads = (
                self.const(node, self.arg(node, 1, "pads")) if self.opset >= 11 else np.array(a.get("pads"))
            )
            value = self.const(node, node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros(1)
            pads = np.asarray(pads).astype(np.int64).tolist()
            if mode != "constant" or np.any(value != 0):
                raise _unsupported(node, "mode", mode)
            if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or min(pads) < 0:
                raise _unsupported(node, "pads", pads)  # zeros around height and width only
            self.add(ZeroPadding2D(((pads[2], pads[6]), (pads[3], pads[7]))))
        else:
            self.resize(node, a)

    def prelu(self, node: Any) -> None:
        from ._onnx_import import _bad

        slope = np.asarray(self.const(node, self.arg(node, 1, "slope")), np.float32)
        if len(self.shape) == 3:
            h, w, c = self.shape
            full = np.broadcast_to(slope.reshape((1,) * (3 - slope.ndim) + slope.shape), (c, h, w))
            alpha = np.ascontiguousarray(full.transpose(1, 2, 0))
            layer = PReLU()
        else:
            try:
                alpha = np.broadcast_to(slope, self.shape).astype(np.float32)
            except ValueError:
                raise _bad(node, f"a slope of shape {slope.shape} for {self.shape}") from None
            layer = PReLU()
        self.add(layer, [alpha])

    def conv_transpose(self, node: Any, a: dict[str, Any]) -> None:
        from ._onnx_import import _bad, _unsupported

        if a.get("group", 1) != 1:
            raise _unsupported(node, "group", a["group"])
        if "output_shape" in a:
            raise _unsupported(node, "output_shape", a["output_shape"])
        kernel = self.const(node, self.arg(node, 1, "weights"))  # (in, out, kh, kw)
        bias = self.const(node, node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if kernel.ndim != 4 or kernel.shape[0] != self.shape[2] or 0 in kernel.shape:
            raise _bad(node, f"weights of shape {kernel.shape} do not fit {self.shape[2]} input channels")
        _, filters, kh, kw = kernel.shape
        if bias is not None and bias.shape != (filters,):
            raise _bad(node, f"a bias of shape {bias.shape} for {filters} filters")
        if self.ints(node, a, "dilations", [1, 1], 2, 1) != [1, 1]:
            raise _unsupported(node, "dilations", a["dilations"])
        auto = _text(a.get("auto_pad"), "NOTSET")
        if auto not in ("NOTSET", "VALID"):
            raise _unsupported(node, "auto_pad", auto)
        top, left, bottom, right = (
            self.ints(node, a, "pads", [0, 0, 0, 0], 4, 0) if auto == "NOTSET" else [0] * 4
        )
        strides = self.ints(node, a, "strides", [1, 1], 2, 1)
        extra = self.ints(node, a, "output_padding", [0, 0], 2, 0)
        layer = Conv2DTranspose(
            filters,
            (kh, kw),
            strides=strides,
            padding=((top, bottom), (left, right)),
            output_padding=extra,
            use_bias=bias is not None,
        )
        self.add(layer, [kernel.transpose(2, 3, 1, 0)] + ([] if bias is None else [bias]))

    def resize(self, node: Any, a: dict[str, Any]) -> None:
        from ._onnx_import import _bad, _unsupported

        mode = _text(a.get("mode"), "nearest")
        if node.op_type == "Upsample":
            scales = self.const(node, self.arg(node, 1, "scales"))
        else:
            given = [i for i in node.input[1:]]
            if len(given) >= 2 and given[1]:
                scales = self.const(node, given[1])
            elif len(given) >= 3 and given[2]:
                sizes = self.const(node, given[2]).astype(np.int64)
                h, w, c = self.shape
                scales = sizes / np.array([sizes[0], c, h, w], np.float64)
            else:
                raise _bad(node, "neither scales nor sizes are given")
        scales = np.asarray(scales, np.float64).ravel()
        if scales.size != 4 or scales[0] != 1 or scales[1] != 1 or np.any(scales[2:] != np.round(scales[2:])):
            raise _unsupported(node, "scales", scales.tolist())  # integer factors on height and width
        size = (int(scales[2]), int(scales[3]))
        transform = _text(a.get("coordinate_transformation_mode"), "half_pixel")
        if mode == "nearest" and (
            node.op_type == "Upsample"
            or (transform == "asymmetric" and _text(a.get("nearest_mode"), "round_prefer_floor") == "floor")
        ):
            self.add(UpSampling2D(size, interpolation="nearest"))
        elif mode in ("linear", "bilinear") and transform in ("half_pixel", "pytorch_half_pixel"):
            self.add(UpSampling2D(size, interpolation="bilinear"))
        else:
            raise _unsupported(node, "mode", f"{mode} ({transform})")

    def image_reshape(self, node: Any, wanted: list[int]) -> bool:
        """A Reshape of a Dense's output to (n, c, h, w): our Dense's units are reordered to
        (h, w, c) and a channels-last Reshape added. False when the reshape is not that."""
        if (
            len(wanted) != 4
            or len(self.shape) != 1
            or not self.layers
            or not isinstance(self.layers[-1][0], Dense)
        ):
            return False
        c, h, w = wanted[1:]
        if min(c, h, w) < 1 or c * h * w != self.shape[0] or self.layers[-1][0].activation == "softmax":
            return False  # an element-wise activation does not mind the units' order
        order = (
            np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).ravel()
        )  # our unit j is ONNX's order[j]
        weights = self.layers[-1][1]
        weights[0] = np.ascontiguousarray(weights[0][:, order])
        if len(weights) > 1:
            weights[1] = np.ascontiguousarray(weights[1][order])
        self.add(Reshape((h, w, c)))
        return True
