"""Exact inference in discrete Bayesian networks by variable elimination (in the core:
cpp/src/bayesnet/inference/elimination.cpp)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import _core
from .._config import resolve_n_jobs
from ._cpd import real_array
from ._model import BayesianNetwork

HEURISTICS = {
    "greedy": _core.EliminationHeuristic.greedy,
    "minfill": _core.EliminationHeuristic.min_fill,
    "weightedminfill": _core.EliminationHeuristic.weighted_min_fill,
    "minneighbors": _core.EliminationHeuristic.min_neighbors,
    "minweight": _core.EliminationHeuristic.min_weight,
}

# joint=False computes the marginals from the joint posterior when it has at most this
# many cells (one elimination), otherwise one elimination per variable: a joint over many
# query variables would be huge and would enlarge every clique on the way.
_JOINT_MARGINALS_CELLS = 4096


class DiscreteFactor:
    """A table over discrete variables: one axis of ``values`` per entry of ``variables``.

    ``VariableElimination.query`` returns its posteriors as factors; ``to_frame`` and the
    ``repr`` show them as a table, ``get_value`` reads one cell by state names.

    Parameters
    ----------
    variables : sequence of hashable
        The variables, one per axis of ``values``, without repeats.
    states : dict
        Variable -> list of state names, for every variable (others are ignored).
    values : array-like
        Real numbers of shape ``(len(states[v]) for v in variables)``, copied as float64.

    Attributes
    ----------
    variables : list
        As given.
    states : dict
        The state names of each variable.
    values : numpy.ndarray
        The table.

    Raises
    ------
    ValueError
        If a variable repeats or has no states, or ``values`` has another shape.

    Examples
    --------
    >>> from scalegen.bayesnet import DiscreteFactor
    >>> f = DiscreteFactor(["coin", "die"], {"coin": ["H", "T"], "die": [1, 2, 3]},
    ...                    [[1, 2, 3], [4, 5, 5]])
    >>> p = f.normalize()
    >>> p.get_value(coin="T", die=3)
    0.25
    >>> p.to_frame().loc["H"].round(2)
           p
    die
    1    0.05
    2    0.10
    3    0.15
    """

    def __init__(
        self, variables: Sequence[Hashable], states: Mapping[Hashable, Sequence[Any]], values: Any
    ) -> None:
        variables = list(variables)
        if len(set(variables)) != len(variables):
            raise ValueError(f"the variables of a factor repeat a name: {variables!r}")
        missing = [v for v in variables if v not in states]
        if missing:
            raise ValueError(f"no states given for {missing!r}")
        arr = real_array(values, "the values of a factor")
        shape = tuple(len(states[v]) for v in variables)
        if arr.shape != shape:
            raise ValueError(f"the values must have shape {shape} (one axis per variable), got {arr.shape}")
        self.variables = variables
        self.states: dict[Hashable, list[Any]] = {v: list(states[v]) for v in variables}
        self.values = arr

    def normalize(self) -> DiscreteFactor:
        """A copy whose values sum to 1."""
        total = float(self.values.sum())
        if not total > 0:
            raise ValueError("cannot normalize a factor whose values sum to zero")
        return DiscreteFactor(self.variables, self.states, self.values / total)

    def get_value(self, **assignment: Any) -> float:
        """The value at one state of every variable, e.g. ``f.get_value(smoke="yes")``."""
        if set(assignment) != set(self.variables):
            raise ValueError(f"give one state for each of {self.variables!r}, got {sorted(assignment)!r}")
        axis = {v: k for k, v in enumerate(self.variables)}
        index = [0] * len(self.variables)
        for v, state in assignment.items():
            try:
                index[axis[v]] = self.states[v].index(state)
            except ValueError:
                raise ValueError(f"{state!r} is not a state of {v!r}: {self.states[v]!r}") from None
        return float(self.values[tuple(index)])

    def to_frame(self) -> pd.DataFrame:
        """One row per joint state (a MultiIndex over the variables), one column 'p'."""
        if len(self.variables) == 1:
            index: pd.Index = pd.Index(self.states[self.variables[0]], name=self.variables[0])
        else:
            index = pd.MultiIndex.from_product([self.states[v] for v in self.variables], names=self.variables)
        return pd.DataFrame({"p": self.values.ravel()}, index=index)

    def __repr__(self) -> str:
        head = f"<DiscreteFactor over {', '.join(f'{v}:{len(self.states[v])}' for v in self.variables)}>"
        return f"{head}\n{self.to_frame().to_string()}" if 0 < self.values.size <= 64 else head


class VariableElimination:
    """Exact posterior distributions of a discrete Bayesian network by variable elimination.

    Each query keeps only the ancestors of the query and evidence variables (the other
    variables sum to 1 and cannot matter), slices the tables at the evidence, and
    eliminates the remaining variables in a greedy order chosen on that pruned graph.
    The tables are copied at construction: later changes to the model are not seen.
    ``query`` gives posterior factors, ``map_query`` the most probable states.

    Parameters
    ----------
    model : BayesianNetwork
        A network with all its tables.

    Raises
    ------
    TypeError
        If ``model`` is not a ``BayesianNetwork``.
    ValueError
        If the model fails ``check_model`` (a table missing or not normalized).

    See Also
    --------
    ApproximateInference : likelihood weighting, for networks too large to eliminate.

    Examples
    --------
    >>> from scalegen.bayesnet import BayesianNetwork, TabularCPD, VariableElimination
    >>> yes_no = ["yes", "no"]
    >>> net = BayesianNetwork([("rain", "wet"), ("sprinkler", "wet")])
    >>> net.add_cpds(
    ...     TabularCPD("rain", [0.2, 0.8], states={"rain": yes_no}),
    ...     TabularCPD("sprinkler", [0.4, 0.6], states={"sprinkler": yes_no}),
    ...     TabularCPD("wet", [[0.99, 0.8, 0.9, 0.0], [0.01, 0.2, 0.1, 1.0]], ["rain", "sprinkler"],
    ...                states={"wet": yes_no, "rain": yes_no, "sprinkler": yes_no}),
    ... )
    >>> infer = VariableElimination(net)
    >>> infer.query(["rain"], evidence={"wet": "yes"}).values.round(3)
    array([0.378, 0.622])
    >>> infer.query(["rain"], evidence={"wet": "yes", "sprinkler": "yes"}).values.round(3)
    array([0.216, 0.784])
    >>> infer.map_query(["rain", "sprinkler"], evidence={"wet": "yes"})
    {'rain': 'no', 'sprinkler': 'yes'}
    """

    def __init__(self, model: BayesianNetwork) -> None:
        if not isinstance(model, BayesianNetwork):
            raise TypeError(f"expected a BayesianNetwork, got {type(model).__name__}")
        model.check_model()
        self._nodes = model.nodes
        self._index = {v: i for i, v in enumerate(self._nodes)}
        states = model.states
        self._states = [states[v] for v in self._nodes]
        self._state_pos = [{s: k for k, s in enumerate(names)} for names in self._states]
        self._cards = [len(names) for names in self._states]
        scopes = []
        tables = []
        for v in self._nodes:
            cpd = model.cpd(v)
            scopes.append([self._index[u] for u in [v, *cpd.parents]])
            tables.append(np.ascontiguousarray(cpd.values, dtype=np.float64).ravel())
        self._engine = _core.EliminationNetwork(self._cards, scopes, tables)
        # bit i of _ancestors[v] is set when node i is v or one of its ancestors (to name
        # what an explicit elimination order leaves out)
        self._ancestors = [0] * len(self._nodes)
        for v in model.topological_order():
            i = self._index[v]
            self._ancestors[i] = 1 << i
            for p in model.parents(v):
                self._ancestors[i] |= self._ancestors[self._index[p]]

    # ---- input checks ----------------------------------------------------------------
    def _variable_ids(self, variables: Any) -> list[int]:
        if isinstance(variables, str | bytes | Mapping) or not hasattr(variables, "__iter__"):
            raise TypeError(f"variables must be a list of variable names, got {variables!r}")
        variables = list(variables)
        if not variables:
            raise ValueError("the list of query variables is empty")
        ids = []
        for v in variables:
            if v not in self._index:
                raise ValueError(f"the query variable {v!r} is not a node of the network")
            ids.append(self._index[v])
        if len(set(ids)) != len(ids):
            raise ValueError(f"the query variables repeat a name: {variables!r}")
        return ids

    def _evidence_ids(self, evidence: Mapping[Hashable, Any] | None) -> dict[int, int]:
        if evidence is None:
            return {}
        if not isinstance(evidence, Mapping):
            raise TypeError(f"evidence must be a dict variable -> state, got {evidence!r}")
        out = {}
        for v, s in evidence.items():
            if v not in self._index:
                raise ValueError(f"the evidence variable {v!r} is not a node of the network")
            i = self._index[v]
            if s not in self._state_pos[i]:
                raise ValueError(f"{s!r} is not a state of {v!r}: {self._states[i]!r}")
            out[i] = self._state_pos[i][s]
        return out

    def _query_ids(
        self, variables: Any, evidence: Mapping[Hashable, Any] | None, elimination_order: Any
    ) -> tuple[list[int], dict[int, int], str | list[int]]:
        keep = self._variable_ids(variables)
        ev = self._evidence_ids(evidence)
        both = [self._nodes[i] for i in keep if i in ev]
        if both:
            raise ValueError(f"{both!r} are both queried and observed")
        return keep, ev, self._order_for(elimination_order, {*keep, *ev})

    def _order_for(self, elimination_order: Any, exclude: set[int]) -> str | list[int]:
        """A heuristic's name (lower case) or the ids of an explicit order."""
        if isinstance(elimination_order, str):
            name = elimination_order.lower()
            if name not in HEURISTICS:
                raise ValueError(
                    f"unknown elimination order {elimination_order!r}: use 'greedy', 'MinFill', "
                    "'WeightedMinFill', 'MinNeighbors', 'MinWeight' or a list of variables"
                )
            return name
        if not isinstance(elimination_order, Sequence):
            raise ValueError(f"unknown elimination order {elimination_order!r}")
        ids = []
        for v in elimination_order:
            if v not in self._index:
                raise ValueError(f"the elimination order names {v!r}, which is not a node of the network")
            if self._index[v] in exclude:
                raise ValueError(f"the elimination order names {v!r}, which is queried or observed")
            ids.append(self._index[v])
        if len(set(ids)) != len(ids):
            raise ValueError("the elimination order repeats a variable")
        return ids

    # ---- elimination -----------------------------------------------------------------
    def _plan(self, how: str | list[int], seeds: list[int], exclude: set[int]) -> tuple[Any, list[int]]:
        """The core's (heuristic, order) for ``how``; an explicit order must name every
        ancestor of ``seeds`` that is not in ``exclude`` (queried or observed)."""
        if isinstance(how, str):
            return HEURISTICS[how], []
        mask = 0
        for i in seeds:
            mask |= self._ancestors[i]
        named = set(how)
        missing = [
            str(self._nodes[i])
            for i in range(len(self._nodes))
            if mask >> i & 1 and i not in exclude and i not in named
        ]
        if missing:
            raise ValueError(f"the elimination order must also name {sorted(missing)}")
        return HEURISTICS["minfill"], how

    def _posterior(self, keep: list[int], evidence: dict[int, int], how: str | list[int]) -> np.ndarray:
        """P(keep | evidence) as an array with one axis per variable of ``keep``."""
        heuristic, order = self._plan(how, [*keep, *evidence], {*keep, *evidence})
        joint = self._engine.posterior(keep, list(evidence.items()), heuristic, order, resolve_n_jobs(None))
        return joint.reshape([self._cards[i] for i in keep])

    # ---- public API --------------------------------------------------------------------
    def query(
        self,
        variables: Sequence[Hashable],
        evidence: Mapping[Hashable, Any] | None = None,
        joint: bool = True,
        elimination_order: str | Sequence[Hashable] = "greedy",
    ) -> DiscreteFactor | dict[Hashable, DiscreteFactor]:
        """P(variables | evidence) as a normalized DiscreteFactor over ``variables`` (in
        that order); with ``joint=False`` a dict variable -> its marginal factor.

        ``evidence`` maps variables to observed state names. ``elimination_order`` is a
        heuristic ('MinFill', 'WeightedMinFill', 'MinNeighbors', 'MinWeight'; 'greedy', the
        default, takes the min-fill order unless its factors would be large, then whichever
        of the min-fill, weighted min-fill and min-weight orders creates the fewest factor
        cells) or a list naming every variable neither queried nor observed (those pruning
        drops may be left out).
        """
        keep, ev, how = self._query_ids(variables, evidence, elimination_order)
        names = [self._nodes[i] for i in keep]
        if joint:
            return self._factor(names, self._posterior(keep, ev, how))
        if math.prod(self._cards[i] for i in keep) <= _JOINT_MARGINALS_CELLS:
            table = self._posterior(keep, ev, how)
            axes = range(len(keep))
            return {
                v: self._factor([v], table.sum(axis=tuple(a for a in axes if a != k)))
                for k, v in enumerate(names)
            }
        return {v: self._factor([v], self._posterior([i], ev, how)) for v, i in zip(names, keep, strict=True)}

    def map_query(
        self,
        variables: Sequence[Hashable] | None = None,
        evidence: Mapping[Hashable, Any] | None = None,
        elimination_order: str | Sequence[Hashable] = "greedy",
    ) -> dict[Hashable, Any]:
        """The most probable joint state of ``variables`` given ``evidence``, as a dict
        variable -> state name: the argmax of the joint posterior of ``variables`` (the other
        variables summed out, as pgmpy). Ties go to the first state in the order of
        ``variables`` and of their states.

        With ``variables=None``: the most probable state of all the unobserved variables
        (max-product elimination, so it works on large networks); ties go to the first
        state of each variable given the states chosen for the variables eliminated after it.
        """
        if variables is None:
            ev = self._evidence_ids(evidence)
            best = self._most_probable(ev, self._order_for(elimination_order, set(ev)))
            return {self._nodes[i]: self._states[i][best[i]] for i in sorted(best)}
        keep, ev, how = self._query_ids(variables, evidence, elimination_order)
        table = self._posterior(keep, ev, how)
        flat = np.unravel_index(int(np.argmax(table)), table.shape)
        return {self._nodes[i]: self._states[i][int(k)] for i, k in zip(keep, flat, strict=True)}

    def _most_probable(self, evidence: dict[int, int], how: str | list[int]) -> dict[int, int]:
        """Max-product elimination of every unobserved variable, then the traceback."""
        heuristic, order = self._plan(how, list(range(len(self._nodes))), set(evidence))
        best = self._engine.most_probable(list(evidence.items()), heuristic, order, resolve_n_jobs(None))
        return {i: k for i, k in enumerate(best) if k >= 0}

    def _factor(self, names: list[Hashable], values: np.ndarray) -> DiscreteFactor:
        return DiscreteFactor(names, {v: self._states[self._index[v]] for v in names}, values)

    def __repr__(self) -> str:
        return f"<VariableElimination over {len(self._nodes)} variables>"
