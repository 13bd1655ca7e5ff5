#pragma once
// Single-precision GEMM for the convolution shapes: C (m x n, row-major) = or += A * B
// with A read through two strides (so A may be a transpose without a copy) and B
// row-major. Register tiles of 6 rows x (up to) 64 columns on AVX-512 (6 x 16 on AVX2):
// per step of the reduction, 6 broadcasts of A and 4 loads of B feed 24 FMAs. n must be
// a multiple of the vector width (has_fast_gemm says); other shapes go to Eigen.

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace scalegen::nn::detail {

#if defined(__AVX512F__) || defined(__AVX2__)
#define SCALEGEN_FAST_GEMM 1
#else
#define SCALEGEN_FAST_GEMM 0
#endif

#if defined(__AVX512F__)
constexpr int kGemmLanes = 16;
constexpr int kGemmPanel = 4;  // vectors per row of a register tile
#elif defined(__AVX2__)
constexpr int kGemmLanes = 8;
constexpr int kGemmPanel = 2;
#else
constexpr int kGemmLanes = 0;  // baseline build: Eigen only
constexpr int kGemmPanel = 0;
#endif
constexpr int kGemmRows = 6;

inline bool has_fast_gemm(std::int64_t n) { return kGemmLanes > 0 && n % (kGemmLanes > 0 ? kGemmLanes : 1) == 0; }

#if SCALEGEN_FAST_GEMM
typedef float GemmVec __attribute__((vector_size(kGemmLanes * 4)));
typedef float GemmVecU __attribute__((vector_size(kGemmLanes * 4), aligned(4)));

// One tile: R rows of C, NB vectors wide, over the reduction t < T. Accumulate: the sums
// continue from C's values; else they start from the bias (when not null) or zero. Stores
// max(0, .) when relu.
template <int R, int NB, bool Accumulate>
inline void gemm_tile(const float* __restrict A, std::ptrdiff_t a_row, std::ptrdiff_t a_step,
                      const float* __restrict B, std::ptrdiff_t ldb, std::int64_t T, float* __restrict C,
                      std::ptrdiff_t ldc, const float* __restrict bias = nullptr, bool relu = false) {
  GemmVec acc[R][NB];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
      if constexpr (Accumulate)
        acc[i][j] = *reinterpret_cast<const GemmVecU*>(C + i * ldc + j * kGemmLanes);
      else
        acc[i][j] = bias != nullptr ? GemmVec(*reinterpret_cast<const GemmVecU*>(bias + j * kGemmLanes)) : GemmVec{};
    }
  for (std::int64_t t = 0; t < T; ++t) {
    const float* b = B + t * ldb;
    const float* a = A + t * a_step;
    GemmVec bv[NB];
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) bv[j] = *reinterpret_cast<const GemmVecU*>(b + j * kGemmLanes);
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const float s = a[i * a_row];
#pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) acc[i][j] += s * bv[j];
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
      GemmVecU* c = reinterpret_cast<GemmVecU*>(C + i * ldc + j * kGemmLanes);
      *c = relu ? (acc[i][j] > 0.0f ? acc[i][j] : GemmVec{}) : acc[i][j];
    }
}

// R rows of C, n columns (a multiple of the vector width) in tiles of up to 4 vectors.
template <int R, bool Accumulate>
inline void gemm_row_tile(const float* A, std::ptrdiff_t a_row, std::ptrdiff_t a_step, const float* B,
                          std::ptrdiff_t ldb, std::int64_t n, std::int64_t T, float* C, std::ptrdiff_t ldc,
                          const float* bias = nullptr, bool relu = false) {
  constexpr std::int64_t panel = std::int64_t(kGemmPanel) * kGemmLanes;
  std::int64_t j = 0;
  const auto at = [bias](std::int64_t col) { return bias != nullptr ? bias + col : nullptr; };
  for (; j + panel <= n; j += panel)
    gemm_tile<R, kGemmPanel, Accumulate>(A, a_row, a_step, B + j, ldb, T, C + j, ldc, at(j), relu);
  if constexpr (kGemmPanel > 2)
    for (; j + 2 * kGemmLanes <= n; j += 2 * kGemmLanes)
      gemm_tile<R, 2, Accumulate>(A, a_row, a_step, B + j, ldb, T, C + j, ldc, at(j), relu);
  for (; j < n; j += kGemmLanes) gemm_tile<R, 1, Accumulate>(A, a_row, a_step, B + j, ldb, T, C + j, ldc, at(j), relu);
}

/// One kernel row of a convolution over one row of its output, without im2col: m pixels
/// whose windows start a_row apart in the image, each reading T contiguous floats there;
/// B: the T x n slice of the kernel for that kernel row (leading dimension ldb), C: the
/// m x n outputs (leading dimension ldc). Accumulate: adds to C (the later kernel rows);
/// else starts from the bias (when not null). Stores max(0, .) when relu.
template <bool Accumulate>
inline void conv_row(std::int64_t m, std::int64_t n, std::int64_t T, const float* A, std::ptrdiff_t a_row,
                     const float* B, std::ptrdiff_t ldb, float* C, std::ptrdiff_t ldc, const float* bias, bool relu) {
  for (std::int64_t i = 0; i < m; i += kGemmRows) {
    const float* a = A + i * a_row;
    float* c = C + i * ldc;
    switch (std::min<std::int64_t>(kGemmRows, m - i)) {
      case 6: gemm_row_tile<6, Accumulate>(a, a_row, 1, B, ldb, n, T, c, ldc, bias, relu); break;
      case 5: gemm_row_tile<5, Accumulate>(a, a_row, 1, B, ldb, n, T, c, ldc, bias, relu); break;
      case 4: gemm_row_tile<4, Accumulate>(a, a_row, 1, B, ldb, n, T, c, ldc, bias, relu); break;
      case 3: gemm_row_tile<3, Accumulate>(a, a_row, 1, B, ldb, n, T, c, ldc, bias, relu); break;
      case 2: gemm_row_tile<2, Accumulate>(a, a_row, 1, B, ldb, n, T, c, ldc, bias, relu); break;
      default: gemm_row_tile<1, Accumulate>(a, a_row, 1, B, ldb, n, T, c, ldc, bias, relu); break;
    }
  }
}

template <bool Accumulate>
void gemm_rows(std::int64_t m, std::int64_t n, std::int64_t T, const float* A, std::ptrdiff_t a_row,
               std::ptrdiff_t a_step, const float* B, std::ptrdiff_t ldb, float* C, std::ptrdiff_t ldc) {
  std::int64_t i = 0;
  for (; i + kGemmRows <= m; i += kGemmRows)
    gemm_row_tile<kGemmRows, Accumulate>(A + i * a_row, a_row, a_step, B, ldb, n, T, C + i * ldc, ldc);
  const float* a = A + i * a_row;
  float* c = C + i * ldc;
  switch (m - i) {
    case 5: gemm_row_tile<5, Accumulate>(a, a_row, a_step, B, ldb, n, T, c, ldc); break;
    case 4: gemm_row_tile<4, Accumulate>(a, a_row, a_step, B, ldb, n, T, c, ldc); break;
    case 3: gemm_row_tile<3, Accumulate>(a, a_row, a_step, B, ldb, n, T, c, ldc); break;
    case 2: gemm_row_tile<2, Accumulate>(a, a_row, a_step, B, ldb, n, T, c, ldc); break;
    case 1: gemm_row_tile<1, Accumulate>(a, a_row, a_step, B, ldb, n, T, c, ldc); break;
    default: break;
  }
}

// Rows of B used per pass over the tiles: a panel of them stays in L2 while every row
// tile of C reads it.
constexpr std::int64_t kGemmDepth = 384;

/// C[i][j] (=, or += when accumulate) sum_t A[i * a_row + t * a_step] * B[t * ldb + j]
/// for i < m, j < n, t < T; n a multiple of kGemmLanes.
template <bool Accumulate>
void gemm(std::int64_t m, std::int64_t n, std::int64_t T, const float* A, std::ptrdiff_t a_row,
          std::ptrdiff_t a_step, const float* B, std::ptrdiff_t ldb, float* C, std::ptrdiff_t ldc) {
  for (std::int64_t t0 = 0; t0 < T; t0 += kGemmDepth) {
    const std::int64_t depth = std::min(kGemmDepth, T - t0);
    if (Accumulate || t0 > 0)
      gemm_rows<true>(m, n, depth, A + t0 * a_step, a_row, a_step, B + t0 * ldb, ldb, C, ldc);
    else
      gemm_rows<false>(m, n, depth, A, a_row, a_step, B, ldb, C, ldc);
  }
}
#endif

}  // namespace scalegen::nn::detail
