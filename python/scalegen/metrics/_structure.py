"""Learned network structure against the true one: edge precision/recall/F1 and the SHD."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._likelihood import loaded_type

Edge = tuple[Hashable, Hashable]


@dataclass(frozen=True)
class EdgeScores:
    """The result of `edge_scores`: a learned graph's edges against the true graph's.

    A ratio whose denominator is 0 is 0.0 (scikit-learn's ``zero_division=0``).

    Attributes
    ----------
    precision : float
        TP / (TP + FP): the share of learned edges that are true.
    recall : float
        TP / (TP + FN): the share of true edges that were learned.
    f1 : float
        2 TP / (2 TP + FP + FN).
    true_positives, false_positives, false_negatives : int
        TP (learned and true), FP (learned only) and FN (true only) edges.

    Examples
    --------
    >>> from scalegen.metrics import edge_scores
    >>> scores = edge_scores([("a", "b"), ("b", "c")], [("a", "b"), ("a", "c")])
    >>> scores.true_positives, scores.false_positives, scores.false_negatives
    (1, 1, 1)
    >>> scores.precision, scores.recall, scores.f1
    (0.5, 0.5, 0.5)
    """

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

    Parameters
    ----------
    learned, true : BayesianNetwork or iterable of (parent, child) pairs
        The learned graph and the reference graph.
    directed : bool
        Compare directed edges (True) or skeletons (False).

    Returns
    -------
    EdgeScores

    Raises
    ------
    TypeError
        A graph that is neither a BayesianNetwork nor an iterable of edges, unhashable
        nodes, or a non-bool ``directed``.
    ValueError
        An edge that is not a pair, or a self-loop.

    Examples
    --------
    One edge right, one reversed, one missing and one extra:

    >>> from scalegen.metrics import edge_scores
    >>> true = [("rain", "wet"), ("sprinkler", "wet"), ("wet", "slippery")]
    >>> learned = [("rain", "wet"), ("wet", "sprinkler"), ("rain", "slippery")]
    >>> scores = edge_scores(learned, true)
    >>> scores.true_positives, scores.false_positives, scores.false_negatives
    (1, 2, 2)
    >>> round(scores.f1, 3)
    0.333
    >>> round(edge_scores(learned, true, directed=False).f1, 3)  # the reversed edge counts
    0.667

    A BayesianNetwork gives its edges:

    >>> from scalegen.datasets import load_network
    >>> asia = load_network("asia")
    >>> edge_scores(asia.edges[1:], asia).recall  # all edges but one
    0.875
    """
    if not isinstance(directed, bool | np.bool_):
        raise TypeError(f"directed must be True or False, got {directed!r}")
    directed = bool(directed)
    got = _edge_set(learned, "learned", directed)
    want = _edge_set(true, "true", directed)
    tp = len(got & want)
    fp = len(got) - tp
    fn = len(want) - tp
    return EdgeScores(_ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(2 * tp, 2 * tp + fp + fn), tp, fp, fn)


def structural_hamming_distance(a: Any, b: Any) -> int:
    """The structural Hamming distance between two DAGs (pgmpy's SHD).

    The number of node pairs joined by an edge in one graph and not in the other, plus 1 for
    each edge the two graphs orient differently. The same function as
    ``scalegen.bayesnet.structural_hamming_distance``, imported when called so that
    ``import scalegen.metrics`` does not load pandas.

    Parameters
    ----------
    a, b : BayesianNetwork or sequence of (parent, child) pairs
        The two graphs; the order does not matter.

    Returns
    -------
    int
        0 when both have the same edges; at most the two graphs' edge counts added.

    Examples
    --------
    >>> from scalegen.metrics import structural_hamming_distance
    >>> true = [("rain", "wet"), ("sprinkler", "wet"), ("wet", "slippery")]
    >>> learned = [("rain", "wet"), ("wet", "sprinkler"), ("rain", "slippery")]
    >>> structural_hamming_distance(learned, true)  # one reversed, one missing, one extra
    3
    >>> structural_hamming_distance(true, true)
    0
    """
    from ..bayesnet._structure import structural_hamming_distance as shd

    return shd(a, b)
