"""ONNX export of scalegen.nn models, checked by onnx's full checker and by onnxruntime."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np
import pytest

from scalegen.nn import Sequential
from scalegen.nn.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPooling2D,
)

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def run_onnx(proto: Any, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def trained(layers: list[Layer], seed: int) -> Sequential:
    """A model after one short epoch, so batch-norm statistics and weights are not initial."""
    model = Sequential(layers, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (64, *model.input_shape[1:])).astype(np.float32)
    model.compile("adam", "mse")
    model.fit(x, rng.normal(0, 1, (64, *model.output_shape[1:])), epochs=1, verbose=0)
    return model


def check(model: Sequential, n: int = 5) -> None:
    x = np.random.default_rng(1).normal(0, 1, (n, *model.input_shape[1:])).astype(np.float32)
    expected = model.predict(x)
    for layout in ("NCHW", "NHWC"):
        proto = model.to_onnx(input_layout=layout)
        onnx.checker.check_model(proto, full_check=True)
        assert proto.ir_version == 8 and proto.opset_import[0].version == 13
        spatial = x.ndim == 4
        feed = x.transpose(0, 3, 1, 2).copy() if spatial and layout == "NCHW" else x
        got = run_onnx(proto, feed)
        if expected.ndim == 4 and layout == "NCHW":
            got = got.transpose(0, 2, 3, 1)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def random_layers(rng: np.random.Generator) -> list[Layer]:
    shape = (int(rng.integers(6, 14)), int(rng.integers(6, 14)), int(rng.integers(1, 4)))
    acts = ["relu", "tanh", "sigmoid", "linear"]
    layers: list[Layer] = [
        Conv2D(
            int(rng.integers(2, 9)),
            (int(rng.integers(1, 4)), int(rng.integers(1, 4))),
            strides=(int(rng.integers(1, 3)), int(rng.integers(1, 3))),
            padding=str(rng.choice(["valid", "same"])),
            activation=str(rng.choice(acts)),
            use_bias=bool(rng.random() < 0.8),
            input_shape=shape,
        )
    ]
    pool = MaxPooling2D if rng.random() < 0.5 else AveragePooling2D
    strides = None if rng.random() < 0.5 else int(rng.integers(1, 3))
    layers.append(pool(int(rng.integers(1, 4)), strides=strides, padding=str(rng.choice(["valid", "same"]))))
    if rng.random() < 0.5:
        layers.append(BatchNormalization(center=bool(rng.random() < 0.8), scale=bool(rng.random() < 0.8)))
    if rng.random() < 0.3:
        layers.append(Dropout(0.3))
    layers += [Flatten(), Dense(int(rng.integers(3, 9)), activation=str(rng.choice([*acts, "softmax"])))]
    return layers


@pytest.mark.parametrize("seed", range(12))
def test_random_models_match_onnxruntime(seed: int) -> None:
    rng = np.random.default_rng(seed)
    while True:
        try:
            model = trained(random_layers(rng), seed)
            break
        except ValueError:
            continue  # a window larger than its input
    check(model)


@pytest.mark.parametrize(
    "layers",
    [
        [  # the seed's CNN
            Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
            MaxPooling2D((2, 2)),
            Conv2D(64, (3, 3), activation="relu"),
            MaxPooling2D((2, 2)),
            Flatten(),
            Dense(128, activation="relu"),
            Dense(10, activation="softmax"),
        ],
        [  # spatial output: Dense on the channel axis, softmax over channels, no Flatten
            Conv2D(6, 3, strides=2, padding="same", activation="tanh", input_shape=(9, 7, 3)),
            Dense(4, activation="sigmoid"),
            BatchNormalization(),
            Activation("softmax"),
        ],
        [  # an MLP with batch normalization and dropout
            Dense(16, activation="relu", input_shape=(12,)),
            BatchNormalization(),
            Dropout(0.5),
            Dense(3, activation="softmax"),
        ],
    ],
    ids=["seed-cnn", "spatial-output", "mlp"],
)
def test_fixed_models_match_onnxruntime(layers: list[Layer]) -> None:
    check(trained(layers, 0))


def test_dynamic_batch_and_file(tmp_path: Any) -> None:
    model = trained([Conv2D(4, 3, input_shape=(8, 8, 1)), Flatten(), Dense(2)], 0)
    path = tmp_path / "m.onnx"
    model.to_onnx(path, input_layout="NHWC")
    proto = onnx.load(path)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    for n in (1, 3, 40):
        x = np.random.default_rng(n).random((n, 8, 8, 1), dtype=np.float32)
        np.testing.assert_allclose(run_onnx(proto, x), model.predict(x), rtol=0, atol=1e-5)


def test_bad_arguments_and_missing_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    model = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="input_layout"):
        model.to_onnx(input_layout="NWHC")
    with pytest.raises(ValueError, match="opset"):
        model.to_onnx(opset=11)
    with pytest.raises(ValueError, match="not built"):
        Sequential([Dense(2)]).to_onnx()
    real_import = builtins.__import__

    def no_onnx(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "onnx":
            raise ImportError("no onnx")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    with pytest.raises(ImportError, match=r"scalegen\[onnx\]"):
        model.to_onnx()


# ---- import: PyTorch's exports and our own, run on scalegen's kernels -----------------------
torch = pytest.importorskip("torch")


def torch_export(net: Any, shape: tuple[int, ...], *, fold: bool = True) -> bytes:
    import io
    import warnings

    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            net.eval(),
            torch.randn(1, *shape),
            f,
            dynamo=False,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "N"}},
            opset_version=13,
            do_constant_folding=fold,
        )
    return f.getvalue()


def torch_models() -> list[tuple[str, Any, tuple[int, ...], bool]]:
    nn = torch.nn
    torch.manual_seed(0)
    bn2d, bn1d = nn.BatchNorm2d(16), nn.BatchNorm1d(32)
    with torch.no_grad():
        for bn in (bn2d, bn1d):
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.normal_()
    return [
        (
            "seed-cnn",
            nn.Sequential(
                nn.Conv2d(1, 32, 3),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(1600, 128),
                nn.ReLU(),
                nn.Linear(128, 10),
                nn.Softmax(dim=1),
            ),
            (1, 28, 28),
            True,
        ),
        (
            "paddings-batchnorm",  # BatchNorm kept as a node (no constant folding)
            nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1),
                nn.Tanh(),
                nn.MaxPool2d(3, stride=2, padding=1),
                nn.Conv2d(8, 16, (3, 2), stride=2, padding=(1, 0)),
                bn2d,
                nn.Sigmoid(),
                nn.AvgPool2d(2, padding=1, count_include_pad=False),
                nn.Flatten(),
                nn.Dropout(0.3),
                nn.Linear(16 * 2 * 2, 32),
                bn1d,
                nn.ReLU(),
                nn.Linear(32, 5, bias=False),
            ),
            (3, 11, 9),
            False,
        ),
        (
            "mlp",
            nn.Sequential(nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 4), nn.Softmax(dim=-1)),
            (12,),
            True,
        ),
        ("flatten-last", nn.Sequential(nn.Conv2d(2, 3, 2), nn.ReLU(), nn.Flatten()), (2, 5, 4), True),
    ]


@pytest.mark.parametrize("case", range(4), ids=[m[0] for m in torch_models()])
def test_pytorch_exports_run_on_scalegen(case: int) -> None:
    from scalegen.nn import load_onnx

    _, net, shape, fold = torch_models()[case]
    data = torch_export(net, shape, fold=fold)
    x = np.random.default_rng(case).normal(0, 1, (6, *shape)).astype(np.float32)
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    model = load_onnx(data)
    np.testing.assert_allclose(model.predict(x), expected, rtol=0, atol=1e-5)
    if not fold:
        assert any(isinstance(layer, BatchNormalization) for layer in model.model.layers)


def test_our_export_reads_back(tmp_path: Any) -> None:
    from scalegen.nn import load_onnx

    model = trained(
        [
            Conv2D(4, 3, strides=2, padding="same", activation="relu", input_shape=(9, 9, 2)),
            MaxPooling2D(2, padding="same"),
            BatchNormalization(),
            Flatten(),
            Dense(6, activation="tanh"),
            Dense(3, activation="softmax"),
        ],
        3,
    )
    path = tmp_path / "m.onnx"
    model.to_onnx(path)
    back = load_onnx(path)
    x = np.random.default_rng(0).normal(0, 1, (5, 9, 9, 2)).astype(np.float32)
    np.testing.assert_allclose(back.predict(x.transpose(0, 3, 1, 2)), model.predict(x), rtol=0, atol=1e-5)


def test_unsupported_graphs_are_named() -> None:
    from scalegen.nn import load_onnx

    nn = torch.nn
    cases = [
        (nn.Sequential(nn.Conv2d(2, 4, 3), nn.Hardswish()), (2, 6, 6), "unsupported ONNX op HardSigmoid"),
        (nn.Sequential(nn.MaxPool2d(2, dilation=2)), (2, 9, 9), "attribute dilations"),
        (nn.Sequential(nn.AvgPool2d(2, padding=1)), (2, 6, 6), "count_include_pad"),
        (nn.Sequential(nn.MaxPool2d(2, ceil_mode=True)), (2, 5, 5), "ceil_mode"),
    ]
    for net, shape, message in cases:
        with pytest.raises(ValueError, match=message):
            load_onnx(torch_export(net, shape))
    with pytest.raises(ValueError, match="not a readable ONNX model"):
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".onnx") as f:
            f.write(b"not a protobuf at all \x00\xff")
            f.flush()
            load_onnx(f.name)
    with pytest.raises(FileNotFoundError):
        load_onnx("/nonexistent/model.onnx")
