"""scalegen.metrics: judging generative models.

Held-out likelihood, two-sample generation error (MMD, energy distance, sliced Wasserstein,
classifier tests), fidelity and diversity (k-NN precision/recall, density/coverage, PRD curves
and F-beta), feature-space Fréchet distance, and metrics for discrete data and structures.
The pairwise-distance kernels run in C++ block by block: no n x m matrix is ever held.
"""

from __future__ import annotations

from ._discrete import KLResult, kl_divergence, marginal_tvd
from ._frechet import FeatureStatistics, extract_features, feature_statistics, frechet_distance
from ._likelihood import LikelihoodComparison, log_likelihood_ratio_test, mean_log_likelihood
from ._manifold import (
    DensityCoverage,
    ManifoldScores,
    PrecisionRecall,
    density_coverage,
    manifold_scores,
    precision_recall,
)
from ._prd import PRDCurve, f_beta, prd_curve
from ._structure import EdgeScores, edge_scores, structural_hamming_distance
from ._two_sample import (
    ClassifierTest,
    MMDTest,
    classifier_two_sample_test,
    energy_distance,
    median_distance,
    mmd,
    mmd_test,
)
from ._wasserstein import sliced_wasserstein

__all__: list[str] = [
    "ClassifierTest",
    "DensityCoverage",
    "EdgeScores",
    "FeatureStatistics",
    "KLResult",
    "LikelihoodComparison",
    "MMDTest",
    "ManifoldScores",
    "PRDCurve",
    "PrecisionRecall",
    "classifier_two_sample_test",
    "density_coverage",
    "edge_scores",
    "energy_distance",
    "extract_features",
    "f_beta",
    "feature_statistics",
    "frechet_distance",
    "kl_divergence",
    "log_likelihood_ratio_test",
    "manifold_scores",
    "marginal_tvd",
    "mean_log_likelihood",
    "median_distance",
    "mmd",
    "mmd_test",
    "prd_curve",
    "precision_recall",
    "sliced_wasserstein",
    "structural_hamming_distance",
]
