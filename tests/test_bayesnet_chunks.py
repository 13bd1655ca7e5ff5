"""BayesianNetwork.fit and structure_score on an iterable of DataFrame chunks: exactly the
counts, states and tables of the same rows in one DataFrame, read in one pass."""

from __future__ import annotations

import gc
import itertools
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalegen.bayesnet import BayesianNetwork, read_bif, structure_score
from scalegen.bayesnet._scores import SCORES

pgmpy = pytest.importorskip("pgmpy")
EXAMPLES = Path(pgmpy.__file__).parent / "utils" / "example_models"
SIZES = [1, 517, 2, 1200, 280]  # then the rest: uneven, with a chunk of one row


@pytest.fixture(scope="module")
def alarm() -> BayesianNetwork:
    return read_bif(EXAMPLES / "alarm.bif.gz")


@pytest.fixture(scope="module")
def alarm_data(alarm: BayesianNetwork) -> pd.DataFrame:
    """Sorted so that states of INTUBATION (and what depends on it) first appear in later
    chunks; strings, as a CSV reader gives them."""
    data = alarm.sample(3000, random_state=3).astype(str)
    return data.sort_values("INTUBATION", kind="stable").reset_index(drop=True)


def split(data: pd.DataFrame, sizes: list[int] = SIZES) -> list[pd.DataFrame]:
    edges = np.cumsum([0, *sizes])
    assert edges[-1] < len(data)
    return [data.iloc[a:b] for a, b in itertools.pairwise(edges)] + [data.iloc[edges[-1] :]]


def unfitted(model: BayesianNetwork, with_states: bool = False) -> BayesianNetwork:
    return BayesianNetwork(model.edges, model.nodes, model.states if with_states else None)


def assert_same_tables(a: BayesianNetwork, b: BayesianNetwork) -> None:
    assert a.states == b.states
    for v in a.nodes:
        assert a.cpd(v).parents == b.cpd(v).parents
        assert a.cpd(v).states == b.cpd(v).states
        np.testing.assert_array_equal(a.cpd(v).values, b.cpd(v).values, err_msg=str(v))


# ---- tables ----------------------------------------------------------------------------
def test_list_generator_and_csv_reader_equal_in_memory(
    alarm: BayesianNetwork, alarm_data: pd.DataFrame, tmp_path: Path
) -> None:
    chunks = split(alarm_data)
    first_seen = {
        s: min(i for i, c in enumerate(chunks) if s in set(c["INTUBATION"]))
        for s in alarm.states["INTUBATION"]
    }
    assert first_seen == {"ESOPHAGEAL": 0, "NORMAL": 1, "ONESIDED": 5}  # later chunks bring states
    expected = unfitted(alarm).fit(alarm_data)
    assert_same_tables(expected, unfitted(alarm).fit(chunks))
    assert_same_tables(expected, unfitted(alarm).fit(c for c in chunks))
    assert_same_tables(expected, unfitted(alarm).fit(tuple(chunks)))

    path = tmp_path / "alarm.csv"
    alarm_data.to_csv(path, index=False)
    in_memory = unfitted(alarm).fit(pd.read_csv(path))
    with pd.read_csv(path, chunksize=700) as reader:
        assert_same_tables(in_memory, unfitted(alarm).fit(reader))


def test_given_states_and_categorical_chunks(alarm: BayesianNetwork) -> None:
    data = alarm.sample(2000, random_state=4)  # categorical columns with every state
    chunks = split(data, [1, 600, 3])
    expected = unfitted(alarm, with_states=True).fit(data)
    assert_same_tables(expected, unfitted(alarm, with_states=True).fit(iter(chunks)))
    assert_same_tables(unfitted(alarm).fit(data), unfitted(alarm).fit(iter(chunks)))


@pytest.mark.parametrize(("prior", "ess"), [("BDeu", 5.0), ("BDeu", 0.5), ("K2", 1.0)])
def test_bayes_estimator(alarm: BayesianNetwork, alarm_data: pd.DataFrame, prior: str, ess: float) -> None:
    kwargs = {"estimator": "bayes", "prior_type": prior, "equivalent_sample_size": ess}
    expected = unfitted(alarm).fit(alarm_data, **kwargs)
    assert_same_tables(expected, unfitted(alarm).fit(iter(split(alarm_data)), **kwargs))


def test_sample_weight_per_chunk(alarm: BayesianNetwork, alarm_data: pd.DataFrame) -> None:
    w = np.random.default_rng(0).integers(0, 4, len(alarm_data)).astype(float)
    w[1:518] = 0  # one chunk weighs nothing: allowed, the total is positive
    chunks = split(alarm_data)
    weights = [w[c.index] for c in chunks]
    expected = unfitted(alarm).fit(alarm_data, sample_weight=w)
    assert_same_tables(expected, unfitted(alarm).fit(chunks, sample_weight=weights))
    assert_same_tables(expected, unfitted(alarm).fit(iter(chunks), sample_weight=iter(weights)))
    assert_same_tables(expected, unfitted(alarm).fit(chunks, sample_weight=[pd.Series(x) for x in weights]))

    model = unfitted(alarm)
    with pytest.raises(ValueError, match="sample_weight has 2 arrays, but the data has more chunks"):
        model.fit(chunks, sample_weight=weights[:2])
    with pytest.raises(ValueError, match="more arrays than the data has chunks \\(6\\)"):
        model.fit(chunks, sample_weight=[*weights, weights[0]])
    with pytest.raises(ValueError, match="one 1-D array of weights per chunk, got a 0-D one"):
        model.fit(chunks, sample_weight=w)  # one flat array: not one per chunk
    with pytest.raises(TypeError, match="iterable of 1-D arrays, one per chunk"):
        model.fit(chunks, sample_weight=2.0)
    with pytest.raises(ValueError, match=r"chunk 3: sample_weight\.shape == \(5,\), expected \(1200,\)"):
        model.fit(chunks, sample_weight=[*weights[:3], np.ones(5), *weights[4:]])
    with pytest.raises(ValueError, match="chunk 2: Negative"):
        model.fit(chunks, sample_weight=[*weights[:2], -weights[2], *weights[3:]])
    with pytest.raises(ValueError, match="chunk 0: sample_weight contains NaN"):
        model.fit(chunks, sample_weight=[np.full(1, np.nan), *weights[1:]])
    with pytest.raises(ValueError, match="sums to zero"):
        model.fit(chunks, sample_weight=[np.zeros(len(c)) for c in chunks])


def test_missing_values_skip_rows_per_family(alarm: BayesianNetwork, alarm_data: pd.DataFrame) -> None:
    data = alarm_data.astype(object)
    rng = np.random.default_rng(1)
    for col in data.columns:
        data.loc[rng.random(len(data)) < 0.05, col] = np.nan
    data.loc[:700, "HR"] = np.nan  # never observed in the first three chunks
    chunks = split(data)
    expected = unfitted(alarm).fit(data)
    assert_same_tables(expected, unfitted(alarm).fit(iter(chunks)))
    for score in ("bic", "k2", "bdeu"):
        assert structure_score(alarm, iter(chunks), score) == structure_score(alarm, data, score)


def test_missing_values_through_csv(alarm: BayesianNetwork, alarm_data: pd.DataFrame, tmp_path: Path) -> None:
    data = alarm_data.astype(object)
    data.loc[::7, "HR"] = np.nan
    data.loc[:900, "VENTLUNG"] = np.nan
    path = tmp_path / "holes.csv"
    data.to_csv(path, index=False)
    expected = unfitted(alarm).fit(pd.read_csv(path))
    with pd.read_csv(path, chunksize=400) as reader:
        assert_same_tables(expected, unfitted(alarm).fit(reader))


def test_numeric_states_appear_late() -> None:
    rng = np.random.default_rng(5)
    data = pd.DataFrame({"a": rng.integers(0, 6, 900), "b": rng.integers(10, 13, 900)})
    data["c"] = (data["a"] + data["b"] + rng.integers(0, 2, 900)) % 4
    data = data.sort_values("a", kind="stable").reset_index(drop=True)  # 4 and 5 only at the end
    model = BayesianNetwork([("a", "c"), ("b", "c")])
    expected = BayesianNetwork(model.edges).fit(data)
    assert expected.states["a"] == [0, 1, 2, 3, 4, 5]
    assert_same_tables(expected, BayesianNetwork(model.edges).fit(iter(split(data, [1, 100, 400]))))


def test_codes_chunks_equal_codes(alarm: BayesianNetwork) -> None:
    data = alarm.sample(1500, random_state=6)
    codes = np.column_stack([data[v].cat.codes.to_numpy() for v in alarm.nodes]).astype(np.int16)
    codes[::11, 3] = -1
    expected = unfitted(alarm, with_states=True).fit(codes)
    pieces = [codes[:1], codes[1:800], codes[800:]]
    assert_same_tables(expected, unfitted(alarm, with_states=True).fit(iter(pieces)))
    with pytest.raises(ValueError, match="chunk 0: codes need the states"):
        unfitted(alarm).fit(pieces)


# ---- structure scores ------------------------------------------------------------------
@pytest.mark.parametrize("score", sorted(SCORES))
def test_structure_scores_equal_in_memory(
    alarm: BayesianNetwork, alarm_data: pd.DataFrame, score: str
) -> None:
    chunks = split(alarm_data)
    assert structure_score(alarm, iter(chunks), score) == structure_score(alarm, alarm_data, score)
    # edges only: the columns (for variables outside the edges) come from the first chunk
    edges = alarm.edges[:20]
    assert structure_score(edges, iter(chunks), score) == structure_score(edges, alarm_data, score)


def test_sparse_families_equal_in_memory() -> None:
    """A family whose table is counted sparsely (more cells than bn_count keeps dense)."""
    rng = np.random.default_rng(7)
    n = 2000
    data = pd.DataFrame({f"p{i}": rng.integers(0, 9, n) for i in range(5)})
    data["y"] = (data.sum(axis=1) + rng.integers(0, 3, n)) % 7
    data = data.sort_values("p0", kind="stable").reset_index(drop=True)
    edges = [(f"p{i}", "y") for i in range(5)]  # 7 * 9**5 cells
    chunks = split(data, [1, 300, 2])
    expected = BayesianNetwork(edges).fit(data)
    assert_same_tables(expected, BayesianNetwork(edges).fit(iter(chunks)))
    for score in sorted(SCORES):
        assert structure_score(edges, iter(chunks), score) == structure_score(edges, data, score), score


# ---- one pass, bad input ---------------------------------------------------------------
def test_one_pass_and_no_chunk_kept(alarm: BayesianNetwork, alarm_data: pd.DataFrame) -> None:
    yielded: list[int] = []
    refs: list[weakref.ref[pd.DataFrame]] = []

    def chunks() -> Iterator[pd.DataFrame]:
        for i, chunk in enumerate(split(alarm_data)):
            if i >= 2:  # the chunk before the previous one is gone
                gc.collect()
                assert refs[i - 2]() is None
            chunk = chunk.copy()
            refs.append(weakref.ref(chunk))
            yielded.append(i)
            yield chunk
            del chunk

    gen = chunks()
    fitted = unfitted(alarm).fit(gen)
    assert yielded == [0, 1, 2, 3, 4, 5]
    assert_same_tables(unfitted(alarm).fit(alarm_data), fitted)
    with pytest.raises(ValueError, match="empty iterable"):
        unfitted(alarm).fit(gen)  # consumed


def test_bad_sources(alarm: BayesianNetwork, alarm_data: pd.DataFrame) -> None:
    model = unfitted(alarm)
    chunks = split(alarm_data)
    sources = "a pandas DataFrame, a 2-D integer array of codes, an iterable of DataFrame chunks"
    for bad in ("data.csv", b"data", {"HR": [1]}, alarm_data["HR"], 3):
        with pytest.raises(TypeError, match=sources):
            model.fit(bad)
    with pytest.raises(TypeError, match=sources):
        structure_score(alarm.edges, "data.csv")
    with pytest.raises(TypeError, match=r"chunks must be pandas DataFrames .*got int \(chunk 0\)"):
        model.fit([1, 2])
    with pytest.raises(TypeError, match="got list \\(chunk 2\\)"):
        model.fit(iter([chunks[0], chunks[1], [1, 2]]))
    with pytest.raises(TypeError, match="chunk 1 is a ndarray, unlike the first chunk"):
        model.fit([chunks[0], np.zeros((3, 37), dtype=np.int8)])
    with pytest.raises(ValueError, match="empty iterable"):
        model.fit([])
    with pytest.raises(ValueError, match="empty iterable"):
        structure_score(alarm, iter(()))
    with pytest.raises(ValueError, match=r"chunk 2 has the columns .* but the first chunk has"):
        model.fit([chunks[0], chunks[1], chunks[2].drop(columns="HR")])
    with pytest.raises(ValueError, match="chunk 1 has the columns"):
        model.fit([chunks[0], chunks[1].assign(extra=1)])
    with pytest.raises(ValueError, match="no rows"):
        model.fit([alarm_data.iloc[:0], alarm_data.iloc[:0]])
    with pytest.raises(ValueError, match="chunk 0: the data has no column for \\['HR'\\]"):
        model.fit([alarm_data.drop(columns="HR")])
    wrong = chunks[3].copy()
    wrong.iloc[5, wrong.columns.get_loc("HR")] = "maybe"
    with pytest.raises(ValueError, match="chunk 3: value 'maybe' of column 'HR' \\(row 5\\)"):
        unfitted(alarm, with_states=True).fit([*chunks[:3], wrong])
    never = [c.assign(HR=np.nan) for c in chunks]
    with pytest.raises(ValueError, match="column 'HR' has no observed values"):
        model.fit(never)
    mixed = [chunks[0], chunks[1].astype(object).assign(HR=1)]
    with pytest.raises(ValueError, match="values of column 'HR' cannot be ordered"):
        model.fit(mixed)
