"""Tables from family counts (MLE and Dirichlet posteriors) and structure scores."""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ._cpd import TabularCPD

SCORES = {
    "ll": "ll",
    "ll-d": "ll",
    "bic": "bic",
    "bic-d": "bic",
    "aic": "aic",
    "aic-d": "aic",
    "k2": "k2",
    "bdeu": "bdeu",
}


def _per_variable(value: Any, v: Hashable, what: str) -> Any:
    if isinstance(value, Mapping):
        if v not in value:
            raise ValueError(f"{what} has no entry for {v!r}")
        return value[v]
    return value


def _pseudo_counts(
    v: Hashable, shape: tuple[int, ...], prior_type: str, ess: Any, pseudo_counts: Any
) -> np.ndarray | float:
    card, n_configs = shape[0], int(np.prod(shape[1:], dtype=np.int64))
    kind = prior_type.lower()
    if kind == "k2":
        return 1.0
    if kind == "bdeu":
        size = _per_variable(ess, v, "equivalent_sample_size")
        if not isinstance(size, numbers.Real) or not float(size) > 0:
            raise ValueError(f"equivalent_sample_size must be a positive number, got {size!r} for {v!r}")
        return float(size) / (card * n_configs)
    if kind == "dirichlet":
        if pseudo_counts is None:
            raise ValueError("prior_type='dirichlet' needs pseudo_counts")
        alpha = _per_variable(pseudo_counts, v, "pseudo_counts")
        if isinstance(alpha, numbers.Real):
            arr: np.ndarray | float = float(alpha)
        else:
            arr = np.asarray(alpha, dtype=np.float64)
            if arr.shape == (card, n_configs):
                arr = arr.reshape(shape)
            if arr.shape != shape:
                raise ValueError(f"pseudo_counts for {v!r} must have shape {shape}, got {arr.shape}")
        if not np.all(np.isfinite(arr)) or np.any(np.asarray(arr) < 0):
            raise ValueError(f"pseudo_counts for {v!r} must be finite and non-negative")
        return arr
    raise ValueError(f"prior_type must be 'BDeu', 'K2' or 'dirichlet', got {prior_type!r}")


def counts_table(counts: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The counts as a new array shaped like the family's table."""
    return np.asarray(counts.to_dense()).reshape(shape)


def normalize(table: np.ndarray) -> np.ndarray:
    """Columns divided by their sums, in place; all-zero columns become uniform (pgmpy's
    MLE rule)."""
    flat = table.reshape(table.shape[0], -1)
    sums = flat.sum(axis=0)
    empty = sums == 0
    if empty.any():
        flat[:, empty] = 1.0
        sums[empty] = flat.shape[0]
    flat /= sums
    return table


def estimate_tables(
    nodes: Sequence[Hashable],
    parents: Mapping[Hashable, list[Hashable]],
    states: Mapping[Hashable, list[Any]],
    counts: Sequence[Any],
    estimator: str,
    prior_type: str,
    equivalent_sample_size: Any,
    pseudo_counts: Any,
) -> list[TabularCPD]:
    out = []
    for v, c in zip(nodes, counts, strict=True):
        shape = (len(states[v]), *(len(states[p]) for p in parents[v]))
        table = counts_table(c, shape)
        if estimator == "bayes":
            table = table + _pseudo_counts(v, shape, prior_type, equivalent_sample_size, pseudo_counts)
        family_states = {u: states[u] for u in [v, *parents[v]]}
        out.append(TabularCPD._trusted(v, normalize(table), list(parents[v]), family_states))
    return out


def structure_score(
    model_or_edges: Any,
    data: Any,
    score: str = "bic",
    equivalent_sample_size: float = 10,
    n_jobs: int | None = None,
) -> float:
    """A decomposable score of a DAG on data: 'bic', 'aic', 'k2', 'bdeu' or 'll'
    (pgmpy's names 'bic-d', 'aic-d', 'll-d' too). Equal to pgmpy's scores.

    ``model_or_edges``: a BayesianNetwork (its states are used where it has them) or
    (parent, child) pairs; every data column that is not in the edges is scored as a
    variable without parents. BIC's penalty uses the number of rows of the data.

    ``data``: a pandas DataFrame, a 2-D integer array of codes, an iterable of such chunks
    (read once) or a dask DataFrame (counted per partition on the workers), all giving
    exactly the score of the same rows in one DataFrame.
    """
    from ._counts import as_source, count_families, source_columns
    from ._model import BayesianNetwork

    name = SCORES.get(str(score).lower()) if isinstance(score, str) else None
    if name is None:
        raise ValueError(f"score must be one of {sorted(SCORES)}, got {score!r}")
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
    return float(sum(c.score(name, n, float(equivalent_sample_size)) for c in counted.counts))
