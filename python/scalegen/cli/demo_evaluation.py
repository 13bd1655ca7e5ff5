"""``scalegen demo``'s held-out evaluations with scalegen.metrics: each family's model judged
against data it never saw, next to a reference (the true model, or real data against real
data), printed as a small table and returned as a dict of floats for summary.json."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_NO_PLOT = "skipped (matplotlib is not installed: pip install 'scalegen[plot]')"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "    ") -> None:
    """Print rows under a header: the first column left-aligned, the others right-aligned."""
    widths = [max(len(r[j]) for r in (header, *rows)) for j in range(len(header))]
    for r in (header, *rows):
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        print(indent + "  ".join(cells).rstrip())


def evaluate_mixture(
    gmm: Any, centres: Sequence[Sequence[float]], cov: np.ndarray, *, n_held_out: int = 5000
) -> dict:
    """The GMM against held-out points of its generating process (equal-weight Gaussian blobs
    at `centres` with covariance `cov`): mean log-likelihood, an MMD permutation test on 2,000
    samples, and k-NN precision/recall/density/coverage of 5,000 samples; the true blobs are the
    reference (their density, and fresh draws from them)."""
    from scipy.stats import multivariate_normal

    from ..metrics import manifold_scores, mean_log_likelihood, mmd_test

    t0 = time.perf_counter()
    rng = np.random.default_rng(7)  # not the training data's seed (42)

    def draw(n: int) -> np.ndarray:
        k = len(centres)
        parts = [rng.multivariate_normal(c, cov, n // k + (i < n % k)) for i, c in enumerate(centres)]
        return rng.permutation(np.vstack(parts))  # shuffled, so any prefix mixes the blobs

    held = draw(n_held_out)
    truth_ll = float(np.log(np.mean([multivariate_normal(c, cov).pdf(held) for c in centres], axis=0)).mean())
    n_mmd = min(2000, n_held_out)
    test = mmd_test(gmm.sample(n_mmd)[0], held[:n_mmd], n_permutations=200, random_state=0)
    fake, _ = gmm.sample(n_held_out)
    scores = {"gmm": manifold_scores(held, fake, k=5), "truth": manifold_scores(held, draw(n_held_out), k=5)}
    result = {
        "n_held_out": n_held_out,
        "mean_log_likelihood": mean_log_likelihood(gmm, held),
        "true_mean_log_likelihood": truth_ll,
        "mmd_rows": n_mmd,
        "mmd2": test.statistic,
        "mmd_p_value": test.p_value,
        "mmd_bandwidth": test.bandwidths[0],
        **{f"{key}_{name}": float(v) for name, s in scores.items() for key, v in s._asdict().items()},
        "seconds": time.perf_counter() - t0,
    }
    print(
        f"\n[mixture] held-out evaluation: {n_held_out:,} new points of the two blobs (k-NN scores, k=5: "
        f"{n_held_out:,} draws of each model)"
    )
    pairs = [
        ("precision / recall", "precision", "recall"),
        ("density / coverage", "density", "coverage"),
    ]
    _table(
        ("", "GMM", "true blobs"),
        [
            (
                "mean log-likelihood",
                f"{result['mean_log_likelihood']:.4f}",
                f"{truth_ll:.4f}",
            ),
            (
                f"MMD^2, {n_mmd:,} rows (p-value)",
                f"{test.statistic:+.1e} ({test.p_value:.2f})",
                "",
            ),
            *(
                (label, *(f"{getattr(scores[m], a):.3f} / {getattr(scores[m], b):.3f}" for m in scores))
                for label, a, b in pairs
            ),
        ],
    )
    print(f"    (MMD: RBF kernel, median bandwidth {test.bandwidths[0]:.2f}, 200 permutations)")
    return result


def evaluate_bayesnet(truth: Any, learned: Any, *, n_held_out: int = 5000) -> dict:
    """The learned network against held-out rows of the true one: k-way marginal TVD of
    n_held_out rows sampled from each (a second sample of the truth is the reference: its TVD
    is sampling noise), mean log-likelihood of the held-out rows, and the exact KL divergence."""
    from ..metrics import kl_divergence, marginal_tvd, mean_log_likelihood

    t0 = time.perf_counter()
    held = truth.sample(n_held_out, random_state=11)  # the demo learned from random_state=0
    samples = {
        "learned": learned.sample(n_held_out, random_state=12),
        "truth": truth.sample(n_held_out, random_state=13),
    }
    result: dict[str, Any] = {"n_held_out": n_held_out}
    for order in (1, 2):
        for name, rows in samples.items():
            result[f"{name}_tvd_{order}"] = marginal_tvd(held, rows, order=order)
    for name, model in (("learned", learned), ("truth", truth)):
        result[f"{name}_log_likelihood"] = mean_log_likelihood(model, held)
    kl = kl_divergence(truth, learned, exact=True)
    result["kl_truth_learned"] = kl.value
    result["seconds"] = time.perf_counter() - t0
    name = getattr(truth, "name", "true")
    print(f"\n[bayesnet] held-out evaluation: {n_held_out:,} new rows of the true network ('{name}')")
    _table(
        ("", "learned", "truth"),
        [
            *(
                (
                    f"marginal TVD, order {order}",
                    *(f"{result[f'{m}_tvd_{order}']:.4f}" for m in samples),
                )
                for order in (1, 2)
            ),
            (
                "mean log-likelihood",
                *(f"{result[f'{m}_log_likelihood']:.4f}" for m in ("learned", "truth")),
            ),
            ("KL(truth || learned), exact", f"{kl.value:.2e}", "0"),
        ],
    )
    print(f"    (TVD: {n_held_out:,} rows sampled from each network against the held-out rows)")
    return result


def evaluate_structure(learned_edges: Sequence[tuple[Hashable, Hashable]], truth: Any) -> dict:
    """Edge precision/recall/F1 of a learned DAG against the true one, with and without the
    edges' directions."""
    from ..metrics import edge_scores

    scores = {
        "directed": edge_scores(learned_edges, truth),
        "skeleton": edge_scores(learned_edges, truth, directed=False),
    }
    print("  learned edges against the true ones:")
    _table(
        ("", "precision", "recall", "F1", "TP", "FP", "FN"),
        [
            (
                name,
                f"{s.precision:.3f}",
                f"{s.recall:.3f}",
                f"{s.f1:.3f}",
                str(s.true_positives),
                str(s.false_positives),
                str(s.false_negatives),
            )
            for name, s in scores.items()
        ],
    )
    return {name: {k: float(v) for k, v in dataclasses.asdict(s).items()} for name, s in scores.items()}


def evaluate_generative(
    out: Path, x_train: np.ndarray, x_test: np.ndarray, samples: dict[str, np.ndarray], classifier: Any
) -> dict:
    """Each model's samples against the held-out digits in the classifier's features (the
    input of its last Dense layer): PRD curve (F8, F1/8), k-NN precision/recall/density/
    coverage, Fréchet distance. Reference: training images against the held-out ones, what a
    model that reproduced the data distribution would score. Equal counts throughout (the
    PRD algorithm needs them, and the k-NN and Fréchet estimates depend on the counts)."""
    from ..metrics import (
        extract_features,
        f_beta,
        feature_statistics,
        frechet_distance,
        manifold_scores,
        prd_curve,
    )

    t0 = time.perf_counter()
    n = min(1000, len(x_test), len(x_train), *(len(v) for v in samples.values()))
    subset = np.random.default_rng(0).choice(len(x_train), n, replace=False)
    fakes = {**{k: v[:n] for k, v in samples.items()}, "reference": x_train[subset]}
    # the features frechet_distance(..., features=classifier) takes, computed once for all metrics
    real = extract_features(classifier, x_test[:n])
    real_stats = feature_statistics(real)
    result: dict[str, Any] = {"n": n}
    curves = {}
    for name, images in fakes.items():
        feats = extract_features(classifier, images)
        curves[name] = prd_curve(real, feats, num_runs=5, random_state=0)
        f8, f1_8 = f_beta(curves[name], beta=8)
        result[name.lower()] = {
            "f8": f8,
            "f1_8": f1_8,
            **{k: float(v) for k, v in manifold_scores(real, feats, k=5)._asdict().items()},
            "frechet": frechet_distance(real_stats, feats),
        }
    result["picture"] = _plot_prd(out / "prd_curves.png", curves, result)
    result["seconds"] = time.perf_counter() - t0
    print(
        f"\n[nn] held-out evaluation: {n} samples of each model against {n} held-out digits, in the "
        "classifier's features"
    )
    _table(
        ("", "F8", "F1/8", "precision", "recall", "density", "coverage", "Fréchet"),
        [
            (
                name if name != "reference" else "training images",
                *(f"{result[name.lower()][k]:.3f}" for k in ("f8", "f1_8", "precision", "recall")),
                *(f"{result[name.lower()][k]:.3f}" for k in ("density", "coverage")),
                f"{result[name.lower()]['frechet']:.2f}",
            )
            for name in fakes
        ],
    )
    print(
        "    (F8 weighs recall, F1/8 precision: PRD curves from 20 k-means clusters, 5 runs; "
        "k-NN scores with k=5)"
    )
    print(f"  PRD curves: {result['picture']}")
    return result


def _plot_prd(path: Path, curves: dict[str, Any], result: dict) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return _NO_PLOT
    fig, ax = plt.subplots(figsize=(6, 6))
    for name, curve in curves.items():
        scores = result[name.lower()]
        label = "training images (reference)" if name == "reference" else f"{name} samples"
        style: dict[str, Any] = {"color": "grey", "ls": "--"} if name == "reference" else {}
        ax.plot(
            curve.recall,
            curve.precision,
            label=f"{label}: F8 {scores['f8']:.2f}, F1/8 {scores['f1_8']:.2f}",
            **style,
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_aspect("equal")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12))  # below: the curves fill the square
    ax.set_title("PRD curves against the held-out digits (classifier features)")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return str(path)
