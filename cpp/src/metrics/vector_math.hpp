#pragma once
// Vectors of doubles as wide as the level's registers, and the exponential on them (GCC
// lowers std::exp in a loop to one call per element: the kernel sums are exp-bound).

#include <cstdint>
#include <cstring>

#include "scalegen/common/simd.hpp"

namespace scalegen::metrics::detail {

constexpr int kLanes = kSimdBytes / int(sizeof(double));
typedef double VecD __attribute__((vector_size(kSimdBytes), aligned(8)));  // unaligned loads and stores
typedef std::int64_t VecI __attribute__((vector_size(kSimdBytes), aligned(8)));

inline VecD load(const double* p) { return *reinterpret_cast<const VecD*>(p); }
inline void store(double* p, VecD v) { *reinterpret_cast<VecD*>(p) = v; }
inline VecD splat(double v) { return v - VecD{}; }  // x - 0 is x (x + 0 is not: -0 + 0 = +0)
inline bool any(VecI mask) {
  std::int64_t bits = 0;
  for (int l = 0; l < kLanes; ++l) bits |= mask[l];
  return bits != 0;
}

/// exp(x) for x <= 0, within 2 ulps; 0 below -708 (where the result would be subnormal).
/// Cody-Waite reduction x = k ln2 + r, |r| <= ln2 / 2, then e^r by its Taylor polynomial of
/// degree 12 (truncation error < 2.5e-16 relative) and the exponent k put in by bits.
inline VecD exp_nonpositive(VecD x) {
  constexpr double kLog2e = 1.4426950408889634074;
  constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kRound = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  x = x > -708.0 ? x : splat(-745.0);            // -745: k = -1075 < -1022, flushed to 0 below
  const VecD shifted = x * kLog2e + kRound;
  const VecD k = shifted - kRound;
  VecD r = x - k * kLn2Hi;
  r = r - k * kLn2Lo;
  constexpr double c[13] = {1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880, 1.0 / 40320,
                            1.0 / 5040,      1.0 / 720,       1.0 / 120,     1.0 / 24,     1.0 / 6,
                            0.5,             1.0,             1.0};
  VecD p = splat(c[0]);
#pragma GCC unroll 12
  for (int i = 1; i < 13; ++i) p = p * r + c[i];
  VecI bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  VecI kbits;
  const VecD magic = splat(kRound);
  std::memcpy(&kbits, &magic, sizeof kbits);
  const VecI e = (bits - kbits + 1023) << 52;  // the biased exponent of 2^k
  VecD scale;
  std::memcpy(&scale, &e, sizeof scale);
  return x > -708.0 ? p * scale : splat(0.0);
}

}  // namespace scalegen::metrics::detail
