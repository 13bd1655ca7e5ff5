"""Networks in and out: networkx DiGraphs, pgmpy models and CPDs (round trips, inference
parity), pgmpy's TabularCPD signature, pgmpy-style editing, bad input."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from scalegen.bayesnet import BayesianNetwork, DiscreteFactor, TabularCPD, VariableElimination, read_bif

nx = pytest.importorskip("networkx")
pgmpy = pytest.importorskip("pgmpy")
EXAMPLES = Path(pgmpy.__file__).parent / "utils" / "example_models"
NETWORKS = ["asia", "alarm", "child"]


@pytest.fixture(autouse=True)
def _quiet() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def bif(name: str) -> BayesianNetwork:
    return read_bif(EXAMPLES / f"{name}.bif.gz")


def student() -> BayesianNetwork:
    m = BayesianNetwork([("diff", "grade"), ("intel", "grade"), ("intel", "sat")])
    m.add_cpds(
        TabularCPD("diff", [0.6, 0.4], states={"diff": ["easy", "hard"]}),
        TabularCPD("intel", [0.7, 0.3], states={"intel": ["low", "high"]}),
        TabularCPD(
            "grade",
            [[[0.3, 0.9], [0.05, 0.5]], [[0.4, 0.08], [0.25, 0.3]], [[0.3, 0.02], [0.7, 0.2]]],
            ["diff", "intel"],
            {"grade": ["A", "B", "C"], "diff": ["easy", "hard"], "intel": ["low", "high"]},
        ),
        TabularCPD("sat", [[0.95, 0.2], [0.05, 0.8]], ["intel"], {"sat": [0, 1], "intel": ["low", "high"]}),
    )
    return m


def assert_same_network(a: BayesianNetwork, b: BayesianNetwork) -> None:
    assert a.nodes == b.nodes
    assert set(a.edges) == set(b.edges) and len(a.edges) == len(b.edges)
    assert all(a.parents(v) == b.parents(v) for v in a.nodes)
    assert a.states == b.states
    assert len(a.cpds) == len(b.cpds)
    for c in a.cpds:
        d = b.cpd(c.variable)
        assert d.parents == c.parents and d.states == c.states
        np.testing.assert_array_equal(d.values, c.values)


# ---- networkx --------------------------------------------------------------------------
def test_from_digraph_keeps_every_node_in_order() -> None:
    g = nx.DiGraph()
    g.add_nodes_from(["Z", "A"])
    g.add_edges_from([("A", "B"), ("C", "B"), ("B", "D")])
    g.add_node("lonely")
    g.nodes["A"]["states"] = ["x", "y"]
    m = BayesianNetwork(g)
    assert m.nodes == ["Z", "A", "B", "C", "D", "lonely"]
    assert set(m.edges) == set(g.edges) and len(m.edges) == 3
    assert m.parents("B") == ["A", "C"]
    assert m.states == {"A": ["x", "y"]}
    # keyword, explicit nodes first, explicit states win over the attribute
    m2 = BayesianNetwork(edges=g, nodes=["D"], states={"A": ["u", "v"], "Z": [0, 1, 2]})
    assert m2.nodes == ["D", "Z", "A", "B", "C", "lonely"]
    assert m2.states == {"Z": [0, 1, 2], "A": ["u", "v"]}
    # an edge view works as a list of edges (without the isolated nodes)
    m3 = BayesianNetwork(edges=g.edges, nodes=g.nodes)
    assert m3.nodes == m.nodes and set(m3.edges) == set(m.edges)


def test_networkx_round_trip_keeps_tables() -> None:
    m = student()
    g = m.to_networkx()
    assert isinstance(g, nx.DiGraph)
    assert list(g.nodes) == m.nodes and set(g.edges) == set(m.edges)
    assert g.nodes["grade"]["states"] == ["A", "B", "C"]
    assert g.nodes["grade"]["cpd"] == m.cpd("grade")
    assert g.nodes["grade"]["cpd"] is not m.cpd("grade")  # a copy
    assert g.graph["name"] == m.name
    assert_same_network(BayesianNetwork(g), m)
    # parity with networkx's own view of the structure
    assert nx.is_directed_acyclic_graph(g)
    assert set(m.topological_order()) == set(nx.topological_sort(g))


@pytest.mark.parametrize("name", NETWORKS)
def test_networkx_round_trip_bif(name: str) -> None:
    m = bif(name)
    assert_same_network(BayesianNetwork(m.to_networkx()), m)


def test_to_networkx_without_tables_and_fitted() -> None:
    m = BayesianNetwork([("a", "b")], nodes=["c"], states={"a": ["x", "y"]})
    g = m.to_networkx()
    assert list(g.nodes) == ["c", "a", "b"]
    assert g.nodes["a"] == {"states": ["x", "y"]} and g.nodes["b"] == {}
    data = pd.DataFrame({"a": ["x", "y", "y", "x"], "b": [1, 2, 2, 2], "c": [0, 0, 1, 1]})
    m.fit(data)
    g = m.to_networkx()
    assert g.nodes["b"]["states"] == [1, 2] and g.nodes["b"]["cpd"] == m.cpd("b")


def test_digraph_bad_input() -> None:
    with pytest.raises(TypeError, match="directed graph"):
        BayesianNetwork(nx.Graph([("a", "b")]))
    with pytest.raises(TypeError, match="multigraph"):
        BayesianNetwork(nx.MultiDiGraph([("a", "b")]))
    with pytest.raises(ValueError, match="cycle"):
        BayesianNetwork(nx.DiGraph([("a", "b"), ("b", "c"), ("c", "a")]))
    with pytest.raises(ValueError, match="self-loop"):
        BayesianNetwork(nx.DiGraph([("a", "a")]))
    g = nx.DiGraph([("a", "b")])
    g.nodes["a"]["states"] = "xy"
    with pytest.raises(TypeError, match="list of names"):
        BayesianNetwork(g)
    g = nx.DiGraph([("a", "b")])
    g.nodes["b"]["cpd"] = TabularCPD("b", [0.5, 0.5])
    with pytest.raises(ValueError, match="conditioned on"):
        BayesianNetwork(g)


def test_to_networkx_without_networkx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "networkx", None)
    with pytest.raises(ImportError, match="pip install networkx"):
        student().to_networkx()


# ---- pgmpy -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", NETWORKS)
def test_pgmpy_round_trip(name: str) -> None:
    from pgmpy.models import DiscreteBayesianNetwork

    m = bif(name)
    pm = m.to_pgmpy()
    assert isinstance(pm, DiscreteBayesianNetwork)
    assert pm.check_model()
    assert list(pm.nodes) == m.nodes and set(pm.edges) == set(m.edges)
    for c in pm.get_cpds():
        mine = m.cpd(c.variable)
        assert list(c.variables) == [mine.variable, *mine.parents]
        assert {v: list(s) for v, s in c.state_names.items()} == mine.states
        np.testing.assert_array_equal(c.values, mine.values)
        np.testing.assert_array_equal(c.get_values(), mine.get_values())
    back = BayesianNetwork.from_pgmpy(pm)
    assert_same_network(back, m)
    assert back.name == m.name and back.check_model()
    assert_same_network(BayesianNetwork(pm), m)  # a pgmpy model is a DiGraph with tables


@pytest.mark.parametrize("name", NETWORKS)
def test_pgmpy_inference_agrees(name: str) -> None:
    from pgmpy.inference import VariableElimination as PgmpyVE

    m = bif(name)
    theirs, ours = PgmpyVE(m.to_pgmpy()), VariableElimination(m)
    rng = np.random.default_rng(5)
    for k in range(4):
        picked = [m.nodes[i] for i in rng.choice(len(m.nodes), 4, replace=False)]
        row = m.sample(1, random_state=k).iloc[0]
        variables, evidence = picked[:2], {v: row[v] for v in picked[2:]}
        mine = ours.query(variables, evidence)
        assert isinstance(mine, DiscreteFactor)
        ref = theirs.query(variables, evidence, joint=True, show_progress=False)
        values = np.transpose(ref.values, [ref.variables.index(v) for v in variables])
        np.testing.assert_allclose(mine.values, values, rtol=0, atol=1e-10)


def test_from_pgmpys_own_model() -> None:
    """pgmpy's own reading of asia (its parser, its CPD objects) gives our reading."""
    import gzip

    from pgmpy.readwrite import BIFReader

    text = gzip.decompress((EXAMPLES / "asia.bif.gz").read_bytes()).decode()
    pm = BIFReader(string=text).get_model()
    assert_same_network(BayesianNetwork.from_pgmpy(pm), bif("asia"))


def test_pgmpy_partial_and_fitted() -> None:
    # structure only, and a table missing: converted as far as it goes
    m = BayesianNetwork([("a", "b")], nodes=["c"])
    pm = m.to_pgmpy()
    assert list(pm.nodes) == ["c", "a", "b"] and pm.get_cpds() == []
    assert BayesianNetwork.from_pgmpy(pm).nodes == ["c", "a", "b"]
    data = pd.DataFrame({"a": ["x", "y", "y", "x"], "b": [1, 2, 2, 2], "c": [0, 0, 1, 1]})
    m.fit(data)
    m.remove_cpds("c")
    back = BayesianNetwork.from_pgmpy(m.to_pgmpy())
    assert back.states == {"a": ["x", "y"], "b": [1, 2]}  # pgmpy keeps states in tables only
    back.add_node("c", states=[0, 1])
    assert_same_network(back, m)
    # pgmpy's fit, brought in, gives our fit (pgmpy orders states and parents alike here)
    pm = BayesianNetwork([("a", "b")], nodes=["c"]).to_pgmpy()
    pm.fit(data)
    ours = BayesianNetwork([("a", "b")], nodes=["c"]).fit(data)
    assert_same_network(BayesianNetwork.from_pgmpy(pm), ours)


def test_parents_follow_pgmpy_evidence_order() -> None:
    from pgmpy.factors.discrete import TabularCPD as PgmpyCPD
    from pgmpy.models import DiscreteBayesianNetwork

    pm = DiscreteBayesianNetwork([("a", "c"), ("b", "c")])
    pm.add_cpds(
        PgmpyCPD("a", 2, [[0.5], [0.5]]),
        PgmpyCPD("b", 3, [[0.2], [0.3], [0.5]], state_names={"b": ["p", "q", "r"]}),
        PgmpyCPD(
            "c",
            2,
            [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]],
            ["b", "a"],
            [3, 2],
            state_names={"c": ["no", "yes"], "b": ["p", "q", "r"], "a": [0, 1]},
        ),
    )
    m = BayesianNetwork.from_pgmpy(pm)
    assert m.parents("c") == ["b", "a"]
    c = m.cpd("c")
    assert c.values.shape == (2, 3, 2) and c.values[0, 2, 1] == 0.6 and c.values[1, 0, 1] == 0.8
    assert m.states == {"a": [0, 1], "b": ["p", "q", "r"], "c": ["no", "yes"]}
    assert_same_network(BayesianNetwork.from_pgmpy(m.to_pgmpy()), m)


def test_add_cpds_takes_pgmpy_cpds() -> None:
    from pgmpy.factors.discrete import TabularCPD as PgmpyCPD

    native = student()
    m = BayesianNetwork(native.edges)
    m.add_cpds(*(c for c in native.to_pgmpy().get_cpds()))
    assert_same_network(m, native)
    with pytest.raises(ValueError, match="conditioned on"):
        m.add_cpds(PgmpyCPD("sat", 2, [[0.5], [0.5]]))


def test_pgmpy_bad_input() -> None:
    from pgmpy.factors.discrete import TabularCPD as PgmpyCPD
    from pgmpy.models import DiscreteBayesianNetwork

    with pytest.raises(TypeError, match="pgmpy DiscreteBayesianNetwork"):
        BayesianNetwork.from_pgmpy(student())
    with pytest.raises(TypeError, match="pgmpy DiscreteBayesianNetwork"):
        BayesianNetwork.from_pgmpy([("a", "b")])
    pm = DiscreteBayesianNetwork([("a", "b")])
    pm.cpds.append(PgmpyCPD("b", 2, [[0.5], [0.5]]))  # pgmpy's add_cpds would not check either
    with pytest.raises(ValueError, match="conditioned on"):
        BayesianNetwork.from_pgmpy(pm)
    with pytest.raises(TypeError, match="expected a TabularCPD"):
        BayesianNetwork([("a", "b")]).add_cpds("a")  # type: ignore[arg-type]


# ---- TabularCPD in pgmpy's form ----------------------------------------------------------
GRADE_2D = [[0.3, 0.9, 0.05, 0.5], [0.4, 0.08, 0.25, 0.3], [0.3, 0.02, 0.7, 0.2]]
GRADE_STATES = {"grade": ["A", "B", "C"], "diff": ["easy", "hard"], "intel": ["low", "high"]}


def test_pgmpy_signature_equals_native() -> None:
    native = student().cpd("grade")
    positional = TabularCPD("grade", 3, GRADE_2D, ["diff", "intel"], [2, 2], GRADE_STATES)
    keywords = TabularCPD(
        variable="grade",
        variable_card=3,
        values=GRADE_2D,
        evidence=["diff", "intel"],
        evidence_card=[2, 2],
        state_names=GRADE_STATES,
    )
    mixed = TabularCPD(
        "grade", 3, GRADE_2D, evidence=["diff", "intel"], evidence_card=(2, 2), state_names=GRADE_STATES
    )
    assert positional == native and keywords == native and mixed == native
    # the pgmpy object itself agrees
    from pgmpy.factors.discrete import TabularCPD as PgmpyCPD

    theirs = PgmpyCPD("grade", 3, GRADE_2D, ["diff", "intel"], [2, 2], GRADE_STATES)
    np.testing.assert_array_equal(theirs.values, native.values)
    # roots, default state names, numpy integers
    root = TabularCPD("a", np.int64(2), [[0.25], [0.75]])
    assert root == TabularCPD("a", [0.25, 0.75]) and root.states == {"a": [0, 1]}
    assert TabularCPD("a", 2, [[0.2, 0.6], [0.8, 0.4]], ["b"], [2]) == TabularCPD(
        "a", [[0.2, 0.6], [0.8, 0.4]], ["b"]
    )
    # native calls are untouched, keywords included
    assert TabularCPD(variable="a", values=[0.25, 0.75]) == root
    assert TabularCPD("a", values=[[0.2, 0.6], [0.8, 0.4]], parents=["b"]).parents == ["b"]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("a", 2, [0.5, 0.5]), {}, ValueError, "2-D of shape"),
        (
            ("a", 2, [[0.5, 0.5], [0.5, 0.5]]),
            {"evidence": ["b"], "evidence_card": [3]},
            ValueError,
            r"\(2, 3\)",
        ),
        (("a", 2, [[0.5, 0.5], [0.5, 0.5]], ["b"]), {}, ValueError, "no evidence_card"),
        (("a", 2, [[0.5, 0.5], [0.5, 0.5]], ["b"], [2, 2]), {}, ValueError, "2 evidence cardinalities"),
        (("a", 2, [[0.5, 0.5], [0.5, 0.5]], "b", [2]), {}, TypeError, "list of variables"),
        (("a", 2, [[0.5, 0.5], [0.5, 0.5]], ["b"], 2), {}, TypeError, "list of integers"),
        (("a", 2, [[0.5, 0.5], [0.5, 0.5]], ["b"], [0]), {}, TypeError, "positive integers"),
        (("a", 0, [[0.5]]), {}, TypeError, "positive integer"),
        (("a", 2, [[0.5], [0.5]], None, None, None, 1), {}, TypeError, "at most 6"),
        (("a", 2, [[0.5], [0.5]]), {"variable_card": 2}, TypeError, "two values"),
        (("a", 2), {}, TypeError, "needs values"),
        (("a", [0.5, 0.5], ["b"]), {"evidence_card": [2]}, TypeError, "not a mix"),
        (("a", 2, [[0.5], [0.5]]), {"state_names": ["x", "y"]}, TypeError, "state_names"),
        (("a", 2, [[0.5], [0.5]]), {"state_names": {"a": ["x"]}}, ValueError, "1 states"),
        (("a", 2, [[0.5], [0.5]]), {"state_names": {"b": ["x"]}}, ValueError, "not in the table"),
        (("a", 2, [[-0.5], [1.5]]), {}, ValueError, "negative"),
    ],
)
def test_pgmpy_signature_bad_input(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        TabularCPD(*args, **kwargs)


# ---- editing -----------------------------------------------------------------------------
def test_editing_like_pgmpy() -> None:
    m = student()
    m.add_node("new", states=["u", "v"])
    m.add_node("new")  # already there: nothing
    m.add_nodes_from(["n1", "n2"], states={"n1": [1, 2]})
    assert m.nodes[-3:] == ["new", "n1", "n2"] and m.states["new"] == ["u", "v"]
    m.add_edge("new", "sat")
    assert m.get_parents("sat") == ["intel", "new"] and m.get_children("new") == ["sat"]
    assert m.get_cpds("sat") is None and len(m.get_cpds()) == 3  # its parents changed
    m.add_edges_from([("n1", "n3"), ("n3", "new")])  # n3 is new
    assert "n3" in m.nodes and m.parents("new") == ["n3"]
    m.remove_edge("new", "sat")
    assert m.parents("sat") == ["intel"]
    m.add_cpds(
        TabularCPD("sat", [[0.95, 0.2], [0.05, 0.8]], ["intel"], {"sat": [0, 1], "intel": ["low", "high"]})
    )
    m.remove_node("intel")
    assert "intel" not in m.nodes and "intel" not in m.states
    assert m.parents("grade") == ["diff"] and m.parents("sat") == []
    assert m.get_cpds("grade") is None and m.get_cpds("sat") is None
    assert all(v != "intel" for e in m.edges for v in e)
    m.remove_nodes_from(["n1", "n2", "n3", "new"])
    assert m.nodes == ["diff", "grade", "sat"] and m.edges == [("diff", "grade")]
    m.remove_cpds(m.get_cpds("diff"))
    assert m.cpds == []
    # the edited network is whole again once tables are added, and pgmpy agrees
    m.add_cpds(
        TabularCPD("diff", [0.6, 0.4], states={"diff": ["easy", "hard"]}),
        TabularCPD(
            "grade",
            [[0.5, 0.1], [0.3, 0.1], [0.2, 0.8]],
            ["diff"],
            {k: GRADE_STATES[k] for k in ("grade", "diff")},
        ),
        TabularCPD("sat", [0.3, 0.7], states={"sat": [0, 1]}),
    )
    assert m.check_model()
    pm = m.to_pgmpy()
    assert set(pm.edges) == set(m.edges) and pm.check_model()


def test_editing_bad_input() -> None:
    m = student()
    with pytest.raises(ValueError, match="cycle"):
        m.add_edge("grade", "diff")
    with pytest.raises(ValueError, match="cycle"):
        m.add_edges_from([("sat", "x"), ("x", "intel")])
    assert "x" not in m.nodes and m.get_cpds("sat") is not None  # all or nothing
    with pytest.raises(ValueError, match="self-loop"):
        m.add_edge("sat", "sat")
    with pytest.raises(ValueError, match="already"):
        m.add_edge("intel", "sat")
    with pytest.raises(ValueError, match="pair"):
        m.add_edges_from([("a", "b", "c")])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="not an edge"):
        m.remove_edge("sat", "intel")
    with pytest.raises(ValueError, match="not a node"):
        m.remove_node("nope")
    with pytest.raises(ValueError, match="not a node"):
        m.get_cpds("nope")
    with pytest.raises(ValueError, match="other states"):
        m.add_node("intel", states=["a", "b"])
    with pytest.raises(ValueError, match="not a node"):
        m.add_nodes_from(["q"], states={"r": [0]})
    with pytest.raises(TypeError, match="hashable"):
        m.add_node(["unhashable"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a valid"):
        m.add_node(None)
    other = student()
    other.remove_cpds("sat")
    with pytest.raises(ValueError, match="no table"):
        other.remove_cpds("sat")
    with pytest.raises(ValueError, match="not the network's"):
        m.remove_cpds(
            TabularCPD("sat", [[0.5, 0.5], [0.5, 0.5]], ["intel"], {"sat": [0, 1], "intel": ["low", "high"]})
        )
    assert len(m.cpds) == 4 and m.check_model()
