"""Graph queries on a Bayesian network's DAG (d-separation, Markov blankets, moral graph,
interventions), as pgmpy answers them: a mixin of BayesianNetwork."""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ._cpd import TabularCPD

if TYPE_CHECKING:
    from ._model import BayesianNetwork

Adjacency = dict[Hashable, list[Hashable]]
N = TypeVar("N", bound=Hashable)
LocalIndependence = tuple[Hashable, frozenset[Hashable], frozenset[Hashable]]


def _adjacency(net: GraphQueries) -> tuple[Adjacency, Adjacency]:
    """(parents, children) of every node, built once per query: O(V + E)."""
    parents: Adjacency = {v: [] for v in net.nodes}
    children: Adjacency = {v: [] for v in parents}
    for u, v in net.edges:
        parents[v].append(u)
        children[u].append(v)
    return parents, children


def _as_nodes(net: GraphQueries, arg: Any, what: str) -> list[Hashable]:
    """``arg`` as a list of nodes (duplicates dropped, first occurrence kept): a node of
    the network stands for itself, None for no node, anything else is iterated."""
    if arg is None:
        return []
    names = set(net.nodes)
    try:
        single = arg in names
    except TypeError:  # unhashable: a list or a set of nodes
        single = False
    if single:
        return [arg]
    if isinstance(arg, str | bytes) or not isinstance(arg, Iterable):
        raise ValueError(f"{arg!r} is not a node of the network")
    out: dict[Hashable, None] = {}
    for v in arg:
        try:
            known = v in names
        except TypeError:
            known = False
        if not known:
            raise ValueError(f"{what}: {v!r} is not a node of the network")
        out.setdefault(v, None)
    return list(out)


def closure(links: Mapping[N, Iterable[N]], nodes: Iterable[N]) -> set[N]:
    """The nodes and every node reachable from them along ``links`` (with the parents:
    their ancestors)."""
    seen = set(nodes)
    stack = list(seen)
    while stack:
        for p in links[stack.pop()]:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return seen


def _reachable(
    parents: Adjacency,
    children: Adjacency,
    start: Hashable,
    observed: set[Hashable],
    observed_ancestors: set[Hashable],
) -> set[Hashable]:
    """Nodes with an active trail from ``start`` given ``observed`` (Koller & Friedman,
    Algorithm 3.1, the "Bayes ball"): each (node, direction) is visited once, so the time
    is linear in the size of the graph. ``start`` is in the answer unless observed;
    observed nodes never are. ``observed_ancestors``: the observed nodes and their
    ancestors (where a v-structure is opened)."""
    up, down = True, False  # up: reached from a child (or the start), down: from a parent
    visited: set[tuple[Hashable, bool]] = set()
    stack: list[tuple[Hashable, bool]] = [(start, up)]
    found: set[Hashable] = set()
    while stack:
        item = stack.pop()
        if item in visited:
            continue
        visited.add(item)
        node, direction = item
        seen = node in observed
        if not seen:
            found.add(node)
        if direction is up:
            if not seen:  # a chain or a fork through ``node`` is open
                stack.extend((p, up) for p in parents[node])
                stack.extend((c, down) for c in children[node])
        else:
            if not seen:  # a chain onward
                stack.extend((c, down) for c in children[node])
            if node in observed_ancestors:  # a v-structure opened by evidence below it
                stack.extend((p, up) for p in parents[node])
    return found


class GraphQueries:
    """Queries on the structure only: they read ``nodes``, ``edges``, ``parents(v)`` and
    ``children(v)`` of the network they are mixed into.

    Arguments that take several nodes (``variables``, ``observed``, ``nodes``) accept a
    single node or an iterable of nodes; an unknown node is a ValueError.
    """

    if TYPE_CHECKING:  # provided by BayesianNetwork
        name: str

        @property
        def nodes(self) -> list[Hashable]: ...
        @property
        def edges(self) -> list[tuple[Hashable, Hashable]]: ...
        @property
        def states(self) -> dict[Hashable, list[Any]]: ...
        @property
        def cpds(self) -> list[TabularCPD]: ...
        def _node(self, v: Hashable) -> Hashable: ...
        def parents(self, v: Hashable) -> list[Hashable]: ...
        def children(self, v: Hashable) -> list[Hashable]: ...

    def markov_blanket(self, v: Hashable) -> list[Hashable]:
        """The parents, the children and the children's other parents of ``v``, in the
        order of ``nodes`` (pgmpy's ``get_markov_blanket`` gives the same set unordered)."""
        v = self._node(v)
        children = self.children(v)
        blanket = {*self.parents(v), *children}
        for c in children:
            blanket.update(self.parents(c))
        blanket.discard(v)
        return [u for u in self.nodes if u in blanket]

    def active_trail_nodes(self, variables: Any, observed: Any = None) -> dict[Hashable, set[Hashable]]:
        """For each of ``variables``, the set of nodes joined to it by an active trail given
        ``observed`` (pgmpy's ``active_trail_nodes``): the variable itself is included,
        the observed nodes never are (an observed variable gets the empty set). Linear
        time per variable (Koller & Friedman, Algorithm 3.1)."""
        starts = _as_nodes(self, variables, "variables")
        seen = set(_as_nodes(self, observed, "observed"))
        parents, children = _adjacency(self)
        anc = closure(parents, seen)
        return {s: _reachable(parents, children, s, seen, anc) for s in starts}

    def is_dconnected(self, a: Hashable, b: Hashable, observed: Any = None) -> bool:
        """True when an active trail joins ``a`` and ``b`` given ``observed`` (pgmpy's
        ``is_dconnected``): False when either is observed, True when ``a == b`` otherwise."""
        a, b = self._node(a), self._node(b)
        seen = set(_as_nodes(self, observed, "observed"))
        parents, children = _adjacency(self)
        return b in _reachable(parents, children, a, seen, closure(parents, seen))

    def minimal_dseparator(self, a: Hashable, b: Hashable) -> set[Hashable] | None:
        """A minimal set of nodes that d-separates ``a`` and ``b``, as pgmpy's
        ``minimal_dseparator``: a ValueError when they are adjacent; otherwise the parents
        of both, from which each node (in the order of ``nodes``) is dropped when the rest
        still separates: no node of the answer can be dropped. None when the parents of
        both do not separate them (in particular when ``a == b``).

        When several such sets exist pgmpy's answer depends on the iteration order of a
        Python set (so on the string hash seed); this one is deterministic."""
        a, b = self._node(a), self._node(b)
        if b in self.children(a) or a in self.children(b):
            raise ValueError(f"{a!r} and {b!r} are adjacent: no set of nodes separates them")
        parents, children = _adjacency(self)
        pool = {*parents[a], *parents[b]} - {a, b}
        candidates = [v for v in self.nodes if v in pool]

        def connected(given: list[Hashable]) -> bool:
            seen = set(given)
            return b in _reachable(parents, children, a, seen, closure(parents, seen))

        if connected(candidates):
            return None
        separator = list(candidates)
        for u in candidates:
            trial = [w for w in separator if w != u]
            if not connected(trial):
                separator = trial
        return set(separator)

    def local_independencies(self, variables: Any) -> list[LocalIndependence]:
        """The local Markov property of each of ``variables`` (in the order given), as
        ``(variable, others, parents)`` triples of frozensets meaning "``variable`` is
        independent of ``others`` given ``parents``": ``others`` are the non-descendants
        of the variable minus its parents. As in pgmpy's ``local_independencies`` (whose
        ``Independencies`` holds the same assertions), a variable whose ``others`` would
        be empty gets no triple."""
        out: list[LocalIndependence] = []
        _, children = _adjacency(self)
        everyone = set(self.nodes)
        for v in _as_nodes(self, variables, "variables"):
            descendants = closure(children, [v])  # v and its descendants
            parents = frozenset(self.parents(v))
            others = frozenset(everyone - descendants - parents)
            if others:
                out.append((v, others, parents))
        return out

    def do(self, nodes: Any) -> BayesianNetwork:
        """The mutilated network of the intervention do(``nodes``): a new network without
        the edges into ``nodes`` (the same nodes, states and other edges); this one is
        unchanged. Tables, as pgmpy's ``do``: every other variable keeps a copy of its
        table; an intervened variable that has a table gets P(v) = its table summed over
        its parents' configurations and normalized (the mean of its columns, not the
        marginal under the network), a placeholder to replace with ``add_cpds`` by the
        distribution of the intervention."""
        from ._model import BayesianNetwork  # here: _model imports this module

        targets = set(_as_nodes(self, nodes, "nodes"))
        out = BayesianNetwork(
            [(u, v) for u, v in self.edges if v not in targets], nodes=self.nodes, states=self.states
        )
        out.name = self.name
        tables = []
        for cpd in self.cpds:
            if cpd.variable not in targets:
                tables.append(cpd.copy())
                continue
            values = np.asarray(cpd.values, dtype=np.float64)
            values = values.sum(axis=tuple(range(1, values.ndim))) if values.ndim > 1 else values.copy()
            total = values.sum()
            if total > 0:
                values /= total
            v = cpd.variable
            tables.append(TabularCPD(v, values, [], {v: list(cpd.states[v])}))
        out.add_cpds(*tables)
        return out

    def moralize(self) -> list[tuple[Hashable, Hashable]]:
        """The edges of the moral graph (the DAG's edges undirected, plus an edge between
        every two parents of a node), each once as ``(u, v)`` with ``u`` before ``v`` in
        ``nodes``, sorted by those positions: the edges of pgmpy's ``moralize()`` (whose
        nodes are ``nodes``)."""
        position = {v: i for i, v in enumerate(self.nodes)}
        parents, _ = _adjacency(self)
        pairs: set[tuple[Hashable, Hashable]] = set()
        links = itertools.chain(self.edges, *(itertools.combinations(ps, 2) for ps in parents.values()))
        for u, v in links:
            pairs.add((u, v) if position[u] < position[v] else (v, u))
        return sorted(pairs, key=lambda e: (position[e[0]], position[e[1]]))
