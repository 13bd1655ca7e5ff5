"""Rows with missing cells: log P(observed cells) and the posterior of every missing cell
from the junction tree, against brute-force enumeration of the joint states and against
the enumeration engine for missing columns."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from scalegen.bayesnet import BayesianNetwork
from scalegen.datasets import load_network
from test_bayesnet_em import EDGES, STATES, random_network, with_missing


def brute_force(net: BayesianNetwork, data: pd.DataFrame) -> tuple[np.ndarray, dict]:
    """(log P(observed cells) per row, {variable: (rows, states) posterior marginals})."""
    nodes, states = net.nodes, net.states
    configs = np.array(list(itertools.product(*[range(len(states[v])) for v in nodes])))
    joint = np.ones(len(configs))
    for v in nodes:
        fam = [v, *net.parents(v)]
        joint *= np.asarray(net.cpd(v).values)[tuple(configs[:, nodes.index(u)] for u in fam)]
    log_p, marginals = [], {v: [] for v in nodes}
    for _, row in data.iterrows():
        keep = np.ones(len(configs), dtype=bool)
        for i, v in enumerate(nodes):
            x = row.get(v)
            if x is not None and x == x:
                keep &= configs[:, i] == states[v].index(x)
        p = joint * keep
        log_p.append(np.log(p.sum()))
        for i, v in enumerate(nodes):
            marginals[v].append(np.bincount(configs[:, i], weights=p, minlength=len(states[v])) / p.sum())
    return np.array(log_p), {v: np.array(m) for v, m in marginals.items()}


@pytest.fixture(scope="module")
def network() -> BayesianNetwork:
    return random_network(3)


def test_log_likelihood_of_observed_cells_equals_brute_force(network: BayesianNetwork) -> None:
    data = with_missing(network.sample(200, random_state=0), 0.3, seed=1)
    want, _ = brute_force(network, data)
    np.testing.assert_allclose(network.score_samples(data), want, rtol=1e-12)
    complete = network.sample(50, random_state=2)
    fast = network.score_samples(complete)
    one_hole = complete.astype(object)
    one_hole.iloc[0, 0] = None  # one missing cell sends all rows through the junction tree
    np.testing.assert_allclose(network.score_samples(one_hole)[1:], fast[1:], rtol=1e-12)


def test_latent_columns_may_be_absent_when_scoring(network: BayesianNetwork) -> None:
    rows = network.sample(100, random_state=4)
    latent = BayesianNetwork(
        EDGES, states={v: s for v, s in STATES.items() if v != "L"}, latents={"L": STATES["L"]}
    )
    latent.add_cpds(*network.cpds)
    want, _ = brute_force(network, rows.drop(columns="L"))
    np.testing.assert_allclose(latent.score_samples(rows.drop(columns="L")), want, rtol=1e-12)
    with pytest.raises(ValueError, match="no column for"):
        latent.score_samples(rows.drop(columns="A"))  # only latent variables may lack a column


def test_marginals_of_missing_cells_equal_brute_force(network: BayesianNetwork) -> None:
    data = with_missing(network.sample(150, random_state=5), 0.3, seed=6).drop(columns="B")
    got = network.predict_proba(data, n_jobs=2)
    _, want = brute_force(network, data)
    assert list(got.columns.get_level_values(0).unique()) == [v for v in network.nodes if v in got.columns]
    for v in got.columns.get_level_values(0).unique():
        np.testing.assert_allclose(got[v].to_numpy(), want[v], atol=1e-12, err_msg=v)
    observed = data["A"].notna().to_numpy()  # an observed cell's column is its indicator
    codes = [STATES["A"].index(x) for x in data["A"][observed]]
    np.testing.assert_array_equal(got["A"].to_numpy()[observed], np.eye(3)[codes])
    np.testing.assert_array_equal(network.predict_proba(data, n_jobs=1).to_numpy(), got.to_numpy())


def test_missing_columns_agree_with_the_enumeration_engine() -> None:
    alarm = load_network("alarm")
    data = alarm.sample(300, random_state=0).drop(columns=["HR", "BP", "LVFAILURE"])
    got = alarm.predict_proba(data)
    hidden = [v for v in alarm.nodes if v in ("HR", "BP", "LVFAILURE")]
    columns, _ = alarm._codes_with_gaps(data, absent_ok=alarm.nodes)
    marginals, _ = alarm._enumerated(columns, hidden, alarm._checked_tables(), None)
    assert [v for v, _ in got.columns.unique()] == [v for v in hidden for _ in alarm.states[v]]
    np.testing.assert_allclose(got.to_numpy(), marginals, atol=1e-12)


def test_impossible_rows_and_nothing_to_predict(network: BayesianNetwork) -> None:
    net = network.copy()
    values = np.asarray(net.cpd("D").values).copy()
    values[:, 0] = [1.0, 0.0]  # D is d0 whenever B is b0
    from scalegen.bayesnet import TabularCPD

    net.add_cpds(TabularCPD("D", values, ["B"], {"D": STATES["D"], "B": STATES["B"]}))
    rows = pd.DataFrame({"L": [None], "A": [None], "B": ["b0"], "C": [None], "D": ["d1"]})
    assert net.score_samples(rows)[0] == -np.inf
    with pytest.raises(ValueError, match="probability zero"):
        net.predict_proba(rows)
    with pytest.raises(ValueError, match="nothing to predict"):
        network.predict_proba(network.sample(5, random_state=0))


def test_trees_beyond_the_limits_are_refused_before_they_exist() -> None:
    import scalegen

    alarm = load_network("alarm")
    data = alarm.sample(10, random_state=0).drop(columns="HR")
    with (
        scalegen.limits(max_tensor_bytes=1 << 14),
        pytest.raises(scalegen.LimitError, match="largest clique 144"),
    ):
        alarm.predict_proba(data)
    with scalegen.limits(max_tensor_bytes=1 << 14), pytest.raises(scalegen.LimitError, match="junction tree"):
        BayesianNetwork(alarm.edges, alarm.nodes, alarm.states).fit(data.assign(HR=None), estimator="em")
