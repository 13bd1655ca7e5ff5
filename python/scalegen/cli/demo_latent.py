"""The demo's latent-class example: ALARM with one variable never observed, learned back by
EM from the other 36 columns."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np

HIDDEN = "LVFAILURE"  # left-ventricular failure: a root with three children in ALARM


def demo_latent(out: Path, *, n_rows: int = 100_000) -> dict:
    from ..bayesnet import BayesianNetwork
    from ..datasets import load_network

    truth = load_network("alarm")
    print(f"\n[bayesnet] EM: ALARM with {HIDDEN} hidden, learned back from {n_rows:,} rows of the other 36")
    data = truth.sample(n_rows, random_state=1).drop(columns=HIDDEN)
    states = {v: s for v, s in truth.states.items() if v != HIDDEN}
    net = BayesianNetwork(truth.edges, truth.nodes, states, latents={HIDDEN: truth.states[HIDDEN]})
    t0 = time.perf_counter()
    net.fit(data, estimator="em", n_init=3, max_iter=200, tol=1e-7, random_state=0)
    seconds = time.perf_counter() - t0
    # a latent variable's states are known up to their order: name them as the truth's
    # closest table of the hidden variable's children does
    children = truth.children(HIDDEN)
    k = len(truth.states[HIDDEN])

    def distance(order: tuple[int, ...]) -> float:
        return sum(
            float(
                np.abs(
                    net.cpd(c).values.take(order, axis=1 + net.parents(c).index(HIDDEN)) - truth.cpd(c).values
                ).max()
            )
            for c in children
        )

    order = min(itertools.permutations(range(k)), key=distance)
    prior = net.cpd(HIDDEN).values[list(order)]
    print(f"  {net.n_iter_} iterations in {seconds:.2f} s (best of 3 starts), converged: {net.converged_}")
    true_prior = truth.cpd(HIDDEN).values
    print(f"  P({HIDDEN}) learned {np.round(prior, 3).tolist()}, true {np.round(true_prior, 3).tolist()}")
    child = children[0]
    axis = 1 + net.parents(child).index(HIDDEN)
    print(f"  P({child} | {', '.join(map(str, net.parents(child)))}), learned | true:")
    learned_child = net.cpd(child).values.take(order, axis=axis)
    for s, (a, b) in enumerate(
        zip(
            learned_child.reshape(len(states[child]), -1),
            truth.cpd(child).values.reshape(len(states[child]), -1),
            strict=True,
        )
    ):
        print(f"    {states[child][s]:>6}: {np.round(a, 3).tolist()} | {np.round(b, 3).tolist()}")
    error = distance(order) / len(children)
    print(f"  largest error of a child's table, mean over the {len(children)} children: {error:.4f}")
    picture = _plot_bounds(out / "alarm_em.png", net.lower_bounds_)
    print(f"  log-likelihood per iteration: {picture}")
    return {
        "rows": n_rows,
        "hidden": HIDDEN,
        "seconds": seconds,
        "n_iter": net.n_iter_,
        "converged": net.converged_,
        "prior_learned": prior.tolist(),
        "prior_true": true_prior.tolist(),
        "children_max_error": error,
        "lower_bounds": net.lower_bounds_,
        "picture": picture,
    }


def _plot_bounds(path: Path, bounds: list[float]) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "skipped (matplotlib is not installed: pip install 'scalegen[plot]')"
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.arange(1, len(bounds) + 1), bounds, marker=".")
    ax.set_xlabel("EM iteration")
    ax.set_ylabel("mean log-likelihood per row (observed columns)")
    ax.set_title(f"ALARM with {HIDDEN} hidden: EM never decreases it")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)
