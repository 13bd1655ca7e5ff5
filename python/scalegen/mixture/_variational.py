"""The variational updates of a Bayesian Gaussian mixture (Bishop 2006, ch. 10.2; Blei and
Jordan 2006 for the Dirichlet process), on the sufficient statistics the C++ E-step sums.
Every formula follows scikit-learn's BayesianGaussianMixture, so that the same start gives
the same trajectory; all arrays here are small (k x d x d at most)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _core


@dataclass
class Priors:
    """The resolved priors (scikit-learn's ``*_prior_`` attributes)."""

    weight_concentration: float
    mean_precision: float
    mean: np.ndarray
    degrees_of_freedom: float
    covariance: Any  # (d, d) for full and tied, (d,) for diag, a float for spherical


@dataclass
class VBState:
    """The variational posterior, in float64."""

    weight_concentration: Any  # (k,) or, for the Dirichlet process, a pair of (k,) arrays
    mean_precision: np.ndarray
    means: np.ndarray
    degrees_of_freedom: Any  # (k,), or a float for tied
    covariances: np.ndarray
    prec_chol: np.ndarray


def gaussian_statistics(stats: Any, reg_covar: float, eps: float) -> tuple[np.ndarray, ...]:
    """(nk, xk, sk): scikit-learn's _estimate_gaussian_parameters from shifted statistics
    (nk carries its 10 * eps guard, sk its reg_covar). Not the C++ M-step: that one also
    factorises sk and refuses a singular one, which the variational update never inverts."""
    kind = stats.covariance_type
    raw, shift, s1 = stats.nk, stats.shift, stats.s1
    nk = raw + eps
    means = (s1 + raw[:, None] * shift) / nk[:, None]
    delta = means - shift  # new means around the shift the sums were taken about
    s2 = stats.s2
    if kind == "full":
        s2 = s2 + np.swapaxes(s2, 1, 2) - s2 * np.eye(s2.shape[1])  # the lower triangles, whole
        outer = np.einsum("ka,kb->kab", s1, delta)
        centred = (
            s2 - outer - np.swapaxes(outer, 1, 2) + raw[:, None, None] * np.einsum("ka,kb->kab", delta, delta)
        )
        cov = centred / nk[:, None, None] + reg_covar * np.eye(s2.shape[1])
    elif kind == "tied":
        s2 = s2 + s2.T - np.diag(np.diag(s2))
        around = means - shift.mean(axis=0)  # s2 is taken around the mean of the shifts
        cov = (s2 - (nk[:, None] * around).T @ around) / nk.sum() + reg_covar * np.eye(s2.shape[0])
    else:
        centred = s2 - 2 * delta * s1 + raw[:, None] * delta**2
        cov = centred / nk[:, None] + reg_covar
        if kind == "spherical":
            cov = cov.mean(axis=1)
    return nk, means, cov


def m_step(stats: Any, priors: Priors, process: bool, reg_covar: float, eps: float) -> VBState:
    """The posterior from E-step statistics (scikit-learn's _m_step / _initialize)."""
    kind = stats.covariance_type
    nk, xk, sk = gaussian_statistics(stats, reg_covar, eps)
    k, d = xk.shape
    if process:
        tail = np.hstack((np.cumsum(nk[::-1])[-2::-1], 0))
        concentration: Any = (1.0 + nk, priors.weight_concentration + tail)
    else:
        concentration = priors.weight_concentration + nk
    beta0, m0, nu0, psi0 = priors.mean_precision, priors.mean, priors.degrees_of_freedom, priors.covariance
    beta = beta0 + nk
    means = (beta0 * m0 + nk[:, None] * xk) / beta[:, None]
    diff = xk - m0
    if kind == "full":
        nu: Any = nu0 + nk
        cov = psi0 + nk[:, None, None] * sk
        cov = cov + (nk * beta0 / beta)[:, None, None] * np.einsum("ka,kb->kab", diff, diff)
        cov = cov / nu[:, None, None]
    elif kind == "tied":
        nu = nu0 + nk.sum() / k
        cov = psi0 + sk * nk.sum() / k + beta0 / k * ((nk / beta) * diff.T) @ diff
        cov = cov / nu
    elif kind == "diag":
        nu = nu0 + nk
        cov = (psi0 + nk[:, None] * (sk + (beta0 / beta)[:, None] * diff**2)) / nu[:, None]
    else:
        nu = nu0 + nk
        cov = (psi0 + nk * (sk + beta0 / beta * np.mean(diff**2, axis=1))) / nu
    prec_chol = np.asarray(_core.gmm_precision_cholesky(kind, np.ascontiguousarray(cov), k, d))
    return VBState(concentration, beta, means, nu, cov, prec_chol)


def expected_log_weights(concentration: Any, process: bool) -> np.ndarray:
    """E[log pi_k] under the Dirichlet (process) posterior."""
    from scipy.special import digamma

    if process:
        a, b = concentration
        total = digamma(a + b)
        return digamma(a) - total + np.hstack((0, np.cumsum(digamma(b) - total)[:-1]))
    return digamma(concentration) - digamma(np.sum(concentration))


def kernel_log_weights(state: VBState, process: bool) -> np.ndarray:
    """What the kernel adds to each Gaussian log-density of the posterior's expected
    precision (scikit-learn's _estimate_log_weights + _estimate_log_prob's extra terms)."""
    from scipy.special import digamma

    d = state.means.shape[1]
    nu = np.atleast_1d(np.asarray(state.degrees_of_freedom, dtype=np.float64))
    log_lambda = d * math.log(2.0) + digamma(0.5 * (nu - np.arange(d)[:, None])).sum(axis=0)
    extra = -0.5 * d * np.log(nu) + 0.5 * (log_lambda - d / state.mean_precision)
    return expected_log_weights(state.weight_concentration, process) + extra


def log_det_chol(prec_chol: np.ndarray, kind: str, d: int) -> Any:
    if kind == "full":
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
    if kind == "tied":
        return np.log(np.diag(prec_chol)).sum()
    if kind == "diag":
        return np.log(prec_chol).sum(axis=1)
    return d * np.log(prec_chol)


def lower_bound(resp_entropy: float, state: VBState, kind: str, process: bool) -> float:
    """scikit-learn's _compute_lower_bound: the responsibilities' entropy term from the
    E-step, the normalisers of the posterior from the M-step after it."""
    from scipy.special import betaln, gammaln

    k, d = state.means.shape
    nu = state.degrees_of_freedom
    log_det = log_det_chol(state.prec_chol, kind, d) - 0.5 * d * np.log(nu)
    nu_col = np.atleast_1d(np.asarray(nu, dtype=np.float64))
    log_wishart = -(
        nu * log_det
        + nu * d * 0.5 * math.log(2.0)
        + gammaln(0.5 * (nu_col - np.arange(d)[:, None])).sum(axis=0)
    )
    total_wishart = k * float(log_wishart[0]) if kind == "tied" else float(np.sum(log_wishart))
    if process:
        log_norm_weight = -float(np.sum(betaln(*state.weight_concentration)))
    else:
        alpha = state.weight_concentration
        log_norm_weight = float(gammaln(np.sum(alpha)) - np.sum(gammaln(alpha)))
    return float(
        -resp_entropy - total_wishart - log_norm_weight - 0.5 * d * np.sum(np.log(state.mean_precision))
    )


def mixing_weights(concentration: Any, process: bool) -> np.ndarray:
    """The posterior's expected weights (scikit-learn's weights_)."""
    if process:
        a, b = concentration
        total = a + b
        weights = a / total * np.hstack((1, np.cumprod(b / total)[:-1]))
        return weights / np.sum(weights)
    return concentration / np.sum(concentration)
