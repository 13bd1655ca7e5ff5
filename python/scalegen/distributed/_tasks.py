"""What runs inside Dask tasks: the thread count of a task and a fixed-order tree reduction."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .._config import threads


def task_threads() -> int:
    """Threads for the kernels of one task.

    In a distributed worker: the worker's threads shared by the tasks running on it now
    (Dask sets OMP_NUM_THREADS=1 in workers, which says nothing about the worker's own
    thread count). Under the local threaded scheduler every core already runs a task: 1.
    """
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return 1
    running = max(1, len(worker.state.executing))
    return max(1, worker.state.nthreads // running)


@contextlib.contextmanager
def task_context() -> Iterator[None]:
    """Kernels called inside use task_threads() threads."""
    with threads(task_threads()):
        yield


def tree_reduce(parts: Sequence[Any], combine: Callable[..., Any], split_every: int = 8) -> Any:
    """Combines delayed parts in groups of split_every, level by level, always in the same
    order: the result does not depend on where or when the parts were computed. The tasks
    are named after combine (``functools.partial`` objects after the function they wrap)."""
    import dask

    level = list(parts)
    if not level:
        raise ValueError("nothing to reduce")
    name = getattr(combine, "__name__", None) or combine.func.__name__  # type: ignore[attr-defined]
    depth = 0
    while len(level) > 1:
        token = dask.base.tokenize(combine, level)
        level = [
            dask.delayed(combine, pure=True)(
                *level[i : i + split_every], dask_key_name=f"{name}-{depth}-{i}-{token}"
            )
            for i in range(0, len(level), split_every)
        ]
        depth += 1
    return level[0]


def compute(client: Any, *objs: Any) -> tuple[Any, ...]:
    """Computes on the client when one is given, else on dask's current scheduler."""
    import dask

    if client is not None:
        return tuple(client.compute(list(objs), sync=True))
    return dask.compute(*objs)


def persist(client: Any, *objs: Any) -> tuple[Any, ...]:
    import dask

    if client is not None:
        return tuple(client.persist(list(objs)))
    return dask.persist(*objs)
