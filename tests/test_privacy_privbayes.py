"""PrivBayes: scores against brute force, their sensitivities on neighbouring tables, the
structure and tables at a huge epsilon against the non-private greedy and MLE fit, and what
fit refuses."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mutual_info_score

from scalegen.bayesnet import BayesianNetwork
from scalegen.metrics import marginal_tvd
from scalegen.privacy import PrivBayes
from scalegen.privacy._privbayes import NR_SENSITIVITY, _r_scores, _Tables, mi_sensitivity


def chain_frame(n: int, seed: int) -> pd.DataFrame:
    """a -> b -> c -> d with strong links, e independent: categorical columns."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, n)
    b = (a + (rng.random(n) < 0.15)) % 3
    c = (b % 2) ^ (rng.random(n) < 0.1)
    d = (c + (rng.random(n) < 0.3) + (rng.random(n) < 0.2)) % 4  # overlapping supports: no ties with c
    e = rng.integers(0, 2, n)
    df = pd.DataFrame({"a": a, "b": b, "c": c.astype(int), "d": d, "e": e})
    return df.astype("category")


def tables_of(df: pd.DataFrame) -> _Tables:
    columns = [np.ascontiguousarray(df[c].cat.codes.to_numpy(), dtype=np.int8) for c in df.columns]
    cards = [len(df[c].cat.categories) for c in df.columns]
    return _Tables(columns, cards, len(df), 1)


def joint_of(x: np.ndarray, parents: np.ndarray) -> np.ndarray:
    xs = np.unique(x, return_inverse=True)[1].ravel()
    pa = np.unique(parents, axis=0, return_inverse=True)[1].ravel()
    joint = np.zeros((xs.max() + 1, pa.max() + 1))
    np.add.at(joint, (xs, pa), 1.0 / len(x))
    return joint


def brute_r(x: np.ndarray, parents: np.ndarray) -> float:
    joint = joint_of(x, parents)
    return 0.5 * float(np.abs(joint - np.outer(joint.sum(1), joint.sum(0))).sum())


def brute_mi(x: np.ndarray, parents: np.ndarray) -> float:
    joint = joint_of(x, parents)
    product = np.outer(joint.sum(1), joint.sum(0))
    seen = joint > 0
    return float((joint[seen] * np.log(joint[seen] / product[seen])).sum())


def test_scores_match_brute_force() -> None:
    df = chain_frame(3000, 0)
    t = tables_of(df)
    codes = np.column_stack([df[c].cat.codes.to_numpy() for c in df.columns])
    for x, pa in [(1, (0,)), (2, (0, 1)), (0, (2, 3)), (3, (1, 4))]:
        key = tuple(sorted((x, *pa)))
        t.ensure([key, pa, (x,)])
        mi = t.entropy((x,)) + t.entropy(pa) - t.entropy(key)
        joint_code = np.ravel_multi_index(tuple(codes[:, p] for p in pa), [t.cards[p] for p in pa])
        assert mi == pytest.approx(mutual_info_score(codes[:, x], joint_code), rel=1e-12, abs=1e-14)
        assert _r_scores([t.counts[key]], [key.index(x)], t.n)[0] == pytest.approx(
            brute_r(codes[:, x], codes[:, list(pa)]), rel=1e-12, abs=1e-15
        )


@pytest.mark.parametrize("n", [4, 9])
def test_score_sensitivities_hold_on_neighbouring_tables(n: int) -> None:
    """Every neighbour of small random tables, by brute force: replacing one row (by every
    possible row) never moves MI by more than its sensitivity; adding or removing one moves
    n R by at most 2. These are what the exponential mechanism is calibrated to."""
    rng = np.random.default_rng(n)
    worst_mi = worst_nr = 0.0
    rows = list(itertools.product(range(3), range(2), range(3)))

    def nr(data: np.ndarray) -> float:
        return len(data) * brute_r(data[:, 0], data[:, 1:]) if len(data) else 0.0

    for _ in range(12):
        data = np.column_stack([rng.integers(0, 3, n), rng.integers(0, 2, n), rng.integers(0, 3, n)])
        mi = brute_mi(data[:, 0], data[:, 1:])
        base = nr(data)
        for i in range(n):
            worst_nr = max(worst_nr, abs(nr(np.delete(data, i, axis=0)) - base))
            for row in rows:
                other = data.copy()
                other[i] = row
                worst_mi = max(worst_mi, abs(brute_mi(other[:, 0], other[:, 1:]) - mi))
        for row in rows:
            worst_nr = max(worst_nr, abs(nr(np.vstack([data, row])) - base))
    assert worst_mi <= mi_sensitivity(n) * (1 + 1e-12)
    assert worst_nr <= NR_SENSITIVITY * (1 + 1e-12)
    assert worst_nr > 0.4 * NR_SENSITIVITY and worst_mi > 0.3 * mi_sensitivity(n)  # not vacuous


def test_huge_epsilon_picks_the_best_family_at_every_step_and_mle_tables() -> None:
    """At epsilon = 1e9 each selection is the argmax of the R score (ties allowed), replayed
    by brute force from the model's own order; the tables are the MLE of that structure."""
    df = chain_frame(4000, 1)
    model = PrivBayes(1e9, degree=2, random_state=3).fit(df)
    net = model.network_
    codes = {c: df[c].cat.codes.to_numpy() for c in df.columns}
    position = list(df.columns).index

    def r(x: str, parents: tuple[str, ...]) -> float:
        return brute_r(codes[x], np.column_stack([codes[p] for p in parents]))

    for i, x in enumerate(model.order_[1:], start=1):
        placed = sorted(model.order_[:i], key=position)
        best = max(
            r(y, s) for y in model.order_[i:] for s in itertools.combinations(placed, min(2, len(placed)))
        )
        assert r(x, tuple(net.parents(x))) == pytest.approx(best, rel=1e-12)
    mle = BayesianNetwork(net.edges, nodes=list(df.columns)).fit(df)
    for v in df.columns:
        assert list(mle.parents(v)) == list(net.parents(v))
        np.testing.assert_allclose(net.cpd(v).values, mle.cpd(v).values, rtol=0, atol=1e-12)
    assert model.privacy_spent_[0] == pytest.approx(1e9) and model.privacy_spent_[1] == 0.0
    assert model.degree_ == 2


def test_utility_grows_with_epsilon_and_reaches_the_sampling_floor() -> None:
    df = chain_frame(20000, 2)
    held_out = chain_frame(20000, 3)
    errors = []
    for eps in (0.05, 0.5, 50.0):
        synthetic = PrivBayes(eps, degree=1, random_state=0).fit(df).sample(20000, random_state=1)
        errors.append(marginal_tvd(held_out, synthetic, order=2))
    floor = marginal_tvd(held_out, df, order=2)
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 2 * floor + 0.01


def test_theta_and_degree_zero() -> None:
    df = chain_frame(2000, 4)
    independent = PrivBayes(1.0, degree=0, random_state=0).fit(df)
    assert independent.network_.edges == [] and independent.degree_ == 0
    # theta decides the degree whatever degree says, and the whole budget is spent either way
    for degree, theta in [(0, 4.0), (2, 1e9)]:
        model = PrivBayes(1.0, degree=degree, theta=theta, random_state=0).fit(df)
        assert model.privacy_spent_ == pytest.approx((1.0, 0.0))
    small = PrivBayes(0.1, theta=4.0, random_state=0).fit(df)
    large = PrivBayes(10.0, theta=4.0, random_state=0).fit(chain_frame(200000, 5))
    assert small.degree_ < large.degree_
    # theta-usefulness: n eps2 / (2 (d - k) m^(k + 1)) >= theta at the chosen degree
    n, d, eps2 = 200000, 5, 0.7 * 10.0
    m = math.exp(np.mean(np.log([3, 3, 2, 4, 2])))
    k = large.degree_
    assert n * eps2 / (2 * (d - k) * m ** (k + 1)) >= 4.0


def test_declared_states_and_the_domain_warning() -> None:
    df = chain_frame(1000, 6)
    plain = df.astype(int)
    with pytest.warns(UserWarning, match="observed values"):
        PrivBayes(1.0, random_state=0).fit(plain)
    states = {c: [0, 1, 2, 3, 4] for c in df.columns}  # a state no row has still gets a row
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*observed values")
        model = PrivBayes(1.0, degree=1, states=states, random_state=0).fit(plain)
    assert all(model.network_.states[c] == [0, 1, 2, 3, 4] for c in df.columns)
    model.network_.check_model()
    sample = model.sample(50, random_state=0)
    assert list(sample.columns) == list(df.columns) and len(sample) == 50


def test_fit_refuses_bad_input_and_leaves_data_alone() -> None:
    df = chain_frame(500, 7)
    before = df.copy()
    PrivBayes(1.0, random_state=0).fit(df)
    pd.testing.assert_frame_equal(df, before)
    for kwargs, match in [
        ({"epsilon": 0.0}, "epsilon"),
        ({"epsilon": float("nan")}, "epsilon"),
        ({"epsilon": 1.0, "degree": -1}, "degree"),
        ({"epsilon": 1.0, "beta": 1.0}, "beta"),
        ({"epsilon": 1.0, "score": "f"}, "score"),
        ({"epsilon": 1.0, "theta": 0}, "theta"),
        ({"epsilon": 1.0, "states": {"zz": [0]}}, "zz"),
    ]:
        with pytest.raises(ValueError, match=match):
            PrivBayes(**kwargs).fit(df)
    with pytest.raises(TypeError, match="DataFrame"):
        PrivBayes(1.0).fit(df.to_numpy())
    twice = pd.concat([df, df[["a"]]], axis=1)
    with pytest.raises(ValueError, match="twice"):
        PrivBayes(1.0).fit(twice)
    with pytest.raises(ValueError, match="larger epsilon"):
        PrivBayes(1e-300, degree=0).fit(df)
    with pytest.warns(UserWarning, match="NOT differentially private"):
        PrivBayes(1.0, random_state=0).fit(df)
    holes = df.astype(float)
    holes.iloc[3, 2] = np.nan
    with pytest.raises(ValueError, match="missing"):
        PrivBayes(1.0, states={c: [0.0, 1.0, 2.0, 3.0] for c in df.columns}).fit(holes)
    with pytest.raises(ValueError, match="2 rows"):
        PrivBayes(1.0).fit(df.iloc[:1])
    with pytest.raises(Exception, match="fit"):
        PrivBayes(1.0).sample(5)


def test_count_tables_stay_within_the_memory_limits() -> None:
    """Each candidate table is checked against max_tensor_bytes and all of them together
    against max_total_bytes before anything is counted."""
    import scalegen
    from scalegen.exceptions import LimitError

    rng = np.random.default_rng(0)
    wide = pd.DataFrame({c: pd.Categorical(rng.integers(0, 60, 200), categories=range(60)) for c in "abcdef"})
    with scalegen.limits(max_total_bytes=8 << 20), pytest.raises(LimitError, match="max_total_bytes"):
        PrivBayes(1.0, degree=2, random_state=0).fit(wide)  # 20 tables of 216,000 cells
    with scalegen.limits(max_tensor_bytes=1 << 20), pytest.raises(LimitError, match="max_tensor_bytes"):
        PrivBayes(1.0, degree=2, random_state=0).fit(wide)
    PrivBayes(1.0, degree=1, random_state=0).fit(wide)  # 3,600 cells each: fine
