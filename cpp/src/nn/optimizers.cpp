// Optimizer updates (see optimizers.hpp) and optimizer names.
#include "optimizers.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "scalegen/common/parallel.hpp"

namespace scalegen::nn {
namespace {

void adam_update(float* __restrict w, const float* __restrict g, float* __restrict m, float* __restrict v,
                 std::int64_t n, float lr_t, float b1, float b2, float eps) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float mi = m[i] + (g[i] - m[i]) * (1.0f - b1);
    const float vi = v[i] + (g[i] * g[i] - v[i]) * (1.0f - b2);
    m[i] = mi;
    v[i] = vi;
    w[i] -= lr_t * mi / (std::sqrt(vi) + eps);
  }
}

void sgd_update(float* __restrict w, const float* __restrict g, float* __restrict m, std::int64_t n, float lr,
                float mu, bool nesterov) {
  if (mu == 0.0f) {
    for (std::int64_t i = 0; i < n; ++i) w[i] -= lr * g[i];
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    const float mi = mu * m[i] - lr * g[i];
    m[i] = mi;
    w[i] += nesterov ? mu * mi - lr * g[i] : mi;
  }
}

void rmsprop_update(float* __restrict w, const float* __restrict g, float* __restrict m, float* __restrict v,
                    std::int64_t n, float lr, float rho, float eps, float mu) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float vi = rho * v[i] + (1.0f - rho) * g[i] * g[i];
    v[i] = vi;
    const float step = lr * g[i] / std::sqrt(vi + eps);
    if (mu > 0.0f) {
      m[i] = mu * m[i] + step;
      w[i] -= m[i];
    } else {
      w[i] -= step;
    }
  }
}

}  // namespace

void optimizer_step(const OptimizerConfig& opt, std::int64_t step,
                    const std::vector<std::pair<std::int64_t, std::int64_t>>& ranges, float* w, const float* g,
                    float* m, float* v, int n_threads) {
  // chunks small enough that two threads share the work evenly
  constexpr std::int64_t kChunk = 8192;
  std::vector<std::pair<std::int64_t, std::int64_t>> chunks;
  for (const auto& [begin, end] : ranges)
    for (std::int64_t a = begin; a < end; a += kChunk) chunks.emplace_back(a, std::min(end, a + kChunk) - a);
  const double t = double(step);
  // Keras' Adam: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); w -= lr_t m / (sqrt(v) + eps).
  // Keras' SGD: m = momentum m - lr g; w += m (nesterov: w += momentum m - lr g).
  // Keras' RMSprop: v = rho v + (1 - rho) g^2; w -= lr g / sqrt(v + eps) (through m with momentum).
  const float lr_t = float(opt.learning_rate * std::sqrt(1.0 - std::pow(opt.beta_2, t)) /
                           (1.0 - std::pow(opt.beta_1, t)));
  parallel_for_flushed(n_threads, std::int64_t(chunks.size()), [&](std::int64_t c) {
    const auto [a, len] = chunks[std::size_t(c)];
    if (opt.kind == OptimizerConfig::adam)
      adam_update(w + a, g + a, m + a, v + a, len, lr_t, float(opt.beta_1), float(opt.beta_2), float(opt.epsilon));
    else if (opt.kind == OptimizerConfig::rmsprop)
      rmsprop_update(w + a, g + a, m + a, v + a, len, float(opt.learning_rate), float(opt.rho), float(opt.epsilon),
                     float(opt.momentum));
    else
      sgd_update(w + a, g + a, m + a, len, float(opt.learning_rate), float(opt.momentum), opt.nesterov);
  });
}

OptimizerConfig::Kind parse_optimizer(const std::string& name) {
  if (name == "adam") return OptimizerConfig::adam;
  if (name == "sgd") return OptimizerConfig::sgd;
  if (name == "rmsprop") return OptimizerConfig::rmsprop;
  throw std::invalid_argument("unknown optimizer '" + name + "': use adam, sgd or rmsprop");
}


}  // namespace scalegen::nn
