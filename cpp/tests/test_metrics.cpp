// The metrics' tile kernels against direct double loops, on ragged tile edges, two threads.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "check.hpp"
#include "../src/metrics/distance_tile.hpp"  // header-only: the kernels' exp and sums
#include "scalegen/metrics/pairwise.hpp"

using namespace scalegen::metrics;

namespace {

double dist2(const std::vector<float>& A, std::int64_t i, const std::vector<float>& B, std::int64_t j, int d) {
  double s = 0;
  for (int c = 0; c < d; ++c) s += (double(A[i * d + c]) - B[j * d + c]) * (double(A[i * d + c]) - B[j * d + c]);
  return s;
}

void check_exp() {
  using namespace scalegen::metrics::detail;
  double worst = 0;
  for (double x = -707.99; x <= 0.0; x += 0.0137) {
    VecD v;
    for (int l = 0; l < kLanes; ++l) v[l] = x * (1.0 - 1e-7 * l);
    const VecD e = exp_nonpositive(v);
    for (int l = 0; l < kLanes; ++l) worst = std::max(worst, std::fabs(e[l] / std::exp(v[l]) - 1.0));
  }
  if (!(worst < 5e-16)) std::fprintf(stderr, "exp: worst relative error %.3g\n", worst);
  CHECK(worst < 5e-16);  // 2 ulps
  const VecD tiny = exp_nonpositive(splat(-709.0));
  const VecD zero = exp_nonpositive(splat(0.0));
  CHECK(tiny[0] == 0.0 && zero[0] == 1.0);
}

// A sum's bits must not depend on where the values sit in memory (the heap moves tiles).
void check_sum_ignores_address() {
  using scalegen::metrics::detail::sum_of;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> buf(300 + 16);
  for (std::int64_t len : {1, 7, 31, 200, 255}) {
    std::vector<double> v(len);
    for (double& x : v) x = std::exp(-30 * u(rng));  // widely spread magnitudes round visibly
    double first = 0;
    for (int offset = 0; offset < 16; ++offset) {
      std::copy(v.begin(), v.end(), buf.begin() + offset);
      const double s = sum_of(buf.data() + offset, len);
      if (offset == 0) first = s;
      CHECK(s == first);
      CHECK_NEAR(s, std::accumulate(v.begin(), v.end(), 0.0), 1e-13);
    }
  }
}

}  // namespace

int main() {
  check_exp();
  check_sum_ignores_address();
  const int d = 7;
  const std::int64_t m = 300, n = 270;  // ragged last tiles
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> X(m * d), Y(n * d);
  for (float& v : X) v = normal(rng) + 10.0f;
  for (float& v : Y) v = 1.2f * normal(rng) + 10.0f;
  Y[5 * d] = X[0];  // a near-duplicate pair is fine too
  const auto center = pooled_mean<float>(X.data(), m, Y.data(), n, d);
  const PackedRows px = pack_rows<float>(X.data(), m, nullptr, 0, d, center, 2);
  const PackedRows py = pack_rows<float>(Y.data(), n, nullptr, 0, d, center, 2);
  const PackedRows pz = pack_rows<float>(X.data(), m, Y.data(), n, d, center, 2);

  // k nearest rows of Y to each row of X, and of X within X (self excluded)
  const int k = 4;
  const Neighbours nb = nearest_neighbours(px, py, k, false, 2);
  const Neighbours self = nearest_neighbours(px, px, k, true, 2);
  for (std::int64_t i = 0; i < m; ++i) {
    std::vector<std::pair<double, std::int64_t>> all, within;
    for (std::int64_t j = 0; j < n; ++j) all.emplace_back(dist2(X, i, Y, j, d), j);
    for (std::int64_t j = 0; j < m; ++j)
      if (j != i) within.emplace_back(dist2(X, i, X, j, d), j);
    std::sort(all.begin(), all.end());
    std::sort(within.begin(), within.end());
    for (int r = 0; r < k; ++r) {
      CHECK(nb.index[i * k + r] == all[r].second);
      CHECK_NEAR(nb.dist2[i * k + r], all[r].first, 1e-9);
      CHECK_NEAR(self.dist2[i * k + r], within[r].first, 1e-9);
    }
  }

  // kernel and distance sums over the pooled sample, row sums and quadratic forms
  const double g = 0.05;
  const PooledSums rbf = pooled_pair_sums(pz, m, PairFunction::rbf, {g}, 2);
  const PooledSums dist = pooled_pair_sums(pz, m, PairFunction::distance, {}, 1);
  std::vector<float> Z(X);
  Z.insert(Z.end(), Y.begin(), Y.end());
  double xx = 0, yy = 0, xy = 0, exy = 0;
  std::vector<double> rows(m + n, 0.0);
  std::vector<std::uint8_t> labels(2 * (m + n));
  for (std::int64_t i = 0; i < m + n; ++i) {
    labels[i] = i < m;
    labels[m + n + i] = i % 3 == 0;
  }
  double q0 = 0, q1 = 0;
  for (std::int64_t i = 0; i < m + n; ++i)
    for (std::int64_t j = 0; j < m + n; ++j) {
      if (i == j) continue;
      const double v = std::exp(-g * dist2(Z, i, Z, j, d));
      rows[i] += v;
      q0 += labels[i] * labels[j] * v;
      q1 += labels[m + n + i] * labels[m + n + j] * v;
      if (j < i) continue;
      if (j < m) xx += v;
      else if (i >= m) yy += v;
      else {
        xy += v;
        exy += std::sqrt(dist2(Z, i, Z, j, d));
      }
    }
  CHECK_NEAR(rbf.xx, xx, 1e-11);
  CHECK_NEAR(rbf.yy, yy, 1e-11);
  CHECK_NEAR(rbf.xy, xy, 1e-11);
  CHECK_NEAR(dist.xy, exy, 1e-11);
  const std::vector<double> r = kernel_row_sums(pz, PairFunction::rbf, {g}, 2);
  for (std::int64_t i = 0; i < m + n; ++i) CHECK_NEAR(r[i], rows[i], 1e-11);
  const std::vector<double> q = kernel_quadratic_forms(pz, PairFunction::rbf, {g}, labels.data(), 2, 2);
  CHECK_NEAR(q[0], q0, 1e-11);
  CHECK_NEAR(q[1], q1, 1e-11);

  // the manifold counts on one and two threads
  std::vector<double> rx(m), ry(n);
  const Neighbours ky = nearest_neighbours(py, py, k, true, 2);
  for (std::int64_t i = 0; i < m; ++i) rx[i] = self.dist2[i * k + k - 1];
  for (std::int64_t j = 0; j < n; ++j) ry[j] = ky.dist2[j * k + k - 1];
  const ManifoldCounts one = manifold_counts(px, py, rx, ry, 1), two = manifold_counts(px, py, rx, ry, 2);
  CHECK(one.fake_in_real_balls == two.fake_in_real_balls);
  CHECK(one.real_in_fake_balls == two.real_in_fake_balls);
  for (std::int64_t j = 0; j < n; ++j) {
    std::int64_t inside = 0;
    for (std::int64_t i = 0; i < m; ++i) inside += std::sqrt(dist2(X, i, Y, j, d)) < std::sqrt(rx[i]);
    CHECK(inside == two.fake_in_real_balls[j]);
  }
  TEST_MAIN_END();
}
