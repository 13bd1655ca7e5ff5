#pragma once
// Max and average pooling over 2-D windows (channels-last). Padding never counts
// (TensorFlow): border windows are clipped to the input. A convolution may run a pooling
// within its own pass (fused/conv_pool.cpp) through the public members below.

#include <cstdint>
#include <utility>
#include <vector>

#include "../layer.hpp"

namespace scalegen::nn {

class Pool2D final : public Layer {
 public:
  Pool2D(const LayerConfig& c, int index, Shape in, bool is_max);

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
  void backward(const float* x, const float* y, float* dy, float* dx, std::int64_t n, bool pre_activation,
                const Context& ctx) override;
  const Pool2D* as_pooling() const override { return this; }

  // ---- for a layer that runs this pooling within its own pass
  bool is_max() const { return max_; }
  /// A max pool whose backward pass applies the previous layer's relu derivative.
  bool absorbs_relu() const { return absorbs_relu_; }
  /// Output rows [oh0, oh1), channels [c0, c1) (c1 < 0: all), of one sample (img and y laid
  /// out as whole samples); argmax (or null) receives where each maximum came from.
  void pool_rows(const float* img, float* y, int oh0, int oh1, std::int32_t* argmax, int c0 = 0, int c1 = -1) const;
  /// Pools one sample.
  void pool_sample(const float* img, float* y, std::int32_t* argmax) const { pool_rows(img, y, 0, out_.h, argmax); }
  /// Adds one sample's output gradient dy to dx (zeroed, the input's size) at the argmax
  /// cells (from pool_rows) whose maximum y is positive (the relu before this pool let it
  /// through): the maximum is the relu's output at that cell.
  void route_sample(const float* y, const float* dy, const std::int32_t* argmax, float* dx) const;
  /// The input rows [first, last) that output rows [oh0, oh1) read.
  std::pair<int, int> input_rows(int oh0, int oh1) const {
    return {std::max(0, oh0 * sh_ - pt_), std::min(in_.h, (oh1 - 1) * sh_ - pt_ + ph_)};
  }
  /// The input columns [0, last) that some window reads.
  int input_cols_end() const { return std::min(in_.w, (out_.w - 1) * sw_ - pl_ + pw_); }
  /// A max pool whose 2 x 2 windows (stride 2, no padding) tile its input from the corner.
  bool max_2x2_tiles() const {
    return max_ && ph_ == 2 && pw_ == 2 && sh_ == 2 && sw_ == 2 && pt_ == 0 && pl_ == 0 && 2 * out_.h <= in_.h &&
           2 * out_.w <= in_.w;
  }

 private:
  struct Window {
    int h0, h1, w0, w1;
  };
  // The window of output (oh, ow) clipped to the input.
  Window window(int oh, int ow) const {
    const int h0 = oh * sh_ - pt_, w0 = ow * sw_ - pl_;
    return {std::max(h0, 0), std::min(h0 + ph_, in_.h), std::max(w0, 0), std::min(w0 + pw_, in_.w)};
  }
  void run(const float* x, float* y, std::int64_t n, const Context& ctx, std::int32_t* argmax) const {
    parallel_for_flushed(ctx.n_threads, n, [&](std::int64_t s) {
      pool_sample(x + s * in_.size(), y + s * out_.size(), argmax ? argmax + s * out_.size() : nullptr);
    });
  }

  bool max_;
  bool absorbs_relu_ = false;
  int ph_ = 2, pw_ = 2, sh_ = 2, sw_ = 2, pt_ = 0, pl_ = 0;
  std::vector<std::int32_t> window_cells_;  // offsets of a whole window's cells from its first
  std::vector<std::int32_t> argmax_;        // of the last train_forward
};

}  // namespace scalegen::nn
