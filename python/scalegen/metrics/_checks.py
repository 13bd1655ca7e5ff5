"""Input checks shared by the metrics: two samples of vectors in the same feature space."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..utils._validation import check_array


def check_samples(
    X: Any, Y: Any, owner: str, *, min_rows: int = 1, names: tuple[str, str] = ("X", "Y")
) -> tuple[np.ndarray, np.ndarray]:
    """X and Y as C-contiguous 2-D arrays of one float dtype (float64 unless both are float32),
    finite, with the same feature count and at least `min_rows` rows each."""
    a = check_array(X, names[0], owner, min_samples=min_rows)
    b = check_array(Y, names[1], owner, min_samples=min_rows)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{owner}: {names[0]} has {a.shape[1]} features but {names[1]} has {b.shape[1]}; "
            "both samples must live in the same feature space"
        )
    if a.dtype != b.dtype:
        a, b = a.astype(np.float64), b.astype(np.float64)
    return a, b
