"""The layers of decoders and generators against PyTorch: outputs, input gradients and weight
gradients of Conv2DTranspose (random kernels, strides, paddings, output paddings), up-sampling
(nearest, bilinear), reshaping, zero padding, global average pooling, PReLU, LeakyReLU, ELU
and the activations by name, through forward/backward. References work channels-last in
float64; NCHW only around PyTorch's convolutions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import scalegen
from scalegen.nn import Sequential, load_model
from scalegen.nn.layers import (
    ELU,
    Activation,
    Conv2D,
    Conv2DTranspose,
    Dense,
    GlobalAveragePooling2D,
    Layer,
    LeakyReLU,
    PReLU,
    Reshape,
    UpSampling2D,
    ZeroPadding2D,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional


def torch_activation(t: Any, name: str, alpha: float | None = None) -> Any:
    if name == "leaky_relu":
        return F.leaky_relu(t, 0.2 if alpha is None else alpha)
    if name == "elu":
        return F.elu(t, 1.0 if alpha is None else alpha)
    if name == "log_softmax":
        return F.log_softmax(t, dim=-1)
    if name == "softmax":
        return F.softmax(t, dim=-1)
    fn = {
        "linear": lambda v: v,
        "relu": torch.relu,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "gelu": F.gelu,
        "softplus": F.softplus,
        "swish": F.silu,
    }[name]
    return fn(t)


def conv_transpose_reference(layer: Conv2DTranspose, w: list[Any], t: Any) -> Any:
    """TensorFlow's conv2d_transpose: the full transposed convolution, cropped to Keras'
    output size from the 'same' rule's first padding cell (zeros past the full output)."""
    (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
    full = F.conv_transpose2d(
        t.permute(0, 3, 1, 2), w[0].permute(3, 2, 0, 1).contiguous(), None, stride=(sh, sw)
    )
    out = []
    for axis, (size, k, s) in enumerate(((t.shape[1], kh, sh), (t.shape[2], kw, sw))):
        same = layer.padding == "same"
        op = None if layer.output_padding is None else layer.output_padding[axis]
        if isinstance(layer.padding, tuple):  # explicit: cells dropped at each end, then op added
            begin, end = layer.padding[axis]
            out.append(((size - 1) * s + k - begin - end + (op or 0), begin))
            continue
        if op is None:
            length = size * s if same else size * s + max(k - s, 0)
        else:
            length = (size - 1) * s + k - 2 * (k // 2 if same else 0) + op
        pad = max((size - 1) * s + k - length, 0) // 2 if same else 0
        out.append((length, pad))
    (lh, ph), (lw, pw) = out
    full = F.pad(full, (0, max(0, pw + lw - full.shape[3]), 0, max(0, ph + lh - full.shape[2])))
    y = full[:, :, ph : ph + lh, pw : pw + lw].permute(0, 2, 3, 1)
    if layer.use_bias:
        y = y + w[1]
    return torch_activation(y, layer.activation)


def reference(layer: Layer, w: list[Any], t: Any) -> Any:
    """One layer in PyTorch on a channels-last float64 tensor."""
    if isinstance(layer, Conv2DTranspose):
        return conv_transpose_reference(layer, w, t)
    if isinstance(layer, Conv2D):  # TensorFlow's 'same' rule on the dilated window's span
        (kh, kw), (sh, sw), (dh, dw) = layer.kernel_size, layer.strides, layer.dilation_rate
        pads = []
        for size, k, st in ((t.shape[1], (kh - 1) * dh + 1, sh), (t.shape[2], (kw - 1) * dw + 1, sw)):
            if isinstance(layer.padding, tuple):
                pads.append(layer.padding[len(pads)])
            elif layer.padding == "same":
                total = max((-(-size // st) - 1) * st + k - size, 0)
                pads.append((total // 2, total - total // 2))
            else:
                pads.append((0, 0))
        x = F.pad(t.permute(0, 3, 1, 2), (*pads[1], *pads[0]))
        kernel = w[0].permute(3, 2, 0, 1).contiguous()
        bias = w[1] if layer.use_bias else None
        y = F.conv2d(x, kernel, bias, stride=layer.strides, dilation=layer.dilation_rate, groups=layer.groups)
        return torch_activation(y.permute(0, 2, 3, 1), layer.activation)
    if isinstance(layer, Dense):
        return torch_activation(t @ w[0] + w[1], layer.activation)
    if isinstance(layer, UpSampling2D):
        mode = "nearest" if layer.interpolation == "nearest" else "bilinear"
        extra = {} if mode == "nearest" else {"align_corners": False}
        y = F.interpolate(t.permute(0, 3, 1, 2), scale_factor=layer.size, mode=mode, **extra)
        return y.permute(0, 2, 3, 1)
    if isinstance(layer, Reshape):
        return t.reshape(t.shape[0], *layer.target_shape)
    if isinstance(layer, GlobalAveragePooling2D):
        return t.mean(dim=(1, 2))
    if isinstance(layer, ZeroPadding2D):
        (top, bottom), (left, right) = layer.padding
        return F.pad(t, (0, 0, left, right, top, bottom))
    if isinstance(layer, LeakyReLU):
        return torch_activation(t, "leaky_relu", layer.negative_slope)
    if isinstance(layer, ELU):
        return torch_activation(t, "elu", layer.alpha)
    if isinstance(layer, PReLU):
        return torch.where(t > 0, t, w[0] * t)
    if isinstance(layer, Activation):
        return torch_activation(t, layer.activation)
    raise AssertionError(f"no reference for {layer}")


def check(
    layers: list[Layer], input_shape: tuple[int, ...], seed: int = 0, n: int = 3, tol: float = 2e-5
) -> None:
    rng = np.random.default_rng(seed)
    model = Sequential(layers, seed=seed)
    model.build(input_shape)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    x = rng.normal(0, 1, (n, *input_shape)).astype(np.float32)
    params = [
        [torch.tensor(w.astype(np.float64), requires_grad=True) for w in layer.get_weights()]
        for layer in model.layers
    ]
    leaf = torch.tensor(x.astype(np.float64), requires_grad=True)
    t = leaf
    for layer, w in zip(model.layers, params, strict=True):
        t = reference(layer, w, t)
    ref = t.detach().numpy()
    scale = max(np.abs(ref).max(), 1.0)
    np.testing.assert_allclose(model.predict(x), ref, rtol=0, atol=2e-5 * scale, err_msg="inference")
    out = model.forward(x)
    np.testing.assert_allclose(out, ref, rtol=0, atol=tol * scale, err_msg="training forward")
    dy = rng.normal(0, 1, out.shape)
    t.backward(torch.tensor(dy))
    model.zero_gradients()
    dx = model.backward(dy.astype(np.float32))
    ref_dx = leaf.grad.numpy()
    np.testing.assert_allclose(dx, ref_dx, rtol=0, atol=tol * max(np.abs(ref_dx).max(), 1.0), err_msg="dx")
    theirs = [w.grad.numpy() for ws in params for w in ws]
    for g, r in zip(model.gradients(), theirs, strict=True):
        np.testing.assert_allclose(
            g, r, rtol=0, atol=tol * max(np.abs(r).max(), 1.0), err_msg="weight gradient"
        )


@pytest.mark.parametrize("seed", range(16))
def test_conv2d_transpose_matches_torch(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    output_padding = None if seed % 3 else (int(rng.integers(0, s[0])), int(rng.integers(0, s[1])))
    layer = Conv2DTranspose(
        int(rng.integers(1, 6)),
        k,
        strides=s,
        padding=str(rng.choice(["valid", "same"])),
        output_padding=output_padding,
        use_bias=bool(seed % 4),
        activation=str(rng.choice(["linear", "relu", "tanh", "leaky_relu"])),
    )
    shape = (int(rng.integers(1, 7)), int(rng.integers(1, 7)), int(rng.integers(1, 5)))
    check([layer], shape, seed, n=int(rng.integers(1, 6)))


@pytest.mark.parametrize("seed", range(8))
def test_whole_vectors_of_channels_match_torch(seed: int) -> None:
    """16 or 32 channels where windows overlap back into an image (a transposed
    convolution's output, a convolution's input gradient): summed in registers, with the
    bias and relu, instead of added window by window (ConvGeometry::col2im_sum)."""
    rng = np.random.default_rng(100 + seed)
    k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    channels = 16 * int(rng.integers(1, 3))
    kind = Conv2D if seed % 2 else Conv2DTranspose
    layer = kind(
        channels if kind is Conv2DTranspose else int(rng.integers(1, 5)),
        k,
        strides=s,
        padding=str(rng.choice(["valid", "same"])),
        use_bias=bool(seed % 3),
        activation=str(rng.choice(["linear", "relu", "tanh"])),
    )
    shape = (int(rng.integers(4, 9)), int(rng.integers(4, 9)), channels if kind is Conv2D else 3)
    check([layer], shape, seed, n=int(rng.integers(1, 6)))


def winograd_layer(seed: int) -> tuple[Layer, tuple[int, int, int]]:
    """A 4 x 4 stride-2 'same' layer with channel counts in multiples of 16: what training
    batches of 8 or more run by Winograd's F(7x7, 2x2) (kernels/winograd.hpp)."""
    rng = np.random.default_rng(seed)
    kind = Conv2D if seed % 2 else Conv2DTranspose
    layer = kind(
        16 * int(rng.integers(1, 4)),
        4,
        strides=2,
        padding="same",
        use_bias=bool(seed % 3),
        activation=str(rng.choice(["linear", "relu"])),  # the error is relative to the pre-activation's scale
    )
    small = kind is Conv2DTranspose  # its output is twice its input
    low, high = (3, 16) if small else (5, 31)
    shape = (int(rng.integers(low, high)), int(rng.integers(low, high)), 16 * int(rng.integers(1, 4)))
    return layer, shape


@pytest.mark.parametrize("seed", range(10))
def test_winograd_convolutions_match_torch(seed: int) -> None:
    # rounding of the transformed products: about 1e-5 of the scale, so the 1e-4
    layer, shape = winograd_layer(seed)
    check([layer], shape, seed, n=8 + seed % 5, tol=1e-4)


def test_winograd_gradients_are_the_same_bits_for_any_thread_count() -> None:
    runs = []
    for threads in (1, 2):
        with scalegen.threads(threads):
            model = Sequential(
                [
                    Conv2DTranspose(
                        32, 4, strides=2, padding="same", activation="relu", input_shape=(7, 9, 48)
                    ),
                    Conv2D(16, 4, strides=2, padding="same"),
                ],
                seed=0,
            )
            x = np.random.default_rng(0).normal(0, 1, (11, 7, 9, 48)).astype(np.float32)
            y = model.forward(x)
            model.zero_gradients()
            dx = model.backward(np.ones_like(y))
            runs.append([y, dx, *model.gradients()])
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", range(12))
def test_dilated_and_grouped_convolutions_match_torch(seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 2, 3]))
    channels = groups * int(rng.integers(1, 3))
    layer = Conv2D(
        groups * int(rng.integers(1, 4)),
        (int(rng.integers(1, 4)), int(rng.integers(1, 4))),
        strides=(int(rng.integers(1, 3)), int(rng.integers(1, 3))),
        padding=str(rng.choice(["valid", "same"])),
        dilation_rate=(int(rng.integers(1, 4)), int(rng.integers(1, 4))),
        groups=groups,
        use_bias=bool(seed % 3),
        activation=str(rng.choice(["linear", "relu", "gelu"])),
    )
    check(
        [layer],
        (int(rng.integers(7, 11)), int(rng.integers(7, 11)), channels),
        seed,
        n=int(rng.integers(1, 5)),
    )


def test_a_depthwise_convolution_matches_torch() -> None:
    check([Conv2D(8, 3, padding="same", groups=4, activation="relu"), Conv2D(4, 1)], (6, 5, 4))


@pytest.mark.parametrize(
    "layers,shape",
    [
        ([UpSampling2D()], (3, 4, 2)),
        ([UpSampling2D((3, 2))], (2, 3, 1)),
        ([UpSampling2D((2, 3), interpolation="bilinear")], (4, 3, 2)),
        ([UpSampling2D(4, interpolation="bilinear")], (1, 2, 3)),
        ([Reshape((2, 3, 4))], (24,)),
        ([Reshape((-1,))], (2, 3, 4)),
        ([GlobalAveragePooling2D()], (3, 5, 4)),
        ([ZeroPadding2D(((1, 2), (0, 3)))], (3, 2, 2)),
        ([ZeroPadding2D(1)], (2, 2, 1)),
        ([PReLU()], (3, 2, 4)),
        ([PReLU(shared_axes=[1, 2])], (3, 2, 4)),
        ([PReLU()], (5,)),
        ([LeakyReLU()], (4, 3, 2)),
        ([LeakyReLU(negative_slope=0.05)], (6,)),
        ([ELU(alpha=0.7)], (3, 3, 2)),
        (
            [
                Dense(6, activation="gelu"),
                Dense(5, activation="swish"),
                Dense(4, activation="softplus"),
                Dense(3, activation="elu"),
                Dense(2, activation="leaky_relu"),
            ],
            (7,),
        ),
        ([Conv2D(3, 2, activation="gelu"), Activation("swish"), Activation("elu")], (4, 4, 2)),
        ([Conv2D(3, 2, activation="log_softmax"), Dense(4, activation="log_softmax")], (4, 3, 2)),
        # activation layers after layers without one run in those layers' passes (but a
        # second one, and a softmax)
        (
            [
                Conv2D(3, 2),
                Activation("swish"),
                Activation("elu"),
                Reshape((-1,)),
                Dense(4),
                ELU(alpha=0.5),
                Dense(5),
                LeakyReLU(0.1),
                Dense(3),
                Activation("softmax"),
            ],
            (4, 4, 2),
        ),
        # a DCGAN generator's stack
        (
            [
                Dense(2 * 2 * 4, activation="relu"),
                Reshape((2, 2, 4)),
                Conv2DTranspose(3, 3, strides=2, padding="same"),
                LeakyReLU(0.2),
                UpSampling2D(),
                Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh"),
            ],
            (5,),
        ),
    ],
    ids=lambda v: "-".join(type(layer).__name__ for layer in v) if isinstance(v, list) else str(v),
)
def test_layers_match_torch(layers: list[Layer], shape: tuple[int, ...]) -> None:
    check(layers, shape)


def test_generator_layers_save_load_and_train() -> None:
    model = Sequential(
        [
            Dense(16, input_shape=(4,)),
            Reshape((2, 2, 4)),
            Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1),
            PReLU(shared_axes=[1, 2]),
            UpSampling2D(interpolation="bilinear"),
            ZeroPadding2D(1),
            Conv2D(1, 3),
            GlobalAveragePooling2D(),
            ELU(0.5),
            LeakyReLU(),
        ],
        seed=0,
    )
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype(np.float32), rng.normal(size=(32, 1)).astype(np.float32)
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, batch_size=8, verbose=0)
    assert model.evaluate(x, y, verbose=0) < first
    assert [layer.name for layer in model.layers][2:6] == [
        "conv2d_transpose",
        "p_re_lu",
        "up_sampling2d",
        "zero_padding2d",
    ]


def test_saved_generator_loads_with_the_same_outputs(tmp_path: Any) -> None:
    model = Sequential(
        [
            Dense(8, input_shape=(3,), activation="gelu"),
            Reshape((2, 2, 2)),
            Conv2DTranspose(2, 2, strides=2),
            PReLU(),
            UpSampling2D(interpolation="bilinear"),
        ],
        seed=1,
    )
    x = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    model.save(tmp_path / "g.zip")
    np.testing.assert_array_equal(load_model(tmp_path / "g.zip").predict(x), model.predict(x))
    model.save_native(tmp_path / "g.sgnn")
    from scalegen import _core

    native = _core.Network.load(str(tmp_path / "g.sgnn"))
    np.testing.assert_array_equal(native.predict(x, 4, 1), model.predict(x))


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: Conv2DTranspose(2, 3, strides=2, output_padding=2), "output_padding"),
        (lambda: Conv2DTranspose(2, 3, padding="full"), "padding"),
        (lambda: UpSampling2D(interpolation="bicubic"), "interpolation"),
        (lambda: Reshape((2, -1, -1)), "target_shape"),
        (lambda: Reshape((2, 2)), "target_shape"),
        (lambda: ZeroPadding2D(-1), "padding"),
        (lambda: LeakyReLU(-0.1), "negative_slope"),
        (lambda: PReLU(shared_axes=[0]), "shared_axes"),
        (lambda: Dense(2, activation="hard_tanh"), "activation"),
    ],
)
def test_bad_arguments_are_refused(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_a_reshape_that_does_not_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="Reshape"):
        Sequential([Reshape((5, 5, 1), input_shape=(24,))])
    with pytest.raises(ValueError, match="Reshape"):
        Sequential([Reshape((5, -1, 1), input_shape=(24,))])
