"""Gaussian mixtures: scalegen against scikit-learn (and Intel oneDAL's EM, when
scikit-learn-intelex is installed) on the same data and initial parameters.

GaussianMixture: every library runs EM for a fixed number of iterations (tol=0) from
identical weights, means and precisions. BayesianGaussianMixture (both weight priors):
scalegen and scikit-learn run the variational updates from the same responsibilities
(each row to its nearest initial mean). They do the same work and must reach the same
parameters. Prints ms per iteration, the speed-ups and the largest parameter difference
(against scikit-learn); --json writes the rows.

    python bench/bench_mixture.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import warnings
from functools import partial

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


def timed_fit(make, X, iters, repeat, **fit_kw):
    """(median ms per iteration of `repeat` fits, the last fitted model)."""
    times, model = [], None
    for _ in range(repeat):
        time.sleep(0.5)  # let BLAS worker threads of the previous run go idle
        model = make()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, **fit_kw)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / iters * 1e3, model


class OneDAL:
    """Intel oneDAL's EM (daal4py.em_gmm, from scikit-learn-intelex) with scikit-learn's
    fit interface and initial parameters, for the same fixed number of iterations."""

    def __init__(self, k: int, cov: str, iters: int, init: dict) -> None:
        self.k, self.cov, self.iters, self.init = k, cov, iters, init

    def fit(self, X: np.ndarray) -> OneDAL:
        import daal4py

        precisions = self.init["precisions_init"]
        if self.cov == "full":
            covariances = [np.linalg.inv(p) for p in precisions]
        else:
            covariances = [(1.0 / p)[None, :] for p in precisions]
        algo = daal4py.em_gmm(
            nComponents=self.k,
            maxIterations=self.iters,
            accuracyThreshold=0.0,
            covarianceStorage="full" if self.cov == "full" else "diagonal",
            regularizationFactor=1e-6,
        )
        result = algo.compute(X, self.init["weights_init"][None, :], self.init["means_init"], covariances)
        self.weights_ = result.weights.ravel()
        self.means_ = result.means
        return self


def onedal_available() -> bool:
    try:
        import daal4py  # noqa: F401
    except ImportError:
        return False
    return True


def max_rel_diff(a, b, attrs=("weights_", "means_", "covariances_")) -> float:
    return max(
        float(np.max(np.abs(getattr(a, attr) - getattr(b, attr)) / (np.abs(getattr(b, attr)) + 1e-12)))
        for attr in attrs
    )


def nearest_responsibilities(X: np.ndarray, means: np.ndarray) -> np.ndarray:
    """One-hot responsibilities of the nearest initial mean: the variational fits' shared start."""
    labels = np.argmin(((X[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1)
    return np.eye(means.shape[0])[labels]


def sklearn_variational(resp: np.ndarray, **params):
    """scikit-learn's BayesianGaussianMixture initialised by its own _initialize(X, resp)."""
    from sklearn.mixture import BayesianGaussianMixture

    class FromResp(BayesianGaussianMixture):
        def _initialize_parameters(self, X, random_state, xp=None):
            self._initialize(X, resp)

    return FromResp(**params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the 200,000-row configurations")
    parser.add_argument("--iters", type=int, default=10, help="EM iterations per fit")
    parser.add_argument("--repeat", type=int, default=3, help="scalegen and oneDAL timings (median)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    import sklearn
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    import scalegen
    from scalegen import BayesianGaussianMixture, GaussianMixture

    cfg = scalegen._info.config()
    dal = onedal_available()
    print(
        f"scalegen {cfg['version']} ({cfg['isa_level']}, {cfg['num_threads']} threads) vs "
        f"scikit-learn {sklearn.__version__}{' and oneDAL' if dal else ''}, "
        f"{platform.processor() or platform.machine()}"
    )
    print(
        f"{'model':>13} {'n':>9} {'d':>3} {'k':>3} {'cov':>5} {'sklearn ms/it':>14} {'oneDAL ms/it':>13} "
        f"{'scalegen ms/it':>15} {'vs sklearn':>11} {'vs oneDAL':>10} {'max rel diff':>13}"
    )
    rows = []

    def report(model, n, d, k, cov, sk_ms, sg_ms, diff, dal_ms=None):
        row = {
            "model": model,
            "n": n,
            "d": d,
            "k": k,
            "covariance_type": cov,
            "iters": args.iters,
            "sklearn_ms_per_iter": sk_ms,
            "onedal_ms_per_iter": dal_ms,
            "scalegen_ms_per_iter": sg_ms,
            "speedup": sk_ms / sg_ms,
            "speedup_vs_onedal": None if dal_ms is None else dal_ms / sg_ms,
            "max_rel_param_diff": diff,
        }
        rows.append(row)
        dal_text = "-" if dal_ms is None else f"{dal_ms:.1f}"
        vs_dal = "-" if dal_ms is None else f"{dal_ms / sg_ms:.2f}x"
        print(
            f"{model:>13} {n:>9,} {d:>3} {k:>3} {cov:>5} {sk_ms:>14.1f} {dal_text:>13} {sg_ms:>15.1f} "
            f"{sk_ms / sg_ms:>10.1f}x {vs_dal:>10} {diff:>13.1e}",
            flush=True,
        )

    for n, d, k, cov in CONFIGS:
        if args.quick and n > 200_000:
            continue
        X = make_data(n, d, k)
        init = initial_params(X, k, cov)
        kw = dict(covariance_type=cov, tol=0, max_iter=args.iters, **init)
        sg_ms, sg = timed_fit(partial(GaussianMixture, k, **kw), X, args.iters, args.repeat)
        sk_ms, sk = timed_fit(partial(SkGaussianMixture, k, **kw), X, args.iters, 1)
        dal_ms = None
        if dal:
            dal_ms, _ = timed_fit(partial(OneDAL, k, cov, args.iters, init), X, args.iters, args.repeat)
        report("GMM", n, d, k, cov, sk_ms, sg_ms, max_rel_diff(sg, sk), dal_ms)
        resp = nearest_responsibilities(X, init["means_init"])
        for prior in ("dirichlet_process", "dirichlet_distribution"):
            vkw = dict(n_components=k, covariance_type=cov, tol=0, max_iter=args.iters)
            vkw["weight_concentration_prior_type"] = prior
            sg_ms, sg = timed_fit(
                partial(BayesianGaussianMixture, **vkw),
                X,
                args.iters,
                args.repeat,
                initial_responsibilities=resp,
            )
            sk_ms, sk = timed_fit(partial(sklearn_variational, resp, **vkw), X, args.iters, 1)
            name = "BGMM-" + ("DP" if prior == "dirichlet_process" else "Dir")
            report(
                name, n, d, k, cov, sk_ms, sg_ms, max_rel_diff(sg, sk, ("weights_", "means_", "covariances_"))
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": cfg, "sklearn": sklearn.__version__, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
