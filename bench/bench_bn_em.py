"""EM for Bayesian networks: scalegen against pyAgrum (BNLearner.useEM) and pgmpy
(ExpectationMaximization) on ALARM rows with one variable hidden, and with 20% of the cells
missing.

Every tool is given the same random start tables and runs the same number of iterations
(no early stop). pyAgrum needs a prior where a latent variable conditions a table, so its
runs and scalegen's use one pseudo-count per cell (pyAgrum's smoothing prior, scalegen's
K2); pgmpy's M-step is the MLE, and so is scalegen's run against it. pgmpy drops the rows
with missing cells, so it has no missing-cells run. "ll" is each result's mean
log-likelihood per row of the observed cells, computed by scalegen for all. pgmpy starts
from the given tables and matches to every digit; pyAgrum's first iterations differ (it
appears to start from its own estimate), and its log-likelihood joins ours as both
converge (equal to 5 decimals after 60 iterations on 2,000 rows, in both cases).
scalegen's time is the median of --repeat runs, the peers' one run.

    python bench/bench_bn_em.py [--rows 5000] [--iterations 25] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from _common import timed, versions_line, write_json

HIDDEN = "LVFAILURE"


def start_tables(net, seed: int):  # type: ignore[no-untyped-def]
    """The shared start: every column of every table drawn uniformly from the simplex."""
    from scalegen.bayesnet import BayesianNetwork, TabularCPD

    rng = np.random.default_rng(seed)
    start = BayesianNetwork(net.edges, net.nodes, net.states, latents=net.latents)
    for v in net.nodes:
        parents = net.parents(v)
        shape = (len(net.states[v]), *(len(net.states[p]) for p in parents))
        values = rng.dirichlet(np.ones(shape[0]), size=int(np.prod(shape[1:]))).T.reshape(shape)
        start.add_cpds(TabularCPD(v, values, parents, {u: net.states[u] for u in (v, *parents)}))
    return start


def log_likelihood(model, data) -> float:  # type: ignore[no-untyped-def]
    """Mean log-likelihood per row of the observed cells under model's tables."""
    from scalegen.bayesnet import BayesianNetwork

    latents = {v: model.states[v] for v in model.nodes if v not in data.columns}
    net = BayesianNetwork(model.edges, model.nodes, model.states, latents=latents)
    net.fit(data, estimator="em", init=model, max_iter=1, tol=0.0)
    return float(net.lower_bounds_[0])


def pyagrum_em(start, data, iterations: int, workdir: Path):  # type: ignore[no-untyped-def]
    """(seconds, learned network) of pyAgrum's EM from start's tables, codes as labels."""
    import pyagrum as gum

    from scalegen.bayesnet import BayesianNetwork, TabularCPD

    bn = gum.BayesNet()
    for v in start.nodes:
        bn.add(gum.LabelizedVariable(str(v), str(v), [str(i) for i in range(len(start.states[v]))]))
    for u, v in start.edges:
        bn.addArc(str(u), str(v))
    for v in start.nodes:  # pyAgrum's array axes are its variables in reverse order
        names = bn.cpt(str(v)).names
        ours = [str(v), *map(str, start.parents(v))]
        bn.cpt(str(v)).fillWith(
            np.transpose(start.cpd(v).values, [ours.index(n) for n in names[::-1]]).ravel()
        )
    csv = workdir / "em.csv"
    codes = {}  # state codes as labels, '?' where missing or latent
    for v in start.nodes:
        lookup = {s: str(k) for k, s in enumerate(start.states[v])}
        column = data[v] if v in data.columns else [None] * len(data)
        codes[str(v)] = ["?" if x is None or x != x else lookup[x] for x in column]
    pd.DataFrame(codes).to_csv(csv, index=False)
    t0 = time.perf_counter()
    learner = gum.BNLearner(str(csv), bn)
    learner.useSmoothingPrior(1)
    learner.useEM(1e-12)
    learner.EMdisableEpsilon()
    learner.EMdisableMinEpsilonRate()
    learner.EMsetMaxIter(iterations)
    learned = learner.learnParameters(bn)
    seconds = time.perf_counter() - t0
    out = BayesianNetwork(start.edges, start.nodes, start.states, latents=start.latents)
    for v in start.nodes:
        pot = learned.cpt(str(v))
        ours = [str(v), *map(str, start.parents(v))]
        axes = list(pot.names[::-1])
        values = np.transpose(pot.toarray(), [axes.index(n) for n in ours])
        out.add_cpds(
            TabularCPD(v, values, start.parents(v), {u: start.states[u] for u in (v, *start.parents(v))})
        )
    return seconds, out, learner.EMnbrIterations()


def pgmpy_em(start, data, iterations: int):  # type: ignore[no-untyped-def]
    """(seconds, learned network) of pgmpy's EM from start's tables."""
    from pgmpy.estimators import ExpectationMaximization
    from pgmpy.models import DiscreteBayesianNetwork

    from scalegen.bayesnet import BayesianNetwork

    model = DiscreteBayesianNetwork(start.edges, latents=set(start.latents))
    init = {c.variable: c for c in start.to_pgmpy().cpds}
    t0 = time.perf_counter()
    cpds = ExpectationMaximization(model, data.astype(object)).get_parameters(
        latent_card={v: len(s) for v, s in start.latents.items()},
        max_iter=iterations,
        atol=0.0,
        init_cpds=init,
        show_progress=False,
    )
    seconds = time.perf_counter() - t0
    model.add_cpds(*cpds)
    return seconds, BayesianNetwork.from_pgmpy(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--iterations", type=int, default=25)
    parser.add_argument("--pgmpy-iterations", type=int, default=2, help="pgmpy is slow")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    from scalegen._info import config
    from scalegen.bayesnet import BayesianNetwork
    from scalegen.datasets import load_network

    warnings.simplefilter("ignore")
    cfg = config()
    print(versions_line(cfg))
    alarm = load_network("alarm")
    rows = alarm.sample(args.rows, random_state=0)
    cases = {
        "hidden": rows.drop(columns=HIDDEN),
        "missing": rows.astype(object).mask(np.random.default_rng(1).random(rows.shape) < 0.2, None),
    }
    print(
        f"{'case':>8} {'peer':>8} {'rows':>7} {'iter':>4} {'scalegen s':>10} {'peer s':>8} {'x':>6}"
        f" {'ll ours':>9} {'ll peer':>9}"
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for case, data in cases.items():
            latents = {HIDDEN: alarm.states[HIDDEN]} if case == "hidden" else None
            template = BayesianNetwork(alarm.edges, alarm.nodes, alarm.states, latents=latents)
            start = start_tables(template, seed=2)
            peers = [("pyAgrum", "K2", args.iterations)]
            if case == "hidden":
                peers.append(("pgmpy", None, args.pgmpy_iterations))
            for peer, prior, iterations in peers:

                def ours(prior=prior, iterations=iterations, data=data, start=start):  # type: ignore[no-untyped-def]
                    net = BayesianNetwork(start.edges, start.nodes, start.states, latents=start.latents)
                    return net.fit(
                        data, estimator="em", prior_type=prior, init=start, max_iter=iterations, tol=0.0
                    )

                ours_s, fitted = timed(ours, args.repeat)
                if peer == "pyAgrum":
                    peer_s, theirs, done = pyagrum_em(start, data, iterations, Path(tmp))
                    assert done == iterations, f"pyAgrum ran {done} iterations"
                else:
                    peer_s, theirs = pgmpy_em(start, data, iterations)
                ll_ours, ll_peer = log_likelihood(fitted, data), log_likelihood(theirs, data)
                print(
                    f"{case:>8} {peer:>8} {args.rows:>7,} {iterations:>4} {ours_s:>10.3f} {peer_s:>8.2f}"
                    f" {peer_s / ours_s:>5.0f}x {ll_ours:>9.5f} {ll_peer:>9.5f}"
                )
                results.append(
                    {
                        "case": case,
                        "peer": peer,
                        "rows": args.rows,
                        "iterations": iterations,
                        "scalegen_s": ours_s,
                        "peer_s": peer_s,
                        "ratio": peer_s / ours_s,
                        "ll_scalegen": ll_ours,
                        "ll_peer": ll_peer,
                    }
                )
    write_json(args.json, cfg, results)


if __name__ == "__main__":
    main()
