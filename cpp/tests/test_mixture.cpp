// Gaussian mixture kernel against a direct, unblocked reference computation.
#include <cmath>
#include <random>
#include <vector>

#include "check.hpp"
#include "scalegen/mixture/gaussian_mixture.hpp"
#include "scalegen/mixture/kmeans.hpp"

using namespace scalegen::mixture;

namespace {

constexpr double kLog2Pi = 1.8378770664093454835606594728112;

// log N(x | m, cov) with cov = (U U^T)^{-1} for full U (row-major d x d).
double ref_log_gauss(const double* x, const double* m, const double* U, int d) {
  double q = 0, logdet = 0;
  for (int j = 0; j < d; ++j) {
    double y = 0;
    for (int i = 0; i < d; ++i) y += (x[i] - m[i]) * U[i * d + j];
    q += y * y;
    logdet += std::log(std::fabs(U[j * d + j]));
  }
  return -0.5 * d * kLog2Pi + logdet - 0.5 * q;
}

}  // namespace

int main() {
  const int n = 5000, d = 3, k = 2;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  std::vector<double> X(n * d), w(n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < d; ++j) X[i * d + j] = normal(rng) + (i % 2 ? 4.0 : -1.0) * (j + 1);
    w[i] = 0.5 + (i % 3);
  }
  MixtureParams p;
  p.type = CovarianceType::Full;
  p.n_components = k;
  p.n_features = d;
  p.weights = {0.4, 0.6};
  p.means = {-1, -2, -3, 4, 8, 12};
  p.prec_chol = {1.1, 0.2, -0.1, 0, 0.9, 0.3, 0, 0, 1.2, 0.8, 0.1, 0, 0, 1.0, 0.2, 0, 0, 0.7};

  // Reference E-step statistics.
  double ll = 0;
  std::vector<double> nk(k, 0), s1(k * d, 0), s2(k * d * d, 0);
  for (int i = 0; i < n; ++i) {
    double lp[k], mx = -1e300;
    for (int c = 0; c < k; ++c) {
      lp[c] = std::log(p.weights[c]) + ref_log_gauss(&X[i * d], &p.means[c * d], &p.prec_chol[c * d * d], d);
      mx = std::max(mx, lp[c]);
    }
    double s = 0;
    for (int c = 0; c < k; ++c) s += std::exp(lp[c] - mx);
    const double lse = mx + std::log(s);
    ll += w[i] * lse;
    for (int c = 0; c < k; ++c) {
      const double r = w[i] * std::exp(lp[c] - lse);
      nk[c] += r;
      for (int a = 0; a < d; ++a) {
        const double za = X[i * d + a] - p.means[c * d + a];
        s1[c * d + a] += r * za;
        for (int b = 0; b < d; ++b) s2[(c * d + a) * d + b] += r * za * (X[i * d + b] - p.means[c * d + b]);
      }
    }
  }

  for (int threads : {1, 2}) {
    const SufficientStats st = e_step_stats<double>(X.data(), w.data(), n, p, threads);
    CHECK_NEAR(st.log_likelihood, ll, 1e-10);
    for (int c = 0; c < k; ++c) CHECK_NEAR(st.nk[c], nk[c], 1e-10);
    for (int i = 0; i < k * d; ++i) CHECK_NEAR(st.s1[i], s1[i], 1e-9);
    for (int c = 0; c < k; ++c)  // lower triangle is what the kernel keeps
      for (int a = 0; a < d; ++a)
        for (int b = 0; b <= a; ++b) CHECK_NEAR(st.s2[(c * d + a) * d + b], s2[(c * d + a) * d + b], 1e-9);
  }
  // Bit-identical across thread counts.
  const SufficientStats a = e_step_stats<double>(X.data(), nullptr, n, p, 1);
  const SufficientStats b = e_step_stats<double>(X.data(), nullptr, n, p, 2);
  CHECK(a.s2 == b.s2 && a.s1 == b.s1 && a.log_likelihood == b.log_likelihood);

  // M-step: weights sum to one and covariances invert the new precision factors.
  const MStepResult m = m_step(a, 1e-6, 0.0);
  CHECK_NEAR(m.params.weights[0] + m.params.weights[1], 1.0, 1e-14);

  // Non-positive-definite covariance is a user error.
  CHECK_THROWS(std::invalid_argument, precision_cholesky(CovarianceType::Diag, 1, 2, {1.0, -1.0}));
  CHECK_THROWS(std::invalid_argument, precision_cholesky(CovarianceType::Full, 1, 2, {1.0, 2.0, 2.0, 1.0}));

  // Invalid parameters are rejected, not read out of bounds.
  MixtureParams bad = p;
  bad.prec_chol.pop_back();
  CHECK_THROWS(std::invalid_argument, e_step_stats<double>(X.data(), nullptr, n, bad, 2));

  // k-means finds the two well separated groups.
  const auto seeds = kmeans_plusplus<double>(X.data(), nullptr, n, d, k, 3, 2);
  std::vector<double> init;
  for (auto s : seeds) init.insert(init.end(), X.begin() + s * d, X.begin() + s * d + d);
  const KMeansResult km = kmeans_lloyd<double>(X.data(), nullptr, n, d, init, 100, 1e-6, 2);
  int agree = 0;
  for (int i = 0; i < n; ++i) agree += (km.labels[i] == km.labels[1]) == (i % 2 == 1);
  CHECK(agree == n);

  TEST_MAIN_END();
}
