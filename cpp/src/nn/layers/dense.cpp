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
  bool absorb_activation(Act act) override { return absorb_activation_into(act_, act); }

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
      // ~8K values a task (64 rows of 3,136 made one task for two threads)
      const std::int64_t block = std::max<std::int64_t>(1, 8192 / O_), tasks = (rows + block - 1) / block;
      parallel_for_flushed(ctx.n_threads, tasks, [&](std::int64_t t) {
        const std::int64_t r0 = t * block, r1 = std::min(rows, r0 + block);
        activation_backward(dy + r0 * O_, y + r0 * O_, pre_at(r0 * O_), r1 - r0, O_, act_);
      });
    }
    // dW = x^T dz in blocks of inputs x outputs, each with its outputs' bias sums when it
    // holds the first inputs (a small layer still splits); dx = dz W^T in blocks of rows
    const bool weights = !frozen;  // a frozen layer's gradients are never used: not computed
    const std::int64_t in_slices = weights ? (I_ + kSlice - 1) / kSlice : 0, out_slices = (O_ + kCols - 1) / kCols;
    const std::int64_t x_tasks = dx != nullptr ? (rows + kDxRows - 1) / kDxRows : 0, w_tasks = in_slices * out_slices;
    if (dx != nullptr) {
      wt_.resize(std::size_t(O_ * I_));
      transpose_parallel(w, I_, O_, wt_.data(), ctx.n_threads);
    }
    parallel_for_flushed(ctx.n_threads, x_tasks + w_tasks, [&](std::int64_t t) {
      if (t < x_tasks) {
        const std::int64_t r0 = t * kDxRows, r1 = std::min(rows, r0 + kDxRows);
        gemm_nn(r1 - r0, I_, O_, dy + r0 * O_, O_, wt_.data(), I_, dx + r0 * I_, I_);
        return;
      }
      t -= x_tasks;
      const std::int64_t a = (t / out_slices) * kSlice, len = std::min(I_, a + kSlice) - a;
      const std::int64_t c0 = (t % out_slices) * kCols, width = std::min(O_, c0 + kCols) - c0;
      gemm_tn(len, width, rows, x + a, I_, dy + c0, O_, gw + a * O_ + c0, O_, false);
      if (bias_ && a == 0) {
        float* gb = gw + I_ * O_ + c0;
        std::fill(gb, gb + width, 0.0f);
        for (std::int64_t r = 0; r < rows; ++r) add_floats(dy + r * O_ + c0, width, gb);
      }
    });
  }

 private:
  static constexpr std::int64_t kSlice = 128;  // inputs per block of dW
  static constexpr std::int64_t kCols = 256;   // outputs per block of dW
  static constexpr std::int64_t kDxRows = 16;  // rows per block of dx
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
    // (smaller row blocks when there would be fewer than 8 tasks; not by the thread count,
    // so any count gives the same bits)
    const std::int64_t col_slices = (O_ + kSlice / 2 - 1) / (kSlice / 2);
    std::int64_t block = kRows;
    while (block > 8 && (rows + block - 1) / block * col_slices < 8) block /= 2;
    const std::int64_t tasks = (rows + block - 1) / block * col_slices;
    // the task that computes values activates them, unless a softmax needs rows it lacks
    const bool in_task = act_.kind != Activation::softmax || col_slices == 1;
    // a fixed schedule: at a small batch each thread keeps reading the same slice of the
    // kernel, which stays in its core's cache between calls
    parallel_for_flushed(
        ctx.n_threads, tasks,
        [&](std::int64_t t) {
          const std::int64_t r0 = t / col_slices * block, r1 = std::min(rows, r0 + block);
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
  AlignedVector<float> wt_;  // the kernel transposed (O x I), for input gradients
};

}  // namespace

template <>
std::unique_ptr<Layer> make<LayerKind::dense>(const LayerConfig& c, int index, Shape in) {
  return std::make_unique<Dense>(c, index, in);
}

}  // namespace scalegen::nn
