// The sequential network: layer chain, losses, training step and optimizer updates.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "layers.hpp"
#include "scalegen/common/limits.hpp"
#include "scalegen/common/parallel.hpp"

namespace scalegen::nn {
namespace {

// Index of the first maximum of a row (numpy's argmax).
std::int64_t argmax(const float* row, std::int64_t width) {
  return std::int64_t(std::max_element(row, row + width) - row);
}

constexpr float kClip = 1e-7f;  // Keras' epsilon for cross-entropy on probabilities

// Loss of rows [r0, r1) of the outputs y (and, for a softmax output fused with a
// cross-entropy, its logits); when grad is not null it receives d(mean loss)/d(output) or,
// fused, d(mean loss)/d(logits), scaled by 1 / n.
BatchStats row_losses(const float* y, const float* logits, const Targets& t, std::int64_t r0, std::int64_t r1,
                      std::int64_t width, Loss loss, float* grad, std::int64_t n) {
  BatchStats s;
  const float inv_n = 1.0f / float(n);
  for (std::int64_t r = r0; r < r1; ++r) {
    const float* p = y + r * width;
    float* g = grad ? grad + r * width : nullptr;
    const std::int64_t predicted = width == 1 ? (p[0] > 0.5f) : argmax(p, width);
    if (loss == Loss::mse) {
      const float* v = t.values + r * width;
      double sum = 0.0;
      for (std::int64_t j = 0; j < width; ++j) {
        const double d = double(p[j]) - v[j];
        sum += d * d;
        if (g) g[j] = float(2.0 * d / double(width)) * inv_n;
      }
      s.loss_sum += sum / double(width);
      s.correct += width == 1 ? predicted == (v[0] > 0.5f) : predicted == argmax(v, width);
      continue;
    }
    // cross-entropy: a target distribution q (one-hot for the sparse loss)
    const bool sparse = loss == Loss::sparse_categorical_crossentropy;
    const std::int64_t label = sparse ? t.labels[r] : -1;
    const float* q = sparse ? nullptr : t.values + r * width;
    auto target = [&](std::int64_t j) { return sparse ? float(j == label) : q[j]; };
    s.correct += predicted == (sparse ? label : argmax(q, width));
    if (logits) {
      // from the logits z: -sum q_j log softmax(z)_j, gradient p * sum(q) - q
      const float* z = logits + r * width;
      const double top = *std::max_element(z, z + width);
      double lse = 0.0, qsum = 0.0, dot = 0.0;
      for (std::int64_t j = 0; j < width; ++j) lse += std::exp(double(z[j]) - top);
      lse = top + std::log(lse);
      for (std::int64_t j = 0; j < width; ++j) {
        const double qj = target(j);
        qsum += qj;
        dot += qj * z[j];
      }
      s.loss_sum += qsum * lse - dot;
      if (g)
        for (std::int64_t j = 0; j < width; ++j) g[j] = (p[j] * float(qsum) - target(j)) * inv_n;
    } else {
      // Keras on probabilities: normalise the row, clip to [eps, 1 - eps], -sum q log
      double total = 0.0;
      for (std::int64_t j = 0; j < width; ++j) total += p[j];
      double l = 0.0, gq = 0.0;
      for (std::int64_t j = 0; j < width; ++j) {
        const double pj = double(p[j]) / total;
        const double c = std::clamp(pj, double(kClip), 1.0 - double(kClip));
        l -= target(j) * std::log(c);
        if (c == pj) gq -= target(j);  // sum_j dL/dq_j * q_j
      }
      s.loss_sum += l;
      if (g)
        for (std::int64_t j = 0; j < width; ++j) {
          const double pj = double(p[j]) / total;
          const double c = std::clamp(pj, double(kClip), 1.0 - double(kClip));
          const double dq = c == pj ? -target(j) / pj : 0.0;
          g[j] = float((dq - gq) / total) * inv_n;
        }
    }
  }
  s.count = r1 - r0;
  return s;
}

// Losses of all n rows, in fixed row blocks added in order.
BatchStats batch_losses(const float* y, const float* logits, const Targets& t, std::int64_t n, std::int64_t width,
                        Loss loss, float* grad, int n_threads) {
  constexpr std::int64_t block = 256;
  const std::int64_t blocks = (n + block - 1) / block;
  std::vector<BatchStats> parts(static_cast<std::size_t>(blocks));
  for_tasks(n_threads, blocks, [&](std::int64_t b) {
    parts[std::size_t(b)] = row_losses(y, logits, t, b * block, std::min(n, (b + 1) * block), width, loss, grad, n);
  });
  BatchStats s;
  for (const auto& p : parts) {
    s.loss_sum += p.loss_sum;
    s.correct += p.correct;
    s.count += p.count;
  }
  return s;
}

}  // namespace

Network::ValueCounts Network::build(const std::vector<LayerConfig>& configs, Shape input_shape,
                                    std::vector<std::unique_ptr<Layer>>* layers, std::vector<ParamSlot>* slots) {
  if (input_shape.h <= 0 || input_shape.w <= 0 || input_shape.c <= 0)
    throw std::invalid_argument("the input shape must have positive sizes");
  check_tensor_bytes(input_shape.size(), sizeof(float), "one input sample");
  if (configs.empty()) throw std::invalid_argument("the network has no layers");
  Shape shape = input_shape;
  ValueCounts n;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    auto layer = make_layer(configs[i], int(i), shape);  // checks its own shapes and tensors
    layer->param_offset = n.params;
    layer->state_offset = n.state;
    for (const auto& t : layer->tensors()) {
      std::int64_t& cursor = t.trainable ? n.params : n.state;
      if (slots) slots->push_back({int(i), t.name, t.shape, cursor, t.trainable});
      cursor += t.size();
    }
    shape = layer->out();
    if (layers) layers->push_back(std::move(layer));
  }
  // parameters, gradients and two optimizer moments, and the state, before any is allocated
  check_total_bytes(checked_mul(4 * n.params + n.state, sizeof(float), "the network's parameters"),
                    "the network's parameters, gradients and optimizer moments");
  return n;
}

Network::Network(const std::vector<LayerConfig>& configs, Shape input_shape)
    : input_shape_(input_shape), configs_(configs) {
  const ValueCounts counts = build(configs, input_shape, &layers_, &slots_);
  for (const auto& layer : layers_) shapes_.push_back(layer->out());
  params_.resize(std::size_t(counts.params));
  state_.resize(std::size_t(counts.state));
  for (std::size_t i = 0, slot = 0; i < layers_.size(); ++i)
    for (const auto& t : layers_[i]->tensors()) {
      const ParamSlot& p = slots_[slot++];
      AlignedVector<float>& store = p.trainable ? params_ : state_;
      std::fill_n(store.data() + p.offset, t.size(), t.fill);
    }
  relu_absorbed_.assign(layers_.size(), false);
  for (std::size_t i = 1; i < layers_.size(); ++i)
    if (layers_[i - 1]->activation() == Activation::relu) relu_absorbed_[i - 1] = layers_[i]->absorb_input_relu();
  grads_.assign(params_.size(), 0.0f);
  m_.assign(params_.size(), 0.0f);
  v_.assign(params_.size(), 0.0f);
  acts_.resize(layers_.size());
}

Network::~Network() = default;

void Network::predict(const float* x, std::int64_t n, float* out, std::int64_t batch_size, int n_threads) const {
  if (batch_size <= 0) throw std::invalid_argument("batch_size must be positive");
  const FlushSubnormals flush;
  std::int64_t widest = input_shape_.size();
  for (const auto& s : shapes_) widest = std::max(widest, s.size());
  const std::int64_t rows = std::min(n, batch_size);
  // activations ping-pong between two buffers of the calling thread, kept between calls
  // up to 64 MB each: fresh ones would cost page faults on every call (concurrent callers
  // each have theirs); larger batches get buffers of their own, freed after the call
  constexpr std::size_t kKeptFloats = std::size_t(16) << 20;
  const std::size_t need = std::size_t(rows * widest);
  thread_local AlignedVector<float> kept_a, kept_b;
  AlignedVector<float> own_a, own_b;
  AlignedVector<float>& a = need <= kKeptFloats ? kept_a : own_a;
  AlignedVector<float>& b = need <= kKeptFloats ? kept_b : own_b;
  if (a.size() < need) {
    a.resize(need);
    b.resize(need);
  }
  Context ctx{n_threads, params_.data(), nullptr, const_cast<float*>(state_.data()), 0};
  const std::int64_t in_size = input_shape_.size(), out_size = output_shape().size();
  for (std::int64_t r0 = 0; r0 < n; r0 += batch_size) {
    const std::int64_t m = std::min(batch_size, n - r0);
    const float* cur = x + r0 * in_size;
    float* bufs[2] = {a.data(), b.data()};
    int next = 0;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const Layer& layer = *layers_[i];
      if (layer.passthrough(false)) continue;
      const bool fused = i + 1 < layers_.size() && layer.infer_fused(*layers_[i + 1], cur, bufs[next], m, ctx);
      if (fused)
        ++i;
      else
        layer.infer(cur, bufs[next], m, ctx);
      cur = bufs[next];
      next ^= 1;
    }
    std::memcpy(out + r0 * out_size, cur, sizeof(float) * std::size_t(m * out_size));
  }
}

void Network::check_targets(const Targets& y, std::int64_t n, Loss loss) const {
  if (loss == Loss::sparse_categorical_crossentropy) {
    const std::int64_t classes = output_shape().c;
    if (output_shape().size() != classes)
      throw std::invalid_argument("sparse_categorical_crossentropy needs a flat output: add a Flatten layer");
    if (y.labels == nullptr) throw std::invalid_argument("the sparse loss needs integer labels");
    for (std::int64_t i = 0; i < n; ++i)
      if (y.labels[i] < 0 || y.labels[i] >= classes)
        throw std::invalid_argument("label " + std::to_string(y.labels[i]) + " is outside [0, " +
                                    std::to_string(classes) + "): the last layer has " + std::to_string(classes) +
                                    " outputs");
  } else if (y.values == nullptr) {
    throw std::invalid_argument("this loss needs target values of the output's shape");
  }
}

BatchStats Network::evaluate(const float* x, std::int64_t n, const Targets& y, Loss loss, std::int64_t batch_size,
                             int n_threads) const {
  check_targets(y, n, loss);
  const std::int64_t width = output_shape().c;
  std::vector<float> out(static_cast<std::size_t>(n * output_shape().size()));
  predict(x, n, out.data(), batch_size, n_threads);
  // inference keeps no logits: a cross-entropy is taken on the clipped probabilities (Keras)
  return batch_losses(out.data(), nullptr, y, n * (output_shape().size() / width), width, loss, nullptr, n_threads);
}

BatchStats Network::forward_backward(const float* x, const Targets& y, std::int64_t n, Loss loss,
                                     std::uint64_t seed, float* dx, int n_threads) {
  check_targets(y, n, loss);
  const FlushSubnormals flush;
  Context ctx{n_threads, params_.data(), grads_.data(), state_.data(), seed};
  // forward, keeping every output; a layer whose relu the next layer absorbs may run with
  // it in one pass (a convolution and its max pool), its own output then not kept
  std::vector<const float*> outs(layers_.size());
  std::vector<bool> with_next(layers_.size(), false);
  const float* cur = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    auto& layer = *layers_[i];
    if (!layer.passthrough(true)) {
      if (relu_absorbed_[i]) {
        auto& next = *layers_[i + 1];
        acts_[i + 1].resize(std::size_t(n * next.out().size()));
        if (layer.train_forward_fused(next, cur, acts_[i + 1].data(), n, ctx)) {
          with_next[i] = true;
          outs[i] = nullptr;
          cur = outs[i + 1] = acts_[i + 1].data();
          ++i;
          continue;
        }
      }
      acts_[i].resize(std::size_t(n * layer.out().size()));
      layer.train_forward(cur, acts_[i].data(), n, ctx);
      cur = acts_[i].data();
    }
    outs[i] = cur;
  }
  // loss and its gradient; a softmax output with a cross-entropy uses the logits
  const Layer& last = *layers_.back();
  const std::int64_t width = output_shape().c, rows = n * (output_shape().size() / width);
  const bool fused = loss != Loss::mse && last.activation() == Activation::softmax;
  std::int64_t widest = input_shape_.size();
  for (const auto& s : shapes_) widest = std::max(widest, s.size());
  grad_a_.resize(std::size_t(n * widest));
  grad_b_.resize(std::size_t(n * widest));
  float* dy = grad_a_.data();
  float* spare = grad_b_.data();
  BatchStats stats =
      batch_losses(cur, fused ? last.logits().data() : nullptr, y, rows, width, loss, dy, n_threads);
  // backward: gradients ping-pong between the two buffers, passthrough layers hand them on
  for (std::size_t i = layers_.size(); i-- > 0;) {
    auto& layer = *layers_[i];
    const bool pre = (fused && i + 1 == layers_.size()) || relu_absorbed_[i];
    if (layer.passthrough(true) || (i > 0 && with_next[i - 1])) continue;  // a fused pair: at its first
    const float* in = i == 0 ? x : outs[i - 1];
    float* target = i == 0 ? dx : spare;
    if (with_next[i])
      layer.backward_fused(*layers_[i + 1], in, outs[i + 1], dy, target, n, ctx);
    else
      layer.backward(in, outs[i], dy, target, n, pre, ctx);
    if (i > 0) std::swap(dy, spare);
  }
  if (dx != nullptr && layers_.front()->passthrough(true))
    std::memcpy(dx, dy, sizeof(float) * std::size_t(n * input_shape_.size()));
  return stats;
}

BatchStats Network::gradients(const float* x, const Targets& y, std::int64_t n, Loss loss, std::uint64_t seed,
                              float* dx, int n_threads) {
  if (n <= 0) throw std::invalid_argument("no rows");
  return forward_backward(x, y, n, loss, seed, dx, n_threads);
}

BatchStats Network::train_step(const float* x, const Targets& y, const std::int64_t* idx, std::int64_t n, Loss loss,
                               const OptimizerConfig& opt, std::uint64_t seed, int n_threads) {
  if (n <= 0) throw std::invalid_argument("a training step needs at least one row");
  // gather the batch's rows (and targets) so every layer sees contiguous samples
  const std::int64_t in_size = input_shape_.size(), out_size = output_shape().size();
  input_.resize(std::size_t(n * in_size));
  std::vector<std::int32_t> labels;
  std::vector<float> values;
  Targets batch;
  if (y.labels) labels.resize(std::size_t(n));
  if (y.values) values.resize(std::size_t(n * out_size));
  for_tasks(n_threads, (n + 63) / 64, [&](std::int64_t t) {
    for (std::int64_t i = t * 64; i < std::min(n, (t + 1) * 64); ++i) {
      const std::int64_t r = idx[i];
      std::memcpy(input_.data() + i * in_size, x + r * in_size, sizeof(float) * std::size_t(in_size));
      if (y.labels) labels[std::size_t(i)] = y.labels[r];
      if (y.values)
        std::memcpy(values.data() + i * out_size, y.values + r * out_size, sizeof(float) * std::size_t(out_size));
    }
  });
  batch.labels = y.labels ? labels.data() : nullptr;
  batch.values = y.values ? values.data() : nullptr;
  BatchStats stats = forward_backward(input_.data(), batch, n, loss, seed, nullptr, n_threads);
  apply_optimizer(opt, n_threads);
  return stats;
}

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

void Network::apply_optimizer(const OptimizerConfig& opt, int n_threads) {
  ++step_;
  const std::int64_t size = std::int64_t(params_.size());
  constexpr std::int64_t chunk = 8192;  // small enough that two threads share the work evenly
  const double t = double(step_);
  // Keras' Adam: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); w -= lr_t m / (sqrt(v) + eps).
  // Keras' SGD: m = momentum m - lr g; w += m (nesterov: w += momentum m - lr g).
  // Keras' RMSprop: v = rho v + (1 - rho) g^2; w -= lr g / sqrt(v + eps) (through m with momentum).
  const float lr_t = float(opt.learning_rate * std::sqrt(1.0 - std::pow(opt.beta_2, t)) /
                           (1.0 - std::pow(opt.beta_1, t)));
  for_tasks(n_threads, (size + chunk - 1) / chunk, [&](std::int64_t c) {
    const std::int64_t a = c * chunk, len = std::min(size, a + chunk) - a;
    if (opt.kind == OptimizerConfig::adam)
      adam_update(params_.data() + a, grads_.data() + a, m_.data() + a, v_.data() + a, len, lr_t,
                  float(opt.beta_1), float(opt.beta_2), float(opt.epsilon));
    else if (opt.kind == OptimizerConfig::rmsprop)
      rmsprop_update(params_.data() + a, grads_.data() + a, m_.data() + a, v_.data() + a, len,
                     float(opt.learning_rate), float(opt.rho), float(opt.epsilon), float(opt.momentum));
    else
      sgd_update(params_.data() + a, grads_.data() + a, m_.data() + a, len, float(opt.learning_rate),
                 float(opt.momentum), opt.nesterov);
  });
}

}  // namespace scalegen::nn
