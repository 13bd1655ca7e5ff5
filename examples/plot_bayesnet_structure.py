"""
Bayesian network: learning the structure back
=============================================

Sample rows from the bundled *asia* network, learn a DAG from them with
:class:`scalegen.bayesnet.HillClimbSearch` (BIC), and draw it over the true one: edges
both have in black, learned-only edges in red, missed ones dashed. With 500 rows the
rare variables (``asia``, ``tub``) leave too little evidence for some edges; with 20,000
rows the search finds the true graph.
"""

import matplotlib.pyplot as plt

from scalegen import metrics
from scalegen.bayesnet import HillClimbSearch, VariableElimination
from scalegen.datasets import load_network

truth = load_network("asia")


def layered_positions(model):
    """Parents above children: each node one row below its deepest parent."""
    depth = {}
    for v in model.topological_order():
        depth[v] = 1 + max((depth[p] for p in model.parents(v)), default=-1)
    rows_of = {}
    for v, d in depth.items():
        rows_of.setdefault(d, []).append(v)
    return {v: (i - (len(vs) - 1) / 2, -d) for d, vs in rows_of.items() for i, v in enumerate(vs)}


def draw(ax, learned, title):
    pos = layered_positions(truth)
    true_edges, learned_edges = set(truth.edges), set(learned.edges)
    for u, v in true_edges | learned_edges:
        if (u, v) in true_edges and (u, v) in learned_edges:
            style = {"color": "black"}
        elif (u, v) in learned_edges:
            style = {"color": "red"}
        else:
            style = {"color": "grey", "linestyle": "--"}
        ax.annotate(
            "",
            xy=pos[v],
            xytext=pos[u],
            arrowprops={"arrowstyle": "-|>", "shrinkA": 16, "shrinkB": 16, **style},
        )
    for v, (x, y) in pos.items():
        ax.text(x, y, v, ha="center", va="center", bbox={"boxstyle": "round", "fc": "lightsteelblue"})
    ax.set_xlim(-2, 2)
    ax.set_ylim(min(y for _, y in pos.values()) - 0.5, 0.5)
    ax.set_axis_off()
    ax.set_title(title)


fig, axes = plt.subplots(1, 2, figsize=(11, 5))
for ax, n_rows in zip(axes, (500, 20_000), strict=True):
    rows = truth.sample(n_rows, random_state=0)
    learned = HillClimbSearch(score="bic").fit(rows).model_.fit(rows)
    edges = metrics.edge_scores(learned, truth)
    answer = VariableElimination(learned).query(["lung"], evidence={"xray": "yes", "smoke": "yes"})
    print(f"{n_rows:>6} rows: {edges}")
    print(f"        P(lung=yes | xray=yes, smoke=yes) = {answer.to_frame()['p']['yes']:.3f}")
    draw(ax, learned, f"{n_rows:,} rows: edge F1 {edges.f1:.2f}")
answer = VariableElimination(truth).query(["lung"], evidence={"xray": "yes", "smoke": "yes"})
print(f"true network: P(lung=yes | xray=yes, smoke=yes) = {answer.to_frame()['p']['yes']:.3f}")
fig.suptitle("asia learned by HillClimbSearch: shared edges black, learned only red, missed dashed")
plt.show()
