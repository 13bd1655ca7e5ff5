"""Keras' weight initializers, drawn from the model's seeded generator."""

from __future__ import annotations

import numpy as np

INITIALIZERS = (
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "zeros",
    "ones",
    "random_normal",
    "random_uniform",
)


def _fans(shape: tuple[int, ...]) -> tuple[float, float]:
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = float(np.prod(shape[:-2])) if len(shape) > 2 else 1.0
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal(rng: np.random.Generator, shape: tuple[int, ...], stddev: float) -> np.ndarray:
    """Normal draws redrawn until within two standard deviations."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * stddev


def initialize(name: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Draw a weight of ``shape`` from Keras' initializer ``name``, as float32.

    Fans are Keras': for a kernel (..., in, out), fan_in = in * r and fan_out = out * r, r the
    product of the leading axes (1 for a matrix). Glorot, He and LeCun "_normal" are normals
    truncated at two standard deviations, scaled to keep the variance; "random_normal" and
    "random_uniform" use Keras' scale 0.05.

    Parameters
    ----------
    name : str
        One of ``INITIALIZERS`` (any case).
    shape : tuple of int
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        float32, of ``shape``.

    Raises
    ------
    ValueError
        For a name that is not one of ``INITIALIZERS``.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.nn.layers import initialize
    >>> w = initialize("glorot_uniform", (3, 3, 1, 8), np.random.default_rng(0))
    >>> w.shape, w.dtype
    ((3, 3, 1, 8), dtype('float32'))
    >>> bool(np.abs(w).max() <= np.sqrt(6 / (9 + 72)))  # limit sqrt(6 / (fan_in + fan_out))
    True
    >>> initialize("ones", (2,), np.random.default_rng(0))
    array([1., 1.], dtype=float32)
    """
    if not isinstance(name, str) or name.lower() not in INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}; expected one of {', '.join(INITIALIZERS)}")
    name = name.lower()
    fan_in, fan_out = _fans(shape)
    if name == "zeros":
        out = np.zeros(shape)
    elif name == "ones":
        out = np.ones(shape)
    elif name == "random_normal":
        out = rng.normal(0.0, 0.05, shape)
    elif name == "random_uniform":
        out = rng.uniform(-0.05, 0.05, shape)
    else:
        family, dist = name.rsplit("_", 1)
        scale = {"glorot": 2.0 / (fan_in + fan_out), "he": 2.0 / fan_in, "lecun": 1.0 / fan_in}[family]
        if dist == "uniform":
            limit = np.sqrt(3.0 * scale)
            out = rng.uniform(-limit, limit, shape)
        else:
            # a normal truncated at 2 sigma has 0.8796 of the plain one's standard deviation
            out = _truncated_normal(rng, shape, np.sqrt(scale) / 0.87962566103423978)
    return np.asarray(out, dtype=np.float32)
