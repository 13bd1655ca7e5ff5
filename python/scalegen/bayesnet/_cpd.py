"""Conditional probability tables."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

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
    """P(variable | parents) as a table.

    ``values`` is shaped ``(card, *parent_cards)`` with the parents' axes in the order of
    ``parents`` (pgmpy's layout); a 2-D ``(card, prod(parent_cards))`` array is accepted
    when the parents' states are given (the last parent varies fastest along a row).
    ``states`` maps the variable and its parents to their state names; names default
    to ``0..card-1``.
    """

    def __init__(
        self,
        variable: Hashable,
        values: Any,
        parents: Sequence[Hashable] = (),
        states: Mapping[Hashable, Sequence[Any]] | None = None,
    ) -> None:
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
        """(card, *parent_cards)."""
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
