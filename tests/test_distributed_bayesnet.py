"""BayesianNetwork.fit and structure_score on a dask DataFrame: counted per partition in
the worker processes, exactly the local result."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from scalegen.bayesnet import BayesianNetwork, HillClimbSearch, TreeSearch, read_bif, structure_score
from scalegen.bayesnet._scores import SCORES

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pgmpy = pytest.importorskip("pgmpy")
EXAMPLES = Path(pgmpy.__file__).parent / "utils" / "example_models"


@pytest.fixture(scope="module")
def asia() -> BayesianNetwork:
    return read_bif(EXAMPLES / "asia.bif.gz")


@pytest.fixture(scope="module")
def asia_data(asia: BayesianNetwork) -> pd.DataFrame:
    """Sorted so that some states first appear in later partitions."""
    data = asia.sample(4000, random_state=2).astype(str)
    return data.sort_values(["tub", "lung"], kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two single-threaded worker processes like conftest's ``dask_client``, but with room
    for dask DataFrames: pandas, pyarrow and dask.dataframe alone take a worker to about
    200 MiB, past the 80% at which a ``dask_client`` worker (200 MiB) pauses its tasks;
    and a worker grown that large would also disturb the memory checks of the tests that
    share ``dask_client``."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, memory_limit="512MiB", dashboard_address=":0"
    )
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def unfitted(model: BayesianNetwork) -> BayesianNetwork:
    return BayesianNetwork(model.edges, model.nodes)


def assert_same_tables(a: BayesianNetwork, b: BayesianNetwork) -> None:
    assert a.states == b.states
    for v in a.nodes:
        assert a.cpd(v).states == b.cpd(v).states
        np.testing.assert_array_equal(a.cpd(v).values, b.cpd(v).values, err_msg=str(v))


def test_fit_counts_on_workers_equals_local(
    client: Any, asia: BayesianNetwork, asia_data: pd.DataFrame
) -> None:
    ddf = dd.from_pandas(asia_data, npartitions=5, sort=False)
    with distributed.get_task_stream(client=client) as stream:
        fitted = unfitted(asia).fit(ddf)
    assert_same_tables(unfitted(asia).fit(asia_data), fitted)

    count_tasks = [t for t in stream.data if "scalegen-bn-count" in str(t["key"])]
    assert len(count_tasks) == 5
    pids = client.run(os.getpid)
    workers = {t["worker"] for t in count_tasks}
    assert len(workers) >= 2
    assert len({pids[w] for w in workers}) >= 2
    assert os.getpid() not in {pids[w] for w in workers}


def test_structure_scores_equal_local(client: Any, asia: BayesianNetwork, asia_data: pd.DataFrame) -> None:
    ddf = dd.from_pandas(asia_data, npartitions=5, sort=False)
    for score in sorted(SCORES):
        assert structure_score(asia, ddf, score) == structure_score(asia, asia_data, score), score
    edges = asia.edges[:4]
    assert structure_score(edges, ddf, "bdeu") == structure_score(edges, asia_data, "bdeu")


def test_bayes_weights_and_missing_values(
    client: Any, asia: BayesianNetwork, asia_data: pd.DataFrame
) -> None:
    data = asia_data.astype(object)
    rng = np.random.default_rng(3)
    for col in data.columns:
        data.loc[rng.random(len(data)) < 0.05, col] = np.nan
    data.loc[:900, "xray"] = np.nan  # never observed in the first partition
    ddf = dd.from_pandas(data, npartitions=5, sort=False)
    kwargs = {"estimator": "bayes", "prior_type": "BDeu", "equivalent_sample_size": 3.0}
    assert_same_tables(unfitted(asia).fit(data, **kwargs), unfitted(asia).fit(ddf, **kwargs))

    w = rng.integers(0, 3, len(data)).astype(float)
    dw = dd.from_pandas(pd.Series(w, index=data.index), npartitions=5, sort=False)
    assert_same_tables(unfitted(asia).fit(data, sample_weight=w), unfitted(asia).fit(ddf, sample_weight=dw))
    with pytest.raises(TypeError, match="dask Series partitioned like the data"):
        unfitted(asia).fit(ddf, sample_weight=w)


def test_errors(client: Any, asia: BayesianNetwork, asia_data: pd.DataFrame) -> None:
    ddf = dd.from_pandas(asia_data, npartitions=5, sort=False)
    with pytest.raises(ValueError, match=r"no column for \['xray'\]"):
        unfitted(asia).fit(ddf.drop(columns="xray"))
    wrong = asia_data.copy()
    wrong.loc[3999, "xray"] = "maybe"
    with pytest.raises(ValueError, match="partition 4: value 'maybe' of column 'xray'"):
        BayesianNetwork(asia.edges, asia.nodes, asia.states).fit(
            dd.from_pandas(wrong, npartitions=5, sort=False)
        )


def test_structure_search_counts_on_workers(client: Any, asia_data: pd.DataFrame) -> None:
    """HillClimbSearch asks the workers for each move's family counts; TreeSearch counts its
    pairs there: both learn the DAG they learn from the same rows in memory."""
    ddf = dd.from_pandas(asia_data, npartitions=5, sort=False).persist()
    local = HillClimbSearch(n_restarts=2).fit(asia_data)
    remote = HillClimbSearch(n_restarts=2).fit(ddf)
    assert remote.edges_ == local.edges_ and remote.n_iter_ == local.n_iter_
    assert remote.score_ == pytest.approx(local.score_, rel=1e-12)
    assert remote.model_.states == local.model_.states
    for params in ({}, {"estimator_type": "tan", "class_node": "either"}):
        assert TreeSearch(**params).fit(ddf).edges_ == TreeSearch(**params).fit(asia_data).edges_


def test_em_on_workers_equals_local(client: Any, asia: BayesianNetwork, asia_data: pd.DataFrame) -> None:
    """EM with 'either' latent and 10% missing cells: each partition's expected counts on a
    worker, summed by a fixed tree, give the in-memory fit's tables and bounds."""
    import warnings

    rows = asia_data.drop(columns="either").astype(object)
    rows = rows.mask(np.random.default_rng(0).random(rows.shape) < 0.1, None)
    observed = {v: s for v, s in asia.states.items() if v != "either"}

    def fit(data: Any) -> BayesianNetwork:
        net = BayesianNetwork(asia.edges, asia.nodes, observed, latents={"either": ["a", "b"]})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return net.fit(data, estimator="em", max_iter=5, tol=0.0, random_state=0)

    local = fit(rows)
    remote = fit(dd.from_pandas(rows, npartitions=4))
    np.testing.assert_allclose(remote.lower_bounds_, local.lower_bounds_, rtol=1e-12)
    for v in asia.nodes:
        np.testing.assert_allclose(remote.cpd(v).values, local.cpd(v).values, atol=1e-12, err_msg=str(v))
