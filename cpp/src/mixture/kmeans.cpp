#include "scalegen/mixture/kmeans.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>

#include "scalegen/common/parallel.hpp"

namespace scalegen::mixture {
namespace {

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Fixed row blocks: sums over rows are merged block by block, whatever the thread count.
constexpr std::int64_t kBlock = 4096;

double uniform01(std::mt19937_64& rng) { return double(rng() >> 11) * (1.0 / 9007199254740992.0); }

template <class T>
double sq_dist(const T* x, const double* c, int d) {
  double s = 0;
  for (int j = 0; j < d; ++j) {
    const double z = double(x[j]) - c[j];
    s += z * z;
  }
  return s;
}

std::int64_t n_blocks(std::int64_t n) { return (n + kBlock - 1) / kBlock; }

// Sum of f(i) over rows in fixed blocks, merged in block order.
template <class F>
double block_sum(std::int64_t n, int n_threads, F&& f) {
  std::vector<double> part(static_cast<std::size_t>(n_blocks(n)), 0.0);
  parallel_for(n_threads, n_blocks(n), [&](std::int64_t b) {
    double s = 0;
    for (std::int64_t i = b * kBlock, e = std::min(n, i + kBlock); i < e; ++i) s += f(i);
    part[static_cast<std::size_t>(b)] = s;
  });
  return std::accumulate(part.begin(), part.end(), 0.0);
}

// Row index i with prefix(i-1) <= u < prefix(i) over weights v, clamped into [0, n).
std::int64_t search_cumulative(const std::vector<double>& cum, double u) {
  const auto it = std::upper_bound(cum.begin(), cum.end(), u);
  return std::min<std::int64_t>(std::int64_t(it - cum.begin()), std::int64_t(cum.size()) - 1);
}

}  // namespace

template <class T>
std::vector<std::int64_t> kmeans_plusplus(const T* X, const double* sw, std::int64_t n, int d, int k,
                                          std::uint64_t seed, int n_threads) {
  if (n < k || k < 1) throw std::invalid_argument("k-means++ needs at least k rows and k >= 1");
  std::mt19937_64 rng(seed);
  auto weight = [&](std::int64_t i) { return sw ? sw[i] : 1.0; };
  const int n_trials = 2 + int(std::log(double(k)));
  std::vector<std::int64_t> centers;
  std::vector<double> cum(static_cast<std::size_t>(n));
  // Cumulative sums of weight(i) * v[i]: rows are drawn by inverting them.
  auto cumulate = [&](const std::vector<double>& v) {
    double acc = 0;
    for (std::int64_t i = 0; i < n; ++i) cum[i] = (acc += weight(i) * v[i]);
  };
  // First center: a row drawn with probability proportional to its weight.
  std::vector<double> closest(static_cast<std::size_t>(n), 1.0);
  cumulate(closest);
  centers.push_back(search_cumulative(cum, uniform01(rng) * cum.back()));

  std::vector<double> c0(X + centers[0] * d, X + centers[0] * d + d);
  block_sum(n, n_threads, [&](std::int64_t i) {
    closest[i] = sq_dist(X + i * d, c0.data(), d);
    return weight(i) * closest[i];
  });
  std::vector<double> cand_dist(static_cast<std::size_t>(n) * n_trials);
  for (int c = 1; c < k; ++c) {
    cumulate(closest);
    std::vector<std::int64_t> cand(n_trials);
    for (int t = 0; t < n_trials; ++t) cand[t] = search_cumulative(cum, uniform01(rng) * cum.back());
    std::vector<double> cand_pot(n_trials);
    for (int t = 0; t < n_trials; ++t) {
      std::vector<double> cc(X + cand[t] * d, X + cand[t] * d + d);
      double* dist = cand_dist.data() + std::size_t(t) * n;
      cand_pot[t] = block_sum(n, n_threads, [&](std::int64_t i) {
        dist[i] = std::min(closest[i], sq_dist(X + i * d, cc.data(), d));
        return weight(i) * dist[i];
      });
    }
    const int best = int(std::min_element(cand_pot.begin(), cand_pot.end()) - cand_pot.begin());
    std::copy_n(cand_dist.data() + std::size_t(best) * n, n, closest.begin());
    centers.push_back(cand[best]);
  }
  return centers;
}

template <class T>
KMeansResult kmeans_lloyd(const T* X, const double* sw, std::int64_t n, int d, const std::vector<double>& init,
                          int max_iter, double tol, int n_threads) {
  const int k = int(init.size() / std::size_t(d));
  if (k < 1 || init.size() != std::size_t(k) * d) throw std::invalid_argument("centers must have k*d values");
  auto weight = [&](std::int64_t i) { return sw ? sw[i] : 1.0; };
  // All distances and sums are taken around the mean row mu: |x - c|^2 expanded as
  // |x|^2 - 2 x.c + |c|^2 cancels catastrophically far from the origin (data offset by
  // 1e9 would lose every digit of the clusters' spread), as scikit-learn also centres.
  // The tolerance is relative to the mean feature variance, as scikit-learn's.
  std::vector<double> mu(static_cast<std::size_t>(d), 0.0);
  double mean_var = 0;
  for (int j = 0; j < d; ++j) {
    mu[j] = block_sum(n, n_threads, [&](std::int64_t i) { return double(X[i * d + j]); }) / double(n);
    const double m2 = block_sum(n, n_threads, [&](std::int64_t i) {
                        const double z = double(X[i * d + j]) - mu[j];
                        return z * z;
                      }) /
                      double(n);
    mean_var += m2 / d;
  }
  const double tol_scaled = tol * mean_var;
  const Eigen::Map<const Eigen::RowVectorXd> mu_row(mu.data(), d);

  KMeansResult res;
  res.centers = init;  // centred while iterating
  for (int c = 0; c < k; ++c)
    for (int j = 0; j < d; ++j) res.centers[std::size_t(c) * d + j] -= mu[j];
  res.labels.assign(static_cast<std::size_t>(n), 0);
  std::vector<double> dist(static_cast<std::size_t>(n));
  const std::int64_t nb = n_blocks(n);
  std::vector<double> block_sums(static_cast<std::size_t>(nb) * k * d), block_w(static_cast<std::size_t>(nb) * k);

  auto assign = [&]() {
    const RowMat<double> C = Eigen::Map<const RowMat<double>>(res.centers.data(), k, d);
    const Eigen::RowVectorXd cnorm = C.rowwise().squaredNorm().transpose();
    parallel_for(n_threads, nb, [&](std::int64_t b) {
      const std::int64_t i0 = b * kBlock, t = std::min(n, i0 + kBlock) - i0;
      RowMat<double> Xt = Eigen::Map<const RowMat<T>>(X + i0 * d, t, d).template cast<double>();
      Xt.rowwise() -= mu_row;
      RowMat<double> G = Xt * C.transpose();
      double* sums = block_sums.data() + std::size_t(b) * k * d;
      double* ws = block_w.data() + std::size_t(b) * k;
      std::fill_n(sums, std::size_t(k) * d, 0.0);
      std::fill_n(ws, k, 0.0);
      for (std::int64_t r = 0; r < t; ++r) {
        int best = 0;
        double bd = std::numeric_limits<double>::infinity();
        for (int c = 0; c < k; ++c) {
          const double v = cnorm[c] - 2 * G(r, c);
          if (v < bd) bd = v, best = c;
        }
        const std::int64_t i = i0 + r;
        res.labels[i] = best;
        dist[i] = std::max(0.0, bd + Xt.row(r).squaredNorm());
        const double w = weight(i);
        ws[best] += w;
        for (int j = 0; j < d; ++j) sums[std::size_t(best) * d + j] += w * Xt(r, j);
      }
    });
  };

  for (res.n_iter = 1; res.n_iter <= max_iter; ++res.n_iter) {
    const std::vector<std::int32_t> old_labels = res.labels;
    assign();
    std::vector<double> sums(std::size_t(k) * d, 0.0), ws(k, 0.0);
    for (std::int64_t b = 0; b < nb; ++b) {
      for (std::size_t i = 0; i < sums.size(); ++i) sums[i] += block_sums[std::size_t(b) * k * d + i];
      for (int c = 0; c < k; ++c) ws[c] += block_w[std::size_t(b) * k + c];
    }
    // Empty clusters take the rows farthest from their centers.
    std::vector<std::int64_t> order;
    for (int c = 0; c < k; ++c) {
      if (ws[c] > 0) continue;
      if (order.empty()) {
        order.resize(static_cast<std::size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return dist[a] > dist[b]; });
      }
      const std::int64_t far = order[static_cast<std::size_t>(c) % order.size()];
      for (int j = 0; j < d; ++j) sums[std::size_t(c) * d + j] = double(X[far * d + j]) - mu[j];
      ws[c] = 1.0;
    }
    double shift = 0;
    for (int c = 0; c < k; ++c)
      for (int j = 0; j < d; ++j) {
        const double nc = sums[std::size_t(c) * d + j] / ws[c];
        const double z = nc - res.centers[std::size_t(c) * d + j];
        shift += z * z;
        res.centers[std::size_t(c) * d + j] = nc;
      }
    if ((res.n_iter > 1 && old_labels == res.labels) || shift <= tol_scaled) break;
  }
  res.n_iter = std::min(res.n_iter, max_iter);
  assign();  // labels and inertia for the final centers
  res.inertia = block_sum(n, n_threads, [&](std::int64_t i) { return weight(i) * dist[i]; });
  for (int c = 0; c < k; ++c)
    for (int j = 0; j < d; ++j) res.centers[std::size_t(c) * d + j] += mu[j];
  return res;
}

#define SCALEGEN_INSTANTIATE(T)                                                                                  \
  template std::vector<std::int64_t> kmeans_plusplus<T>(const T*, const double*, std::int64_t, int, int,        \
                                                        std::uint64_t, int);                                    \
  template KMeansResult kmeans_lloyd<T>(const T*, const double*, std::int64_t, int, const std::vector<double>&, \
                                        int, double, int);
SCALEGEN_INSTANTIATE(float)
SCALEGEN_INSTANTIATE(double)
#undef SCALEGEN_INSTANTIATE

}  // namespace scalegen::mixture
