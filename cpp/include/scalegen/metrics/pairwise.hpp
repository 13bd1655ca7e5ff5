#pragma once
/// Two-sample metrics over pairwise distances, computed tile by tile (256 x 256 rows of
/// squared distances from one GEMM) so that no n x m matrix is ever held. Rows are centred
/// on the pooled mean and promoted to float64 once; sums accumulate in float64 in an order
/// fixed by the data's size alone, so 1 and 2 threads give the same bits.

#include <cstdint>
#include <vector>

namespace scalegen::metrics {

/// Rows of one sample as float64, centred, with their squared norms.
struct PackedRows {
  std::vector<double> x;      ///< n x d, row-major
  std::vector<double> xt;     ///< each tile of 256 rows transposed: d x 256, zero-padded
  std::vector<double> norm2;  ///< n, zero-padded to whole tiles
  std::int64_t n = 0;
  int d = 0;
};

/// The mean of the rows of X (n x d) and Y (m x d; may be null with m = 0), rounded to
/// integers: centring on it then leaves integer-valued (and coarse dyadic) data exact, so their
/// distances, and ties at a ball's radius, come out exactly as a direct computation's.
template <class T>
std::vector<double> pooled_mean(const T* X, std::int64_t n, const T* Y, std::int64_t m, int d);

/// The rows of X (n x d) then those of Y (m x d; may be null with m = 0) minus `center`, as
/// float64, with squared norms. Throws LimitError when the copy would exceed the tensor limit.
template <class T>
PackedRows pack_rows(const T* X, std::int64_t n, const T* Y, std::int64_t m, int d, const std::vector<double>& center,
                     int n_threads);

/// The k nearest rows of R to each row of Q: squared distances ascending (ties to the lower
/// index) and indices, both nq x k. With `same` (Q and R are one sample) a row is not its own
/// neighbour. Requires 1 <= k <= (rows of R, minus 1 when `same`).
struct Neighbours {
  std::vector<double> dist2;
  std::vector<std::int64_t> index;
};
Neighbours nearest_neighbours(const PackedRows& Q, const PackedRows& R, int k, bool same, int n_threads);

/// The k-NN manifold counts of Kynkäänniemi et al. and Naeem et al. from squared radii (the
/// squared distance of each row to its k-th neighbour in its own sample), comparing distances
/// as prdc does (d < r on the square roots).
struct ManifoldCounts {
  std::vector<std::int64_t> fake_in_real_balls;  ///< per fake row: real balls containing it
  std::vector<std::uint8_t> real_in_fake_balls;  ///< per real row: inside some fake ball
  std::vector<std::uint8_t> real_ball_hit;       ///< per real row: its ball holds a fake row
};
ManifoldCounts manifold_counts(const PackedRows& real, const PackedRows& fake, const std::vector<double>& real_r2,
                               const std::vector<double>& fake_r2, int n_threads);

/// What is summed over pairs: a sum of Gaussian kernels exp(-g d^2) or Laplacian kernels
/// exp(-g d) over the scales g, or the Euclidean distance d itself.
enum class PairFunction { rbf, laplacian, distance };

/// Sums of f over the pairs of the pooled sample Z whose first m rows are X and the rest Y:
/// unordered pairs i < j within X and within Y, and all (x, y) pairs.
struct PooledSums {
  double xx = 0, yy = 0, xy = 0;
};
PooledSums pooled_pair_sums(const PackedRows& Z, std::int64_t m, PairFunction f, const std::vector<double>& scales,
                            int n_threads);

/// Row sums of the kernel matrix of Z with its diagonal left out.
std::vector<double> kernel_row_sums(const PackedRows& Z, PairFunction f, const std::vector<double>& scales,
                                    int n_threads);

/// For each labelling p (row p of `labels`, P x n, 1 marks the rows taken as X): the quadratic
/// form s_p' K0 s_p of the kernel matrix with its diagonal left out.
std::vector<double> kernel_quadratic_forms(const PackedRows& Z, PairFunction f, const std::vector<double>& scales,
                                           const std::uint8_t* labels, std::int64_t n_labellings, int n_threads);

}  // namespace scalegen::metrics
