"""Tables from family counts (MLE and Dirichlet posteriors) and structure scores."""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from ..utils._limits import Budget
from ..utils._validation import check_choice, check_scalar
from ._cpd import TabularCPD, real_array

FIT = "BayesianNetwork.fit"
PRIORS = {"bdeu": "BDeu", "k2": "K2", "dirichlet": "dirichlet"}


def _per_variable(value: Any, v: Hashable, what: str) -> Any:
    if isinstance(value, Mapping):
        if v not in value:
            raise ValueError(f"{what} has no entry for {v!r}")
        return value[v]
    return value


# Below this, the pseudo-count of a cell (the size spread over a table of up to 1e8 cells)
# would be subnormal, which the kernels flush to zero: lgamma(0) makes the score NaN.
MIN_ESS = 1e-200


def check_ess(value: Any, owner: str, name: str = "equivalent_sample_size") -> float:
    """A finite equivalent sample size of at least MIN_ESS (an infinite one makes every
    table NaN, a subnormal one every BDeu score)."""
    return check_scalar(value, name, owner, float, low=MIN_ESS, closed="left")


def check_prior_type(prior_type: Any, owner: str = FIT) -> str:
    """'bdeu', 'k2' or 'dirichlet' from any capitalization of pgmpy's names."""
    if isinstance(prior_type, str) and prior_type.lower() in PRIORS:
        return prior_type.lower()
    return check_choice(prior_type, "prior_type", owner, list(PRIORS.values()))  # raises


def check_fit_params(estimator: Any, prior_type: Any, ess: Any, pseudo_counts: Any) -> str:
    """The parameters of BayesianNetwork.fit that do not depend on the data; returns the
    prior's kind. A dict of sizes or of pseudo-counts is checked entry by entry when used."""
    check_choice(estimator, "estimator", FIT, ["mle", "bayes", "em"])
    kind = check_prior_type("BDeu" if prior_type is None else prior_type)
    if isinstance(ess, Mapping):
        for v, size in ess.items():
            check_ess(size, FIT, f"equivalent_sample_size[{v!r}]")
    else:
        check_ess(ess, FIT)
    if isinstance(pseudo_counts, numbers.Real):
        check_scalar(pseudo_counts, "pseudo_counts", FIT, float, low=0.0, closed="left")
    return kind


def _pseudo_counts(
    v: Hashable, shape: tuple[int, ...], kind: str, ess: Any, pseudo_counts: Any
) -> np.ndarray | float:
    card, n_configs = shape[0], math.prod(shape[1:])
    if kind == "k2":
        return 1.0
    if kind == "bdeu":
        size = check_ess(
            _per_variable(ess, v, "equivalent_sample_size"), FIT, f"equivalent_sample_size[{v!r}]"
        )
        return size / (card * n_configs)
    if pseudo_counts is None:
        raise ValueError("prior_type='dirichlet' needs pseudo_counts: a number, or a dict variable -> array")
    alpha = _per_variable(pseudo_counts, v, "pseudo_counts")
    if isinstance(alpha, numbers.Real):
        return check_scalar(alpha, f"pseudo_counts[{v!r}]", FIT, float, low=0.0, closed="left")
    arr = real_array(alpha, f"pseudo_counts for {v!r}")
    if arr.shape == (card, n_configs):
        arr = arr.reshape(shape)
    if arr.shape != shape:
        raise ValueError(f"pseudo_counts for {v!r} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"pseudo_counts for {v!r} must be finite and non-negative")
    return arr


def check_table_sizes(
    nodes: Sequence[Hashable],
    parents: Mapping[Hashable, list[Hashable]],
    states: Mapping[Hashable, list[Any]],
) -> None:
    """Every table's size (exact integers) against the limits, before any is allocated."""
    budget = Budget("the tables of the network")
    for v in nodes:
        card, n_configs = len(states[v]), math.prod(len(states[p]) for p in parents[v])
        budget.add(
            (card, n_configs),
            8,
            f"the table of {v!r} ({card} states x {n_configs} parent configurations)",
        )


def counts_table(counts: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The counts (FamilyCounts, or EM's expected counts as an array) as a new array shaped
    like the family's table."""
    dense = counts if isinstance(counts, np.ndarray) else counts.to_dense()
    return np.array(dense, dtype=np.float64).reshape(shape)


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
    kind = check_prior_type(prior_type)
    check_table_sizes(nodes, parents, states)
    out = []
    for v, c in zip(nodes, counts, strict=True):
        shape = (len(states[v]), *(len(states[p]) for p in parents[v]))
        table = counts_table(c, shape)
        if estimator == "bayes":
            table = table + _pseudo_counts(v, shape, kind, equivalent_sample_size, pseudo_counts)
        with np.errstate(over="ignore"):  # an overflow is the error below
            sums = table.reshape(shape[0], -1).sum(axis=0)
        if not np.isfinite(sums).all():
            raise ValueError(
                f"the counts of {v!r} overflow float64 (a column sums to infinity): divide sample_weight "
                "(and pseudo_counts) by a common factor"
            )
        family_states = {u: states[u] for u in [v, *parents[v]]}
        out.append(TabularCPD._trusted(v, normalize(table), list(parents[v]), family_states))
    return out
