"""Differentially private EM for GaussianMixture: DP-EM (Park, Foulds, Chaudhuri & Welling,
AISTATS 2017) with the Gaussian mechanism, accounted by zero-concentrated DP (Bun & Steinke,
TCC 2016).

Neighbouring datasets differ by one row, added or removed. Every row is first clipped to L2
norm ``B = data_norm`` around the origin (scaled onto the sphere of radius B when longer).
Each release then adds Gaussian noise to one of the E-step's statistics around the origin,
whose L2 sensitivity to one row with responsibilities r (summing to 1) is

* counts   N_k = sum_i r_ik:            ||r||_2 <= ||r||_1 = 1
* sums     S_k = sum_i r_ik x_i:        ||r||_2 ||x|| <= B
* squares  Q_k = sum_i r_ik x_i x_i^T:  ||r||_2 ||x x^T||_F = ||r||_2 ||x||^2 <= B^2, released
  as its lower triangles with the entries below the diagonal times sqrt(2) (the same norm,
  so the noise on an off-diagonal entry of Q_k is 1/sqrt(2) of the diagonal's); "diag" releases
  sum_i r_ik x_i**2 (norm sum_j x_j**4 <= ||x||^4), "spherical" sum_i r_ik ||x_i||^2 and
  "tied" sum_i x_i x_i^T (the responsibilities sum out), all with sensitivity B^2.

A fit makes ``T`` rounds of these three releases: one per EM iteration, plus one for the
start unless weights_init, means_init and precisions_init are all given. The start's round
releases the statistics of random responsibilities (``init_params='random'``), of the
user's ``initial_responsibilities``, or (the default, replacing 'kmeans') of all rows as one
component: a private mean and covariance, over which the k initial means are then spread by
farthest-point traversal of draws from that Gaussian (EM from means drawn uniformly in
the ball, with no release, kept two means in one cluster or both on the overall mean in a
quarter to a half of the fits of the seed's two blobs and of three 2-D blobs, full
covariances, at epsilon 1 and without noise; this start in at most 6%). Under zCDP the rho
of releases adds up: the total ``PrivacyAccountant.rho_for(epsilon, delta)`` is divided
equally among the rounds and, within a round, by ``BUDGET_SHARES``.

The M-step only sees the noisy statistics (post-processing), and is projected onto what
clipped data can give: weights from the counts floored at ``MIN_COUNT``, means inside the
ball of radius B, covariance eigenvalues at most B^2 and at least the noise's standard
deviation on a covariance entry, sigma_squares / N_k (a smaller variance cannot be told from
the noise, and a component flattened to zero width would take no rows and die), before
``reg_covar`` is added.

What must not touch the data but through the noisy releases: the start (the random draws,
the user's responsibilities and weights_init/means_init/precisions_init), the number of
iterations (exactly max_iter: a stopping rule on the likelihood would release it) and the
choice among starts (n_init must be 1). The exact log-likelihood is never reported. The
number of clipped rows (``n_clipped_`` and the warning) is exact: it is for whoever runs the
fit, not part of the release.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _core
from ..utils._validation import check_random_state, check_scalar
from . import _sources

#: the three statistics released at every round
RELEASES = ("counts", "sums", "squares")
#: the share of a round's rho each release gets
BUDGET_SHARES = {"counts": 1 / 3, "sums": 1 / 3, "squares": 1 / 3}
#: a component's count is taken as at least this many rows (one) in the M-step
MIN_COUNT = 1.0
#: attributes a private fit sets (an ordinary fit removes them)
PRIVATE_ATTRIBUTES = ("privacy_spent_", "n_clipped_", "rho_per_release_", "noise_scales_", "n_releases_")

SAMPLE_WEIGHT_REFUSED = (
    "sample_weight cannot be used with epsilon: a row of weight w changes the statistics by w times "
    "its share, so no sensitivity bounds it. Fit without weights (repeat rows instead, knowing that "
    "each copy then counts as a row for the privacy guarantee)"
)


def is_private(est: Any) -> bool:
    """Whether est fits by DP-EM (a mixture without the parameter never does)."""
    return getattr(est, "epsilon", None) is not None


def check_private_parameters(est: Any) -> None:
    """epsilon, delta and data_norm, and what a private fit cannot do; nothing to check
    when none of the three is given."""
    owner = type(est).__name__
    epsilon, delta, norm = (getattr(est, name, None) for name in ("epsilon", "delta", "data_norm"))
    if epsilon is None:
        if delta is not None or norm is not None:
            raise ValueError(
                f"delta and data_norm only apply to a differentially private fit (got delta={delta!r}, "
                f"data_norm={norm!r}): give epsilon too, or leave them None for an ordinary fit"
            )
        return
    check_scalar(epsilon, "epsilon", owner, float, low=0.0, closed="neither")
    if delta is None or (isinstance(delta, int | float) and not isinstance(delta, bool) and delta == 0):
        raise ValueError(
            f"{owner} with epsilon needs delta > 0 (got {delta!r}): the Gaussian mechanism of DP-EM "
            "gives (epsilon, delta)-DP with delta > 0 only. Give a delta well below 1 / n_samples, "
            "e.g. delta=1e-5"
        )
    check_scalar(delta, "delta", owner, float, low=0.0, high=1.0, closed="neither")
    if norm is None:
        raise ValueError(
            f"{owner} with epsilon needs data_norm: rows are clipped to this L2 norm, which bounds "
            "what one row can change. Choose it from what is known about the features (their units "
            "or ranges), not from the data itself, and centre the data on a data-independent point"
        )
    check_scalar(norm, "data_norm", owner, float, low=0.0, closed="neither")
    if est.n_init != 1:
        raise ValueError(
            f"n_init must be 1 with epsilon (got {est.n_init}): keeping the best of several starts "
            "compares their exact likelihoods on the data, which is not private"
        )
    if est.warm_start:
        raise ValueError(
            "warm_start cannot be used with epsilon: every private fit starts from a data-independent "
            "point and spends its whole budget; refit instead"
        )
    if est.init_params in ("k-means++", "random_from_data"):
        raise ValueError(
            f"init_params={est.init_params!r} takes rows of the data as initial means, which is not "
            "private: with epsilon use the default 'kmeans', which a private fit replaces by means "
            "spread over a private one-component fit, or 'random' (random responsibilities); both "
            "release their statistics with noise"
        )


def refuse_stepwise(est: Any) -> None:
    if is_private(est):
        raise ValueError(
            "partial_fit cannot be used with epsilon: stepwise EM releases statistics at every chunk "
            "with no budget for them. Fit the whole stream with fit (a chunk function or a memmap)"
        )


# ---------------------------------------------------------------------------- clipping
def clip_rows(X: np.ndarray, bound: float) -> tuple[np.ndarray, int]:
    """X with every row of L2 norm above bound scaled onto the sphere of that radius (a copy
    when any is; X itself otherwise), and how many rows were. The target radius is a few ulps
    under the bound so that rounding to X's dtype cannot take a row over it."""
    norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
    huge = ~np.isfinite(norms)  # squares beyond float64: scale the row first
    if huge.any():
        rows = X[huge].astype(np.float64)
        top = np.abs(rows).max(axis=1, keepdims=True)
        norms[huge] = top[:, 0] * np.linalg.norm(rows / top, axis=1)
    over = norms > bound
    n_over = int(over.sum())
    if n_over == 0:
        return X, 0
    target = bound * (1.0 - 8.0 * float(np.finfo(X.dtype).eps))
    Xc = X.copy()
    Xc[over] = (X[over].astype(np.float64) * (target / norms[over])[:, None]).astype(X.dtype)
    return Xc, n_over


class ClippedRows(_sources.Rows):
    """The chunks of another row source, clipped, refusing sample weights; ``n_clipped``
    is known after the first pass (every pass reads the same rows)."""

    def __init__(self, rows: _sources.Rows, bound: float) -> None:
        self.rows, self.bound = rows, bound
        self.n_clipped: int | None = None
        self._sync()

    def _sync(self) -> None:
        self.n_features, self.dtype = self.rows.n_features, self.rows.dtype
        self.names, self.n_rows = self.rows.names, self.rows.n_rows

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        clipped = 0
        for X, sw in self.rows.chunks():
            if sw is not None:
                raise ValueError(SAMPLE_WEIGHT_REFUSED)
            Xc, n = clip_rows(X, self.bound)
            clipped += n
            self._sync()
            yield Xc, None
        self._sync()
        self.n_clipped = clipped


def clipped_source(rows: _sources.Rows, bound: float) -> tuple[_sources.Rows, int]:
    """The rows to fit, clipped to bound, and how many were clipped (read once)."""
    if isinstance(rows, _sources.InMemoryRows):
        if rows.sw is not None:
            raise ValueError(SAMPLE_WEIGHT_REFUSED)
        X, n = clip_rows(rows.X, bound)
        return _sources.InMemoryRows(X, None), n
    wrapped = ClippedRows(rows, bound)
    for _ in wrapped.chunks():  # one pass to count (and check) the rows
        pass
    assert wrapped.n_clipped is not None
    return wrapped, wrapped.n_clipped


# ---------------------------------------------------------------------------- releases
def sensitivities(data_norm: float) -> dict[str, float]:
    """L2 sensitivity of each released statistic to one row (see the module docstring)."""
    return {"counts": 1.0, "sums": float(data_norm), "squares": float(data_norm) ** 2}


def released_statistics(raw: Any) -> dict[str, np.ndarray]:
    """The three statistics of E-step statistics around the origin, as the flat vectors
    that are released (full: the lower triangles; spherical: the trace per component)."""
    cov = raw.covariance_type
    s2 = np.asarray(raw.s2, dtype=np.float64)
    if cov in ("full", "tied"):
        rows, cols = np.tril_indices(raw.n_features)
        squares = s2[..., rows, cols] * _vech_scale(raw.n_features)
    elif cov == "diag":
        squares = s2
    else:
        squares = s2.sum(axis=1)
    return {
        "counts": np.asarray(raw.nk, dtype=np.float64).ravel(),
        "sums": np.asarray(raw.s1, dtype=np.float64).ravel(),
        "squares": np.ascontiguousarray(squares).ravel(),
    }


def _vech_scale(d: int) -> np.ndarray:
    """Factors of the lower triangle's entries (row by row) that keep the Frobenius norm
    of the symmetric matrix: 1 on the diagonal, sqrt(2) below it."""
    rows, cols = np.tril_indices(d)
    return np.where(rows == cols, 1.0, math.sqrt(2.0))


def raw_statistics(stats: Any) -> Any:
    """E-step statistics (around the current means) moved around the origin, where the
    sensitivities hold."""
    return stats.shifted(np.zeros((stats.n_components, stats.n_features)))


@dataclass
class Budget:
    """The accountant, the noise and the rho of every release of one fit."""

    accountant: Any
    noise: Any
    rho: dict[str, float]
    sensitivity: dict[str, float]
    round: int = 0

    def sigma(self, name: str) -> float:
        """Standard deviation of the noise the release `name` adds (zCDP's Gaussian mechanism)."""
        return self.sensitivity[name] / math.sqrt(2.0 * self.rho[name])

    def release(self, raw: Any) -> dict[str, np.ndarray]:
        """The three statistics of `raw` (around the origin) with noise, each release spent
        in the accountant first (which refuses to go over the budget)."""
        from ..privacy import gaussian_mechanism

        self.round += 1
        exact = released_statistics(raw)
        noisy = {}
        for name in RELEASES:
            self.accountant.spend(rho=self.rho[name], label=f"DP-EM round {self.round}: {name}")
            noisy[name] = np.asarray(
                gaussian_mechanism(exact[name], self.rho[name], self.sensitivity[name], noise=self.noise),
                dtype=np.float64,
            ).reshape(exact[name].shape)
        return noisy


def make_budget(est: Any, n_rounds: int, noise: Any) -> Budget:
    from ..privacy import PrivacyAccountant

    accountant = PrivacyAccountant(float(est.epsilon), float(est.delta))
    total = float(accountant.rho_for(float(est.epsilon), float(est.delta)))
    # a hair under the total: the accountant lets a sum within 1e-9 of the budget pass, and
    # privacy_spent_ is to stay at most the budget through the float sum and conversion
    per_round = total * (1.0 - 1e-9) / max(n_rounds, 1)
    rho = {name: per_round * share for name, share in BUDGET_SHARES.items()}
    return Budget(accountant, noise, rho, sensitivities(float(est.data_norm)))


def noise_source(random_state: Any) -> Any:
    """The private noise (random_state None), or one seeded from random_state: reproducible
    and therefore not private (tests only; a warning says so)."""
    from ..privacy._noise import fit_noise

    return fit_noise(random_state, "GaussianMixture fit", stacklevel=6)


# ---------------------------------------------------------------------------- M-step
def private_m_step(
    noisy: dict[str, np.ndarray], cov: str, k: int, d: int, bound: float, reg_covar: float, sigma: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(weights, means, covariances, precisions_cholesky) from noisy statistics around the
    origin, projected onto what rows in the ball of radius bound can give: counts of at least
    MIN_COUNT, means in the ball, covariance eigenvalues in [sigma / N_k, bound**2] with sigma
    the noise's standard deviation on the squares (then reg_covar, at least 1e-12 bound**2,
    is added)."""
    counts = np.maximum(noisy["counts"], MIN_COUNT)
    weights = counts / counts.sum()
    means = noisy["sums"].reshape(k, d) / counts[:, None]
    norms = np.linalg.norm(means, axis=1)
    outside = norms > bound
    means[outside] *= (bound / norms[outside])[:, None]
    top = bound**2
    reg = max(float(reg_covar), 1e-12 * top)
    # the noise's standard deviation on each covariance entry: smaller variances are noise
    floor = np.minimum(sigma / counts, top)
    squares = noisy["squares"]
    covariances: np.ndarray
    if cov in ("full", "tied"):
        rows, cols = np.tril_indices(d)
        n_mat = k if cov == "full" else 1
        S = np.zeros((n_mat, d, d))
        S[:, rows, cols] = squares.reshape(n_mat, -1) / _vech_scale(d)
        S[:, cols, rows] = S[:, rows, cols]
        if cov == "full":
            C = S / counts[:, None, None] - np.einsum("ki,kj->kij", means, means)
        else:
            C = (S[0] - np.einsum("k,ki,kj->ij", counts, means, means))[None] / counts.sum()
        lam, V = np.linalg.eigh(C)
        low = floor[:, None] if cov == "full" else sigma / counts.sum()
        lam = np.clip(lam, low, top) + reg
        covariances = np.einsum("kij,kj,klj->kil", V, lam, V)
        covariances = 0.5 * (covariances + covariances.transpose(0, 2, 1))
        if cov == "tied":
            covariances = covariances[0]
    elif cov == "diag":
        var = squares.reshape(k, d) / counts[:, None] - means**2
        covariances = np.clip(var, floor[:, None], top) + reg
    else:
        var = (squares / counts - (means**2).sum(axis=1)) / d
        covariances = np.clip(var, floor / d, top) + reg
    prec_chol = _core.gmm_precision_cholesky(cov, np.ascontiguousarray(covariances), k, d)
    return weights, means, covariances, prec_chol


# ---------------------------------------------------------------------------- start
def resp_stats(rows: _sources.Rows, k: int, cov: str, resp_for: Any, n_threads: int) -> Any:
    """Statistics around the origin of the responsibilities resp_for(start, m) gives the m
    rows of each chunk from row `start` on, chunk by chunk."""
    stats = None
    start = 0
    for X, _ in rows.chunks():
        m = X.shape[0]
        R = np.ascontiguousarray(resp_for(start, m), dtype=np.float64)
        start += m
        zero = np.zeros((k, X.shape[1]))
        stats = _core.gmm_resp_stats(X, R, None, cov, zero, n_threads, into=stats)
    return stats


def random_resp(rng: np.random.Generator, k: int) -> Any:
    """resp_for of scikit-learn's 'random' start: uniform draws normalised per row."""

    def resp_for(start: int, m: int) -> np.ndarray:
        R = rng.uniform(size=(m, k))
        return R / R.sum(axis=1, keepdims=True)

    return resp_for


def spread_start(
    mean: np.ndarray, covariance: np.ndarray, cov: str, k: int, bound: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """k means spread over a Gaussian (the private one-component fit of the data): greedy
    farthest-point traversal, from a random first one, of 20 k draws from it (fewer when k
    and the dimension are large), projected into the ball; every component starts with that
    covariance. Nothing here looks at the data."""
    d = mean.shape[-1]
    m = max(2 * k, min(20 * k, 10**7 // (k * d)))
    z = rng.standard_normal((m, d))
    if cov in ("full", "tied"):
        draws = mean.reshape(1, d) + z @ np.linalg.cholesky(covariance.reshape(d, d)).T
    else:  # diag (d variances) or spherical (one)
        draws = mean.reshape(1, d) + z * np.sqrt(covariance.reshape(1, -1))
    chosen = [int(rng.integers(m))]
    dist = np.linalg.norm(draws - draws[chosen[0]], axis=1)
    for _ in range(k - 1):
        chosen.append(int(dist.argmax()))
        dist = np.minimum(dist, np.linalg.norm(draws - draws[chosen[-1]], axis=1))
    means = draws[chosen]
    norms = np.linalg.norm(means, axis=1)
    means[norms > bound] *= (bound / norms[norms > bound])[:, None]
    reps = {"full": (k, 1, 1), "tied": (1, 1), "diag": (k, 1), "spherical": (k,)}[cov]
    one = covariance.reshape(d, d) if cov in ("full", "tied") else covariance.reshape(-1)
    return means, np.tile(one, reps)


# ---------------------------------------------------------------------------- the fit
def fit_private(
    est: Any, rows: _sources.Rows, resp: np.ndarray | None, n_threads: int, make_state: Any
) -> None:
    """DP-EM on rows, setting est's fitted attributes. make_state(weights, means,
    covariances, prec_chol, start) builds the estimator's state (start: the initial one,
    where weights_init, means_init and precisions_init take precedence)."""
    k, cov, bound = est.n_components, est.covariance_type, float(est.data_norm)
    clipped, n_clipped = clipped_source(rows, bound)
    if n_clipped:
        warnings.warn(
            f"{n_clipped} of {clipped.n_rows} rows had an L2 norm above data_norm={bound:g} and were "
            "scaled onto that sphere (DP-EM bounds each row's influence this way); a data_norm that "
            "clips many rows biases the fit",
            UserWarning,
            stacklevel=5,
        )
    d = clipped.n_features
    assert d is not None
    rng = check_random_state(est.random_state)
    noise = noise_source(est.random_state)
    given = all(value is not None for value in est._inits)  # weights, means and precisions
    budget = make_budget(est, est.max_iter + int(not given), noise)

    def m_step(raw: Any, n_components: int) -> tuple[np.ndarray, ...]:
        noisy = budget.release(raw)
        return private_m_step(noisy, cov, n_components, d, bound, est.reg_covar, budget.sigma("squares"))

    if given:  # the user's parameters: no round spent on the start
        state = make_state(np.full(k, 1.0 / k), np.zeros((k, d)), None, None, True)
    elif resp is not None or est.init_params == "random":
        resp_for = random_resp(rng, k) if resp is None else (lambda start, m: resp[start : start + m])
        state = make_state(*m_step(resp_stats(clipped, k, cov, resp_for, n_threads), k), True)
    else:  # the private one-component fit, then means spread over it
        ones = resp_stats(clipped, 1, cov, lambda start, m: np.ones((m, 1)), n_threads)
        _, mean, covariance, _ = m_step(ones, 1)
        means, covariances = spread_start(mean, covariance, cov, k, bound, rng)
        prec_chol = _core.gmm_precision_cholesky(cov, np.ascontiguousarray(covariances), k, d)
        state = make_state(np.full(k, 1.0 / k), means, covariances, prec_chol, True)
    for n_iter in range(1, est.max_iter + 1):
        stats = clipped.e_step(cov, est._kernel_args(state), n_threads)
        state = make_state(*m_step(raw_statistics(stats), k), False)
        if est.verbose and n_iter % est.verbose_interval == 0:
            print(f"  DP-EM iteration {n_iter} of {est.max_iter}")
    est._set_state(state, clipped.dtype)
    est.converged_ = False  # no convergence test: it would look at the data
    est.n_iter_ = est.max_iter
    est.lower_bound_ = float("nan")  # the exact log-likelihood is not private
    est.lower_bounds_ = []
    est._stepwise = None
    est.privacy_spent_ = tuple(float(v) for v in budget.accountant.spent)
    est.n_clipped_ = n_clipped
    est.rho_per_release_ = dict(budget.rho)
    est.noise_scales_ = {name: budget.sigma(name) for name in RELEASES}
    est.n_releases_ = len(RELEASES) * budget.round
