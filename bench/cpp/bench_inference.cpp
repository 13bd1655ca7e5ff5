// Native benchmark of scalegen.nn inference (no Python): batch-1 latency and batch-256
// throughput of a network saved with model.save_native, or of the seed's CNN with random
// weights when no file is given.
// Usage: bench_inference [MODEL.sgnn|seed] [threads] [calls]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "scalegen/nn/network.hpp"

using namespace scalegen::nn;

namespace {

// 28x28x1 -> Conv32 3x3 relu -> MaxPool 2 -> Conv64 3x3 relu -> MaxPool 2 -> Flatten -> Dense128 relu -> Dense10 softmax
std::unique_ptr<Network> seed_cnn() {
  auto conv = [](int filters) {
    LayerConfig c;
    c.kind = LayerKind::conv2d;
    c.filters = filters;
    c.kernel_h = c.kernel_w = 3;
    c.activation = Activation::relu;
    return c;
  };
  LayerConfig pool;
  pool.kind = LayerKind::max_pool2d;
  pool.kernel_h = pool.kernel_w = pool.stride_h = pool.stride_w = 2;
  LayerConfig flatten;
  flatten.kind = LayerKind::flatten;
  LayerConfig hidden, out;
  hidden.units = 128;
  hidden.activation = Activation::relu;
  out.units = 10;
  out.activation = Activation::softmax;
  auto net = std::make_unique<Network>(std::vector<LayerConfig>{conv(32), pool, conv(64), pool, flatten, hidden, out},
                                       Shape{28, 28, 1, 3});
  std::mt19937 rng(0);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  for (float& p : net->params()) p = normal(rng);
  return net;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string model = argc > 1 ? argv[1] : "seed";
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int calls = argc > 3 ? std::atoi(argv[3]) : 2000;
  try {
    const std::unique_ptr<Network> net = model == "seed" ? seed_cnn() : load_network(model);
    const std::int64_t in = net->input_shape().size(), width = net->output_shape().size();
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    std::vector<float> x(std::size_t(256 * in)), y(std::size_t(256 * width));
    for (float& v : x) v = uniform(rng);

    std::vector<double> latency;
    for (int i = 0; i < calls + 100; ++i) {  // the first 100 calls warm caches and threads
      const auto t0 = std::chrono::steady_clock::now();
      net->predict(x.data() + (i % 256) * in, 1, y.data(), 1, threads);
      if (i >= 100) latency.push_back(seconds_since(t0) * 1e6);
    }
    std::sort(latency.begin(), latency.end());
    const double median = latency[latency.size() / 2], p99 = latency[latency.size() * 99 / 100];

    const int rounds = std::max(10, calls / 100);
    net->predict(x.data(), 256, y.data(), 256, threads);
    std::vector<double> rates;
    for (int r = 0; r < rounds; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      net->predict(x.data(), 256, y.data(), 256, threads);
      rates.push_back(256 / seconds_since(t0));
    }
    std::sort(rates.begin(), rates.end());
    std::printf("%s, %d threads: batch 1 median %.1f us, p99 %.1f us; batch 256 %.0f images/s (median of %d)\n",
                model.c_str(), threads, median, p99, rates[rates.size() / 2], rounds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_inference: %s\n", e.what());
    return 1;
  }
  return 0;
}
