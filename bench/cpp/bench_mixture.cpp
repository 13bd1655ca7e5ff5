// Native benchmark of the fused E-step + statistics pass and of the M-step.
// Usage: bench_mixture [n] [d] [k] [threads] [full|tied|diag|spherical]   (prints ms per pass and GFLOP/s)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "scalegen/mixture/gaussian_mixture.hpp"

using namespace scalegen::mixture;

namespace {

MixtureParams make_params(CovarianceType type, int k, int d, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  MixtureParams p;
  p.type = type;
  p.n_components = k;
  p.n_features = d;
  p.weights.assign(k, 1.0 / k);
  for (int i = 0; i < k * d; ++i) p.means.push_back(4 * normal(rng));
  p.prec_chol.assign(static_cast<std::size_t>(prec_chol_size(type, k, d)), 0.0);
  if (type == CovarianceType::Full || type == CovarianceType::Tied) {
    const int n_mat = type == CovarianceType::Full ? k : 1;
    for (int c = 0; c < n_mat; ++c)
      for (int a = 0; a < d; ++a)
        for (int b = a; b < d; ++b) p.prec_chol[(std::size_t(c) * d + a) * d + b] = a == b ? 1.0 : 0.05 * normal(rng);
  } else {
    std::fill(p.prec_chol.begin(), p.prec_chol.end(), 1.0);
  }
  return p;
}

// Useful floating-point work of one pass (multiply-adds count 2), as the cost model of the kernel.
double pass_flops(CovarianceType type, double n, double k, double d) {
  switch (type) {
    case CovarianceType::Full: return n * k * (d * (d + 1) + d * (d + 1) + 4 * d);  // triangular solve + rank update
    case CovarianceType::Tied: return n * (d * (d + 1) + k * 3 * d + d * (d + 1));
    default: return n * k * 7 * d;
  }
}

template <class T>
double median_ms(const std::vector<T>& X, std::int64_t n, const MixtureParams& p, int threads, int reps) {
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    SufficientStats st = e_step_stats<T>(X.data(), nullptr, n, p, threads);
    MStepResult res = m_step(st, 1e-6, 0.0);
    const auto t1 = std::chrono::steady_clock::now();
    if (res.params.weights.empty()) std::abort();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 200000;
  const int d = argc > 2 ? std::atoi(argv[2]) : 16;
  const int k = argc > 3 ? std::atoi(argv[3]) : 16;
  const int threads = argc > 4 ? std::atoi(argv[4]) : 2;
  const std::string only = argc > 5 ? argv[5] : "";  // one covariance type, e.g. for profiling
  std::mt19937_64 rng(0);
  std::normal_distribution<double> normal;
  std::vector<double> X(static_cast<std::size_t>(n) * d);
  for (auto& v : X) v = 4 * normal(rng);
  std::vector<float> Xf(X.begin(), X.end());
  std::printf("n=%lld d=%d k=%d threads=%d\n", static_cast<long long>(n), d, k, threads);
  std::printf("%-10s %-8s %10s %10s\n", "cov", "dtype", "ms/pass", "GFLOP/s");
  for (auto type : {CovarianceType::Full, CovarianceType::Tied, CovarianceType::Diag, CovarianceType::Spherical}) {
    const MixtureParams p = make_params(type, k, d, rng);
    const char* names[] = {"full", "tied", "diag", "spherical"};
    if (!only.empty() && only != names[int(type)]) continue;
    const double flops = pass_flops(type, double(n), k, d);
    const double md = median_ms(X, n, p, threads, 7);
    const double mf = median_ms(Xf, n, p, threads, 7);
    std::printf("%-10s %-8s %10.2f %10.1f\n", names[int(type)], "float64", md, flops / md / 1e6);
    std::printf("%-10s %-8s %10.2f %10.1f\n", names[int(type)], "float32", mf, flops / mf / 1e6);
  }
  return 0;
}
