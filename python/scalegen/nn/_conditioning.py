"""Class conditioning of the composite models: labels checked, one-hot encoded, and appended
to a model's input (as extra channels of an image, extra features of a vector)."""

from __future__ import annotations

from typing import Any

import numpy as np


def class_labels(y: Any, n: int, n_classes: int | None, owner: str) -> np.ndarray | None:
    """n class indices in [0, n_classes) from y (one per row, or one for all); None when the
    model is not conditional (and then y must be None)."""
    if n_classes is None:
        if y is not None:
            raise ValueError(f"labels are for a conditional {owner}: give n_classes")
        return None
    if y is None:
        raise ValueError(f"a conditional {owner} (n_classes={n_classes}) needs the labels")
    labels = np.broadcast_to(np.asarray(y), (n,)) if np.ndim(y) == 0 else np.asarray(y)
    if labels.shape != (n,) or labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels must be {n} class indices in [0, {n_classes})")
    return labels.astype(np.int64)


def one_hot(labels: np.ndarray | None, n_classes: int | None) -> np.ndarray | None:
    return None if labels is None else np.eye(n_classes or 0, dtype=np.float32)[labels]


def with_label(x: np.ndarray, onehot: np.ndarray | None) -> np.ndarray:
    """x with the one-hot appended on its last axis (repeated over an image's pixels)."""
    if onehot is None:
        return x
    shape = (*x.shape[:-1], onehot.shape[1])
    tiled = np.broadcast_to(onehot.reshape(len(x), *(1,) * (x.ndim - 2), -1), shape)
    return np.concatenate([np.asarray(x, np.float32), tiled], axis=-1)
