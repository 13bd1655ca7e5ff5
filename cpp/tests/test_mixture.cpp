// Gaussian mixture kernel against a direct, unblocked reference computation.
#include <algorithm>
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

// The precision factor of component c as a full d x d matrix, whatever the covariance type.
std::vector<double> full_factor(const MixtureParams& p, int c) {
  const int d = p.n_features;
  std::vector<double> U(std::size_t(d) * d, 0.0);
  for (int a = 0; a < d; ++a)
    for (int b = 0; b < d; ++b) switch (p.type) {
        case CovarianceType::Full: U[a * d + b] = p.prec_chol[(std::size_t(c) * d + a) * d + b]; break;
        case CovarianceType::Tied: U[a * d + b] = p.prec_chol[std::size_t(a) * d + b]; break;
        case CovarianceType::Diag: U[a * d + b] = a == b ? p.prec_chol[std::size_t(c) * d + a] : 0.0; break;
        case CovarianceType::Spherical: U[a * d + b] = a == b ? p.prec_chol[c] : 0.0; break;
      }
  return U;
}

// Every covariance type, feature counts around the kernels' blocks (of 4 and 8 features,
// 8 or 16 rows per register) and both precisions against a direct computation in double:
// E-step statistics with sample weights, and per-row log-likelihoods. Clusters `spread`
// apart: 3 gives every row some weight in every component, 40 responsibilities that are
// zero for most rows (one row in seven lies between two clusters).
template <class T>
void check_all_types(int d, std::int64_t n, double tol, double spread = 3.0) {
  const int k = 3;
  std::mt19937_64 rng(11 + d);
  std::normal_distribution<double> normal;
  std::vector<T> X(std::size_t(n) * d);
  std::vector<double> w(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double offset = spread * (i % 7 == 0 ? 0.5 : double(i % k));
    for (int a = 0; a < d; ++a) X[i * d + a] = T(normal(rng) + offset + 100.0);
    w[i] = 0.25 + double(i % 5);
  }
  for (const auto type :
       {CovarianceType::Full, CovarianceType::Tied, CovarianceType::Diag, CovarianceType::Spherical}) {
    MixtureParams p;
    p.type = type;
    p.n_components = k;
    p.n_features = d;
    p.weights = {0.2, 0.3, 0.5};
    for (int c = 0; c < k; ++c)
      for (int a = 0; a < d; ++a) p.means.push_back(100.0 + spread * c + 0.3 * normal(rng));
    p.prec_chol.assign(static_cast<std::size_t>(prec_chol_size(type, k, d)), 0.0);
    const int n_mat = type == CovarianceType::Full ? k : 1;
    if (type == CovarianceType::Full || type == CovarianceType::Tied) {
      for (int m = 0; m < n_mat; ++m)
        for (int a = 0; a < d; ++a)
          for (int b = a; b < d; ++b)
            p.prec_chol[(std::size_t(m) * d + a) * d + b] = a == b ? 0.8 + 0.1 * m : 0.05 * normal(rng);
    } else {
      for (std::size_t i = 0; i < p.prec_chol.size(); ++i) p.prec_chol[i] = 0.7 + 0.01 * double(i % 7);
    }
    std::vector<double> shift_t(static_cast<std::size_t>(d), 0.0);  // the tied second moment's center
    for (int c = 0; c < k; ++c)
      for (int a = 0; a < d; ++a) shift_t[a] += p.means[std::size_t(c) * d + a] / k;
    double ll = 0;
    std::vector<double> nk(k, 0.0), s1(std::size_t(k) * d, 0.0), s2(std::size_t(k) * d * d, 0.0), lnorm(n);
    std::vector<double> lp(k), y(d);
    for (std::int64_t i = 0; i < n; ++i) {
      double mx = -HUGE_VAL;
      for (int c = 0; c < k; ++c) {
        const std::vector<double> U = full_factor(p, c);
        double q = 0, logdet = 0;
        for (int j = 0; j < d; ++j) {
          double v = 0;
          for (int a = 0; a < d; ++a) v += (double(X[i * d + a]) - p.means[std::size_t(c) * d + a]) * U[a * d + j];
          q += v * v;
          logdet += std::log(U[j * d + j]);
        }
        lp[c] = std::log(p.weights[c]) - 0.5 * d * kLog2Pi + logdet - 0.5 * q;
        mx = std::max(mx, lp[c]);
      }
      double s = 0;
      for (int c = 0; c < k; ++c) s += std::exp(lp[c] - mx);
      lnorm[i] = mx + std::log(s);
      ll += w[i] * lnorm[i];
      for (int c = 0; c < k; ++c) {
        const double r = w[i] * std::exp(lp[c] - lnorm[i]);
        nk[c] += r;
        for (int a = 0; a < d; ++a) {
          const double za = double(X[i * d + a]) - p.means[std::size_t(c) * d + a];
          s1[std::size_t(c) * d + a] += r * za;
          if (type == CovarianceType::Full)
            for (int b = 0; b <= a; ++b)
              s2[(std::size_t(c) * d + a) * d + b] += r * za * (double(X[i * d + b]) - p.means[std::size_t(c) * d + b]);
          if (type == CovarianceType::Diag || type == CovarianceType::Spherical)
            s2[std::size_t(c) * d + a] += r * za * za;
        }
      }
      if (type == CovarianceType::Tied)
        for (int a = 0; a < d; ++a)
          for (int b = 0; b <= a; ++b)
            s2[std::size_t(a) * d + b] +=
                w[i] * (double(X[i * d + a]) - shift_t[a]) * (double(X[i * d + b]) - shift_t[b]);
    }
    for (int threads : {1, 2}) {
      const SufficientStats st = e_step_stats<T>(X.data(), w.data(), n, p, threads);
      CHECK_NEAR(st.log_likelihood, ll, tol);
      for (int c = 0; c < k; ++c) CHECK_NEAR(st.nk[c], nk[c], tol);
      for (std::size_t i = 0; i < s1.size(); ++i) CHECK_NEAR(st.s1[i], s1[i], tol * 100);
      const std::size_t n_s2 = type == CovarianceType::Full   ? std::size_t(k) * d * d
                               : type == CovarianceType::Tied ? std::size_t(d) * d
                                                              : std::size_t(k) * d;
      for (std::size_t i = 0; i < n_s2; ++i) CHECK_NEAR(st.s2[i], s2[i], tol * 100);
      std::vector<T> got(n);
      log_prob_norm<T>(X.data(), n, p, got.data(), nullptr, threads);
      for (std::int64_t i = 0; i < n; ++i) CHECK_NEAR(double(got[i]), lnorm[i], tol);
    }
  }
}

}  // namespace

int main() {
  for (int d : {1, 3, 8, 16, 21}) {
    check_all_types<double>(d, 2600, 1e-9);
    check_all_types<float>(d, 2600, 2e-5);
    check_all_types<double>(d, 2600, 1e-9, 40.0);
  }

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
