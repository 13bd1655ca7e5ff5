"""Optimizers with Keras' update rules and defaults; the updates run in the C++ training step."""

from __future__ import annotations

from typing import Any, ClassVar

from .. import _core
from ..utils._validation import check_scalar


def _positive(value: Any, what: str) -> float:
    return check_scalar(value, what, "the optimizer", float, low=0.0, closed="neither")


def _unit(value: Any, what: str, *, closed: bool = False) -> float:
    bounds = "both" if closed else "left"
    return check_scalar(value, what, "the optimizer", float, low=0.0, high=1.0, closed=bounds)


class Optimizer:
    """Base class of the optimizers: a learning rate, which may be changed between epochs
    (e.g. by a callback), and the update rule, run by the C++ training step.

    Parameters
    ----------
    learning_rate : float, default 0.001
        Positive.

    Raises
    ------
    ValueError
        For a parameter out of range (every optimizer's constructor).

    Examples
    --------
    ``apply`` takes one step from a model's accumulated gradients (a custom training loop):

    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers, optimizers
    >>> x = np.random.default_rng(0).normal(size=(32, 3))
    >>> model = Sequential([layers.Input((3,)), layers.Dense(1)], seed=0)
    >>> model.zero_gradients()
    >>> _ = model.backward(np.ones_like(model.forward(x)))  # d(sum of outputs)
    >>> kernel, grad = model.get_weights()[0], model.gradients()[0]
    >>> optimizers.SGD(learning_rate=0.1).apply(model)
    >>> bool(np.allclose(model.get_weights()[0], kernel - 0.1 * grad))
    True
    """

    _kind: ClassVar[str] = ""
    _config_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, learning_rate: float = 0.001) -> None:
        self.learning_rate = _positive(learning_rate, "learning_rate")

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, **{k: getattr(self, k) for k in self._config_keys}}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        return cls(**config)

    def apply(self, model: Any, gradients: Any = None) -> None:
        """One step on ``model``'s weights from its accumulated gradients (or from
        ``gradients``, one array per trainable weight); the moments live in the model."""
        model._step(self, gradients)

    def _core_config(self) -> Any:
        c = _core.OptimizerConfig()
        c.kind = self._kind
        c.learning_rate = _positive(self.learning_rate, "learning_rate")
        for key in self._config_keys:
            setattr(c, key, getattr(self, key))
        return c

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Adam(Optimizer):
    """Adam as Keras computes it: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t), w -= lr_t m / (sqrt(v) + eps).

    Parameters
    ----------
    learning_rate : float, default 0.001
    beta_1, beta_2 : float, default 0.9, 0.999
        Decay rates of the moment estimates m and v, in [0, 1).
    epsilon : float, default 1e-7

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers, optimizers
    >>> x = np.random.default_rng(0).normal(size=(32, 3))
    >>> model = Sequential([layers.Input((3,)), layers.Dense(1)], seed=0)
    >>> model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse")
    >>> losses = model.fit(x, x.sum(axis=1, keepdims=True), epochs=5, verbose=0).history["loss"]
    >>> bool(losses[-1] < losses[0])
    True
    """

    _kind = "adam"
    _config_keys = ("beta_1", "beta_2", "epsilon")

    def __init__(
        self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7
    ) -> None:
        super().__init__(learning_rate)
        self.beta_1 = _unit(beta_1, "beta_1")
        self.beta_2 = _unit(beta_2, "beta_2")
        self.epsilon = _positive(epsilon, "epsilon")


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as Keras.

    Parameters
    ----------
    learning_rate : float, default 0.01
    momentum : float, default 0.0
        In [0, 1].
    nesterov : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn import Sequential, layers, optimizers
    >>> x = np.random.default_rng(0).normal(size=(32, 3))
    >>> model = Sequential([layers.Input((3,)), layers.Dense(1)], seed=0)
    >>> model.compile(optimizer=optimizers.SGD(0.05, momentum=0.9, nesterov=True), loss="mse")
    >>> losses = model.fit(x, x.sum(axis=1, keepdims=True), epochs=5, verbose=0).history["loss"]
    >>> bool(losses[-1] < losses[0])
    True
    """

    _kind = "sgd"
    _config_keys = ("momentum", "nesterov")

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(learning_rate)
        self.momentum = _unit(momentum, "momentum", closed=True)
        self.nesterov = bool(nesterov)


class RMSprop(Optimizer):
    """RMSprop as Keras: v = rho v + (1 - rho) g^2, w -= lr g / sqrt(v + eps) (centered=False).

    The default optimizer of ``Sequential.compile``, as in Keras.

    Parameters
    ----------
    learning_rate : float, default 0.001
    rho : float, default 0.9
        Decay rate of v, in [0, 1).
    momentum : float, default 0.0
        In [0, 1].
    epsilon : float, default 1e-7

    Examples
    --------
    >>> from scalegen.nn import optimizers
    >>> optimizers.RMSprop(learning_rate=0.01)
    RMSprop(learning_rate=0.01, rho=0.9, momentum=0.0, epsilon=1e-07)
    """

    _kind = "rmsprop"
    _config_keys = ("rho", "momentum", "epsilon")

    def __init__(
        self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-7
    ) -> None:
        super().__init__(learning_rate)
        self.rho = _unit(rho, "rho")
        self.momentum = _unit(momentum, "momentum", closed=True)
        self.epsilon = _positive(epsilon, "epsilon")


OPTIMIZERS: dict[str, type[Optimizer]] = {"adam": Adam, "sgd": SGD, "rmsprop": RMSprop}


def get(identifier: Any) -> Optimizer:
    """An optimizer from a name ('adam', 'sgd', 'rmsprop': Keras' defaults) or an Optimizer
    instance (returned as is).

    Parameters
    ----------
    identifier : str or Optimizer

    Returns
    -------
    Optimizer

    Raises
    ------
    ValueError
        For anything else.

    Examples
    --------
    >>> from scalegen.nn import optimizers
    >>> optimizers.get("sgd")
    SGD(learning_rate=0.01, momentum=0.0, nesterov=False)
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in OPTIMIZERS:
        return OPTIMIZERS[identifier.lower()]()
    raise ValueError(
        f"unknown optimizer {identifier!r}: use 'adam', 'sgd', 'rmsprop' or an Optimizer instance"
    )


__all__ = ["SGD", "Adam", "Optimizer", "RMSprop", "get"]
