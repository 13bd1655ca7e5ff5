// The ChaCha20 stream against RFC 8439's vectors, and the exact samplers' frequencies against
// their laws (fixed keys, so every run draws the same bits).
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "scalegen/privacy/discrete_noise.hpp"

using namespace scalegen::privacy;

namespace {

std::array<std::uint8_t, 32> key_of(std::uint8_t first) {
  std::array<std::uint8_t, 32> key{};
  for (int i = 0; i < 32; ++i) key[i] = std::uint8_t(first + i);
  return key;
}

// A frequency within z standard errors of p.
void check_frequency(double hits, double n, double p, double z = 5.0) {
  const double se = std::sqrt(std::max(p * (1 - p), 1e-12) / n);
  if (!(std::fabs(hits / n - p) <= z * se))
    std::fprintf(stderr, "frequency %.6f, expected %.6f (se %.2g)\n", hits / n, p, se);
  CHECK(std::fabs(hits / n - p) <= z * se);
}

void check_rfc_block() {
  // RFC 8439 section 2.3.2: key 00..1f, counter 1, nonce 00:00:00:09:00:00:00:4a:00:00:00:00
  const std::uint32_t in[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574, 0x03020100, 0x07060504,
                                0x0b0a0908, 0x0f0e0d0c, 0x13121110, 0x17161514, 0x1b1a1918, 0x1f1e1d1c,
                                0x00000001, 0x09000000, 0x4a000000, 0x00000000};
  const std::uint32_t expected[16] = {0xe4e7f110, 0x15593bd1, 0x1fdd0f50, 0xc47120a3, 0xc7f4d1c7, 0x0368c033,
                                      0x9aaa2204, 0x4e6cd4c3, 0x466482d2, 0x09aa9f07, 0x05d7c214, 0xa2028bd9,
                                      0xd19c12b5, 0xb94e16de, 0xe883d0cb, 0x4e3c50a2};
  std::uint32_t out[16];
  chacha20_block(in, out);
  for (int i = 0; i < 16; ++i) CHECK(out[i] == expected[i]);
}

void check_stream() {
  // RFC 8439 appendix A.1, vectors 1 and 2: the zero key's blocks 0 and 1 (zero nonce)
  ChaCha20Stream zero(std::array<std::uint8_t, 32>{});
  const std::uint32_t block0[16] = {0xade0b876, 0x903df1a0, 0xe56a5d40, 0x28bd8653, 0xb819d2bd, 0x1aed8da0,
                                    0xccef36a8, 0xc70d778b, 0x7c5941da, 0x8d485751, 0x3fe02477, 0x374ad8b8,
                                    0xf4b8436a, 0x1ca11815, 0x69b687c3, 0x8665eeb2};
  CHECK(zero.words_used() == 0);
  for (int i = 0; i < 16; ++i) CHECK(zero.next_u32() == block0[i]);
  CHECK(zero.words_used() == 16);
  CHECK(zero.next_u64() == (std::uint64_t(0x7a385155) << 32 | 0xbee7079f));
  CHECK(zero.words_used() == 18);

  // the stream is the block function over (key, counter, stream number)
  const auto key = key_of(7);
  ChaCha20Stream s(key, 0x1234567890abcdefULL);
  std::uint32_t in[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
  for (int i = 0; i < 8; ++i)
    in[4 + i] = std::uint32_t(key[4 * i]) | std::uint32_t(key[4 * i + 1]) << 8 | std::uint32_t(key[4 * i + 2]) << 16 |
                std::uint32_t(key[4 * i + 3]) << 24;
  in[12] = 2, in[13] = 0, in[14] = 0x90abcdef, in[15] = 0x12345678;
  std::uint32_t third[16];
  chacha20_block(in, third);
  for (int i = 0; i < 32; ++i) s.next_u32();
  for (int i = 0; i < 16; ++i) CHECK(s.next_u32() == third[i]);

  ChaCha20Stream a(key), b(key), c(key_of(8));
  bool differ = false;
  for (int i = 0; i < 100; ++i) {
    const std::uint32_t x = a.next_u32();
    CHECK(x == b.next_u32());
    differ |= x != c.next_u32();
  }
  CHECK(differ);
}

void check_uniform() {
  ChaCha20Stream rng(key_of(1));
  CHECK_THROWS(std::invalid_argument, uniform_below(rng, std::uint64_t(0)));
  CHECK(uniform_below(rng, std::uint64_t(1)) == 0);
  for (std::uint64_t bound : {std::uint64_t(3), std::uint64_t(5), std::uint64_t(6), (std::uint64_t(1) << 33) + 1}) {
    const int n = 60000;
    std::vector<double> low(2, 0.0);  // the two lowest values, each of probability 1/bound
    for (int i = 0; i < n; ++i) {
      const std::uint64_t x = uniform_below(rng, bound);
      CHECK(x < bound);
      if (x < 2) low[x] += 1;
    }
    if (bound < 10) {
      check_frequency(low[0], n, 1.0 / double(bound));
      check_frequency(low[1], n, 1.0 / double(bound));
    }
  }
  // a 128-bit bound: 3 * 2^64 + 1; the top part is 0, 1, 2 (or 3 for the last value) evenly
  const u128 bound = (u128(3) << 64) + 1;
  double top[4] = {0, 0, 0, 0};
  const int n = 60000;
  for (int i = 0; i < n; ++i) {
    const u128 x = uniform_below(rng, bound);
    CHECK(x < bound);
    top[int(x >> 64)] += 1;
  }
  for (int k = 0; k < 3; ++k) check_frequency(top[k], n, 1.0 / 3.0);
}

void check_bernoulli_exp() {
  ChaCha20Stream rng(key_of(2));
  struct Gamma {
    u128 num, den;
  };
  // below, at and above 1, and a 128-bit ratio just above 1/2
  const Gamma gammas[] = {
      {0, 1}, {1, 3}, {3, 4}, {1, 1}, {7, 7}, {7, 4}, {5, 2}, {10, 3}, {u128(1) << 70, (u128(1) << 71) - 1}};
  for (const auto& g : gammas) {
    const int n = 100000;
    double hits = 0;
    for (int i = 0; i < n; ++i) hits += bernoulli_exp(rng, g.num, g.den);
    check_frequency(hits, n, std::exp(-double(g.num) / double(g.den)));
  }
  CHECK_THROWS(std::invalid_argument, bernoulli_exp(rng, 1, 0));
  CHECK(!bernoulli_exp(rng, u128(1) << 100, 1));  // exp(-2^100): the first trial fails
}

// P(0) of the discrete Laplace: (1 - e^-1/s) / (1 + e^-1/s)
double laplace_p0(double scale) {
  return std::tanh(0.5 / scale);
}

void check_laplace() {
  ChaCha20Stream rng(key_of(3));
  CHECK_THROWS(std::invalid_argument, discrete_laplace(rng, 0, 1));
  CHECK_THROWS(std::invalid_argument, discrete_laplace(rng, 1, 0));
  CHECK_THROWS(std::invalid_argument, discrete_laplace(rng, (std::uint64_t(1) << 50) + 1, 1));
  CHECK_THROWS(std::invalid_argument, discrete_laplace_n(rng, 1, 1, -1));
  const std::uint64_t big = std::uint64_t(1) << 62;
  struct Scale {
    std::uint64_t num, den;
  };
  // 1, 0.7 = 7/10, 3.3 with large parts, 1 as 2^62/2^62
  for (const Scale& s : {Scale{1, 1}, Scale{7, 10}, Scale{33ULL << 56, 10ULL << 56}, Scale{big, big}}) {
    const double scale = double(s.num) / double(s.den);
    const auto x = discrete_laplace_n(rng, s.num, s.den, 40000);
    double zeros = 0, ones = 0, sum = 0, sum2 = 0;
    for (std::int64_t v : x) {
      zeros += v == 0;
      ones += v == 1;
      sum += double(v);
      sum2 += double(v) * double(v);
    }
    const double p0 = laplace_p0(scale), r = std::exp(-1 / scale);
    check_frequency(zeros, double(x.size()), p0);
    check_frequency(ones, double(x.size()), p0 * r);
    const double var = 2 * r / ((1 - r) * (1 - r));
    CHECK(std::fabs(sum / double(x.size())) < 6 * std::sqrt(var / double(x.size())));
    CHECK_NEAR(sum2 / double(x.size()), var, 0.06);
  }
  // the largest scale still gives int64 draws
  const auto wide = discrete_laplace_n(rng, std::uint64_t(1) << 50, 1, 1000);
  double mean_abs = 0;
  for (std::int64_t v : wide) mean_abs += std::fabs(double(v));
  CHECK_NEAR(mean_abs / 1000 / std::ldexp(1.0, 50), 1.0, 0.15);
}

void check_gaussian() {
  ChaCha20Stream rng(key_of(4));
  CHECK_THROWS(std::invalid_argument, discrete_gaussian(rng, 0, 1));
  CHECK_THROWS(std::invalid_argument, discrete_gaussian(rng, (std::uint64_t(1) << 52) + 1, 1));
  CHECK_THROWS(std::invalid_argument, discrete_gaussian(rng, 1, std::uint64_t(1) << 60));  // den too large
  const std::uint64_t big = std::uint64_t(1) << 50;
  struct Var {
    std::uint64_t num, den;
  };
  for (const Var& v : {Var{1, 1}, Var{49, 100}, Var{big / 4 * 3 + 1, big / 4}, Var{std::uint64_t(1) << 52, 1}}) {
    const double sigma2 = double(v.num) / double(v.den);
    double norm = 0, second = 0;  // the exact law near 0, by summation
    const int reach = int(40 * std::sqrt(sigma2)) + 40;
    if (sigma2 < 100) {
      for (int k = -reach; k <= reach; ++k) {
        const double w = std::exp(-double(k) * k / (2 * sigma2));
        norm += w;
        second += double(k) * k * w;
      }
    }
    const auto x = discrete_gaussian_n(rng, v.num, v.den, 40000);
    double zeros = 0, sum2 = 0;
    for (std::int64_t y : x) {
      zeros += y == 0;
      sum2 += double(y) * double(y);
    }
    const double n = double(x.size());
    if (sigma2 < 100) {
      check_frequency(zeros, n, 1 / norm);
      CHECK_NEAR(sum2 / n, second / norm, 0.05);
    } else {
      CHECK_NEAR(sum2 / n, sigma2, 0.05);  // variance within (1 - tiny) sigma^2 for large sigma
    }
  }
}

void check_permute_and_flip() {
  ChaCha20Stream rng(key_of(5));
  const std::int64_t scores[3] = {0, 2, 1};
  CHECK_THROWS(std::invalid_argument, permute_and_flip(rng, scores, 0, 1, 1, 1));
  CHECK_THROWS(std::invalid_argument, permute_and_flip(rng, scores, 3, 0, 1, 1));
  CHECK_THROWS(std::invalid_argument, permute_and_flip(rng, scores, 3, 1, 1, 0));
  const std::int64_t wild[2] = {0, std::numeric_limits<std::int64_t>::max()};
  CHECK_THROWS(std::invalid_argument, permute_and_flip(rng, wild, 2, 1, 1, 1));
  // huge epsilon: always the best
  for (int i = 0; i < 200; ++i) CHECK(permute_and_flip(rng, scores, 3, std::uint64_t(1) << 40, 1, 1) == 1);
  // gamma_i = (2 - s_i) / 2 at epsilon 1, sensitivity 1: the exact law by hand over the 6 orders
  const double q0 = std::exp(-1.0), q2 = std::exp(-0.5);  // acceptance of indices 0 and 2
  // index 1 is always accepted; index 0 wins when it comes first, or second after index 2 failed
  const double p0 = q0 * (1.0 / 3 + 1.0 / 6 * (1 - q2));
  const double p2 = q2 * (1.0 / 3 + 1.0 / 6 * (1 - q0));
  const int n = 60000;
  double hits[3] = {0, 0, 0};
  for (int i = 0; i < n; ++i) hits[permute_and_flip(rng, scores, 3, 1, 1, 1)] += 1;
  check_frequency(hits[0], n, p0);
  check_frequency(hits[2], n, p2);
  check_frequency(hits[1], n, 1 - p0 - p2);
}

}  // namespace

int main() {
  check_rfc_block();
  check_stream();
  check_uniform();
  check_bernoulli_exp();
  check_laplace();
  check_gaussian();
  check_permute_and_flip();
  TEST_MAIN_END();
}
