// Element-wise kernels (see elementwise.hpp).
#include "elementwise.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <vector>

#include "scalegen/common/parallel.hpp"

namespace scalegen::nn {

bool needs_pre_activation(Activation kind) {
  return kind == Activation::softmax || kind == Activation::elu || kind == Activation::gelu ||
         kind == Activation::swish;
}

namespace {
constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
inline float sigmoid(float x) {
  return 1.0f / (1.0f + std::exp(-x));
}
}  // namespace

void activate(float* __restrict z, std::int64_t rows, std::int64_t width, Act act, float* __restrict keep) {
  const std::int64_t total = rows * width;
  if (keep && needs_pre_activation(act.kind)) std::copy(z, z + total, keep);
  const float a = act.alpha;
  switch (act.kind) {
    case Activation::linear: return;
    case Activation::relu:
      for (std::int64_t i = 0; i < total; ++i) z[i] = z[i] > 0.0f ? z[i] : 0.0f;
      return;
    case Activation::sigmoid:
      for (std::int64_t i = 0; i < total; ++i) z[i] = sigmoid(z[i]);
      return;
    case Activation::tanh: {  // Eigen's vectorized rational approximation (libm's is scalar)
      Eigen::Map<Eigen::ArrayXf> v(z, total);
      v = v.tanh();
      return;
    }
    case Activation::leaky_relu:
      for (std::int64_t i = 0; i < total; ++i) z[i] = z[i] > 0.0f ? z[i] : a * z[i];
      return;
    case Activation::elu:
      for (std::int64_t i = 0; i < total; ++i) z[i] = z[i] > 0.0f ? z[i] : a * std::expm1(z[i]);
      return;
    case Activation::gelu:  // exact (Keras' default): x Phi(x)
      for (std::int64_t i = 0; i < total; ++i) z[i] = 0.5f * z[i] * (1.0f + std::erf(z[i] * kInvSqrt2));
      return;
    case Activation::softplus:  // log(1 + e^x) without overflow
      for (std::int64_t i = 0; i < total; ++i) z[i] = std::max(z[i], 0.0f) + std::log1p(std::exp(-std::abs(z[i])));
      return;
    case Activation::swish:
      for (std::int64_t i = 0; i < total; ++i) z[i] *= sigmoid(z[i]);
      return;
    case Activation::softmax:
      for (std::int64_t r = 0; r < rows; ++r) {
        float* row = z + r * width;
        const float top = *std::max_element(row, row + width);
        float sum = 0.0f;
        for (std::int64_t j = 0; j < width; ++j) sum += (row[j] = std::exp(row[j] - top));
        const float inv = 1.0f / sum;
        for (std::int64_t j = 0; j < width; ++j) row[j] *= inv;
      }
      return;
    case Activation::log_softmax:  // z - max - log(sum exp(z - max))
      for (std::int64_t r = 0; r < rows; ++r) {
        float* row = z + r * width;
        const float top = *std::max_element(row, row + width);
        float sum = 0.0f;
        for (std::int64_t j = 0; j < width; ++j) sum += std::exp(row[j] - top);
        const float shift = top + std::log(sum);
        for (std::int64_t j = 0; j < width; ++j) row[j] -= shift;
      }
      return;
  }
}

void activation_backward(float* __restrict dy, const float* __restrict y, const float* __restrict pre,
                         std::int64_t rows, std::int64_t width, Act act) {
  const std::int64_t total = rows * width;
  const float a = act.alpha;
  switch (act.kind) {
    case Activation::linear: return;
    case Activation::relu:
      for (std::int64_t i = 0; i < total; ++i) dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
      return;
    case Activation::sigmoid:
      for (std::int64_t i = 0; i < total; ++i) dy[i] *= y[i] * (1.0f - y[i]);
      return;
    case Activation::tanh:
      for (std::int64_t i = 0; i < total; ++i) dy[i] *= 1.0f - y[i] * y[i];
      return;
    case Activation::leaky_relu:  // the slope is >= 0: y has x's sign
      for (std::int64_t i = 0; i < total; ++i) dy[i] *= y[i] > 0.0f ? 1.0f : a;
      return;
    case Activation::elu:
      for (std::int64_t i = 0; i < total; ++i) dy[i] *= pre[i] > 0.0f ? 1.0f : a * std::exp(pre[i]);
      return;
    case Activation::gelu:  // Phi(x) + x phi(x)
      for (std::int64_t i = 0; i < total; ++i) {
        const float x = pre[i];
        dy[i] *= 0.5f * (1.0f + std::erf(x * kInvSqrt2)) + x * kInvSqrt2Pi * std::exp(-0.5f * x * x);
      }
      return;
    case Activation::softplus:  // sigmoid(x) = 1 - e^-y
      for (std::int64_t i = 0; i < total; ++i) dy[i] *= -std::expm1(-y[i]);
      return;
    case Activation::swish:  // s (1 + x (1 - s))
      for (std::int64_t i = 0; i < total; ++i) {
        const float s = sigmoid(pre[i]);
        dy[i] *= s * (1.0f + pre[i] * (1.0f - s));
      }
      return;
    case Activation::softmax:
      for (std::int64_t r = 0; r < rows; ++r) {
        float* d = dy + r * width;
        const float* p = y + r * width;
        float dot = 0.0f;
        for (std::int64_t j = 0; j < width; ++j) dot += d[j] * p[j];
        for (std::int64_t j = 0; j < width; ++j) d[j] = p[j] * (d[j] - dot);
      }
      return;
    case Activation::log_softmax:  // dy - softmax * sum(dy), softmax = exp(y)
      for (std::int64_t r = 0; r < rows; ++r) {
        float* d = dy + r * width;
        const float* ly = y + r * width;
        float sum = 0.0f;
        for (std::int64_t j = 0; j < width; ++j) sum += d[j];
        for (std::int64_t j = 0; j < width; ++j) d[j] -= std::exp(ly[j]) * sum;
      }
      return;
  }
}

void output_gradient(float* dy, const float* y, const float* pre, std::int64_t n, std::int64_t sample,
                     std::int64_t width, bool pre_activation, Act act, float* bias_grad, int n_threads) {
  const std::int64_t groups = std::min<std::int64_t>(n, 8);
  std::vector<float> sums(bias_grad != nullptr ? std::size_t(groups * width) : 0, 0.0f);
  parallel_for_flushed(n_threads, groups, [&](std::int64_t g) {
    const auto [s0, s1] = split_range(n, groups, g);
    const std::int64_t at = s0 * sample, rows = (s1 - s0) * sample / width;
    if (!pre_activation) activation_backward(dy + at, y + at, pre != nullptr ? pre + at : nullptr, rows, width, act);
    if (bias_grad != nullptr) add_column_sums(dy + at, rows, width, sums.data() + g * width);
  });
  if (bias_grad == nullptr) return;
  std::copy(sums.begin(), sums.begin() + width, bias_grad);
  for (std::int64_t g = 1; g < groups; ++g)
    for (std::int64_t i = 0; i < width; ++i) bias_grad[i] += sums[std::size_t(g * width + i)];
}

void bias_activate_samples(float* y, std::int64_t n, std::int64_t sample, std::int64_t width, const float* bias,
                           Act act, float* keep, int n_threads) {
  const std::int64_t groups = std::min<std::int64_t>(n, 8);
  parallel_for_flushed(n_threads, groups, [&](std::int64_t g) {
    const auto [s0, s1] = split_range(n, groups, g);
    const std::int64_t at = s0 * sample;
    bias_activate(y + at, (s1 - s0) * sample / width, width, bias, act, keep != nullptr ? keep + at : nullptr);
  });
}

}  // namespace scalegen::nn
