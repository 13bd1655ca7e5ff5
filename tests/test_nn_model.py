"""The Keras-style model API of scalegen.nn: the seed's CNN snippet run as written, training on
the bundled digits, and the structure of a model (names, summary, building, pop).

The layers' kernels are compared with PyTorch in test_nn_kernels.py; weights and bad input are in
test_nn_weights.py, training in test_nn_training.py, saving in test_nn_saving.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from nn_models import (
    SEED_FILE,
    SEED_IMPORTS,
    SEED_SNIPPET,
    SEED_SUMMARY,
    SEED_WEIGHT_SHAPES,
    _no_global_seed,  # noqa: F401  (an autouse fixture)
    accuracy,
    compiled,
    digits_cnn,
    mnist_like,
    same_weights,
    seed_cnn,
)
from scalegen.nn import Sequential, set_random_seed
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
from scalegen.nn.optimizers import Adam


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
