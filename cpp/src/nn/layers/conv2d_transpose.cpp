// Conv2DTranspose (Keras' semantics): the adjoint of a convolution from the output's shape
// to the input's. With the convolution it is the transpose of (kernel (kh, kw, filters,
// in_channels), Keras' layout, read as a K x in_channels matrix with K = kh kw filters):
//   forward      y = col2im(x W^T) + bias      (each input pixel spreads into a window)
//   input grad   dx = im2col(dy) W
//   kernel grad  dW = im2col(dy)^T x
// Output size and window placement: deconv_axis (shapes.cpp).
#include <algorithm>
#include <stdexcept>

#include "../kernels/elementwise.hpp"
#include "../kernels/im2col.hpp"
#include "../kernels/matmul.hpp"
#include "../kernels/scratch.hpp"
#include "../kernels/winograd.hpp"
#include "../layer.hpp"
#include "scalegen/common/limits.hpp"

namespace scalegen::nn {
namespace {

class Conv2DTranspose final : public Layer {
 public:
  Conv2DTranspose(const LayerConfig& c, int index, Shape in)
      : Layer(index, in), act_{c.activation, c.alpha}, bias_(c.use_bias) {
    const std::string who = layer_name("Conv2DTranspose", index);
    if (in.rank != 3) throw std::invalid_argument(who + " needs inputs of shape (height, width, channels)");
    if (c.filters <= 0 || c.kernel_h <= 0 || c.kernel_w <= 0 || c.stride_h <= 0 || c.stride_w <= 0)
      throw std::invalid_argument(who + ": filters, kernel size and strides must be positive");
    const WindowAxis ah =
        deconv_axis(in.h, c.kernel_h, c.stride_h, c.same_padding, c.output_padding_h, c.pad_top, c.pad_bottom, who);
    const WindowAxis aw =
        deconv_axis(in.w, c.kernel_w, c.stride_w, c.same_padding, c.output_padding_w, c.pad_left, c.pad_right, who);
    out_ = checked_shape(ah.out, aw.out, c.filters, 3, who);
    F_ = c.filters;
    C_ = in.c;
    const std::int64_t K = checked_mul(checked_mul(c.kernel_h, c.kernel_w, who), F_, who);
    check_tensor_bytes(checked_mul(K, C_, who), sizeof(float), who + ": the kernel");
    // the convolution this is the adjoint of: from our output to our input
    geo_ = ConvGeometry{out_, in, c.kernel_h, c.kernel_w, c.stride_h, c.stride_w, ah.pad_begin, aw.pad_begin, K};
    most_per_block_ = std::max<std::int64_t>(1, 256 / (std::int64_t(in.h) * in.w));
    // the forward product's rows padded to whole vectors: our GEMM kernel takes them, where
    // Eigen ran a 9-wide product (3 x 3 to one channel) ~5x slower
    cols_geo_ = geo_;
    cols_geo_.K = (K + 15) / 16 * 16;
    winograd_ = Winograd4x4s2::applies(geo_, C_);
    if (winograd_) wino_ = Winograd4x4s2(geo_, C_);
  }

  std::vector<TensorSpec> tensors() const override {
    std::vector<TensorSpec> t{{"kernel", {geo_.kh, geo_.kw, F_, C_}, true, 0.0f}};
    if (bias_) t.push_back({"bias", {F_}, true, 0.0f});
    return t;
  }
  Activation activation() const override { return act_.kind; }
  bool absorb_activation(Act act) override { return absorb_activation_into(act_, act); }

  void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const override {
    run_forward(x, y, n, ctx, nullptr);
  }
  void train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) override {
    float* keep = kept_pre_activation(n, act_.kind);
    if (!uses_winograd(n)) return run_forward(x, y, n, ctx, keep);
    const float* w = ctx.params + param_offset;
    wino_.backward(nullptr, x, w, y, nullptr, n, ctx.n_threads);  // the convolution's adjoint
    bias_activate_samples(y, n, out_.size(), F_, bias_ ? w + geo_.K * C_ : nullptr, act_, keep, ctx.n_threads);
  }

  void backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                const Context& ctx) override {
    const std::int64_t K = geo_.K, in_rows = std::int64_t(in_.h) * in_.w, out_size = out_.size();
    const SampleBlocks sb(n, most_per_block_);
    const std::int64_t blocks = sb.count, groups = std::min<std::int64_t>(blocks, 8);
    const std::int64_t wsize = K * C_, psize = wsize + F_;
    const bool weights = !frozen;  // a frozen layer's gradients are never used: not computed
    if (!weights && dx == nullptr) return;
    if (uses_winograd(n)) return winograd_backward(x, y, dy, dx, n, pre_activation, ctx);
    if (weights) partials_.resize(std::size_t(groups * psize));  // each task zeroes its own
    const float* w = ctx.params + param_offset;
    parallel_for_flushed(ctx.n_threads, groups, [&](std::int64_t g) {
      const auto [b0, b1] = split_range(blocks, groups, g);
      float* dw = weights ? partials_.data() + g * psize : nullptr;
      if (dw != nullptr) std::fill(dw, dw + psize, 0.0f);
      for (std::int64_t b = b0; b < b1; ++b) {
        const std::int64_t s0 = b * sb.per, s1 = std::min(n, s0 + sb.per);
        float* dz = dy + s0 * out_size;
        if (!pre_activation)
          activation_backward(dz, y + s0 * out_size, pre_at(s0 * out_size), (s1 - s0) * out_size / F_, F_, act_);
        const std::int64_t rows = (s1 - s0) * in_rows;
        const ScratchLease lease(std::size_t(rows * K));
        geo_.im2col(dz, s1 - s0, lease.data());
        if (weights) {
          add_column_sums(dz, (s1 - s0) * out_size / F_, F_, dw + wsize);
          gemm_tn(K, C_, rows, lease.data(), K, x + s0 * in_.size(), C_, dw, C_, true);
        }
        if (dx != nullptr) gemm_nn(rows, C_, K, lease.data(), K, w, C_, dx + s0 * in_.size(), C_);
      }
    });
    // the kernel's gradient first, then the bias's, as the parameters are laid out
    if (weights)
      sum_partials_ordered(ctx.n_threads, partials_.data(), groups, psize, bias_ ? psize : wsize,
                           ctx.grads + param_offset);
  }

 private:
  // Training batches of 4 x 4 stride-2 kernels: the convolution's Winograd passes swapped
  // (our forward is its input gradient, our input gradient its forward, our kernel gradient
  // its kernel gradient with the roles of x and dy swapped).
  bool uses_winograd(std::int64_t n) const { return winograd_ && n >= kWinogradMinBatch; }
  void winograd_backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                         const Context& ctx) {
    const bool weights = !frozen;
    const float* w = ctx.params + param_offset;
    float* grads = ctx.grads + param_offset;
    output_gradient(dy, y, pre_at(0), n, out_.size(), F_, pre_activation, act_,
                    weights && bias_ ? grads + geo_.K * C_ : nullptr, ctx.n_threads);
    if (dx != nullptr) wino_.forward(dy, w, dx, n, ctx.n_threads);
    if (weights) wino_.backward(dy, x, w, nullptr, grads, n, ctx.n_threads);
  }

  void run_forward(const float* x, float* y, std::int64_t n, const Context& ctx, float* keep) const {
    const std::int64_t K = geo_.K, Kp = cols_geo_.K, in_rows = std::int64_t(in_.h) * in_.w, out_size = out_.size();
    const float* w = ctx.params + param_offset;
    const float* b = bias_ ? w + K * C_ : nullptr;
    const SampleBlocks sb(n, most_per_block_);
    // cols = x W^T: the kernel transposed once per call (C x K, zero-padded to Kp), so the
    // product's rows are Kp wide, as our GEMM kernel wants them
    const ScratchLease wt(std::size_t(Kp * C_));
    mat(wt.data(), C_, K, Kp) = cmat(w, K, C_, C_).transpose();
    if (Kp > K) mat(wt.data() + K, C_, Kp - K, Kp).setZero();
    // the output summed in registers, with its bias and relu (neither keeps a pre-activation)
    const bool gathered =
        cols_geo_.sums_in_registers() && (act_.kind == Activation::linear || act_.kind == Activation::relu);
    parallel_for_flushed(ctx.n_threads, sb.count, [&](std::int64_t blk) {
      const std::int64_t s0 = blk * sb.per, s1 = std::min(n, s0 + sb.per);
      const std::int64_t rows = (s1 - s0) * in_rows;
      const ScratchLease cols(std::size_t(rows * Kp));
      gemm_nn(rows, Kp, C_, x + s0 * in_.size(), C_, wt.data(), Kp, cols.data(), Kp);
      float* out = y + s0 * out_size;
      if (gathered) return cols_geo_.col2im_sum(cols.data(), s1 - s0, out, b, act_.kind == Activation::relu);
      cols_geo_.col2im(cols.data(), s1 - s0, out);
      bias_activate(out, (s1 - s0) * out_size / F_, F_, b, act_, keep ? keep + s0 * out_size : nullptr);
    });
  }

  Act act_;
  bool bias_;
  std::int64_t F_ = 0, C_ = 0, most_per_block_ = 1;  // samples a block holds at most
  ConvGeometry geo_;
  ConvGeometry cols_geo_;  // geo_ with the forward product's padded row length
  bool winograd_ = false;
  Winograd4x4s2 wino_;
  std::vector<float> partials_;
};

}  // namespace

template <>
std::unique_ptr<Layer> make<LayerKind::conv2d_transpose>(const LayerConfig& c, int index, Shape in) {
  return std::make_unique<Conv2DTranspose>(c, index, in);
}

}  // namespace scalegen::nn
