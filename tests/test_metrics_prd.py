"""PRD curves and F-beta (scalegen.metrics.prd_curve, f_beta) against a NumPy transcription
of Sajjadi et al. 2018's prd_score.py, with the clustering shared by both sides."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from scalegen.metrics import PRDCurve, _prd, f_beta, prd_curve


# ---- the paper's code, transcribed (prd_score.py: compute_prd, _cluster_into_bins, ...) ------
def paper_compute_prd(eval_dist, ref_dist, num_angles=1001, epsilon=1e-10):
    angles = np.linspace(epsilon, math.pi / 2 - epsilon, num=num_angles)
    slopes = np.tan(angles)
    slopes_2d = np.expand_dims(slopes, 1)
    ref_dist_2d = np.expand_dims(ref_dist, 0)
    eval_dist_2d = np.expand_dims(eval_dist, 0)
    precision = np.minimum(ref_dist_2d * slopes_2d, eval_dist_2d).sum(axis=1)
    recall = precision / slopes
    max_val = max(np.max(precision), np.max(recall))
    assert max_val <= 1.001
    return np.clip(precision, 0, 1), np.clip(recall, 0, 1)


def paper_cluster_into_bins(eval_data, ref_data, num_clusters, labels_of):
    cluster_data = np.vstack([eval_data, ref_data])
    labels = labels_of(cluster_data)
    eval_labels = labels[: len(eval_data)]
    ref_labels = labels[len(eval_data) :]
    eval_bins = np.histogram(eval_labels, bins=num_clusters, range=[0, num_clusters], density=True)[0]
    ref_bins = np.histogram(ref_labels, bins=num_clusters, range=[0, num_clusters], density=True)[0]
    return eval_bins, ref_bins


def paper_compute_prd_from_embedding(
    eval_data, ref_data, labels_of, num_clusters=20, num_angles=1001, num_runs=10
):
    eval_data = np.array(eval_data, dtype=np.float64)
    ref_data = np.array(ref_data, dtype=np.float64)
    precisions, recalls = [], []
    for _ in range(num_runs):
        eval_dist, ref_dist = paper_cluster_into_bins(eval_data, ref_data, num_clusters, labels_of)
        precision, recall = paper_compute_prd(eval_dist, ref_dist, num_angles)
        precisions.append(precision)
        recalls.append(recall)
    return np.mean(precisions, axis=0), np.mean(recalls, axis=0)


def paper_prd_to_f_beta(precision, recall, beta=1, epsilon=1e-10):
    return (1 + beta**2) * (precision * recall) / ((beta**2 * precision) + recall + epsilon)


def paper_prd_to_max_f_beta_pair(precision, recall, beta=8):
    return np.max(paper_prd_to_f_beta(precision, recall, beta)), np.max(
        paper_prd_to_f_beta(recall, precision, beta)
    )


# ---- helpers ---------------------------------------------------------------------------------
def blobs(rng, centers, n, scale=0.3):
    centers = np.asarray(centers, dtype=np.float64)
    idx = np.arange(n) % len(centers)
    return centers[idx] + scale * rng.standard_normal((n, centers.shape[1]))


def sklearn_labeler(seed0, k):
    """A clustering both sides call in the same order: k-means with seeds seed0, seed0+1, ..."""
    seeds = itertools.count(seed0)
    return lambda data: KMeans(n_clusters=k, n_init=3, random_state=next(seeds)).fit(data).labels_


# ---- the histogram -> curve step --------------------------------------------------------------
@pytest.mark.parametrize("k, num_angles", [(20, 1001), (5, 3), (50, 257)])
def test_prd_from_histograms_matches_paper(k, num_angles):
    rng = np.random.default_rng(k)
    for trial in range(5):
        eval_dist = rng.dirichlet(np.full(k, 0.5))
        ref_dist = rng.dirichlet(np.full(k, 0.5))
        if trial == 0:  # empty bins on each side
            eval_dist[: k // 3] = 0
            ref_dist[-(k // 3) :] = 0
            eval_dist, ref_dist = eval_dist / eval_dist.sum(), ref_dist / ref_dist.sum()
        precision, recall = _prd._prd_from_histograms(eval_dist, ref_dist, num_angles)
        want_p, want_r = paper_compute_prd(eval_dist, ref_dist, num_angles)
        np.testing.assert_allclose(precision, want_p, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(recall, want_r, rtol=1e-14, atol=1e-15)


def test_prd_from_histograms_extremes():
    d = np.array([0.25, 0.25, 0.5, 0.0])
    p, r = _prd._prd_from_histograms(d, d, 1001)
    assert p.max() == pytest.approx(1.0) and r.max() == pytest.approx(1.0)
    p, r = _prd._prd_from_histograms(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 11)
    assert np.all(p == 0) and np.all(r == 0)


# ---- end to end with the clustering injected ----------------------------------------------------
@pytest.mark.parametrize("num_clusters, num_runs, num_angles, n_fake", [(20, 3, 1001, 300), (7, 2, 101, 240)])
def test_prd_curve_matches_paper_with_shared_clustering(
    monkeypatch, num_clusters, num_runs, num_angles, n_fake
):
    rng = np.random.default_rng(1)
    real = blobs(rng, [[0, 0], [4, 0], [0, 4], [4, 4]], 300)
    fake = blobs(rng, [[0, 0], [4, 0], [2, 2]], n_fake, scale=0.5)
    seen = []

    def injected(data, k, rng_, n_threads):
        assert k == num_clusters
        seen.append(data.copy())
        return ours(data)

    ours, theirs = sklearn_labeler(100, num_clusters), sklearn_labeler(100, num_clusters)
    monkeypatch.setattr(_prd, "_cluster_labels", injected)
    curve = prd_curve(
        real, fake, num_clusters=num_clusters, num_angles=num_angles, num_runs=num_runs,
        enforce_balance=n_fake == 300, random_state=0,
    )  # fmt: skip
    want_p, want_r = paper_compute_prd_from_embedding(
        fake, real, theirs, num_clusters=num_clusters, num_angles=num_angles, num_runs=num_runs
    )
    assert len(seen) == num_runs
    np.testing.assert_array_equal(seen[0], np.vstack([fake, real]))  # eval (fake) rows first
    assert curve.num_runs == num_runs
    assert curve.precision.shape == curve.recall.shape == (num_angles,)
    np.testing.assert_allclose(curve.precision, want_p, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(curve.recall, want_r, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(f_beta(curve), paper_prd_to_max_f_beta_pair(want_p, want_r), rtol=1e-12)


def test_cluster_labels_finds_separated_clusters():
    """scalegen's k-means (best of 10 k-means++ / Lloyd fits) recovers well separated blobs."""
    rng = np.random.default_rng(2)
    centers = rng.uniform(-20, 20, (6, 3))
    data = blobs(rng, centers, 600, scale=0.2)
    truth = np.arange(600) % 6
    labels = _prd._cluster_labels(data, 6, np.random.default_rng(0), 1)
    assert labels.shape == (600,)
    assert adjusted_rand_score(truth, labels) == 1.0
    labels32 = _prd._cluster_labels(data.astype(np.float32), 6, np.random.default_rng(0), 1)
    assert adjusted_rand_score(truth, labels32) == 1.0


# ---- behaviour -------------------------------------------------------------------------------
def test_identical_distributions_are_near_ideal():
    rng = np.random.default_rng(3)
    centers = [[0, 0], [3, 0], [0, 3]]
    curve = prd_curve(blobs(rng, centers, 600), blobs(rng, centers, 600), num_runs=3, random_state=0)
    f8, f1_8 = f_beta(curve)
    assert f8 > 0.95 and f1_8 > 0.95
    assert curve.precision.max() > 0.95 and curve.recall.max() > 0.95


def test_disjoint_distributions_are_near_zero():
    rng = np.random.default_rng(4)
    real = blobs(rng, [[0, 0], [3, 0]], 400)
    fake = blobs(rng, [[100, 100], [103, 100]], 400)
    curve = prd_curve(real, fake, num_clusters=10, num_runs=2, random_state=0)
    assert max(f_beta(curve)) < 1e-6
    assert curve.precision.max() < 1e-6 and curve.recall.max() < 1e-6


def test_mode_dropping_lowers_recall_not_precision():
    rng = np.random.default_rng(5)
    real = blobs(rng, [[0, 0], [10, 0]], 600)
    fake = blobs(rng, [[0, 0]], 600)  # half of the modes, realistic samples
    f8, f1_8 = f_beta(prd_curve(real, fake, num_clusters=10, num_runs=2, random_state=0))
    assert f8 < 0.6  # recall ~ 1/2
    assert f1_8 > 0.9  # precision ~ 1


def test_same_seed_same_curve_and_inputs_untouched():
    rng = np.random.default_rng(6)
    real, fake = rng.standard_normal((200, 3)), rng.standard_normal((200, 3)) + 0.5
    real_copy, fake_copy = real.copy(), fake.copy()
    a = prd_curve(real, fake, num_runs=2, random_state=7)
    b = prd_curve(pd.DataFrame(real), pd.DataFrame(fake), num_runs=2, random_state=7)
    np.testing.assert_array_equal(a.precision, b.precision)
    np.testing.assert_array_equal(a.recall, b.recall)
    np.testing.assert_array_equal(real, real_copy)
    np.testing.assert_array_equal(fake, fake_copy)
    assert not a.precision.flags.writeable and not a.recall.flags.writeable
    with pytest.raises(AttributeError):
        a.num_runs = 3  # type: ignore[misc]


def test_unbalanced_samples():
    rng = np.random.default_rng(7)
    real, fake = rng.standard_normal((200, 2)), rng.standard_normal((150, 2))
    with pytest.raises(ValueError, match="equal size"):
        prd_curve(real, fake)
    curve = prd_curve(real, fake, num_runs=1, enforce_balance=False, random_state=0)
    assert curve.precision.shape == (1001,)


# ---- f_beta ------------------------------------------------------------------------------------
def test_f_beta_matches_paper():
    rng = np.random.default_rng(8)
    p, r = rng.uniform(0, 1, 501), rng.uniform(0, 1, 501)
    for beta in (8, 1, 0.5, 3.0):
        want = paper_prd_to_max_f_beta_pair(p, r, beta)
        np.testing.assert_allclose(f_beta((p, r), beta=beta), want, rtol=1e-14)
        np.testing.assert_allclose(f_beta(PRDCurve(p, r, 1), beta=beta), want, rtol=1e-14)
    assert f_beta((np.zeros(3), np.zeros(3))) == (0.0, 0.0)
    out = f_beta((p, r))
    assert isinstance(out, tuple) and all(type(v) is float for v in out)


@pytest.mark.parametrize(
    "prd, beta, error",
    [
        ((np.array([0.5, 1.2]), np.array([0.5, 0.5])), 8, ValueError),
        ((np.array([0.5, np.nan]), np.array([0.5, 0.5])), 8, ValueError),
        ((np.array([0.5]), np.array([0.5, 0.5])), 8, ValueError),
        ((np.array([]), np.array([])), 8, ValueError),
        ((np.array([0.5]), np.array([0.5])), 0, ValueError),
        ((np.array([0.5]), np.array([0.5])), -1.0, ValueError),
        ((np.array([0.5]), np.array([0.5])), "8", TypeError),
        ("curve", 8, TypeError),
        (np.array([0.5, 0.5]), 8, TypeError),
    ],
)
def test_f_beta_bad_input(prd, beta, error):
    with pytest.raises(error):
        f_beta(prd, beta=beta)


# ---- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"num_clusters": 0}, ValueError, "num_clusters"),
        ({"num_clusters": 2.5}, TypeError, "num_clusters"),
        ({"num_clusters": 41}, ValueError, "num_clusters=41"),
        ({"num_angles": 2}, ValueError, "num_angles"),
        ({"num_runs": 0}, ValueError, "num_runs"),
        ({"enforce_balance": "yes"}, TypeError, "enforce_balance"),
        ({"random_state": -1}, ValueError, "random_state"),
    ],
)
def test_prd_curve_bad_parameters(kwargs, error, match):
    rng = np.random.default_rng(9)
    with pytest.raises(error, match=match):
        prd_curve(rng.standard_normal((20, 2)), rng.standard_normal((20, 2)), **kwargs)


def test_prd_curve_bad_samples():
    rng = np.random.default_rng(10)
    real = rng.standard_normal((30, 3))
    with pytest.raises(ValueError, match="3 features but fake has 2"):
        prd_curve(real, rng.standard_normal((30, 2)))
    bad = real.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        prd_curve(real, bad)
    with pytest.raises(ValueError, match="2D"):
        prd_curve(real[:, 0], real[:, 0])
    with pytest.raises(ValueError, match="0 sample"):
        prd_curve(real[:0], real[:0])
