"""The sliced Wasserstein distance: 1-D Wasserstein distances of random projections, averaged
(Rabin, Peyré, Delon, Bernot 2011; Bonneel et al. 2015)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..utils._limits import check_tensor
from ..utils._validation import check_int, check_random_state, check_real
from ._checks import check_samples

_BLOCK_BYTES = 1 << 27  # float64 working memory of one batch of projections (128 MiB)


def _directions(d: int, n_projections: int, rng: np.random.Generator) -> np.ndarray:
    """(n_projections, d) directions uniform on the unit sphere: the rows of
    ``rng.standard_normal((n_projections, d))``, normalised."""
    theta = rng.standard_normal((n_projections, d))
    norms = np.linalg.norm(theta, axis=1)
    while (zero := norms == 0).any():  # probability 0, but a zero row has no direction
        theta[zero] = rng.standard_normal((int(zero.sum()), d))
        norms = np.linalg.norm(theta, axis=1)
    return theta / norms[:, None]


def _quantile_grid(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The merged grid of the cumulative weights i/n and j/m of two uniform empirical
    distributions: (interval widths, index into the sorted first sample, index into the
    sorted second) per interval of (0, 1]. None when n == m (the identity pairing, widths 1/n).
    Kept exact in integers: i/n = i*m/(n*m)."""
    if n == m:
        return None
    ticks = np.union1d(np.arange(1, n + 1, dtype=np.int64) * m, np.arange(1, m + 1, dtype=np.int64) * n)
    widths = np.diff(ticks, prepend=0) / (n * m)
    return widths, (ticks + m - 1) // m - 1, (ticks + n - 1) // n - 1  # ceil(t * n) - 1 on each side


def _project(X: np.ndarray, theta: np.ndarray, rows: int) -> np.ndarray:
    """X @ theta.T in float64, `rows` rows of X at a time (a float32 X is never copied whole)."""
    out = np.empty((X.shape[0], theta.shape[0]))
    for start in range(0, X.shape[0], rows):
        np.matmul(X[start : start + rows], theta.T, out=out[start : start + rows], dtype=np.float64)
    return out


def _scaled_powers(
    X: np.ndarray, Y: np.ndarray, theta: np.ndarray, p: float
) -> tuple[np.ndarray, np.ndarray]:
    """(m, s) with W_p(X theta_k, Y theta_k)^p = m_k^p s_k for each direction theta_k (a row of
    theta): m_k the largest quantile difference, s_k the weighted mean of (difference / m_k)^p,
    so no power overflows whatever p. Projections are processed in batches so the float64
    working memory stays near _BLOCK_BYTES."""
    n, m = X.shape[0], Y.shape[0]
    grid = _quantile_grid(n, m)
    k = n if grid is None else grid[0].size
    per_projection = 8 * (2 * (n + m) + 3 * k)  # projections and their sorted copies, the gathers
    batch = max(1, min(theta.shape[0], _BLOCK_BYTES // per_projection))
    rows = max(1, _BLOCK_BYTES // (8 * X.shape[1]) // 4)
    top, scaled = np.empty(theta.shape[0]), np.empty(theta.shape[0])
    for start in range(0, theta.shape[0], batch):
        t = theta[start : start + batch]
        u = np.sort(_project(X, t, rows), axis=0)
        v = np.sort(_project(Y, t, rows), axis=0)
        if grid is None:
            diff, widths = u - v, None
        else:
            widths, iu, iv = grid
            diff = u[iu] - v[iv]
        del u, v
        np.abs(diff, out=diff)
        largest = diff.max(axis=0)
        np.divide(diff, np.where(largest > 0, largest, 1.0), out=diff)
        if p == 2:
            np.square(diff, out=diff)
        elif p != 1:
            np.power(diff, p, out=diff)
        top[start : start + batch] = largest
        scaled[start : start + batch] = diff.mean(axis=0) if widths is None else widths @ diff
    return top, scaled


def _sliced_wasserstein_pp(X: np.ndarray, Y: np.ndarray, theta: np.ndarray, p: float) -> np.ndarray:
    """W_p(X theta_k, Y theta_k)^p for each direction theta_k (a row of theta)."""
    top, scaled = _scaled_powers(X, Y, theta, p)
    return top**p * scaled


def sliced_wasserstein(
    X: Any, Y: Any, n_projections: int = 128, p: float = 2, random_state: Any = None
) -> float:
    """The sliced Wasserstein-p distance between the empirical distributions of two samples:
    (mean over k of W_p(X theta_k, Y theta_k)^p)^(1/p), theta_k random unit directions.

    Each 1-D W_p is exact for uniformly weighted rows, also when the sizes differ: the
    integral over t in (0, 1) of ``|F^-1(t) - G^-1(t)|^p``, the quantile functions being step
    functions on the merged grid of cumulative weights i/n, j/m (for p=1 this is
    ``scipy.stats.wasserstein_distance``). Projections run in batches, so memory stays
    bounded (a few times n + m floats per projection, up to about 128 MiB per batch).

    Parameters
    ----------
    X, Y : array-like (n, d) and (m, d)
        The two samples (DataFrames accepted); n and m may differ.
    n_projections : int
        Number of directions: the Monte-Carlo error falls as 1/sqrt(n_projections).
    p : float >= 1
        The order of the distance.
    random_state : None, int, numpy Generator or RandomState
        The directions are the rows of ``rng.standard_normal((n_projections, d))``, normalised,
        for ``rng = numpy.random.default_rng(random_state)`` (an int or None; a Generator is
        used as given).

    Returns
    -------
    float
        In the units of X: the same seed and sizes give the same directions, so values for
        one seed are comparable across models.

    Raises
    ------
    ValueError
        ``n_projections`` below 1, ``p`` below 1, or empty, non-finite or mismatched samples.
    scalegen.LimitError
        When the (n_projections, d) directions would exceed scalegen's memory limits.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import sliced_wasserstein
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> round(sliced_wasserstein(X, rng.normal(size=(200, 2)), random_state=0), 2)
    0.13
    >>> round(sliced_wasserstein(X, rng.normal(1.0, size=(150, 2)), random_state=0), 2)  # shifted
    0.96

    In one dimension every direction is +-1, so with ``p=1`` it is the exact distance:

    >>> from scipy.stats import wasserstein_distance
    >>> u, v = rng.normal(size=100), rng.normal(0.5, size=150)
    >>> bool(np.isclose(sliced_wasserstein(u[:, None], v[:, None], p=1), wasserstein_distance(u, v)))
    True
    """
    owner = "sliced_wasserstein"
    n_projections = check_int(n_projections, "n_projections", owner, low=1)
    p = check_real(p, "p", owner, low=1.0)
    a, b = check_samples(X, Y, owner)
    check_tensor((n_projections, a.shape[1]), 8, "the projection directions")
    theta = _directions(a.shape[1], n_projections, check_random_state(random_state))
    top, scaled = _scaled_powers(a, b, theta, p)
    M = float(top.max())
    if M == 0:
        return 0.0
    # (mean_k top_k^p scaled_k)^(1/p), factored by the largest difference M: no overflow
    return M * float(np.mean((top / M) ** p * scaled)) ** (1 / p)
