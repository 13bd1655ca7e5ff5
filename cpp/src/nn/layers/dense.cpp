// Dense: a matrix product on the last axis (rows = samples x height x width), bias and activation.
#include <algorithm>
#include <stdexcept>

#include "../kernels/elementwise.hpp"
#include "../kernels/matmul.hpp"
#include "../layer.hpp"
#include "scalegen/common/limits.hpp"

namespace scalegen::nn {
namespace {

class Dense final : public Layer {
 public:
  Dense(const LayerConfig& c, int index, Shape in) : Layer(index, in), act_{c.activation, c.alpha}, bias_(c.use_bias) {
    if (c.units <= 0) throw std::invalid_argument(layer_name("Dense", index) + ": units must be positive");
    const std::string who = layer_name("Dense", index);
    out_ = checked_shape(in.h, in.w, c.units, in.rank, who);
    check_tensor_bytes(checked_mul(in.c, c.units, who), sizeof(float), who + ": the kernel");
    I_ = in.c;
    O_ = c.units;
  }
  std::vector<TensorSpec> tensors() const override {
    std::vector<TensorSpec> t{{"kernel", {I_, O_}, true, 0.0f}};
    if (bias_) t.push_back({"bias", {O_}, true, 0.0f});
    return t;
  }
  Activation activation() const override { return act_.kind; }

  void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const override {
    run_forward(x, y, n, ctx, nullptr);
  }
  void train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) override {
    run_forward(x, y, n, ctx, kept_pre_activation(n, act_.kind));
  }

  void backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                const Context& ctx) override {
    const std::int64_t rows = n * in_.h * in_.w;
    const float* w = ctx.params + param_offset;
    float* gw = ctx.grads + param_offset;
    if (!pre_activation) {
      parallel_for_flushed(ctx.n_threads, row_blocks(rows), [&](std::int64_t t) {
        const auto [r0, r1] = row_range(rows, t);
        activation_backward(dy + r0 * O_, y + r0 * O_, pre_at(r0 * O_), r1 - r0, O_, act_);
      });
    }
    // dW = x^T dz over fixed slices of the input width; db; dx = dz W^T over slices of dx's columns
    const std::int64_t slices = (I_ + kSlice - 1) / kSlice;
    parallel_for_flushed(ctx.n_threads, slices + 1, [&](std::int64_t t) {
      if (t == slices) {
        if (bias_ && !frozen) {  // a frozen layer's gradients are never used: not computed
          float* gb = gw + I_ * O_;
          std::fill(gb, gb + O_, 0.0f);
          add_column_sums(dy, rows, O_, gb);
        }
        return;
      }
      const std::int64_t a = t * kSlice, len = std::min(I_, a + kSlice) - a;
      if (!frozen) gemm_tn(len, O_, rows, x + a, I_, dy, O_, gw + a * O_, O_, false);
      if (dx != nullptr)
        mat(dx + a, rows, len, I_).noalias() = cmat(dy, rows, O_, O_) * cmat(w + a * O_, len, O_, O_).transpose();
    });
  }

 private:
  static constexpr std::int64_t kSlice = 128;
  static constexpr std::int64_t kRows = 64;
  std::int64_t row_blocks(std::int64_t rows) const { return (rows + kRows - 1) / kRows; }
  std::pair<std::int64_t, std::int64_t> row_range(std::int64_t rows, std::int64_t t) const {
    return {t * kRows, std::min(rows, (t + 1) * kRows)};
  }

  void run_forward(const float* x, float* y, std::int64_t n, const Context& ctx, float* keep) const {
    const std::int64_t rows = n * in_.h * in_.w;
    const float* w = ctx.params + param_offset;
    const float* b = bias_ ? w + I_ * O_ : nullptr;
    // tasks: fixed blocks of rows x slices of the output width (a small batch still splits)
    const std::int64_t col_slices = (O_ + kSlice / 2 - 1) / (kSlice / 2);
    const std::int64_t tasks = row_blocks(rows) * col_slices;
    // the task that computes values activates them, unless a softmax needs rows it lacks
    const bool in_task = act_.kind != Activation::softmax || col_slices == 1;
    // a fixed schedule: at a small batch each thread keeps reading the same slice of the
    // kernel, which stays in its core's cache between calls
    parallel_for_flushed(
        ctx.n_threads, tasks,
        [&](std::int64_t t) {
          const auto [r0, r1] = row_range(rows, t / col_slices);
          const std::int64_t c0 = (t % col_slices) * (kSlice / 2), len = std::min(O_, c0 + kSlice / 2) - c0;
          gemm_nn(r1 - r0, len, I_, x + r0 * I_, I_, w + c0, O_, y + r0 * O_ + c0, O_);
          if (!in_task) return;
          for (std::int64_t r = r0; r < r1; ++r)
            bias_activate(y + r * O_ + c0, 1, len, b ? b + c0 : nullptr, act_, keep ? keep + r * O_ + c0 : nullptr);
        },
        Schedule::fixed);
    if (in_task) return;
    parallel_for_flushed(ctx.n_threads, row_blocks(rows), [&](std::int64_t t) {
      const auto [r0, r1] = row_range(rows, t);
      bias_activate(y + r0 * O_, r1 - r0, O_, b, act_, keep ? keep + r0 * O_ : nullptr);
    });
  }

  Act act_;
  bool bias_;
  std::int64_t I_ = 0, O_ = 0;
};

}  // namespace

template <>
std::unique_ptr<Layer> make<LayerKind::dense>(const LayerConfig& c, int index, Shape in) {
  return std::make_unique<Dense>(c, index, in);
}

}  // namespace scalegen::nn
