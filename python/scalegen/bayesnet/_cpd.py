"""Conditional probability tables."""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, SupportsIndex, overload

import numpy as np
import pandas as pd

# Largest deviation of a column sum from 1 that check_model accepts (the published
# networks round their probabilities to a few digits).
SUM_TOLERANCE = 1e-4


def check_states(variable: Hashable, states: Any) -> list[Any]:
    """A variable's state names as a list: at least one, hashable, no duplicates."""
    if isinstance(states, str | bytes) or not isinstance(states, Sequence | np.ndarray | pd.Index):
        raise TypeError(f"the states of {variable!r} must be a list of names, got {states!r}")
    out = list(states)
    if not out:
        raise ValueError(f"variable {variable!r} needs at least one state")
    try:
        unique = len(set(out))
    except TypeError:
        raise TypeError(f"the states of {variable!r} must be hashable, got {out!r}") from None
    if unique != len(out):
        seen: set[Any] = set()
        dup = next(s for s in out if s in seen or seen.add(s))  # type: ignore[func-returns-value]
        raise ValueError(f"variable {variable!r} lists the state {dup!r} twice")
    return out


def real_array(values: Any, what: str) -> np.ndarray:
    """A new float64 array of ``values``; complex values are refused (as scikit-learn does)
    rather than cast to real with a warning, and so is anything that is not numbers."""
    try:
        raw = np.asarray(values)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be numbers (a rectangular array)") from None
    if raw.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {what} must be real numbers, got dtype {raw.dtype}")
    try:
        return np.array(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be numbers, got dtype {raw.dtype}") from None


def check_table_values(variable: Hashable, values: np.ndarray) -> None:
    """A ValueError unless a table holds finite, non-negative real numbers."""
    if values.dtype.kind not in "fiub":
        raise ValueError(f"the values of {variable!r} must be real numbers, got dtype {values.dtype}")
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"the values of {variable!r} hold NaN or infinity: probabilities must be finite and non-negative"
        )
    if np.any(values < 0):
        raise ValueError(
            f"the values of {variable!r} hold negative numbers: probabilities must be finite and non-negative"
        )


class TabularCPD:
    """A conditional probability table, ``P(variable | parents)``.

    ``values`` is shaped ``(card, *parent_cards)`` with the parents' axes in the order of
    ``parents`` (pgmpy's layout); a 2-D ``(card, prod(parent_cards))`` array is accepted
    when the states of every parent are given (the last parent varies fastest along a
    row). Each column (one configuration of the parents) should sum to 1;
    ``BayesianNetwork.check_model`` checks that.

    pgmpy's signature works too: ``TabularCPD(variable, variable_card, values,
    evidence=None, evidence_card=None, state_names=None)`` with ``values`` 2-D, shaped
    ``(variable_card, prod(evidence_card))`` (the last evidence variable varies fastest).
    It is recognised by an integer in second place or by any of its keyword names
    (``variable_card``, ``evidence``, ``evidence_card``, ``state_names``); mixing it with
    ``parents``/``states`` is a TypeError.

    Parameters
    ----------
    variable : hashable
        The variable the table gives the distribution of.
    values : array-like
        Finite, non-negative probabilities, laid out as above (a root's table may be a
        vector or a single column).
    parents : sequence of hashable, default ()
        The conditioning variables, in the order of the axes of ``values``; a single
        string is one parent.
    states : dict, optional
        Variable or parent -> list of state names; missing names default to
        ``0..card-1``.

    Attributes
    ----------
    variable : hashable
        As given.
    parents : list
        As given.
    states : dict
        State names of the variable and of each parent.
    values : numpy.ndarray
        float64 table of shape ``(card, *parent_cards)`` (a copy of the input).

    Raises
    ------
    ValueError
        If the shape does not match the parents and states, a value is negative or not
        finite, a state is listed twice, or the variable is its own parent.
    TypeError
        If the values are not numbers, or the two signatures are mixed.

    Examples
    --------
    >>> from scalegen.bayesnet import TabularCPD
    >>> yes_no = ["yes", "no"]
    >>> wet = TabularCPD("wet", [[0.99, 0.8, 0.9, 0.0], [0.01, 0.2, 0.1, 1.0]], ["rain", "sprinkler"],
    ...                  states={"wet": yes_no, "rain": yes_no, "sprinkler": ["on", "off"]})
    >>> wet
    <TabularCPD P(wet:2 | rain:2, sprinkler:2)>
    >>> wet.values.shape, float(wet.values[0, 1, 0])  # P(wet=yes | rain=no, sprinkler=on)
    ((2, 2, 2), 0.9)
    >>> rain = TabularCPD("rain", 2, [[0.2], [0.8]])  # pgmpy's signature
    >>> rain.values, rain.states
    (array([0.2, 0.8]), {'rain': [0, 1]})
    """

    @overload
    def __init__(
        self,
        variable: Hashable,
        values: Any,
        parents: Sequence[Hashable] = (),
        states: Mapping[Hashable, Sequence[Any]] | None = None,
    ) -> None: ...

    @overload  # pgmpy's, positional
    def __init__(
        self,
        variable: Hashable,
        variable_card: SupportsIndex,
        values: Any,
        evidence: Sequence[Hashable] | None = None,
        evidence_card: Sequence[SupportsIndex] | None = None,
        state_names: Mapping[Any, Sequence[Any]] | None = None,
        /,
    ) -> None: ...

    @overload  # pgmpy's, the rest by keyword
    def __init__(
        self,
        variable: Hashable,
        variable_card: SupportsIndex,
        values: Any,
        /,
        *,
        evidence: Sequence[Hashable] | None = None,
        evidence_card: Sequence[SupportsIndex] | None = None,
        state_names: Mapping[Any, Sequence[Any]] | None = None,
    ) -> None: ...

    @overload  # pgmpy's, by keyword
    def __init__(
        self,
        variable: Hashable,
        *,
        variable_card: SupportsIndex,
        values: Any,
        evidence: Sequence[Hashable] | None = None,
        evidence_card: Sequence[SupportsIndex] | None = None,
        state_names: Mapping[Any, Sequence[Any]] | None = None,
    ) -> None: ...

    def __init__(
        self,
        variable: Hashable,
        values: Any,
        parents: Any = (),
        states: Any = None,
        *pgmpy_args: Any,
        variable_card: Any = None,
        evidence: Any = None,
        evidence_card: Any = None,
        state_names: Any = None,
    ) -> None:
        pgmpy_keywords = {
            "variable_card": variable_card,
            "evidence": evidence,
            "evidence_card": evidence_card,
            "state_names": state_names,
        }
        if _is_count(values) or pgmpy_args or any(x is not None for x in pgmpy_keywords.values()):
            values, parents, states = _pgmpy_arguments(
                variable, values, parents, states, pgmpy_args, pgmpy_keywords
            )
        if isinstance(parents, str):
            parents = [parents]
        parents = list(parents)
        if variable in parents:
            raise ValueError(f"{variable!r} cannot be its own parent")
        if len(set(parents)) != len(parents):
            raise ValueError(f"the parents of {variable!r} repeat a name: {parents!r}")
        given: dict[Hashable, Any] = dict(states or {})
        unknown = set(given) - {variable, *parents}
        if unknown:
            raise ValueError(
                f"states given for {sorted(map(str, unknown))}, which are not in the table of {variable!r}"
            )
        arr = real_array(values, f"the values of {variable!r}")
        if arr.ndim == 2 and not parents and arr.shape[1] == 1:
            arr = arr[:, 0]  # pgmpy writes a root's table as a column
        elif arr.ndim == 2 and len(parents) > 1 and all(p in given for p in parents):
            shape = (arr.shape[0], *(len(given[p]) for p in parents))
            if arr.size != np.prod(shape):
                raise ValueError(f"the values of {variable!r} must have shape {shape}, got {arr.shape}")
            arr = arr.reshape(shape)
        if arr.ndim != 1 + len(parents):
            raise ValueError(
                f"the values of {variable!r} must have {1 + len(parents)} axes (card, *parent_cards), "
                f"got shape {arr.shape}"
            )
        if arr.size == 0:
            raise ValueError(f"the values of {variable!r} are empty")
        check_table_values(variable, arr)
        for var, card in zip([variable, *parents], arr.shape, strict=True):
            names = check_states(var, given[var]) if var in given else list(range(card))
            if len(names) != card:
                raise ValueError(
                    f"{var!r} has {len(names)} states but the table of {variable!r} has {card} along its axis"
                )
            given[var] = names
        self.variable = variable
        self.parents = parents
        self.states: dict[Hashable, list[Any]] = {v: given[v] for v in [variable, *parents]}
        self.values = arr

    @classmethod
    def _trusted(
        cls,
        variable: Hashable,
        values: np.ndarray,
        parents: list[Hashable],
        states: dict[Hashable, list[Any]],
    ) -> TabularCPD:
        """A table built by scalegen itself from already validated parts (skips the checks)."""
        cpd = cls.__new__(cls)
        cpd.variable, cpd.parents, cpd.states, cpd.values = variable, parents, states, values
        return cpd

    @property
    def cardinality(self) -> tuple[int, ...]:
        """``(card, *parent_cards)``."""
        return tuple(self.values.shape)

    def get_values(self) -> np.ndarray:
        """The table as 2-D (card, number of parent configurations)."""
        return self.values.reshape(self.values.shape[0], -1)

    def column_sums(self) -> np.ndarray:
        """Sum over the variable's states, one per parent configuration."""
        return self.get_values().sum(axis=0)

    def to_frame(self) -> pd.DataFrame:
        """A readable table: one row per state, one column per parent configuration."""
        index = pd.Index(self.states[self.variable], name=self.variable)
        if not self.parents:
            return pd.DataFrame(self.get_values(), index=index, columns=pd.Index(["p"]))
        columns = pd.MultiIndex.from_product([self.states[p] for p in self.parents], names=self.parents)
        return pd.DataFrame(self.get_values(), index=index, columns=columns)

    def copy(self) -> TabularCPD:
        return TabularCPD(self.variable, self.values.copy(), self.parents, self.states)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TabularCPD):
            return NotImplemented
        return (
            self.variable == other.variable
            and self.parents == other.parents
            and self.states == other.states
            and np.array_equal(self.values, other.values)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        given = f" | {', '.join(f'{p}:{len(self.states[p])}' for p in self.parents)}" if self.parents else ""
        return f"<TabularCPD P({self.variable}:{self.values.shape[0]}{given})>"


def _is_count(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _pgmpy_arguments(
    variable: Hashable,
    values: Any,
    parents: Any,
    states: Any,
    extra: tuple[Any, ...],
    keywords: dict[str, Any],
) -> tuple[np.ndarray, list[Hashable], dict[Hashable, Any]]:
    """pgmpy's (variable_card, values, evidence, evidence_card, state_names) as scalegen's
    (values shaped (card, *evidence_card), parents, states)."""
    if _is_count(values):
        # positional pgmpy call: the arguments sit one place to the right of ours
        if len(extra) > 2:
            raise TypeError(
                "TabularCPD takes at most 6 positional arguments in pgmpy's form (variable, "
                "variable_card, values, evidence, evidence_card, state_names)"
            )
        positional = {
            "variable_card": values,
            "values": parents,
            "evidence": states,
            "evidence_card": extra[0] if extra else None,
            "state_names": extra[1] if len(extra) > 1 else None,
        }
        for name, given in positional.items():
            if name in keywords and given is not None and keywords[name] is not None:
                raise TypeError(f"TabularCPD got two values for {name!r}")
        args: dict[str, Any] = {k: keywords.get(k) if v is None else v for k, v in positional.items()}
        if isinstance(args["values"], tuple | list) and len(args["values"]) == 0:
            args["values"] = None  # the default of ``parents``: no values were given
    else:
        if extra or (isinstance(parents, str) or len(parents)) or states is not None:
            raise TypeError(
                "TabularCPD takes either scalegen's arguments (variable, values, parents, states) or "
                "pgmpy's (variable, variable_card, values, evidence, evidence_card, state_names), "
                "not a mix of the two"
            )
        args = {**keywords, "values": values}
    card, evidence, evidence_card = args["variable_card"], args["evidence"], args["evidence_card"]
    if args["values"] is None:
        raise TypeError(f"the table of {variable!r} needs values")
    if not _is_count(card) or card < 1:
        raise TypeError(f"variable_card of {variable!r} must be a positive integer, got {card!r}")
    if evidence is None:
        evidence = []
    elif isinstance(evidence, str | bytes) or not isinstance(evidence, Sequence | np.ndarray | pd.Index):
        raise TypeError(f"the evidence of {variable!r} must be a list of variables, got {evidence!r}")
    evidence = list(evidence)
    if evidence_card is None:
        if evidence:
            raise ValueError(f"the table of {variable!r} has evidence but no evidence_card")
        evidence_card = []
    elif _is_count(evidence_card) or not isinstance(evidence_card, Sequence | np.ndarray):
        raise TypeError(f"evidence_card of {variable!r} must be a list of integers, got {evidence_card!r}")
    evidence_card = list(evidence_card)
    if len(evidence_card) != len(evidence):
        raise ValueError(
            f"the table of {variable!r} has {len(evidence)} evidence variables but "
            f"{len(evidence_card)} evidence cardinalities"
        )
    if not all(_is_count(c) and c >= 1 for c in evidence_card):
        raise TypeError(f"evidence_card of {variable!r} must be positive integers, got {evidence_card!r}")
    names = args["state_names"]
    if names is not None and not isinstance(names, Mapping):
        raise TypeError(f"state_names of {variable!r} must be a dict variable -> list of states")
    arr = real_array(args["values"], f"the values of {variable!r}")
    shape = (int(card), int(np.prod(evidence_card, dtype=np.int64)))
    if arr.shape != shape:
        raise ValueError(
            f"the values of {variable!r} must be 2-D of shape (variable_card, prod(evidence_card)) = "
            f"{shape} in pgmpy's form, got shape {arr.shape}"
        )
    return arr.reshape(int(card), *map(int, evidence_card)), evidence, dict(names or {})
