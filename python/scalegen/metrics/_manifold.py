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
    """Fidelity (precision, density) and diversity (recall, coverage) of fake rows."""

    precision: float
    recall: float
    density: float
    coverage: float


class PrecisionRecall(NamedTuple):
    precision: float
    recall: float


class DensityCoverage(NamedTuple):
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
    """Improved precision and recall (Kynkäänniemi et al. 2019): see `manifold_scores`."""
    s = manifold_scores(real, fake, k)
    return PrecisionRecall(s.precision, s.recall)


def density_coverage(real: Any, fake: Any, k: int = 5) -> DensityCoverage:
    """Density and coverage (Naeem et al. 2020): see `manifold_scores`."""
    s = manifold_scores(real, fake, k)
    return DensityCoverage(s.density, s.coverage)
