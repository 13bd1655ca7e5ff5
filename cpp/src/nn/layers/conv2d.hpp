#pragma once
// 2-D convolution (channels-last): im2col + GEMM, windows read in place when they lie inside
// the image, or a register kernel when the reduction is tiny (a first layer on one channel).
// conv2d.cpp has the convolution alone; fused/conv_pool.cpp runs it with a following pooling.

#include <cstdint>
#include <utility>
#include <vector>

#include "../kernels/im2col.hpp"
#include "../kernels/winograd.hpp"
#include "../layer.hpp"

namespace scalegen::nn {

class Conv2D final : public Layer {
 public:
  Conv2D(const LayerConfig& c, int index, Shape in);

  std::vector<TensorSpec> tensors() const override;
  Activation activation() const override { return act_.kind; }
  bool absorb_activation(Act act) override { return absorb_activation_into(act_, act); }

  void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const override {
    run_forward(x, y, n, ctx, nullptr);
  }
  void train_forward(const float* x, float* y, std::int64_t n, const Context& ctx) override;
  void backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                const Context& ctx) override;

  // fused with a following pooling (fused/conv_pool.cpp)
  bool absorbs_next(const Layer& next, bool training) const override;
  void infer_with_next(const Layer& next, const float* x, float* y, std::int64_t n, const Context& ctx) const override;
  void train_forward_with_next(const Layer& next, const float* x, float* y, std::int64_t n,
                               const Context& ctx) override;
  void backward_with_next(const Layer& next, const float* x, const float* y, float* dy, float* dx, std::int64_t n,
                          const Context& ctx) override;

 private:
  // Part of the output of images [s0, s1): rows [oh0, oh1) (all rows when there are several
  // images and no in-place windows), columns [0, ow1) and channels [f0, f1) (with in-place
  // windows; else all columns and channels).
  struct OutputBlock {
    std::int64_t s0, s1;
    int oh0, oh1, ow1;
    std::int64_t f0, f1;
  };
  OutputBlock whole(std::int64_t s0, std::int64_t s1) const { return {s0, s1, 0, out_.h, out_.w, 0, F_}; }
  bool small_reduction() const { return K_ < 16; }
  SampleBlocks blocks_of(std::int64_t n) const { return {n, most_per_block_}; }

  // With `pool`, each block's output goes to a scratch buffer and is pooled into y at once,
  // while it is still in cache (inference only).
  void run_forward(const float* x, float* y, std::int64_t n, const Context& ctx, float* keep,
                   const Pool2D* pool = nullptr) const;
  // The block's output into out, from pixel (s0, oh0, 0) on, laid out as whole images, with
  // bias and activation: fused into the kernels' stores for relu and linear, else one pass
  // after them.
  void forward_rows(const float* x, const OutputBlock& blk, float* out, float* keep, const Context& ctx) const;
  // The block's output by our GEMM kernel, the windows read in place: kernel row by kernel
  // row and 64 filters at a time, so that slice of the kernel stays in L1 while every
  // output row reads it.
  void in_place_gemm(const float* x, const OutputBlock& blk, float* out, const float* w, const float* bias,
                     bool relu) const;
  // With `pool` (a max pool that absorbed this layer's relu), each block's output gradient
  // is routed from the pool's (dy) through its argmax in a scratch buffer; else it is dy.
  void run_backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                    const Context& ctx, const Pool2D* pool, const float* pool_y);

  // Training batches of 4 x 4 stride-2 convolutions: by Winograd's filtering (kernels/winograd.hpp).
  bool uses_winograd(std::int64_t n) const { return winograd_ && n >= kWinogradMinBatch; }
  void winograd_backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                         const Context& ctx);

  // Dilated or grouped: the backward pass on im2col and GEMM, one group at a time.
  void general_backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                        const Context& ctx);
  // The windows of group g's channels.
  ConvGeometry group_geometry(int g) const;

  // ---- with a following pooling (fused/conv_pool.cpp)
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
  // The gradient at this layer's (pre-relu) output of images [s0, s1), routed from the
  // pool's output gradient through its argmax.
  void route_from_pool(const Pool2D& pool, const float* pool_y, const float* pool_dy, std::int64_t s0, std::int64_t s1,
                       float* dz) const;

  Act act_;
  bool bias_;
  ConvGeometry geo_;  // its windows; these copies of its sizes keep the kernels' code short
  int kh_ = 1, kw_ = 1, sh_ = 1, sw_ = 1, pt_ = 0, pl_ = 0;
  std::int64_t K_ = 0, F_ = 0, pixels_ = 0, most_per_block_ = 1;  // samples a block holds at most
  bool in_place_ = false;
  bool general_ = false;  // dilated or grouped
  bool winograd_ = false;
  Winograd4x4s2 wino_;
  bool tiles_kept_ = false;          // the last training forward kept x's Winograd tiles
  AlignedVector<float> wino_tiles_;  // there, for the kernel gradient
  int groups_ = 1;
  std::vector<std::int32_t> window_offsets_;
  std::vector<float> partials_;
  std::vector<float> wt_;                  // the kernel transposed (F x K), for input gradients
  std::vector<std::int32_t> pool_argmax_;  // training fused with a max pool: where its maxima came from
};

}  // namespace scalegen::nn
