// Max and average pooling (see pool2d.hpp).
#include "pool2d.hpp"

#include <algorithm>
#include <stdexcept>

#include "../kernels/elementwise.hpp"
#include "../kernels/vec.hpp"

namespace scalegen::nn {

template <>
std::unique_ptr<Layer> make<LayerKind::max_pool2d>(const LayerConfig& c, int index, Shape in) {
  return std::make_unique<Pool2D>(c, index, in, true);
}
template <>
std::unique_ptr<Layer> make<LayerKind::avg_pool2d>(const LayerConfig& c, int index, Shape in) {
  return std::make_unique<Pool2D>(c, index, in, false);
}

Pool2D::Pool2D(const LayerConfig& c, int index, Shape in, bool is_max) : Layer(index, in), max_(is_max) {
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

void Pool2D::backward(const float* x, const float*, float* dy, float* dx, std::int64_t n, bool,
              const Context& ctx) {
  if (dx == nullptr) return;
  const int C = in_.c;
  // windows that tile the input exactly (2x2 stride 2 on an even map) write every cell once
  const bool tiles = pt_ == 0 && pl_ == 0 && sh_ == ph_ && sw_ == pw_ && out_.h * ph_ == in_.h &&
                     out_.w * pw_ == in_.w;
  parallel_for_flushed(ctx.n_threads, n, [&](std::int64_t s) {
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

void Pool2D::route_sample(const float* y, const float* dy, const std::int32_t* arg, float* dx) const {
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

void Pool2D::pool_rows(const float* img, float* y, int oh0, int oh1, std::int32_t* argmax, int c0, int c1) const {
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
        const auto load = [&](std::size_t k, int c) { return *reinterpret_cast<const VecF*>(base + window_cells_[k] + c); };
        int c = 0;
        for (; c + 2 * kVec <= width; c += 2 * kVec) {
          VecF m0 = load(0, c), m1 = load(0, c + kVec);
          for (std::size_t k = 1; k < cells; ++k) {
            const VecF v0 = load(k, c), v1 = load(k, c + kVec);
            m0 = v0 > m0 ? v0 : m0;
            m1 = v1 > m1 ? v1 : m1;
          }
          *reinterpret_cast<VecF*>(dst + c) = m0;
          *reinterpret_cast<VecF*>(dst + c + kVec) = m1;
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

}  // namespace scalegen::nn
