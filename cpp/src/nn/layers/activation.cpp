// Activation: an element-wise (softmax: last-axis) function as a layer of its own.
#include <algorithm>

#include "../kernels/elementwise.hpp"
#include "../layer.hpp"

namespace scalegen::nn {
namespace {

class ActivationLayer final : public Layer {
 public:
  ActivationLayer(const LayerConfig& c, int index, Shape in) : Layer(index, in), act_{c.activation, c.alpha} {}
  Activation activation() const override { return absorbed_ ? Activation::linear : act_.kind; }
  bool passthrough(bool) const override { return absorbed_; }
  bool hand_activation_to(Layer& previous) override { return absorbed_ = previous.absorb_activation(act_); }
  void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const override {
    run(x, y, n, ctx, nullptr);
  }
  void train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) override {
    run(x, y, n, ctx, kept_pre_activation(n, act_.kind));
  }
  void backward(const float*, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                const Context& ctx) override {
    if (dx == nullptr) return;
    by_row_chunks(n, ctx, [&](std::int64_t at, std::int64_t rows) {
      if (!pre_activation) activation_backward(dy + at, y + at, pre_at(at), rows, out_.c, act_);
      std::copy(dy + at, dy + at + rows * out_.c, dx + at);
    });
  }

 private:
  void run(const float* x, float* y, std::int64_t n, const Context& ctx, float* keep) const {
    by_row_chunks(n, ctx, [&](std::int64_t at, std::int64_t rows) {
      std::copy(x + at, x + at + rows * out_.c, y + at);
      activate(y + at, rows, out_.c, act_, keep ? keep + at : nullptr);
    });
  }
  // f(offset, rows) over the batch's rows of out_.c values, in chunks of ~16 KB per
  // sample: each chunk is copied and then transformed while it is in L1 (one pass over
  // memory, not two)
  template <class F>
  void by_row_chunks(std::int64_t n, const Context& ctx, F&& f) const {
    const std::int64_t width = out_.c, rows = out_.size() / width;
    const std::int64_t chunk = std::max<std::int64_t>(1, 4096 / width);
    parallel_for_flushed(ctx.n_threads, n, [&](std::int64_t s) {
      for (std::int64_t r = 0; r < rows; r += chunk) f((s * rows + r) * width, std::min(chunk, rows - r));
    });
  }
  Act act_;
  bool absorbed_ = false;  // the previous layer applies act_
};

}  // namespace

template <>
std::unique_ptr<Layer> make<LayerKind::activation>(const LayerConfig& c, int index, Shape in) {
  return std::make_unique<ActivationLayer>(c, index, in);
}

}  // namespace scalegen::nn
