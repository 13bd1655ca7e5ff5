"""A privacy budget: pure-DP charges by basic composition, zCDP charges by adding rho, and the
conversion of rho-zCDP to (epsilon, delta)-DP of Canonne, Kamath & Steinke (2020)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

from ..utils._validation import InvalidParameterError

# Charges are compared with the budget allowing this relative slack, so that a budget split
# into k equal float parts (k * (eps / k) may exceed eps by an ulp) still fits exactly.
_SLACK = 1e-9
_BISECTION_STEPS = 200
_ROUNDING = 2.0**-44  # relative margin over the float evaluation of the conversion


class BudgetExceededError(ValueError):
    """A charge would take a ``PrivacyAccountant`` above its budget; nothing was recorded.

    Examples
    --------
    >>> from scalegen.privacy import BudgetExceededError, PrivacyAccountant
    >>> acc = PrivacyAccountant(epsilon=1.0)
    >>> acc.spend(epsilon=0.75)
    >>> try:
    ...     acc.spend(epsilon=0.5, label="second release")
    ... except BudgetExceededError as err:
    ...     print(str(err).split(":")[0])
    second release (epsilon=0.5) would exceed the budget epsilon=1.0
    >>> acc.spent
    (0.75, 0.0)
    """


class PrivacyCharge(NamedTuple):
    """One entry of ``PrivacyAccountant.ledger``: a pure-DP or a zCDP charge.

    Exactly one of ``epsilon`` and ``rho`` is set, the other is None.

    Examples
    --------
    >>> from scalegen.privacy import PrivacyAccountant
    >>> acc = PrivacyAccountant(epsilon=1.0, delta=1e-6)
    >>> acc.spend(rho=0.01, label="means")
    >>> acc.ledger[0]
    PrivacyCharge(label='means', epsilon=None, rho=0.01)
    """

    label: str
    epsilon: float | None
    rho: float | None


def _real(value: Any, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"{owner}: {name} must be a real number, got {value!r}")
    return float(value)


def _check_delta(delta: Any, owner: str, *, allow_zero: bool) -> float:
    d = _real(delta, "delta", owner)
    if not (0.0 <= d < 1.0) or (d == 0.0 and not allow_zero):
        raise InvalidParameterError(
            f"{owner}: delta must be in {'[0, 1)' if allow_zero else '(0, 1)'}, got {delta!r}"
        )
    return d


def _check_nonneg(value: Any, name: str, owner: str, *, positive: bool) -> float:
    v = _real(value, name, owner)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise InvalidParameterError(
            f"{owner}: {name} must be {'positive' if positive else 'non-negative'} and finite, got {value!r}"
        )
    return v


def _bisect(ok: Callable[[float], bool], lo: float, hi: float) -> tuple[float, float]:
    """Narrow [lo, hi] to float resolution, keeping ok(lo) true and ok(hi) false."""
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo, hi


def _epsilon_at(alpha: float, rho: float, log_inv_delta: float) -> float:
    """CKS 2020's bound at one order alpha > 1 (valid for every alpha):
    eps = alpha rho + (log(1/delta) + (alpha - 1) log(1 - 1/alpha) - log(alpha)) / (alpha - 1)."""
    return alpha * rho + (log_inv_delta + (alpha - 1) * math.log1p(-1 / alpha) - math.log(alpha)) / (
        alpha - 1
    )


def zcdp_epsilon(rho: float, delta: float) -> float:
    """The epsilon of (epsilon, delta)-DP implied by rho-zCDP.

    Canonne, Kamath & Steinke (2020, Proposition 12 / Corollary 13): rho-zCDP implies
    (epsilon, delta)-DP for every alpha > 1 with
    ``epsilon = alpha rho + (log(1/delta) + (alpha-1) log(1-1/alpha) - log(alpha)) / (alpha-1)``.
    Its derivative in alpha is ``rho - (log(1/delta) - log(alpha)) / (alpha-1)^2``, increasing,
    so the minimising alpha is the root of ``rho (alpha-1)^2 = log(1/delta) - log(alpha)``,
    found by bisection. Any alpha gives a valid bound, so a bisection error only loosens it.
    The result is never above the classical ``rho + 2 sqrt(rho log(1/delta))`` (Bun & Steinke
    2016), whose smaller value is returned if rounding ever made it the smaller.

    Parameters
    ----------
    rho : float
        Non-negative and finite.
    delta : float
        In (0, 1).

    Returns
    -------
    float
        epsilon, at least 0.0 (0.0 for rho = 0, or when (0, delta)-DP already holds).

    Examples
    --------
    >>> from scalegen.privacy import zcdp_epsilon
    >>> round(zcdp_epsilon(1 / 32, 1e-3), 6)  # the Gaussian mechanism, sigma = 4, sensitivity 1
    0.688002
    >>> round(0.5 + 2 * (0.5 * 13.815510557964274) ** 0.5, 4), round(zcdp_epsilon(0.5, 1e-6), 4)
    (5.7565, 5.2215)
    """
    owner = "zcdp_epsilon"
    r = _check_nonneg(rho, "rho", owner, positive=False)
    d = _check_delta(delta, owner, allow_zero=False)
    if r == 0.0:
        return 0.0
    log_inv = -math.log(d)
    simple = r + 2 * math.sqrt(r * log_inv)
    # the root lies below 1 + sqrt(log(1/delta)/rho), where the derivative is already positive
    lo, hi = _bisect(lambda a: r * (a - 1) ** 2 + math.log(a) < log_inv, 1.0, 2.0 + math.sqrt(log_inv / r))
    tight = min(_epsilon_at(a, r, log_inv) for a in (lo, hi) if a > 1)
    # the few float operations above may round down by some ulps: step safely up. Below 0 the
    # bound says (0, delta)-DP already holds (tiny rho)
    return max(min(tight, simple) * (1 + _ROUNDING), 0.0)


def rho_for(epsilon: float, delta: float) -> float:
    """The largest rho whose zCDP guarantee converts to (epsilon, delta)-DP.

    The inverse of ``zcdp_epsilon`` in rho (which it increases), by bisection; the value
    returned is the lower end of the bracket, so ``zcdp_epsilon(rho_for(e, d), d) <= e``.
    Useful to calibrate mechanisms that are rho-zCDP (the Gaussian ones) to an (epsilon,
    delta) target, e.g. ``rho_for(eps, delta) / n_iterations`` per iteration.

    Parameters
    ----------
    epsilon : float
        Positive and finite.
    delta : float
        In (0, 1).

    Returns
    -------
    float
        rho, positive.

    Examples
    --------
    >>> from scalegen.privacy import rho_for, zcdp_epsilon
    >>> rho = rho_for(1.0, 1e-6)
    >>> round(rho, 6), zcdp_epsilon(rho, 1e-6) <= 1.0
    (0.024356, True)
    """
    owner = "rho_for"
    e = _check_nonneg(epsilon, "epsilon", owner, positive=True)
    d = _check_delta(delta, owner, allow_zero=False)
    lo, hi = 0.0, e
    while zcdp_epsilon(hi, d) <= e:  # epsilon grows without bound with rho: this ends
        lo, hi = hi, 2 * hi
    return _bisect(lambda rho: zcdp_epsilon(rho, d) <= e, lo, hi)[0]


class PrivacyAccountant:
    """A privacy budget that records charges and refuses the one that would exceed it.

    Charges are pure epsilon-DP (``spend(epsilon=...)``, e.g. ``laplace_counts``,
    ``permute_and_flip``) or rho-zCDP (``spend(rho=...)``, e.g. ``gaussian_counts``,
    ``gaussian_mechanism``). With ``delta == 0`` only pure charges are allowed and their
    epsilons add (basic composition). With ``delta > 0`` the total is the smaller of: basic
    composition when every charge is pure, and the zCDP route, where each pure epsilon counts
    as rho = epsilon²/2 (Bun & Steinke 2016, Proposition 1.4), rhos add, and the total rho
    is converted to (epsilon, delta) by ``zcdp_epsilon`` (Canonne, Kamath & Steinke 2020).

    Parameters
    ----------
    epsilon : float
        The budget's epsilon, positive and finite.
    delta : float, default 0.0
        The budget's delta, in [0, 1).

    Attributes
    ----------
    epsilon, delta : float
        The budget.
    ledger : list of PrivacyCharge
        The charges recorded, in order.

    Notes
    -----
    A total within a relative 1e-9 of the budget counts as inside it, so that a budget split
    into equal float parts can be spent in full.

    Examples
    --------
    >>> from scalegen.privacy import PrivacyAccountant
    >>> acc = PrivacyAccountant(epsilon=1.0, delta=1e-6)
    >>> acc.spend(epsilon=0.1, label="structure")
    >>> acc.spend(rho=0.01, label="tables")
    >>> eps, delta = acc.spent
    >>> round(eps, 4), delta
    (0.7717, 1e-06)
    >>> acc.can_spend(epsilon=0.2), acc.can_spend(epsilon=0.1)
    (False, True)
    >>> round(acc.remaining_rho(), 6)
    0.009356
    """

    def __init__(self, epsilon: float, delta: float = 0.0) -> None:
        owner = "PrivacyAccountant"
        self.epsilon = _check_nonneg(epsilon, "epsilon", owner, positive=True)
        self.delta = _check_delta(delta, owner, allow_zero=True)
        self.ledger: list[PrivacyCharge] = []

    def __repr__(self) -> str:
        eps, delta = self.spent
        return (
            f"PrivacyAccountant(epsilon={self.epsilon!r}, delta={self.delta!r}; "
            f"spent epsilon={eps:.6g}, delta={delta:.3g} in {len(self.ledger)} charges)"
        )

    # -- totals --------------------------------------------------------------------------------
    @staticmethod
    def _totals(ledger: list[PrivacyCharge]) -> tuple[float, float, bool]:
        """(sum of pure epsilons, total rho with pure charges as eps²/2, all pure)."""
        pure = math.fsum(c.epsilon for c in ledger if c.epsilon is not None)
        # epsilon * epsilon: inf for a huge epsilon, where ** would raise OverflowError
        rho = math.fsum(c.rho if c.rho is not None else c.epsilon * c.epsilon / 2 for c in ledger)  # type: ignore[operator]
        return pure, rho, all(c.rho is None for c in ledger)

    def _spent_of(self, ledger: list[PrivacyCharge]) -> tuple[float, float]:
        pure, rho, all_pure = self._totals(ledger)
        if self.delta == 0.0 or not ledger:
            return pure, 0.0
        via_rho = zcdp_epsilon(rho, self.delta) if math.isfinite(rho) else math.inf
        if all_pure and pure <= via_rho:
            return pure, 0.0
        return via_rho, self.delta

    @property
    def spent(self) -> tuple[float, float]:
        """(epsilon, delta) used so far: the tighter of basic composition and the zCDP route."""
        return self._spent_of(self.ledger)

    @property
    def rho_spent(self) -> float:
        """Total rho of the charges so far, pure ones counted as epsilon²/2."""
        return self._totals(self.ledger)[1]

    def _fits(self, ledger: list[PrivacyCharge], slack: float = _SLACK) -> bool:
        return self._spent_of(ledger)[0] <= self.epsilon * (1 + slack)

    def _charge(self, epsilon: Any, rho: Any, label: Any) -> PrivacyCharge:
        owner = "PrivacyAccountant.spend"
        if not isinstance(label, str):
            raise TypeError(f"{owner}: label must be a str, got {type(label).__name__}")
        if (epsilon is None) == (rho is None):
            raise InvalidParameterError(f"{owner}: give exactly one of epsilon (pure DP) and rho (zCDP)")
        if rho is not None:
            if self.delta == 0.0:
                raise InvalidParameterError(
                    f"{owner}: a budget with delta=0 (pure DP) admits no zCDP charge (rho); "
                    "give the accountant a delta > 0"
                )
            return PrivacyCharge(label, None, _check_nonneg(rho, "rho", owner, positive=True))
        return PrivacyCharge(label, _check_nonneg(epsilon, "epsilon", owner, positive=True), None)

    # -- charging ------------------------------------------------------------------------------
    def can_spend(self, epsilon: float | None = None, rho: float | None = None) -> bool:
        """Whether ``spend`` with the same arguments would succeed (nothing is recorded).

        Parameters
        ----------
        epsilon, rho : float, optional
            Exactly one: a pure epsilon-DP charge or a rho-zCDP charge.

        Returns
        -------
        bool

        Examples
        --------
        >>> from scalegen.privacy import PrivacyAccountant
        >>> acc = PrivacyAccountant(epsilon=1.0)
        >>> acc.can_spend(epsilon=1.0), acc.can_spend(epsilon=1.5)
        (True, False)
        """
        return self._fits([*self.ledger, self._charge(epsilon, rho, "")])

    def spend(self, epsilon: float | None = None, rho: float | None = None, label: str = "") -> None:
        """Record a charge, or raise ``BudgetExceededError`` (recording nothing) if it does not fit.

        Parameters
        ----------
        epsilon : float, optional
            A pure epsilon-DP charge.
        rho : float, optional
            A rho-zCDP charge; only with a budget delta > 0.
        label : str, default ''
            What the charge was for, kept in the ledger.

        Raises
        ------
        BudgetExceededError
            If the total would exceed the budget.
        InvalidParameterError
            If neither or both of epsilon and rho are given, a value is not positive and
            finite, or rho is given to a budget with delta = 0.

        Examples
        --------
        >>> from scalegen.privacy import PrivacyAccountant
        >>> acc = PrivacyAccountant(epsilon=2.0)
        >>> for part in range(4):
        ...     acc.spend(epsilon=0.5, label=f"part {part}")
        >>> acc.spent, len(acc.ledger)
        ((2.0, 0.0), 4)
        """
        charge = self._charge(epsilon, rho, label)
        ledger = [*self.ledger, charge]
        if not self._fits(ledger):
            eps, delta = self._spent_of(ledger)
            what = f"epsilon={charge.epsilon!r}" if charge.rho is None else f"rho={charge.rho!r}"
            raise BudgetExceededError(
                f"{label or 'the charge'} ({what}) would exceed the budget epsilon={self.epsilon!r}"
                f"{f', delta={self.delta!r}' if self.delta else ''}: the total would be epsilon={eps:.6g}"
                f"{f', delta={delta:.3g}' if delta else ''}; nothing was recorded"
            )
        self.ledger.append(charge)

    # -- what is left --------------------------------------------------------------------------
    def remaining_rho(self) -> float:
        """The largest rho charge that still fits (0.0 when none does).

        Only for budgets with delta > 0. The largest rho whose total with the charges so far
        converts within the budget: ``rho_for(epsilon, delta) - rho_spent``, checked.

        Returns
        -------
        float

        Examples
        --------
        >>> from scalegen.privacy import PrivacyAccountant, rho_for
        >>> acc = PrivacyAccountant(epsilon=1.0, delta=1e-6)
        >>> acc.remaining_rho() == rho_for(1.0, 1e-6)
        True
        """
        if self.delta == 0.0:
            raise InvalidParameterError(
                "remaining_rho: a budget with delta=0 (pure DP) admits no zCDP charge"
            )
        left = rho_for(self.epsilon, self.delta) - self.rho_spent
        while left > 0 and not self._fits([*self.ledger, PrivacyCharge("", None, left)], slack=0.0):
            left *= 1 - 1e-12  # float rounding of the sum: step just inside
        return max(left, 0.0)

    def remaining_epsilon(self) -> float:
        """The largest pure epsilon charge that still fits (0.0 when none does).

        With delta = 0 the budget minus the epsilons spent; with delta > 0 found by bisection
        (the total grows with the charge).

        Returns
        -------
        float

        Examples
        --------
        >>> from scalegen.privacy import PrivacyAccountant
        >>> acc = PrivacyAccountant(epsilon=1.0)
        >>> acc.spend(epsilon=0.25)
        >>> acc.remaining_epsilon()
        0.75
        """
        if self.delta == 0.0:
            return max(self.epsilon - self._totals(self.ledger)[0], 0.0)

        def fits(eps: float) -> bool:
            return self._fits([*self.ledger, PrivacyCharge("", eps, None)], slack=0.0)

        return self.epsilon if fits(self.epsilon) else _bisect(fits, 0.0, self.epsilon)[0]

    rho_for = staticmethod(rho_for)
    zcdp_epsilon = staticmethod(zcdp_epsilon)
