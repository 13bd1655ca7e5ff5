"""Data to integer codes: one contiguous int8/int16 column per variable, -1 for missing.

Missing values (NaN, None, pd.NA) are kept as -1: counting skips a row for exactly the
families whose child or parents it is missing in (pgmpy's rule), scoring rows needs
complete rows.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._cpd import check_states

MAX_STATES = np.iinfo(np.int16).max


@dataclass
class Encoded:
    columns: list[np.ndarray]  # one C-contiguous int8 or int16 array per variable
    states: dict[Hashable, list[Any]]
    n_rows: int

    @property
    def cards(self) -> list[int]:
        return [len(s) for s in self.states.values()]


def code_dtype(cards: Sequence[int]) -> type[np.signedinteger]:
    """int8 while every variable has at most 127 states, else int16."""
    if max(cards, default=1) > MAX_STATES:
        raise ValueError(f"variables with more than {MAX_STATES} states are not supported")
    return np.int8 if max(cards, default=1) <= np.iinfo(np.int8).max else np.int16


def _infer_states(name: Hashable, col: pd.Series) -> list[Any]:
    if isinstance(col.dtype, pd.CategoricalDtype):  # the categories that occur, by one bincount
        categories = col.dtype.categories.tolist()
        seen = np.zeros(len(categories) + 1, dtype=bool)
        seen[np.asarray(col.array.codes)] = True  # the missing code -1 marks the extra last slot
        observed = np.array([categories[i] for i in np.flatnonzero(seen[:-1])], dtype=object)
    else:
        observed = col.dropna().unique()
    try:
        states = sorted(observed.tolist())
    except TypeError:
        raise ValueError(f"the values of column {name!r} cannot be ordered; give its states") from None
    if not states:
        raise ValueError(f"column {name!r} has no observed values; give its states")
    return states


def _unknown_value(name: Hashable, col: pd.Series, row: int, states: list[Any]) -> ValueError:
    shown = states if len(states) <= 10 else [*states[:10], "..."]
    return ValueError(
        f"value {col.iloc[row]!r} of column {name!r} (row {row}) is not one of its states {shown}"
    )


def _by_text(values: Sequence[Any], states: list[Any]) -> np.ndarray:
    """Positions in `states` of values that are none of them but read as one: equal as text
    (the state "1" for the value 1: BIF states are text, CSV readers give numbers), or, for
    booleans, equal ignoring case (pandas reads TRUE/FALSE as booleans). -2 where none or
    where two states read alike."""
    text = [str(s) for s in states]
    folded = [t.casefold() for t in text]
    by_text = {t: i for i, t in enumerate(text)} if len(set(text)) == len(text) else {}
    by_fold = {t: i for i, t in enumerate(folded)} if len(set(folded)) == len(folded) else {}
    out = np.full(len(values), -2, dtype=np.int32)
    for k, v in enumerate(values):
        i = by_text.get(str(v))
        if i is None and isinstance(v, bool | np.bool_):
            i = by_fold.get(str(v).casefold())
        if i is not None:
            out[k] = i
    return out


def _encode_column(name: Hashable, col: pd.Series, states: list[Any]) -> np.ndarray:
    if isinstance(col.dtype, pd.CategoricalDtype):
        src = np.asarray(col.array.codes)  # a view: Series.cat.codes copies
        categories = col.dtype.categories.tolist()
        if categories == states:
            return src
        position = {s: i for i, s in enumerate(states)}
        # The last entry maps pandas' missing code -1 to ours; -2 marks values outside the states.
        lut = np.array([position.get(c, -2) for c in categories] + [-1], dtype=code_dtype([len(states)]))
        unknown = np.flatnonzero(lut[:-1] == -2)
        if unknown.size:
            lut[unknown] = _by_text([categories[i] for i in unknown], states)
        codes = lut[src]
    else:
        codes = pd.Index(states).get_indexer(col).astype(np.int32)
        outside = np.flatnonzero((codes == -1) & col.notna().to_numpy())
        if outside.size:  # each distinct outside value once
            found, uniques = pd.factorize(col.iloc[outside])
            codes[outside] = _by_text(list(uniques), states)[found]
    bad = np.flatnonzero(codes == -2)
    if bad.size:
        raise _unknown_value(name, col, int(bad[0]), states)
    return codes


def check_columns(columns: pd.Index, variables: Sequence[Hashable]) -> None:
    """A ValueError unless every variable is one of the columns, and they are unique."""
    missing = [v for v in variables if v not in columns]
    if missing:
        raise ValueError(f"the data has no column for {missing!r}")
    if columns.duplicated().any():
        raise ValueError("the data has duplicate column names")


def encode(data: Any, variables: Sequence[Hashable], states: Mapping[Hashable, list[Any]]) -> Encoded:
    """Codes of `variables` from a DataFrame (columns by name, others ignored) or a 2-D
    integer array of codes (columns in the order of `variables`, negative = missing).

    States come from `states` where given, else (DataFrames only) the sorted observed
    values, as pgmpy does.
    """
    if isinstance(data, pd.DataFrame):
        check_columns(data.columns, variables)
        cols = {v: data[v] for v in variables}
        found = {v: list(states[v]) if v in states else _infer_states(v, cols[v]) for v in variables}
        codes = [_encode_column(v, cols[v], found[v]) for v in variables]
        dtype = code_dtype([len(s) for s in found.values()])
        columns = [np.ascontiguousarray(c, dtype=dtype) for c in codes]
        return Encoded(columns, found, len(data))
    if isinstance(data, np.ndarray):
        return _encode_codes(data, variables, states)
    raise TypeError(
        f"data must be a pandas DataFrame or a 2-D integer array of codes, got {type(data).__name__}"
    )


def _encode_codes(
    data: np.ndarray, variables: Sequence[Hashable], states: Mapping[Hashable, list[Any]]
) -> Encoded:
    if data.ndim != 2 or data.shape[1] != len(variables):
        raise ValueError(
            f"an array of codes must be 2-D with one column per variable ({len(variables)}), "
            f"got shape {data.shape}"
        )
    if data.dtype.kind not in "iu":
        raise TypeError(f"an array of codes must have an integer dtype, got {data.dtype}")
    unknown = [v for v in variables if v not in states]
    if unknown:
        raise ValueError(f"codes need the states of every variable; missing for {unknown!r}")
    found = {v: check_states(v, states[v]) for v in variables}
    cards = [len(s) for s in found.values()]
    if data.shape[0]:
        top = data.max(axis=0)
        for j, v in enumerate(variables):
            if top[j] >= cards[j]:
                row = int(np.argmax(data[:, j] >= cards[j]))
                raise ValueError(
                    f"code {int(data[row, j])} of column {v!r} (row {row}) is out of range for its "
                    f"{cards[j]} states"
                )
    dtype = code_dtype(cards)
    # Negative codes of any width mean missing: clip them to -1 before narrowing.
    clipped = np.maximum(data, -1) if data.dtype.kind == "i" else data
    block = np.ascontiguousarray(clipped.T, dtype=dtype)
    return Encoded(list(block), found, data.shape[0])
