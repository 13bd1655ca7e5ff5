// Activation: an element-wise (softmax: last-axis) function as a layer of its own.
#include <algorithm>

#include "../kernels/elementwise.hpp"
#include "../layer.hpp"

namespace scalegen::nn {
namespace {

class ActivationLayer final : public Layer {
 public:
  ActivationLayer(const LayerConfig& c, int index, Shape in) : Layer(index, in), act_{c.activation, c.alpha} {}
  Activation activation() const override { return act_.kind; }
  void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const override {
    run(x, y, n, ctx, nullptr);
  }
  void train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) override {
    run(x, y, n, ctx, kept_pre_activation(n, act_.kind));
  }
  void backward(const float*, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                const Context& ctx) override {
    if (dx == nullptr) return;
    const std::int64_t size = out_.size();
    parallel_for_flushed(ctx.n_threads, n, [&](std::int64_t s) {
      if (!pre_activation) activation_backward(dy + s * size, y + s * size, pre_at(s * size), size / out_.c, out_.c, act_);
      std::copy(dy + s * size, dy + (s + 1) * size, dx + s * size);
    });
  }

 private:
  void run(const float* x, float* y, std::int64_t n, const Context& ctx, float* keep) const {
    const std::int64_t size = out_.size();
    parallel_for_flushed(ctx.n_threads, n, [&](std::int64_t s) {
      std::copy(x + s * size, x + (s + 1) * size, y + s * size);
      activate(y + s * size, size / out_.c, out_.c, act_, keep ? keep + s * size : nullptr);
    });
  }
  Act act_;
};

}  // namespace

template <>
std::unique_ptr<Layer> make<LayerKind::activation>(const LayerConfig& c, int index, Shape in) {
  return std::make_unique<ActivationLayer>(c, index, in);
}

}  // namespace scalegen::nn
