"""scalegen.privacy's accountant: basic composition, the zCDP -> (epsilon, delta) conversion
against an independent numerical minimisation and published values, rho_for as its inverse,
refusal before recording; diffprivlib's accountant as a reference for basic composition, and
OpenDP's for the conversion and the mechanisms' calibration."""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import math
import sys
import types

import numpy as np
import pytest
from scipy import optimize

from scalegen.privacy import BudgetExceededError, PrivacyAccountant, PrivacyCharge, rho_for, zcdp_epsilon

RHOS = [1e-6, 1e-3, 0.03125, 0.1, 1.0, 10.0]
DELTAS = [1e-12, 1e-6, 1e-3, 0.1]


def reference_epsilon(rho: float, delta: float) -> float:
    """min over alpha > 1 of CKS 2020's bound, by scipy on log(alpha - 1) and a dense grid."""

    def eps(log_a1: float) -> float:
        a = 1 + math.exp(log_a1)
        return a * rho + (math.log(1 / delta) + (a - 1) * math.log1p(-1 / a) - math.log(a)) / (a - 1)

    grid = np.linspace(-30, 30, 20001)
    best = min(grid, key=eps)
    res = optimize.minimize_scalar(
        eps, bounds=(best - 0.01, best + 0.01), method="bounded", options={"xatol": 1e-12}
    )
    return min(eps(best), float(res.fun))


def reference_delta(rho: float, epsilon: float) -> float:
    """CKS 2020, Corollary 13 in its delta form: min over alpha of
    exp((alpha-1)(alpha rho - epsilon)) / (alpha-1) * (1 - 1/alpha)^alpha."""

    def log_delta(log_a1: float) -> float:
        a = 1 + math.exp(log_a1)
        return (a - 1) * (a * rho - epsilon) + a * math.log1p(-1 / a) - math.log(a - 1)

    res = optimize.minimize_scalar(log_delta, bounds=(-30, 30), method="bounded", options={"xatol": 1e-12})
    return math.exp(float(res.fun))


# --- the conversion --------------------------------------------------------------------------
@pytest.mark.parametrize("rho", RHOS)
@pytest.mark.parametrize("delta", DELTAS)
def test_zcdp_epsilon_is_the_minimum_over_orders(rho: float, delta: float) -> None:
    ours = zcdp_epsilon(rho, delta)
    ref = reference_epsilon(rho, delta)
    if ref <= 0:  # tiny rho: (0, delta)-DP already holds
        assert ours == 0.0
        assert reference_delta(rho, 0.0) <= delta
        return
    assert ours >= ref  # never below the bound's minimum (it would not be private)
    assert ours <= ref * (1 + 1e-9)
    assert ours <= rho + 2 * math.sqrt(rho * math.log(1 / delta))  # Bun & Steinke 2016
    # the other form of the same corollary gives back delta at that epsilon
    assert reference_delta(rho, ours) == pytest.approx(delta, rel=1e-5)


def test_zcdp_epsilon_published_values() -> None:
    # OpenDP's test of its cdp_epsilon: the Gaussian mechanism with scale 4 (rho = 1/32) at
    # delta = 1e-3 gives 0.6880024554878086; ours rounds up by at most 2^-44 relative
    assert zcdp_epsilon(1 / 32, 1e-3) == pytest.approx(0.6880024554878086, rel=1e-12)
    assert zcdp_epsilon(0.0, 1e-6) == 0.0


def test_conversion_is_monotone() -> None:
    eps = [zcdp_epsilon(r, 1e-6) for r in np.geomspace(1e-8, 100, 60)]
    assert all(a < b for a, b in itertools.pairwise(eps))
    eps = [zcdp_epsilon(0.1, d) for d in np.geomspace(1e-15, 0.5, 60)]
    assert all(a > b or a == b == 0.0 for a, b in itertools.pairwise(eps))
    assert eps[0] > 0.0 and eps[-1] == 0.0  # at delta = 0.5, rho = 0.1 is (0, delta)-DP


@pytest.mark.parametrize("epsilon", [0.01, 0.1, 1.0, 3.0, 20.0])
@pytest.mark.parametrize("delta", [1e-9, 1e-5, 0.01])
def test_rho_for_inverts_the_conversion(epsilon: float, delta: float) -> None:
    rho = rho_for(epsilon, delta)
    assert rho > 0
    assert zcdp_epsilon(rho, delta) <= epsilon
    assert zcdp_epsilon(rho * (1 + 1e-9), delta) > epsilon * (1 - 1e-9)
    assert rho_for(epsilon * 1.1, delta) > rho and rho_for(epsilon, delta * 10) > rho
    assert PrivacyAccountant.rho_for(epsilon, delta) == rho


# --- the accountant --------------------------------------------------------------------------
def test_pure_budget_adds_epsilons_and_refuses_before_recording() -> None:
    acc = PrivacyAccountant(epsilon=1.0)
    for part in range(10):
        acc.spend(epsilon=0.1, label=f"part {part}")  # ten float tenths fit in full
    assert acc.spent == (pytest.approx(1.0), 0.0)
    assert len(acc.ledger) == 10 and acc.ledger[3] == PrivacyCharge("part 3", 0.1, None)
    assert not acc.can_spend(epsilon=1e-6)
    with pytest.raises(BudgetExceededError, match="would exceed"):
        acc.spend(epsilon=1e-6, label="one more")
    assert len(acc.ledger) == 10  # nothing recorded
    assert acc.remaining_epsilon() == pytest.approx(0.0, abs=1e-12)
    acc = PrivacyAccountant(epsilon=2.0)
    acc.spend(epsilon=0.5)
    assert acc.remaining_epsilon() == 1.5 and acc.can_spend(epsilon=1.5) and not acc.can_spend(epsilon=1.6)
    assert issubclass(BudgetExceededError, ValueError)


def test_delta_budget_takes_the_tighter_route() -> None:
    delta = 1e-6
    few = PrivacyAccountant(epsilon=10.0, delta=delta)
    few.spend(epsilon=0.5)
    few.spend(epsilon=0.5)
    assert few.spent == (1.0, 0.0)  # basic composition is tighter for a few charges: no delta used
    many = PrivacyAccountant(epsilon=10.0, delta=delta)
    for _ in range(100):
        many.spend(epsilon=0.05)
    rho = 100 * 0.05**2 / 2
    assert many.rho_spent == pytest.approx(rho)
    assert many.spent == (zcdp_epsilon(rho, delta), delta)
    assert many.spent[0] < 5.0
    mixed = PrivacyAccountant(epsilon=10.0, delta=delta)
    mixed.spend(epsilon=0.2, label="selection")
    mixed.spend(rho=0.05, label="tables")
    assert mixed.spent == (zcdp_epsilon(0.02 + 0.05, delta), delta)


def test_rho_charges_fill_the_budget_exactly() -> None:
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-5)
    total = rho_for(1.0, 1e-5)
    assert acc.remaining_rho() == total
    for i in range(7):
        acc.spend(rho=total / 7, label=f"iteration {i}")  # a DP-EM schedule spends it all
    assert acc.spent[0] <= 1.0 * (1 + 1e-9)
    assert acc.remaining_rho() < 1e-12 * total
    with pytest.raises(BudgetExceededError):
        acc.spend(rho=total * 1e-3)
    assert len(acc.ledger) == 7
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-5)
    acc.spend(epsilon=0.1)
    left = acc.remaining_rho()
    assert acc.can_spend(rho=left) and not acc.can_spend(rho=left * 1.001)
    left_eps = acc.remaining_epsilon()
    assert acc.can_spend(epsilon=left_eps) and not acc.can_spend(epsilon=left_eps * 1.001)


def test_accountant_bad_input() -> None:
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="epsilon"):
            PrivacyAccountant(epsilon=bad)
    for bad in ("1", None, True):
        with pytest.raises(TypeError, match="epsilon"):
            PrivacyAccountant(epsilon=bad)  # type: ignore[arg-type]
    for bad_delta in (1.0, -0.1, float("nan"), 2):
        with pytest.raises(ValueError, match="delta"):
            PrivacyAccountant(epsilon=1.0, delta=bad_delta)
    pure = PrivacyAccountant(epsilon=1.0)
    with pytest.raises(ValueError, match="delta=0"):
        pure.spend(rho=0.01)
    with pytest.raises(ValueError, match="delta=0"):
        pure.remaining_rho()
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-6)
    with pytest.raises(ValueError, match="exactly one"):
        acc.spend()
    with pytest.raises(ValueError, match="exactly one"):
        acc.spend(epsilon=0.1, rho=0.01)
    for bad in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="positive"):
            acc.spend(epsilon=bad)
        with pytest.raises(ValueError, match="positive"):
            acc.spend(rho=bad)
    with pytest.raises(TypeError, match="label"):
        acc.spend(epsilon=0.1, label=3)  # type: ignore[arg-type]
    assert acc.ledger == []
    with pytest.raises(ValueError, match="delta"):
        zcdp_epsilon(0.1, 0.0)
    with pytest.raises(ValueError, match="rho"):
        zcdp_epsilon(-0.1, 1e-6)
    with pytest.raises(ValueError, match="epsilon"):
        rho_for(0.0, 1e-6)


# --- diffprivlib as a reference ---------------------------------------------------------------
@pytest.fixture
def diffprivlib_accountant():
    """diffprivlib's BudgetAccountant, loaded without the package's __init__ (which imports its
    models, broken against this scikit-learn); skipped when diffprivlib is not installed."""
    spec = importlib.util.find_spec("diffprivlib")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("diffprivlib is not installed")
    saved = {k: v for k, v in sys.modules.items() if k == "diffprivlib" or k.startswith("diffprivlib.")}
    package = types.ModuleType("diffprivlib")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["diffprivlib"] = package
    try:
        module = importlib.import_module("diffprivlib.accountant")
        yield module.BudgetAccountant, importlib.import_module("diffprivlib.utils").BudgetError
    except ImportError as err:
        pytest.skip(f"diffprivlib's accountant does not load: {err}")
    finally:
        for k in [k for k in sys.modules if k == "diffprivlib" or k.startswith("diffprivlib.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def test_basic_composition_matches_diffprivlib(diffprivlib_accountant) -> None:
    BudgetAccountant, BudgetError = diffprivlib_accountant
    charges = [0.3, 0.05, 0.25, 0.125, 0.2, 0.07]
    theirs = BudgetAccountant(epsilon=1.0, delta=0.0)
    ours = PrivacyAccountant(epsilon=1.0)
    for eps in charges:
        theirs.spend(eps, 0.0)
        ours.spend(epsilon=eps)
        assert ours.spent[0] == pytest.approx(theirs.total()[0], rel=1e-12)
    for attempt in (0.01, 0.1):
        their_ok = True
        try:
            theirs.check(attempt, 0.0)
        except BudgetError:
            their_ok = False
        assert ours.can_spend(epsilon=attempt) == their_ok


def test_huge_epsilons_do_not_overflow() -> None:
    for delta in (0.0, 1e-6):
        acc = PrivacyAccountant(epsilon=1e200, delta=delta)
        acc.spend(epsilon=1e200)
        assert acc.spent == (1e200, 0.0)
        with pytest.raises(BudgetExceededError):
            acc.spend(epsilon=1e200)


# --- OpenDP as a reference ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def opendp():
    dp = pytest.importorskip("opendp.prelude")
    dp.enable_features("contrib")
    return dp


def opendp_gaussian(dp, sigma: float):
    return dp.m.make_gaussian(dp.atom_domain(T=int), dp.absolute_distance(T=int), scale=sigma)


@pytest.mark.parametrize("sigma", [0.7, 1.0, 3.0, 10.0, 250.0])
def test_zcdp_conversion_matches_opendp(opendp, sigma: float) -> None:
    """OpenDP's zCDP -> (epsilon, delta) profile of a Gaussian mechanism against ours, both
    ways: epsilon at a delta, and the rho our inverse gives for that epsilon."""
    meas = opendp_gaussian(opendp, sigma)
    rho = meas.map(1)
    assert rho == pytest.approx(1 / (2 * sigma**2), rel=1e-12)
    profile = opendp.c.make_zCDP_to_approxDP(meas).map(1)
    for delta in (1e-3, 1e-6, 1e-10):
        eps = profile.epsilon(delta)
        assert zcdp_epsilon(rho, delta) == pytest.approx(eps, rel=1e-9)
        assert rho_for(eps, delta) == pytest.approx(rho, rel=1e-6)


def test_noise_calibration_matches_opendp(opendp) -> None:
    """The scales our mechanisms draw at give, in OpenDP's own accounting, exactly the budget
    ours charges: discrete Laplace of scale s/epsilon is epsilon-DP, discrete Gaussian of
    sigma^2 = s^2/(2 rho) is rho-zCDP (for sensitivity s)."""
    for sensitivity, epsilon in [(1, 0.5), (3, 1.2), (37, 0.1)]:
        laplace = opendp.m.make_laplace(
            opendp.atom_domain(T=int), opendp.absolute_distance(T=int), scale=sensitivity / epsilon
        )
        assert laplace.map(sensitivity) == pytest.approx(epsilon, rel=1e-12)
    for sensitivity, rho in [(1, 0.5), (2, 0.01)]:
        gaussian = opendp_gaussian(opendp, math.sqrt(sensitivity**2 / (2 * rho)))
        assert gaussian.map(sensitivity) == pytest.approx(rho, rel=1e-12)
