"""Bayesian networks given hostile input: BIF files whose ``default`` rows or gzip streams ask
for gigabytes (refused against scalegen's limits before anything is allocated), weights and
priors that would overflow into NaN tables, parameters that would make a search run forever,
families too large to tabulate, thread counts beyond the machine; and fuzzing of read_bif and
of every numeric parameter in a child process under a memory limit (isolated.run_cases).

The builders of bombs and mutated files, and the targets the child runs, are in
fuzz_targets_bayesnet.py."""

from __future__ import annotations

import gzip
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import isolated
import scalegen
from fuzz_targets_bayesnet import ENTRY_POINTS, base_texts, bomb_bif_gz, default_bomb, mutate_text
from isolated import odd_values, peak_memory, run_cases
from scalegen import LimitError
from scalegen.bayesnet import (
    ApproximateInference,
    BayesianNetwork,
    DiscreteFactor,
    HillClimbSearch,
    TabularCPD,
    TreeSearch,
    VariableElimination,
    read_bif,
    structure_score,
)
from scalegen.bayesnet._bif import parse_bif
from scalegen.datasets import load_network


@pytest.fixture(scope="module")
def asia() -> BayesianNetwork:
    return load_network("asia")


@pytest.fixture(scope="module")
def data(asia: BayesianNetwork) -> pd.DataFrame:
    return asia.sample(500, random_state=0)


def fresh(model: BayesianNetwork) -> BayesianNetwork:
    return BayesianNetwork(model.edges, model.nodes, model.states)


def assert_same_tables(a: BayesianNetwork, b: BayesianNetwork, rtol: float = 0.0) -> None:
    assert [c.variable for c in a.cpds] == [c.variable for c in b.cpds]
    for x, y in zip(a.cpds, b.cpds, strict=True):
        assert x.parents == y.parents and x.states == y.states
        np.testing.assert_allclose(x.values, y.values, rtol=rtol, atol=0, err_msg=str(x.variable))


# ---- 1. bombs: BIF tables and gzip streams -----------------------------------------------------
def test_default_rows_cannot_add_up_past_the_total_limit(tmp_path: Path) -> None:
    # 2 KB: five tables of 10^8 cells (800 MB each, under max_tensor_bytes) from `default` rows;
    # the per-table cap of 1e8 entries let this reach gigabytes
    text = default_bomb(n_parents=7, states=10, children=5)
    assert len(text) < 2500
    path = tmp_path / "bomb.bif"
    path.write_text(text)
    with peak_memory(64 << 20), pytest.raises(LimitError, match=r"max_total_bytes") as info:
        read_bif(path)
    message = str(info.value)
    # located, names the file, the table, the size and how to raise the limit
    assert message.startswith("bomb.bif:")
    assert "the BIF file bomb.bif" in message and "'x2'" in message and "2400000560 bytes" in message
    assert "scalegen.set_limits(max_total_bytes=...)" in message


def test_one_default_row_past_the_table_limit() -> None:
    text = default_bomb(n_parents=8, states=16)  # 16^9 cells: 512 GiB
    with (
        peak_memory(16 << 20),
        pytest.raises(LimitError, match=r"^<string>:54:1: the table of 'x0' needs 512 GiB"),
    ):
        parse_bif(text)
    # sizes are multiplied out exactly: 40 parents of 64 states do not wrap around
    names = ", ".join(f"s{k}" for k in range(64))
    text = "".join(f"variable v{k} {{ type discrete [ 64 ] {{ {names} }}; }}\n" for k in range(41))
    text += f"probability ( v0 | {', '.join(f'v{k}' for k in range(1, 41))} ) {{ default 1; }}"
    with pytest.raises(LimitError, match=r"max_tensor_bytes"):
        parse_bif(text)


def test_default_rows_within_the_limits_read_right() -> None:
    net = parse_bif(default_bomb(n_parents=3, states=5))  # 625 cells
    assert net.values["x0"].shape == (5, 5, 5, 5)
    np.testing.assert_array_equal(net.values["x0"], np.full((5, 5, 5, 5), 0.2))
    # a default row with some explicit rows: each column is its row or the default
    text = """variable a { type discrete [ 2 ] { y, n }; }
variable b { type discrete [ 3 ] { p, q, r }; }
probability ( b ) { table 0.2, 0.3, 0.5; }
probability ( a | b ) { (q) 0.9, 0.1; default 0.4, 0.6; }"""
    a = parse_bif(text).values["a"]
    np.testing.assert_array_equal(a, [[0.4, 0.9, 0.4], [0.6, 0.1, 0.6]])
    assert a.flags.c_contiguous


def test_the_limits_apply_and_can_be_raised() -> None:
    text = default_bomb(n_parents=3, states=10)  # one table of 10^4 cells = 80 KB
    with scalegen.limits(max_tensor_bytes=40_000), pytest.raises(LimitError, match="max_tensor_bytes"):
        parse_bif(text)
    with scalegen.limits(max_total_bytes=80_000), pytest.raises(LimitError, match="max_total_bytes"):
        parse_bif(text)
    with scalegen.limits(max_tensor_bytes=80_000, max_total_bytes=80_240):
        assert parse_bif(text).values["x0"].size == 10**4


def test_gzip_is_read_up_to_the_decompressed_limit(tmp_path: Path) -> None:
    asia_text = base_texts()["asia"]
    path = tmp_path / "asia.bif.gz"
    path.write_bytes(gzip.compress(asia_text.encode()))
    assert read_bif(path).cpd("dysp") == parse_model(asia_text).cpd("dysp")
    # 4 MiB of spaces after the network, from 4 KB, under a 1 MiB limit: refused while reading
    path.write_bytes(gzip.compress(asia_text.encode() + b" " * (4 << 20), 9))
    assert path.stat().st_size < 8 << 10
    with scalegen.limits(max_decompressed_bytes=1 << 20):
        with (
            peak_memory(4 << 20),
            pytest.raises(LimitError, match=r"asia\.bif\.gz expands to more than 1 MiB"),
        ):
            read_bif(path)
        with pytest.raises(LimitError, match=r"set_limits\(max_decompressed_bytes=\.\.\.\)"):
            read_bif(path)
    assert len(read_bif(path).nodes) == 8  # within the default limit it reads


def parse_model(text: str) -> BayesianNetwork:
    from scalegen.bayesnet._bif_io import from_bif

    return from_bif(parse_bif(text))


def test_a_two_gigabyte_gzip_bomb_is_refused_under_a_memory_limit() -> None:
    bomb = bomb_bif_gz()  # 2 MB expanding to 2.1 GB: the child has 3 GiB of address space
    assert len(bomb) < 3 << 20
    [result] = run_cases("fuzz_targets_bayesnet:read_bif_bytes", [bomb])
    assert result[0] == "error" and result[2].startswith("LimitError:"), result
    assert "max_decompressed_bytes" in result[2]
    assert scalegen.get_limits().max_decompressed_bytes < 2_100_000_000


# ---- 2. wrong answers without a word: overflowing weights and priors, bad tables ----------------
def test_weights_whose_total_overflows_are_refused(asia: BayesianNetwork, data: pd.DataFrame) -> None:
    w = np.full(len(data), 1e308)
    kept = w.copy()
    with pytest.raises(ValueError, match=r"sample_weight sums to infinity.*divide the weights"):
        fresh(asia).fit(data, sample_weight=w)
    np.testing.assert_array_equal(w, kept)  # not modified
    # in chunks the total is summed over all of them
    chunks = [data.iloc[:250], data.iloc[250:]]
    with pytest.raises(ValueError, match="sums to infinity"):
        fresh(asia).fit(chunks, sample_weight=[w[:250], w[250:]])


def test_huge_finite_weights_give_the_tables_of_small_ones(asia: BayesianNetwork, data: pd.DataFrame) -> None:
    from pgmpy.estimators import MaximumLikelihoodEstimator
    from pgmpy.models import DiscreteBayesianNetwork

    w = np.random.default_rng(1).uniform(0.5, 2.0, len(data))
    small = fresh(asia).fit(data, sample_weight=w)
    huge = fresh(asia).fit(data, sample_weight=w * 1e305)
    assert huge.check_model()
    assert_same_tables(small, huge, rtol=1e-12)
    # and those are pgmpy's weighted maximum-likelihood tables
    pm = DiscreteBayesianNetwork(asia.edges)
    est = MaximumLikelihoodEstimator(pm, data.assign(_weight=w), state_names=asia.states)
    for v in asia.nodes:
        theirs = est.estimate_cpd(v, weighted=True)
        order = [theirs.variables.index(p) for p in [v, *small.cpd(v).parents]]
        np.testing.assert_allclose(small.cpd(v).values, np.transpose(theirs.values, order), atol=1e-12)


def brute_bdeu(data: pd.DataFrame, edges: list[tuple[str, str]], states: dict, ess: float) -> float:
    """BDeu from its definition, log Gamma(a + n) - log Gamma(a) as the exact sum of log(a + i)
    over the integer count n (no lgamma of a huge a)."""
    total = []
    for v in data.columns:
        parents = [p for p, c in edges if c == v]
        card = len(states[v])
        q = math.prod(len(states[p]) for p in parents)
        alpha, beta = ess / q, ess / (q * card)
        groups = data.groupby(parents, observed=True) if parents else [((), data)]
        for _, rows in groups:
            total += [-math.log(alpha + i) for i in range(len(rows))]
            for n in rows[v].value_counts():
                total += [math.log(beta + i) for i in range(n)]
    return math.fsum(total)


# 1.1e306: lgamma of the pseudo-counts overflowed and the score was inf - inf; found by fuzzing
@pytest.mark.parametrize("ess", [1e-3, 10.0, 2e3, 1e7, 3e8, 1e12, 1e150, 1.1e306, 1.7e308])
def test_bdeu_of_any_finite_equivalent_sample_size_equals_its_definition(
    asia: BayesianNetwork, data: pd.DataFrame, ess: float
) -> None:
    rows = data.iloc[:150]
    edges = [("smoke", "lung"), ("smoke", "bronc"), ("lung", "either"), ("tub", "either")]
    rows = rows[["smoke", "lung", "bronc", "either", "tub"]]
    states = {v: sorted(rows[v].unique()) for v in rows.columns}
    score = structure_score(edges, rows, "bdeu", equivalent_sample_size=ess)
    assert score == pytest.approx(brute_bdeu(rows, edges, states, ess), rel=1e-12)


# 5e-324: subnormal pseudo-counts (flushed to zero by the kernels) made the BDeu score NaN; found by fuzzing
@pytest.mark.parametrize("ess", [math.inf, math.nan, 0, -1.0, 1e309, 5e-324, 1e-250])
def test_infinite_non_positive_or_subnormal_equivalent_sample_size_is_refused(
    asia: BayesianNetwork, data: pd.DataFrame, ess: float
) -> None:
    with pytest.raises(ValueError, match=r"'equivalent_sample_size' parameter of BayesianNetwork\.fit"):
        fresh(asia).fit(data, estimator="bayes", equivalent_sample_size=ess)
    with pytest.raises(ValueError, match=r"'equivalent_sample_size' parameter of structure_score"):
        structure_score(asia, data, "bdeu", equivalent_sample_size=ess)
    with pytest.raises(ValueError, match=r"'equivalent_sample_size\['lung'\]'"):
        fresh(asia).fit(
            data, estimator="bayes", equivalent_sample_size=dict.fromkeys(asia.nodes, 5) | {"lung": ess}
        )


def test_priors_that_overflow_are_refused(asia: BayesianNetwork, data: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"the counts of .* overflow float64"):
        fresh(asia).fit(data, estimator="bayes", prior_type="dirichlet", pseudo_counts=1e308)
    with pytest.raises(ValueError, match="pseudo_counts"):
        fresh(asia).fit(data, estimator="bayes", prior_type="dirichlet", pseudo_counts=math.inf)
    # a large but finite prior is fine: every column is close to uniform
    m = fresh(asia).fit(data, estimator="bayes", prior_type="dirichlet", pseudo_counts=1e300)
    assert m.check_model()
    np.testing.assert_allclose(m.cpd("dysp").values, 0.5, rtol=1e-12)


@pytest.mark.parametrize("value", [math.nan, math.inf, -0.25])
def test_check_model_refuses_nan_inf_and_negative_tables(asia: BayesianNetwork, value: float) -> None:
    m = asia.copy()
    cpd = m.cpd("lung")
    cpd.values[0, 1] = value  # the columns of a table built elsewhere, edited after the checks
    cpd.values[1, 1] = 1 - value if math.isfinite(value) else 0.5
    with pytest.raises(ValueError, match=r"the values of 'lung' hold (NaN or infinity|negative numbers)"):
        m.check_model()
    with pytest.raises(ValueError, match="'lung'"):
        VariableElimination(m)
    with pytest.raises(ValueError, match="'lung'"):
        m.sample(3)


@pytest.mark.parametrize(
    "values", [np.array([0.5 + 0.5j, 0.5]), [0.5 + 0j, 0.5], np.array([[0.5], [0.5]], dtype=np.complex64)]
)
def test_complex_tables_are_refused_not_cast(values: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning: an error instead
        with pytest.raises(ValueError, match="Complex data not supported"):
            TabularCPD("a", values)
        with pytest.raises(ValueError, match="Complex data not supported"):
            DiscreteFactor(["a"], {"a": [0, 1]}, np.ravel(values))


def test_complex_pseudo_counts_are_refused(asia: BayesianNetwork, data: pd.DataFrame) -> None:
    alpha = {v: np.ones(asia.cpd(v).values.shape, dtype=complex) for v in asia.nodes}
    with pytest.raises(ValueError, match="Complex data not supported: pseudo_counts"):
        fresh(asia).fit(data, estimator="bayes", prior_type="dirichlet", pseudo_counts=alpha)


# ---- 3. parameters: checked, so that NaN cannot make a search run forever ----------------------
def test_nan_epsilon_is_refused_at_once(data: pd.DataFrame) -> None:
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"The 'epsilon' parameter of HillClimbSearch must be a float"):
        HillClimbSearch(epsilon=float("nan")).fit(data)
    assert time.perf_counter() - start < 1.0  # was: all 10^6 moves


HILL_CLIMB_BAD = [
    ("epsilon", math.inf),
    ("epsilon", -1e-4),
    ("epsilon", "0.1"),
    ("max_iter", -1),
    ("max_iter", 1.5),
    ("max_iter", math.nan),
    ("max_iter", True),
    ("max_iter", 2**64),
    ("tabu_length", -1),
    ("tabu_length", 2**31),
    ("max_tabu", 2.0),
    ("max_indegree", -1),
    ("max_indegree", 1.5),
    ("equivalent_sample_size", 0),
    ("equivalent_sample_size", math.inf),
    ("score", None),
    ("score", 3.0),
    ("score", "ll"),
    ("chow_liu_start", "yes"),
    ("mirror_start", 1),
    ("n_restarts", -1),
    ("n_restarts", 2**31),
    ("perturbation", 0),
    ("perturbation", 2.5),
    ("random_state", -3),
    ("random_state", "seed"),
    ("verbose", -1),
    ("n_jobs", 0),
    ("n_jobs", 1.5),
]


@pytest.mark.parametrize(("param", "value"), HILL_CLIMB_BAD)
def test_hill_climb_parameters_are_checked(data: pd.DataFrame, param: str, value: Any) -> None:
    with pytest.raises((ValueError, TypeError), match=param) as info:
        HillClimbSearch(**{param: value}).fit(data)
    assert repr(value)[:10] in str(info.value)


def test_hill_climb_boundary_values_still_work(data: pd.DataFrame) -> None:
    assert HillClimbSearch(max_iter=0, chow_liu_start=False).fit(data).edges_ == []
    default = HillClimbSearch().fit(data)
    exact = HillClimbSearch(epsilon=0).fit(data)  # the same climb, which may go on a little further
    assert exact.score_ >= default.score_ and exact.n_iter_ < 1000
    assert (
        HillClimbSearch(max_iter=np.int64(10**6), max_indegree=np.int64(7)).fit(data).edges_ == default.edges_
    )
    assert HillClimbSearch(epsilon=1e308).fit(data).edges_ == []  # no move gains that much


@pytest.mark.parametrize("score", [None, 3.0, "bicc"])
def test_structure_score_names_a_bad_score(asia: BayesianNetwork, data: pd.DataFrame, score: Any) -> None:
    with pytest.raises(ValueError, match=r"The 'score' parameter of structure_score"):
        structure_score(asia, data, score)
    with pytest.raises(ValueError, match="equivalent_sample_size"):
        structure_score(asia, data, "bdeu", equivalent_sample_size=math.nan)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"estimator": None}, "'estimator' parameter"),
        ({"estimator": "em", "prior_type": "uniform"}, "'prior_type' parameter"),
        ({"estimator": "bayes", "prior_type": 3}, "'prior_type' parameter"),
        ({"estimator": "bayes", "prior_type": "dirichlet", "pseudo_counts": -1.0}, "'pseudo_counts'"),
        ({"estimator": "bayes", "prior_type": "dirichlet", "pseudo_counts": math.nan}, "'pseudo_counts'"),
        ({"n_jobs": 0}, "n_jobs"),
    ],
)
def test_fit_parameters_are_checked(
    asia: BayesianNetwork, data: pd.DataFrame, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        fresh(asia).fit(data, **kwargs)


@pytest.mark.parametrize("n", [-1, 1.5, math.nan, "3", True, None])
def test_sample_size_is_checked(asia: BayesianNetwork, n: Any) -> None:
    with pytest.raises((ValueError, TypeError), match=r"The 'n' parameter of BayesianNetwork\.sample"):
        asia.sample(n)


def test_sample_too_large_is_refused_before_allocating(asia: BayesianNetwork) -> None:
    with peak_memory(1 << 20), pytest.raises(LimitError, match=r"a sample of 1000000000000 rows needs"):
        asia.sample(10**12)
    assert asia.sample(np.int64(7), random_state=0).shape == (7, 8)


@pytest.mark.parametrize("n_samples", [0, -5, 2.5, math.nan, True])
def test_likelihood_weighting_sample_count_is_checked(asia: BayesianNetwork, n_samples: Any) -> None:
    with pytest.raises(
        (ValueError, TypeError), match=r"'n_samples' parameter of ApproximateInference\.query"
    ):
        ApproximateInference(asia).query(["lung"], n_samples=n_samples)


def test_likelihood_weighting_too_many_samples_is_refused(asia: BayesianNetwork) -> None:
    with peak_memory(1 << 20), pytest.raises(LimitError, match="likelihood weighting"):
        ApproximateInference(asia).query(["lung"], n_samples=2**62)


def test_tree_search_root_must_be_a_column(data: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="root_node"):
        TreeSearch(root_node=math.nan).fit(data)
    assert len(TreeSearch(root_node="lung").fit(data).edges_) == 7


# ---- 4. families too large to tabulate: a clear LimitError, not std::bad_alloc -----------------
def _star(n_parents: int, rows: int = 100) -> tuple[BayesianNetwork, pd.DataFrame]:
    names = [f"v{i}" for i in range(n_parents + 1)]
    data = pd.DataFrame(np.random.default_rng(0).integers(0, 2, (rows, n_parents + 1)), columns=names)
    return BayesianNetwork([(p, "v0") for p in names[1:]], nodes=names), data


def test_a_family_of_two_to_the_31_cells_names_the_variable_and_size() -> None:
    model, data = _star(30)  # v0 and 30 binary parents: 2^31 cells, 16 GiB of float64
    with peak_memory(32 << 20), pytest.raises(LimitError) as info:
        model.fit(data)  # states from the data: checked once counted (sparsely), before the tables
    message = str(info.value)
    assert "the table of 'v0'" in message and "2 states x 1073741824 parent configurations" in message
    assert "16 GiB" in message and "max_tensor_bytes" in message
    # with the states given, refused before the data is even counted
    given = BayesianNetwork(model.edges, model.nodes, {v: [0, 1] for v in model.nodes})
    with pytest.raises(LimitError, match=r"the table of 'v0' .* needs 16 GiB"):
        given.fit(data)
    # the same family under the limit fits, and gives pgmpy's tables
    from pgmpy.estimators import MaximumLikelihoodEstimator
    from pgmpy.models import DiscreteBayesianNetwork

    small, rows = _star(8, 3000)
    assert small.fit(rows).check_model()
    theirs = MaximumLikelihoodEstimator(DiscreteBayesianNetwork(small.edges), rows).estimate_cpd("v0")
    order = [theirs.variables.index(v) for v in ["v0", *small.cpd("v0").parents]]
    np.testing.assert_allclose(small.cpd("v0").values, np.transpose(theirs.values, order), atol=1e-12)


def test_the_model_limit_is_total_over_its_tables(asia: BayesianNetwork, data: pd.DataFrame) -> None:
    sizes = sorted(c.values.size * 8 for c in asia.cpds)  # the 8 tables of asia: 16 to 64 bytes
    with scalegen.limits(max_total_bytes=sum(sizes) - 1), pytest.raises(LimitError, match="max_total_bytes"):
        fresh(asia).fit(data)
    with scalegen.limits(max_total_bytes=sum(sizes)):
        assert fresh(asia).fit(data).check_model()


def test_a_joint_too_large_to_eliminate_is_refused() -> None:
    alarm = load_network("alarm")
    with (
        peak_memory(8 << 20),
        pytest.raises(LimitError, match=r"a factor over \d+ variables.*ApproximateInference"),
    ):
        VariableElimination(alarm).query(alarm.nodes)


# ---- 5. thread counts beyond the machine -------------------------------------------------------
def test_fit_with_a_hundred_thousand_threads_warns_and_gives_the_same_tables(
    asia: BayesianNetwork, data: pd.DataFrame
) -> None:
    expected = fresh(asia).fit(data, n_jobs=1)
    with pytest.warns(UserWarning, match=r"n_jobs=100000 is more than the \d+ cores"):
        many = fresh(asia).fit(data, n_jobs=100_000)
    assert_same_tables(expected, many)
    with pytest.warns(UserWarning, match="n_jobs=100000"):
        bayes = fresh(asia).fit(data, estimator="bayes", n_jobs=100_000)
    assert_same_tables(fresh(asia).fit(data, estimator="bayes", n_jobs=1), bayes)


# ---- fuzzing, in a child process under a memory limit ------------------------------------------
BATCH = 40
FUZZ = settings(
    max_examples=5,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a failure names its case: no shrinking
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

HUGE_WORDS = ["1e999", "1e308", "99999999999", str(2**64), "-0", "nan", "inf", "-1", "0x10", "1_0"]
BIF_WORDS = ["default 0.5;", "default", "table", "[ 999999999 ]", "[ 0 ]", "(", ")", "{", "}", ";", ",", "|"]
text_ops = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.sampled_from(HUGE_WORDS + BIF_WORDS)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 20), st.integers(1, 40)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 20), st.none()),
    st.tuples(st.just("default"), st.integers(0, 1 << 20), st.integers(1, 6)),
    st.tuples(st.just("default"), st.integers(0, 1 << 20), st.integers(1, 6)),  # twice as likely
    st.tuples(st.just("number"), st.integers(0, 1 << 20), st.sampled_from([*HUGE_WORDS, "0", "1e-320", "2"])),
    st.tuples(st.just("number"), st.integers(0, 1 << 20), st.floats(0, 1e308).map(repr)),
    st.tuples(st.just("states"), st.integers(0, 1 << 20), st.sampled_from([1, 3, 50, 400, 5000])),
)
bif_cases = st.tuples(st.sampled_from(["asia", "alarm"]), st.lists(text_ops, min_size=1, max_size=3))

odd = odd_values
FUZZED = {  # entry point -> (fixed parameters, the parameter fuzzed)
    "fit": [
        ({"estimator": "bayes"}, "equivalent_sample_size"),
        ({"estimator": "bayes", "prior_type": "dirichlet"}, "pseudo_counts"),
        ({"estimator": "bayes"}, "prior_type"),
        ({}, "estimator"),
        ({}, "sample_weight"),
        ({}, "n_jobs"),
    ],
    "hill_climb": [
        *(({}, p) for p in ("epsilon", "max_iter", "max_tabu", "tabu_length", "max_indegree", "score")),
        *(({}, p) for p in ("chow_liu_start", "mirror_start", "n_restarts", "perturbation", "random_state")),
        *(({}, p) for p in ("verbose", "n_jobs")),
        ({"score": "bdeu"}, "equivalent_sample_size"),
    ],
    "tree": [({}, "root_node"), ({}, "n_jobs")],
    "score": [({}, "score"), ({"score": "bdeu"}, "equivalent_sample_size"), ({}, "n_jobs")],
    "sample": [({}, "n"), ({"n": 3}, "random_state")],
    "approx": [({}, "n_samples"), ({"n_samples": 1000}, "random_state"), ({"n_samples": 1000}, "n_jobs")],
    "cpd": [({}, "values")],
    "limits": [({}, "max_tensor_bytes"), ({}, "max_total_bytes")],
}
assert set(FUZZED) == set(ENTRY_POINTS)
odd_tables = st.one_of(
    odd,
    st.lists(odd, min_size=1, max_size=3),
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=4).map(np.array),
    st.sampled_from([[[0.5], [0.5, 0.5]], "abc", [1 + 0j, 0], np.array([True, False]), [[np.nan]]]),
)


@st.composite
def param_cases(draw: Any) -> tuple[str, dict[str, Any]]:
    entry = draw(st.sampled_from(sorted(FUZZED)))
    fixed, name = draw(st.sampled_from(FUZZED[entry]))
    value = draw(odd_tables if name == "values" else odd)
    # valid but slow requests are not what is fuzzed: drawing 10^9 samples takes minutes
    if name in ("n", "n_samples") and isinstance(value, int | np.integer) and 10**5 < value < 2**50:
        value = 10**5
    # set_limits keeps a limit the C++ core refused (above int64), which would leave the
    # child's later cases without limits: a known issue of utils/_limits.py, not fuzzed here
    if entry == "limits" and isinstance(value, int) and value >= 2**63:
        value = 2**62
    return entry, {**fixed, name: value}


def run_batch(target: str, bases: list[Any], cases: list[Any]) -> list[Any]:
    """The unchanged inputs first (they must succeed), then the others."""
    return isolated.run_batch(f"fuzz_targets_bayesnet:{target}", bases, cases)


@FUZZ
@given(st.lists(st.tuples(bif_cases, st.booleans()), min_size=BATCH, max_size=BATCH))
def test_fuzz_read_bif(cases: list[Any]) -> None:
    texts = base_texts()
    bases = [(texts["asia"], False), (texts["alarm"], True)]
    run_batch("read_bif_text", bases, [(mutate_text(texts[name], ops), gz) for (name, ops), gz in cases])


@FUZZ
@given(st.lists(param_cases(), min_size=BATCH, max_size=BATCH))
def test_fuzz_numeric_parameters(cases: list[Any]) -> None:
    bases = [("fit", {}), ("hill_climb", {}), ("approx", {"n_samples": 1000}), ("sample", {"n": 5})]
    results = run_batch("bn_float_params", bases, cases)
    for (entry, params), r in zip(cases, results[len(bases) :], strict=True):
        if r[0] == "ok":  # NaN is never a valid parameter (the target checked the results)
            value = list(params.values())[-1]
            assert not (isinstance(value, float) and math.isnan(value) and entry != "cpd"), (entry, params, r)


def test_fuzz_tally() -> None:
    """Prints what the fuzz tests above saw (run with -s)."""
    print("\nfuzz outcomes:", dict(sorted(isolated.TALLY.items())), "cases:", sum(isolated.TALLY.values()))


# ---- EM and incomplete-row posteriors (found by an adversarial review) -------------------
def _latent_class(n_children: int, weak: float) -> Any:
    """A latent class z with n binary indicators, each on with probability `weak` or 1-weak."""
    from scalegen.bayesnet import TabularCPD

    xs = [f"x{i}" for i in range(n_children)]
    net = BayesianNetwork([("z", x) for x in xs], latents={"z": [0, 1]})
    net.add_cpds(TabularCPD("z", [0.5, 0.5], states={"z": [0, 1]}))
    net.add_cpds(
        *[
            TabularCPD(x, [[1 - weak, weak], [weak, 1 - weak]], ["z"], states={x: [0, 1], "z": [0, 1]})
            for x in xs
        ]
    )
    return net, xs


def test_rows_whose_messages_multiply_below_the_smallest_double_are_scored() -> None:
    net, xs = _latent_class(100, 1e-4)  # 100 messages of about 1e-4 meet in z's clique
    row = pd.DataFrame({x: [1] for x in xs})
    want = np.log(0.5 * (1e-4**100 + (1 - 1e-4) ** 100))
    assert net.score_samples(row)[0] == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(
        net.predict_proba(row)["z"].to_numpy(), [[0, 1]], atol=1e-12
    )  # z=1 makes x=1 likely


def test_em_refuses_latent_columns_in_chunks_and_skips_empty_ones() -> None:
    net, _ = _latent_class(3, 0.1)
    rows = net.sample(200, random_state=0)
    fresh = BayesianNetwork(net.edges, states=net.states, latents={"z": [0, 1]})
    with pytest.raises(ValueError, match="have columns in the data"):
        fresh.fit([rows], estimator="em")
    observed = rows.drop(columns="z")
    whole = fresh.copy().fit(observed, estimator="em", random_state=0)
    chunked = fresh.copy().fit([observed, observed.iloc[:0]], estimator="em", random_state=0)
    np.testing.assert_allclose(chunked.lower_bounds_, whole.lower_bounds_, rtol=1e-12)


def test_em_ignores_rows_of_weight_zero_and_refuses_a_zero_total() -> None:
    data = pd.DataFrame({"a": [0, 0, 0, 1, 1, 0, np.nan], "b": [0, 0, 0, 1, 0, 1, 0]})
    w = np.array([1, 1, 1, 1, 1, 0, 1.0])
    net = BayesianNetwork([("a", "b")]).fit(data, estimator="em", sample_weight=w)
    assert np.isfinite(net.lower_bounds_).all() and net.converged_
    same = BayesianNetwork([("a", "b")]).fit(data[w > 0], estimator="em")
    np.testing.assert_allclose(net.cpd("b").values, same.cpd("b").values, atol=1e-12)
    with pytest.raises(ValueError, match="sum to zero"):
        BayesianNetwork([("a", "b")]).fit(data, estimator="em", sample_weight=np.full(7, 1e-320))


def test_a_failed_em_fit_leaves_the_network_as_it_was() -> None:
    net = BayesianNetwork([("z", "a")], latents={"z": [0, 1]})
    with pytest.raises(ValueError, match="init must be"):
        net.fit(pd.DataFrame({"a": [0, 1]}), estimator="em", init="bogus")
    assert net.states == {"z": [0, 1]}


def test_em_init_networks_are_checked_and_may_order_parents_otherwise() -> None:
    from scalegen.bayesnet import TabularCPD

    edges = [("a", "c"), ("b", "c")]
    states = {v: [0, 1] for v in "abc"}
    data = pd.DataFrame({"a": [0, 1, None, 1], "b": [1, 0, 1, 1], "c": [0, 1, 1, None]})
    start = BayesianNetwork(edges, states=states)
    start.add_cpds(
        TabularCPD("a", [0.3, 0.7], states={"a": [0, 1]}), TabularCPD("b", [0.6, 0.4], states={"b": [0, 1]})
    )
    values = np.array([[[0.9, 0.2], [0.4, 0.1]], [[0.1, 0.8], [0.6, 0.9]]])  # c | (a, b)
    start.add_cpds(TabularCPD("c", values, ["a", "b"], states))
    swapped = start.copy()
    swapped.add_cpds(TabularCPD("c", values.transpose(0, 2, 1), ["b", "a"], states))
    kw = {"estimator": "em", "max_iter": 2, "tol": 0.0}
    with pytest.warns(scalegen.exceptions.ConvergenceWarning):
        one = BayesianNetwork(edges, states=states).fit(data, init=start, **kw)
    with pytest.warns(scalegen.exceptions.ConvergenceWarning):
        two = BayesianNetwork(edges, states=states).fit(data, init=swapped, **kw)
    np.testing.assert_array_equal(one.cpd("c").values, two.cpd("c").values)
    bad = start.copy()
    bad.add_cpds(TabularCPD("a", [5.0, 5.0], states={"a": [0, 1]}))
    with pytest.raises(ValueError, match="sums to"):
        BayesianNetwork(edges, states=states).fit(data, init=bad, estimator="em")


def test_huge_families_and_outputs_are_refused_quickly() -> None:
    parents = [f"p{i}" for i in range(400)]
    net = BayesianNetwork([(p, "c") for p in parents], latents={"c": [0, 1]})
    rows = pd.DataFrame({p: [0, 1] for p in parents})
    with pytest.raises(ValueError, match="table"):
        net.fit(rows, estimator="em")
    chain = BayesianNetwork(
        [(f"v{i}", f"v{i + 1}") for i in range(999)], states={f"v{i}": [0, 1] for i in range(1000)}
    )
    chain.fit(pd.DataFrame({f"v{i}": [0, 1] for i in range(1000)}))
    with scalegen.limits(max_tensor_bytes=1 << 20), pytest.raises(scalegen.LimitError, match="posteriors"):
        chain.predict_proba(pd.DataFrame({"v0": np.zeros(1000, dtype=int)}))


def test_incomplete_row_queries_name_what_is_missing() -> None:
    with pytest.raises(ValueError, match="no table"):
        BayesianNetwork([("a", "b")]).predict_proba(pd.DataFrame({"a": [0, 1]}))
    net = BayesianNetwork([("z", "a")], latents={"z": [0, 1]})
    net.add_node("z", states=["lo", "mid", "hi"])
    assert net.latents["z"] == ["lo", "mid", "hi"] and net.copy().latents == net.latents
