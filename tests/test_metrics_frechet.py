"""The Fréchet distance (scalegen.metrics.frechet_distance, feature_statistics) against the
direct formula with scipy.linalg.sqrtm, an exact low-rank formula, and a NumPy forward pass of
a trained classifier's penultimate layer."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from numpy.lib.stride_tricks import sliding_window_view

import scalegen
from scalegen.datasets import load_digits
from scalegen.metrics import FeatureStatistics, extract_features, feature_statistics, frechet_distance
from scalegen.nn import Sequential
from scalegen.nn.layers import Activation, Conv2D, Dense, Dropout, Flatten, MaxPooling2D


# ---- references --------------------------------------------------------------------------------
def sqrtm_reference(X, Y):
    """FID's formula as the usual tools compute it: sqrtm of S_X S_Y, its real part."""
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    s1, s2 = np.cov(X, rowvar=False, ddof=1), np.cov(Y, rowvar=False, ddof=1)
    s1, s2 = np.atleast_2d(s1), np.atleast_2d(s2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # singular products: scipy warns, the real part is right
        covmean = scipy.linalg.sqrtm(s1 @ s2)
    diff = X.mean(0) - Y.mean(0)
    return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real


def low_rank_reference(X, Y):
    """Exact when rows are few: with S = L L^T, L = Xc^T / sqrt(n - 1), the trace term is the
    nuclear norm of L_X^T L_Y = Xc Yc^T / sqrt((n - 1)(m - 1)) (an n x m matrix)."""
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    xc, yc = X - X.mean(0), Y - Y.mean(0)
    n, m = len(X), len(Y)
    nuclear = np.linalg.svd(xc @ yc.T / np.sqrt((n - 1) * (m - 1)), compute_uv=False).sum()
    diff = X.mean(0) - Y.mean(0)
    return diff @ diff + (xc**2).sum() / (n - 1) + (yc**2).sum() / (m - 1) - 2 * nuclear


def correlated(rng, n, d, scale=1.0, shift=0.0):
    return shift + scale * rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) / np.sqrt(d)


# ---- the formula -------------------------------------------------------------------------------
@pytest.mark.parametrize("n, m, d", [(500, 400, 1), (300, 350, 8), (400, 300, 64), (200, 150, 32)])
def test_matches_sqrtm_formula(n, m, d):
    rng = np.random.default_rng(d)
    X, Y = correlated(rng, n, d), correlated(rng, m, d, scale=1.5, shift=0.3)
    got = frechet_distance(X, Y)
    assert type(got) is float
    assert got == pytest.approx(sqrtm_reference(X, Y), rel=1e-9)
    assert got == pytest.approx(low_rank_reference(X, Y), rel=1e-9)
    assert frechet_distance(Y, X) == pytest.approx(got, rel=1e-12)


@pytest.mark.parametrize("n, m, d", [(20, 30, 64), (40, 10, 64), (2, 2, 16), (5, 64, 32)])
def test_rank_deficient_covariances(n, m, d):
    """Fewer rows than features: singular covariances, no complex parts, the exact value."""
    rng = np.random.default_rng(n + m)
    X, Y = correlated(rng, n, d), correlated(rng, m, d, scale=0.7, shift=-0.2)
    got = frechet_distance(X, Y)
    assert got == pytest.approx(low_rank_reference(X, Y), rel=1e-10)
    assert got == pytest.approx(sqrtm_reference(X, Y), rel=1e-6)
    # the null space adds nothing: no square roots of rounding noise (sqrtm_reference(X, X) is
    # off by up to 1e-4 on these)
    assert frechet_distance(X, X) <= 1e-14 * np.trace(np.cov(X, rowvar=False))


def test_one_dimension_closed_form():
    rng = np.random.default_rng(0)
    x, y = rng.normal(1.0, 2.0, 300), rng.normal(-0.5, 0.5, 200)
    want = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    assert frechet_distance(x[:, None], y[:, None]) == pytest.approx(want, rel=1e-12)


def test_invariances():
    rng = np.random.default_rng(1)
    X = correlated(rng, 100, 12)
    shift = rng.standard_normal(12)
    assert frechet_distance(X, X) == 0.0
    assert frechet_distance(X, X + shift) == pytest.approx(shift @ shift, rel=1e-9)
    q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    Y = correlated(rng, 80, 12, shift=1.0)
    assert frechet_distance(X @ q, Y @ q) == pytest.approx(frechet_distance(X, Y), rel=1e-9)


def test_float32_accumulates_in_float64():
    """Rows far from the origin: float32 sums would lose the spread; float64 ones keep it."""
    rng = np.random.default_rng(2)
    X = (1e4 + correlated(rng, 3000, 16)).astype(np.float32)
    Y = (1e4 + correlated(rng, 2000, 16, scale=1.2)).astype(np.float32)
    want = sqrtm_reference(X.astype(np.float64), Y.astype(np.float64))
    assert frechet_distance(X, Y) == pytest.approx(want, rel=1e-8)
    assert frechet_distance(X, Y.astype(np.float64)) == pytest.approx(want, rel=1e-8)


def test_blocks_and_statistics(monkeypatch):
    from scalegen.metrics import _frechet

    rng = np.random.default_rng(3)
    X, Y = correlated(rng, 1000, 10), correlated(rng, 700, 10, shift=0.5)
    whole = frechet_distance(X, Y)
    monkeypatch.setattr(_frechet, "_BLOCK_BYTES", 8 * 10 * 7)  # 7 rows per block
    assert frechet_distance(X, Y) == pytest.approx(whole, rel=1e-12)
    stats = feature_statistics(X)
    np.testing.assert_allclose(stats.mean, X.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.cov, np.cov(X, rowvar=False), rtol=1e-10, atol=1e-14)
    assert stats.n_samples == 1000 and not stats.mean.flags.writeable and not stats.cov.flags.writeable
    assert frechet_distance(stats, Y) == pytest.approx(whole, rel=1e-12)
    assert frechet_distance(Y, stats) == pytest.approx(whole, rel=1e-12)
    assert frechet_distance(stats, feature_statistics(Y)) == pytest.approx(whole, rel=1e-12)
    user = FeatureStatistics(X.mean(0), np.cov(X, rowvar=False), len(X))
    assert frechet_distance(user, Y) == pytest.approx(whole, rel=1e-9)


def test_inputs_untouched_and_dataframes():
    rng = np.random.default_rng(4)
    X, Y = correlated(rng, 50, 4), correlated(rng, 60, 4)
    X_copy, Y_copy = X.copy(), Y.copy()
    value = frechet_distance(X, Y)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(Y, Y_copy)
    assert frechet_distance(pd.DataFrame(X), pd.DataFrame(Y)) == value


# ---- features of a trained classifier ------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    x, y = load_digits()
    return x, y


def tiny_classifier(tail):
    return Sequential(
        [
            Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)),
            MaxPooling2D(2),
            Flatten(),
            Dense(16, activation="relu"),
            *tail,
        ],
        seed=0,
    )


@pytest.fixture(scope="module", params=["softmax_dense", "dropout_then_activation"])
def trained(request, digits):
    x, y = digits
    tail = (
        [Dense(10, activation="softmax")]
        if request.param == "softmax_dense"
        else [Dropout(0.3), Dense(10), Activation("softmax")]
    )
    model = tiny_classifier(tail)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x[:1200], y[:1200], epochs=2, batch_size=64, verbose=0)
    return model


def numpy_features(model, x):
    """The Dense(16, relu) outputs in float64 from get_weights(): conv (valid) + relu, 2x2 max
    pool, channels-last flatten, dense + relu."""
    kernel, bias, w, b = (np.asarray(a, np.float64) for a in model.get_weights()[:4])
    x = np.asarray(x, np.float64)
    windows = sliding_window_view(x, (3, 3), axis=(1, 2))  # (n, 6, 6, 1, 3, 3)
    h = np.maximum(np.einsum("nhwcij,ijco->nhwo", windows, kernel) + bias, 0)
    n, hh, ww, c = h.shape
    h = h.reshape(n, hh // 2, 2, ww // 2, 2, c).max(axis=(2, 4))
    return np.maximum(h.reshape(n, -1) @ w + b, 0)


def test_features_model_matches_numpy_forward(trained, digits):
    x, _ = digits
    real, fake = x[:600], x[1200:]
    fake = np.clip(fake + 0.3 * np.random.default_rng(5).standard_normal(fake.shape), 0, 1).astype(np.float32)
    before = trained.predict(real[:20])
    got = frechet_distance(real, fake, features=trained)
    fr, ff = numpy_features(trained, real), numpy_features(trained, fake)
    assert fr.shape == (600, 16)
    np.testing.assert_allclose(extract_features(trained, real), fr, rtol=1e-5, atol=1e-5)
    assert got == pytest.approx(sqrtm_reference(fr, ff), rel=1e-4)
    assert got == pytest.approx(frechet_distance(fr, ff), rel=1e-4)
    # a reference set's statistics computed once; a callable as the features
    ref = feature_statistics(real, features=trained)
    assert ref.mean.shape == (16,)
    assert frechet_distance(ref, fake, features=trained) == pytest.approx(got, rel=1e-12)
    assert frechet_distance(real, fake, features=lambda a: numpy_features(trained, a)) == frechet_distance(
        fr, ff
    )
    np.testing.assert_array_equal(trained.predict(real[:20]), before)  # the model is untouched


def test_features_order_the_samples(trained, digits):
    """FID on a classifier's features: a held-out split is closer than noise is."""
    x, _ = digits
    noise = np.random.default_rng(6).uniform(0, 1, (300, 8, 8, 1)).astype(np.float32)
    held_out = frechet_distance(x[:600], x[1200:1500], features=trained)
    assert held_out < 0.2 * frechet_distance(x[:600], noise, features=trained)


def test_features_model_errors(digits):
    x, _ = digits
    with pytest.raises(ValueError, match="not built"):
        frechet_distance(x[:10], x[10:20], features=Sequential([Flatten(), Dense(3)]))
    no_dense = Sequential([Flatten(input_shape=(8, 8, 1))])
    with pytest.raises(ValueError, match="Dense"):
        frechet_distance(x[:10], x[10:20], features=no_dense)
    only_dense = Sequential([Dense(3, input_shape=(5,))])
    with pytest.raises(ValueError, match="Dense"):
        frechet_distance(np.ones((4, 5)), np.ones((4, 5)), features=only_dense)
    with pytest.raises(TypeError, match="features"):
        frechet_distance(x[:10], x[10:20], features="inception")
    with pytest.raises(ValueError, match="one row per input"):
        frechet_distance(x[:10], x[10:20], features=lambda a: a[:3].reshape(3, -1))
    with pytest.raises(ValueError, match="shape"):  # inputs the model does not take
        frechet_distance(np.ones((4, 5)), np.ones((4, 5)), features=tiny_classifier([Dense(10)]))


# ---- bad input -------------------------------------------------------------------------------
def test_bad_input():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((10, 3))
    with pytest.raises(ValueError, match="3 features but Y has 2"):
        frechet_distance(X, rng.standard_normal((10, 2)))
    with pytest.raises(ValueError, match="3 features but Y has 2"):
        frechet_distance(feature_statistics(X), rng.standard_normal((10, 2)))
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(X, bad)
    with pytest.raises(ValueError, match="minimum of 2"):
        frechet_distance(X, X[:1])
    with pytest.raises(ValueError, match="minimum of 2"):
        feature_statistics(X[:1])
    with pytest.raises(ValueError, match="2D"):
        frechet_distance(X[:, 0], X[:, 0])
    with pytest.raises(ValueError, match="numeric"):
        frechet_distance(X, np.array([["a", "b", "c"]] * 3, dtype=object))
    with pytest.raises(ValueError, match="shape"):
        FeatureStatistics(np.zeros(3), np.eye(2), 5)
    with pytest.raises(ValueError, match="symmetric"):
        FeatureStatistics(np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), 5)
    with pytest.raises(ValueError, match="2"):
        frechet_distance(FeatureStatistics(np.zeros(3), np.eye(3), 1), X)
    with pytest.raises(ValueError, match="n_samples"):
        FeatureStatistics(np.zeros(3), np.eye(3), 0)


def test_covariances_beyond_the_limits_are_refused() -> None:
    wide = np.zeros((3, 100_000), np.float32)
    with pytest.raises(scalegen.LimitError, match="covariance matrix"):
        frechet_distance(wide, wide + 1)
