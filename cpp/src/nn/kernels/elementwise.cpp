// Element-wise kernels (see elementwise.hpp).
#include "elementwise.hpp"

#include <algorithm>
#include <cmath>

namespace scalegen::nn {

void activate(float* __restrict z, std::int64_t rows, std::int64_t width, Activation act, float* __restrict logits) {
  const std::int64_t total = rows * width;
  switch (act) {
    case Activation::linear:
      return;
    case Activation::relu:
      for (std::int64_t i = 0; i < total; ++i) z[i] = z[i] > 0.0f ? z[i] : 0.0f;
      return;
    case Activation::sigmoid:
      for (std::int64_t i = 0; i < total; ++i) z[i] = 1.0f / (1.0f + std::exp(-z[i]));
      return;
    case Activation::tanh:
      for (std::int64_t i = 0; i < total; ++i) z[i] = std::tanh(z[i]);
      return;
    case Activation::softmax:
      if (logits) std::copy(z, z + total, logits);
      for (std::int64_t r = 0; r < rows; ++r) {
        float* row = z + r * width;
        const float top = *std::max_element(row, row + width);
        float sum = 0.0f;
        for (std::int64_t j = 0; j < width; ++j) sum += (row[j] = std::exp(row[j] - top));
        const float inv = 1.0f / sum;
        for (std::int64_t j = 0; j < width; ++j) row[j] *= inv;
      }
      return;
  }
}

void activation_backward(float* __restrict dy, const float* __restrict y, std::int64_t rows, std::int64_t width,
                         Activation act) {
  const std::int64_t total = rows * width;
  switch (act) {
    case Activation::linear:
      return;
    case Activation::relu:
      for (std::int64_t i = 0; i < total; ++i) dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
      return;
    case Activation::sigmoid:
      for (std::int64_t i = 0; i < total; ++i) dy[i] *= y[i] * (1.0f - y[i]);
      return;
    case Activation::tanh:
      for (std::int64_t i = 0; i < total; ++i) dy[i] *= 1.0f - y[i] * y[i];
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
  }
}

}  // namespace scalegen::nn
