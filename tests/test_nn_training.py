"""Training semantics of scalegen.nn: history, validation split, determinism across seeds and
threads, callbacks, optimizer updates and losses against NumPy, batch norm, dropout, and
concurrent predictions."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nn_models import (
    _no_global_seed,  # noqa: F401  (an autouse fixture)
    compiled,
    same_weights,
    seed_cnn,
    small_cnn,
    small_data,
)
from scalegen.nn import Sequential, load_model
from scalegen.nn.callbacks import Callback, EarlyStopping, ModelCheckpoint
from scalegen.nn.layers import (
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPooling2D,
)
from scalegen.nn.optimizers import SGD, Adam, Optimizer, RMSprop


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


def test_one_output_takes_flat_targets_as_keras_does() -> None:
    """y of shape (n,) for a (n, 1) output trains exactly as y[:, None]."""
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = x @ np.array([1.0, -2.0, 0.5], dtype="float32")
    losses = []
    for target in (y, y[:, None]):
        model = Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(1)], seed=0)
        model.compile("adam", "mse")
        losses.append(model.fit(x, target, epochs=2, batch_size=16, verbose=0).history["loss"])
    assert losses[0] == losses[1]
    with pytest.raises(ValueError, match=re.escape("the model outputs (n, 1)")):
        model.fit(x, np.zeros((64, 2)), verbose=0)
