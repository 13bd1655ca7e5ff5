"""EM for Bayesian networks with latent variables and missing values: the E-step sums each
row's exact posterior family tables (junction tree, C++, threads over rows), the M-step is
the MLE or Bayesian estimate of ``fit`` on those expected counts."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import _core
from .._config import resolve_n_jobs
from ..utils._base import ConvergenceWarning
from ..utils._validation import check_int, check_random_state, check_real, check_sample_weight
from ._counts import count_families
from ._estimators import estimate_tables
from ._junction import compile_tree

if TYPE_CHECKING:
    from ._cpd import TabularCPD
    from ._model import BayesianNetwork

OWNER = "BayesianNetwork.fit"


def _random_table(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Columns drawn uniformly from the simplex (Dirichlet(1))."""
    draws = rng.gamma(1.0, size=shape).reshape(shape[0], -1)
    return (draws / draws.sum(axis=0)).reshape(shape)


def _start(
    net: BayesianNetwork,
    data: pd.DataFrame,
    weights: np.ndarray | None,
    init: Any,
    rng: np.random.Generator,
    n_jobs: int | None,
) -> list[np.ndarray]:
    """The first tables: 'mle' estimates from the rows where a family is observed, plus one
    per cell (families with a latent variable, never observed, start random: a uniform start
    would keep the latent states identical forever); 'random' draws every column; or a
    network's tables."""
    nodes, states, parents = net._nodes, net._states, net._parents
    shapes = [(len(states[v]), *(len(states[p]) for p in parents[v])) for v in nodes]
    if isinstance(init, str) and init == "random":
        return [_random_table(rng, shape) for shape in shapes]
    if isinstance(init, str) and init == "mle":
        observed = [v for v in nodes if v not in net.latents]
        index = {v: i for i, v in enumerate(observed)}
        complete = [v for v in nodes if all(u in index for u in (v, *parents[v]))]
        counted = count_families(
            data,
            observed,
            states,
            [(index[v], [index[p] for p in parents[v]]) for v in complete],
            weights,
            n_jobs,
        )
        # one pseudo-count per cell: a row whose completions all have a zero cell in the
        # available cases' MLE would start impossible
        fitted = estimate_tables(complete, parents, states, counted.counts, "bayes", "K2", 5, None)
        by_node = dict(zip(complete, fitted, strict=True))
        return [
            by_node[v].values if v in by_node else _random_table(rng, shape)
            for v, shape in zip(nodes, shapes, strict=True)
        ]
    from ._model import BayesianNetwork

    if not isinstance(init, BayesianNetwork):
        raise ValueError(f"init must be 'mle', 'random' or a BayesianNetwork, got {init!r}")
    out = []
    for v, shape in zip(nodes, shapes, strict=True):
        if v not in init.nodes:
            raise ValueError(f"the init network has no variable {v!r}")
        cpd: TabularCPD = init.cpd(v)
        if list(cpd.parents) != list(parents[v]) or any(cpd.states[u] != states[u] for u in (v, *parents[v])):
            raise ValueError(f"the init network's table of {v!r} differs in parents or states")
        out.append(np.asarray(cpd.values, dtype=np.float64).reshape(shape))
    return out


def fit_em(
    net: BayesianNetwork,
    data: Any,
    *,
    estimator: str,
    prior_type: str,
    equivalent_sample_size: Any,
    pseudo_counts: Any,
    sample_weight: Any,
    max_iter: int,
    tol: float,
    n_init: int,
    init: Any,
    random_state: Any,
    n_jobs: int | None,
) -> tuple[list[TabularCPD], list[float], int, bool]:
    """(tables, lower_bounds, n_iter, converged) of the best of n_init EM runs."""
    max_iter = check_int(max_iter, "max_iter", OWNER, low=1)
    n_init = check_int(n_init, "n_init", OWNER, low=1)
    tol = check_real(tol, "tol", OWNER, low=0.0)
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            f"EM needs a pandas DataFrame (NaN or None for missing cells), got {type(data).__name__}"
        )
    if len(data) == 0:
        raise ValueError("the data has no rows")
    nodes, latents = net._nodes, net.latents
    shown = [v for v in latents if v in data.columns]
    if shown:
        raise ValueError(f"the latent variables {shown!r} have columns in the data: they are never observed")
    columns, found = net._codes_with_gaps(data, latents)
    net._states = {v: found[v] if v in found else latents[v] for v in nodes}
    cards = [len(net._states[v]) for v in nodes]
    weights = None if sample_weight is None else check_sample_weight(sample_weight, len(data))
    index = {v: i for i, v in enumerate(nodes)}
    families = [(index[v], [index[p] for p in net._parents[v]]) for v in nodes]
    tree = compile_tree(families, cards)
    threads = resolve_n_jobs(n_jobs)
    rng = check_random_state(random_state)
    best: tuple[list[TabularCPD], list[float], int, bool] | None = None
    for _ in range(n_init):
        tables = _start(net, data, weights, init, rng, n_jobs)
        bounds: list[float] = []
        converged = False
        for _ in range(max_iter):
            flat = [np.ascontiguousarray(t, dtype=np.float64).ravel() for t in tables]
            counts, log_likelihood, total = _core.bn_expected_counts(
                columns,
                cards,
                families,
                flat,
                tree.tree,
                tree.potentials(families, cards, flat),
                weights,
                threads,
            )
            bounds.append(log_likelihood / total)
            cpds = estimate_tables(
                nodes,
                net._parents,
                net._states,
                counts,
                estimator,
                prior_type,
                equivalent_sample_size,
                pseudo_counts,
            )
            tables = [c.values for c in cpds]
            if len(bounds) > 1 and abs(bounds[-1] - bounds[-2]) <= tol:
                converged = True
                break
        if best is None or bounds[-1] > best[1][-1]:
            best = (cpds, bounds, len(bounds), converged)
    assert best is not None
    if not best[3]:
        warnings.warn(
            f"EM did not converge in {max_iter} iterations (tol={tol}): raise max_iter or tol",
            ConvergenceWarning,
            stacklevel=3,
        )
    return best


def check_latents(latents: Any, nodes: Sequence[Hashable]) -> dict[Hashable, list[Any]]:
    """{variable: states} of the declared latent variables, each a node of the network."""
    from ._cpd import check_states

    if latents is None:
        return {}
    if not isinstance(latents, Mapping):
        raise TypeError(f"latents must map each latent variable to its states, got {type(latents).__name__}")
    out = {}
    for v, s in latents.items():
        if v not in nodes:
            raise ValueError(f"the latent variable {v!r} is not a node of the network")
        out[v] = check_states(v, s)
    return out
