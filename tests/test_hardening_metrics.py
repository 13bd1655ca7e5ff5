"""scalegen.metrics given hostile parameters and samples, in a child process under a memory
limit (isolated.run_cases): a clear ValueError/TypeError or finite numbers, never a crash,
a hang or a silently wrong answer."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fuzz_targets_metrics import CAPS, FUZZED
from isolated import TALLY, odd_values, run_batch

ODD_TEXT = st.sampled_from(["rbf", "laplacian", "median", "", "RBF", "cosine", "x" * 300])


@st.composite
def param_cases(draw: Any) -> tuple[str, dict[str, Any]]:
    entry = draw(st.sampled_from([e for e, names in FUZZED.items() if names]))
    name = draw(st.sampled_from(FUZZED[entry]))
    value = draw(st.one_of(odd_values, ODD_TEXT, st.lists(odd_values, max_size=3)))
    if name in CAPS and isinstance(value, int) and not isinstance(value, bool) and value > CAPS[name]:
        value = CAPS[name]
    return entry, {name: value}


ROWS = st.integers(0, 6)
ODD_ARRAYS = st.one_of(
    st.builds(lambda n, d: np.ones((n, d)), ROWS, st.integers(0, 3)),  # empty, single rows, no features
    st.builds(lambda v: np.full((8, 2), v), odd_values.filter(lambda v: isinstance(v, float | int))),
    st.sampled_from(
        [
            np.zeros(8),
            np.zeros((4, 2, 2)),
            np.full((8, 2), 1 + 1j),
            np.array([["a", "b"]] * 8),
            np.arange(16).reshape(8, 2).astype(np.float32) * 1e37,
            np.arange(16, dtype=np.int64).reshape(8, 2),
            np.array([[True, False]] * 8),
            [[1.0, 2.0]] * 8,
        ]
    ),
)


@st.composite
def data_cases(draw: Any) -> tuple[str, Any, Any]:
    entry = draw(st.sampled_from(["mmd", "energy", "manifold", "c2st", "sliced", "frechet"]))
    normal = np.random.default_rng(1).normal(size=(8, 2))
    odd = draw(ODD_ARRAYS)
    return (entry, odd, normal) if draw(st.booleans()) else (entry, normal, odd)


FUZZ = settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)


@FUZZ
@given(st.lists(param_cases(), min_size=40, max_size=40))
def test_fuzz_metric_parameters(cases: list[Any]) -> None:
    bases = [(entry, {}) for entry in FUZZED]
    results = run_batch("fuzz_targets_metrics:metric_params", bases, cases)
    for (entry, params), r in zip(cases, results[len(bases) :], strict=True):
        value = next(iter(params.values()))
        if r[0] == "ok" and isinstance(value, float) and math.isnan(value):
            raise AssertionError(f"NaN accepted: {entry} {params} -> {r}")


@FUZZ
@given(st.lists(data_cases(), min_size=30, max_size=30))
def test_fuzz_metric_samples(cases: list[Any]) -> None:
    normal = np.random.default_rng(2).normal(size=(8, 2))
    bases = [
        (entry, normal, normal + 1) for entry in ("mmd", "energy", "manifold", "c2st", "sliced", "frechet")
    ]
    run_batch("fuzz_targets_metrics:metric_data", bases, cases)


def test_fuzz_tally() -> None:
    """Prints what the fuzz tests above saw (run with -s)."""
    print("\nfuzz outcomes:", dict(sorted(TALLY.items())), "cases:", sum(TALLY.values()))
