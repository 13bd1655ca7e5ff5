"""Learned network structure against the true one: edge precision/recall/F1 and the SHD."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._likelihood import loaded_type

Edge = tuple[Hashable, Hashable]


@dataclass(frozen=True)
class EdgeScores:
    """Edges of a learned graph against the true graph's: the counts, and precision =
    TP / (TP + FP), recall = TP / (TP + FN), f1 = 2 TP / (2 TP + FP + FN); a ratio whose
    denominator is 0 is 0.0 (scikit-learn's ``zero_division=0``)."""

    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int


def _edge_set(graph: Any, name: str, directed: bool) -> set[Any]:
    network = loaded_type("scalegen.bayesnet._model", "BayesianNetwork")
    if network is not None and isinstance(graph, network):
        edges: Any = graph.edges
    elif isinstance(graph, str | bytes | Mapping) or not isinstance(graph, Iterable):
        raise TypeError(
            f"{name} must be a BayesianNetwork or an iterable of (parent, child) edges, "
            f"got {type(graph).__name__}"
        )
    else:
        edges = graph
    out: set[Any] = set()
    for e in edges:
        if isinstance(e, str | bytes) or not hasattr(e, "__len__") or len(e) != 2:
            raise ValueError(f"{name}: an edge must be a (parent, child) pair, got {e!r}")
        u, v = e
        try:
            hash(u), hash(v)
        except TypeError:
            raise TypeError(f"{name}: the nodes of an edge must be hashable, got {e!r}") from None
        if u == v:
            raise ValueError(f"{name}: the edge {e!r} is a self-loop")
        out.add((u, v) if directed else frozenset((u, v)))
    return out


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def edge_scores(learned: Any, true: Any, *, directed: bool = True) -> EdgeScores:
    """Precision, recall and F1 of the edges of `learned` against those of `true`.

    Both are BayesianNetworks or sequences of (parent, child) pairs (a repeated edge counts
    once). ``directed=True`` compares directed edges: an edge learned reversed is a false
    positive and a false negative. ``directed=False`` compares skeletons (unordered pairs).
    Precision is 0.0 when nothing is learned and recall is 0.0 when the true graph has no
    edges (scikit-learn's ``zero_division=0``, without its warning); nodes without edges
    do not matter.
    """
    if not isinstance(directed, bool):
        raise TypeError(f"directed must be True or False, got {directed!r}")
    got = _edge_set(learned, "learned", directed)
    want = _edge_set(true, "true", directed)
    tp = len(got & want)
    fp = len(got) - tp
    fn = len(want) - tp
    return EdgeScores(_ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(2 * tp, 2 * tp + fp + fn), tp, fp, fn)


def structural_hamming_distance(a: Any, b: Any) -> int:
    """Edges of one DAG missing from the other, counted once per node pair, with a
    reversed edge counting 1 (pgmpy's SHD); `a` and `b` are BayesianNetworks or sequences
    of (parent, child) edges. The same function as scalegen.bayesnet's, imported when
    called so that ``import scalegen.metrics`` does not load pandas."""
    from ..bayesnet._structure import structural_hamming_distance as shd

    return shd(a, b)
