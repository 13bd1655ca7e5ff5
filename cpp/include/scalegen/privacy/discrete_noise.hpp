#pragma once
/// Exact discrete noise for differential privacy: a ChaCha20 keystream (RFC 8439 block
/// function) as the only source of random bits, and the samplers of Canonne, Kamath & Steinke
/// 2020 ("The Discrete Gaussian for Differential Privacy", Algorithms 1-3) in integer
/// arithmetic. Every parameter is a rational num/den of 64-bit integers; no floating-point
/// value ever decides a sample (Mironov 2012's attack needs one). Parameters whose arithmetic
/// could overflow are refused with std::invalid_argument before any bit is drawn.

#include <array>
#include <cstdint>
#include <vector>

namespace scalegen::privacy {

__extension__ typedef unsigned __int128 u128;

/// The ChaCha20 block function of RFC 8439 section 2.3: 20 rounds over the 16 input words,
/// then the input added word by word.
void chacha20_block(const std::uint32_t in[16], std::uint32_t out[16]);

/// A ChaCha20 keystream read as 32-bit little-endian words. The 256-bit key fills words 4-11,
/// a 64-bit block counter words 12-13 and a 64-bit stream number words 14-15 (the original
/// 64/64 layout: 2^64 blocks per key, never wrapped). Deterministic given key and stream.
class ChaCha20Stream {
 public:
  explicit ChaCha20Stream(const std::array<std::uint8_t, 32>& key, std::uint64_t stream = 0);

  std::uint32_t next_u32();
  std::uint64_t next_u64();  ///< two words, the first in the low half
  /// Words consumed so far (a position in the stream; 16 per block).
  std::uint64_t words_used() const { return counter_ * 16 - (16 - std::uint64_t(pos_)); }

 private:
  void refill();
  std::array<std::uint32_t, 16> input_{};
  std::array<std::uint32_t, 16> block_{};
  std::uint64_t counter_ = 0;  ///< blocks generated so far
  int pos_ = 16;               ///< next unread word of block_
};

/// Largest discrete Laplace scale num/den accepted (so that samples stay far inside int64).
inline constexpr std::uint64_t kMaxLaplaceScale = std::uint64_t(1) << 50;
/// Largest discrete Gaussian variance num/den accepted: sigma up to 2^26.
inline constexpr std::uint64_t kMaxGaussianVariance = std::uint64_t(1) << 52;

/// A uniform integer in [0, bound) by rejection on masked keystream words (no modulo bias).
/// bound >= 1, else std::invalid_argument.
std::uint64_t uniform_below(ChaCha20Stream& rng, std::uint64_t bound);
u128 uniform_below(ChaCha20Stream& rng, u128 bound);

/// Bernoulli(exp(-num/den)) exactly (CKS Algorithm 1); num >= 0, den >= 1.
bool bernoulli_exp(ChaCha20Stream& rng, u128 num, u128 den);

/// Checks of the parameters, std::invalid_argument naming what is wrong.
void check_laplace_scale(std::uint64_t num, std::uint64_t den);
void check_gaussian_variance(std::uint64_t num, std::uint64_t den);

/// One draw of the discrete Laplace with P(x) proportional to exp(-|x| den/num) (CKS Algorithm 2).
std::int64_t discrete_laplace(ChaCha20Stream& rng, std::uint64_t num, std::uint64_t den);
/// One draw of the discrete Gaussian with P(x) proportional to exp(-x^2 den/(2 num)), that is
/// variance parameter sigma^2 = num/den (CKS Algorithm 3).
std::int64_t discrete_gaussian(ChaCha20Stream& rng, std::uint64_t num, std::uint64_t den);

/// n draws; n checked against the tensor limit before allocating.
std::vector<std::int64_t> discrete_laplace_n(ChaCha20Stream& rng, std::uint64_t num, std::uint64_t den, std::int64_t n);
std::vector<std::int64_t> discrete_gaussian_n(ChaCha20Stream& rng, std::uint64_t num, std::uint64_t den,
                                              std::int64_t n);

/// Permute-and-flip (McKenna & Sheldon 2020) over integer scores: candidates are visited in a
/// uniformly random order and candidate i is accepted with probability
/// exp(-eps_num (max - s_i) / (2 eps_den sensitivity)); the first accepted index is returned.
/// Scores must lie in [-2^62, 2^62], eps_num, eps_den < 2^63, 1 <= sensitivity < 2^63, n >= 1.
std::int64_t permute_and_flip(ChaCha20Stream& rng, const std::int64_t* scores, std::int64_t n, std::uint64_t eps_num,
                              std::uint64_t eps_den, std::uint64_t sensitivity);

}  // namespace scalegen::privacy
