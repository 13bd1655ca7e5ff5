"""Junction trees for exact per-row posteriors (EM's E-step): the moral graph triangulated
by min-fill elimination, its maximal cliques joined by a maximum spanning tree on the
separators, and the index maps between tables that the core's calibration follows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import _core
from ..utils._limits import check_tensor

Families = Sequence[tuple[int, list[int]]]  # (child, parents in table order), by variable index


def _eliminate(n: int, families: Families, cards: Sequence[int]) -> list[frozenset[int]]:
    """Maximal cliques of the moral graph triangulated by min-fill elimination (ties: the
    smallest clique table, then the lowest index), as pgmpy and pyAgrum triangulate."""
    adj: list[set[int]] = [set() for _ in range(n)]
    for child, parents in families:
        family = [child, *parents]
        for i, u in enumerate(family):
            for v in family[i + 1 :]:
                if u != v:
                    adj[u].add(v)
                    adj[v].add(u)

    def cost(v: int) -> tuple[int, int, int]:
        nb = list(adj[v])
        fill = sum(1 for i, a in enumerate(nb) for b in nb[i + 1 :] if b not in adj[a])
        return fill, math.prod(cards[u] for u in nb) * cards[v], v

    costs = {v: cost(v) for v in range(n)}
    cliques: list[frozenset[int]] = []
    while costs:
        v = min(costs, key=costs.__getitem__)
        nb = adj[v]
        clique = frozenset(nb | {v})
        if not any(clique <= c for c in cliques):
            cliques.append(clique)
        for a in nb:
            adj[a] |= nb - {a}
            adj[a].discard(v)
        del costs[v]
        touched = set(nb)
        for a in nb:
            touched |= adj[a]
        for u in touched & costs.keys():
            costs[u] = cost(u)
    return [c for c in cliques if not any(c < d for d in cliques)]


def _spanning_tree(cliques: list[frozenset[int]]) -> list[tuple[int, int]]:
    """Edges of a maximum spanning tree over the cliques, weighted by separator size
    (Kruskal over the pairs that share a variable); components left apart are joined by
    empty separators."""
    holding: dict[int, list[int]] = {}
    for k, c in enumerate(cliques):
        for v in c:
            holding.setdefault(v, []).append(k)
    pairs = {(i, j) for ks in holding.values() for a, i in enumerate(ks) for j in ks[a + 1 :]}
    ranked = sorted(pairs, key=lambda p: (-len(cliques[p[0]] & cliques[p[1]]), p))
    root = list(range(len(cliques)))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    edges = []
    for i, j in [*ranked, *((0, k) for k in range(1, len(cliques)))]:
        ri, rj = find(i), find(j)
        if ri != rj:
            root[ri] = rj
            edges.append((i, j))
    return edges


def _index_map(variables: Sequence[int], subset: Sequence[int], cards: Sequence[int]) -> np.ndarray:
    """For each entry of the C-order table over `variables`, its entry in the table over
    `subset` (in the order given), which sums over the other variables."""
    shape = [cards[v] for v in variables]
    entry = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
    out = np.zeros_like(entry)
    for v in subset:
        k = variables.index(v)
        out = out * cards[v] + (entry // int(np.prod(shape[k + 1 :], dtype=np.int64))) % cards[v]
    return out.astype(np.int32)


@dataclass
class CompiledTree:
    """A junction tree for a network's families and the core's view of it."""

    cliques: list[list[int]]  # variables of each clique, ascending
    family_clique: list[int]  # the clique holding each family's table
    tree: _core.JunctionTree

    def potentials(
        self, families: Families, cards: Sequence[int], tables: Sequence[np.ndarray]
    ) -> np.ndarray:
        """The cliques' initial tables, concatenated: each clique's product of the tables
        assigned to it."""
        out = []
        for c, variables in enumerate(self.cliques):
            pot = np.ones([cards[v] for v in variables])
            for f, (child, parents) in enumerate(families):
                if self.family_clique[f] != c:
                    continue
                family = [child, *parents]
                table = np.asarray(tables[f], dtype=np.float64).reshape([cards[v] for v in family])
                order = sorted(range(len(family)), key=lambda k: variables.index(family[k]))
                expand = [cards[v] if v in family else 1 for v in variables]
                pot = pot * table.transpose(order).reshape(expand)
            out.append(pot.ravel())
        return np.concatenate(out)


def compile_tree(families: Families, cards: Sequence[int]) -> CompiledTree:
    """The junction tree of a network given as families over variables 0..n-1."""
    n = len(cards)
    if n == 0:
        raise ValueError("the network has no variables")
    cliques = [sorted(c) for c in _eliminate(n, families, cards)]
    sizes = [math.prod(cards[v] for v in c) for c in cliques]
    if max(sizes) >= 1 << 31:
        raise ValueError(
            f"the junction tree's largest clique has {float(max(sizes)):.3g} states (at most 2^31 - 1)"
        )
    sets = [frozenset(c) for c in cliques]
    neighbours: list[list[int]] = [[] for _ in cliques]
    for i, j in _spanning_tree(sets):
        neighbours[i].append(j)
        neighbours[j].append(i)
    root = int(np.argmax(sizes))
    order, parent = [root], {root: -1}
    for c in order:  # breadth first: parents before children
        for d in neighbours[c]:
            if d not in parent:
                parent[d] = c
                order.append(d)
    collect = order[:0:-1]  # leaves first; the root sends nothing
    seps = [sorted(sets[c] & sets[parent[c]]) for c in collect]

    def smallest_holding(variables: set[int]) -> int:
        return min((k for k, s in enumerate(sets) if variables <= s), key=lambda k: (sizes[k], k))

    family_clique = [smallest_holding({child, *parents}) for child, parents in families]
    variable_clique = [smallest_holding({v}) for v in range(n)]
    # before anything of that size exists: the potentials (8 bytes an entry), one int32 map
    # entry per clique entry for each message end, family and variable, and the map being
    # built (three int64 arrays of the largest clique)
    entries = sum(sizes) * 2 + sum(sizes[parent[c]] + sizes[c] for c in collect)
    entries += sum(sizes[c] for c in family_clique) + sum(sizes[c] for c in variable_clique)
    check_tensor(
        (entries + 6 * max(sizes),), 4, f"the junction tree's tables (largest clique {max(sizes)} states)"
    )
    tree = _core.JunctionTree(
        offset=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        root=root,
        clique_vars=[np.array(c, dtype=np.int32) for c in cliques],
        message_ends=np.array([[c, parent[c]] for c in collect], dtype=np.int32).reshape(-1),
        separator_sizes=np.array([int(np.prod([cards[v] for v in s])) for s in seps], dtype=np.int64),
        child_maps=[_index_map(cliques[c], s, cards) for c, s in zip(collect, seps, strict=True)],
        parent_maps=[_index_map(cliques[parent[c]], s, cards) for c, s in zip(collect, seps, strict=True)],
        family_clique=np.array(family_clique, dtype=np.int32),
        family_maps=[
            _index_map(cliques[c], [child, *parents], cards)
            for c, (child, parents) in zip(family_clique, families, strict=True)
        ],
        variable_clique=np.array(variable_clique, dtype=np.int32),
        variable_maps=[_index_map(cliques[c], [v], cards) for v, c in enumerate(variable_clique)],
    )
    return CompiledTree(cliques, family_clique, tree)
