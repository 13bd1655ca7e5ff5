"""Thread count shared by all kernels: set_num_threads, get_num_threads, threads()."""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import warnings
from collections.abc import Iterator

from .utils._validation import check_int


def available_cpus() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def _cgroup_cpu_quota() -> float | None:
    candidates = [
        ("/sys/fs/cgroup/cpu.max", None),  # cgroup v2: "quota period" or "max period"
        ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"),  # v1
    ]
    for path, period_path in candidates:
        try:
            with open(path) as f:
                fields = f.read().split()
            if period_path is None:
                quota, period = fields[0], fields[1]
            else:
                with open(period_path) as f:
                    quota, period = fields[0], f.read().strip()
        except (OSError, IndexError):
            continue
        if quota in ("max", "-1"):
            return None
        try:
            return int(quota) / int(period)
        except (ValueError, ZeroDivisionError):
            return None
    return None


def _default_threads() -> int:
    env = os.environ.get("SCALEGEN_NUM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"SCALEGEN_NUM_THREADS must be a positive integer, got {env!r}") from None
        if n >= 1:
            return min(n, available_cpus())
        raise ValueError(f"SCALEGEN_NUM_THREADS must be a positive integer, got {env!r}")
    return available_cpus()


_global_threads = _default_threads()
_override: contextvars.ContextVar[int | None] = contextvars.ContextVar("scalegen_threads", default=None)


def clamp_threads(n: int, what: str = "the number of threads") -> int:
    """The one cap on thread counts: more threads than cores only slow kernels down, and
    libgomp exits the process when it cannot create them, so asking for more gives the
    cores available, with a warning."""
    cores = available_cpus()
    if n > cores:
        warnings.warn(
            f"{what}={n} is more than the {cores} cores this process may use; using {cores}",
            UserWarning,
            stacklevel=3,
        )
        return cores
    return n


def _check(n: object) -> int:
    message = f"the number of threads must be an int of at least 1, got {n!r}"
    return clamp_threads(check_int(n, "n", "set_num_threads", low=1, message=message))


def set_num_threads(n: int) -> None:
    """Set how many threads scalegen's C++ kernels use by default, for the whole process.

    The default starts as the environment variable ``SCALEGEN_NUM_THREADS`` when it is
    set (capped at the cores available), else as the cores this process may use (its CPU
    affinity, capped by a cgroup CPU quota). An estimator's ``n_jobs``, when not None, and
    a ``with threads(...)`` block take precedence over it.

    Parameters
    ----------
    n : int
        The number of threads, at least 1. A count above the cores available is reduced
        to that number, with a ``UserWarning``.

    Raises
    ------
    InvalidParameterError
        If ``n`` is not an int (bools and floats such as ``2.0`` are refused) or is below 1.

    See Also
    --------
    get_num_threads, threads

    Examples
    --------
    >>> import scalegen
    >>> previous = scalegen.get_num_threads()
    >>> scalegen.set_num_threads(1)
    >>> scalegen.get_num_threads()
    1
    >>> scalegen.set_num_threads(previous)  # back to the previous default
    """
    global _global_threads
    _global_threads = _check(n)


def get_num_threads() -> int:
    """The number of threads the kernels use when an estimator's ``n_jobs`` is None.

    Returns
    -------
    int
        The count of the innermost ``with threads(...)`` block of the current Python
        thread or asyncio task, else the process-wide default of ``set_num_threads``.

    Examples
    --------
    >>> import scalegen
    >>> scalegen.get_num_threads() >= 1
    True
    >>> with scalegen.threads(1):
    ...     scalegen.get_num_threads()
    1
    """
    override = _override.get()
    return _global_threads if override is None else override


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """A context manager: the kernels use ``n`` threads inside the ``with`` block.

    The count holds for the Python thread (or asyncio task) that entered the block, so
    concurrent callers do not see each other's setting; the previous count comes back on
    exit, also when the block raises. An estimator's ``n_jobs``, when not None, still
    takes precedence.

    Parameters
    ----------
    n : int
        The number of threads, at least 1; a count above the cores available is reduced
        to that number, with a ``UserWarning``.

    Raises
    ------
    InvalidParameterError
        If ``n`` is not an int or is below 1 (raised on entering the block).

    Examples
    --------
    >>> import scalegen
    >>> before = scalegen.get_num_threads()
    >>> with scalegen.threads(1):
    ...     print(scalegen.get_num_threads())
    1
    >>> scalegen.get_num_threads() == before
    True
    """
    token = _override.set(_check(n))
    try:
        yield
    finally:
        _override.reset(token)


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Threads for an estimator's n_jobs: None -> the default, -1 -> all cores, -2 -> all but one."""
    if n_jobs is None:
        return get_num_threads()
    n = check_int(n_jobs, "n_jobs", "the estimator", message=f"n_jobs must be an int or None, got {n_jobs!r}")
    if n == 0:
        raise ValueError("n_jobs == 0 has no meaning: use None, a positive count or -1 for all cores")
    if n < 0:
        return max(1, available_cpus() + 1 + n)
    return clamp_threads(n, "n_jobs")
