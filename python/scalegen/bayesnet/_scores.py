"""Decomposable structure scores of a DAG on data (pgmpy's names and values), from the
family counts the C++ core computes."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..utils._validation import check_choice
from ._counts import as_source, count_families, source_columns
from ._estimators import check_ess
from ._model import BayesianNetwork

SCORES = {
    "ll": "ll",
    "ll-d": "ll",
    "bic": "bic",
    "bic-d": "bic",
    "aic": "aic",
    "aic-d": "aic",
    "k2": "k2",
    "bdeu": "bdeu",
    "bds": "bds",
}


def structure_prior(score: str, n_nodes: int, n_edges: int) -> float:
    """The log prior of a DAG that a score comes with: BDs uses Scutari's marginal uniform
    prior, -(edges + n (n - 1) / 2) log 2, as pgmpy adds it; the other scores none."""
    if score != "bds":
        return 0.0
    return -(n_edges + n_nodes * (n_nodes - 1) / 2.0) * math.log(2.0)


def structure_score(
    model_or_edges: Any,
    data: Any,
    score: str = "bic",
    equivalent_sample_size: float = 10,
    n_jobs: int | None = None,
) -> float:
    """A decomposable score of a DAG on data: 'bic', 'aic', 'k2', 'bdeu', 'bds' or 'll'
    (pgmpy's names 'bic-d', 'aic-d', 'll-d' too). Equal to pgmpy's scores ('bds' with
    pgmpy's marginal uniform graph prior, see `structure_prior`).

    ``model_or_edges``: a BayesianNetwork (its states are used where it has them) or
    (parent, child) pairs; every data column that is not in the edges is scored as a
    variable without parents. BIC's penalty uses the number of rows of the data.

    ``data``: a pandas DataFrame, a 2-D integer array of codes, an iterable of such chunks
    (read once) or a dask DataFrame (counted per partition on the workers), all giving
    exactly the score of the same rows in one DataFrame.
    """
    name = SCORES.get(score.lower()) if isinstance(score, str) else None
    if name is None:
        name = check_choice(score, "score", "structure_score", list(SCORES))  # raises
    ess = check_ess(equivalent_sample_size, "structure_score")
    source = as_source(data)
    if isinstance(model_or_edges, BayesianNetwork):
        model = model_or_edges
    elif isinstance(model_or_edges, Iterable):
        model = BayesianNetwork(list(model_or_edges), nodes=source_columns(source))
    else:
        raise TypeError(f"expected a BayesianNetwork or a list of edges, got {type(model_or_edges).__name__}")
    nodes = model.nodes
    index = {v: i for i, v in enumerate(nodes)}
    families = [(index[v], [index[p] for p in model.parents(v)]) for v in nodes]
    counted = count_families(source, nodes, model.states, families, None, n_jobs)
    n = float(counted.n_rows)
    local = sum(c.score(name, n, ess) for c in counted.counts)
    return float(local + structure_prior(name, len(nodes), len(model.edges)))
