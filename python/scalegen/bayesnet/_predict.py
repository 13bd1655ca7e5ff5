"""Per-row predictions of a network's unobserved variables: the marginals of every missing
cell (a junction tree calibrated per row in C++), the log-probability of the observed
cells, and the most probable joint state of the columns a DataFrame lacks."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from .. import _core
from .._config import resolve_n_jobs
from ..utils._limits import check_tensor
from ._data import code_dtype, encode
from ._junction import compile_tree

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

    def _codes_with_gaps(
        self, data: Any, absent_ok: Any
    ) -> tuple[list[np.ndarray], dict[Hashable, list[Any]]]:
        """One code column per variable (-1: missing) for a DataFrame that may lack the
        columns of the variables in ``absent_ok``, and the states of those it has (the
        network's, else the sorted observed values)."""
        net = cast("BayesianNetwork", self)
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        if len(data) == 0:
            raise ValueError("the data has no rows")
        present = [v for v in net._nodes if v in data.columns or v not in absent_ok]
        enc = encode(data, present, net._states)
        dtype = code_dtype(
            [len(enc.states[v]) if v in enc.states else len(net._states[v]) for v in net._nodes]
        )
        by_name = dict(zip(present, enc.columns, strict=True))
        gap = np.full(len(data), -1, dtype=dtype)
        columns = [np.ascontiguousarray(by_name[v], dtype=dtype) if v in by_name else gap for v in net._nodes]
        return columns, enc.states

    def _row_posteriors(
        self, columns: list[np.ndarray], targets: list[Hashable], tables: list[np.ndarray], n_jobs: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(log P(observed cells) per row, the targets' marginals side by side per row), under
        ``tables`` (``_checked_tables()``, in the order of each table's parents)."""
        net = cast("BayesianNetwork", self)
        index = {v: i for i, v in enumerate(net._nodes)}
        families = net._families(index, net._nodes)
        cards = [len(net._states[v]) for v in net._nodes]
        tree = compile_tree(families, cards)
        return _core.bn_row_posteriors(
            columns,
            cards,
            families,
            tables,
            tree.tree,
            tree.potentials(families, cards, tables),
            [index[v] for v in targets],
            resolve_n_jobs(n_jobs),
        )

    def predict_proba(self, data: pd.DataFrame, n_jobs: int | None = None) -> pd.DataFrame:
        """P(v | the row's observed cells) for every variable v that is not a column of
        ``data`` or has a missing cell (NaN or None) in it: columns (variable, state), one
        row per row; where v is observed, the indicator of its state. Exact: a junction tree
        calibrated per row in C++ on the entries that agree with the row, threads over rows.
        A row of probability zero is a ValueError."""
        net = cast("BayesianNetwork", self)
        tables = net._checked_tables()  # first: a network without its tables can predict nothing
        columns, _ = self._codes_with_gaps(data, absent_ok=net._nodes)
        targets = [v for v, col in zip(net._nodes, columns, strict=True) if col.size and int(col.min()) < 0]
        if not targets:
            raise ValueError("every cell of the data is observed: there is nothing to predict")
        width = sum(len(net._states[v]) for v in targets)
        check_tensor((len(data), width), 8, f"the posteriors of {len(data)} rows x {width} states")
        log_p, marginals = self._row_posteriors(columns, targets, tables, n_jobs)
        if not np.isfinite(log_p).all():
            row = int(np.argmin(np.isfinite(log_p)))
            raise ValueError(f"row {row} has probability zero under the network's tables")
        names = pd.MultiIndex.from_tuples([(v, s) for v in targets for s in self._states[v]])
        return pd.DataFrame(marginals, index=data.index, columns=names)

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
