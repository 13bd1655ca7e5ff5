"""Precision and recall for distributions (PRD curves) and their F-beta summary.

Sajjadi, Bachem, Lucic, Bousquet, Gelly (2018), "Assessing Generative Models via Precision and
Recall", NeurIPS; the algorithm of their ``prd_score.py``, with scalegen's k-means.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _core
from .._config import get_num_threads
from ..utils._validation import check_int, check_random_state, check_real
from ._checks import check_samples

_EPSILON = 1e-10  # the paper's: angles stay inside (0, pi/2), F-beta denominators above 0
_N_INIT = 10  # k-means restarts per run (the paper's MiniBatchKMeans(n_init=10))
_MAX_ITER = 300
_TOL = 1e-4


@dataclasses.dataclass(frozen=True, eq=False)
class PRDCurve:
    """A PRD curve, as `prd_curve` returns it: ``precision[i]`` and ``recall[i]`` at the
    slope ``tan(angle_i)``, angles evenly spaced in [1e-10, pi/2 - 1e-10].

    Attributes
    ----------
    precision : ndarray (num_angles,)
        Read-only float64 values in [0, 1], from about 0 at the first angle upwards.
    recall : ndarray (num_angles,)
        Read-only float64 values in [0, 1], down to about 0 at the last angle.
    num_runs : int
        The clusterings averaged.

    Raises
    ------
    ValueError
        When built from precision and recall arrays that are not 1-D of one length.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import prd_curve
    >>> rng = np.random.default_rng(0)
    >>> real, fake = rng.normal(size=(200, 2)), rng.normal(size=(200, 2))
    >>> curve = prd_curve(real, fake, num_angles=101, num_runs=2, random_state=0)
    >>> curve.precision.shape, curve.recall.shape, curve.num_runs
    ((101,), (101,), 2)
    >>> round(float(curve.precision.max()), 2), round(float(curve.recall.max()), 2)
    (1.0, 1.0)
    >>> curve.precision.flags.writeable
    False
    """

    precision: np.ndarray
    recall: np.ndarray
    num_runs: int

    def __post_init__(self) -> None:
        for name in ("precision", "recall"):
            arr = np.array(getattr(self, name), dtype=np.float64)  # a copy: the caller's stays writable
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if self.precision.ndim != 1 or self.precision.shape != self.recall.shape:
            raise ValueError(
                f"precision and recall must be 1-D arrays of one length, got shapes "
                f"{self.precision.shape} and {self.recall.shape}"
            )


def _prd_from_histograms(
    eval_dist: np.ndarray, ref_dist: np.ndarray, num_angles: int
) -> tuple[np.ndarray, np.ndarray]:
    """(precision, recall) of two histograms over the same bins, each summing to 1: for the
    slopes lambda = tan(linspace(eps, pi/2 - eps, num_angles)), precision(lambda) =
    sum_i min(lambda * ref_i, eval_i) and recall = precision / lambda, clipped to [0, 1]."""
    angles = np.linspace(_EPSILON, math.pi / 2 - _EPSILON, num=num_angles)
    slopes = np.tan(angles)
    precision = np.minimum(ref_dist[None, :] * slopes[:, None], eval_dist[None, :]).sum(axis=1)
    recall = precision / slopes
    return np.clip(precision, 0.0, 1.0), np.clip(recall, 0.0, 1.0)


def _cluster_labels(
    data: np.ndarray, num_clusters: int, rng: np.random.Generator, n_threads: int
) -> np.ndarray:
    """Labels of the best of _N_INIT k-means runs (k-means++ seeding, then Lloyd to
    convergence): the lowest inertia wins. Seeds are drawn from rng."""
    best_labels: np.ndarray | None = None
    best_inertia = math.inf
    for _ in range(_N_INIT):
        seed = int(rng.integers(2**63 - 1))
        idx = np.asarray(_core.kmeans_plusplus(data, None, num_clusters, seed, n_threads))
        centers = data[idx].astype(np.float64)
        _, labels, inertia, _ = _core.kmeans_lloyd(data, None, centers, _MAX_ITER, _TOL, n_threads)
        if best_labels is None or inertia < best_inertia:
            best_labels, best_inertia = labels, inertia
    assert best_labels is not None
    return best_labels


def _histogram(labels: np.ndarray, num_clusters: int) -> np.ndarray:
    counts = np.bincount(labels, minlength=num_clusters).astype(np.float64)
    return counts / counts.sum()


def prd_curve(
    real: Any,
    fake: Any,
    num_clusters: int = 20,
    num_angles: int = 1001,
    num_runs: int = 10,
    enforce_balance: bool = True,
    random_state: Any = None,
) -> PRDCurve:
    """The PRD curve of the generated rows ``fake`` against the reference rows ``real``.

    Each of ``num_runs`` runs clusters the union of fake and real rows into ``num_clusters``
    clusters by k-means, takes the two normalised cluster histograms, and computes precision
    and recall at ``num_angles`` slopes; the curve is the mean over runs (Sajjadi et al. 2018).
    Precision is how much of the fake distribution the real one covers, recall the converse.

    Parameters
    ----------
    real, fake : array-like (n, d) and (m, d)
        Feature vectors (an embedding, not raw pixels, for images); DataFrames are accepted.
    num_clusters : int
        Histogram bins (the paper's default 20); at most the total number of rows.
    num_angles : int in [3, 10**6]
        Points on the curve.
    num_runs : int
        Clusterings averaged.
    enforce_balance : bool
        Refuse n != m, as the paper's code does: the histograms of unbalanced samples are
        clustered mostly by the larger one.
    random_state : None, int, numpy Generator or RandomState
        Seeds the k-means++ initialisations.

    Returns
    -------
    PRDCurve

    Raises
    ------
    ValueError
        Samples of different sizes with ``enforce_balance=True``, more clusters than rows,
        parameters out of range, or non-finite or mismatched samples.
    TypeError
        A non-bool ``enforce_balance``.

    Notes
    -----
    Each run keeps the lowest-inertia of 10 k-means fits (k-means++ seeding, then full Lloyd
    iterations with scalegen's kernels, ``scalegen.get_num_threads()`` threads) where the
    paper's code uses scikit-learn's ``MiniBatchKMeans(n_init=10)``: the same objective, solved
    more exactly, so curves agree with the paper's up to clustering noise, not digit for digit.

    Examples
    --------
    A generator collapsed onto the centre of the data loses more in recall (the first value
    of `f_beta`) than in precision (the second):

    >>> import numpy as np
    >>> from scalegen.metrics import f_beta, prd_curve
    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(200, 2))
    >>> good = prd_curve(real, rng.normal(size=(200, 2)), num_runs=3, random_state=0)
    >>> collapsed = prd_curve(real, 0.3 * rng.normal(size=(200, 2)), num_runs=3, random_state=0)
    >>> [round(f, 2) for f in f_beta(good)]
    [0.98, 0.98]
    >>> [round(f, 2) for f in f_beta(collapsed)]
    [0.42, 0.69]
    """
    owner = "prd_curve"
    num_clusters = check_int(num_clusters, "num_clusters", owner, low=1)
    num_angles = check_int(num_angles, "num_angles", owner, low=3, high=10**6)
    num_runs = check_int(num_runs, "num_runs", owner, low=1)
    if not isinstance(enforce_balance, bool | np.bool_):
        raise TypeError(f"prd_curve: enforce_balance must be True or False, got {enforce_balance!r}")
    rng = check_random_state(random_state)
    ref, ev = check_samples(real, fake, owner, names=("real", "fake"))
    if enforce_balance and ev.shape[0] != ref.shape[0]:
        raise ValueError(
            f"prd_curve: fake has {ev.shape[0]} rows but real has {ref.shape[0]}; the PRD algorithm "
            "needs samples of equal size (subsample the larger one, or pass enforce_balance=False "
            "to accept the bias)"
        )
    data = np.concatenate([ev, ref])  # eval rows first, as the paper's code
    if num_clusters > data.shape[0]:
        raise ValueError(
            f"prd_curve: num_clusters={num_clusters} is more than the {data.shape[0]} rows of real and fake"
        )
    n_threads = get_num_threads()
    precisions, recalls = [], []
    for _ in range(num_runs):
        labels = _cluster_labels(data, num_clusters, rng, n_threads)
        eval_dist = _histogram(labels[: ev.shape[0]], num_clusters)
        ref_dist = _histogram(labels[ev.shape[0] :], num_clusters)
        precision, recall = _prd_from_histograms(eval_dist, ref_dist, num_angles)
        precisions.append(precision)
        recalls.append(recall)
    return PRDCurve(np.mean(precisions, axis=0), np.mean(recalls, axis=0), num_runs)


def _f_beta(precision: np.ndarray, recall: np.ndarray, beta: float) -> np.ndarray:
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall + _EPSILON)


def f_beta(prd: PRDCurve | Sequence[Any], beta: float = 8) -> tuple[float, float]:
    """(max F_beta, max F_{1/beta}) over a PRD curve, as the paper's ``prd_to_max_f_beta_pair``:
    F_b(p, r) = (1 + b^2) p r / (b^2 p + r + 1e-10), and F_{1/beta} is F_beta with precision and
    recall swapped. The first summarises recall (does the model cover the data?), the second
    precision (are its samples realistic?); the paper uses beta = 8.

    Parameters
    ----------
    prd : PRDCurve or tuple of two arrays
        A curve from `prd_curve`, or a pair (precision, recall) of equal-length arrays of
        values in [0, 1].
    beta : float > 0
        How much more recall weighs than precision in the first value.

    Returns
    -------
    (float, float)
        ``(max F_beta, max F_{1/beta})`` over the points of the curve.

    Raises
    ------
    TypeError
        ``prd`` neither a PRDCurve nor a pair.
    ValueError
        Empty or unequal arrays, values outside [0, 1], or ``beta <= 0``.

    Examples
    --------
    Realistic samples (precision 1) that cover at most 30% of the data (recall 0.3):

    >>> from scalegen.metrics import f_beta
    >>> f_recall, f_precision = f_beta(([0.0, 1.0, 1.0], [0.3, 0.3, 0.0]))
    >>> round(f_recall, 3), round(f_precision, 3)
    (0.303, 0.965)
    """
    if isinstance(prd, PRDCurve):
        precision, recall = prd.precision, prd.recall
    else:
        if isinstance(prd, str | bytes) or not isinstance(prd, Sequence) or len(prd) != 2:
            raise TypeError(f"f_beta: prd must be a PRDCurve or a (precision, recall) pair, got {prd!r}")
        pair = PRDCurve(np.asarray(prd[0], dtype=np.float64), np.asarray(prd[1], dtype=np.float64), 1)
        precision, recall = pair.precision, pair.recall
        if precision.size == 0:
            raise ValueError("f_beta: precision and recall are empty")
        for name, values in (("precision", precision), ("recall", recall)):
            if not ((values >= 0) & (values <= 1)).all():  # NaN fails too
                raise ValueError(f"f_beta: all values of {name} must be in [0, 1]")
    beta = check_real(beta, "beta", "f_beta", low=0.0, closed="neither")
    return float(np.max(_f_beta(precision, recall, beta))), float(np.max(_f_beta(recall, precision, beta)))
