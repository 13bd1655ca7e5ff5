"""Per-row predictions of a network's unobserved variables: the most probable joint state
and the marginals of the variables a DataFrame has no column for."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from .. import _core
from .._config import resolve_n_jobs
from ._data import code_dtype, encode

if TYPE_CHECKING:
    from ._model import BayesianNetwork


class Prediction:
    """BayesianNetwork's predict and predict_proba."""

    if TYPE_CHECKING:  # provided by BayesianNetwork
        _states: dict[Hashable, list[Any]]

    def _posterior_rows(self, data: Any, n_jobs: int | None) -> tuple[list[Hashable], Any, Any]:
        """(hidden variables, marginals, most probable joint codes) for every row."""
        net = cast("BayesianNetwork", self)
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        tables = net._checked_tables()
        hidden = [v for v in net._nodes if v not in data.columns]
        if not hidden:
            raise ValueError("the data has a column for every variable: there is nothing to predict")
        n_configs = int(np.prod([len(net._states[v]) for v in hidden], dtype=np.float64))
        if n_configs > 1 << 16:
            raise ValueError(
                f"the {len(hidden)} missing variables have {n_configs} joint states (at most 65,536 are "
                "enumerated per row); query fewer at a time or use VariableElimination"
            )
        observed = [v for v in net._nodes if v in data.columns]
        enc = encode(data, observed, net._states)
        dtype = code_dtype([len(net._states[v]) for v in net._nodes])
        codes = dict(zip(observed, enc.columns, strict=True))
        for v, col in codes.items():
            if col.size and int(col.min()) < 0:
                raise ValueError(f"column {v!r} is missing a value at row {int(np.argmax(col < 0))}")
        placeholder = np.zeros(len(data), dtype=dtype)  # hidden columns are not read
        columns = [
            np.ascontiguousarray(codes[v], dtype=dtype) if v in codes else placeholder for v in net._nodes
        ]
        index = {v: i for i, v in enumerate(net._nodes)}
        marginals, joint = _core.bn_posterior_rows(
            columns,
            [len(net._states[v]) for v in net._nodes],
            net._families(index, net._nodes),
            tables,
            [index[v] for v in hidden],
            resolve_n_jobs(n_jobs),
        )
        return hidden, marginals, joint

    def predict_proba(self, data: pd.DataFrame, n_jobs: int | None = None) -> pd.DataFrame:
        """P(v | row) for every variable v that is not a column of ``data``, given all the
        others (which must be observed): columns (variable, state), one row per row."""
        hidden, marginals, _ = self._posterior_rows(data, n_jobs)
        columns = pd.MultiIndex.from_tuples([(v, s) for v in hidden for s in self._states[v]])
        return pd.DataFrame(marginals, index=data.index, columns=columns)

    def predict(self, data: pd.DataFrame, n_jobs: int | None = None) -> pd.DataFrame:
        """The most probable joint state of the variables that are not columns of ``data``,
        given each row (pgmpy's ``predict``): categorical columns, one row per row."""
        hidden, _, joint = self._posterior_rows(data, n_jobs)
        return pd.DataFrame(
            {
                v: pd.Categorical.from_codes(
                    joint[:, j], categories=pd.Index(self._states[v]), validate=False
                )
                for j, v in enumerate(hidden)
            },
            index=data.index,
        )
