"""k-NN manifold estimates: precision and recall (Kynkäänniemi et al. 2019), density and
coverage (Naeem et al. 2020), as the `prdc` package computes them, on the C++ tile kernels."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import _core
from .._config import get_num_threads
from ..utils._validation import check_int
from ._checks import check_samples


class ManifoldScores(NamedTuple):
    """The result of `manifold_scores`: fidelity (precision, density) and diversity (recall,
    coverage) of fake rows against real ones.

    Attributes
    ----------
    precision : float
        Share of fake rows inside some real row's k-NN ball, in [0, 1].
    recall : float
        Share of real rows inside some fake row's k-NN ball, in [0, 1].
    density : float
        Mean number of real balls holding a fake row, over k: about 1 when the fake rows
        are distributed as the real ones, above 1 where they crowd dense regions.
    coverage : float
        Share of real balls holding at least one fake row, in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import manifold_scores
    >>> rng = np.random.default_rng(0)
    >>> scores = manifold_scores(rng.normal(size=(200, 2)), rng.normal(size=(200, 2)))
    >>> scores.precision, scores.recall
    (1.0, 1.0)
    >>> precision, recall, density, coverage = scores  # a NamedTuple unpacks
    """

    precision: float
    recall: float
    density: float
    coverage: float


class PrecisionRecall(NamedTuple):
    """The result of `precision_recall`.

    Attributes
    ----------
    precision : float
        Share of fake rows inside some real row's k-NN ball (fidelity), in [0, 1].
    recall : float
        Share of real rows inside some fake row's k-NN ball (diversity), in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import precision_recall
    >>> rng = np.random.default_rng(0)
    >>> result = precision_recall(rng.normal(size=(200, 2)), rng.normal(size=(200, 2)))
    >>> result
    PrecisionRecall(precision=1.0, recall=1.0)
    >>> result.recall
    1.0
    """

    precision: float
    recall: float


class DensityCoverage(NamedTuple):
    """The result of `density_coverage`.

    Attributes
    ----------
    density : float
        Mean number of real k-NN balls holding a fake row, over k (about 1 for fake rows
        distributed as the real ones; not bounded by 1).
    coverage : float
        Share of real balls holding at least one fake row, in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import density_coverage
    >>> rng = np.random.default_rng(0)
    >>> result = density_coverage(rng.normal(size=(200, 2)), rng.normal(size=(200, 2)))
    >>> round(result.density, 2), round(result.coverage, 2)
    (1.03, 0.95)
    """

    density: float
    coverage: float


def manifold_scores(real: Any, fake: Any, k: int = 5) -> ManifoldScores:
    """Precision, recall, density and coverage of `fake` rows against `real` ones, with k-NN
    balls: each row's ball reaches its k-th nearest neighbour in its own sample.

    - precision: the share of fake rows inside some real ball;
    - recall: the share of real rows inside some fake ball;
    - density: the mean number of real balls holding a fake row, divided by k (1 when the
      fake rows are distributed as the real ones; above 1 where they crowd dense regions);
    - coverage: the share of real balls holding at least one fake row.

    Distances are Euclidean, computed in float64 (float32 input too); "inside" is a strict
    ``distance < radius``, as in `prdc`. Nothing of size n_real x n_fake is stored: the
    distances are taken 256 x 256 at a time.

    Parameters
    ----------
    real, fake : array-like (n, d) and (m, d)
        Feature vectors of the reference and the generated rows, at least ``k + 1`` each.
    k : int
        The neighbour that sets each ball's radius.

    Returns
    -------
    ManifoldScores

    Raises
    ------
    ValueError
        ``k`` below 1, fewer than ``k + 1`` rows, non-finite values or mismatched features.

    Examples
    --------
    A generator that collapses onto the centre of the data makes realistic rows (high
    precision) but misses much of the data (low recall and coverage):

    >>> import numpy as np
    >>> from scalegen.metrics import manifold_scores
    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(200, 2))
    >>> collapsed = 0.3 * rng.normal(size=(200, 2))
    >>> manifold_scores(real, collapsed, k=5)
    ManifoldScores(precision=1.0, recall=0.475, density=0.996, coverage=0.41)
    """
    k = check_int(k, "k", "manifold_scores", low=1)
    r, f = check_samples(real, fake, "manifold_scores", min_rows=k + 1, names=("real", "fake"))
    _, _, in_real_balls, in_fake_balls, ball_hit = _core.metrics_manifold(r, f, k, get_num_threads())
    return ManifoldScores(
        precision=float(np.count_nonzero(in_real_balls) / len(f)),
        recall=float(np.count_nonzero(in_fake_balls) / len(r)),
        density=float(in_real_balls.sum() / (k * len(f))),
        coverage=float(np.count_nonzero(ball_hit) / len(r)),
    )


def precision_recall(real: Any, fake: Any, k: int = 5) -> PrecisionRecall:
    """Improved precision and recall (Kynkäänniemi et al. 2019): see `manifold_scores`.

    Parameters
    ----------
    real, fake : array-like (n, d) and (m, d)
        Reference and generated feature vectors, at least ``k + 1`` rows each.
    k : int
        The neighbour that sets each k-NN ball's radius.

    Returns
    -------
    PrecisionRecall

    Raises
    ------
    ValueError
        As `manifold_scores`.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import precision_recall
    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(200, 2))
    >>> precision_recall(real, 3.0 * rng.normal(size=(200, 2)))  # too spread out
    PrecisionRecall(precision=0.54, recall=1.0)
    """
    s = manifold_scores(real, fake, k)
    return PrecisionRecall(s.precision, s.recall)


def density_coverage(real: Any, fake: Any, k: int = 5) -> DensityCoverage:
    """Density and coverage (Naeem et al. 2020): see `manifold_scores`.

    Parameters
    ----------
    real, fake : array-like (n, d) and (m, d)
        Reference and generated feature vectors, at least ``k + 1`` rows each.
    k : int
        The neighbour that sets each real row's ball radius.

    Returns
    -------
    DensityCoverage

    Raises
    ------
    ValueError
        As `manifold_scores`.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.metrics import density_coverage
    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(200, 2))
    >>> density_coverage(real, 0.3 * rng.normal(size=(200, 2)))  # collapsed onto the centre
    DensityCoverage(density=0.996, coverage=0.41)
    """
    s = manifold_scores(real, fake, k)
    return DensityCoverage(s.density, s.coverage)
