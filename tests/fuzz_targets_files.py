"""Fuzz targets for the model-file readers, run by ``isolated.run_cases`` in a child process,
and the builders of the files test_hardening_files.py starts from and mutates.

Each target takes one case (the bytes of a file), writes it to a temporary file, reads it
with the public reader and, when that succeeds, runs the model on a fixed tiny input; it
returns a small summary (shapes). A refused file raises a ValueError (CorruptModelError and
LimitError are ValueErrors); anything else fails the fuzz test.
"""

from __future__ import annotations

import functools
import gzip
import io
import math
import os
import struct
import tempfile
import zipfile
import zlib
from typing import Any

import numpy as np

SMALL_INPUT = 1 << 16  # values of one input sample the targets run a loaded model on
BOMB = 2_100_000_000  # bytes a bomb expands to, from about 2 MB
BLOCK = 1 << 24


def _written(data: bytes, suffix: str) -> str:
    fd, path = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def _tiny_input(shape: tuple[int, ...]) -> np.ndarray | None:
    if math.prod(shape) > SMALL_INPUT:
        return None
    return np.linspace(-1, 1, 2 * math.prod(shape), dtype=np.float32).reshape(2, *shape)


def load_model_case(data: bytes) -> Any:
    from scalegen.nn import load_model

    path = _written(data, ".keras")
    try:
        model = load_model(path)
    finally:
        os.unlink(path)
    if not model.built:
        return ("unbuilt", len(model.layers))
    x = _tiny_input(tuple(model._input_shape))
    return ("built", None if x is None else model.predict(x).shape)


def load_onnx_case(data: bytes) -> Any:
    from scalegen.nn import load_onnx

    path = _written(data, ".onnx")
    try:
        model = load_onnx(path)
    finally:
        os.unlink(path)
    h_w_c = tuple(model.model._input_shape)
    shape = (h_w_c[2], h_w_c[0], h_w_c[1]) if len(h_w_c) == 3 else h_w_c  # the ONNX layout
    x = _tiny_input(shape)
    return None if x is None else model.predict(x).shape


def read_idx_case(data: bytes) -> Any:
    from scalegen.datasets import read_idx

    path = _written(data, ".idx")
    try:
        array = read_idx(path)
    finally:
        os.unlink(path)
    return (array.shape, array.dtype.str)


# ---- zip archives written by hand, so that a member may declare any size --------------------
def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def member(name: str, data: bytes) -> tuple[str, bytes, int, int]:
    """A deflated zip member: (name, compressed bytes, crc, size)."""
    return name, deflate(data), zlib.crc32(data), len(data)


@functools.cache
def zero_bomb(prefix: bytes = b"") -> tuple[bytes, int, int]:
    """Raw deflate data of `prefix` then zeros, BOMB bytes in all, with its crc and size: 16 MiB
    of zeros after a full flush compress to the same bytes every time, so the data is one block
    repeated (made in a second, where compressing 2 GB would take many)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(BLOCK)) + c.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(BOMB - len(prefix), BLOCK)
    tail = c.compress(bytes(rest)) + c.flush()
    crc, zeros = zlib.crc32(prefix), bytes(BLOCK)
    for _ in range(blocks):
        crc = zlib.crc32(zeros, crc)
    return head + block * blocks + tail, zlib.crc32(bytes(rest), crc), BOMB


def zip_of(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip archive of deflated members, each declaring the size given (< 4 GiB)."""
    out, central = bytearray(), bytearray()
    for name, data, crc, size in members:
        raw = name.encode()
        central += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                0,
                crc,
                len(data),
                size,
                len(raw),
                0,
                0,
                0,
                0,
                0,
                len(out),
            )
            + raw
        )
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(raw), 0)
        out += raw + data
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    return bytes(out + central + end)


def members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def npy(array: np.ndarray, header: str | None = None) -> bytes:
    """An .npy file; `header` replaces the dictionary numpy writes."""
    f = io.BytesIO()
    np.save(f, array)
    if header is None:
        return f.getvalue()
    text = (header + " " * 200)[:118] + "\n"  # the 128-byte header of version 1.0
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1") + array.tobytes()


def rezipped(data: bytes, replace: dict[str, bytes]) -> bytes:
    members = dict(members_of(data), **replace)
    return zip_of([member(n, v) for n, v in members.items()])


def with_npz(data: bytes, arrays: dict[str, bytes]) -> bytes:
    """The model file `data` with some .npy members of weights.npz replaced."""
    inner = members_of(members_of(data)["weights.npz"])
    inner.update({f"{k}.npy": v for k, v in arrays.items()})
    return rezipped(data, {"weights.npz": zip_of([member(n, v) for n, v in inner.items()])})


def idx(array: np.ndarray, code: int) -> bytes:
    head = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return head + array.astype(array.dtype.newbyteorder(">")).tobytes()


@functools.cache
def idx_bomb(declared: int) -> bytes:
    """A gzip stream (concatenated members) of an IDX header declaring `declared` bytes, then
    BOMB bytes of zeros."""
    block = gzip.compress(bytes(BLOCK), 9)
    return gzip.compress(struct.pack(">HBBI", 0, 8, 1, declared)) + block * (BOMB // BLOCK)


# ---- mutations: each case of the fuzz tests is a base file and a list of these ---------------
def mutate(data: bytes, ops: list[tuple[Any, ...]]) -> bytes:
    """Byte flips, truncations, insertions, deletions and 4-byte integers written in place;
    positions are taken modulo the length."""
    b = bytearray(data)
    for kind, at, arg in ops:
        if not b:
            break
        i = at % len(b)
        if kind == "flip":
            b[i] ^= arg or 1
        elif kind == "truncate":
            del b[i:]
        elif kind == "insert":
            b[i:i] = arg
        elif kind == "delete":
            del b[i : i + arg]
        elif kind == "int":
            b[i : i + 4] = (arg % (1 << 32)).to_bytes(4, "big")
    return bytes(b)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))] or [path]
    if isinstance(value, list):
        return [p for k, v in enumerate(value) for p in _leaves(v, (*path, k))] or [path]
    return [path]


def mutated_model(base: bytes, case: tuple[Any, ...]) -> bytes:
    """A model file (zip of config.json and weights.npz) changed as `case` says."""
    import json

    kind = case[0]
    outer = members_of(base)
    inner = members_of(outer["weights.npz"])
    names = sorted(inner)
    if kind == "raw":
        return mutate(base, case[1])
    if kind == "member":
        name = sorted(outer)[case[1] % len(outer)]
        return rezipped(base, {name: mutate(outer[name], case[2])})
    if kind == "npy":
        name = names[case[1] % len(names)]
        return with_npz(base, {name.removesuffix(".npy"): mutate(inner[name], case[2])})
    if kind == "shape":
        name = names[case[1] % len(names)]
        array = np.load(io.BytesIO(inner[name]))
        header = f"{{'descr': '{array.dtype.str}', 'fortran_order': False, 'shape': {tuple(case[2])}, }}"
        return with_npz(base, {name.removesuffix(".npy"): npy(array, header)})
    if kind == "json":
        config = json.loads(outer["config.json"])
        path = _leaves(config)[case[1] % len(_leaves(config))]
        target = config
        for key in path[:-1]:
            target = target[key]
        if path:
            target[path[-1]] = case[2]
        return rezipped(base, {"config.json": json.dumps(config).encode()})
    if kind == "drop":
        everything = [("outer", n) for n in sorted(outer)] + [("inner", n) for n in names]
        where, name = everything[case[1] % len(everything)]
        if where == "outer":
            return zip_of([member(n, v) for n, v in outer.items() if n != name])
        kept = zip_of([member(n, v) for n, v in inner.items() if n != name])
        return rezipped(base, {"weights.npz": kept})
    if kind == "bomb":  # a member replaced by 2 GB of zeros, declaring its size or lying about it
        where, truthful = case[1], case[2]
        if where == "npy":
            name = names[0]
            data, crc, size = zero_bomb(inner[name][:128])
            bombed = [member(n, v) for n, v in inner.items() if n != name]
            bombed.append((name, data, crc, size if truthful else len(inner[name])))
            return rezipped(base, {"weights.npz": zip_of(bombed)})
        data, crc, size = zero_bomb()
        kept = [member(n, v) for n, v in outer.items() if n != where]
        return zip_of([*kept, (where, data, crc, size if truthful else len(outer[where]))])
    raise ValueError(f"unknown mutation {kind!r}")


def _int64(value: int) -> int:
    """`value` clipped to what a protobuf int64 field holds."""
    return max(-(1 << 63), min(value, (1 << 63) - 1))


def mutated_onnx(base: bytes, ops: list[tuple[Any, ...]]) -> bytes:
    """An ONNX model changed by structural edits of its graph (or byte edits of the file)."""
    import onnx

    proto = onnx.load_model_from_string(base)
    g = proto.graph
    names = sorted({n for node in g.node for n in (*node.input, *node.output)} | {i.name for i in g.input})
    raw_ops = []
    for op in ops:
        kind, i, arg = op
        node = g.node[i % len(g.node)] if len(g.node) else None
        init = g.initializer[i % len(g.initializer)] if len(g.initializer) else None
        if kind == "raw":
            raw_ops.extend(arg)
        elif kind == "dims" and init is not None:
            del init.dims[:]
            init.dims.extend(_int64(d) for d in arg)
        elif kind == "dtype" and init is not None:
            init.data_type = arg
        elif kind == "rawdata" and init is not None:
            init.raw_data = mutate(init.raw_data, arg)
        elif kind == "dup" and init is not None:
            twin = g.initializer.add()
            twin.CopyFrom(init)
            twin.raw_data = bytes(len(init.raw_data))
        elif kind == "attr-drop" and node is not None and len(node.attribute):
            del node.attribute[arg % len(node.attribute)]
        elif kind == "attr-ints" and node is not None and len(node.attribute):
            a = node.attribute[0]
            a.type, a.ints[:] = onnx.AttributeProto.INTS, [_int64(v) for v in arg]
        elif kind == "input-drop" and node is not None and len(node.input):
            del node.input[arg % len(node.input)]
        elif kind == "input-rename" and node is not None and len(node.input):
            node.input[arg % len(node.input)] = names[arg % len(names)] if arg >= 0 else "nowhere"
        elif kind == "output-rename" and node is not None and len(node.output):
            node.output[0] = names[arg % len(names)] if arg >= 0 else ""
        elif kind == "opset":
            proto.opset_import[0].version = arg
        elif kind == "graph-dim" and len(g.input[0].type.tensor_type.shape.dim) > 1:
            dims = g.input[0].type.tensor_type.shape.dim
            dims[1 + i % (len(dims) - 1)].dim_value = _int64(arg)
        elif kind == "node-drop" and node is not None:
            g.node.remove(node)
        elif kind == "node-swap" and len(g.node) > 1:
            j = arg % len(g.node)
            a, b = onnx.NodeProto(), onnx.NodeProto()
            a.CopyFrom(g.node[i % len(g.node)])
            b.CopyFrom(g.node[j])
            g.node[i % len(g.node)].CopyFrom(b)
            g.node[j].CopyFrom(a)
        elif kind == "op" and node is not None:
            node.op_type = arg
        elif kind == "external" and init is not None:
            init.data_location = onnx.TensorProto.EXTERNAL
            del init.external_data[:]
            entry = init.external_data.add()
            entry.key, entry.value = "location", arg
    data = proto.SerializeToString()
    return mutate(data, raw_ops) if raw_ops else data


def mutated_idx(bases: list[bytes], case: tuple[Any, ...]) -> bytes:
    """An IDX file (plain or gzipped) changed as `case` says."""
    kind, which, arg = case
    base = bases[which % len(bases)]
    if kind == "plain":
        return mutate(base, arg)
    if kind == "gz":  # changed, then compressed
        return gzip.compress(mutate(base, arg))
    if kind == "gzbytes":  # compressed, then changed
        return mutate(gzip.compress(base), arg)
    if kind == "dims":  # the header rewritten with other dimensions, the data kept
        code, ndim = base[2], base[3]
        head = struct.pack(">HBB", 0, code, len(arg)) + b"".join(
            struct.pack(">I", d % (1 << 32)) for d in arg
        )
        return head + base[4 + 4 * ndim :]
    if kind == "bomb":
        return idx_bomb(arg % (1 << 32))
    raise ValueError(f"unknown mutation {kind!r}")


# ---- the files the tests start from --------------------------------------------------------
@functools.cache
def good_model() -> tuple[bytes, np.ndarray, np.ndarray]:
    """A small compiled model's file, an input and the model's prediction on it."""
    from scalegen.nn import Sequential
    from scalegen.nn.layers import BatchNormalization, Conv2D, Dense, Flatten, Input, MaxPooling2D

    model = Sequential(
        [
            Input((5, 5, 1)),
            Conv2D(2, 3),
            MaxPooling2D(2, padding="same"),
            BatchNormalization(),
            Flatten(),
            Dense(3, activation="softmax"),
        ],
        seed=0,
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(4, 5, 5, 1)).astype(np.float32)
    model.fit(x, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    with tempfile.TemporaryDirectory() as d:
        model.save(os.path.join(d, "m.keras"))
        with open(os.path.join(d, "m.keras"), "rb") as f:
            data = f.read()
    return data, x, model.predict(x)


@functools.cache
def onnx_base() -> bytes:
    """The good model exported to ONNX."""
    from scalegen.nn import load_model

    path = _written(good_model()[0], ".keras")
    try:
        return bytes(load_model(path).to_onnx().SerializeToString())
    finally:
        os.unlink(path)


def hand_onnx() -> bytes:
    """A graph of the ops our exporter does not write: Constant, Reshape, MatMul + Add,
    AveragePool with pads, Softmax (PyTorch's way of writing them)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(size=(3, 1, 2, 2)).astype(np.float32), "K"),
        numpy_helper.from_array(rng.normal(size=3).astype(np.float32), "KB"),
        numpy_helper.from_array(rng.normal(size=(12, 4)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.normal(size=4).astype(np.float32), "WB"),
    ]
    shape = helper.make_tensor("s", TensorProto.INT64, [2], [0, -1])
    nodes = [
        helper.make_node("Conv", ["x", "K", "KB"], ["c"], name="conv", kernel_shape=[2, 2]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node(
            "AveragePool",
            ["r"],
            ["p"],
            name="pool",
            kernel_shape=[2, 2],
            strides=[2, 2],
            pads=[1, 1, 0, 0],
            count_include_pad=0,
        ),
        helper.make_node("Constant", [], ["shape"], name="const", value=shape),
        helper.make_node("Reshape", ["p", "shape"], ["f"], name="reshape"),
        helper.make_node("MatMul", ["f", "W"], ["m"], name="matmul"),
        helper.make_node("Add", ["m", "WB"], ["a"], name="add"),
        helper.make_node("Softmax", ["a"], ["y"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "hand",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def idx_bases() -> list[bytes]:
    """Small IDX files of four of the six types."""
    rng = np.random.default_rng(0)
    return [
        idx(rng.integers(0, 255, (3, 4, 5)).astype(np.uint8), 0x08),
        idx(rng.normal(size=(2, 3)).astype(np.float32), 0x0D),
        idx(rng.integers(-99, 99, 7).astype(np.int16), 0x0B),
        idx(rng.normal(size=(2, 2, 2, 2)), 0x0E),
    ]
