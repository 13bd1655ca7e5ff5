"""Variable elimination: posteriors and MAP against pgmpy and brute force, bad input."""

from __future__ import annotations

import itertools
import string
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scalegen.bayesnet import BayesianNetwork, TabularCPD, read_bif
from scalegen.bayesnet._inference import HEURISTICS, DiscreteFactor, VariableElimination

pgmpy = pytest.importorskip("pgmpy")
EXAMPLES = Path(pgmpy.__file__).parent / "utils" / "example_models"
NETWORKS = ["asia", "alarm", "child", "insurance", "hailfinder", "win95pts"]
TOL = 1e-10


@cache
def ours(name: str) -> tuple[BayesianNetwork, VariableElimination]:
    model = read_bif(EXAMPLES / f"{name}.bif.gz")
    return model, VariableElimination(model)


@cache
def theirs(name: str):  # type: ignore[no-untyped-def]
    from pgmpy.inference import VariableElimination as PgmpyVE
    from pgmpy.utils import get_example_model

    return PgmpyVE(get_example_model(name))


def fixed_order(ve: VariableElimination, variables: list[Any], evidence: dict[Any, Any]) -> list[Any]:
    """Our min-fill order, handed to pgmpy: its own ties are broken by set iteration, which
    follows PYTHONHASHSEED, and some of those orders need many GB (hailfinder's MAP, 5 GB and
    more). pgmpy drops the names its pruned model lacks."""
    keep, ev = ve._variable_ids(variables), ve._evidence_ids(evidence)
    order = ve._engine.elimination_order(keep, list(ev.items()), HEURISTICS["minfill"])
    rest = [i for i in range(len(ve._nodes)) if i not in order and i not in ev and i not in keep]
    return [ve._nodes[i] for i in [*order, *rest]]


def random_queries(
    model: BayesianNetwork,
    n: int,
    seed: int,
    n_query: tuple[int, int] = (1, 3),
    n_evidence: tuple[int, int] = (0, 4),
) -> list[tuple[list[Any], dict[Any, Any]]]:
    """(query variables, evidence) pairs; the evidence is a sampled row, so it is possible."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        nq = int(rng.integers(n_query[0], n_query[1] + 1))
        ne = int(rng.integers(n_evidence[0], n_evidence[1] + 1))
        picked = [model.nodes[i] for i in rng.choice(len(model.nodes), nq + ne, replace=False)]
        row = model.sample(1, random_state=seed * 1000 + k).iloc[0]
        out.append((picked[:nq], {v: row[v] for v in picked[nq:]}))
    return out


def aligned(factor, variables: list[Any]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """A pgmpy factor's values with its axes in the order of ``variables``."""
    return np.transpose(factor.values, [factor.variables.index(v) for v in variables])


@pytest.fixture(autouse=True)
def _quiet() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ---- against pgmpy ---------------------------------------------------------------------
@pytest.mark.parametrize("name", NETWORKS)
def test_joint_posteriors_match_pgmpy(name: str) -> None:
    model, ve = ours(name)
    for variables, evidence in random_queries(model, 15, seed=1):
        mine = ve.query(variables, evidence)
        assert isinstance(mine, DiscreteFactor)
        assert mine.variables == variables
        ref = theirs(name).query(
            variables,
            evidence,
            joint=True,
            elimination_order=fixed_order(ve, variables, evidence),
            show_progress=False,
        )
        assert all(ref.state_names[v] == mine.states[v] for v in variables)
        np.testing.assert_allclose(mine.values, aligned(ref, variables), rtol=0, atol=TOL)
        assert mine.values.sum() == pytest.approx(1, abs=1e-12)


@pytest.mark.parametrize("name", NETWORKS)
def test_marginals_match_pgmpy(name: str) -> None:
    model, ve = ours(name)
    for variables, evidence in random_queries(model, 4, seed=2, n_query=(2, 3)):
        mine = ve.query(variables, evidence, joint=False)
        assert isinstance(mine, dict) and list(mine) == variables
        ref = theirs(name).query(
            variables,
            evidence,
            joint=False,
            elimination_order=fixed_order(ve, variables, evidence),
            show_progress=False,
        )
        for v in variables:
            np.testing.assert_allclose(mine[v].values, ref[v].values, rtol=0, atol=TOL)


@pytest.mark.parametrize("name", NETWORKS)
def test_map_query_matches_pgmpy(name: str) -> None:
    model, ve = ours(name)
    compared = 0
    for variables, evidence in random_queries(model, 6, seed=3):
        top = np.sort(ve.query(variables, evidence).values.ravel())[::-1]
        if top.size > 1 and top[0] - top[1] <= 1e-9:
            continue  # a tie: pgmpy breaks it in its own variable order
        ref = theirs(name).map_query(
            variables, evidence, elimination_order=fixed_order(ve, variables, evidence), show_progress=False
        )
        assert ve.map_query(variables, evidence) == ref
        compared += 1
    assert compared >= 3


def test_many_marginals_computed_one_by_one() -> None:
    """joint=False over many variables must not build their joint table."""
    model, ve = ours("alarm")
    evidence = {"HR": "HIGH", "BP": "LOW"}
    variables = [v for v in model.nodes if v not in evidence]
    marginals = ve.query(variables, evidence, joint=False)
    assert isinstance(marginals, dict)
    for v in variables[::9]:
        single = ve.query([v], evidence)
        assert isinstance(single, DiscreteFactor)
        np.testing.assert_allclose(marginals[v].values, single.values, rtol=0, atol=1e-13)


@pytest.mark.parametrize(
    "order", ["greedy", "MinFill", "WeightedMinFill", "MinNeighbors", "MinWeight", "minfill", "list"]
)
def test_elimination_orders_agree(order: str) -> None:
    model, ve = ours("alarm")
    for variables, evidence in random_queries(model, 5, seed=4):
        how: Any = order
        if order == "list":
            how = [v for v in reversed(model.nodes) if v not in variables and v not in evidence]
        mine = ve.query(variables, evidence, elimination_order=how)
        base = ve.query(variables, evidence)
        np.testing.assert_allclose(mine.values, base.values, rtol=0, atol=1e-13)  # type: ignore[union-attr]


# ---- brute force on asia -----------------------------------------------------------------
@cache
def asia_joint() -> tuple[list[Any], np.ndarray]:
    """The full joint table of asia: every table multiplied out over all 2^8 states."""
    model, _ = ours("asia")
    letters = dict(zip(model.nodes, string.ascii_letters, strict=False))
    operands: list[Any] = []
    specs = []
    for v in model.nodes:
        cpd = model.cpd(v)
        operands.append(cpd.values)
        specs.append("".join(letters[u] for u in [v, *cpd.parents]))
    out = "".join(letters[v] for v in model.nodes)
    return model.nodes, np.einsum(f"{','.join(specs)}->{out}", *operands)


ASIA_EVIDENCE = [
    {},
    {"dysp": "yes"},
    {"xray": "yes", "smoke": "no"},
    {"either": "yes", "bronc": "no", "asia": "yes"},
]


@pytest.mark.parametrize("evidence", ASIA_EVIDENCE)
def test_asia_brute_force(evidence: dict[str, str]) -> None:
    model, ve = ours("asia")
    nodes, joint = asia_joint()
    index = tuple(model.states[v].index(evidence[v]) if v in evidence else slice(None) for v in nodes)
    conditioned = joint[index]
    free = [v for v in nodes if v not in evidence]
    conditioned = conditioned / conditioned.sum()
    for v in free:
        expected = conditioned.sum(axis=tuple(i for i, u in enumerate(free) if u != v))
        got = ve.query([v], evidence)
        np.testing.assert_allclose(got.values, expected, rtol=0, atol=1e-14)  # type: ignore[union-attr]
    # map_query(None): the most probable joint state of all unobserved variables
    best = np.unravel_index(int(np.argmax(conditioned)), conditioned.shape)
    expected_map = {v: model.states[v][int(k)] for v, k in zip(free, best, strict=True)}
    assert ve.map_query(evidence=evidence) == expected_map


@cache
def dense_network() -> tuple[BayesianNetwork, np.ndarray]:
    """7 variables of 8 states, each with up to 3 parents, random tables with some zeros,
    and its full joint (2 million cells): its eliminations form products large enough to
    run on threads and to make the greedy heuristic compare orders."""
    rng = np.random.default_rng(7)
    names = [f"v{i}" for i in range(7)]
    parents = {
        v: [names[j] for j in sorted(rng.choice(i, min(i, 3), replace=False))] for i, v in enumerate(names)
    }
    model = BayesianNetwork([(p, v) for v in names for p in parents[v]], nodes=names)
    letters = dict(zip(names, string.ascii_letters, strict=False))
    operands: list[Any] = []
    for v in names:
        table = rng.dirichlet(np.ones(8), size=8 ** len(parents[v])).T
        table[0, rng.random(table.shape[1]) < 0.2] = 0.0  # some impossible states
        table /= table.sum(axis=0)
        model.add_cpds(TabularCPD(v, table, parents[v], states={u: list(range(8)) for u in [v, *parents[v]]}))
        operands += [model.cpd(v).values, [ord(letters[u]) - ord("a") for u in [v, *parents[v]]]]
    return model, np.einsum(*operands, list(range(7)))


@pytest.mark.parametrize("order", ["greedy", "MinFill", "WeightedMinFill", "MinWeight"])
def test_dense_network_brute_force_on_one_and_two_threads(order: str) -> None:
    import scalegen

    model, joint = dense_network()
    ve = VariableElimination(model)
    rng = np.random.default_rng(3)
    row = model.sample(1, random_state=5).iloc[0]
    picks = [["v6", "v4"]]  # without evidence: its products run on threads
    picks += [[f"v{i}" for i in rng.choice(7, int(rng.integers(2, 5)), replace=False)] for _ in range(6)]
    for picked in picks:
        variables, observed = picked[:2], picked[2:]
        evidence = {v: int(row[v]) for v in observed}
        index = tuple(evidence.get(f"v{i}", slice(None)) for i in range(7))
        free = [f"v{i}" for i in range(7) if f"v{i}" not in evidence]
        table = joint[index]
        expected = table.sum(axis=tuple(k for k, v in enumerate(free) if v not in variables))
        if free.index(variables[0]) > free.index(variables[1]):
            expected = expected.T
        answers = []
        for threads in (1, 2):
            before = scalegen.get_num_threads()
            scalegen.set_num_threads(threads)
            try:
                answers.append(ve.query(variables, evidence, elimination_order=order).values)  # type: ignore[union-attr]
            finally:
                scalegen.set_num_threads(before)
        np.testing.assert_allclose(answers[0], expected / expected.sum(), rtol=0, atol=1e-12)
        assert np.array_equal(answers[0], answers[1])
        best = np.unravel_index(int(np.argmax(table)), table.shape)
        expected_map = {v: int(k) for v, k in zip(free, best, strict=True)}
        assert ve.map_query(evidence=evidence, elimination_order=order) == expected_map


def test_map_query_none_on_a_large_network() -> None:
    """Max-product elimination: the returned state scores at least as high as small changes."""
    model, ve = ours("alarm")
    evidence = {"HR": "HIGH", "BP": "LOW"}
    best = ve.map_query(evidence=evidence)
    assert set(best) == set(model.nodes) - set(evidence)
    full = {**best, **evidence}
    base = float(model.score_samples(_row(model, full))[0])
    for v in list(best)[:10]:
        for s in model.states[v]:
            assert float(model.score_samples(_row(model, {**full, v: s}))[0]) <= base + 1e-12


def _row(model: BayesianNetwork, assignment: dict[Any, Any]):  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.DataFrame({v: pd.Categorical([assignment[v]], categories=model.states[v]) for v in model.nodes})


def test_no_underflow_on_a_long_hidden_chain() -> None:
    """An HMM of 400 steps whose observations each have probability ~1e-3: the evidence has
    probability ~1e-1000, far below float64's range, yet every intermediate factor is rescaled
    so the posterior of the last state matches a normalized forward pass."""
    n = 400
    hidden = [f"x{i}" for i in range(n)]
    seen = [f"y{i}" for i in range(n)]
    model = BayesianNetwork([*itertools.pairwise(hidden), *zip(hidden, seen, strict=True)])
    move = np.array([[0.9, 0.2], [0.1, 0.8]])  # P(x_i | x_{i-1}), a column per previous state
    emit = np.array([[1e-3, 1e-2], [1 - 1e-3, 1 - 1e-2]])  # P(y_i | x_i)
    model.add_cpds(TabularCPD(hidden[0], [0.5, 0.5]))
    model.add_cpds(*(TabularCPD(v, move, [u]) for u, v in itertools.pairwise(hidden)))
    model.add_cpds(*(TabularCPD(y, emit, [x]) for x, y in zip(hidden, seen, strict=True)))
    evidence = {y: 0 for y in seen}
    forward = np.array([0.5, 0.5]) * emit[0]
    for _ in range(n - 1):
        forward = (move @ forward) * emit[0]
        forward /= forward.sum()
    got = VariableElimination(model).query([hidden[-1]], evidence)
    np.testing.assert_allclose(got.values, forward, rtol=1e-10)  # type: ignore[union-attr]


# ---- DiscreteFactor ----------------------------------------------------------------------
def test_discrete_factor() -> None:
    f = DiscreteFactor(["a", "b"], {"a": ["x", "y"], "b": [0, 1, 2]}, np.arange(6.0).reshape(2, 3))
    assert f.get_value(a="y", b=1) == 4.0
    g = f.normalize()
    assert g.values.sum() == pytest.approx(1) and f.values.sum() == 15
    frame = g.to_frame()
    assert list(frame.index.names) == ["a", "b"] and frame.loc[("y", 2), "p"] == pytest.approx(5 / 15)
    assert "a:2, b:3" in repr(f)
    with pytest.raises(ValueError, match="shape"):
        DiscreteFactor(["a"], {"a": ["x", "y"]}, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="not a state"):
        f.get_value(a="z", b=0)
    with pytest.raises(ValueError, match="one state for each"):
        f.get_value(a="x")
    with pytest.raises(ValueError, match="sum to zero"):
        DiscreteFactor(["a"], {"a": ["x", "y"]}, [0.0, 0.0]).normalize()


# ---- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variables", "evidence", "message"),
    [
        (["nope"], None, "'nope' is not a node"),
        (["lung"], {"nope": "yes"}, "'nope' is not a node"),
        (["lung"], {"smoke": "maybe"}, "'maybe' is not a state of 'smoke'"),
        (["lung", "smoke"], {"smoke": "yes"}, "both queried and observed"),
        ([], None, "empty"),
        (["lung", "lung"], None, "repeat"),
        (["smoke"], {"tub": "yes", "either": "no"}, "probability zero"),
        (["bronc"], {"tub": "yes", "either": "no"}, "probability zero"),
        # asia is d-separated from the impossible part: it must still be caught
        (["asia"], {"tub": "yes", "either": "no"}, "probability zero"),
    ],
)
def test_bad_query(variables: list[str], evidence: dict[str, str] | None, message: str) -> None:
    _, ve = ours("asia")
    with pytest.raises(ValueError, match=message):
        ve.query(variables, evidence)


def test_bad_elimination_order() -> None:
    _, ve = ours("asia")
    with pytest.raises(ValueError, match="unknown elimination order"):
        ve.query(["lung"], elimination_order="MaxFill")
    with pytest.raises(ValueError, match="queried or observed"):
        ve.query(["lung"], elimination_order=["lung", "smoke"])
    with pytest.raises(ValueError, match="must also name"):
        ve.query(["dysp"], elimination_order=["smoke"])
    with pytest.raises(TypeError, match="list of variable names"):
        ve.query("lung")  # type: ignore[arg-type]


def test_bad_map_query() -> None:
    _, ve = ours("asia")
    with pytest.raises(ValueError, match="probability zero"):
        ve.map_query(evidence={"tub": "yes", "either": "no"})
    with pytest.raises(ValueError, match="probability zero"):
        ve.map_query(["asia"], {"tub": "yes", "either": "no"})
    with pytest.raises(ValueError, match="both queried and observed"):
        ve.map_query(["tub"], {"tub": "yes"})
    with pytest.raises(ValueError, match="not a node"):
        ve.map_query(["nope"])


def test_model_is_checked() -> None:
    model = BayesianNetwork([("a", "b")])
    model.add_cpds(TabularCPD("a", [0.5, 0.5]))
    with pytest.raises(ValueError, match="no table"):
        VariableElimination(model)
