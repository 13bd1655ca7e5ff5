"""``GAN``: a generative adversarial network (Goodfellow et al., 2014) from two Sequentials,
trained on scalegen's kernels through the models' forward/backward primitives.

The generator maps z ~ N(0, I) (latent_dim values, from the GAN's seeded generator) to a
sample; the discriminator maps a sample to one logit, "real". With ``n_classes`` the GAN is
conditional (Mirza and Osindero, 2014): a one-hot label is appended to the latent, and to the
discriminator's input (as extra channels of an image, extra features of a vector), so that
``sample(n, labels=...)`` draws the classes asked for. Each step, as in Keras' DCGAN
example: the discriminator takes one step on a batch of generated then real samples (labels 0
and 1, binary cross-entropy on the logits); then, the discriminator frozen (``trainable =
False``: no update, batch normalization in inference mode), the generator takes one step on
the non-saturating loss -log D(G(z)).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..utils._validation import check_int, check_random_state
from . import optimizers as _optimizers
from ._conditioning import class_labels, one_hot, with_label
from ._loop import train_epochs
from ._model import Sequential, _batch_size, _global_seed, _verbosity


def _bce_with_logits(logits: np.ndarray, target: float) -> tuple[float, np.ndarray]:
    """The mean binary cross-entropy of logits against one label, and its gradient."""
    z = logits.astype(np.float64).ravel()
    loss = np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))
    grad = (1.0 / (1.0 + np.exp(-z)) - target) / len(z)
    return float(loss.mean()), grad.reshape(logits.shape).astype(np.float32)


class GAN:
    """A generator (latent_dim -> sample) and a discriminator (sample -> 1 logit) trained
    against each other. ``seed`` drives the latent draws, the shuffling and (through the two
    models) dropout: the same seed gives the same model for any thread count.

    Parameters
    ----------
    generator : Sequential
        Maps z ~ N(0, I) (with the label's one-hot appended, if conditional) to a sample;
        built for (latent_dim + n_classes,) inputs when it has no input shape.
    discriminator : Sequential
        Maps a sample (with the one-hot as extra channels or features) to one logit, "real".
    latent_dim : int
    n_classes : int, optional
        At least 2: a conditional GAN, trained on class labels and sampled by class.
    seed : int, optional
        Also reseeds the two parts. None: the seed of ``set_random_seed`` if one is set, else
        fresh entropy here, and the parts keep their own.

    Raises
    ------
    TypeError
        If a part is not a ``Sequential``.
    ValueError
        If the parts' shapes do not fit the latent and each other.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import GAN, Sequential, layers
    >>> generator = Sequential([layers.Dense(8, activation="relu"), layers.Dense(2)])
    >>> discriminator = Sequential([layers.Dense(8, activation="relu"), layers.Dense(1)])
    >>> gan = GAN(generator, discriminator, latent_dim=4, seed=0)
    >>> gan.compile(g_optimizer="adam", d_optimizer="adam")
    >>> x = np.random.default_rng(0).normal(size=(64, 2))
    >>> history = gan.fit(x, epochs=2, batch_size=16, verbose=0)
    >>> sorted(history.history), gan.sample(5, random_state=0).shape
    (['d_loss', 'g_loss'], (5, 2))
    """

    def __init__(
        self,
        generator: Sequential,
        discriminator: Sequential,
        latent_dim: int,
        *,
        n_classes: int | None = None,
        seed: int | None = None,
    ):
        if not isinstance(generator, Sequential) or not isinstance(discriminator, Sequential):
            raise TypeError("the generator and the discriminator must be scalegen.nn.Sequential models")
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim = check_int(latent_dim, "latent_dim", "GAN", low=1)
        self.n_classes = check_int(n_classes, "n_classes", "GAN", low=2, allow_none=True)
        k = self.n_classes or 0
        seed = check_int(seed, "seed", "GAN", low=0, allow_none=True)
        self.seed = _global_seed[0] if seed is None else seed  # set_random_seed's, if any
        self._rng = np.random.default_rng(self.seed)
        if self.seed is not None:
            generator._rng, discriminator._rng = (np.random.default_rng([self.seed, part]) for part in (1, 2))
        self.g_optimizer: _optimizers.Optimizer | None = None
        self.d_optimizer: _optimizers.Optimizer | None = None
        self.stop_training = False
        self.history: Any = None
        if generator._input_shape is None:
            generator.build((self.latent_dim + k,))
        if generator._input_shape != (self.latent_dim + k,):
            raise ValueError(
                f"the generator takes {generator._input_shape}, not the latent ({self.latent_dim + k},)"
                + (" (latent_dim + n_classes)" if k else "")
            )
        sample = generator._output_shapes[-1]
        seen = (*sample[:-1], sample[-1] + k)  # the label's one-hot as extra channels or features
        if discriminator._input_shape is None:
            discriminator.build(seen)
        if discriminator._input_shape != seen or discriminator._output_shapes[-1] != (1,):
            raise ValueError(
                f"the discriminator must take {seen} (the generator's output"
                + (" and the label's one-hot" if k else "")
                + f") and end in one unit (a logit); it takes {discriminator._input_shape} and outputs "
                f"{discriminator._output_shapes[-1]}"
            )

    @property
    def optimizer(self) -> _optimizers.Optimizer | None:
        """The generator's optimizer (what learning-rate callbacks change)."""
        return self.g_optimizer

    def compile(self, g_optimizer: Any = "adam", d_optimizer: Any = "adam") -> None:
        """An optimizer for each part (their moments start from zero)."""
        self.g_optimizer, self.d_optimizer = _optimizers.get(g_optimizer), _optimizers.get(d_optimizer)
        if self.g_optimizer is self.d_optimizer:
            raise ValueError("give the two parts two optimizer objects")
        for part in (self.generator, self.discriminator):
            part._net.set_optimizer_state(*part._fresh_optimizer_state())

    def train_step(self, real: np.ndarray, labels: np.ndarray | None = None) -> dict[str, float]:
        """One discriminator step and one generator step: their losses. A conditional GAN
        draws its fakes with the real batch's labels."""
        assert self.g_optimizer is not None and self.d_optimizer is not None
        onehot = one_hot(labels, self.n_classes)
        d_loss = self._discriminator_gradients(real, self._latent(len(real)), onehot)
        self.d_optimizer.apply(self.discriminator)
        g_loss = self._generator_gradients(self._latent(len(real)), onehot)
        self.g_optimizer.apply(self.generator)
        return {"d_loss": d_loss, "g_loss": g_loss}

    def _discriminator_gradients(
        self, real: np.ndarray, z: np.ndarray, onehot: np.ndarray | None = None
    ) -> float:
        """The discriminator's gradients on generated then real samples (labels 0, 1): its loss."""
        n, d = len(real), self.discriminator
        fake = self.generator.forward(with_label(z, onehot))
        d.trainable = True
        d.zero_gradients()
        logits = d.forward(np.concatenate([with_label(fake, onehot), with_label(real, onehot)]))
        loss_fake, grad_fake = _bce_with_logits(logits[:n], 0.0)
        loss_real, grad_real = _bce_with_logits(logits[n:], 1.0)
        d.backward(np.concatenate([grad_fake, grad_real]) / 2, input_gradient=False)
        return (loss_fake + loss_real) / 2

    def _generator_gradients(self, z: np.ndarray, onehot: np.ndarray | None = None) -> float:
        """The generator's gradients of -log D(G(z)), through the frozen discriminator."""
        g, d = self.generator, self.discriminator
        d.trainable = False
        try:
            g.zero_gradients()
            fake = g.forward(with_label(z, onehot))
            loss, grad = _bce_with_logits(d.forward(with_label(fake, onehot)), 1.0)
            d_input = d.backward(grad)
            # the discriminator's input gradient without the label's channels (the latent's is not used)
            g.backward(np.ascontiguousarray(d_input[..., : fake.shape[-1]]), input_gradient=False)
        finally:
            d.trainable = True
        return loss

    def _latent(self, n: int) -> np.ndarray:
        return self._rng.standard_normal((n, self.latent_dim)).astype(np.float32)

    def fit(
        self,
        x: Any,
        y: Any = None,
        epochs: int = 1,
        batch_size: int | None = None,
        callbacks: Any = None,
        verbose: int | str = "auto",
        shuffle: bool = True,
    ) -> Any:
        """Train on the real samples x (and, conditional, their class labels y); the History
        holds d_loss and g_loss per epoch."""
        if self.g_optimizer is None:
            raise ValueError("You must call compile() before training the GAN")
        x = self._check_samples(x)
        labels = class_labels(y, len(x), self.n_classes, "GAN")
        return train_epochs(
            self,
            len(x),
            lambda rows: self.train_step(x[rows], None if labels is None else labels[rows]),
            batch_size=_batch_size(batch_size, "fit"),
            epochs=check_int(epochs, "epochs", "GAN.fit", low=1),
            shuffle=bool(shuffle),
            verbosity=_verbosity(verbose),
            callbacks=callbacks,
            rng=self._rng,
        )

    def _check_samples(self, x: Any) -> np.ndarray:
        """Real samples: finite numbers shaped as the generator's output."""
        arr = np.asarray(x)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"x must be numeric, got dtype {arr.dtype}")
        shape = self.generator._output_shapes[-1]
        if arr.ndim < 2 or arr.shape[1:] != shape or len(arr) == 0:
            raise ValueError(
                f"x has shape {arr.shape}, the generator draws (n, {', '.join(map(str, shape))})"
            )
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise ValueError("x contains NaN or infinity")
        return arr

    def sample(self, n: int, random_state: Any = None, labels: Any = None) -> np.ndarray:
        """n generated samples from z ~ N(0, I); a conditional GAN draws the classes ``labels``
        (one per sample, or one for all; uniform when not given)."""
        n = check_int(n, "n", "GAN.sample", low=1)
        rng = check_random_state(random_state)
        z = rng.standard_normal((n, self.latent_dim)).astype(np.float32)
        if self.n_classes is not None and labels is None:
            labels = rng.integers(0, self.n_classes, n)
        onehot = one_hot(class_labels(labels, n, self.n_classes, "GAN"), self.n_classes)
        return self.generator.predict(with_label(z, onehot))

    def get_weights(self) -> list[np.ndarray]:
        return self.generator.get_weights() + self.discriminator.get_weights()

    def set_weights(self, weights: list[Any]) -> None:
        cut = len(self.generator.get_weights())
        self.generator.set_weights(weights[:cut])
        self.discriminator.set_weights(weights[cut:])

    def save(self, filepath: Any) -> None:
        """One file with both parts, and once compiled their optimizers' state and the random
        stream's position, so a loaded GAN trains on exactly as this one would
        (``scalegen.nn.load_gan`` reads it)."""
        from ._saving import save_composite

        parts = {"generator": self.generator, "discriminator": self.discriminator}
        settings = {"latent_dim": self.latent_dim, "n_classes": self.n_classes, "seed": self.seed}
        optimizers = {"g_optimizer": self.g_optimizer, "d_optimizer": self.d_optimizer}
        save_composite(filepath, "gan", settings, parts, optimizers, self._rng)

    def __repr__(self) -> str:
        return f"GAN(latent_dim={self.latent_dim})"


def load_gan(filepath: Any) -> GAN:
    """Read a GAN written by ``GAN.save`` (no pickle; checked as ``load_model`` checks).

    Parameters
    ----------
    filepath : str or path-like

    Returns
    -------
    GAN
        Its settings and both parts' weights; compiled as it was saved, with the optimizers'
        moments and the random stream's position.

    Raises
    ------
    FileNotFoundError
        If there is no file.
    CorruptModelError
        For a file that is not a GAN written by ``GAN.save`` (``scalegen.LimitError`` for one
        above the limits).

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import GAN, Sequential, layers, load_gan
    >>> gan = GAN(Sequential([layers.Dense(2)]), Sequential([layers.Dense(1)]), latent_dim=3, seed=0)
    >>> gan.save("gan.keras")
    >>> again = load_gan("gan.keras")
    >>> again.latent_dim, np.array_equal(again.sample(4, random_state=1), gan.sample(4, random_state=1))
    (3, True)
    """
    from ._saving import load_composite

    return load_composite(filepath, "gan", GAN)
