"""EM for latent variables and missing cells: every iteration equals a brute-force NumPy EM
that enumerates the joint states, the log-likelihood never decreases, and bad input is
refused."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalegen.bayesnet import BayesianNetwork, TabularCPD
from scalegen.datasets import load_network
from scalegen.exceptions import ConvergenceWarning

EDGES = [("L", "A"), ("L", "B"), ("L", "C"), ("B", "D")]
STATES = {"L": ["l0", "l1"], "A": ["a0", "a1", "a2"], "B": ["b0", "b1"], "C": ["c0", "c1"], "D": ["d0", "d1"]}


def random_network(seed: int, edges=EDGES, states=STATES) -> BayesianNetwork:
    rng = np.random.default_rng(seed)
    net = BayesianNetwork(edges, states=states)
    for v in net.nodes:
        parents = net.parents(v)
        shape = (len(states[v]), *(len(states[p]) for p in parents))
        values = rng.dirichlet(np.ones(shape[0]), size=int(np.prod(shape[1:]))).T.reshape(shape)
        net.add_cpds(TabularCPD(v, values, parents, {u: states[u] for u in (v, *parents)}))
    return net


def with_missing(rows: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """Object columns with `share` of the cells set to None."""
    out = rows.astype(object)
    mask = np.random.default_rng(seed).random(out.shape) < share
    return out.mask(mask, None)


def brute_force_em(net: BayesianNetwork, data: pd.DataFrame, iterations: int) -> tuple[list, list]:
    """EM by enumerating every joint state: (tables after the last iteration, mean
    log-likelihood per row before each M-step)."""
    nodes, states = net.nodes, net.states
    configs = np.array(list(itertools.product(*[range(len(states[v])) for v in nodes])))
    col = {v: i for i, v in enumerate(nodes)}
    codes = np.full((len(data), len(nodes)), -1)
    for v in data.columns:
        lookup = {s: k for k, s in enumerate(states[v])}
        codes[:, col[v]] = [lookup[x] if x is not None else -1 for x in data[v]]
    tables = {v: np.asarray(net.cpd(v).values, dtype=float) for v in nodes}
    bounds = []
    for _ in range(iterations):
        joint = np.ones(len(configs))
        for v in nodes:
            fam = [v, *net.parents(v)]
            joint *= tables[v][tuple(configs[:, col[u]] for u in fam)]
        counts = {v: np.zeros_like(tables[v]) for v in nodes}
        total = 0.0
        for row in codes:
            keep = np.all((row < 0) | (configs == row), axis=1)
            p = joint * keep
            total += np.log(p.sum())
            p /= p.sum()
            for v in nodes:
                fam = [v, *net.parents(v)]
                np.add.at(counts[v], tuple(configs[:, col[u]] for u in fam), p)
        bounds.append(total / len(codes))
        tables = {v: c / c.sum(axis=0, keepdims=True) for v, c in counts.items()}
    return [tables[v] for v in nodes], bounds


@pytest.fixture(scope="module")
def latent_data() -> pd.DataFrame:
    rows = random_network(0).sample(400, random_state=1).drop(columns="L")
    return with_missing(rows, 0.2, seed=2)


@pytest.mark.parametrize("iterations", [1, 2, 5])
def test_each_iteration_equals_brute_force_em(latent_data: pd.DataFrame, iterations: int) -> None:
    start = random_network(7)
    want, bounds = brute_force_em(start, latent_data, iterations)
    net = BayesianNetwork(
        EDGES, states={v: s for v, s in STATES.items() if v != "L"}, latents={"L": STATES["L"]}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(latent_data, estimator="em", init=start, max_iter=iterations, tol=0.0)
    for v, table in zip(net.nodes, want, strict=True):
        np.testing.assert_allclose(net.cpd(v).values, table, rtol=0, atol=1e-10, err_msg=v)
    np.testing.assert_allclose(net.lower_bounds_, bounds, rtol=1e-12)
    assert net.n_iter_ == iterations


def test_missing_cells_without_latents_equal_brute_force() -> None:
    asia = load_network("asia")
    data = with_missing(asia.sample(300, random_state=0), 0.25, seed=3)
    start = BayesianNetwork(asia.edges, states=asia.states).fit(
        asia.sample(50, random_state=9), estimator="bayes"
    )
    want, bounds = brute_force_em(start, data, 3)
    net = BayesianNetwork(asia.edges, states=asia.states)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(data, estimator="em", init=start, max_iter=3, tol=0.0)
    for v, table in zip(net.nodes, want, strict=True):
        np.testing.assert_allclose(net.cpd(v).values, table, rtol=0, atol=1e-10, err_msg=v)
    np.testing.assert_allclose(net.lower_bounds_, bounds, rtol=1e-12)


def test_log_likelihood_never_decreases_and_converges(latent_data: pd.DataFrame) -> None:
    net = BayesianNetwork(EDGES, latents={"L": STATES["L"]})
    net.fit(latent_data, estimator="em", max_iter=500, tol=1e-9, random_state=0)
    assert net.converged_ and net.n_iter_ == len(net.lower_bounds_)
    assert np.all(np.diff(net.lower_bounds_) >= -1e-12)
    assert net.check_model()


def test_results_do_not_depend_on_threads_and_weights_repeat_rows(latent_data: pd.DataFrame) -> None:
    def fit(data, **kw):
        net = BayesianNetwork(EDGES, latents={"L": STATES["L"]})
        return net.fit(data, estimator="em", max_iter=20, tol=0.0, random_state=3, **kw)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one, two = fit(latent_data, n_jobs=1), fit(latent_data, n_jobs=2)
        w = np.random.default_rng(0).integers(1, 4, len(latent_data))
        weighted = fit(latent_data, sample_weight=w.astype(float))
        repeated = fit(latent_data.loc[latent_data.index.repeat(w)].reset_index(drop=True))
    for v in one.nodes:
        np.testing.assert_array_equal(one.cpd(v).values, two.cpd(v).values)
        np.testing.assert_allclose(weighted.cpd(v).values, repeated.cpd(v).values, rtol=1e-10)


def test_bayesian_m_step_and_n_init(latent_data: pd.DataFrame) -> None:
    """With a prior the M-step adds its pseudo-counts; n_init keeps the best start."""
    runs = []
    for n_init in (1, 4):
        net = BayesianNetwork(EDGES, latents={"L": STATES["L"]})
        net.fit(
            latent_data,
            estimator="em",
            prior_type="K2",
            n_init=n_init,
            init="random",
            random_state=5,
            max_iter=400,
            tol=1e-10,
        )
        assert net.check_model() and len(net.lower_bounds_) == net.n_iter_
        runs.append(net.lower_bounds_[-1])
    assert runs[1] >= runs[0] - 1e-12  # the first of the four starts is the single run's


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda d: BayesianNetwork(EDGES, latents={"L": ["x", "y"]}).fit(d.assign(L="x"), estimator="em"),
            ValueError,
            "have columns in the data",
        ),
        (lambda d: BayesianNetwork(EDGES, latents={"L": ["x", "y"]}).fit(d), ValueError, "estimator='em'"),
        (lambda d: BayesianNetwork(EDGES, latents={"Z": ["x", "y"]}), ValueError, "not a node"),
        (lambda d: BayesianNetwork(EDGES, latents=["L"]), TypeError, "latents must map"),
        (
            lambda d: BayesianNetwork(EDGES, latents={"L": ["x", "y"]}).fit(d.to_numpy(), estimator="em"),
            TypeError,
            "DataFrame",
        ),
        (
            lambda d: BayesianNetwork(EDGES, latents={"L": ["x", "y"]}).fit(d, estimator="em", init="kmeans"),
            ValueError,
            "init must be",
        ),
        (
            lambda d: BayesianNetwork(EDGES, latents={"L": ["x", "y"]}).fit(d, estimator="em", max_iter=0),
            ValueError,
            "max_iter",
        ),
    ],
)
def test_bad_input(latent_data: pd.DataFrame, make, error, message) -> None:
    with pytest.raises(error, match=message):
        make(latent_data)


def test_rows_less_likely_than_the_smallest_double_keep_exact_posteriors() -> None:
    """A chain of 1,500 binary variables: each row is less likely than the smallest double,
    so the messages are rescaled; one missing cell per row has a closed-form posterior."""
    n_vars, n_rows = 1500, 40
    names = [f"X{i}" for i in range(n_vars)]
    rng = np.random.default_rng(4)
    chain = BayesianNetwork(list(itertools.pairwise(names)), states={v: ["a", "b"] for v in names})
    tables = [rng.dirichlet([1, 1])] + [rng.dirichlet([1, 1], size=2).T for _ in names[1:]]
    for v, t in zip(names, tables, strict=True):
        parents = chain.parents(v)
        chain.add_cpds(TabularCPD(v, t, parents, {u: ["a", "b"] for u in (v, *parents)}))
    rows = chain.sample(n_rows, random_state=0)
    codes = np.stack([rows[v].cat.codes.to_numpy() for v in names], axis=1)
    hole = rng.integers(0, n_vars, n_rows)
    data = rows.astype(object)
    for r, k in enumerate(hole):
        data.iat[r, k] = None
    # closed form: P(x_k | rest) is proportional to P(x_k | x_{k-1}) P(x_{k+1} | x_k)
    log_p, counts = 0.0, [np.zeros_like(t) for t in tables]
    for r, k in enumerate(hole):
        x = codes[r]
        weight = tables[0][:] if k == 0 else tables[k][:, x[k - 1]].copy()
        if k + 1 < n_vars:
            weight = weight * tables[k + 1][x[k + 1], :]
        rest = sum(
            np.log(tables[0][x[0]]) if i == 0 else np.log(tables[i][x[i], x[i - 1]])
            for i in range(n_vars)
            if i not in (k, k + 1)
        )
        log_p += rest + np.log(weight.sum())
        post = weight / weight.sum()
        for i in range(n_vars):
            if i == k:
                counts[i][..., x[i - 1]] += post if i else 0
                if i == 0:
                    counts[0] += post
            elif i == k + 1:
                counts[i][x[i], :] += post
            elif i == 0:
                counts[0][x[0]] += 1
            else:
                counts[i][x[i], x[i - 1]] += 1
    net = BayesianNetwork(chain.edges, states=chain.states)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(data, estimator="em", init=chain, max_iter=1, tol=0.0)
    assert log_p / n_rows < -746  # each row less likely than the smallest double
    np.testing.assert_allclose(net.lower_bounds_[0], log_p / n_rows, rtol=1e-12)
    for v, c in zip(names, counts, strict=True):
        sums = c.sum(axis=0, keepdims=True)
        want = np.where(sums > 0, c / np.where(sums > 0, sums, 1), 0.5)
        np.testing.assert_allclose(net.cpd(v).values, want, atol=1e-10, err_msg=v)


@pytest.mark.parametrize("network", ["asia", "sachs"])
def test_equals_pgmpy_expectation_maximization_from_the_same_start(network: str) -> None:
    """One latent variable (pgmpy's EM drops rows with missing cells, so none here)."""
    pgmpy_models = pytest.importorskip("pgmpy.models")
    import pgmpy
    from pgmpy.estimators import ExpectationMaximization

    from scalegen.bayesnet import read_bif

    truth = read_bif(Path(pgmpy.__file__).parent / "utils" / "example_models" / f"{network}.bif.gz")
    hidden = max(truth.nodes, key=lambda v: len(truth.children(v)))  # the variable with most children
    rows = truth.sample(300, random_state=0).drop(columns=hidden)
    rng = np.random.default_rng(1)
    start = BayesianNetwork(truth.edges, truth.nodes, truth.states, latents={hidden: truth.states[hidden]})
    for v in truth.nodes:
        parents = truth.parents(v)
        shape = (len(truth.states[v]), *(len(truth.states[p]) for p in parents))
        values = rng.dirichlet(np.ones(shape[0]), size=int(np.prod(shape[1:]))).T.reshape(shape)
        start.add_cpds(TabularCPD(v, values, parents, {u: truth.states[u] for u in (v, *parents)}))
    ours = BayesianNetwork(truth.edges, truth.nodes, truth.states, latents={hidden: truth.states[hidden]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.fit(rows, estimator="em", init=start, max_iter=3, tol=0.0)
        model = pgmpy_models.DiscreteBayesianNetwork(truth.edges, latents={hidden})
        cpds = ExpectationMaximization(model, rows.astype(object)).get_parameters(
            latent_card={hidden: len(truth.states[hidden])},
            max_iter=3,
            atol=0.0,
            init_cpds={c.variable: c for c in start.to_pgmpy().cpds},
            show_progress=False,
        )
    model.add_cpds(*cpds)
    theirs = BayesianNetwork.from_pgmpy(model)
    for v in truth.nodes:
        got = ours.cpd(v)
        want = theirs.cpd(v)
        order = [want.parents.index(p) for p in got.parents]
        values = np.transpose(np.asarray(want.values), [0, *(1 + k for k in order)])
        for axis, u in enumerate([v, *got.parents]):  # pgmpy orders observed states as the data sorts them
            if u != hidden:  # the latent's states are pgmpy's numbers, in our order
                values = values.take([want.states[u].index(s) for s in got.states[u]], axis=axis)
        np.testing.assert_allclose(got.values, values, atol=1e-10, err_msg=v)


def test_chunks_read_at_every_iteration_equal_one_frame(latent_data: pd.DataFrame) -> None:
    def fit(data):
        net = BayesianNetwork(
            EDGES, states={v: s for v, s in STATES.items() if v != "L"}, latents={"L": STATES["L"]}
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return net.fit(data, estimator="em", max_iter=8, tol=0.0, random_state=1)

    whole = fit(latent_data)
    parts = [latent_data.iloc[i : i + 150] for i in range(0, len(latent_data), 150)]
    for chunks in (parts, lambda: iter(parts)):
        got = fit(chunks)
        np.testing.assert_allclose(got.lower_bounds_, whole.lower_bounds_, rtol=1e-12)
        for v in whole.nodes:
            np.testing.assert_allclose(got.cpd(v).values, whole.cpd(v).values, atol=1e-12, err_msg=v)
    with pytest.raises(ValueError, match="states of every variable"):
        BayesianNetwork(EDGES, latents={"L": STATES["L"]}).fit(parts, estimator="em")
    with pytest.raises(ValueError, match="DataFrame only"):
        BayesianNetwork(EDGES, states=STATES, latents={"L": STATES["L"]}).fit(
            parts, estimator="em", sample_weight=np.ones(len(latent_data))
        )
