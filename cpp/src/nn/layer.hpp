#pragma once
// The layer interface of scalegen::nn::Network (internal). Tensors are channels-last rows
// of floats: a batch of n samples of shape (h, w, c) is n*h*w*c contiguous floats.
//
// A layer kind is one file in layers/ defining make<LayerKind::kind>, plus its line in
// registry.cpp. Parallel work inside a layer is split into tasks fixed by the shapes alone
// (never by the thread count), and every reduction adds per-task partials in task order
// (parallel_reduce_ordered): any n_threads gives the same bits.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/elementwise.hpp"
#include "scalegen/common/parallel.hpp"
#include "scalegen/nn/network.hpp"

namespace scalegen::nn {

/// What a layer needs from the network during one call.
struct Context {
  int n_threads = 1;
  const float* params = nullptr;  // the flat parameter vector
  float* grads = nullptr;         // the flat gradient vector (training)
  float* state = nullptr;         // moving statistics (written by training steps only)
  std::uint64_t seed = 0;         // dropout masks
};

/// A named tensor a layer owns in the parameter or state vector.
struct TensorSpec {
  std::string name;
  std::vector<std::int64_t> shape;
  bool trainable = true;
  float fill = 0.0f;  // initial value (Python initialises the kernels)
  /// The number of values (shapes come from checked layer sizes: the product fits in 64 bits).
  std::int64_t size() const { return shape_size(shape); }
};

class Pool2D;

class Layer {
 public:
  Layer(int index, Shape in) : index_(index), in_(in), out_(in) {}
  virtual ~Layer() = default;

  Shape in() const { return in_; }
  Shape out() const { return out_; }
  /// The tensors of this layer, in Keras' get_weights order.
  virtual std::vector<TensorSpec> tensors() const { return {}; }
  /// Output is the input itself (Flatten; Dropout outside training): no call is made.
  virtual bool passthrough(bool training) const {
    (void)training;
    return false;
  }
  /// The activation applied to this layer's output (the loss may fuse with softmax).
  virtual Activation activation() const { return Activation::linear; }
  /// Asked once when the network is built, of a layer an element-wise activation layer
  /// follows: true if this layer applies `act` to its output from now on (it had none), the
  /// activation layer being skipped (one pass over the output, not three).
  virtual bool absorb_activation(Act act) {
    (void)act;
    return false;
  }
  /// Asked once when the network is built: true if this activation layer handed its
  /// activation to `previous` (absorb_activation) and is skipped from now on.
  virtual bool hand_activation_to(Layer& previous) {
    (void)previous;
    return false;
  }
  /// Asked when the previous layer ends in a relu: true if this layer's backward pass will
  /// apply that relu's derivative (the previous layer then gets pre-activation gradients).
  virtual bool absorb_input_relu() { return false; }

  /// Inference: reentrant, touches no member.
  virtual void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const = 0;
  /// Training forward pass: may keep what backward needs.
  virtual void train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) { infer(x, y, n, ctx); }

  // ---- fusion: asked once by the network when it is built
  /// True when this layer runs `next` within its own passes: at inference (training false)
  /// through infer_with_next; in training through train_forward_with_next and
  /// backward_with_next, this layer's own output then never stored. A convolution absorbs a
  /// pooling this way.
  virtual bool absorbs_next(const Layer& next, bool training) const {
    (void)next, (void)training;
    return false;
  }
  /// Inference of this layer and `next`, y being next's output.
  virtual void infer_with_next(const Layer& next, const float* x, float* y, std::int64_t n, const Context& ctx) const {
    (void)next, (void)x, (void)y, (void)n, (void)ctx;
  }
  /// Training forward of this layer and `next` (y: next's output).
  virtual void train_forward_with_next(const Layer& next, const float* x, float* y, std::int64_t n,
                                       const Context& ctx) {
    (void)next, (void)x, (void)y, (void)n, (void)ctx;
  }
  /// Backward pass of the pair: y and dy are next's output and its gradient; as backward
  /// otherwise (pre-activation gradients: next absorbed this layer's activation).
  virtual void backward_with_next(const Layer& next, const float* x, const float* y, float* dy, float* dx,
                                  std::int64_t n, const Context& ctx) {
    (void)next, (void)x, (void)y, (void)dy, (void)dx, (void)n, (void)ctx;
  }
  /// The pooling this layer is, for a layer that absorbs it (null for other kinds).
  virtual const Pool2D* as_pooling() const { return nullptr; }

  /// Backward pass of the last train_forward. `dy` holds the gradient with respect to the
  /// output (or to the pre-activation values when `pre_activation`) and may be overwritten;
  /// dx (null for the first layer) receives the gradient with respect to x; parameter
  /// gradients are written (not added) at ctx.grads + param_offset.
  virtual void backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                        const Context& ctx) = 0;
  /// The values before the activation of the last train_forward, when it needs them (a
  /// softmax: its logits; see needs_pre_activation).
  const AlignedVector<float>& pre_activation() const { return pre_activation_; }

  std::int64_t param_offset = 0, state_offset = 0;
  /// trainable = False: the optimizer leaves the weights alone and batch normalization runs
  /// in inference mode, in training too (Keras).
  bool frozen = false;

 protected:
  /// Where a training pass over n samples keeps the values before its activation when the
  /// backward pass (or a cross-entropy after a softmax) needs them; null otherwise.
  float* kept_pre_activation(std::int64_t n, Activation act) {
    if (!needs_pre_activation(act)) return nullptr;
    pre_activation_.resize(std::size_t(n * out_.size()));
    return pre_activation_.data();
  }
  /// The kept pre-activation values from offset i on (null when none are kept).
  const float* pre_at(std::int64_t i) const { return pre_activation_.empty() ? nullptr : pre_activation_.data() + i; }

  int index_;
  Shape in_, out_;
  AlignedVector<float> pre_activation_;
};

/// Builds the layer for `config` receiving inputs of shape `in`; throws
/// std::invalid_argument naming the layer when the shape does not fit (registry.cpp).
std::unique_ptr<Layer> make_layer(const LayerConfig& config, int index, Shape in);
/// The factory of one layer kind, defined in that kind's file.
template <LayerKind K>
std::unique_ptr<Layer> make(const LayerConfig& config, int index, Shape in);

/// "Kind (layer i)", for messages.
std::string layer_name(const char* kind, int index);
/// The output shape of a layer, refused when one sample's output passes max_tensor_bytes
/// (every size a kernel computes from it then fits the int32 offsets the kernels use).
Shape checked_shape(std::int64_t h, std::int64_t w, std::int64_t c, int rank, const std::string& who);

}  // namespace scalegen::nn
