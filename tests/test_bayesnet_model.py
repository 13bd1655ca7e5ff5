"""BayesianNetwork: structure, tables, fitting against pgmpy, sampling, scores, bad input."""

from __future__ import annotations

import pickle
import warnings
from math import lgamma
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalegen
from scalegen import _core
from scalegen.bayesnet import BayesianNetwork, TabularCPD, read_bif, structure_score
from scalegen.bayesnet._data import encode

pgmpy = pytest.importorskip("pgmpy")
EXAMPLES = Path(pgmpy.__file__).parent / "utils" / "example_models"


@pytest.fixture(scope="module")
def alarm() -> BayesianNetwork:
    return read_bif(EXAMPLES / "alarm.bif.gz")


@pytest.fixture(scope="module")
def alarm_data(alarm: BayesianNetwork) -> pd.DataFrame:
    return alarm.sample(4000, random_state=7)


def asia() -> BayesianNetwork:
    """The seed-style 'asia' chain in a few lines, with string states."""
    m = BayesianNetwork([("smoke", "lung"), ("smoke", "bronc"), ("lung", "dysp"), ("bronc", "dysp")])
    yn = ["yes", "no"]
    m.add_cpds(
        TabularCPD("smoke", [0.5, 0.5], states={"smoke": yn}),
        TabularCPD("lung", [[0.1, 0.01], [0.9, 0.99]], ["smoke"], {"lung": yn, "smoke": yn}),
        TabularCPD("bronc", [[0.6, 0.3], [0.4, 0.7]], ["smoke"], {"bronc": yn, "smoke": yn}),
        TabularCPD(
            "dysp",
            [[[0.9, 0.7], [0.8, 0.1]], [[0.1, 0.3], [0.2, 0.9]]],
            ["lung", "bronc"],
            {"dysp": yn, "lung": yn, "bronc": yn},
        ),
    )
    return m


def pgmpy_model(model: BayesianNetwork):  # type: ignore[no-untyped-def]
    from pgmpy.models import DiscreteBayesianNetwork

    pm = DiscreteBayesianNetwork(model.edges)
    pm.add_nodes_from(model.nodes)
    return pm


def assert_tables_equal(pgmpy_cpds, ours: BayesianNetwork, tol: float = 1e-12) -> None:  # type: ignore[no-untyped-def]
    """pgmpy orders parents by name; bring its axes into our order first."""
    assert len(pgmpy_cpds) == len(ours.cpds)
    for c in pgmpy_cpds:
        mine = ours.cpd(c.variable)
        theirs = c.variables[1:]
        values = np.transpose(c.values, [0, *(1 + theirs.index(p) for p in mine.parents)])
        assert values.shape == mine.values.shape
        np.testing.assert_allclose(mine.values, values, rtol=0, atol=tol, err_msg=str(c.variable))
        for v in c.variables:
            assert list(c.state_names[v]) == mine.states[v]


# ---- structure -------------------------------------------------------------------------
def test_structure_queries() -> None:
    m = BayesianNetwork([("A", "B"), ("B", "C"), ("A", "C")], nodes=["C", "Z"])
    assert m.nodes == ["C", "Z", "A", "B"]
    assert m.parents("C") == ["B", "A"]
    assert m.children("A") == ["B", "C"]
    order = m.topological_order()
    assert order.index("A") < order.index("B") < order.index("C") and set(order) == set(m.nodes)
    with pytest.raises(ValueError, match="not a node"):
        m.parents("Q")


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        ([("A", "B"), ("B", "C"), ("C", "A")], "cycle 'A' -> 'B' -> 'C' -> 'A'"),
        ([("A", "A")], "self-loop"),
        ([("A", "B"), ("A", "B")], "given twice"),
        ([("A", "B", "C")], "pair"),
    ],
)
def test_bad_structure(edges, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        BayesianNetwork(edges)


def test_cpd_layout_and_validation() -> None:
    cpd = TabularCPD("C", np.full((2, 3, 2), 1 / 2), ["A", "B"], {"A": ["a0", "a1", "a2"]})
    assert cpd.cardinality == (2, 3, 2)
    assert cpd.states == {"C": [0, 1], "A": ["a0", "a1", "a2"], "B": [0, 1]}
    frame = cpd.to_frame()
    assert frame.shape == (2, 6) and list(frame.columns[1]) == ["a0", 1]
    flat = TabularCPD("C", cpd.get_values(), ["A", "B"], cpd.states)
    assert flat == cpd
    assert TabularCPD("R", [[0.25], [0.75]]).values.shape == (2,)
    with pytest.raises(ValueError, match="axes"):
        TabularCPD("C", [0.5, 0.5], ["A"])
    with pytest.raises(ValueError, match="non-negative"):
        TabularCPD("C", [1.5, -0.5])
    with pytest.raises(ValueError, match="3 states"):
        TabularCPD("C", [0.5, 0.5], states={"C": ["x", "y", "z"]})
    with pytest.raises(ValueError, match="twice"):
        TabularCPD("C", [0.5, 0.5], states={"C": ["x", "x"]})


def test_add_cpds_and_check_model() -> None:
    m = asia()
    assert m.check_model()
    with pytest.raises(ValueError, match="parents in the network"):
        m.add_cpds(TabularCPD("lung", [0.5, 0.5], states={"lung": ["yes", "no"]}))
    with pytest.raises(ValueError, match="states"):
        m.add_cpds(
            TabularCPD(
                "lung", [[0.1, 0.01], [0.9, 0.99]], ["smoke"], {"lung": ["no", "yes"], "smoke": ["yes", "no"]}
            )
        )
    bad = asia()
    bad.add_cpds(TabularCPD("smoke", [0.5, 0.4], states={"smoke": ["yes", "no"]}))
    with pytest.raises(ValueError, match=r"sums to 0\.9"):
        bad.check_model()
    with pytest.raises(ValueError, match="no table"):
        BayesianNetwork([("A", "B")]).check_model()


# ---- fitting against pgmpy -------------------------------------------------------------
def test_mle_equals_pgmpy(alarm: BayesianNetwork, alarm_data: pd.DataFrame) -> None:
    from pgmpy.estimators import MaximumLikelihoodEstimator

    ours = BayesianNetwork(alarm.edges, alarm.nodes, alarm.states).fit(alarm_data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs = MaximumLikelihoodEstimator(pgmpy_model(alarm), alarm_data, state_names=alarm.states)
        assert_tables_equal(theirs.get_parameters(n_jobs=1), ours)


@pytest.mark.parametrize(("prior", "ess"), [("BDeu", 5), ("BDeu", 0.5), ("K2", 5)])
def test_bayes_equals_pgmpy(alarm: BayesianNetwork, alarm_data: pd.DataFrame, prior: str, ess: float) -> None:
    from pgmpy.estimators import BayesianEstimator

    ours = BayesianNetwork(alarm.edges, alarm.nodes, alarm.states).fit(
        alarm_data, estimator="bayes", prior_type=prior, equivalent_sample_size=ess
    )
    theirs = BayesianEstimator(pgmpy_model(alarm), alarm_data, state_names=alarm.states)
    assert_tables_equal(theirs.get_parameters(prior_type=prior, equivalent_sample_size=ess, n_jobs=1), ours)


def test_dirichlet_pseudo_counts_per_variable() -> None:
    from pgmpy.estimators import BayesianEstimator

    m = asia()
    data = m.sample(300, random_state=3)
    alpha = np.arange(1, 9, dtype=float).reshape(2, 2, 2)
    ours = BayesianNetwork(m.edges, m.nodes, m.states).fit(
        data,
        estimator="bayes",
        prior_type="dirichlet",
        pseudo_counts={"dysp": alpha, "smoke": 2, "lung": 1, "bronc": 0.5},
    )
    est = BayesianEstimator(pgmpy_model(m), data, state_names=m.states)
    # pgmpy's parents are sorted (bronc, lung): swap our two parent axes for its array.
    theirs = est.estimate_cpd(
        "dysp", prior_type="dirichlet", pseudo_counts=alpha.transpose(0, 2, 1).reshape(2, 4)
    )
    assert_tables_equal([theirs], _only(ours, "dysp"))
    with pytest.raises(ValueError, match="shape"):
        m.copy().fit(
            data, estimator="bayes", prior_type="dirichlet", pseudo_counts={v: np.ones(3) for v in m.nodes}
        )
    with pytest.raises(ValueError, match=r"pseudo_counts.*range \[0\.0, inf\)"):
        m.copy().fit(data, estimator="bayes", prior_type="dirichlet", pseudo_counts=-1)


def _only(model: BayesianNetwork, v: str) -> BayesianNetwork:
    out = BayesianNetwork([(p, v) for p in model.cpd(v).parents], nodes=[v])
    out.add_cpds(model.cpd(v))
    return out


def test_missing_values_skip_rows_per_family() -> None:
    from pgmpy.estimators import MaximumLikelihoodEstimator

    m = asia()
    data = m.sample(2000, random_state=5).astype(object)
    rng = np.random.default_rng(0)
    for col in data.columns:
        data.loc[rng.random(len(data)) < 0.1, col] = np.nan
    ours = BayesianNetwork(m.edges, m.nodes, m.states).fit(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs = MaximumLikelihoodEstimator(pgmpy_model(m), data, state_names=m.states).get_parameters(
            n_jobs=1
        )
    assert_tables_equal(theirs, ours)


def test_weights_equal_pgmpy_and_repeated_rows() -> None:
    from pgmpy.estimators import MaximumLikelihoodEstimator

    m = asia()
    data = m.sample(500, random_state=11)
    w = np.random.default_rng(1).integers(0, 4, len(data))
    ours = BayesianNetwork(m.edges, m.nodes, m.states).fit(data, sample_weight=w)
    repeated = BayesianNetwork(m.edges, m.nodes, m.states).fit(data.loc[data.index.repeat(w)])
    for v in m.nodes:
        np.testing.assert_allclose(ours.cpd(v).values, repeated.cpd(v).values, rtol=0, atol=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        est = MaximumLikelihoodEstimator(
            pgmpy_model(m), data.assign(_weight=w.astype(float)), state_names=m.states
        )
        assert_tables_equal(est.get_parameters(n_jobs=1, weighted=True), ours)


def test_states_inferred_like_pgmpy_and_value_types() -> None:
    from pgmpy.estimators import MaximumLikelihoodEstimator

    rng = np.random.default_rng(2)
    data = pd.DataFrame(
        {
            "i": rng.integers(3, 6, 400),
            "s": rng.choice(["b", "a", "c"], 400),
            "f": rng.random(400) < 0.3,
        }
    )
    ours = BayesianNetwork([("i", "s"), ("f", "s")]).fit(data)
    assert ours.states == {"i": [3, 4, 5], "s": ["a", "b", "c"], "f": [False, True]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        pm = pgmpy_model(ours)
        assert_tables_equal(MaximumLikelihoodEstimator(pm, data).get_parameters(n_jobs=1), ours)


def test_codes_array_equals_dataframe(alarm: BayesianNetwork, alarm_data: pd.DataFrame) -> None:
    codes = np.column_stack([alarm_data[v].cat.codes.to_numpy().astype(np.int64) for v in alarm.nodes])
    a = BayesianNetwork(alarm.edges, alarm.nodes, alarm.states).fit(codes)
    b = BayesianNetwork(alarm.edges, alarm.nodes, alarm.states).fit(alarm_data)
    for v in alarm.nodes:
        np.testing.assert_array_equal(a.cpd(v).values, b.cpd(v).values)


def test_fit_is_thread_independent_and_input_untouched(
    alarm: BayesianNetwork, alarm_data: pd.DataFrame
) -> None:
    before = alarm_data.copy()
    w = np.random.default_rng(3).random(len(alarm_data))
    fits = [
        BayesianNetwork(alarm.edges, alarm.nodes, alarm.states).fit(alarm_data, sample_weight=w, n_jobs=n)
        for n in (1, 2)
    ]
    for v in alarm.nodes:
        np.testing.assert_array_equal(fits[0].cpd(v).values, fits[1].cpd(v).values)
    pd.testing.assert_frame_equal(alarm_data, before)


# ---- counting kernel -------------------------------------------------------------------
def _counts(data: pd.DataFrame, families, dense_limit: int, weights=None):  # type: ignore[no-untyped-def]
    enc = encode(data, list(data.columns), {})
    index = {v: i for i, v in enumerate(data.columns)}
    fams = [(index[c], [index[p] for p in ps]) for c, ps in families]
    return _core.bn_count(enc.columns, enc.cards, fams, weights, dense_limit, 2)


def test_sparse_counts_equal_dense_and_groupby() -> None:
    rng = np.random.default_rng(4)
    cols = [f"x{i}" for i in range(6)]
    data = pd.DataFrame(rng.integers(0, 12, (3000, 6)), columns=cols)
    data.iloc[::7, 2] = np.nan
    fam = [("x0", cols[1:])]
    dense = _counts(data, fam, 1 << 24)[0]
    sparse = _counts(data, fam, 1 << 10)[0]
    assert (
        not dense.sparse and sparse.sparse and dense.total == sparse.total == len(data) - len(data.iloc[::7])
    )
    np.testing.assert_array_equal(dense.to_dense(), sparse.to_dense())
    grouped = data.dropna().astype(int).groupby(cols).size()
    table = dense.to_dense().reshape((12,) * 6)
    for key, n in grouped.items():
        assert table[key] == n
    # A 12^6-cell table learned from 3000 rows: fit takes the sparse path.
    model = BayesianNetwork([(p, "x0") for p in cols[1:]]).fit(data)
    assert model.cpd("x0").values.shape == (12,) * 6
    np.testing.assert_allclose(model.cpd("x0").column_sums(), 1.0)


@pytest.mark.parametrize("limit", [1 << 24, 16])
def test_counts_merge_across_chunks_and_pickle(limit: int) -> None:
    rng = np.random.default_rng(5)
    data = pd.DataFrame(rng.integers(0, 4, (1000, 3)), columns=list("abc"))
    fam = [("a", ["b", "c"])]
    whole = _counts(data, fam, limit)[0]
    part = _counts(data.iloc[:400], fam, limit)[0]
    part += pickle.loads(pickle.dumps(_counts(data.iloc[400:], fam, limit)[0]))
    np.testing.assert_array_equal(part.to_dense(), whole.to_dense())
    assert part.total == whole.total == 1000


def test_many_states_use_int16_codes() -> None:
    rng = np.random.default_rng(6)
    data = pd.DataFrame({"a": rng.integers(0, 300, 5000), "b": rng.integers(0, 3, 5000)})
    enc = encode(data, ["a", "b"], {})
    assert enc.columns[0].dtype == np.int16
    m = BayesianNetwork([("b", "a")]).fit(data)
    expected = pd.crosstab(data["a"], data["b"]).reindex(range(300), fill_value=0).to_numpy()
    np.testing.assert_allclose(m.cpd("a").values, expected / expected.sum(axis=0), rtol=0, atol=1e-15)
    sample = m.sample(1000, random_state=0)
    assert sample["a"].cat.categories.tolist() == list(range(300))


# ---- scores ----------------------------------------------------------------------------
@pytest.mark.parametrize("score", ["bic", "aic", "bdeu", "ll"])
def test_scores_equal_pgmpy(alarm: BayesianNetwork, alarm_data: pd.DataFrame, score: str) -> None:
    from pgmpy.estimators import AIC, BIC, BDeu
    from pgmpy.estimators.StructureScore import LogLikeliHood

    cls = {"bic": BIC, "aic": AIC, "bdeu": BDeu, "ll": LogLikeliHood}[score]
    kw = {"equivalent_sample_size": 10} if score == "bdeu" else {}
    theirs = cls(alarm_data, state_names=alarm.states, **kw).score(pgmpy_model(alarm))
    assert structure_score(alarm, alarm_data, score) == pytest.approx(theirs, rel=1e-12)
    assert structure_score(
        alarm.edges, alarm_data, score + ("-d" if score != "bdeu" else "")
    ) == pytest.approx(theirs, rel=1e-12)


def _brute_k2(model: BayesianNetwork, data: pd.DataFrame) -> float:
    """Cooper & Herskovits' K2, summed over every parent configuration."""
    total = 0.0
    for v in model.nodes:
        parents = model.parents(v)
        cards = [len(model.states[p]) for p in parents]
        config = np.zeros(len(data), dtype=np.int64)
        for p, c in zip(parents, cards, strict=True):
            config = config * c + data[p].cat.codes.to_numpy()
        r = len(model.states[v])
        n = np.zeros((int(np.prod(cards)), r))
        np.add.at(n, (config, data[v].cat.codes.to_numpy()), 1)
        for row in n:
            total += lgamma(r) - lgamma(row.sum() + r) + sum(lgamma(x + 1) for x in row)
    return total


def test_k2_score(alarm: BayesianNetwork, alarm_data: pd.DataFrame) -> None:
    """Ours is the K2 formula; pgmpy adds lgamma(card) for every parent configuration
    absent from the data, so the two differ by exactly that sum (zero when every
    configuration is observed or the variable is binary)."""
    from pgmpy.estimators import K2

    ours = structure_score(alarm, alarm_data, "k2")
    assert ours == pytest.approx(_brute_k2(alarm, alarm_data), rel=1e-12)
    unseen = 0.0
    for v in alarm.nodes:
        parents = alarm.parents(v)
        n_configs = int(np.prod([len(alarm.states[p]) for p in parents]))
        seen = len(alarm_data.groupby(parents, observed=True).size()) if parents else 1
        unseen += (n_configs - seen) * lgamma(len(alarm.states[v]))
    theirs = K2(alarm_data, state_names=alarm.states).score(pgmpy_model(alarm))
    assert ours + unseen == pytest.approx(theirs, rel=1e-12)


# ---- sampling and likelihoods ----------------------------------------------------------
def test_sampling_is_deterministic_and_matches_tables() -> None:
    m = asia()
    a = m.sample(50_000, random_state=42, n_jobs=1)
    b = m.sample(50_000, random_state=42, n_jobs=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(m.sample(50_000, random_state=43))
    assert list(a.columns) == m.nodes and all(isinstance(a[c].dtype, pd.CategoricalDtype) for c in a)
    refit = BayesianNetwork(m.edges, m.nodes, m.states).fit(a)
    for v in m.nodes:
        p = m.cpd(v).values
        counts = refit.cpd(v)  # frequencies: within 5 standard errors of the table
        n_config = len(a) * 0.01  # lowest parent-configuration probability in asia is ~0.005
        assert np.all(np.abs(counts.values - p) <= 5 * np.sqrt(p * (1 - p) / n_config) + 1e-12), v


def test_sampled_joint_frequencies_match_exact_joint() -> None:
    m = asia()
    sample = m.sample(200_000, random_state=0)
    joint = np.exp(m.score_samples(sample))
    freq = sample.value_counts(normalize=True)
    exact = dict(zip(map(tuple, sample[m.nodes].itertuples(index=False)), joint, strict=False))
    for key, f in freq.items():
        p = exact[key]
        assert abs(f - p) <= 5 * np.sqrt(p * (1 - p) / len(sample)) + 1e-4


def test_score_samples_equals_direct_lookup(alarm: BayesianNetwork, alarm_data: pd.DataFrame) -> None:
    rows = alarm_data.iloc[:200]
    expected = np.zeros(len(rows))
    for v in alarm.nodes:
        cpd = alarm.cpd(v)
        pos = [rows[u].cat.codes.to_numpy() for u in [v, *cpd.parents]]
        expected += np.log(cpd.values[tuple(pos)])
    np.testing.assert_allclose(alarm.score_samples(rows), expected, rtol=1e-13)
    assert alarm.log_likelihood(rows) == pytest.approx(expected.sum(), rel=1e-13)
    assert alarm.score(rows) == pytest.approx(expected.mean(), rel=1e-13)


# ---- bad input -------------------------------------------------------------------------
def test_bad_data() -> None:
    m = asia()
    data = m.sample(100, random_state=0)
    with pytest.raises(ValueError, match="no column for \\['dysp'\\]"):
        BayesianNetwork(m.edges, m.nodes, m.states).fit(data.drop(columns="dysp"))
    wrong = data.astype(object)
    wrong.loc[5, "lung"] = "maybe"
    with pytest.raises(ValueError, match="'maybe' of column 'lung' \\(row 5\\)"):
        BayesianNetwork(m.edges, m.nodes, m.states).fit(wrong)
    with pytest.raises(ValueError, match="no rows"):
        BayesianNetwork(m.edges, m.nodes, m.states).fit(data.iloc[:0])
    with pytest.raises(ValueError, match="Negative"):
        BayesianNetwork(m.edges, m.nodes, m.states).fit(data, sample_weight=-np.ones(100))
    with pytest.raises(ValueError, match="NaN"):
        BayesianNetwork(m.edges, m.nodes, m.states).fit(data, sample_weight=np.full(100, np.nan))
    with pytest.raises(ValueError, match="estimator"):
        m.copy().fit(data, estimator="gibbs")
    with pytest.raises(ValueError, match="prior_type"):
        m.copy().fit(data, estimator="bayes", prior_type="uniform")
    with pytest.raises(TypeError, match="DataFrame"):
        m.copy().fit(data.to_dict())
    with pytest.raises(ValueError, match="out of range"):
        m.copy().fit(np.full((10, 4), 2))
    with pytest.raises(ValueError, match=r"'n' parameter .* range \[0, inf\)"):
        m.sample(-1)
    with pytest.raises(ValueError, match="score must be"):
        structure_score(m, data, "bdeu-x")


def test_top_level_export() -> None:
    assert scalegen.BayesianNetwork is BayesianNetwork


def test_values_read_as_numbers_or_booleans_match_text_states() -> None:
    """BIF states are text; pandas reads 0/1 as numbers and TRUE/FALSE as booleans."""
    import io

    net = BayesianNetwork([("A", "B")], states={"A": ["FALSE", "TRUE"], "B": ["0", "1", "2"]})
    text = "A,B\nTRUE,1\nFALSE,2\nTRUE,0\nFALSE,1\nTRUE,1\n"
    parsed = pd.read_csv(io.StringIO(text))
    as_text = pd.read_csv(io.StringIO(text), dtype=str)
    assert parsed.dtypes.tolist() == [np.dtype(bool), np.dtype(np.int64)]
    for v in net.nodes:
        np.testing.assert_array_equal(net.fit(parsed).cpd(v).values, net.fit(as_text).cpd(v).values)
    chunks = pd.read_csv(io.StringIO(text), chunksize=2)
    np.testing.assert_array_equal(net.fit(chunks).cpd("B").values, net.fit(as_text).cpd("B").values)
    with pytest.raises(ValueError, match="is not one of its states"):
        net.fit(pd.DataFrame({"A": [True, False], "B": [3, 1]}))
