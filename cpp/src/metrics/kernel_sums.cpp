// Sums of kernels (or distances) over the pairs of a pooled sample: MMD, the energy
// distance and the permutation test's quadratic forms.
#include <stdexcept>

#include "distance_tile.hpp"
#include "scalegen/common/limits.hpp"
#include "scalegen/common/parallel.hpp"

namespace scalegen::metrics {

using detail::apply_pair_function;
using detail::DistanceTile;
using detail::kLanes;
using detail::kTile;
using detail::sum_of;
using detail::tile_count;

namespace {
void check_scales(PairFunction f, const std::vector<double>& scales) {
  if (f != PairFunction::distance && scales.empty()) throw std::invalid_argument("a kernel needs a scale");
}
}  // namespace

PooledSums pooled_pair_sums(const PackedRows& Z, std::int64_t m, PairFunction f, const std::vector<double>& scales,
                            int n_threads) {
  check_scales(f, scales);
  const std::int64_t tiles = tile_count(Z.n);
  std::vector<PooledSums> partial(std::size_t(tiles), PooledSums{});
  // Row tile a pairs with column tiles b >= a (each unordered pair once); dynamic schedule
  // because the triangle's rows hold less work as a grows.
  parallel_for_flushed(n_threads, tiles, [&](std::int64_t a) {
    DistanceTile tile;
    std::vector<double> scratch(kTile + kLanes);
    PooledSums s;
    const std::int64_t a0 = a * kTile, na = std::min(kTile, Z.n - a0);
    for (std::int64_t b = a; b < tiles; ++b) {
      const std::int64_t b0 = b * kTile, nb = std::min(kTile, Z.n - b0);
      tile.compute(Z, a0, na, Z, b);
      for (std::int64_t i = 0; i < na; ++i) {
        const std::int64_t j0 = a == b ? i + 1 : 0;  // the diagonal tile: pairs j > i
        if (j0 >= nb) continue;
        double* row = tile.row(i);
        apply_pair_function(row + j0, nb - j0, f, scales, scratch.data());
        const std::int64_t jm = std::clamp(m - b0, j0, nb);  // columns before jm are X
        const double to_x = sum_of(row + j0, jm - j0), to_y = sum_of(row + jm, nb - jm);
        if (a0 + i < m) {
          s.xx += to_x;
          s.xy += to_y;
        } else {
          s.xy += to_x;
          s.yy += to_y;
        }
      }
    }
    partial[std::size_t(a)] = s;
  });
  PooledSums total;
  for (const PooledSums& s : partial) {
    total.xx += s.xx;
    total.yy += s.yy;
    total.xy += s.xy;
  }
  return total;
}

std::vector<double> kernel_row_sums(const PackedRows& Z, PairFunction f, const std::vector<double>& scales,
                                    int n_threads) {
  check_scales(f, scales);
  const std::int64_t tiles = tile_count(Z.n);
  std::vector<double> sums(std::size_t(Z.n), 0.0);
  parallel_for_flushed(n_threads, tiles, [&](std::int64_t a) {
    DistanceTile tile;
    std::vector<double> scratch(kTile + kLanes);
    const std::int64_t a0 = a * kTile, na = std::min(kTile, Z.n - a0);
    for (std::int64_t b = 0; b < tiles; ++b) {
      const std::int64_t b0 = b * kTile, nb = std::min(kTile, Z.n - b0);
      tile.compute(Z, a0, na, Z, b);
      for (std::int64_t i = 0; i < na; ++i) {
        double* row = tile.row(i);
        apply_pair_function(row, nb, f, scales, scratch.data());
        if (a0 == b0) row[i] = 0.0;  // the diagonal is left out
        sums[a0 + i] += sum_of(row, nb);
      }
    }
  });
  return sums;
}

std::vector<double> kernel_quadratic_forms(const PackedRows& Z, PairFunction f, const std::vector<double>& scales,
                                           const std::uint8_t* labels, std::int64_t n_labellings, int n_threads) {
  check_scales(f, scales);
  using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const std::int64_t P = n_labellings, tiles = tile_count(Z.n);
  // S (n x P): column p is labelling p as 0/1, so K S is one GEMM per tile pair.
  check_tensor_bytes(checked_mul(Z.n, P, "rows x labellings"), sizeof(double), "the labellings");
  RowMat S(Z.n, P);
  for (std::int64_t p = 0; p < P; ++p)
    for (std::int64_t i = 0; i < Z.n; ++i) S(i, p) = labels[p * Z.n + i] ? 1.0 : 0.0;
  std::vector<Eigen::ArrayXd> partial(static_cast<std::size_t>(tiles));
  parallel_for_flushed(n_threads, tiles, [&](std::int64_t a) {
    DistanceTile tile;
    std::vector<double> scratch(kTile + kLanes);
    RowMat KS;
    Eigen::ArrayXd q = Eigen::ArrayXd::Zero(P);
    const std::int64_t a0 = a * kTile, na = std::min(kTile, Z.n - a0);
    for (std::int64_t b = a; b < tiles; ++b) {
      const std::int64_t b0 = b * kTile, nb = std::min(kTile, Z.n - b0);
      tile.compute(Z, a0, na, Z, b);
      for (std::int64_t i = 0; i < na; ++i) {
        apply_pair_function(tile.row(i), nb, f, scales, scratch.data());
        if (a == b) tile.row(i)[i] = 0.0;
      }
      KS.noalias() = tile.matrix(na, nb) * S.middleRows(b0, nb);
      // s_a' K_ab s_b, twice off the diagonal: K_ba is K_ab transposed
      const double weight = a == b ? 1.0 : 2.0;
      q += weight * (S.middleRows(a0, na).array() * KS.array()).colwise().sum().transpose();
    }
    partial[std::size_t(a)] = std::move(q);
  });
  std::vector<double> out(std::size_t(P), 0.0);
  for (const Eigen::ArrayXd& q : partial)
    for (std::int64_t p = 0; p < P; ++p) out[p] += q[p];
  return out;
}

}  // namespace scalegen::metrics
