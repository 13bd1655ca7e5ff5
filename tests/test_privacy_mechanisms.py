"""scalegen.privacy's noise: each exact sampler's draws against its pmf (chi-square, fixed seeds),
the variance formulas, the stream's determinism, permute-and-flip against its law computed by
brute force over permutations, the mechanisms' calibration, and bad input."""

from __future__ import annotations

import copy
import itertools
import math
import os
import pickle

import numpy as np
import pytest
from scipy import stats

import scalegen
from scalegen.privacy import NoiseSource, gaussian_counts, gaussian_mechanism, laplace_counts
from scalegen.privacy._noise import _grid_exponent

P_MIN = 1e-4  # fixed seeds: a correct sampler passes every run; a wrong law fails by far


def chi_square_p(draws: np.ndarray, log_weight, support_halfwidth: int, min_expected: float = 20.0) -> float:
    """p-value of integer draws against the law proportional to exp(log_weight(x)) on the
    integers, with neighbouring values pooled into bins of at least `min_expected` draws and
    both tails (beyond the last such bin) pooled into the outer bins."""
    xs = np.arange(-support_halfwidth, support_halfwidth + 1)
    logw = log_weight(xs.astype(np.float64))
    p = np.exp(logw - logw.max())
    p /= p.sum()
    expected = p * draws.size
    edges, acc = [0], 0.0  # left edges of bins: each closes once it expects min_expected draws
    for i, e in enumerate(expected[:-1]):
        acc += e
        if acc >= min_expected:
            edges.append(i + 1)
            acc = 0.0
    if expected[edges[-1] :].sum() < min_expected and len(edges) > 1:
        edges.pop()  # the last partial bin joins its neighbour
    idx = np.clip(draws + support_halfwidth, 0, xs.size - 1)
    bins = np.searchsorted(np.array(edges), idx, side="right") - 1
    observed = np.bincount(bins, minlength=len(edges)).astype(np.float64)
    exp_bins = np.add.reduceat(expected, edges)
    exp_bins *= observed.sum() / exp_bins.sum()
    return float(stats.chisquare(observed, exp_bins).pvalue)


def laplace_logw(scale: float):
    return lambda x: -np.abs(x) / scale


def gaussian_logw(sigma: float):
    return lambda x: -(x**2) / (2 * sigma**2)


# --- the samplers' laws ------------------------------------------------------------------------
@pytest.mark.parametrize(("scale", "seed"), [(0.7, 1), (1.0, 2), (3.3, 3), (1000.0, 4)])
def test_discrete_laplace_matches_its_pmf(scale: float, seed: int) -> None:
    x = NoiseSource(seed).discrete_laplace(scale, size=50_000)
    assert x.dtype == np.int64
    half = int(40 * scale) + 20
    assert chi_square_p(x, laplace_logw(scale), half) > P_MIN
    r = math.exp(-1 / scale)
    var = 2 * r / (1 - r) ** 2
    # the sample variance within 5 standard errors (fourth moment of the law, by summation)
    xs = np.arange(-half, half + 1, dtype=np.float64)
    p = np.exp(-np.abs(xs) / scale)
    p /= p.sum()
    assert np.isclose((p * xs**2).sum(), var, rtol=1e-9)
    se = math.sqrt(((p * xs**4).sum() - var**2) / x.size)
    assert abs(x.astype(np.float64).var() - var) < 5 * se
    assert abs(x.mean()) < 5 * math.sqrt(var / x.size)


def test_chi_square_has_power() -> None:
    """The test above would notice a wrong scale of 10%."""
    x = NoiseSource(3).discrete_laplace(3.3, size=50_000)
    assert chi_square_p(x, laplace_logw(3.0), 200) < 1e-6
    y = NoiseSource(3).discrete_gaussian(3.3, size=50_000)
    assert chi_square_p(y, gaussian_logw(3.0), 200) < 1e-6


@pytest.mark.parametrize(("sigma", "seed"), [(0.5, 5), (0.7, 6), (1.0, 7), (3.3, 8), (1000.0, 9)])
def test_discrete_gaussian_matches_its_pmf(sigma: float, seed: int) -> None:
    x = NoiseSource(seed).discrete_gaussian(sigma, size=50_000)
    assert x.dtype == np.int64
    half = int(12 * sigma) + 20
    assert chi_square_p(x, gaussian_logw(sigma), half) > P_MIN
    xs = np.arange(-half, half + 1, dtype=np.float64)
    p = np.exp(-(xs**2) / (2 * sigma**2))
    p /= p.sum()
    var = (p * xs**2).sum()
    assert var <= sigma**2 * (1 + 1e-12)  # CKS 2020, Corollary 9
    se = math.sqrt(((p * xs**4).sum() - var**2) / x.size)
    assert abs(x.astype(np.float64).var() - var) < 5 * se


def test_gaussian_is_a_discrete_gaussian_on_a_fine_grid() -> None:
    sigma = 0.3
    x = NoiseSource(10).gaussian(sigma, size=40_000)
    assert x.dtype == np.float64
    g = 2.0 ** (math.frexp(sigma)[1] - 11)  # sigma / g in [2^10, 2^11)
    z = x / g
    assert np.array_equal(z, np.round(z))
    assert 2**10 <= sigma / g < 2**11
    assert chi_square_p(z.astype(np.int64), gaussian_logw(sigma / g), int(8 * sigma / g)) > P_MIN
    assert isinstance(NoiseSource(0).gaussian(1e-200), float)
    assert np.isfinite(NoiseSource(0).gaussian(1e299, size=100)).all()


def test_largest_scales_still_draw() -> None:
    noise = NoiseSource(11)
    x = noise.discrete_laplace(2.0**50, size=2000)
    assert 0.8 < np.abs(x).mean() / 2.0**50 < 1.2
    y = noise.discrete_gaussian(2.0**26, size=2000)
    assert 0.9 < y.std() / 2.0**26 < 1.1
    tiny = noise.discrete_laplace(1e-300, size=1000)  # rounded up to 2^-62: still all 0
    assert not tiny.any()


def test_every_accepted_scale_draws() -> None:
    """No scale inside the documented range is refused by the exact arithmetic's checks (sigma
    just below or at an integer makes t = floor(sigma) + 1 largest against the denominator)."""
    noise = NoiseSource(14)
    sigmas = [*np.geomspace(1e-6, 2.0**26, 300), *range(1, 65), *(k - 1e-9 for k in range(2, 65))]
    for s in [*sigmas, 4.0, 2.0**26, 2.0**25 - 1e-3]:
        assert noise.discrete_gaussian(float(s), size=2).shape == (2,)
        assert noise.discrete_laplace(float(s), size=2).shape == (2,)
    for scale in np.geomspace(2.0**26, 2.0**50, 50):
        assert noise.discrete_laplace(float(scale), size=2).shape == (2,)


# --- the stream ------------------------------------------------------------------------------
def test_seeds_reproduce_and_the_stream_advances() -> None:
    a, b = NoiseSource(42), NoiseSource(42)
    first = a.discrete_gaussian(5.0, size=100)
    assert np.array_equal(first, b.discrete_gaussian(5.0, size=100))
    assert not np.array_equal(first, a.discrete_gaussian(5.0, size=100))  # fresh noise next call
    assert not np.array_equal(first, NoiseSource(43).discrete_gaussian(5.0, size=100))
    assert not np.array_equal(
        NoiseSource().discrete_laplace(5.0, 100), NoiseSource().discrete_laplace(5.0, 100)
    )
    assert NoiseSource().private and not NoiseSource(0).private
    # numpy generators give their key from their own state, deterministically
    g1 = NoiseSource(np.random.default_rng(3)).discrete_laplace(2.0, 50)
    assert np.array_equal(g1, NoiseSource(np.random.default_rng(3)).discrete_laplace(2.0, 50))
    r1 = NoiseSource(np.random.RandomState(3)).discrete_laplace(2.0, 50)
    assert np.array_equal(r1, NoiseSource(np.random.RandomState(3)).discrete_laplace(2.0, 50))
    # one call of n draws is n single draws
    single = NoiseSource(7)
    many = NoiseSource(7).discrete_laplace(1.5, size=20)
    assert [single.discrete_laplace(1.5) for _ in range(20)] == many.tolist()
    assert "not private" in repr(NoiseSource(0)) and "private" in repr(NoiseSource())


def test_noise_source_is_never_pickled_nor_used_after_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TypeError, match="secret"):
        pickle.dumps(NoiseSource(0))
    with pytest.raises(TypeError, match="secret"):
        copy.deepcopy(NoiseSource())
    noise = NoiseSource()
    pid = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: pid + 1)  # as in a forked child
    with pytest.raises(RuntimeError, match="fork"):
        noise.discrete_laplace(1.0, 3)
    with pytest.raises(RuntimeError, match="fork"):
        laplace_counts([1, 2], 1.0, noise=noise)
    assert NoiseSource().discrete_laplace(1.0, 3).shape == (3,)  # a new one in the child works


# --- permute-and-flip -----------------------------------------------------------------------
def permute_and_flip_law(scores: list[float], epsilon: float, sensitivity: float) -> np.ndarray:
    """P(choose i), by enumerating every order of the candidates."""
    s = np.asarray(scores, dtype=np.float64)
    q = np.exp(-epsilon * (s.max() - s) / (2 * sensitivity))
    law = np.zeros(len(s))
    orders = list(itertools.permutations(range(len(s))))
    for order in orders:
        reach = 1.0
        for i in order:
            law[i] += reach * q[i] / len(orders)
            reach *= 1 - q[i]
    return law


@pytest.mark.parametrize(
    ("scores", "epsilon", "sensitivity"),
    [([0.0, 2.0, 1.0], 1.0, 1.0), ([3.0, 1.5, 2.5, 0.0], 2.0, 1.0), ([10.0, 12.5, 11.0, 12.0], 0.8, 2.5)],
)
def test_permute_and_flip_matches_its_law(scores: list[float], epsilon: float, sensitivity: float) -> None:
    noise = NoiseSource(12)
    n = 40_000
    picks = np.array([noise.permute_and_flip(scores, epsilon, sensitivity) for _ in range(n)])
    law = permute_and_flip_law(scores, epsilon, sensitivity)
    assert math.isclose(law.sum(), 1.0)
    observed = np.bincount(picks, minlength=len(scores))
    assert stats.chisquare(observed, law * n).pvalue > P_MIN


def test_permute_and_flip_extremes() -> None:
    noise = NoiseSource(13)
    scores = [0.3, 5.0, 4.99, -2.0]
    assert {noise.permute_and_flip(scores, 1e6, 1.0) for _ in range(300)} == {1}  # the argmax
    ties = [noise.permute_and_flip([1.0, 3.0, 3.0], 1e9, 1.0) for _ in range(3000)]
    assert set(ties) == {1, 2} and abs(np.mean(ties) - 1.5) < 0.05  # ties: uniform among the best
    for eps in (1e-12, 1e-30):  # epsilon -> 0: uniform (below 2^-62 it rounds to exactly 0)
        picks = [noise.permute_and_flip(scores, eps, 1.0) for _ in range(8000)]
        assert stats.chisquare(np.bincount(picks, minlength=4)).pvalue > P_MIN
    # scores far beyond the sensitivity's range are clipped, not refused (no data-dependent error)
    assert noise.permute_and_flip([1e300, -1e300, 0.0], 1.0, 1e-300) == 0
    assert noise.permute_and_flip(np.array([3, 7, 5], dtype=np.int32), 50.0, 1) == 1
    assert noise.permute_and_flip([2.0], 1.0, 1.0) == 0


# --- mechanisms ------------------------------------------------------------------------------
def test_mechanisms_are_the_samplers_at_the_calibrated_scale() -> None:
    counts = np.array([[5, 0, 3], [1, 1, 12]])
    out = laplace_counts(counts, epsilon=0.5, sensitivity=2, noise=NoiseSource(20))
    assert out.dtype == np.int64 and out.shape == counts.shape
    assert np.array_equal(out - counts, NoiseSource(20).discrete_laplace(4.0, size=(2, 3)))
    out = gaussian_counts(counts, rho=0.125, sensitivity=1.0, noise=NoiseSource(21))  # sigma^2 = 4
    assert np.array_equal(out - counts, NoiseSource(21).discrete_gaussian(2.0, size=(2, 3)))
    assert np.array_equal(laplace_counts([3.0, 4.0], epsilon=1e12), [3, 4])  # whole floats accepted
    assert np.array_equal(gaussian_counts(np.array([7], dtype=np.uint8), rho=1e15), [7])
    assert laplace_counts(np.zeros((0, 3), dtype=np.int64), 1.0).shape == (0, 3)
    assert laplace_counts(5, 1e12).shape == ()
    # fresh private noise on every call
    assert not np.array_equal(laplace_counts(np.zeros(50, int), 0.1), laplace_counts(np.zeros(50, int), 0.1))


def test_gaussian_mechanism_calibration() -> None:
    n = 10_000
    sens, rho = 2.0, 0.02
    e, sigma2 = _grid_exponent(scalegen.privacy._noise._exact(sens), scalegen.privacy._noise._exact(rho), n)
    g = 2.0**e
    sigma0 = sens / math.sqrt(2 * rho)
    # the grid's extra sensitivity g sqrt(n) is accounted, and costs below 0.1%
    assert math.sqrt(float(sigma2)) * g >= (sens + g * math.sqrt(n)) / math.sqrt(2 * rho)
    assert math.sqrt(float(sigma2)) * g / sigma0 - 1 < 1e-3
    x = np.random.default_rng(0).normal(size=n) * 100
    y = gaussian_mechanism(x, rho, sens, noise=NoiseSource(22))
    assert y.shape == x.shape and y.dtype == np.float64
    assert np.array_equal(y / g, np.round(y / g))  # the release lies on the grid
    assert abs((y - x).std() / sigma0 - 1) < 0.03
    assert abs((y - x).mean()) < 4 * sigma0 / math.sqrt(n)
    # the grid's rounding is within g/2 and the noise is the discrete Gaussian in grid units
    z = np.round((y - np.rint(x / g) * g) / g).astype(np.int64)
    assert chi_square_p(z, gaussian_logw(math.sqrt(float(sigma2))), int(8 * math.sqrt(float(sigma2)))) > P_MIN
    # huge values are clipped on the grid, not refused; empty input gives empty output
    assert np.isfinite(gaussian_mechanism(np.array([1e300, -1e300]), 1.0, 1.0)).all()
    assert gaussian_mechanism(np.zeros((0, 2)), 1.0, 1.0).shape == (0, 2)
    assert gaussian_mechanism(3, 1.0, 1.0).shape == ()


# --- bad input -------------------------------------------------------------------------------
BAD_SCALES = [float("nan"), float("inf"), -1.0, 0.0, 0, -3]


@pytest.mark.parametrize("bad", BAD_SCALES)
def test_bad_scales_are_refused(bad: float) -> None:
    noise = NoiseSource(0)
    for call in (
        lambda: noise.discrete_laplace(bad, 3),
        lambda: noise.discrete_gaussian(bad, 3),
        lambda: noise.gaussian(bad, 3),
        lambda: noise.permute_and_flip([1.0, 2.0], bad, 1.0),
        lambda: noise.permute_and_flip([1.0, 2.0], 1.0, bad),
        lambda: laplace_counts([1, 2], bad),
        lambda: laplace_counts([1, 2], 1.0, sensitivity=bad),
        lambda: gaussian_counts([1, 2], bad),
        lambda: gaussian_mechanism([1.0], bad, 1.0),
        lambda: gaussian_mechanism([1.0], 1.0, bad),
    ):
        with pytest.raises(ValueError, match=r"finite|positive"):
            call()


def test_bad_types_and_sizes_are_refused() -> None:
    noise = NoiseSource(0)
    for bad in ("1.0", None, True, [1.0], 1 + 2j):
        with pytest.raises(TypeError, match="real number"):
            noise.discrete_laplace(bad, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="largest"):
        noise.discrete_laplace(2.0**51, 3)
    with pytest.raises(ValueError, match="largest"):
        noise.discrete_gaussian(2.0**27, 3)
    with pytest.raises(ValueError, match="largest"):
        noise.gaussian(1e301, 3)
    with pytest.raises(ValueError, match="2\\^50"):
        laplace_counts([1], epsilon=1e-20)
    with pytest.raises(ValueError, match="2\\^26"):
        gaussian_counts([1], rho=1e-20)
    with pytest.raises(ValueError, match="2\\^26"):
        gaussian_mechanism(np.zeros(10), rho=1e-20, sensitivity=1.0)
    with pytest.raises(scalegen.LimitError):
        noise.discrete_laplace(1.0, size=10**12)  # refused before allocating
    with pytest.raises(scalegen.LimitError):
        noise.discrete_gaussian(1.0, size=(10**6, 10**6))
    with pytest.raises(ValueError, match="negative"):
        noise.discrete_laplace(1.0, size=-1)
    with pytest.raises(TypeError, match="size"):
        noise.discrete_laplace(1.0, size=2.0)
    for seed in ("x", 1.5, True, object()):
        with pytest.raises(TypeError, match="random_state"):
            NoiseSource(seed)
    with pytest.raises(ValueError, match="non-negative"):
        NoiseSource(-1)
    with pytest.raises(TypeError, match="NoiseSource"):
        laplace_counts([1], 1.0, noise=np.random.default_rng(0))  # type: ignore[arg-type]


def test_bad_counts_values_and_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="integers"):
        laplace_counts([1.5, 2.0], 1.0)
    with pytest.raises(ValueError, match="integers"):
        gaussian_counts([float("nan")], 1.0)
    with pytest.raises(TypeError, match="integers"):
        laplace_counts(["a", "b"], 1.0)
    with pytest.raises(ValueError, match="2\\^62"):
        laplace_counts([2**63 - 1], 1.0)
    with pytest.raises(ValueError, match="2\\^62"):
        laplace_counts(np.array([2**64 - 1], dtype=np.uint64), 1.0)
    with pytest.raises(ValueError, match="finite"):
        gaussian_mechanism([1.0, float("inf")], 1.0, 1.0)
    with pytest.raises(TypeError, match="real"):
        gaussian_mechanism(["a"], 1.0, 1.0)
    noise = NoiseSource(0)
    with pytest.raises(ValueError, match="at least one"):
        noise.permute_and_flip([], 1.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        noise.permute_and_flip([1.0, float("nan")], 1.0, 1.0)
    with pytest.raises(TypeError, match="1-D"):
        noise.permute_and_flip([[1.0, 2.0]], 1.0, 1.0)
    with pytest.raises(TypeError, match="1-D"):
        noise.permute_and_flip(["a", "b"], 1.0, 1.0)


def test_gaussian_mechanism_keeps_large_values() -> None:
    """Values far beyond 2^62 grid units come back with their own small noise, not clipped
    (at a huge rho the grid is fine, so 1e8 is about 2^73 units)."""
    out = gaussian_mechanism(np.array([1e8, -3e12, 2.5]), rho=1e15, sensitivity=1.0, noise=NoiseSource(0))
    np.testing.assert_allclose(out, [1e8, -3e12, 2.5], rtol=1e-12, atol=1e-6)
    with pytest.raises(ValueError, match="too large for the noise's grid"):
        gaussian_mechanism(np.array([1e300]), rho=1e15, sensitivity=1e-200)
