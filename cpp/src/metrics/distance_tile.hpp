#pragma once
// One tile of squared distances and the pair functions applied to it, shared by the
// neighbour counts and the kernel sums.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "scalegen/metrics/pairwise.hpp"

namespace scalegen::metrics::detail {

/// Rows per tile side: a 256 x 256 float64 tile (512 KB) stays in L2 while it is scanned.
constexpr std::int64_t kTile = 256;

inline std::int64_t tile_count(std::int64_t n) { return (n + kTile - 1) / kTile; }

/// Squared distances between rows [a0, a0 + na) of A and [b0, b0 + nb) of B, by
/// |a|^2 + |b|^2 - 2 a.b (one GEMM; the rows are centred, which keeps the cancellation small),
/// clamped at 0. Row-major, na x nb.
class DistanceTile {
  static constexpr double kNearDuplicate = 1e-9;

  static double direct(const double* a, const double* b, int d) {
    double s = 0;
    for (int c = 0; c < d; ++c) s += (a[c] - b[c]) * (a[c] - b[c]);
    return s;
  }

 public:
  using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  void compute(const PackedRows& A, std::int64_t a0, std::int64_t na, const PackedRows& B, std::int64_t b0,
               std::int64_t nb) {
    using Rows = Eigen::Map<const RowMat>;
    const Rows a(A.x.data() + a0 * A.d, na, A.d), b(B.x.data() + b0 * B.d, nb, B.d);
    d2_.resize(na, nb);
    d2_.noalias() = a * b.transpose();
    const double* nb2 = B.norm2.data() + b0;
    for (std::int64_t i = 0; i < na; ++i) {
      double* r = row(i);
      const double ni = A.norm2[a0 + i];
      for (std::int64_t j = 0; j < nb; ++j) r[j] = std::max(0.0, ni + nb2[j] - 2.0 * r[j]);
      // Near-duplicates: the expansion's rounding (~d ulps of the norms) would swamp them (and
      // their roots, in the energy distance), so they are taken directly.
      for (std::int64_t j = 0; j < nb; ++j)
        if (r[j] <= kNearDuplicate * (ni + nb2[j])) r[j] = direct(A.x.data() + (a0 + i) * A.d, B.x.data() + (b0 + j) * B.d, A.d);
    }
  }
  double* row(std::int64_t i) { return d2_.data() + i * d2_.cols(); }
  const RowMat& matrix() const { return d2_; }
  RowMat& matrix() { return d2_; }

 private:
  RowMat d2_;
};

/// Replaces squared distances v[0..len) by f of them: the sum over the scales of exp(-g d^2)
/// (rbf) or exp(-g d) (laplacian), or d (distance). `scratch` holds len values.
inline void apply_pair_function(double* v, std::int64_t len, PairFunction f, const std::vector<double>& scales,
                                double* scratch) {
  Eigen::Map<Eigen::ArrayXd> out(v, len);
  if (f == PairFunction::distance) {
    out = out.sqrt();
    return;
  }
  Eigen::Map<Eigen::ArrayXd> x(scratch, len);
  if (f == PairFunction::rbf)
    x = out;
  else
    x = out.sqrt();
  out = (x * -scales[0]).exp();
  for (std::size_t s = 1; s < scales.size(); ++s) out += (x * -scales[s]).exp();
}

/// The sum of v[0..len) (Eigen's fixed-order vectorised reduction).
inline double sum_of(const double* v, std::int64_t len) {
  return len > 0 ? Eigen::Map<const Eigen::ArrayXd>(v, len).sum() : 0.0;
}

}  // namespace scalegen::metrics::detail
