"""The PC algorithm against pgmpy's PC (variant 'stable') and its CI tests."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from scalegen.bayesnet import PC, read_bif
from scalegen.bayesnet._pc import _test_results, ci_statistic
from scalegen.bayesnet._structure import _encode_all
from scalegen.datasets import load_network

pgmpy = pytest.importorskip("pgmpy")
EXAMPLES = Path(pgmpy.__file__).parent / "utils" / "example_models"
CASES = {"asia": 5_000, "cancer": 2_000, "sachs": 1_000, "child": 2_000}


@pytest.fixture(scope="module")
def datasets() -> dict[str, pd.DataFrame]:
    out = {}
    for name, n in CASES.items():
        net = load_network("asia") if name == "asia" else read_bif(EXAMPLES / f"{name}.bif.gz")
        out[name] = net.sample(n, random_state=7)
    return out


def _pgmpy_pc(data: pd.DataFrame, ci_test: str):
    """pgmpy's skeleton and separating sets, then its estimate() steps for the PDAG (no
    expert knowledge): colliders, Meek's rules 1-3, then 1-4."""
    from pgmpy.estimators import PC as PgmpyPC

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        skel, sepsets = PgmpyPC(data).estimate(
            variant="stable", ci_test=ci_test, return_type="skeleton", show_progress=False
        )
        pdag = PgmpyPC.orient_colliders(skel, sepsets)
        pdag = pdag.apply_meeks_rules(apply_r4=False).apply_meeks_rules(apply_r4=True)
    return skel, sepsets, pdag


def _check_equal(ours: PC, skel, sepsets, pdag) -> None:
    assert {frozenset(e) for e in ours.skeleton_} == {frozenset(e) for e in skel.edges()}
    assert ours.separating_sets_ == {k: frozenset(v) for k, v in sepsets.items()}
    assert set(ours.edges_) == set(pdag.directed_edges)
    assert {frozenset(e) for e in ours.undirected_edges_} == {frozenset(e) for e in pdag.undirected_edges}


@pytest.mark.parametrize("ci_test", ["chi_square", "g_sq"])
@pytest.mark.parametrize("name", list(CASES))
def test_equal_to_pgmpy(datasets: dict[str, pd.DataFrame], name: str, ci_test: str) -> None:
    data = datasets[name]
    ours = PC(ci_test=ci_test).fit(data)
    _check_equal(ours, *_pgmpy_pc(data, ci_test))
    cols = list(data.columns)
    assert all(cols.index(u) < cols.index(v) for u, v in ours.skeleton_ + ours.undirected_edges_)


def test_estimate_pdag_and_parameters(datasets: dict[str, pd.DataFrame]) -> None:
    """pgmpy's own estimate(return_type='pdag'), with other parameters; same for any n_jobs."""
    from pgmpy.estimators import PC as PgmpyPC

    data = datasets["asia"].iloc[:2_000]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        pdag = PgmpyPC(data).estimate(
            variant="stable",
            ci_test="g_sq",
            significance_level=0.05,
            max_cond_vars=1,
            return_type="pdag",
            show_progress=False,
        )
    for n_jobs in (1, 2):
        ours = PC(ci_test="g_sq", significance_level=0.05, max_cond_vars=1, n_jobs=n_jobs).fit(data)
        assert set(ours.edges_) == set(pdag.directed_edges)
        assert {frozenset(e) for e in ours.undirected_edges_} == {frozenset(e) for e in pdag.undirected_edges}


def _ours(data: pd.DataFrame, x: str, y: str, z: list[str], ci_test: str) -> tuple[float, float, int]:
    names, enc = _encode_all(data, None)
    idx = [names.index(v) for v in (x, y, *z)]
    return next(_test_results(enc, [(idx[0], idx[1], tuple(idx[2:]))], ci_test, 1))


@pytest.mark.parametrize("ci_test", ["chi_square", "g_sq"])
def test_ci_statistics_equal_pgmpy(ci_test: str) -> None:
    """Sparse random data (so that some slices miss rows or columns, some are 2x2 or degenerate)."""
    from pgmpy.estimators import CITests

    rng = np.random.default_rng(0)
    fn = getattr(CITests, ci_test)
    for trial in range(12):
        n = int(rng.integers(20, 400))
        data = pd.DataFrame({c: rng.integers(0, int(rng.integers(2, 5)), n) for c in "ABCDE"})
        data["B"] = np.where(rng.random(n) < 0.5, data["A"], data["B"])
        z = ["C", "D", "E"][: trial % 4]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            chi, p, dof = fn("A", "B", z, data, boolean=False)
        ours = _ours(data, "A", "B", z, ci_test)
        assert ours[2] == dof
        np.testing.assert_allclose(ours[:2], (chi, p), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("ci_test", ["chi_square", "g_sq"])
def test_ci_statistic_equal_scipy(ci_test: str) -> None:
    rng = np.random.default_rng(1)
    lam = "pearson" if ci_test == "chi_square" else "log-likelihood"
    for shape in [(2, 2), (2, 3), (3, 4), (5, 2)]:
        table = rng.integers(1, 30, shape).astype(float)
        chi, p, dof, _ = stats.chi2_contingency(table, lambda_=lam)
        np.testing.assert_allclose(ci_statistic(table[None], ci_test, False)[:2], (chi, p), rtol=1e-10)
        assert ci_statistic(table[None], ci_test, False)[2] == dof
        padded = np.zeros((shape[0] + 1, shape[1] + 1))  # a zero row and column are dropped
        padded[1:, 1:] = table
        np.testing.assert_allclose(ci_statistic(padded[None], ci_test, False)[:2], (chi, p), rtol=1e-10)
        # slices add up; the conditional p-value is 1 - cdf
        both = ci_statistic(np.stack([padded, np.pad(table, ((0, 1), (0, 1)))]), ci_test, True)
        assert both[2] == 2 * dof
        np.testing.assert_allclose(both[0], 2 * chi, rtol=1e-10)
    assert ci_statistic(np.array([[[3.0, 4.0]]]), ci_test, False)[1:] == (1.0, 0)
    assert np.isnan(ci_statistic(np.array([[[3.0, 4.0]]]), ci_test, True)[1])


def test_bad_input(datasets: dict[str, pd.DataFrame]) -> None:
    data = datasets["cancer"]
    with pytest.raises(ValueError, match="ci_test"):
        PC(ci_test="pearsonr").fit(data)
    for level in (0.0, 1.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="significance_level"):
            PC(significance_level=level).fit(data)
    with pytest.raises(ValueError, match="max_cond_vars"):
        PC(max_cond_vars=-1).fit(data)
    with pytest.raises(ValueError, match="two variables"):
        PC().fit(data[["Smoker"]])
