"""PrivBayes (Zhang, Cormode, Procopiuc, Srivastava & Xiao, SIGMOD 2014; TODS 2017):
synthetic tables from a Bayesian network learned under epsilon-differential privacy.

Greedy structure: the first attribute is drawn uniformly; each next (attribute, parents)
pair is selected by the exponential mechanism (permute-and-flip) over every remaining
attribute and every ``degree``-subset of the attributes already placed, scored by mutual
information or the paper's R score. The joint count tables of the chosen families are counted
in C++ (all candidate tables of a step in one call, each only once), released with discrete
Laplace noise, made consistent where they overlap and non-negative, and turned into
conditional tables; sampling is the network's C++ sampler.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from .. import _core
from .._config import resolve_n_jobs
from ..bayesnet._cpd import TabularCPD
from ..bayesnet._data import encode
from ..bayesnet._estimators import normalize
from ..bayesnet._model import BayesianNetwork
from ..utils._base import NotFittedError
from ..utils._limits import Budget
from ..utils._validation import check_choice, check_int, check_real
from ._accountant import PrivacyAccountant
from ._consistency import consistent_counts
from ._noise import MAX_LAPLACE_SCALE, NoiseSource, discrete_laplace_moments, fit_noise

_OWNER = "PrivBayes"


def mi_sensitivity(n: int) -> float:
    """How much the mutual information (nats) of two attributes can change when one of n rows
    is replaced: the paper's Lemma for general domains (it bounds the binary case too)."""
    return (2.0 / n) * math.log((n + 1) / 2.0) + ((n - 1) / n) * math.log((n + 1) / (n - 1))


# n R(X, P), where R = 1/2 |p(x, p) - p(x) p(p)|_1 (the paper's R score scaled by the row
# count), moves by at most 2 when one row is added or removed: the joint counts move by 1 in
# L1 and the product term c(x) c(p) / n by less than 3. Scaled, it needs no public row count.
NR_SENSITIVITY = 2.0


# Per score: how a neighbouring table differs, and what that does to one count table (L1).
# The mutual information's bound needs the row count public, so it takes the paper's
# relation (one row replaced: a table moves by 2); the R score takes one row added or
# removed (a table moves by 1), the relation of BayesianNetwork.fit(epsilon=...).
_RELATION = {"r": ("one row added or removed", 1.0), "mi": ("one row replaced", 2.0)}


class _Tables:
    """Joint counts of attribute subsets (axes in increasing attribute order), counted in C++
    on demand, a batch per call; their entropies cached. All of them together stay within
    scalegen's max_total_bytes (each within max_tensor_bytes), checked before counting."""

    def __init__(self, columns: list[np.ndarray], cards: list[int], n_rows: int, n_threads: int) -> None:
        self.columns, self.cards, self.n, self.n_threads = columns, cards, n_rows, n_threads
        self.counts: dict[tuple[int, ...], np.ndarray] = {}
        self._entropy: dict[tuple[int, ...], float] = {}
        self._budget = Budget("PrivBayes's count tables")

    def ensure(self, keys: Sequence[tuple[int, ...]]) -> None:
        todo = sorted({k for k in keys if k not in self.counts})
        for key in todo:
            self._budget.add([self.cards[i] for i in key], 8, f"the joint table of attributes {key}")
        if not todo:
            return
        families = [(key[0], list(key[1:])) for key in todo]
        counted = _core.bn_count(self.columns, self.cards, families, None, -1, self.n_threads)
        for key, c in zip(todo, counted, strict=True):
            self.counts[key] = np.asarray(c.to_dense(), dtype=np.float64).reshape(
                [self.cards[i] for i in key]
            )

    def entropy(self, key: tuple[int, ...]) -> float:
        h = self._entropy.get(key)
        if h is None:
            c = self.counts[key].ravel()
            c = c[c > 0]
            h = math.log(self.n) - float(c @ np.log(c)) / self.n
            self._entropy[key] = h
        return h


def _key(x: int, parents: Sequence[int]) -> tuple[int, ...]:
    return tuple(sorted((x, *parents)))


def _r_scores(tables: list[np.ndarray], axes: list[int], n: int) -> np.ndarray:
    """R(X, P) = 1/2 |p(x, p) - p(x) p(p)|_1 of each table, X on the given axis: the tables of
    one shape and axis at once."""
    out = np.empty(len(tables))
    groups: dict[tuple[tuple[int, ...], int], list[int]] = {}
    for i, (t, a) in enumerate(zip(tables, axes, strict=True)):
        groups.setdefault((t.shape, a), []).append(i)
    for (shape, axis), idx in groups.items():
        joint = (
            np.moveaxis(np.stack([tables[i] for i in idx]), axis + 1, 1).reshape(len(idx), shape[axis], -1)
            / n
        )
        product = joint.sum(axis=2)[:, :, None] * joint.sum(axis=1)[:, None, :]
        out[idx] = 0.5 * np.abs(joint - product).sum(axis=(1, 2))
    return out


class PrivBayes:
    """Differentially private synthetic data (PrivBayes): a Bayesian network learned from
    noisy statistics, then sampled.

    ``fit`` spends ``beta * epsilon`` on choosing the structure (an exponential mechanism per
    attribute after the first) and the rest on the joint count tables of the chosen families
    (discrete Laplace noise, exact sampling); everything after that, including ``sample``, is
    post-processing and costs nothing. The noisy tables are averaged where they share
    attributes (each shared marginal gets the inverse-variance mean of its copies, so every
    attribute's distribution is estimated from all the tables that hold it) and projected
    onto non-negative tables, a few times over (negative counts clipped instead when the
    tables as a whole are indistinguishable from noise: see scalegen.privacy._consistency).

    Neighbouring tables differ by one row added or removed with the default R score; the
    mutual-information score's sensitivity needs the row count public, so with it they differ
    by one row replaced (the paper's relation), which doubles the tables' noise.

    The attributes' domains must be public too: they come from ``states``, else from
    categorical columns' categories (declare those from public knowledge:
    ``astype("category")`` on the private rows reads them off the data), else from the
    observed values, with a warning that the domain is then not protected.

    Parameters
    ----------
    epsilon : float
        The privacy budget, > 0 (pure epsilon-DP; no delta).
    degree : int
        The number of parents of each attribute (fewer for the first ``degree``); 0 fits
        independent marginals.
    theta : float or None
        If given, the degree is chosen from the data size instead: the largest one whose
        noisy tables stay "theta-useful" (average count per cell at least ``theta`` times the
        noise scale, for cells of the columns' geometric mean cardinality); the paper uses 4.
    score : {'r', 'mi'}
        The structure score: the paper's R score (an L1 distance from independence,
        n R moves by at most 2) or mutual information (sensitivity about 2 log(n)/n, n public).
    beta : float
        The share of epsilon spent on the structure, in (0, 1); the paper's 0.3.
    states : mapping or None
        The states of each column (column -> list), overriding categories and observed values.
    random_state : None, int or numpy Generator
        None draws the noise from a cryptographic key (private). Anything else seeds it for
        reproducible tests and is NOT private.
    n_jobs : int or None
        Threads for counting.

    Attributes
    ----------
    network_ : BayesianNetwork
        The private network (its tables are the released, post-processed statistics).
    order_ : list
        The attributes in the order they were placed.
    degree_ : int
        The degree used.
    privacy_spent_ : tuple of float
        (epsilon, delta) spent by ``fit``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from scalegen.privacy import PrivBayes
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 2, 5000)
    >>> df = pd.DataFrame({"a": a, "b": a ^ (rng.random(5000) < 0.1), "c": rng.integers(0, 3, 5000)})
    >>> df = df.astype(pd.CategoricalDtype([0, 1, 2]))  # domains declared, not read off the data
    >>> model = PrivBayes(epsilon=1.0, degree=1, random_state=0).fit(df)
    >>> model.privacy_spent_
    (1.0, 0.0)
    >>> synthetic = model.sample(1000, random_state=0)
    >>> synthetic.shape, list(synthetic.columns)
    ((1000, 3), ['a', 'b', 'c'])
    """

    def __init__(
        self,
        epsilon: float,
        degree: int = 2,
        theta: float | None = None,
        *,
        score: str = "r",
        beta: float = 0.3,
        states: Mapping[Hashable, Sequence[Any]] | None = None,
        random_state: Any = None,
        n_jobs: int | None = None,
    ) -> None:
        self.epsilon = epsilon
        self.degree = degree
        self.theta = theta
        self.score = score
        self.beta = beta
        self.states = states
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __repr__(self) -> str:
        return f"PrivBayes(epsilon={self.epsilon!r}, degree={self.degree!r}, score={self.score!r})"

    # ------------------------------------------------------------------ fitting
    def fit(self, data: pd.DataFrame) -> PrivBayes:
        """Learns the private network from the rows of ``data`` (a DataFrame of discrete
        columns, no missing values); returns self."""
        epsilon = check_real(self.epsilon, "epsilon", _OWNER, low=0.0, closed="neither")
        degree = check_int(self.degree, "degree", _OWNER, low=0)
        beta = check_real(self.beta, "beta", _OWNER, low=0.0, high=1.0, closed="neither")
        score = check_choice(self.score, "score", _OWNER, ("r", "mi"))
        theta = (
            None if self.theta is None else check_real(self.theta, "theta", _OWNER, low=0.0, closed="neither")
        )
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"PrivBayes.fit needs a pandas DataFrame, got {type(data).__name__}")
        if data.shape[1] == 0 or len(data) < 2:
            raise ValueError(f"PrivBayes.fit needs at least 2 rows and 1 column, got shape {data.shape}")
        if data.columns.duplicated().any():
            raise ValueError(f"the data has the column {data.columns[data.columns.duplicated()][0]!r} twice")
        names = list(data.columns)
        enc = encode(data, names, self._domains(data, names))
        for v, col in zip(names, enc.columns, strict=True):
            if (col < 0).any():
                raise ValueError(f"column {v!r} has missing values: PrivBayes needs complete rows")
        cards = [len(enc.states[v]) for v in names]
        n, d = enc.n_rows, len(names)
        noise = fit_noise(self.random_state, "PrivBayes fit", stacklevel=2)
        accountant = PrivacyAccountant(epsilon)
        if theta is not None:
            degree = self._useful_degree(n, cards, epsilon * (1 - beta), theta, score, noise, accountant)
        k = min(degree, d - 1)
        structure_eps = beta * epsilon if k > 0 else 0.0
        table_eps = accountant.remaining_epsilon() - structure_eps
        tables = _Tables(enc.columns, cards, n, resolve_n_jobs(self.n_jobs))
        order, parents = _greedy_structure(tables, k, score, structure_eps, noise, accountant)
        cpds = _noisy_conditionals(
            tables, order, parents, k, table_eps, _RELATION[score][1], noise, accountant
        )
        net = BayesianNetwork(
            [(names[p], names[x]) for x in order for p in parents[x]], nodes=names, states=enc.states
        )
        net.add_cpds(
            *(
                TabularCPD(
                    names[x],
                    table,
                    [names[p] for p in parents[x]],
                    {names[u]: enc.states[names[u]] for u in (x, *parents[x])},
                )
                for x, table in cpds.items()
            )
        )
        self.network_ = net
        self.order_ = [names[x] for x in order]
        self.degree_ = k
        self.privacy_spent_ = accountant.spent
        return self

    def _useful_degree(
        self,
        n: int,
        cards: list[int],
        table_eps: float,
        theta: float,
        score: str,
        noise: NoiseSource,
        accountant: PrivacyAccountant,
    ) -> int:
        """The largest degree whose d - k noisy tables average at least theta times their
        noise per cell, for cells of the geometric mean cardinality. With the R score the row
        count is private: a noisy count (discrete Laplace, 2% of epsilon) stands in for it."""
        if score == "r":
            count_eps = 0.02 * float(self.epsilon)
            accountant.spend(epsilon=count_eps, label="row count for theta")
            n = max(1, n + int(noise.discrete_laplace(math.nextafter(1 / count_eps, math.inf))))
        d, sensitivity = len(cards), _RELATION[score][1]
        log_m = float(np.mean(np.log(cards)))
        best = 0
        for k in range(1, d):
            if math.log(n * table_eps / (sensitivity * (d - k) * theta)) >= (k + 1) * log_m:
                best = k
        return best

    def _domains(self, data: pd.DataFrame, names: list[Hashable]) -> dict[Hashable, list[Any]]:
        given: dict[Hashable, list[Any]] = {v: list(s) for v, s in (self.states or {}).items()}
        unknown = [v for v in given if v not in names]
        if unknown:
            raise ValueError(f"states names columns the data does not have: {unknown!r}")
        inferred = []
        for v in names:
            if v in given:
                continue
            if isinstance(data[v].dtype, pd.CategoricalDtype):
                given[v] = data[v].dtype.categories.tolist()
            else:
                inferred.append(v)
        if inferred:
            warnings.warn(
                f"the states of {inferred!r} come from their observed values, which the privacy "
                "guarantee does not cover: give them in `states` or as categorical columns",
                UserWarning,
                stacklevel=3,
            )
        return given

    def sample(self, n: int, random_state: Any = None) -> pd.DataFrame:
        """``n`` synthetic rows (categorical columns, the data's column order), drawn from
        ``network_`` (post-processing: no privacy cost)."""
        if not hasattr(self, "network_"):
            raise NotFittedError("this PrivBayes is not fitted yet: call fit first")
        return self.network_.sample(n, random_state=random_state, n_jobs=self.n_jobs)


def _greedy_structure(
    tables: _Tables, k: int, score: str, epsilon: float, noise: NoiseSource, accountant: PrivacyAccountant
) -> tuple[list[int], dict[int, tuple[int, ...]]]:
    d, n = len(tables.cards), tables.n
    first = noise.permute_and_flip(np.zeros(d), 1.0, 1.0)  # equal scores: a uniform draw, no data
    order = [first]
    parents: dict[int, tuple[int, ...]] = {first: ()}
    rest = [x for x in range(d) if x != first]
    if k == 0:
        order += rest
        parents.update({x: () for x in rest})
        return order, parents
    step_eps = epsilon / (d - 1)
    sensitivity = NR_SENSITIVITY if score == "r" else mi_sensitivity(n)
    while rest:
        size = min(k, len(order))
        candidates = [(x, s) for x in rest for s in combinations(sorted(order), size)]
        keys = [_key(x, s) for x, s in candidates]
        tables.ensure(keys + [s for _, s in candidates] + [(x,) for x in rest])
        if score == "mi":
            scores = np.array(
                [
                    tables.entropy((x,)) + tables.entropy(s) - tables.entropy(key)
                    for (x, s), key in zip(candidates, keys, strict=True)
                ]
            )
        else:
            scores = n * _r_scores(
                [tables.counts[key] for key in keys],
                [key.index(x) for (x, _), key in zip(candidates, keys, strict=True)],
                n,
            )
        accountant.spend(epsilon=step_eps, label=f"structure step {len(order)}")
        x, s = candidates[noise.permute_and_flip(scores, step_eps, sensitivity)]
        order.append(x)
        parents[x] = s
        rest.remove(x)
    return order, parents


def _noisy_conditionals(
    tables: _Tables,
    order: list[int],
    parents: dict[int, tuple[int, ...]],
    k: int,
    epsilon: float,
    table_sensitivity: float,
    noise: NoiseSource,
    accountant: PrivacyAccountant,
) -> dict[int, np.ndarray]:
    """Each attribute's conditional table (child x parent configurations, the last parent
    fastest) from noisy joint counts: the d - k families from position k on are released
    (each moves by table_sensitivity in L1 between neighbours), then post-processed (made
    consistent where they share attributes, and non-negative: see _consistency); the first
    k attributes' tables come from the joint of position k, which holds them all."""
    released = order[k:]
    keys = [_key(x, parents[x]) for x in released]
    tables.ensure(keys)
    scale = math.nextafter(table_sensitivity * len(released) / epsilon, math.inf)  # rounded up: more noise
    if not scale <= MAX_LAPLACE_SCALE:
        raise ValueError(
            f"epsilon={epsilon:g} for {len(released)} tables needs Laplace noise of scale {scale:.3g}, above "
            f"the largest exact sampler's {MAX_LAPLACE_SCALE:.3g}: give a larger epsilon"
        )
    accountant.spend(epsilon=epsilon, label="noisy tables")
    raw = []
    for key in keys:
        counts = tables.counts[key]
        raw.append(counts + noise.discrete_laplace(scale, counts.size).reshape(counts.shape))
    noisy = dict(zip(keys, consistent_counts(raw, keys, discrete_laplace_moments(scale)), strict=True))
    out = {}
    head_key = _key(order[k], parents[order[k]])
    for i, x in enumerate(order):
        pa = parents[x]
        if i < k:  # marginalise the head table down to this attribute and its parents
            joint = noisy[head_key]
            keep = _key(x, pa)
            joint = joint.sum(axis=tuple(a for a, v in enumerate(head_key) if v not in keep))
        else:
            keep, joint = _key(x, pa), noisy[_key(x, pa)]
        axes = [keep.index(v) for v in (x, *pa)]
        out[x] = normalize(np.transpose(joint, axes).reshape(tables.cards[x], -1).copy())
    return out
