"""k-NN manifold metrics and the k-NN kernel: parity with prdc and with brute force."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import prdc
import pytest
from scipy.spatial.distance import cdist

import scalegen
from scalegen import _core
from scalegen.metrics import density_coverage, manifold_scores, precision_recall


def reference(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the sample sizes
        return prdc.compute_prdc(real, fake, k)


def assert_same(ours: tuple[float, ...], ref: dict[str, float]) -> None:
    for name, value in zip(("precision", "recall", "density", "coverage"), ours, strict=True):
        assert value == pytest.approx(ref[name], abs=1e-12), name


@pytest.mark.parametrize(
    ("n_real", "n_fake", "d", "k", "seed"),
    [(300, 300, 8, 5, 0), (700, 450, 3, 1, 1), (257, 600, 64, 3, 2), (1100, 513, 17, 10, 3)],
)
def test_equals_prdc_on_continuous_data(n_real: int, n_fake: int, d: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n_real, d)) * 2 + 5  # off the origin: centring matters
    fake = rng.standard_normal((n_fake, d)) * 2.4 + 5.3
    assert_same(manifold_scores(real, fake, k), reference(real, fake, k))


def test_equals_prdc_on_integer_data_with_ties() -> None:
    # many equal distances: a fake row exactly on a ball's radius is outside, as in prdc
    rng = np.random.default_rng(4)
    real = rng.integers(0, 4, (400, 3)).astype(np.float64)
    fake = rng.integers(0, 5, (350, 3)).astype(np.float64)
    for k in (1, 3, 8):
        assert_same(manifold_scores(real, fake, k), reference(real, fake, k))


def test_subsets_and_float32() -> None:
    rng = np.random.default_rng(5)
    real, fake = rng.standard_normal((300, 6)), rng.standard_normal((280, 6)) + 0.3
    s = manifold_scores(real, fake, 4)
    assert precision_recall(real, fake, 4) == (s.precision, s.recall)
    assert density_coverage(real, fake, 4) == (s.density, s.coverage)
    r32, f32 = real.astype(np.float32), fake.astype(np.float32)
    # float32 rows are computed in float64: the same as their float64 values
    assert manifold_scores(r32, f32, 4) == manifold_scores(r32.astype(np.float64), f32.astype(np.float64), 4)


def test_same_sample_scores_and_shifted_sample() -> None:
    rng = np.random.default_rng(6)
    real = rng.standard_normal((500, 4))
    s = manifold_scores(real, real.copy(), 5)
    assert s.precision == 1.0 and s.recall == 1.0 and s.coverage == 1.0
    far = manifold_scores(real, real + 100.0, 5)
    assert far == (0.0, 0.0, 0.0, 0.0)


def test_nearest_neighbours_kernel_against_brute_force() -> None:
    rng = np.random.default_rng(7)
    Q, R = rng.standard_normal((600, 9)), rng.standard_normal((530, 9))
    D = cdist(Q, R, "sqeuclidean")
    order = np.argsort(D, axis=1, kind="stable")[:, :7]
    d2, index = _core.metrics_neighbours(Q, R, 7, 2)
    np.testing.assert_array_equal(index, order)
    np.testing.assert_allclose(d2, np.take_along_axis(D, order, axis=1), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="neighbours asked"):
        _core.metrics_neighbours(Q, R[:3], 4, 1)


def test_same_bits_for_one_and_two_threads() -> None:
    rng = np.random.default_rng(8)
    real, fake = rng.standard_normal((900, 12)), rng.standard_normal((800, 12)) * 1.1
    with scalegen.threads(1):
        one = _core.metrics_manifold(real, fake, 5, 1)
    two = _core.metrics_manifold(real, fake, 5, 2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("real", "fake", "k", "message"),
    [
        (np.zeros((10, 3)), np.zeros((10, 4)), 2, "same feature space"),
        (np.zeros((3, 3)), np.ones((10, 3)), 3, "minimum of 4"),
        (np.full((10, 2), np.nan), np.zeros((10, 2)), 2, "NaN"),
        (np.zeros((10, 2)), np.zeros((10, 2)), 0, "'k' parameter"),
        (np.zeros((10, 2)), np.zeros((10, 2)), 2.0, "'k' parameter"),
    ],
)
def test_bad_input(real: np.ndarray, fake: np.ndarray, k: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        manifold_scores(real, fake, k)  # type: ignore[arg-type]
