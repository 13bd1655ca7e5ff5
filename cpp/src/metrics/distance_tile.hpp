#pragma once
// One tile of squared distances, from a register-tiled kernel, and the pair functions
// applied to it: shared by the neighbour counts and the kernel sums.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "scalegen/metrics/pairwise.hpp"
#include "vector_math.hpp"

namespace scalegen::metrics::detail {

/// Rows per tile side: a 256 x 256 float64 tile (512 KB) stays in L2 while it is scanned.
/// PackedRows::xt holds each tile of 256 rows transposed (d x kStride, zero-padded). Rows of
/// 256 doubles (4 KB) would put a column panel's lines in 8 of L1's 64 sets and evict it;
/// kStride = 264 spreads them.
constexpr std::int64_t kTile = 256;
constexpr std::int64_t kStride = kTile + 8;

inline std::int64_t tile_count(std::int64_t n) { return (n + kTile - 1) / kTile; }

/// Columns a scan tests at once (four vectors) before looking at them one by one: most
/// distances pass no test, so the scans run at vector speed. The steps stay within a row's
/// first 256 columns (kScan divides 256); those past a tile's columns are skipped one by one.
constexpr std::int64_t kScan = 4 * kLanes;

// Register tile: kRows rows of A by kCols vectors of B's columns (24 accumulators of the
// 32 AVX-512 registers; 12 of the 16 on AVX2 and SSE).
constexpr int kRows = 6;
constexpr int kCols = kLanes == 8 ? 4 : 2;
constexpr std::int64_t kBlock = std::int64_t(kCols) * kLanes;  // columns per register tile

/// Squared distances between rows [a0, a0 + na) of A and the rows of B's tile `b`, as
/// |a|^2 + |b|^2 - 2 a.b from the centred rows, clamped at 0; pairs closer than 1e-9 of
/// their norms are taken directly (the expansion's rounding would swamp them and their
/// roots). Row i of the result starts at row(i), kStride apart; columns past B's rows are junk.
class DistanceTile {
 public:
  DistanceTile() : d2_(std::size_t(kTile * kStride)) {}

  void compute(const PackedRows& A, std::int64_t a0, std::int64_t na, const PackedRows& B, std::int64_t b) {
    const std::int64_t nb = std::min(kTile, B.n - b * kTile);
    const std::int64_t width = (nb + kBlock - 1) / kBlock * kBlock;
    const double* bt = B.xt.data() + b * kStride * B.d;
    const double* bn = B.norm2.data() + b * kTile;
    for (std::int64_t j = 0; j < width; j += kBlock) {
      std::int64_t i = 0;
      for (; i + kRows <= na; i += kRows) block<kRows>(A, a0 + i, i, B, b, bt + j, bn + j, j, nb);
      switch (na - i) {
        case 5: block<5>(A, a0 + i, i, B, b, bt + j, bn + j, j, nb); break;
        case 4: block<4>(A, a0 + i, i, B, b, bt + j, bn + j, j, nb); break;
        case 3: block<3>(A, a0 + i, i, B, b, bt + j, bn + j, j, nb); break;
        case 2: block<2>(A, a0 + i, i, B, b, bt + j, bn + j, j, nb); break;
        case 1: block<1>(A, a0 + i, i, B, b, bt + j, bn + j, j, nb); break;
        default: break;
      }
    }
  }
  double* row(std::int64_t i) { return d2_.data() + i * kStride; }
  /// The first na x nb entries as a matrix (rows kStride apart).
  Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0, Eigen::OuterStride<>> matrix(
      std::int64_t na, std::int64_t nb) {
    return {d2_.data(), na, nb, Eigen::OuterStride<>(kStride)};
  }

 private:
  static constexpr double kNearDuplicate = 1e-9;

  // Rows [row0, row0 + R) of A (tile rows i0...) by columns [j0, j0 + kBlock) of B's tile b.
  template <int R>
  void block(const PackedRows& A, std::int64_t row0, std::int64_t i0, const PackedRows& B, std::int64_t b,
             const double* bt, const double* bn, std::int64_t j0, std::int64_t nb) {
    const int d = A.d;
    VecD acc[R][kCols];
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < kCols; ++c) acc[r][c] = VecD{};
    const double* a = A.x.data() + row0 * d;
    for (int t = 0; t < d; ++t) {
      VecD bv[kCols];
#pragma GCC unroll 4
      for (int c = 0; c < kCols; ++c) bv[c] = load(bt + t * kStride + c * kLanes);
#pragma GCC unroll 6
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int c = 0; c < kCols; ++c) acc[r][c] += a[r * d + t] * bv[c];  // a broadcast operand
    }
    VecI near{};
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const double an = A.norm2[row0 + r];
#pragma GCC unroll 4
      for (int c = 0; c < kCols; ++c) {
        const VecD sum = an + load(bn + c * kLanes);
        VecD v = sum - 2.0 * acc[r][c];
        v = v > 0.0 ? v : VecD{};
        near |= v <= kNearDuplicate * sum;
        store(row(i0 + r) + j0 + c * kLanes, v);
      }
    }
    bool any = false;
    for (int l = 0; l < kLanes; ++l) any |= near[l] != 0;
    if (any) redo_near(A, row0, i0, R, B, b, j0, nb);
  }

  // The pairs of a register tile flagged as near-duplicates, from the coordinates.
  void redo_near(const PackedRows& A, std::int64_t row0, std::int64_t i0, int R, const PackedRows& B, std::int64_t b,
                 std::int64_t j0, std::int64_t nb) {
    const int d = A.d;
    for (int r = 0; r < R; ++r)
      for (std::int64_t j = j0; j < std::min(j0 + kBlock, nb); ++j) {
        const std::int64_t col = b * kTile + j;
        double& v = row(i0 + r)[j];
        if (v > kNearDuplicate * (A.norm2[row0 + r] + B.norm2[col])) continue;
        const double* x = A.x.data() + (row0 + r) * d;
        const double* y = B.x.data() + col * d;
        double s = 0;
        for (int k = 0; k < d; ++k) s += (x[k] - y[k]) * (x[k] - y[k]);
        v = s;
      }
  }

  std::vector<double> d2_;
};

/// Replaces squared distances v[0..len) by f of them: the sum over the scales of exp(-g d^2)
/// (rbf) or exp(-g d) (laplacian), or d (distance). `scratch` holds len + kLanes values.
inline void apply_pair_function(double* v, std::int64_t len, PairFunction f, const std::vector<double>& scales,
                                double* scratch) {
  if (f != PairFunction::rbf)
    for (std::int64_t j = 0; j < len; ++j) v[j] = std::sqrt(v[j]);  // vectorised (no errno)
  if (f == PairFunction::distance) return;
  // whole vectors, the tail through a zero-padded copy so that every value takes one path
  const std::int64_t full = len / kLanes * kLanes;
  std::copy(v + full, v + len, scratch);
  std::fill(scratch + (len - full), scratch + kLanes, 0.0);
  const auto apply = [&](double* p) {
    const VecD x = load(p);
    VecD s = exp_nonpositive(x * -scales[0]);
    for (std::size_t k = 1; k < scales.size(); ++k) s += exp_nonpositive(x * -scales[k]);
    store(p, s);
  };
  for (std::int64_t j = 0; j < full; j += kLanes) apply(v + j);
  if (full < len) {
    apply(scratch);
    std::copy(scratch, scratch + (len - full), v + full);
  }
}

/// The sum of v[0..len), in an order fixed by the indices alone. (Eigen's sum of a Map
/// peels to the first aligned address, so its rounding followed where the heap put the tile.)
inline double sum_of(const double* v, std::int64_t len) {
  VecD acc[4] = {};
  std::int64_t j = 0;
  for (; j + 4 * kLanes <= len; j += 4 * kLanes)
    for (int u = 0; u < 4; ++u) acc[u] += load(v + j + u * kLanes);
  for (; j + kLanes <= len; j += kLanes) acc[0] += load(v + j);
  const VecD lanes = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  double s = 0.0;
  for (int l = 0; l < kLanes; ++l) s += lanes[l];
  for (; j < len; ++j) s += v[j];
  return s;
}

}  // namespace scalegen::metrics::detail
