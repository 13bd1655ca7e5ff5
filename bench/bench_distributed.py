"""DaskGaussianMixture on data generated on the workers, block by block (nothing passes
through the client), against in-memory fits on a subset.

A local cluster of two single-threaded worker processes (one per core). The array is
larger than half the workers' memory, so it is not persisted: every EM pass regenerates
its blocks from the graph, as it would re-read files. Reports EM rows/s (generation
included), the generation alone, each worker's peak resident memory, and rows/s of
scalegen's and scikit-learn's in-memory fits on the first --subset rows (same initial
parameters, same iterations).

    python bench/bench_distributed.py [--gb 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import warnings

import numpy as np


def rss(dask_worker=None) -> int:  # type: ignore[no-untyped-def]
    import psutil

    return psutil.Process().memory_info().rss


class PeakMemory:
    """Polls every worker's resident memory in the background; keeps the maxima."""

    def __init__(self, client, interval: float = 0.25) -> None:  # type: ignore[no-untyped-def]
        self.client, self.interval = client, interval
        self.peak: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                for worker, value in self.client.run(rss).items():
                    self.peak[worker] = max(self.peak.get(worker, 0), value)
            except Exception:  # a worker between states: try again
                pass
            self.stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def initial_params(X: np.ndarray, k: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    return {
        "weights_init": np.full(k, 1.0 / k),
        "means_init": X[rng.choice(X.shape[0], size=k, replace=False)],
        "precisions_init": np.stack([np.eye(d)] * k),
    }


def timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=10.0, help="size of the generated array (GB, float64)")
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--components", type=int, default=8)
    parser.add_argument("--iters", type=int, default=5, help="EM iterations (tol=0)")
    parser.add_argument("--block-mb", type=float, default=32, help="size of one generated block")
    parser.add_argument("--worker-memory", default="4GiB", help="memory limit of each worker")
    parser.add_argument("--subset", type=int, default=1_000_000, help="rows of the in-memory comparison")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    import sklearn
    from distributed import Client, LocalCluster
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    import scalegen
    from scalegen.datasets import make_mixture
    from scalegen.distributed import DaskGaussianMixture

    d, k, iters = args.features, args.components, args.iters
    n = int(args.gb * 1e9) // (8 * d)
    block = max(2048, int(args.block_mb * 2**20) // (8 * d) // 2048 * 2048)
    cfg = scalegen._info.config()
    print(
        f"scalegen {cfg['version']} ({cfg['isa_level']}) on a LocalCluster of 2 worker processes x 1 thread "
        f"({args.worker_memory} each) vs scikit-learn {sklearn.__version__}"
    )
    print(
        f"data: {n:,} rows x {d} float64 = {n * d * 8 / 1e9:.1f} GB in blocks of {block:,} rows; "
        f"k={k}, full covariances, {iters} EM iterations"
    )
    result: dict = {
        "config": cfg,
        "sklearn": sklearn.__version__,
        "rows": n,
        "features": d,
        "components": k,
        "iters": iters,
        "gb": n * d * 8 / 1e9,
    }
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit=args.worker_memory,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        X = make_mixture(n, d, k, chunk_rows=block, random_state=0, dask=True)
        gen_s, _ = timed(lambda: X.sum().compute())
        model = DaskGaussianMixture(k, max_iter=iters, tol=0, random_state=0, client=client)
        with PeakMemory(client) as mem:
            fit_s, _ = timed(lambda: model.fit(X))
        peaks = sorted(v / 2**20 for v in mem.peak.values())
        client_rss = rss() / 2**20
    em_rows_s = n * iters / fit_s
    print(f"generation alone: {gen_s:.1f} s per pass ({n / gen_s:,.0f} rows/s)")
    print(
        f"Dask fit: {fit_s:.1f} s for {iters} EM passes + the init pass: {em_rows_s:,.0f} EM rows/s "
        f"(generation included); peak worker memory {', '.join(f'{p:.0f}' for p in peaks)} MiB; "
        f"client {client_rss:.0f} MiB"
    )
    result.update(
        generate_s=gen_s,
        fit_s=fit_s,
        dask_em_rows_per_s=em_rows_s,
        worker_peak_mib=peaks,
        client_rss_mib=client_rss,
        lower_bound=model.lower_bound_,
    )

    Xs = make_mixture(args.subset, d, k, chunk_rows=block, random_state=0)  # the array's first rows
    init = initial_params(Xs, k)
    sg_s, sg = timed(lambda: scalegen.GaussianMixture(k, max_iter=iters, tol=0, **init).fit(Xs))
    sk_s, sk = timed(lambda: SkGaussianMixture(k, max_iter=iters, tol=0, **init).fit(Xs))
    diff = float(np.max(np.abs(sg.means_ - sk.means_)))
    print(
        f"in memory, first {args.subset:,} rows: scalegen {args.subset * iters / sg_s:,.0f} rows/s, "
        f"scikit-learn {args.subset * iters / sk_s:,.0f} rows/s ({sk_s / sg_s:.1f}x); "
        f"max |means difference| {diff:.1e}"
    )
    result.update(
        subset=args.subset,
        scalegen_rows_per_s=args.subset * iters / sg_s,
        sklearn_rows_per_s=args.subset * iters / sk_s,
        subset_means_diff=diff,
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
