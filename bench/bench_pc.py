"""Constraint-based structure learning: scalegen's PC against pgmpy's PC (variant 'stable').

Rows are sampled once from a network bundled with pgmpy; both learn the PDAG from the same
rows with the chi-square test, significance level 0.01 and at most 5 conditioning
variables. scalegen's time is the median of --repeat runs, pgmpy's one run (it is slow);
"same" says whether the skeletons and PDAG edges are equal.

    python bench/bench_pc.py [--rows 10000] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

from _common import pgmpy_examples, timed

NETWORKS = ("asia", "sachs", "child")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="scalegen timings (median); pgmpy runs once")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    import warnings

    import pgmpy
    from pgmpy.estimators import PC as PgmpyPC

    from scalegen._info import config
    from scalegen.bayesnet import PC, read_bif

    cfg = config()
    print(
        f"scalegen {cfg['version']} ({cfg['isa_level']}, {cfg['num_threads']} threads)",
        f"vs pgmpy {pgmpy.__version__}",
    )
    print(f"{'network':>8} {'rows':>7} {'scalegen s':>11} {'pgmpy s':>9} {'x':>6} {'edges':>6} {'same':>5}")
    rows = []
    for name in NETWORKS:
        data = read_bif(pgmpy_examples() / f"{name}.bif.gz").sample(args.rows, random_state=0)
        ours_s, ours = timed(lambda data=data: PC("chi_square", 0.01, 5).fit(data), args.repeat)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            theirs = PgmpyPC(data).estimate(
                variant="stable",
                ci_test="chi_square",
                significance_level=0.01,
                max_cond_vars=5,
                return_type="pdag",
                show_progress=False,
            )
            theirs_s = time.perf_counter() - t0
        directed = set(theirs.directed_edges)
        undirected = {frozenset(e) for e in theirs.undirected_edges}
        same = set(ours.edges_) == directed and {frozenset(e) for e in ours.undirected_edges_} == undirected
        n_edges = len(ours.edges_) + len(ours.undirected_edges_)
        print(
            f"{name:>8} {args.rows:>7,} {ours_s:>11.3f} {theirs_s:>9.2f} {theirs_s / ours_s:>5.0f}x "
            f"{n_edges:>6} {same!s:>5}"
        )
        rows.append(
            {
                "network": name,
                "rows": args.rows,
                "scalegen_s": ours_s,
                "pgmpy_s": theirs_s,
                "ratio": theirs_s / ours_s,
                "edges": n_edges,
                "same_pdag": same,
            }
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": cfg, "pgmpy": pgmpy.__version__, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
