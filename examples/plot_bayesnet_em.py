"""
Bayesian network: a latent variable learned by EM
=================================================

ALARM's ``LVFAILURE`` (left-ventricular failure) is a root with three children. Hide it:
sample 20,000 rows of the other 36 variables, declare ``LVFAILURE`` latent, and let EM
learn every table back. A latent variable's states are known only up to their order, so
the learned states are matched to the true ones by the children's tables before
comparing. The curve is the mean log-likelihood per row of the observed columns, which EM
never decreases.
"""

import itertools

import matplotlib.pyplot as plt
import numpy as np

from scalegen.bayesnet import BayesianNetwork
from scalegen.datasets import load_network

truth = load_network("alarm")
hidden = "LVFAILURE"
rows = truth.sample(20_000, random_state=0).drop(columns=hidden)
observed = {v: s for v, s in truth.states.items() if v != hidden}
net = BayesianNetwork(truth.edges, truth.nodes, observed, latents={hidden: ["state 0", "state 1"]})
net.fit(rows, estimator="em", n_init=3, random_state=0)
print(f"{net.n_iter_} iterations, converged: {net.converged_}")

children = truth.children(hidden)


def error(order):
    """Largest difference of the children's tables with the latent's states in this order."""
    return max(
        np.abs(
            net.cpd(c).values.take(order, axis=1 + net.parents(c).index(hidden)) - truth.cpd(c).values
        ).max()
        for c in children
    )


order = list(min(itertools.permutations(range(2)), key=error))
print(
    "P(LVFAILURE) learned:",
    net.cpd(hidden).values[order].round(3),
    "true:",
    truth.cpd(hidden).values.round(3),
)
print(f"largest error in the children's tables: {error(order):.3f}")

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
left.plot(np.arange(1, net.n_iter_ + 1), net.lower_bounds_, marker=".")
left.set_xlabel("EM iteration")
left.set_ylabel("mean log-likelihood per row")
left.set_title("EM never decreases it")
child = "HISTORY"
learned = net.cpd(child).values.take(order, axis=1)
true = truth.cpd(child).values
width = 0.35
for k, name in enumerate(truth.states[hidden]):
    right.bar(np.arange(2) + k * width, true[:, k], width, alpha=0.4, label=f"true, {hidden}={name}")
    right.scatter(np.arange(2) + k * width, learned[:, k], color="black", zorder=3)
right.set_xticks(np.arange(2) + width / 2, truth.states[child])
right.set_title(f"P({child} | {hidden}): bars true, dots learned")
right.legend()
fig.tight_layout()
plt.show()
