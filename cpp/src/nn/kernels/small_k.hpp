#pragma once
// Kernels for a tiny reduction K (< 16: a first convolution on one channel), with K a
// template parameter so that a K x 32 block of weights or of weight gradients stays in
// registers. Columns past the last multiple of 32 take a plain loop.

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include "vec.hpp"

namespace scalegen::nn {

// Columns [f0, f0 + 32) of a K x F kernel and of its bias (zero when null).
template <int K>
struct SmallKBlock {
  VecF w0[K], w1[K], b0, b1;
  SmallKBlock(const float* w, std::int64_t F, std::int64_t f0, const float* bias) {
#pragma GCC unroll 16
    for (int k = 0; k < K; ++k) {
      w0[k] = *reinterpret_cast<const VecF*>(w + k * F + f0);
      w1[k] = *reinterpret_cast<const VecF*>(w + k * F + f0 + kVec);
    }
    b0 = bias ? *reinterpret_cast<const VecF*>(bias + f0) : VecF{};
    b1 = bias ? *reinterpret_cast<const VecF*>(bias + f0 + kVec) : VecF{};
  }
};

inline VecF relu_if(bool relu, VecF v) { return relu ? (v > 0.0f ? v : VecF{}) : v; }

// out = A w, plus bias (when not null) and then max(0, .) when relu, for `rows` rows of A
// whose K values lie at a + r * a_step + off[k] (im2col's columns: a_step = K, off[k] = k;
// or windows read in place from the image). Four rows at a time for independent sums.
template <int K>
void small_k_forward(const float* __restrict a, std::int64_t rows, std::ptrdiff_t a_step,
                     const std::int32_t* __restrict off, const float* __restrict w, std::int64_t F,
                     float* __restrict out, const float* __restrict bias, bool relu) {
  constexpr int R = 4;
  std::int64_t f0 = 0;
  const auto store = [&](VecF v, std::int64_t r, std::int64_t f) {
    *reinterpret_cast<VecF*>(out + r * F + f) = relu_if(relu, v);
  };
  for (; f0 + 2 * kVec <= F; f0 += 2 * kVec) {
    const SmallKBlock<K> blk(w, F, f0, bias);
    const auto &w0 = blk.w0, &w1 = blk.w1;
    const VecF b0 = blk.b0, b1 = blk.b1;
    std::int64_t r = 0;
    for (; r + R <= rows; r += R) {
      VecF acc0[R], acc1[R];
      for (int i = 0; i < R; ++i) acc0[i] = b0, acc1[i] = b1;
#pragma GCC unroll 16
      for (int k = 0; k < K; ++k)
#pragma GCC unroll 4
        for (int i = 0; i < R; ++i) {
          const float v = a[(r + i) * a_step + off[k]];
          acc0[i] += v * w0[k];
          acc1[i] += v * w1[k];
        }
      for (int i = 0; i < R; ++i) store(acc0[i], r + i, f0), store(acc1[i], r + i, f0 + kVec);
    }
    for (; r < rows; ++r) {
      VecF acc0 = b0, acc1 = b1;
#pragma GCC unroll 16
      for (int k = 0; k < K; ++k) {
        const float v = a[r * a_step + off[k]];
        acc0 += v * w0[k];
        acc1 += v * w1[k];
      }
      store(acc0, r, f0), store(acc1, r, f0 + kVec);
    }
  }
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t f = f0; f < F; ++f) {
      float acc = bias ? bias[f] : 0.0f;
      for (int k = 0; k < K; ++k) acc += a[r * a_step + off[k]] * w[k * F + f];
      out[r * F + f] = relu && !(acc > 0.0f) ? 0.0f : acc;
    }
}

// A tiny-reduction convolution with a 2 x 2 max pool (stride 2) in registers: for each of m
// pooled pixels, whose windows start a_step apart, the four cells (at cells[q] from there,
// each reading K values at off[k]) go through small_k_forward's sums, bias and relu, and
// their maximum, taken in the pool's order, is stored: the bits of the two layers apart.
template <int K>
void small_k_max_pool_2x2(const float* __restrict a, std::int64_t m, std::ptrdiff_t a_step,
                          const std::array<std::int32_t, 4>& cells, const std::int32_t* __restrict off,
                          const float* __restrict w, std::int64_t F, float* __restrict out,
                          const float* __restrict bias, bool relu) {
  std::int64_t f0 = 0;
  for (; f0 + 2 * kVec <= F; f0 += 2 * kVec) {
    const SmallKBlock<K> blk(w, F, f0, bias);
    const auto &w0 = blk.w0, &w1 = blk.w1;
    const VecF b0 = blk.b0, b1 = blk.b1;
    for (std::int64_t r = 0; r < m; ++r) {
      VecF acc0[4], acc1[4];
      for (int q = 0; q < 4; ++q) acc0[q] = b0, acc1[q] = b1;
#pragma GCC unroll 16
      for (int k = 0; k < K; ++k)
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) {
          const float v = a[r * a_step + cells[q] + off[k]];
          acc0[q] += v * w0[k];
          acc1[q] += v * w1[k];
        }
      VecF m0 = relu_if(relu, acc0[0]), m1 = relu_if(relu, acc1[0]);
      for (int q = 1; q < 4; ++q) {
        const VecF v0 = relu_if(relu, acc0[q]), v1 = relu_if(relu, acc1[q]);
        m0 = v0 > m0 ? v0 : m0;
        m1 = v1 > m1 ? v1 : m1;
      }
      *reinterpret_cast<VecF*>(out + r * F + f0) = m0;
      *reinterpret_cast<VecF*>(out + r * F + f0 + kVec) = m1;
    }
  }
  for (std::int64_t r = 0; r < m; ++r)
    for (std::int64_t f = f0; f < F; ++f) {
      float best = 0.0f;
      for (int q = 0; q < 4; ++q) {
        float acc = bias ? bias[f] : 0.0f;
        for (int k = 0; k < K; ++k) acc += a[r * a_step + cells[q] + off[k]] * w[k * F + f];
        if (relu && !(acc > 0.0f)) acc = 0.0f;
        if (q == 0 || acc > best) best = acc;
      }
      out[r * F + f] = best;
    }
}

// dw (K x F) += cols^T dz.
template <int K>
void small_k_weight_grad(const float* __restrict cols, const float* __restrict dz, std::int64_t rows,
                         std::int64_t F, float* __restrict dw) {
  std::int64_t f0 = 0;
  for (; f0 + 2 * kVec <= F; f0 += 2 * kVec) {
    VecF g0[K] = {}, g1[K] = {};
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* a = cols + r * K;
      const VecF d0 = *reinterpret_cast<const VecF*>(dz + r * F + f0);
      const VecF d1 = *reinterpret_cast<const VecF*>(dz + r * F + f0 + kVec);
      for (int k = 0; k < K; ++k) {
        g0[k] += a[k] * d0;
        g1[k] += a[k] * d1;
      }
    }
    for (int k = 0; k < K; ++k) {
      *reinterpret_cast<VecF*>(dw + k * F + f0) += g0[k];
      *reinterpret_cast<VecF*>(dw + k * F + f0 + kVec) += g1[k];
    }
  }
  for (std::int64_t r = 0; r < rows; ++r)
    for (int k = 0; k < K; ++k)
      for (std::int64_t f = f0; f < F; ++f) dw[k * F + f] += cols[r * K + k] * dz[r * F + f];
}

// The offsets of im2col's K columns in its rows (K < 16).
constexpr std::array<std::int32_t, 16> kIota{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

// Calls fn(std::integral_constant<int, K>) for K in [1, 16).
template <class Fn>
void with_small_k(std::int64_t K, Fn&& fn) {
  switch (K) {
#define SCALEGEN_SMALL_K(k) \
  case k:                   \
    return fn(std::integral_constant<int, k>{});
    SCALEGEN_SMALL_K(1) SCALEGEN_SMALL_K(2) SCALEGEN_SMALL_K(3) SCALEGEN_SMALL_K(4) SCALEGEN_SMALL_K(5)
    SCALEGEN_SMALL_K(6) SCALEGEN_SMALL_K(7) SCALEGEN_SMALL_K(8) SCALEGEN_SMALL_K(9) SCALEGEN_SMALL_K(10)
    SCALEGEN_SMALL_K(11) SCALEGEN_SMALL_K(12) SCALEGEN_SMALL_K(13) SCALEGEN_SMALL_K(14) SCALEGEN_SMALL_K(15)
#undef SCALEGEN_SMALL_K
    default:
      throw std::logic_error("with_small_k: K must be in [1, 16)");
  }
}

}  // namespace scalegen::nn
