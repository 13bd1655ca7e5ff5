"""Model files and data files from outside: compression bombs, declared sizes checked against
scalegen's limits before anything is allocated, corrupt files refused with a ValueError
(CorruptModelError, LimitError), inconsistent ONNX graphs refused, and fuzzing of the three
readers (load_model, load_onnx, read_idx) in a child process under a memory limit.

The builders of zip archives, bombs and mutated files, and the targets the child process
runs, are in fuzz_targets_files.py."""

from __future__ import annotations

import copy
import gzip
import io
import struct
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import isolated
import scalegen
from fuzz_targets_files import (
    BOMB,
    good_model,
    hand_onnx,
    idx,
    idx_bases,
    idx_bomb,
    member,
    members_of,
    mutated_idx,
    mutated_model,
    mutated_onnx,
    npy,
    onnx_base,
    rezipped,
    with_npz,
    zero_bomb,
    zip_of,
)
from isolated import peak_memory
from scalegen import LimitError
from scalegen.datasets import read_idx
from scalegen.nn import CorruptModelError, load_model


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ---- 1. bombs and declared sizes: model files ------------------------------------------------
def test_good_model_file_loads_and_predicts(tmp_path: Path) -> None:
    data, x, expected = good_model()
    model = load_model(write(tmp_path, "m.keras", data))
    np.testing.assert_array_equal(model.predict(x), expected)
    # our hand-made zip of the same members reads the same
    again = load_model(write(tmp_path, "r.keras", rezipped(data, {})))
    np.testing.assert_array_equal(again.predict(x), expected)


@pytest.mark.parametrize("where", ["weights.npz", "config.json"])
def test_zip_bomb_member_is_refused_by_its_declared_size(tmp_path: Path, where: str) -> None:
    data, _, _ = good_model()
    bomb, crc, size = zero_bomb()
    members = [member(n, v) for n, v in members_of(data).items() if n != where] + [(where, bomb, crc, size)]
    path = write(tmp_path, "bomb.keras", zip_of(members))
    assert path.stat().st_size < 3 << 20
    with peak_memory(64 << 20), pytest.raises(LimitError, match=r"max_decompressed_bytes.*set_limits"):
        load_model(path)


def test_zip_bomb_member_lying_about_its_size_is_refused(tmp_path: Path) -> None:
    data, _, _ = good_model()
    bomb, crc, _ = zero_bomb()
    members = [member("config.json", members_of(data)["config.json"]), ("weights.npz", bomb, crc, 1000)]
    with peak_memory(64 << 20), pytest.raises(CorruptModelError):
        load_model(write(tmp_path, "liar.keras", zip_of(members)))


def test_npz_bomb_and_declared_shapes_are_refused_before_reading(tmp_path: Path) -> None:
    data, _, _ = good_model()
    header = npy(np.zeros((1, 1), np.float32))[:128]
    bomb, crc, size = zero_bomb(header)
    inner = members_of(members_of(data)["weights.npz"])
    inner_members = [member(n, v) for n, v in inner.items() if n != "dense/kernel.npy"]
    bombed = rezipped(data, {"weights.npz": zip_of([*inner_members, ("dense/kernel.npy", bomb, crc, size)])})
    with peak_memory(64 << 20), pytest.raises(LimitError, match="max_decompressed_bytes"):
        load_model(write(tmp_path, "npzbomb.keras", bombed))
    # a header declaring 4 TiB over 24 bytes of data: refused by the limit, before allocating
    kernel = np.zeros((8, 3), np.float32)
    huge = npy(kernel, "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 4), }")
    with peak_memory(64 << 20), pytest.raises(LimitError, match=r"dense/kernel.*max_tensor_bytes"):
        load_model(write(tmp_path, "huge.keras", with_npz(data, {"dense/kernel": huge})))
    # sizes within the limits, but more than the data: refused as corrupt
    more = npy(kernel, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 1000), }")
    with pytest.raises(CorruptModelError, match=r"declares \(1000, 1000\)"):
        load_model(write(tmp_path, "more.keras", with_npz(data, {"dense/kernel": more})))
    negative = npy(kernel, "{'descr': '<f4', 'fortran_order': False, 'shape': (-8, -3), }")
    with pytest.raises(CorruptModelError, match="negative"):
        load_model(write(tmp_path, "neg.keras", with_npz(data, {"dense/kernel": negative})))
    # the total of all arrays has its own limit
    with scalegen.limits(max_total_bytes=64), pytest.raises(LimitError, match="max_total_bytes"):
        load_model(write(tmp_path, "m.keras", data))


def test_errors_that_escaped_are_corrupt_model_errors(tmp_path: Path) -> None:
    data, _, _ = good_model()
    config = members_of(data)["config.json"]
    # damaged deflate data with the right sizes: zlib.error
    name, packed, crc, size = member("config.json", config)
    broken = bytearray(packed)
    broken[len(broken) // 2] ^= 0xFF
    broken[len(broken) // 2 + 1] ^= 0x5A
    damaged = [(name, bytes(broken), crc, size), member("weights.npz", members_of(data)["weights.npz"])]
    # an .npy header numpy's tokenizer cannot read: tokenize.TokenError
    token = npy(np.zeros((8, 3), np.float32), "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 3")
    cases = {
        "zlib": zip_of(damaged),
        "token": with_npz(data, {"dense/kernel": token}),
        "nesting": rezipped(data, {"config.json": b"[" * 100_000}),
        "nan-config": rezipped(data, {"config.json": config.replace(b'"epsilon": 0.001', b'"epsilon": NaN')}),
        "digits": rezipped(data, {"config.json": config.replace(b'"seed": 0', b'"seed": ' + b"9" * 5000)}),
    }
    for label, case in cases.items():
        with pytest.raises(CorruptModelError, match="save the model again"):
            load_model(write(tmp_path, f"{label}.keras", case))


def test_weights_that_are_not_real_numbers_are_refused(tmp_path: Path) -> None:
    data, _, _ = good_model()
    kernel = np.load(io.BytesIO(members_of(members_of(data)["weights.npz"])["dense/kernel.npy"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning: refused, not cast
        for bad in (kernel.astype(np.complex64) + 1j, kernel.astype("U8")):
            with pytest.raises(CorruptModelError, match="not real numbers"):
                load_model(write(tmp_path, "c.keras", with_npz(data, {"dense/kernel": npy(bad)})))
    nan = kernel.copy()
    nan[0, 0] = np.nan
    with pytest.raises(CorruptModelError, match="NaN"):
        load_model(write(tmp_path, "nan.keras", with_npz(data, {"dense/kernel": npy(nan)})))
    # other dtypes of real numbers are read as float32, as before
    wide = load_model(
        write(tmp_path, "f8.keras", with_npz(data, {"dense/kernel": npy(kernel.astype(">f8"))}))
    )
    np.testing.assert_array_equal(wide.layers[-1].get_weights()[0], kernel)
    state = np.load(io.BytesIO(members_of(members_of(data)["weights.npz"])["optimizer/v.npy"]))
    for name, value, message in (
        ("optimizer/v", -state - 1, "negative"),
        ("optimizer/m", np.full_like(state, np.inf), "NaN or infinity"),
        ("optimizer/step", np.array(2.5), "integer"),
    ):
        with pytest.raises(CorruptModelError, match=message):
            load_model(write(tmp_path, "s.keras", with_npz(data, {name: npy(value)})))


def test_load_weights_refuses_a_corrupt_npz(tmp_path: Path) -> None:
    data, x, expected = good_model()
    model = load_model(write(tmp_path, "m.keras", data))
    npz = members_of(data)["weights.npz"]
    before = model.get_weights()
    huge = npy(
        np.zeros(1, np.float32), "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }"
    )
    inner = {**members_of(npz), "dense/kernel.npy": huge}
    with pytest.raises(CorruptModelError, match="save_weights"):
        model.load_weights(write(tmp_path, "w.npz", npz[: len(npz) // 2]))
    with pytest.raises(LimitError):
        model.load_weights(write(tmp_path, "w.npz", zip_of([member(n, v) for n, v in inner.items()])))
    for a, b in zip(model.get_weights(), before, strict=True):  # nothing was written
        np.testing.assert_array_equal(a, b)
    model.load_weights(write(tmp_path, "w.npz", npz))
    np.testing.assert_array_equal(model.predict(x), expected)


# ---- 1. bombs and declared sizes: IDX files -------------------------------------------------
@pytest.mark.parametrize(
    ("declared", "error", "message"),
    [
        (BOMB, LimitError, r"\(2100000000,\).*max_tensor_bytes.*set_limits"),
        (10, ValueError, "more than 1048576 trailing bytes"),
    ],
)
def test_idx_gzip_bomb(tmp_path: Path, declared: int, error: type, message: str) -> None:
    path = write(tmp_path, "bomb.idx.gz", idx_bomb(declared))
    assert path.stat().st_size < 3 << 20
    with peak_memory(64 << 20), pytest.raises(error, match=message):
        read_idx(path)


def test_idx_gzip_stream_is_capped_by_max_decompressed_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, "bomb.idx.gz", idx_bomb(BOMB))
    with (
        scalegen.limits(max_tensor_bytes=1 << 40, max_total_bytes=1 << 40, max_decompressed_bytes=32 << 20),
        peak_memory(128 << 20),
        pytest.raises(LimitError, match="max_decompressed_bytes"),
    ):
        read_idx(path)


def test_idx_declared_size_against_the_data(tmp_path: Path) -> None:
    a = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    good = idx(a, 0x0B)
    # declaring 1 GiB - 8 bytes over 120 bytes of data: truncated, known before reading
    lying = struct.pack(">HBBI", 0, 0x08, 1, (1 << 30) - 8) + good[16:]
    for compress in (False, True):
        wrap: Callable[[bytes], bytes] = gzip.compress if compress else bytes
        with peak_memory(16 << 20), pytest.raises(ValueError, match="truncated IDX data"):
            read_idx(write(tmp_path, "lying.idx", wrap(lying)))
        with pytest.raises(ValueError, match="1 trailing bytes"):
            read_idx(write(tmp_path, "long.idx", wrap(good + b"\x00")))
        with pytest.raises(ValueError, match="truncated IDX data"):
            read_idx(write(tmp_path, "short.idx", wrap(good[:-1])))
        huge = struct.pack(">HBBII", 0, 0x0E, 2, 1 << 20, 1 << 20) + good[16:]
        with pytest.raises(LimitError, match="max_tensor_bytes"):
            read_idx(write(tmp_path, "huge.idx", wrap(huge)))


def test_idx_values_and_byte_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for code, dtype in scalegen.datasets.IDX_TYPES.items():
        a = (rng.normal(0, 50, (2, 3, 4))).astype(dtype)
        for compress in (False, True):
            data = idx(a, code)
            path = write(tmp_path, "a.idx", gzip.compress(data) if compress else data)
            b = read_idx(path)
            assert b.dtype == a.dtype.newbyteorder("=") and b.dtype.isnative and b.flags.writeable
            np.testing.assert_array_equal(b, a)


# ---- 3. ONNX import -----------------------------------------------------------------------
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from scalegen.nn import load_onnx  # noqa: E402


def graph_model(nodes: list[Any], inits: list[Any], inp: list[Any], out: list[Any], opset: int = 13) -> Any:
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, inp)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)],
        initializer=inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def run_ort(proto: Any, x: np.ndarray) -> np.ndarray:
    data = proto if isinstance(proto, bytes) else proto.SerializeToString()
    options = ort.SessionOptions()
    options.log_severity_level = 3  # no warnings about the duplicates the tests make on purpose
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def gemm(inits: list[Any], inputs: tuple[str, ...] = ("x", "W", "B"), **attrs: Any) -> Any:
    return graph_model(
        [helper.make_node("Gemm", list(inputs), ["y"], name="fc", **attrs)], inits, ["N", 4], ["N", 2]
    )


W = np.arange(8, dtype=np.float32).reshape(4, 2) / 10
B = np.array([0.5, -1.0], np.float32)


def test_duplicate_initializers_are_refused() -> None:
    first, second, bias = (numpy_helper.from_array(v, n) for v, n in ((W, "W"), (W * 3, "W"), (B, "B")))
    x = np.ones((1, 4), np.float32)
    # onnxruntime takes the one that comes last: which value the graph means is the file's order,
    # which no reader is told to follow
    one_way, other_way = gemm([first, second, bias]), gemm([second, first, bias])
    np.testing.assert_allclose(run_ort(one_way, x), x @ (W * 3) + B, rtol=1e-6)
    np.testing.assert_allclose(run_ort(other_way, x), x @ W + B, rtol=1e-6)
    for proto in (one_way, other_way):
        with pytest.raises(ValueError, match="two initializers named 'W'"):
            load_onnx(proto)
    # with one of them, scalegen agrees with onnxruntime
    single = gemm([first, bias])
    np.testing.assert_allclose(load_onnx(single).predict(x), run_ort(single, x), rtol=1e-6)


def test_inconsistent_graphs_are_refused() -> None:
    w, b = numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")
    relu = helper.make_node("Relu", ["y0"], ["y"], name="act")
    twice = graph_model(
        [
            helper.make_node("Gemm", ["x", "W", "B"], ["y0"], name="a"),
            helper.make_node("Relu", ["x"], ["y0"], name="b"),
            relu,
        ],
        [w, b],
        ["N", 4],
        ["N", 2],
    )
    short_raw = copy.deepcopy(w)
    short_raw.raw_data = short_raw.raw_data[:-4]
    negative = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[-4, -2], float_data=list(W.ravel()))
    strings = TensorProto(name="W", data_type=TensorProto.STRING, dims=[1], string_data=[b"x"])
    unknown = TensorProto(name="W", data_type=99, dims=[4, 2], raw_data=W.tobytes())
    both = copy.deepcopy(w)
    both.float_data.extend(W.ravel().tolist())
    undefined = graph_model(
        [helper.make_node("Gemm", ["z", "W", "B"], ["y"], name="fc")], [w, b], ["N", 4], ["N", 2]
    )
    cases = [
        (twice, "output 'y0' is already defined"),
        (gemm([short_raw, b]), "raw_data holds 28 bytes, but dims \\[4, 2\\] of FLOAT need 32"),
        (gemm([negative, b]), "negative"),
        (gemm([strings, b]), "data type STRING is not supported"),
        (gemm([unknown, b]), "data type 99 is not supported"),
        (gemm([both, b]), "both in raw_data and in float_data"),
        (undefined, "input 'z' is not defined before it"),
        (gemm([w, b], ("x",)), "Gemm node 'fc': input 1 \\(weights\\) is missing"),
        (gemm([w, b], transB=1), "weights of shape \\(4, 2\\) do not fit 4 input features"),
        (
            graph_model(
                [helper.make_node("MaxPool", ["x"], ["y"], name="pool")], [], ["N", 1, 4, 4], ["N", 1, 2, 2]
            ),
            "MaxPool node 'pool': the attribute kernel_shape is required",
        ),
        (
            graph_model(
                [helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[2, 2], pads=[1, 1])],
                [],
                ["N", 1, 4, 4],
                ["N", 1, 2, 2],
            ),
            "pads must be 4 integers",
        ),
    ]
    training = [numpy_helper.from_array(np.array(v), n) for v, n in ((0.5, "ratio"), (True, "train"))]
    dropout = helper.make_node("Dropout", ["y0", "ratio", "train"], ["y"], name="drop")
    gemm0 = helper.make_node("Gemm", ["x", "W", "B"], ["y0"])
    cases.append((graph_model([gemm0, dropout], [w, b, *training], ["N", 4], ["N", 2]), "training mode"))
    for proto, message in cases:
        with pytest.raises(ValueError, match=message):
            load_onnx(proto.SerializeToString())
    no_input = gemm([w, b])
    del no_input.graph.input[:]
    with pytest.raises(ValueError, match="0 input"):
        load_onnx(no_input)


def test_declared_sizes_are_checked_before_allocating() -> None:
    b = numpy_helper.from_array(B, "B")
    big = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 1 << 31])
    data = gemm([big, b]).SerializeToString()
    assert len(data) < 200
    with (
        peak_memory(16 << 20),
        pytest.raises(LimitError, match=r"initializer 'W' needs 32 GiB.*max_tensor_bytes"),
    ):
        load_onnx(data)
    wide = graph_model([helper.make_node("Relu", ["x"], ["y"])], [], ["N", 1 << 40], ["N", 1 << 40])
    with pytest.raises(LimitError, match="one input sample"):
        load_onnx(wide)
    # a zero-feature input would make any number of units free in the weights: refused
    empty = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[0, 1 << 33])
    with pytest.raises(ValueError, match="fixed sizes >= 1"):
        load_onnx(
            graph_model([helper.make_node("MatMul", ["x", "W"], ["y"])], [empty], ["N", 0], ["N", 1 << 33])
        )
    constant = helper.make_node(
        "Constant", [], ["W"], value=TensorProto(data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 15])
    )
    proto = graph_model([constant, helper.make_node("Gemm", ["x", "W", "B"], ["y"])], [b], ["N", 4], ["N", 2])
    with pytest.raises(LimitError, match="Constant node"):
        load_onnx(proto)


def test_unreadable_protobuf_and_untouched_proto(tmp_path: Path) -> None:
    for data in (b"\x08\x01\x12\xff\xff", b"\xff" * 64):
        with pytest.raises(ValueError, match="not a readable ONNX model"):
            load_onnx(data)
        with pytest.raises(ValueError, match="not a readable ONNX model"):
            load_onnx(write(tmp_path, "bad.onnx", data))
    proto = gemm([numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")])
    before = proto.SerializeToString()
    load_onnx(proto)
    assert proto.SerializeToString() == before


def test_external_data(tmp_path: Path) -> None:
    w = numpy_helper.from_array(W, "W")
    proto = gemm([w, numpy_helper.from_array(B, "B")])
    onnx.save(
        proto,
        tmp_path / "m.onnx",
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="w.bin",
        size_threshold=0,
    )
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(load_onnx(tmp_path / "m.onnx").predict(x), x @ W + B, rtol=1e-6)
    with pytest.raises(ValueError, match="external file; load the model from its path"):
        load_onnx((tmp_path / "m.onnx").read_bytes())
    outside = onnx.load(tmp_path / "m.onnx", load_external_data=False)
    outside.graph.initializer[0].external_data[0].value = "../w.bin"
    onnx.save(outside, tmp_path / "o.onnx")
    with pytest.raises(ValueError, match="not a file beside the model"):
        load_onnx(tmp_path / "o.onnx")
    (tmp_path / "w.bin").write_bytes((tmp_path / "w.bin").read_bytes()[:-4])
    with pytest.raises(ValueError, match="does not hold the 8 bytes its dims need"):
        load_onnx(tmp_path / "m.onnx")


def test_softmax_opset_and_bias_broadcast_match_onnxruntime() -> None:
    kernel = numpy_helper.from_array(
        np.random.default_rng(0).normal(size=(3, 2, 1, 1)).astype(np.float32), "K"
    )
    nodes = [helper.make_node("Conv", ["x", "K"], ["c"]), helper.make_node("Softmax", ["c"], ["y"], axis=1)]
    x = np.random.default_rng(1).normal(size=(2, 2, 3, 3)).astype(np.float32)
    at13 = graph_model(nodes, [kernel], ["N", 2, 3, 3], ["N", 3, 3, 3])
    np.testing.assert_allclose(load_onnx(at13).predict(x), run_ort(at13, x), atol=1e-6)
    at11 = graph_model(nodes, [kernel], ["N", 2, 3, 3], ["N", 3, 3, 3], opset=11)
    assert not np.allclose(run_ort(at11, x), run_ort(at13, x), atol=1e-3)  # another function
    with pytest.raises(ValueError, match="opset 11 normalises over c, h and w"):
        load_onnx(at11)
    scalar_bias = gemm(
        [numpy_helper.from_array(W, "W"), numpy_helper.from_array(np.array([0.25], np.float32), "B")]
    )
    xs = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(load_onnx(scalar_bias).predict(xs), run_ort(scalar_bias, xs), atol=1e-6)


# ---- 4. export of explicit pooling paddings ---------------------------------------------------
def test_padded_pooling_round_trip_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.AvgPool2d(2, padding=1, count_include_pad=False),
        nn.Flatten(),
        nn.Linear(27, 4),
    ).eval()
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            torch.randn(1, 2, 7, 7),
            f,
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "N"}},
            opset_version=13,
        )
    imported = load_onnx(f.getvalue())
    assert [getattr(layer, "padding", None) for layer in imported.model.layers[:3]] == [((1, 1), (1, 1))] * 3
    exported = imported.model.to_onnx()
    pools = [n for n in exported.graph.node if n.op_type in ("MaxPool", "AveragePool")]
    assert [list(helper.get_attribute_value(a)) for n in pools for a in n.attribute if a.name == "pads"] == [
        [1, 1, 1, 1]
    ] * 2
    x = np.random.default_rng(0).normal(size=(5, 2, 7, 7)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(run_ort(exported, x), expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(imported.predict(x), expected, rtol=0, atol=1e-5)


# ---- 5. a memory-mapped array without columns -------------------------------------------------
def test_gaussian_mixture_on_a_memmap_without_columns(tmp_path: Path) -> None:
    from scalegen.mixture import GaussianMixture

    np.memmap(tmp_path / "x.dat", dtype=np.float64, mode="w+", shape=(10, 1)).flush()
    empty = np.memmap(tmp_path / "x.dat", dtype=np.float64, mode="r", shape=(10, 0))
    with pytest.raises(ValueError, match=r"0 feature\(s\) \(shape=\(10, 0\)\)"):
        GaussianMixture(2).fit(empty)


# ---- fuzzing: mutated files in a child process under a memory limit ---------------------------
BATCH = 40  # cases per child process

positions = st.integers(0, 1 << 20)
byte_ops = st.lists(
    st.one_of(
        st.tuples(st.just("flip"), positions, st.integers(1, 255)),
        st.tuples(st.just("truncate"), positions, st.none()),
        st.tuples(st.just("insert"), positions, st.binary(min_size=1, max_size=16)),
        st.tuples(st.just("delete"), positions, st.integers(1, 64)),
        st.tuples(
            st.just("int"), positions, st.sampled_from([0, 1, 255, 1 << 16, 1 << 24, (1 << 31) - 1, -1])
        ),
    ),
    min_size=1,
    max_size=4,
)
huge = st.sampled_from([0, 1, 3, -1, -(1 << 40), 1 << 20, 1 << 31, 1 << 40, 10**30])
json_values = st.one_of(
    st.none(), st.booleans(), huge, st.floats(), st.text(max_size=8), st.lists(huge, max_size=5),
    st.dictionaries(st.text(max_size=4), huge, max_size=2),
)  # fmt: skip
model_cases = st.one_of(
    st.tuples(st.just("raw"), byte_ops),
    st.tuples(st.just("member"), st.integers(0, 1), byte_ops),
    st.tuples(st.just("npy"), st.integers(0, 20), byte_ops),
    st.tuples(st.just("shape"), st.integers(0, 20), st.lists(huge, max_size=4)),
    st.tuples(st.just("json"), st.integers(0, 200), json_values),
    st.tuples(st.just("drop"), st.integers(0, 20)),
    st.tuples(st.just("bomb"), st.sampled_from(["config.json", "weights.npz", "npy"]), st.booleans()),
)
ONNX_OPS = ["Conv", "MaxPool", "Gemm", "MatMul", "Flatten", "Reshape", "Softmax", "Relu", "Transpose", "Add",
            "BatchNormalization", "Identity", "Constant", "LeakyRelu"]  # fmt: skip
onnx_edit = st.one_of(
    st.tuples(st.just("raw"), st.just(0), byte_ops),
    st.tuples(st.just("dims"), st.integers(0, 20), st.lists(huge, max_size=4)),
    st.tuples(st.just("dtype"), st.integers(0, 20), st.integers(-1, 40)),
    st.tuples(st.just("rawdata"), st.integers(0, 20), byte_ops),
    st.tuples(st.just("dup"), st.integers(0, 20), st.none()),
    st.tuples(st.just("attr-drop"), st.integers(0, 20), st.integers(0, 5)),
    st.tuples(st.just("attr-ints"), st.integers(0, 20), st.lists(huge, max_size=5)),
    st.tuples(st.just("input-drop"), st.integers(0, 20), st.integers(0, 3)),
    st.tuples(st.sampled_from(["input-rename", "output-rename"]), st.integers(0, 20), st.integers(-1, 40)),
    st.tuples(st.just("opset"), st.just(0), st.integers(-1, 30)),
    st.tuples(st.just("graph-dim"), st.integers(0, 3), huge),
    st.tuples(st.sampled_from(["node-drop", "node-swap"]), st.integers(0, 20), st.integers(0, 20)),
    st.tuples(st.just("op"), st.integers(0, 20), st.sampled_from(ONNX_OPS)),
    st.tuples(
        st.just("external"), st.integers(0, 20), st.sampled_from(["w.bin", "../w.bin", "/etc/passwd", ""])
    ),
)
idx_cases = st.one_of(
    st.tuples(st.sampled_from(["plain", "gz", "gzbytes"]), st.integers(0, 3), byte_ops),
    st.tuples(st.just("dims"), st.integers(0, 3), st.lists(huge, max_size=4)),
    st.tuples(st.just("bomb"), st.just(0), st.sampled_from([0, 10, 1 << 20, 1 << 31, BOMB, (1 << 32) - 1])),
)
FUZZ = settings(
    max_examples=5,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a failure names its case: no shrinking
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def run_batch(target: str, bases: list[Any], cases: list[Any]) -> list[Any]:
    """The unchanged files first (they must load), then the mutated ones."""
    return isolated.run_batch(f"fuzz_targets_files:{target}", bases, cases)


@FUZZ
@given(st.lists(model_cases, min_size=BATCH, max_size=BATCH))
def test_fuzz_load_model(cases: list[Any]) -> None:
    base = good_model()[0]
    run_batch("load_model_case", [base], [mutated_model(base, c) for c in cases])


@FUZZ
@given(
    st.lists(
        st.tuples(st.booleans(), st.lists(onnx_edit, min_size=1, max_size=3)), min_size=BATCH, max_size=BATCH
    )
)
def test_fuzz_load_onnx(cases: list[Any]) -> None:
    bases = [onnx_base(), hand_onnx()]
    run_batch("load_onnx_case", bases, [mutated_onnx(bases[hand], edits) for hand, edits in cases])


@FUZZ
@given(st.lists(idx_cases, min_size=BATCH, max_size=BATCH))
def test_fuzz_read_idx(cases: list[Any]) -> None:
    bases = idx_bases()
    run_batch("read_idx_case", [bases[1], gzip.compress(bases[0])], [mutated_idx(bases, c) for c in cases])


def test_fuzz_tally() -> None:
    """Prints what the fuzz tests above saw (run with -s)."""
    print("\nfuzz outcomes:", *sorted(isolated.TALLY.items()), sep="\n  ")
