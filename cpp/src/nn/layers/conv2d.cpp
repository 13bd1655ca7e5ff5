// 2-D convolution (see conv2d.hpp): the layer alone, and the forward pass that may pool
// its output block by block at inference.
#include "conv2d.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "../kernels/elementwise.hpp"
#include "../kernels/matmul.hpp"
#include "../kernels/scratch.hpp"
#include "../kernels/small_k.hpp"
#include "pool2d.hpp"
#include "scalegen/common/limits.hpp"

namespace scalegen::nn {
namespace {
// Reductions over a batch are split into at most this many fixed groups of work.
constexpr std::int64_t kGroups = 8;
}  // namespace

template <>
std::unique_ptr<Layer> make<LayerKind::conv2d>(const LayerConfig& c, int index, Shape in) {
  return std::make_unique<Conv2D>(c, index, in);
}

Conv2D::Conv2D(const LayerConfig& c, int index, Shape in)
    : Layer(index, in), act_{c.activation, c.alpha}, bias_(c.use_bias) {
  const std::string who = layer_name("Conv2D", index);
  if (in.rank != 3) throw std::invalid_argument(who + " needs inputs of shape (height, width, channels)");
  if (c.filters <= 0 || c.kernel_h <= 0 || c.kernel_w <= 0 || c.stride_h <= 0 || c.stride_w <= 0 || c.dilation_h <= 0 ||
      c.dilation_w <= 0 || c.groups <= 0)
    throw std::invalid_argument(who + ": filters, kernel size, strides, dilation and groups must be positive");
  if (in.c % c.groups != 0 || c.filters % c.groups != 0)
    throw std::invalid_argument(who + ": groups must divide the input channels (" + std::to_string(in.c) +
                                ") and the filters (" + std::to_string(c.filters) + ")");
  kh_ = c.kernel_h, kw_ = c.kernel_w, sh_ = c.stride_h, sw_ = c.stride_w, groups_ = c.groups;
  // a dilated window spans (k - 1) d + 1 cells
  const std::int64_t span_h = (std::int64_t(kh_) - 1) * c.dilation_h + 1,
                     span_w = (std::int64_t(kw_) - 1) * c.dilation_w + 1;
  const WindowAxis ah = window_axis(in.h, checked_int(span_h, who), sh_, c.same_padding, c.pad_top, c.pad_bottom, who);
  const WindowAxis aw = window_axis(in.w, checked_int(span_w, who), sw_, c.same_padding, c.pad_left, c.pad_right, who);
  pt_ = ah.pad_begin, pl_ = aw.pad_begin;
  out_ = checked_shape(ah.out, aw.out, c.filters, 3, who);
  K_ = checked_mul(checked_mul(kh_, kw_, who), in.c / groups_, who);
  F_ = c.filters;
  check_tensor_bytes(checked_mul(K_, F_, who), sizeof(float), who + ": the kernel");
  pixels_ = std::int64_t(out_.h) * out_.w;
  geo_ = ConvGeometry{in_, out_, kh_, kw_, sh_, sw_, pt_, pl_, K_, c.dilation_h, c.dilation_w, 0, int(in.c / groups_)};
  // dilated or grouped: im2col (one group's channels at a time) and GEMM, no in-place kernels
  general_ = c.dilation_h > 1 || c.dilation_w > 1 || groups_ > 1;
  // blocks of whole samples with about 256 output pixels: an im2col block stays in L2
  most_per_block_ = std::max<std::int64_t>(1, 256 / pixels_);
  // every window inside the image: the forward pass reads windows in place (no im2col)
  winograd_ = !general_ && Winograd4x4s2::applies(geo_, F_);
  if (winograd_) wino_ = Winograd4x4s2(geo_, F_);
  in_place_ = !general_ && (small_reduction() || detail::has_fast_gemm(F_)) && pt_ == 0 && pl_ == 0 &&
              std::int64_t(out_.h - 1) * sh_ + kh_ <= in.h && std::int64_t(out_.w - 1) * sw_ + kw_ <= in.w;
  // where the K values of a window lie, from its first: kernel rows in.w * c apart
  for (int i = 0; i < kh_; ++i)
    for (std::int64_t j = 0; j < std::int64_t(kw_) * in.c; ++j)
      window_offsets_.push_back(std::int32_t(i * std::int64_t(in.w) * in.c + j));
}

std::vector<TensorSpec> Conv2D::tensors() const {
  std::vector<TensorSpec> t{{"kernel", {kh_, kw_, in_.c / groups_, F_}, true, 0.0f}};
  if (bias_) t.push_back({"bias", {F_}, true, 0.0f});
  return t;
}

void Conv2D::train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) {
  float* keep = kept_pre_activation(n, act_.kind);
  if (!uses_winograd(n)) return run_forward(x, y, n, ctx, keep);
  const float* w = ctx.params + param_offset;
  // a trainable layer keeps x's transformed tiles for its kernel gradient
  tiles_kept_ = !frozen;
  if (tiles_kept_) wino_tiles_.resize(std::size_t(wino_.tile_floats(n)));
  wino_.forward(x, w, y, n, ctx.n_threads, tiles_kept_ ? wino_tiles_.data() : nullptr);
  bias_activate_samples(y, n, out_.size(), F_, bias_ ? w + K_ * F_ : nullptr, act_, keep, ctx.n_threads);
}

void Conv2D::backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                      const Context& ctx) {
  if (uses_winograd(n)) return winograd_backward(x, y, dy, dx, n, pre_activation, ctx);
  run_backward(x, y, dy, dx, n, pre_activation, ctx, nullptr, nullptr);
}

void Conv2D::winograd_backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n,
                               bool pre_activation, const Context& ctx) {
  const bool weights = !frozen;
  float* grads = ctx.grads + param_offset;
  output_gradient(dy, y, pre_at(0), n, out_.size(), F_, pre_activation, act_,
                  weights && bias_ ? grads + K_ * F_ : nullptr, ctx.n_threads);
  wino_.backward(x, dy, ctx.params + param_offset, dx, weights ? grads : nullptr, n, ctx.n_threads,
                 tiles_kept_ ? wino_tiles_.data() : nullptr);
}

void Conv2D::forward_rows(const float* x, const OutputBlock& blk, float* out, float* keep, const Context& ctx) const {
  const auto [s0, s1, oh0, oh1, ow1, f0, f1] = blk;
  const float* w = ctx.params + param_offset;
  const float* b = bias_ ? w + K_ * F_ : nullptr;
  const std::int64_t band = std::int64_t(oh1 - oh0) * out_.w, rows = (s1 - s0) * band;
  const bool fuse = act_.kind == Activation::relu || act_.kind == Activation::linear;
  const float* fused_bias = fuse ? b : nullptr;
  const bool relu = fuse && act_.kind == Activation::relu;
  if (in_place_) {
    const std::int64_t C = in_.c, row_floats = std::int64_t(in_.w) * C;
    const auto at = [&](std::int64_t s, int oh) {
      return (s - s0) * out_.size() + std::int64_t(oh - oh0) * out_.w * F_;
    };
    if (small_reduction()) {
      for (std::int64_t s = s0; s < s1; ++s)
        for (int oh = oh0; oh < oh1; ++oh)
          with_small_k(K_, [&](auto k) {
            small_k_forward<decltype(k)::value>(x + s * in_.size() + std::int64_t(oh * sh_) * row_floats, ow1, sw_ * C,
                                                window_offsets_.data(), w, F_, out + at(s, oh), fused_bias, relu);
          });
    } else {
      in_place_gemm(x, blk, out, w, fused_bias, relu);
    }
    if (!fuse)
      for (std::int64_t s = s0; s < s1; ++s)
        for (int oh = oh0; oh < oh1; ++oh)
          for (int ow = 0; ow < ow1; ++ow) {
            const std::int64_t o = at(s, oh) + std::int64_t(ow) * F_ + f0;
            bias_activate(out + o, 1, f1 - f0, b ? b + f0 : nullptr, act_, keep ? keep + o : nullptr);
          }
    return;
  }
  const ScratchLease lease(std::size_t(rows * K_));
  float* cols = lease.data();
  if (general_) {  // per group: its channels' windows times its filters' columns of the kernel
    const std::int64_t Fg = F_ / groups_;
    for (int g = 0; g < groups_; ++g) {
      const ConvGeometry geo = group_geometry(g);
      for (std::int64_t s = s0; s < s1; ++s) geo.im2col_rows(x + s * in_.size(), oh0, oh1, cols + (s - s0) * band * K_);
      gemm_nn(rows, Fg, K_, cols, K_, w + g * Fg, F_, out + g * Fg, F_);
    }
    bias_activate(out, rows, F_, b, act_, keep);
    return;
  }
  for (std::int64_t s = s0; s < s1; ++s) geo_.im2col_rows(x + s * in_.size(), oh0, oh1, cols + (s - s0) * band * K_);
  if (!small_reduction()) {
    gemm_nn(rows, F_, K_, cols, K_, w, F_, out, F_);
    bias_activate(out, rows, F_, b, act_, keep);
    return;
  }
  with_small_k(K_, [&](auto k) {
    small_k_forward<decltype(k)::value>(cols, rows, K_, kIota.data(), w, F_, out, fused_bias, relu);
  });
  if (!fuse) bias_activate(out, rows, F_, b, act_, keep);
}

void Conv2D::in_place_gemm(const float* x, const OutputBlock& blk, float* out, const float* w, const float* bias,
                           bool relu) const {
#if SCALEGEN_FAST_GEMM
  const auto [s0, s1, oh0, oh1, ow1, f0, f1] = blk;
  constexpr std::int64_t panel = std::int64_t(detail::kGemmPanel) * detail::kGemmLanes;
  const std::int64_t C = in_.c, row_floats = std::int64_t(in_.w) * C, T = kw_ * C;
  for (std::int64_t p0 = f0; p0 < f1; p0 += panel) {
    const std::int64_t width = std::min(panel, f1 - p0);
    for (int i = 0; i < kh_; ++i) {
      const float* wi = w + i * T * F_ + p0;
      const bool last_relu = relu && i == kh_ - 1;
      for (std::int64_t s = s0; s < s1; ++s)
        for (int oh = oh0; oh < oh1; ++oh) {
          const float* a = x + s * in_.size() + std::int64_t(oh * sh_ + i) * row_floats;
          float* c = out + (s - s0) * out_.size() + std::int64_t(oh - oh0) * out_.w * F_ + p0;
          if (i == 0)
            detail::conv_row<false>(ow1, width, T, a, sw_ * C, wi, F_, c, F_, bias ? bias + p0 : nullptr, last_relu);
          else
            detail::conv_row<true>(ow1, width, T, a, sw_ * C, wi, F_, c, F_, nullptr, last_relu);
        }
    }
  }
#else
  (void)x, (void)blk, (void)out, (void)w, (void)bias, (void)relu;
  throw std::logic_error("in_place_gemm needs the AVX2 or AVX-512 build");
#endif
}

void Conv2D::run_backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                          const Context& ctx, const Pool2D* pool, const float* pool_y) {
  const SampleBlocks sb = blocks_of(n);
  if (general_) return general_backward(x, y, dy, dx, n, pre_activation, ctx);  // never fused with a pool
  const std::int64_t blocks = sb.count, groups = std::min(blocks, kGroups);
  const std::int64_t wsize = K_ * F_, psize = wsize + F_;
  const bool weights = !frozen;  // a frozen layer's gradients are never used: not computed
  if (weights) partials_.resize(std::size_t(groups * psize));  // each task zeroes its own
  const float* w = ctx.params + param_offset;
  // dcols = dz w^T reads w^T (F x K) row by row: transposed once per batch (group g's
  // filters are rows [g Fg, (g + 1) Fg))
  if (dx != nullptr) {
    wt_.resize(std::size_t(K_ * F_));
    transpose_parallel(w, K_, F_, wt_.data(), ctx.n_threads);
  }
  parallel_for_flushed(ctx.n_threads, groups, [&](std::int64_t g) {
    const auto [b0, b1] = split_range(blocks, groups, g);
    float* dw = weights ? partials_.data() + g * psize : nullptr;
    if (dw != nullptr) std::fill(dw, dw + psize, 0.0f);
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t s0 = b * sb.per, s1 = std::min(n, s0 + sb.per);
      const std::int64_t rows = (s1 - s0) * pixels_;
      const ScratchLease routed(pool != nullptr ? std::size_t(rows * F_) : 0);
      float* dz;
      if (pool != nullptr) {
        dz = routed.data();
        route_from_pool(*pool, pool_y, dy, s0, s1, dz);
      } else {
        dz = dy + s0 * out_.size();
        if (!pre_activation) activation_backward(dz, y + s0 * out_.size(), pre_at(s0 * out_.size()), rows, F_, act_);
      }
      if (weights) {
        const ScratchLease cols_lease(std::size_t(rows * K_));
        float* cols = cols_lease.data();
        geo_.im2col(x + s0 * in_.size(), s1 - s0, cols);
        if (small_reduction())
          with_small_k(K_, [&](auto k) { small_k_weight_grad<decltype(k)::value>(cols, dz, rows, F_, dw); });
        else
          gemm_tn(K_, F_, rows, cols, K_, dz, F_, dw, F_, true);
        add_column_sums(dz, rows, F_, dw + wsize);
      }
      if (dx != nullptr) {
        const ScratchLease dcols_lease(std::size_t(rows * K_));
        float* dcols = dcols_lease.data();
        gemm_nn(rows, K_, F_, dz, F_, wt_.data(), K_, dcols, K_);
        if (geo_.sums_in_registers())
          geo_.col2im_sum(dcols, s1 - s0, dx + s0 * in_.size(), nullptr, false);
        else
          geo_.col2im(dcols, s1 - s0, dx + s0 * in_.size());
      }
    }
  });
  if (weights)
    sum_partials_ordered(ctx.n_threads, partials_.data(), groups, psize, bias_ ? psize : wsize,
                         ctx.grads + param_offset);
}

ConvGeometry Conv2D::group_geometry(int g) const {
  ConvGeometry geo = geo_;
  geo.c0 = g * geo_.channels();
  return geo;
}

void Conv2D::general_backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                              const Context& ctx) {
  const SampleBlocks sb = blocks_of(n);
  const std::int64_t blocks = sb.count, tasks = std::min(blocks, kGroups);
  const std::int64_t wsize = K_ * F_, psize = wsize + F_, Fg = F_ / groups_;
  const bool weights = !frozen;
  if (weights) partials_.resize(std::size_t(tasks * psize));  // each task zeroes its own
  if (dx != nullptr) {  // w^T (F x K): group g's filters are its rows [g Fg, (g + 1) Fg)
    wt_.resize(std::size_t(K_ * F_));
    transpose_parallel(ctx.params + param_offset, K_, F_, wt_.data(), ctx.n_threads);
  }
  parallel_for_flushed(ctx.n_threads, tasks, [&](std::int64_t t) {
    const auto [b0, b1] = split_range(blocks, tasks, t);
    float* dw = weights ? partials_.data() + t * psize : nullptr;
    if (dw != nullptr) std::fill(dw, dw + psize, 0.0f);
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t s0 = b * sb.per, s1 = std::min(n, s0 + sb.per);
      const std::int64_t rows = (s1 - s0) * pixels_;
      float* dz = dy + s0 * out_.size();
      if (!pre_activation) activation_backward(dz, y + s0 * out_.size(), pre_at(s0 * out_.size()), rows, F_, act_);
      if (weights) add_column_sums(dz, rows, F_, dw + wsize);
      const ScratchLease cols(std::size_t(rows * K_));
      for (int g = 0; g < groups_; ++g) {
        const ConvGeometry geo = group_geometry(g);
        if (weights) {
          geo.im2col(x + s0 * in_.size(), s1 - s0, cols.data());
          gemm_tn(K_, Fg, rows, cols.data(), K_, dz + g * Fg, F_, dw + g * Fg, F_, true);
        }
        if (dx != nullptr) {
          gemm_nn(rows, K_, Fg, dz + g * Fg, F_, wt_.data() + g * Fg * K_, K_, cols.data(), K_);
          geo.col2im(cols.data(), s1 - s0, dx + s0 * in_.size(), g > 0);
        }
      }
    }
  });
  if (weights)
    sum_partials_ordered(ctx.n_threads, partials_.data(), tasks, psize, bias_ ? psize : wsize,
                         ctx.grads + param_offset);
}

void Conv2D::run_forward(const float* x, float* y, std::int64_t n, const Context& ctx, float* keep,
                         const Pool2D* pool) const {
  const SampleBlocks sb = blocks_of(n);
  const auto [rows_read, cols_read] = rows_cols_read_by(pool);
  // Fewer than 4 images: tasks over channel groups (the two halves of an in-place
  // convolution's filters), images and bands of (pooled) rows, so that a single image keeps
  // several threads busy with equal shares. The split depends on n only: the same bits for
  // any thread count.
  constexpr std::int64_t kSmallBatch = 4;
  if (keep == nullptr && n < kSmallBatch) {
    const std::int64_t groups =
        in_place_ && !small_reduction() && act_.kind != Activation::softmax && F_ % (2 * kVec) == 0 ? 2 : 1;
    const int units = pool != nullptr ? pool->out().h : out_.h;
    const std::int64_t bands = std::clamp<std::int64_t>((kSmallBatch + n * groups - 1) / (n * groups), 1, units);
    parallel_for_flushed(ctx.n_threads, groups * n * bands, [&](std::int64_t t) {
      const std::int64_t g = t / (n * bands), s = t % (n * bands) / bands;
      const auto [u0, u1] = split_range(units, bands, t % bands);
      const auto [f0, f1] = split_range(F_, groups, g);
      if (pool == nullptr) {
        forward_rows(x, {s, s + 1, int(u0), int(u1), out_.w, f0, f1}, y + s * out_.size() + u0 * out_.w * F_, nullptr,
                     ctx);
        return;
      }
      if (pooled_rows_in_registers(x, s, int(u0), int(u1), *pool, y + s * pool->out().size(), ctx)) return;
      const auto [c0, c1] = pool->input_rows(int(u0), int(u1));
      const ScratchLease lease(std::size_t(out_.size()));  // laid out as the whole image's output
      float* out = lease.data();
      forward_rows(x, {s, s + 1, c0, c1, cols_read, f0, f1}, out + std::int64_t(c0) * out_.w * F_, nullptr, ctx);
      pool->pool_rows(out, y + s * pool->out().size(), int(u0), int(u1), nullptr, int(f0), int(f1));
    });
    return;
  }
  parallel_for_flushed(ctx.n_threads, sb.count, [&](std::int64_t blk) {
    const std::int64_t s0 = blk * sb.per, s1 = std::min(n, s0 + sb.per);
    if (pool == nullptr) {
      forward_rows(x, whole(s0, s1), y + s0 * out_.size(), keep ? keep + s0 * out_.size() : nullptr, ctx);
      return;
    }
    conv_pool_block(x, s0, s1, *pool, y, nullptr, ctx);
  });
}

}  // namespace scalegen::nn
