"""Bayesian networks: CPT fitting and sampling, scalegen against pgmpy and pyAgrum.

For each network from pgmpy's bundled BIF files, rows are sampled once (by scalegen) and
every library learns the tables of the true DAG from those same rows:
  - scalegen: BayesianNetwork.fit on the DataFrame (categorical columns), MLE;
  - pgmpy: MaximumLikelihoodEstimator.get_parameters (its tables must equal ours);
  - pyAgrum: BNLearner.learnParameters on a CSV of the same rows, with its smoothing
    prior of 1 (pyAgrum refuses MLE when a parent configuration is missing from the
    data), against scalegen's fit with the same prior (estimator='bayes', prior_type='K2');
    the CSV parse (the BNLearner constructor) is timed separately and not counted.
Sampling: scalegen's sample against pgmpy's BayesianModelSampling.forward_sample.
Times are medians of --repeat runs for scalegen and pyAgrum (one run for pgmpy, which
is slow); ratios are peer time / scalegen time.

    python bench/bench_bayesnet.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from _common import pgmpy_examples, timed, versions_line, write_json

NETWORKS = ["alarm", "hepar2", "win95pts", "diabetes"]
SIZES = [100_000, 1_000_000]


def pgmpy_tables(model, data):  # type: ignore[no-untyped-def]
    from pgmpy.estimators import MaximumLikelihoodEstimator
    from pgmpy.models import DiscreteBayesianNetwork

    pm = DiscreteBayesianNetwork(model.edges)
    pm.add_nodes_from(model.nodes)
    return MaximumLikelihoodEstimator(pm, data, state_names=model.states).get_parameters(n_jobs=1)


def max_table_diff(pgmpy_cpds, ours) -> float:  # type: ignore[no-untyped-def]
    worst = 0.0
    for c in pgmpy_cpds:
        mine = ours.cpd(c.variable)
        theirs = c.variables[1:]
        values = np.transpose(c.values, [0, *(1 + theirs.index(p) for p in mine.parents)])
        worst = max(worst, float(np.max(np.abs(values - mine.values))))
    return worst


def pyagrum_fit(model, data, workdir: Path, repeat: int):  # type: ignore[no-untyped-def]
    """(parse seconds, learnParameters seconds). The template BN's labels are the state
    codes, so the CSV holds small integers and parsing is as cheap as it can be."""
    import pyagrum as gum

    template = gum.BayesNet()
    ids = {}
    for v in model.nodes:
        ids[v] = template.add(
            gum.LabelizedVariable(str(v), str(v), [str(i) for i in range(len(model.states[v]))])
        )
    for u, v in model.edges:
        template.addArc(ids[u], ids[v])
    csv = workdir / "data.csv"
    data.apply(lambda col: col.cat.codes).to_csv(csv, index=False)
    parse, learner = timed(lambda: gum.BNLearner(str(csv), template), 1)
    learner.useSmoothingPrior(1)
    learner.setNumberOfThreads(2)
    fit, _ = timed(lambda: learner.learnParameters(template.dag()), repeat)
    csv.unlink()
    return parse, fit


def pgmpy_sample(name: str, n: int) -> float:
    from pgmpy.sampling import BayesianModelSampling
    from pgmpy.utils import get_example_model

    pm = get_example_model(name)
    t0 = time.perf_counter()
    BayesianModelSampling(pm).forward_sample(size=n, show_progress=False, seed=0)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows only")
    parser.add_argument("--networks", default=",".join(NETWORKS))
    parser.add_argument("--repeat", type=int, default=5, help="scalegen and pyAgrum timings (median)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    import scalegen
    from scalegen.bayesnet import BayesianNetwork, read_bif

    warnings.simplefilter("ignore")
    examples = pgmpy_examples()
    cfg = scalegen._info.config()
    print(versions_line(cfg))
    print(
        f"{'network':>9} {'rows':>9} | {'fit s':>7} {'pgmpy':>7} {'x':>5} {'pyAgrum':>7} {'x':>5}"
        f" {'(parse)':>7} {'max diff':>8} | {'sample s':>8} {'pgmpy':>7} {'x':>5}"
    )
    # pgmpy's first call pays for imports and caches: warm it up outside the timings.
    warm = read_bif(examples / "asia.bif.gz")
    pgmpy_tables(warm, warm.sample(100, random_state=0))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.networks.split(","):
            path = examples / f"{name}.bif.gz"
            true = read_bif(path)
            for n in SIZES[:1] if args.quick else SIZES:
                data = true.sample(n, random_state=0)

                def fit(data=data, true=true):  # type: ignore[no-untyped-def]
                    return BayesianNetwork(true.edges, true.nodes, true.states).fit(data)

                sg_fit, ours = timed(fit, args.repeat)
                sg_fit_k2, _ = timed(
                    lambda data=data, true=true: BayesianNetwork(true.edges, true.nodes, true.states).fit(
                        data, estimator="bayes", prior_type="K2"
                    ),
                    args.repeat,
                )
                sg_sample, _ = timed(lambda n=n, true=true: true.sample(n, random_state=1), args.repeat)
                t0 = time.perf_counter()
                theirs = pgmpy_tables(true, data)
                pg_fit = time.perf_counter() - t0
                diff = max_table_diff(theirs, ours)
                ag_parse, ag_fit = pyagrum_fit(true, data, Path(tmp), args.repeat)
                pg_sample = pgmpy_sample(name, n)
                row = {
                    "network": name,
                    "rows": n,
                    "variables": len(true.nodes),
                    "scalegen_fit_s": sg_fit,
                    "pgmpy_fit_s": pg_fit,
                    "pyagrum_fit_s": ag_fit,
                    "pyagrum_csv_parse_s": ag_parse,
                    "fit_vs_pgmpy": pg_fit / sg_fit,
                    "scalegen_fit_k2_s": sg_fit_k2,
                    "fit_vs_pyagrum": ag_fit / sg_fit_k2,
                    "max_table_diff_vs_pgmpy": diff,
                    "scalegen_sample_s": sg_sample,
                    "pgmpy_sample_s": pg_sample,
                    "sample_vs_pgmpy": pg_sample / sg_sample,
                }
                rows.append(row)
                print(
                    f"{name:>9} {n:>9,} | {sg_fit:>7.3f} {pg_fit:>7.2f} {pg_fit / sg_fit:>5.0f}"
                    f" {ag_fit:>7.3f} {ag_fit / sg_fit_k2:>5.1f} {ag_parse:>7.1f} {diff:>8.0e}"
                    f" | {sg_sample:>8.3f} {pg_sample:>7.2f} {pg_sample / sg_sample:>5.0f}",
                    flush=True,
                )
    write_json(args.json, cfg, rows)


if __name__ == "__main__":
    main()
