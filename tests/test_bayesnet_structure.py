"""Structure learning: hill climbing and Chow-Liu trees against pgmpy and brute force."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalegen import _core
from scalegen.bayesnet import (
    PC,
    BayesianNetwork,
    HillClimbSearch,
    TreeSearch,
    read_bif,
    structural_hamming_distance,
    structure_score,
)
from scalegen.bayesnet._data import encode
from scalegen.datasets import load_network

pgmpy = pytest.importorskip("pgmpy")
EXAMPLES = Path(pgmpy.__file__).parent / "utils" / "example_models"


@pytest.fixture(scope="module")
def asia_data() -> pd.DataFrame:
    return load_network("asia").sample(20_000, random_state=3)


@pytest.fixture(scope="module")
def child() -> BayesianNetwork:
    return read_bif(EXAMPLES / "child.bif.gz")


@pytest.fixture(scope="module")
def child_data(child: BayesianNetwork) -> pd.DataFrame:
    return child.sample(5_000, random_state=4)


def _pgmpy_hill_climb(data: pd.DataFrame, score: str, **kw):  # type: ignore[no-untyped-def]
    from pgmpy.estimators import HillClimbSearch as PgmpyHillClimb

    return PgmpyHillClimb(data).estimate(scoring_method=score, show_progress=False, **kw)


@pytest.mark.parametrize("score", ["bic", "aic", "bdeu", "bds", "k2"])
def test_local_scores_equal_pgmpy(child_data: pd.DataFrame, score: str) -> None:
    from pgmpy.estimators import AIC, BIC, K2, BDeu, BDs

    cols = list(child_data.columns)
    enc = encode(child_data, cols, {})
    rng = np.random.default_rng(0)
    families = []
    for _ in range(25):
        child_i = int(rng.integers(len(cols)))
        others = [i for i in range(len(cols)) if i != child_i]
        families.append(
            (child_i, [int(p) for p in rng.choice(others, int(rng.integers(0, 4)), replace=False)])
        )
    ours = _core.bn_local_scores(enc.columns, enc.cards, families, score, 10.0, 2)
    scorer = {"bic": BIC, "aic": AIC, "bdeu": BDeu, "bds": BDs, "k2": K2}[score](child_data)
    for (c, ps), mine in zip(families, ours, strict=True):
        theirs = scorer.local_score(cols[c], [cols[p] for p in ps])
        if score == "k2":  # pgmpy adds lgamma(card) per unseen parent configuration
            n_configs = int(np.prod([enc.cards[p] for p in ps]))
            seen = len(child_data.groupby([cols[p] for p in ps], observed=True).size()) if ps else 1
            theirs -= (n_configs - seen) * np.log(np.prod(np.arange(1, enc.cards[c])))
        assert mine == pytest.approx(theirs, rel=1e-11, abs=1e-8)


@pytest.mark.parametrize("score", ["bic-d", "bdeu", "bds"])
def test_hill_climb_finds_pgmpys_dag(asia_data: pd.DataFrame, score: str) -> None:
    ours = HillClimbSearch(score=score).fit(asia_data)
    theirs = _pgmpy_hill_climb(asia_data, score, tabu_length=0)
    ours_score = structure_score(ours.edges_, asia_data, score)
    theirs_score = structure_score(list(theirs.edges()), asia_data, score)
    assert ours.score_ == pytest.approx(ours_score, rel=1e-12)
    # pgmpy takes the first of equal moves in set order, which changes from run to run,
    # and so does its result; ours is deterministic and never worse.
    assert ours_score >= theirs_score - 1e-9 * abs(theirs_score)
    if score == "bic-d":  # with 20,000 rows BIC finds asia's equivalence class
        assert ours_score == pytest.approx(structure_score(load_network("asia"), asia_data, score), rel=1e-12)


def test_hill_climb_reaches_a_local_optimum(child_data: pd.DataFrame) -> None:
    """No single add, delete or reverse improves the BIC of the result (checked by scoring
    every neighbouring DAG with structure_score)."""
    data = child_data[list(child_data.columns)[:8]]
    hc = HillClimbSearch(epsilon=1e-9).fit(data)
    current = structure_score(hc.edges_, data, "bic")
    nodes = list(data.columns)
    edges = set(hc.edges_)
    for u, v in itertools.permutations(nodes, 2):
        if (u, v) in edges:
            neighbours = [edges - {(u, v)}, (edges - {(u, v)}) | {(v, u)}]
        elif (v, u) not in edges:
            neighbours = [edges | {(u, v)}]
        else:
            continue
        for candidate in neighbours:
            try:
                model = BayesianNetwork(sorted(candidate), nodes=nodes)
            except ValueError:  # a cycle
                continue
            assert structure_score(model, data, "bic") <= current + 1e-9


def test_hill_climb_is_thread_independent(child_data: pd.DataFrame) -> None:
    a = HillClimbSearch(tabu_length=10, n_jobs=1).fit(child_data)
    b = HillClimbSearch(tabu_length=10, n_jobs=2).fit(child_data)
    assert a.edges_ == b.edges_ and a.score_ == b.score_ and a.n_iter_ == b.n_iter_


def test_hill_climb_constraints(child_data: pd.DataFrame) -> None:
    free = HillClimbSearch().fit(child_data)
    u, v = free.edges_[0]
    fixed = ("BirthAsphyxia", "Age")
    banned = HillClimbSearch(black_list=[(u, v), (v, u)], fixed_edges=[fixed]).fit(child_data)
    assert (u, v) not in banned.edges_ and (v, u) not in banned.edges_ and fixed in banned.edges_
    limited = HillClimbSearch(max_indegree=1).fit(child_data)
    assert max(len(limited.model_.parents(n)) for n in limited.model_.nodes) <= 1
    allowed = free.edges_[:3]
    white = HillClimbSearch(white_list=allowed).fit(child_data)
    assert set(white.edges_) <= set(allowed)
    start = HillClimbSearch(start_dag=free.edges_, max_iter=0).fit(child_data)
    assert start.edges_ == sorted(
        free.edges_, key=lambda e: (list(child_data).index(e[0]), list(child_data).index(e[1]))
    )
    assert start.n_iter_ == 0
    model = HillClimbSearch().fit(child_data).model_.fit(child_data)
    assert model.check_model()


def test_hill_climb_bad_input(child_data: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="score"):
        HillClimbSearch(score="ll").fit(child_data)
    with pytest.raises(ValueError, match="not a column"):
        HillClimbSearch(black_list=[("nope", "Age")]).fit(child_data)
    with pytest.raises(ValueError, match="cycle"):
        HillClimbSearch(start_dag=[("Age", "Sick"), ("Sick", "Age")]).fit(child_data)
    with pytest.raises(ValueError, match="tabu_length"):
        HillClimbSearch(tabu_length=-1).fit(child_data)
    with pytest.raises(ValueError, match="no rows"):
        HillClimbSearch().fit(child_data.iloc[:0])
    for search in (HillClimbSearch(), PC()):  # counted many times: chunks read once cannot do
        with pytest.raises(TypeError, match="chunks read once"):
            search.fit(iter([child_data]))


def test_tree_search_equals_pgmpy(asia_data: pd.DataFrame) -> None:
    from pgmpy.estimators import TreeSearch as PgmpyTreeSearch

    ours = TreeSearch().fit(asia_data)
    theirs = PgmpyTreeSearch(asia_data, n_jobs=1).estimate(show_progress=False)
    assert set(ours.edges_) == set(theirs.edges())
    rooted = TreeSearch(root_node="xray").fit(asia_data)
    assert all(v != "xray" for _, v in rooted.edges_) and len(rooted.edges_) == len(asia_data.columns) - 1


def test_structural_hamming_distance_equals_pgmpy() -> None:
    from pgmpy.base import DAG
    from pgmpy.metrics import SHD

    rng = np.random.default_rng(1)
    nodes = list("abcdef")
    for _ in range(20):
        graphs = []
        for _ in range(2):
            order = rng.permutation(nodes)
            edges = [(order[i], order[j]) for i in range(6) for j in range(i + 1, 6) if rng.random() < 0.35]
            graphs.append(edges)
        a, b = (DAG(g) for g in graphs)
        a.add_nodes_from(nodes)
        b.add_nodes_from(nodes)
        assert structural_hamming_distance(*graphs) == SHD().evaluate(a, b)


PLAIN = {"mirror_start": False, "chow_liu_start": False, "n_restarts": 0}


def test_each_start_and_the_restarts_never_lose(child_data: pd.DataFrame) -> None:
    """Every addition to plain greedy climbing keeps the best DAG, so none ends lower;
    the default (all of them) ends at least as high as each alone, and its score is the
    structure score of its DAG."""
    plain = HillClimbSearch(**PLAIN).fit(child_data)
    variants = [
        HillClimbSearch(**{**PLAIN, "tabu_length": 20, "max_tabu": 20}).fit(child_data),
        HillClimbSearch(**{**PLAIN, "mirror_start": True}).fit(child_data),
        HillClimbSearch(**{**PLAIN, "chow_liu_start": True}).fit(child_data),
        HillClimbSearch(**{**PLAIN, "n_restarts": 5}).fit(child_data),
    ]
    default = HillClimbSearch().fit(child_data)
    for hc in variants:
        assert hc.score_ >= plain.score_ - 1e-9 * abs(plain.score_)
    for hc in variants[1:]:
        assert default.score_ >= hc.score_ - 1e-9 * abs(hc.score_)
    for hc in (*variants, default):
        assert hc.score_ == pytest.approx(structure_score(hc.edges_, child_data, "bic"), rel=1e-12)


def test_searches_compare_bds_with_its_graph_prior(asia_data: pd.DataFrame) -> None:
    """BDs adds log(1/2) per edge: the starts and restarts are compared with it, so the
    default search's full score is at least the plain climb's."""
    plain = HillClimbSearch(score="bds", **PLAIN).fit(asia_data)
    default = HillClimbSearch(score="bds").fit(asia_data)
    assert default.score_ >= plain.score_ - 1e-9 * abs(plain.score_)
    assert default.score_ == pytest.approx(structure_score(default.edges_, asia_data, "bds"), rel=1e-12)


def test_restarts_depend_only_on_random_state(child_data: pd.DataFrame) -> None:
    a = HillClimbSearch(n_restarts=8, random_state=3, n_jobs=1).fit(child_data)
    b = HillClimbSearch(n_restarts=8, random_state=3, n_jobs=2).fit(child_data)
    assert a.edges_ == b.edges_ and a.score_ == b.score_ and a.n_iter_ == b.n_iter_


def test_chow_liu_forest_is_the_best_tree_under_bic(asia_data: pd.DataFrame) -> None:
    """The forest start with no move after it is the maximum spanning forest of the pairs'
    BIC gains: its score is networkx's maximum spanning tree over the positive gains."""
    from itertools import combinations

    import networkx as nx

    cols = list(asia_data.columns)
    empty = structure_score(BayesianNetwork([], nodes=cols), asia_data, "bic")
    gain = {
        (a, b): structure_score(BayesianNetwork([(a, b)], nodes=cols), asia_data, "bic") - empty
        for a, b in combinations(cols, 2)
    }
    forest = HillClimbSearch(**{**PLAIN, "chow_liu_start": True}, max_iter=0).fit(asia_data)
    assert forest.n_iter_ == 0
    ours = forest.score_ - empty
    und = {frozenset(e) for e in forest.edges_}
    assert len(und) == len(forest.edges_) <= len(cols) - 1
    assert ours == pytest.approx(sum(gain[tuple(sorted(e, key=cols.index))] for e in und), rel=1e-9)
    assert all(gain[tuple(sorted(e, key=cols.index))] > 0 for e in und)
    g = nx.Graph()
    g.add_nodes_from(cols)
    g.add_weighted_edges_from((a, b, w) for (a, b), w in gain.items() if w > 1e-4)
    best = nx.maximum_spanning_tree(g)  # a forest when g is disconnected
    assert ours == pytest.approx(sum(d["weight"] for _, _, d in best.edges(data=True)), rel=1e-9)


def test_bds_structure_score_equals_pgmpy_with_its_graph_prior(
    child: BayesianNetwork, child_data: pd.DataFrame
) -> None:
    from pgmpy.estimators import BDs
    from pgmpy.models import DiscreteBayesianNetwork

    rng = np.random.default_rng(5)
    for edges in (child.edges, child.edges[::2], [e for e in child.edges if rng.random() < 0.3]):
        model = DiscreteBayesianNetwork(edges)
        model.add_nodes_from(child_data.columns)
        theirs = BDs(child_data, equivalent_sample_size=5).score(model)
        ours = structure_score(BayesianNetwork(edges, nodes=child_data.columns), child_data, "bds", 5)
        assert ours == pytest.approx(theirs, rel=1e-11)


def test_log_likelihood_search_needs_and_respects_max_indegree(asia_data: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="needs max_indegree"):
        HillClimbSearch(score="ll").fit(asia_data)
    ours = HillClimbSearch(score="ll", max_indegree=2).fit(asia_data)
    model = BayesianNetwork(ours.edges_, nodes=asia_data.columns)
    assert max(len(model.parents(v)) for v in model.nodes) <= 2
    theirs = _pgmpy_hill_climb(asia_data, "ll-d", tabu_length=0, max_indegree=2)
    ours_score = structure_score(ours.edges_, asia_data, "ll")
    assert ours.score_ == pytest.approx(ours_score, rel=1e-12)
    assert ours_score >= structure_score(list(theirs.edges()), asia_data, "ll") - 1e-9 * abs(ours_score)


@pytest.mark.parametrize("class_node", ["either", "xray", "smoke"])
def test_tan_equals_pgmpy(asia_data: pd.DataFrame, class_node: str) -> None:
    from pgmpy.estimators import TreeSearch as PgmpyTreeSearch

    data = asia_data.sample(3_000, random_state=0).reset_index(drop=True)
    ours = TreeSearch(estimator_type="tan", class_node=class_node, root_node="asia").fit(data)
    theirs = PgmpyTreeSearch(data, root_node="asia", n_jobs=1).estimate(
        estimator_type="tan", class_node=class_node, show_progress=False
    )
    assert set(ours.edges_) == set(theirs.edges())
    assert all((class_node, v) in ours.edges_ for v in data.columns if v != class_node)
    default_root = TreeSearch(estimator_type="tan", class_node=class_node).fit(data)
    assert len(default_root.edges_) == 2 * (len(data.columns) - 1) - 1


def test_tan_conditional_information_equals_a_direct_computation(child_data: pd.DataFrame) -> None:
    from sklearn.metrics import mutual_info_score

    from scalegen.bayesnet._structure import mutual_information

    data = child_data.iloc[:, :6]
    given = data.columns[2]
    variables, cmi = mutual_information(data, given=given)
    for a, b in [(0, 1), (3, 5), (1, 4)]:
        u, v = variables[a], variables[b]
        expected = sum(
            len(part) / len(data) * mutual_info_score(part[u], part[v])
            for _, part in data.groupby(given, observed=True)
        )
        assert cmi[a, b] == pytest.approx(expected, rel=1e-10, abs=1e-14)
    assert not cmi[2].any()


def test_tan_bad_input(asia_data: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="needs class_node"):
        TreeSearch(estimator_type="tan").fit(asia_data)
    with pytest.raises(ValueError, match="both"):
        TreeSearch(estimator_type="tan", class_node="xray", root_node="xray").fit(asia_data)
    with pytest.raises(ValueError, match="estimator_type"):
        TreeSearch(estimator_type="naive").fit(asia_data)
    with pytest.raises(ValueError, match="not a column"):
        TreeSearch(estimator_type="tan", class_node="nope").fit(asia_data)


def test_tree_search_reads_chunks_and_dask_frames(asia_data: pd.DataFrame) -> None:
    dd = pytest.importorskip("dask.dataframe")
    data = asia_data.iloc[:6_000]
    whole = TreeSearch().fit(data)
    chunks = [data.iloc[i : i + 1_000] for i in range(0, len(data), 1_000)]
    assert TreeSearch().fit(chunks).edges_ == whole.edges_
    np.testing.assert_allclose(TreeSearch().fit(chunks).weights_, whole.weights_, rtol=1e-12, atol=1e-15)
    tan = TreeSearch(estimator_type="tan", class_node="either").fit(data)
    assert TreeSearch(estimator_type="tan", class_node="either").fit(chunks).edges_ == tan.edges_
    frame = dd.from_pandas(data, npartitions=3)
    assert TreeSearch().fit(frame).edges_ == whole.edges_
