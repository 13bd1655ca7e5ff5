"""scalegen.metrics against its peers: prdc, a blocked NumPy implementation and scikit-learn.

Data: X (or "real") standard normal, Y (or "fake") 0.1 + 1.05 x standard normal, float64,
64 features, seeds 0 and 1. Rows (full sizes; --quick uses 2,000-4,000 rows):

- manifold: precision, recall, density and coverage, k=5, 10,000 real x 10,000 fake:
  scalegen.metrics.manifold_scores(real, fake, k=5) against prdc.compute_prdc(real, fake,
  nearest_k=5), which computes three n x n float64 distance matrices in turn, at most two n x n
  arrays alive at once (pairwise_distances' result and its chunks; the distances and
  argpartition's indices): ~1.6 GB at 10,000 rows. Its stdout line is silenced; its
  scikit-learn pairwise_distances call uses n_jobs=8 threads, left as shipped.
- mmd: the unbiased squared MMD with the rbf kernel exp(-|x - y|^2 / (2 s^2)), 20,000 x 20,000,
  s = scalegen.metrics.median_distance(X, Y) computed once and passed as a float to both:
  scalegen.metrics.mmd(X, Y, bandwidth=s) against NumPy summing the XX, YY and XY kernel
  matrices in blocks of 1,024 rows (one BLAS product per block into a reused buffer, then
  in-place -2ab + |a|^2 + |b|^2, clamp at 0, scale, exp, sum), diagonals' m and n subtracted.
- mmd_test: scalegen.metrics.mmd_test(X, Y, bandwidth=s, n_permutations=200), 2,000 x 2,000
  (no peer: seconds and memory only).
- energy: scalegen.metrics.energy_distance(X, Y), 20,000 x 20,000, against the same blocked
  NumPy sums of sqrt(max(squared distance, 0)) (V-statistics).
- c2st: scalegen.metrics.classifier_two_sample_test(X, Y, cv=5, n_neighbors=5), 10,000 x
  10,000, against scikit-learn's cross_val_score(KNeighborsClassifier(5), Z, labels,
  cv=StratifiedKFold(5, shuffle=True, random_state=0)) on the stacked rows (balanced accuracy
  against plain accuracy: the classes are the same size, so both should be near one value).

Seconds: medians of --repeat calls in this process, the contenders alternating (A, B, A, B,
...) after one warm-up call each on 500 rows. Threads: scalegen.set_num_threads(--threads) and,
when threadpoolctl is installed, threadpool_limits(--threads) for BLAS and OpenMP (NumPy,
prdc, scikit-learn). Peak memory: each contender runs once in a fresh subprocess (this script
with --child) that generates the data, resets its peak-RSS counter (/proc/self/clear_refs) and
reports VmHWM minus VmRSS at that point, in MB (1e6 bytes) above that baseline. ru_maxrss is
not used: on Linux a child's ru_maxrss carries over the parent's peak RSS across exec.

    python bench/bench_metrics.py [--quick] [--repeat 3] [--threads 2] [--json bench/results/metrics.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import scalegen
import scalegen.metrics as sm
from scalegen._info import config

D = 64
SHIFT, SCALE = 0.1, 1.05
BLOCK = 1024
WARMUP_ROWS = 500

# task -> (rows of each sample in full, in --quick, the peer's name or None)
TASKS: dict[str, tuple[int, int, str | None]] = {
    "manifold": (10_000, 2_000, "prdc"),
    "mmd": (20_000, 4_000, "numpy"),
    "mmd_test": (2_000, 1_000, None),
    "energy": (20_000, 4_000, "numpy"),
    "c2st": (10_000, 2_000, "sklearn"),
}
TARGETS = {"manifold": 10.0, "mmd": 5.0}  # the speed-up targets


def samples(n: int) -> tuple[np.ndarray, np.ndarray]:
    """X standard normal (seed 0), Y 0.1 + 1.05 x standard normal (seed 1); in place, so that
    generating them leaves no temporary above the arrays themselves."""
    X = np.random.default_rng(0).standard_normal((n, D))
    Y = np.random.default_rng(1).standard_normal((n, D))
    Y *= SCALE
    Y += SHIFT
    return X, Y


# ---- the blocked NumPy peer -------------------------------------------------------------------
def blocked_sum(A: np.ndarray, B: np.ndarray, transform: Callable[[np.ndarray], None]) -> float:
    """The sum over all (a, b) of transform(|a - b|^2), A's rows BLOCK at a time."""
    a2 = np.einsum("ij,ij->i", A, A)
    b2 = np.einsum("ij,ij->i", B, B)
    buffer = np.empty((min(BLOCK, len(A)), len(B)))
    total = 0.0
    for start in range(0, len(A), BLOCK):
        a = A[start : start + BLOCK]
        Dm = buffer[: len(a)]
        np.matmul(a, B.T, out=Dm)
        Dm *= -2.0
        Dm += a2[start : start + BLOCK, None]
        Dm += b2[None, :]
        np.maximum(Dm, 0.0, out=Dm)
        transform(Dm)
        total += float(Dm.sum())
    return total


def numpy_mmd(X: np.ndarray, Y: np.ndarray, bandwidth: float) -> float:
    """Unbiased MMD^2, rbf kernel exp(-gamma |x - y|^2), gamma = 1 / (2 s^2)."""
    gamma = 1.0 / (2.0 * bandwidth * bandwidth)

    def rbf(Dm: np.ndarray) -> None:
        Dm *= -gamma
        np.exp(Dm, out=Dm)

    m, n = len(X), len(Y)
    xx = blocked_sum(X, X, rbf) - m  # drop the diagonal's k(x, x) = 1
    yy = blocked_sum(Y, Y, rbf) - n
    xy = blocked_sum(X, Y, rbf)
    return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2.0 * xy / (m * n)


def numpy_energy(X: np.ndarray, Y: np.ndarray) -> float:
    """sqrt(2 E|X - Y| - E|X - X'| - E|Y - Y'|), means over all pairs (V-statistics)."""

    def distance(Dm: np.ndarray) -> None:
        np.sqrt(Dm, out=Dm)

    m, n = len(X), len(Y)
    xx = blocked_sum(X, X, distance) / m**2
    yy = blocked_sum(Y, Y, distance) / n**2
    xy = blocked_sum(X, Y, distance) / (m * n)
    return float(np.sqrt(max(2.0 * xy - xx - yy, 0.0)))


# ---- the contenders ---------------------------------------------------------------------------
def run_prdc(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    import prdc

    with contextlib.redirect_stdout(io.StringIO()):
        out = prdc.compute_prdc(real, fake, nearest_k=5)
    return {key: float(out[key]) for key in ("precision", "recall", "density", "coverage")}


def run_sklearn_c2st(X: np.ndarray, Y: np.ndarray) -> float:
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    Z = np.vstack([X, Y])
    labels = np.r_[np.zeros(len(X), np.int64), np.ones(len(Y), np.int64)]
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return float(cross_val_score(KNeighborsClassifier(5), Z, labels, cv=cv).mean())


def contenders(task: str, X: np.ndarray, Y: np.ndarray, bandwidth: float) -> dict[str, Callable[[], Any]]:
    """name -> a call on this data (scalegen first, then the peer)."""
    if task == "manifold":
        return {
            "scalegen": lambda: sm.manifold_scores(X, Y, k=5)._asdict(),
            "prdc": lambda: run_prdc(X, Y),
        }
    if task == "mmd":
        return {
            "scalegen": lambda: sm.mmd(X, Y, bandwidth=bandwidth),
            "numpy": lambda: numpy_mmd(X, Y, bandwidth),
        }
    if task == "mmd_test":
        return {
            "scalegen": lambda: sm.mmd_test(X, Y, bandwidth=bandwidth, n_permutations=200, random_state=0)
        }
    if task == "energy":
        return {"scalegen": lambda: sm.energy_distance(X, Y), "numpy": lambda: numpy_energy(X, Y)}
    if task == "c2st":
        return {
            "scalegen": lambda: (
                sm.classifier_two_sample_test(X, Y, cv=5, n_neighbors=5, random_state=0).accuracy
            ),
            "sklearn": lambda: run_sklearn_c2st(X, Y),
        }
    raise ValueError(task)


def limit_threads(threads: int) -> Any:
    """scalegen's threads, and BLAS/OpenMP's through threadpoolctl when it is installed (the
    returned object keeps the limits; None without threadpoolctl)."""
    scalegen.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(threads)


# ---- peak memory, in a fresh process ----------------------------------------------------------
def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(task: str, name: str, n: int, threads: int) -> None:
    """Run one contender once and print its peak RSS above the baseline (after imports and
    data) as JSON."""
    import importlib

    for module in ("prdc", "sklearn.model_selection", "sklearn.neighbors"):  # before the baseline
        importlib.import_module(module)

    _limits = limit_threads(threads)
    X, Y = samples(n)
    bandwidth = sm.median_distance(X, Y)
    run = contenders(task, X, Y, bandwidth)[name]
    try:  # the peak so far back down to the current RSS
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        base = _status_kib("VmRSS")
    except OSError:
        base = _status_kib("VmHWM")
    run()
    peak = _status_kib("VmHWM")
    print(
        json.dumps(
            {"task": task, "name": name, "peak_mb": (peak - base) * 1024 / 1e6, "base_mb": base * 1024 / 1e6}
        )
    )


def peak_mb(task: str, name: str, n: int, threads: int) -> float:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", task, name, str(n), "--threads", str(threads)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the {task}/{name} memory child failed:\n{proc.stderr}")
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["peak_mb"])


# ---- timing ---------------------------------------------------------------------------------
def measure(task: str, n: int, repeat: int, threads: int) -> dict[str, Any]:
    X, Y = samples(n)
    bandwidth = sm.median_distance(X, Y)
    warm = contenders(task, X[:WARMUP_ROWS], Y[:WARMUP_ROWS], bandwidth)
    for run in warm.values():
        run()
    runs = contenders(task, X, Y, bandwidth)
    times: dict[str, list[float]] = {name: [] for name in runs}
    results: dict[str, Any] = {}
    for _ in range(repeat):
        for name, run in runs.items():
            t0 = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - t0)
    del X, Y, runs, warm
    row: dict[str, Any] = {"task": task, "rows": n, "features": D, "bandwidth": bandwidth}
    for name in times:
        row[f"{name}_s"] = statistics.median(times[name])
        row[f"{name}_times_s"] = times[name]
    for name in times:
        row[f"{name}_peak_mb"] = peak_mb(task, name, n, threads)
    peer = TASKS[task][2]
    row["peer"] = peer
    row["ratio"] = row[f"{peer}_s"] / row["scalegen_s"] if peer else None
    row["target"] = TARGETS.get(task)
    sg = results["scalegen"]
    if task == "manifold":
        row["scalegen"], row["prdc"] = sg, results["prdc"]
        row["max_abs_diff"] = max(abs(sg[k] - results["prdc"][k]) for k in sg)
    elif task == "mmd_test":
        row["scalegen"] = {
            "statistic": sg.statistic,
            "p_value": sg.p_value,
            "n_permutations": sg.n_permutations,
        }
    else:
        row["scalegen"], row[peer] = sg, results[peer]
        if task == "c2st":
            row["abs_diff"] = abs(sg - results[peer])
        else:
            row["rel_diff"] = abs(sg - results[peer]) / abs(results[peer])
    return row


def versions() -> dict[str, str]:
    import importlib.metadata

    import sklearn

    out = {
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "prdc": importlib.metadata.version("prdc"),
    }
    try:
        import threadpoolctl

        out["threadpoolctl"] = threadpoolctl.__version__
    except ImportError:
        pass
    return out


def print_row(r: dict[str, Any]) -> None:
    shape = f"{r['rows']:,} x {r['rows']:,} x {r['features']}"
    peer = r["peer"] or "-"
    peer_s = f"{r[r['peer'] + '_s']:.3f}" if r["peer"] else "-"
    ratio = f"{r['ratio']:.1f}x" if r["ratio"] else "-"
    target = f"{r['target']:.0f}x" if r["target"] else "-"
    peer_mb = f"{r[r['peer'] + '_peak_mb']:.1f}" if r["peer"] else "-"
    print(
        f"{r['task']:>8}  {shape:>22}  {r['scalegen_s']:10.3f}  {peer:>7}  {peer_s:>8}  {ratio:>6}  "
        f"{target:>6}  {r['scalegen_peak_mb']:11.1f}  {peer_mb:>8}",
        flush=True,
    )


def print_values(r: dict[str, Any]) -> None:
    task, sg = r["task"], r["scalegen"]
    if task == "manifold":
        fmt = "precision {precision:.4f} recall {recall:.4f} density {density:.4f} coverage {coverage:.4f}"
        print(f"manifold  scalegen {fmt.format(**sg)}")
        print(f"manifold      prdc {fmt.format(**r['prdc'])}  (max abs diff {r['max_abs_diff']:.1e})")
    elif task == "mmd":
        print(
            f"mmd       bandwidth {r['bandwidth']:.4f}: scalegen {sg:.10e}, numpy {r['numpy']:.10e} "
            f"(rel diff {r['rel_diff']:.1e})"
        )
    elif task == "mmd_test":
        print(f"mmd_test  statistic {sg['statistic']:.6e}, p-value {sg['p_value']:.4f} (200 permutations)")
    elif task == "energy":
        print(f"energy    scalegen {sg:.10f}, numpy {r['numpy']:.10f} (rel diff {r['rel_diff']:.1e})")
    elif task == "c2st":
        print(
            f"c2st      accuracy: scalegen {sg:.4f} (balanced), sklearn {r['sklearn']:.4f} "
            f"(diff {r['abs_diff']:.4f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000-4,000 rows and 1 repeat: a smoke run")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per contender (median)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None, help="write the config and rows to this file")
    parser.add_argument("--child", nargs=3, metavar=("TASK", "NAME", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        task, name, n = args.child
        child(task, name, int(n), args.threads)
        return
    repeat = 1 if args.quick else args.repeat
    limits = limit_threads(args.threads)
    cfg = config()
    v = versions()
    pool = (
        f"BLAS/OpenMP limited to {args.threads} threads by threadpoolctl {v['threadpoolctl']}"
        if limits is not None
        else "threadpoolctl not installed: BLAS threads not limited"
    )
    print(
        f"scalegen {cfg['version']} ({cfg['isa_level']}, {cfg['num_threads']} threads) vs prdc {v['prdc']}, "
        f"NumPy {v['numpy']}, scikit-learn {v['scikit-learn']} ({pool}); median of {repeat}",
        flush=True,
    )
    print(
        f"{'metric':>8}  {'X x Y x features':>22}  {'scalegen s':>10}  {'peer':>7}  {'peer s':>8}  "
        f"{'ratio':>6}  {'target':>6}  {'scalegen MB':>11}  {'peer MB':>8}",
        flush=True,
    )
    rows = []
    for task, (full, quick, _) in TASKS.items():
        row = measure(task, quick if args.quick else full, repeat, args.threads)
        rows.append(row)
        print_row(row)
    for row in rows:
        print_values(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": cfg, "versions": v, "args": vars(args), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
