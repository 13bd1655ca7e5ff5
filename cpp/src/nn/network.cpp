// The sequential network: the layer chain at inference and in training, training steps and
// the training primitives (forward, backward, accumulated gradients).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "layer.hpp"
#include "losses.hpp"
#include "optimizers.hpp"
#include "scalegen/common/limits.hpp"
#include "scalegen/common/parallel.hpp"

namespace scalegen::nn {
Network::ValueCounts Network::build(const std::vector<LayerConfig>& configs, Shape input_shape,
                                    std::vector<std::unique_ptr<Layer>>* layers, std::vector<ParamSlot>* slots) {
  if (input_shape.h <= 0 || input_shape.w <= 0 || input_shape.c <= 0)
    throw std::invalid_argument("the input shape must have positive sizes");
  check_tensor_bytes(input_shape.size(), sizeof(float), "one input sample");
  if (configs.empty()) throw std::invalid_argument("the network has no layers");
  Shape shape = input_shape;
  ValueCounts n;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    const float alpha = configs[i].alpha;
    if (!std::isfinite(alpha) || (configs[i].activation == Activation::leaky_relu && alpha < 0))
      throw std::invalid_argument("layer " + std::to_string(i) +
                                  ": the activation's alpha must be finite (and >= 0 for leaky_relu)");
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
  // an element-wise activation layer after a layer without one (Conv2D then LeakyReLU, the
  // DCGAN's pattern) is applied by that layer in its own passes
  for (std::size_t i = 1; i < layers_.size(); ++i) layers_[i]->hand_activation_to(*layers_[i - 1]);
  // which layer runs the next one within its own passes, at inference and in training (a
  // training pair needs the second to absorb the first's relu)
  relu_absorbed_.assign(layers_.size(), false);
  fused_infer_.assign(layers_.size(), false);
  fused_train_.assign(layers_.size(), false);
  for (std::size_t i = 1; i < layers_.size(); ++i) {
    if (layers_[i - 1]->activation() == Activation::relu) relu_absorbed_[i - 1] = layers_[i]->absorb_input_relu();
    fused_infer_[i - 1] = layers_[i - 1]->absorbs_next(*layers_[i], false);
    fused_train_[i - 1] = relu_absorbed_[i - 1] && layers_[i - 1]->absorbs_next(*layers_[i], true);
  }
  grads_.assign(params_.size(), 0.0f);
  accumulated_.assign(params_.size(), 0.0f);
  m_.assign(params_.size(), 0.0f);
  v_.assign(params_.size(), 0.0f);
  acts_.resize(layers_.size());
}

Network::~Network() = default;

bool any_non_finite(const float* x, std::int64_t n) {
  // all exponent bits set; no branch, so the loop vectorizes
  std::uint32_t found = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    found |= (bits & 0x7f800000u) == 0x7f800000u;
  }
  return found != 0;
}

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
      if (fused_infer_[i])
        layer.infer_with_next(*layers_[++i], cur, bufs[next], m, ctx);
      else
        layer.infer(cur, bufs[next], m, ctx);
      cur = bufs[next];
      next ^= 1;
    }
    std::memcpy(out + r0 * out_size, cur, sizeof(float) * std::size_t(m * out_size));
  }
}

void Network::check_targets(const Targets& y, std::int64_t n, LossSpec loss) const {
  if (loss.kind == Loss::sparse_categorical_crossentropy) {
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

BatchStats Network::evaluate(const float* x, std::int64_t n, const Targets& y, LossSpec loss, std::int64_t batch_size,
                             int n_threads) const {
  check_targets(y, n, loss);
  const std::int64_t width = output_shape().c;
  std::vector<float> out(static_cast<std::size_t>(n * output_shape().size()));
  predict(x, n, out.data(), batch_size, n_threads);
  // inference keeps no logits: a cross-entropy is taken on the clipped probabilities (Keras)
  const std::int64_t per_sample = output_shape().size() / width;
  return batch_losses(out.data(), loss.from_logits ? out.data() : nullptr, y, per_sample, n * per_sample, width,
                      loss.kind, nullptr, n_threads);
}

const float* Network::forward_pass(const float* x, std::int64_t n, std::uint64_t seed, int n_threads) {
  const FlushSubnormals flush;
  const Context ctx{n_threads, params_.data(), grads_.data(), state_.data(), seed};
  // every output is kept for the backward pass, but that of a layer running the next one
  // within its own passes (a convolution and its max pool)
  outs_.assign(layers_.size(), nullptr);
  batch_ = n;
  const float* cur = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    auto& layer = *layers_[i];
    if (!layer.passthrough(true)) {
      if (fused_train_[i]) {
        auto& next = *layers_[i + 1];
        acts_[i + 1].resize(std::size_t(n * next.out().size()));
        layer.train_forward_with_next(next, cur, acts_[i + 1].data(), n, ctx);
        ++i;
        cur = outs_[i] = acts_[i].data();
        continue;
      }
      acts_[i].resize(std::size_t(n * layer.out().size()));
      layer.train_forward(cur, acts_[i].data(), n, ctx);
      cur = acts_[i].data();
    }
    outs_[i] = cur;
  }
  std::int64_t widest = input_shape_.size();
  for (const auto& s : shapes_) widest = std::max(widest, s.size());
  grad_a_.resize(std::size_t(n * widest));
  grad_b_.resize(std::size_t(n * widest));
  return cur;
}

void Network::backward_pass(const float* x, bool pre_activation, float* dx, int n_threads) {
  const FlushSubnormals flush;
  const Context ctx{n_threads, params_.data(), grads_.data(), state_.data(), 0};
  const std::int64_t n = batch_;
  // gradients ping-pong between the two buffers (dy starts in grad_a_), passthrough layers
  // hand them on
  float* dy = grad_a_.data();
  float* spare = grad_b_.data();
  for (std::size_t i = layers_.size(); i-- > 0;) {
    auto& layer = *layers_[i];
    const bool pre = (pre_activation && i + 1 == layers_.size()) || relu_absorbed_[i];
    if (layer.passthrough(true) || (i > 0 && fused_train_[i - 1])) continue;  // a fused pair: at its first
    const float* in = i == 0 ? x : outs_[i - 1];
    float* target = i == 0 ? dx : spare;
    if (fused_train_[i])
      layer.backward_with_next(*layers_[i + 1], in, outs_[i + 1], dy, target, n, ctx);
    else
      layer.backward(in, outs_[i], dy, target, n, pre, ctx);
    if (i > 0) std::swap(dy, spare);
  }
  if (dx != nullptr && layers_.front()->passthrough(true))
    std::memcpy(dx, dy, sizeof(float) * std::size_t(n * input_shape_.size()));
  for (const auto& [begin, end] : frozen_ranges()) std::fill(grads_.begin() + begin, grads_.begin() + end, 0.0f);
}

BatchStats Network::forward_backward(const float* x, const Targets& y, std::int64_t n, LossSpec loss,
                                     std::uint64_t seed, float* dx, int n_threads) {
  check_targets(y, n, loss);
  const float* out = forward_pass(x, n, seed, n_threads);
  // a cross-entropy after a softmax output is taken from (and differentiated at) its logits
  const Layer& last = *layers_.back();
  const bool cross_entropy =
      loss.kind == Loss::sparse_categorical_crossentropy || loss.kind == Loss::categorical_crossentropy;
  const bool fused = cross_entropy && !loss.from_logits && last.activation() == Activation::softmax;
  const float* logits = fused ? last.pre_activation().data() : loss.from_logits ? out : nullptr;
  const std::int64_t width = output_shape().c, per_sample = output_shape().size() / width;
  const BatchStats stats =
      batch_losses(out, logits, y, per_sample, n * per_sample, width, loss.kind, grad_a_.data(), n_threads);
  backward_pass(x, fused, dx, n_threads);
  batch_ = 0;  // backward() needs a forward() of its own
  return stats;
}

const float* Network::forward(const float* x, std::int64_t n, std::uint64_t seed, int n_threads) {
  if (n <= 0) throw std::invalid_argument("forward needs at least one row");
  // a copy: the backward pass reads the input, which the caller may change in between
  input_.assign(x, x + n * input_shape_.size());
  return forward_in_place(input_.data(), n, seed, n_threads);
}

const float* Network::forward_in_place(const float* x, std::int64_t n, std::uint64_t seed, int n_threads) {
  if (n <= 0) throw std::invalid_argument("forward needs at least one row");
  kept_input_ = x;
  return forward_pass(x, n, seed, n_threads);
}

float* Network::output_gradient() {
  if (batch_ == 0) throw std::invalid_argument("backward needs a forward pass in training mode first");
  return grad_a_.data();
}

void Network::backward(const float* dy, float* dx, int n_threads) {
  float* at = output_gradient();
  std::copy(dy, dy + batch_ * output_shape().size(), at);  // the layers overwrite it
  backward_from_output_gradient(dx, n_threads);
}

void Network::backward_from_output_gradient(float* dx, int n_threads) {
  if (batch_ == 0) throw std::invalid_argument("backward needs a forward pass in training mode first");
  backward_pass(kept_input_, false, dx, n_threads);
  batch_ = 0;  // each forward pass is taken back once
  if (accumulated_zero_)
    std::swap(grads_, accumulated_);  // the batch's gradients become the sums (each pass rewrites grads_)
  else
    for (std::size_t i = 0; i < grads_.size(); ++i) accumulated_[i] += grads_[i];
  accumulated_zero_ = false;
}

void Network::apply_gradients(const OptimizerConfig& opt, int n_threads) {
  optimizer_step(opt, ++step_, trainable_ranges(), params_.data(), accumulated_grads().data(), m_.data(), v_.data(),
                 n_threads);
}

void Network::set_trainable(std::int64_t layer, bool trainable) {
  if (layer < 0 || layer >= layer_count()) throw std::invalid_argument("no layer " + std::to_string(layer));
  layers_[std::size_t(layer)]->frozen = !trainable;
}

bool Network::trainable(std::int64_t layer) const {
  if (layer < 0 || layer >= layer_count()) throw std::invalid_argument("no layer " + std::to_string(layer));
  return !layers_[std::size_t(layer)]->frozen;
}

std::vector<std::pair<std::int64_t, std::int64_t>> Network::trainable_ranges() const {
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
  for (const auto& p : slots_)
    if (p.trainable && !layers_[std::size_t(p.layer)]->frozen) {
      const std::int64_t size = p.size(), begin = p.offset;
      if (!ranges.empty() && ranges.back().second == begin)
        ranges.back().second += size;
      else
        ranges.emplace_back(begin, begin + size);
    }
  return ranges;
}

std::vector<std::pair<std::int64_t, std::int64_t>> Network::frozen_ranges() const {
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
  for (const auto& p : slots_)
    if (p.trainable && layers_[std::size_t(p.layer)]->frozen) ranges.emplace_back(p.offset, p.offset + p.size());
  return ranges;
}

BatchStats Network::gradients(const float* x, const Targets& y, std::int64_t n, LossSpec loss, std::uint64_t seed,
                              float* dx, int n_threads) {
  if (n <= 0) throw std::invalid_argument("no rows");
  return forward_backward(x, y, n, loss, seed, dx, n_threads);
}

BatchStats Network::train_step(const float* x, const Targets& y, const std::int64_t* idx, std::int64_t n, LossSpec loss,
                               const OptimizerConfig& opt, std::uint64_t seed, int n_threads) {
  if (n <= 0) throw std::invalid_argument("a training step needs at least one row");
  // gather the batch's rows (and targets) so every layer sees contiguous samples
  const std::int64_t in_size = input_shape_.size(), out_size = output_shape().size();
  input_.resize(std::size_t(n * in_size));
  std::vector<std::int32_t> labels;
  std::vector<float> values, weights;
  Targets batch;
  if (y.labels) labels.resize(std::size_t(n));
  if (y.weights) weights.resize(std::size_t(n));
  if (y.values) values.resize(std::size_t(n * out_size));
  parallel_for_flushed(n_threads, (n + 63) / 64, [&](std::int64_t t) {
    for (std::int64_t i = t * 64; i < std::min(n, (t + 1) * 64); ++i) {
      const std::int64_t r = idx[i];
      std::memcpy(input_.data() + i * in_size, x + r * in_size, sizeof(float) * std::size_t(in_size));
      if (y.labels) labels[std::size_t(i)] = y.labels[r];
      if (y.weights) weights[std::size_t(i)] = y.weights[r];
      if (y.values)
        std::memcpy(values.data() + i * out_size, y.values + r * out_size, sizeof(float) * std::size_t(out_size));
    }
  });
  batch.labels = y.labels ? labels.data() : nullptr;
  batch.values = y.values ? values.data() : nullptr;
  batch.weights = y.weights ? weights.data() : nullptr;
  const BatchStats stats = forward_backward(input_.data(), batch, n, loss, seed, nullptr, n_threads);
  optimizer_step(opt, ++step_, trainable_ranges(), params_.data(), grads_.data(), m_.data(), v_.data(), n_threads);
  return stats;
}

}  // namespace scalegen::nn
