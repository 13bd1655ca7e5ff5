// Per-core speed of the hot kernels at one instruction-set level, faiss-style: one line per
// kernel x shape with the level, the shape, the time per call (median of repeats after a
// warm-up) and GFLOP/s. Single-threaded: these kernels run on one core each.
//   gemm_nn   scalegen::nn::gemm_nn, what the layers call: the register-tiled kernel
//             (kernels/gemm.hpp) where n fills its vectors on AVX2/AVX-512, else Eigen;
//             "eigen" rows time Eigen's product on the same shape for reference
//   small_k   small_k_forward<K> on im2col columns (first convolution on one channel, + bias, relu)
//   mix_tile  TileKernel<T>::log_prob on one tile of kernel.tile_rows() rows, as the E-step calls it
//
// CMake builds one executable per level (baseline, v3, v4), each compiled with that level's
// flags and linked to that level's core library; a level this CPU cannot run prints "skipped".
//   cmake -S . -B build/bench -G Ninja -DSCALEGEN_BUILD_BENCH=ON -DCMAKE_BUILD_TYPE=Release
//   ninja -C build/bench bench_kernels_all            # builds and runs the three levels
//   build/bench/bench_kernels_v4 [seconds_per_case]    # one level; default 0.2 s per case
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "mixture/tile_kernel.hpp"
#include "nn/kernels/matmul.hpp"
#include "nn/kernels/small_k.hpp"

#ifndef SCALEGEN_BENCH_LEVEL
#define SCALEGEN_BENCH_LEVEL "native"
#endif

namespace {

namespace nn = scalegen::nn;
namespace mix = scalegen::mixture;
using Clock = std::chrono::steady_clock;

volatile double g_sink = 0;  // one output value per repeat, so no call is optimised away

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Median seconds per call of fn: a warm-up (caches, page faults, scratch buffers) that also
// sizes a repeat to about 1 ms, then repeats until `budget` seconds have passed (at least 5).
template <class Fn>
double median_seconds(Fn&& fn, double budget) {
  std::int64_t inner = 1;
  for (;;) {
    const auto t0 = Clock::now();
    for (std::int64_t i = 0; i < inner; ++i) fn();
    if (seconds_since(t0) >= 1e-3 || inner >= (1 << 20)) break;
    inner *= 2;
  }
  std::vector<double> per_call;
  const auto start = Clock::now();
  while (per_call.size() < 5 || (seconds_since(start) < budget && per_call.size() < 100000)) {
    const auto t0 = Clock::now();
    for (std::int64_t i = 0; i < inner; ++i) fn();
    per_call.push_back(seconds_since(t0) / double(inner));
  }
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

void report(const char* kernel, const char* shape, double seconds, double flops) {
  std::printf("%-9s %-9s %-34s %10.2f %9.2f\n", SCALEGEN_BENCH_LEVEL, kernel, shape, seconds * 1e6,
              flops / seconds * 1e-9);
}

template <class T>
std::vector<T> uniform(std::size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> v(n);
  for (T& x : v) x = T(u(rng));
  return v;
}

// C (m x n) = A (m x T) B (T x n), all row-major. FLOPs: 2 m n T.
void bench_gemm(std::int64_t m, std::int64_t n, std::int64_t T, const char* use, double budget,
                std::mt19937_64& rng) {
  const std::vector<float> A = uniform<float>(std::size_t(m * T), rng), B = uniform<float>(std::size_t(T * n), rng);
  std::vector<float> C(std::size_t(m * n));
  const bool eigen = use[0] == 'e';
  const double s = median_seconds(
      [&] {
        if (eigen)
          nn::mat(C.data(), m, n, n).noalias() = nn::cmat(A.data(), m, T, T) * nn::cmat(B.data(), T, n, n);
        else
          nn::gemm_nn(m, n, T, A.data(), T, B.data(), n, C.data(), n);
        g_sink = g_sink + C[std::size_t(m * n) - 1];
      },
      budget);
  const bool tiled = !eigen && SCALEGEN_FAST_GEMM && nn::detail::has_fast_gemm(n);
  char shape[64];
  std::snprintf(shape, sizeof shape, "m=%lld n=%lld T=%lld %s", (long long)m, (long long)n, (long long)T,
                eigen ? "(eigen)" : tiled ? "(tiled)" : "(eigen fallback)");
  report(eigen ? "eigen" : "gemm_nn", shape, s, 2.0 * double(m) * double(n) * double(T));
}

// out (rows x F) = relu(cols (rows x K) w (K x F) + bias), K < 16. FLOPs: 2 rows K F.
void bench_small_k(std::int64_t rows, std::int64_t K, std::int64_t F, double budget, std::mt19937_64& rng) {
  const std::vector<float> cols = uniform<float>(std::size_t(rows * K), rng), w = uniform<float>(std::size_t(K * F), rng),
                           bias = uniform<float>(std::size_t(F), rng);
  std::vector<float> out(std::size_t(rows * F));
  const double s = median_seconds(
      [&] {
        nn::with_small_k(K, [&](auto k) {
          nn::small_k_forward<decltype(k)::value>(cols.data(), rows, K, nn::kIota.data(), w.data(), F, out.data(),
                                                  bias.data(), true);
        });
        g_sink = g_sink + out[std::size_t(rows * F) - 1];
      },
      budget);
  char shape[64];
  std::snprintf(shape, sizeof shape, "rows=%lld K=%lld F=%lld", (long long)rows, (long long)K, (long long)F);
  report("small_k", shape, s, 2.0 * double(rows) * double(K) * double(F));
}

// k components in d dimensions: means spread out, upper-triangular precision factors (scikit-learn's
// convention) with a unit diagonal for full, precisions in [0.5, 1.5] for diag.
mix::MixtureParams make_mixture(mix::CovarianceType type, int k, int d, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> prec(0.5, 1.5);
  mix::MixtureParams p;
  p.type = type;
  p.n_components = k;
  p.n_features = d;
  p.weights.assign(std::size_t(k), 1.0 / k);
  for (int i = 0; i < k * d; ++i) p.means.push_back(4 * normal(rng));
  p.prec_chol.assign(std::size_t(mix::prec_chol_size(type, k, d)), 0.0);
  if (type == mix::CovarianceType::Full) {
    for (int c = 0; c < k; ++c)
      for (int a = 0; a < d; ++a)
        for (int b = a; b < d; ++b) p.prec_chol[(std::size_t(c) * d + a) * d + b] = a == b ? 1.0 : 0.05 * normal(rng);
  } else {
    for (double& v : p.prec_chol) v = prec(rng);
  }
  return p;
}

// Log-densities of one tile of t rows for k components. FLOPs, per row and component:
//   full: d (d + 1)  (the triangular product x U_c: d (d + 1) / 2 multiply-adds)
//         + 2 d      (its squared norm: d multiply-adds)
//   diag: 4 d        (z = (x - m) p: a subtraction and a product; q += z z: a multiply-add)
// the useful work: the kernel also multiplies the zeros of U's 8-column blocks and transposes the tile.
template <class T>
void bench_mixture_tile(mix::CovarianceType type, int k, int d, double budget, std::mt19937_64& rng) {
  const mix::MixtureParams p = make_mixture(type, k, d, rng);
  const mix::detail::TileKernel<T> kernel(p);
  const std::int64_t t = kernel.tile_rows();
  std::normal_distribution<double> normal;
  std::vector<T> X(std::size_t(t) * d);
  for (std::int64_t i = 0; i < t; ++i)  // rows drawn around the components' means
    for (int a = 0; a < d; ++a) X[std::size_t(i) * d + a] = T(p.means[std::size_t(i % k) * d + a] + normal(rng));
  std::vector<typename mix::detail::Simd<T>::V> XT, Y;
  mix::detail::ColArr L;
  std::vector<mix::detail::Lost> lost;
  const double s = median_seconds(
      [&] {
        kernel.log_prob(X.data(), t, XT, Y, L, lost);
        g_sink = g_sink + L(t - 1, k - 1);
      },
      budget);
  const bool full = type == mix::CovarianceType::Full;
  const double per = full ? double(d) * (d + 1) + 2.0 * d : 4.0 * d;
  char shape[64];
  std::snprintf(shape, sizeof shape, "t=%lld d=%d k=%d %s %s", (long long)t, d, k, full ? "full" : "diag",
                sizeof(T) == 8 ? "f64" : "f32");
  report("mix_tile", shape, s, double(t) * k * per);
}

// Whether this CPU (and OS) can run code built for SCALEGEN_BENCH_LEVEL.
bool cpu_runs_level() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
#if defined(__AVX512F__)
  return __builtin_cpu_supports("x86-64-v4");
#elif defined(__AVX2__)
  return __builtin_cpu_supports("x86-64-v3");
#endif
#endif
  return true;
}

__attribute__((noinline)) void run_all(double budget) {
  std::mt19937_64 rng(42);
  std::printf("%-9s %-9s %-34s %10s %9s\n", "level", "kernel", "shape", "us/call", "GFLOP/s");
  // Convolutions through im2col (3x3 on 32 and on 64 channels, 24 x 24 outputs) and a dense layer.
  const std::int64_t gemm_shapes[][3] = {{576, 64, 288}, {576, 128, 576}, {256, 128, 784}};
  for (const auto& g : gemm_shapes) {
    bench_gemm(g[0], g[1], g[2], "gemm_nn", budget, rng);
    bench_gemm(g[0], g[1], g[2], "eigen", budget, rng);
  }
  // A 3x3 convolution on one channel: one 28 x 28 image gives 26 x 26 output pixels.
  bench_small_k(676, 9, 32, budget, rng);
  bench_small_k(676, 9, 64, budget, rng);
  for (const auto type : {mix::CovarianceType::Full, mix::CovarianceType::Diag}) {
    bench_mixture_tile<double>(type, 16, 16, budget, rng);
    bench_mixture_tile<float>(type, 16, 16, budget, rng);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Checked before anything else runs: the rest of this program may use the level's instructions.
  if (!cpu_runs_level()) {
    std::printf("%-9s skipped: this CPU cannot run the %s build\n", SCALEGEN_BENCH_LEVEL, SCALEGEN_BENCH_LEVEL);
    return 0;
  }
  const double budget = argc > 1 ? std::atof(argv[1]) : 0.2;
  if (!(budget > 0) || budget > 60) {
    std::fprintf(stderr, "usage: %s [seconds_per_case in (0, 60], default 0.2]\n", argv[0]);
    return 2;
  }
  run_all(budget);
  return 0;
}
