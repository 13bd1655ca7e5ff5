"""The C++ layers against PyTorch: forward outputs, parameter and input gradients of random
architectures (strides, paddings, pool types, activations, batch norm), and finite
differences. PyTorch computes in NCHW; the conversions below are the reference's, not ours."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scalegen import _core
from scalegen.nn import Sequential
from scalegen.nn.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Flatten,
    Layer,
    MaxPooling2D,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional
SPARSE = _core.Loss.sparse_categorical_crossentropy


# ---- the reference: our layers re-expressed in PyTorch ----------------------------------
def tf_pads(size: int, window: int, stride: int, same: Any, axis: int = 0) -> tuple[int, int]:
    """TensorFlow's 'same' padding: ceil(size / stride) outputs, the odd cell at the end;
    explicit ((top, bottom), (left, right)) paddings as given."""
    if isinstance(same, tuple):
        return same[axis]
    if not same:
        return 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def torch_activation(t: Any, name: str, channels_dim: int, twin: Any = None) -> Any:
    if name == "softmax" and twin is not None:
        twin.logits = t
    if name == "relu":
        return torch.relu(t)
    if name == "sigmoid":
        return torch.sigmoid(t)
    if name == "tanh":
        return torch.tanh(t)
    if name == "softmax":
        return torch.softmax(t, dim=channels_dim)
    return t


class TorchTwin:
    """Runs a built Sequential's layers in PyTorch (float64) with leaf tensors for its weights."""

    def __init__(self, model: Sequential) -> None:
        self.model = model
        self.logits: Any = None  # the last softmax's input
        self.params: list[list[Any]] = [
            [torch.tensor(w.astype(np.float64), requires_grad=True) for w in layer.get_weights()]
            for layer in model.layers
        ]

    def forward(self, x: np.ndarray) -> tuple[Any, Any]:
        """(output in our layout, the input leaf), and the last layer's logits if softmax."""
        leaf = torch.tensor(x.astype(np.float64), requires_grad=True)
        t = leaf.permute(0, 3, 1, 2) if leaf.ndim == 4 else leaf
        for layer, w in zip(self.model.layers, self.params, strict=True):
            t = self.apply(layer, w, t)
        out = t.permute(0, 2, 3, 1) if t.ndim == 4 else t
        return out, leaf

    def apply(self, layer: Layer, w: list[Any], t: Any) -> Any:
        spatial = t.ndim == 4
        if isinstance(layer, Conv2D):
            (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
            same = layer.padding if isinstance(layer.padding, tuple) else layer.padding == "same"
            top, bottom = tf_pads(t.shape[2], kh, sh, same, 0)
            left, right = tf_pads(t.shape[3], kw, sw, same, 1)
            t = F.pad(t, (left, right, top, bottom))
            kernel = w[0].permute(3, 2, 0, 1).contiguous()
            t = F.conv2d(t, kernel, w[1] if layer.use_bias else None, stride=(sh, sw))
            return torch_activation(t, layer.activation, 1, self)
        if isinstance(layer, MaxPooling2D | AveragePooling2D):
            (ph, pw), (sh, sw) = layer.pool_size, layer.strides
            same = layer.padding if isinstance(layer.padding, tuple) else layer.padding == "same"
            top, bottom = tf_pads(t.shape[2], ph, sh, same, 0)
            left, right = tf_pads(t.shape[3], pw, sw, same, 1)
            if isinstance(layer, MaxPooling2D):
                t = F.pad(t, (left, right, top, bottom), value=-np.inf)
                return F.max_pool2d(t, (ph, pw), (sh, sw))
            # the padded cells do not count (TensorFlow)
            ones = torch.ones_like(t[:, :1])
            total = F.avg_pool2d(F.pad(t, (left, right, top, bottom)), (ph, pw), (sh, sw))
            count = F.avg_pool2d(F.pad(ones, (left, right, top, bottom)), (ph, pw), (sh, sw))
            return total / count
        if isinstance(layer, Flatten):
            return t.permute(0, 2, 3, 1).reshape(t.shape[0], -1) if spatial else t
        if isinstance(layer, Dense):
            last = t.permute(0, 2, 3, 1) if spatial else t
            z = last @ w[0] + (w[1] if layer.use_bias else 0)
            z = torch_activation(z, layer.activation, -1, self)
            return z.permute(0, 3, 1, 2) if spatial else z
        if isinstance(layer, BatchNormalization):
            gamma = w[0] if layer.scale else None
            beta = w[1 if layer.scale else 0] if layer.center else None
            return F.batch_norm(t, None, None, gamma, beta, training=True, eps=layer.epsilon)
        if isinstance(layer, Activation):
            return torch_activation(t, layer.activation, 1 if spatial else -1, self)
        raise AssertionError(f"no reference for {layer}")


def our_gradients(model: Sequential, x: np.ndarray, y: np.ndarray, loss: str) -> tuple[float, list[Any], Any]:
    """Mean loss, per-layer parameter gradients and the input gradient from the C++ core."""
    labels = y.astype(np.int32) if loss == "sparse_categorical_crossentropy" else None
    values = None if labels is not None else y.astype(np.float32)
    (loss_sum, _, count, *_), flat, dx = model._net.gradients(
        x, labels, values, None, getattr(_core.Loss, loss), False, 0, 2
    )
    grads: list[list[np.ndarray]] = [[] for _ in model.layers]
    for index, _, shape, offset, trainable in model._net.slots:
        if trainable:
            grads[index].append(flat[offset : offset + int(np.prod(shape))].reshape(shape))
    return loss_sum / count, grads, dx


def reference_loss(out: Any, y: np.ndarray, loss: str, last: Layer, logits: Any) -> Any:
    if loss == "mse":
        return ((out - torch.tensor(y, dtype=torch.float64)) ** 2).mean()
    target = torch.tensor(y)
    if getattr(last, "activation", None) == "softmax":
        # the core takes a softmax output's cross-entropy from its logits, like Keras
        logp = F.log_softmax(logits, dim=-1)
    else:
        p = out / out.sum(dim=-1, keepdim=True)
        logp = torch.log(p.clamp(1e-7, 1 - 1e-7))
    if loss == "sparse_categorical_crossentropy":
        return F.nll_loss(logp, target.long())
    return -(target * logp).sum(dim=-1).mean()


def check_against_torch(model: Sequential, x: np.ndarray, y: np.ndarray, loss: str) -> None:
    twin = TorchTwin(model)
    out, leaf = twin.forward(x)
    # inference output (no batch norm: that layer uses moving statistics outside training)
    if not any(isinstance(layer, BatchNormalization) for layer in model.layers):
        ours = model.predict(x, batch_size=7)
        np.testing.assert_allclose(ours, out.detach().numpy(), rtol=0, atol=1e-5)
    ref = reference_loss(out, y, loss, model.layers[-1], twin.logits)
    ref.backward()
    mean_loss, grads, dx = our_gradients(model, x, y, loss)
    assert mean_loss == pytest.approx(float(ref.detach()), rel=1e-5, abs=1e-6)
    for layer, ours_g, theirs_w in zip(model.layers, grads, twin.params, strict=True):
        for g, w in zip(ours_g, theirs_w[: len(ours_g)], strict=True):  # moving statistics last
            ref_g = w.grad.numpy()
            # float32 sums: errors scale with the gradient's size, with a floor for vanishing ones
            scale = max(np.abs(ref_g).max(), 0.05)
            np.testing.assert_allclose(g, ref_g, rtol=0, atol=2e-5 * scale, err_msg=f"{layer.name} gradient")
    ref_dx = leaf.grad.numpy()
    np.testing.assert_allclose(dx, ref_dx, rtol=0, atol=2e-5 * max(np.abs(ref_dx).max(), 0.05))


def with_random_weights(model: Sequential, rng: np.random.Generator) -> Sequential:
    """Kernels scaled by fan-in so activations stay away from zero and saturation."""
    weights = []
    for w in model.get_weights():
        std = 1.5 / np.sqrt(np.prod(w.shape[:-1])) if w.ndim > 1 else 0.3
        weights.append(rng.normal(0, std, w.shape).astype(np.float32))
    model.set_weights(weights)
    return model


# ---- random architectures ----------------------------------------------------------------
def random_model(rng: np.random.Generator) -> tuple[Sequential, tuple[int, int, int]]:
    """A random conv -> pool -> (batch norm / activation) -> conv -> flatten -> dense stack."""
    while True:
        shape = (int(rng.integers(5, 13)), int(rng.integers(5, 13)), int(rng.integers(1, 5)))
        acts = ["relu", "tanh", "sigmoid", "linear"]
        layers: list[Layer] = [
            Conv2D(
                int(rng.integers(1, 9)),
                (int(rng.integers(1, 5)), int(rng.integers(1, 5))),
                strides=(int(rng.integers(1, 3)), int(rng.integers(1, 3))),
                padding=str(rng.choice(["valid", "same"])),
                activation=str(rng.choice(acts)),
                use_bias=bool(rng.random() < 0.8),
                input_shape=shape,
            ),
        ]
        pool = MaxPooling2D if rng.random() < 0.5 else AveragePooling2D
        window = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        stride = None if rng.random() < 0.5 else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        layers.append(pool(window, strides=stride, padding=str(rng.choice(["valid", "same"]))))
        if rng.random() < 0.3:
            layers.append(BatchNormalization(center=bool(rng.random() < 0.8), scale=bool(rng.random() < 0.8)))
        if rng.random() < 0.3:
            layers.append(Activation(str(rng.choice(acts))))
        layers.append(
            Conv2D(
                int(rng.integers(2, 17)),
                int(rng.integers(1, 4)),
                padding=str(rng.choice(["valid", "same"])),
                activation=str(rng.choice(acts)),
            )
        )
        layers += [Flatten(), Dense(int(rng.integers(3, 9)), activation="softmax")]
        try:
            return Sequential(layers, seed=0), shape
        except ValueError:
            continue  # a window larger than its input: draw again


@pytest.mark.parametrize("seed", range(24))
def test_random_architectures_match_torch(seed: int) -> None:
    rng = np.random.default_rng(seed)
    model, shape = random_model(rng)
    with_random_weights(model, rng)
    n = int(rng.integers(1, 12))
    x = rng.normal(0, 1, (n, *shape)).astype(np.float32)
    classes = model.output_shape[-1]
    if seed % 3 == 0:
        loss, y = "categorical_crossentropy", rng.dirichlet(np.ones(classes), n)
    else:
        loss, y = "sparse_categorical_crossentropy", rng.integers(0, classes, n)
    check_against_torch(model, x, y, loss)


@pytest.mark.parametrize(
    "layers",
    [
        # the seed's CNN on 28 x 28 x 1 (a direct kernel for the first layer: 9-long reductions)
        [
            Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
            MaxPooling2D((2, 2)),
            Conv2D(64, (3, 3), activation="relu"),
            MaxPooling2D((2, 2)),
            Flatten(),
            Dense(128, activation="relu"),
            Dense(10, activation="softmax"),
        ],
        # spatial outputs with mse: dense on the channel axis, softmax over channels
        [
            Conv2D(6, 3, strides=2, padding="same", activation="tanh", input_shape=(9, 7, 3)),
            Dense(4, activation="sigmoid"),
            AveragePooling2D(3, strides=1, padding="same"),
            Conv2D(5, (2, 1), activation="softmax"),
        ],
        # an MLP with batch normalization and a linear output
        [
            Dense(16, activation="tanh", input_shape=(12,)),
            BatchNormalization(),
            Dense(8, activation="relu"),
            Dense(3),
        ],
        # explicit (ONNX/PyTorch) paddings, asymmetric
        [
            Conv2D(5, 3, strides=2, padding=((1, 0), (2, 1)), activation="relu", input_shape=(10, 9, 2)),
            MaxPooling2D(3, strides=2, padding=((1, 1), (0, 2))),
            AveragePooling2D(2, strides=1, padding=((1, 0), (1, 1))),
            Flatten(),
            Dense(4, activation="softmax"),
        ],
        # stride larger than the kernel, odd sizes, overlapping max pools
        [
            Conv2D(4, (2, 3), strides=(3, 2), input_shape=(11, 13, 2)),
            MaxPooling2D((3, 3), strides=(1, 2), padding="same"),
            Activation("relu"),
            Flatten(),
            Dense(5, activation="softmax"),
        ],
    ],
    ids=["seed-cnn", "spatial-mse", "mlp-batchnorm", "explicit-pads", "odd-strides"],
)
def test_fixed_architectures_match_torch(layers: list[Layer]) -> None:
    rng = np.random.default_rng(7)
    model = with_random_weights(Sequential(layers, seed=1), rng)
    n = 9
    x = rng.normal(0, 1, (n, *model.input_shape[1:])).astype(np.float32)
    out_shape = model.output_shape[1:]
    if len(out_shape) == 1 and model.layers[-1].activation == "softmax":  # type: ignore[attr-defined]
        check_against_torch(model, x, rng.integers(0, out_shape[0], n), "sparse_categorical_crossentropy")
    else:
        check_against_torch(model, x, rng.normal(0, 1, (n, *out_shape)), "mse")


@pytest.mark.parametrize(
    "layers",
    [
        # 11 x 11 maps pooled by 2: the last row and column are never read (nor computed)
        [Conv2D(64, 3, activation="relu", input_shape=(13, 13, 32)), MaxPooling2D(2)],
        [Conv2D(64, 3, activation="sigmoid", input_shape=(13, 13, 32)), AveragePooling2D(3, strides=2)],
        [Conv2D(96, (2, 3), strides=(2, 1), input_shape=(12, 9, 16)), MaxPooling2D((3, 2), strides=(2, 3))],
        [Conv2D(32, 3, strides=2, activation="softmax", input_shape=(9, 9, 8))],
        [Conv2D(64, 3, activation="tanh", input_shape=(7, 7, 16)), Conv2D(32, 2, activation="relu")],
        # a first layer on one channel with a 2 x 2 max pool: pooled in registers
        [Conv2D(32, 3, activation="relu", input_shape=(12, 10, 1)), MaxPooling2D(2)],
        [Conv2D(48, (2, 3), strides=(1, 2), input_shape=(11, 13, 1)), MaxPooling2D(2)],
    ],
    ids=[
        "relu-maxpool",
        "sigmoid-avgpool",
        "strided-maxpool",
        "softmax",
        "two-convs",
        "first-layer",
        "first-odd",
    ],
)
def test_small_batch_inference_matches_torch(layers: list[Layer]) -> None:
    """Batches of 1-3 images split each image by filters and bands of rows: every split
    gives PyTorch's outputs and the bits of a large batch."""
    rng = np.random.default_rng(11)
    model = with_random_weights(Sequential(layers), rng)
    x = rng.normal(0, 1, (5, *model.input_shape[1:])).astype(np.float32)
    out, _ = TorchTwin(model).forward(x)
    whole = model.predict(x, batch_size=5)
    np.testing.assert_allclose(whole, out.detach().numpy(), rtol=0, atol=1e-5)
    for batch_size in (1, 2, 3):
        np.testing.assert_array_equal(model.predict(x, batch_size=batch_size), whole)


def test_cross_entropy_on_probabilities_not_from_softmax() -> None:
    """A sigmoid output with a cross-entropy: Keras normalises and clips the probabilities."""
    rng = np.random.default_rng(3)
    model = with_random_weights(Sequential([Dense(4, activation="sigmoid", input_shape=(5,))]), rng)
    x = rng.normal(0, 2, (16, 5)).astype(np.float32)
    check_against_torch(model, x, rng.integers(0, 4, 16), "sparse_categorical_crossentropy")
    check_against_torch(model, x, rng.dirichlet(np.ones(4), 16), "categorical_crossentropy")


def test_gradients_match_finite_differences() -> None:
    """Central differences of the float32 loss on a smooth network, coordinate by coordinate."""
    rng = np.random.default_rng(11)
    model = Sequential(
        [
            Conv2D(3, 2, padding="same", activation="tanh", input_shape=(5, 5, 2)),
            AveragePooling2D(2),
            Flatten(),
            Dense(4, activation="softmax"),
        ],
        seed=3,
    )
    with_random_weights(model, rng)
    x = rng.normal(0, 1, (6, 5, 5, 2)).astype(np.float32)
    labels = rng.integers(0, 4, 6).astype(np.int32)
    net = model._net
    (_, _, count, *_), grads, _ = net.gradients(x, labels, None, None, SPARSE, False, 0, 1)
    params = net.get_params()
    h = 1e-2
    for i in rng.choice(params.size, 25, replace=False):
        moved = params.copy()
        moved[i] += h
        net.set_params(moved)
        up = net.gradients(x, labels, None, None, SPARSE, False, 0, 1)[0][0]
        moved[i] -= 2 * h
        net.set_params(moved)
        down = net.gradients(x, labels, None, None, SPARSE, False, 0, 1)[0][0]
        numeric = (up - down) / (2 * h * count)
        assert grads[i] == pytest.approx(numeric, rel=2e-2, abs=2e-4), f"parameter {i}"
    net.set_params(params)


def test_gradients_do_not_depend_on_thread_count() -> None:
    rng = np.random.default_rng(5)
    model, shape = random_model(rng)
    with_random_weights(model, rng)
    x = rng.normal(0, 1, (37, *shape)).astype(np.float32)
    labels = rng.integers(0, model.output_shape[-1], 37).astype(np.int32)
    runs = [model._net.gradients(x, labels, None, None, SPARSE, False, 0, threads) for threads in (1, 2, 3)]
    for stats, grads, dx in runs[1:]:
        assert stats == runs[0][0]
        assert np.array_equal(grads, runs[0][1])
        assert np.array_equal(dx, runs[0][2])
