"""The sliced Wasserstein distance (scalegen.metrics.sliced_wasserstein) against
scipy.stats.wasserstein_distance per projection (p=1) and sorted-sample formulas (any p)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wasserstein_distance

import scalegen
from scalegen.metrics import _wasserstein, sliced_wasserstein


def directions(seed, n_projections, d):
    """The documented directions: rows of default_rng(seed).standard_normal, normalised."""
    theta = np.random.default_rng(seed).standard_normal((n_projections, d))
    return theta / np.linalg.norm(theta, axis=1, keepdims=True)


def sorted_wp_p(u, v, p):
    """W_p^p of two uniform empirical 1-D distributions: repeat each point so both samples have
    lcm(n, m) points (the same distributions), then pair the sorted values."""
    n, m = len(u), len(v)
    k = math.lcm(n, m)
    su, sv = np.sort(np.repeat(u, k // n)), np.sort(np.repeat(v, k // m))
    return np.mean(np.abs(su - sv) ** p)


def samples(seed, n, m, d):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) @ rng.standard_normal((d, d))
    Y = 0.5 + rng.standard_exponential((m, d))
    return X, Y


@pytest.mark.parametrize("n, m, d", [(200, 200, 5), (150, 97, 8), (31, 400, 3), (1, 50, 4)])
def test_p1_matches_scipy_per_projection(n, m, d):
    X, Y = samples(n + m, n, m, d)
    theta = directions(11, 40, d)
    want = np.mean([wasserstein_distance(X @ t, Y @ t) for t in theta])
    assert sliced_wasserstein(X, Y, n_projections=40, p=1, random_state=11) == pytest.approx(want, rel=1e-10)
    np.testing.assert_allclose(_wasserstein._directions(d, 40, np.random.default_rng(11)), theta, rtol=1e-15)


@pytest.mark.parametrize("p", [2, 1, 1.5, 3])
@pytest.mark.parametrize("n, m", [(120, 120), (30, 45), (64, 40)])
def test_any_p_matches_sorted_formula(n, m, p):
    X, Y = samples(7, n, m, 6)
    theta = directions(3, 25, 6)
    per = np.array([sorted_wp_p(X @ t, Y @ t, p) for t in theta])
    got = sliced_wasserstein(X, Y, n_projections=25, p=p, random_state=3)
    assert got == pytest.approx(per.mean() ** (1 / p), rel=1e-10)
    np.testing.assert_allclose(_wasserstein._sliced_wasserstein_pp(X, Y, theta, p), per, rtol=1e-10)


def test_equal_sizes_p2_is_mean_squared_sorted_difference():
    X, Y = samples(8, 300, 300, 4)
    theta = directions(0, 16, 4)
    want = np.mean([np.mean((np.sort(X @ t) - np.sort(Y @ t)) ** 2) for t in theta]) ** 0.5
    assert sliced_wasserstein(X, Y, n_projections=16, random_state=0) == pytest.approx(want, rel=1e-12)


def test_one_dimension_is_the_wasserstein_distance():
    rng = np.random.default_rng(9)
    x, y = rng.normal(0, 1, 300), rng.normal(2, 3, 170)
    assert sliced_wasserstein(x[:, None], y[:, None], n_projections=3, p=1) == pytest.approx(
        wasserstein_distance(x, y), rel=1e-10
    )
    assert sliced_wasserstein(x[:, None], x[:, None] + 2.5, n_projections=3, p=3) == pytest.approx(2.5)


def test_invariances_and_determinism():
    X, Y = samples(10, 200, 150, 5)
    assert sliced_wasserstein(X, X, random_state=0) == 0.0
    assert sliced_wasserstein(X, X[::-1], random_state=0) == 0.0  # a distribution of rows: order free
    a = sliced_wasserstein(X, Y, random_state=4)
    assert a == sliced_wasserstein(X, Y, random_state=4)
    assert a == pytest.approx(sliced_wasserstein(Y, X, random_state=4), rel=1e-12)
    assert a == sliced_wasserstein(X, Y, random_state=np.random.default_rng(4))
    assert a != sliced_wasserstein(X, Y, random_state=5)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])  # a translation scales each projection's shift
    theta = directions(2, 64, 5)
    want = np.sqrt(np.mean((theta @ shift) ** 2))
    assert sliced_wasserstein(X, X + shift, n_projections=64, random_state=2) == pytest.approx(want, rel=1e-9)


def test_batches_give_the_same_value(monkeypatch):
    X, Y = samples(12, 300, 211, 7)
    whole = sliced_wasserstein(X, Y, n_projections=50, random_state=1)
    monkeypatch.setattr(_wasserstein, "_BLOCK_BYTES", 20_000)  # 1 projection a batch, rows in chunks
    assert sliced_wasserstein(X, Y, n_projections=50, random_state=1) == pytest.approx(whole, rel=1e-12)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    want = sliced_wasserstein(
        X32.astype(np.float64), Y32.astype(np.float64), n_projections=50, random_state=1
    )
    assert sliced_wasserstein(X32, Y32, n_projections=50, random_state=1) == pytest.approx(want, rel=1e-12)


def test_inputs_untouched_and_dataframes():
    X, Y = samples(13, 40, 30, 3)
    X32 = X.astype(np.float32)
    X_copy, X32_copy = X.copy(), X32.copy()
    value = sliced_wasserstein(X, Y, random_state=0)
    sliced_wasserstein(X32, Y, random_state=0)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(X32, X32_copy)
    assert sliced_wasserstein(pd.DataFrame(X), pd.DataFrame(Y), random_state=0) == value


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_projections": 0}, ValueError, "n_projections"),
        ({"n_projections": 2.0}, TypeError, "n_projections"),
        ({"p": 0.5}, ValueError, "'p'"),
        ({"p": float("nan")}, ValueError, "'p'"),
        ({"p": float("inf")}, ValueError, "'p'"),
        ({"p": "2"}, TypeError, "'p'"),
        ({"random_state": -1}, ValueError, "random_state"),
        ({"random_state": "seed"}, ValueError, "random_state"),
    ],
)
def test_bad_parameters(kwargs, error, match):
    X, Y = samples(14, 10, 10, 2)
    with pytest.raises(error, match=match):
        sliced_wasserstein(X, Y, **kwargs)


def test_bad_samples():
    X, Y = samples(15, 10, 12, 3)
    with pytest.raises(ValueError, match="3 features but Y has 2"):
        sliced_wasserstein(X, Y[:, :2])
    bad = Y.copy()
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        sliced_wasserstein(X, bad)
    with pytest.raises(ValueError, match="0 sample"):
        sliced_wasserstein(X, Y[:0])
    with pytest.raises(ValueError, match="2D"):
        sliced_wasserstein(X[:, 0], Y[:, 0])


def test_directions_beyond_the_limits_are_refused() -> None:
    X = np.random.default_rng(0).random((40, 3))
    with pytest.raises(scalegen.LimitError, match="projection directions"):
        sliced_wasserstein(X, X, n_projections=10**10)
