"""Training a VAE and a DCGAN on 28x28x1 images: scalegen.nn against PyTorch on the CPU.

The same architectures in both (issue 16's): the VAE's encoder Conv2D(32, 3, stride 2) ->
Conv2D(64, 3, stride 2) -> Flatten -> Dense(2 x 16), its decoder Dense(7 x 7 x 64) -> Reshape
-> Conv2DTranspose(32, 3, stride 2) -> Conv2DTranspose(1, 3, stride 2) (Bernoulli logits); the
DCGAN's generator Dense(7 x 7 x 128) -> Reshape -> Conv2DTranspose(64, 4, stride 2) ->
BatchNorm -> LeakyReLU(0.2) -> Conv2DTranspose(1, 4, stride 2, tanh), its discriminator
Conv2D(64, 4, stride 2) -> LeakyReLU -> Conv2D(128, 4, stride 2) -> LeakyReLU -> Flatten ->
Dense(1). Adam (lr 1e-3 VAE, 2e-4 GAN), batch 64, the same step in both (VAE: the negative
ELBO with one reparameterised draw; GAN: a discriminator step on generated + real images,
then a generator step through the discriminator with the non-saturating loss), and in Keras 3
on TensorFlow when it is installed (a benchmark-only peer: pip install tensorflow-cpu==2.21.0),
its steps compiled with tf.function. PyTorch runs
with and without flushing subnormals (FTZ), epochs of the frameworks alternating; medians of
training images/s over --repeat epochs of --samples synthetic images, and ratios as medians of
each round's ratio. scalegen trains through fit(verbose=0) (for the VAE: an epoch's batches in
one core call), PyTorch and Keras through a loop over their compiled or eager steps.

    python bench/bench_generative.py [--samples 4096] [--repeat 5] [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np

import scalegen
from scalegen._info import config
from scalegen.nn import GAN, VAE, Sequential
from scalegen.nn.layers import BatchNormalization, Conv2D, Conv2DTranspose, Dense, Flatten, LeakyReLU, Reshape
from scalegen.nn.optimizers import Adam

LATENT = 16


def images(n: int) -> np.ndarray:
    """Blobs on a grid plus noise, in [0, 1]."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:28, 0:28]
    centres = rng.integers(6, 22, (n, 2))
    blobs = np.exp(-((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2) / 20.0)
    return np.clip(blobs + 0.1 * rng.random((n, 28, 28)), 0, 1)[..., None].astype(np.float32)


# ---- scalegen ---------------------------------------------------------------------------------
def scalegen_vae() -> VAE:
    encoder = Sequential(
        [
            Conv2D(32, 3, strides=2, padding="same", activation="relu", input_shape=(28, 28, 1)),
            Conv2D(64, 3, strides=2, padding="same", activation="relu"),
            Flatten(),
            Dense(2 * LATENT),
        ],
        seed=0,
    )
    decoder = Sequential(
        [
            Dense(7 * 7 * 64, activation="relu", input_shape=(LATENT,)),
            Reshape((7, 7, 64)),
            Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
            Conv2DTranspose(1, 3, strides=2, padding="same"),
        ],
        seed=1,
    )
    vae = VAE(encoder, decoder, LATENT, seed=0)
    vae.compile(Adam(1e-3))
    return vae


def scalegen_gan() -> GAN:
    generator = Sequential(
        [
            Dense(7 * 7 * 128, input_shape=(LATENT,)),
            Reshape((7, 7, 128)),
            Conv2DTranspose(64, 4, strides=2, padding="same"),
            BatchNormalization(),
            LeakyReLU(0.2),
            Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh"),
        ],
        seed=0,
    )
    discriminator = Sequential(
        [
            Conv2D(64, 4, strides=2, padding="same", input_shape=(28, 28, 1)),
            LeakyReLU(0.2),
            Conv2D(128, 4, strides=2, padding="same"),
            LeakyReLU(0.2),
            Flatten(),
            Dense(1),
        ],
        seed=1,
    )
    gan = GAN(generator, discriminator, LATENT, seed=0)
    gan.compile(Adam(2e-4, beta_1=0.5), Adam(2e-4, beta_1=0.5))
    return gan


def scalegen_runner(kind: str, x: np.ndarray, batch: int) -> Any:
    model = scalegen_vae() if kind == "vae" else scalegen_gan()
    data = x if kind == "vae" else 2 * x - 1

    def epoch(n: int) -> float:
        history = model.fit(data[:n], epochs=1, batch_size=batch, verbose=0).history
        return history["loss" if kind == "vae" else "g_loss"][-1]

    return epoch


# ---- PyTorch ----------------------------------------------------------------------------------
def torch_runner(kind: str, x: np.ndarray, batch: int, flush: bool) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(0)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    if kind == "vae":
        encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, 2, 1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, 2, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(7 * 7 * 64, 2 * LATENT),
        )
        decoder = nn.Sequential(
            nn.Linear(LATENT, 7 * 7 * 64),
            nn.ReLU(),
            nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 32, 3, 2, 1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 3, 2, 1, output_padding=1),
        )
        opt = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3, eps=1e-7)

        def step(real: Any) -> float:
            opt.zero_grad()
            h = encoder(real)
            mean, log_var = h[:, :LATENT], h[:, LATENT:]
            z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
            recon = nn.functional.binary_cross_entropy_with_logits(decoder(z), real, reduction="none").sum(
                (1, 2, 3)
            )
            kl = 0.5 * (torch.exp(log_var) + mean**2 - 1 - log_var).sum(1)
            loss = (recon + kl).mean()
            loss.backward()
            opt.step()
            return float(loss)

    else:
        xt = 2 * xt - 1
        gen = nn.Sequential(
            nn.Linear(LATENT, 7 * 7 * 128),
            nn.Unflatten(1, (128, 7, 7)),
            nn.ConvTranspose2d(128, 64, 4, 2, 1),
            nn.BatchNorm2d(64, eps=1e-3, momentum=0.01),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(64, 1, 4, 2, 1),
            nn.Tanh(),
        )
        disc = nn.Sequential(
            nn.Conv2d(1, 64, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(7 * 7 * 128, 1),
        )
        g_opt = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-7)
        d_opt = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-7)
        bce = nn.functional.binary_cross_entropy_with_logits

        def step(real: Any) -> float:
            n = len(real)
            fake = gen(torch.randn(n, LATENT)).detach()
            d_opt.zero_grad()
            logits = disc(torch.cat([fake, real]))
            labels = torch.cat([torch.zeros(n, 1), torch.ones(n, 1)])
            bce(logits, labels).backward()
            d_opt.step()
            g_opt.zero_grad()
            for p in disc.parameters():
                p.requires_grad_(False)
            loss = bce(disc(gen(torch.randn(n, LATENT))), torch.ones(n, 1))
            loss.backward()
            for p in disc.parameters():
                p.requires_grad_(True)
            g_opt.step()
            return float(loss)

    def epoch(n: int) -> float:
        torch.set_flush_denormal(flush)
        order = torch.randperm(n)
        losses = [step(xt[order[s : s + batch]]) for s in range(0, n, batch)]
        return float(np.mean(losses[-5:]))

    return epoch


# ---- TensorFlow-Keras (when installed) ------------------------------------------------------
def tf_available() -> bool:
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


def tf_runner(kind: str, x: np.ndarray, batch: int) -> Any:
    """The same step in Keras 3 on TensorFlow, compiled with tf.function (TensorFlow flushes
    subnormals in its own threads)."""
    import keras
    import tensorflow as tf
    from keras import layers

    keras.utils.set_random_seed(0)
    if kind == "vae":
        encoder = keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
                layers.Conv2D(64, 3, strides=2, padding="same", activation="relu"),
                layers.Flatten(),
                layers.Dense(2 * LATENT),
            ]
        )
        decoder = keras.Sequential(
            [
                keras.Input((LATENT,)),
                layers.Dense(7 * 7 * 64, activation="relu"),
                layers.Reshape((7, 7, 64)),
                layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
                layers.Conv2DTranspose(1, 3, strides=2, padding="same"),
            ]
        )
        opt = keras.optimizers.Adam(1e-3)
        weights = encoder.trainable_variables + decoder.trainable_variables

        @tf.function
        def step(real: Any) -> Any:
            with tf.GradientTape() as tape:
                h = encoder(real, training=True)
                mean, log_var = h[:, :LATENT], h[:, LATENT:]
                z = mean + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean))
                logits = decoder(z, training=True)
                recon = tf.reduce_sum(
                    tf.nn.sigmoid_cross_entropy_with_logits(labels=real, logits=logits), axis=[1, 2, 3]
                )
                kl = 0.5 * tf.reduce_sum(tf.exp(log_var) + mean**2 - 1.0 - log_var, axis=1)
                loss = tf.reduce_mean(recon + kl)
            opt.apply_gradients(zip(tape.gradient(loss, weights), weights, strict=True))
            return loss

        data = x
    else:
        generator = keras.Sequential(
            [
                keras.Input((LATENT,)),
                layers.Dense(7 * 7 * 128),
                layers.Reshape((7, 7, 128)),
                layers.Conv2DTranspose(64, 4, strides=2, padding="same"),
                layers.BatchNormalization(),
                layers.LeakyReLU(negative_slope=0.2),
                layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh"),
            ]
        )
        discriminator = keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                layers.Conv2D(64, 4, strides=2, padding="same"),
                layers.LeakyReLU(negative_slope=0.2),
                layers.Conv2D(128, 4, strides=2, padding="same"),
                layers.LeakyReLU(negative_slope=0.2),
                layers.Flatten(),
                layers.Dense(1),
            ]
        )
        g_opt, d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5)
        bce = keras.losses.BinaryCrossentropy(from_logits=True)

        @tf.function
        def step(real: Any) -> Any:
            n = tf.shape(real)[0]
            fake = generator(tf.random.normal((n, LATENT)), training=True)
            with tf.GradientTape() as tape:
                logits = discriminator(tf.concat([fake, real], 0), training=True)
                d_loss = bce(tf.concat([tf.zeros((n, 1)), tf.ones((n, 1))], 0), logits)
            d_vars = discriminator.trainable_variables
            d_opt.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars, strict=True))
            with tf.GradientTape() as tape:
                logits = discriminator(generator(tf.random.normal((n, LATENT)), training=True), training=True)
                g_loss = bce(tf.ones((n, 1)), logits)
            g_vars = generator.trainable_variables
            g_opt.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars, strict=True))
            return g_loss

        data = 2 * x - 1
    xt = tf.constant(data)
    rng = np.random.default_rng(0)

    def epoch(n: int) -> float:
        order = tf.constant(rng.permutation(n))
        losses = [step(tf.gather(xt, order[s : s + batch])) for s in range(0, n, batch)]
        return float(np.mean([float(v) for v in losses[-5:]]))

    return epoch


def compare(kind: str, x: np.ndarray, batch: int, repeat: int) -> dict[str, Any]:
    runners = {
        "scalegen": scalegen_runner(kind, x, batch),
        "torch": torch_runner(kind, x, batch, flush=False),
        "torch_ftz": torch_runner(kind, x, batch, flush=True),
    }
    if tf_available():
        runners["keras"] = tf_runner(kind, x, batch)
    for run in runners.values():
        run(4 * batch)  # warm-up
    rates: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(repeat):
        for name, run in runners.items():
            t0 = time.perf_counter()
            run(len(x))
            rates[name].append(len(x) / (time.perf_counter() - t0))
    row: dict[str, Any] = {"model": kind, "batch_size": batch}
    for name, r in rates.items():
        row[f"{name}_images_per_s"] = statistics.median(r)
    # each round runs the three back to back: the median of the rounds' ratios cancels the
    # machine's drift between rounds (shared cores here change speed by tens of percent)
    for key, peer in (("ratio", "torch"), ("ratio_ftz", "torch_ftz"), ("ratio_keras", "keras")):
        if peer in rates:
            row[key] = statistics.median(a / b for a, b in zip(rates["scalegen"], rates[peer], strict=True))
    return row


def sampling(batch: int, calls: int) -> dict[str, Any]:
    """The trained-architecture DCGAN generator drawing images: scalegen's predict against
    onnxruntime running the generator's ONNX export, batches of ``batch`` latent points."""
    import onnxruntime as ort

    generator = scalegen_gan().generator
    session = ort.InferenceSession(
        generator.to_onnx(input_layout="NHWC").SerializeToString(),
        providers=["CPUExecutionProvider"],
        sess_options=_ort_options(),
    )
    z = np.random.default_rng(0).standard_normal((batch, LATENT)).astype(np.float32)
    diff = float(np.abs(session.run(None, {"input": z})[0] - generator.predict(z, batch_size=batch)).max())
    runs = {
        "scalegen": lambda: generator.predict(z, batch_size=batch),
        "onnxruntime": lambda: session.run(None, {"input": z}),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(calls):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    row: dict[str, Any] = {"batch_size": batch, "max_abs_diff": diff}
    for name, t in times.items():
        row[f"{name}_images_per_s"] = batch / statistics.median(t)
    row["ratio"] = row["scalegen_images_per_s"] / row["onnxruntime_images_per_s"]
    return row


def _ort_options() -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = scalegen.get_num_threads()
    options.inter_op_num_threads = 1
    return options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    scalegen.set_num_threads(args.threads)
    keras_version = None
    if tf_available():  # threads are set before TensorFlow runs anything
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        keras_version = tf.__version__
    x = images(args.samples)
    rows = [compare(kind, x, args.batch, args.repeat) for kind in ("vae", "gan")]
    sample = sampling(256, 30)
    print(
        f"scalegen {scalegen.__version__} vs PyTorch {torch.__version__}, {args.threads} threads each, "
        f"{args.samples} images of 28x28x1 per epoch, batch {args.batch}"
    )
    print(
        "model  scalegen/s  torch/s  ratio  torch FTZ/s  ratio"
        + ("  keras/s  ratio" if keras_version else "")
    )
    for r in rows:
        keras = f"  {r['keras_images_per_s']:7.0f}  {r['ratio_keras']:4.2f}x" if keras_version else ""
        print(
            f"{r['model']:>5}  {r['scalegen_images_per_s']:10.0f}  {r['torch_images_per_s']:7.0f}  "
            f"{r['ratio']:4.2f}x  {r['torch_ftz_images_per_s']:11.0f}  {r['ratio_ftz']:4.2f}x{keras}"
        )
    print(
        f"sampling, batch 256: scalegen {sample['scalegen_images_per_s']:.0f} images/s, onnxruntime "
        f"{sample['onnxruntime_images_per_s']:.0f} ({sample['ratio']:.2f}x; "
        f"outputs differ by {sample['max_abs_diff']:.1e})"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "config": config(),
                    "torch": torch.__version__,
                    "tensorflow": keras_version,
                    "args": vars(args),
                    "rows": rows,
                    "sampling": sample,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
