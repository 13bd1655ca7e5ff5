"""Bringing networks in and taking them out: networkx DiGraphs, pgmpy models and CPDs, and
pgmpy-style editing of a network's structure. networkx and pgmpy are imported only when a
conversion needs them."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._cpd import TabularCPD

if TYPE_CHECKING:
    from ._model import BayesianNetwork

Edge = tuple[Hashable, Hashable]


# ---- networkx ------------------------------------------------------------------------
def is_digraph(obj: Any) -> bool:
    """True for a networkx DiGraph (or a subclass, such as a pgmpy model), told by its
    adjacency attributes so that networkx need not be imported."""
    return hasattr(obj, "succ") and hasattr(obj, "pred") and hasattr(obj, "nodes")


def is_undirected_graph(obj: Any) -> bool:
    return hasattr(obj, "adj") and callable(getattr(obj, "is_directed", None)) and not obj.is_directed()


def digraph_parts(
    graph: Any,
) -> tuple[list[Edge], list[Hashable], dict[Hashable, Any], list[TabularCPD]]:
    """(edges, nodes, states, tables) of a networkx DiGraph: every node in the graph's order,
    the edges grouped by child with each child's parents in the order of ``graph.pred``, the
    node attributes ``states`` and ``cpd`` where present. A pgmpy model's tables come along
    too, each variable's parents then in the order of its table's evidence."""
    if graph.is_multigraph():
        raise TypeError("a Bayesian network needs a DiGraph, not a multigraph")
    pgmpy_tables = {c.variable: c for c in graph.get_cpds()} if is_pgmpy_model(graph) else {}
    nodes = list(graph.nodes)
    edges: list[Edge] = []
    for v in nodes:
        parents = list(graph.pred[v])
        if v in pgmpy_tables:
            evidence = list(pgmpy_tables[v].variables[1:])
            if set(evidence) != set(parents) or len(evidence) != len(parents):
                raise ValueError(
                    f"pgmpy's table of {v!r} is conditioned on {evidence!r} but its parents in the "
                    f"model are {parents!r}"
                )
            parents = evidence
        edges.extend((p, v) for p in parents)
    states: dict[Hashable, Any] = {}
    cpds = [from_pgmpy_cpd(pgmpy_tables[v]) for v in nodes if v in pgmpy_tables]
    for v, attrs in graph.nodes(data=True):
        if attrs.get("states") is not None:
            states[v] = attrs["states"]
        cpd = attrs.get("cpd")
        if cpd is not None:
            cpds.append(as_cpd(cpd))
    return edges, nodes, states, cpds


def to_networkx(model: BayesianNetwork) -> Any:
    """A networkx DiGraph of the network: its nodes (in order, with attributes ``states``
    and ``cpd`` where known; the tables are copies) and edges; ``graph['name']``."""
    try:
        import networkx as nx
    except ImportError:
        raise ImportError("to_networkx needs networkx: pip install networkx") from None
    graph = nx.DiGraph(name=model.name)
    known = model.states
    for v in model.nodes:
        attrs: dict[str, Any] = {}
        if v in known:
            attrs["states"] = known[v]
        if v in model._cpds:
            attrs["cpd"] = model._cpds[v].copy()
        graph.add_node(v, **attrs)
    graph.add_edges_from(model.edges)
    return graph


# ---- pgmpy ---------------------------------------------------------------------------
def _numpy(values: Any) -> np.ndarray:
    """pgmpy's values as a numpy array (its torch backend holds tensors)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def is_pgmpy_cpd(obj: Any) -> bool:
    return type(obj).__module__.startswith("pgmpy.") and all(
        hasattr(obj, a) for a in ("variable", "variables", "cardinality", "values", "state_names")
    )


def from_pgmpy_cpd(cpd: Any) -> TabularCPD:
    """A scalegen TabularCPD equal to a pgmpy TabularCPD: the same parents (pgmpy's
    evidence, in its order), states and values."""
    variables = list(cpd.variables)
    values = _numpy(cpd.values)
    cards = [int(c) for c in _numpy(cpd.cardinality)]
    values = values.reshape(cards)  # pgmpy keeps them shaped (card, *evidence_card) already
    names = cpd.state_names or {}
    states = {v: list(names[v]) for v in variables if v in names}
    return TabularCPD(cpd.variable, values.copy(), variables[1:], states)


def as_cpd(cpd: Any) -> Any:
    """A pgmpy TabularCPD converted; anything else returned as it is (for add_cpds to check)."""
    return from_pgmpy_cpd(cpd) if is_pgmpy_cpd(cpd) and not isinstance(cpd, TabularCPD) else cpd


def to_pgmpy_cpd(cpd: TabularCPD) -> Any:
    """pgmpy's TabularCPD of a table: evidence in the order of ``cpd.parents``, values 2-D."""
    from pgmpy.factors.discrete import TabularCPD as PgmpyCPD

    card = cpd.values.shape[0]
    return PgmpyCPD(
        cpd.variable,
        card,
        np.array(cpd.values.reshape(card, -1)),
        evidence=list(cpd.parents) or None,
        evidence_card=[int(c) for c in cpd.values.shape[1:]] or None,
        state_names={v: list(s) for v, s in cpd.states.items()},
    )


def to_pgmpy(model: BayesianNetwork) -> Any:
    """A ``pgmpy.models.DiscreteBayesianNetwork`` with the network's nodes (in order), edges
    and tables (pgmpy TabularCPDs whose evidence is in the order of each table's parents).
    pgmpy keeps states in tables only: those of a variable without a table are not carried."""
    try:
        from pgmpy.models import DiscreteBayesianNetwork
    except ImportError:
        raise ImportError("to_pgmpy needs pgmpy (1.0 or later): pip install pgmpy") from None
    out = DiscreteBayesianNetwork()
    out.add_nodes_from(model.nodes)
    out.add_edges_from(model.edges)
    out.latents = set(model.latents)  # a role pgmpy checks against the nodes
    out.add_cpds(*(to_pgmpy_cpd(c) for c in model.cpds))
    out.name = model.name
    return out


def is_pgmpy_model(obj: Any) -> bool:
    return is_digraph(obj) and callable(getattr(obj, "get_cpds", None))


def from_pgmpy(cls: type[BayesianNetwork], pgmpy_model: Any) -> BayesianNetwork:
    """A network with the nodes, edges and tables of a pgmpy Bayesian network (a table's
    evidence order becomes the order of the variable's parents)."""
    if not is_pgmpy_model(pgmpy_model):
        raise TypeError(f"expected a pgmpy DiscreteBayesianNetwork, got {type(pgmpy_model).__name__}")
    out = cls(pgmpy_model)
    for v in getattr(pgmpy_model, "latents", ()):  # pgmpy's latent variables, with their states
        if v in out.states:
            out.latents[v] = out.states[v]
    name = getattr(pgmpy_model, "name", "")
    if name:
        out.name = name
    return out


# ---- editing ---------------------------------------------------------------------------
def add_nodes(model: BayesianNetwork, nodes: Iterable[Hashable], states: Mapping[Hashable, Any]) -> None:
    """Adds new variables (existing ones are left as they are) and sets states; a state list
    that disagrees with a table that has the variable is a ValueError."""
    from ._cpd import check_states

    new = list(nodes)
    for v in new:
        model._check_name(v)
    checked = {}
    for v, s in states.items():
        if v not in model._parents and v not in new:
            raise ValueError(f"states given for {v!r}, which is not a node of the network")
        checked[v] = check_states(v, s)
        users = [c.variable for c in model._cpds.values() if v in c.states and c.states[v] != checked[v]]
        if users:
            raise ValueError(f"the table of {users[0]!r} gives {v!r} other states: remove it first")
    for v in new:
        if v not in model._parents:
            model._nodes.append(v)
            model._parents[v] = []
            model._children[v] = []
    model._states.update(checked)
    model._states_from_data = model._states_from_data.difference(checked)  # declared now
    model.latents.update({v: s for v, s in checked.items() if v in model.latents})


def add_edges(model: BayesianNetwork, edges: Iterable[Any]) -> None:
    """Adds edges (their nodes too when new) all at once or not at all; the tables of the
    children are dropped (their parent sets changed)."""
    from ._model import _find_cycle

    pairs: list[Edge] = []
    seen: set[Edge] = set()
    for e in edges:
        u, v = model._check_edge(e)
        if (u, v) in seen or v in model._children.get(u, ()):
            raise ValueError(f"the edge {u!r} -> {v!r} is already in the network")
        pairs.append((u, v))
        seen.add((u, v))
    nodes = [x for e in pairs for x in e]
    children = {k: list(c) for k, c in model._children.items()}
    for x in nodes:
        children.setdefault(x, [])
    for u, v in pairs:
        children[u].append(v)
    cycle = _find_cycle(list(children), children)
    if cycle is not None:
        raise ValueError(f"adding the edges would make the cycle {' -> '.join(map(repr, cycle))}")
    add_nodes(model, nodes, {})
    for u, v in pairs:
        model._edges.append((u, v))
        model._parents[v].append(u)
        model._children[u].append(v)
        model._cpds.pop(v, None)


def remove_edge(model: BayesianNetwork, u: Hashable, v: Hashable) -> None:
    """Removes the edge u -> v and the table of v."""
    if (u, v) not in model._edges:
        raise ValueError(f"{u!r} -> {v!r} is not an edge of the network")
    model._edges.remove((u, v))
    model._parents[v].remove(u)
    model._children[u].remove(v)
    model._cpds.pop(v, None)


def remove_node(model: BayesianNetwork, v: Hashable) -> None:
    """Removes a variable, its edges, its table and the tables of its children."""
    model._node(v)
    for c in model._children[v]:
        model._parents[c].remove(v)
        model._cpds.pop(c, None)
    for p in model._parents[v]:
        model._children[p].remove(v)
    model._edges = [e for e in model._edges if v not in e]
    model._nodes.remove(v)
    del model._parents[v], model._children[v]
    model._states.pop(v, None)
    model.latents.pop(v, None)
    model._cpds.pop(v, None)


def remove_cpds(model: BayesianNetwork, cpds: Sequence[Any]) -> None:
    """Removes tables given as TabularCPDs (the network's own or equal ones) or variables."""
    names = []
    for c in cpds:
        v = c.variable if isinstance(c, TabularCPD) or is_pgmpy_cpd(c) else c
        if model._node(v) not in model._cpds:
            raise ValueError(f"{v!r} has no table to remove")
        if isinstance(c, TabularCPD) and c is not model._cpds[v] and c != model._cpds[v]:
            raise ValueError(f"the table given for {v!r} is not the network's")
        names.append(v)
    for v in names:
        model._cpds.pop(v, None)
