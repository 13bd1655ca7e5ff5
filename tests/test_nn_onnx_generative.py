"""ONNX export of decoders and generators, checked by onnx's full checker and run by
onnxruntime against our own outputs: transposed convolutions of random geometries,
up-sampling, reshaping, padding, global pooling, the parametric activations, and the
decoder of a trained VAE and the generator of a GAN (latent in, image out)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scalegen.nn import GAN, VAE, Sequential
from scalegen.nn.layers import (
    ELU,
    Activation,
    BatchNormalization,
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
from test_nn_onnx import check, trained

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("seed", range(12))
def test_transposed_convolutions_match_onnxruntime(seed: int) -> None:
    rng = np.random.default_rng(seed)
    strides = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    output_padding = None if seed % 3 else tuple(int(rng.integers(0, s)) for s in strides)
    kernel = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    padding: Any = str(rng.choice(["valid", "same"]))
    if seed % 4 == 1:  # explicit paddings, as load_onnx reads them from PyTorch's exports
        padding = ((int(rng.integers(0, kernel[0])), 0), (0, int(rng.integers(0, kernel[1]))))
    layer = Conv2DTranspose(
        int(rng.integers(1, 6)),
        kernel,
        strides=strides,
        padding=padding,
        output_padding=output_padding,
        activation=str(rng.choice(["linear", "relu", "gelu", "swish"])),
        input_shape=(int(rng.integers(2, 7)), int(rng.integers(2, 7)), int(rng.integers(1, 4))),
    )
    check(trained([layer], seed))


@pytest.mark.parametrize(
    "layers",
    [
        [UpSampling2D((2, 3), input_shape=(3, 4, 2))],
        [UpSampling2D(2, interpolation="bilinear", input_shape=(3, 4, 2))],
        [ZeroPadding2D(((1, 0), (2, 3)), input_shape=(3, 3, 2))],
        [GlobalAveragePooling2D(input_shape=(4, 5, 3)), Dense(2, activation="softplus")],
        [PReLU(input_shape=(3, 3, 2))],
        [PReLU(shared_axes=[1, 2], input_shape=(3, 3, 2))],
        [Dense(6, input_shape=(4,)), PReLU(), LeakyReLU(0.1), ELU(0.5), Activation("elu")],
        [Dense(5, activation="leaky_relu", input_shape=(3,)), Dense(4, activation="gelu")],
        [Conv2D(4, 3, input_shape=(6, 6, 2)), Reshape((-1,)), Dense(8), Reshape((2, 2, 2))],
        [Reshape((4, 4, 1), input_shape=(16,)), Conv2D(2, 3, padding="same", activation="swish")],
        [
            Conv2D(6, 3, padding="same", dilation_rate=2, groups=3, input_shape=(9, 8, 3)),
            Conv2D(4, (2, 3), groups=2),
        ],
        [
            Conv2D(4, 3, strides=2, padding="same", groups=4, input_shape=(7, 7, 4)),
            Conv2D(2, 2, dilation_rate=(1, 2)),
        ],
    ],
    ids=lambda layers: "-".join(type(layer).__name__ for layer in layers),
)
def test_decoder_layers_match_onnxruntime(layers: list[Layer]) -> None:
    check(trained(layers, 0))


def dcgan_generator(latent: int) -> Sequential:
    return Sequential(
        [
            Dense(7 * 7 * 8, input_shape=(latent,)),
            Reshape((7, 7, 8)),
            Conv2DTranspose(8, 4, strides=2, padding="same"),
            BatchNormalization(),
            LeakyReLU(0.2),
            UpSampling2D(interpolation="bilinear"),
            Conv2DTranspose(1, 3, strides=1, padding="same", activation="tanh"),
        ],
        seed=0,
    )


def test_a_trained_generator_and_decoder_export() -> None:
    rng = np.random.default_rng(0)
    generator = dcgan_generator(6)
    discriminator = Sequential(
        [Conv2D(4, 4, strides=2, input_shape=(28, 28, 1)), LeakyReLU(0.2), Reshape((-1,)), Dense(1)], seed=1
    )
    gan = GAN(generator, discriminator, 6, seed=0)
    gan.compile("adam", "adam")
    gan.fit(rng.uniform(-1, 1, (64, 28, 28, 1)).astype(np.float32), epochs=1, batch_size=32, verbose=0)
    check(gan.generator)  # batch norm with trained moving statistics
    encoder = Sequential(
        [
            Conv2D(4, 3, strides=2, padding="same", activation="relu", input_shape=(8, 8, 1)),
            Reshape((-1,)),
            Dense(6),
        ],
        seed=0,
    )
    decoder = Sequential(
        [
            Dense(4 * 4 * 4, activation="relu", input_shape=(3,)),
            Reshape((4, 4, 4)),
            Conv2DTranspose(1, 3, strides=2, padding="same"),
        ],
        seed=1,
    )
    vae = VAE(encoder, decoder, 3, seed=0)
    vae.compile()
    vae.fit(rng.uniform(0, 1, (64, 8, 8, 1)).astype(np.float32), epochs=1, verbose=0)
    check(vae.decoder)
    check(vae.encoder)


# ---- PyTorch's exports of decoder ops, read back by load_onnx -------------------------------------
def torch_decoders() -> list[tuple[str, Any, tuple[int, ...]]]:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    prelu = nn.PReLU(4)
    with torch.no_grad():
        prelu.weight.uniform_(0.05, 0.5)
    return [
        (
            "generator",
            nn.Sequential(
                nn.Linear(6, 4 * 3 * 3),
                nn.ReLU(),
                nn.Unflatten(1, (4, 3, 3)),
                nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1),
                nn.LeakyReLU(0.2),
                nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
                nn.Tanh(),
            ),
            (6,),
        ),
        (
            "upsample-pad",
            nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.ZeroPad2d((1, 2, 0, 1)),
                nn.Conv2d(2, 4, 3),
                prelu,
                nn.ELU(0.7),
                nn.Upsample(scale_factor=(2, 3), mode="bilinear"),
                nn.Softplus(),
            ),
            (2, 3, 4),
        ),
        (
            "global-pool",
            nn.Sequential(nn.Conv2d(3, 5, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 2)),
            (3, 6, 5),
        ),
        (
            "valid-transpose",
            nn.Sequential(nn.ConvTranspose2d(2, 3, (3, 2), stride=(1, 2)), nn.PReLU()),
            (2, 4, 3),
        ),
        (
            "log-softmax",
            nn.Sequential(
                nn.Conv2d(2, 3, 2), nn.LogSoftmax(dim=1), nn.Flatten(), nn.Linear(27, 4), nn.LogSoftmax(1)
            ),
            (2, 4, 4),
        ),
        (
            "grouped-dilated",
            nn.Sequential(
                nn.Conv2d(4, 8, 3, padding=2, dilation=2, groups=4),
                nn.ReLU(),
                nn.Conv2d(8, 4, 3, groups=2, stride=2),
            ),
            (4, 9, 9),
        ),
    ]


CASES = ["generator", "upsample-pad", "global-pool", "valid-transpose", "log-softmax", "grouped-dilated"]


@pytest.mark.parametrize("case", range(len(CASES)), ids=CASES)
def test_pytorch_decoder_exports_run_on_scalegen(case: int) -> None:
    import onnxruntime as ort

    from scalegen.nn import load_onnx
    from test_nn_onnx import torch_export

    _, net, shape = torch_decoders()[case]
    data = torch_export(net, shape)
    x = np.random.default_rng(case).normal(size=(5, *shape)).astype(np.float32)
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    np.testing.assert_allclose(load_onnx(data).predict(x), expected, rtol=0, atol=2e-5)
