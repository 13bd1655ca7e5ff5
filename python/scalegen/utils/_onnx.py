"""What every ONNX exporter shares (the import check, the IR version written), and the checked
reading of ONNX tensors for the importers."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ._limits import Budget
from ._validation import check_int

IR_VERSION = 8  # onnxruntime 1.17 and later read it; opset 13 needs at least 7


def import_onnx() -> Any:
    """The onnx module, or an ImportError naming the extra to install."""
    try:
        import onnx
    except ImportError:
        message = "ONNX export and import need the onnx package: pip install 'scalegen[onnx]'"
        raise ImportError(message) from None
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
    return check_int(opset, "opset", "to_onnx", low=13)


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


# ---- reading ONNX files: every size and length checked before anything is allocated ----------


def parse_model(onnx: Any, data: bytes | bytearray, what: str) -> Any:
    """The ModelProto in `data` (external data is not loaded), or a ValueError."""
    try:
        return onnx.load_model_from_string(bytes(data))
    except Exception as e:  # protobuf's DecodeError (its class depends on the protobuf backend)
        raise ValueError(
            f"{what} is not a readable ONNX model ({type(e).__name__}: {e}); the file is damaged "
            "or is not an ONNX model"
        ) from None


# the real-number tensor types a model's weights may have -> the repeated field holding them
# when they are not in raw_data
_TYPED_FIELDS = {
    "FLOAT": "float_data",
    "DOUBLE": "double_data",
    "FLOAT16": "int32_data",
    "INT8": "int32_data",
    "INT16": "int32_data",
    "INT32": "int32_data",
    "UINT8": "int32_data",
    "UINT16": "int32_data",
    "BOOL": "int32_data",
    "INT64": "int64_data",
    "UINT32": "uint64_data",
    "UINT64": "uint64_data",
}
_DATA_FIELDS = ("float_data", "double_data", "int32_data", "int64_data", "uint64_data", "string_data")


def tensor_array(
    onnx: Any, tensor: Any, budget: Budget, what: str, base_dir: str | None = None
) -> np.ndarray:
    """A TensorProto as a fresh array, after checking its type, its declared size against the
    limits and the length of its data against its dims (nothing is allocated before)."""
    proto = onnx.TensorProto
    kind = proto.DataType.Name(tensor.data_type) if tensor.data_type in proto.DataType.values() else None
    if kind not in _TYPED_FIELDS:
        raise ValueError(
            f"{what}: data type {kind or tensor.data_type} is not supported; weights must be real "
            f"numbers ({', '.join(_TYPED_FIELDS)})"
        )
    if tensor.HasField("segment"):
        raise ValueError(f"{what}: segmented tensors are not supported")
    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type))
    dims = list(tensor.dims)
    nbytes = budget.add(dims, dtype.itemsize, what)  # refuses negative dims too
    count = math.prod(dims)
    filled = [f for f in _DATA_FIELDS if len(getattr(tensor, f))]
    if tensor.data_location == proto.EXTERNAL:
        if filled or tensor.HasField("raw_data"):
            raise ValueError(f"{what}: its data is both in the file and in an external file")
        tensor = _with_external_data(onnx, tensor, base_dir, nbytes, what)
    elif tensor.data_location != proto.DEFAULT:
        raise ValueError(f"{what}: unknown data_location {tensor.data_location}")
    if tensor.HasField("raw_data"):
        if filled:
            raise ValueError(f"{what}: its data is both in raw_data and in {filled[0]}: which one is meant?")
        if len(tensor.raw_data) != nbytes:
            raise ValueError(
                f"{what}: raw_data holds {len(tensor.raw_data)} bytes, "
                f"but dims {dims} of {kind} need {nbytes}"
            )
    else:
        field = _TYPED_FIELDS[kind]
        if any(f != field for f in filled):
            raise ValueError(f"{what}: a {kind} tensor cannot hold its data in {filled[0]}")
        if len(getattr(tensor, field)) != count:
            raise ValueError(
                f"{what}: {field} holds {len(getattr(tensor, field))} values, but dims {dims} need {count}"
            )
    try:
        return np.array(onnx.numpy_helper.to_array(tensor), copy=True)
    except (ValueError, TypeError, OverflowError) as e:  # values out of the type's range, say
        raise ValueError(f"{what}: its data does not fit its type {kind} and dims {dims} ({e})") from None


def _with_external_data(onnx: Any, tensor: Any, base_dir: str | None, nbytes: int, what: str) -> Any:
    """A copy of `tensor` with its external data read, once its extent is known to be nbytes."""
    if base_dir is None:
        raise ValueError(
            f"{what}: its data is in an external file; load the model from its path so that the "
            "file can be found beside it"
        )
    info = {e.key: e.value for e in tensor.external_data}
    location = info.get("location", "")
    parts = location.replace("\\", "/").split("/")
    if not location or os.path.isabs(location) or ".." in parts:
        raise ValueError(f"{what}: external data location {location!r} is not a file beside the model")
    path = os.path.join(base_dir, location)
    try:
        offset, length = int(info.get("offset", 0)), int(info.get("length", -1))
        available = os.path.getsize(path) - offset
    except (ValueError, OSError) as e:
        raise ValueError(f"{what}: unreadable external data {location!r} ({e})") from None
    extent = available if length < 0 else length
    if offset < 0 or extent != nbytes or available < nbytes:
        raise ValueError(
            f"{what}: the external data {location!r} (offset {offset}, {extent} bytes of {available} "
            f"available) does not hold the {nbytes} bytes its dims need"
        )
    copy = onnx.TensorProto()
    copy.CopyFrom(tensor)
    try:
        onnx.external_data_helper.load_external_data_for_tensor(copy, base_dir)
    except Exception as e:  # onnx's own checks (symbolic links, bounds...)
        raise ValueError(f"{what}: unreadable external data {location!r} ({type(e).__name__}: {e})") from None
    return copy
