"""``scalegen demo``: each model family's demonstration, written into one folder."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

FAMILIES = {
    "mixture": "Gaussian mixture fitted by EM (the seed's two blobs, scaled up)",
    "bayesnet": "discrete Bayesian networks (not built yet)",
    "nn": "convolutional networks (not built yet)",
}


def run_demo(out: Path, *, n_samples: int = 1_000_000) -> int:
    out.mkdir(parents=True, exist_ok=True)
    print(f"scalegen demo: writing results to {out.resolve()}")
    print("families: " + "; ".join(f"{k}: {v}" for k, v in FAMILIES.items()))
    summary = {"mixture": demo_mixture(out, n_samples=n_samples)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"summary written to {out / 'summary.json'}")
    return 0


def demo_mixture(out: Path, *, n_samples: int) -> dict:
    """The seed's example: two 2-D Gaussian blobs, two components, then 100 new samples."""
    from .. import GaussianMixture

    print(f"\n[mixture] two 2-D Gaussian blobs, {n_samples:,} points each, full covariances")
    rng = np.random.default_rng(42)
    cov = np.eye(2)
    X = np.vstack(
        [
            rng.multivariate_normal([0, 0], cov, n_samples),
            rng.multivariate_normal([5, 5], cov, n_samples),
        ]
    )
    gmm = GaussianMixture(n_components=2, covariance_type="full", random_state=0)
    t0 = time.perf_counter()
    gmm.fit(X)
    fit_s = time.perf_counter() - t0
    Z, _ = gmm.sample(100)
    order = np.argsort(gmm.means_[:, 0])
    bic = gmm.bic(X)
    print(f"  fit: {fit_s:.2f} s, {gmm.n_iter_} EM iterations, converged={gmm.converged_}")
    print(f"  weights: {np.round(gmm.weights_[order], 4).tolist()}")
    print(f"  means:   {np.round(gmm.means_[order], 4).tolist()}")
    print(f"  BIC:     {bic:.1f}")
    print(f"  100 new samples, first three: {np.round(Z[:3], 3).tolist()}")
    np.savetxt(out / "mixture_samples.csv", Z, delimiter=",", header="x0,x1", comments="")
    picture = _plot_mixture(out / "mixture.png", X, gmm, Z)
    print(f"  picture: {picture}")
    return {
        "n_points": int(X.shape[0]),
        "fit_seconds": fit_s,
        "n_iter": int(gmm.n_iter_),
        "weights": gmm.weights_[order].tolist(),
        "means": gmm.means_[order].tolist(),
        "covariances": gmm.covariances_[order].tolist(),
        "bic": float(bic),
        "picture": picture,
    }


def _plot_mixture(path: Path, X: np.ndarray, gmm, Z: np.ndarray) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Ellipse
    except ImportError:
        return "skipped (matplotlib is not installed: pip install 'scalegen[plot]')"
    fig, ax = plt.subplots(figsize=(6, 6))
    idx = np.random.default_rng(0).choice(X.shape[0], size=min(20_000, X.shape[0]), replace=False)
    ax.scatter(X[idx, 0], X[idx, 1], s=1, alpha=0.2, color="grey", label="data (subsample)")
    ax.scatter(Z[:, 0], Z[:, 1], s=12, color="crimson", label="100 new samples")
    for mean, cov in zip(gmm.means_, gmm.covariances_, strict=True):
        vals, vecs = np.linalg.eigh(cov)
        angle = np.degrees(np.arctan2(vecs[1, -1], vecs[0, -1]))
        for nsig in (1, 2, 3):
            w, h = 2 * nsig * np.sqrt(vals[::-1])
            ax.add_patch(Ellipse(mean, w, h, angle=angle, fill=False, color="navy", lw=1))
    ax.set_title("scalegen GaussianMixture: fitted components (1, 2, 3 sigma)")
    ax.set_aspect("equal")
    ax.legend(loc="upper left")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)
