"""predict / predict_proba: per-row posteriors of the missing columns, against pgmpy."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

from scalegen.datasets import load_network

pgmpy = pytest.importorskip("pgmpy")


@pytest.fixture(scope="module")
def alarm():  # type: ignore[no-untyped-def]
    return load_network("alarm")


def test_predict_equals_pgmpy(alarm) -> None:  # type: ignore[no-untyped-def]
    from pgmpy.utils import get_example_model

    theirs_model = get_example_model("alarm")
    rows = alarm.sample(120, random_state=1).drop(columns=["HYPOVOLEMIA", "LVFAILURE", "STROKEVOLUME"])
    ours = alarm.predict(rows, n_jobs=2)
    proba = alarm.predict_proba(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = theirs_model.predict(rows.astype(str), n_jobs=1)
        theirs_proba = theirs_model.predict_probability(rows.astype(str))
    assert list(ours.columns) == ["HYPOVOLEMIA", "LVFAILURE", "STROKEVOLUME"]
    assert (ours.index == rows.index).all()
    np.testing.assert_array_equal(
        ours.astype(str).to_numpy(), theirs[list(ours.columns)].astype(str).to_numpy()
    )
    for v, s in proba.columns:
        np.testing.assert_allclose(proba[(v, s)].to_numpy(), theirs_proba[f"{v}_{s}"].to_numpy(), atol=1e-12)


def test_predict_proba_equals_brute_force() -> None:
    """asia: P(hidden | row) from the full joint distribution, enumerated."""
    m = load_network("asia")
    nodes, states = m.nodes, m.states
    joint = {}
    for combo in itertools.product(*(range(len(states[v])) for v in nodes)):
        p = 1.0
        for v in nodes:
            cpd = m.cpd(v)
            p *= cpd.values[tuple(combo[nodes.index(u)] for u in [v, *cpd.parents])]
        joint[combo] = p
    hidden = ["tub", "lung"]
    rows = m.sample(50, random_state=2)
    rows = rows[rows["either"] == "yes"].drop(columns=hidden)  # keeps the hidden pair uncertain
    proba = m.predict_proba(rows)
    for r, (_, row) in enumerate(rows.iterrows()):
        weights = np.zeros((2, 2))
        for combo, p in joint.items():
            if all(states[v][combo[nodes.index(v)]] == row[v] for v in rows.columns):
                weights[combo[nodes.index("tub")], combo[nodes.index("lung")]] += p
        weights /= weights.sum()
        np.testing.assert_allclose(proba.iloc[r][("tub", "yes")], weights[0].sum(), rtol=1e-12)
        np.testing.assert_allclose(proba.iloc[r][("lung", "yes")], weights[:, 0].sum(), rtol=1e-12)


def test_predict_bad_input(alarm) -> None:  # type: ignore[no-untyped-def]
    rows = alarm.sample(5, random_state=0)
    with pytest.raises(ValueError, match="nothing to predict"):
        alarm.predict(rows)
    with pytest.raises(TypeError, match="DataFrame"):
        alarm.predict(rows.to_numpy())
    asia = load_network("asia")
    impossible = asia.sample(3, random_state=0).drop(columns="either")
    impossible[["tub", "lung"]] = "yes"
    impossible["xray"] = "yes"
    impossible["dysp"] = "yes"
    pd.testing.assert_series_equal(
        asia.predict_proba(impossible)[("either", "yes")],
        pd.Series(1.0, index=impossible.index, name=("either", "yes")),
    )
    zero = asia.sample(3, random_state=0).drop(columns="dysp")
    zero["tub"], zero["lung"], zero["either"] = "yes", "yes", "no"
    with pytest.raises(ValueError, match="probability zero"):
        asia.predict(zero)
    gaps = asia.sample(3, random_state=0).astype(object)  # missing cells: the elimination path
    gaps["tub"], gaps["either"], gaps["lung"] = "yes", "no", None
    gaps.iloc[0, gaps.columns.get_loc("tub")] = None
    with pytest.raises(ValueError, match="row 1 has probability zero"):
        asia.predict(gaps)


def _log_p(model, rows: pd.DataFrame) -> np.ndarray:  # type: ignore[no-untyped-def]
    full = pd.DataFrame({v: pd.Categorical(rows[v], categories=model.states[v]) for v in model.nodes})
    return np.asarray(model.score_samples(full))


def test_predict_fills_missing_cells_with_the_joint_map() -> None:
    """asia rows with random missing cells: the filled row is as probable as the best
    completion found by enumerating every joint state (ties are allowed to differ)."""
    m = load_network("asia")
    nodes, states = m.nodes, m.states
    combos = list(itertools.product(*(range(len(states[v])) for v in nodes)))
    table = pd.DataFrame(
        {v: pd.Categorical.from_codes([c[i] for c in combos], states[v]) for i, v in enumerate(nodes)}
    )
    joint = np.exp(_log_p(m, table))
    rows = m.sample(60, random_state=4).astype(object)
    rng = np.random.default_rng(0)
    rows = rows.mask(rng.random(rows.shape) < 0.35)
    rows = rows[rows.isna().any(axis=1)]
    filled = m.predict(rows, n_jobs=2)
    assert list(filled.columns) == [v for v in nodes if rows[v].isna().any()]
    for r in range(len(rows)):
        row = rows.iloc[r]
        seen = [(i, states[v].index(row[v])) for i, v in enumerate(nodes) if row.notna()[v]]
        best = max(p for c, p in zip(combos, joint, strict=True) if all(c[i] == s for i, s in seen))
        completed = row.copy()
        for v in filled.columns:
            if pd.isna(row[v]):
                completed[v] = filled[v].iloc[r]
            else:
                assert filled[v].iloc[r] == row[v]  # observed cells are kept
        got = float(np.exp(_log_p(m, completed.to_frame().T))[0])
        assert got == pytest.approx(best, rel=1e-12)


def test_predict_many_missing_columns_runs_elimination(alarm) -> None:  # type: ignore[no-untyped-def]
    """36 missing columns (2e16 joint states, too many to enumerate): max-product elimination
    per row, as probable as a single map_query."""
    from scalegen.bayesnet import VariableElimination

    rows = alarm.sample(4, random_state=3)[["HR"]]
    filled = alarm.predict(rows)
    ve = VariableElimination(alarm)
    for r in range(len(rows)):
        best = ve.map_query(evidence={"HR": rows["HR"].iloc[r]})
        ours = {**{v: filled[v].iloc[r] for v in filled.columns}, "HR": rows["HR"].iloc[r]}
        theirs = {**best, "HR": rows["HR"].iloc[r]}
        assert _log_p(alarm, pd.DataFrame([ours]))[0] == pytest.approx(
            _log_p(alarm, pd.DataFrame([theirs]))[0], abs=1e-12
        )


def test_likelihood_weighting_within_its_standard_errors(alarm) -> None:  # type: ignore[no-untyped-def]
    from pgmpy.inference import VariableElimination as PgmpyVE
    from pgmpy.utils import get_example_model

    from scalegen.bayesnet import ApproximateInference

    exact = PgmpyVE(get_example_model("alarm"))
    evidence = {"BP": "LOW", "CVP": "HIGH", "HR": "HIGH"}
    approx = ApproximateInference(alarm)
    est = approx.query(["HYPOVOLEMIA", "LVFAILURE"], evidence, n_samples=200_000, random_state=0)
    for v in ("HYPOVOLEMIA", "LVFAILURE"):
        f = exact.query([v], evidence, show_progress=False)
        for s, p in zip(f.state_names[v], f.values, strict=True):
            row = est.loc[(v, s)]
            assert abs(row["probability"] - p) <= 4 * row["std_error"] + 1e-12
    assert 0 < est.attrs["effective_samples"] <= 200_000
    again = approx.query(["HYPOVOLEMIA", "LVFAILURE"], evidence, n_samples=200_000, random_state=0, n_jobs=1)
    pd.testing.assert_frame_equal(est, again)
    with pytest.raises(ValueError, match="not one of its states"):
        approx.query(["HR"], {"BP": "VERY LOW"})
    with pytest.raises(ValueError, match="both queried and observed"):
        approx.query(["BP"], {"BP": "LOW"})
    with pytest.raises(ValueError, match="not a variable"):
        approx.query(["nope"])
    asia = load_network("asia")
    with pytest.raises(ValueError, match="probability zero"):
        ApproximateInference(asia).query(["dysp"], {"tub": "yes", "either": "no"}, n_samples=1000)
