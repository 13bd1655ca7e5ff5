"""The Keras-style model API of scalegen.nn: the seed's CNN snippet run as written, training on
the bundled digits, structure, weights, input checks, training semantics, optimizer updates
against NumPy, losses, batch norm and dropout semantics, saving/loading and thread safety.

The layers' kernels are compared with PyTorch in test_nn_kernels.py; this file tests what the
model does with them. Everything here uses small data so the whole file runs in seconds."""

from __future__ import annotations

import copy
import io
import json
import os
import pickle
import re
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import scalegen.nn as nn
from scalegen.nn import CorruptModelError, Sequential, load_model, set_random_seed
from scalegen.nn.callbacks import Callback, EarlyStopping, ModelCheckpoint
from scalegen.nn.layers import (
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Input,
    Layer,
    MaxPooling2D,
)
from scalegen.nn.optimizers import SGD, Adam, Optimizer, RMSprop

# The seed's Keras CNN (section 4.3), from `model = Sequential()` through the prediction, exactly
# as written there; only the imports differ (scalegen.nn instead of TensorFlow).
SEED_IMPORTS = """\
from scalegen.nn import Sequential
from scalegen.nn.layers import Conv2D, MaxPooling2D, Flatten, Dense
"""
SEED_SNIPPET = """\
# 构建卷积神经网络
model = Sequential()
model.add(Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
model.add(MaxPooling2D((2, 2)))
model.add(Conv2D(64, (3, 3), activation='relu'))
model.add(MaxPooling2D((2, 2)))
model.add(Flatten())
model.add(Dense(128, activation='relu'))
model.add(Dense(10, activation='softmax'))

# 训练卷积神经网络
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
model.fit(X_train, y_train, epochs=10, batch_size=32)

# 预测
predictions = model.predict(X_test)
"""
# the seed text, beside the checkout when it is there (the snippet above is what the tests run)
SEED_FILE = Path(os.path.abspath(__file__)).parents[2] / "shared" / "seed" / "000_f6c68a1f7e26e8ba.txt"

# Keras' summary of the seed CNN on 28x28x1 inputs
SEED_SUMMARY = [
    ("conv2d (Conv2D)", "(None, 26, 26, 32)", "320"),
    ("max_pooling2d (MaxPooling2D)", "(None, 13, 13, 32)", "0"),
    ("conv2d_1 (Conv2D)", "(None, 11, 11, 64)", "18,496"),
    ("max_pooling2d_1 (MaxPooling2D)", "(None, 5, 5, 64)", "0"),
    ("flatten (Flatten)", "(None, 1600)", "0"),
    ("dense (Dense)", "(None, 128)", "204,928"),
    ("dense_1 (Dense)", "(None, 10)", "1,290"),
]
SEED_WEIGHT_SHAPES = [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 128), (128,), (128, 10), (10,)]


@pytest.fixture(autouse=True)
def _no_global_seed() -> Any:
    """No test leaks a global seed into the next one."""
    yield
    set_random_seed(None)


# ---- helpers ---------------------------------------------------------------------------------
def mnist_like(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """28x28x1 float32 images in [0, 1]: faint noise plus a bright 8x4 blob whose position
    (2 rows x 5 columns of positions) is the label; labels 0..9, balanced, shuffled."""
    y = np.arange(n) % 10
    rng.shuffle(y)
    x = rng.uniform(0.0, 0.3, (n, 28, 28, 1)).astype(np.float32)
    for i, label in enumerate(y):
        r, c = divmod(int(label), 5)
        x[i, 3 + 12 * r : 11 + 12 * r, 1 + 5 * c : 5 + 5 * c, 0] = rng.uniform(0.8, 1.0)
    return x, y


def seed_cnn(seed: int | None = 0, **kwargs: Any) -> Sequential:
    """The seed's architecture on 28x28x1 inputs."""
    return Sequential(
        [
            Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
            MaxPooling2D((2, 2)),
            Conv2D(64, (3, 3), activation="relu"),
            MaxPooling2D((2, 2)),
            Flatten(),
            Dense(128, activation="relu"),
            Dense(10, activation="softmax"),
        ],
        seed=seed,
        **kwargs,
    )


def digits_cnn(seed: int | None = 0, **kwargs: Any) -> Sequential:
    """The seed's architecture adapted to 8x8 digits."""
    return Sequential(
        [
            Conv2D(32, (3, 3), activation="relu", input_shape=(8, 8, 1)),
            MaxPooling2D(2),
            Conv2D(64, (3, 3), activation="relu", padding="same"),
            MaxPooling2D(2),
            Flatten(),
            Dense(128, activation="relu"),
            Dense(10, activation="softmax"),
        ],
        seed=seed,
        **kwargs,
    )


def small_cnn(seed: int | None = 0, **kwargs: Any) -> Sequential:
    """A quick 8x8x1 classifier (no dropout, no batch norm)."""
    return Sequential(
        [
            Conv2D(8, 3, activation="relu", input_shape=(8, 8, 1)),
            MaxPooling2D(2),
            Flatten(),
            Dense(16, activation="relu"),
            Dense(10, activation="softmax"),
        ],
        seed=seed,
        **kwargs,
    )


def compiled(model: Sequential, optimizer: str | Optimizer = "adam") -> Sequential:
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def small_data(n: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """8x8x1 float32 images and int64 labels 0..9 (learnable: label = brightest quadrant-ish)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.uniform(0, 0.5, (n, 8, 8, 1)).astype(np.float32)
    for i, label in enumerate(y):
        x[i, int(label) % 8, :, 0] += 0.5
        x[i, :, int(label) // 2, 0] += 0.25
    return x, y


def same_weights(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(
        x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b, strict=True)
    )


def accuracy(model: Sequential, x: np.ndarray, y: np.ndarray) -> float:
    return float((model.predict(x).argmax(axis=1) == y).mean())


# ---- 1. the seed's snippet, as written -----------------------------------------------------
def test_seed_snippet_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    X_train, y_train = mnist_like(96, rng)
    X_test, y_test = mnist_like(32, rng)
    set_random_seed(0)  # the snippet's Sequential() takes the global seed
    namespace: dict[str, Any] = {"X_train": X_train, "y_train": y_train, "X_test": X_test}
    exec(compile(SEED_IMPORTS + SEED_SNIPPET, "<seed snippet>", "exec"), namespace)
    out = capsys.readouterr().out

    predictions = namespace["predictions"]
    model = namespace["model"]
    assert isinstance(predictions, np.ndarray)
    assert predictions.shape == (32, 10)
    assert predictions.dtype == np.float32
    assert (predictions >= 0).all()
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, atol=1e-5)
    # the task is easy: 10 epochs reach 100% on the training data (chance is 10%)
    assert accuracy(model, X_train, y_train) > 0.9
    assert float((predictions.argmax(axis=1) == y_test).mean()) > 0.8
    assert "Epoch 1/10" in out and "Epoch 10/10" in out
    assert "Epoch 11/10" not in out
    # verbose='auto' on a non-terminal: one final progress line per epoch, 3 batches of 32
    assert len(re.findall(r"^3/3 ━+ \d+s \S+/step - loss: \S+ - accuracy: \S+$", out, re.M)) == 10
    assert model.history is not None and len(model.history.history["loss"]) == 10
    assert model.history.history["loss"][-1] < model.history.history["loss"][0]


@pytest.mark.skipif(not SEED_FILE.exists(), reason="the seed text is not beside this checkout")
def test_seed_snippet_is_the_seeds_text() -> None:
    assert SEED_SNIPPET.strip() in SEED_FILE.read_text(encoding="utf-8")


# ---- 2. the bundled digits ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    pytest.importorskip("sklearn")
    from scalegen.datasets import load_digits

    x, y = load_digits()
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return x[:-400], y[:-400], x[-400:], y[-400:]


def test_digits_cnn_reaches_high_held_out_accuracy(
    digits: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    x_train, y_train, x_test, y_test = digits
    assert x_train.shape == (1397, 8, 8, 1) and x_test.shape == (400, 8, 8, 1)
    model = compiled(digits_cnn(seed=0))
    history = model.fit(x_train, y_train, epochs=15, batch_size=32, verbose=0)
    assert len(history.history["loss"]) == 15
    assert history.history["accuracy"][-1] > 0.97

    predictions = model.predict(x_test)
    held_out = float((predictions.argmax(axis=1) == y_test).mean())
    assert held_out >= 0.97
    result = model.evaluate(x_test, y_test, verbose=0)
    assert isinstance(result, list) and len(result) == 2
    loss, acc = result
    assert acc == pytest.approx(held_out, abs=1e-12)
    p_true = predictions[np.arange(len(y_test)), y_test].astype(np.float64)
    assert loss == pytest.approx(-np.mean(np.log(np.clip(p_true, 1e-7, 1))), rel=1e-4)
    assert model.evaluate(x_test, y_test, verbose=0, return_dict=True) == {"loss": loss, "accuracy": acc}


# ---- 3. structure ------------------------------------------------------------------------------
def test_default_layer_names_follow_keras() -> None:
    model = seed_cnn()
    assert [layer.name for layer in model.layers] == [
        "conv2d",
        "max_pooling2d",
        "conv2d_1",
        "max_pooling2d_1",
        "flatten",
        "dense",
        "dense_1",
    ]
    other = Sequential([BatchNormalization(input_shape=(4,)), Dropout(0.1), Dense(2), Dropout(0.2)])
    assert [layer.name for layer in other.layers] == ["batch_normalization", "dropout", "dense", "dropout_1"]


def test_duplicate_layer_name_is_refused() -> None:
    model = Sequential([Dense(3, name="hidden", input_shape=(4,))])
    with pytest.raises(ValueError, match="hidden"):
        model.add(Dense(2, name="hidden"))
    assert len(model.layers) == 1
    model.add(Dense(2, name="out"))
    assert [layer.name for layer in model.layers] == ["hidden", "out"]


def test_layer_cannot_belong_to_two_models() -> None:
    shared = Dense(3)
    Sequential([Dense(4, input_shape=(2,)), shared])
    with pytest.raises(ValueError, match="already belongs"):
        Sequential([Dense(4, input_shape=(2,)), shared])
    with pytest.raises(TypeError):
        Sequential().add("dense")  # type: ignore[arg-type]


def test_summary_shows_keras_shapes_and_parameter_counts() -> None:
    model = seed_cnn()
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert lines[0] == 'Model: "sequential"'
    for head, shape, params in SEED_SUMMARY:
        rows = [line for line in lines if line.startswith(head + " ")]
        assert len(rows) == 1, head
        assert shape in rows[0]
        assert rows[0].split()[-1] == params
    assert any(re.match(r" Total params: 225,034 \(", line) for line in lines)
    assert any(re.match(r" Trainable params: 225,034 \(", line) for line in lines)
    assert any(re.match(r" Non-trainable params: 0 \(", line) for line in lines)
    assert model.count_params() == 225_034
    assert [layer.output_shape for layer in model.layers] == [eval(s) for _, s, _ in SEED_SUMMARY]
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)


def test_summary_counts_batch_norm_statistics_as_non_trainable() -> None:
    model = Sequential([Conv2D(8, 3, input_shape=(6, 6, 2)), BatchNormalization(), Flatten(), Dense(3)])
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    # conv 3*3*2*8 + 8 = 152; BN 4 * 8 = 32 of which 16 trainable; dense 4*4*8*3 + 3 = 387
    assert any(line.startswith(" Total params: 571 ") for line in lines)
    assert any(line.startswith(" Trainable params: 555 ") for line in lines)
    assert any(line.startswith(" Non-trainable params: 16 ") for line in lines)


def test_input_layer_works_like_input_shape() -> None:
    with_input = Sequential(
        [
            Input((28, 28, 1)),
            Conv2D(32, (3, 3), activation="relu"),
            MaxPooling2D((2, 2)),
            Conv2D(64, (3, 3), activation="relu"),
            MaxPooling2D((2, 2)),
            Flatten(),
            Dense(128, activation="relu"),
            Dense(10, activation="softmax"),
        ],
        seed=0,
    )
    reference = seed_cnn(seed=0)
    assert with_input.built
    assert with_input.input_shape == (None, 28, 28, 1)
    assert with_input.count_params() == 225_034
    assert [w.shape for w in with_input.get_weights()] == SEED_WEIGHT_SHAPES
    assert same_weights(with_input.get_weights(), reference.get_weights())
    with pytest.raises(ValueError):
        Sequential([Input((8, 8, 1)), Conv2D(2, 3, input_shape=(9, 9, 1))])
    with pytest.raises(ValueError):
        Sequential([Dense(2, input_shape=(3,)), Input((3,))])


def test_model_is_built_by_the_first_predict() -> None:
    model = Sequential([Conv2D(4, 3, activation="relu"), Flatten(), Dense(3, activation="softmax")], seed=0)
    assert not model.built
    assert model.layers[0].get_weights() == []
    with pytest.raises(ValueError, match="not built"):
        model.get_weights()
    with pytest.raises(AttributeError):
        _ = model.input_shape
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert any("not built" in line for line in lines)

    x = np.random.default_rng(0).uniform(size=(5, 8, 8, 2)).astype(np.float32)
    out = model.predict(x)
    assert model.built and out.shape == (5, 3)
    assert model.input_shape == (None, 8, 8, 2)
    assert [w.shape for w in model.get_weights()] == [(3, 3, 2, 4), (4,), (144, 3), (3,)]
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="takes"):
        model.predict(x[..., :1])


def test_a_refused_first_predict_does_not_fix_the_input_shape() -> None:
    """x of a shape the layers cannot take is refused; the model must stay unbuilt."""
    model = Sequential([Conv2D(4, 3), Flatten(), Dense(2)], seed=0)
    with pytest.raises(ValueError):
        model.predict(np.zeros((2, 5), np.float32))
    assert not model.built
    assert model.predict(np.zeros((2, 8, 8, 1), np.float32)).shape == (2, 2)


def test_a_refused_first_layer_leaves_the_model_empty() -> None:
    model = Sequential()
    with pytest.raises(ValueError, match="larger than the input"):
        model.add(Conv2D(4, 5, input_shape=(2, 2, 1)))
    assert model.layers == [] and not model.built
    # the refused layer's input_shape must not stick to the model
    model.add(Conv2D(4, 3, input_shape=(8, 8, 1)))
    assert model.output_shape == (None, 6, 6, 4)


@pytest.mark.parametrize(
    ("layers", "bad"),
    [
        ([Conv2D(4, 3, input_shape=(6, 6, 1)), MaxPooling2D(2)], lambda: Conv2D(2, (5, 5))),
        ([Dense(4, input_shape=(3,))], lambda: MaxPooling2D(2)),
        ([Conv2D(4, 3, input_shape=(6, 6, 1)), Flatten()], lambda: Conv2D(2, 1)),
    ],
    ids=["conv-5x5-on-2x2", "pool-on-flat", "conv-on-flat"],
)
def test_a_layer_that_does_not_fit_is_refused_and_the_model_unchanged(
    layers: list[Layer], bad: Callable[[], Layer]
) -> None:
    model = Sequential(layers, seed=0)
    before = model.get_weights()
    names = [layer.name for layer in model.layers]
    shape = model.output_shape
    layer = bad()
    with pytest.raises(ValueError):
        model.add(layer)
    assert [lyr.name for lyr in model.layers] == names
    assert model.output_shape == shape
    assert same_weights(model.get_weights(), before)
    assert layer._model is None  # the refused layer may go into another model
    model.add(Dense(2))  # Dense works on the last axis
    assert model.output_shape == (*shape[:-1], 2)


def test_a_refused_layer_keeps_the_optimizer_state() -> None:
    """A refused add must leave a trained model as it was, optimizer moments included: the next
    epoch then equals that of an identical model that saw no refused add."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = rng.normal(size=(32, 2)).astype(np.float32)

    def trained() -> Sequential:
        model = Sequential([Dense(3, input_shape=(4,)), Dense(2)], seed=0)
        model.compile(Adam(0.01), "mse")
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        return model

    model, reference = trained(), trained()
    with pytest.raises(ValueError):
        model.add(MaxPooling2D(2))
    assert same_weights(model.get_weights(), reference.get_weights())
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    reference.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert same_weights(model.get_weights(), reference.get_weights())


def test_a_refused_layer_does_not_change_later_initialisation() -> None:
    """With a seed, the weights of a model do not depend on a refused add in between."""
    model = Sequential([Dense(3, input_shape=(4,))], seed=0)
    with pytest.raises(ValueError):
        model.add(MaxPooling2D(2))
    model.add(Dense(2))
    reference = Sequential([Dense(3, input_shape=(4,)), Dense(2)], seed=0)
    assert same_weights(model.get_weights(), reference.get_weights())


def test_pop_removes_the_last_layer_and_keeps_the_rest() -> None:
    model = seed_cnn(seed=0)
    before = model.get_weights()
    last = model.pop()
    assert isinstance(last, Dense) and last.units == 10 and last.name == "dense_1"
    assert len(model.layers) == 6
    assert model.output_shape == (None, 128)
    assert same_weights(model.get_weights(), before[:-2])
    assert model.predict(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 128)
    model.add(Dense(5, activation="softmax"))
    assert model.output_shape == (None, 5)
    assert same_weights(model.get_weights()[:-2], before[:-2])
    assert [layer.name for layer in model.layers][-1] == "dense_1"
    # the popped layer is free again
    Sequential([Dense(128, input_shape=(7,)), last])
    with pytest.raises(ValueError, match="no layers"):
        Sequential().pop()


# ---- 4. weights --------------------------------------------------------------------------------
def test_get_weights_order_shapes_and_copies() -> None:
    model = seed_cnn(seed=0)
    weights = model.get_weights()
    assert [w.shape for w in weights] == SEED_WEIGHT_SHAPES
    assert all(w.dtype == np.float32 for w in weights)
    assert [[w.shape for w in layer.get_weights()] for layer in model.layers] == [
        [(3, 3, 1, 32), (32,)],
        [],
        [(3, 3, 32, 64), (64,)],
        [],
        [],
        [(1600, 128), (128,)],
        [(128, 10), (10,)],
    ]
    weights[0][...] = 7.0  # a copy: the model is unchanged
    assert not np.any(model.get_weights()[0] == 7.0)


def test_set_weights_round_trip_changes_predictions() -> None:
    x = np.random.default_rng(1).uniform(size=(6, 28, 28, 1)).astype(np.float32)
    a, b = seed_cnn(seed=0), seed_cnn(seed=1)
    pa, pb = a.predict(x), b.predict(x)
    assert not np.allclose(pa, pb)
    b.set_weights(a.get_weights())
    assert same_weights(b.get_weights(), a.get_weights())
    np.testing.assert_array_equal(b.predict(x), pa)
    # set weights are the ones used: a linear layer computes x k + b
    logits_model = Sequential([Dense(4, input_shape=(3,))], seed=0)
    k = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    logits_model.set_weights([k, np.array([1, -1, 0.5, 0], np.float32)])
    z = np.array([[1, 2, 3], [-1, 0, 2]], np.float32)
    np.testing.assert_allclose(logits_model.predict(z), z @ k + [1, -1, 0.5, 0], rtol=1e-6)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda w: w[:-1],  # one array short
        lambda w: [*w, w[-1]],  # one too many
        lambda w: [*w[:-1], np.zeros(11, np.float32)],  # wrong shape, last array
        lambda w: [w[0].reshape(9, 32), *w[1:]],  # wrong shape, first array
        lambda w: [*w[:-1], np.full(10, np.nan, np.float32)],  # NaN
        lambda w: [w[0], np.full(32, np.inf, np.float32), *w[2:]],  # infinity
    ],
    ids=["too-few", "too-many", "shape-last", "shape-first", "nan-last", "inf-first"],
)
def test_set_weights_refuses_bad_arrays_and_changes_nothing(
    corrupt: Callable[[list[np.ndarray]], list[np.ndarray]],
) -> None:
    model = seed_cnn(seed=0)
    before = model.get_weights()
    bad = corrupt([w + 1 for w in before])
    with pytest.raises(ValueError):
        model.set_weights(bad)
    # all or nothing: no array may be written when one of them is refused
    assert same_weights(model.get_weights(), before)


def test_layer_get_and_set_weights() -> None:
    model = Sequential([Dense(3, input_shape=(2,), name="a"), Dense(2, use_bias=False, name="b")], seed=0)
    a, b = model.layers
    ka = np.array([[1, 0, -1], [2, 1, 0]], np.float32)
    ba = np.array([0.5, -0.5, 0], np.float32)
    kb = np.array([[1, 0], [0, 1], [1, 1]], np.float32)
    a.set_weights([ka, ba])
    b.set_weights([kb])
    assert same_weights(a.get_weights(), [ka, ba]) and same_weights(b.get_weights(), [kb])
    assert same_weights(model.get_weights(), [ka, ba, kb])
    x = np.array([[1, 2], [-1, 3]], np.float32)
    np.testing.assert_allclose(model.predict(x), (x @ ka + ba) @ kb, rtol=1e-6)
    with pytest.raises(ValueError):
        a.set_weights([ka])
    with pytest.raises(ValueError):
        b.set_weights([kb.T])
    with pytest.raises(ValueError):
        Dense(3).set_weights([ka, ba])  # not in a built model
    assert Dense(3).get_weights() == []


def test_glorot_uniform_limits_and_zero_biases() -> None:
    model = seed_cnn(seed=0)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        kernel, bias = weights
        receptive = int(np.prod(kernel.shape[:-2]))
        fan_in, fan_out = kernel.shape[-2] * receptive, kernel.shape[-1] * receptive
        limit = np.sqrt(6 / (fan_in + fan_out))
        assert np.abs(kernel).max() <= limit, layer.name
        assert np.abs(kernel).max() > 0.9 * limit, layer.name  # the whole range is used
        assert abs(float(kernel.mean())) < 0.1 * limit, layer.name
        # uniform: the variance is limit^2 / 3
        assert float(kernel.var()) == pytest.approx(limit**2 / 3, rel=0.25), layer.name
        assert np.array_equal(bias, np.zeros_like(bias)), layer.name


def test_other_initializers() -> None:
    model = Sequential(
        [
            Dense(50, input_shape=(40,), kernel_initializer="he_uniform", bias_initializer="ones"),
            Dense(30, kernel_initializer="zeros"),
            Dense(20, kernel_initializer="he_normal"),
        ],
        seed=0,
    )
    k1, b1, k2, b2, k3, _ = model.get_weights()
    assert np.abs(k1).max() <= np.sqrt(6 / 40) and np.abs(k1).max() > 0.9 * np.sqrt(6 / 40)
    assert np.array_equal(b1, np.ones(50, np.float32))
    assert not k2.any() and not b2.any()
    std = np.sqrt(2 / 30)  # truncated at two standard deviations of the untruncated normal
    assert np.abs(k3).max() <= 2 * std / 0.87962566103423978 + 1e-6
    assert float(k3.std()) == pytest.approx(std, rel=0.15)


def test_seed_fixes_the_initial_weights() -> None:
    a, b, c = seed_cnn(seed=5), seed_cnn(seed=5), seed_cnn(seed=6)
    assert same_weights(a.get_weights(), b.get_weights())
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])
    assert not np.array_equal(a.get_weights()[4], c.get_weights()[4])
    # no seed: fresh entropy
    assert not np.array_equal(seed_cnn(seed=None).get_weights()[0], seed_cnn(seed=None).get_weights()[0])
    for bad in (-1, 1.5, True, "0"):
        with pytest.raises(ValueError):
            Sequential(seed=bad)  # type: ignore[arg-type]


def test_set_random_seed_seeds_later_models() -> None:
    set_random_seed(5)
    a, b = seed_cnn(seed=None), seed_cnn(seed=None)
    assert same_weights(a.get_weights(), b.get_weights())
    assert same_weights(a.get_weights(), seed_cnn(seed=5).get_weights())
    assert not np.array_equal(seed_cnn(seed=6).get_weights()[0], a.get_weights()[0])
    set_random_seed(None)
    assert not np.array_equal(seed_cnn(seed=None).get_weights()[0], a.get_weights()[0])
    assert nn.set_random_seed is set_random_seed
    for bad in (-3, 2.0, False):
        with pytest.raises(ValueError):
            set_random_seed(bad)  # type: ignore[arg-type]


# ---- 5. bad input ------------------------------------------------------------------------------
def test_fit_and_evaluate_need_compile() -> None:
    x, y = small_data(8)
    model = small_cnn()
    with pytest.raises(ValueError, match=r"compile\(\)"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"compile\(\)"):
        model.evaluate(x, y, verbose=0)
    assert model.predict(x).shape == (8, 10)  # predict needs no compile


def test_unknown_names_are_refused() -> None:
    model = small_cnn()
    with pytest.raises(ValueError, match="loss"):
        model.compile("adam", "hinge")
    with pytest.raises(ValueError, match="loss"):
        model.compile("adam")  # no loss at all
    with pytest.raises(ValueError, match="optimizer"):
        model.compile("adagrad", "mse")
    with pytest.raises(ValueError, match="metric"):
        model.compile("adam", "mse", metrics=["auc"])
    assert not model.compiled
    with pytest.raises(ValueError, match="activation"):
        Dense(3, activation="swishy")
    with pytest.raises(ValueError, match="initializer"):
        Dense(3, kernel_initializer="orthogonalish")
    with pytest.raises(ValueError, match="initializer"):
        Conv2D(3, 3, bias_initializer="nope")
    with pytest.raises(ValueError, match="padding"):
        Conv2D(3, 3, padding="full")
    with pytest.raises(ValueError, match="padding"):
        MaxPooling2D(2, padding="causal")
    for bad in (0, -1, 2.5, (3, 0), (1, 2, 3)):
        with pytest.raises(ValueError):
            Conv2D(3, bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Dense(0)


def test_missing_channel_axis_suggests_adding_it() -> None:
    x, y = small_data(8)
    model = compiled(small_cnn())
    with pytest.raises(ValueError, match=re.escape("x[..., None]")):
        model.fit(x[..., 0], y, verbose=0)
    with pytest.raises(ValueError, match=re.escape("[..., None]")):
        model.predict(x[..., 0])
    with pytest.raises(ValueError, match="takes") as info:
        model.predict(np.zeros((2, 9, 8, 1), np.float32))
    assert "None]" not in str(info.value)  # the hint is only given when it is the fix


@pytest.mark.parametrize("bad_label", [10, -1, 2.5])
def test_labels_out_of_range_are_refused(bad_label: float) -> None:
    x, y = small_data(8)
    labels = y.astype(np.float64)
    labels[3] = bad_label
    model = compiled(small_cnn())
    with pytest.raises(ValueError):
        model.fit(x, labels, verbose=0)
    with pytest.raises(ValueError):
        model.evaluate(x, labels, verbose=0)


def test_bad_x_and_y_are_refused() -> None:
    x, y = small_data(8)
    model = compiled(small_cnn())
    for value in (np.nan, np.inf, -np.inf):
        bad = x.copy()
        bad[2, 3, 4, 0] = value
        with pytest.raises(ValueError, match="NaN or infinity"):
            model.fit(bad, y, verbose=0)
        with pytest.raises(ValueError, match="NaN or infinity"):
            model.predict(bad)
    with pytest.raises(ValueError, match="empty"):
        model.fit(x[:0], y[:0], verbose=0)
    with pytest.raises(ValueError, match="empty"):
        model.predict(x[:0])
    with pytest.raises(ValueError, match="one row per sample"):
        model.fit(x, y[:-1], verbose=0)
    with pytest.raises(ValueError, match="one row per sample"):
        model.fit(x, y[0], verbose=0)
    with pytest.raises(TypeError):
        model.fit(np.full(x.shape, "a"), y, verbose=0)
    with pytest.raises(TypeError):
        model.predict([["a", "b"]])
    with pytest.raises(TypeError):
        model.fit(x, np.array(["cat"] * 8), verbose=0)
    with pytest.raises(ValueError):
        model.fit(None, y, verbose=0)
    with pytest.raises(ValueError):
        model.fit(x, None, verbose=0)
    with pytest.raises(ValueError):
        model.fit(x, np.zeros((8, 2)), verbose=0)  # sparse labels must be (n,) or (n, 1)


def test_categorical_crossentropy_needs_one_hot_targets() -> None:
    x, y = small_data(8)
    model = small_cnn()
    model.compile("adam", "categorical_crossentropy")
    with pytest.raises(ValueError, match="one-hot"):
        model.fit(x, y, verbose=0)
    model.fit(x, np.eye(10, dtype=np.float32)[y], verbose=0)
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match="NaN or infinity"):
        model.fit(x, np.full((8, 10), np.nan), verbose=0)


def test_bad_fit_arguments_are_refused() -> None:
    x, y = small_data(10)
    model = compiled(small_cnn())
    before = model.get_weights()
    for kwargs in (
        {"batch_size": 0},
        {"batch_size": -2},
        {"batch_size": 2.5},
        {"epochs": 0},
        {"epochs": -1},
        {"validation_split": 1.0},
        {"validation_split": -0.1},
        {"verbose": 3},
        {"initial_epoch": -1},
        {"validation_data": (x,)},
    ):
        with pytest.raises(ValueError):
            model.fit(x, y, **{"verbose": 0, **kwargs})
    with pytest.raises(ValueError, match="no rows"):
        model.fit(x[:1], y[:1], validation_split=0.5, verbose=0)
    with pytest.raises(ValueError):
        model.predict(x, batch_size=0)
    with pytest.raises(ValueError):
        model.evaluate(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError):
        model(x, training=True)
    assert same_weights(model.get_weights(), before)  # nothing trained


@pytest.mark.parametrize("rate", [1.0, 1.5, -0.1, True])
def test_dropout_rate_must_be_below_one(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        Dropout(rate)


def test_user_arrays_are_not_modified() -> None:
    x, y = small_data(40)
    x = np.ascontiguousarray(x, dtype=np.float32)  # the dtypes the core uses: no conversion copy
    y = y.astype(np.int32)
    vx, vy = small_data(10, seed=1)
    vy = vy.astype(np.int32)
    copies = [a.copy() for a in (x, y, vx, vy)]
    model = Sequential(
        [
            BatchNormalization(input_shape=(8, 8, 1)),
            Conv2D(4, 3, activation="relu"),
            Flatten(),
            Dropout(0.5),
            Dense(10, activation="softmax"),
        ],
        seed=0,
    )
    compiled(model)
    model.fit(x, y, epochs=2, batch_size=8, validation_split=0.2, verbose=0)
    model.fit(x, y, epochs=1, batch_size=8, validation_data=(vx, vy), verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x)
    model(x)
    for original, kept in zip((x, y, vx, vy), copies, strict=True):
        np.testing.assert_array_equal(original, kept)
        assert original.flags.writeable


# ---- 6. training semantics -----------------------------------------------------------------
def test_history_has_one_value_per_epoch() -> None:
    x, y = small_data(60)
    model = compiled(small_cnn())
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
    assert model.history is history
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in history.history.values())
    assert history.epoch == [0, 1, 2]
    for key in ("accuracy", "val_accuracy"):
        assert all(0 <= v <= 1 for v in history.history[key])
    # accuracies are fractions of 48 training / 12 validation rows
    assert all(abs(v * 48 - round(v * 48)) < 1e-9 for v in history.history["accuracy"])
    assert all(abs(v * 12 - round(v * 12)) < 1e-9 for v in history.history["val_accuracy"])
    assert history.history["loss"][-1] < history.history["loss"][0]

    later = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    assert later.epoch == [3, 4] and set(later.history) == {"loss", "accuracy"}
    no_metrics = small_cnn()
    no_metrics.compile("adam", "sparse_categorical_crossentropy")
    assert set(no_metrics.fit(x, y, verbose=0).history) == {"loss"}
    assert isinstance(no_metrics.evaluate(x, y, verbose=0), float)


def test_validation_split_takes_the_last_rows() -> None:
    x, y = small_data(80)
    y = y.copy()
    y[-20:] = (y[-20:] + 3) % 10  # the last quarter is mislabelled: a different loss there
    model = compiled(small_cnn(seed=2))
    history = model.fit(x, y, epochs=1, batch_size=16, validation_split=0.25, verbose=0)
    last = model.evaluate(x[-20:], y[-20:], verbose=0, return_dict=True)
    first = model.evaluate(x[:20], y[:20], verbose=0, return_dict=True)
    assert history.history["val_loss"][0] == pytest.approx(last["loss"], rel=1e-6)
    assert history.history["val_accuracy"][0] == pytest.approx(last["accuracy"], abs=1e-12)
    assert abs(first["loss"] - last["loss"]) > 1e-3  # the check above can tell the rows apart

    # training saw exactly the first 60 rows
    split = compiled(small_cnn(seed=2))
    split.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, shuffle=False, verbose=0)
    head = compiled(small_cnn(seed=2))
    head.fit(x[:60], y[:60], epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert same_weights(split.get_weights(), head.get_weights())

    # explicit validation data equal to the last rows gives the same numbers
    explicit = compiled(small_cnn(seed=2))
    h2 = explicit.fit(
        x[:60], y[:60], epochs=2, batch_size=16, validation_data=(x[60:], y[60:]), shuffle=False, verbose=0
    )
    h1 = compiled(small_cnn(seed=2)).fit(
        x, y, epochs=2, batch_size=16, validation_split=0.25, shuffle=False, verbose=0
    )
    assert h1.history == h2.history


def test_same_seed_trains_to_bit_identical_weights() -> None:
    x, y = small_data(64)
    runs = []
    for seed in (4, 4, 5):
        model = compiled(small_cnn(seed=seed))
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        runs.append(model.get_weights())
    assert same_weights(runs[0], runs[1])
    assert not same_weights(runs[0], runs[2])


def test_thread_count_does_not_change_training() -> None:
    """Batch norm and dropout included: n_jobs=1 and n_jobs=2 give bit-identical models."""
    x, y = small_data(96)
    results = []
    for n_jobs in (1, 2):
        model = Sequential(
            [
                Conv2D(8, 3, activation="relu", input_shape=(8, 8, 1)),
                BatchNormalization(),
                MaxPooling2D(2),
                Flatten(),
                Dropout(0.3),
                Dense(32, activation="relu"),
                Dense(10, activation="softmax"),
            ],
            seed=3,
            n_jobs=n_jobs,
        )
        compiled(model)
        history = model.fit(x, y, epochs=2, batch_size=48, validation_split=0.25, verbose=0)
        results.append((model.get_weights(), model.predict(x), history.history))
    assert same_weights(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert results[0][2] == results[1][2]
    assert not np.array_equal(results[0][0][3], np.ones(8, np.float32))  # batch norm was trained


def test_shuffle_changes_training() -> None:
    x, y = small_data(64)
    weights = []
    for shuffle in (False, True, False):
        model = compiled(small_cnn(seed=1))
        model.fit(x, y, epochs=2, batch_size=16, shuffle=shuffle, verbose=0)
        weights.append(model.get_weights())
    assert not same_weights(weights[0], weights[1])
    assert same_weights(weights[0], weights[2])


class StopAfter(Callback):
    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs
        self.seen: list[int] = []

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.seen.append(epoch)
        if epoch + 1 >= self.epochs:
            self.model.stop_training = True


def test_callbacks_stop_training() -> None:
    x, y = small_data(32)
    model = compiled(small_cnn())
    stop = StopAfter(2)
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[stop])
    assert history.epoch == [0, 1] and len(history.history["loss"]) == 2
    assert stop.seen == [0, 1] and stop.model is model

    # nothing counts as an improvement: EarlyStopping stops after the second epoch
    early = EarlyStopping(monitor="loss", min_delta=1e9, patience=0)
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[early])
    assert len(history.history["loss"]) == 2 and early.stopped_epoch == 1
    # a fresh fit starts again (stop_training is reset)
    assert len(model.fit(x, y, epochs=3, verbose=0).history["loss"]) == 3


def test_callback_can_change_the_learning_rate() -> None:
    x, y = small_data(32)
    model = compiled(small_cnn(), SGD(0.1))
    seen: list[float] = []

    class Decay(Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.model.optimizer.learning_rate = 0.1 * 0.5**epoch

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            seen.append(self.model.optimizer.learning_rate)

    model.fit(x, y, epochs=3, verbose=0, callbacks=[Decay()])
    assert seen == [0.1, 0.05, 0.025]


def test_model_checkpoint_files_load_back(tmp_path: Path) -> None:
    x, y = small_data(32)
    model = compiled(small_cnn())
    model.fit(
        x,
        y,
        epochs=3,
        batch_size=16,
        verbose=0,
        callbacks=[ModelCheckpoint(tmp_path / "m-{epoch:02d}.keras")],
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-01.keras", "m-02.keras", "m-03.keras"]
    final = load_model(tmp_path / "m-03.keras")
    np.testing.assert_array_equal(final.predict(x), model.predict(x))
    first = load_model(tmp_path / "m-01.keras")
    assert not np.array_equal(first.predict(x), model.predict(x))


def test_verbose_2_prints_one_line_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = small_data(40)
    model = compiled(small_cnn())
    model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    number = r"\d+\.\d{4}(?:e[-+]\d+)?"
    pattern = (
        rf"2/2 - \d+s - \d+[mu]?s/step - loss: {number} - accuracy: {number}"
        rf" - val_loss: {number} - val_accuracy: {number}"
    )
    assert len(lines) == 6
    assert all(re.fullmatch(pattern, line) for line in lines[1::2]), lines
    assert "━" not in "".join(lines)


def test_verbose_0_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = small_data(40)
    model = compiled(small_cnn())
    model.fit(x, y, epochs=2, validation_split=0.2, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    model.evaluate(x, y, verbose=1)
    assert re.fullmatch(r"2/2 - \d+s - \S+/step - loss: \S+ - accuracy: \S+\n", capsys.readouterr().out)


def test_predict_does_not_depend_on_batch_size() -> None:
    x = np.random.default_rng(3).uniform(size=(37, 28, 28, 1)).astype(np.float32)
    model = seed_cnn(seed=0)
    reference = model.predict(x, batch_size=37)
    for batch_size in (1, 5, 32, 100):
        np.testing.assert_allclose(model.predict(x, batch_size=batch_size), reference, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model(x), reference, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.predict(x.astype(np.float64)), reference, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.predict(x[3:4])[0], reference[3], rtol=1e-5, atol=1e-7)


# ---- 7. optimizer updates against NumPy --------------------------------------------------
def numpy_training(
    optimizer: Optimizer, w: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch training of y ~ x w + b under the mean squared error, Keras' update rules,
    in float64."""
    params = [w.astype(np.float64), b.astype(np.float64)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    n, units = y.shape
    lr = optimizer.learning_rate
    for t in range(1, steps + 1):
        residual = x64 @ params[0] + params[1] - y64
        grads = [2 * x64.T @ residual / (n * units), 2 * residual.sum(axis=0) / (n * units)]
        for i, g in enumerate(grads):
            if isinstance(optimizer, Adam):
                b1, b2 = optimizer.beta_1, optimizer.beta_2
                lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
                m[i] += (g - m[i]) * (1 - b1)
                v[i] += (g * g - v[i]) * (1 - b2)
                params[i] -= lr_t * m[i] / (np.sqrt(v[i]) + optimizer.epsilon)
            elif isinstance(optimizer, SGD):
                mu = optimizer.momentum
                if mu == 0:
                    params[i] -= lr * g
                else:
                    m[i] = mu * m[i] - lr * g
                    params[i] += mu * m[i] - lr * g if optimizer.nesterov else m[i]
            elif isinstance(optimizer, RMSprop):
                v[i] = optimizer.rho * v[i] + (1 - optimizer.rho) * g * g
                step = lr * g / np.sqrt(v[i] + optimizer.epsilon)
                if optimizer.momentum > 0:
                    m[i] = optimizer.momentum * m[i] + step
                    params[i] -= m[i]
                else:
                    params[i] -= step
            else:
                raise AssertionError(type(optimizer))
    return params[0], params[1]


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda: Adam(learning_rate=0.01),
        lambda: Adam(learning_rate=0.05, beta_1=0.5, beta_2=0.9, epsilon=1e-3),
        lambda: SGD(0.05, momentum=0.9, nesterov=True),
        lambda: SGD(0.05, momentum=0.9, nesterov=False),
        lambda: SGD(0.1),
        lambda: RMSprop(0.01, momentum=0.5),
        lambda: RMSprop(0.01),
    ],
    ids=["adam", "adam-custom", "sgd-nesterov", "sgd-momentum", "sgd", "rmsprop-momentum", "rmsprop"],
)
def test_optimizer_updates_match_numpy(make_optimizer: Callable[[], Optimizer]) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    y = (x @ rng.normal(size=(4, 3)) + rng.normal(size=3) + 0.1 * rng.normal(size=(16, 3))).astype(np.float32)
    model = Sequential([Dense(3, input_shape=(4,))], seed=0)
    model.layers[0].set_weights([rng.normal(size=(4, 3)).astype(np.float32), np.full(3, 0.3, np.float32)])
    w0, b0 = model.get_weights()
    model.compile(make_optimizer(), "mse")
    model.fit(x, y, batch_size=len(x), epochs=5, shuffle=False, verbose=0)
    w, b = model.get_weights()
    w_ref, b_ref = numpy_training(make_optimizer(), w0, b0, x, y, 5)
    assert not np.allclose(w, w0, atol=1e-3)  # the weights moved
    np.testing.assert_allclose(w, w_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, b_ref, rtol=1e-5, atol=1e-6)


def test_optimizer_steps_are_per_batch_and_reset_by_compile() -> None:
    """Two batches of 8 per epoch are two Adam steps; compile() starts the optimizer afresh."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    y = rng.normal(size=(16, 3)).astype(np.float32)
    model = Sequential([Dense(3, input_shape=(4,))], seed=0)
    w0, b0 = model.get_weights()
    model.compile(Adam(0.01), "mse")
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    one_step = numpy_training(Adam(0.01), w0, b0, x[:8], y[:8], 1)
    # the second batch continues the same moments: compute both steps by hand
    opt = Adam(0.01)
    params = [w0.astype(np.float64), b0.astype(np.float64)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t, rows in ((1, slice(0, 8)), (2, slice(8, 16))):
        residual = x[rows] @ params[0] + params[1] - y[rows]
        grads = [2 * x[rows].T.astype(np.float64) @ residual / 24, 2 * residual.sum(axis=0) / 24]
        lr_t = opt.learning_rate * np.sqrt(1 - opt.beta_2**t) / (1 - opt.beta_1**t)
        for i, g in enumerate(grads):
            m[i] += (g - m[i]) * (1 - opt.beta_1)
            v[i] += (g * g - v[i]) * (1 - opt.beta_2)
            params[i] -= lr_t * m[i] / (np.sqrt(v[i]) + opt.epsilon)
    w, b = model.get_weights()
    np.testing.assert_allclose(w, params[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, params[1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(w, one_step[0], atol=1e-4)

    # compile again: the next fit starts at step 1 with zero moments
    model.compile(Adam(0.01), "mse")
    w1, b1 = model.get_weights()
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    w_ref, b_ref = numpy_training(Adam(0.01), w1, b1, x, y, 1)
    np.testing.assert_allclose(model.get_weights()[0], w_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights()[1], b_ref, rtol=1e-5, atol=1e-6)


def test_optimizer_arguments_are_checked() -> None:
    for make in (
        lambda: Adam(learning_rate=0),
        lambda: Adam(beta_1=1.0),
        lambda: Adam(epsilon=0),
        lambda: SGD(-0.1),
        lambda: SGD(momentum=1.5),
        lambda: RMSprop(rho=-0.1),
    ):
        with pytest.raises(ValueError):
            make()


# ---- 8. losses ---------------------------------------------------------------------------------
def test_losses_match_numpy() -> None:
    rng = np.random.default_rng(0)
    x = (2 * rng.normal(size=(64, 6))).astype(np.float32)
    labels = rng.integers(0, 10, 64)
    model = Sequential([Dense(10, activation="softmax", input_shape=(6,))], seed=0)
    p = model.predict(x).astype(np.float64)

    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    sparse_loss, acc = model.evaluate(x, labels, verbose=0)
    expected = -np.mean(np.log(p[np.arange(64), labels]))
    assert sparse_loss == pytest.approx(expected, abs=1e-5)
    assert acc == pytest.approx(float((p.argmax(axis=1) == labels).mean()), abs=1e-12)
    assert model.evaluate(x, labels[:, None], verbose=0)[0] == pytest.approx(sparse_loss, abs=1e-12)

    model.compile("sgd", "categorical_crossentropy", metrics=["accuracy"])
    one_hot = np.eye(10)[labels]
    cat_loss, cat_acc = model.evaluate(x, one_hot, verbose=0)
    assert cat_loss == pytest.approx(sparse_loss, abs=1e-6)
    assert cat_acc == acc
    soft = rng.dirichlet(np.ones(10), 64)  # soft targets: -sum q log p
    assert model.evaluate(x, soft, verbose=0)[0] == pytest.approx(
        -np.mean((soft * np.log(p)).sum(axis=1)), abs=1e-5
    )

    targets = rng.normal(size=(64, 10))
    model.compile("sgd", "mse")
    assert model.evaluate(x, targets, verbose=0) == pytest.approx(np.mean((p - targets) ** 2), abs=1e-5)
    model.compile("sgd", "mean_squared_error")
    assert model.evaluate(x, targets, verbose=0) == pytest.approx(np.mean((p - targets) ** 2), abs=1e-5)


def test_training_loss_is_the_mean_over_the_epoch_before_updates() -> None:
    """With one full batch, the epoch's loss is the loss of the weights before the step."""
    x, y = small_data(32)
    model = compiled(small_cnn(seed=0), SGD(0.5))
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert history.history["loss"][0] == pytest.approx(before["loss"], rel=1e-5)
    assert history.history["accuracy"][0] == pytest.approx(before["accuracy"], abs=1e-12)
    assert model.evaluate(x, y, verbose=0, return_dict=True)["loss"] != pytest.approx(before["loss"])


# ---- 9. batch normalization ----------------------------------------------------------------
def test_batch_norm_moving_statistics_after_one_step() -> None:
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(2048, 4, 4, 3)) * [0.5, 2.0, 1.0] + [1.0, -2.0, 3.0]).astype(np.float32)
    y = rng.normal(size=(2048, 1)).astype(np.float32)
    model = Sequential([BatchNormalization(input_shape=(4, 4, 3)), Flatten(), Dense(1)], seed=0)
    bn = model.layers[0]
    gamma, beta, mm, mv = bn.get_weights()
    assert same_weights(
        [gamma, beta, mm, mv],
        [np.ones(3, np.float32), *[np.zeros(3, np.float32)] * 2, np.ones(3, np.float32)],
    )
    model.compile(SGD(0.01), "mse")
    model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    _, _, mm, mv = bn.get_weights()
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mm, 0.01 * x64.mean(axis=(0, 1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mv, 0.99 + 0.01 * x64.var(axis=(0, 1, 2)), rtol=1e-5, atol=1e-6)


def test_batch_norm_predicts_with_moving_statistics() -> None:
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(50, 3, 3, 2)) * 3 + 1).astype(np.float32)
    model = Sequential([BatchNormalization(input_shape=(3, 3, 2))], seed=0)
    bn = model.layers[0]
    assert isinstance(bn, BatchNormalization) and bn.epsilon == 1e-3 and bn.momentum == 0.99
    gamma = np.array([1.5, -0.5], np.float32)
    beta = np.array([0.25, 2.0], np.float32)
    mm = np.array([0.5, -1.0], np.float32)
    mv = np.array([4.0, 0.25], np.float32)
    bn.set_weights([gamma, beta, mm, mv])
    expected = gamma * (x.astype(np.float64) - mm) / np.sqrt(mv.astype(np.float64) + 1e-3) + beta
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-5)

    # after a training step predict still uses the (updated) moving statistics, not the batch's
    model.compile(SGD(0.01), "mse")
    model.fit(x, np.zeros_like(x), batch_size=50, epochs=1, shuffle=False, verbose=0)
    gamma, beta, mm, mv = (w.astype(np.float64) for w in bn.get_weights())
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mm, 0.99 * np.array([0.5, -1.0]) + 0.01 * x64.mean(axis=(0, 1, 2)), rtol=1e-5)
    expected = gamma * (x64 - mm) / np.sqrt(mv + 1e-3) + beta
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-5)
    batch_normalised = (x64 - x64.mean(axis=(0, 1, 2))) / np.sqrt(x64.var(axis=(0, 1, 2)) + 1e-3)
    assert not np.allclose(model.predict(x), gamma * batch_normalised + beta, atol=1e-2)


# ---- 10. dropout --------------------------------------------------------------------------------
def test_dropout_does_not_change_predictions() -> None:
    x = np.random.default_rng(0).normal(size=(20, 5)).astype(np.float32)
    with_dropout = Sequential(
        [Dense(16, activation="relu", input_shape=(5,)), Dropout(0.5), Dense(3, activation="softmax")], seed=0
    )
    without = Sequential([Dense(16, activation="relu", input_shape=(5,)), Dense(3, activation="softmax")])
    without.set_weights(with_dropout.get_weights())
    np.testing.assert_array_equal(with_dropout.predict(x), without.predict(x))
    np.testing.assert_array_equal(with_dropout(x), without(x))
    assert with_dropout.layers[1].get_weights() == []


def test_dropout_masks_and_scales_while_training() -> None:
    """One SGD step (lr 1) on y = 1 from a zero kernel: w_i = 2 * dropped(x)_i, so each weight
    is 0 (dropped) or 2 / (1 - rate) = 4 (kept and scaled)."""
    model = Sequential(
        [Dropout(0.5, input_shape=(1000,)), Dense(1, use_bias=False, kernel_initializer="zeros")], seed=0
    )
    model.compile(SGD(1.0), "mse")
    model.fit(np.ones((1, 1000), np.float32), np.ones((1, 1), np.float32), batch_size=1, verbose=0)
    kernel = model.get_weights()[0].ravel()
    assert set(np.unique(kernel).tolist()) == {0.0, 4.0}
    assert 420 <= int((kernel == 4.0).sum()) <= 580  # Binomial(1000, 0.5): sd 15.8


# ---- 11. saving and loading ------------------------------------------------------------------
def trained_model(seed: int = 0) -> tuple[Sequential, np.ndarray, np.ndarray]:
    x, y = small_data(48)
    model = compiled(small_cnn(seed=seed))
    model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    return model, x, y


def test_save_and_load_model(tmp_path: Path) -> None:
    model, x, y = trained_model()
    path = tmp_path / "model.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["config.json", "weights.npz"]
        json.loads(z.read("config.json"))
        with np.load(io.BytesIO(z.read("weights.npz")), allow_pickle=False) as npz:
            assert "conv2d/kernel" in npz.files
    loaded = load_model(path)
    assert loaded.get_config() == model.get_config()
    assert same_weights(loaded.get_weights(), model.get_weights())
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.loss == model.loss and loaded.metrics == model.metrics
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer is not None and model.optimizer is not None
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_loaded_model_continues_training_like_the_original(tmp_path: Path) -> None:
    model, x, y = trained_model()
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    assert same_weights(loaded.get_weights(), model.get_weights())

    # without the optimizer state, training restarts Adam's moments: the result differs
    model.save(tmp_path / "bare.keras", include_optimizer=False)
    bare = load_model(tmp_path / "bare.keras")
    model.save(tmp_path / "full.keras")
    full = load_model(tmp_path / "full.keras")
    bare.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    full.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    assert not same_weights(bare.get_weights(), full.get_weights())


def test_save_and_load_weights(tmp_path: Path) -> None:
    model, x, _ = trained_model()
    model.save_weights(tmp_path / "w.weights.npz")
    other = small_cnn(seed=7)
    assert not same_weights(other.get_weights(), model.get_weights())
    other.load_weights(tmp_path / "w.weights.npz")
    assert same_weights(other.get_weights(), model.get_weights())
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    with pytest.raises(CorruptModelError):
        seed_cnn().load_weights(tmp_path / "w.weights.npz")
    with pytest.raises(FileNotFoundError):
        other.load_weights(tmp_path / "missing.npz")


def test_pickle_round_trip() -> None:
    model, x, _ = trained_model()
    model.n_jobs = 1
    clone = pickle.loads(pickle.dumps(model))
    assert isinstance(clone, Sequential) and clone.n_jobs == 1
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    assert all(layer._model is clone for layer in clone.layers)
    # independent copies
    deep = copy.deepcopy(model)
    deep.layers[0].set_weights([w * 0 for w in deep.layers[0].get_weights()])
    assert not same_weights(deep.get_weights(), model.get_weights())
    unbuilt = pickle.loads(pickle.dumps(Sequential([Dense(2)], name="tiny")))
    assert unbuilt.name == "tiny" and not unbuilt.built and len(unbuilt.layers) == 1


def rewrite_zip(src: Path, dst: Path, config: Any = None, weights: bytes | None = None) -> None:
    """A copy of the model file src with config.json and/or weights.npz replaced."""
    with zipfile.ZipFile(src) as z:
        original_config = z.read("config.json")
        original_weights = z.read("weights.npz")
    with zipfile.ZipFile(dst, "w") as z:
        z.writestr("config.json", original_config if config is None else json.dumps(config))
        z.writestr("weights.npz", original_weights if weights is None else weights)


def npz_bytes(arrays: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


class LeavesAMark:
    """Unpickling this creates the file `path`: proof that a loader ran pickle."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def test_corrupt_model_files_are_refused(tmp_path: Path) -> None:
    model = Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(2)], seed=0)
    model.compile("adam", "mse")
    good = tmp_path / "good.keras"
    model.save(good)
    with zipfile.ZipFile(good) as z:
        config = json.loads(z.read("config.json"))
        with np.load(io.BytesIO(z.read("weights.npz")), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    assert issubclass(CorruptModelError, ValueError)

    (tmp_path / "random.keras").write_bytes(np.random.default_rng(0).bytes(2000))
    (tmp_path / "truncated.keras").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "empty.keras").write_bytes(b"")
    bad_class = copy.deepcopy(config)
    bad_class["model"]["layers"][1]["class_name"] = "Conv3D"
    rewrite_zip(good, tmp_path / "class.keras", config=bad_class)
    bad_arg = copy.deepcopy(config)
    bad_arg["model"]["layers"][0]["config"]["units"] = "four"
    rewrite_zip(good, tmp_path / "arg.keras", config=bad_arg)
    bad_format = copy.deepcopy(config)
    bad_format["format"] = "keras/3"
    rewrite_zip(good, tmp_path / "format.keras", config=bad_format)
    rewrite_zip(good, tmp_path / "list.keras", config=[1, 2])
    with zipfile.ZipFile(tmp_path / "nojson.keras", "w") as z:
        z.writestr("config.json", b"{not json")
        z.writestr("weights.npz", b"")
    with zipfile.ZipFile(tmp_path / "noweights.keras", "w") as z:
        z.writestr("config.json", json.dumps(config))
    rewrite_zip(good, tmp_path / "badnpz.keras", weights=b"PK\x03\x04 not an npz")
    for name in (
        "random",
        "truncated",
        "empty",
        "class",
        "arg",
        "format",
        "list",
        "nojson",
        "noweights",
        "badnpz",
    ):
        with pytest.raises(CorruptModelError):
            load_model(tmp_path / f"{name}.keras")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.keras")

    # weights that do not fit the architecture: a wrong shape, a missing array, bad optimizer state
    wrong_shape = dict(arrays, **{"dense/kernel": np.zeros((5, 4), np.float32)})
    rewrite_zip(good, tmp_path / "shape.keras", weights=npz_bytes(wrong_shape))
    with pytest.raises(CorruptModelError, match="shape"):
        load_model(tmp_path / "shape.keras")
    missing = {k: v for k, v in arrays.items() if k != "dense_1/bias"}
    rewrite_zip(good, tmp_path / "lack.keras", weights=npz_bytes(missing))
    with pytest.raises(CorruptModelError, match="dense_1/bias"):
        load_model(tmp_path / "lack.keras")
    nan = dict(arrays, **{"dense/bias": np.full(4, np.nan, np.float32)})
    rewrite_zip(good, tmp_path / "nan.keras", weights=npz_bytes(nan))
    with pytest.raises(CorruptModelError, match="NaN"):
        load_model(tmp_path / "nan.keras")
    bad_state = dict(arrays, **{"optimizer/m": np.zeros(3, np.float32)})
    rewrite_zip(good, tmp_path / "state.keras", weights=npz_bytes(bad_state))
    with pytest.raises(CorruptModelError, match="optimizer"):
        load_model(tmp_path / "state.keras")


def test_loading_never_unpickles(tmp_path: Path) -> None:
    model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    good = tmp_path / "good.keras"
    model.save(good)
    mark = tmp_path / "unpickled"
    evil = np.empty(1, dtype=object)
    evil[0] = LeavesAMark(os.fspath(mark))
    weights = npz_bytes({"dense/kernel": evil, "dense/bias": np.zeros(2, np.float32)})
    rewrite_zip(good, tmp_path / "evil.keras", weights=weights)
    with pytest.raises(CorruptModelError):
        load_model(tmp_path / "evil.keras")
    (tmp_path / "evil.npz").write_bytes(weights)
    with pytest.raises(CorruptModelError):
        model.load_weights(tmp_path / "evil.npz")
    assert not mark.exists()
    # the same bytes do run code under pickle: the check above is meaningful
    with np.load(io.BytesIO(weights), allow_pickle=True) as npz:
        npz["dense/kernel"]
    assert mark.exists()


# ---- 12. threads ---------------------------------------------------------------------------------
def test_concurrent_predict_matches_serial() -> None:
    model = seed_cnn(seed=0)
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(size=(24, 28, 28, 1)).astype(np.float32) for _ in range(8)]
    serial = [model.predict(x) for x in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(model.predict, inputs))
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(serial[0], serial[1])
