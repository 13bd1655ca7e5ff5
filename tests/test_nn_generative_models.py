"""VAE and GAN: one training step's losses and every parameter gradient against PyTorch (same
weights, same noise), determinism across thread counts, training on scikit-learn's digits,
the importance-weighted bound against the ELBO, files, and bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import scalegen
from scalegen.datasets import load_digits
from scalegen.nn import GAN, VAE, Sequential, load_gan, load_vae
from scalegen.nn.callbacks import Callback
from scalegen.nn.layers import Conv2D, Conv2DTranspose, Dense, Dropout, LeakyReLU, Reshape
from scalegen.nn.optimizers import Adam
from test_nn_generative_layers import reference

torch = pytest.importorskip("torch")
F = torch.nn.functional


def encoder(latent: int = 3, seed: int = 0) -> Sequential:
    return Sequential(
        [
            Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)),
            Reshape((-1,)),
            Dense(16, activation="tanh"),
            Dense(2 * latent),
        ],
        seed=seed,
    )


def decoder(latent: int = 3, seed: int = 1) -> Sequential:
    return Sequential(
        [
            Dense(4 * 4 * 4, activation="relu", input_shape=(latent,)),
            Reshape((4, 4, 4)),
            Conv2DTranspose(1, 3, strides=2, padding="same"),
        ],
        seed=seed,
    )


def discriminator() -> Sequential:
    return Sequential(
        [Conv2D(4, 3, strides=2, input_shape=(8, 8, 1)), LeakyReLU(0.2), Reshape((-1,)), Dense(1)], seed=2
    )


def torch_params(model: Sequential) -> list[list[Any]]:
    return [
        [torch.tensor(w.astype(np.float64), requires_grad=True) for w in layer.get_weights()]
        for layer in model.layers
    ]


def torch_run(model: Sequential, params: list[list[Any]], t: Any) -> Any:
    for layer, w in zip(model.layers, params, strict=True):
        t = reference(layer, w, t)
    return t


def assert_gradients(model: Sequential, params: list[list[Any]]) -> None:
    theirs = [w.grad.numpy() if w.grad is not None else np.zeros(w.shape) for ws in params for w in ws]
    for ours, ref in zip(model.gradients(), theirs, strict=True):
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-4 * max(np.abs(ref).max(), 1e-2))


@pytest.mark.parametrize("likelihood,beta", [("bernoulli", 1.0), ("gaussian", 0.5)])
def test_a_vae_step_matches_torch(likelihood: str, beta: float) -> None:
    rng = np.random.default_rng(0)
    vae = VAE(encoder(), decoder(), 3, beta=beta, likelihood=likelihood, seed=0)
    x = rng.uniform(0, 1, (5, 8, 8, 1)).astype(np.float32)
    vae._check_data(x)  # builds the encoder
    eps = rng.standard_normal((5, 3))
    logs = vae._gradients(x, eps)
    pe, pd = torch_params(vae.encoder), torch_params(vae.decoder)
    h = torch_run(vae.encoder, pe, torch.tensor(x, dtype=torch.float64))
    mean, log_var = h[:, :3], h[:, 3:]
    out = torch_run(vae.decoder, pd, mean + torch.exp(0.5 * log_var) * torch.tensor(eps))
    target = torch.tensor(x, dtype=torch.float64)
    if likelihood == "bernoulli":
        recon = F.binary_cross_entropy_with_logits(out, target, reduction="none").sum(dim=(1, 2, 3))
    else:
        recon = (0.5 * (out - target) ** 2 + 0.5 * np.log(2 * np.pi)).sum(dim=(1, 2, 3))
    kl = 0.5 * (torch.exp(log_var) + mean**2 - 1 - log_var).sum(dim=1)
    loss = (recon + beta * kl).mean()
    loss.backward()
    assert logs["loss"] == pytest.approx(float(loss.detach()), rel=1e-5)
    assert logs["kl_loss"] == pytest.approx(float(kl.mean().detach()), rel=1e-5, abs=1e-6)
    assert_gradients(vae.encoder, pe)
    assert_gradients(vae.decoder, pd)


def primitives_step(vae: VAE, x: np.ndarray, eps: np.ndarray, onehot: np.ndarray) -> dict[str, float]:
    """A conditional VAE's batch through the public forward/backward primitives and NumPy."""
    n, latent = len(x), vae.latent_dim
    for part in (vae.encoder, vae.decoder):
        part.zero_gradients()
    tiled = np.broadcast_to(onehot[:, None, None, :], (*x.shape[:-1], onehot.shape[1]))
    h = vae.encoder.forward(np.concatenate([x, tiled], axis=-1)).astype(np.float64)
    mean, log_var = h[:, :latent], h[:, latent:]
    std = np.exp(0.5 * log_var)
    out = vae.decoder.forward(np.concatenate([(mean + std * eps).astype(np.float32), onehot], axis=1))
    o, t = out.astype(np.float64).reshape(n, -1), x.astype(np.float64).reshape(n, -1)
    recon = (0.5 * (o - t) ** 2 + 0.5 * np.log(2 * np.pi)).sum(axis=1)
    kl = 0.5 * (np.exp(log_var) + mean**2 - 1.0 - log_var).sum(axis=1)
    dz = vae.decoder.backward((out - x) / np.float32(n))[:, :latent].astype(np.float64)
    d_mean = dz + vae.beta * mean / n
    d_log_var = dz * eps * 0.5 * std + vae.beta * 0.5 * (np.exp(log_var) - 1.0) / n
    vae.encoder.backward(np.concatenate([d_mean, d_log_var], axis=1).astype(np.float32), input_gradient=False)
    return {"loss": float(np.mean(recon + vae.beta * kl)), "kl_loss": float(kl.mean())}


def test_the_core_vae_step_equals_the_primitives_for_a_conditional_vae_with_dropout() -> None:
    def conditional_vae() -> VAE:
        enc = Sequential(
            [
                Conv2D(4, 3, activation="relu", input_shape=(8, 8, 3)),
                Reshape((-1,)),
                Dropout(0.3),
                Dense(2 * 3),
            ],
            seed=0,
        )
        dec = Sequential([Dense(8 * 8, input_shape=(5,)), Dropout(0.2), Reshape((8, 8, 1))], seed=1)
        return VAE(enc, dec, 3, beta=0.7, likelihood="gaussian", n_classes=2, seed=3)

    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 8, 8, 1)).astype(np.float32)
    onehot = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 6)]
    eps = rng.standard_normal((6, 3))
    ours, ref = conditional_vae(), conditional_vae()  # same weights, same dropout draws
    ours._check_data(x)
    ref._check_data(x)
    logs = ours._gradients(x, eps, onehot)
    expected = primitives_step(ref, x, eps, onehot)
    assert logs["loss"] == pytest.approx(expected["loss"], rel=1e-6)
    assert logs["kl_loss"] == pytest.approx(expected["kl_loss"], rel=1e-6)
    for part in ("encoder", "decoder"):
        for a, b in zip(getattr(ours, part).gradients(), getattr(ref, part).gradients(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * np.abs(b).max())


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_the_reconstruction_term_matches_numpy_at_extreme_outputs(likelihood: str) -> None:
    rng = np.random.default_rng(4)
    vae = VAE(encoder(), decoder(), 3, likelihood=likelihood, seed=0)
    x = rng.uniform(0, 1, (7, 8, 8, 1)).astype(np.float32)
    out = (rng.standard_normal((7, 8, 8, 1)) * 30).astype(np.float32)  # logits far past exp's float range
    out[0, :4] = [[[100.0]], [[-100.0]], [[0.0]], [[1e-30]]]
    per, grad = vae._reconstruction(x, out)
    o, t = out.astype(np.float64).reshape(7, -1), x.astype(np.float64).reshape(7, -1)
    if likelihood == "bernoulli":
        ref = (np.maximum(o, 0) - o * t + np.log1p(np.exp(-np.abs(o)))).sum(axis=1)
        ref_grad = 0.5 * (1 + np.tanh(0.5 * o)) - t  # sigmoid without overflow
    else:
        ref = (0.5 * (o - t) ** 2 + 0.5 * np.log(2 * np.pi)).sum(axis=1)
        ref_grad = o - t
    assert per.dtype == np.float64 and grad.shape == out.shape and grad.dtype == np.float32
    np.testing.assert_allclose(per, ref, rtol=1e-6)
    np.testing.assert_allclose(grad.reshape(7, -1), ref_grad, rtol=1e-6, atol=1e-6)  # float32 rounding


def test_a_gan_step_matches_torch() -> None:
    rng = np.random.default_rng(1)
    generator = Sequential(
        [
            Dense(4 * 4 * 2, activation="relu", input_shape=(5,)),
            Reshape((4, 4, 2)),
            Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid"),
        ],
        seed=3,
    )
    gan = GAN(generator, discriminator(), 5, seed=0)
    real = rng.uniform(0, 1, (6, 8, 8, 1)).astype(np.float32)
    z = rng.standard_normal((6, 5)).astype(np.float32)
    d_loss = gan._discriminator_gradients(real, z)
    pg, pd = torch_params(gan.generator), torch_params(gan.discriminator)
    fake = torch_run(gan.generator, pg, torch.tensor(z, dtype=torch.float64))
    logits = torch_run(
        gan.discriminator, pd, torch.cat([fake.detach(), torch.tensor(real, dtype=torch.float64)])
    )
    labels = torch.cat([torch.zeros(6, 1), torch.ones(6, 1)]).double()
    ref_d = F.binary_cross_entropy_with_logits(logits, labels)
    ref_d.backward()
    assert d_loss == pytest.approx(float(ref_d.detach()), rel=1e-5)
    assert_gradients(gan.discriminator, pd)
    g_loss = gan._generator_gradients(z)
    pd = torch_params(gan.discriminator)
    ref_g = F.binary_cross_entropy_with_logits(
        torch_run(gan.discriminator, pd, fake), torch.ones(6, 1).double()
    )
    ref_g.backward()
    assert g_loss == pytest.approx(float(ref_g.detach()), rel=1e-5)
    assert_gradients(gan.generator, pg)


def digits() -> np.ndarray:
    return load_digits()[0]


def test_a_vae_epoch_in_core_calls_equals_its_batches_one_by_one(capsys: Any) -> None:
    """fit with nothing watching single batches runs an epoch in one core call (runs of 8
    batches under a progress bar); a callback makes it step batch by batch: the same noise,
    dropout, updates and logs."""
    x = digits()[:600]
    runs = []
    for watched, verbose in ((False, 0), (False, 1), (True, 0)):
        layers = [
            Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)),
            Reshape((-1,)),
            Dense(16, activation="tanh"),
        ]
        enc = Sequential([*layers, Dropout(0.2), Dense(6)], seed=0)
        vae = VAE(enc, decoder(), 3, seed=11)
        vae.compile(Adam(1e-3))
        history = vae.fit(
            x, epochs=2, batch_size=48, verbose=verbose, callbacks=[Callback()] if watched else None
        ).history
        runs.append((history, vae.get_weights()))
    assert "13/13" in capsys.readouterr().out  # the bar reached the last of 13 batches
    for history, weights in runs[1:]:
        assert history == runs[0][0]
        for a, b in zip(weights, runs[0][1], strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("watched", [False, True])
def test_a_vae_loss_that_overflows_stops_fit_before_the_update(watched: bool) -> None:
    vae = VAE(encoder(), decoder(), 3, likelihood="gaussian", seed=0)
    vae.compile("adam")
    x = np.full((40, 8, 8, 1), 1e20, np.float32)  # (z - x)^2 overflows float32
    vae._check_data(x)
    before = vae.get_weights()
    with pytest.raises(FloatingPointError, match="batch 1"):
        vae.fit(x, epochs=1, batch_size=16, verbose=0, callbacks=[Callback()] if watched else None)
    for a, b in zip(before, vae.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_same_seed_gives_the_same_vae_and_gan_for_any_thread_count() -> None:
    x = digits()[:256]
    runs = []
    for n in (1, 2):
        with scalegen.threads(n):
            vae = VAE(encoder(), decoder(), 3, seed=7)
            vae.compile("adam")
            vae.fit(x, epochs=2, batch_size=32, verbose=0)
            gan = GAN(decoder(8), discriminator(), 8, seed=7)
            gan.compile("adam", "adam")
            gan.fit(x, epochs=2, batch_size=32, verbose=0)
            runs.append(vae.get_weights() + gan.get_weights())
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_vae_learns_the_digits_and_its_bounds_are_ordered() -> None:
    x = digits()
    vae = VAE(encoder(4), decoder(4), 4, seed=0)
    vae.compile("adam")
    before = vae.elbo(x[1500:], random_state=0).mean()
    history = vae.fit(x[:1500], epochs=40, batch_size=64, validation_data=x[1500:], verbose=0)
    after = vae.elbo(x[1500:], random_state=0)
    assert after.mean() > before + 10 and history.history["val_loss"][-1] < history.history["val_loss"][0]
    # one importance sample is the ELBO with a sampled KL term (equal in expectation); more
    # samples tighten the bound
    single = vae.log_likelihood(x[1500:], n_importance=1, random_state=0).mean()
    assert single == pytest.approx(after.mean(), rel=0.03)
    assert vae.log_likelihood(x[1500:], n_importance=64, random_state=0).mean() > max(single, after.mean())
    mean, log_var = vae.encode(x[:5])
    assert mean.shape == log_var.shape == (5, 4)
    for images in (vae.sample(7, random_state=0), vae.reconstruct(x[:7])):
        assert images.shape == (7, 8, 8, 1) and images.min() >= 0 and images.max() <= 1


def test_a_gan_trains_and_samples() -> None:
    gan = GAN(decoder(8), discriminator(), 8, seed=0)
    gan.compile("adam", "adam")
    history = gan.fit(digits(), epochs=3, batch_size=64, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss"} and all(np.isfinite(history.history["g_loss"]))
    assert gan.sample(4, random_state=0).shape == (4, 8, 8, 1)
    np.testing.assert_array_equal(gan.sample(4, random_state=1), gan.sample(4, random_state=1))


def test_vae_and_gan_files(tmp_path: Any) -> None:
    x = digits()[:64]
    vae = VAE(encoder(), decoder(), 3, beta=0.5, seed=3)
    vae.compile("adam")
    vae.fit(x, epochs=1, verbose=0)
    vae.save(tmp_path / "v.zip")
    loaded = load_vae(tmp_path / "v.zip")
    assert (loaded.latent_dim, loaded.beta, loaded.likelihood) == (3, 0.5, "bernoulli")
    np.testing.assert_array_equal(loaded.elbo(x, random_state=0), vae.elbo(x, random_state=0))
    gan = GAN(decoder(8), discriminator(), 8)
    gan.save(tmp_path / "g.zip")
    np.testing.assert_array_equal(load_gan(tmp_path / "g.zip").sample(3, 0), gan.sample(3, 0))
    with pytest.raises(ValueError, match="not a vae"):
        load_vae(tmp_path / "g.zip")


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_a_loaded_model_trains_on_exactly(tmp_path: Any, kind: str) -> None:
    """Saved after one epoch and loaded, a model's next epoch gives the same weights as the
    saved model's next epoch: optimizer moments, steps and the random stream travel."""
    x = digits()[:128]
    if kind == "vae":
        model: Any = VAE(encoder(), decoder(), 3, seed=3)
        model.compile("adam")
    else:
        model = GAN(decoder(8), discriminator(), 8, seed=4)
        model.compile("adam", "rmsprop")
    model.fit(x, epochs=1, batch_size=32, verbose=0)
    model.save(tmp_path / "m.zip")
    loaded = (load_vae if kind == "vae" else load_gan)(tmp_path / "m.zip")
    model.fit(x, epochs=1, batch_size=32, verbose=0)
    loaded.fit(x, epochs=1, batch_size=32, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_models_and_data_are_refused() -> None:
    with pytest.raises(ValueError, match="latent"):
        VAE(encoder(), decoder(4), 3)
    with pytest.raises(ValueError, match="2 \\* latent_dim"):
        VAE(encoder(4), decoder(3), 3)._check_data(digits()[:4])
    vae = VAE(encoder(), decoder(), 3)
    with pytest.raises(ValueError, match="compile"):
        vae.fit(digits()[:8], verbose=0)
    vae.compile()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        vae.fit(digits()[:8] * 2, verbose=0)
    with pytest.raises(ValueError, match="one unit"):
        GAN(decoder(8), Sequential([Reshape((-1,), input_shape=(8, 8, 1)), Dense(2)]), 8)
    with pytest.raises(TypeError):
        GAN(decoder(8), "discriminator", 8)  # type: ignore[arg-type]


def torch_vae_elbo(x_train: np.ndarray, x_test: np.ndarray, seed: int, epochs: int) -> float:
    """The digits VAE of `encoder(4)` / `decoder(4)` in PyTorch, trained the same way (Adam
    1e-3, batch 64, one reparameterised draw): its mean held-out ELBO over 20 draws."""
    nn = torch.nn
    torch.manual_seed(seed)
    enc = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 16), nn.Tanh(), nn.Linear(16, 8)
    )
    dec = nn.Sequential(
        nn.Linear(4, 64),
        nn.ReLU(),
        nn.Unflatten(1, (4, 4, 4)),
        nn.ConvTranspose2d(4, 1, 3, stride=2, padding=1, output_padding=1),
    )
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3, eps=1e-7)
    xt = torch.tensor(x_train.transpose(0, 3, 1, 2))
    bce = F.binary_cross_entropy_with_logits

    def terms(x: Any) -> Any:
        h = enc(x)
        mean, log_var = h[:, :4], h[:, 4:]
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        recon = bce(dec(z), x, reduction="none").sum((1, 2, 3))
        return recon + 0.5 * (torch.exp(log_var) + mean**2 - 1 - log_var).sum(1)

    for _ in range(epochs):
        for idx in torch.randperm(len(xt)).split(64):
            opt.zero_grad()
            terms(xt[idx]).mean().backward()
            opt.step()
    with torch.no_grad():
        test = torch.tensor(x_test.transpose(0, 3, 1, 2))
        return -float(torch.stack([terms(test).mean() for _ in range(20)]).mean())


def test_a_vae_reaches_pytorchs_held_out_elbo_on_the_digits() -> None:
    x = digits()
    ours, theirs = [], []
    for seed in range(3):
        vae = VAE(encoder(4, seed=10 + seed), decoder(4, seed=20 + seed), 4, seed=seed)
        vae.compile("adam")
        vae.fit(x[:1500], epochs=30, batch_size=64, verbose=0)
        ours.append(np.mean([vae.elbo(x[1500:], random_state=r).mean() for r in range(20)]))
        theirs.append(torch_vae_elbo(x[:1500], x[1500:], seed, epochs=30))
    assert np.mean(ours) == pytest.approx(np.mean(theirs), rel=0.02), (ours, theirs)


@pytest.fixture(scope="module")
def classifier() -> Sequential:
    """A CNN trained on the real digits, the judge of generated ones."""
    from scalegen.nn.layers import Flatten, MaxPooling2D

    x, y = load_digits()
    model = Sequential(
        [
            Conv2D(32, 3, activation="relu", input_shape=(8, 8, 1)),
            MaxPooling2D(),
            Conv2D(64, 3, activation="relu", padding="same"),
            MaxPooling2D(),
            Flatten(),
            Dense(128, activation="relu"),
            Dense(10, activation="softmax"),
        ],
        seed=0,
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=15, verbose=0)
    return model


def dcgan(classes: int) -> tuple[Sequential, Sequential]:
    """A small DCGAN's generator (latent 16) and discriminator for the digits; with classes,
    their inputs take the label's one-hot too."""
    from scalegen.nn.layers import BatchNormalization, Flatten

    generator = Sequential(
        [
            Dense(4 * 4 * 64, input_shape=(16 + classes,)),
            Reshape((4, 4, 64)),
            Conv2DTranspose(32, 4, strides=2, padding="same"),
            BatchNormalization(),
            LeakyReLU(0.2),
            Conv2D(1, 3, padding="same", activation="sigmoid"),
        ],
        seed=2,
    )
    critic = Sequential(
        [
            Conv2D(32, 3, strides=2, padding="same", input_shape=(8, 8, 1 + classes)),
            LeakyReLU(0.2),
            Conv2D(64, 3, strides=2, padding="same"),
            LeakyReLU(0.2),
            Flatten(),
            Dense(1),
        ],
        seed=3,
    )
    return generator, critic


def test_a_gans_digits_are_recognised_by_a_classifier_trained_on_real_ones(classifier: Sequential) -> None:
    """The issue's bar: 1,000 samples of a DCGAN trained on the digits get a mean top
    probability of at least 0.8 from a CNN trained on the real digits, all 10 classes present."""
    x = digits()
    generator, critic = dcgan(0)
    gan = GAN(generator, critic, 16, seed=0)
    # the DCGAN recipe's beta_1 = 0.5: with Keras' default 0.9 the score lands at 0.78-0.83
    # over 8 seeds, on either side of the bar; with 0.5 at 0.85-0.88 over 4
    gan.compile(Adam(1e-3, beta_1=0.5), Adam(1e-3, beta_1=0.5))
    gan.fit(x, epochs=150, batch_size=64, verbose=0)
    p = classifier.predict(gan.sample(1000, random_state=0))
    assert p.max(axis=1).mean() >= 0.8 and len(np.unique(p.argmax(axis=1))) == 10


def test_a_conditional_gan_draws_the_digits_asked_for(classifier: Sequential, tmp_path: Any) -> None:
    x, y = load_digits()
    generator, critic = dcgan(10)
    gan = GAN(generator, critic, 16, n_classes=10, seed=0)
    # the DCGAN recipe's beta_1 = 0.5: with Keras' default 0.9 the share drawn right was
    # 0.74-0.91 over 4 seeds, with 0.5 0.90-0.97
    gan.compile(Adam(1e-3, beta_1=0.5), Adam(1e-3, beta_1=0.5))
    gan.fit(x, y, epochs=90, batch_size=64, verbose=0)
    asked = np.repeat(np.arange(10), 50)
    drawn = classifier.predict(gan.sample(500, random_state=0, labels=asked)).argmax(axis=1)
    assert (drawn == asked).mean() >= 0.75
    gan.save(tmp_path / "c.zip")
    np.testing.assert_array_equal(
        load_gan(tmp_path / "c.zip").sample(4, 0, labels=3), gan.sample(4, 0, labels=3)
    )
    with pytest.raises(ValueError, match="labels"):
        gan.fit(x, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="class indices"):
        gan.sample(3, labels=[0, 10, 1])


def test_a_conditional_vae_draws_the_digits_asked_for(classifier: Sequential, tmp_path: Any) -> None:
    x, y = load_digits()
    encoder = Sequential(
        [
            Conv2D(16, 3, activation="relu", input_shape=(8, 8, 1 + 10)),
            Reshape((-1,)),
            Dense(64, activation="relu"),
            Dense(8),
        ],
        seed=0,
    )
    decoder = Sequential(
        [
            Dense(64, activation="relu", input_shape=(4 + 10,)),
            Dense(4 * 4 * 16, activation="relu"),
            Reshape((4, 4, 16)),
            Conv2DTranspose(1, 3, strides=2, padding="same"),
        ],
        seed=1,
    )
    vae = VAE(encoder, decoder, 4, n_classes=10, seed=0)
    vae.compile("adam")
    history = vae.fit(
        x[:1500], y[:1500], epochs=40, batch_size=64, validation_data=(x[1500:], y[1500:]), verbose=0
    )
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]
    asked = np.repeat(np.arange(10), 50)
    assert (
        classifier.predict(vae.sample(500, random_state=0, labels=asked)).argmax(axis=1) == asked
    ).mean() >= 0.9
    held = vae.elbo(x[1500:], random_state=0, labels=y[1500:])
    assert vae.log_likelihood(x[1500:], 64, random_state=0, labels=y[1500:]).mean() > held.mean()
    assert vae.reconstruct(x[:3], labels=y[:3]).shape == (3, 8, 8, 1)
    vae.save(tmp_path / "c.zip")
    np.testing.assert_array_equal(
        load_vae(tmp_path / "c.zip").elbo(x[:9], 0, labels=y[:9]), vae.elbo(x[:9], 0, labels=y[:9])
    )
    with pytest.raises(ValueError, match="labels"):
        vae.elbo(x[:9])


def test_set_random_seed_makes_gan_and_vae_runs_repeatable() -> None:
    """Without their own seed, a GAN and a VAE follow set_random_seed, as Keras' models do."""
    from scalegen.nn import set_random_seed

    x = (np.random.default_rng(0).random((64, 6)) < 0.3).astype("float32")

    def run(kind: str) -> float:
        set_random_seed(7)
        try:
            if kind == "gan":
                g = Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(6, activation="tanh")])
                d = Sequential([Dense(8, activation="relu", input_shape=(6,)), Dense(1)])
                model = GAN(g, d, latent_dim=4)
                model.compile("adam", "adam")
                return model.fit(x, epochs=2, batch_size=16, verbose=0).history["d_loss"][-1]
            enc = Sequential([Dense(8, activation="relu", input_shape=(6,)), Dense(4)])
            dec = Sequential([Dense(8, activation="relu", input_shape=(2,)), Dense(6)])
            vae = VAE(enc, dec, latent_dim=2)
            vae.compile("adam")
            return vae.fit(x, epochs=2, batch_size=16, verbose=0).history["loss"][-1]
        finally:
            set_random_seed(None)

    assert run("gan") == run("gan")
    assert run("vae") == run("vae")
