"""The native model file: written from Python, read by C++ (the binding and the example
program cpp/examples/nn_predict.cpp, which links scalegen::core and no Python)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scalegen import _core
from scalegen.nn import Sequential
from scalegen.nn.layers import (
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPooling2D,
)

ROOT = Path(__file__).resolve().parents[1]


def trained_model() -> Sequential:
    model = Sequential(
        [
            Conv2D(8, 3, padding="same", activation="relu", input_shape=(10, 10, 1)),
            MaxPooling2D(2),
            Conv2D(6, 2, padding=((1, 0), (0, 1)), activation="tanh"),
            AveragePooling2D(2),
            BatchNormalization(),
            Flatten(),
            Dropout(0.2),
            Dense(4, activation="softmax"),
        ],
        seed=0,
    )
    rng = np.random.default_rng(0)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(rng.random((64, 10, 10, 1)), rng.integers(0, 4, 64), epochs=2, verbose=0)
    return model


def test_native_file_round_trip(tmp_path: Any) -> None:
    model = trained_model()
    path = tmp_path / "m.sgnn"
    model.save_native(path)
    net = _core.Network.load(str(path))
    x = np.random.default_rng(1).random((9, 10, 10, 1), dtype=np.float32)
    assert np.array_equal(net.predict(x, 4, 1), model.predict(x, batch_size=4))  # 1 thread and 2: same bits
    assert np.array_equal(net.get_state(), model._net.get_state())


def test_bad_native_files(tmp_path: Any) -> None:
    model = trained_model()
    path = tmp_path / "m.sgnn"
    model.save_native(path)
    data = path.read_bytes()
    for name, content, message in [
        ("truncated", data[:-10], "truncated"),
        ("magic", b"XXXX" + data[4:], "SGNN"),
        ("trailing", data + b"\0", "bytes after its layers where they need"),
        ("short", data[:30], "truncated"),
    ]:
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(ValueError, match=message):
            _core.Network.load(str(bad))
    with pytest.raises(ValueError, match="cannot open"):
        _core.Network.load(str(tmp_path / "missing.sgnn"))


def example_program() -> Path:
    given = os.environ.get("SCALEGEN_NN_PREDICT")
    if given:
        path = Path(given)
        assert path.exists(), f"SCALEGEN_NN_PREDICT={given} does not exist"
        return path
    path = ROOT / "build" / "sanitize" / "nn_predict"
    if not path.exists():
        pytest.skip("the C++ example is built by `make test` (build/sanitize/nn_predict)")
    return path


def test_cpp_example_program_predicts_like_python(tmp_path: Any) -> None:
    program = example_program()
    model = trained_model()
    model.save_native(tmp_path / "m.sgnn")
    x = np.random.default_rng(2).random((7, 10, 10, 1), dtype=np.float32)
    x.tofile(tmp_path / "x.f32")
    res = subprocess.run(
        [str(program), str(tmp_path / "m.sgnn"), str(tmp_path / "x.f32"), str(tmp_path / "y.f32")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    got = np.fromfile(tmp_path / "y.f32", dtype=np.float32).reshape(7, 4)
    expected = model.predict(x)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert res.stdout.split() == [str(k) for k in expected.argmax(axis=1)]
    bad = subprocess.run([str(program), str(tmp_path / "x.f32"), "a", "b"], capture_output=True, text=True)
    assert bad.returncode == 1 and "SGNN" in bad.stderr
