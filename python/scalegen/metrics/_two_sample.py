"""Two-sample generation error: maximum mean discrepancy (with a permutation test), energy
distance and a classifier two-sample test, on the C++ tile kernels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
from scipy.spatial.distance import pdist
from scipy.stats import norm

from .. import _core
from .._config import get_num_threads
from ..utils._validation import InvalidParameterError, check_choice, check_int, check_random_state, check_real
from ._checks import check_samples

_KERNELS = ("rbf", "laplacian")
_MEDIAN_ROWS = 1000  # the median heuristic looks at the pairs of at most this many pooled rows
_PERMUTATIONS_PER_PASS = 256  # labellings per pass over the pooled kernel matrix


def median_distance(X: np.ndarray, Y: np.ndarray) -> float:
    """The median Euclidean distance between the rows of the pooled sample: the bandwidth
    that ``bandwidth='median'`` gives `mmd` and `mmd_test`.

    Pairs of identical rows (distance 0) are left out. Above 1,000 pooled rows, the median
    is taken over the pairs of 1,000 rows drawn without replacement with a fixed seed, so the
    result does not change from call to call.

    Parameters
    ----------
    X, Y : ndarray (n, d) and (m, d)
        The two samples, pooled: finite, with the same number of columns.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        When a sample is empty or not finite, the column counts differ, or all rows are equal
        (no pair at a positive distance).

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import median_distance
    >>> X = np.array([[0.0, 0.0], [3.0, 4.0]])
    >>> Y = np.array([[0.0, 4.0]])
    >>> median_distance(X, Y)  # of the pairwise distances 5, 4 and 3
    4.0
    """
    X, Y = check_samples(X, Y, "median_distance")
    Z = np.vstack([X, Y]).astype(np.float64, copy=False)
    if len(Z) > _MEDIAN_ROWS:
        Z = Z[np.random.default_rng(0).choice(len(Z), _MEDIAN_ROWS, replace=False)]
    d = pdist(Z)
    d = d[d > 0]
    if d.size == 0:
        raise ValueError("the median bandwidth is undefined: all rows of X and Y are equal")
    return float(np.median(d))


def _bandwidths(bandwidth: Any, X: np.ndarray, Y: np.ndarray, owner: str) -> list[float]:
    if isinstance(bandwidth, str):
        check_choice(bandwidth, "bandwidth", owner, ("median",))
        return [median_distance(X, Y)]
    values = list(bandwidth) if isinstance(bandwidth, Sequence | np.ndarray) else [bandwidth]
    if not values or not all(isinstance(b, Real) and not isinstance(b, bool) for b in values):
        raise ValueError(f"{owner}: bandwidth must be 'median', a positive float or a sequence of them")
    return [check_real(b, "bandwidth", owner, low=0.0, closed="neither") for b in values]


def _scales(kernel: str, bandwidths: list[float], owner: str) -> list[float]:
    # rbf: exp(-d^2 / (2 s^2)); laplacian: exp(-d / s)
    scales = [0.5 / s / s if kernel == "rbf" else 1.0 / s for s in bandwidths]
    if not all(math.isfinite(g) for g in scales):
        raise ValueError(f"{owner}: bandwidth {min(bandwidths)!r} is too small: its kernel overflows float64")
    return scales


def _mmd2(xx: Any, yy: Any, xy: Any, m: int, n: int, diagonal: float, unbiased: bool) -> Any:
    """MMD^2 from the kernel sums over ordered pairs i != j within X (xx) and Y (yy) and over
    (x, y) pairs (xy), floats or arrays of them; `diagonal` is k(x, x)."""
    if unbiased:
        return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2.0 * xy / (m * n)
    return (xx + m * diagonal) / m**2 + (yy + n * diagonal) / n**2 - 2.0 * xy / (m * n)


def _prepare(
    X: Any, Y: Any, kernel: str, bandwidth: Any, unbiased: Any, owner: str
) -> tuple[Any, list[float], list[float]]:
    check_choice(kernel, "kernel", owner, _KERNELS)
    if not isinstance(unbiased, bool | np.bool_):
        raise InvalidParameterError(
            f"The 'unbiased' parameter of {owner} must be a bool. Got {unbiased!r} instead."
        )
    x, y = check_samples(X, Y, owner, min_rows=2)
    widths = _bandwidths(bandwidth, x, y, owner)
    return _core.metrics_pooled_sample(x, y, get_num_threads()), widths, _scales(kernel, widths, owner)


def mmd(X: Any, Y: Any, kernel: str = "rbf", bandwidth: Any = "median", unbiased: bool = True) -> float:
    """The squared maximum mean discrepancy between the samples X and Y (Gretton et al. 2012).

    Near 0 when X and Y come from the same distribution, larger the more they differ. The
    kernel sums run in C++ block by block, in float64 (float32 input too).

    Parameters
    ----------
    X, Y : array-like (n, d) and (m, d)
        The two samples, at least 2 rows each (DataFrames accepted).
    kernel : {'rbf', 'laplacian'}
        'rbf' is ``exp(-|x - y|^2 / (2 s^2))``, 'laplacian' ``exp(-|x - y| / s)``.
    bandwidth : 'median', float or sequence of floats
        The scale s: 'median' (see `median_distance`), a positive float, or several of them
        (the kernel is then the sum of the kernels of each bandwidth).
    unbiased : bool
        The U-statistic (pairs i != j; can be slightly negative) or the V-statistic.

    Returns
    -------
    float
        The squared MMD (not its square root).

    Raises
    ------
    ValueError
        An unknown kernel, a non-positive or too small bandwidth, samples with fewer than 2
        rows, non-finite values or different feature counts, or all rows equal with
        ``bandwidth='median'``.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import mmd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> round(mmd(X, rng.normal(size=(200, 2))), 3)  # same distribution
    -0.003
    >>> round(mmd(X, rng.normal(1.0, size=(200, 2))), 3)  # shifted by 1 in each feature
    0.224
    """
    sample, _, scales = _prepare(X, Y, kernel, bandwidth, unbiased, "mmd")
    xx, yy, xy = sample.pair_sums(kernel, scales, get_num_threads())
    m = sample.n_first
    n = sample.n_rows - m
    return float(_mmd2(2 * xx, 2 * yy, xy, m, n, len(scales), bool(unbiased)))


@dataclass(frozen=True)
class MMDTest:
    """The result of `mmd_test`: a permutation test of "X and Y come from the same
    distribution".

    Attributes
    ----------
    statistic : float
        The squared MMD of X against Y, as `mmd` computes it.
    p_value : float
        (1 + relabellings whose statistic is at least as large) / (1 + n_permutations).
    bandwidths : tuple of float
        The kernel bandwidths used (the median distance for ``bandwidth='median'``).
    n_permutations : int
        The number of random relabellings.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import mmd_test
    >>> rng = np.random.default_rng(0)
    >>> result = mmd_test(rng.normal(size=(100, 2)), rng.normal(size=(100, 2)), random_state=0)
    >>> result.n_permutations, len(result.bandwidths)
    (1000, 1)
    >>> result.p_value > 0.05  # no evidence of a difference
    True
    """

    statistic: float
    p_value: float
    bandwidths: tuple[float, ...]
    n_permutations: int


def mmd_test(
    X: Any,
    Y: Any,
    kernel: str = "rbf",
    bandwidth: Any = "median",
    unbiased: bool = True,
    n_permutations: int = 1000,
    random_state: Any = None,
) -> MMDTest:
    """`mmd` with a p-value from random relabellings of the pooled rows.

    The null hypothesis is that X and Y come from the same distribution. The bandwidth is
    chosen once, on the pooled sample, so it is the same for every labelling. Each
    labelling's statistic comes from the kernel matrix's row sums and one quadratic form, so
    a pass over the pooled kernel matrix serves 256 labellings; memory stays O(n).

    Parameters
    ----------
    X, Y : array-like (n, d) and (m, d)
        The two samples, at least 2 rows each.
    kernel, bandwidth, unbiased
        As for `mmd`.
    n_permutations : int
        Random relabellings drawn; the smallest possible p-value is 1 / (1 + n_permutations).
    random_state : None, int, numpy Generator or RandomState
        Seeds the relabellings.

    Returns
    -------
    MMDTest

    Raises
    ------
    ValueError
        As `mmd`, or ``n_permutations`` below 1.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import mmd_test
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 2))
    >>> mmd_test(X, rng.normal(size=(100, 2)), n_permutations=200, random_state=0).p_value > 0.05
    True
    >>> shifted = mmd_test(X, rng.normal(1.0, size=(100, 2)), n_permutations=200, random_state=0)
    >>> round(shifted.p_value, 4)  # no relabelling beat the observed split: 1 / 201
    0.005
    """
    n_perm = check_int(n_permutations, "n_permutations", "mmd_test", low=1)
    rng = check_random_state(random_state)
    sample, widths, scales = _prepare(X, Y, kernel, bandwidth, unbiased, "mmd_test")
    threads = get_num_threads()
    N, m = sample.n_rows, sample.n_first
    n = N - m
    row_sums = sample.row_sums(kernel, scales, threads)
    total = float(row_sums.sum())

    def statistics(labels: np.ndarray) -> np.ndarray:
        q = sample.quadratic_forms(labels, kernel, scales, threads)  # sum over x, x' in X, x != x'
        rx = labels @ row_sums  # sum over x in X and every other row
        return np.asarray(_mmd2(q, total - 2 * rx + q, rx - q, m, n, len(scales), bool(unbiased)))

    observed = np.zeros((1, N), dtype=np.uint8)
    observed[0, :m] = 1
    stat = statistics(observed)[0]
    exceed = 0
    for start in range(0, n_perm, _PERMUTATIONS_PER_PASS):
        count = min(_PERMUTATIONS_PER_PASS, n_perm - start)
        labels = np.zeros((count, N), dtype=np.uint8)
        for row in labels:
            row[rng.permutation(N)[:m]] = 1
        exceed += int(np.count_nonzero(statistics(labels) >= stat))
    return MMDTest(float(stat), (1 + exceed) / (1 + n_perm), tuple(widths), n_perm)


def energy_distance(X: Any, Y: Any) -> float:
    """The energy distance (Székely and Rizzo) between the samples X and Y.

    ``sqrt(2 E|X - Y| - E|X - X'| - E|Y - Y'|)`` with Euclidean distances and the expectations
    over all pairs of rows (V-statistics); in one dimension this is
    ``scipy.stats.energy_distance``. It is 0 for identical samples and grows with the gap.

    Parameters
    ----------
    X, Y : array-like (n, d) and (m, d)
        The two samples, at least one row each.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Empty samples, non-finite values or different feature counts.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import energy_distance
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> round(energy_distance(X, rng.normal(size=(200, 2))), 2)
    0.09
    >>> round(energy_distance(X, rng.normal(1.0, size=(200, 2))), 2)
    0.93
    >>> from scipy.stats import energy_distance as scipy_energy
    >>> u, v = rng.normal(size=50), rng.normal(0.5, size=80)
    >>> bool(np.isclose(energy_distance(u[:, None], v[:, None]), scipy_energy(u, v)))
    True
    """
    x, y = check_samples(X, Y, "energy_distance")
    sample = _core.metrics_pooled_sample(x, y, get_num_threads())
    xx, yy, xy = sample.pair_sums("distance", [], get_num_threads())
    m, n = len(x), len(y)
    value = 2.0 * xy / (m * n) - 2.0 * xx / m**2 - 2.0 * yy / n**2
    return math.sqrt(max(value, 0.0))


@dataclass(frozen=True)
class ClassifierTest:
    """The result of `classifier_two_sample_test`: how well a classifier tells X's rows from
    Y's on held-out folds.

    Attributes
    ----------
    accuracy : float
        Balanced held-out accuracy over all rows: the mean of the two classes' hit rates;
        0.5 when the samples cannot be told apart.
    p_value : float
        One-sided (accuracy above 0.5), from the normal approximation of a coin's balanced
        accuracy (Lopez-Paz and Oquab 2017).
    fold_accuracies : tuple of float
        The balanced accuracy on each fold.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import classifier_two_sample_test
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(200, 2)), rng.normal(size=(200, 2))
    >>> result = classifier_two_sample_test(X, Y, cv=5, random_state=0)
    >>> len(result.fold_accuracies), round(result.accuracy, 3)
    (5, 0.495)
    """

    accuracy: float
    p_value: float
    fold_accuracies: tuple[float, ...]


def _knn_predict(train: np.ndarray, labels: np.ndarray, test: np.ndarray, k: int) -> np.ndarray:
    _, index = _core.metrics_neighbours(test, train, k, get_num_threads())
    return (labels[index].sum(axis=1) * 2 > k).astype(np.int64)


def classifier_two_sample_test(
    X: Any, Y: Any, cv: int = 5, n_neighbors: int = 5, classifier: Any = None, random_state: Any = None
) -> ClassifierTest:
    """A classifier two-sample test: can a classifier tell X's rows from Y's?

    X's rows are labelled 0 and Y's 1, both are split into `cv` stratified random folds, each
    fold is predicted from the others, and the balanced held-out accuracy is reported (0.5
    when the samples cannot be told apart, 1 when they always can).

    Parameters
    ----------
    X, Y : array-like (n, d) and (m, d)
        The two samples, at least `cv` rows each.
    cv : int
        Number of folds, at least 2.
    n_neighbors : int
        For the default classifier, a k-nearest-neighbour majority vote (Euclidean, on
        scalegen's kernels): k, odd so that the vote has no ties.
    classifier : None or object with fit(X, y) and predict(X)
        Used instead of the k-NN vote, refitted on each fold (scikit-learn estimators are
        cloned first).
    random_state : None, int, numpy Generator or RandomState
        Seeds the folds.

    Returns
    -------
    ClassifierTest

    Raises
    ------
    ValueError
        Samples with fewer than `cv` rows, an even `n_neighbors` or one larger than the
        training rows of a fold (default classifier).
    TypeError
        A `classifier` without fit and predict methods.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import classifier_two_sample_test
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> same = classifier_two_sample_test(X, rng.normal(size=(200, 2)), random_state=0)
    >>> shifted = classifier_two_sample_test(X, rng.normal(1.0, size=(200, 2)), random_state=0)
    >>> same.p_value > 0.05, shifted.p_value < 0.001
    (True, True)
    >>> round(shifted.accuracy, 2)
    0.71
    """
    folds = check_int(cv, "cv", "classifier_two_sample_test", low=2)
    x, y = check_samples(X, Y, "classifier_two_sample_test", min_rows=folds)
    k = check_int(n_neighbors, "n_neighbors", "classifier_two_sample_test", low=1)
    if classifier is None and k % 2 == 0:
        raise ValueError(f"n_neighbors must be odd so that the vote of two classes has no ties, got {k}")
    rng = check_random_state(random_state)
    Z = np.vstack([x, y])
    labels = np.r_[np.zeros(len(x), np.int64), np.ones(len(y), np.int64)]
    fold = np.empty(len(Z), np.int64)
    for cls_rows in (np.arange(len(x)), np.arange(len(x), len(Z))):
        fold[rng.permutation(cls_rows)] = np.arange(len(cls_rows)) % folds
    if classifier is None and k > len(Z) - int(np.bincount(fold).max()):
        raise ValueError(f"n_neighbors={k} is more than the rows left to train on in a fold")
    predicted = np.empty(len(Z), np.int64)
    fold_acc = []
    for f in range(folds):
        test, train = fold == f, fold != f
        if classifier is None:
            predicted[test] = _knn_predict(Z[train], labels[train], Z[test], k)
        else:
            model = _fresh(classifier)
            model.fit(Z[train], labels[train])
            predicted[test] = np.asarray(model.predict(Z[test])).astype(np.int64)
        fold_acc.append(_balanced_accuracy(labels[test], predicted[test]))
    accuracy = _balanced_accuracy(labels, predicted)
    sd = 0.5 * math.sqrt(0.25 / len(x) + 0.25 / len(y))  # of the balanced accuracy of a coin
    return ClassifierTest(accuracy, float(norm.sf((accuracy - 0.5) / sd)), tuple(fold_acc))


def _balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    hit = truth == predicted
    return float(0.5 * (hit[truth == 0].mean() + hit[truth == 1].mean()))


def _fresh(classifier: Any) -> Any:
    if not (hasattr(classifier, "fit") and hasattr(classifier, "predict")):
        raise TypeError(f"classifier must have fit and predict methods, got {type(classifier).__name__}")
    try:
        from sklearn.base import clone
    except ImportError:
        return classifier
    try:
        return clone(classifier)
    except TypeError:  # not a scikit-learn estimator: refit in place
        return classifier
