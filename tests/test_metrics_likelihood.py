"""scalegen.metrics held-out likelihood: mean_log_likelihood against each model's own score,
the paired ratio test against a direct NumPy/SciPy computation, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from scalegen import BayesianGaussianMixture, GaussianMixture
from scalegen.bayesnet import BayesianNetwork, TabularCPD
from scalegen.metrics import LikelihoodComparison, log_likelihood_ratio_test, mean_log_likelihood
from scalegen.nn import VAE, Sequential
from scalegen.nn.layers import Dense


def split(blobs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    order = rng.permutation(len(blobs))
    return blobs[order[:400]], blobs[order[400:]]


def chain_network(p_first: float = 0.3) -> BayesianNetwork:
    """a -> b -> c, three binary/ternary variables with positive tables."""
    model = BayesianNetwork([("a", "b"), ("b", "c")])
    model.add_cpds(
        TabularCPD("a", [p_first, 1 - p_first], states={"a": ["x", "y"]}),
        TabularCPD("b", [[0.7, 0.1], [0.2, 0.3], [0.1, 0.6]], ["a"], {"b": [0, 1, 2], "a": ["x", "y"]}),
        TabularCPD("c", [[0.9, 0.5, 0.2], [0.1, 0.5, 0.8]], ["b"], {"c": ["no", "yes"], "b": [0, 1, 2]}),
    )
    return model


def tiny_vae(seed: int) -> VAE:
    enc = Sequential([Dense(8, activation="tanh", input_shape=(4,)), Dense(4)], seed=seed)
    dec = Sequential([Dense(8, activation="tanh", input_shape=(2,)), Dense(4)], seed=seed + 1)
    return VAE(enc, dec, 2, likelihood="gaussian", seed=seed)


def reference_test(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float]:
    d = a - b
    mean = d.mean()
    se = d.std(ddof=1) / math.sqrt(d.size)
    z = mean / se
    return mean, se, z, 2 * norm.sf(abs(z))


# --- mean_log_likelihood ------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [GaussianMixture, BayesianGaussianMixture])
def test_mean_log_likelihood_is_the_mixture_score(cls: type, blobs: np.ndarray) -> None:
    train, test = split(blobs)
    model = cls(n_components=3, random_state=0).fit(train)
    before = test.copy()
    assert mean_log_likelihood(model, test) == pytest.approx(model.score(test), rel=1e-12)
    np.testing.assert_array_equal(test, before)


def test_mean_log_likelihood_is_the_network_score() -> None:
    truth = chain_network()
    train, test = truth.sample(500, random_state=0), truth.sample(300, random_state=1)
    model = BayesianNetwork(truth.edges).fit(train)
    assert mean_log_likelihood(model, test) == pytest.approx(model.score(test), rel=1e-12)
    assert mean_log_likelihood(model, test, n_jobs=1) == pytest.approx(model.score(test), rel=1e-12)


def test_mean_log_likelihood_is_the_mean_vae_bound() -> None:
    vae = tiny_vae(0)
    x = np.random.default_rng(0).standard_normal((40, 4)).astype(np.float32)
    expected = vae.log_likelihood(x, n_importance=7, random_state=3).mean()
    got = mean_log_likelihood(vae, x, n_importance=7, random_state=3)
    assert got == pytest.approx(expected, rel=1e-12)


def test_mean_log_likelihood_is_minus_inf_for_an_impossible_row() -> None:
    model = chain_network(p_first=1.0)
    rows = pd.DataFrame({"a": ["x", "y"], "b": [0, 1], "c": ["no", "yes"]})
    assert mean_log_likelihood(model, rows) == -math.inf


# --- log_likelihood_ratio_test ------------------------------------------------------------------
def test_ratio_test_matches_scipy_for_mixtures(blobs: np.ndarray) -> None:
    train, test = split(blobs)
    a = GaussianMixture(3, random_state=0).fit(train)
    b = GaussianMixture(1, random_state=0).fit(train)
    result = log_likelihood_ratio_test(a, b, test)
    assert isinstance(result, LikelihoodComparison)
    mean, se, z, p = reference_test(a.score_samples(test), b.score_samples(test))
    assert result.n_samples == len(test)
    np.testing.assert_allclose(
        [result.mean_difference, result.standard_error, result.z], [mean, se, z], rtol=1e-12
    )
    assert result.p_value == pytest.approx(p, rel=1e-9, abs=1e-300)
    assert result.mean_difference > 0  # three blobs beat one Gaussian
    swapped = log_likelihood_ratio_test(b, a, test)
    assert swapped.z == pytest.approx(-result.z) and swapped.p_value == pytest.approx(result.p_value)


def test_ratio_test_matches_scipy_for_networks() -> None:
    truth = chain_network()
    train, test = truth.sample(200, random_state=0), truth.sample(400, random_state=1)
    full = BayesianNetwork(truth.edges).fit(train, estimator="bayes")
    empty = BayesianNetwork(nodes=truth.nodes).fit(train, estimator="bayes")
    result = log_likelihood_ratio_test(full, empty, test)
    mean, se, z, p = reference_test(full.score_samples(test), empty.score_samples(test))
    np.testing.assert_allclose(
        [result.mean_difference, result.standard_error, result.z, result.p_value], [mean, se, z, p], rtol=1e-9
    )


def test_ratio_test_passes_keywords_to_vaes() -> None:
    a, b = tiny_vae(0), tiny_vae(5)
    x = np.random.default_rng(2).standard_normal((30, 4)).astype(np.float32)
    result = log_likelihood_ratio_test(a, b, x, n_importance=4, random_state=7)
    mean, se, z, p = reference_test(
        a.log_likelihood(x, n_importance=4, random_state=7),
        b.log_likelihood(x, n_importance=4, random_state=7),
    )
    np.testing.assert_allclose(
        [result.mean_difference, result.standard_error, result.z, result.p_value], [mean, se, z, p], rtol=1e-9
    )


def test_ratio_test_of_a_model_with_itself(blobs: np.ndarray) -> None:
    model = GaussianMixture(2, random_state=0).fit(blobs)
    result = log_likelihood_ratio_test(model, model, blobs[:50])
    assert result == LikelihoodComparison(0.0, 0.0, 0.0, 1.0, 50)


# --- bad input ----------------------------------------------------------------------------------
def test_unsupported_models_are_type_errors(blobs: np.ndarray) -> None:
    sklearn_mixture = pytest.importorskip("sklearn.mixture")
    other = sklearn_mixture.GaussianMixture(2).fit(blobs)
    with pytest.raises(TypeError, match=r"sklearn\.mixture.*GaussianMixture"):
        mean_log_likelihood(other, blobs)
    with pytest.raises(TypeError, match="object"):
        log_likelihood_ratio_test(object(), GaussianMixture(2).fit(blobs), blobs)


def test_unknown_keywords_are_type_errors(blobs: np.ndarray) -> None:
    model = GaussianMixture(2, random_state=0).fit(blobs)
    with pytest.raises(TypeError, match="n_importance"):
        mean_log_likelihood(model, blobs, n_importance=3)
    with pytest.raises(TypeError, match="allowed for it: n_jobs"):
        mean_log_likelihood(chain_network(), chain_network().sample(5, random_state=0), random_state=0)


def test_ratio_test_needs_two_rows_and_finite_scores(blobs: np.ndarray) -> None:
    model = GaussianMixture(2, random_state=0).fit(blobs)
    with pytest.raises(ValueError, match="at least 2"):
        log_likelihood_ratio_test(model, model, blobs[:1])
    impossible = chain_network(p_first=1.0)
    rows = pd.DataFrame({"a": ["x", "y", "x"], "b": [0, 1, 2], "c": ["no", "yes", "no"]})
    with pytest.raises(ValueError, match="model_b gives row 1"):
        log_likelihood_ratio_test(chain_network(), impossible, rows)


def test_bad_data_is_reported_by_the_model(blobs: np.ndarray) -> None:
    model = GaussianMixture(2, random_state=0).fit(blobs)
    bad = blobs[:10].copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        mean_log_likelihood(model, bad)
    with pytest.raises(ValueError, match="features"):
        mean_log_likelihood(model, blobs[:, :1])
