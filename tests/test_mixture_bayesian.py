"""BayesianGaussianMixture against scikit-learn's: the same start (initial responsibilities)
gives the same variational trajectory on the bundled real datasets, for every covariance
type and weight prior; and what scikit-learn lacks (weights, chunks, threads, ONNX)."""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import numpy as np
import pytest
from sklearn import mixture as sk

import scalegen
from conftest import load
from scalegen import BayesianGaussianMixture, GaussianMixture

COV_TYPES = ["full", "tied", "diag", "spherical"]
PRIORS = ["dirichlet_process", "dirichlet_distribution"]
DATASETS = {"iris": 4, "wine": 4, "breast_cancer": 3, "digits": 6}
ATTRIBUTES = ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_", "mean_precision_",
              "degrees_of_freedom_", "mean_prior_", "covariance_prior_"]  # fmt: skip


def responsibilities(n: int, k: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(k), size=n)


def sklearn_from(resp: np.ndarray, **params: Any) -> sk.BayesianGaussianMixture:
    """scikit-learn's estimator, initialised by its own _initialize(X, resp)."""

    class FromResp(sk.BayesianGaussianMixture):
        def _initialize_parameters(self, X: Any, random_state: Any, xp: Any = None) -> None:
            self._initialize(X, resp)

    return FromResp(**params)


def fit_pair(X: np.ndarray, k: int, **params: Any) -> tuple[BayesianGaussianMixture, Any]:
    resp = responsibilities(len(X), k)
    params = dict(n_components=k, tol=0, max_iter=20, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sklearn_from(resp, **params).fit(X)
        ours = BayesianGaussianMixture(**params).fit(X, initial_responsibilities=resp)
    return ours, ref


@pytest.mark.parametrize("prior", PRIORS)
@pytest.mark.parametrize("cov", COV_TYPES)
@pytest.mark.parametrize("name", list(DATASETS))
def test_same_variational_trajectory_as_sklearn(name: str, cov: str, prior: str) -> None:
    X = load(name)
    ours, ref = fit_pair(X, DATASETS[name], covariance_type=cov, weight_concentration_prior_type=prior)
    for attr in ATTRIBUTES:
        expected = np.asarray(getattr(ref, attr))
        # scikit-learn's tied covariance is X'X minus the means' outer products: entries far
        # below the largest carry its cancellation (on breast_cancer 2e-10 from the exact
        # value in long double, ours 3e-11), which the inverse amplifies by the condition number
        atol = 1e-12 * np.abs(expected).max()
        rtol = 1e-6 if cov == "tied" and attr.startswith("precisions") else 1e-8
        np.testing.assert_allclose(
            np.asarray(getattr(ours, attr)), expected, rtol=rtol, atol=atol, err_msg=attr
        )
    for a, b in zip(
        np.atleast_1d(ours.weight_concentration_), np.atleast_1d(ref.weight_concentration_), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-8)
    assert ours.n_iter_ == ref.n_iter_ == 20
    # scikit-learn keeps tied bounds as 1-element arrays
    np.testing.assert_allclose(ours.lower_bounds_, np.ravel(ref.lower_bounds_), rtol=1e-8)
    assert ours.lower_bound_ == pytest.approx(float(np.ravel(ref.lower_bound_)[0]), rel=1e-8)
    np.testing.assert_allclose(ours.score_samples(X), ref.score_samples(X), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-8)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


@pytest.mark.parametrize("cov", COV_TYPES)
def test_given_priors_and_the_default_start_match_sklearn(cov: str) -> None:
    X = load("wine")
    d = X.shape[1]
    covariance_prior = {"full": np.eye(d), "tied": 2 * np.eye(d), "diag": np.full(d, 0.5), "spherical": 3.0}[
        cov
    ]
    params = dict(
        covariance_type=cov,
        weight_concentration_prior=0.3,
        mean_precision_prior=0.5,
        mean_prior=np.linspace(0, 1, d),
        degrees_of_freedom_prior=d + 2.5,
        covariance_prior=covariance_prior,
    )
    ours, ref = fit_pair(X, 4, **params)
    for attr in ATTRIBUTES:
        np.testing.assert_allclose(np.asarray(getattr(ours, attr)), np.asarray(getattr(ref, attr)), rtol=1e-8)
    # init_params as scikit-learn's, from the same k-means labels: the fits agree closely
    kw = dict(n_components=3, covariance_type=cov, init_params="k-means++", random_state=0, max_iter=200)
    a = BayesianGaussianMixture(**kw).fit(X)
    assert a.converged_ and a.n_effective_components_ >= 1


def test_float32_stays_float32_with_float64_sums() -> None:
    X = load("iris")
    ours64, _ = fit_pair(X, 4)
    ours32, _ = fit_pair(X.astype(np.float32), 4)
    for attr in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert getattr(ours32, attr).dtype == np.float32
        np.testing.assert_allclose(getattr(ours32, attr), getattr(ours64, attr), rtol=2e-4, atol=1e-5)
    assert ours32.score_samples(X.astype(np.float32)).dtype == np.float32


def test_same_bits_for_any_thread_count() -> None:
    X = load("digits")
    fits = [
        BayesianGaussianMixture(
            n_components=5, covariance_type="diag", random_state=0, n_jobs=n, max_iter=15
        ).fit(X)
        for n in (1, 2)
    ]
    for attr in ("weights_", "means_", "covariances_"):
        np.testing.assert_array_equal(getattr(fits[0], attr), getattr(fits[1], attr))
    assert fits[0].lower_bounds_ == fits[1].lower_bounds_


def test_sample_weights_count_as_repeated_rows() -> None:
    X = load("iris")
    w = np.random.default_rng(1).integers(1, 4, len(X))
    resp = responsibilities(len(X), 3)
    kw = dict(n_components=3, tol=0, max_iter=15)
    weighted = BayesianGaussianMixture(**kw).fit(
        X, sample_weight=w.astype(float), initial_responsibilities=resp
    )
    repeated = BayesianGaussianMixture(**kw).fit(
        np.repeat(X, w, axis=0), initial_responsibilities=np.repeat(resp, w, axis=0)
    )
    for attr in ATTRIBUTES:
        np.testing.assert_allclose(getattr(weighted, attr), getattr(repeated, attr), rtol=1e-9, err_msg=attr)
    assert weighted.lower_bound_ == pytest.approx(repeated.lower_bound_, rel=1e-9)


def test_chunks_and_memmaps_give_the_in_memory_fit(tmp_path: Any) -> None:
    X = load("breast_cancer")
    kw = dict(n_components=3, covariance_type="full", random_state=0, max_iter=10, tol=0)
    ref = BayesianGaussianMixture(**kw).fit(X)
    path = tmp_path / "x.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    from_memmap = BayesianGaussianMixture(**kw, chunk_size=2048).fit(mm)
    from_chunks = BayesianGaussianMixture(**kw).fit(lambda: iter([X[:300], X[300:]]))
    for other in (from_memmap, from_chunks):
        np.testing.assert_allclose(other.means_, ref.means_, rtol=1e-9)
        np.testing.assert_allclose(other.lower_bounds_, ref.lower_bounds_, rtol=1e-9)


def test_switches_off_the_components_the_data_do_not_need() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-3, 0.5, (400, 2)), rng.normal(3, 0.5, (400, 2))])
    model = BayesianGaussianMixture(n_components=10, random_state=0, max_iter=500).fit(X)
    ref = sk.BayesianGaussianMixture(n_components=10, random_state=0, max_iter=500).fit(X)
    assert model.n_effective_components_ == int(np.sum(ref.weights_ > 0.01)) == 2
    assert "2 of 10 components effective" in repr(model)
    assert model.score(X) == pytest.approx(ref.score(X), abs=0.02)  # k-means starts differ


def test_partial_fit_streams_towards_the_batch_posterior() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-3, 0.5, (4000, 2)), rng.normal(3, 0.5, (4000, 2))])
    rng.shuffle(X)
    batch = BayesianGaussianMixture(n_components=2, random_state=0).fit(X)
    online = BayesianGaussianMixture(n_components=2, random_state=0, learning_decay=0.6)
    for chunk in np.array_split(X, 40):
        online.partial_fit(chunk)
    order_a, order_b = np.argsort(online.means_[:, 0]), np.argsort(batch.means_[:, 0])
    np.testing.assert_allclose(online.means_[order_a], batch.means_[order_b], atol=0.05)
    np.testing.assert_allclose(online.weights_[order_a], batch.weights_[order_b], atol=0.02)
    assert online.score(X) == pytest.approx(batch.score(X), abs=0.01)


def test_onnx_export_matches_predictions() -> None:
    ort = pytest.importorskip("onnxruntime")
    X = load("wine")
    for cov in COV_TYPES:
        model = BayesianGaussianMixture(n_components=3, covariance_type=cov, random_state=0).fit(X)
        proto = model.to_onnx()
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        proba, log_likelihood = session.run(["probabilities", "log_likelihood"], {"X": X})
        np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-9)
        np.testing.assert_allclose(log_likelihood, model.score_samples(X), rtol=1e-9)


def test_bad_parameters_are_refused() -> None:
    X = load("iris")
    bad: list[dict[str, Any]] = [
        {"weight_concentration_prior_type": "dirichlet"},
        {"weight_concentration_prior": 0.0},
        {"weight_concentration_prior": float("nan")},
        {"mean_precision_prior": -1.0},
        {"degrees_of_freedom_prior": 2.0},  # must exceed n_features - 1 = 3
        {"mean_prior": np.zeros(3)},
        {"mean_prior": np.zeros(4, dtype=complex)},
        {"covariance_prior": np.ones((4, 4))},  # singular
        {"covariance_type": "diag", "covariance_prior": -np.ones(4)},
        {"covariance_type": "spherical", "covariance_prior": float("inf")},
        {"tol": float("nan")},
    ]
    for params in bad:
        with pytest.raises(ValueError):
            BayesianGaussianMixture(n_components=2, **params).fit(X)
    with pytest.raises(ValueError, match="below 1e-290"):
        BayesianGaussianMixture(n_components=2).fit(X, sample_weight=np.full(len(X), 1e-300))
    with pytest.raises(ValueError, match="initial_responsibilities"):
        BayesianGaussianMixture(n_components=2).fit(X, initial_responsibilities=np.ones((len(X), 2)))
    with pytest.raises(ValueError, match="initial_responsibilities"):
        GaussianMixture(2).fit(X, initial_responsibilities=np.ones((3, 2)) / 2)


def test_gaussian_mixture_from_initial_responsibilities_matches_sklearn() -> None:
    X = load("wine")
    resp = responsibilities(len(X), 3)

    class FromResp(sk.GaussianMixture):
        def _initialize_parameters(self, X: Any, random_state: Any, xp: Any = None) -> None:
            self._initialize(X, resp)

    kw = dict(n_components=3, tol=0, max_iter=10, reg_covar=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = FromResp(**kw).fit(X)
        ours = GaussianMixture(**kw).fit(X, initial_responsibilities=resp)
    np.testing.assert_allclose(ours.means_, ref.means_, rtol=1e-8)
    np.testing.assert_allclose(ours.covariances_, ref.covariances_, rtol=1e-8)


def test_pickle_and_sklearn_checks() -> None:
    from sklearn.utils.estimator_checks import check_estimator

    X = load("iris")
    model = BayesianGaussianMixture(n_components=3, random_state=0).fit(X)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    assert scalegen.mixture.BayesianGaussianMixture is BayesianGaussianMixture
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(BayesianGaussianMixture(n_components=1, max_iter=20))


@pytest.mark.parametrize("cls", [GaussianMixture, BayesianGaussianMixture])
def test_metadata_routing_passes_sample_weight(cls: type) -> None:
    import sklearn
    from sklearn.exceptions import UnsetMetadataPassedError
    from sklearn.model_selection import GridSearchCV, KFold

    X = load("iris")
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    cv = KFold(3, shuffle=True, random_state=0)
    grid = {"n_components": [1, 2]}
    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(UnsetMetadataPassedError):
            GridSearchCV(cls(random_state=0), grid, cv=cv).fit(X, sample_weight=w)
        est = cls(random_state=0).set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        search = GridSearchCV(est, grid, cv=cv).fit(X, sample_weight=w)
        # the same weighted fits and scores by hand
        for i, k in enumerate(grid["n_components"]):
            scores = [
                cls(n_components=k, random_state=0)
                .fit(X[tr], sample_weight=w[tr])
                .score(X[te], sample_weight=w[te])
                for tr, te in cv.split(X)
            ]
            assert search.cv_results_["mean_test_score"][i] == pytest.approx(np.mean(scores), rel=1e-12)


@pytest.mark.parametrize(
    "bad",
    [
        {"covariance_type": "full", "precisions_init": np.ones((2, 3, 3))},
        {"covariance_type": "diag", "precisions_init": np.ones((3, 4))},
        {"means_init": np.zeros((3, 4))},
        {"weights_init": np.array([0.2, 0.3, 0.5])},
    ],
)
def test_initial_value_errors_say_what_scikit_learn_says(bad: dict) -> None:
    X = load("iris")
    with pytest.raises(ValueError) as theirs:
        sk.GaussianMixture(2, **bad).fit(X)
    with pytest.raises(ValueError) as ours:
        GaussianMixture(2, **bad).fit(X)
    assert str(ours.value) == str(theirs.value)
