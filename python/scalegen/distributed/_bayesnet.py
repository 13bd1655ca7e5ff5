"""Bayesian-network counts on a dask DataFrame: one tally per partition on the workers,
merged by a fixed tree; exactly the counts of the same rows in memory."""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import dask
import numpy as np
import pandas as pd
from dask.base import tokenize

from .._config import resolve_n_jobs
from ..bayesnet._counts import Counted, Family, _finish, _merge_all, _Tally, _tally
from ..bayesnet._data import check_columns
from ..utils._dask import is_dask_collection
from ._tasks import task_context, tree_reduce


def _count_partition(
    part: pd.DataFrame,
    variables: Sequence[Hashable],
    given: Mapping[Hashable, list[Any]],
    families: Sequence[Family],
    weights: Any,
    n_jobs: int | None,
    where: str,
) -> _Tally:
    with task_context():  # the worker's threads (an explicit n_jobs still wins)
        return _tally(part, variables, given, families, weights, resolve_n_jobs(n_jobs), where)


def count_dask(
    data: Any,
    variables: Sequence[Hashable],
    given: Mapping[Hashable, list[Any]],
    families: Sequence[Family],
    sample_weight: Any,
    n_jobs: int | None,
) -> Counted:
    """One task per partition (keys 'scalegen-bn-count-...') tallies it on a worker;
    tasks '_merge_all-...' merge eight tallies at a time, in a fixed tree."""
    check_columns(data.columns, variables)
    parts = list(data.to_delayed())
    weights: list[Any] = [None] * len(parts)
    if sample_weight is not None:
        if not is_dask_collection(sample_weight):
            raise TypeError(
                "with a dask DataFrame, sample_weight must be None or a dask Series partitioned like "
                f"the data, got {type(sample_weight).__name__}"
            )
        pieces = sample_weight.to_delayed()
        weights = list(np.ravel(pieces)) if isinstance(pieces, np.ndarray) else list(pieces)
        if len(weights) != len(parts):
            raise ValueError(f"sample_weight has {len(weights)} partitions, but the data has {len(parts)}")
    token = tokenize(data, list(variables), dict(given), list(families), sample_weight, n_jobs)
    count = dask.delayed(_count_partition, pure=True)
    tallies = [
        count(
            p,
            list(variables),
            dict(given),
            list(families),
            w,
            n_jobs,
            f"partition {i}",
            dask_key_name=f"scalegen-bn-count-{token}-{i}",
        )
        for i, (p, w) in enumerate(zip(parts, weights, strict=True))
    ]
    tally = tree_reduce(tallies, functools.partial(_merge_all, list(families))).compute()
    return _finish(tally, variables, given, families, sample_weight is not None)


def _em_partition(part: pd.DataFrame, net: Any, flat: list[np.ndarray]) -> Any:
    from ..bayesnet._em import frame_expected_counts

    with task_context():
        return frame_expected_counts(net, part, flat, None, resolve_n_jobs(None))


def expected_counts_dask(
    net: Any, data: Any, flat: list[np.ndarray]
) -> tuple[list[np.ndarray], float, float]:
    """EM's E-step on a dask DataFrame: one task per partition on the workers (the
    network's structure and states travel, not its tables), summed by a fixed tree."""
    from ..bayesnet._em import add_expected_counts
    from ..bayesnet._model import BayesianNetwork

    shape = BayesianNetwork(net.edges, net.nodes, net.states, latents=net.latents)
    token = tokenize(data, flat, net.nodes, net.edges)
    task = dask.delayed(_em_partition, pure=True)
    parts = [
        task(p, shape, flat, dask_key_name=f"scalegen-bn-em-{token}-{i}")
        for i, p in enumerate(data.to_delayed())
    ]
    return tree_reduce(parts, add_expected_counts).compute()
