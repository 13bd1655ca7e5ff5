"""GaussianMixture given hostile input: data far from the origin, rows far from every
component, sample weights at the ends of float64, complex numbers, divergent starts, and
every numeric parameter fuzzed in a child process under a memory limit
(isolated.run_cases). scikit-learn is the reference wherever it gives an answer."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sklearn import mixture as sk

from fuzz_targets_mixture import ENTRY_POINTS
from isolated import TALLY, odd_values, run_batch
from scalegen import GaussianMixture

COVARIANCES = ("full", "tied", "diag", "spherical")


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(0, 1, (500, 2)), rng.normal(6, 1, (500, 2))])


# ---- numbers far from 1 ---------------------------------------------------------------------
@pytest.mark.parametrize("offset", [1e6, 1e9, -3e9])
def test_kmeans_init_far_from_the_origin_matches_scikit_learn(blobs: np.ndarray, offset: float) -> None:
    X = blobs + offset
    ours = GaussianMixture(2, random_state=0).fit(X)
    ref = sk.GaussianMixture(2, random_state=0).fit(X)
    np.testing.assert_allclose(np.sort(ours.weights_), np.sort(ref.weights_), atol=1e-6)
    assert ours.score(X) == pytest.approx(ref.score(X), abs=1e-6)
    # and the same clusters as the data at the origin
    near = GaussianMixture(2, random_state=0).fit(blobs)
    np.testing.assert_allclose(np.sort(ours.weights_), np.sort(near.weights_), atol=1e-6)


@pytest.mark.parametrize("cov", COVARIANCES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_far_from_every_component_are_minus_inf_and_a_distribution(
    blobs: np.ndarray, cov: str, dtype: type
) -> None:
    X = blobs.astype(dtype)
    ours = GaussianMixture(2, covariance_type=cov, random_state=0).fit(X)
    ref = sk.GaussianMixture(2, covariance_type=cov, random_state=0).fit(X)
    big = np.finfo(dtype).max / 4
    Z = np.array([[big, 1.0], [1.0, 2.0], [-big, big], [3.0, 3.0], [1e30, -1e30]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scikit-learn overflows on its way to -inf
        expected = ref.score_samples(Z)
    # scikit-learn's expansion for diag and spherical gives inf - inf = NaN past the range
    expected = np.where(np.isnan(expected), -np.inf, expected)
    got = ours.score_samples(Z)
    assert not np.isnan(got).any()
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-4 if dtype == np.float32 else 1e-9)
    proba = ours.predict_proba(Z)
    assert not np.isnan(proba).any() and (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    # rows whose squared distances overflow even float64: the nearest component takes them
    lost = np.abs(Z.astype(np.float64)).max(axis=1) > 1e160
    assert ((proba[lost] == 0) | (proba[lost] == 1)).all()
    np.testing.assert_array_equal(ours.predict(Z), proba.argmax(axis=1))
    assert ours.score(Z) == -np.inf


@pytest.mark.parametrize("scale", [1e308, 1e-320, 2.0**600, 2.0**-600])
def test_weights_at_the_ends_of_float64_fit_as_unit_weights(blobs: np.ndarray, scale: float) -> None:
    unit = GaussianMixture(2, random_state=0).fit(blobs, sample_weight=np.ones(len(blobs)))
    w = np.full(len(blobs), scale)
    kept = w.copy()
    scaled = GaussianMixture(2, random_state=0).fit(blobs, sample_weight=w)
    np.testing.assert_array_equal(w, kept)  # the caller's weights are not touched
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(scaled, name), getattr(unit, name), rtol=1e-12, err_msg=name)
    assert scaled.lower_bound_ == pytest.approx(unit.lower_bound_, rel=1e-12)
    assert scaled.score(blobs, sample_weight=w) == pytest.approx(unit.score(blobs), rel=1e-12)
    stepped = GaussianMixture(2, random_state=0).partial_fit(blobs, sample_weight=w)
    first = GaussianMixture(2, random_state=0).partial_fit(blobs)
    np.testing.assert_allclose(stepped.means_, first.means_, rtol=1e-12)


# ---- refused input --------------------------------------------------------------------------
def test_complex_input_is_refused_not_cast(blobs: np.ndarray) -> None:
    with pytest.raises(ValueError, match="Complex data not supported"):
        GaussianMixture(2).fit(blobs.astype(complex))
    with pytest.raises(ValueError, match="Complex data not supported"):
        GaussianMixture(2).fit(blobs, sample_weight=np.ones(len(blobs), dtype=complex))
    with pytest.raises(ValueError, match="Complex data not supported"):
        GaussianMixture(2, means_init=np.zeros((2, 2), dtype=complex)).fit(blobs)
    fitted = GaussianMixture(2, random_state=0).fit(blobs)
    with pytest.raises(ValueError, match="Complex data not supported"):
        fitted.score_samples(blobs[:3].astype(complex))


@pytest.mark.parametrize("method", ["bic", "aic"])
@pytest.mark.parametrize("X", [None, 3.0, "abc", [[np.nan, 1.0]]])
def test_information_criteria_validate_their_input(blobs: np.ndarray, method: str, X: Any) -> None:
    fitted = GaussianMixture(2, random_state=0).fit(blobs)
    with pytest.raises(ValueError):
        getattr(fitted, method)(X)


@pytest.mark.parametrize("method", ["bic", "aic"])
def test_information_criteria_match_scikit_learn(blobs: np.ndarray, method: str) -> None:
    ours = GaussianMixture(2, random_state=0).fit(blobs)
    ref = sk.GaussianMixture(2, random_state=0).fit(blobs)
    assert getattr(ours, method)(blobs) == pytest.approx(getattr(ref, method)(blobs), rel=1e-9)


def test_thread_counts_beyond_the_cores_warn_and_give_the_same_bits(blobs: np.ndarray) -> None:
    ref = GaussianMixture(2, random_state=0, n_jobs=1).fit(blobs)
    with pytest.warns(UserWarning, match="n_jobs=100000"):
        many = GaussianMixture(2, random_state=0, n_jobs=100_000).fit(blobs)
    np.testing.assert_array_equal(many.means_, ref.means_)
    np.testing.assert_array_equal(many.covariances_, ref.covariances_)


# ---- parity gaps scikit-learn's own tests found ---------------------------------------------
@pytest.mark.parametrize("cov", COVARIANCES)
def test_float32_weights_init_accepted_as_scikit_learn_does(blobs: np.ndarray, cov: str) -> None:
    w = np.array([0.1, 0.2, 0.7], dtype=np.float32)  # sums to 1 only up to float32's rounding
    precisions = {"full": np.stack([np.eye(2)] * 3), "tied": np.eye(2), "diag": np.ones((3, 2))}
    inits = dict(
        weights_init=w,
        means_init=np.array([[0.0, 0.0], [3.0, 3.0], [6.0, 6.0]]),
        precisions_init=precisions.get(cov, np.ones(3)),
    )
    ref = sk.GaussianMixture(3, covariance_type=cov, **inits).fit(blobs)
    ours = GaussianMixture(3, covariance_type=cov, **inits).fit(blobs)  # the same EM trajectory
    assert ours.n_iter_ == ref.n_iter_
    assert ours.score(blobs) == pytest.approx(ref.score(blobs), rel=1e-9)
    with pytest.raises(ValueError, match="should be normalized"):
        GaussianMixture(3, weights_init=np.array([0.1, 0.2, 0.69], dtype=np.float32)).fit(blobs)


def _divergent_start() -> tuple[np.ndarray, dict[str, Any]]:
    """scikit-learn's test_gaussian_mixture_setting_best_params (its issue 18216): two
    components start so narrow that one M-step collapses each onto a single point."""
    X = np.random.RandomState(0).uniform(size=(30, 3))
    means_init = [
        [0.670637869618158, 0.21038256107384043, 0.12892629765485303],
        [0.09394051075844147, 0.5759464955561779, 0.929296197576212],
        [0.5033230372781258, 0.9569852381759425, 0.08654043447295741],
        [0.18578301420435747, 0.5531158970919143, 0.19388943970532435],
        [0.4548589928173794, 0.35182513658825276, 0.568146063202464],
        [0.609279894978321, 0.7929063819678847, 0.9620097270828052],
    ]
    precisions_init = [
        999999.999604483,
        999999.9990869573,
        553.7603944542167,
        204.78596008931834,
        15.867423501783637,
        85.4595728389735,
    ]
    weights_init = [
        0.03333333333333341,
        0.03333333333333341,
        0.06666666666666674,
        0.06666666666666674,
        0.7000000000000001,
        0.10000000000000007,
    ]
    params = dict(
        n_components=6,
        covariance_type="spherical",
        reg_covar=0,
        means_init=np.array(means_init),
        precisions_init=np.array(precisions_init),
        weights_init=np.array(weights_init),
    )
    return X, params


@pytest.mark.parametrize("max_iter", [1, 5])
def test_a_divergent_start_keeps_its_last_defined_parameters(max_iter: int) -> None:
    X, params = _divergent_start()
    with pytest.warns(Warning) as caught:
        ours = GaussianMixture(max_iter=max_iter, random_state=0, **params).fit(X)
    messages = [str(w.message) for w in caught]
    assert any("ill-defined covariance" in m for m in messages), messages
    assert not ours.converged_ and ours.n_iter_ == 1
    # the kept parameters are the initial ones, and lower_bound_ is their likelihood, as
    # scikit-learn scores the same start
    start = sk.GaussianMixture(params["n_components"], covariance_type="spherical")
    start.weights_, start.means_ = params["weights_init"], params["means_init"]
    start.precisions_cholesky_ = np.sqrt(params["precisions_init"])
    np.testing.assert_allclose(ours.means_, start.means_, rtol=1e-15)
    np.testing.assert_allclose(ours.precisions_, params["precisions_init"], rtol=1e-12)
    assert ours.lower_bound_ == pytest.approx(start.score(X), rel=1e-12)
    assert ours.lower_bounds_ == [ours.lower_bound_]
    assert ours.score(X) == pytest.approx(ours.lower_bound_, rel=1e-12)


def test_other_starts_of_a_divergent_fit_are_kept_when_better(blobs: np.ndarray) -> None:
    X, params = _divergent_start()
    # with n_init=3 and no initial values, kmeans starts that do not diverge win
    free = {k: v for k, v in params.items() if not k.endswith("_init")}
    fitted = GaussianMixture(n_init=3, random_state=0, **{**free, "reg_covar": 1e-6}).fit(X)
    assert np.isfinite(fitted.lower_bound_)


# ---- fuzz: every numeric parameter ----------------------------------------------------------
odd = st.one_of(odd_values, st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=3))
FUZZED = {
    "init": [
        "n_components",
        "tol",
        "reg_covar",
        "max_iter",
        "n_init",
        "verbose_interval",
        "learning_decay",
        "n_jobs",
        "chunk_size",
        "init_size",
        "weights_init",
        "means_init",
        "precisions_init",
        "covariance_type",
        "init_params",
        "random_state",
        "verbose",
        "warm_start",
    ],
    "variational": [
        "weight_concentration_prior",
        "mean_precision_prior",
        "degrees_of_freedom_prior",
        "covariance_prior",
        "mean_prior",
        "weight_concentration_prior_type",
        "covariance_type",
        "reg_covar",
        "tol",
    ],
    "fit": ["sample_weight"],
    "score": ["sample_weight"],
    "sample": ["n_samples"],
}
assert set(FUZZED) == set(ENTRY_POINTS)


@st.composite
def param_cases(draw: Any) -> tuple[str, dict[str, Any]]:
    entry = draw(st.sampled_from(sorted(FUZZED)))
    name = draw(st.sampled_from(FUZZED[entry]))
    value = draw(odd)
    if name == "sample_weight" and isinstance(value, list):
        value = np.resize(np.array(value), 120)  # one weight per row, odd values among them
    # valid but slow requests are not what is fuzzed: millions of components or samples
    if name in ("n_components", "n_init", "n_samples") and isinstance(value, int) and value > 200:
        value = 200 if name != "n_components" else 121  # more components than rows: refused
    if name == "max_iter" and isinstance(value, int) and value > 200:
        value = 200
    return entry, {name: value}


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(st.lists(param_cases(), min_size=60, max_size=60))
def test_fuzz_numeric_parameters(cases: list[Any]) -> None:
    bases = [("init", {"n_components": 2}), ("fit", {}), ("score", {}), ("sample", {"n_samples": 5})]
    results = run_batch("fuzz_targets_mixture:gmm_params", bases, cases)
    for (entry, params), r in zip(cases, results[len(bases) :], strict=True):
        value = next(iter(params.values()))
        if r[0] == "ok" and isinstance(value, float) and math.isnan(value):
            raise AssertionError(f"NaN accepted: {entry} {params} -> {r}")


def test_fuzz_tally() -> None:
    """Prints what the fuzz test above saw (run with -s)."""
    print("\nfuzz outcomes:", dict(sorted(TALLY.items())), "cases:", sum(TALLY.values()))
