"""Out-of-core and streaming GaussianMixture: memmaps, chunk functions, partial_fit."""

from __future__ import annotations

import itertools
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

from scalegen import _core
from scalegen.mixture import GaussianMixture

COVS = ["full", "tied", "diag", "spherical"]
BLOCK = int(_core.gmm_block_rows)


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    """Three overlapping 4-D blobs, 9000 shuffled rows."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, s, (3000, 4)) for c, s in ((0.0, 1.0), (3.0, 0.7), (6.0, 1.4))])
    rng.shuffle(X)
    return X


def params(g: GaussianMixture) -> list[np.ndarray]:
    return [g.weights_, g.means_, g.covariances_, g.precisions_cholesky_]


def assert_same_bits(a: GaussianMixture, b: GaussianMixture) -> None:
    for x, y in zip(params(a), params(b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert a.lower_bounds_ == b.lower_bounds_
    assert a.n_iter_ == b.n_iter_


def chunks_of(X: np.ndarray, sizes: list[int], w: np.ndarray | None = None):
    bounds = np.cumsum([0, *sizes])
    assert bounds[-1] == len(X)

    def make():
        for a, b in itertools.pairwise(bounds):
            yield X[a:b] if w is None else (X[a:b], w[a:b])

    return make


def save_memmap(tmp_path, X: np.ndarray, name: str = "X.npy") -> np.memmap:
    path = tmp_path / name
    np.save(path, X)
    return np.load(path, mmap_mode="r")


@pytest.mark.parametrize("cov", COVS)
def test_memmap_and_block_aligned_chunks_give_the_in_memory_bits(data, tmp_path, cov):
    kw = dict(covariance_type=cov, random_state=0, max_iter=20)
    ref = GaussianMixture(3, **kw).fit(data)
    mm = save_memmap(tmp_path, data)
    assert_same_bits(ref, GaussianMixture(3, chunk_size=2 * BLOCK, **kw).fit(mm))
    assert_same_bits(ref, GaussianMixture(3, **kw).fit(mm))  # default chunks: multiples of the block
    sizes = [BLOCK, 3 * BLOCK, len(data) - 4 * BLOCK]
    assert_same_bits(ref, GaussianMixture(3, **kw).fit(chunks_of(data, sizes)))


@pytest.mark.parametrize("cov", COVS)
def test_unaligned_chunks_match_to_rounding(data, cov):
    kw = dict(covariance_type=cov, random_state=0, max_iter=15, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = GaussianMixture(3, **kw).fit(data)
        rng = np.random.default_rng(1)
        cuts = np.sort(rng.choice(np.arange(1, len(data)), size=12, replace=False))
        sizes = np.diff([0, *cuts, len(data)]).tolist()
        got = GaussianMixture(3, **kw).fit(chunks_of(data, sizes))
    for x, y in zip(params(ref), params(got), strict=True):
        np.testing.assert_allclose(y, x, rtol=1e-10, atol=1e-12)


def test_sample_weights_in_chunks_and_memmaps(data, tmp_path):
    w = np.random.default_rng(2).uniform(0, 3, len(data))
    kw = dict(covariance_type="full", random_state=0)
    ref = GaussianMixture(3, **kw).fit(data, sample_weight=w)
    sizes = [2 * BLOCK, len(data) - 2 * BLOCK]
    assert_same_bits(ref, GaussianMixture(3, **kw).fit(chunks_of(data, sizes, w)))
    mm, wm = save_memmap(tmp_path, data), save_memmap(tmp_path, w, "w.npy")
    assert_same_bits(ref, GaussianMixture(3, chunk_size=BLOCK, **kw).fit(mm, sample_weight=wm))
    # a chunk of zero weights is legal; only an all-zero total is not
    w0 = w.copy()
    w0[:BLOCK] = 0
    GaussianMixture(3, **kw).fit(chunks_of(data, sizes, w0))


def test_more_rows_than_init_size_initialise_from_a_sample(data):
    kw = dict(covariance_type="diag", random_state=3, init_size=600)
    make = chunks_of(data, [1000] * 9)
    a = GaussianMixture(3, **kw).fit(make)
    assert_same_bits(a, GaussianMixture(3, **kw).fit(make))  # the sample follows random_state
    ref = GaussianMixture(3, covariance_type="diag", random_state=3).fit(data)
    order_a, order_r = np.argsort(a.means_[:, 0]), np.argsort(ref.means_[:, 0])
    np.testing.assert_allclose(a.means_[order_a], ref.means_[order_r], atol=0.02)
    assert a.lower_bound_ == pytest.approx(ref.lower_bound_, abs=1e-3)


def test_init_sample_is_uniform():
    from scalegen.mixture._sources import ChunkedRows

    X = np.arange(10_000, dtype=np.float64)[:, None]
    rows = ChunkedRows(lambda: (X[i : i + 700] for i in range(0, len(X), 700)))
    picked = np.concatenate([rows.init_sample(500, np.random.default_rng(s))[0][:, 0] for s in range(40)])
    assert len(np.unique(picked)) > 5000
    counts = np.histogram(picked, bins=10, range=(0, 10_000))[0]  # 2000 expected per bin
    assert counts.min() > 1700 and counts.max() < 2300
    small, _ = rows.init_sample(20_000, np.random.default_rng(0))
    np.testing.assert_array_equal(small, X)  # fewer rows than the sample: all, in order


def test_memmap_dtypes_and_memory(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300_000, 16)) + rng.integers(0, 3, 300_000)[:, None] * 4  # 38 MB
    mm = save_memmap(tmp_path, X)
    before = np.array(mm[:5])
    tracemalloc.start()
    kw = dict(covariance_type="diag", random_state=0, max_iter=5, tol=0)
    g = GaussianMixture(3, chunk_size=4 * BLOCK, init_size=20_000, **kw)  # 2 MB chunks, 2.5 MB sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g.fit(mm)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 6 << 20, f"peak {peak / 2**20:.1f} MiB of Python allocations for a 38 MB memmap"
    np.testing.assert_array_equal(mm[:5], before)
    assert g.means_.dtype == np.float64
    g32 = GaussianMixture(2, random_state=0).fit(save_memmap(tmp_path, X[:5000].astype(np.float32), "f.npy"))
    assert g32.means_.dtype == np.float32
    ints = (X[:5000] * 10).astype(np.int32)
    gi = GaussianMixture(2, random_state=0).fit(save_memmap(tmp_path, ints, "i.npy"))
    ref = GaussianMixture(2, random_state=0).fit(ints)
    assert_same_bits(ref, gi)


def test_dataframe_chunks_keep_feature_names(data):
    frame = pd.DataFrame(data, columns=["a", "b", "c", "d"])
    g = GaussianMixture(3, random_state=0).fit(
        lambda: (frame.iloc[i : i + 3000] for i in range(0, 9000, 3000))
    )
    np.testing.assert_array_equal(g.feature_names_in_, ["a", "b", "c", "d"])
    assert g.predict(frame).shape == (9000,)


def test_fit_predict_reads_every_chunk(data):
    make = chunks_of(data, [BLOCK, len(data) - BLOCK])
    labels = GaussianMixture(3, random_state=0).fit_predict(make)
    np.testing.assert_array_equal(labels, GaussianMixture(3, random_state=0).fit_predict(data))


def test_chunk_source_errors(data):
    g = GaussianMixture(2)
    with pytest.raises(TypeError, match="iterator"):
        g.fit(iter([data]))
    with pytest.raises(TypeError, match="iterator"):
        g.fit(x for x in [data])
    once = iter([data[:100], data[100:200]])
    with pytest.raises(ValueError, match="fresh iterable"):
        g.fit(lambda: once)
    with pytest.raises(ValueError, match="features"):
        g.fit(lambda: [data[:100], data[100:200, :3]])
    bad = data[:200].copy()
    bad[150, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        g.fit(lambda: [data[:100], bad])
    with pytest.raises(ValueError, match="pairs"):
        g.fit(lambda: [data], sample_weight=np.ones(len(data)))
    with pytest.raises(ValueError, match="every chunk"):
        g.fit(lambda: [(data[:100], np.ones(100)), data[100:200]])
    with pytest.raises(TypeError, match="iterable of chunks"):
        g.fit(lambda: 3)
    with pytest.raises(ValueError, match="no rows"):
        g.fit(list)
    with pytest.raises(ValueError, match="sums to zero"):
        g.fit(lambda: [(data[:100], np.zeros(100))])
    with pytest.raises(ValueError, match="n_components"):
        GaussianMixture(5).fit(lambda: [data[:3]])
    with pytest.raises(ValueError, match="chunk_size"):
        GaussianMixture(2, chunk_size=0).fit(data)
    with pytest.raises(ValueError, match="learning_decay"):
        GaussianMixture(2, learning_decay=0.4).fit(data)


# ---------------------------------------------------------------------------- partial_fit
def numpy_stepwise(chunks, weights, means, covs, decay, reg_covar):
    """Stepwise EM with full covariances in plain NumPy, raw (unshifted) moments."""
    from scipy.stats import multivariate_normal

    running = None
    for t, X in enumerate(chunks):
        dens = np.stack(
            [w * multivariate_normal(m, c).pdf(X) for w, m, c in zip(weights, means, covs, strict=True)],
            axis=1,
        )
        r = dens / dens.sum(axis=1, keepdims=True)
        n = len(X)
        stats = [r.sum(0) / n, r.T @ X / n, np.einsum("nk,ni,nj->kij", r, X, X) / n]
        if running is None:
            running = stats
        else:
            eta = (t + 1.0) ** -decay
            running = [(1 - eta) * a + eta * b for a, b in zip(running, stats, strict=True)]
        nk, s1, s2 = running
        nk = nk + 10 * np.finfo(np.float64).eps
        weights = nk / nk.sum()
        means = s1 / nk[:, None]
        covs = s2 / nk[:, None, None] - np.einsum("ki,kj->kij", means, means)
        covs += reg_covar * np.eye(X.shape[1])
    return weights, means, covs


@pytest.mark.parametrize("decay", [0.6, 1.0])
def test_partial_fit_is_stepwise_em(data, decay):
    pytest.importorskip("scipy")
    weights = np.array([0.3, 0.3, 0.4])
    means = np.array([[0.5] * 4, [2.5] * 4, [5.0] * 4])
    covs = np.stack([np.eye(4)] * 3)
    precisions = np.linalg.inv(covs)
    chunks = [data[i : i + 700] for i in range(0, 7000, 700)]
    g = GaussianMixture(
        3, weights_init=weights, means_init=means, precisions_init=precisions, learning_decay=decay
    )
    for X in chunks:
        g.partial_fit(X)
    w, m, c = numpy_stepwise(chunks, weights, means, covs, decay, g.reg_covar)
    np.testing.assert_allclose(g.weights_, w, rtol=1e-9)
    np.testing.assert_allclose(g.means_, m, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g.covariances_, c, rtol=1e-9, atol=1e-12)
    assert g.n_iter_ == len(chunks) and len(g.lower_bounds_) == len(chunks)


@pytest.mark.parametrize("cov", COVS)
def test_partial_fit_reaches_the_batch_optimum(data, cov):
    ref = GaussianMixture(3, covariance_type=cov, random_state=0).fit(data)
    g = GaussianMixture(3, covariance_type=cov, random_state=0)
    for _ in range(3):
        for i in range(0, len(data), 500):
            g.partial_fit(data[i : i + 500])
    assert g.score(data) == pytest.approx(ref.score(data), abs=0.01)


def test_partial_fit_warns_once_when_chunks_look_sorted():
    """Chunks sorted by cluster move the mixing proportions far beyond chance: one warning.
    The same rows shuffled: none."""
    rng = np.random.default_rng(0)
    blobs = np.vstack([rng.normal(0, 1, (2000, 2)), rng.normal(8, 1, (2000, 2))])
    g = GaussianMixture(2, random_state=0)
    with pytest.warns(UserWarning, match="exchangeable") as record:
        for i in range(0, 4000, 500):
            g.partial_fit(blobs[i : i + 500])
    assert sum("exchangeable" in str(w.message) for w in record) == 1
    shuffled = rng.permutation(blobs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        g = GaussianMixture(2, random_state=0)
        for i in range(0, 4000, 500):
            g.partial_fit(shuffled[i : i + 500])


def test_partial_fit_continues_a_fit_and_checks_its_input(data):
    g = GaussianMixture(3, random_state=0).fit(data[:3000])
    n_iter = g.n_iter_
    g.partial_fit(data[3000:4000])
    assert g.n_iter_ == n_iter + 1 and len(g.lower_bounds_) == n_iter + 1
    with pytest.raises(ValueError, match="features"):
        g.partial_fit(data[:100, :3])
    with pytest.raises(ValueError, match="n_components"):
        GaussianMixture(3).partial_fit(data[:2])
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture(3).partial_fit(np.full((10, 2), np.nan))
    X = data[:500].copy()
    GaussianMixture(3, random_state=0).partial_fit(X)
    np.testing.assert_array_equal(X, data[:500])
