"""scalegen.metrics for discrete data and structures: marginal_tvd against a plain pandas
reference, kl_divergence against enumeration of the full joint (and sampled against exact),
edge_scores against hand-built graphs and scikit-learn, and bad input."""

from __future__ import annotations

import importlib.util
import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalegen.bayesnet import BayesianNetwork, TabularCPD, read_bif
from scalegen.bayesnet import structural_hamming_distance as bayesnet_shd
from scalegen.metrics import (
    EdgeScores,
    KLResult,
    _discrete,
    edge_scores,
    kl_divergence,
    marginal_tvd,
    structural_hamming_distance,
)


# --- marginal_tvd ------------------------------------------------------------------------------
def reference_tvd(real: pd.DataFrame, synthetic: pd.DataFrame, order: int) -> dict[tuple, float]:
    """The TVD of every set of `order` columns, by value_counts over the plain values."""
    out = {}
    for cols in itertools.combinations(real.columns, order):
        p = real[list(cols)].astype(object).value_counts(normalize=True)
        q = synthetic[list(cols)].astype(object).value_counts(normalize=True)
        p, q = p.align(q, fill_value=0.0)
        out[cols] = 0.5 * float((p - q).abs().sum())
    return out


def random_frames(seed: int, n_real: int = 300, n_synth: int = 200) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Frames whose columns have different value sets and dtypes on each side."""
    rng = np.random.default_rng(seed)

    def frame(n: int, letters: str, top: int, cats: list[str], shift: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "word": rng.choice(list(letters), n),
                "count": rng.integers(shift, top, n),
                "cat": pd.Categorical(rng.choice(cats, n), categories=cats),
                "mixed": pd.Categorical(rng.choice(["u", "v"], n)),
                "flag": rng.random(n) < 0.3 + 0.1 * shift,
            }
        )

    real = frame(n_real, "xyz", 4, ["a", "b", "c"], 0)
    synthetic = frame(n_synth, "yzw", 5, ["c", "d", "b", "a"], 1)
    synthetic["mixed"] = synthetic["mixed"].astype(object)  # categorical on one side only
    return real, synthetic[["flag", "cat", "count", "mixed", "word"]]  # another column order


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_marginal_tvd_matches_pandas(order: int, seed: int) -> None:
    real, synthetic = random_frames(seed)
    before = real.copy(), synthetic.copy()
    expected = reference_tvd(real, synthetic, order)
    assert marginal_tvd(real, synthetic, order=order) == pytest.approx(np.mean(list(expected.values())))
    details = marginal_tvd(real, synthetic, order=order, return_details=True)
    assert details.name == "tvd" and len(details) == len(expected)
    assert (np.diff(details.to_numpy()) <= 0).all()  # worst first
    for key, value in details.items():
        assert value == pytest.approx(expected[key if order > 1 else (key,)], abs=1e-12)
    pd.testing.assert_frame_equal(real, before[0])
    pd.testing.assert_frame_equal(synthetic, before[1])


@pytest.mark.parametrize("order", [1, 2, 3])
def test_marginal_tvd_renumbers_large_joint_spaces(order: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    real = rng.integers(0, 40, (500, 4))
    synthetic = rng.integers(5, 45, (400, 4))
    expected = reference_tvd(pd.DataFrame(real), pd.DataFrame(synthetic), order)
    mean = np.mean(list(expected.values()))
    assert marginal_tvd(real, synthetic, order) == pytest.approx(mean)
    monkeypatch.setattr(_discrete, "_MAX_BINCOUNT_CELLS", 7)  # np.unique at every step
    assert marginal_tvd(real, synthetic, order) == pytest.approx(mean)
    details = marginal_tvd(real, synthetic, order, return_details=True)
    assert details.sort_index().to_numpy() == pytest.approx([expected[k] for k in sorted(expected)])


def test_marginal_tvd_of_huge_cardinalities() -> None:
    rng = np.random.default_rng(4)
    real = pd.DataFrame(rng.integers(0, 10**6, (2000, 3)), columns=["a", "b", "c"]).astype(str)
    synthetic = real.sample(frac=1.0, random_state=0).reset_index(drop=True)
    synthetic.loc[:99, "c"] = "new"
    expected = reference_tvd(real, synthetic, 3)
    assert marginal_tvd(real, synthetic, order=3) == pytest.approx(expected[("a", "b", "c")])


def test_marginal_tvd_limits() -> None:
    real, _ = random_frames(0)
    for order in (1, 2, 3):
        assert marginal_tvd(real, real.copy(), order) == 0.0
        assert marginal_tvd(real, real.sample(frac=1.0, random_state=1), order) == pytest.approx(
            0.0, abs=1e-15
        )
    a = np.array([[0, 1], [1, 0], [1, 1]])
    assert marginal_tvd(a, a + 2) == pytest.approx(1.0)
    assert marginal_tvd(a, a + 2, order=2) == pytest.approx(1.0)
    words = pd.DataFrame({"x": ["a", "b"], "y": ["c", "c"]})
    assert marginal_tvd(words, pd.DataFrame({"x": ["b", "b"], "y": ["c", "c"]})) == pytest.approx(0.25)


def test_marginal_tvd_bad_input() -> None:
    real, synthetic = random_frames(0)
    with pytest.raises(ValueError, match=r"only in real: \['word'\]"):
        marginal_tvd(real, synthetic.drop(columns="word"))
    with pytest.raises(ValueError, match=r"only in synthetic: \['extra'\]"):
        marginal_tvd(real, synthetic.assign(extra=1))
    holed = synthetic.copy()
    holed.loc[5, "count"] = np.nan
    with pytest.raises(ValueError, match=r"synthetic has a missing value.*'count' at row 5"):
        marginal_tvd(real, holed)
    holed = real.copy()
    holed.loc[2, "word"] = None
    with pytest.raises(ValueError, match=r"real has a missing value.*'word' at row 2"):
        marginal_tvd(holed, synthetic)
    with pytest.raises(ValueError, match=r"missing value.*column 1 at row 0"):
        marginal_tvd(np.array([[1.0, np.nan]]), np.array([[1.0, 2.0]]))
    for bad in (0, 4, 1.0, "2"):
        with pytest.raises((ValueError, TypeError), match="order"):
            marginal_tvd(real, synthetic, order=bad)
    with pytest.raises(ValueError, match="only 2 column"):
        marginal_tvd(real[["word", "cat"]], synthetic[["word", "cat"]], order=3)
    with pytest.raises(TypeError, match="two DataFrames"):
        marginal_tvd(real, synthetic.to_numpy())
    with pytest.raises(ValueError, match="3 columns but synthetic has 2"):
        marginal_tvd(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least one"):
        marginal_tvd(real, synthetic.iloc[:0])


# --- kl_divergence -----------------------------------------------------------------------------
def random_network(seed: int, n: int = 5, cards_seed: int | None = None) -> BayesianNetwork:
    """A random DAG over v0..v{n-1} (cards 2-3 drawn with `cards_seed`, default `seed`;
    state names s0, s1, ...), Dirichlet tables."""
    rng = np.random.default_rng(seed)
    nodes = [f"v{i}" for i in range(n)]
    edges = [(nodes[i], nodes[j]) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.45]
    card_rng = np.random.default_rng(seed if cards_seed is None else cards_seed)
    cards = {v: int(card_rng.integers(2, 4)) for v in nodes}
    model = BayesianNetwork(edges, nodes=nodes)
    for v in nodes:
        parents = model.parents(v)
        shape = (cards[v], *(cards[p] for p in parents))
        values = rng.dirichlet(np.ones(cards[v]), size=shape[1:]).reshape(*shape[1:], cards[v])
        values = np.moveaxis(values, -1, 0)
        states = {u: [f"s{k}" for k in range(cards[u])] for u in [v, *parents]}
        model.add_cpds(TabularCPD(v, values, parents, states))
    return model


def full_joint(model: BayesianNetwork, nodes: list, states: dict) -> np.ndarray:
    """P over every state of `nodes` (axes in that order, states in the order of `states`)."""
    joint = np.ones([len(states[v]) for v in nodes])
    for assignment in itertools.product(*(range(len(states[v])) for v in nodes)):
        x = dict(zip(nodes, assignment, strict=True))
        for v in nodes:
            cpd = model.cpd(v)
            index = [cpd.states[u].index(states[u][x[u]]) for u in [v, *cpd.parents]]
            joint[assignment] *= cpd.values[tuple(index)]
    return joint


def brute_force_kl(p: BayesianNetwork, q: BayesianNetwork) -> float:
    a = full_joint(p, p.nodes, p.states)
    b = full_joint(q, p.nodes, p.states)  # Q's tables read by state name, in P's order
    mass = a > 0
    if (b[mass] == 0).any():
        return math.inf
    return float(np.sum(a[mass] * np.log(a[mass] / b[mass])))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_kl_matches_enumeration(seed: int) -> None:
    p, q = random_network(seed), random_network(seed + 10, cards_seed=seed)
    assert p.states == q.states and p.edges != q.edges
    result = kl_divergence(p, q)
    assert result.exact and result.standard_error == 0.0 and result.n_samples == 0
    assert result.value == pytest.approx(brute_force_kl(p, q), rel=1e-10)
    reverse = kl_divergence(q, p)
    assert reverse.value == pytest.approx(brute_force_kl(q, p), rel=1e-10)
    assert kl_divergence(p, p) == KLResult(0.0, 0.0, True, 0)


def test_sampled_kl_agrees_with_exact() -> None:
    p = random_network(0)
    q = BayesianNetwork(nodes=p.nodes, states=p.states).fit(p.sample(500, random_state=1), estimator="bayes")
    exact = kl_divergence(p, q)
    sampled = kl_divergence(p, q, exact=False, n_samples=20_000, random_state=0)
    assert not sampled.exact and sampled.n_samples == 20_000 and sampled.standard_error > 0
    assert abs(sampled.value - exact.value) < 4 * sampled.standard_error
    sample = p.sample(5000, random_state=2)
    given = kl_divergence(p, q, X=sample)
    assert given.n_samples == 5000
    expected = p.score_samples(sample) - q.score_samples(sample)
    assert given.value == pytest.approx(expected.mean())
    assert given.standard_error == pytest.approx(expected.std(ddof=1) / math.sqrt(5000))
    codes = np.column_stack([sample[v].cat.codes.to_numpy() for v in p.nodes])
    assert kl_divergence(p, q, X=codes).value == pytest.approx(given.value)


def test_kl_with_states_in_another_order() -> None:
    p = random_network(4)
    q = BayesianNetwork(p.edges, nodes=p.nodes[::-1])  # other node order, reversed state order
    for v in p.nodes:
        cpd = p.cpd(v)
        scope = [v, *cpd.parents]
        values = cpd.values[tuple(slice(None, None, -1) for _ in scope)]
        q.add_cpds(TabularCPD(v, values, cpd.parents, {u: p.states[u][::-1] for u in scope}))
    assert kl_divergence(p, q).value == pytest.approx(0.0, abs=1e-12)
    sample = p.sample(200, random_state=0)
    codes = np.column_stack([sample[v].cat.codes.to_numpy() for v in p.nodes])
    assert kl_divergence(p, q, X=codes).value == pytest.approx(0.0, abs=1e-12)
    other = random_network(5)
    other = BayesianNetwork(other.edges, nodes=other.nodes, states=p.states).fit(
        sample, estimator="bayes", equivalent_sample_size=1
    )
    assert kl_divergence(p, other).value == pytest.approx(brute_force_kl(p, other), rel=1e-10)


def test_kl_is_infinite_where_q_has_zeros() -> None:
    p = random_network(6)
    q = p.copy()
    v = p.nodes[0]  # a root: its state s0 has mass under p
    cpd = q.cpd(v)
    q.add_cpds(TabularCPD(v, [0.0, *([1 / (len(cpd.values) - 1)] * (len(cpd.values) - 1))], [], cpd.states))
    assert brute_force_kl(p, q) == math.inf
    assert kl_divergence(p, q).value == math.inf
    sampled = kl_divergence(p, q, exact=False, n_samples=2000, random_state=0)
    assert sampled.value == math.inf and not sampled.exact
    assert np.isfinite(kl_divergence(q, p).value)  # the other way round is finite


def test_kl_on_a_bundled_network() -> None:
    spec = importlib.util.find_spec("pgmpy")  # located without importing pgmpy (slow)
    if spec is None or spec.origin is None:
        pytest.skip("pgmpy is not installed")
    path = Path(spec.origin).parent / "utils" / "example_models" / "asia.bif.gz"
    if not path.exists():
        pytest.skip("pgmpy's example networks are not installed")
    p = read_bif(path)
    q = BayesianNetwork(p.edges, nodes=p.nodes, states=p.states).fit(
        p.sample(2000, random_state=0), estimator="bayes"
    )
    exact = kl_divergence(p, q)
    assert exact.exact and exact.value == pytest.approx(brute_force_kl(p, q), rel=1e-9)
    sampled = kl_divergence(p, q, exact=False, n_samples=20_000, random_state=1)
    assert abs(sampled.value - exact.value) < 4 * sampled.standard_error


def test_kl_auto_samples_when_exact_is_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    p, q = random_network(0), random_network(0)
    monkeypatch.setattr(_discrete, "EXACT_MAX_CELLS", 1)
    result = kl_divergence(p, q, n_samples=100, random_state=0)
    assert not result.exact and result.n_samples == 100 and result.value == 0.0
    assert kl_divergence(p, q, exact=True).exact


def test_kl_bad_input() -> None:
    p = random_network(0)
    with pytest.raises(TypeError, match="q_model must be a scalegen BayesianNetwork"):
        kl_divergence(p, p.edges)
    renamed = BayesianNetwork(nodes=["other", *p.nodes[1:]])
    with pytest.raises(ValueError, match=r"only in p_model: \['v0'\], only in q_model: \['other'\]"):
        kl_divergence(p, renamed)
    states = p.states
    states["v1"] = [*states["v1"][:-1], "changed"]
    renamed = BayesianNetwork(p.edges, nodes=p.nodes)
    for cpd in p.cpds:
        scope = [cpd.variable, *cpd.parents]
        renamed.add_cpds(TabularCPD(cpd.variable, cpd.values, cpd.parents, {u: states[u] for u in scope}))
    with pytest.raises(ValueError, match="'v1' has the states"):
        kl_divergence(p, renamed)
    with pytest.raises(ValueError, match="no table"):
        kl_divergence(p, BayesianNetwork(p.edges, nodes=p.nodes))
    with pytest.raises(ValueError, match="exact must be"):
        kl_divergence(p, p, exact="yes")
    with pytest.raises(ValueError, match="do not pass X"):
        kl_divergence(p, p, X=p.sample(10, random_state=0), exact=True)
    with pytest.raises(ValueError, match="n_samples"):
        kl_divergence(p, p, exact=False, n_samples=1)
    with pytest.raises(ValueError, match="at least 2"):
        kl_divergence(p, p, X=p.sample(1, random_state=0))
    q = p.copy()
    v = p.nodes[0]
    q.add_cpds(TabularCPD(v, [1.0] + [0.0] * (len(q.states[v]) - 1), [], {v: q.states[v]}))
    sample = p.sample(50, random_state=0)
    with pytest.raises(ValueError, match="probability zero under p_model"):
        kl_divergence(q, p, X=sample)


# --- edge_scores and structural_hamming_distance ------------------------------------------------
def test_edge_scores_by_hand() -> None:
    true = [("a", "b"), ("b", "c"), ("c", "d")]
    learned = [("a", "b"), ("c", "b"), ("a", "d")]
    assert edge_scores(learned, true) == EdgeScores(1 / 3, 1 / 3, 1 / 3, 1, 2, 2)
    assert edge_scores(learned, true, directed=np.True_) == edge_scores(learned, true)
    assert edge_scores(learned, true, directed=False) == EdgeScores(2 / 3, 2 / 3, 2 / 3, 2, 1, 1)
    network = BayesianNetwork(true)
    assert edge_scores(network, network) == EdgeScores(1.0, 1.0, 1.0, 3, 0, 0)
    assert edge_scores([], true) == EdgeScores(0.0, 0.0, 0.0, 0, 0, 3)
    assert edge_scores(true, []) == EdgeScores(0.0, 0.0, 0.0, 0, 3, 0)
    assert edge_scores([], BayesianNetwork(nodes=["a"])) == EdgeScores(0.0, 0.0, 0.0, 0, 0, 0)
    assert edge_scores([("b", "a"), ("a", "b")], [("a", "b")], directed=False).false_positives == 0


def random_adjacency(rng: np.random.Generator, n: int, density: float) -> np.ndarray:
    order = rng.permutation(n)
    upper = np.triu(rng.random((n, n)) < density, k=1)
    return upper[np.ix_(order, order)]


def test_edge_scores_match_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    n = 8
    off_diagonal = ~np.eye(n, dtype=bool)
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    for trial in range(20):
        a = random_adjacency(rng, n, 0.3)
        b = a.copy() if trial % 5 == 0 else random_adjacency(rng, n, 0.3)
        if trial % 3 == 0:  # some reversed edges
            flip = np.triu(rng.random((n, n)) < 0.3) & b
            b = (b & ~flip) | flip.T
        learned = [(f"x{i}", f"x{j}") for i, j in zip(*np.nonzero(b), strict=True)]
        true = BayesianNetwork([(f"x{i}", f"x{j}") for i, j in zip(*np.nonzero(a), strict=True)])
        for directed, (ya, yb) in {
            True: (a[off_diagonal], b[off_diagonal]),
            False: ((a | a.T)[upper], (b | b.T)[upper]),
        }.items():
            p, r, f, _ = metrics.precision_recall_fscore_support(ya, yb, average="binary", zero_division=0)
            got = edge_scores(learned, true, directed=directed)
            assert [got.precision, got.recall, got.f1] == pytest.approx([p, r, f])
            assert got.true_positives == int((ya & yb).sum())
            assert got.false_positives == int((~ya & yb).sum())
            assert got.false_negatives == int((ya & ~yb).sum())


def test_structural_hamming_distance_is_reexported() -> None:
    a = [("a", "b"), ("b", "c"), ("c", "d")]
    b = [("b", "a"), ("b", "c"), ("a", "d")]
    assert structural_hamming_distance(a, b) == bayesnet_shd(a, b) == 3
    assert structural_hamming_distance(BayesianNetwork(a), BayesianNetwork(a)) == 0


def test_edge_scores_bad_input() -> None:
    with pytest.raises(TypeError, match="learned must be a BayesianNetwork"):
        edge_scores("ab", [("a", "b")])
    with pytest.raises(TypeError, match="true must be"):
        edge_scores([("a", "b")], 3)
    with pytest.raises(ValueError, match="true: an edge must be a"):
        edge_scores([("a", "b")], [("a", "b", "c")])
    with pytest.raises(ValueError, match="self-loop"):
        edge_scores([("a", "a")], [])
    with pytest.raises(TypeError, match="hashable"):
        edge_scores([(["a"], "b")], [])
    with pytest.raises(TypeError, match="directed"):
        edge_scores([], [], directed="no")
