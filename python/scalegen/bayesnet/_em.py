"""EM for Bayesian networks with latent variables and missing values: the E-step sums each
row's exact posterior family tables (junction tree, C++, threads over rows), the M-step is
the MLE or Bayesian estimate of ``fit`` on those expected counts."""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import _core
from .._config import resolve_n_jobs
from ..utils._base import ConvergenceWarning
from ..utils._validation import check_int, check_random_state, check_real, check_sample_weight
from ._counts import count_families, is_dask_frame
from ._estimators import check_table_sizes, estimate_tables
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
    data: Any,
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
        if not complete:
            return [_random_table(rng, shape) for shape in shapes]
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
    init.check_model()  # every table present and normalised
    out = []
    for v, shape in zip(nodes, shapes, strict=True):
        if v not in init.nodes:
            raise ValueError(f"the init network has no variable {v!r}")
        cpd: TabularCPD = init.cpd(v)
        if set(cpd.parents) != set(parents[v]) or any(cpd.states[u] != states[u] for u in (v, *parents[v])):
            raise ValueError(f"the init network's table of {v!r} differs in parents or states")
        axes = [0, *(1 + list(cpd.parents).index(p) for p in parents[v])]  # the network's parent order
        out.append(np.transpose(np.asarray(cpd.values, dtype=np.float64), axes).reshape(shape))
    return out


def _plan(net: BayesianNetwork) -> tuple[list[tuple[int, list[int]]], list[int], Any]:
    """(families by index, cards, compiled junction tree) of the network's structure."""
    check_table_sizes(net._nodes, net._parents, net._states)  # before triangulating a huge family
    index = {v: i for i, v in enumerate(net._nodes)}
    families = [(index[v], [index[p] for p in net._parents[v]]) for v in net._nodes]
    cards = [len(net._states[v]) for v in net._nodes]
    return families, cards, compile_tree(families, cards)


def frame_expected_counts(
    net: BayesianNetwork, rows: Any, flat: list[np.ndarray], weights: Any, threads: int, plan: Any = None
) -> tuple[list[np.ndarray], float, float]:
    """(expected counts per family, sum of w log P(observed cells), sum of w) of a DataFrame,
    or of its code columns when ``rows`` is a list of them."""
    families, cards, tree = _plan(net) if plan is None else plan
    if not isinstance(rows, list):
        shown = [v for v in net.latents if v in rows.columns]
        if shown:
            raise ValueError(
                f"the latent variables {shown!r} have columns in the data: they are never observed"
            )
        if len(rows) == 0:  # an empty chunk or partition adds nothing
            return [np.zeros(math.prod(cards[u] for u in [c, *p])) for c, p in families], 0.0, 0.0
    columns = rows if isinstance(rows, list) else net._codes_with_gaps(rows, net.latents)[0]
    return _core.bn_expected_counts(
        columns, cards, families, flat, tree.tree, tree.potentials(families, cards, flat), weights, threads
    )


def add_expected_counts(
    *parts: tuple[list[np.ndarray], float, float],
) -> tuple[list[np.ndarray], float, float]:
    """The sum of several chunks' E-step statistics, in the order given."""
    counts = [np.array(c, copy=True) for c in parts[0][0]]
    ll, total = parts[0][1], parts[0][2]
    for more, more_ll, more_total in parts[1:]:
        for c, m in zip(counts, more, strict=True):
            c += m
        ll, total = ll + more_ll, total + more_total
    return counts, ll, total


def _reader(net: BayesianNetwork, data: Any, weights: Any, threads: int, columns: Any = None) -> Any:
    """tables -> the E-step statistics of all rows: a DataFrame is encoded once; chunks (a
    list of DataFrames, or a function returning a fresh iterable of them) are read at every
    iteration; a dask DataFrame is summed on its workers."""
    if isinstance(data, pd.DataFrame):
        rows = net._codes_with_gaps(data, net.latents)[0] if columns is None else columns
        plan = _plan(net)
        return lambda flat: frame_expected_counts(net, rows, flat, weights, threads, plan)
    if not (is_dask_frame(data) or isinstance(data, list | tuple) or callable(data)):
        raise TypeError(
            "EM reads its rows at every iteration: give a DataFrame, a list of DataFrames, a function "
            f"returning a fresh iterable of DataFrames, or a dask DataFrame, not {type(data).__name__}"
        )
    missing = [v for v in net._nodes if v not in net._states]
    if missing:
        raise ValueError(
            f"EM on chunks or dask data needs the states of every variable; none for {missing!r}"
        )
    if weights is not None:
        raise ValueError("sample_weight is taken with a DataFrame only")
    if is_dask_frame(data):
        from ..distributed._bayesnet import expected_counts_dask

        return lambda flat: expected_counts_dask(net, data, flat)

    plan = _plan(net)

    def read(flat: list[np.ndarray]) -> tuple[list[np.ndarray], float, float]:
        chunks = list(data() if callable(data) else data)
        if not chunks or not all(isinstance(c, pd.DataFrame) for c in chunks):
            raise TypeError("EM's chunks must be pandas DataFrames, at least one")
        return add_expected_counts(
            *(frame_expected_counts(net, c, flat, None, threads, plan) for c in chunks)
        )

    return read


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
    nodes, latents = net._nodes, net.latents
    columns = getattr(data, "columns", ())
    shown = [v for v in latents if v in columns]
    if shown:
        raise ValueError(f"the latent variables {shown!r} have columns in the data: they are never observed")
    weights, codes = None, None
    if isinstance(data, pd.DataFrame):  # the states not given come from its values
        codes, found = net._codes_with_gaps(data, latents)
        net._states = {v: found[v] if v in found else latents[v] for v in nodes}
        weights = None if sample_weight is None else check_sample_weight(sample_weight, len(data))
    e_step = _reader(net, data, sample_weight if weights is None else weights, resolve_n_jobs(n_jobs), codes)
    rng = check_random_state(random_state)
    best: tuple[list[TabularCPD], list[float], int, bool] | None = None
    for _ in range(n_init):
        rows = data() if callable(data) and not isinstance(data, pd.DataFrame) else data  # a fresh read
        tables = _start(net, rows, weights, init, rng, n_jobs)
        bounds: list[float] = []
        converged = False
        for _ in range(max_iter):
            flat = [np.ascontiguousarray(t, dtype=np.float64).ravel() for t in tables]
            counts, log_likelihood, total = e_step(flat)
            if not total > 0:
                raise ValueError("the rows' weights sum to zero (or below the smallest normal double)")
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
