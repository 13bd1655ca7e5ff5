"""Batch posteriors: scalegen's BayesianNetwork.predict_proba against pgmpy's
predict_probability on ALARM rows.

Rows sampled from ALARM lose three columns (HYPOVOLEMIA, LVFAILURE, HR); both tools return
every row's marginal of each missing variable. pgmpy answers row by row with variable
elimination in Python, so it gets --peer-rows rows and scalegen the same rows; scalegen
then answers --rows rows, and the same rows with 20% of all cells missing instead (pgmpy
takes missing columns only; pyAgrum has no batch API). scalegen's time is the median of
--repeat runs, pgmpy's one run; max diff is the largest absolute difference of a posterior.

    python bench/bench_bn_predict.py [--rows 100000] [--peer-rows 2000] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from _common import timed, versions_line, write_json

MISSING = ["HYPOVOLEMIA", "LVFAILURE", "HR"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--peer-rows", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    from scalegen._info import config
    from scalegen.datasets import load_network

    warnings.simplefilter("ignore")
    cfg = config()
    print(versions_line(cfg))
    alarm = load_network("alarm")
    pgmpy_model = alarm.to_pgmpy()
    rows = alarm.sample(args.rows, random_state=0)
    print(
        f"{'data':>26} {'rows':>8} {'scalegen s':>10} {'rows/s':>10} {'pgmpy s':>8} {'x':>6} {'max diff':>9}"
    )
    results = []

    few = rows.iloc[: args.peer_rows].drop(columns=MISSING)
    ours_s, ours = timed(lambda: alarm.predict_proba(few), args.repeat)
    t0 = time.perf_counter()
    theirs = pgmpy_model.predict_probability(few.astype(object))
    peer_s = time.perf_counter() - t0
    diff = max(
        float(np.abs(ours[(v, s)].to_numpy() - theirs[f"{v}_{s}"].to_numpy()).max())
        for v in MISSING
        for s in alarm.states[v]
    )
    print(
        f"{'3 missing columns':>26} {len(few):>8,} {ours_s:>10.3f} {len(few) / ours_s:>10,.0f} {peer_s:>8.1f}"
        f" {peer_s / ours_s:>5.0f}x {diff:>9.1e}"
    )
    results.append(
        {
            "data": "3 missing columns",
            "rows": len(few),
            "scalegen_s": ours_s,
            "pgmpy_s": peer_s,
            "ratio": peer_s / ours_s,
            "max_diff": diff,
        }
    )

    holes = rows.astype(object).mask(np.random.default_rng(1).random(rows.shape) < 0.2)
    for label, data in (("3 missing columns", rows.drop(columns=MISSING)), ("20% missing cells", holes)):
        ours_s, _ = timed(lambda data=data: alarm.predict_proba(data), args.repeat)
        print(f"{label:>26} {len(data):>8,} {ours_s:>10.3f} {len(data) / ours_s:>10,.0f}")
        results.append({"data": label, "rows": len(data), "scalegen_s": ours_s})
    write_json(args.json, cfg, results)


if __name__ == "__main__":
    main()
