#pragma once
// The layers of scalegen::nn::Network (internal). Tensors are channels-last rows of floats:
// a batch of n samples of shape (h, w, c) is n*h*w*c contiguous floats.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "scalegen/common/fpu.hpp"
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
  std::int64_t size() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

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
  /// Asked when the previous layer ends in a relu: true if this layer's backward pass will
  /// apply that relu's derivative (the previous layer then gets pre-activation gradients).
  virtual bool absorb_input_relu() { return false; }

  /// Inference: reentrant, touches no member.
  virtual void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const = 0;
  /// Inference of this layer and `next` in one pass, y being next's output; false when
  /// the pair has no fused kernel (a convolution followed by a pooling has one).
  virtual bool infer_fused(const Layer& next, const float* x, float* y, std::int64_t n, const Context& ctx) const {
    (void)next, (void)x, (void)y, (void)n, (void)ctx;
    return false;
  }
  /// Training forward pass: may keep what backward needs.
  virtual void train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) {
    infer(x, y, n, ctx);
  }
  /// Training forward of this layer and `next` in one pass (y: next's output; this layer's
  /// own output is not kept); false when the pair has no fused kernel. A pair fused here
  /// goes back through backward_fused.
  virtual bool train_forward_fused(Layer& next, const float* x, float* y, std::int64_t n, const Context& ctx) {
    (void)next, (void)x, (void)y, (void)n, (void)ctx;
    return false;
  }
  /// Backward pass of a pair fused by train_forward_fused: y and dy are next's output and
  /// its gradient; as backward otherwise.
  virtual void backward_fused(const Layer& next, const float* x, const float* y, float* dy, float* dx,
                              std::int64_t n, const Context& ctx) {
    (void)next, (void)x, (void)y, (void)dy, (void)dx, (void)n, (void)ctx;
  }
  /// Backward pass of the last train_forward. `dy` holds the gradient with respect to the
  /// output (or to the pre-activation values when `pre_activation`) and may be overwritten;
  /// dx (null for the first layer) receives the gradient with respect to x; parameter
  /// gradients are written (not added) at ctx.grads + param_offset.
  virtual void backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                        const Context& ctx) = 0;
  /// The pre-activation values of the last train_forward when the activation is softmax.
  const std::vector<float>& logits() const { return logits_; }

  std::int64_t param_offset = 0, state_offset = 0;

 protected:
  int index_;
  Shape in_, out_;
  std::vector<float> logits_;
};

/// Builds the layer for `config` receiving inputs of shape `in`; throws
/// std::invalid_argument naming the layer when the shape does not fit.
std::unique_ptr<Layer> make_layer(const LayerConfig& config, int index, Shape in);

// ---- shared element-wise helpers ------------------------------------------------------
/// Applies `act` to rows x width values in place (softmax per row); when `logits` is not
/// null and act is softmax, the values before it are copied there first.
void activate(float* z, std::int64_t rows, std::int64_t width, Activation act, float* logits);
/// Turns dy (gradient at the activation's output y) into the gradient at its input, in place.
void activation_backward(float* dy, const float* y, std::int64_t rows, std::int64_t width, Activation act);

/// A per-thread buffer of at least n floats (slot 0..3), kept between calls.
float* scratch(std::size_t n, int slot);

/// parallel_for whose tasks run with subnormals flushed to zero (MXCSR is per thread).
template <class F>
void for_tasks(int n_threads, std::int64_t n, F&& fn, Schedule schedule = Schedule::dynamic) {
  parallel_for(
      n_threads, n,
      [&](std::int64_t i) {
        const FlushSubnormals flush;
        fn(i);
      },
      schedule);
}

}  // namespace scalegen::nn
