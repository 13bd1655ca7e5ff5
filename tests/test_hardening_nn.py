"""Hyper-parameters, native files, limits and thread counts that used to crash the process or
allocate gigabytes: each answers with a correct result or a clear error (issue: hardening)."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scalegen
from isolated import run_cases
from scalegen import _core
from scalegen.nn import Sequential
from scalegen.nn.layers import AveragePooling2D, Conv2D, Dense, Flatten, MaxPooling2D

BIG = 2**31 - 1


def pool_reference(
    x: np.ndarray, window: tuple[int, int], stride: tuple[int, int], same: bool, op: str
) -> np.ndarray:
    """TensorFlow's pooling by brute force on one (h, w, c) image: windows clipped to the
    input, padding never counted."""
    out, begin = [], []
    for size, k, s in zip(x.shape[:2], window, stride, strict=True):
        o = -(-size // s) if same else (size - k) // s + 1
        out.append(o)
        begin.append(max((o - 1) * s + k - size, 0) // 2 if same else 0)
    y = np.empty((out[0], out[1], x.shape[2]), np.float32)
    for i in range(out[0]):
        for j in range(out[1]):
            h0, w0 = i * stride[0] - begin[0], j * stride[1] - begin[1]
            cells = x[max(h0, 0) : max(h0 + window[0], 0), max(w0, 0) : max(w0 + window[1], 0)]
            y[i, j] = cells.max(axis=(0, 1)) if op == "max" else cells.mean(axis=(0, 1))
    return y


@pytest.mark.parametrize("layer", [MaxPooling2D, AveragePooling2D])
@pytest.mark.parametrize(
    ("window", "stride", "same"),
    [
        ((60000, 60000), None, True),
        ((3, 3), (BIG, BIG), True),
        ((3, 2), (BIG, 1), False),
        ((9, 20), (1, 3), True),
    ],
)
def test_pools_with_huge_windows_and_strides_match_tensorflows_rule(layer: Any, window, stride, same) -> None:
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 3)).astype(np.float32)
    padding = "same" if same else "valid"
    model = Sequential([layer(window, strides=stride, padding=padding, input_shape=(8, 8, 3))])
    got = model.predict(x, verbose=0)
    op = "max" if layer is MaxPooling2D else "avg"
    want = np.stack([pool_reference(img, window, stride or window, same, op) for img in x])
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_convolution_with_the_largest_stride_matches_torch(padding: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 8, 8, 2)).astype(np.float32)
    model = Sequential([Conv2D(4, 3, strides=BIG, padding=padding, input_shape=(8, 8, 2))], seed=0)
    got = model.predict(x, verbose=0)
    kernel, bias = model.get_weights()
    # one output pixel: the window at the corner ('same' adds no padding at stride > size)
    ref = torch.nn.functional.conv2d(
        torch.from_numpy(x).permute(0, 3, 1, 2),
        torch.from_numpy(kernel).permute(3, 2, 0, 1),
        torch.from_numpy(bias),
        stride=8,
    )
    assert got.shape == (3, 1, 1, 4)
    np.testing.assert_allclose(got, ref.permute(0, 2, 3, 1).numpy(), rtol=1e-5, atol=1e-5)


def test_sizes_that_overflow_are_refused_before_allocating() -> None:
    with pytest.raises(scalegen.LimitError, match="max_tensor_bytes"):
        Sequential([Flatten(input_shape=(65536, 65536, 1))])
    with pytest.raises(scalegen.LimitError, match=r"Dense .*kernel"):
        Sequential([Dense(2**25, input_shape=(784,))])
    with pytest.raises(ValueError, match="up to 2147483647"):
        Conv2D(1, 3, strides=2**31)
    with pytest.raises(ValueError, match="2\\*\\*31"):
        MaxPooling2D(2, padding=((0, 2**40), (0, 0)))
    # a limit can be raised: the same layer is then built (its output is what Keras gives)
    with scalegen.limits(max_tensor_bytes=2**35):
        assert Sequential([Flatten(input_shape=(32768, 32768, 1))]).output_shape == (None, 2**30)
        with pytest.raises(ValueError, match="32-bit"):  # the core's sizes are ints
            Sequential([Flatten(input_shape=(65536, 65536, 1))])


def test_limits_are_one_policy_for_python_and_the_core() -> None:
    before = scalegen.get_limits()
    with scalegen.limits(max_tensor_bytes=1000):
        assert _core.get_limits()[0] == 1000
        with pytest.raises(scalegen.LimitError, match="max_tensor_bytes") as err:
            Sequential([Dense(300, input_shape=(1,))])  # a 1,200-byte kernel
        assert isinstance(err.value, ValueError) and "set_limits(max_tensor_bytes" in str(err.value)
    assert scalegen.get_limits() == before and _core.get_limits()[0] == before.max_tensor_bytes
    with pytest.raises(ValueError, match="positive"):
        scalegen.set_limits(max_total_bytes=0)
    with pytest.raises(TypeError, match="unknown limit"):
        scalegen.set_limits(max_bytes=1)


def test_limits_from_the_environment() -> None:
    [result] = run_cases("fuzz_targets_nn:limits_in_child", [{"SCALEGEN_MAX_TENSOR_BYTES": "2K"}])
    assert result == ("ok", repr((2048, 2 << 30)))
    [result] = run_cases("fuzz_targets_nn:limits_in_child", [{"SCALEGEN_MAX_TOTAL_BYTES": "lots"}])
    assert result[0] == "error" and "SCALEGEN_MAX_TOTAL_BYTES" in result[2]


# ---- the native .sgnn file ---------------------------------------------------------------
def sgnn(
    layers: list[dict[str, Any]], shape: tuple[int, int, int, int], params: np.ndarray, state=()
) -> bytes:
    """A native file written field by field (the layout of cpp/src/nn/serialize.cpp)."""
    out = b"SGNN" + struct.pack("<I4ii", 1, *shape, len(layers))
    keys = ("kind", "filters", "units", "kh", "kw", "sh", "sw", "same", "pt", "pb", "pl", "pr", "bias", "act")
    for layer in layers:
        c = {"kh": 1, "kw": 1, "sh": 1, "sw": 1, "pt": -1, "pb": -1, "pl": -1, "pr": -1, "bias": 1, **layer}
        out += struct.pack("<16i3f", *[c.get(k, 0) for k in keys], 1, 1, 0.0, 0.99, 1e-3)
    for values in (np.asarray(params, "<f4"), np.asarray(state, "<f4")):
        out += struct.pack("<q", values.size) + values.tobytes()
    return out


def test_a_small_native_file_cannot_declare_a_huge_network(tmp_path: Any) -> None:
    huge, large = (sgnn([{"kind": 4, "units": units}], (1, 1, 1, 4), np.zeros(3)) for units in (2**25, 2**22))
    assert len(huge) < 400
    # under a 3 GiB address space, nothing allocated: above the limits, or more than the file holds
    beyond_limits, beyond_file = run_cases("fuzz_targets_nn:load_sgnn", [huge, large])
    assert beyond_limits[0] == "error" and "max_total_bytes" in beyond_limits[2], beyond_limits
    assert beyond_file[0] == "error" and "bytes after its layers where they need" in beyond_file[2], (
        beyond_file
    )


def test_native_files_with_nan_or_huge_strides(tmp_path: Any) -> None:
    dense = [{"kind": 4, "units": 2}]
    good = sgnn(dense, (1, 1, 1, 3), np.arange(8.0))
    path = tmp_path / "m.sgnn"
    path.write_bytes(good)
    net = _core.Network.load(str(path))
    x = np.array([[1.0, 2.0, 3.0]], np.float32)
    np.testing.assert_allclose(net.predict(x, 1, 1), x @ np.arange(6.0).reshape(3, 2) + [6, 7])
    path.write_bytes(sgnn(dense, (1, 1, 1, 3), [0, 1, np.nan, 3, 4, 5, 6, 7]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        _core.Network.load(str(path))
    # the stride that divided by zero: now one output pixel, as built in Python
    conv = [{"kind": 0, "filters": 1, "kh": 3, "kw": 3, "sh": BIG, "sw": BIG, "same": 1}]
    path.write_bytes(sgnn(conv, (3, 8, 8, 1), np.ones(10)))
    out = _core.Network.load(str(path)).predict(np.ones((1, 64), np.float32), 1, 1)
    assert out.size == 1 and out.ravel()[0] == 10.0  # a 3 x 3 window of ones inside the corner, + bias 1


# ---- threads ----------------------------------------------------------------------------------
def test_thread_counts_above_the_cores_are_capped_with_a_warning() -> None:
    cores = scalegen._config.available_cpus()
    old = scalegen.get_num_threads()
    try:
        with pytest.warns(UserWarning, match="more than the"):
            scalegen.set_num_threads(100_000)
        assert scalegen.get_num_threads() == cores
    finally:
        scalegen.set_num_threads(old)
    x = np.random.default_rng(0).standard_normal((4, 8, 8, 1)).astype(np.float32)
    model = Sequential([Conv2D(2, 3, input_shape=(8, 8, 1)), Flatten(), Dense(3)], seed=0)
    with pytest.warns(UserWarning, match="n_jobs=100000"):
        model.n_jobs = 100_000
        many = model.predict(x, verbose=0)
    model.n_jobs = 1
    assert np.array_equal(many, model.predict(x, verbose=0))
    assert _core.probe_parallel_threads(100_000) <= max(cores, 2)  # the core caps natively too


# ---- fuzz: random layer hyper-parameters and mutated native files ------------------------------
SIZES = st.one_of(st.integers(1, 12), st.sampled_from([2**15, 2**16 - 1, 60000, 2**30, BIG, 2**31, 2**40]))
PADDINGS = st.one_of(
    st.sampled_from(["same", "valid", "SAME", "full", None, 3]),
    st.tuples(st.tuples(SIZES, st.integers(0, 3)), st.tuples(st.integers(0, 3), SIZES)),
)
LAYERS = st.one_of(
    st.fixed_dictionaries(
        {
            "kind": st.just("conv"),
            "filters": SIZES,
            "kernel_size": st.tuples(SIZES, SIZES),
            "strides": st.tuples(SIZES, SIZES),
            "padding": PADDINGS,
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["max", "avg"]),
            "pool_size": st.tuples(SIZES, SIZES),
            "strides": st.one_of(st.none(), st.tuples(SIZES, SIZES)),
            "padding": PADDINGS,
        }
    ),
    st.fixed_dictionaries({"kind": st.just("dense"), "units": SIZES}),
    st.fixed_dictionaries({"kind": st.just("flatten")}),
    st.fixed_dictionaries(
        {"kind": st.just("dropout"), "rate": st.floats(allow_nan=True, allow_infinity=True) | st.floats(0, 1)}
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("batch_norm"),
            "momentum": st.floats(allow_nan=True),
            "epsilon": st.floats(allow_nan=True),
        }
    ),
    # the layers of decoders and generators
    st.fixed_dictionaries(
        {
            "kind": st.just("deconv"),
            "filters": SIZES,
            "kernel_size": st.tuples(SIZES, SIZES),
            "strides": st.tuples(SIZES, SIZES),
            "padding": PADDINGS,
            "output_padding": st.one_of(st.none(), st.tuples(SIZES, st.integers(-2, 3))),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("upsample"),
            "size": st.tuples(SIZES, SIZES),
            "interpolation": st.sampled_from(["nearest", "bilinear", "x"]),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("reshape"),
            "target_shape": st.lists(st.one_of(SIZES, st.just(-1), st.just(0)), max_size=4),
        }
    ),
    st.fixed_dictionaries(
        {"kind": st.just("zero_pad"), "padding": st.tuples(st.tuples(SIZES, SIZES), st.tuples(SIZES, SIZES))}
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("prelu"),
            "shared_axes": st.one_of(st.none(), st.lists(st.integers(-1, 4), max_size=3)),
        }
    ),
    st.fixed_dictionaries({"kind": st.just("gap")}),
    st.fixed_dictionaries(
        {"kind": st.just("leaky"), "negative_slope": st.floats(allow_nan=True, allow_infinity=True)}
    ),
    st.fixed_dictionaries({"kind": st.just("elu"), "alpha": st.floats(allow_nan=True, allow_infinity=True)}),
)
MODELS = st.fixed_dictionaries(
    {
        "input_shape": st.tuples(SIZES, SIZES, st.integers(1, 4)),
        "layers": st.lists(LAYERS, min_size=1, max_size=3),
    }
)


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(MODELS, min_size=40, max_size=40))
def test_fuzz_layer_hyper_parameters(cases: list[dict[str, Any]]) -> None:
    results = run_cases("fuzz_targets_nn:build_and_predict", cases)
    assert len(results) == len(cases)


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 2**32 - 1), st.sampled_from(["flip", "int", "cut"])),
        min_size=40,
        max_size=40,
    )
)
def test_fuzz_native_files(mutations: list[tuple[int, int, str]]) -> None:
    conv = {"kind": 0, "filters": 2, "kh": 3, "kw": 3, "act": 1}
    base = sgnn(
        [conv, {"kind": 1, "kh": 2, "kw": 2, "sh": 2, "sw": 2}, {"kind": 3}, {"kind": 4, "units": 3}],
        (3, 8, 8, 1),
        np.linspace(-1, 1, 20 + 27 + 3),
    )
    cases = []
    for at, value, how in mutations:
        data = bytearray(base)
        i = at % len(data)
        if how == "flip":
            data[i] ^= 1 << (value % 8)
        elif how == "int":
            data[i : i + 4] = struct.pack("<I", value)
        else:
            del data[i:]
        cases.append(bytes(data[: len(base) + 8]))
    results = run_cases("fuzz_targets_nn:load_sgnn", cases)
    assert results[0][0] in ("ok", "error") and len(results) == len(cases)
