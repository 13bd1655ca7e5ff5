#pragma once
// The geometry of a 2-D convolution window (channels-last) and the two layout changes built
// on it: im2col (each output pixel's window as a row of kh x kw x c values, zeros outside
// the input) and its adjoint col2im (the rows' values added back into the image). A
// convolution's gradients and a transposed convolution's passes are products with them.

#include <algorithm>
#include <cstdint>
#include <utility>

#include "scalegen/nn/network.hpp"

namespace scalegen::nn {

/// A batch of n samples split into `count` blocks of `per` samples (the last may hold
/// fewer): at most `most` a block, the blocks' count rounded up to a multiple of 8 where n
/// allows, so that 2, 4 or 8 threads get equal shares (13 blocks of 5 samples kept one of
/// two threads idle for a block's time). From n and `most` only: the same bits for any
/// thread count.
struct SampleBlocks {
  std::int64_t per = 1, count = 0;
  SampleBlocks(std::int64_t n, std::int64_t most) {
    const std::int64_t target = std::min(n, ((n + most - 1) / most + 7) / 8 * 8);
    if (target > 0) per = (n + target - 1) / target;
    count = (n + per - 1) / per;
  }
};

struct ConvGeometry {
  Shape in, out;  // the convolution's input and output (channels: out.c is not used here)
  int kh = 1, kw = 1, sh = 1, sw = 1, pt = 0, pl = 0;
  std::int64_t K = 0;  // kh * kw * cg: the length of a window's row
  int dh = 1, dw = 1;  // dilation: taps dh rows and dw columns apart
  int c0 = 0, cg = 0;  // the window's channels [c0, c0 + cg) (a group's; cg = 0: all of them)

  int channels() const { return cg > 0 ? cg : in.c; }
  // the interior copy of a row is kw * c contiguous floats: all channels, no dilation across
  bool contiguous_rows() const { return dw == 1 && channels() == in.c; }
  std::int64_t pixels() const { return std::int64_t(out.h) * out.w; }
  /// Output columns [lo, hi) whose window lies inside the input horizontally.
  std::pair<int, int> interior_columns() const;
  /// Calls interior(ow) for the output columns whose window lies inside the input, and
  /// edge(ow, j, iw) for every tap j (input column iw) of the border columns.
  template <class Interior, class Edge>
  void for_columns(Interior&& interior, Edge&& edge) const {
    const auto [lo, hi] = interior_columns();
    for (int ow = lo; ow < hi; ++ow) interior(ow);
    for (int ow = 0; ow < out.w; ++ow) {
      if (ow == lo) ow = hi;
      if (ow >= out.w) break;
      for (int j = 0; j < kw; ++j) edge(ow, j, ow * sw - pl + j);
    }
  }
  /// Rows (sample, oh, ow) of the windows of `samples` images starting at x.
  void im2col(const float* x, std::int64_t samples, float* cols) const;
  /// The windows of output rows [oh0, oh1) of one image. Row-wise, so the interior is a
  /// tight copy of kw * c floats (a fixed-size copy for the tiny spans of a first layer).
  void im2col_rows(const float* img, int oh0, int oh1, float* cols) const;
  /// dx (samples x input size) = the sum of each window row's values at its cells (added to
  /// dx's values when accumulate, else dx is zeroed first).
  void col2im(const float* dcols, std::int64_t samples, float* dx, bool accumulate = false) const;
  /// Whether col2im_sum applies: all channels (of whole blocks of 16) in contiguous rows.
  bool sums_in_registers() const { return contiguous_rows() && in.c % 16 == 0 && kh * kw <= kMaxTaps; }
  /// col2im into a zeroed dx, gathered: each cell's window values summed in registers and
  /// written once, plus bias (per channel, may be null), then max(0, .) when relu. Zeroing
  /// dx and adding each window's values there cost a pass and a read-modify-write per window.
  void col2im_sum(const float* dcols, std::int64_t samples, float* dx, const float* bias, bool relu) const;
  static constexpr int kMaxTaps = 64;
};

}  // namespace scalegen::nn
