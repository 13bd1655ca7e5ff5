"""The PC algorithm (pgmpy's ``PC``, variant 'stable'): a skeleton from conditional
independence tests counted by bn_count, colliders from the separating sets, then Meek's rules."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from itertools import chain, combinations, permutations
from typing import Any

import numpy as np
from scipy import special, stats

from .. import _core
from .._config import resolve_n_jobs
from ..utils._base import BaseEstimator
from ..utils._validation import check_choice, check_int, check_real
from ._data import Encoded
from ._structure import _encode_all

CI_TESTS = ("chi_square", "g_sq")
_DENSE_LIMIT = 4096  # larger tables are counted sparsely (at most one cell per row)
_BATCH = 4096  # families per bn_count call, to bound the memory of the tables


def _slices(counts: Any, card_x: int, card_y: int, n_z: int) -> np.ndarray:
    """The (observed configurations of Z, card_x, card_y) table of a family (x, [y, *Z])."""
    config, xs, n = counts.nonzero()
    ys, zs = np.divmod(np.asarray(config, dtype=np.int64), n_z)
    observed, slot = np.unique(zs, return_inverse=True)
    table = np.zeros((len(observed), card_x, card_y))
    table[slot, np.asarray(xs, dtype=np.int64), ys] = n
    return table


def ci_statistic(table: np.ndarray, ci_test: str, conditional: bool) -> tuple[float, float, int]:
    """(statistic, p-value, degrees of freedom) of pgmpy's chi-square or G test on a
    (slices, x, y) count table: each slice's rows and columns that never occur are dropped
    (pgmpy's contingency tables hold only the observed values), a slice left with one row or
    column adds nothing, 2x2 slices get Yates' correction (scipy's ``chi2_contingency``),
    statistics and degrees of freedom add up over slices. The p-value is ``chi2.sf`` without
    Z (1 when the table is degenerate) and ``1 - chi2.cdf`` with Z (NaN, so dependent, when
    every slice is degenerate), as pgmpy computes them."""
    table = np.asarray(table, dtype=np.float64)
    rows, cols = table.sum(axis=2), table.sum(axis=1)
    dof_slice = np.clip((rows > 0).sum(axis=1) - 1, 0, None) * np.clip((cols > 0).sum(axis=1) - 1, 0, None)
    keep = dof_slice > 0
    table, rows, cols, dof_slice = table[keep], rows[keep], cols[keep], dof_slice[keep]
    n = rows.sum(axis=1)
    expected = rows[:, :, None] * cols[:, None, :] / n[:, None, None]
    active = expected > 0
    observed = table
    if (dof_slice == 1).any():
        diff = expected - observed
        adjusted = observed + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
        observed = np.where((dof_slice == 1)[:, None, None], adjusted, observed)
    safe = np.where(active, expected, 1.0)
    if ci_test == "chi_square":
        terms = (observed - safe) ** 2 / safe
    else:
        terms = 2.0 * special.xlogy(observed, observed / safe)
    chi = float(np.where(active, terms, 0.0).sum(axis=(1, 2)).sum())
    dof = int(dof_slice.sum())
    if not conditional:
        return chi, (1.0 if dof == 0 else float(stats.chi2.sf(chi, dof))), dof
    p = 1.0 - float(stats.chi2.cdf(chi, dof)) if dof > 0 else float("nan")
    return chi, p, dof


def _test_results(
    enc: Encoded, tests: Sequence[tuple[int, int, tuple[int, ...]]], ci_test: str, n_threads: int
) -> Iterator[tuple[float, float, int]]:
    """The (statistic, p-value, dof) of X _|_ Y | Z for each (x, y, Z), counted in parallel
    by bn_count as families (x, [y, *Z])."""
    cards = enc.cards
    for start in range(0, len(tests), _BATCH):
        chunk = tests[start : start + _BATCH]
        families = [(x, [y, *z]) for x, y, z in chunk]
        counts = _core.bn_count(enc.columns, cards, families, None, _DENSE_LIMIT, n_threads)
        for (x, y, z), c in zip(chunk, counts, strict=True):
            n_z = int(np.prod([cards[i] for i in z], dtype=np.int64))
            yield ci_statistic(_slices(c, cards[x], cards[y], n_z), ci_test, bool(z))


def _candidates(
    names: Sequence[Hashable], adj: Sequence[dict[int, None]], u: int, v: int, level: int
) -> Iterator[tuple[int, ...]]:
    """pgmpy's candidate separating sets of u - v, in its order: subsets of u's neighbours
    then of v's, taken from Python sets built as pgmpy builds them (same iteration order)."""
    index = {names[i]: i for i in chain(adj[u], adj[v])}
    su = {names[w] for w in adj[u]}
    su.discard(names[v])
    sv = {names[w] for w in adj[v]}
    sv.discard(names[u])
    for zs in chain(combinations(su, level), combinations(sv, level)):
        yield tuple(index[z] for z in zs)


def _skeleton(
    names: Sequence[Hashable], enc: Encoded, ci_test: str, alpha: float, max_cond: int, n_threads: int
) -> tuple[list[dict[int, None]], dict[frozenset[int], tuple[int, ...]]]:
    """pgmpy's build_skeleton (variant 'stable'): each level's tests, from the neighbours at
    the start of the level, are counted in one batch; the edges are then visited in pgmpy's
    order and removed at the first independence among the current neighbours."""
    n = len(names)
    adj: list[dict[int, None]] = [dict.fromkeys(w for w in range(n) if w != i) for i in range(n)]
    independent: dict[tuple[int, int, frozenset[int]], bool] = {}
    sepsets: dict[frozenset[int], tuple[int, ...]] = {}

    def run(tests: list[tuple[int, int, tuple[int, ...]]]) -> None:
        tests = list({(x, y, frozenset(z)): (x, y, tuple(sorted(z))) for x, y, z in tests}.values())
        tests = [t for t in tests if (t[0], t[1], frozenset(t[2])) not in independent]
        for (x, y, z), (_, p, _) in zip(tests, _test_results(enc, tests, ci_test, n_threads), strict=True):
            independent[x, y, frozenset(z)] = p >= alpha

    level = 0
    while not all(len(adj[i]) < level for i in range(n)):
        edges = [(u, v) for u in range(n) for v in adj[u] if v > u]
        run([(u, v, z) for u, v in edges for z in _candidates(names, adj, u, v, level)])
        for u, v in edges:
            for z in _candidates(names, adj, u, v, level):
                if (u, v, frozenset(z)) not in independent:  # not expected: neighbours only shrink
                    run([(u, v, z)])
                if independent[u, v, frozenset(z)]:
                    sepsets[frozenset((u, v))] = z
                    del adj[u][v], adj[v][u]
                    break
        if level >= max_cond:
            break
        level += 1
    return adj, sepsets


class _PDAG:
    """Directed edges (a, b) and undirected ones (a < b) over nodes 0..n-1."""

    def __init__(self, n: int, directed: set[tuple[int, int]], undirected: set[tuple[int, int]]) -> None:
        self.n, self.directed, self.undirected = n, directed, undirected

    def parents(self, v: int) -> list[int]:
        return [a for a in range(self.n) if (a, v) in self.directed]

    def children(self, v: int) -> list[int]:
        return [b for b in range(self.n) if (v, b) in self.directed]

    def neighbors(self, v: int) -> list[int]:
        return [w for w in range(self.n) if (min(v, w), max(v, w)) in self.undirected]

    def adjacent(self, a: int, b: int) -> bool:
        return (a, b) in self.directed or (b, a) in self.directed or (min(a, b), max(a, b)) in self.undirected

    def orient(self, a: int, b: int) -> None:
        self.undirected.discard((min(a, b), max(a, b)))
        self.directed.add((a, b))

    def directed_path(self, a: int, b: int) -> bool:
        seen, stack = {a}, [a]
        while stack:
            for c in self.children(stack.pop()):
                if c == b:
                    return True
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        return a == b

    def meek(self, rule4: bool) -> None:
        """pgmpy's PDAG.apply_meeks_rules, rule by rule in its loop order (nodes in column
        order), until nothing changes."""
        changed = True
        while changed:
            changed = False
            for y in range(self.n):  # rule 1: x -> y - z, x, z not adjacent => y -> z
                for x in self.parents(y):
                    for z in self.neighbors(y):
                        if (
                            not self.adjacent(x, z)
                            and not any(p != y and not self.adjacent(y, p) for p in self.parents(z))
                            and not self.directed_path(z, y)
                        ):
                            self.orient(y, z)
                            changed = True
            for z in range(self.n):  # rule 2: x -> z -> y, x - y => x -> y
                ys = self.children(z)
                for x in self.parents(z):
                    for y in ys:
                        if (min(x, y), max(x, y)) in self.undirected:
                            self.orient(x, y)
                            changed = True
            for x in range(self.n):  # rule 3: x - y, z, w; y -> w <- z => x -> w
                nbs = self.neighbors(x)
                for y, z, w in permutations(nbs, 3) if len(nbs) >= 3 else ():
                    if (y, w) in self.directed and (z, w) in self.directed:
                        self.orient(x, w)
                        changed = True
                        break
            if rule4:  # d -> c -> b, a - b, a ~ c, a - d, b, d not adjacent => a -> b
                for c in range(self.n):
                    for b in self.children(c):
                        for d in self.parents(c):
                            if b == d or self.adjacent(b, d):
                                continue
                            near_c = {w for w in range(self.n) if self.adjacent(c, w)}
                            cand = set(self.neighbors(b)) & near_c & set(self.neighbors(d))
                            for a in sorted(cand)[:1]:
                                self.orient(a, b)
                                changed = True


def _orient(
    n: int, adj: Sequence[dict[int, None]], sepsets: Mapping[frozenset[int], tuple[int, ...]]
) -> _PDAG:
    """pgmpy's orient_colliders then Meek's rules 1-3, then 1-4."""
    arcs = {(a, b) for a in range(n) for b in adj[a]}
    for x, y in permutations(range(n), 2):
        if y not in adj[x]:
            for z in set(adj[x]) & set(adj[y]):
                if z not in sepsets[frozenset((x, y))]:
                    arcs.discard((z, x))
                    arcs.discard((z, y))
    directed = {(a, b) for a, b in arcs if (b, a) not in arcs}
    undirected = {(a, b) for a, b in arcs if a < b and (b, a) in arcs}
    pdag = _PDAG(n, directed, undirected)
    pdag.meek(rule4=False)
    pdag.meek(rule4=True)
    return pdag


class PC(BaseEstimator):
    """The PC algorithm (constraint-based structure learning) as pgmpy's
    ``PC(data).estimate(variant='stable', return_type='pdag')``, with the contingency
    tables of every level's tests counted in one parallel pass.

    ``fit(data)`` takes a DataFrame (or a 2-D array of codes with ``states``) and learns
    over every column. Separating sets are searched in pgmpy's order, including the
    iteration order of its Python sets of variable names, so that the first independence
    found is the same one. As in pgmpy, an edge that two colliders orient both ways is
    dropped from the PDAG (so it is in ``skeleton_`` but in neither list of edges).

    Parameters
    ----------
    ci_test : {'chi_square', 'g_sq'}, default 'chi_square'
        Pearson's chi-square test or the G-test, computed as pgmpy does: per
        configuration of the conditioning set, over the observed rows and columns, with
        Yates' correction on 2x2 tables.
    significance_level : float in (0, 1), default 0.01
        X and Y count as independent given Z when the p-value is at least this.
    max_cond_vars : int, default 5
        Largest conditioning set tested.
    n_jobs : int or None, default None
        Threads counting the tables (None: ``scalegen.get_num_threads()``).

    Attributes
    ----------
    skeleton_ : list of tuple
        Undirected edges ``(u, v)``, u before v in column order.
    separating_sets_ : dict
        ``frozenset({u, v})`` -> frozenset of the variables that made u and v independent,
        for each removed edge.
    edges_ : list of tuple
        Directed edges of the PDAG after orienting colliders and applying Meek's rules.
    undirected_edges_ : list of tuple
        Edges of the PDAG left undirected, ``(u, v)`` with u before v.

    Examples
    --------
    Two independent causes of a common effect (a collider, which PC can orient):

    >>> import numpy as np
    >>> import pandas as pd
    >>> from scalegen.bayesnet import PC
    >>> rng = np.random.default_rng(0)
    >>> rain, sprinkler = rng.random(5000) < 0.3, rng.random(5000) < 0.4
    >>> wet = (rain | sprinkler) ^ (rng.random(5000) < 0.1)  # 10% noise
    >>> data = pd.DataFrame({"rain": rain, "sprinkler": sprinkler, "wet": wet})
    >>> pc = PC().fit(data)
    >>> pc.edges_, pc.undirected_edges_
    ([('rain', 'wet'), ('sprinkler', 'wet')], [])
    >>> pc.separating_sets_[frozenset({"rain", "sprinkler"})]
    frozenset()
    """

    def __init__(
        self,
        ci_test: str = "chi_square",
        significance_level: float = 0.01,
        max_cond_vars: int = 5,
        n_jobs: int | None = None,
    ) -> None:
        self.ci_test = ci_test
        self.significance_level = significance_level
        self.max_cond_vars = max_cond_vars
        self.n_jobs = n_jobs

    def fit(self, data: Any, states: Mapping[Hashable, list[Any]] | None = None) -> PC:
        """Learns the PDAG over every column of ``data`` (states: sorted observed values
        unless given)."""
        ci_test = check_choice(self.ci_test, "ci_test", "PC", CI_TESTS)
        alpha = check_real(
            self.significance_level, "significance_level", "PC", low=0.0, high=1.0, closed="neither"
        )
        max_cond = check_int(self.max_cond_vars, "max_cond_vars", "PC", low=0)
        n_threads = resolve_n_jobs(self.n_jobs)
        names, enc = _encode_all(data, states)
        n = len(names)
        adj, sepsets = _skeleton(names, enc, ci_test, alpha, max_cond, n_threads)
        self.skeleton_ = [(names[u], names[v]) for u in range(n) for v in sorted(adj[u]) if v > u]
        self.separating_sets_ = {
            frozenset(names[i] for i in pair): frozenset(names[i] for i in z) for pair, z in sepsets.items()
        }
        pdag = _orient(n, adj, sepsets)
        self.edges_ = [(names[a], names[b]) for a, b in sorted(pdag.directed)]
        self.undirected_edges_ = [(names[a], names[b]) for a, b in sorted(pdag.undirected)]
        return self
