"""The Fréchet distance between Gaussians fitted to two samples: FID when the features are a
trained classifier's (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule
Converge to a Local Nash Equilibrium")."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from ..utils._limits import check_tensor
from ..utils._validation import check_array
from ._checks import check_samples

if TYPE_CHECKING:
    from ..nn import Sequential

_BLOCK_BYTES = 1 << 25  # float64 rows centred at a time while accumulating a covariance (32 MiB)
_PREDICT_BATCH = 256


@dataclasses.dataclass(frozen=True, eq=False)
class FeatureStatistics:
    """What `frechet_distance` needs of one sample: its mean and sample covariance.

    Computed once for a reference set by `feature_statistics` (or built from published
    values), it can be compared with many generated sets. Construction copies the arrays
    to float64 and checks them (ValueError for wrong shapes, non-finite values or an
    asymmetric covariance, TypeError for a non-integer ``n_samples``).

    Attributes
    ----------
    mean : ndarray (d,)
        The mean feature vector, read-only float64.
    cov : ndarray (d, d)
        The sample covariance (ddof=1), symmetric, read-only float64.
    n_samples : int
        The number of rows they summarise.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import FeatureStatistics, feature_statistics, frechet_distance
    >>> rng = np.random.default_rng(0)
    >>> ref = feature_statistics(rng.normal(size=(200, 3)))
    >>> ref.mean.shape, ref.cov.shape, ref.n_samples
    ((3,), (3, 3), 200)
    >>> round(frechet_distance(ref, rng.normal(size=(200, 3))), 1)
    0.1
    >>> standard = FeatureStatistics(mean=np.zeros(3), cov=np.eye(3), n_samples=1000)
    >>> round(frechet_distance(standard, rng.normal(size=(100, 3))), 1)
    0.2
    """

    mean: np.ndarray
    cov: np.ndarray
    n_samples: int

    def __post_init__(self) -> None:
        mean = np.array(self.mean, dtype=np.float64)
        cov = np.array(self.cov, dtype=np.float64)
        d = mean.shape[0] if mean.ndim == 1 else -1
        if d < 1 or cov.shape != (d, d):
            raise ValueError(
                "FeatureStatistics: mean must have shape (d,) and cov (d, d), "
                f"got {mean.shape} and {cov.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
            raise ValueError("FeatureStatistics: mean and cov must be finite")
        if np.abs(cov - cov.T).max() > 1e-8 * np.abs(cov).max():
            raise ValueError("FeatureStatistics: cov must be symmetric")
        cov = (cov + cov.T) / 2
        if not isinstance(self.n_samples, int | np.integer) or isinstance(self.n_samples, bool):
            raise TypeError(f"FeatureStatistics: n_samples must be an int, got {self.n_samples!r}")
        if self.n_samples < 1:
            raise ValueError(f"FeatureStatistics: n_samples must be at least 1, got {self.n_samples}")
        for arr in (mean, cov):
            arr.setflags(write=False)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "n_samples", int(self.n_samples))


def _moments(F: np.ndarray) -> FeatureStatistics:
    """Mean and ddof=1 covariance accumulated in float64, centring block by block (no float64
    copy of a float32 F is ever whole)."""
    n, d = F.shape
    check_tensor((d, d), 8, "the features' covariance matrix")  # 10^5 features would need 80 GB
    mean = F.mean(axis=0, dtype=np.float64)
    cov = np.zeros((d, d))
    step = max(1, _BLOCK_BYTES // (8 * d))
    for start in range(0, n, step):
        block = np.subtract(F[start : start + step], mean, dtype=np.float64)
        cov += block.T @ block
    cov /= n - 1
    if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
        raise ValueError(
            "the features' mean or covariance overflows float64 (values spread beyond ~1e154): rescale them"
        )
    return FeatureStatistics(mean, (cov + cov.T) / 2, n)


def _penultimate(model: Sequential, owner: str) -> Sequential:
    """A new model of ``model``'s layers before its last Dense layer, with copies of their
    trained weights (``model`` itself is left as it is)."""
    from ..nn import Sequential
    from ..nn.layers import Dense, Input

    if not model.built:
        raise ValueError(f"{owner}: the features model is not built (train it first)")
    dense = [i for i, layer in enumerate(model.layers) if isinstance(layer, Dense)]
    if not dense or dense[-1] == 0:
        raise ValueError(
            f"{owner}: the features model needs a Dense classifier layer with layers before it "
            "(the features are the input of its last Dense layer)"
        )
    kept = model.layers[: dense[-1]]
    head = Sequential(
        [Input(model.input_shape[1:]), *(type(layer).from_config(layer.get_config()) for layer in kept)],
        name=f"{model.name}_features",
        n_jobs=model.n_jobs,
    )
    head.set_weights([w for layer in kept for w in layer.get_weights()])
    return head


def _extract(features: Any, X: Any, name: str, owner: str) -> np.ndarray:
    from ..nn import Sequential

    if isinstance(features, Sequential):
        out = _penultimate(features, owner).predict(X, batch_size=_PREDICT_BATCH)
    elif callable(features):
        out = np.asarray(features(X))
        if out.ndim < 1 or (hasattr(X, "__len__") and out.shape[0] != len(X)):
            raise ValueError(
                f"{owner}: features({name}) must return one row per input, got shape {out.shape}"
            )
    else:
        raise TypeError(
            f"{owner}: features must be None, a scalegen.nn.Sequential or a callable, got "
            f"{type(features).__name__}"
        )
    return out.reshape(out.shape[0], -1)


def extract_features(model: Any, X: Any) -> np.ndarray:
    """The feature rows ``frechet_distance(..., features=model)`` compares, for use with the
    other metrics too (``manifold_scores``, ``prd_curve``, ``mmd``).

    Parameters
    ----------
    model : scalegen.nn.Sequential or callable
        A built Sequential: the features are the input of its last Dense layer (the outputs
        of the layers before it, in inference mode), which it leaves unchanged. A callable
        maps a batch of inputs to one feature row per input.
    X : array-like
        The inputs.

    Returns
    -------
    ndarray (n, k)
        One flattened feature row per row of X.

    Raises
    ------
    TypeError
        ``model`` neither a Sequential nor a callable.
    ValueError
        A Sequential not built or without layers before its last Dense layer, or a
        callable that does not return one row per input.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import extract_features
    >>> from scalegen.nn import Sequential
    >>> from scalegen.nn.layers import Dense, Input
    >>> model = Sequential([Input((4,)), Dense(8, activation="relu"), Dense(3, activation="softmax")])
    >>> X = np.random.default_rng(0).normal(size=(10, 4))
    >>> features = extract_features(model, X)  # the 8 ReLU outputs
    >>> features.shape, bool((features >= 0).all())
    ((10, 8), True)
    >>> extract_features(lambda batch: batch[:, :2] ** 2, X).shape
    (10, 2)
    """
    return _extract(model, X, "X", "extract_features")


def feature_statistics(X: Any, features: Any = None) -> FeatureStatistics:
    """Mean and sample covariance of the rows of X (or of ``features``' outputs for X, as in
    ``frechet_distance``), accumulated in float64 from float32 or float64 rows.

    Parameters
    ----------
    X : array-like (n, d)
        At least 2 rows: feature vectors, or inputs of ``features``.
    features : None, scalegen.nn.Sequential or callable
        As in `frechet_distance`.

    Returns
    -------
    FeatureStatistics

    Raises
    ------
    TypeError
        ``X`` already a FeatureStatistics, or ``features`` of the wrong type.
    ValueError
        Fewer than 2 rows or non-finite values.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import feature_statistics
    >>> X = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])
    >>> stats = feature_statistics(X)
    >>> stats.mean
    array([2., 2.])
    >>> stats.cov
    array([[4., 3.],
           [3., 3.]])
    """
    if isinstance(X, FeatureStatistics):
        raise TypeError("feature_statistics: X is already a FeatureStatistics")
    F = X if features is None else _extract(features, X, "X", "feature_statistics")
    return _moments(check_array(F, "X", "feature_statistics", min_samples=2))


def _trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """tr((S1^1/2 S2 S1^1/2)^1/2) for symmetric PSD S1, S2: with S = V diag(w) V^T, it is the
    sum of the singular values of diag(sqrt w1) V1^T V2 diag(sqrt w2). Eigenvalues below
    d * eps * max(w) (rounding noise, or the null space of a rank-deficient covariance) count
    as 0, so they add no sqrt-of-noise to the trace."""
    d = s1.shape[0]
    factors = []
    for s in (s1, s2):
        w, v = np.linalg.eigh(s)
        top = max(float(w[-1]), 0.0)
        w = np.where(w > d * np.finfo(np.float64).eps * top, w, 0.0)
        factors.append((np.sqrt(w), v))
    (r1, v1), (r2, v2) = factors
    a = r1[:, None] * (v1.T @ v2) * r2[None, :]
    return float(np.linalg.svd(a, compute_uv=False).sum())


def _frechet(a: FeatureStatistics, b: FeatureStatistics) -> float:
    diff = a.mean - b.mean
    value = diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2 * _trace_sqrt_product(a.cov, b.cov)
    if not np.isfinite(value):
        raise ValueError(
            "the Fréchet distance overflows float64 (the features lie beyond ~1e154): rescale them"
        )
    return max(float(value), 0.0)


def frechet_distance(X: Any, Y: Any, features: Any = None) -> float:
    """The Fréchet (2-Wasserstein) distance between Gaussians fitted to two samples:
    ||mu_X - mu_Y||^2 + tr(S_X) + tr(S_Y) - 2 tr((S_X^1/2 S_Y S_X^1/2)^1/2).

    Means and sample covariances (ddof=1, as FID) are accumulated in float64, and the trace
    term comes from symmetric eigendecompositions (no complex matrix square root), so
    rank-deficient covariances (fewer rows than features) are fine. The value is squared
    (FID's convention, not its square root) and never negative.

    Parameters
    ----------
    X, Y : array-like, or FeatureStatistics
        Two samples of at least 2 rows each: feature vectors (n, d) when ``features`` is None,
        else inputs of ``features``. A ``FeatureStatistics`` (``feature_statistics``' result,
        say a reference set's) is used as it is, without ``features``.
    features : None, scalegen.nn.Sequential or callable
        A trained classifier: the features of a row are the input of the model's last Dense
        layer, i.e. the output of the layers before it (after their activations) in inference
        mode (dropout off, batch normalisation with its moving statistics), flattened. For the
        usual ``... Flatten, Dense(128, 'relu'), Dense(10, 'softmax')`` that is the 128 ReLU
        outputs; a final ``Activation('softmax')`` after the last Dense changes nothing. A
        callable maps a batch of inputs to one feature row per input.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Fewer than 2 rows, non-finite values, samples in different feature spaces, or
        values so large that the distance overflows.
    TypeError
        ``features`` neither None, a Sequential nor a callable.

    Examples
    --------
    Shifting each of 3 features by 2 moves the mean by a squared distance of 3 * 2**2:

    >>> import numpy as np
    >>> from scalegen.metrics import frechet_distance
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> round(frechet_distance(X, X + 2.0), 6)
    12.0
    >>> round(frechet_distance(X, X), 6)
    0.0
    """
    owner = "frechet_distance"
    if features is None and not isinstance(X, FeatureStatistics) and not isinstance(Y, FeatureStatistics):
        a, b = check_samples(X, Y, owner, min_rows=2)
        return _frechet(_moments(a), _moments(b))
    stats = []
    for value, name in ((X, "X"), (Y, "Y")):
        if isinstance(value, FeatureStatistics):
            if value.n_samples < 2:
                raise ValueError(
                    f"{owner}: {name} holds the statistics of {value.n_samples} row(s), not >= 2"
                )
            stats.append(value)
        else:
            F = value if features is None else _extract(features, value, name, owner)
            stats.append(_moments(check_array(F, name, owner, min_samples=2)))
    a_stats, b_stats = stats
    if a_stats.mean.shape != b_stats.mean.shape:
        raise ValueError(
            f"{owner}: X has {a_stats.mean.shape[0]} features but Y has {b_stats.mean.shape[0]}; "
            "both samples must live in the same feature space"
        )
    return _frechet(a_stats, b_stats)
