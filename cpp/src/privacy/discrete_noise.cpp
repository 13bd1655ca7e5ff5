// Exact samplers of Canonne, Kamath & Steinke 2020 over a ChaCha20 stream, in integers only.
#include "scalegen/privacy/discrete_noise.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "scalegen/common/limits.hpp"

namespace scalegen::privacy {
namespace {

constexpr std::uint64_t kInt64Max = std::uint64_t(std::numeric_limits<std::int64_t>::max());
// A discrete Gaussian draw takes its Laplace candidate Y from Lap_Z(t); the parameters are
// checked so that every |Y| <= kTailFactor * t is computed exactly. P(|Y| > 2^11 t) < e^-2047,
// so the overflow_error raised beyond it is unreachable in practice (and never a wrong sample).
constexpr std::uint64_t kTailFactor = std::uint64_t(1) << 11;

std::string ratio(std::uint64_t num, std::uint64_t den) {
  return std::to_string(num) + "/" + std::to_string(den);
}

// The precomputed integers of one discrete Gaussian: sigma^2 = n/d, t = floor(sigma) + 1.
struct GaussianParams {
  std::uint64_t n, d, t;
  u128 dt;           // d * t
  u128 denominator;  // 2 n d t^2: the acceptance exponent is (|Y| d t - n)^2 / (2 n d t^2)
};

// floor(sqrt(num/den)) exactly: the largest r with r^2 den <= num; num/den <= 2^52, so r <= 2^26
std::uint64_t floor_sqrt_ratio(std::uint64_t num, std::uint64_t den) {
  auto fits = [&](std::uint64_t r) { return u128(r) * r * den <= num; };
  std::uint64_t r = std::uint64_t(std::sqrt(double(num) / double(den)));
  while (r > 0 && !fits(r)) --r;
  while (fits(r + 1)) ++r;
  return r;
}

GaussianParams gaussian_params(std::uint64_t num, std::uint64_t den) {
  check_gaussian_variance(num, den);
  GaussianParams p{num, den, floor_sqrt_ratio(num, den) + 1, 0, 0};
  p.dt = u128(den) * p.t;
  p.denominator = 2 * u128(num) * p.dt * p.t;  // < 2^118 given the check's bounds
  return p;
}

inline bool bernoulli_ratio(ChaCha20Stream& rng, u128 num, u128 den) {
  return uniform_below(rng, den) < num;
}

// Bernoulli(exp(-num/den)) for num <= den: K counts successes of Bernoulli(gamma/K), drawn as
// Bernoulli(num/den) and Bernoulli(1/K) together (no product num*K needed); odd K wins.
bool bernoulli_exp_at_most_one(ChaCha20Stream& rng, u128 num, u128 den) {
  std::uint64_t k = 1;
  while (bernoulli_ratio(rng, num, den) && uniform_below(rng, k) == 0) ++k;
  return k % 2 == 1;
}

}  // namespace

std::uint64_t uniform_below(ChaCha20Stream& rng, std::uint64_t bound) {
  if (bound == 0) throw std::invalid_argument("uniform_below: the bound must be at least 1");
  if (bound == 1) return 0;
  const std::uint64_t mask = ~std::uint64_t(0) >> __builtin_clzll(bound - 1);
  for (;;) {
    const std::uint64_t x = (bound <= (std::uint64_t(1) << 32) ? rng.next_u32() : rng.next_u64()) & mask;
    if (x < bound) return x;
  }
}

u128 uniform_below(ChaCha20Stream& rng, u128 bound) {
  if ((bound >> 64) == 0) return uniform_below(rng, std::uint64_t(bound));
  const std::uint64_t high = std::uint64_t((bound - 1) >> 64);  // >= 1 here
  const std::uint64_t mask = ~std::uint64_t(0) >> __builtin_clzll(high);
  for (;;) {
    const std::uint64_t lo = rng.next_u64();
    const u128 x = u128(rng.next_u64() & mask) << 64 | lo;
    if (x < bound) return x;
  }
}

bool bernoulli_exp(ChaCha20Stream& rng, u128 num, u128 den) {
  if (den == 0) throw std::invalid_argument("bernoulli_exp: the denominator must be at least 1");
  if (num <= den) return bernoulli_exp_at_most_one(rng, num, den);
  // exp(-gamma) = exp(-1)^floor(gamma) * exp(-frac(gamma)); stops at the first failure
  const u128 whole = num / den;
  for (u128 i = 0; i < whole; ++i)
    if (!bernoulli_exp_at_most_one(rng, 1, 1)) return false;
  return bernoulli_exp_at_most_one(rng, num % den, den);
}

void check_laplace_scale(std::uint64_t num, std::uint64_t den) {
  if (num == 0 || den == 0)
    throw std::invalid_argument("discrete Laplace: the scale " + ratio(num, den) + " must be positive");
  if (u128(num) > u128(den) * kMaxLaplaceScale)
    throw std::invalid_argument("discrete Laplace: the scale " + ratio(num, den) + " is above the largest, 2^50");
}

void check_gaussian_variance(std::uint64_t num, std::uint64_t den) {
  if (num == 0 || den == 0)
    throw std::invalid_argument("discrete Gaussian: sigma^2 = " + ratio(num, den) + " must be positive");
  if (u128(num) > u128(den) * kMaxGaussianVariance)
    throw std::invalid_argument("discrete Gaussian: sigma^2 = " + ratio(num, den) +
                                " is above the largest, 2^52 (sigma 2^26)");
  // every candidate |Y| <= 2^11 t must give |Y| d t - n exactly in 64 bits: 2^11 t^2 d + n < 2^64
  const std::uint64_t t = floor_sqrt_ratio(num, den) + 1;
  const u128 bound = u128(kTailFactor) * t * t;  // <= 2^64 + 2^39: times den < 2^128 once <= 2^64
  if (bound > (u128(1) << 64) || bound * den + num >= (u128(1) << 64))
    throw std::invalid_argument("discrete Gaussian: the denominator of sigma^2 = " + ratio(num, den) +
                                " is too large for exact 128-bit arithmetic; use a smaller one");
}

std::int64_t discrete_laplace(ChaCha20Stream& rng, std::uint64_t num, std::uint64_t den) {
  check_laplace_scale(num, den);
  for (;;) {
    const std::uint64_t u = uniform_below(rng, num);
    if (!bernoulli_exp(rng, u, num)) continue;
    std::uint64_t v = 0;  // Geometric(1 - e^-1); at most 2^64 steps, never reached
    while (bernoulli_exp_at_most_one(rng, 1, 1)) ++v;
    const u128 y = (u + u128(num) * v) / den;  // num * v < 2^128: v < 2^64
    if (y > kInt64Max) throw std::overflow_error("discrete Laplace: a draw beyond int64 (probability < e^-8000)");
    const bool negative = rng.next_u32() & 1;
    if (negative && y == 0) continue;  // zero must not be counted twice
    return negative ? -std::int64_t(y) : std::int64_t(y);
  }
}

namespace {

std::int64_t discrete_gaussian(ChaCha20Stream& rng, const GaussianParams& p) {
  const std::uint64_t max_abs = kTailFactor * p.t;
  for (;;) {
    const std::int64_t y = discrete_laplace(rng, p.t, 1);
    const std::uint64_t m = y < 0 ? std::uint64_t(-(y + 1)) + 1 : std::uint64_t(y);
    if (m > max_abs) throw std::overflow_error("discrete Gaussian: a candidate beyond 2^11 t (probability < e^-2047)");
    // (|Y| - sigma^2/t)^2 / (2 sigma^2) = (m d t - n)^2 / (2 n d t^2), |m d t - n| < 2^64
    const u128 mdt = p.dt * m;
    const u128 diff = mdt >= p.n ? mdt - p.n : p.n - mdt;
    if (bernoulli_exp(rng, diff * diff, p.denominator)) return y;
  }
}

}  // namespace

std::int64_t discrete_gaussian(ChaCha20Stream& rng, std::uint64_t num, std::uint64_t den) {
  return discrete_gaussian(rng, gaussian_params(num, den));
}

std::vector<std::int64_t> discrete_laplace_n(ChaCha20Stream& rng, std::uint64_t num, std::uint64_t den,
                                             std::int64_t n) {
  check_laplace_scale(num, den);
  check_tensor_bytes(n, sizeof(std::int64_t), "discrete Laplace noise");
  std::vector<std::int64_t> out(static_cast<std::size_t>(n));
  for (auto& x : out) x = discrete_laplace(rng, num, den);
  return out;
}

std::vector<std::int64_t> discrete_gaussian_n(ChaCha20Stream& rng, std::uint64_t num, std::uint64_t den,
                                              std::int64_t n) {
  const GaussianParams p = gaussian_params(num, den);
  check_tensor_bytes(n, sizeof(std::int64_t), "discrete Gaussian noise");
  std::vector<std::int64_t> out(static_cast<std::size_t>(n));
  for (auto& x : out) x = discrete_gaussian(rng, p);
  return out;
}

std::int64_t permute_and_flip(ChaCha20Stream& rng, const std::int64_t* scores, std::int64_t n, std::uint64_t eps_num,
                              std::uint64_t eps_den, std::uint64_t sensitivity) {
  constexpr std::int64_t kMaxScore = std::int64_t(1) << 62;
  if (n < 1) throw std::invalid_argument("permute_and_flip: there must be at least one candidate");
  if (eps_num == 0 || eps_den == 0 || eps_num > kInt64Max || eps_den > kInt64Max)
    throw std::invalid_argument("permute_and_flip: epsilon " + ratio(eps_num, eps_den) +
                                " must be positive with both parts below 2^63");
  if (sensitivity == 0 || sensitivity > kInt64Max)
    throw std::invalid_argument("permute_and_flip: the sensitivity must be in [1, 2^63)");
  std::int64_t best = -kMaxScore;
  for (std::int64_t i = 0; i < n; ++i) {
    if (scores[i] < -kMaxScore || scores[i] > kMaxScore)
      throw std::invalid_argument("permute_and_flip: the scores must lie in [-2^62, 2^62]");
    if (scores[i] > best) best = scores[i];
  }
  check_tensor_bytes(n, sizeof(std::int64_t), "permute_and_flip's candidate order");
  std::vector<std::int64_t> order(std::size_t(n), 0);
  for (std::int64_t i = 0; i < n; ++i) order[std::size_t(i)] = i;
  // gamma_i = eps_num (best - s_i) / (2 eps_den sensitivity): < 2^126 over < 2^127
  const u128 denominator = 2 * u128(eps_den) * sensitivity;
  for (std::int64_t k = 0; k < n; ++k) {  // a Fisher-Yates shuffle, drawn one position at a time
    const std::int64_t j = k + std::int64_t(uniform_below(rng, std::uint64_t(n - k)));
    std::swap(order[std::size_t(k)], order[std::size_t(j)]);
    const std::int64_t i = order[std::size_t(k)];
    if (bernoulli_exp(rng, u128(eps_num) * std::uint64_t(best - scores[i]), denominator)) return i;
  }
  throw std::logic_error("permute_and_flip: the best candidate was not accepted");  // gamma = 0 always is
}

}  // namespace scalegen::privacy
