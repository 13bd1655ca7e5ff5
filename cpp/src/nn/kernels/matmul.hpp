#pragma once
// The layers' matrix products on row-major float matrices with leading dimensions: our
// register-tiled kernel (gemm.hpp) where the width fills its vectors, Eigen otherwise.

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>

#include "gemm.hpp"
#include "scalegen/common/parallel.hpp"

namespace scalegen::nn {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Strided = Eigen::OuterStride<>;
using MatMap = Eigen::Map<RowMat, 0, Strided>;
using ConstMatMap = Eigen::Map<const RowMat, 0, Strided>;

inline MatMap mat(float* p, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
  return MatMap(p, rows, cols, Strided(ld));
}
inline ConstMatMap cmat(const float* p, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
  return ConstMatMap(p, rows, cols, Strided(ld));
}

// C (m x n) = A (m x T) B (T x n), row-major with leading dimensions: our register-tiled
// kernel when n fills its vectors (AVX2 and AVX-512 builds), else Eigen.
inline void gemm_nn(std::int64_t m, std::int64_t n, std::int64_t T, const float* A, std::int64_t lda, const float* B,
                    std::int64_t ldb, float* C, std::int64_t ldc) {
#if SCALEGEN_FAST_GEMM
  if (detail::has_fast_gemm(n)) return detail::gemm<false>(m, n, T, A, lda, 1, B, ldb, C, ldc);
#endif
  mat(C, m, n, ldc).noalias() = cmat(A, m, T, lda) * cmat(B, T, n, ldb);
}

// C (m x n) = (or += when accumulate) A^T B with A (T x m) and B (T x n).
inline void gemm_tn(std::int64_t m, std::int64_t n, std::int64_t T, const float* A, std::int64_t lda, const float* B,
                    std::int64_t ldb, float* C, std::int64_t ldc, bool accumulate) {
#if SCALEGEN_FAST_GEMM
  if (detail::has_fast_gemm(n)) {
    if (accumulate) return detail::gemm<true>(m, n, T, A, 1, lda, B, ldb, C, ldc);
    return detail::gemm<false>(m, n, T, A, 1, lda, B, ldb, C, ldc);
  }
#endif
  if (accumulate)
    mat(C, m, n, ldc).noalias() += cmat(A, T, m, lda).transpose() * cmat(B, T, n, ldb);
  else
    mat(C, m, n, ldc).noalias() = cmat(A, T, m, lda).transpose() * cmat(B, T, n, ldb);
}

// dst (cols x rows, row-major) = src (rows x cols)^T, in blocks along the longer side on
// n_threads: a layer's kernel, transposed each batch for its input gradient (serially, a
// 3,136 x 32 kernel kept the other thread waiting).
inline void transpose_parallel(const float* src, std::int64_t rows, std::int64_t cols, float* dst, int n_threads) {
  const bool by_rows = rows >= cols;
  const std::int64_t len = by_rows ? rows : cols, block = std::max<std::int64_t>(64, (len + 15) / 16);
  parallel_for_flushed(n_threads, (len + block - 1) / block, [&](std::int64_t t) {
    const std::int64_t a = t * block, b = std::min(len, a + block) - a;
    if (by_rows)
      mat(dst + a, cols, b, rows) = cmat(src + a * cols, b, cols, cols).transpose();
    else
      mat(dst + a * rows, b, rows, rows) = cmat(src + a, rows, b, cols).transpose();
  });
}

}  // namespace scalegen::nn
