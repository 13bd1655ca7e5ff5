"""Keras-style convolutional networks trained and run by scalegen's C++ kernels (float32, CPU).

>>> from scalegen.nn import Sequential
>>> from scalegen.nn.layers import Conv2D, MaxPooling2D, Flatten, Dense
>>> model = Sequential()
>>> model.add(Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)))
"""

from __future__ import annotations

from . import callbacks, layers, losses, optimizers
from ._gan import GAN, load_gan
from ._model import Sequential, set_random_seed
from ._onnx_import import OnnxModel, load_onnx
from ._saving import CorruptModelError, load_model
from ._vae import VAE, load_vae

__all__ = [
    "GAN",
    "VAE",
    "CorruptModelError",
    "OnnxModel",
    "Sequential",
    "callbacks",
    "layers",
    "load_gan",
    "load_model",
    "load_onnx",
    "load_vae",
    "losses",
    "optimizers",
    "set_random_seed",
]
