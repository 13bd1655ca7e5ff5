"""
Deep generative models: VAE and GAN samples
===========================================

A convolutional :class:`scalegen.nn.VAE` (latent dimension 8) and a DCGAN
(:class:`scalegen.nn.GAN`, latent dimension 16) trained on scikit-learn's 8x8 digits, then
a grid of draws from each next to real digits. Sizes are kept small so the page builds in
seconds; the demo (``scalegen demo``) trains longer.
"""

import matplotlib.pyplot as plt
import numpy as np

from scalegen.datasets import load_digits
from scalegen.nn import GAN, VAE, Sequential
from scalegen.nn.layers import BatchNormalization, Conv2D, Conv2DTranspose, Dense, Flatten, LeakyReLU, Reshape
from scalegen.nn.optimizers import Adam

x, _ = load_digits()  # (1797, 8, 8, 1) in [0, 1]

encoder = Sequential(
    [
        Conv2D(32, 3, strides=2, padding="same", activation="relu", input_shape=(8, 8, 1)),
        Flatten(),
        Dense(64, activation="relu"),
        Dense(2 * 8),
    ],
    seed=0,
)
decoder = Sequential(
    [
        Dense(64, activation="relu", input_shape=(8,)),
        Dense(4 * 4 * 32, activation="relu"),
        Reshape((4, 4, 32)),
        Conv2DTranspose(1, 3, strides=2, padding="same"),
    ],
    seed=1,
)
vae = VAE(encoder, decoder, latent_dim=8, seed=0)
vae.compile("adam")
vae.fit(x, epochs=40, batch_size=64, verbose=0)
print(f"VAE: ELBO {vae.elbo(x, random_state=0).mean():.2f} nats per image")

generator = Sequential(
    [
        Dense(4 * 4 * 64, input_shape=(16,)),
        Reshape((4, 4, 64)),
        Conv2DTranspose(32, 4, strides=2, padding="same"),
        BatchNormalization(),
        LeakyReLU(0.2),
        Conv2D(1, 3, padding="same", activation="sigmoid"),
    ],
    seed=2,
)
discriminator = Sequential(
    [
        Conv2D(32, 3, strides=2, padding="same", input_shape=(8, 8, 1)),
        LeakyReLU(0.2),
        Conv2D(64, 3, strides=2, padding="same"),
        LeakyReLU(0.2),
        Flatten(),
        Dense(1),
    ],
    seed=3,
)
gan = GAN(generator, discriminator, latent_dim=16, seed=0)
gan.compile(Adam(2e-4, beta_1=0.5), Adam(2e-4, beta_1=0.5))
history = gan.fit(x, epochs=60, batch_size=64, verbose=0)
print(
    f"GAN: last epoch d_loss {history.history['d_loss'][-1]:.3f}, g_loss {history.history['g_loss'][-1]:.3f}"
)

grids = {
    "real digits": x[:36],
    "VAE samples": vae.sample(36, random_state=0),
    "GAN samples": gan.sample(36, random_state=0),
}
fig, axes = plt.subplots(1, 3, figsize=(12, 4.3))
for ax, (title, images) in zip(axes, grids.items(), strict=True):
    padded = np.pad(images[:, :, :, 0], ((0, 0), (1, 1), (1, 1)))  # a blank border around each digit
    tiles = padded.reshape(6, 6, 10, 10).transpose(0, 2, 1, 3).reshape(60, 60)
    ax.imshow(tiles, cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_axis_off()
plt.show()
