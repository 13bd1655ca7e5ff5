"""scalegen.nn models' weights (order, shapes, copies, initializers, seeds) and the input they refuse."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest

import scalegen.nn as nn
from nn_models import (
    SEED_WEIGHT_SHAPES,
    _no_global_seed,  # noqa: F401  (an autouse fixture)
    compiled,
    same_weights,
    seed_cnn,
    small_cnn,
    small_data,
)
from scalegen.nn import Sequential, set_random_seed
from scalegen.nn.layers import (
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPooling2D,
)


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
    model(x, training=True)  # a forward pass in training mode trains nothing
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


@pytest.mark.parametrize("name", ["foo", "foo_uniform", "Zeros_x", 3])
def test_initialize_refuses_unknown_names(name: object) -> None:
    with pytest.raises(ValueError, match="unknown initializer"):
        nn.layers.initialize(name, (2, 3), np.random.default_rng(0))  # type: ignore[arg-type]


def test_initialize_takes_any_case() -> None:
    a = nn.layers.initialize("He_Normal", (4, 3), np.random.default_rng(0))
    b = nn.layers.initialize("he_normal", (4, 3), np.random.default_rng(0))
    assert np.array_equal(a, b)


def test_keras_positional_order_and_data_format() -> None:
    """Keras 3's positional order: filters, kernel_size, strides, padding, data_format,
    dilation_rate, groups, activation; data_format is channels-last only."""
    from scalegen.nn.layers import Conv2D, Conv2DTranspose, GlobalAveragePooling2D, MaxPooling2D

    conv = Conv2D(8, 3, 1, "same", "channels_last", 2, 4, "relu")
    assert (conv.dilation_rate, conv.groups, conv.activation) == ((2, 2), 4, "relu")
    up = Conv2DTranspose(4, 3, 2, "same", None, None, 1, "sigmoid")
    assert up.activation == "sigmoid"
    for make in (
        lambda: Conv2D(8, 3, data_format="channels_first"),
        lambda: MaxPooling2D(data_format="channels_first"),
        lambda: GlobalAveragePooling2D(data_format="channels_first"),
    ):
        with pytest.raises(ValueError, match="channels-last"):
            make()
    with pytest.raises(ValueError, match="dilation_rate must be 1"):
        Conv2DTranspose(4, 3, dilation_rate=2)
