"""Structure learning: scalegen's hill climbing against pyAgrum and pgmpy, BIC score.

Rows are sampled once from a network bundled with pgmpy; each library learns a DAG from
the same rows starting from the empty graph, with BIC and no tabu list or in-degree
limit; scalegen also with chow_liu_start=True (a second climb from the Chow-Liu tree, the
better DAG kept). "x" is pyAgrum's time over scalegen's plain climb, "x CL" over the climb
with chow_liu_start. Every learned
DAG is then scored the same way (scalegen's structure_score, equal to pgmpy's bic-d), and
compared with the true DAG by the structural Hamming distance.
pyAgrum's CSV parse is timed apart and not counted; pgmpy runs on the small sizes only.

    python bench/bench_structure.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from _common import pgmpy_examples, timed, versions_line, write_json

CONFIGS = [  # (network, rows, run pgmpy)
    ("alarm", 10_000, True),
    ("alarm", 100_000, False),
    ("hepar2", 10_000, False),
    ("hepar2", 100_000, False),
    ("win95pts", 10_000, False),
    ("win95pts", 100_000, False),
]


def pyagrum_hill_climb(data, workdir: Path, repeat: int):  # type: ignore[no-untyped-def]
    """(learnDAG seconds, edges) for pyAgrum's greedy hill climbing with BIC."""
    import pyagrum as gum

    csv = workdir / "data.csv"
    data.to_csv(csv, index=False)
    names = list(data.columns)

    def learn():  # type: ignore[no-untyped-def]
        learner = gum.BNLearner(str(csv))
        learner.useGreedyHillClimbing()
        learner.useScoreBIC()
        learner.useNoPrior()
        learner.setNumberOfThreads(2)
        t0 = time.perf_counter()
        dag = learner.learnDAG()
        return time.perf_counter() - t0, [
            (learner.nameFromId(u), learner.nameFromId(v)) for u, v in dag.arcs()
        ]

    runs = [learn() for _ in range(repeat)]
    csv.unlink()
    seconds = statistics.median(r[0] for r in runs)
    edges = [(u, v) for u, v in runs[-1][1] if u in names and v in names]
    return seconds, edges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows only")
    parser.add_argument("--repeat", type=int, default=3, help="timings per learner (median); pgmpy runs once")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    import scalegen
    from scalegen.bayesnet import HillClimbSearch, read_bif, structural_hamming_distance, structure_score

    warnings.simplefilter("ignore")
    examples = pgmpy_examples()
    cfg = scalegen._info.config()
    print(versions_line(cfg))
    print(
        f"{'network':>9} {'rows':>8} | {'scalegen s':>10} {'BIC':>12} {'SHD':>4} | {'+Chow-Liu s':>11}"
        f" {'BIC':>12} {'SHD':>4} | {'pyAgrum s':>9} {'x':>5} {'x CL':>5} {'BIC':>12} {'SHD':>4}"
        f" | {'pgmpy s':>8} {'x':>6} {'BIC':>12} {'SHD':>4}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, n, with_pgmpy in CONFIGS:
            if args.quick and n > 10_000:
                continue
            true = read_bif(examples / f"{name}.bif.gz")
            data = true.sample(n, random_state=0)

            def bic(edges, data=data):  # type: ignore[no-untyped-def]
                return structure_score(edges, data, "bic")

            sg_s, hc = timed(lambda data=data: HillClimbSearch().fit(data), args.repeat)
            cl_s, cl = timed(lambda data=data: HillClimbSearch(chow_liu_start=True).fit(data), args.repeat)
            ag_s, ag_edges = pyagrum_hill_climb(data, Path(tmp), args.repeat)
            row = {
                "network": name,
                "rows": n,
                "scalegen_s": sg_s,
                "scalegen_bic": bic(hc.edges_),
                "scalegen_shd": structural_hamming_distance(hc.edges_, true),
                "scalegen_chow_liu_s": cl_s,
                "scalegen_chow_liu_bic": bic(cl.edges_),
                "scalegen_chow_liu_shd": structural_hamming_distance(cl.edges_, true),
                "chow_liu_vs_pyagrum": ag_s / cl_s,
                "pyagrum_s": ag_s,
                "pyagrum_bic": bic(ag_edges),
                "pyagrum_shd": structural_hamming_distance(ag_edges, true),
                "vs_pyagrum": ag_s / sg_s,
            }
            line = (
                f"{name:>9} {n:>8,} | {sg_s:>10.3f} {row['scalegen_bic']:>12.1f} {row['scalegen_shd']:>4}"
                f" | {cl_s:>11.3f} {row['scalegen_chow_liu_bic']:>12.1f} {row['scalegen_chow_liu_shd']:>4}"
                f" | {ag_s:>9.3f} {ag_s / sg_s:>5.1f} {ag_s / cl_s:>5.1f} {row['pyagrum_bic']:>12.1f}"
                f" {row['pyagrum_shd']:>4}"
            )
            if with_pgmpy:
                from pgmpy.estimators import HillClimbSearch as PgmpyHillClimb

                t0 = time.perf_counter()
                dag = PgmpyHillClimb(data).estimate(
                    scoring_method="bic-d", tabu_length=0, show_progress=False
                )
                pg_s = time.perf_counter() - t0
                pg_edges = list(dag.edges())
                row.update(
                    {
                        "pgmpy_s": pg_s,
                        "pgmpy_bic": bic(pg_edges),
                        "pgmpy_shd": structural_hamming_distance(pg_edges, true),
                        "vs_pgmpy": pg_s / sg_s,
                    }
                )
                line += f" | {pg_s:>8.1f} {pg_s / sg_s:>6.0f} {row['pgmpy_bic']:>12.1f} {row['pgmpy_shd']:>4}"
            rows.append(row)
            print(line, flush=True)
    write_json(args.json, cfg, rows)


if __name__ == "__main__":
    main()
