#pragma once
/// k-means for initialising mixtures: k-means++ seeding and Lloyd iterations.

#include <cstdint>
#include <vector>

namespace scalegen::mixture {

/// Greedy k-means++ seeding (2 + log k candidates per center, as scikit-learn): the row
/// indices of k centers. sample_weight may be null.
template <class T>
std::vector<std::int64_t> kmeans_plusplus(const T* X, const double* sample_weight, std::int64_t n, int d,
                                          int k, std::uint64_t seed, int n_threads);

/// Result of Lloyd's algorithm.
struct KMeansResult {
  std::vector<double> centers;       ///< k*d
  std::vector<std::int32_t> labels;  ///< n
  double inertia = 0;                ///< weighted sum of squared distances to the centers
  int n_iter = 0;
};

/// Lloyd iterations from initial centers (k*d) until the squared center shift falls
/// below tol * mean feature variance or max_iter; empty clusters take the farthest rows.
template <class T>
KMeansResult kmeans_lloyd(const T* X, const double* sample_weight, std::int64_t n, int d,
                          const std::vector<double>& init_centers, int max_iter, double tol, int n_threads);

}  // namespace scalegen::mixture
