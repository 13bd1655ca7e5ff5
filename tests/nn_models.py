"""Models, data and the seed's CNN shared by the test_nn_*.py files on the Keras-style API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scalegen.nn import Sequential, set_random_seed
from scalegen.nn.layers import (
    Conv2D,
    Dense,
    Flatten,
    MaxPooling2D,
)
from scalegen.nn.optimizers import Optimizer

# The seed's Keras CNN (section 4.3), from `model = Sequential()` through the prediction, exactly
# as written there; only the imports differ (scalegen.nn instead of TensorFlow).
SEED_IMPORTS = """\
from scalegen.nn import Sequential
from scalegen.nn.layers import Conv2D, MaxPooling2D, Flatten, Dense
"""
SEED_SNIPPET = """\
# 构建卷积神经网络
model = Sequential()
model.add(Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
model.add(MaxPooling2D((2, 2)))
model.add(Conv2D(64, (3, 3), activation='relu'))
model.add(MaxPooling2D((2, 2)))
model.add(Flatten())
model.add(Dense(128, activation='relu'))
model.add(Dense(10, activation='softmax'))

# 训练卷积神经网络
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
model.fit(X_train, y_train, epochs=10, batch_size=32)

# 预测
predictions = model.predict(X_test)
"""
# the seed text, beside the checkout when it is there (the snippet above is what the tests run)
SEED_FILE = Path(os.path.abspath(__file__)).parents[2] / "shared" / "seed" / "000_f6c68a1f7e26e8ba.txt"

# Keras' summary of the seed CNN on 28x28x1 inputs
SEED_SUMMARY = [
    ("conv2d (Conv2D)", "(None, 26, 26, 32)", "320"),
    ("max_pooling2d (MaxPooling2D)", "(None, 13, 13, 32)", "0"),
    ("conv2d_1 (Conv2D)", "(None, 11, 11, 64)", "18,496"),
    ("max_pooling2d_1 (MaxPooling2D)", "(None, 5, 5, 64)", "0"),
    ("flatten (Flatten)", "(None, 1600)", "0"),
    ("dense (Dense)", "(None, 128)", "204,928"),
    ("dense_1 (Dense)", "(None, 10)", "1,290"),
]
SEED_WEIGHT_SHAPES = [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 128), (128,), (128, 10), (10,)]


@pytest.fixture(autouse=True)
def _no_global_seed() -> Any:
    """No test leaks a global seed into the next one."""
    yield
    set_random_seed(None)


# ---- helpers ---------------------------------------------------------------------------------
def mnist_like(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """28x28x1 float32 images in [0, 1]: faint noise plus a bright 8x4 blob whose position
    (2 rows x 5 columns of positions) is the label; labels 0..9, balanced, shuffled."""
    y = np.arange(n) % 10
    rng.shuffle(y)
    x = rng.uniform(0.0, 0.3, (n, 28, 28, 1)).astype(np.float32)
    for i, label in enumerate(y):
        r, c = divmod(int(label), 5)
        x[i, 3 + 12 * r : 11 + 12 * r, 1 + 5 * c : 5 + 5 * c, 0] = rng.uniform(0.8, 1.0)
    return x, y


def seed_cnn(seed: int | None = 0, **kwargs: Any) -> Sequential:
    """The seed's architecture on 28x28x1 inputs."""
    return Sequential(
        [
            Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
            MaxPooling2D((2, 2)),
            Conv2D(64, (3, 3), activation="relu"),
            MaxPooling2D((2, 2)),
            Flatten(),
            Dense(128, activation="relu"),
            Dense(10, activation="softmax"),
        ],
        seed=seed,
        **kwargs,
    )


def digits_cnn(seed: int | None = 0, **kwargs: Any) -> Sequential:
    """The seed's architecture adapted to 8x8 digits."""
    return Sequential(
        [
            Conv2D(32, (3, 3), activation="relu", input_shape=(8, 8, 1)),
            MaxPooling2D(2),
            Conv2D(64, (3, 3), activation="relu", padding="same"),
            MaxPooling2D(2),
            Flatten(),
            Dense(128, activation="relu"),
            Dense(10, activation="softmax"),
        ],
        seed=seed,
        **kwargs,
    )


def small_cnn(seed: int | None = 0, **kwargs: Any) -> Sequential:
    """A quick 8x8x1 classifier (no dropout, no batch norm)."""
    return Sequential(
        [
            Conv2D(8, 3, activation="relu", input_shape=(8, 8, 1)),
            MaxPooling2D(2),
            Flatten(),
            Dense(16, activation="relu"),
            Dense(10, activation="softmax"),
        ],
        seed=seed,
        **kwargs,
    )


def compiled(model: Sequential, optimizer: str | Optimizer = "adam") -> Sequential:
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def small_data(n: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """8x8x1 float32 images and int64 labels 0..9 (learnable: label = brightest quadrant-ish)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.uniform(0, 0.5, (n, 8, 8, 1)).astype(np.float32)
    for i, label in enumerate(y):
        x[i, int(label) % 8, :, 0] += 0.5
        x[i, :, int(label) // 2, 0] += 0.25
    return x, y


def same_weights(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(
        x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b, strict=True)
    )


def accuracy(model: Sequential, x: np.ndarray, y: np.ndarray) -> float:
    return float((model.predict(x).argmax(axis=1) == y).mean())
