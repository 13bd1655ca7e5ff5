// The losses a network is trained against (Keras' definitions), their gradients, and the
// accuracy counts reported with them.
#include "losses.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "scalegen/common/parallel.hpp"

namespace scalegen::nn {
namespace {

// Index of the first maximum of a row (numpy's argmax).
std::int64_t argmax(const float* row, std::int64_t width) {
  return std::int64_t(std::max_element(row, row + width) - row);
}

constexpr double kClip = 1e-7;  // Keras' epsilon for cross-entropies on probabilities

// One row of outputs p (width values), its logits z (softmax or sigmoid inputs, or null), its
// gradient g (or null), the sample's weight w, and scale = w / n for the gradient of the
// mean.
struct Row {
  const float* p;
  const float* z;
  float* g;
  std::int64_t width;
  double w;
  float scale;
};

// Mean squared or absolute error against the row of values v.
double squared_error(const Row& r, const float* v) {
  double sum = 0.0;
  for (std::int64_t j = 0; j < r.width; ++j) {
    const double d = double(r.p[j]) - v[j];
    sum += d * d;
    if (r.g) r.g[j] = float(2.0 * d / double(r.width)) * r.scale;
  }
  return sum / double(r.width);
}
double absolute_error(const Row& r, const float* v) {
  double sum = 0.0;
  for (std::int64_t j = 0; j < r.width; ++j) {
    const double d = double(r.p[j]) - v[j];
    sum += std::abs(d);
    if (r.g) r.g[j] = float(double((d > 0) - (d < 0)) / double(r.width)) * r.scale;
  }
  return sum / double(r.width);
}

// Binary cross-entropy of each value against v, averaged over the row. From logits:
// max(z, 0) - z v + log1p(exp(-|z|)); on probabilities (Keras): clipped to [eps, 1 - eps].
double binary_crossentropy(const Row& r, const float* v) {
  double sum = 0.0;
  const double inv_width = 1.0 / double(r.width);
  for (std::int64_t j = 0; j < r.width; ++j) {
    const double t = v[j];
    if (r.z) {
      const double z = r.z[j];
      sum += std::max(z, 0.0) - z * t + std::log1p(std::exp(-std::abs(z)));
      if (r.g) r.g[j] = float((1.0 / (1.0 + std::exp(-z)) - t) * inv_width) * r.scale;
    } else {
      const double p = r.p[j], c = std::clamp(p, kClip, 1.0 - kClip);
      sum -= t * std::log(c) + (1.0 - t) * std::log(1.0 - c);
      if (r.g) r.g[j] = c == p ? float((c - t) / (c * (1.0 - c)) * inv_width) * r.scale : 0.0f;
    }
  }
  return sum * inv_width;
}

// Categorical cross-entropy against a target distribution q (target(j); one-hot for the
// sparse loss).
template <class Target>
double categorical_crossentropy(const Row& r, Target&& target) {
  const std::int64_t width = r.width;
  if (r.z) {
    // from the logits z: -sum q_j log softmax(z)_j, gradient softmax(z) * sum(q) - q
    const float* z = r.z;
    const double top = *std::max_element(z, z + width);
    double lse = 0.0, qsum = 0.0, dot = 0.0;
    for (std::int64_t j = 0; j < width; ++j) lse += std::exp(double(z[j]) - top);
    const double log_sum = std::log(lse);
    lse = top + log_sum;
    for (std::int64_t j = 0; j < width; ++j) {
      const double qj = target(j);
      qsum += qj;
      dot += qj * z[j];
    }
    if (r.g) {
      if (r.p != z) {  // the softmax output (fused with its layer): the same bits as before
        for (std::int64_t j = 0; j < width; ++j) r.g[j] = (r.p[j] * float(qsum) - target(j)) * r.scale;
      } else {
        for (std::int64_t j = 0; j < width; ++j)
          r.g[j] = (float(std::exp(double(z[j]) - lse)) * float(qsum) - target(j)) * r.scale;
      }
    }
    return qsum * lse - dot;
  }
  // Keras on probabilities: normalise the row, clip to [eps, 1 - eps], -sum q log
  const float* p = r.p;
  double total = 0.0;
  for (std::int64_t j = 0; j < width; ++j) total += p[j];
  double l = 0.0, gq = 0.0;
  for (std::int64_t j = 0; j < width; ++j) {
    const double pj = double(p[j]) / total;
    const double c = std::clamp(pj, kClip, 1.0 - kClip);
    l -= target(j) * std::log(c);
    if (c == pj) gq -= target(j);  // sum_j dL/dq_j * q_j
  }
  if (r.g)
    for (std::int64_t j = 0; j < width; ++j) {
      const double pj = double(p[j]) / total;
      const double c = std::clamp(pj, kClip, 1.0 - kClip);
      const double dq = c == pj ? -target(j) / pj : 0.0;
      r.g[j] = float((dq - gq) / total) * r.scale;
    }
  return l;
}

// Loss of rows [r0, r1) of the outputs y (logits: the softmax's inputs when a softmax output
// is fused with a cross-entropy, or y itself from logits); when grad is not null it
// receives d(mean loss)/d(output), or d(mean loss)/d(logits), scaled by 1 / n.
BatchStats row_losses(const float* y, const float* logits, const Targets& t, std::int64_t per_sample, std::int64_t r0,
                      std::int64_t r1, std::int64_t width, Loss loss, float* grad, std::int64_t n) {
  BatchStats s;
  const float inv_n = 1.0f / float(n);
  for (std::int64_t r = r0; r < r1; ++r) {
    const float weight = t.weights ? t.weights[r / per_sample] : 1.0f;  // sample_weight
    const Row row{y + r * width,  logits ? logits + r * width : nullptr, grad ? grad + r * width : nullptr, width,
                  double(weight), t.weights ? weight * inv_n : inv_n};
    const float* p = row.p;
    if (loss == Loss::sparse_categorical_crossentropy) {
      const std::int64_t label = t.labels[r];
      s.loss_sum += row.w * categorical_crossentropy(row, [&](std::int64_t j) { return float(j == label); });
      s.correct += argmax(p, width) == label;
      continue;
    }
    const float* v = t.values + r * width;
    double abs_sum = 0.0, squared_sum = 0.0, hits = 0.0;
    for (std::int64_t j = 0; j < width; ++j) {
      const double d = double(p[j]) - v[j];
      abs_sum += std::abs(d);
      squared_sum += d * d;
      hits += (p[j] > 0.5f) == (v[j] > 0.5f);
    }
    s.abs_error_sum += abs_sum / double(width);
    s.squared_error_sum += squared_sum / double(width);
    switch (loss) {
      case Loss::categorical_crossentropy:
        s.loss_sum += row.w * categorical_crossentropy(row, [&](std::int64_t j) { return v[j]; });
        break;
      case Loss::binary_crossentropy: s.loss_sum += row.w * binary_crossentropy(row, v); break;
      case Loss::mae: s.loss_sum += row.w * absolute_error(row, v); break;
      default: s.loss_sum += row.w * squared_error(row, v); break;
    }
    // Keras' accuracy: of the argmax for categorical targets, else of every value at 0.5
    if (loss == Loss::categorical_crossentropy || (width > 1 && loss != Loss::binary_crossentropy))
      s.correct += argmax(p, width) == argmax(v, width);
    else
      s.correct += hits / double(width);
  }
  s.count = r1 - r0;
  return s;
}

}  // namespace

BatchStats batch_losses(const float* y, const float* logits, const Targets& t, std::int64_t per_sample, std::int64_t n,
                        std::int64_t width, Loss loss, float* grad, int n_threads) {
  constexpr std::int64_t kBlock = 256;
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<BatchStats> parts(static_cast<std::size_t>(blocks));
  BatchStats total;
  parallel_reduce_ordered(
      n_threads, blocks,
      [&](std::int64_t slot, std::int64_t b) {
        parts[std::size_t(slot)] =
            row_losses(y, logits, t, per_sample, b * kBlock, std::min(n, (b + 1) * kBlock), width, loss, grad, n);
      },
      [&](std::int64_t slot, std::int64_t) {
        total.loss_sum += parts[std::size_t(slot)].loss_sum;
        total.correct += parts[std::size_t(slot)].correct;
        total.abs_error_sum += parts[std::size_t(slot)].abs_error_sum;
        total.squared_error_sum += parts[std::size_t(slot)].squared_error_sum;
        total.count += parts[std::size_t(slot)].count;
      });
  return total;
}

BatchStats loss_and_gradient(const float* y, const Targets& t, std::int64_t rows, std::int64_t per_sample,
                             std::int64_t width, LossSpec loss, float* grad, int n_threads) {
  if (rows <= 0 || width <= 0 || per_sample <= 0 || rows % per_sample != 0)
    throw std::invalid_argument("a loss needs at least one row of outputs");
  if (loss.kind == Loss::sparse_categorical_crossentropy) {
    if (t.labels == nullptr) throw std::invalid_argument("the sparse loss needs integer labels");
    for (std::int64_t r = 0; r < rows; ++r)
      if (t.labels[r] < 0 || t.labels[r] >= width)
        throw std::invalid_argument("label " + std::to_string(t.labels[r]) + " is outside [0, " +
                                    std::to_string(width) + ")");
  } else if (t.values == nullptr) {
    throw std::invalid_argument("this loss needs target values of the outputs' shape");
  }
  const FlushSubnormals flush;
  return batch_losses(y, loss.from_logits ? y : nullptr, t, per_sample, rows, width, loss.kind, grad, n_threads);
}

namespace {
// The sum of n floats in double, in 8 lanes (one chain would wait on each addition).
double sum_in_double(const float* v, std::int64_t n) {
  double lane[8] = {};
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) lane[k] += double(v[j + k]);
  double total = 0.0;
  for (; j < n; ++j) total += double(v[j]);
  for (double l : lane) total += l;
  return total;
}
}  // namespace

void reconstruction_terms(const float* z, const float* x, std::int64_t n, std::int64_t d, bool bernoulli,
                          double* per_sample, float* grad, float grad_divisor, int n_threads) {
  using Arr = Eigen::Map<const Eigen::ArrayXf>;
  // Eigen's vectorized exp and log (NumPy's passes over the batch cost ~5% of a VAE step;
  // log(1 + e) for log1p(e), which Eigen runs one value at a time, is off by < 6e-8)
  parallel_for_flushed(n_threads, n, [&](std::int64_t i) {
    const Arr zi(z + i * d, d), xi(x + i * d, d);
    Eigen::Map<Eigen::ArrayXf> gi(grad + i * d, d);
    Eigen::ArrayXf terms;  // in float: an expression with a cast to double runs one value at a time
    if (bernoulli) {
      // sigmoid(z) = 1 / (1 + e) for z >= 0, e / (1 + e) below
      const Eigen::ArrayXf e = (-zi.abs()).exp();
      terms = zi.max(0.0f) - zi * xi + (1.0f + e).log();
      gi = ((zi >= 0.0f).select(Eigen::ArrayXf::Ones(d), e) / (1.0f + e) - xi) / grad_divisor;
    } else {
      terms = 0.5f * (zi - xi).square();
      gi = (zi - xi) / grad_divisor;
    }
    per_sample[i] = sum_in_double(terms.data(), d);
  });
}

}  // namespace scalegen::nn
