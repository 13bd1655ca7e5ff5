"""BayesianNetwork.fit(epsilon=...): the non-private tables at a huge epsilon, the noise of
each mechanism at its calibrated scale, the same release from every data source, and the
refusals."""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import pytest

from scalegen.bayesnet import BayesianNetwork

STATES = {"a": [0, 1, 2], "b": [0, 1], "c": list(range(40))}
EDGES = [("a", "b"), ("b", "c"), ("a", "c")]


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, n)
    b = (a == 2) ^ (rng.random(n) < 0.2)
    c = (7 * a + 11 * b + rng.integers(0, 5, n)) % 40
    return pd.DataFrame({"a": a, "b": b.astype(int), "c": c})


def test_huge_epsilon_gives_the_non_private_tables() -> None:
    df = frame(5000, 0)
    exact = BayesianNetwork(EDGES, states=STATES).fit(df)
    for delta in (0.0, 1e-6):
        private = BayesianNetwork(EDGES, states=STATES).fit(df, epsilon=1e12, delta=delta, random_state=0)
        for v in STATES:
            np.testing.assert_allclose(private.cpd(v).values, exact.cpd(v).values, rtol=0, atol=1e-12)
        assert private.privacy_spent_[0] <= 1e12 and private.privacy_spent_[1] <= delta
    bayes = BayesianNetwork(EDGES, states=STATES).fit(df, estimator="bayes", prior_type="K2", epsilon=1e12)
    exact_bayes = BayesianNetwork(EDGES, states=STATES).fit(df, estimator="bayes", prior_type="K2")
    np.testing.assert_allclose(bayes.cpd("c").values, exact_bayes.cpd("c").values, atol=1e-12)


@functools.cache
def large() -> tuple[pd.DataFrame, pd.DataFrame]:
    df = frame(300_000, 1)
    return df, pd.crosstab(df["c"], df["a"]).reindex(index=range(40), columns=range(3), fill_value=0)


def released_noise(epsilon: float, delta: float, seed: int) -> np.ndarray:
    """Noisy minus exact counts of c's family, where no clipping happens (large counts)."""
    df, counts = large()
    net = BayesianNetwork([("a", "c")], nodes=["a", "b", "c"], states=STATES)
    private = net.fit(df, epsilon=epsilon, delta=delta, random_state=seed, consistent=False)
    column_sums = counts.to_numpy().sum(axis=0)
    # the tables are normalised: recover the noisy counts through the (noisy) column sums
    noisy = private.cpd("c").values * column_sums  # first order: the sums move by O(noise)
    return (noisy - counts.to_numpy()).ravel()


def test_laplace_noise_has_its_calibrated_scale() -> None:
    # 3 families: each count moves by discrete Laplace of scale 3 / epsilon
    epsilon = 0.3
    t = 3 / epsilon
    expected = 2 * math.exp(-1 / t) / (1 - math.exp(-1 / t)) ** 2
    noise = np.concatenate([released_noise(epsilon, 0.0, s) for s in range(6)])
    assert noise.var() == pytest.approx(expected, rel=0.3)


def test_gaussian_noise_has_its_calibrated_scale() -> None:
    from scalegen.privacy import PrivacyAccountant, rho_for

    epsilon, delta = 0.3, 1e-6
    rho = PrivacyAccountant(epsilon, delta).rho_for(epsilon, delta)
    sigma2 = 3 / (2 * rho)  # L2 sensitivity sqrt(3) over the 3 families
    noise = np.concatenate([released_noise(epsilon, delta, s) for s in range(6)])
    assert noise.var() == pytest.approx(sigma2, rel=0.3)
    # with ALARM's 37 families the Gaussian route adds less noise than Laplace at epsilon = 1
    assert 37 / (2 * rho_for(1.0, 1e-6)) < 2 * 37**2


def test_consistency_pools_a_shared_variable() -> None:
    """a is in all three families: with consistency its table pools the three noisy copies
    (weights 1, 1/2 and 1/80 by the cells each sums), and its error falls by about a third."""
    df = frame(2000, 6)
    truth = np.bincount(df["a"], minlength=3) / len(df)
    errors = {}
    for consistent in (False, True):
        fits = [
            BayesianNetwork(EDGES, states=STATES).fit(df, epsilon=0.5, random_state=s, consistent=consistent)
            for s in range(40)
        ]
        errors[consistent] = np.mean([np.sum((f.cpd("a").values.ravel() - truth) ** 2) for f in fits])
    assert errors[True] < 0.8 * errors[False]
    with pytest.raises(TypeError, match="consistent"):
        BayesianNetwork(EDGES, states=STATES).fit(df, epsilon=0.5, consistent="yes")


def test_one_state_parents_are_left_out_of_the_consistency() -> None:
    """A child of 40 one-state parents and one of two states, fitted privately: the one-state
    axes are dropped before the consistency (C(42, 3) subsets otherwise); the table is whole."""
    parents = [f"u{i}" for i in range(40)]
    states = {"a": [0, 1], "b": [0, 1, 2], **{u: [0] for u in parents}}
    net = BayesianNetwork([("a", "b")] + [(u, "b") for u in parents], states=states)
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.integers(0, 2, 300), "b": rng.integers(0, 3, 300), **{u: 0 for u in parents}})
    fitted = net.fit(df, epsilon=1.0, random_state=0)
    assert fitted.cpd("b").values.reshape(3, -1).shape == (3, 2)
    np.testing.assert_allclose(fitted.cpd("b").values.reshape(3, -1).sum(axis=0), 1.0)


def test_every_source_gets_the_same_release() -> None:
    df = frame(3000, 2)
    one = BayesianNetwork(EDGES, states=STATES).fit(df, epsilon=1.0, random_state=7)
    chunks = BayesianNetwork(EDGES, states=STATES).fit(
        [df.iloc[:1000], df.iloc[1000:]], epsilon=1.0, random_state=7
    )
    for v in STATES:
        np.testing.assert_array_equal(one.cpd(v).values, chunks.cpd(v).values)
    again = BayesianNetwork(EDGES, states=STATES).fit(df, epsilon=1.0, random_state=7)
    other = BayesianNetwork(EDGES, states=STATES).fit(df, epsilon=1.0, random_state=8)
    np.testing.assert_array_equal(one.cpd("c").values, again.cpd("c").values)
    assert not np.array_equal(one.cpd("c").values, other.cpd("c").values)
    fresh = [BayesianNetwork(EDGES, states=STATES).fit(df, epsilon=1.0).cpd("c").values for _ in range(2)]
    assert not np.array_equal(*fresh)  # no seed: fresh private noise each time
    assert one.privacy_spent_ == (1.0, 0.0)


def test_private_fit_refusals() -> None:
    df = frame(200, 3)
    before = df.copy()
    net = BayesianNetwork(EDGES, states=STATES)
    with pytest.raises(ValueError, match="states declared"):
        BayesianNetwork(EDGES).fit(df, epsilon=1.0)
    with pytest.raises(ValueError, match="sample_weight"):
        net.fit(df, epsilon=1.0, sample_weight=np.ones(len(df)))
    with pytest.raises(ValueError, match="em"):
        net.fit(df, epsilon=1.0, estimator="em")
    for eps, delta in [(0.0, 0.0), (-1.0, 0.0), (float("inf"), 0.0), (1.0, 1.0), (1.0, -0.1)]:
        with pytest.raises(ValueError):
            net.fit(df, epsilon=eps, delta=delta)
    with pytest.raises(ValueError, match="delta is only used with epsilon"):
        net.fit(df, delta=0.5)
    # states an earlier fit took from the data stay undeclared, in copies too
    learned = BayesianNetwork(EDGES)
    learned.fit(df)
    for model in (learned, learned.copy()):
        with pytest.raises(ValueError, match="not taken from data"):
            model.fit(df, epsilon=1.0)
    learned.add_nodes_from([], states=learned.states)  # the user declares them public
    learned.fit(df, epsilon=1.0)
    pd.testing.assert_frame_equal(df, before)


def test_privacy_spent_only_describes_a_private_release() -> None:
    df = frame(500, 5)
    net = BayesianNetwork(EDGES, states=STATES).fit(df, epsilon=1.0)
    assert net.privacy_spent_ == (1.0, 0.0)
    net.fit(df)  # exact tables now
    assert not hasattr(net, "privacy_spent_")
    net.fit(df, epsilon=1.0)
    net.add_cpds(BayesianNetwork(EDGES, states=STATES).fit(df).cpd("a"))  # an exact table replaces one
    assert not hasattr(net, "privacy_spent_")
    with pytest.warns(UserWarning, match="NOT differentially private"):
        BayesianNetwork(EDGES, states=STATES).fit(df, epsilon=1.0, random_state=0)


def test_released_counts_move_by_the_stated_sensitivity() -> None:
    """Removing any one row moves the concatenated family counts by exactly F in L1 and
    sqrt(F) in L2: what the Laplace and Gaussian noise are calibrated to."""
    from scalegen.bayesnet._counts import count_families

    df = frame(40, 4)
    nodes = list(STATES)
    families = [(0, []), (1, [0]), (2, [1, 0])]

    def released(rows: pd.DataFrame) -> np.ndarray:
        counted = count_families(rows, nodes, STATES, families)
        return np.concatenate([np.asarray(c.to_dense()).ravel() for c in counted.counts])

    full = released(df)
    for i in range(len(df)):
        change = full - released(df.drop(index=i))
        assert np.abs(change).sum() == 3 and np.sqrt((change**2).sum()) == pytest.approx(math.sqrt(3))
