"""What every ONNX exporter shares: the import check and the IR version written."""

from __future__ import annotations

from typing import Any

IR_VERSION = 8  # onnxruntime 1.17 and later read it; opset 13 needs at least 7


def import_onnx() -> Any:
    """The onnx module, or an ImportError naming the extra to install."""
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'scalegen[onnx]'") from None
    return onnx


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
