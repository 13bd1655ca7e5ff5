"""``VAE``: a variational autoencoder (Kingma and Welling, 2014) from two Sequentials, trained
on scalegen's kernels through the models' forward/backward primitives.

The encoder ends in 2 * latent_dim linear units, read as the mean and the log-variance of a
diagonal Gaussian q(z|x); z = mean + exp(log_var / 2) * eps with eps ~ N(0, I) drawn from the
VAE's seeded generator. The decoder maps z to logits of independent Bernoulli pixels
('bernoulli', data in [0, 1]) or to the means of unit-variance Gaussians ('gaussian'). The loss
is the negative ELBO per sample, reconstruction + beta * KL(q(z|x) || N(0, I)), averaged over
the batch; ``log_likelihood`` is the importance-weighted bound (Burda et al., 2016).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from scipy.special import logsumexp

from .. import _core
from ..utils._validation import check_choice, check_int, check_random_state, check_real
from . import optimizers as _optimizers
from ._conditioning import class_labels, one_hot, with_label
from ._loop import train_epochs
from ._model import Sequential, _batch_size, _global_seed, _verbosity

_LOG_2PI = math.log(2 * math.pi)
_LOG_KEYS = ("loss", "reconstruction_loss", "kl_loss")  # a batch's logs, as the core returns them


class VAE:
    """A variational autoencoder over ``encoder`` (x -> [mean, log_var]) and ``decoder``
    (z -> logits or means). ``seed`` drives the reparameterisation noise, the shuffling and
    (through the two models) dropout: the same seed gives the same model for any thread count.

    Parameters
    ----------
    encoder : Sequential
        Ends in 2 * latent_dim linear units: the mean and the log-variance of q(z | x).
    decoder : Sequential
        Maps z (with the label's one-hot appended, if conditional) to data-shaped outputs;
        built for (latent_dim + n_classes,) inputs when it has no input shape.
    latent_dim : int
    beta : float, default 1.0
        Weight of the KL term (a beta-VAE when not 1).
    likelihood : {"bernoulli", "gaussian"}, default "bernoulli"
        Bernoulli pixels (the decoder outputs logits; data in [0, 1]) or unit-variance
        Gaussians (the decoder outputs means).
    n_classes : int, optional
        At least 2: a conditional VAE, trained on class labels and sampled by class.
    seed : int, optional
        Also reseeds the two parts. None: the seed of ``set_random_seed`` if one is set, else
        fresh entropy here, and the parts keep their own.

    Raises
    ------
    TypeError
        If a part is not a ``Sequential``.
    ValueError
        For a parameter out of range or a decoder that does not take the latent.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import VAE, Sequential, layers
    >>> encoder = Sequential([layers.Dense(16, activation="relu"), layers.Dense(4)])  # 2 * latent_dim
    >>> decoder = Sequential([layers.Dense(16, activation="relu"), layers.Dense(6)])
    >>> vae = VAE(encoder, decoder, latent_dim=2, seed=0)
    >>> vae.compile("adam")
    >>> x = (np.random.default_rng(0).random((64, 6)) < 0.3).astype("float32")
    >>> history = vae.fit(x, epochs=2, batch_size=16, verbose=0)
    >>> sorted(history.history)
    ['kl_loss', 'loss', 'reconstruction_loss']
    >>> vae.encode(x[:3])[0].shape, vae.sample(5, random_state=0).shape
    ((3, 2), (5, 6))
    """

    def __init__(
        self,
        encoder: Sequential,
        decoder: Sequential,
        latent_dim: int,
        beta: float = 1.0,
        likelihood: str = "bernoulli",
        *,
        n_classes: int | None = None,
        seed: int | None = None,
    ) -> None:
        if not isinstance(encoder, Sequential) or not isinstance(decoder, Sequential):
            raise TypeError("the encoder and the decoder must be scalegen.nn.Sequential models")
        self.encoder, self.decoder = encoder, decoder
        self.latent_dim = check_int(latent_dim, "latent_dim", "VAE", low=1)
        self.beta = check_real(beta, "beta", "VAE", low=0.0)
        self.likelihood = check_choice(likelihood, "likelihood", "VAE", ["bernoulli", "gaussian"])
        seed = check_int(seed, "seed", "VAE", low=0, allow_none=True)
        self.seed = _global_seed[0] if seed is None else seed  # set_random_seed's, if any
        self.n_classes = check_int(n_classes, "n_classes", "VAE", low=2, allow_none=True)
        self._rng = np.random.default_rng(self.seed)
        if self.seed is not None:  # the parts' dropout masks follow the VAE's seed too
            encoder._rng, decoder._rng = (np.random.default_rng([self.seed, part]) for part in (1, 2))
        self.optimizer: _optimizers.Optimizer | None = None
        self.stop_training = False
        self.history: Any = None
        latent_in = (self.latent_dim + (self.n_classes or 0),)  # z and the label's one-hot
        if decoder._input_shape is None:
            decoder.build(latent_in)
        if decoder._input_shape != latent_in:
            raise ValueError(f"the decoder takes {decoder._input_shape}, not the latent {latent_in}")

    # ---- structure --------------------------------------------------------------------------
    def _check_data(self, x: Any, what: str = "x") -> np.ndarray:
        if self.n_classes is None:
            x = self.encoder._check_x(x, what)
        else:  # the encoder sees the label's one-hot as extra channels or features
            arr = np.asarray(x)
            if arr.dtype.kind not in "fiub" or arr.ndim < 2 or len(arr) == 0:
                raise ValueError(
                    f"{what} must be a non-empty numeric array with a batch axis, got {arr.shape}"
                )
            seen = (*arr.shape[1:-1], arr.shape[-1] + self.n_classes)
            if self.encoder._input_shape is None:
                self.encoder.build(seen)
            if self.encoder._input_shape != seen:
                raise ValueError(
                    f"{what} with its one-hot label is {seen}, the encoder takes {self.encoder._input_shape}"
                )
            x = np.ascontiguousarray(arr, dtype=np.float32)
            if not np.isfinite(x).all():
                raise ValueError(f"{what} contains NaN or infinity")
        out = self.encoder._output_shapes[-1]
        if out != (2 * self.latent_dim,):
            raise ValueError(
                f"the encoder outputs {out}: it must end in 2 * latent_dim = {2 * self.latent_dim} units"
            )
        if self.decoder._output_shapes[-1] != x.shape[1:]:
            raise ValueError(
                f"the decoder outputs {self.decoder._output_shapes[-1]}, the data is {x.shape[1:]}"
            )
        if self.likelihood == "bernoulli" and (x.min() < 0 or x.max() > 1):
            raise ValueError("likelihood='bernoulli' needs data in [0, 1] (scale it, or use 'gaussian')")
        return x

    def compile(self, optimizer: str | _optimizers.Optimizer = "adam") -> None:
        """One optimizer for both parts (their moments start from zero)."""
        self.optimizer = _optimizers.get(optimizer)
        for part in (self.encoder, self.decoder):
            if part.built:
                part._net.set_optimizer_state(*part._fresh_optimizer_state())

    # ---- the loss and its gradients -----------------------------------------------------------
    def _reconstruction(self, x: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """-log p(x | z) per sample and its gradient with respect to the decoder's output:
        element-wise in float32 (as the network computes), each sample's sum in float64."""
        n = len(x)
        per, grad = _core.nn_reconstruction(
            np.ascontiguousarray(out, dtype=np.float32).reshape(n, -1),
            np.ascontiguousarray(x, dtype=np.float32).reshape(n, -1),
            self.likelihood == "bernoulli",
            self.decoder._threads(),
        )
        if self.likelihood != "bernoulli":
            per += 0.5 * _LOG_2PI * grad.shape[1]
        return per, grad.reshape(out.shape)

    def train_step(self, x: np.ndarray, labels: np.ndarray | None = None) -> dict[str, float]:
        """One optimizer step on the batch x: the loss, reconstruction and KL terms."""
        onehot = one_hot(labels, self.n_classes)
        logs = self._gradients(x, self._rng.standard_normal((len(x), self.latent_dim)), onehot)
        assert self.optimizer is not None
        if all(math.isfinite(v) for v in logs.values()):  # else fit stops, the weights kept
            self.optimizer.apply(self.encoder)
            self.optimizer.apply(self.decoder)
        return logs

    def _gradients(
        self, x: np.ndarray, eps: np.ndarray, onehot: np.ndarray | None = None
    ) -> dict[str, float]:
        """The parts' gradients of the batch's mean loss with the noise eps (n x latent_dim),
        in place of their accumulated ones: one call into the core for both passes of both
        parts and the loss between them."""
        n = len(x)
        enc_in = np.ascontiguousarray(with_label(x, onehot), dtype=np.float32).reshape(n, -1)
        cond = None if onehot is None else np.ascontiguousarray(onehot, dtype=np.float32)
        with self._parts_ready() as (encoder, decoder):
            terms = _core.nn_vae_gradients(
                encoder._net,
                decoder._net,
                enc_in,
                np.ascontiguousarray(x, dtype=np.float32).reshape(n, -1),
                cond,
                np.ascontiguousarray(eps, dtype=np.float64),
                self.beta,
                self.likelihood == "bernoulli",
                int(encoder._rng.integers(2**63)),
                int(decoder._rng.integers(2**63)),
                encoder._threads(),
            )
        return dict(zip(_LOG_KEYS, terms, strict=True))

    @contextmanager
    def _parts_ready(self) -> Iterator[tuple[Sequential, Sequential]]:
        """Both parts locked for a core call, their frozen layers told to the core."""
        with self.encoder._lock, self.decoder._lock:
            self.encoder._sync_trainable()
            self.decoder._sync_trainable()
            yield self.encoder, self.decoder

    def fit(
        self,
        x: Any,
        y: Any = None,
        epochs: int = 1,
        batch_size: int | None = None,
        validation_data: Any = None,
        callbacks: Any = None,
        verbose: int | str = "auto",
        shuffle: bool = True,
    ) -> Any:
        """Train (a conditional VAE on x and its class labels y); the History holds loss,
        reconstruction_loss and kl_loss (and ``val_`` ones; validation_data is x_val, or
        (x_val, y_val) for a conditional VAE)."""
        if self.optimizer is None:
            raise ValueError("You must call compile() before training the VAE")
        x, labels = self._data_and_labels(x, y)
        val = None
        if validation_data is not None:
            vx, vy = validation_data if self.n_classes is not None else (validation_data, None)
            val = self._data_and_labels(vx, vy, "validation_data")
        return train_epochs(
            self,
            len(x),
            lambda rows: self.train_step(x[rows], None if labels is None else labels[rows]),
            batch_size=_batch_size(batch_size, "fit"),
            epochs=check_int(epochs, "epochs", "VAE.fit", low=1),
            shuffle=bool(shuffle),
            verbosity=_verbosity(verbose),
            callbacks=callbacks,
            rng=self._rng,
            validate=None if val is None else lambda: self._losses(*val, self._rng),
            run_batches=None
            if labels is not None
            else lambda order, size: self._train_batches(x, order, size),
        )

    def _train_batches(self, x: np.ndarray, order: np.ndarray, batch_size: int) -> list[dict[str, float]]:
        """train_step on each batch of the rows of x in ``order``, in one core call: the noise
        and dropout seeds drawn up front are the ones the steps would draw, in their order."""
        assert self.optimizer is not None
        steps = math.ceil(len(order) / batch_size)
        eps = self._rng.standard_normal((len(order), self.latent_dim))
        with self._parts_ready() as (encoder, decoder):
            terms = _core.nn_vae_train_batches(
                encoder._net,
                decoder._net,
                x.reshape(len(x), -1),
                np.ascontiguousarray(order, dtype=np.int64),
                batch_size,
                eps,
                encoder._rng.integers(2**63, size=steps).astype(np.uint64),
                decoder._rng.integers(2**63, size=steps).astype(np.uint64),
                self.beta,
                self.likelihood == "bernoulli",
                self.optimizer._core_config(),
                encoder._threads(),
            )
        return [dict(zip(_LOG_KEYS, row, strict=True)) for row in terms.tolist()]

    def _data_and_labels(self, x: Any, y: Any, what: str = "x") -> tuple[np.ndarray, np.ndarray | None]:
        x = self._check_data(x, what)
        return x, class_labels(y, len(x), self.n_classes, "VAE")

    # ---- using the model ------------------------------------------------------------------------
    def _posterior(self, x: np.ndarray, labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        h = self.encoder.predict(with_label(x, one_hot(labels, self.n_classes))).astype(np.float64)
        return h[:, : self.latent_dim], h[:, self.latent_dim :]

    def encode(self, x: Any, labels: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """The mean and log-variance of q(z | x) for each row (and its label, conditional)."""
        mean, log_var = self._posterior(*self._data_and_labels(x, labels))
        return mean.astype(np.float32), log_var.astype(np.float32)

    def decode(self, z: Any, labels: Any = None) -> np.ndarray:
        """Pixel probabilities ('bernoulli') or means ('gaussian') for latent points z (of the
        classes ``labels``, conditional)."""
        z = np.asarray(z, dtype=np.float32)
        onehot = one_hot(class_labels(labels, len(z), self.n_classes, "VAE"), self.n_classes)
        out = self.decoder.predict(with_label(z, onehot))
        return 1.0 / (1.0 + np.exp(-out)) if self.likelihood == "bernoulli" else out

    def sample(self, n: int, random_state: Any = None, labels: Any = None) -> np.ndarray:
        """n draws of the decoder's mean image from z ~ N(0, I) (of the classes ``labels``,
        or uniform classes when not given, conditional)."""
        n = check_int(n, "n", "VAE.sample", low=1)
        rng = check_random_state(random_state)
        z = rng.standard_normal((n, self.latent_dim))
        if self.n_classes is not None and labels is None:
            labels = rng.integers(0, self.n_classes, n)
        return self.decode(z, labels)

    def reconstruct(self, x: Any, labels: Any = None) -> np.ndarray:
        """The decoded mean of q(z | x) for each row."""
        return self.decode(self.encode(x, labels)[0], labels)

    def _losses(self, x: np.ndarray, labels: np.ndarray | None, rng: np.random.Generator) -> dict[str, float]:
        _elbo, recon, kl = self._elbo_terms(x, labels, rng)
        return self._logs(recon, kl)

    def _logs(self, recon: np.ndarray, kl: np.ndarray) -> dict[str, float]:
        """The batch means of the loss and of its two terms, per sample."""
        return dict(
            zip(
                _LOG_KEYS,
                (float(np.mean(recon + self.beta * kl)), float(recon.mean()), float(kl.mean())),
                strict=True,
            )
        )

    def _elbo_terms(
        self, x: np.ndarray, labels: np.ndarray | None, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mean, log_var = self._posterior(x, labels)
        z = mean + np.exp(0.5 * log_var) * rng.standard_normal(mean.shape)
        onehot = one_hot(labels, self.n_classes)
        recon, _ = self._reconstruction(x, self.decoder.predict(with_label(z.astype(np.float32), onehot)))
        kl = 0.5 * (np.exp(log_var) + mean**2 - 1.0 - log_var).sum(axis=1)
        return -(recon + kl), recon, kl

    def elbo(self, x: Any, random_state: Any = None, labels: Any = None) -> np.ndarray:
        """The evidence lower bound of each row (one draw of z), in nats."""
        return self._elbo_terms(*self._data_and_labels(x, labels), check_random_state(random_state))[0]

    def log_likelihood(
        self, x: Any, n_importance: int = 100, random_state: Any = None, labels: Any = None
    ) -> np.ndarray:
        """The importance-weighted bound on log p(x) of each row with n_importance draws of z
        from q(z | x): tighter than the ELBO, and log p(x) as n_importance grows."""
        x, y = self._data_and_labels(x, labels)
        k = check_int(n_importance, "n_importance", "VAE.log_likelihood", low=1)
        rng = check_random_state(random_state)
        mean, log_var = self._posterior(x, y)
        eps = rng.standard_normal((k, *mean.shape))
        z = (mean + np.exp(0.5 * log_var) * eps).reshape(-1, self.latent_dim)  # k blocks of n rows
        onehot = one_hot(None if y is None else np.tile(y, k), self.n_classes)
        out = self.decoder.predict(with_label(z.astype(np.float32), onehot))
        recon, _ = self._reconstruction(np.tile(x, (k,) + (1,) * (x.ndim - 1)), out)
        log_pz = (
            -0.5 * (z.reshape(k, -1, self.latent_dim) ** 2).sum(axis=2) - 0.5 * self.latent_dim * _LOG_2PI
        )
        log_qz = -0.5 * (eps**2).sum(axis=2) - 0.5 * log_var.sum(axis=1) - 0.5 * self.latent_dim * _LOG_2PI
        log_w = -recon.reshape(k, -1) + log_pz - log_qz
        return logsumexp(log_w, axis=0) - math.log(k)

    # ---- weights and files ----------------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        return self.encoder.get_weights() + self.decoder.get_weights()

    def set_weights(self, weights: list[Any]) -> None:
        cut = len(self.encoder.get_weights())
        self.encoder.set_weights(weights[:cut])
        self.decoder.set_weights(weights[cut:])

    def save(self, filepath: Any) -> None:
        """One file with both parts and the settings, and once compiled the optimizer's state
        and the random stream's position, so a loaded VAE trains on exactly as this one would
        (``scalegen.nn.load_vae`` reads it)."""
        from ._saving import save_composite

        settings = {
            "latent_dim": self.latent_dim,
            "beta": self.beta,
            "likelihood": self.likelihood,
            "n_classes": self.n_classes,
            "seed": self.seed,
        }
        parts = {"encoder": self.encoder, "decoder": self.decoder}
        save_composite(filepath, "vae", settings, parts, {"optimizer": self.optimizer}, self._rng)

    def __repr__(self) -> str:
        return f"VAE(latent_dim={self.latent_dim}, beta={self.beta}, likelihood={self.likelihood!r})"


def load_vae(filepath: Any) -> VAE:
    """Read a VAE written by ``VAE.save`` (no pickle; checked as ``load_model`` checks).

    Parameters
    ----------
    filepath : str or path-like

    Returns
    -------
    VAE
        Its settings and both parts' weights; compiled as it was saved, with the optimizer's
        moments and the random stream's position.

    Raises
    ------
    FileNotFoundError
        If there is no file.
    CorruptModelError
        For a file that is not a VAE written by ``VAE.save`` (``scalegen.LimitError`` for one
        above the limits).

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import VAE, Sequential, layers, load_vae
    >>> encoder = Sequential([layers.Input((3,)), layers.Dense(4)])
    >>> vae = VAE(encoder, Sequential([layers.Dense(3)]), latent_dim=2, seed=0)
    >>> vae.save("vae.keras")
    >>> again = load_vae("vae.keras")
    >>> again, np.array_equal(again.decode(np.zeros((1, 2))), vae.decode(np.zeros((1, 2))))
    (VAE(latent_dim=2, beta=1.0, likelihood='bernoulli'), True)
    """
    from ._saving import load_composite

    return load_composite(filepath, "vae", VAE)
