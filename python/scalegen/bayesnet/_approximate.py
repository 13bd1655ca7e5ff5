"""Approximate inference by likelihood weighting (C++), for networks too large to eliminate."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import pandas as pd

from .. import _core
from .._config import resolve_n_jobs
from ..utils._limits import check_tensor
from ..utils._validation import check_random_state, check_scalar
from ._model import BayesianNetwork

_SAMPLE_BLOCK = 4096  # kSampleBlock in cpp/src/bayesnet/sampling.cpp


def check_evidence(model: BayesianNetwork, evidence: Mapping[Hashable, Any] | None) -> dict[Hashable, int]:
    """Evidence as variable -> state code; unknown variables or states are ValueErrors."""
    states = model.states
    codes: dict[Hashable, int] = {}
    for v, s in (evidence or {}).items():
        if v not in states:
            raise ValueError(f"evidence names {v!r}, which is not a variable of the network")
        if s not in states[v]:
            raise ValueError(f"evidence {v!r}={s!r} is not one of its states {states[v]}")
        codes[v] = states[v].index(s)
    return codes


class ApproximateInference:
    """Posterior marginals estimated by likelihood weighting, in C++.

    Samples are drawn in topological order with the evidence clamped, each weighted by
    the probability of the evidence given its parents. Every estimate comes with its
    standard error, and the query reports the effective sample size; the draws depend
    only on ``random_state`` (not on ``n_jobs``). Use it when ``VariableElimination``
    would build factors too large for memory; unlikely evidence needs more samples.

    Parameters
    ----------
    model : BayesianNetwork
        A network with all its tables (used as it is at each query, not copied).

    Raises
    ------
    ValueError
        If the model fails ``check_model`` (a table missing or not normalized).

    Examples
    --------
    >>> from scalegen.bayesnet import ApproximateInference, VariableElimination
    >>> from scalegen.datasets import load_network
    >>> asia = load_network("asia")
    >>> evidence = {"smoke": "yes", "xray": "yes"}
    >>> approx = ApproximateInference(asia).query(["lung"], evidence, n_samples=20_000, random_state=0)
    >>> approx.round(2)
                    probability  std_error
    variable state
    lung     yes           0.65       0.01
             no            0.35       0.01
    >>> exact = VariableElimination(asia).query(["lung"], evidence).values
    >>> bool(abs(approx["probability"].to_numpy() - exact).max() < 3 * approx["std_error"].max())
    True
    """

    def __init__(self, model: BayesianNetwork) -> None:
        model.check_model()
        self.model = model

    def query(
        self,
        variables: Sequence[Hashable],
        evidence: Mapping[Hashable, Any] | None = None,
        n_samples: int = 100_000,
        random_state: Any = None,
        n_jobs: int | None = None,
    ) -> pd.DataFrame:
        """A DataFrame indexed by (variable, state) with columns ``probability`` and
        ``std_error``; ``attrs["effective_samples"]`` is (sum w)^2 / sum w^2."""
        m = self.model
        if isinstance(variables, str) or not isinstance(variables, Sequence) or not variables:
            raise ValueError(f"variables must be a non-empty list of variable names, got {variables!r}")
        codes = check_evidence(m, evidence)
        for v in variables:
            if v not in m.states:
                raise ValueError(f"{v!r} is not a variable of the network")
            if v in codes:
                raise ValueError(f"{v!r} is both queried and observed")
        n_samples = check_scalar(n_samples, "n_samples", "ApproximateInference.query", int, low=1)
        nodes, order = m.nodes, m.topological_order()
        # the C++ core keeps 2 + 2 * (query states) sums per block of _SAMPLE_BLOCK samples
        width = sum(len(m.states[v]) for v in variables)
        check_tensor(
            (-(-n_samples // _SAMPLE_BLOCK), 2 + 2 * width), 8, f"likelihood weighting of {n_samples} samples"
        )
        index = {v: i for i, v in enumerate(nodes)}
        tables = [m.cpd(v).values.ravel() for v in order]
        probability, std_error, effective = _core.bn_likelihood_weighting(
            [len(m.states[v]) for v in nodes],
            m._families(index, order),
            tables,
            [codes.get(v, -1) for v in nodes],
            [index[v] for v in variables],
            n_samples,
            int(check_random_state(random_state).integers(0, 2**63)),
            resolve_n_jobs(n_jobs),
        )
        rows = pd.MultiIndex.from_tuples(
            [(v, s) for v in variables for s in m.states[v]], names=["variable", "state"]
        )
        out = pd.DataFrame({"probability": probability, "std_error": std_error}, index=rows)
        out.attrs["effective_samples"] = effective
        return out
