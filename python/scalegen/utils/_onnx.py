"""What every ONNX exporter shares: the import check and the IR version written."""

from __future__ import annotations

from typing import Any

import numpy as np

IR_VERSION = 8  # onnxruntime 1.17 and later read it; opset 13 needs at least 7


def import_onnx() -> Any:
    """The onnx module, or an ImportError naming the extra to install."""
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'scalegen[onnx]'") from None
    return onnx


class GraphBuilder:
    """Nodes and initializers of a graph under construction, with fresh tensor names."""

    def __init__(self, onnx: Any) -> None:
        self.onnx = onnx
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, hint: str, value: Any) -> str:
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(
        self, op_type: str, inputs: list[str], hint: str, *, output: str | None = None, **attrs: Any
    ) -> str:
        """A node; its output is named ``output`` (a graph output) or fresh from ``hint``."""
        out = output or self.name(hint)
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def check_opset(opset: Any) -> int:
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < 13:
        raise ValueError(f"opset must be an int >= 13, got {opset!r}")
    return opset


def finish_model(onnx: Any, graph: Any, opset: int, path: Any) -> Any:
    """The checked ModelProto of ``graph``, saved to ``path`` when given."""
    import os

    proto = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", opset)], producer_name="scalegen"
    )
    proto.ir_version = IR_VERSION
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        onnx.save(proto, os.fspath(path))
    return proto
