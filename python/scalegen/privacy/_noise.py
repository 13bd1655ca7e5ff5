"""Exact discrete noise (Canonne, Kamath & Steinke 2020) from a ChaCha20 keystream, and the
mechanisms built on it: noisy counts, noisy real statistics and permute-and-flip selection.

Every float parameter is turned into an exact rational before the C++ samplers see it, and
always in the direction of more privacy: noise scales are rounded up, epsilon of a selection
rounded down. No float ever decides a sample (Mironov 2012's attack on floating-point
Laplace noise needs one)."""

from __future__ import annotations

import hashlib
import math
import numbers
import os
import secrets
import warnings
from fractions import Fraction
from typing import Any

import numpy as np

from .. import _core
from ..utils._limits import check_tensor
from ..utils._validation import InvalidParameterError, is_int

# Bounds that keep every draw in exact 64/128-bit integer arithmetic (see discrete_noise.hpp).
MAX_LAPLACE_SCALE = 2**50
MAX_GAUSSIAN_SIGMA = 2**26
_MAX_COUNT = 2**62  # |count| accepted, so that count + noise stays inside int64
_GRID_STEPS = 10  # the Gaussian grid is about sigma / 2^10: Z has sigma_Z in [2^10, 2^11)
_SCORE_BITS = 20  # permute_and_flip's score unit is about sensitivity / 2^20


def _exact(value: Any) -> Fraction:
    """The exact rational value of an int, a Fraction or a float (a float is a dyadic)."""
    return Fraction(value) if isinstance(value, numbers.Rational) else Fraction(float(value))


def _positive(value: Any, name: str, owner: str, high: float | None = None) -> Fraction:
    """A finite positive real (bools and non-numbers refused), at most `high`, as a Fraction."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"{owner}: {name} must be a positive real number, got {value!r}")
    if not isinstance(value, numbers.Rational) and not math.isfinite(float(value)):
        raise InvalidParameterError(f"{owner}: {name} must be finite, got {value!r}")
    exact = _exact(value)
    if exact <= 0:
        raise InvalidParameterError(f"{owner}: {name} must be positive, got {value!r}")
    if high is not None and exact > high:
        raise InvalidParameterError(f"{owner}: {name}={value!r} is above the largest accepted, {high:.6g}")
    return exact


def _dyadic_up(x: Fraction, num_bits: int, den_bits: int) -> tuple[int, int]:
    """The smallest num / 2^k >= x with the largest k <= den_bits that keeps num <= 2^num_bits."""
    k = den_bits
    num = math.ceil(x * 2**k)
    while num > 2**num_bits and k > 0:
        k -= 1
        num = math.ceil(x * 2**k)
    return num, 2**k


def _shape(size: Any, owner: str) -> tuple[int, tuple[int, ...] | None]:
    """(number of draws, output shape or None for a single value), checked against the limits."""
    if size is None:
        return 1, None
    dims = (size,) if is_int(size) else size
    if not isinstance(dims, tuple | list) or not all(is_int(d) for d in dims):
        raise TypeError(f"{owner}: size must be None, an int or a tuple of ints, got {size!r}")
    shape = tuple(int(d) for d in dims)
    if any(d < 0 for d in shape):
        raise ValueError(f"{owner}: size must not be negative, got {size!r}")
    check_tensor(shape, 8, f"{owner}: {shape} draws")
    return math.prod(shape), shape


def _key(random_state: Any) -> bytes:
    if random_state is None:
        return secrets.token_bytes(32)
    if is_int(random_state):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}")
        return hashlib.sha256(b"scalegen.privacy.NoiseSource:%d" % int(random_state)).digest()
    if isinstance(random_state, np.random.Generator | np.random.RandomState):
        return random_state.bytes(32)  # advances the generator, as any other use would
    raise TypeError(
        f"random_state must be None, an int, a numpy Generator or RandomState, got {random_state!r}"
    )


class NoiseSource:
    """Exact discrete noise for differential privacy, from a ChaCha20 keystream.

    The samplers are those of Canonne, Kamath & Steinke (2020, Algorithms 1-3): every draw is
    made in integer arithmetic from the keystream's bits, so its distribution is exactly the
    stated one and no floating-point rounding reveals anything about the data. The object
    keeps its position in the stream: successive calls give fresh noise.

    Parameters
    ----------
    random_state : None, int, numpy Generator or RandomState, default None
        None (the private default) draws a 256-bit key from the operating system's
        cryptographic generator (``secrets``). Anything else derives the key
        deterministically, for reproducible tests only: such noise is **not private**, since
        whoever knows the seed can subtract it. A Generator or RandomState is advanced by
        the 32 bytes it gives.

    Attributes
    ----------
    private : bool
        True when the key came from ``secrets`` (random_state=None).

    Notes
    -----
    Scales are converted to rationals rounded *up* (more noise is always safe): the discrete
    Laplace scale to a multiple of 2^-k with a numerator at most 2^62 (k <= 62), sigma^2 of the
    discrete Gaussian to a multiple of 2^-48 or of 2^-k with a numerator at most 2^52. The largest scales
    are 2^50 (Laplace) and 2^26 (discrete Gaussian sigma), so that every draw is exact in
    64- and 128-bit integers. A NoiseSource cannot be pickled or copied (its key must not leak),
    and refuses to draw in a process forked after its creation (the copy would repeat its noise).

    Examples
    --------
    >>> from scalegen.privacy import NoiseSource
    >>> noise = NoiseSource(random_state=0)  # reproducible, for tests only: not private
    >>> x = noise.discrete_laplace(2.5, size=5)
    >>> x.dtype, x.shape
    (dtype('int64'), (5,))
    >>> bool((NoiseSource(0).discrete_laplace(2.5, size=5) == x).all())  # same seed, same draws
    True
    >>> NoiseSource().private
    True
    """

    def __init__(self, random_state: Any = None) -> None:
        self._keystream = _core.PrivacyNoiseStream(_key(random_state))
        self._pid = os.getpid()
        self.private = random_state is None

    @property
    def _stream(self) -> Any:
        # a forked copy would repeat the parent's noise: correlated noise across releases leaks
        if os.getpid() != self._pid:
            raise RuntimeError(
                "this NoiseSource was copied into another process (fork): its draws would repeat the "
                "parent's; create a NoiseSource in each process"
            )
        return self._keystream

    def __repr__(self) -> str:
        kind = "private" if self.private else "seeded, not private"
        return f"NoiseSource({kind}, {self._keystream.words_used} words drawn)"

    def __reduce__(self) -> Any:
        raise TypeError("a NoiseSource cannot be pickled or copied: its key must stay secret")

    # -- exact draws from rationals (the mechanisms call these) --------------------------------
    def _laplace_exact(self, scale: Fraction, n: int) -> np.ndarray:
        num, den = _dyadic_up(scale, 62, 62)
        return np.asarray(self._stream.discrete_laplace(num, den, n))

    def _gaussian_exact(self, sigma2: Fraction, n: int) -> np.ndarray:
        num, den = _dyadic_up(sigma2, 52, 48)
        return np.asarray(self._stream.discrete_gaussian(num, den, n))

    def discrete_laplace(self, scale: float, size: Any = None) -> Any:
        """Draws of the discrete Laplace distribution, P(x) proportional to ``exp(-|x| / scale)``.

        Parameters
        ----------
        scale : float
            Positive and at most 2^50; rounded up to a dyadic rational (see the class notes).
        size : None, int or tuple of ints, default None
            The output shape; None gives one Python int.

        Returns
        -------
        numpy.ndarray of int64, or int
            Variance 2 e^{-1/scale} / (1 - e^{-1/scale})^2.

        Examples
        --------
        >>> from scalegen.privacy import NoiseSource
        >>> x = NoiseSource(1).discrete_laplace(0.7, size=(2, 3))
        >>> x.shape, x.dtype
        ((2, 3), dtype('int64'))
        >>> type(NoiseSource(1).discrete_laplace(1e-9))  # a tiny scale: almost surely 0
        <class 'int'>
        """
        owner = "NoiseSource.discrete_laplace"
        exact = _positive(scale, "scale", owner, MAX_LAPLACE_SCALE)
        n, shape = _shape(size, owner)
        x = self._laplace_exact(exact, n)
        return int(x[0]) if shape is None else x.reshape(shape)

    def discrete_gaussian(self, sigma: float, size: Any = None) -> Any:
        """Draws of the discrete Gaussian on the integers, P(x) proportional to exp(-x²/(2σ²)).

        Parameters
        ----------
        sigma : float
            Positive and at most 2^26; sigma² is rounded up to a dyadic rational.
        size : None, int or tuple of ints, default None
            The output shape; None gives one Python int.

        Returns
        -------
        numpy.ndarray of int64, or int
            Mean 0 and variance at most sigma² (Canonne, Kamath & Steinke 2020, Corollary 9).

        Examples
        --------
        >>> import numpy as np
        >>> from scalegen.privacy import NoiseSource
        >>> x = NoiseSource(2).discrete_gaussian(3.3, size=20000)
        >>> bool(abs(x.mean()) < 0.15), bool(abs(x.var() / 3.3**2 - 1) < 0.05)
        (True, True)
        """
        owner = "NoiseSource.discrete_gaussian"
        exact = _positive(sigma, "sigma", owner, MAX_GAUSSIAN_SIGMA)
        n, shape = _shape(size, owner)
        x = self._gaussian_exact(exact * exact, n)
        return int(x[0]) if shape is None else x.reshape(shape)

    def gaussian(self, sigma: float, size: Any = None) -> Any:
        """Gaussian noise for real statistics, discretised: g times a discrete Gaussian draw.

        The grid g is the power of two with sigma/g in [2^10, 2^11); each value is g·Z with
        Z discrete Gaussian of scale sigma/g, drawn exactly, so its bits depend on the key
        alone (no floating-point sampling whose rounding could leak, Mironov 2012). For a
        private release of real values use ``gaussian_mechanism``, which also rounds the
        values to the grid and accounts for it.

        Parameters
        ----------
        sigma : float
            Positive, between 1e-300 and 1e300.
        size : None, int or tuple of ints, default None
            The output shape; None gives one float.

        Returns
        -------
        numpy.ndarray of float64, or float
            Mean 0, variance at most sigma², multiples of g.

        Examples
        --------
        >>> from scalegen.privacy import NoiseSource
        >>> x = NoiseSource(3).gaussian(0.25, size=20000)
        >>> x.dtype, bool(abs(x.std() / 0.25 - 1) < 0.03)
        (dtype('float64'), True)
        """
        owner = "NoiseSource.gaussian"
        exact = _positive(sigma, "sigma", owner, 1e300)
        if exact < Fraction(1e-300):
            raise InvalidParameterError(f"{owner}: sigma={sigma!r} is below the smallest accepted, 1e-300")
        n, shape = _shape(size, owner)
        exponent = math.frexp(float(sigma))[1] - 1 - _GRID_STEPS  # g = 2^exponent <= sigma / 2^10
        z = self._gaussian_exact(exact * exact / Fraction(2) ** (2 * exponent), n)
        x = np.ldexp(z.astype(np.float64), exponent)
        return float(x[0]) if shape is None else x.reshape(shape)

    def permute_and_flip(self, scores: Any, epsilon: float, sensitivity: float) -> int:
        """Choose an index by permute-and-flip (McKenna & Sheldon 2020): epsilon-DP selection.

        Candidates are visited in a uniformly random order and candidate i is accepted with
        probability exp(-epsilon (max(scores) - scores[i]) / (2 sensitivity)); the first
        accepted is returned (the best always is). Never worse than the exponential mechanism
        in expected score, and epsilon-DP when each score changes by at most `sensitivity`
        between neighbouring datasets.

        Parameters
        ----------
        scores : array-like of float, 1-D
            Finite scores, higher is better.
        epsilon : float
            Positive and finite.
        sensitivity : float
            Positive and finite: the largest change of any one score between neighbours.

        Returns
        -------
        int
            The chosen index.

        Notes
        -----
        To keep every acceptance probability an exact rational, the scores are quantised to
        units u = 2^(floor(log2 sensitivity) - 20), S_i = floor(scores[i]/u) (exact: a power
        of two scaling) clipped to [-2^62, 2^62]; the sensitivity becomes the integer
        ceil(sensitivity/u) + 1 (floor moves a difference of at most sensitivity/u by under
        one unit, and clipping is 1-Lipschitz, so the S_i have that sensitivity); epsilon is
        rounded down to a dyadic rational (at most 2^62). The mechanism run on the S_i is
        therefore epsilon'-DP for the rounded-down epsilon' <= epsilon, hence epsilon-DP; the
        rounding costs at most a factor 1 - 2^-19 of the scores' resolution.

        Examples
        --------
        >>> from scalegen.privacy import NoiseSource
        >>> noise = NoiseSource(4)
        >>> noise.permute_and_flip([1.0, 9.0, 3.0], epsilon=1e6, sensitivity=1.0)
        1
        >>> 0 <= noise.permute_and_flip([1.0, 9.0, 3.0], epsilon=0.1, sensitivity=1.0) < 3
        True
        """
        owner = "NoiseSource.permute_and_flip"
        s = np.asarray(scores)
        if s.dtype.kind not in "iuf" or s.ndim != 1:
            raise TypeError(
                f"{owner}: scores must be a 1-D array of real numbers, got {s.dtype} of shape {s.shape}"
            )
        if s.size == 0:
            raise ValueError(f"{owner}: there must be at least one candidate score")
        s = s.astype(np.float64)
        if not np.isfinite(s).all():
            raise ValueError(f"{owner}: the scores must be finite")
        eps = _positive(epsilon, "epsilon", owner)
        sens = _positive(sensitivity, "sensitivity", owner)
        unit_exp = math.frexp(float(sensitivity))[1] - 1 - _SCORE_BITS  # u = 2^unit_exp
        with np.errstate(over="ignore"):  # beyond the floats: +-inf, clipped below
            scaled = np.ldexp(s, -unit_exp)
        quantised = np.floor(np.clip(scaled, -(2.0**62), 2.0**62)).astype(np.int64)
        int_sens = math.ceil(sens / Fraction(2) ** unit_exp) + 1
        eps_exp = math.frexp(float(eps))[1]  # eps < 2^eps_exp
        k = min(max(62 - eps_exp, 0), 62)
        eps_num, eps_den = min(math.floor(eps * 2**k), 2**62), 2**k
        if eps_num == 0:  # epsilon below 2^-62 rounds down to 0: a uniform choice (0-DP)
            quantised[:] = 0
            eps_num = 1
        return int(self._stream.permute_and_flip(quantised, eps_num, eps_den, int_sens))


def fit_noise(random_state: Any, owner: str, stacklevel: int) -> NoiseSource:
    """The noise of a private fit: private for random_state=None; else seeded, reproducible
    and NOT private, which a warning says (tests only)."""
    if random_state is None:
        return NoiseSource()
    warnings.warn(
        f"random_state={random_state!r} seeds the noise of this private {owner}: it is reproducible and "
        "NOT differentially private (use random_state=None for a private fit)",
        UserWarning,
        stacklevel=stacklevel + 1,
    )
    return NoiseSource(random_state)


def _source(noise: Any, owner: str) -> NoiseSource:
    if noise is None:
        return NoiseSource()
    if not isinstance(noise, NoiseSource):
        raise TypeError(f"{owner}: noise must be None or a NoiseSource, got {type(noise).__name__}")
    return noise


def _integer_counts(counts: Any, owner: str) -> np.ndarray:
    """counts as int64 (integers, or floats holding integers), each of magnitude <= 2^62."""
    c = np.asarray(counts)
    if c.dtype.kind == "f":
        if not np.isfinite(c).all() or (np.abs(c) > 2.0**53).any() or (c != np.floor(c)).any():
            raise ValueError(f"{owner}: counts must be integers (floats holding whole numbers below 2^53)")
        c = c.astype(np.int64)
    elif c.dtype.kind == "u" and c.size and c.max() > _MAX_COUNT:
        raise ValueError(f"{owner}: counts must be at most 2^62 in magnitude")
    elif c.dtype.kind not in "iub":
        raise TypeError(f"{owner}: counts must be an array of integers, got dtype {c.dtype}")
    c = c.astype(np.int64)
    if c.size and (c.max() > _MAX_COUNT or c.min() < -_MAX_COUNT):
        raise ValueError(f"{owner}: counts must be at most 2^62 in magnitude")
    return c


def _add_noise(counts: np.ndarray, z: np.ndarray) -> np.ndarray:
    if z.size and np.abs(z).max() > _MAX_COUNT:  # probability below e^-4000 at the largest scale
        raise OverflowError("a noise draw beyond 2^62")
    return counts + z.reshape(counts.shape)


def discrete_laplace_moments(scale: float) -> tuple[float, float]:
    """The variance and fourth moment of the discrete Laplace law P(k) ~ exp(-|k| / scale)."""
    a = -math.expm1(-1.0 / scale)  # 1 - q, q = exp(-1/scale), without cancellation
    q = 1.0 - a
    return 2 * q / a**2, 2 * q * (1 + 10 * q + q * q) / a**4


def laplace_counts(
    counts: Any, epsilon: float, sensitivity: float = 1, noise: NoiseSource | None = None
) -> Any:
    """Integer counts plus discrete Laplace noise of scale sensitivity/epsilon: epsilon-DP.

    The discrete Laplace mechanism (Canonne, Kamath & Steinke 2020): for counts whose L1
    sensitivity (the total change of all counts when one record is added or removed) is
    `sensitivity`, the release is epsilon-differentially private (pure DP). A histogram's
    counts have L1 sensitivity 1 under add/remove-one-row.

    Parameters
    ----------
    counts : array-like of int
        Any shape; floats must hold whole numbers. Magnitudes up to 2^62.
    epsilon : float
        Positive and finite.
    sensitivity : float, default 1
        Positive and finite: the L1 sensitivity of the counts.
    noise : NoiseSource, optional
        None draws from a fresh private ``NoiseSource()``; pass a seeded one in tests only.

    Returns
    -------
    numpy.ndarray of int64
        The noisy counts (possibly negative: post-process, e.g. clip, as needed).

    Notes
    -----
    The scale sensitivity/epsilon is computed exactly in rationals and rounded up (more
    noise), so the guarantee holds for the epsilon given. It must be at most 2^50.

    Examples
    --------
    >>> from scalegen.privacy import NoiseSource, laplace_counts
    >>> laplace_counts([10, 0, 7], epsilon=1e9)  # a huge epsilon: noise 0 (almost surely)
    array([10,  0,  7])
    >>> laplace_counts([10, 0, 7], epsilon=0.5, noise=NoiseSource(0)).dtype
    dtype('int64')
    """
    owner = "laplace_counts"
    c = _integer_counts(counts, owner)
    eps = _positive(epsilon, "epsilon", owner)
    sens = _positive(sensitivity, "sensitivity", owner)
    scale = sens / eps
    if scale > MAX_LAPLACE_SCALE:
        raise InvalidParameterError(
            f"{owner}: the noise scale sensitivity/epsilon = {float(scale):.6g} is above the largest, 2^50"
        )
    source = _source(noise, owner)
    return _add_noise(c, source._laplace_exact(scale, c.size))


def gaussian_counts(
    counts: Any, rho: float, sensitivity: float = 1.0, noise: NoiseSource | None = None
) -> Any:
    """Integer counts plus discrete Gaussian noise with sigma² = sensitivity²/(2 rho): rho-zCDP.

    The discrete Gaussian mechanism (Canonne, Kamath & Steinke 2020, Theorem 14): for counts
    whose L2 sensitivity is `sensitivity`, the release satisfies rho-zero-concentrated DP;
    ``PrivacyAccountant`` turns rho into (epsilon, delta).

    Parameters
    ----------
    counts : array-like of int
        Any shape; floats must hold whole numbers. Magnitudes up to 2^62.
    rho : float
        Positive and finite.
    sensitivity : float, default 1.0
        Positive and finite: the L2 sensitivity of the counts (1 for a histogram under
        add/remove-one-row; sqrt(k) for k histograms of the same rows).
    noise : NoiseSource, optional
        None draws from a fresh private ``NoiseSource()``; pass a seeded one in tests only.

    Returns
    -------
    numpy.ndarray of int64
        The noisy counts.

    Notes
    -----
    sigma² is computed exactly in rationals and rounded up; sigma must be at most 2^26.

    Examples
    --------
    >>> from scalegen.privacy import NoiseSource, gaussian_counts
    >>> gaussian_counts([[4, 2], [0, 9]], rho=1e12)  # huge rho: noise 0 (almost surely)
    array([[4, 2],
           [0, 9]])
    >>> gaussian_counts([4, 2], rho=0.1, noise=NoiseSource(0)).shape
    (2,)
    """
    owner = "gaussian_counts"
    c = _integer_counts(counts, owner)
    r = _positive(rho, "rho", owner)
    sens = _positive(sensitivity, "sensitivity", owner)
    sigma2 = sens * sens / (2 * r)
    if sigma2 > MAX_GAUSSIAN_SIGMA**2:
        raise InvalidParameterError(
            f"{owner}: sigma = sensitivity/sqrt(2 rho) = {math.sqrt(sigma2):.6g} is above the largest, 2^26"
        )
    source = _source(noise, owner)
    return _add_noise(c, source._gaussian_exact(sigma2, c.size))


def _grid_exponent(sens: Fraction, rho: Fraction, n: int) -> tuple[int, Fraction]:
    """The grid g = 2^e and the exact variance (in grid units) of the Gaussian mechanism."""
    sqrt_n = Fraction(math.isqrt(n << 40) + 1, 1 << 20)  # an upper bound of sqrt(n), exact
    sigma0 = float(sens) / math.sqrt(2 * float(rho))
    target = min(float(sens) / (2**_GRID_STEPS * math.sqrt(n)), sigma0 / 2**_GRID_STEPS)
    e = math.frexp(target)[1] - 1  # 2^e <= target
    for _ in range(64):
        # rounding to the grid moves each value by <= g/2: the L2 sensitivity grows by g sqrt(n)
        sigma2 = (sens + Fraction(2) ** e * sqrt_n) ** 2 / (2 * rho) / Fraction(4) ** e
        if sigma2 <= MAX_GAUSSIAN_SIGMA**2:
            return e, sigma2
        e += 1  # a coarser grid: fewer grid units of noise
    raise InvalidParameterError(
        f"gaussian_mechanism: sqrt(n / (2 rho)) = {math.sqrt(n / (2 * float(rho))):.6g} grid units of noise "
        "at the least; above the largest, 2^26 (use fewer values or a larger rho)"
    )


def gaussian_mechanism(values: Any, rho: float, sensitivity: float, noise: NoiseSource | None = None) -> Any:
    """Real statistics plus discretised Gaussian noise: rho-zCDP for the given L2 sensitivity.

    To avoid floating-point attacks on Gaussian noise (Mironov 2012), the values are rounded
    to a grid g (a power of two), x -> round(x/g), then an exact discrete Gaussian Z is added
    in grid units and g·(round(x/g) + Z) is released: a deterministic function of an integer
    vector, so nothing but that integer reaches the output. Rounding moves each value by at
    most g/2, which raises the L2 sensitivity to at most ``sensitivity + g·sqrt(n)`` for n
    values; the noise is calibrated to that: sigma = (sensitivity + g·sqrt(n)) / sqrt(2 rho).
    g is chosen below sensitivity / (2^10 sqrt(n)) and sigma / 2^10, so the extra noise is
    below 0.1% (unless sigma/g would exceed 2^26, when the grid is coarsened).

    Parameters
    ----------
    values : array-like of float
        Finite values, any shape (for example sums of clipped rows).
    rho : float
        Positive and finite.
    sensitivity : float
        Positive and finite: the L2 norm of the largest change of `values` between
        neighbouring datasets.
    noise : NoiseSource, optional
        None draws from a fresh private ``NoiseSource()``; pass a seeded one in tests only.

    Returns
    -------
    numpy.ndarray of float64
        The noisy values, same shape: g (round(x / g) + Z), rounded once to float64.

    Examples
    --------
    >>> import numpy as np
    >>> from scalegen.privacy import NoiseSource, gaussian_mechanism
    >>> x = np.array([0.5, 2.25, -1.0])
    >>> np.round(gaussian_mechanism(x, rho=1e15, sensitivity=1.0), 6)  # huge rho: noise ~2e-8
    array([ 0.5 ,  2.25, -1.  ])
    >>> y = gaussian_mechanism(np.zeros(20000), rho=0.5, sensitivity=1.0, noise=NoiseSource(0))
    >>> bool(abs(y.std() - 1.0) < 0.03)  # sigma = 1/sqrt(2 * 0.5) = 1 (plus < 0.1%)
    True
    """
    owner = "gaussian_mechanism"
    x = np.asarray(values)
    if x.dtype.kind not in "iuf":
        raise TypeError(f"{owner}: values must be real numbers, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"{owner}: values must be finite")
    r = _positive(rho, "rho", owner)
    sens = _positive(sensitivity, "sensitivity", owner)
    check_tensor(x.shape, 8, f"{owner}: the noise")
    source = _source(noise, owner)
    if x.size == 0:
        return x
    e, sigma2 = _grid_exponent(sens, r, x.size)
    with np.errstate(over="ignore"):
        k = np.rint(np.ldexp(x, -e))  # exact: a power-of-two scaling, then an integer-valued float
    if not np.isfinite(k).all():
        raise ValueError(f"{owner}: a value is too large for the noise's grid (2^{e}): rescale the values")
    z = source._gaussian_exact(sigma2, x.size).reshape(x.shape)
    # k + z rounded once to a float: a function of the exact integer k + z (post-processing)
    return np.ldexp(k + z.astype(np.float64), e)
