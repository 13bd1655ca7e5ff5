"""Recognising dask collections without importing dask (scalegen imports it only when
given one)."""

from __future__ import annotations

from typing import Any


def is_dask_collection(obj: Any, module: str = "dask") -> bool:
    """True for a dask collection whose type lives in ``module`` ("dask.array",
    "dask.dataframe", or any of dask's)."""
    return type(obj).__module__.startswith(module) and hasattr(obj, "to_delayed")
