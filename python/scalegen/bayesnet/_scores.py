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
    """A decomposable score of a DAG on data, equal to pgmpy's (higher is better).

    Parameters
    ----------
    model_or_edges : BayesianNetwork or iterable of (parent, child) pairs
        The DAG. A network scores its own nodes only (other columns of the data are
        ignored) and uses its states where it has them; with edges, every column of the
        data is scored, those in no edge as variables without parents.
    data : DataFrame, array, iterable of chunks or dask DataFrame
        A pandas DataFrame, a 2-D integer array of codes (columns in the order of the
        network's nodes, which must have their states), an iterable of such chunks (read
        once) or a dask DataFrame (counted per partition on the workers): each gives
        exactly the score of the same rows in one DataFrame.
    score : str, default 'bic'
        'bic', 'aic', 'k2', 'bdeu', 'bds' or 'll' (the log-likelihood), in any case;
        pgmpy's names 'bic-d', 'aic-d' and 'll-d' too. 'bds' includes pgmpy's marginal
        uniform graph prior (see ``structure_prior``); BIC's penalty uses the number of rows.
    equivalent_sample_size : float, default 10
        Prior strength of 'bdeu' and 'bds'.
    n_jobs : int or None, default None
        Threads counting the families (None: ``scalegen.get_num_threads()``).

    Returns
    -------
    float
        The sum of the families' scores (plus the graph prior for 'bds').

    Raises
    ------
    InvalidParameterError
        If ``score`` is unknown or ``equivalent_sample_size`` is not a positive number.
    TypeError
        If ``model_or_edges`` is neither a network nor an iterable of edges, or ``data``
        is not one of the sources above.

    Examples
    --------
    >>> from scalegen.bayesnet import structure_score
    >>> from scalegen.datasets import load_network
    >>> asia = load_network("asia")
    >>> data = asia.sample(5000, random_state=0)
    >>> round(structure_score(asia, data), 1), round(structure_score(asia, data, score="bdeu"), 1)
    (-11189.9, -11218.7)
    >>> structure_score(asia.edges, data) > structure_score([], data)  # the true DAG beats no edges
    True
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
