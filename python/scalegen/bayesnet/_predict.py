"""Per-row predictions of a network's unobserved variables: the marginals of every missing
cell (a junction tree calibrated per row in C++), the log-probability of the observed
cells, and the most probable joint state of each row's missing cells."""

from __future__ import annotations

import math
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
        cards, families = self._cards_and_families()
        tree = compile_tree(families, cards)
        return _core.bn_row_posteriors(
            columns,
            cards,
            families,
            tables,
            tree.tree,
            tree.potentials(families, cards, tables),
            [net._nodes.index(v) for v in targets],
            resolve_n_jobs(n_jobs),
        )

    def _cards_and_families(self) -> tuple[list[int], Any]:
        """The core's description of the network: cards, and (child, parents) by index."""
        net = cast("BayesianNetwork", self)
        index = {v: i for i, v in enumerate(net._nodes)}
        return [len(net._states[v]) for v in net._nodes], net._families(index, net._nodes)

    def _enumerated(
        self, columns: list[np.ndarray], hidden: list[Hashable], tables: list[np.ndarray], n_jobs: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(marginals, most probable joint codes) of the ``hidden`` variables per row, every
        other variable observed, by enumerating their joint states on a junction tree."""
        net = cast("BayesianNetwork", self)
        cards, families = self._cards_and_families()
        return _core.bn_posterior_rows(
            columns, cards, families, tables, [net._nodes.index(v) for v in hidden], resolve_n_jobs(n_jobs)
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
        """The most probable joint state of each row's unobserved variables given its observed
        cells (pgmpy's ``predict``, which takes missing columns only): a categorical column
        for every variable that is not a column of ``data`` or has a missing cell (NaN or
        None) in it, holding the observed value where there is one.

        When only whole columns are missing and they have at most 65,536 joint states, a
        junction tree per row enumerates them; otherwise each row runs max-product variable
        elimination (C++, threads over rows). Ties between equally probable states may be
        broken differently by the two (and by pgmpy). A row of probability zero is a
        ValueError."""
        from ._inference import HEURISTICS, VariableElimination

        net = cast("BayesianNetwork", self)
        tables = net._checked_tables()
        columns, _ = self._codes_with_gaps(data, absent_ok=net._nodes)
        targets = [v for v, col in zip(net._nodes, columns, strict=True) if int(col.min()) < 0]
        if not targets:
            raise ValueError("every cell of the data is observed: there is nothing to predict")
        whole_columns = all(v not in data.columns for v in targets)
        n_configs = math.prod(len(net._states[v]) for v in targets)
        if whole_columns and n_configs <= 1 << 16:
            _, joint = self._enumerated(columns, targets, tables, n_jobs)
        else:
            check_tensor((len(data), len(net._nodes)), 4, f"the states of {len(data)} rows")
            engine = VariableElimination(net)._engine
            best = engine.most_probable_rows(columns, HEURISTICS["greedy"], resolve_n_jobs(n_jobs))
            joint = best[:, [net._nodes.index(v) for v in targets]]
        return pd.DataFrame(
            {
                v: pd.Categorical.from_codes(
                    joint[:, j], categories=pd.Index(self._states[v]), validate=False
                )
                for j, v in enumerate(targets)
            },
            index=data.index,
        )
