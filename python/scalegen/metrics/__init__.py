"""scalegen.metrics: judging generative models.

Held-out likelihood, two-sample generation error (MMD, energy distance, sliced Wasserstein,
classifier tests), fidelity and diversity (k-NN precision/recall, density/coverage, PRD curves
and F-beta), feature-space Fréchet distance, and metrics for discrete data and structures.
The pairwise-distance kernels run in C++ block by block: no n x m matrix is ever held.
"""

from __future__ import annotations

from ._discrete import KLResult, kl_divergence, marginal_tvd
from ._frechet import FeatureStatistics, feature_statistics, frechet_distance
from ._likelihood import LikelihoodComparison, log_likelihood_ratio_test, mean_log_likelihood
from ._prd import PRDCurve, f_beta, prd_curve
from ._structure import EdgeScores, edge_scores, structural_hamming_distance
from ._wasserstein import sliced_wasserstein

__all__: list[str] = [
    "EdgeScores",
    "FeatureStatistics",
    "KLResult",
    "LikelihoodComparison",
    "PRDCurve",
    "edge_scores",
    "f_beta",
    "feature_statistics",
    "frechet_distance",
    "kl_divergence",
    "log_likelihood_ratio_test",
    "marginal_tvd",
    "mean_log_likelihood",
    "prd_curve",
    "sliced_wasserstein",
    "structural_hamming_distance",
]
