"""The discrete Bayesian network: a DAG, state names and one TabularCPD per variable."""

from __future__ import annotations

import heapq
import os
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import _core
from .._config import resolve_n_jobs
from ..utils._limits import check_tensor
from ..utils._validation import check_random_state, check_scalar
from . import _bif, _interop
from ._counts import count_families
from ._cpd import SUM_TOLERANCE, TabularCPD, check_states, check_table_values
from ._data import Encoded, code_dtype, encode
from ._em import check_latents, fit_em
from ._estimators import check_fit_params, check_table_sizes, estimate_tables
from ._graph import GraphQueries
from ._predict import Prediction
from ._private import check_private_fit, noisy_counts

Edge = tuple[Hashable, Hashable]


def _find_cycle(
    nodes: Sequence[Hashable], children: Mapping[Hashable, list[Hashable]]
) -> list[Hashable] | None:
    """A directed cycle as [a, b, ..., a], or None (iterative DFS: no recursion limit)."""
    state: dict[Hashable, int] = {}  # 1 on the current path, 2 done
    for root in nodes:
        if root in state:
            continue
        path: list[Hashable] = [root]
        stack = [iter(children[root])]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(children[nxt]))
    return None


class BayesianNetwork(GraphQueries, Prediction):
    """A discrete Bayesian network: a DAG, the state names of its variables and one
    ``TabularCPD`` per variable.

    A variable's parents keep the order of its edges: it is the axis order of the tables
    ``fit`` learns. The structure can be edited as in pgmpy (``add_node(s_from)``,
    ``add_edge(s_from)``, ``remove_edge``, ``remove_node(s_from)``): a change to a
    variable's parents drops its table (``add_cpds`` or ``fit`` again), and removing a
    node drops its children's. Fitted networks ``sample``, score rows (``score_samples``,
    ``log_likelihood``, ``score``), ``predict`` the variables missing from a DataFrame,
    and convert to BIF (``to_bif``), networkx and pgmpy.

    Parameters
    ----------
    edges : iterable of (parent, child) pairs, or a networkx DiGraph
        The arcs. A DiGraph brings all its nodes (after ``nodes``, in the graph's order),
        its edges (each child's parents in the order of ``G.pred``) and its node
        attributes ``states`` and ``cpd`` where present (``to_networkx`` writes them); a
        pgmpy model (a DiGraph) brings its tables too, as ``from_pgmpy``.
    nodes : iterable of hashable, optional
        Variables in the order ``nodes`` lists them, isolated ones included; the others
        follow in the order of first appearance in ``edges``.
    states : dict, optional
        Variable -> list of state names. Otherwise they come from the tables
        (``add_cpds``) or from the data at ``fit``.
    latents : dict, optional
        Latent variable -> its states: nodes the data never has a column for, learned by
        ``fit(data, estimator="em")``.

    Raises
    ------
    ValueError
        If an edge is not a pair, is a self-loop, is given twice, or the edges hold a
        cycle; or ``states`` names a variable that is not a node.
    TypeError
        If a variable name is unhashable, or ``edges`` is an undirected networkx Graph.

    Examples
    --------
    >>> from scalegen.bayesnet import BayesianNetwork, TabularCPD
    >>> yes_no = ["yes", "no"]
    >>> net = BayesianNetwork([("rain", "wet"), ("sprinkler", "wet")], states={"wet": yes_no})
    >>> net.add_cpds(
    ...     TabularCPD("rain", [0.2, 0.8], states={"rain": yes_no}),
    ...     TabularCPD("sprinkler", [0.4, 0.6], states={"sprinkler": yes_no}),
    ...     TabularCPD("wet", [[0.99, 0.8, 0.9, 0.0], [0.01, 0.2, 0.1, 1.0]], ["rain", "sprinkler"],
    ...                states={"wet": yes_no, "rain": yes_no, "sprinkler": yes_no}),
    ... )
    >>> net, net.check_model()
    (<BayesianNetwork: 3 nodes, 2 edges, 3 tables>, True)
    >>> data = net.sample(2000, random_state=0)
    >>> learned = BayesianNetwork(net.edges, states=net.states).fit(data)
    >>> learned.cpd("rain").values.round(2)
    array([0.19, 0.81])
    """

    def __init__(
        self,
        edges: Iterable[Edge] = (),
        nodes: Iterable[Hashable] | None = None,
        states: Mapping[Hashable, Sequence[Any]] | None = None,
        latents: Mapping[Hashable, Sequence[Any]] | None = None,
    ) -> None:
        graph_cpds: list[TabularCPD] = []
        if _interop.is_digraph(edges):
            edges, graph_nodes, graph_states, graph_cpds = _interop.digraph_parts(edges)
            nodes = [*(() if nodes is None else nodes), *graph_nodes]
            states = {**graph_states, **(states or {})}
        elif _interop.is_undirected_graph(edges):
            raise TypeError("a Bayesian network needs a directed graph (a networkx DiGraph), not a Graph")
        order: dict[Hashable, None] = {}
        for v in () if nodes is None else nodes:
            self._check_name(v)
            order.setdefault(v, None)
        edge_list: list[Edge] = []
        for e in edges:
            u, v = self._check_edge(e)
            edge_list.append((u, v))
            order.setdefault(u, None)
            order.setdefault(v, None)
        if len(set(edge_list)) != len(edge_list):
            seen: set[Edge] = set()
            dup = next(e for e in edge_list if e in seen or seen.add(e))  # type: ignore[func-returns-value]
            raise ValueError(f"the edge {dup[0]!r} -> {dup[1]!r} is given twice")
        self._nodes = list(order)
        self._parents: dict[Hashable, list[Hashable]] = {v: [] for v in self._nodes}
        self._children: dict[Hashable, list[Hashable]] = {v: [] for v in self._nodes}
        for u, v in edge_list:
            self._parents[v].append(u)
            self._children[u].append(v)
        cycle = _find_cycle(self._nodes, self._children)
        if cycle is not None:
            raise ValueError(f"the edges contain the cycle {' -> '.join(map(repr, cycle))}")
        self._edges = edge_list
        self._states: dict[Hashable, list[Any]] = {}
        # variables whose states a fit took from the data: a private fit refuses them
        self._states_from_data: frozenset[Hashable] = frozenset()
        for v, s in (states or {}).items():
            if v not in self._parents:
                raise ValueError(f"states given for {v!r}, which is not a node of the network")
            self._states[v] = check_states(v, s)
        self.latents = check_latents(latents, self._nodes)
        for v, s in self.latents.items():
            if self._states.setdefault(v, s) != s:
                raise ValueError(f"the latent variable {v!r} has other states in `states`")
        self._cpds: dict[Hashable, TabularCPD] = {}
        self.name = "network"
        if graph_cpds:
            self.add_cpds(*graph_cpds)

    @classmethod
    def _check_edge(cls, e: Any) -> Edge:
        """A (parent, child) pair of valid, distinct names."""
        if not isinstance(e, tuple | list) or len(e) != 2:
            raise ValueError(f"an edge must be a (parent, child) pair, got {e!r}")
        u, v = e
        cls._check_name(u)
        cls._check_name(v)
        if u == v:
            raise ValueError(f"self-loop on {u!r}: a Bayesian network is acyclic")
        return u, v

    @staticmethod
    def _check_name(v: Any) -> None:
        try:
            hash(v)
        except TypeError:
            raise TypeError(f"variable names must be hashable, got {v!r}") from None
        if v is None or (isinstance(v, float) and np.isnan(v)):
            raise ValueError(f"{v!r} is not a valid variable name")

    # ---- structure -------------------------------------------------------------------
    @property
    def nodes(self) -> list[Hashable]:
        return list(self._nodes)

    @property
    def edges(self) -> list[Edge]:
        return list(self._edges)

    def _node(self, v: Hashable) -> Hashable:
        if v not in self._parents:
            raise ValueError(f"{v!r} is not a node of the network")
        return v

    def parents(self, v: Hashable) -> list[Hashable]:
        return list(self._parents[self._node(v)])

    def children(self, v: Hashable) -> list[Hashable]:
        return list(self._children[self._node(v)])

    def topological_order(self) -> list[Hashable]:
        """Parents before children; ties keep the order of ``nodes``."""
        position = {v: i for i, v in enumerate(self._nodes)}
        waiting = {v: len(self._parents[v]) for v in self._nodes}
        ready = [position[v] for v in self._nodes if waiting[v] == 0]
        out: list[Hashable] = []
        while ready:
            v = self._nodes[heapq.heappop(ready)]
            out.append(v)
            for c in self._children[v]:
                waiting[c] -= 1
                if waiting[c] == 0:
                    heapq.heappush(ready, position[c])
        return out

    @property
    def states(self) -> dict[Hashable, list[Any]]:
        """State names of the variables that have them (from the constructor, CPDs or fit)."""
        return {v: list(self._states[v]) for v in self._nodes if v in self._states}

    # ---- tables ----------------------------------------------------------------------
    def add_cpds(self, *cpds: TabularCPD) -> None:
        """Adds (or replaces) tables; their parents and states must agree with the network.
        pgmpy TabularCPDs are converted."""
        cpds = tuple(_interop.as_cpd(c) for c in cpds)
        staged = dict(self._states)
        for cpd in cpds:
            if not isinstance(cpd, TabularCPD):
                raise TypeError(f"expected a TabularCPD, got {type(cpd).__name__}")
            v = self._node(cpd.variable)
            expected = self._parents[v]
            if set(cpd.parents) != set(expected) or len(cpd.parents) != len(expected):
                raise ValueError(
                    f"the table of {v!r} is conditioned on {cpd.parents!r} but its parents in the network "
                    f"are {expected!r}"
                )
            for var, names in cpd.states.items():
                if var in staged and staged[var] != names:
                    raise ValueError(
                        f"the table of {v!r} gives {var!r} the states {names!r}, but it has {staged[var]!r}"
                    )
                staged[var] = list(names)
        self._states = staged
        for cpd in cpds:
            self._cpds[cpd.variable] = cpd
        self.__dict__.pop("privacy_spent_", None)  # the tables are no longer (only) a private release

    @property
    def cpds(self) -> list[TabularCPD]:
        return [self._cpds[v] for v in self._nodes if v in self._cpds]

    def cpd(self, v: Hashable) -> TabularCPD:
        if self._node(v) not in self._cpds:
            raise ValueError(f"{v!r} has no table yet (add_cpds or fit)")
        return self._cpds[v]

    def check_model(self) -> bool:
        """True when every variable has a table whose shape and states agree with the
        network, whose values are finite and non-negative and whose columns sum to 1
        (within 1e-4); otherwise a ValueError."""
        for v in self._nodes:
            cpd = self.cpd(v)
            check_table_values(v, np.asarray(cpd.values))
            if set(cpd.parents) != set(self._parents[v]):
                raise ValueError(
                    f"the table of {v!r} has parents {cpd.parents!r}, the network {self._parents[v]!r}"
                )
            for var, names in cpd.states.items():
                if self._states.get(var) != names:
                    raise ValueError(
                        f"the table of {v!r} disagrees with the network on the states of {var!r}"
                    )
            sums = cpd.column_sums()
            worst = int(np.argmax(np.abs(sums - 1)))
            if abs(sums[worst] - 1) > SUM_TOLERANCE:
                raise ValueError(
                    f"a column of the table of {v!r} sums to {float(sums[worst])!r}, not 1 "
                    f"(parent configuration {worst} in the order of {cpd.parents!r})"
                )
        return True

    # ---- data ------------------------------------------------------------------------
    def _families(
        self, index: Mapping[Hashable, int], order: Sequence[Hashable]
    ) -> list[tuple[int, list[int]]]:
        return [(index[v], [index[p] for p in self._table_parents(v)]) for v in order]

    def _table_parents(self, v: Hashable) -> list[Hashable]:
        return self._cpds[v].parents if v in self._cpds else self._parents[v]

    def _encode(self, data: Any) -> Encoded:
        if isinstance(data, pd.DataFrame | np.ndarray) and data.shape[0] == 0:
            raise ValueError("the data has no rows")
        return encode(data, self._nodes, self._states)

    def fit(
        self,
        data: Any,
        estimator: str = "mle",
        prior_type: str | None = None,
        equivalent_sample_size: float | Mapping[Hashable, float] = 5,
        pseudo_counts: Any = None,
        sample_weight: Any = None,
        n_jobs: int | None = None,
        *,
        max_iter: int = 100,
        tol: float = 1e-6,
        n_init: int = 1,
        init: Any = "mle",
        random_state: Any = None,
        epsilon: float | None = None,
        delta: float = 0.0,
        consistent: bool = True,
    ) -> BayesianNetwork:
        """Learns every table from data by counting; returns self.

        ``estimator='mle'``: relative frequencies; a parent configuration never seen in
        the data gets the uniform distribution (pgmpy's rule). ``estimator='bayes'``:
        the posterior mean under a Dirichlet prior, ``prior_type`` 'BDeu' (the default; pseudo-count
        ``equivalent_sample_size / (card * n_parent_configs)`` per cell, a number or a
        dict per variable), 'K2' (1 per cell) or 'dirichlet' (``pseudo_counts``: a
        number, or a dict variable -> array shaped like its table). Missing values skip
        a row only for the families they occur in. States not given to the network come
        from the data (sorted observed values, as pgmpy).

        ``data``: a pandas DataFrame (columns by name), a 2-D integer array of codes
        (columns in the order of ``nodes``; needs every variable's states), an iterable
        of such chunks (a list, a generator, ``pd.read_csv(..., chunksize=...)``), read
        once and never held together, or a dask DataFrame, counted per partition on the
        workers. Chunked and dask data give exactly the tables of the same rows in one
        DataFrame. ``sample_weight``: one weight per row; for chunks, an iterable of one
        array per chunk; for a dask DataFrame, a dask Series partitioned like it.

        ``estimator='em'`` learns from incomplete data, a DataFrame with latent variables
        (``latents``, no column) and missing cells (NaN or None), or such rows in chunks
        read at every iteration (a list of DataFrames, or a function returning a fresh
        iterable of them) or in a dask DataFrame, summed on the workers (both need every
        variable's states, and take no ``sample_weight``): each iteration sums every
        row's exact posterior of each family (a junction tree, calibrated in C++, threads
        over rows) and re-estimates the tables from those expected counts, by MLE, or by
        the Bayesian estimate when ``prior_type`` is given. It runs ``n_init`` times from
        ``init`` ('mle': the observed rows' counts plus one per cell, random tables for
        families with a latent variable; 'random'; or a BayesianNetwork's tables) for at most
        ``max_iter`` iterations, until the mean log-likelihood per row changes by at most
        ``tol``, and keeps the best run: ``lower_bounds_`` (its mean log-likelihood per row
        before each M-step, never decreasing for MLE), ``n_iter_``, ``converged_``.

        ``epsilon`` makes the fit differentially private (neighbouring datasets: one row added
        or removed): every family's count table is released once with exact discrete noise,
        post-processed, and the tables estimated from those counts as above (``prior_type``
        pseudo-counts are added after the noise). ``consistent=True`` (the default) averages the
        noisy counts where families share variables (a variable's distribution is then
        estimated from every table it is in, with less noise) and makes each table
        non-negative, three times over (norm-sub, or clipping when the tables are
        indistinguishable from noise: see the privacy guide); ``consistent=False`` only clips
        negative counts to 0. ``delta=0``: discrete Laplace, pure epsilon-DP; ``delta > 0``:
        discrete Gaussian calibrated by zero-concentrated DP, less noise for many families.
        ``random_state`` None draws the noise from a cryptographic key; a seed is for tests
        and is not private. It needs every variable's
        states declared (observed values would leak) and takes no ``sample_weight``, latent
        variables or EM. ``privacy_spent_`` holds the (epsilon, delta) spent.
        """
        check_fit_params(estimator, prior_type, equivalent_sample_size, pseudo_counts)
        budget = check_private_fit(epsilon, delta, estimator, sample_weight, self)
        if not isinstance(consistent, bool | np.bool_):
            raise TypeError(f"consistent must be True or False, got {consistent!r}")
        inferred = {v for v in self._nodes if v not in self._states}  # states the data will give
        if estimator == "em":
            saved = dict(self._states)  # fit_em sets the states the data gives; a failure restores them
            try:
                fitted = fit_em(
                    self,
                    data,
                    estimator="mle" if prior_type is None else "bayes",
                    prior_type="BDeu" if prior_type is None else prior_type,
                    equivalent_sample_size=equivalent_sample_size,
                    pseudo_counts=pseudo_counts,
                    sample_weight=sample_weight,
                    max_iter=max_iter,
                    tol=tol,
                    n_init=n_init,
                    init=init,
                    random_state=random_state,
                    n_jobs=n_jobs,
                )
            except BaseException:
                self._states = saved
                raise
            tables, self.lower_bounds_, self.n_iter_, self.converged_ = fitted
            self._cpds = {}
            self.add_cpds(*tables)
            self._states_from_data = self._states_from_data | inferred
            return self
        if self.latents:
            raise ValueError(f"the latent variables {list(self.latents)!r} are learned by estimator='em'")
        prior_type = "BDeu" if prior_type is None else prior_type
        if all(v in self._states for v in self._nodes):  # else checked once the data gives the states
            check_table_sizes(self._nodes, self._parents, self._states)
        index = {v: i for i, v in enumerate(self._nodes)}
        families = [(index[v], [index[p] for p in self._parents[v]]) for v in self._nodes]
        counted = count_families(data, self._nodes, self._states, families, sample_weight, n_jobs)
        counts, spent = counted.counts, None
        if budget is not None:
            scopes = [(x, *ps) for x, ps in families] if consistent else None
            counts, spent = noisy_counts(counts, *budget, random_state, scopes)
        tables = estimate_tables(
            self._nodes,
            self._parents,
            counted.states,
            counts,
            estimator,
            prior_type,
            equivalent_sample_size,
            pseudo_counts,
        )
        self._states = dict(counted.states)
        self._cpds = {}
        self.add_cpds(*tables)
        self._states_from_data = self._states_from_data | inferred
        if spent is not None:
            self.privacy_spent_ = spent
        return self

    def _checked_tables(self) -> list[np.ndarray]:
        self.check_model()
        return [np.ascontiguousarray(self._cpds[v].values, dtype=np.float64).ravel() for v in self._nodes]

    def sample(self, n: int, random_state: Any = None, n_jobs: int | None = None) -> pd.DataFrame:
        """``n`` rows drawn by ancestral sampling, as categorical columns in the network's
        states. The rows depend only on ``random_state``, never on the thread count."""
        n = check_scalar(n, "n", "BayesianNetwork.sample", int, low=0)
        tables = self._checked_tables()
        cards = [len(self._states[v]) for v in self._nodes]
        wide = code_dtype(cards) is np.int16
        check_tensor((len(self._nodes), n), 2 if wide else 1, f"a sample of {n} rows")
        order = self.topological_order()
        index = {v: i for i, v in enumerate(self._nodes)}
        seed = int(check_random_state(random_state).integers(0, 2**63))
        codes = _core.bn_sample(
            cards,
            self._families(index, order),
            [tables[index[v]] for v in order],
            int(n),
            seed,
            wide,
            resolve_n_jobs(n_jobs),
        )
        return pd.DataFrame(
            {
                v: pd.Categorical.from_codes(codes[i], categories=pd.Index(self._states[v]), validate=False)
                for i, v in enumerate(self._nodes)
            }
        )

    def score_samples(self, data: Any, n_jobs: int | None = None) -> np.ndarray:
        """log P(row) for every row. Rows with missing cells (NaN or None), and DataFrames
        without the columns of latent variables, give log P(the row's observed cells), summed
        over the rest exactly on a junction tree (-inf for a row of probability zero)."""
        if isinstance(data, pd.DataFrame) and (
            data.isna().to_numpy().any() or any(v not in data.columns for v in self.latents)
        ):
            tables = self._checked_tables()
            return self._row_posteriors(self._codes_with_gaps(data, self.latents)[0], [], tables, n_jobs)[0]
        tables = self._checked_tables()
        enc = self._encode(data)
        for v, col in zip(self._nodes, enc.columns, strict=True):
            if col.size and int(col.min()) < 0:
                row = int(np.argmax(col < 0))
                raise ValueError(f"column {v!r} is missing a value at row {row}: codes need every value")
        index = {v: i for i, v in enumerate(self._nodes)}
        return _core.bn_log_likelihood(
            enc.columns, enc.cards, self._families(index, self._nodes), tables, resolve_n_jobs(n_jobs)
        )

    def log_likelihood(self, data: Any, n_jobs: int | None = None) -> float:
        """Sum of the rows' log-probabilities."""
        return float(np.sum(self.score_samples(data, n_jobs)))

    def score(self, data: Any, n_jobs: int | None = None) -> float:
        """Mean log-probability per row."""
        return float(np.mean(self.score_samples(data, n_jobs)))

    # ---- files -----------------------------------------------------------------------
    def to_bif(self, path: str | os.PathLike[str]) -> None:
        """Writes the network as BIF (gzip-compressed when the name ends in .gz)."""
        self.check_model()
        net = _bif.BifNetwork(
            name=str(self.name),
            states={str(v): [str(s) for s in self._states[v]] for v in self._nodes},
            parents={str(v): [str(p) for p in self._cpds[v].parents] for v in self._nodes},
            values={str(v): self._cpds[v].values for v in self._nodes},
            properties={},
        )
        _bif.write_bif(net, path)

    # ---- networkx, pgmpy and pgmpy-style editing (in _interop) ---------------------------
    def to_networkx(self) -> Any:
        """A networkx DiGraph: the nodes in order, with attributes ``states`` and ``cpd`` (a
        copy of the table) where known, the edges, and ``graph['name']``."""
        return _interop.to_networkx(self)

    def to_pgmpy(self) -> Any:
        """A ``pgmpy.models.DiscreteBayesianNetwork`` with the same nodes, edges, states and
        tables (each pgmpy TabularCPD's evidence in the order of the table's parents); the
        states of a variable without a table are not carried (pgmpy keeps them in tables)."""
        return _interop.to_pgmpy(self)

    @classmethod
    def from_pgmpy(cls, model: Any) -> BayesianNetwork:
        """The network of a pgmpy DiscreteBayesianNetwork: its nodes, edges and tables (each
        variable's parents in the order of its table's evidence)."""
        return _interop.from_pgmpy(cls, model)

    def add_node(self, node: Hashable, states: Sequence[Any] | None = None) -> None:
        """Adds a variable (nothing if it is one already); ``states`` sets its state names."""
        _interop.add_nodes(self, [node], {} if states is None else {node: states})

    def add_nodes_from(
        self, nodes: Iterable[Hashable], states: Mapping[Hashable, Sequence[Any]] | None = None
    ) -> None:
        _interop.add_nodes(self, nodes, states or {})

    def add_edge(self, u: Hashable, v: Hashable) -> None:
        """Adds u -> v (and u, v when new); a cycle is a ValueError; drops the table of v."""
        _interop.add_edges(self, [(u, v)])

    def add_edges_from(self, edges: Iterable[Edge]) -> None:
        """Adds the edges, all or (on a cycle or a bad edge) none; drops their children's tables."""
        _interop.add_edges(self, edges)

    def remove_edge(self, u: Hashable, v: Hashable) -> None:
        """Removes u -> v and drops the table of v."""
        _interop.remove_edge(self, u, v)

    def remove_node(self, v: Hashable) -> None:
        """Removes v, its edges, its table and its children's tables."""
        _interop.remove_node(self, v)

    def remove_nodes_from(self, nodes: Iterable[Hashable]) -> None:
        for v in list(nodes):
            _interop.remove_node(self, v)

    def remove_cpds(self, *cpds: Any) -> None:
        """Removes tables, given as TabularCPDs or as variables."""
        _interop.remove_cpds(self, cpds)

    def get_cpds(self, node: Hashable | None = None) -> Any:
        """All the tables, or the table of ``node`` (None when it has none), as pgmpy."""
        return self.cpds if node is None else self._cpds.get(self._node(node))

    def get_parents(self, v: Hashable) -> list[Hashable]:
        return self.parents(v)

    def get_children(self, v: Hashable) -> list[Hashable]:
        return self.children(v)

    def copy(self) -> BayesianNetwork:
        out = BayesianNetwork(self._edges, self._nodes, self._states, latents=self.latents)
        out._states_from_data = self._states_from_data
        out.name = self.name
        out._cpds = {v: c.copy() for v, c in self._cpds.items()}
        return out

    def __repr__(self) -> str:
        return (
            f"<BayesianNetwork: {len(self._nodes)} nodes, {len(self._edges)} edges, {len(self._cpds)} tables>"
        )
