#pragma once
// Internal to the mixture kernels: rows of a tile in the lanes of SIMD registers, and the
// few whole-register operations the kernels share (transposition, exp, lane sums).

#include <cmath>
#include <cstdint>
#include <cstring>

#include "scalegen/common/simd.hpp"

namespace scalegen::mixture::detail {

/// A SIMD register of T as wide as the level's (AVX-512: 8 doubles or 16 floats; AVX2: 4
/// or 8; baseline SSE2: 2 or 4).
template <class T>
struct Simd {
  static constexpr int W = kSimdBytes / sizeof(T);
  typedef T V __attribute__((vector_size(kSimdBytes)));
};

/// Rows of a tile rounded up to whole SIMD registers.
template <class T>
std::int64_t padded_rows(std::int64_t t) {
  return (t + Simd<T>::W - 1) / Simd<T>::W * Simd<T>::W;
}

/// Rows in lanes: nb registers of rows per feature, features `stride` registers apart.
struct Lanes {
  std::int64_t nb, stride;
};

/// Sum of the lanes of a register.
inline double lane_sum(const Simd<double>::V& v) {
  double s = 0;
  for (int l = 0; l < Simd<double>::W; ++l) s += v[l];
  return s;
}

/// W values of T from x as a register of U, each U(double(x) - c): the centering is exact
/// in double and rounded once, whatever T and U are.
template <class T, class U>
typename Simd<U>::V centered_lanes(const T* x, const double* c) {
  using VD = Simd<double>::V;
  constexpr int H = Simd<double>::W;
  typedef T VTH __attribute__((vector_size(H * sizeof(T))));  // H values of T
  typename Simd<U>::V out;
  for (int h = 0; h < Simd<U>::W / H; ++h) {  // float32 lanes: two registers of doubles
    VTH v;
    VD cv;
    std::memcpy(&v, x + h * H, sizeof v);
    std::memcpy(&cv, c + h * H, sizeof cv);
    const VD z = __builtin_convertvector(v, VD) - cv;
    if constexpr (sizeof(U) == sizeof(double)) {
      out = z;
    } else {
      typedef U VUH __attribute__((vector_size(H * sizeof(U))));
      const VUH zu = __builtin_convertvector(z, VUH);
      std::memcpy(reinterpret_cast<U*>(&out) + h * H, &zu, sizeof zu);
    }
  }
  return out;
}

/// The shuffle masks of transpose_registers, built once per call site rather than per block.
template <class V, int W>
struct TransposeMasks {
  typedef decltype(V{} < V{}) M;  // integer lanes of the same width
  static constexpr int kStages = W >= 16 ? 4 : W >= 8 ? 3 : W >= 4 ? 2 : 1;
  M lo[kStages], hi[kStages];
  TransposeMasks() {
    for (int g = 0, s = 1; g < kStages; ++g, s *= 2)
      for (int l = 0; l < W; ++l) {
        lo[g][l] = (l & s) ? W + l - s : l;
        hi[g][l] = (l & s) ? W + l : l + s;
      }
  }
};

/// Transposes W x W values held in W registers, in log2(W) stages of two-register shuffles.
template <class V, int W>
inline void transpose_registers(V* r, const TransposeMasks<V, W>& masks) {
#pragma GCC unroll 4
  for (int g = 0, s = 1; g < TransposeMasks<V, W>::kStages; ++g, s *= 2) {
#pragma GCC unroll 16
    for (int i = 0; i < W; ++i) {
      if (i & s) continue;
      const V a = r[i], b = r[i + s];
      r[i] = __builtin_shuffle(a, b, masks.lo[g]);
      r[i + s] = __builtin_shuffle(a, b, masks.hi[g]);
    }
  }
}

/// Rows of X (t x d, row-major) into lanes: out[a * stride + b] holds feature a of rows
/// b*W .. b*W+W-1 as U(double(x) - center[a]). Features d .. dp-1 and rows past t are
/// zero; registers b < nb are written. Blocks of W rows by W features go through registers.
template <class T, class U>
void rows_to_lanes(const T* X, std::int64_t t, int d, const double* center, int dp, std::int64_t nb,
                   std::int64_t stride, typename Simd<U>::V* out) {
  using V = typename Simd<U>::V;
  constexpr int W = Simd<U>::W;
  const std::int64_t whole_b = t / W;
  const int whole_a = d / W * W;
  const TransposeMasks<V, W> masks;
  // The rows a few blocks ahead are fetched early: the transposition is the first touch of
  // X in a pass, and waiting for memory here would stall it.
  constexpr std::int64_t kAhead = 8;
  const std::int64_t block_bytes = std::int64_t(W) * d * std::int64_t(sizeof(T));
  for (std::int64_t b = 0; b < whole_b; ++b) {
    const T* x = X + b * W * d;
    if (b + kAhead < whole_b)
      for (std::int64_t o = 0; o < block_bytes; o += 64)
        __builtin_prefetch(reinterpret_cast<const char*>(x + kAhead * W * d) + o, 0, 3);
    for (int a0 = 0; a0 < whole_a; a0 += W) {
      V r[W];
#pragma GCC unroll 16
      for (int l = 0; l < W; ++l) r[l] = centered_lanes<T, U>(x + std::int64_t(l) * d + a0, center + a0);
      transpose_registers<V, W>(r, masks);
#pragma GCC unroll 16
      for (int l = 0; l < W; ++l) out[std::size_t(a0 + l) * stride + b] = r[l];
    }
    for (int a = whole_a; a < dp; ++a) {
      V v{};
      if (a < d)
        for (int l = 0; l < W; ++l) v[l] = U(double(x[std::int64_t(l) * d + a]) - center[a]);
      out[std::size_t(a) * stride + b] = v;
    }
  }
  for (std::int64_t b = whole_b; b < nb; ++b)  // the last rows, then zero registers
    for (int a = 0; a < dp; ++a) {
      V v{};
      for (std::int64_t l = 0; a < d && l < W && b * W + l < t; ++l)
        v[l] = U(double(X[(b * W + l) * d + a]) - center[a]);
      out[std::size_t(a) * stride + b] = v;
    }
}

/// exp(x) lane by lane for the arguments of a log-sum-exp (x <= 0): within an ulp or two;
/// 0 below -708, where the result would be subnormal (responsibilities that small are
/// dropped anyway); NaN stays NaN. Polynomial, no division (Eigen's exp divides).
inline Simd<double>::V exp_lanes(Simd<double>::V x) {
  using V = Simd<double>::V;
  typedef std::uint64_t VU __attribute__((vector_size(kSimdBytes)));
  const double shifter = 0x1.8p52;  // adding it rounds to an integer kept in the low bits
  const V k = x * 1.4426950408889634 + shifter;
  const V n = k - shifter;
  // ln 2 in two parts, the first with trailing zeros so that n times it is exact.
  V r = x - n * 0x1.62e42feep-1;
  r = r - n * 0x1.a39ef35793c76p-33;  // |r| <= ln(2) / 2
  // Taylor series to r^13: the next term is below 2^-56 of the sum.
  V p = V{} + 1.0 / 6227020800.0;
  const double c[] = {1.0 / 479001600.0,
                      1.0 / 39916800.0,
                      1.0 / 3628800.0,
                      1.0 / 362880.0,
                      1.0 / 40320.0,
                      1.0 / 5040.0,
                      1.0 / 720.0,
                      1.0 / 120.0,
                      1.0 / 24.0,
                      1.0 / 6.0,
                      0.5,
                      1.0,
                      1.0};
#pragma GCC unroll 13
  for (double ci : c) p = p * r + ci;
  VU bits;
  std::memcpy(&bits, &k, sizeof bits);
  bits = (bits + 1023) << 52;  // 2^n
  V scale;
  std::memcpy(&scale, &bits, sizeof scale);
  const V e = p * scale;
  return x < -708.0 ? V{} : e;
}

}  // namespace scalegen::mixture::detail
