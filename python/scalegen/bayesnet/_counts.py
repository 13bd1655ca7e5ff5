"""Family counts from a source of rows: a DataFrame or array of codes in memory, an
iterable of chunks read in one pass, or a dask DataFrame counted per partition on the
workers. Every path gives exactly the counts and states of the same rows in memory.

Chunks and partitions are counted separately and merged by value (a ``_Tally``): each
keeps its variables' states in order of first appearance and its nonzero cells as codes
over them, so a later chunk may bring new states; the states are sorted once at the end
(as pgmpy and the in-memory path do) and the cells recoded into the final tables.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import _core
from .._config import resolve_n_jobs
from ..utils._dask import is_dask_collection
from ..utils._validation import check_sample_weight
from ._data import check_columns, code_dtype, encode

Family = tuple[int, list[int]]

SOURCES = (
    "a pandas DataFrame, a 2-D integer array of codes, an iterable of DataFrame chunks "
    "(or of arrays of codes) or a dask DataFrame"
)
_END = object()


@dataclass
class Counted:
    counts: list[Any]  # one _core.FamilyCounts per family
    states: dict[Hashable, list[Any]]
    n_rows: int


def is_dask_frame(data: Any) -> bool:
    """True for a dask DataFrame, without importing dask."""
    return is_dask_collection(data) and isinstance(getattr(data, "columns", None), pd.Index)


class Chunks:
    """An iterable of chunks whose first chunk has been read: it fixes the kind (DataFrame
    or array of codes) and the columns that every later chunk must have. Iterable once."""

    def __init__(self, data: Iterable[Any]) -> None:
        self._rest: Iterator[Any] = iter(data)
        first = next(self._rest, _END)
        if first is _END:
            raise ValueError("the data is an empty iterable: there are no chunks to count")
        self._check_kind(first, 0)
        self._first: Any = first
        self.columns: pd.Index | None = first.columns if isinstance(first, pd.DataFrame) else None

    @staticmethod
    def _check_kind(chunk: Any, i: int) -> None:
        if not isinstance(chunk, pd.DataFrame | np.ndarray):
            raise TypeError(
                f"chunks must be pandas DataFrames (or 2-D arrays of codes), got {type(chunk).__name__} "
                f"(chunk {i})"
            )

    def __iter__(self) -> Iterator[Any]:
        first, self._first = self._first, None  # not kept alive while the rest is read
        if first is None:
            raise ValueError("these chunks have been read already")
        yield first
        del first
        columns = self.columns
        for i, chunk in enumerate(self._rest, start=1):
            self._check_kind(chunk, i)
            if isinstance(chunk, pd.DataFrame) != (columns is not None):
                raise TypeError(
                    f"chunk {i} is a {type(chunk).__name__}, unlike the first chunk: chunks must be all "
                    "DataFrames or all arrays of codes"
                )
            if columns is not None and set(chunk.columns) != set(columns):
                raise ValueError(
                    f"chunk {i} has the columns {list(chunk.columns)!r}, but the first chunk has "
                    f"{list(columns)!r}"
                )
            yield chunk


def as_source(data: Any) -> Any:
    """``data`` itself when it is a DataFrame, an array, a dask DataFrame or Chunks;
    Chunks for another iterable; else a TypeError."""
    if isinstance(data, pd.DataFrame | np.ndarray | Chunks) or is_dask_frame(data):
        return data
    if (
        isinstance(data, str | bytes | Mapping | pd.Series)
        or is_dask_collection(data)
        or not isinstance(data, Iterable)
    ):
        raise TypeError(f"data must be {SOURCES}, got {type(data).__name__}")
    return Chunks(data)


def source_columns(source: Any) -> list[Hashable] | None:
    """The column names of a source from as_source (None for arrays of codes)."""
    columns = None if isinstance(source, np.ndarray) else source.columns
    return None if columns is None else list(columns)


def count_families(
    data: Any,
    variables: Sequence[Hashable],
    states: Mapping[Hashable, list[Any]],
    families: Sequence[Family],
    sample_weight: Any = None,
    n_jobs: int | None = None,
) -> Counted:
    """Summed counts of every family over all rows of ``data`` (any source of
    ``as_source``), the states of every variable (``states`` where given, else the sorted
    observed values) and the number of rows. ``sample_weight``: one weight per row in
    memory, an iterable of one 1-D array per chunk, or a dask Series partitioned like a
    dask DataFrame."""
    n_threads = resolve_n_jobs(n_jobs)
    source = as_source(data)
    given = {v: list(states[v]) for v in variables if v in states}
    if is_dask_frame(source):
        from ..distributed._bayesnet import count_dask

        return count_dask(source, variables, given, families, sample_weight, n_jobs)
    if isinstance(source, Chunks):
        weights = None if sample_weight is None else _chunk_weight_iter(sample_weight)
        tally: _Tally | None = None
        i = -1
        for i, chunk in enumerate(source):
            w = None if weights is None else next(weights, _END)
            if w is _END:
                raise ValueError(f"sample_weight has {i} arrays, but the data has more chunks")
            part = _tally(chunk, variables, given, families, w, n_threads, f"chunk {i}")
            tally = part if tally is None else _merge(families, tally, part)
        if weights is not None and next(weights, _END) is not _END:
            raise ValueError(f"sample_weight has more arrays than the data has chunks ({i + 1})")
        assert tally is not None  # Chunks has at least one
        return _finish(tally, variables, given, families, sample_weight is not None)
    if source.shape[:1] == (0,):
        raise ValueError("the data has no rows")
    enc = encode(source, variables, given)
    w = check_sample_weight(sample_weight, enc.n_rows)
    if w is not None:
        with np.errstate(over="ignore"):  # an overflow is reported below, as an error
            check_weight_total(float(w.sum()))
    counts = _core.bn_count(enc.columns, enc.cards, families, w, -1, n_threads)
    return Counted(counts, enc.states, enc.n_rows)


def check_weight_total(total: float) -> None:
    """Counts are sums of weights: a total that overflows float64 would make the tables NaN."""
    if not math.isfinite(total):
        raise ValueError(
            "sample_weight sums to infinity in float64, so the counts would overflow: divide the "
            "weights by a common factor (with estimator='mle' the tables do not change)"
        )


# ---- tallies: counts keyed by value ---------------------------------------------------
@dataclass
class _Tally:
    states: list[list[Any]]  # per variable: given, or observed in order of first appearance
    cells: list[np.ndarray]  # per family: (n_cells, 1 + n_parents) codes (child, parents...)
    values: list[np.ndarray]  # per family: the count of each cell
    totals: list[float]  # per family: weight of the rows counted
    n_rows: int
    weight: float  # the rows' summed weight


def _chunk_weight_iter(sample_weight: Any) -> Iterator[Any]:
    if isinstance(sample_weight, str | bytes | Mapping) or not isinstance(sample_weight, Iterable):
        raise TypeError(
            "with chunked data, sample_weight must be None or an iterable of 1-D arrays, one per chunk; "
            f"got {type(sample_weight).__name__}"
        )
    return iter(sample_weight)


def _chunk_weights(w: Any, n: int) -> np.ndarray | None:
    """check_sample_weight, except that one chunk's weights may all be zero."""
    if w is None:
        return None
    arr = np.asarray(w)
    if arr.ndim != 1:
        raise ValueError(
            f"sample_weight must give one 1-D array of weights per chunk, got a {arr.ndim}-D one"
        )
    if arr.shape[0] == n and arr.dtype.kind in "fiub" and not arr.any():
        return np.zeros(n)
    return check_sample_weight(arr, n)


def _observed(col: pd.Series) -> list[Any]:
    """The column's values in order of first appearance, without missing ones."""
    values = col.unique()
    return values[~pd.isna(values)].tolist()


def _tally(
    chunk: Any,
    variables: Sequence[Hashable],
    given: Mapping[Hashable, list[Any]],
    families: Sequence[Family],
    weights: Any,
    n_threads: int,
    where: str,
) -> _Tally:
    """The tally of one in-memory chunk; ValueErrors say which chunk."""
    try:
        if isinstance(chunk, pd.DataFrame):
            check_columns(chunk.columns, variables)
            found = {v: given[v] if v in given else _observed(chunk[v]) for v in variables}
            enc = encode(chunk, variables, found)
        else:
            enc = encode(chunk, variables, given)
        w = _chunk_weights(weights, enc.n_rows)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    states = [enc.states[v] for v in variables]
    cards = [max(1, len(s)) for s in states]  # a variable never observed in this chunk: no cells
    counts = _core.bn_count(enc.columns, cards, families, w, -1, n_threads)
    cells, values = [], []
    for (_, parents), c in zip(families, counts, strict=True):
        j, s, n = c.nonzero()
        codes = [s, *np.unravel_index(j, [cards[p] for p in parents])] if parents else [s]
        cells.append(np.column_stack(codes).astype(np.int64, copy=False))
        values.append(n)
    with np.errstate(over="ignore"):  # an infinite total is refused by _finish
        weight = float(enc.n_rows) if w is None else float(w.sum())
    return _Tally(states, cells, values, [c.total for c in counts], enc.n_rows, weight)


def _merge(families: Sequence[Family], a: _Tally, b: _Tally) -> _Tally:
    """The tally of the rows of both: b's new states are appended to a's, b's cells
    recoded, equal cells summed."""
    states: list[list[Any]] = []
    recode: list[np.ndarray | None] = []
    for sa, sb in zip(a.states, b.states, strict=True):
        if sa == sb:
            states.append(sa)
            recode.append(None)
            continue
        merged = list(sa)
        position = {x: i for i, x in enumerate(sa)}
        for x in sb:
            if x not in position:
                position[x] = len(merged)
                merged.append(x)
        states.append(merged)
        recode.append(np.array([position[x] for x in sb], dtype=np.int64))
    cards = [max(1, len(s)) for s in states]
    cells, values = [], []
    for f, (child, parents) in enumerate(families):
        family = [child, *parents]
        bc = b.cells[f]
        if any(recode[u] is not None for u in family):
            bc = np.column_stack(
                [bc[:, k] if recode[u] is None else recode[u][bc[:, k]] for k, u in enumerate(family)]  # type: ignore[index]
            )
        both = np.concatenate([a.cells[f], bc])
        keys = np.ravel_multi_index(tuple(both.T), [cards[u] for u in family])
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        cells.append(both[first])
        values.append(
            np.bincount(inverse.ravel(), np.concatenate([a.values[f], b.values[f]]), minlength=unique.size)
        )
    totals = [x + y for x, y in zip(a.totals, b.totals, strict=True)]
    return _Tally(states, cells, values, totals, a.n_rows + b.n_rows, a.weight + b.weight)


def _merge_all(families: Sequence[Family], *tallies: _Tally) -> _Tally:
    return functools.reduce(functools.partial(_merge, families), tallies)


def _default_dense_limit(n_rows: int) -> int:
    """bn_count's choice of dense tables for n_rows (default_dense_limit in counting.cpp):
    the same representation makes structure scores add their terms in the same order."""
    return min(max(1 << 16, min(1 << 24, 4 * n_rows)), 1 << 31)


def _family_counts(
    card: int, parent_cards: list[int], codes: list[np.ndarray], values: np.ndarray, total: float, limit: int
) -> Any:
    """A FamilyCounts from the codes (child, parents...) of its nonzero cells: sparse
    above ``limit`` cells, as bn_count."""
    n_configs = math.prod(parent_cards)
    config = (
        np.ravel_multi_index(tuple(codes[1:]), parent_cards)
        if parent_cards
        else np.zeros(len(values), dtype=np.int64)
    )
    state: tuple[Any, ...]
    if card * n_configs > limit:
        keys = config.astype(np.uint64) * np.uint64(card) + codes[0].astype(np.uint64)
        order = np.argsort(keys, kind="stable")
        state = (card, n_configs, True, total, [], keys[order], values[order])
    else:
        dense = np.zeros(card * n_configs)
        dense[codes[0] * n_configs + config] = values
        state = (card, n_configs, False, total, dense, [], [])
    counts = _core.FamilyCounts.__new__(_core.FamilyCounts)
    counts.__setstate__(state)
    return counts


def _finish(
    tally: _Tally,
    variables: Sequence[Hashable],
    given: Mapping[Hashable, list[Any]],
    families: Sequence[Family],
    weighted: bool,
) -> Counted:
    """The summed FamilyCounts over the sorted states, in bn_count's representation."""
    if tally.n_rows == 0:
        raise ValueError("the data has no rows")
    check_weight_total(tally.weight)
    if weighted and not tally.weight > 0:
        raise ValueError("sample_weight sums to zero: at least one sample must have a positive weight")
    states: dict[Hashable, list[Any]] = {}
    recode: list[np.ndarray | None] = []
    for v, seen in zip(variables, tally.states, strict=True):
        if v in given:
            states[v] = list(given[v])
            recode.append(None)
            continue
        if not seen:
            raise ValueError(f"column {v!r} has no observed values; give its states")
        try:
            ordered = sorted(seen)
        except TypeError:
            raise ValueError(f"the values of column {v!r} cannot be ordered; give its states") from None
        position = {x: i for i, x in enumerate(ordered)}
        states[v] = ordered
        recode.append(np.array([position[x] for x in seen], dtype=np.int64))
    cards = [len(s) for s in states.values()]
    code_dtype(cards)  # too many states
    limit = _default_dense_limit(tally.n_rows)
    counts = []
    for f, (child, parents) in enumerate(families):
        cells, values = tally.cells[f], tally.values[f]
        codes = [
            cells[:, k] if recode[u] is None else recode[u][cells[:, k]]  # type: ignore[index]
            for k, u in enumerate([child, *parents])
        ]
        counts.append(
            _family_counts(cards[child], [cards[p] for p in parents], codes, values, tally.totals[f], limit)
        )
    return Counted(counts, states, tally.n_rows)
