"""GaussianMixture behaviour beyond parity: weights, determinism, pickling, bad input."""

from __future__ import annotations

import pickle
import threading
import warnings

import numpy as np
import pytest

import scalegen
from conftest import load
from scalegen import GaussianMixture
from scalegen.utils._base import ConvergenceWarning, NotFittedError

COV_TYPES = ["full", "tied", "diag", "spherical"]


@pytest.mark.parametrize("cov", COV_TYPES)
def test_integer_sample_weights_equal_repeated_rows(blobs, cov):
    rng = np.random.default_rng(3)
    w = rng.integers(0, 4, size=blobs.shape[0])
    init = dict(means_init=blobs[[0, 250, 450]], weights_init=np.full(3, 1 / 3), tol=0, max_iter=15)
    weighted = GaussianMixture(3, covariance_type=cov, **init).fit(blobs, sample_weight=w)
    repeated = GaussianMixture(3, covariance_type=cov, **init).fit(np.repeat(blobs, w, axis=0))
    for attr in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(weighted, attr), getattr(repeated, attr), rtol=1e-9, atol=1e-12)
    assert weighted.lower_bound_ == pytest.approx(repeated.lower_bound_, rel=1e-10)


@pytest.mark.parametrize("cov", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bit_identical_across_thread_counts(cov, dtype):
    X = load("digits").astype(dtype)
    fits = [
        GaussianMixture(5, covariance_type=cov, random_state=1, n_jobs=n, max_iter=10, reg_covar=1e-2).fit(X)
        for n in (1, 2)
    ]
    for attr in ("weights_", "means_", "covariances_", "lower_bounds_"):
        np.testing.assert_array_equal(np.asarray(getattr(fits[0], attr)), np.asarray(getattr(fits[1], attr)))


def test_concurrent_fits_from_python_threads(blobs):
    ref = GaussianMixture(3, random_state=0).fit(blobs)
    results = [None] * 4

    def work(i):
        results[i] = GaussianMixture(3, random_state=0).fit(blobs).means_

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for means in results:
        np.testing.assert_array_equal(means, ref.means_)


def test_pickle_round_trip_and_stats_pickle(blobs):
    g = GaussianMixture(3, random_state=0).fit(blobs)
    g2 = pickle.loads(pickle.dumps(g))
    np.testing.assert_array_equal(g.predict_proba(blobs), g2.predict_proba(blobs))
    from scalegen import _core

    p = g._fitted_state()
    stats = _core.gmm_e_step(blobs, None, "full", p.weights, p.means, p.prec_chol, 2)
    again = pickle.loads(pickle.dumps(stats))
    np.testing.assert_array_equal(again.nk, stats.nk)
    assert again.log_likelihood == stats.log_likelihood


def test_chunk_statistics_merge_to_the_whole(blobs):
    from scalegen import _core

    g = GaussianMixture(3, random_state=0).fit(blobs)
    p = g._fitted_state()
    whole = _core.gmm_e_step(blobs, None, "full", p.weights, p.means, p.prec_chol, 2)
    parts = _core.gmm_e_step(blobs[:200], None, "full", p.weights, p.means, p.prec_chol, 2)
    parts += _core.gmm_e_step(blobs[200:], None, "full", p.weights, p.means, p.prec_chol, 2)
    np.testing.assert_allclose(parts.nk, whole.nk, rtol=1e-12)
    np.testing.assert_allclose(parts.s1, whole.s1, rtol=1e-10, atol=1e-10)
    assert parts.log_likelihood == pytest.approx(whole.log_likelihood, rel=1e-12)


@pytest.mark.parametrize("cov", COV_TYPES)
def test_sample_moments(cov):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal([0, 0], [1, 2], (3000, 2)), rng.normal([8, 3], [2, 0.5], (1000, 2))])
    g = GaussianMixture(2, covariance_type=cov, random_state=0).fit(X)
    Z, labels = g.sample(200_000)
    assert Z.shape == (200_000, 2) and Z.dtype == np.float64
    np.testing.assert_allclose(np.bincount(labels) / len(labels), g.weights_, atol=5e-3)
    for c in range(2):
        Zc = Z[labels == c]
        np.testing.assert_allclose(Zc.mean(0), g.means_[c], atol=0.03)
        if cov == "full":
            cov_c = g.covariances_[c]
        elif cov == "tied":
            cov_c = g.covariances_
        elif cov == "diag":
            cov_c = np.diag(g.covariances_[c])
        else:
            cov_c = np.eye(2) * g.covariances_[c]
        np.testing.assert_allclose(np.cov(Zc.T), cov_c, atol=0.05 * np.abs(cov_c).max())


def test_attributes_api_and_predict_consistency(blobs):
    g = GaussianMixture(3, random_state=0)
    labels = g.fit_predict(blobs)
    np.testing.assert_array_equal(labels, g.predict(blobs))
    assert g.n_features_in_ == 2 and g.converged_ and 1 <= g.n_iter_ <= 100
    assert len(g.lower_bounds_) == g.n_iter_ and g.lower_bounds_[-1] == g.lower_bound_
    np.testing.assert_allclose(g.predict_proba(blobs).sum(1), 1.0)
    np.testing.assert_allclose(g.precisions_, np.linalg.inv(g.covariances_), rtol=1e-8)
    assert g.score(blobs) == pytest.approx(g.score_samples(blobs).mean())
    assert g.get_params()["n_components"] == 3
    assert g.set_params(n_components=4) is g and g.n_components == 4
    assert "n_components=4" in repr(g)


def test_feature_names_from_dataframe(blobs):
    import pandas as pd

    df = pd.DataFrame(blobs, columns=["a", "b"])
    g = GaussianMixture(2, random_state=0).fit(df)
    assert list(g.feature_names_in_) == ["a", "b"]
    np.testing.assert_allclose(g.score_samples(df), g.score_samples(blobs))


def test_warm_start_continues(blobs):
    g = GaussianMixture(3, random_state=0, warm_start=True, max_iter=2, tol=0)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        g.fit(blobs)
    first = g.lower_bound_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        g.fit(blobs)
    assert g.lower_bound_ >= first - 1e-12


def test_verbose_reports_progress(blobs, capsys):
    GaussianMixture(3, random_state=0, verbose=2, verbose_interval=1).fit(blobs)
    out = capsys.readouterr()
    assert "Initialization 0" in out.out and "Initialization converged" in out.out


def test_user_arrays_are_not_modified(blobs):
    X = blobs.copy()
    w = np.ones(len(X))
    means = X[:3].copy()
    GaussianMixture(3, means_init=means, random_state=0).fit(X, sample_weight=w)
    np.testing.assert_array_equal(X, blobs)
    np.testing.assert_array_equal(means, blobs[:3])
    assert (w == 1).all()


BAD_X = [
    (np.array([[1.0, np.nan], [2.0, 3.0], [1.0, 1.0]]), "NaN"),
    (np.array([[1.0, np.inf], [2.0, 3.0], [1.0, 1.0]]), "infinity"),
    (np.arange(10.0), "Expected 2D array"),
    (np.zeros((0, 2)), "minimum of 2"),
    (np.zeros((5, 0)), "0 feature"),
    (np.array([["a", "b"], ["c", "d"]]), "numeric"),
]


@pytest.mark.parametrize(("X", "msg"), BAD_X)
def test_bad_X_is_a_clear_value_error(X, msg):
    with pytest.raises(ValueError, match=msg):
        GaussianMixture(1).fit(X)


@pytest.mark.parametrize(
    ("params", "msg"),
    [
        ({"n_components": 0}, "n_components"),
        ({"covariance_type": "dense"}, "covariance_type"),
        ({"init_params": "magic"}, "init_params"),
        ({"tol": -1.0}, "tol"),
        ({"reg_covar": float("nan")}, "reg_covar"),
        ({"max_iter": 1.5}, "max_iter"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"weights_init": [0.5, 0.6]}, "normalized"),
        ({"weights_init": [0.5]}, "shape"),
        ({"means_init": np.zeros((3, 2))}, "shape"),
        ({"precisions_init": np.stack([np.eye(2), -np.eye(2)])}, "positive-definite"),
        ({"precisions_init": np.zeros((2, 3, 3))}, "shape"),
    ],
)
def test_bad_parameters(blobs, params, msg):
    with pytest.raises(ValueError, match=msg):
        GaussianMixture(**{"n_components": 2, **params}).fit(blobs)


def test_bad_sample_weights(blobs):
    with pytest.raises(ValueError, match="Negative"):
        GaussianMixture(2).fit(blobs, sample_weight=-np.ones(len(blobs)))
    with pytest.raises(ValueError, match="shape"):
        GaussianMixture(2).fit(blobs, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture(2).fit(blobs, sample_weight=np.full(len(blobs), np.nan))
    with pytest.raises(ValueError, match="sums to zero"):
        GaussianMixture(2).fit(blobs, sample_weight=np.zeros(len(blobs)))


def test_fewer_samples_than_components():
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(5).fit(np.random.default_rng(0).normal(size=(3, 2)))


def test_predict_before_fit_and_wrong_feature_count(blobs):
    with pytest.raises(NotFittedError, match="not fitted"):
        GaussianMixture(2).predict(blobs)
    g = GaussianMixture(2, random_state=0).fit(blobs)
    with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture is expecting 2"):
        g.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="n_samples"):
        g.sample(0)


def test_collapsed_component_message():
    X = np.vstack([np.zeros((50, 2)), np.ones((50, 2))])  # two points, repeated
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        GaussianMixture(2, reg_covar=0, random_state=0).fit(X)


def test_sklearn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    # check_estimator raises on the first failing check; every check passes.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(GaussianMixture(n_components=1, max_iter=20))


def test_n_jobs_default_comes_from_package_setting(blobs):
    with scalegen.threads(1):
        GaussianMixture(2, random_state=0).fit(blobs)


def test_fit_leaves_the_callers_subnormal_mode_alone(blobs):
    """The kernels flush subnormals (FTZ/DAZ) only while they run."""
    GaussianMixture(3, covariance_type="diag", random_state=0).fit(blobs)
    tiny = np.array([5e-324]) * 1.0
    assert tiny[0] != 0.0
