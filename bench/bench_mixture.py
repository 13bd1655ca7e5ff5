"""GaussianMixture: scalegen against scikit-learn on the same data and initial parameters.

Both run EM for a fixed number of iterations (tol=0) from identical weights, means and
precisions, so they do the same work and must reach the same parameters. Prints ms per
iteration, the speed-up and the largest parameter difference; --json writes the rows.

    python bench/bench_mixture.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import warnings

import numpy as np

CONFIGS = [  # (n, d, k, covariance_type)
    (200_000, 16, 16, "full"),
    (200_000, 16, 16, "diag"),
    (1_000_000, 32, 16, "full"),
    (1_000_000, 32, 16, "diag"),
]


def make_data(n: int, d: int, k: int, seed: int = 0) -> np.ndarray:
    """k Gaussian clusters with random centers and per-cluster anisotropic scales."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(k, d))
    scales = rng.uniform(0.5, 2.0, size=(k, d))
    labels = rng.integers(k, size=n)
    return centers[labels] + scales[labels] * rng.standard_normal((n, d))


def initial_params(X: np.ndarray, k: int, cov: str, seed: int = 0) -> dict:
    """Shared start: k rows as means, uniform weights, unit precisions."""
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    means = X[rng.choice(X.shape[0], size=k, replace=False)]
    precisions = {
        "full": np.stack([np.eye(d)] * k),
        "tied": np.eye(d),
        "diag": np.ones((k, d)),
        "spherical": np.ones(k),
    }[cov]
    return {"weights_init": np.full(k, 1.0 / k), "means_init": means, "precisions_init": precisions}


def timed_fit(cls, X, k, cov, iters, init, repeat):
    times, model = [], None
    for _ in range(repeat):
        time.sleep(0.5)  # let BLAS worker threads of the previous run go idle
        model = cls(k, covariance_type=cov, tol=0, max_iter=iters, **init)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / iters * 1e3, model


def max_rel_diff(a, b) -> float:
    return max(
        float(np.max(np.abs(getattr(a, attr) - getattr(b, attr)) / (np.abs(getattr(b, attr)) + 1e-12)))
        for attr in ("weights_", "means_", "covariances_")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the 200,000-row configurations")
    parser.add_argument("--iters", type=int, default=10, help="EM iterations per fit")
    parser.add_argument("--repeat", type=int, default=3, help="scalegen timings per configuration (median)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    import sklearn
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    import scalegen
    from scalegen import GaussianMixture

    cfg = scalegen._info.config()
    print(
        f"scalegen {cfg['version']} ({cfg['isa_level']}, {cfg['num_threads']} threads) vs "
        f"scikit-learn {sklearn.__version__}, {platform.processor() or platform.machine()}"
    )
    print(
        f"{'n':>9} {'d':>3} {'k':>3} {'cov':>5} {'sklearn ms/it':>14} {'scalegen ms/it':>15} "
        f"{'speed-up':>9} {'max rel diff':>13}"
    )
    rows = []
    for n, d, k, cov in CONFIGS:
        if args.quick and n > 200_000:
            continue
        X = make_data(n, d, k)
        init = initial_params(X, k, cov)
        sg_ms, sg = timed_fit(GaussianMixture, X, k, cov, args.iters, init, args.repeat)
        sk_ms, sk = timed_fit(SkGaussianMixture, X, k, cov, args.iters, init, 1)
        diff = max_rel_diff(sg, sk)
        row = {
            "n": n,
            "d": d,
            "k": k,
            "covariance_type": cov,
            "iters": args.iters,
            "sklearn_ms_per_iter": sk_ms,
            "scalegen_ms_per_iter": sg_ms,
            "speedup": sk_ms / sg_ms,
            "max_rel_param_diff": diff,
        }
        rows.append(row)
        print(
            f"{n:>9,} {d:>3} {k:>3} {cov:>5} {sk_ms:>14.1f} {sg_ms:>15.1f} "
            f"{sk_ms / sg_ms:>8.1f}x {diff:>13.1e}",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": cfg, "sklearn": sklearn.__version__, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
