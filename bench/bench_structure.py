"""Structure learning: scalegen's default HillClimbSearch against pyAgrum's greedy and tabu search, BIC.

For each network bundled with pgmpy and each size, five samples are drawn (random_state
0..4); on each, scalegen's default ``HillClimbSearch().fit(data)``, pyAgrum's greedy hill
climbing and pyAgrum's local search with a tabu list (``useLocalSearchWithTabuList()``,
its defaults) learn a DAG with BIC and no prior. Every DAG is then scored the same way
(scalegen's ``structure_score``, equal to pgmpy's bic-d). pyAgrum runs in a child process
under --timeout seconds (its CSV parse is timed apart and not counted); a run that does not
finish is reported as such. Times are medians over the samples; "x" is pyAgrum's time over
ours; "W/T/L" counts the samples where our BIC is strictly higher / equal / lower than the
peer's (equal: within 1e-9 relative). Last, pgmpy's HillClimbSearch (bic-d, no tabu list)
on the first ALARM sample of 10,000 rows, one run.

    python bench/bench_structure.py [--quick] [--timeout 300] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from _common import pgmpy_examples, versions_line, write_json

NETWORKS = ("asia", "sachs", "child", "insurance", "water", "alarm", "hailfinder", "hepar2", "win95pts")
SIZES = (10_000, 100_000)
SAMPLES = 5


def pyagrum_worker(csv: str, mode: str) -> None:
    """Child process: learns a DAG with pyAgrum and prints {seconds, edges} as JSON."""
    import pyagrum as gum

    learner = gum.BNLearner(csv)
    if mode == "tabu":
        learner.useLocalSearchWithTabuList()
    else:
        learner.useGreedyHillClimbing()
    learner.useScoreBIC()
    learner.useNoPrior()
    learner.setNumberOfThreads(2)
    t0 = time.perf_counter()
    dag = learner.learnDAG()
    seconds = time.perf_counter() - t0
    edges = [(learner.nameFromId(u), learner.nameFromId(v)) for u, v in dag.arcs()]
    print(json.dumps({"seconds": seconds, "edges": edges}))


def pyagrum_learn(csv: Path, mode: str, timeout: float):  # type: ignore[no-untyped-def]
    """(seconds, edges), or (None, None) when pyAgrum did not finish within `timeout`."""
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--pyagrum-worker", str(csv), mode],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None, None
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["seconds"], [tuple(e) for e in result["edges"]]


def tally(ours: list[float], theirs: list[float | None]) -> str:
    """W/T/L of our scores against the peer's on the samples the peer finished."""
    w = t = lose = 0
    for a, b in zip(ours, theirs, strict=True):
        if b is None:
            continue
        if abs(a - b) <= 1e-9 * abs(b):
            t += 1
        elif a > b:
            w += 1
        else:
            lose += 1
    return f"{w}/{t}/{lose}"


def median_or_none(values: list[float | None]) -> float | None:
    done = [v for v in values if v is not None]
    return statistics.median(done) if len(done) == len(values) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows only, two samples")
    parser.add_argument("--sizes", nargs="*", type=int, default=SIZES)
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--networks", nargs="*", default=NETWORKS)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per pyAgrum run")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--pyagrum-worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pyagrum_worker:
        pyagrum_worker(*args.pyagrum_worker)
        return

    import scalegen
    from scalegen.bayesnet import HillClimbSearch, read_bif, structure_score

    warnings.simplefilter("ignore")
    cfg = scalegen._info.config()
    print(versions_line(cfg))
    print(
        f"{'network':>10} {'rows':>8} | {'scalegen s':>10} | {'greedy s':>8} {'x':>5} {'W/T/L':>6}"
        f" {'min dBIC':>9} | {'tabu s':>8} {'x':>5} {'W/T/L':>6} {'min dBIC':>9}"
    )
    sizes = args.sizes[:1] if args.quick else args.sizes
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        for name in args.networks:
            true = read_bif(pgmpy_examples() / f"{name}.bif.gz")
            for n in sizes:
                row: dict = {"network": name, "rows": n, "samples": []}
                for seed in range(2 if args.quick else args.samples):
                    data = true.sample(n, random_state=seed)
                    t0 = time.perf_counter()
                    ours = HillClimbSearch().fit(data)
                    sample = {"seed": seed, "scalegen_s": time.perf_counter() - t0}
                    sample["scalegen_bic"] = structure_score(ours.edges_, data, "bic")
                    data.to_csv(csv, index=False)
                    for mode in ("greedy", "tabu"):
                        seconds, edges = pyagrum_learn(csv, mode, args.timeout)
                        sample[f"{mode}_s"] = seconds
                        sample[f"{mode}_bic"] = None if edges is None else structure_score(edges, data, "bic")
                    row["samples"].append(sample)
                ss = row["samples"]
                ours_bic = [s["scalegen_bic"] for s in ss]
                row["scalegen_s"] = ours_s = statistics.median(s["scalegen_s"] for s in ss)
                line = f"{name:>10} {n:>8,} | {ours_s:>10.3f}"
                for mode in ("greedy", "tabu"):
                    seconds = median_or_none([s[f"{mode}_s"] for s in ss])
                    theirs = [s[f"{mode}_bic"] for s in ss]
                    gaps = [a - b for a, b in zip(ours_bic, theirs, strict=True) if b is not None]
                    row[f"{mode}_s"] = seconds
                    row[f"vs_{mode}"] = None if seconds is None else seconds / ours_s
                    row[f"{mode}_wtl"] = tally(ours_bic, theirs)
                    row[f"{mode}_min_gap"] = min(gaps) if gaps else None
                    timing = (
                        f"{seconds:>8.3f} {row[f'vs_{mode}']:>5.1f}"
                        if seconds is not None
                        else f"{'>' + str(int(args.timeout)):>8} {'-':>5}"
                    )
                    gap = f"{min(gaps):>9.1f}" if gaps else f"{'-':>9}"
                    line += f" | {timing} {row[f'{mode}_wtl']:>6} {gap}"
                rows.append(row)
                print(line, flush=True)
    if "alarm" in args.networks:
        rows.append(pgmpy_alarm())
    write_json(args.json, cfg, rows)


def pgmpy_alarm() -> dict:
    """pgmpy's hill climbing and our default on the first ALARM sample of 10,000 rows."""
    from pgmpy.estimators import HillClimbSearch as PgmpyHillClimb

    from scalegen.bayesnet import HillClimbSearch, read_bif, structure_score

    data = read_bif(pgmpy_examples() / "alarm.bif.gz").sample(10_000, random_state=0)
    t0 = time.perf_counter()
    ours = HillClimbSearch().fit(data)
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    dag = PgmpyHillClimb(data).estimate(scoring_method="bic-d", tabu_length=0, show_progress=False)
    pgmpy_s = time.perf_counter() - t0
    row = {
        "network": "alarm",
        "rows": 10_000,
        "peer": "pgmpy",
        "scalegen_s": ours_s,
        "scalegen_bic": structure_score(ours.edges_, data, "bic"),
        "pgmpy_s": pgmpy_s,
        "pgmpy_bic": structure_score(list(dag.edges()), data, "bic"),
    }
    print(
        f"pgmpy on alarm 10,000 rows: {pgmpy_s:.1f} s, BIC {row['pgmpy_bic']:.1f}; scalegen {ours_s:.3f} s"
        f" ({pgmpy_s / ours_s:.0f}x), BIC {row['scalegen_bic']:.1f}"
    )
    return row


if __name__ == "__main__":
    main()
