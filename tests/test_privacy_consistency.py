"""Consistency post-processing of noisy tables: shared marginals agree after one pass and
carry the inverse-variance mean (brute force over every pair of tables), the non-negative
projection is the least-squares one (against SciPy's solver), exact counts pass unchanged,
averaged marginals are closer to the truth than any single table's, and the noise test is
standard normal on pure noise (its moments against brute-force sums)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import minimize

from scalegen.privacy import NoiseSource
from scalegen.privacy._consistency import consistent_counts, make_consistent, norm_sub, signal_z
from scalegen.privacy._noise import discrete_laplace_moments

# Scopes as BayesianNetwork families give them (child first, parents unsorted) and with
# degree-2 overlaps: pairs share one attribute, some triples share two.
SCOPES = [(0, 2, 1), (3, 1, 0), (2, 3), (4, 2, 0), (1,), (0, 4)]
CARDS = [2, 3, 4, 2, 3]


def random_tables(rng: np.random.Generator, noise: float) -> tuple[list[np.ndarray], np.ndarray]:
    """The scopes' marginals of one joint count table, with Laplace noise; and the joint."""
    joint = rng.integers(0, 50, CARDS).astype(np.float64)
    tables = []
    for scope in SCOPES:
        kept = np.transpose(
            joint.sum(axis=tuple(a for a in range(len(CARDS)) if a not in scope)),
            np.argsort(np.argsort(scope)),
        )
        tables.append(kept + rng.laplace(0.0, noise, kept.shape))
    return tables, joint


def marginal(table: np.ndarray, scope: tuple[int, ...], subset: tuple[int, ...]) -> np.ndarray:
    """Brute force: sum every cell into its subset cell (subset in sorted attribute order)."""
    out = np.zeros([CARDS[v] for v in subset])
    for index in itertools.product(*(range(n) for n in table.shape)):
        out[tuple(index[scope.index(v)] for v in subset)] += table[index]
    return out


def test_one_pass_makes_every_shared_marginal_agree() -> None:
    tables, _ = random_tables(np.random.default_rng(0), noise=20.0)
    make_consistent(tables, SCOPES)
    pairs = 0
    for (s, a), (t, b) in itertools.combinations(zip(SCOPES, tables, strict=True), 2):
        shared = tuple(sorted(set(s) & set(t)))
        np.testing.assert_allclose(marginal(a, s, shared), marginal(b, t, shared), rtol=1e-10, atol=1e-9)
        pairs += len(shared) > 1
    assert pairs > 0  # some pair shares two attributes


def test_shared_marginal_is_the_inverse_variance_mean() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(2, 5))  # attribute 0 shared, 3 and 5 cells summed
    tables = [a.copy(), b.copy()]
    make_consistent(tables, [(0, 1), (0, 2)])
    expected = (a.sum(1) / 3 + b.sum(1) / 5) / (1 / 3 + 1 / 5)
    np.testing.assert_allclose(tables[0].sum(1), expected, rtol=1e-12)
    np.testing.assert_allclose(tables[1].sum(1), expected, rtol=1e-12)
    # the rest of each table moved by one amount per shared cell: the interactions are kept
    np.testing.assert_allclose(np.diff(tables[0] - a, axis=1), 0.0, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_norm_sub_is_the_least_squares_projection(seed: int) -> None:
    rng = np.random.default_rng(seed)
    noisy = rng.normal(3.0, 6.0, size=(3, 4))
    total = noisy.sum()
    ours = norm_sub(noisy)
    reference = minimize(
        lambda x: 0.5 * np.sum((x - noisy.ravel()) ** 2),
        np.full(noisy.size, max(total, 1.0) / noisy.size),
        jac=lambda x: x - noisy.ravel(),
        bounds=[(0, None)] * noisy.size,
        constraints=[{"type": "eq", "fun": lambda x: x.sum() - max(total, 1.0)}],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    ).x.reshape(noisy.shape)
    np.testing.assert_allclose(ours, reference, atol=1e-6)
    assert ours.min() >= 0 and ours.sum() == pytest.approx(max(total, 1.0))


def test_exact_counts_pass_unchanged_and_inputs_are_left_alone() -> None:
    tables, _ = random_tables(np.random.default_rng(2), noise=0.0)
    before = [t.copy() for t in tables]
    out = consistent_counts(tables, SCOPES, (0.0, 0.0))
    for t, b, o in zip(tables, before, out, strict=True):
        np.testing.assert_array_equal(t, b)
        np.testing.assert_allclose(o, b, rtol=1e-12, atol=1e-9)


def test_averaged_marginals_are_closer_to_the_truth() -> None:
    """Attribute 0 is in four tables: its consistent marginal's squared error is well below a
    single table's (the inverse-variance mean of four noisy copies), over many draws."""
    rng = np.random.default_rng(3)
    single, averaged = [], []
    for _ in range(400):
        tables, joint = random_tables(rng, noise=30.0)
        truth = joint.sum(axis=(1, 2, 3, 4))
        single.append(np.sum((tables[0].sum(axis=(1, 2)) - truth) ** 2))
        fixed = [t.copy() for t in tables]
        make_consistent(fixed, SCOPES)
        averaged.append(np.sum((fixed[0].sum(axis=(1, 2)) - truth) ** 2))
    assert np.mean(averaged) < 0.5 * np.mean(single)


@pytest.mark.parametrize("scale", [0.3, 2.0, 45.0])
def test_discrete_laplace_moments_match_their_sums(scale: float) -> None:
    k = np.arange(-40 * int(scale + 1), 40 * int(scale + 1) + 1, dtype=np.float64)
    p = np.exp(-np.abs(k) / scale)
    p /= p.sum()
    variance, fourth = discrete_laplace_moments(scale)
    assert variance == pytest.approx(float(p @ k**2), rel=1e-10)
    assert fourth == pytest.approx(float(p @ k**4), rel=1e-10)


def test_signal_z_is_standard_normal_on_noise_and_large_on_signal() -> None:
    noise = NoiseSource(4)
    scale = 30.0
    moments = discrete_laplace_moments(scale)
    shapes = [(3, 3)] * 40 + [(2, 4, 3)] * 10
    flat = 500.0  # uniform tables: no spread but the noise's
    zs = [signal_z([flat + noise.discrete_laplace(scale, s) for s in shapes], *moments) for _ in range(400)]
    assert stats.kstest(zs, "norm").pvalue > 0.01
    peaked = np.zeros((3, 3))
    peaked[0, 0] = 4500.0  # one cell holds everything: 15 noise scales
    assert signal_z([peaked + noise.discrete_laplace(scale, (3, 3)) for _ in range(50)], *moments) > 10
    assert signal_z([np.ones(4)], 0.0, 0.0) == np.inf


def alternate(tables: list[np.ndarray], scopes: list[tuple[int, ...]], project) -> list[np.ndarray]:
    tables = [t.copy() for t in tables]
    for _ in range(3):
        make_consistent(tables, scopes)
        tables = [project(t) for t in tables]
    return tables


def test_noise_is_clipped_and_signal_projected() -> None:
    """Tables of pure noise are clipped (and come out flat: most cells positive); tables with
    signal are projected by norm-sub."""
    noise = NoiseSource(5)
    scale, scopes = 200.0, [(0, 1), (1, 2), (2, 3)]
    moments = discrete_laplace_moments(scale)
    pure = [np.full((3, 3), 10.0) + noise.discrete_laplace(scale, (3, 3)) for _ in scopes]
    out = consistent_counts(pure, scopes, moments)
    for a, b in zip(out, alternate(pure, scopes, lambda t: np.maximum(t, 0.0)), strict=True):
        np.testing.assert_array_equal(a, b)
    assert np.mean([np.count_nonzero(t) / t.size for t in out]) > 0.5
    strong = []
    for _ in scopes:
        t = np.zeros((3, 3))
        t[1, 1] = 1e5
        strong.append(t + noise.discrete_laplace(scale, (3, 3)))
    out = consistent_counts(strong, scopes, moments)
    for a, b in zip(out, alternate(strong, scopes, norm_sub), strict=True):
        np.testing.assert_array_equal(a, b)


def test_mismatched_scopes_are_refused() -> None:
    with pytest.raises(ValueError, match="scopes"):
        consistent_counts([np.ones((2, 2))], [(0, 1), (1, 2)], (1.0, 3.0))
    with pytest.raises(ValueError, match="does not match its scope"):
        consistent_counts([np.ones((2, 2))], [(0,)], (1.0, 3.0))
    with pytest.raises(ValueError, match="does not match its scope"):
        consistent_counts([np.ones((2, 2))], [(0, 0)], (1.0, 3.0))
    with pytest.raises(ValueError, match="does not match its scope"):
        consistent_counts([np.ones((2, 0))], [(0, 1)], (1.0, 3.0))
    with pytest.raises(ValueError, match="finite"):
        consistent_counts([np.array([1.0, np.nan])], [(0,)], (1.0, 3.0))
