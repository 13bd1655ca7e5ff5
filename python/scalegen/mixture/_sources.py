"""Where the rows of a mixture fit come from: one array, a memory-mapped array read in
chunks, or a function returning a fresh iterable of chunks for every pass.

Every EM iteration adds the E-step statistics of each chunk to one accumulator, block by
block (``_core.gmm_block_rows`` rows) in row order, so chunks whose sizes are multiples of
the block size give exactly the bits of one pass over all the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from .. import _core
from ..utils._validation import check_array, check_sample_weight, feature_names

BLOCK_ROWS = int(_core.gmm_block_rows)
CHUNK_BYTES = 64 << 20  # default chunk of a memory-mapped array
INIT_BYTES = 64 << 20  # default cap of the rows sampled for the initialisation
INIT_ROWS = 100_000


def default_chunk_rows(n_features: int) -> int:
    """About CHUNK_BYTES of float64 rows, a multiple of the block size."""
    return max(1, CHUNK_BYTES // (8 * n_features * BLOCK_ROWS)) * BLOCK_ROWS


def default_init_size(n_components: int, n_features: int) -> int:
    return max(10 * n_components, min(INIT_ROWS, INIT_BYTES // (8 * n_features)))


class Rows:
    """Rows read chunk by chunk; subclasses say where the chunks come from."""

    n_features: int | None = None  # None until the first chunk is read
    dtype: np.dtype = np.dtype(np.float64)
    names: np.ndarray | None = None
    n_rows: int | None = None  # known after the first full pass

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        raise NotImplementedError

    def e_step(
        self, covariance_type: str, kernel: dict[str, Any], n_threads: int, entropy: bool = False
    ) -> Any:
        """E-step statistics of all rows under the mixture the kernel arguments describe
        (weights or log_weights, means, prec_chol), accumulated in row order."""
        stats = None
        for X, sw in self.chunks():
            stats = e_step_chunk(X, sw, covariance_type, kernel, n_threads, entropy, into=stats)
        return stats

    def moments(self, n_threads: int, kind: str = "full") -> Any:
        """Statistics of all rows as one component, around the first row (the second
        moments of data far from the origin would cancel around zero); kind "diag" sums
        the squares only."""
        stats = None
        for X, sw in self.chunks():
            shift = X[:1].astype(np.float64) if stats is None else stats.shift
            stats = moments_chunk(X, sw, shift, n_threads, stats, kind)
        return stats

    def init_sample(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """A uniform sample of at most `size` rows (all of them, in order, when there are no
        more), with their weights: reservoir sampling over one pass."""
        reservoir: np.ndarray | None = None
        weights: np.ndarray | None = None
        seen = 0
        for X, sw in self.chunks():
            if reservoir is None:
                reservoir = np.empty((size, X.shape[1]), dtype=X.dtype)
                weights = np.ones(size) if sw is not None else None
            if weights is None and sw is not None:
                raise ValueError("either every chunk has sample weights or none has")
            m = X.shape[0]
            take = min(m, max(0, size - seen))  # filling the reservoir
            reservoir[seen : seen + take] = X[:take]
            if weights is not None:
                weights[seen : seen + take] = 1.0 if sw is None else sw[:take]
            if take < m:  # row t replaces a random slot with probability size / (t + 1)
                rows = np.arange(take, m)
                slots = rng.integers(0, seen + rows + 1)
                keep = slots < size
                rows, slots = rows[keep], slots[keep]
                # the last row drawn for a slot wins
                slots_rev, first = np.unique(slots[::-1], return_index=True)
                rows = rows[::-1][first]
                reservoir[slots_rev] = X[rows]
                if weights is not None:
                    weights[slots_rev] = 1.0 if sw is None else sw[rows]
            seen += m
        assert reservoir is not None  # chunks() yields at least one row
        n = min(seen, size)
        return reservoir[:n], None if weights is None else weights[:n]

    def _check_chunk(self, X: Any, sw: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """A validated chunk; the first one fixes the number of features and the dtype."""
        names = feature_names(X)
        arr = check_array(X, "X", "GaussianMixture")
        if self.n_features is None:
            self.n_features, self.dtype, self.names = arr.shape[1], arr.dtype, names
        elif arr.shape[1] != self.n_features:
            raise ValueError(
                f"a chunk has {arr.shape[1]} features, but the first chunk had {self.n_features}"
            )
        if arr.dtype != self.dtype:
            arr = arr.astype(self.dtype)
        return arr, check_sample_weight(sw, arr.shape[0], positive_sum=False)

    def _count(self, rows: int) -> None:
        if self.n_rows is not None and rows != self.n_rows:
            raise ValueError(
                f"the chunk source gave {self.n_rows} rows on one pass and {rows} on another: "
                "it must return a fresh iterable of the same chunks at every call"
            )
        if rows == 0:
            raise ValueError("the chunks hold no rows")
        self.n_rows = rows


def e_step_chunk(
    X: np.ndarray,
    sw: np.ndarray | None,
    covariance_type: str,
    kernel: dict[str, Any],
    n_threads: int,
    entropy: bool = False,
    into: Any = None,
) -> Any:
    """The C++ E-step of one chunk (added to `into` when given)."""
    return _core.gmm_e_step(
        X,
        sw,
        covariance_type,
        kernel.get("weights"),
        kernel["means"],
        kernel["prec_chol"],
        n_threads,
        into=into,
        log_weights=kernel.get("log_weights"),
        entropy=entropy,
    )


def moments_chunk(
    X: np.ndarray,
    sw: np.ndarray | None,
    shift: np.ndarray,
    n_threads: int,
    into: Any = None,
    kind: str = "full",
) -> Any:
    """Statistics ("full" or "diag") of a chunk's rows as a single component around shift (1 x d)."""
    labels = np.zeros(X.shape[0], dtype=np.int32)
    return _core.gmm_label_stats(X, labels, sw, kind, shift, n_threads, into=into)


class InMemoryRows(Rows):
    """One validated array: a single chunk."""

    def __init__(self, X: np.ndarray, sw: np.ndarray | None) -> None:
        self.X, self.sw = X, sw
        self.n_features, self.dtype, self.n_rows = X.shape[1], X.dtype, X.shape[0]

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        yield self.X, self.sw

    def init_sample(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        return self.X, self.sw  # the in-memory fit initialises from all its rows


class MemmapRows(Rows):
    """A memory-mapped array (and weights) read in chunks of chunk_rows rows: no copy of
    the whole array is made, whatever its dtype."""

    def __init__(self, X: np.memmap, sample_weight: Any, chunk_rows: int | None) -> None:
        if X.ndim != 2:
            check_array(X[:0] if X.ndim else X, "X", "GaussianMixture")  # the usual shape message
        if X.shape[0] == 0:
            raise ValueError("X has no rows")
        if X.shape[1] == 0:  # the in-memory fit's message; the chunk size would divide by zero
            raise ValueError(
                f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required by "
                "GaussianMixture."
            )
        if sample_weight is not None:
            w = np.asarray(sample_weight)
            if w.ndim == 1 and w.shape[0] != X.shape[0]:
                raise ValueError(f"sample_weight.shape == {w.shape}, expected ({X.shape[0]},)!")
        self.X, self.sample_weight = X, sample_weight
        self.n_features = X.shape[1]
        self.dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        self.chunk_rows = chunk_rows or default_chunk_rows(X.shape[1])

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        n, step, w = self.X.shape[0], self.chunk_rows, self.sample_weight
        for r0 in range(0, n, step):
            wc = None if w is None else (w if np.ndim(w) == 0 else w[r0 : r0 + step])
            yield self._check_chunk(self.X[r0 : r0 + step], wc)
        self._count(n)


class ChunkedRows(Rows):
    """Chunks from a function that returns a fresh iterable at every call; a chunk is an
    array-like (or DataFrame) of rows or an (X, sample_weight) pair."""

    def __init__(self, make_chunks: Callable[[], Iterable[Any]]) -> None:
        self.make_chunks = make_chunks

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        source = self.make_chunks()
        if not isinstance(source, Iterable) or isinstance(source, str | bytes):
            raise TypeError(
                f"the chunk function must return an iterable of chunks, got {type(source).__name__}"
            )
        rows = 0
        weighted: bool | None = None
        for item in source:
            X, sw = item if isinstance(item, tuple) and len(item) == 2 else (item, None)
            if weighted is None:
                weighted = sw is not None
            elif weighted != (sw is not None):
                raise ValueError("either every chunk has sample weights or none has")
            X, sw = self._check_chunk(X, sw)
            rows += X.shape[0]
            yield X, sw
        self._count(rows)


def rows_of(X: Any, sample_weight: Any, chunk_rows: int | None) -> Rows | None:
    """The chunked source for X, or None when X is an in-memory array-like."""
    if isinstance(X, np.memmap):
        return MemmapRows(X, sample_weight, chunk_rows)
    if callable(X) and not hasattr(X, "__array__"):
        if sample_weight is not None:
            raise ValueError(
                "with a chunk function, give the weights in the chunks as (X, sample_weight) pairs"
            )
        return ChunkedRows(X)
    if isinstance(X, Iterator):
        raise TypeError(
            "X is an iterator, which EM cannot read more than once: pass a function returning a "
            "fresh iterable of chunks (e.g. lambda: read_chunks(path)), or call partial_fit per chunk"
        )
    return None
