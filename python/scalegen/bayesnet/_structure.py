"""Structure learning: hill climbing (C++), Chow-Liu trees, and the structural Hamming distance."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import _core
from .._config import resolve_n_jobs
from ..utils._base import BaseEstimator
from ..utils._validation import InvalidParameterError, check_choice, check_random_state, check_scalar
from ._counts import Family, as_source, count_families, is_dask_frame, source_columns
from ._data import Encoded, encode
from ._estimators import check_ess
from ._model import BayesianNetwork
from ._scores import SCORES, structure_prior

Edge = tuple[Hashable, Hashable]
_INT32_MAX = 2**31 - 1


def _encode_all(data: Any, states: Mapping[Hashable, list[Any]] | None) -> tuple[list[Hashable], Encoded]:
    """Every column of a DataFrame (or of a codes array whose variables are the keys of `states`)."""
    if not isinstance(data, pd.DataFrame | np.ndarray):
        raise TypeError(
            "structure learning takes a pandas DataFrame or a 2-D array of codes (HillClimbSearch also a "
            "dask DataFrame); it counts the data many times, so chunks read once cannot do. "
            f"Got {type(data).__name__}"
        )
    if hasattr(data, "columns"):
        variables = list(data.columns)
    elif states is not None:
        variables = list(states)
    else:
        raise ValueError("an array of codes needs `states`, one list of state names per column")
    if len(variables) < 2:
        raise ValueError("structure learning needs at least two variables")
    if len(data) == 0:
        raise ValueError("the data has no rows")
    return variables, encode(data, variables, states or {})


def _edge_indices(edges: Iterable[Edge], index: Mapping[Hashable, int], what: str) -> list[tuple[int, int]]:
    out = []
    for e in edges:
        if not isinstance(e, tuple | list) or len(e) != 2:
            raise ValueError(f"{what}: an edge must be a (parent, child) pair, got {e!r}")
        u, v = e
        for x in (u, v):
            if x not in index:
                raise ValueError(f"{what}: {x!r} is not a column of the data")
        out.append((index[u], index[v]))
    return out


def _score_name(score: Any) -> str:
    name = SCORES.get(score.lower()) if isinstance(score, str) else None
    if name is None:
        raise InvalidParameterError(
            "The 'score' parameter of HillClimbSearch must be a str among "
            f"['aic', 'bdeu', 'bds', 'bic', 'k2', 'll'] (or pgmpy's 'aic-d', 'bic-d', 'll-d'). "
            f"Got {score!r} instead."
        )
    return name


class HillClimbSearch(BaseEstimator):
    """Hill climbing over DAGs (add, delete or reverse one edge per step) with a
    decomposable score, as pgmpy's ``HillClimbSearch``, from several starts and with
    random restarts so that one unlucky climb does not decide.

    One climb takes the best move until none improves the score by ``epsilon``; ties go
    to the first move in the order (add, delete, reverse) x (parent, child) by column
    position (gains within a relative 1e-9 are ties, so rounding never picks between
    score-equivalent moves), so the result does not depend on ``n_jobs``. A gain within
    a relative 1e-12 of the score counts as none, so that with ``epsilon=0`` reversing a
    covered edge (a change of exactly 0 in BIC) cannot repeat forever.

    The search climbs from ``start_dag`` (default: the empty graph); with
    ``mirror_start`` again from it taking ties last instead of first (the edges whose
    direction the score cannot tell get the other orientation, and the climbs end in
    different local optima); with ``chow_liu_start`` from the maximum-weight spanning
    forest of the score gains of single edges added to it (with the log-likelihood this
    is the Chow-Liu tree; with BIC or BDeu pairs whose edge would lower the score are left
    out). The best of these climbs is then kicked ``n_restarts`` times by ``perturbation``
    random deletions or reversals of its edges and climbed again; a climb that ends
    higher becomes the best DAG. ``mirror_start=False, chow_liu_start=False,
    n_restarts=0`` is plain greedy hill climbing.

    ``fit(data, states=None)`` learns over every column of a DataFrame, of a 2-D array of
    codes (with ``states``), or of a dask DataFrame, whose family counts are computed on
    the workers (one pass over the partitions per move: persist the frame first).

    Parameters
    ----------
    score : str, default 'bic'
        'bic', 'aic', 'k2', 'bdeu', 'bds' or 'll' (pgmpy's 'bic-d', 'aic-d', 'll-d' too),
        as ``structure_score``; 'll' needs ``max_indegree``.
    equivalent_sample_size : float, default 10
        Prior strength of 'bdeu' and 'bds'.
    max_indegree : int or None, default None
        Most parents a variable may get.
    tabu_length : int, default 0
        The last moves that may not be undone.
    max_tabu : int, default 0
        When positive, each climb is a tabu search: up to ``max_tabu`` non-improving
        moves in a row, the best DAG seen kept (as pyAgrum's local search). Both tabu
        options are off by default: on the bench networks they did not beat the restarts.
    max_iter : int, default 1_000_000
        Most moves, all climbs together.
    epsilon : float, default 1e-4
        Smallest score gain that counts as an improvement.
    start_dag : BayesianNetwork or iterable of edges or None, default None
        Where the climbs start (None: no edges).
    fixed_edges, black_list, white_list : iterable of (parent, child) pairs
        Edges always present; edges never added; when not empty, the only edges that
        may be added.
    mirror_start, chow_liu_start : bool, default True
        The extra starts described above.
    n_restarts : int, default 20
        Random restarts from the best DAG.
    perturbation : int, default 3
        Random deletions or reversals per restart.
    random_state : None, int or numpy.random.Generator, default 0
        Seed of the restarts' random moves (nothing else is random).
    n_jobs : int or None, default None
        Threads scoring the moves (None: ``scalegen.get_num_threads()``).
    verbose : int, default 0
        Print a summary line after ``fit`` when positive.

    Attributes
    ----------
    edges_ : list of tuple
        The learned DAG's (parent, child) edges.
    score_ : float
        Its score.
    n_iter_ : int
        Moves made, over all climbs.
    model_ : BayesianNetwork
        A network on every column with the learned edges and the states, ready to ``fit``.

    Examples
    --------
    Rows sampled from the 8-variable "asia" network give back its edges:

    >>> from scalegen.bayesnet import HillClimbSearch, structural_hamming_distance
    >>> from scalegen.datasets import load_network
    >>> asia = load_network("asia")
    >>> data = asia.sample(20_000, random_state=0)
    >>> search = HillClimbSearch().fit(data)
    >>> {frozenset(e) for e in search.edges_} == {frozenset(e) for e in asia.edges}  # same skeleton
    True
    >>> structural_hamming_distance(asia, search.model_)  # and here the same directions too
    0
    >>> fitted = search.model_.fit(data)
    """

    def __init__(
        self,
        score: str = "bic",
        equivalent_sample_size: float = 10,
        max_indegree: int | None = None,
        tabu_length: int = 0,
        max_tabu: int = 0,
        max_iter: int = 1_000_000,
        epsilon: float = 1e-4,
        start_dag: BayesianNetwork | Iterable[Edge] | None = None,
        fixed_edges: Iterable[Edge] = (),
        black_list: Iterable[Edge] = (),
        white_list: Iterable[Edge] = (),
        mirror_start: bool = True,
        chow_liu_start: bool = True,
        n_restarts: int = 20,
        perturbation: int = 3,
        random_state: Any = 0,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.score = score
        self.equivalent_sample_size = equivalent_sample_size
        self.max_indegree = max_indegree
        self.tabu_length = tabu_length
        self.max_tabu = max_tabu
        self.max_iter = max_iter
        self.epsilon = epsilon
        self.start_dag = start_dag
        self.fixed_edges = fixed_edges
        self.black_list = black_list
        self.white_list = white_list
        self.mirror_start = mirror_start
        self.chow_liu_start = chow_liu_start
        self.n_restarts = n_restarts
        self.perturbation = perturbation
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _checked_params(self) -> dict[str, Any]:
        """Every parameter checked (a NaN epsilon would never stop the climb), as the
        arguments of the C++ search; the counts are passed as 32- or 64-bit ints."""
        owner = "HillClimbSearch"
        name = _score_name(self.score)
        max_indegree = check_scalar(
            self.max_indegree, "max_indegree", owner, int, low=0, high=_INT32_MAX, allow_none=True
        )
        if name == "ll" and max_indegree is None:
            raise InvalidParameterError(
                "score='ll' needs max_indegree: the log-likelihood grows with every parent added, so "
                "without a bound the search ends at a complete DAG"
            )
        if not isinstance(self.verbose, bool):
            check_scalar(self.verbose, "verbose", owner, int, low=0)
        for flag in ("mirror_start", "chow_liu_start"):
            if not isinstance(getattr(self, flag), bool | np.bool_):
                raise InvalidParameterError(
                    f"The {flag!r} parameter of {owner} must be a bool. Got {getattr(self, flag)!r} instead."
                )
        return {
            "score": name,
            "equivalent_sample_size": check_ess(self.equivalent_sample_size, owner),
            "max_indegree": -1 if max_indegree is None else max_indegree,
            "tabu_length": check_scalar(self.tabu_length, "tabu_length", owner, int, low=0, high=_INT32_MAX),
            "max_iter": check_scalar(self.max_iter, "max_iter", owner, int, low=0, high=2**63 - 1),
            "epsilon": check_scalar(self.epsilon, "epsilon", owner, float, low=0.0),
            "max_tabu": check_scalar(self.max_tabu, "max_tabu", owner, int, low=0, high=_INT32_MAX),
            "mirror_start": bool(self.mirror_start),
            "forest_start": bool(self.chow_liu_start),
            "n_restarts": check_scalar(self.n_restarts, "n_restarts", owner, int, low=0, high=_INT32_MAX),
            "perturbation": check_scalar(
                self.perturbation, "perturbation", owner, int, low=1, high=_INT32_MAX
            ),
            "seed": int(check_random_state(self.random_state).integers(0, 2**63)),
        }

    def fit(self, data: Any, states: Mapping[Hashable, list[Any]] | None = None) -> HillClimbSearch:
        """Learns a DAG over every column of ``data`` (states: sorted observed values
        unless given): a DataFrame, a 2-D array of codes with ``states``, or a dask
        DataFrame, whose family counts are computed on the workers (one pass over the
        partitions per move: persist the frame first)."""
        params = self._checked_params()
        if is_dask_frame(data):
            variables, found, family_scores = self._dask_scorer(data, states, params)
            columns: list[np.ndarray] = []
        else:
            variables, enc = _encode_all(data, states)
            found, columns, family_scores = enc.states, enc.columns, None
        index = {v: i for i, v in enumerate(variables)}
        start = (
            self.start_dag.edges if isinstance(self.start_dag, BayesianNetwork) else (self.start_dag or ())
        )
        edges, score, n_iter = _core.bn_hill_climb(
            columns,
            [len(found[v]) for v in variables],
            start_edges=_edge_indices(start, index, "start_dag"),
            fixed_edges=_edge_indices(self.fixed_edges, index, "fixed_edges"),
            black_list=_edge_indices(self.black_list, index, "black_list"),
            white_list=_edge_indices(self.white_list, index, "white_list"),
            n_threads=resolve_n_jobs(self.n_jobs),
            family_scores=family_scores,
            **params,
        )
        self.edges_ = [(variables[u], variables[v]) for u, v in edges]
        self.score_ = float(score + structure_prior(params["score"], len(variables), len(edges)))
        self.n_iter_ = int(n_iter)
        self.model_ = BayesianNetwork(self.edges_, nodes=variables, states=found)
        if self.verbose:
            print(
                f"HillClimbSearch: {self.n_iter_} moves, {len(self.edges_)} edges, "
                f"{params['score']} = {self.score_:.4f}"
            )
        return self

    def _dask_scorer(
        self, data: Any, states: Mapping[Hashable, list[Any]] | None, params: dict[str, Any]
    ) -> tuple[list[Hashable], dict[Hashable, list[Any]], Callable[[list[Family]], list[float]]]:
        """The variables, their states (one counting pass) and the function the search
        asks for family scores, each request counted on the workers."""
        variables = list(data.columns)
        if len(variables) < 2:
            raise ValueError("structure learning needs at least two variables")
        singles: list[Family] = [(i, []) for i in range(len(variables))]
        found = count_families(data, variables, states or {}, singles, None, self.n_jobs).states

        def family_scores(families: list[Family]) -> list[float]:
            counted = count_families(data, variables, found, families, None, self.n_jobs)
            n = float(counted.n_rows)
            return [c.score(params["score"], n, params["equivalent_sample_size"]) for c in counted.counts]

        return variables, found, family_scores


def _information(joint: np.ndarray) -> float:
    """Mutual information (nats) of the first axis and the rest of a count table, as a share of
    all its rows: summed over the last axis' values when that is the conditioning variable."""
    total = joint.sum()
    if total == 0:
        return 0.0
    pa = joint.sum(axis=1, keepdims=True)
    pb = joint.sum(axis=0, keepdims=True)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log(joint[nz] * total / (pa * pb)[nz])) / total)


def mutual_information(
    data: Any,
    states: Mapping[Hashable, list[Any]] | None = None,
    n_jobs: int | None = None,
    given: Hashable | None = None,
):
    """(variables, matrix of pairwise mutual information in nats) from one counting pass over
    any source `structure_score` takes (a DataFrame, codes with `states`, chunks read once, a
    dask DataFrame counted on its workers); with ``given``, the conditional mutual information
    I(X; Y | given) = sum_c P(c) I(X; Y | c) (the row and column of ``given`` stay 0)."""
    source = as_source(data)
    variables = source_columns(source)
    if variables is None:
        if states is None:
            raise ValueError("an array of codes needs `states`, one list of state names per column")
        variables = list(states)
    if len(variables) < 2:
        raise ValueError("structure learning needs at least two variables")
    if given is not None and given not in variables:
        raise ValueError(f"class_node {given!r} is not a column of the data")
    n = len(variables)
    g = None if given is None else variables.index(given)
    pairs = [(a, [b] if g is None else [b, g]) for a in range(n) for b in range(a + 1, n) if g not in (a, b)]
    counted = count_families(source, variables, states or {}, pairs, None, n_jobs)
    if counted.n_rows == 0:
        raise ValueError("the data has no rows")
    cards = [len(counted.states[v]) for v in variables]
    mi = np.zeros((n, n))
    for (a, parents), c in zip(pairs, counted.counts, strict=True):
        joint = np.asarray(c.to_dense())
        if g is None:
            value = _information(joint)
        else:  # (a, b, given) counts: the given-value slices, weighted by their rows
            cube = joint.reshape(cards[a], cards[parents[0]], cards[g])
            total = cube.sum()
            value = (
                0.0
                if total == 0
                else sum(
                    _information(cube[:, :, k]) * cube[:, :, k].sum() / total for k in range(cube.shape[2])
                )
            )
        mi[a, parents[0]] = mi[parents[0], a] = value
    return variables, mi


def _spanning_tree(weights: np.ndarray, root: int, nodes: Sequence[int]) -> list[tuple[int, int]]:
    """The maximum spanning tree of ``weights`` over ``nodes`` by Prim's algorithm from
    ``root``: each step attaches the outside node with the heaviest edge into the tree, so
    the (parent, child) edges point away from the root."""
    outside = [v for v in nodes if v != root]
    best = {v: weights[root, v] for v in outside}
    link = dict.fromkeys(outside, root)
    edges = []
    while outside:
        v = max(outside, key=lambda u: best[u])  # the first of equal weights, in node order
        outside.remove(v)
        edges.append((link[v], v))
        for u in outside:
            if weights[v, u] > best[u]:
                best[u], link[u] = weights[v, u], v
    return edges


class TreeSearch(BaseEstimator):
    """Chow-Liu tree: the maximum spanning tree of pairwise mutual information, directed
    away from a root, as pgmpy's ``TreeSearch``.

    ``fit(data, states=None)`` takes a DataFrame, a 2-D array of codes with ``states``,
    chunks (read once per pass) or a dask DataFrame (counted on its workers), as
    ``BayesianNetwork.fit``, and learns over every column.

    ``estimator_type='tan'`` builds a tree-augmented naive Bayes classifier for
    ``class_node``, as pgmpy: the tree over the other variables weighted by the conditional
    mutual information given the class, then an edge from the class to every variable. Its
    default root is the variable other than the class with the largest total mutual
    information (pgmpy's choice, except that pgmpy fails when the class would be it).

    Parameters
    ----------
    root_node : hashable or None, default None
        Root of the tree (None: the variable with the largest total mutual information).
    estimator_type : {'chow-liu', 'tan'}, default 'chow-liu'
        A plain tree, or a tree-augmented naive Bayes classifier.
    class_node : hashable or None, default None
        The variable the 'tan' classifier predicts (required for 'tan').
    n_jobs : int or None, default None
        Threads counting the pairs (None: ``scalegen.get_num_threads()``).

    Attributes
    ----------
    edges_ : list of tuple
        The (parent, child) edges, each pointing away from the root.
    weights_ : numpy.ndarray
        The (conditional) mutual information of every pair of columns, in nats.
    model_ : BayesianNetwork
        A network on every column with these edges, ready to ``fit``.

    Examples
    --------
    >>> from scalegen.bayesnet import TreeSearch
    >>> from scalegen.datasets import load_network
    >>> asia = load_network("asia")
    >>> data = asia.sample(20_000, random_state=0)
    >>> tree = TreeSearch(root_node="smoke").fit(data)
    >>> len(tree.edges_), tree.edges_[:2]
    (7, [('smoke', 'bronc'), ('bronc', 'dysp')])
    >>> in_tree = {frozenset(e) for e in tree.edges_}
    >>> [e for e in asia.edges if frozenset(e) not in in_tree]  # a tree gives dysp one parent
    [('either', 'dysp')]
    >>> tan = TreeSearch(estimator_type="tan", class_node="dysp").fit(data)
    >>> tan.model_.children("dysp")
    ['asia', 'tub', 'smoke', 'lung', 'bronc', 'either', 'xray']
    """

    def __init__(
        self,
        root_node: Hashable | None = None,
        estimator_type: str = "chow-liu",
        class_node: Hashable | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.root_node = root_node
        self.estimator_type = estimator_type
        self.class_node = class_node
        self.n_jobs = n_jobs

    def fit(self, data: Any, states: Mapping[Hashable, list[Any]] | None = None) -> TreeSearch:
        kind = check_choice(self.estimator_type, "estimator_type", "TreeSearch", ("chow-liu", "tan"))
        if kind == "tan" and self.class_node is None:
            raise ValueError("estimator_type='tan' needs class_node, the variable to classify")
        if kind == "tan" and self.root_node is not None and self.root_node == self.class_node:
            raise ValueError(f"root_node and class_node are both {self.class_node!r}")
        given = self.class_node if kind == "tan" else None
        variables, weights = mutual_information(data, states, self.n_jobs, given=given)
        features = [v for v in range(len(variables)) if variables[v] != given]
        if self.root_node is not None:
            if self.root_node not in variables:
                raise ValueError(f"root_node {self.root_node!r} is not a column of the data")
            root = variables.index(self.root_node)
        else:  # the largest total plain mutual information (a second pass for TAN only)
            plain = weights if given is None else mutual_information(data, states, self.n_jobs)[1]
            totals = plain.sum(axis=0)
            root = max(features, key=lambda v: totals[v])
        edges = _spanning_tree(weights, root, features)
        if given is not None:
            c = variables.index(given)
            edges += [(c, v) for v in features]
        self.edges_ = [(variables[u], variables[v]) for u, v in edges]
        self.weights_ = weights
        self.model_ = BayesianNetwork(self.edges_, nodes=variables)
        return self


def structural_hamming_distance(
    a: BayesianNetwork | Sequence[Edge], b: BayesianNetwork | Sequence[Edge]
) -> int:
    """The structural Hamming distance between two DAGs (pgmpy's SHD).

    The number of node pairs joined in one graph but not in the other, plus the number
    of edges present in both with opposite directions: each missing, extra or reversed
    edge counts 1.

    Parameters
    ----------
    a, b : BayesianNetwork or sequence of (parent, child) pairs
        The two graphs (isolated nodes do not matter).

    Returns
    -------
    int
        0 when the graphs have the same edges.

    Examples
    --------
    >>> from scalegen.bayesnet import structural_hamming_distance
    >>> chain = [("a", "b"), ("b", "c")]
    >>> structural_hamming_distance(chain, [("a", "b"), ("c", "b")])  # one reversed
    1
    >>> structural_hamming_distance(chain, [("a", "b"), ("a", "c")])  # one missing, one extra
    2
    """
    ea = set(a.edges if isinstance(a, BayesianNetwork) else map(tuple, a))
    eb = set(b.edges if isinstance(b, BayesianNetwork) else map(tuple, b))
    skeleton_a = {frozenset(e) for e in ea}
    skeleton_b = {frozenset(e) for e in eb}
    reversed_ = sum(1 for u, v in ea if (v, u) in eb)
    return len(skeleton_a ^ skeleton_b) + reversed_
