"""Sequential's training primitives (forward, backward, accumulated gradients, optimizer
steps), frozen layers, loss objects, sample and class weights: against PyTorch, against the
fused one-call training step, and against each other (chained models, repeated rows)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scalegen.nn import Sequential, load_model, losses
from scalegen.nn.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from scalegen.nn.optimizers import SGD, Adam
from test_nn_kernels import TorchTwin, our_gradients, random_model, reference_loss, with_random_weights

torch = pytest.importorskip("torch")
F = torch.nn.functional


def close(ours: np.ndarray, ref: np.ndarray, what: str) -> None:
    """float32 against float64: errors scale with the values, with a floor for vanishing ones."""
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-4 * max(np.abs(ref).max(), 0.05), err_msg=what)


def primitive_gradients(
    model: Sequential, x: np.ndarray, y: Any, loss: losses.Loss
) -> tuple[float, list, Any]:
    model.zero_gradients()
    out = model.forward(x, training=True)
    value, dy = loss.value_and_gradient(y, out)
    dx = model.backward(dy)
    return value, model.gradients(), dx


def random_case(seed: int) -> tuple[Sequential, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    model, shape = random_model(rng)
    with_random_weights(model, rng)
    n = int(rng.integers(1, 12))
    x = rng.normal(0, 1, (n, *shape)).astype(np.float32)
    classes = model.output_shape[-1]
    return model, x, rng.integers(0, classes, n), rng.dirichlet(np.ones(classes), n)


@pytest.mark.parametrize("seed", range(10))
def test_forward_and_backward_match_torch(seed: int) -> None:
    model, x, labels, probs = random_case(seed)
    loss = losses.SparseCategoricalCrossentropy() if seed % 2 else losses.CategoricalCrossentropy()
    y = labels if seed % 2 else probs
    twin = TorchTwin(model)
    out, leaf = twin.forward(x)
    ref = reference_loss(out, y, loss.name, model.layers[-1], twin.logits)
    ref.backward()
    value, grads, dx = primitive_gradients(model, x, y, loss)
    assert value == pytest.approx(float(ref.detach()), rel=1e-4)
    trainable = [
        w
        for layer, ws in zip(model.layers, twin.params, strict=True)
        for w in ws[: len(layer.trainable_weights)]
    ]
    assert len(grads) == len(trainable)
    for g, w in zip(grads, trainable, strict=True):
        close(g, w.grad.numpy(), "parameter gradient")
    close(dx, leaf.grad.numpy(), "input gradient")


@pytest.mark.parametrize("seed", range(6))
def test_primitives_give_the_fused_steps_bits_on_the_same_kernels(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    model, shape = random_model(rng)
    model.layers[-1].activation = "linear"  # mean squared error: no softmax fused with the loss
    model.build(shape)
    with_random_weights(model, rng)
    n = int(rng.integers(1, 12))
    x = rng.normal(0, 1, (n, *shape)).astype(np.float32)
    y = rng.normal(0, 1, (n, *model.output_shape[1:])).astype(np.float32)
    value, grads, dx = primitive_gradients(model, x, y, losses.MeanSquaredError())
    fused_value, fused_grads, fused_dx = our_gradients(model, x, y, "mse")
    assert value == pytest.approx(fused_value, rel=1e-12)
    np.testing.assert_array_equal(np.concatenate([g.ravel() for g in grads]),
                                  np.concatenate([g.ravel() for gs in fused_grads for g in gs]))  # fmt: skip
    np.testing.assert_array_equal(dx, fused_dx)


@pytest.mark.parametrize("seed", range(4))
def test_a_backward_pass_without_the_input_gradient_gives_the_same_parameter_gradients(seed: int) -> None:
    model, x, labels, _ = random_case(200 + seed)
    loss = losses.SparseCategoricalCrossentropy()
    _, grads, _ = primitive_gradients(model, x, labels, loss)
    model.zero_gradients()
    _, dy = loss.value_and_gradient(labels, model.forward(x))
    assert model.backward(dy, input_gradient=False) is None
    for a, b in zip(model.gradients(), grads, strict=True):
        np.testing.assert_array_equal(a, b)


def test_chained_models_give_the_whole_models_gradients() -> None:
    rng = np.random.default_rng(7)
    layers = [Conv2D(6, 3, activation="relu", input_shape=(10, 10, 2)), MaxPooling2D(), Flatten(),
              Dense(12, activation="tanh"), Dense(5, activation="softmax")]  # fmt: skip
    whole = with_random_weights(Sequential(layers, seed=0), rng)
    encoder = Sequential(
        [Conv2D(6, 3, activation="relu", input_shape=(10, 10, 2)), MaxPooling2D(), Flatten()]
    )
    decoder = Sequential([Dense(12, activation="tanh", input_shape=(96,)), Dense(5, activation="softmax")])
    weights = whole.get_weights()
    encoder.set_weights(weights[:2])
    decoder.set_weights(weights[2:])
    x = rng.normal(size=(9, 10, 10, 2)).astype(np.float32)
    y = rng.integers(0, 5, 9)
    loss = losses.SparseCategoricalCrossentropy()
    _, grads, dx = primitive_gradients(whole, x, y, loss)
    for m in (encoder, decoder):
        m.zero_gradients()
    out = decoder.forward(encoder.forward(x))
    _, dy = loss.value_and_gradient(y, out)
    chained_dx = encoder.backward(decoder.backward(dy))
    for ours, theirs in zip(encoder.gradients() + decoder.gradients(), grads, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(chained_dx, dx)


def test_apply_gradients_takes_the_optimizers_step() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 5)).astype(np.float32)
    y = rng.normal(size=(16, 2)).astype(np.float32)
    fitted = Sequential([Dense(4, activation="tanh", input_shape=(5,)), Dense(2)], seed=1)
    stepped = Sequential([Dense(4, activation="tanh", input_shape=(5,)), Dense(2)], seed=1)
    for m in (fitted, stepped):
        m.compile(Adam(0.01), "mse")
    fitted.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    for _ in range(3):
        primitive_gradients(stepped, x, y, losses.MeanSquaredError())
        stepped.optimizer.apply(stepped)
    for a, b in zip(fitted.get_weights(), stepped.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # gradients given explicitly: an SGD step is w - lr g
    sgd = Sequential([Dense(3, input_shape=(2,))], seed=0)
    sgd.compile(SGD(0.5), "mse")
    before = sgd.get_weights()
    sgd.apply_gradients([np.ones((2, 3)), np.full(3, 2.0)])
    np.testing.assert_allclose(sgd.get_weights()[0], before[0] - 0.5)
    np.testing.assert_allclose(sgd.get_weights()[1], before[1] - 1.0)
    with pytest.raises(ValueError, match="gradients"):
        sgd.apply_gradients([np.ones((2, 3))])


# ---- frozen layers --------------------------------------------------------------------------
def frozen_model() -> tuple[Sequential, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    model = Sequential([Conv2D(4, 3, input_shape=(8, 8, 1)), BatchNormalization(), Flatten(),
                        Dropout(0.2), Dense(3, activation="softmax")], seed=0)  # fmt: skip
    model.compile(Adam(0.01), "sparse_categorical_crossentropy")
    return model, rng.normal(size=(40, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, 40)


def test_frozen_layers_keep_their_weights_bit_for_bit() -> None:
    model, x, y = frozen_model()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # moving statistics away from (0, 1)
    conv, bn, dense = model.layers[0], model.layers[1], model.layers[4]
    conv.trainable = bn.trainable = False
    frozen = conv.get_weights() + bn.get_weights()
    dense_before = dense.get_weights()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(conv.get_weights() + bn.get_weights(), frozen, strict=True):
        np.testing.assert_array_equal(a, b)  # moving statistics too: batch norm ran in inference mode
    assert not np.array_equal(dense.get_weights()[0], dense_before[0])
    assert len(model.trainable_weights) == 2 and len(model.gradients()) == 2
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert any(line.strip().startswith(f"Trainable params: {dense_before[0].size + 3:,}") for line in lines)
    model.trainable = False
    assert model.trainable_weights == []
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    np.testing.assert_array_equal(dense.get_weights()[0], model.layers[4].get_weights()[0])


def test_a_frozen_batch_norm_is_the_inference_normalization_and_its_gradient() -> None:
    rng = np.random.default_rng(1)
    model = Sequential([BatchNormalization(input_shape=(5,))], seed=0)
    gamma, beta = rng.uniform(0.5, 2, 5), rng.normal(size=5)
    mean, var = rng.normal(size=5), rng.uniform(0.5, 2, 5)
    model.set_weights([w.astype(np.float32) for w in (gamma, beta, mean, var)])
    model.layers[0].trainable = False
    x = rng.normal(size=(6, 5)).astype(np.float32)
    leaf = torch.tensor(x.astype(np.float64), requires_grad=True)
    ref = F.batch_norm(leaf, torch.tensor(mean), torch.tensor(var), torch.tensor(gamma), torch.tensor(beta),
                       training=False, eps=1e-3)  # fmt: skip
    dy = rng.normal(size=(6, 5))
    ref.backward(torch.tensor(dy))
    close(model.forward(x), ref.detach().numpy(), "output")
    close(model.backward(dy.astype(np.float32)), leaf.grad.numpy(), "input gradient")


# ---- losses ---------------------------------------------------------------------------------
def torch_loss(loss: losses.Loss, y_pred: Any, y_true: np.ndarray) -> Any:
    t = torch.tensor(y_true, dtype=torch.float64)
    if isinstance(loss, losses.BinaryCrossentropy):
        if loss.from_logits:
            per = F.binary_cross_entropy_with_logits(y_pred, t, reduction="none")
        else:
            p = y_pred.clamp(1e-7, 1 - 1e-7)
            per = -(t * torch.log(p) + (1 - t) * torch.log(1 - p))
        return per.mean(dim=-1)
    if isinstance(loss, losses.MeanAbsoluteError):
        return (y_pred - t).abs().mean(dim=-1)
    if isinstance(loss, losses.MeanSquaredError):
        return ((y_pred - t) ** 2).mean(dim=-1)
    logp = F.log_softmax(y_pred, dim=-1) if loss.from_logits else torch.log(
        (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(1e-7, 1 - 1e-7))  # fmt: skip
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        return -logp.gather(-1, torch.tensor(y_true, dtype=torch.long)[..., None])[..., 0]
    return -(t * logp).sum(dim=-1)


@pytest.mark.parametrize(
    "loss",
    [losses.BinaryCrossentropy(), losses.BinaryCrossentropy(from_logits=True), losses.MeanAbsoluteError(),
     losses.MeanSquaredError(), losses.CategoricalCrossentropy(),
     losses.CategoricalCrossentropy(from_logits=True), losses.SparseCategoricalCrossentropy(from_logits=True),
     losses.SparseCategoricalCrossentropy()],
    ids=repr,
)  # fmt: skip
@pytest.mark.parametrize("weighted", [False, True])
def test_losses_and_their_gradients_match_torch(loss: losses.Loss, weighted: bool) -> None:
    rng = np.random.default_rng(0)
    shape = (7, 3, 4)  # a loss row per (sample, position), as on a sequence or image output
    if loss.from_logits or isinstance(loss, losses.MeanAbsoluteError | losses.MeanSquaredError):
        y_pred = rng.normal(0, 2, shape)
    else:
        y_pred = rng.uniform(0.01, 1, shape)
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        y_true = rng.integers(0, shape[-1], shape[:-1])
    elif isinstance(loss, losses.CategoricalCrossentropy):
        y_true = rng.dirichlet(np.ones(shape[-1]), shape[:-1])
    else:
        y_true = rng.uniform(0, 1, shape)
    w = rng.uniform(0, 3, shape[0]) if weighted else np.ones(shape[0])
    pred = torch.tensor(y_pred.astype(np.float32).astype(np.float64), requires_grad=True)
    per_row = torch_loss(loss, pred, y_true.astype(np.float32) if y_true.dtype.kind == "f" else y_true)
    ref = (per_row * torch.tensor(w.astype(np.float32).astype(np.float64))[:, None]).mean()  # Keras: / rows
    ref.backward()
    value, grad = loss.value_and_gradient(y_true, y_pred, w if weighted else None)
    assert value == pytest.approx(float(ref.detach()), rel=1e-5)
    assert loss(y_true, y_pred, w if weighted else None) == value
    close(grad, pred.grad.numpy(), "gradient")


def test_losses_by_name_and_bad_arguments() -> None:
    assert isinstance(losses.get("binary_crossentropy"), losses.BinaryCrossentropy)
    assert losses.get("mae").name == "mae"
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get("hinge")
    with pytest.raises(ValueError, match="from_logits"):
        losses.MeanSquaredError(from_logits=True)
    with pytest.raises(ValueError, match="shape"):
        losses.MeanSquaredError()(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="sample_weight"):
        losses.MeanSquaredError()(np.zeros((3, 2)), np.zeros((3, 2)), [1, 2])
    with pytest.raises(ValueError, match="non-negative"):
        losses.MeanSquaredError()(np.zeros((2, 2)), np.zeros((2, 2)), [1, -2])


# ---- sample and class weights, metrics, the *_on_batch methods -------------------------------
def dense_model(loss: Any = "mse", metrics: Any = None) -> Sequential:
    model = Sequential([Dense(6, activation="tanh", input_shape=(4,)), Dense(3)], seed=2)
    model.compile(SGD(0.1), loss, metrics)
    return model


def test_integer_sample_weights_are_repeated_rows() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(8, 4)).astype(np.float32)
    y = rng.normal(size=(8, 3)).astype(np.float32)
    w = rng.integers(0, 4, 8)
    model = dense_model()
    (loss_sum, *_), grads, _ = model._net.gradients(
        x, None, y, w.astype(np.float32), model._loss._kind, False, 0, 1
    )
    rx, ry = np.repeat(x, w, axis=0), np.repeat(y, w, axis=0)
    (rep_sum, *_), rep_grads, _ = model._net.gradients(rx, None, ry, None, model._loss._kind, False, 0, 1)
    assert loss_sum == pytest.approx(rep_sum, rel=1e-6)
    # the weighted mean divides by the 8 rows, the repeated one by w.sum() rows
    np.testing.assert_allclose(grads * 8, rep_grads * w.sum(), rtol=1e-5, atol=1e-6)


def test_class_weight_is_the_sample_weight_of_each_rows_class() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(30, 4)).astype(np.float32)
    y = rng.integers(0, 3, 30)
    by_class = dense_model("sparse_categorical_crossentropy")
    by_row = dense_model("sparse_categorical_crossentropy")
    weights = {0: 0.5, 1: 2.0, 2: 1.0}
    by_class.fit(x, y, batch_size=10, epochs=2, class_weight=weights, verbose=0)
    by_row.fit(x, y, batch_size=10, epochs=2, sample_weight=np.array([weights[c] for c in y]), verbose=0)
    for a, b in zip(by_class.get_weights(), by_row.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_on_batch_methods_equal_fit_evaluate_and_predict() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(size=(12, 4)).astype(np.float32)
    y = rng.normal(size=(12, 3)).astype(np.float32)
    w = rng.uniform(0, 2, 12)
    fitted, stepped = dense_model(metrics=["mae", "mse"]), dense_model(metrics=["mae", "mse"])
    history = fitted.fit(x, y, batch_size=12, epochs=1, shuffle=False, sample_weight=w, verbose=0)
    logs = stepped.train_on_batch(x, y, sample_weight=w, return_dict=True)
    assert logs == pytest.approx({k: v[0] for k, v in history.history.items()}, rel=1e-12)
    for a, b in zip(fitted.get_weights(), stepped.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    loss, mae, mse = stepped.test_on_batch(x, y, sample_weight=w)
    assert [loss, mae, mse] == pytest.approx(stepped.evaluate(x, y, sample_weight=w, verbose=0), rel=1e-12)
    out = stepped.predict_on_batch(x)
    np.testing.assert_array_equal(out, stepped.predict(x))
    np.testing.assert_allclose(loss, np.mean(w * ((out - y) ** 2).mean(axis=1)), rtol=1e-5)
    np.testing.assert_allclose([mae, mse], [np.abs(out - y).mean(), ((out - y) ** 2).mean()], rtol=1e-5)


def test_binary_crossentropy_trains_with_binary_accuracy() -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = (x[:, :1] + x[:, 1:2] > 0).astype(np.float32)
    model = Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(1)], seed=0)
    model.compile(Adam(0.05), losses.BinaryCrossentropy(from_logits=True), ["accuracy"])
    model.fit(x, y, batch_size=20, epochs=20, verbose=0)
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert accuracy == np.mean((model.predict(x) > 0.5) == (y > 0.5)) and accuracy > 0.9
    assert loss == pytest.approx(losses.BinaryCrossentropy(from_logits=True)(y, model.predict(x)), rel=1e-6)


def test_a_model_compiled_with_a_loss_object_saves_and_loads(tmp_path: Any) -> None:
    model = dense_model(losses.BinaryCrossentropy(from_logits=True))
    model.save(tmp_path / "m.zip")
    loaded = load_model(tmp_path / "m.zip")
    assert isinstance(loaded.loss, losses.BinaryCrossentropy) and loaded.loss.from_logits


def test_bad_weights_and_metrics_are_refused() -> None:
    x, y = np.zeros((4, 4), np.float32), np.zeros((4, 3), np.float32)
    model = dense_model()
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(x, y, sample_weight=np.ones(3), verbose=0)
    with pytest.raises(ValueError, match="non-negative"):
        model.fit(x, y, sample_weight=[1, 1, np.nan, 1], verbose=0)
    with pytest.raises(ValueError, match="class_weight"):
        model.fit(x, y, class_weight=[1, 2], verbose=0)
    with pytest.raises(ValueError, match="compares values"):
        dense_model("sparse_categorical_crossentropy", ["mae"])
    with pytest.raises(ValueError, match="backward"):
        dense_model().backward(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        model.forward(x)
        model.backward(np.zeros((5, 3), np.float32))


def test_non_finite_inputs_and_output_gradients_are_refused_and_the_pass_stays_open() -> None:
    model, x = dense_model(), np.ones((4, 4), np.float32)
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="x contains NaN or infinity"):
            model.forward(np.where(np.eye(4, dtype=bool), bad, x))
    y = model.forward(x)
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="dy contains NaN or infinity"):
            model.backward(np.full_like(y, bad))
    assert model.backward(np.ones_like(y)).shape == x.shape  # the forward pass is still there to take back
