"""Metrics for discrete data: k-way marginal total-variation distance between two tables,
and the KL divergence between two Bayesian networks (exact by inference, or sampled).

pandas and scalegen.bayesnet are imported inside the functions: ``import scalegen.metrics``
stays light."""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ..utils._validation import check_int

# A subset's joint states are counted with np.bincount over the product of the column
# cardinalities while it has at most this many cells (bounded by a multiple of the row
# count, so that many small subsets do not each allocate a large table); beyond, the
# states seen are renumbered with np.unique first.
_MAX_BINCOUNT_CELLS = 1 << 22
_MIN_BINCOUNT_CELLS = 1 << 12

# kl_divergence(exact='auto') is exact while every family's joint marginal has at most
# this many cells (and inference stays within scalegen's limits), else it samples.
EXACT_MAX_CELLS = 1 << 20


def _is_frame(x: Any) -> bool:
    return hasattr(x, "columns") and hasattr(x, "dtypes") and hasattr(x, "iloc")


def _missing_error(which: str, column: Hashable, row: int) -> ValueError:
    return ValueError(
        f"{which} has a missing value (NaN/None) in column {column!r} at row {row}: "
        "marginal_tvd needs complete rows"
    )


def _frame_codes(real: Any, synthetic: Any) -> tuple[list[Hashable], list[np.ndarray], list[int]]:
    """Column names (in real's order) and each column's codes over the union of its values
    in both frames (real's rows first), with the number of codes of each column."""
    import pandas as pd
    from pandas.api.types import union_categoricals

    names = list(real.columns)
    for which, frame in (("real", real), ("synthetic", synthetic)):
        if frame.columns.duplicated().any():
            dup = frame.columns[frame.columns.duplicated()][0]
            raise ValueError(f"{which} has the column {dup!r} twice")
    only_real = [c for c in names if c not in set(synthetic.columns)]
    only_synth = [c for c in synthetic.columns if c not in set(names)]
    if only_real or only_synth:
        raise ValueError(
            "real and synthetic must have the same columns (matched by name): "
            f"only in real: {only_real}, only in synthetic: {only_synth}"
        )
    n_real = len(real)
    codes, cards = [], []
    for name in names:
        a, b = real[name], synthetic[name]
        combined = None
        if isinstance(a.dtype, pd.CategoricalDtype) and isinstance(b.dtype, pd.CategoricalDtype):
            try:
                combined = union_categoricals([a, b], ignore_order=True)
                c, k = np.asarray(combined.codes, dtype=np.int64), len(combined.categories)
            except TypeError:  # categories of different dtypes
                combined = None
        if combined is None:
            c, uniques = pd.factorize(pd.concat([a, b], ignore_index=True))
            c, k = np.asarray(c, dtype=np.int64), len(uniques)
        bad = np.flatnonzero(c < 0)
        if bad.size:
            row = int(bad[0])
            which = "real" if row < n_real else "synthetic"
            raise _missing_error(which, name, row if row < n_real else row - n_real)
        codes.append(c)
        cards.append(k)
    return names, codes, cards


def _array_codes(real: Any, synthetic: Any) -> tuple[list[Hashable], list[np.ndarray], list[int]]:
    """As _frame_codes for two 2-D arrays, whose columns match by position."""
    a, b = np.asarray(real), np.asarray(synthetic)
    for which, arr in (("real", a), ("synthetic", b)):
        if arr.ndim != 2:
            raise ValueError(f"{which} must be a DataFrame or a 2-D array, got a {arr.ndim}-D array")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"real has {a.shape[1]} columns but synthetic has {b.shape[1]}")
    n_real = a.shape[0]
    codes, cards = [], []
    for j in range(a.shape[1]):
        both = np.concatenate([a[:, j], b[:, j]])
        if both.dtype.kind in "fc":
            missing = np.isnan(both)
        elif both.dtype.kind in "mM":
            missing = np.isnat(both)
        elif both.dtype.kind == "O":
            import pandas as pd

            missing = pd.isna(both)
        else:
            missing = np.zeros(both.shape, dtype=bool)
        if missing.any():
            row = int(np.argmax(missing))
            which = "real" if row < n_real else "synthetic"
            raise _missing_error(which, j, row if row < n_real else row - n_real)
        if both.dtype.kind == "O":
            import pandas as pd

            c, uniques = pd.factorize(both)
            codes.append(np.asarray(c, dtype=np.int64))
            cards.append(len(uniques))
        else:
            uniques, c = np.unique(both, return_inverse=True)
            codes.append(np.asarray(c, dtype=np.int64).reshape(-1))
            cards.append(len(uniques))
    return list(range(a.shape[1])), codes, cards


def _joint_index(codes: list[np.ndarray], cards: list[int], limit: int) -> tuple[np.ndarray, int]:
    """One code per row for the joint state of several columns, and the number of codes.
    Mixed-radix while the product of the cardinalities stays within `limit`; the states
    seen so far are renumbered (np.unique) whenever it would not, so nothing overflows."""
    idx, size = codes[0], cards[0]
    for c, k in zip(codes[1:], cards[1:], strict=True):
        if size * k > limit:
            seen, idx = np.unique(idx, return_inverse=True)
            size = seen.size
        idx = idx * k + c
        size *= k
    if size > limit:
        seen, idx = np.unique(idx, return_inverse=True)
        size = seen.size
    return idx, size


def marginal_tvd(real: Any, synthetic: Any, order: int = 1, return_details: bool = False) -> Any:
    """Mean total-variation distance (TVD) between the k-way marginals (k = `order`: 1, 2 or 3)
    of two tables of discrete values.

    For every set of `order` columns, the TVD ``0.5 * sum |p - q|`` between the empirical joint
    distributions of those columns in `real` and in `synthetic`, over the union of the
    states both show (a state seen on one side only has probability 0 on the other); the
    result is the mean over all column sets, in [0, 1] (0: identical marginals).

    `real` and `synthetic` are pandas DataFrames with the same columns (matched by name,
    in any order) or 2-D arrays of codes (matched by position). Values compare by equality,
    so 1 and "1" are different states. Missing values raise a ValueError.

    Parameters
    ----------
    real, synthetic : pandas.DataFrame or 2-D array
        Two tables, both DataFrames or both arrays; they may have different row counts.
    order : {1, 2, 3}
        The number of columns in each marginal.
    return_details : bool
        Return the TVD of every column set instead of their mean.

    Returns
    -------
    float or pandas.Series
        The mean TVD. With ``return_details=True``, a Series named "tvd" of the TVD of every
        column set, largest first (the worst marginals at the top), indexed by column name
        for order 1 and by a MultiIndex of column tuples for orders 2 and 3; its mean is the
        summary value.

    Raises
    ------
    TypeError
        One DataFrame and one array, or a non-bool ``return_details``.
    ValueError
        Missing values, different columns, a table without rows or columns, or ``order``
        above the number of columns.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from scalegen.metrics import marginal_tvd
    >>> real = np.array([[0, 1], [1, 1], [0, 0], [1, 0]])
    >>> synthetic = np.array([[0, 1], [0, 1], [0, 0], [0, 0]])
    >>> marginal_tvd(real, synthetic)  # column 0: 0.5, column 1: 0.0
    0.25
    >>> real = pd.DataFrame({"colour": ["red", "red", "blue", "blue"], "size": ["S", "M", "S", "M"]})
    >>> synthetic = pd.DataFrame({"size": ["S", "S", "S", "M"], "colour": ["red", "blue", "red", "blue"]})
    >>> marginal_tvd(real, synthetic, return_details=True)
    size      0.25
    colour    0.00
    Name: tvd, dtype: float64
    >>> marginal_tvd(real, synthetic, order=2)
    0.25
    """
    order = check_int(order, "order", "marginal_tvd", low=1, high=3)
    if not isinstance(return_details, bool | np.bool_):
        raise TypeError(f"return_details must be True or False, got {return_details!r}")
    frames = _is_frame(real), _is_frame(synthetic)
    if frames[0] != frames[1]:
        raise TypeError(
            f"real is a {type(real).__name__} but synthetic is a {type(synthetic).__name__}: pass two "
            "DataFrames (columns matched by name) or two 2-D arrays (columns matched by position)"
        )
    names, codes, cards = _frame_codes(real, synthetic) if frames[0] else _array_codes(real, synthetic)
    if not names:
        raise ValueError("real and synthetic have no columns")
    n_real, n_total = len(real), codes[0].size
    n_synth = n_total - n_real
    if n_real == 0 or n_synth == 0:
        raise ValueError(f"real has {n_real} rows and synthetic {n_synth}: both need at least one")
    if order > len(names):
        raise ValueError(f"order={order} but the tables have only {len(names)} column(s)")
    limit = min(_MAX_BINCOUNT_CELLS, max(_MIN_BINCOUNT_CELLS, 8 * n_total))
    subsets = list(itertools.combinations(range(len(names)), order))
    tvds = np.empty(len(subsets))
    for s, subset in enumerate(subsets):
        idx, size = _joint_index([codes[j] for j in subset], [cards[j] for j in subset], limit)
        p = np.bincount(idx[:n_real], minlength=size) / n_real
        q = np.bincount(idx[n_real:], minlength=size) / n_synth
        tvds[s] = min(0.5 * float(np.abs(p - q).sum()), 1.0)
    if not return_details:
        return float(np.mean(tvds))
    import pandas as pd

    labels = [tuple(names[j] for j in subset) for subset in subsets]
    index = pd.Index([t[0] for t in labels]) if order == 1 else pd.MultiIndex.from_tuples(labels)
    return pd.Series(tvds, index=index, name="tvd").sort_values(ascending=False, kind="stable")


@dataclass(frozen=True)
class KLResult:
    """The result of `kl_divergence`: KL(P || Q) in nats, exact or estimated from a sample.

    Attributes
    ----------
    value : float
        The divergence; inf when Q gives probability zero to something P can produce.
    standard_error : float
        0.0 when exact; else the sample standard deviation (ddof=1) of log P(x) - log Q(x)
        over sqrt(n_samples).
    exact : bool
        True when computed by inference, False when estimated from rows drawn from P.
    n_samples : int
        The rows of the estimate; 0 when exact.

    Examples
    --------
    >>> from scalegen.datasets import load_network
    >>> from scalegen.metrics import kl_divergence
    >>> asia = load_network("asia")
    >>> kl_divergence(asia, asia)
    KLResult(value=0.0, standard_error=0.0, exact=True, n_samples=0)
    >>> result = kl_divergence(asia, asia, X=asia.sample(500, random_state=0))
    >>> result.exact, result.n_samples, result.value
    (False, 500, 0.0)
    """

    value: float
    standard_error: float
    exact: bool
    n_samples: int


def _check_networks(p: Any, q: Any) -> None:
    from ..bayesnet._model import BayesianNetwork

    for which, model in (("p_model", p), ("q_model", q)):
        if not isinstance(model, BayesianNetwork):
            raise TypeError(f"{which} must be a scalegen BayesianNetwork, got {type(model).__name__}")
    only_p = [v for v in p.nodes if v not in set(q.nodes)]
    only_q = [v for v in q.nodes if v not in set(p.nodes)]
    if only_p or only_q:
        raise ValueError(
            "p_model and q_model must be over the same variables: "
            f"only in p_model: {only_p}, only in q_model: {only_q}"
        )
    p.check_model()
    q.check_model()
    sp, sq = p.states, q.states
    for v in p.nodes:
        if set(sp[v]) != set(sq[v]) or len(sp[v]) != len(sq[v]):
            raise ValueError(
                f"variable {v!r} has the states {sp[v]!r} in p_model but {sq[v]!r} in q_model: "
                "both networks must name the same states"
            )


def _q_table(q: Any, v: Hashable, p_states: dict[Hashable, list[Any]]) -> tuple[list[Hashable], np.ndarray]:
    """Q's table of v over (v, *Q's parents), its states put in P's order."""
    cpd = q.cpd(v)
    scope = [v, *cpd.parents]
    table = np.asarray(cpd.values, dtype=np.float64)
    for axis, u in enumerate(scope):
        if cpd.states[u] != p_states[u]:
            position = {s: k for k, s in enumerate(cpd.states[u])}
            table = np.take(table, [position[s] for s in p_states[u]], axis=axis)
    return scope, table


def _exact_kl(p: Any, q: Any, auto: bool) -> float | None:
    """KL(P || Q) by exact inference on P, or None (auto only) when it would be too large."""
    from ..bayesnet._inference import DiscreteFactor, VariableElimination
    from ..utils._limits import LimitError

    states = p.states
    terms = [(+1, [v, *p.cpd(v).parents], np.asarray(p.cpd(v).values, dtype=np.float64)) for v in p.nodes]
    terms += [(-1, *_q_table(q, v, states)) for v in p.nodes]
    if auto and any(math.prod(len(states[u]) for u in scope) > EXACT_MAX_CELLS for _, scope, _ in terms):
        return None
    inference = VariableElimination(p)
    marginals: dict[frozenset[Hashable], DiscreteFactor] = {}
    sums: dict[int, list[float]] = {+1: [], -1: []}
    for sign, scope, table in terms:
        key = frozenset(scope)
        if key not in marginals:
            try:
                factor = inference.query(scope, joint=True)
            except LimitError:
                if auto:
                    return None
                raise
            marginals[key] = cast(DiscreteFactor, factor)  # joint=True: one factor
        factor = marginals[key]
        joint = np.transpose(factor.values, [factor.variables.index(u) for u in scope])
        mass = (joint > 0) & (table > 0) if sign > 0 else joint > 0
        if sign < 0 and not table[mass].all():
            return math.inf  # Q(x_v | parents) = 0 where P has mass
        sums[sign].append(float(np.dot(joint[mass], np.log(table[mass]))))
    return max(math.fsum(sums[+1]) - math.fsum(sums[-1]), 0.0)  # rounding below 0 clipped


def _codes_for_q(X: np.ndarray, p: Any, q: Any) -> np.ndarray:
    """An array of codes in P's variable and state order, rewritten in Q's."""
    sp, sq = p.states, q.states
    position = {v: j for j, v in enumerate(p.nodes)}
    columns = []
    for v in q.nodes:
        col = X[:, position[v]]
        if sp[v] != sq[v]:
            lut = np.array([sq[v].index(s) for s in sp[v]], dtype=np.int64)
            col = np.where(col >= 0, lut[np.clip(col, 0, len(lut) - 1)], col)
        columns.append(col)
    return np.stack(columns, axis=1).astype(X.dtype, copy=False)


def _sampled_kl(p: Any, q: Any, X: Any) -> KLResult:
    log_p = np.asarray(p.score_samples(X), dtype=np.float64)
    Xq = _codes_for_q(X, p, q) if isinstance(X, np.ndarray) and X.ndim == 2 else X
    log_q = np.asarray(q.score_samples(Xq), dtype=np.float64)
    n = log_p.size
    if n < 2:
        raise ValueError(f"X has {n} row(s): a sampled KL divergence needs at least 2")
    impossible = np.flatnonzero(~np.isfinite(log_p))
    if impossible.size:
        raise ValueError(
            f"row {int(impossible[0])} of X has probability zero under p_model: "
            "X must be a sample from p_model"
        )
    if not np.isfinite(log_q).all():
        return KLResult(math.inf, 0.0, False, n)  # a row P can produce and Q cannot
    diff = log_p - log_q
    return KLResult(float(np.mean(diff)), float(np.std(diff, ddof=1)) / math.sqrt(n), False, n)


def kl_divergence(
    p_model: Any,
    q_model: Any,
    X: Any = None,
    n_samples: int = 10_000,
    random_state: Any = None,
    exact: bool | str = "auto",
) -> KLResult:
    """KL(P || Q) = E_P[log P(x) - log Q(x)] between two BayesianNetworks over the same
    variables with the same state names (their order may differ), in nats.

    Exact (``X`` None and ``exact`` True, or 'auto' when feasible): the sum over P's
    families of E_P[log P(x_v | parents)] minus the same over Q's families, with the
    expectations taken under P's joint marginal of each family, computed by variable
    elimination on P. 'auto' samples instead when a family's marginal would have more than
    EXACT_MAX_CELLS (2**20) cells or inference exceeds scalegen's limits (LimitError).

    Sampled (``exact=False``, or 'auto' when infeasible): the mean of log P(x) - log Q(x)
    over ``n_samples`` rows drawn from P with ``random_state``, or over the rows of ``X``
    (a DataFrame, or a 2-D array of codes in P's node and state order) taken as a sample
    from P; a row impossible under P is a ValueError.

    Returns inf (never NaN) when Q gives probability zero to a state P can produce.

    Parameters
    ----------
    p_model, q_model : scalegen.BayesianNetwork
        P and Q, over the same variables and state names.
    X : None, DataFrame or 2-D array of codes
        Rows taken as a sample from P (then the estimate is sampled).
    n_samples : int
        Rows drawn from P for a sampled estimate without ``X``; at least 2.
    random_state : None, int, numpy Generator or RandomState
        Seeds that draw.
    exact : {'auto', True, False}
        Exact inference, sampling, or exact when feasible.

    Returns
    -------
    KLResult

    Raises
    ------
    TypeError
        A model that is not a scalegen BayesianNetwork.
    ValueError
        Networks over different variables or states, an invalid network, ``exact`` not
        one of the three, ``exact=True`` with ``X``, fewer than 2 rows, or a row of ``X``
        impossible under P.
    scalegen.LimitError
        ``exact=True`` when inference exceeds scalegen's limits.

    Examples
    --------
    P is the bundled "asia" network, Q the same structure fitted to 300 rows drawn from it:

    >>> from scalegen import BayesianNetwork
    >>> from scalegen.datasets import load_network
    >>> from scalegen.metrics import kl_divergence
    >>> asia = load_network("asia")
    >>> rows = asia.sample(300, random_state=0)
    >>> fitted = BayesianNetwork(asia.edges, states=asia.states).fit(rows, estimator="bayes")
    >>> exact = kl_divergence(asia, fitted)
    >>> exact.exact, round(exact.value, 3)
    (True, 0.022)
    >>> sampled = kl_divergence(asia, fitted, exact=False, n_samples=2000, random_state=0)
    >>> abs(sampled.value - exact.value) < 3 * sampled.standard_error
    True

    KL is not symmetric: asia's "either" is a logical OR, with zeros in its table, which the
    smoothed ``fitted`` does not have:

    >>> kl_divergence(fitted, asia).value
    inf
    """
    if not (isinstance(exact, bool) or (isinstance(exact, str) and exact == "auto")):
        raise ValueError(f"exact must be 'auto', True or False, got {exact!r}")
    _check_networks(p_model, q_model)
    if X is not None:
        if exact is True:
            raise ValueError("exact=True computes the divergence from the networks alone: do not pass X")
        return _sampled_kl(p_model, q_model, X)
    n = check_int(n_samples, "n_samples", "kl_divergence", low=2)
    if exact is not False:
        value = _exact_kl(p_model, q_model, auto=exact == "auto")
        if value is not None:
            return KLResult(value, 0.0, True, 0)
    return _sampled_kl(p_model, q_model, p_model.sample(n, random_state=random_state))
