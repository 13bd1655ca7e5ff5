"""Differentially private EM (GaussianMixture with epsilon): held-out log-likelihood against
epsilon, with the non-private fit as the reference line.

Two datasets: the seed's blobs (two 2-D unit Gaussians at (0, 0) and (5, 5), not centred,
as the seed has them) and a 16-component mixture in 4-D (random centres and per-component
scales, as bench_mixture.py draws them). Each private fit runs exactly --iters EM iterations
after the default private start (one round of noisy releases: the rows as one Gaussian, the
means spread over it), at epsilon in {0.1, 0.3, 1, 3, 10} with delta = 1e-5, with the
private (cryptographically keyed) noise; --runs fits per epsilon give the median and the
range. Two reference lines: the ordinary fit (k-means start, run to convergence) and the
same DP-EM at epsilon = 1e16, which is ordinary EM from that kind of start with the same
iterations (what the start and the fixed iterations cost, without the noise). data_norm is
fixed from how the data were generated, not from the rows. Prints the table; --json writes
the rows.

    python bench/bench_privacy_em.py [--runs 7] [--iters 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import numpy as np

EPSILONS = [0.1, 0.3, 1.0, 3.0, 10.0]
DELTA = 1e-5
NO_NOISE = 1e16


def seed_blobs(n: int, rng: np.random.Generator) -> np.ndarray:
    """The seed's two blobs: unit Gaussians at (0, 0) and (5, 5), n rows, shuffled."""
    centres = np.array([[0.0, 0.0], [5.0, 5.0]])
    return centres[rng.integers(2, size=n)] + rng.standard_normal((n, 2))


def sixteen(n: int, rng: np.random.Generator) -> np.ndarray:
    """16 components in 4-D with random centres (scale 4) and per-component scales."""
    layout = np.random.default_rng(0)  # the same mixture for the training and held-out rows
    centres = layout.normal(scale=4.0, size=(16, 4))
    scales = layout.uniform(0.5, 2.0, size=(16, 4))
    labels = rng.integers(16, size=n)
    return centres[labels] + scales[labels] * rng.standard_normal((n, 4))


DATASETS = [  # (name, generator, rows, components, data_norm)
    ("seed blobs (2-D, k=2)", seed_blobs, 100_000, 2, 10.0),
    ("16 components (4-D)", sixteen, 200_000, 16, 20.0),
]


def fit(make, X):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # clipped rows, the seeded-noise notice
        model = make().fit(X)
    return model, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="private fits per epsilon (median, range)")
    parser.add_argument("--iters", type=int, default=20, help="EM iterations of a private fit")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    import scalegen
    from scalegen import GaussianMixture

    cfg = scalegen._info.config()
    print(
        f"scalegen {cfg['version']} ({cfg['isa_level']}, {cfg['num_threads']} threads): DP-EM, "
        f"delta={DELTA:g}, {args.iters} iterations, {args.runs} runs per epsilon"
    )
    rows = []
    for name, draw, n, k, norm in DATASETS:
        rng = np.random.default_rng(1)
        X, held = draw(n, rng), draw(n // 5, rng)
        ref, ref_s = fit(lambda k=k: GaussianMixture(k, random_state=0), X)
        ref_ll = ref.score(held)
        print(f"\n{name}: {n:,} rows, {n // 5:,} held out, data_norm={norm:g}, full covariances")
        head = ("epsilon", 10), ("held-out LL", 12), ("[min, max]", 20), ("vs ordinary", 12), ("fit s", 7)
        print(" ".join(f"{text:>{width}}" for text, width in head) + f" {'clipped':>8}")
        print(f"{'ordinary':>10} {ref_ll:>12.4f} {'':>20} {0.0:>12.4f} {ref_s:>7.3f} {'-':>8}  k-means start")
        rows.append(
            {"data": name, "epsilon": None, "held_out_ll": ref_ll, "fit_seconds": ref_s, "iters": ref.n_iter_}
        )
        for eps in [NO_NOISE, *EPSILONS]:
            lls, times, clipped = [], [], 0
            for _ in range(args.runs):
                model, s = fit(
                    lambda eps=eps, k=k, norm=norm: GaussianMixture(
                        k, max_iter=args.iters, epsilon=eps, delta=DELTA, data_norm=norm
                    ),
                    X,
                )
                lls.append(model.score(held))
                times.append(s)
                clipped = model.n_clipped_
                assert model.privacy_spent_[0] <= eps and model.privacy_spent_[1] <= DELTA
            med = statistics.median(lls)
            label = "1e16" if eps == NO_NOISE else f"{eps:g}"
            note = "  no noise: the start's and the iterations' cost" if eps == NO_NOISE else ""
            print(
                f"{label:>10} {med:>12.4f} {f'[{min(lls):.3f}, {max(lls):.3f}]':>20} {med - ref_ll:>12.4f} "
                f"{statistics.median(times):>7.3f} {clipped:>8,}{note}",
                flush=True,
            )
            rows.append(
                {
                    "data": name,
                    "epsilon": eps,
                    "delta": DELTA,
                    "held_out_ll_median": med,
                    "held_out_ll_runs": lls,
                    "vs_ordinary": med - ref_ll,
                    "fit_seconds": statistics.median(times),
                    "n_clipped": clipped,
                    "iters": args.iters,
                }
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": cfg, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
