// Forward and backward kernels of the layers: conv2d (im2col + GEMM, or a direct loop when
// the reduction is tiny), pooling, dense, batch normalization, dropout, activations.
//
// Parallel work is split into tasks fixed by the shapes alone (never by the thread count),
// and every reduction adds per-task partials in task order: any n_threads gives the same bits.
#include "layers.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>

#include "gemm.hpp"
#include "scalegen/common/limits.hpp"
#include "scalegen/common/parallel.hpp"

namespace scalegen::nn {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Strided = Eigen::OuterStride<>;
using MatMap = Eigen::Map<RowMat, 0, Strided>;
using ConstMatMap = Eigen::Map<const RowMat, 0, Strided>;

MatMap mat(float* p, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
  return MatMap(p, rows, cols, Strided(ld));
}
ConstMatMap cmat(const float* p, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
  return ConstMatMap(p, rows, cols, Strided(ld));
}

// C (m x n) = A (m x T) B (T x n), row-major with leading dimensions: our register-tiled
// kernel when n fills its vectors (AVX2 and AVX-512 builds), else Eigen.
void gemm_nn(std::int64_t m, std::int64_t n, std::int64_t T, const float* A, std::int64_t lda, const float* B,
             std::int64_t ldb, float* C, std::int64_t ldc) {
#if SCALEGEN_FAST_GEMM
  if (detail::has_fast_gemm(n)) return detail::gemm<false>(m, n, T, A, lda, 1, B, ldb, C, ldc);
#endif
  mat(C, m, n, ldc).noalias() = cmat(A, m, T, lda) * cmat(B, T, n, ldb);
}

// C (m x n) = (or += when accumulate) A^T B with A (T x m) and B (T x n).
void gemm_tn(std::int64_t m, std::int64_t n, std::int64_t T, const float* A, std::int64_t lda, const float* B,
             std::int64_t ldb, float* C, std::int64_t ldc, bool accumulate) {
#if SCALEGEN_FAST_GEMM
  if (detail::has_fast_gemm(n)) {
    if (accumulate) return detail::gemm<true>(m, n, T, A, 1, lda, B, ldb, C, ldc);
    return detail::gemm<false>(m, n, T, A, 1, lda, B, ldb, C, ldc);
  }
#endif
  if (accumulate)
    mat(C, m, n, ldc).noalias() += cmat(A, T, m, lda).transpose() * cmat(B, T, n, ldb);
  else
    mat(C, m, n, ldc).noalias() = cmat(A, T, m, lda).transpose() * cmat(B, T, n, ldb);
}

// Reductions over a batch are split into at most this many fixed groups of work.
constexpr std::int64_t kGroups = 8;

// [begin, end) of part g of n items split into parts as equal as possible.
std::pair<std::int64_t, std::int64_t> split(std::int64_t n, std::int64_t parts, std::int64_t g) {
  return {n * g / parts, n * (g + 1) / parts};
}

std::string layer_name(const char* kind, int index) { return std::string(kind) + " (layer " + std::to_string(index) + ")"; }

// The output shape of a layer, refused when one sample's output passes max_tensor_bytes
// (every size a kernel computes from it then fits the int32 offsets the kernels use).
Shape checked_shape(std::int64_t h, std::int64_t w, std::int64_t c, int rank, const std::string& who) {
  const std::int64_t size = checked_mul(checked_mul(h, w, who), c, who);
  check_tensor_bytes(size, sizeof(float), who + ": one sample's output");
  return Shape{checked_int(h, who), checked_int(w, who), checked_int(c, who), rank};
}

// A short copy inline (a call to memcpy costs more than copying a few floats).
inline void copy_floats(const float* src, std::int64_t n, float* dst) {
  if (n >= 32) {
    std::memcpy(dst, src, sizeof(float) * std::size_t(n));
  } else {
    for (std::int64_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

// dst = max(dst, src) per channel; arg follows where src is strictly greater. Free
// functions with restrict pointers: in a lambda the stores through arg could alias C.
void max_with_argmax(const float* __restrict src, std::int32_t at, int C, float* __restrict dst,
                     std::int32_t* __restrict arg) {
  for (int c = 0; c < C; ++c) {
    const bool gt = src[c] > dst[c];
    dst[c] = gt ? src[c] : dst[c];
    arg[c] = gt ? at + c : arg[c];
  }
}
// One cell of a window in a max pool's backward pass: the window's gradient where the
// cell is the argmax (and, absorbing a relu, its input is positive), else 0.
void route_window_cell(const float* __restrict d, const std::int32_t* __restrict arg, const float* __restrict x,
                       std::int32_t at, int C, bool relu, float* __restrict g) {
  for (int c = 0; c < C; ++c) {
    const bool hit = arg[c] == at + c && (!relu || x[c] > 0.0f);
    g[c] = hit ? d[c] : 0.0f;
  }
}
void max_into(const float* __restrict src, int C, float* __restrict dst) {
  for (int c = 0; c < C; ++c) dst[c] = src[c] > dst[c] ? src[c] : dst[c];
}

// 16 floats, loaded and stored without alignment; GCC lowers it to what the ISA level has.
typedef float Vec16 __attribute__((vector_size(64), aligned(4)));
constexpr std::int64_t kVec = 16;

// Kernels for a tiny reduction K (< 16: a first layer on one channel), with K a template
// parameter so that a K x 32 block of weights or of weight gradients stays in registers.
// Columns past the last multiple of 32 take a plain loop.

// Columns [f0, f0 + 32) of a K x F kernel and of its bias (zero when null).
template <int K>
struct SmallKBlock {
  Vec16 w0[K], w1[K], b0, b1;
  SmallKBlock(const float* w, std::int64_t F, std::int64_t f0, const float* bias) {
#pragma GCC unroll 16
    for (int k = 0; k < K; ++k) {
      w0[k] = *reinterpret_cast<const Vec16*>(w + k * F + f0);
      w1[k] = *reinterpret_cast<const Vec16*>(w + k * F + f0 + kVec);
    }
    b0 = bias ? *reinterpret_cast<const Vec16*>(bias + f0) : Vec16{};
    b1 = bias ? *reinterpret_cast<const Vec16*>(bias + f0 + kVec) : Vec16{};
  }
};

inline Vec16 relu_if(bool relu, Vec16 v) { return relu ? (v > 0.0f ? v : Vec16{}) : v; }

// out = A w, plus bias (when not null) and then max(0, .) when relu, for `rows` rows of A
// whose K values lie at a + r * a_step + off[k] (im2col's columns: a_step = K, off[k] = k;
// or windows read in place from the image). Four rows at a time for independent sums.
template <int K>
void small_k_forward(const float* __restrict a, std::int64_t rows, std::ptrdiff_t a_step,
                     const std::int32_t* __restrict off, const float* __restrict w, std::int64_t F,
                     float* __restrict out, const float* __restrict bias, bool relu) {
  constexpr int R = 4;
  std::int64_t f0 = 0;
  const auto store = [&](Vec16 v, std::int64_t r, std::int64_t f) {
    *reinterpret_cast<Vec16*>(out + r * F + f) = relu_if(relu, v);
  };
  for (; f0 + 2 * kVec <= F; f0 += 2 * kVec) {
    const SmallKBlock<K> blk(w, F, f0, bias);
    const auto &w0 = blk.w0, &w1 = blk.w1;
    const Vec16 b0 = blk.b0, b1 = blk.b1;
    std::int64_t r = 0;
    for (; r + R <= rows; r += R) {
      Vec16 acc0[R], acc1[R];
      for (int i = 0; i < R; ++i) acc0[i] = b0, acc1[i] = b1;
#pragma GCC unroll 16
      for (int k = 0; k < K; ++k)
#pragma GCC unroll 4
        for (int i = 0; i < R; ++i) {
          const float v = a[(r + i) * a_step + off[k]];
          acc0[i] += v * w0[k];
          acc1[i] += v * w1[k];
        }
      for (int i = 0; i < R; ++i) store(acc0[i], r + i, f0), store(acc1[i], r + i, f0 + kVec);
    }
    for (; r < rows; ++r) {
      Vec16 acc0 = b0, acc1 = b1;
#pragma GCC unroll 16
      for (int k = 0; k < K; ++k) {
        const float v = a[r * a_step + off[k]];
        acc0 += v * w0[k];
        acc1 += v * w1[k];
      }
      store(acc0, r, f0), store(acc1, r, f0 + kVec);
    }
  }
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t f = f0; f < F; ++f) {
      float acc = bias ? bias[f] : 0.0f;
      for (int k = 0; k < K; ++k) acc += a[r * a_step + off[k]] * w[k * F + f];
      out[r * F + f] = relu && !(acc > 0.0f) ? 0.0f : acc;
    }
}

// A tiny-reduction convolution with a 2 x 2 max pool (stride 2) in registers: for each of m
// pooled pixels, whose windows start a_step apart, the four cells (at cells[q] from there,
// each reading K values at off[k]) go through small_k_forward's sums, bias and relu, and
// their maximum, taken in the pool's order, is stored: the bits of the two layers apart.
template <int K>
void small_k_max_pool_2x2(const float* __restrict a, std::int64_t m, std::ptrdiff_t a_step,
                          const std::array<std::int32_t, 4>& cells, const std::int32_t* __restrict off,
                          const float* __restrict w, std::int64_t F, float* __restrict out,
                          const float* __restrict bias, bool relu) {
  std::int64_t f0 = 0;
  for (; f0 + 2 * kVec <= F; f0 += 2 * kVec) {
    const SmallKBlock<K> blk(w, F, f0, bias);
    const auto &w0 = blk.w0, &w1 = blk.w1;
    const Vec16 b0 = blk.b0, b1 = blk.b1;
    for (std::int64_t r = 0; r < m; ++r) {
      Vec16 acc0[4], acc1[4];
      for (int q = 0; q < 4; ++q) acc0[q] = b0, acc1[q] = b1;
#pragma GCC unroll 16
      for (int k = 0; k < K; ++k)
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) {
          const float v = a[r * a_step + cells[q] + off[k]];
          acc0[q] += v * w0[k];
          acc1[q] += v * w1[k];
        }
      Vec16 m0 = relu_if(relu, acc0[0]), m1 = relu_if(relu, acc1[0]);
      for (int q = 1; q < 4; ++q) {
        const Vec16 v0 = relu_if(relu, acc0[q]), v1 = relu_if(relu, acc1[q]);
        m0 = v0 > m0 ? v0 : m0;
        m1 = v1 > m1 ? v1 : m1;
      }
      *reinterpret_cast<Vec16*>(out + r * F + f0) = m0;
      *reinterpret_cast<Vec16*>(out + r * F + f0 + kVec) = m1;
    }
  }
  for (std::int64_t r = 0; r < m; ++r)
    for (std::int64_t f = f0; f < F; ++f) {
      float best = 0.0f;
      for (int q = 0; q < 4; ++q) {
        float acc = bias ? bias[f] : 0.0f;
        for (int k = 0; k < K; ++k) acc += a[r * a_step + cells[q] + off[k]] * w[k * F + f];
        if (relu && !(acc > 0.0f)) acc = 0.0f;
        if (q == 0 || acc > best) best = acc;
      }
      out[r * F + f] = best;
    }
}

// dw (K x F) += cols^T dz.
template <int K>
void small_k_weight_grad(const float* __restrict cols, const float* __restrict dz, std::int64_t rows,
                         std::int64_t F, float* __restrict dw) {
  std::int64_t f0 = 0;
  for (; f0 + 2 * kVec <= F; f0 += 2 * kVec) {
    Vec16 g0[K] = {}, g1[K] = {};
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* a = cols + r * K;
      const Vec16 d0 = *reinterpret_cast<const Vec16*>(dz + r * F + f0);
      const Vec16 d1 = *reinterpret_cast<const Vec16*>(dz + r * F + f0 + kVec);
      for (int k = 0; k < K; ++k) {
        g0[k] += a[k] * d0;
        g1[k] += a[k] * d1;
      }
    }
    for (int k = 0; k < K; ++k) {
      *reinterpret_cast<Vec16*>(dw + k * F + f0) += g0[k];
      *reinterpret_cast<Vec16*>(dw + k * F + f0 + kVec) += g1[k];
    }
  }
  for (std::int64_t r = 0; r < rows; ++r)
    for (int k = 0; k < K; ++k)
      for (std::int64_t f = f0; f < F; ++f) dw[k * F + f] += cols[r * K + k] * dz[r * F + f];
}

// The offsets of im2col's K columns in its rows (K < 16).
constexpr std::array<std::int32_t, 16> kIota{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

// Calls fn(std::integral_constant<int, K>) for K in [1, 16).
template <class Fn>
void with_small_k(std::int64_t K, Fn&& fn) {
  switch (K) {
#define SCALEGEN_SMALL_K(k) \
  case k:                   \
    return fn(std::integral_constant<int, k>{});
    SCALEGEN_SMALL_K(1) SCALEGEN_SMALL_K(2) SCALEGEN_SMALL_K(3) SCALEGEN_SMALL_K(4) SCALEGEN_SMALL_K(5)
    SCALEGEN_SMALL_K(6) SCALEGEN_SMALL_K(7) SCALEGEN_SMALL_K(8) SCALEGEN_SMALL_K(9) SCALEGEN_SMALL_K(10)
    SCALEGEN_SMALL_K(11) SCALEGEN_SMALL_K(12) SCALEGEN_SMALL_K(13) SCALEGEN_SMALL_K(14) SCALEGEN_SMALL_K(15)
#undef SCALEGEN_SMALL_K
    default:
      throw std::logic_error("with_small_k: K must be in [1, 16)");
  }
}

// The epilogue of a layer's GEMM: z += bias per column, then the activation (one pass for relu).
void bias_activate(float* __restrict z, std::int64_t rows, std::int64_t width, const float* __restrict bias,
                   Activation act, float* logits) {
  if (bias && act == Activation::relu) {
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t j = 0; j < width; ++j) {
        const float v = z[r * width + j] + bias[j];
        z[r * width + j] = v > 0.0f ? v : 0.0f;
      }
    return;
  }
  if (bias)
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t j = 0; j < width; ++j) z[r * width + j] += bias[j];
  activate(z, rows, width, act, logits);
}

// dst += src over n floats.
inline void add_floats(const float* __restrict src, std::int64_t n, float* __restrict dst) {
  for (std::int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

// Sum over rows of a rows x width block, added to acc (in row order).
void add_column_sums(const float* __restrict z, std::int64_t rows, std::int64_t width, float* __restrict acc) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = z + r * width;
    for (std::int64_t j = 0; j < width; ++j) acc[j] += row[j];
  }
}

// Adds `parts` vectors of length len laid out `stride` apart into out (in part order),
// split over fixed element ranges.
void reduce_partials(const float* partials, std::int64_t parts, std::int64_t stride, std::int64_t len, float* out,
                     int n_threads) {
  constexpr std::int64_t chunk = 16384;
  const std::int64_t tasks = (len + chunk - 1) / chunk;
  for_tasks(n_threads, tasks, [&](std::int64_t t) {
    const std::int64_t a = t * chunk, b = std::min(len, a + chunk);
    std::copy(partials + a, partials + b, out + a);
    for (std::int64_t p = 1; p < parts; ++p) {
      const float* src = partials + p * stride;
      for (std::int64_t i = a; i < b; ++i) out[i] += src[i];
    }
  });
}

class Pool2D;

// ---------------------------------------------------------------------------- conv2d
class Conv2D final : public Layer {
 public:
  Conv2D(const LayerConfig& c, int index, Shape in) : Layer(index, in), act_(c.activation), bias_(c.use_bias) {
    const std::string who = layer_name("Conv2D", index);
    if (in.rank != 3) throw std::invalid_argument(who + " needs inputs of shape (height, width, channels)");
    if (c.filters <= 0 || c.kernel_h <= 0 || c.kernel_w <= 0 || c.stride_h <= 0 || c.stride_w <= 0)
      throw std::invalid_argument(who + ": filters, kernel size and strides must be positive");
    kh_ = c.kernel_h, kw_ = c.kernel_w, sh_ = c.stride_h, sw_ = c.stride_w;
    const WindowAxis ah = window_axis(in.h, kh_, sh_, c.same_padding, c.pad_top, c.pad_bottom, who);
    const WindowAxis aw = window_axis(in.w, kw_, sw_, c.same_padding, c.pad_left, c.pad_right, who);
    pt_ = ah.pad_begin, pl_ = aw.pad_begin;
    out_ = checked_shape(ah.out, aw.out, c.filters, 3, who);
    K_ = checked_mul(checked_mul(kh_, kw_, who), in.c, who);
    F_ = c.filters;
    check_tensor_bytes(checked_mul(K_, F_, who), sizeof(float), who + ": the kernel");
    pixels_ = std::int64_t(out_.h) * out_.w;
    // blocks of whole samples with about 256 output pixels: an im2col block stays in L2
    samples_per_block_ = std::max<std::int64_t>(1, 256 / pixels_);
    // every window inside the image: the forward pass reads windows in place (no im2col)
    in_place_ = (small_reduction() || detail::has_fast_gemm(F_)) && pt_ == 0 && pl_ == 0 &&
                std::int64_t(out_.h - 1) * sh_ + kh_ <= in.h && std::int64_t(out_.w - 1) * sw_ + kw_ <= in.w;
    // where the K values of a window lie, from its first: kernel rows in.w * c apart
    for (int i = 0; i < kh_; ++i)
      for (std::int64_t j = 0; j < std::int64_t(kw_) * in.c; ++j)
        window_offsets_.push_back(std::int32_t(i * std::int64_t(in.w) * in.c + j));
  }

  std::vector<TensorSpec> tensors() const override {
    std::vector<TensorSpec> t{{"kernel", {kh_, kw_, in_.c, F_}, true, 0.0f}};
    if (bias_) t.push_back({"bias", {F_}, true, 0.0f});
    return t;
  }
  Activation activation() const override { return act_; }

  void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const override {
    run_forward(x, y, n, ctx, nullptr);
  }
  bool infer_fused(const Layer& next, const float* x, float* y, std::int64_t n, const Context& ctx) const override;
  bool train_forward_fused(Layer& next, const float* x, float* y, std::int64_t n, const Context& ctx) override;
  void backward_fused(const Layer& next, const float* x, const float* y, float* dy, float* dx, std::int64_t n,
                      const Context& ctx) override;
  void train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) override {
    if (act_ == Activation::softmax) logits_.resize(std::size_t(n * out_.size()));
    run_forward(x, y, n, ctx, act_ == Activation::softmax ? logits_.data() : nullptr);
  }

  void backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                const Context& ctx) override {
    run_backward(x, y, dy, dx, n, pre_activation, ctx, nullptr, nullptr);
  }

 private:
  // With `pool` (a max pool that absorbed this layer's relu), each block's output gradient
  // is routed from the pool's (dy) through its argmax in a scratch buffer; else it is dy.
  void run_backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                    const Context& ctx, const Pool2D* pool, const float* pool_y) {
    const std::int64_t blocks = n_blocks(n), groups = std::min(blocks, kGroups);
    const std::int64_t wsize = K_ * F_, psize = wsize + F_;
    partials_.assign(std::size_t(groups * psize), 0.0f);
    const float* w = ctx.params + param_offset;
    // dcols = dz w^T reads w^T (F x K) row by row: transposed once per batch
    if (dx != nullptr) {
      wt_.resize(std::size_t(K_ * F_));
      mat(wt_.data(), F_, K_, K_) = cmat(w, K_, F_, F_).transpose();
    }
    for_tasks(ctx.n_threads, groups, [&](std::int64_t g) {
      const auto [b0, b1] = split(blocks, groups, g);
      float* dw = partials_.data() + g * psize;
      float* db = dw + wsize;
      for (std::int64_t b = b0; b < b1; ++b) {
        const std::int64_t s0 = b * samples_per_block_, s1 = std::min(n, s0 + samples_per_block_);
        const std::int64_t rows = (s1 - s0) * pixels_;
        float* dz;
        if (pool != nullptr) {
          dz = scratch(std::size_t(rows * F_), 2);
          route_from_pool(*pool, pool_y, dy, s0, s1, dz);
        } else {
          dz = dy + s0 * out_.size();
          if (!pre_activation) activation_backward(dz, y + s0 * out_.size(), rows, F_, act_);
        }
        float* cols = scratch(std::size_t(rows * K_), 0);
        im2col(x + s0 * in_.size(), s1 - s0, cols);
        if (small_reduction())
          with_small_k(K_, [&](auto k) { small_k_weight_grad<decltype(k)::value>(cols, dz, rows, F_, dw); });
        else
          gemm_tn(K_, F_, rows, cols, K_, dz, F_, dw, F_, true);
        add_column_sums(dz, rows, F_, db);
        if (dx != nullptr) {
          float* dcols = scratch(std::size_t(rows * K_), 1);
          gemm_nn(rows, K_, F_, dz, F_, wt_.data(), K_, dcols, K_);
          col2im(dcols, s1 - s0, dx + s0 * in_.size());
        }
      }
    });
    float* gw = ctx.grads + param_offset;
    reduce_partials(partials_.data(), groups, psize, bias_ ? psize : wsize, gw, ctx.n_threads);
  }

  void route_from_pool(const Pool2D& pool, const float* pool_y, const float* pool_dy, std::int64_t s0,
                       std::int64_t s1, float* dz) const;
  bool small_reduction() const { return K_ < 16; }
  std::int64_t n_blocks(std::int64_t n) const { return (n + samples_per_block_ - 1) / samples_per_block_; }

  // With `pool`, each block's output goes to a scratch buffer and is pooled into y at once,
  // while it is still in cache (inference only).
  void run_forward(const float* x, float* y, std::int64_t n, const Context& ctx, float* logits,
                   const Pool2D* pool = nullptr) const;
  // Part of the output of images [s0, s1): rows [oh0, oh1) (all rows when there are several
  // images and no in-place windows), columns [0, ow1) and channels [f0, f1) (with in-place
  // windows; else all columns and channels).
  struct OutputBlock {
    std::int64_t s0, s1;
    int oh0, oh1, ow1;
    std::int64_t f0, f1;
  };
  OutputBlock whole(std::int64_t s0, std::int64_t s1) const { return {s0, s1, 0, out_.h, out_.w, 0, F_}; }

  // The block's output into out, from pixel (s0, oh0, 0) on, laid out as whole images, with
  // bias and activation: fused into the kernels' stores for relu and linear, else one pass
  // after them.
  void forward_rows(const float* x, const OutputBlock& blk, float* out, float* logits, const Context& ctx) const {
    const auto [s0, s1, oh0, oh1, ow1, f0, f1] = blk;
    const float* w = ctx.params + param_offset;
    const float* b = bias_ ? w + K_ * F_ : nullptr;
    const std::int64_t band = std::int64_t(oh1 - oh0) * out_.w, rows = (s1 - s0) * band;
    const bool fuse = act_ == Activation::relu || act_ == Activation::linear;
    const float* fused_bias = fuse ? b : nullptr;
    const bool relu = fuse && act_ == Activation::relu;
    if (in_place_) {
      const std::int64_t C = in_.c, row_floats = std::int64_t(in_.w) * C;
      const auto at = [&](std::int64_t s, int oh) { return (s - s0) * out_.size() + std::int64_t(oh - oh0) * out_.w * F_; };
      if (small_reduction()) {
        for (std::int64_t s = s0; s < s1; ++s)
          for (int oh = oh0; oh < oh1; ++oh)
            with_small_k(K_, [&](auto k) {
              small_k_forward<decltype(k)::value>(x + s * in_.size() + std::int64_t(oh * sh_) * row_floats, ow1,
                                                  sw_ * C, window_offsets_.data(), w, F_, out + at(s, oh), fused_bias,
                                                  relu);
            });
      } else {
        in_place_gemm(x, blk, out, w, fused_bias, relu);
      }
      if (!fuse)
        for (std::int64_t s = s0; s < s1; ++s)
          for (int oh = oh0; oh < oh1; ++oh)
            for (int ow = 0; ow < ow1; ++ow) {
              const std::int64_t o = at(s, oh) + std::int64_t(ow) * F_ + f0;
              bias_activate(out + o, 1, f1 - f0, b ? b + f0 : nullptr, act_, logits ? logits + o : nullptr);
            }
      return;
    }
    float* cols = scratch(std::size_t(rows * K_), 0);
    for (std::int64_t s = s0; s < s1; ++s) im2col_rows(x + s * in_.size(), oh0, oh1, cols + (s - s0) * band * K_);
    if (!small_reduction()) {
      gemm_nn(rows, F_, K_, cols, K_, w, F_, out, F_);
      bias_activate(out, rows, F_, b, act_, logits);
      return;
    }
    with_small_k(K_, [&](auto k) {
      small_k_forward<decltype(k)::value>(cols, rows, K_, kIota.data(), w, F_, out, fused_bias, relu);
    });
    if (!fuse) bias_activate(out, rows, F_, b, act_, logits);
  }

  // The block's output by our GEMM kernel, the windows read in place: kernel row by kernel
  // row and 64 filters at a time, so that slice of the kernel stays in L1 while every
  // output row reads it.
  void in_place_gemm(const float* x, const OutputBlock& blk, float* out, const float* w, const float* bias,
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

  // The output rows and columns a following pool reads: the convolution computes only
  // those when it reads windows in place (an 11 x 11 map pooled 2 x 2 leaves its last row
  // and column unread).
  std::pair<int, int> rows_cols_read_by(const Pool2D* pool) const;
  // Pooled rows [u0, u1) of image s (y: its pooled output) by small_k_max_pool_2x2, when the
  // pair allows it (false otherwise): inference only.
  bool pooled_rows_in_registers(const float* x, std::int64_t s, int u0, int u1, const Pool2D& pool, float* y,
                                const Context& ctx) const;
  // Images [s0, s1) through this convolution and `pool` into y (and the pool's argmax when
  // not null).
  void conv_pool_block(const float* x, std::int64_t s0, std::int64_t s1, const Pool2D& pool, float* y,
                       std::int32_t* argmax, const Context& ctx) const;

  // Output columns [lo, hi) whose window lies inside the input horizontally.
  std::pair<int, int> interior_columns() const {
    const int lo = std::min(out_.w, (pl_ + sw_ - 1) / sw_);
    const int hi = in_.w + pl_ >= kw_ ? std::min(out_.w, (in_.w + pl_ - kw_) / sw_ + 1) : 0;
    return {lo, std::max(lo, hi)};
  }

  // Calls fn(ow, first input column, patch row offset) for every output column of one row:
  // the interior by `interior(ow)`, the border columns one tap at a time by `edge(ow, j, iw)`.
  template <class Interior, class Edge>
  void for_columns(Interior&& interior, Edge&& edge) const {
    const auto [lo, hi] = interior_columns();
    for (int ow = lo; ow < hi; ++ow) interior(ow);
    for (int ow = 0; ow < out_.w; ++ow) {
      if (ow == lo) ow = hi;
      if (ow >= out_.w) break;
      for (int j = 0; j < kw_; ++j) edge(ow, j, ow * sw_ - pl_ + j);
    }
  }

  // Rows (sample, oh, ow) of the patches (kh, kw, c) of `samples` samples starting at x;
  // outside the input the patch holds zeros. Row-wise, so the interior is a tight copy of
  // kw * c floats (a fixed-size copy for the tiny spans of a first layer).
  void im2col(const float* x, std::int64_t samples, float* cols) const {
    for (std::int64_t s = 0; s < samples; ++s) im2col_rows(x + s * in_.size(), 0, out_.h, cols + s * pixels_ * K_);
  }
  // The patches of output rows [oh0, oh1) of one image.
  void im2col_rows(const float* img, int oh0, int oh1, float* cols) const {
    const int C = in_.c;
    const std::int64_t span = std::int64_t(kw_) * C;
    {
      for (int oh = oh0; oh < oh1; ++oh) {
        float* base = cols + std::int64_t(oh - oh0) * out_.w * K_;
        for (int i = 0; i < kh_; ++i) {
          const int ih = oh * sh_ - pt_ + i;
          float* dst = base + i * span;
          if (ih < 0 || ih >= in_.h) {
            for (int ow = 0; ow < out_.w; ++ow) std::fill(dst + ow * K_, dst + ow * K_ + span, 0.0f);
            continue;
          }
          const float* src = img + std::int64_t(ih) * in_.w * C;
          const auto copy_interior = [&](auto fixed) {
            constexpr int S = decltype(fixed)::value;
            for_columns(
                [&](int ow) {
                  const float* from = src + std::int64_t(ow * sw_ - pl_) * C;
                  float* to = dst + ow * K_;
                  if constexpr (S > 0) {
                    for (int t = 0; t < S; ++t) to[t] = from[t];
                  } else {
                    copy_floats(from, span, to);
                  }
                },
                [&](int ow, int j, int iw) {
                  float* to = dst + ow * K_ + std::int64_t(j) * C;
                  if (iw < 0 || iw >= in_.w)
                    std::fill(to, to + C, 0.0f);
                  else
                    copy_floats(src + std::int64_t(iw) * C, C, to);
                });
          };
          switch (span) {
            case 1: copy_interior(std::integral_constant<int, 1>{}); break;
            case 2: copy_interior(std::integral_constant<int, 2>{}); break;
            case 3: copy_interior(std::integral_constant<int, 3>{}); break;
            case 4: copy_interior(std::integral_constant<int, 4>{}); break;
            case 5: copy_interior(std::integral_constant<int, 5>{}); break;
            default: copy_interior(std::integral_constant<int, 0>{}); break;
          }
        }
      }
    }
  }

  // The adjoint of im2col: dx (samples x input size) = the sum of each patch's gradient.
  void col2im(const float* dcols, std::int64_t samples, float* dx) const {
    const int C = in_.c;
    const std::int64_t span = std::int64_t(kw_) * C;
    std::fill(dx, dx + samples * in_.size(), 0.0f);
    for (std::int64_t s = 0; s < samples; ++s) {
      float* img = dx + s * in_.size();
      for (int oh = 0; oh < out_.h; ++oh) {
        const float* base = dcols + (s * out_.h + oh) * out_.w * K_;
        for (int i = 0; i < kh_; ++i) {
          const int ih = oh * sh_ - pt_ + i;
          if (ih < 0 || ih >= in_.h) continue;
          const float* src = base + i * span;
          float* dst = img + std::int64_t(ih) * in_.w * C;
          for_columns(
              [&](int ow) { add_floats(src + ow * K_, span, dst + std::int64_t(ow * sw_ - pl_) * C); },
              [&](int ow, int j, int iw) {
                if (iw >= 0 && iw < in_.w) add_floats(src + ow * K_ + std::int64_t(j) * C, C, dst + std::int64_t(iw) * C);
              });
        }
      }
    }
  }

  Activation act_;
  bool bias_;
  int kh_ = 1, kw_ = 1, sh_ = 1, sw_ = 1, pt_ = 0, pl_ = 0;
  std::int64_t K_ = 0, F_ = 0, pixels_ = 0, samples_per_block_ = 1;
  bool in_place_ = false;
  std::vector<std::int32_t> window_offsets_;
  std::vector<float> partials_;
  std::vector<float> wt_;  // the kernel transposed (F x K), for input gradients
};

// ---------------------------------------------------------------------------- pooling
class Pool2D final : public Layer {
 public:
  Pool2D(const LayerConfig& c, int index, Shape in, bool is_max) : Layer(index, in), max_(is_max) {
    const std::string who = layer_name(is_max ? "MaxPooling2D" : "AveragePooling2D", index);
    if (in.rank != 3) throw std::invalid_argument(who + " needs inputs of shape (height, width, channels)");
    if (c.kernel_h <= 0 || c.kernel_w <= 0 || c.stride_h <= 0 || c.stride_w <= 0)
      throw std::invalid_argument(who + ": pool size and strides must be positive");
    ph_ = c.kernel_h, pw_ = c.kernel_w, sh_ = c.stride_h, sw_ = c.stride_w;
    const WindowAxis ah = window_axis(in.h, ph_, sh_, c.same_padding, c.pad_top, c.pad_bottom, who);
    const WindowAxis aw = window_axis(in.w, pw_, sw_, c.same_padding, c.pad_left, c.pad_right, who);
    pt_ = ah.pad_begin, pl_ = aw.pad_begin;
    out_ = checked_shape(ah.out, aw.out, in.c, 3, who);
    // whole windows (their cells listed once) exist only when the window fits the input; a
    // larger one ('same' padding) is clipped to the input like every border window
    if (ph_ <= in.h && pw_ <= in.w)
      for (int i = 0; i < ph_; ++i)
        for (int j = 0; j < pw_; ++j) window_cells_.push_back(std::int32_t((std::int64_t(i) * in.w + j) * in.c));
  }

  void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const override {
    run(x, y, n, ctx, nullptr);
  }
  void train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) override {
    if (max_) argmax_.resize(std::size_t(n * out_.size()));
    run(x, y, n, ctx, max_ ? argmax_.data() : nullptr);
  }

  // A max pool after a relu takes over the relu's derivative: it routes gradients only to
  // argmax cells, and zeroes those whose input (the relu's output) is 0.
  bool absorb_input_relu() override {
    absorbs_relu_ = max_;
    return max_;
  }

  void backward(const float* x, const float*, float* dy, float* dx, std::int64_t n, bool,
                const Context& ctx) override {
    if (dx == nullptr) return;
    const int C = in_.c;
    // windows that tile the input exactly (2x2 stride 2 on an even map) write every cell once
    const bool tiles = pt_ == 0 && pl_ == 0 && sh_ == ph_ && sw_ == pw_ && out_.h * ph_ == in_.h &&
                       out_.w * pw_ == in_.w;
    for_tasks(ctx.n_threads, n, [&](std::int64_t s) {
      float* g = dx + s * in_.size();
      const float* d = dy + s * out_.size();
      const float* img = x + s * in_.size();
      if (max_) {
        const std::int32_t* arg = argmax_.data() + s * out_.size();
        if (tiles) {
          for (int oh = 0; oh < out_.h; ++oh)
            for (int ow = 0; ow < out_.w; ++ow) {
              const std::int64_t o = (std::int64_t(oh) * out_.w + ow) * C;
              for (int ih = oh * ph_; ih < (oh + 1) * ph_; ++ih)
                for (int iw = ow * pw_; iw < (ow + 1) * pw_; ++iw) {
                  const std::int32_t at = std::int32_t((std::int64_t(ih) * in_.w + iw) * C);
                  route_window_cell(d + o, arg + o, img + at, at, C, absorbs_relu_, g + at);
                }
            }
          return;
        }
        std::fill(g, g + in_.size(), 0.0f);
        for (std::int64_t o = 0; o < out_.size(); ++o)
          if (!absorbs_relu_ || img[arg[o]] > 0.0f) g[arg[o]] += d[o];
        return;
      }
      std::fill(g, g + in_.size(), 0.0f);
      for (int oh = 0; oh < out_.h; ++oh)
        for (int ow = 0; ow < out_.w; ++ow) {
          const Window win = window(oh, ow);
          const float scale = 1.0f / float((win.h1 - win.h0) * (win.w1 - win.w0));
          const float* src = d + (std::int64_t(oh) * out_.w + ow) * C;
          for (int ih = win.h0; ih < win.h1; ++ih)
            for (int iw = win.w0; iw < win.w1; ++iw) {
              float* dst = g + (std::int64_t(ih) * in_.w + iw) * C;
              for (int c = 0; c < C; ++c) dst[c] += src[c] * scale;
            }
        }
    });
  }

 private:
  struct Window {
    int h0, h1, w0, w1;
  };
  // The window of output (oh, ow) clipped to the input: padding never counts (TensorFlow).
  Window window(int oh, int ow) const {
    const int h0 = oh * sh_ - pt_, w0 = ow * sw_ - pl_;
    return {std::max(h0, 0), std::min(h0 + ph_, in_.h), std::max(w0, 0), std::min(w0 + pw_, in_.w)};
  }

  void run(const float* x, float* y, std::int64_t n, const Context& ctx, std::int32_t* argmax) const {
    for_tasks(ctx.n_threads, n, [&](std::int64_t s) {
      pool_sample(x + s * in_.size(), y + s * out_.size(), argmax ? argmax + s * out_.size() : nullptr);
    });
  }

 public:
  /// A max pool whose backward pass applies the previous layer's relu derivative.
  bool absorbs_relu() const { return absorbs_relu_; }
  /// The argmax buffer of a training pass over n samples (filled by pool_sample).
  std::int32_t* argmax_for(std::int64_t n) {
    argmax_.resize(std::size_t(n * out_.size()));
    return argmax_.data();
  }
  /// Adds one sample's output gradient dy to dx (zeroed, the input's size) at the argmax
  /// cells whose maximum y is positive (the relu before this pool let it through): the
  /// maximum is the relu's output at that cell.
  void route_sample(const float* y, const float* dy, std::int64_t sample, float* dx) const {
    const std::int32_t* arg = argmax_.data() + sample * out_.size();
    if (sh_ < ph_ || sw_ < pw_) {  // overlapping windows: a cell may take several gradients
      for (std::int64_t o = 0; o < out_.size(); ++o)
        if (y[o] > 0.0f) dx[arg[o]] += dy[o];
      return;
    }
    // each cell in at most one window: written once, by channel vectors
    const int C = in_.c;
    for (int oh = 0; oh < out_.h; ++oh)
      for (int ow = 0; ow < out_.w; ++ow) {
        const Window win = window(oh, ow);
        const std::int64_t o = (std::int64_t(oh) * out_.w + ow) * C;
        for (int ih = win.h0; ih < win.h1; ++ih)
          for (int iw = win.w0; iw < win.w1; ++iw) {
            const std::int32_t at = std::int32_t((std::int64_t(ih) * in_.w + iw) * C);
            route_window_cell(dy + o, arg + o, y + o, at, C, true, dx + at);
          }
      }
  }

  /// Pools one sample (argmax: where each maximum came from, or null).
  void pool_sample(const float* img, float* y, std::int32_t* argmax) const { pool_rows(img, y, 0, out_.h, argmax); }
  /// The input rows [first, last) that output rows [oh0, oh1) read.
  std::pair<int, int> input_rows(int oh0, int oh1) const {
    return {std::max(0, oh0 * sh_ - pt_), std::min(in_.h, (oh1 - 1) * sh_ - pt_ + ph_)};
  }
  /// A max pool whose 2 x 2 windows (stride 2, no padding) tile its input from the corner.
  bool max_2x2_tiles() const {
    return max_ && ph_ == 2 && pw_ == 2 && sh_ == 2 && sw_ == 2 && pt_ == 0 && pl_ == 0 && 2 * out_.h <= in_.h &&
           2 * out_.w <= in_.w;
  }
  /// The input columns [0, last) that some window reads.
  int input_cols_end() const { return std::min(in_.w, (out_.w - 1) * sw_ - pl_ + pw_); }
  /// Output rows [oh0, oh1), channels [c0, c1) (c1 < 0: all), of one sample (img and y laid
  /// out as whole samples).
  void pool_rows(const float* img, float* y, int oh0, int oh1, std::int32_t* argmax, int c0 = 0, int c1 = -1) const {
    const int C = in_.c, width = (c1 < 0 ? C : c1) - c0;
    const auto cell = [&](int ih, int iw) { return std::int32_t((std::int64_t(ih) * in_.w + iw) * C + c0); };
    for (int oh = oh0; oh < oh1; ++oh)
      for (int ow = 0; ow < out_.w; ++ow) {
        const Window win = window(oh, ow);
        const std::int64_t o = (std::int64_t(oh) * out_.w + ow) * C + c0;
        float* dst = y + o;
        const std::int32_t first = cell(win.h0, win.w0);
        if (max_ && argmax == nullptr && win.h1 - win.h0 == ph_ && win.w1 - win.w0 == pw_) {
          // values only, a whole window: two vectors of channels at a time over its cells
          const float* base = img + first;
          const std::size_t cells = window_cells_.size();
          const auto load = [&](std::size_t k, int c) { return *reinterpret_cast<const Vec16*>(base + window_cells_[k] + c); };
          int c = 0;
          for (; c + 2 * kVec <= width; c += 2 * kVec) {
            Vec16 m0 = load(0, c), m1 = load(0, c + kVec);
            for (std::size_t k = 1; k < cells; ++k) {
              const Vec16 v0 = load(k, c), v1 = load(k, c + kVec);
              m0 = v0 > m0 ? v0 : m0;
              m1 = v1 > m1 ? v1 : m1;
            }
            *reinterpret_cast<Vec16*>(dst + c) = m0;
            *reinterpret_cast<Vec16*>(dst + c + kVec) = m1;
          }
          if (c < width) {
            copy_floats(base + c, width - c, dst + c);
            for (std::size_t k = 1; k < cells; ++k) max_into(base + window_cells_[k] + c, width - c, dst + c);
          }
        } else if (max_ && argmax == nullptr) {
          copy_floats(img + first, width, dst);
          for (int ih = win.h0; ih < win.h1; ++ih)
            for (int iw = win.w0; iw < win.w1; ++iw) max_into(img + cell(ih, iw), width, dst);
        } else if (max_) {
          // the first maximum wins (strictly greater replaces), as in TensorFlow and PyTorch
          std::int32_t* arg = argmax + o;
          copy_floats(img + first, width, dst);
          for (int c = 0; c < width; ++c) arg[c] = first + c;
          for (int ih = win.h0; ih < win.h1; ++ih)
            for (int iw = win.w0; iw < win.w1; ++iw) {
              const std::int32_t at = cell(ih, iw);
              if (at != first) max_with_argmax(img + at, at, width, dst, arg);
            }
        } else {
          std::fill(dst, dst + width, 0.0f);
          for (int ih = win.h0; ih < win.h1; ++ih)
            for (int iw = win.w0; iw < win.w1; ++iw) {
              const float* src = img + cell(ih, iw);
              for (int c = 0; c < width; ++c) dst[c] += src[c];
            }
          const float scale = 1.0f / float((win.h1 - win.h0) * (win.w1 - win.w0));
          for (int c = 0; c < width; ++c) dst[c] *= scale;
        }
      }
  }

 private:

  bool max_;
  bool absorbs_relu_ = false;
  int ph_ = 2, pw_ = 2, sh_ = 2, sw_ = 2, pt_ = 0, pl_ = 0;
  std::vector<std::int32_t> window_cells_;  // offsets of a whole window's cells from its first
  std::vector<std::int32_t> argmax_;
};

std::pair<int, int> Conv2D::rows_cols_read_by(const Pool2D* pool) const {
  if (pool == nullptr || !in_place_) return {out_.h, out_.w};
  return {pool->input_rows(0, pool->out().h).second, pool->input_cols_end()};
}

void Conv2D::run_forward(const float* x, float* y, std::int64_t n, const Context& ctx, float* logits,
                         const Pool2D* pool) const {
  const auto [rows_read, cols_read] = rows_cols_read_by(pool);
  // Fewer than 4 images: tasks over channel groups (the two halves of an in-place
  // convolution's filters), images and bands of (pooled) rows, so that a single image keeps
  // several threads busy with equal shares. The split depends on n only: the same bits for
  // any thread count.
  constexpr std::int64_t kSmallBatch = 4;
  if (logits == nullptr && n < kSmallBatch) {
    const std::int64_t groups =
        in_place_ && !small_reduction() && act_ != Activation::softmax && F_ % (2 * kVec) == 0 ? 2 : 1;
    const int units = pool != nullptr ? pool->out().h : out_.h;
    const std::int64_t bands = std::clamp<std::int64_t>((kSmallBatch + n * groups - 1) / (n * groups), 1, units);
    for_tasks(ctx.n_threads, groups * n * bands, [&](std::int64_t t) {
      const std::int64_t g = t / (n * bands), s = t % (n * bands) / bands;
      const auto [u0, u1] = split(units, bands, t % bands);
      const auto [f0, f1] = split(F_, groups, g);
      if (pool == nullptr) {
        forward_rows(x, {s, s + 1, int(u0), int(u1), out_.w, f0, f1}, y + s * out_.size() + u0 * out_.w * F_, nullptr,
                     ctx);
        return;
      }
      if (pooled_rows_in_registers(x, s, int(u0), int(u1), *pool, y + s * pool->out().size(), ctx)) return;
      const auto [c0, c1] = pool->input_rows(int(u0), int(u1));
      float* out = scratch(std::size_t(out_.size()), 2);  // laid out as the whole image's output
      forward_rows(x, {s, s + 1, c0, c1, cols_read, f0, f1}, out + std::int64_t(c0) * out_.w * F_, nullptr, ctx);
      pool->pool_rows(out, y + s * pool->out().size(), int(u0), int(u1), nullptr, int(f0), int(f1));
    });
    return;
  }
  for_tasks(ctx.n_threads, n_blocks(n), [&](std::int64_t blk) {
    const std::int64_t s0 = blk * samples_per_block_, s1 = std::min(n, s0 + samples_per_block_);
    if (pool == nullptr) {
      forward_rows(x, whole(s0, s1), y + s0 * out_.size(), logits ? logits + s0 * out_.size() : nullptr, ctx);
      return;
    }
    conv_pool_block(x, s0, s1, *pool, y, nullptr, ctx);
  });
}

bool Conv2D::pooled_rows_in_registers(const float* x, std::int64_t s, int u0, int u1, const Pool2D& pool, float* y,
                                      const Context& ctx) const {
  if (!small_reduction() || !in_place_ || !pool.max_2x2_tiles() ||
      (act_ != Activation::relu && act_ != Activation::linear))
    return false;
  const float* w = ctx.params + param_offset;
  const std::int64_t C = in_.c, row_floats = std::int64_t(in_.w) * C;
  const std::array<std::int32_t, 4> cells{0, std::int32_t(sw_ * C), std::int32_t(sh_ * row_floats),
                                          std::int32_t(sh_ * row_floats + sw_ * C)};
  const std::int64_t pooled_w = pool.out().w;
  for (int u = u0; u < u1; ++u)
    with_small_k(K_, [&](auto k) {
      small_k_max_pool_2x2<decltype(k)::value>(x + s * in_.size() + 2 * u * sh_ * row_floats, pooled_w, 2 * sw_ * C,
                                               cells, window_offsets_.data(), w, F_, y + u * pooled_w * F_,
                                               bias_ ? w + K_ * F_ : nullptr, act_ == Activation::relu);
    });
  return true;
}

void Conv2D::conv_pool_block(const float* x, std::int64_t s0, std::int64_t s1, const Pool2D& pool, float* y,
                             std::int32_t* argmax, const Context& ctx) const {
  const auto [rows_read, cols_read] = rows_cols_read_by(&pool);
  const std::int64_t pooled = pool.out().size();
  if (!small_reduction()) {
    float* out = scratch(std::size_t((s1 - s0) * out_.size()), 2);
    forward_rows(x, {s0, s1, 0, rows_read, cols_read, 0, F_}, out, nullptr, ctx);
    for (std::int64_t s = s0; s < s1; ++s)
      pool.pool_sample(out + (s - s0) * out_.size(), y + s * pooled, argmax ? argmax + s * pooled : nullptr);
    return;
  }
  // weights in registers: pooled row by pooled row, each piece of output pooled from L1
  float* out = scratch(std::size_t(out_.size()), 2);  // laid out as a whole image's output
  for (std::int64_t s = s0; s < s1; ++s) {
    if (argmax == nullptr && pooled_rows_in_registers(x, s, 0, pool.out().h, pool, y + s * pooled, ctx)) continue;
    int done = 0;  // rows [0, done) computed (overlapping windows share rows)
    for (int u = 0; u < pool.out().h; ++u) {
      const auto [c0, c1] = pool.input_rows(u, u + 1);
      if (c1 > std::max(c0, done)) {
        const int from = std::max(c0, done);
        forward_rows(x, {s, s + 1, from, c1, cols_read, 0, F_}, out + std::int64_t(from) * out_.w * F_, nullptr, ctx);
        done = c1;
      }
      pool.pool_rows(out, y + s * pooled, u, u + 1, argmax ? argmax + s * pooled : nullptr);
    }
  }
}

bool Conv2D::train_forward_fused(Layer& next, const float* x, float* y, std::int64_t n, const Context& ctx) {
  auto* pool = dynamic_cast<Pool2D*>(&next);
  if (pool == nullptr || !pool->absorbs_relu() || act_ != Activation::relu) return false;
  std::int32_t* argmax = pool->argmax_for(n);
  for_tasks(ctx.n_threads, n_blocks(n), [&](std::int64_t blk) {
    const std::int64_t s0 = blk * samples_per_block_, s1 = std::min(n, s0 + samples_per_block_);
    conv_pool_block(x, s0, s1, *pool, y, argmax, ctx);
  });
  return true;
}

void Conv2D::backward_fused(const Layer& next, const float* x, const float* y, float* dy, float* dx, std::int64_t n,
                            const Context& ctx) {
  run_backward(x, nullptr, dy, dx, n, true, ctx, &dynamic_cast<const Pool2D&>(next), y);
}

void Conv2D::route_from_pool(const Pool2D& pool, const float* pool_y, const float* pool_dy, std::int64_t s0,
                             std::int64_t s1, float* dz) const {
  const std::int64_t pooled = pool.out().size();
  std::fill(dz, dz + (s1 - s0) * out_.size(), 0.0f);
  for (std::int64_t s = s0; s < s1; ++s)
    pool.route_sample(pool_y + s * pooled, pool_dy + s * pooled, s, dz + (s - s0) * out_.size());
}

bool Conv2D::infer_fused(const Layer& next, const float* x, float* y, std::int64_t n, const Context& ctx) const {
  const auto* pool = dynamic_cast<const Pool2D*>(&next);
  if (pool == nullptr) return false;
  run_forward(x, y, n, ctx, nullptr, pool);
  return true;
}

// ---------------------------------------------------------------------------- dense
// Acts on the last axis: rows = samples x height x width.
class Dense final : public Layer {
 public:
  Dense(const LayerConfig& c, int index, Shape in) : Layer(index, in), act_(c.activation), bias_(c.use_bias) {
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
  Activation activation() const override { return act_; }

  void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const override {
    run_forward(x, y, n, ctx, nullptr);
  }
  void train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) override {
    if (act_ == Activation::softmax) logits_.resize(std::size_t(n * out_.size()));
    run_forward(x, y, n, ctx, act_ == Activation::softmax ? logits_.data() : nullptr);
  }

  void backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                const Context& ctx) override {
    const std::int64_t rows = n * in_.h * in_.w;
    const float* w = ctx.params + param_offset;
    float* gw = ctx.grads + param_offset;
    if (!pre_activation) {
      for_tasks(ctx.n_threads, row_blocks(rows), [&](std::int64_t t) {
        const auto [r0, r1] = row_range(rows, t);
        activation_backward(dy + r0 * O_, y + r0 * O_, r1 - r0, O_, act_);
      });
    }
    // dW = x^T dz over fixed slices of the input width; db; dx = dz W^T over slices of dx's columns
    const std::int64_t slices = (I_ + kSlice - 1) / kSlice;
    for_tasks(ctx.n_threads, slices + 1, [&](std::int64_t t) {
      if (t == slices) {
        if (bias_) {
          float* gb = gw + I_ * O_;
          std::fill(gb, gb + O_, 0.0f);
          add_column_sums(dy, rows, O_, gb);
        }
        return;
      }
      const std::int64_t a = t * kSlice, len = std::min(I_, a + kSlice) - a;
      gemm_tn(len, O_, rows, x + a, I_, dy, O_, gw + a * O_, O_, false);
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

  void run_forward(const float* x, float* y, std::int64_t n, const Context& ctx, float* logits) const {
    const std::int64_t rows = n * in_.h * in_.w;
    const float* w = ctx.params + param_offset;
    const float* b = bias_ ? w + I_ * O_ : nullptr;
    // tasks: fixed blocks of rows x slices of the output width (a small batch still splits)
    const std::int64_t col_slices = (O_ + kSlice / 2 - 1) / (kSlice / 2);
    const std::int64_t tasks = row_blocks(rows) * col_slices;
    // the task that computes values activates them, unless a softmax needs rows it lacks
    const bool in_task = act_ != Activation::softmax || col_slices == 1;
    // a fixed schedule: at a small batch each thread keeps reading the same slice of the
    // kernel, which stays in its core's cache between calls
    for_tasks(
        ctx.n_threads, tasks,
        [&](std::int64_t t) {
          const auto [r0, r1] = row_range(rows, t / col_slices);
          const std::int64_t c0 = (t % col_slices) * (kSlice / 2), len = std::min(O_, c0 + kSlice / 2) - c0;
          gemm_nn(r1 - r0, len, I_, x + r0 * I_, I_, w + c0, O_, y + r0 * O_ + c0, O_);
          if (!in_task) return;
          for (std::int64_t r = r0; r < r1; ++r)
            bias_activate(y + r * O_ + c0, 1, len, b ? b + c0 : nullptr, act_, logits ? logits + r * O_ + c0 : nullptr);
        },
        Schedule::fixed);
    if (in_task) return;
    for_tasks(ctx.n_threads, row_blocks(rows), [&](std::int64_t t) {
      const auto [r0, r1] = row_range(rows, t);
      bias_activate(y + r0 * O_, r1 - r0, O_, b, act_, logits ? logits + r0 * O_ : nullptr);
    });
  }

  Activation act_;
  bool bias_;
  std::int64_t I_ = 0, O_ = 0;
};

// ---------------------------------------------------------------------------- others
class Flatten final : public Layer {
 public:
  Flatten(int index, Shape in) : Layer(index, in) {
    out_ = checked_shape(1, 1, in.size(), 1, layer_name("Flatten", index));
  }
  bool passthrough(bool) const override { return true; }
  void infer(const float*, float*, std::int64_t, const Context&) const override {}
  void backward(const float*, const float*, float*, float*, std::int64_t, bool, const Context&) override {}
};

class ActivationLayer final : public Layer {
 public:
  ActivationLayer(const LayerConfig& c, int index, Shape in) : Layer(index, in), act_(c.activation) {}
  Activation activation() const override { return act_; }
  void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const override {
    run(x, y, n, ctx, nullptr);
  }
  void train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) override {
    if (act_ == Activation::softmax) logits_.resize(std::size_t(n * out_.size()));
    run(x, y, n, ctx, act_ == Activation::softmax ? logits_.data() : nullptr);
  }
  void backward(const float*, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                const Context& ctx) override {
    if (dx == nullptr) return;
    const std::int64_t size = out_.size();
    for_tasks(ctx.n_threads, n, [&](std::int64_t s) {
      if (!pre_activation) activation_backward(dy + s * size, y + s * size, size / out_.c, out_.c, act_);
      std::copy(dy + s * size, dy + (s + 1) * size, dx + s * size);
    });
  }

 private:
  void run(const float* x, float* y, std::int64_t n, const Context& ctx, float* logits) const {
    const std::int64_t size = out_.size();
    for_tasks(ctx.n_threads, n, [&](std::int64_t s) {
      std::copy(x + s * size, x + (s + 1) * size, y + s * size);
      activate(y + s * size, size / out_.c, out_.c, act_, logits ? logits + s * size : nullptr);
    });
  }
  Activation act_;
};

// A counter-based hash (splitmix64's finaliser): mask bits depend on (seed, layer, element)
// only, so they do not depend on how the work is split.
inline std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Dropout final : public Layer {
 public:
  Dropout(const LayerConfig& c, int index, Shape in) : Layer(index, in), rate_(c.rate) {
    if (!(c.rate >= 0.0f && c.rate < 1.0f))
      throw std::invalid_argument(layer_name("Dropout", index) + ": rate must be in [0, 1)");
  }
  bool passthrough(bool training) const override { return !training || rate_ == 0.0f; }
  void infer(const float*, float*, std::int64_t, const Context&) const override {}
  void train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) override {
    const std::int64_t size = out_.size();
    const float scale = 1.0f / (1.0f - rate_);
    // keep an element when its 24-bit uniform draw is at least rate * 2^24
    const std::uint32_t threshold = std::uint32_t(std::ceil(double(rate_) * 16777216.0));
    const std::uint64_t key = mix(ctx.seed ^ (0x9e3779b97f4a7c15ULL * std::uint64_t(index_ + 1)));
    keep_.resize(std::size_t(n * size));
    for_tasks(ctx.n_threads, n, [&](std::int64_t s) {
      for (std::int64_t i = s * size; i < (s + 1) * size; ++i) {
        const bool keep = std::uint32_t(mix(key + std::uint64_t(i)) >> 40) >= threshold;
        keep_[std::size_t(i)] = keep;
        y[i] = keep ? x[i] * scale : 0.0f;
      }
    });
  }
  void backward(const float*, const float*, float* dy, float* dx, std::int64_t n, bool, const Context& ctx) override {
    if (dx == nullptr) return;
    const std::int64_t size = out_.size();
    const float scale = 1.0f / (1.0f - rate_);
    for_tasks(ctx.n_threads, n, [&](std::int64_t s) {
      for (std::int64_t i = s * size; i < (s + 1) * size; ++i) dx[i] = keep_[std::size_t(i)] ? dy[i] * scale : 0.0f;
    });
  }

 private:
  float rate_;
  std::vector<std::uint8_t> keep_;
};

// Normalises the last axis (channels) over all other axes of the batch, as Keras' default.
class BatchNorm final : public Layer {
 public:
  BatchNorm(const LayerConfig& c, int index, Shape in)
      : Layer(index, in), momentum_(c.momentum), epsilon_(c.epsilon), center_(c.center), scale_(c.scale) {
    if (!(c.epsilon > 0.0f) || !std::isfinite(c.epsilon))
      throw std::invalid_argument(layer_name("BatchNormalization", index) + ": epsilon must be positive and finite");
    if (!(c.momentum >= 0.0f && c.momentum <= 1.0f))
      throw std::invalid_argument(layer_name("BatchNormalization", index) + ": momentum must be in [0, 1]");
    C_ = in.c;
  }
  std::vector<TensorSpec> tensors() const override {
    std::vector<TensorSpec> t;
    if (scale_) t.push_back({"gamma", {C_}, true, 1.0f});
    if (center_) t.push_back({"beta", {C_}, true, 0.0f});
    t.push_back({"moving_mean", {C_}, false, 0.0f});
    t.push_back({"moving_variance", {C_}, false, 1.0f});
    return t;
  }

  void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const override {
    const float* mean = ctx.state + state_offset;
    const float* var = mean + C_;
    std::vector<float> a(static_cast<std::size_t>(C_)), b(static_cast<std::size_t>(C_));
    for (std::int64_t c = 0; c < C_; ++c) {
      const float inv = 1.0f / std::sqrt(var[c] + epsilon_);
      a[std::size_t(c)] = gamma(ctx, c) * inv;
      b[std::size_t(c)] = beta(ctx, c) - mean[c] * a[std::size_t(c)];
    }
    const std::int64_t rows = n * in_.h * in_.w;
    for_tasks(ctx.n_threads, blocks(rows), [&](std::int64_t t) {
      for (std::int64_t r = t * kRows; r < std::min(rows, (t + 1) * kRows); ++r)
        for (std::int64_t c = 0; c < C_; ++c) y[r * C_ + c] = x[r * C_ + c] * a[std::size_t(c)] + b[std::size_t(c)];
    });
  }

  void train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) override {
    const std::int64_t rows = n * in_.h * in_.w;
    // mean, then the (biased) variance around it, from per-block double partial sums
    mean_.assign(std::size_t(C_), 0.0);
    column_moments(x, rows, nullptr, ctx.n_threads, mean_);
    for (auto& m : mean_) m /= double(rows);
    std::vector<double> var(static_cast<std::size_t>(C_), 0.0);
    column_moments(x, rows, mean_.data(), ctx.n_threads, var);
    inv_std_.resize(std::size_t(C_));
    float* moving_mean = ctx.state + state_offset;
    float* moving_var = moving_mean + C_;
    for (std::int64_t c = 0; c < C_; ++c) {
      const double v = var[std::size_t(c)] / double(rows);
      inv_std_[std::size_t(c)] = float(1.0 / std::sqrt(v + double(epsilon_)));
      moving_mean[c] = moving_mean[c] * momentum_ + float(mean_[std::size_t(c)]) * (1.0f - momentum_);
      moving_var[c] = moving_var[c] * momentum_ + float(v) * (1.0f - momentum_);
    }
    for_tasks(ctx.n_threads, blocks(rows), [&](std::int64_t t) {
      for (std::int64_t r = t * kRows; r < std::min(rows, (t + 1) * kRows); ++r)
        for (std::int64_t c = 0; c < C_; ++c) {
          const float xhat = (x[r * C_ + c] - float(mean_[std::size_t(c)])) * inv_std_[std::size_t(c)];
          y[r * C_ + c] = gamma(ctx, c) * xhat + beta(ctx, c);
        }
    });
  }

  void backward(const float* x, const float*, float* dy, float* dx, std::int64_t n, bool, const Context& ctx) override {
    const std::int64_t rows = n * in_.h * in_.w, nb = blocks(rows);
    // per block: sum dy and sum dy * xhat, in double, added in block order
    std::vector<double> part(static_cast<std::size_t>(nb * 2 * C_), 0.0);
    for_tasks(ctx.n_threads, nb, [&](std::int64_t t) {
      double* sdy = part.data() + t * 2 * C_;
      double* sdx = sdy + C_;
      for (std::int64_t r = t * kRows; r < std::min(rows, (t + 1) * kRows); ++r)
        for (std::int64_t c = 0; c < C_; ++c) {
          const double xhat = double(x[r * C_ + c] - float(mean_[std::size_t(c)])) * inv_std_[std::size_t(c)];
          sdy[c] += dy[r * C_ + c];
          sdx[c] += dy[r * C_ + c] * xhat;
        }
    });
    std::vector<double> dbeta(static_cast<std::size_t>(C_), 0.0), dgamma(static_cast<std::size_t>(C_), 0.0);
    for (std::int64_t t = 0; t < nb; ++t)
      for (std::int64_t c = 0; c < C_; ++c) {
        dbeta[std::size_t(c)] += part[std::size_t(t * 2 * C_ + c)];
        dgamma[std::size_t(c)] += part[std::size_t(t * 2 * C_ + C_ + c)];
      }
    float* g = ctx.grads + param_offset;
    if (scale_)
      for (std::int64_t c = 0; c < C_; ++c) g[c] = float(dgamma[std::size_t(c)]);
    if (center_)
      for (std::int64_t c = 0; c < C_; ++c) g[(scale_ ? C_ : 0) + c] = float(dbeta[std::size_t(c)]);
    if (dx == nullptr) return;
    for_tasks(ctx.n_threads, nb, [&](std::int64_t t) {
      for (std::int64_t r = t * kRows; r < std::min(rows, (t + 1) * kRows); ++r)
        for (std::int64_t c = 0; c < C_; ++c) {
          const auto cc = std::size_t(c);
          const double xhat = double(x[r * C_ + c] - float(mean_[cc])) * inv_std_[cc];
          const double k = double(gamma(ctx, c)) * inv_std_[cc] / double(rows);
          dx[r * C_ + c] = float(k * (double(rows) * dy[r * C_ + c] - dbeta[cc] - xhat * dgamma[cc]));
        }
    });
  }

 private:
  static constexpr std::int64_t kRows = 256;
  std::int64_t blocks(std::int64_t rows) const { return (rows + kRows - 1) / kRows; }
  float gamma(const Context& ctx, std::int64_t c) const { return scale_ ? ctx.params[param_offset + c] : 1.0f; }
  float beta(const Context& ctx, std::int64_t c) const {
    return center_ ? ctx.params[param_offset + (scale_ ? C_ : 0) + c] : 0.0f;
  }
  // Adds, per channel, the sum of x (center null) or of (x - center)^2 into out.
  void column_moments(const float* x, std::int64_t rows, const double* center, int n_threads,
                      std::vector<double>& out) const {
    const std::int64_t nb = blocks(rows);
    std::vector<double> part(static_cast<std::size_t>(nb * C_), 0.0);
    for_tasks(n_threads, nb, [&](std::int64_t t) {
      double* p = part.data() + t * C_;
      for (std::int64_t r = t * kRows; r < std::min(rows, (t + 1) * kRows); ++r)
        for (std::int64_t c = 0; c < C_; ++c) {
          const double v = x[r * C_ + c];
          p[c] += center ? (v - center[c]) * (v - center[c]) : v;
        }
    });
    for (std::int64_t t = 0; t < nb; ++t)
      for (std::int64_t c = 0; c < C_; ++c) out[std::size_t(c)] += part[std::size_t(t * C_ + c)];
  }

  float momentum_, epsilon_;
  bool center_, scale_;
  std::int64_t C_ = 0;
  std::vector<double> mean_;
  std::vector<float> inv_std_;
};

}  // namespace

// Strides and windows up to INT_MAX are valid hyper-parameters, hence the 64-bit sizes.
WindowAxis window_axis(int size, int window, int stride, bool same, int begin, int end, const std::string& who) {
  const std::int64_t n = size, k = window, s = stride;
  std::int64_t out = 0, pad = 0, pad_end = 0;
  if (begin >= 0 || end >= 0) {
    if (begin < 0 || end < 0 || begin >= window || end >= window)
      throw std::invalid_argument(who + ": explicit paddings must be in [0, window)");
    const std::int64_t padded = n + begin + end;
    if (padded < k)
      throw std::invalid_argument(who + ": the window (" + std::to_string(window) + ") is larger than the padded input");
    checked_int(padded, who + ": the padded input size");
    out = (padded - k) / s + 1;
    pad = begin;
    pad_end = end;
  } else if (same) {
    out = (n + s - 1) / s;
    const std::int64_t total = std::max<std::int64_t>((out - 1) * s + k - n, 0);
    pad = total / 2;
    pad_end = total - pad;
  } else {
    if (size < window)
      throw std::invalid_argument(who + ": the window (" + std::to_string(window) + ") is larger than the input (" +
                                  std::to_string(size) + ") with padding='valid'");
    out = (n - k) / s + 1;
  }
  if (out < 1) throw std::invalid_argument(who + ": the output would be empty");
  return {checked_int(out, who + ": the output size"), checked_int(pad, who + ": the padding"),
          checked_int(pad_end, who + ": the padding")};
}


// ---------------------------------------------------------------------------- helpers
float* scratch(std::size_t n, int slot) {
  thread_local AlignedVector<float> buffers[4];
  auto& b = buffers[slot];
  if (b.size() < n) b.resize(n);
  return b.data();
}

void activate(float* __restrict z, std::int64_t rows, std::int64_t width, Activation act, float* __restrict logits) {
  const std::int64_t total = rows * width;
  switch (act) {
    case Activation::linear:
      return;
    case Activation::relu:
      for (std::int64_t i = 0; i < total; ++i) z[i] = z[i] > 0.0f ? z[i] : 0.0f;
      return;
    case Activation::sigmoid:
      for (std::int64_t i = 0; i < total; ++i) z[i] = 1.0f / (1.0f + std::exp(-z[i]));
      return;
    case Activation::tanh:
      for (std::int64_t i = 0; i < total; ++i) z[i] = std::tanh(z[i]);
      return;
    case Activation::softmax:
      if (logits) std::copy(z, z + total, logits);
      for (std::int64_t r = 0; r < rows; ++r) {
        float* row = z + r * width;
        const float top = *std::max_element(row, row + width);
        float sum = 0.0f;
        for (std::int64_t j = 0; j < width; ++j) sum += (row[j] = std::exp(row[j] - top));
        const float inv = 1.0f / sum;
        for (std::int64_t j = 0; j < width; ++j) row[j] *= inv;
      }
      return;
  }
}

void activation_backward(float* __restrict dy, const float* __restrict y, std::int64_t rows, std::int64_t width,
                         Activation act) {
  const std::int64_t total = rows * width;
  switch (act) {
    case Activation::linear:
      return;
    case Activation::relu:
      for (std::int64_t i = 0; i < total; ++i) dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
      return;
    case Activation::sigmoid:
      for (std::int64_t i = 0; i < total; ++i) dy[i] *= y[i] * (1.0f - y[i]);
      return;
    case Activation::tanh:
      for (std::int64_t i = 0; i < total; ++i) dy[i] *= 1.0f - y[i] * y[i];
      return;
    case Activation::softmax:
      for (std::int64_t r = 0; r < rows; ++r) {
        float* d = dy + r * width;
        const float* p = y + r * width;
        float dot = 0.0f;
        for (std::int64_t j = 0; j < width; ++j) dot += d[j] * p[j];
        for (std::int64_t j = 0; j < width; ++j) d[j] = p[j] * (d[j] - dot);
      }
      return;
  }
}

std::unique_ptr<Layer> make_layer(const LayerConfig& config, int index, Shape in) {
  switch (config.kind) {
    case LayerKind::conv2d:
      return std::make_unique<Conv2D>(config, index, in);
    case LayerKind::max_pool2d:
      return std::make_unique<Pool2D>(config, index, in, true);
    case LayerKind::avg_pool2d:
      return std::make_unique<Pool2D>(config, index, in, false);
    case LayerKind::flatten:
      return std::make_unique<Flatten>(index, in);
    case LayerKind::dense:
      return std::make_unique<Dense>(config, index, in);
    case LayerKind::dropout:
      return std::make_unique<Dropout>(config, index, in);
    case LayerKind::batch_norm:
      return std::make_unique<BatchNorm>(config, index, in);
    case LayerKind::activation:
      return std::make_unique<ActivationLayer>(config, index, in);
  }
  throw std::invalid_argument("unknown layer kind " + std::to_string(int(config.kind)));
}

Activation parse_activation(const std::string& name) {
  if (name == "linear" || name.empty()) return Activation::linear;
  if (name == "relu") return Activation::relu;
  if (name == "sigmoid") return Activation::sigmoid;
  if (name == "tanh") return Activation::tanh;
  if (name == "softmax") return Activation::softmax;
  throw std::invalid_argument("unknown activation '" + name + "': use linear, relu, sigmoid, tanh or softmax");
}

OptimizerConfig::Kind parse_optimizer(const std::string& name) {
  if (name == "adam") return OptimizerConfig::adam;
  if (name == "sgd") return OptimizerConfig::sgd;
  if (name == "rmsprop") return OptimizerConfig::rmsprop;
  throw std::invalid_argument("unknown optimizer '" + name + "': use adam, sgd or rmsprop");
}

}  // namespace scalegen::nn
