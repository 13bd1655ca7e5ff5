"""MMD, its permutation test, the energy distance and the classifier two-sample test against
direct NumPy/SciPy formulas."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import cdist, pdist

import scalegen
from scalegen import _core
from scalegen.metrics import (
    classifier_two_sample_test,
    energy_distance,
    manifold_scores,
    median_distance,
    mmd,
    mmd_test,
)


def kernel(A: np.ndarray, B: np.ndarray, kind: str, widths: list[float]) -> np.ndarray:
    if kind == "rbf":
        d2 = cdist(A, B, "sqeuclidean")
        return sum(np.exp(-d2 / (2 * s * s)) for s in widths)
    d = cdist(A, B)
    return sum(np.exp(-d / s) for s in widths)


def direct_mmd2(X: np.ndarray, Y: np.ndarray, kind: str, widths: list[float], unbiased: bool) -> float:
    Kxx, Kyy, Kxy = kernel(X, X, kind, widths), kernel(Y, Y, kind, widths), kernel(X, Y, kind, widths)
    m, n = len(X), len(Y)
    if unbiased:
        np.fill_diagonal(Kxx, 0)
        np.fill_diagonal(Kyy, 0)
        return Kxx.sum() / (m * (m - 1)) + Kyy.sum() / (n * (n - 1)) - 2 * Kxy.mean()
    return Kxx.mean() + Kyy.mean() - 2 * Kxy.mean()


def samples(seed: int, m: int = 300, n: int = 260, d: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, d)) + 3, rng.standard_normal((n, d)) * 1.2 + 3.1


@pytest.mark.parametrize("kind", ["rbf", "laplacian"])
@pytest.mark.parametrize("unbiased", [True, False])
@pytest.mark.parametrize("bandwidth", ["median", 1.7, (0.5, 2.0, 8.0)])
def test_mmd_equals_the_direct_formula(kind: str, unbiased: bool, bandwidth: object) -> None:
    X, Y = samples(0)
    widths = [median_distance(X, Y)] if bandwidth == "median" else list(np.atleast_1d(bandwidth))
    expected = direct_mmd2(X, Y, kind, widths, unbiased)
    assert mmd(X, Y, kind, bandwidth, unbiased) == pytest.approx(expected, rel=1e-10, abs=1e-14)


def test_mmd_float32_tiles_and_threads() -> None:
    X, Y = samples(1, 700, 530, 20)  # several 256-row tiles, a ragged last one
    expected = direct_mmd2(X, Y, "rbf", [4.0], True)
    assert mmd(X, Y, bandwidth=4.0) == pytest.approx(expected, rel=1e-10)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    assert mmd(X32, Y32, bandwidth=4.0) == pytest.approx(
        direct_mmd2(X32.astype(np.float64), Y32.astype(np.float64), "rbf", [4.0], True), rel=1e-10
    )
    with scalegen.threads(1):
        one = mmd(X, Y, bandwidth=4.0)
    assert one == mmd(X, Y, bandwidth=4.0)  # the same bits


def test_median_distance() -> None:
    X, Y = samples(2, 200, 150)
    assert median_distance(X, Y) == np.median(pdist(np.vstack([X, Y])))
    big = np.random.default_rng(3).standard_normal((3000, 2))
    assert median_distance(big[:1500], big[1500:]) == pytest.approx(np.median(pdist(big[::3])), rel=0.05)
    with pytest.raises(ValueError, match="all rows"):
        median_distance(np.ones((3, 2)), np.ones((4, 2)))


def test_permutation_test_equals_a_brute_force_one() -> None:
    X, Y = samples(4, 40, 30, 3)
    res = mmd_test(X, Y, n_permutations=300, random_state=7)
    s = res.bandwidths[0]
    Z = np.vstack([X, Y])
    observed = direct_mmd2(X, Y, "rbf", [s], True)
    rng = np.random.default_rng(7)
    exceed = 0
    for _ in range(300):
        take = np.zeros(len(Z), bool)
        take[rng.permutation(len(Z))[: len(X)]] = True
        exceed += direct_mmd2(Z[take], Z[~take], "rbf", [s], True) >= observed
    assert res.statistic == pytest.approx(observed, rel=1e-10)
    assert res.p_value == (1 + exceed) / 301
    assert res.n_permutations == 300


def test_permutation_p_values_are_uniform_under_the_null() -> None:
    rng = np.random.default_rng(8)
    p = [
        mmd_test(
            rng.standard_normal((20, 2)), rng.standard_normal((25, 2)), n_permutations=99, random_state=i
        ).p_value
        for i in range(300)
    ]
    assert stats.kstest(p, "uniform").pvalue > 0.01
    shifted = mmd_test(rng.standard_normal((60, 2)), rng.standard_normal((60, 2)) + 1.0, random_state=0)
    assert shifted.p_value == 1 / 1001


def test_energy_distance() -> None:
    X, Y = samples(5)
    assert energy_distance(X[:, :1], Y[:, :1]) == pytest.approx(
        stats.energy_distance(X[:, 0], Y[:, 0]), rel=1e-10
    )
    m, n = len(X), len(Y)
    expected = np.sqrt(2 * cdist(X, Y).mean() - cdist(X, X).sum() / m**2 - cdist(Y, Y).sum() / n**2)
    assert energy_distance(X, Y) == pytest.approx(expected, rel=1e-10)
    assert energy_distance(X, X.copy()) < 1e-7  # the root of the sums' rounding


def test_classifier_test_matches_scikit_learn_knn_on_the_same_folds() -> None:
    neighbors = pytest.importorskip("sklearn.neighbors")
    X, Y = samples(6, 400, 300, 4)
    ours = classifier_two_sample_test(X, Y, cv=5, n_neighbors=7, random_state=3)
    theirs = classifier_two_sample_test(
        X, Y, cv=5, classifier=neighbors.KNeighborsClassifier(7), random_state=3
    )
    assert ours == theirs
    same = classifier_two_sample_test(
        X, np.random.default_rng(9).standard_normal((300, 4)) + 3, random_state=0
    )
    apart = classifier_two_sample_test(X, X + 10.0, random_state=0)
    assert abs(same.accuracy - 0.5) < 0.1 and same.p_value > 1e-3
    assert apart.accuracy == 1.0 and apart.p_value < 1e-12


def test_pair_sums_kernel_against_numpy() -> None:
    X, Y = samples(10, 300, 280, 5)
    sample = _core.metrics_pooled_sample(X, Y, 2)
    xx, yy, xy = sample.pair_sums("distance", [], 2)
    assert xx == pytest.approx(pdist(X).sum(), rel=1e-12)
    assert yy == pytest.approx(pdist(Y).sum(), rel=1e-12)
    assert xy == pytest.approx(cdist(X, Y).sum(), rel=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mmd(np.zeros((5, 2)), np.zeros((5, 3))), "same feature space"),
        (lambda: mmd(np.zeros((1, 2)), np.ones((5, 2))), "minimum of 2"),
        (lambda: mmd(np.ones((5, 2)), np.full((5, 2), np.nan)), "NaN"),
        (lambda: median_distance(np.ones((5, 2)), np.full((5, 2), np.nan)), "NaN"),
        (lambda: median_distance(np.ones((5, 2)), np.ones((5, 3))), "same feature space"),
        (lambda: mmd(np.ones((5, 2)), np.zeros((5, 2)), kernel="cosine"), "'kernel' parameter"),
        (lambda: mmd(np.ones((5, 2)), np.zeros((5, 2)), bandwidth=-1.0), "'bandwidth' parameter"),
        (lambda: mmd(np.ones((5, 2)), np.zeros((5, 2)), bandwidth="mean"), "'bandwidth' parameter"),
        (lambda: mmd_test(np.ones((5, 2)), np.zeros((5, 2)), n_permutations=0), "'n_permutations'"),
        (lambda: classifier_two_sample_test(np.ones((5, 2)), np.zeros((5, 2)), n_neighbors=4), "odd"),
        (lambda: classifier_two_sample_test(np.ones((3, 2)), np.zeros((5, 2)), cv=5), "minimum of 5"),
        (lambda: classifier_two_sample_test(np.ones((5, 2)), np.zeros((5, 2)), n_neighbors=9), "rows left"),
    ],
)
def test_bad_input(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_copies_beyond_the_limits_are_refused() -> None:
    X, Y = samples(11, 500, 500, 8)
    with (
        scalegen.limits(max_tensor_bytes=1 << 14),
        pytest.raises(scalegen.LimitError, match="max_tensor_bytes"),
    ):
        mmd(X, Y, bandwidth=1.0)
    with scalegen.limits(max_tensor_bytes=1 << 14), pytest.raises(scalegen.LimitError):
        classifier_two_sample_test(X, Y)


def test_distances_that_overflow_are_refused() -> None:
    rng = np.random.default_rng(12)
    X, Y = rng.standard_normal((50, 3)) * 1e160, rng.standard_normal((50, 3)) * 1e160
    for call in (
        lambda: mmd(X, Y, bandwidth=1e160),
        lambda: energy_distance(X, Y),
        lambda: manifold_scores(X, Y, 3),
        lambda: classifier_two_sample_test(X, Y),
    ):
        with pytest.raises(ValueError, match="overflow float64"):
            call()
    # far from the origin but not spread out: centred first, as at the origin
    A, B = X * 1e-160, Y * 1e-160
    assert energy_distance(A + 1e12, B + 1e12) == pytest.approx(energy_distance(A, B), rel=1e-3)
