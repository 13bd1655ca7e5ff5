// UpSampling2D: each image scaled up by integer factors, 'nearest' (each cell repeated, as
// Keras) or 'bilinear' (half-pixel centres, as Keras' image resize and PyTorch's
// align_corners=False).
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "../layer.hpp"
#include "scalegen/common/limits.hpp"

namespace scalegen::nn {
namespace {

// For each output cell of one axis: the two input cells it reads and the second one's weight.
struct AxisTaps {
  std::vector<int> lo, hi;
  std::vector<float> frac;
};

AxisTaps axis_taps(int in, int scale, bool bilinear) {
  AxisTaps t;
  for (int o = 0; o < in * scale; ++o) {
    if (!bilinear) {
      t.lo.push_back(o / scale), t.hi.push_back(o / scale), t.frac.push_back(0.0f);
      continue;
    }
    const double src = std::max(0.0, (o + 0.5) / scale - 0.5);
    const int i0 = std::min(int(src), in - 1);
    t.lo.push_back(i0), t.hi.push_back(std::min(i0 + 1, in - 1)), t.frac.push_back(float(src - i0));
  }
  return t;
}

class UpSampling2D final : public Layer {
 public:
  UpSampling2D(const LayerConfig& c, int index, Shape in) : Layer(index, in) {
    const std::string who = layer_name("UpSampling2D", index);
    if (in.rank != 3) throw std::invalid_argument(who + " needs inputs of shape (height, width, channels)");
    if (c.kernel_h <= 0 || c.kernel_w <= 0) throw std::invalid_argument(who + ": size must be positive");
    out_ = checked_shape(std::int64_t(in.h) * c.kernel_h, std::int64_t(in.w) * c.kernel_w, in.c, 3, who);
    rows_ = axis_taps(in.h, c.kernel_h, c.bilinear);
    cols_ = axis_taps(in.w, c.kernel_w, c.bilinear);
  }

  void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const override {
    const int C = in_.c;
    parallel_for_flushed(ctx.n_threads, n, [&](std::int64_t s) {
      const float* img = x + s * in_.size();
      float* out = y + s * out_.size();
      for (int oh = 0; oh < out_.h; ++oh)
        for (int ow = 0; ow < out_.w; ++ow) {
          float* dst = out + (std::int64_t(oh) * out_.w + ow) * C;
          std::fill(dst, dst + C, 0.0f);
          for_taps(oh, ow, [&](std::int64_t cell, float w) {
            for (int c = 0; c < C; ++c) dst[c] += w * img[cell * C + c];
          });
        }
    });
  }

  void backward(const float*, const float*, float* dy, float* dx, std::int64_t n, bool,
                const Context& ctx) override {
    if (dx == nullptr) return;
    const int C = in_.c;
    parallel_for_flushed(ctx.n_threads, n, [&](std::int64_t s) {
      float* img = dx + s * in_.size();
      const float* d = dy + s * out_.size();
      std::fill(img, img + in_.size(), 0.0f);
      for (int oh = 0; oh < out_.h; ++oh)
        for (int ow = 0; ow < out_.w; ++ow) {
          const float* src = d + (std::int64_t(oh) * out_.w + ow) * C;
          for_taps(oh, ow, [&](std::int64_t cell, float w) {
            for (int c = 0; c < C; ++c) img[cell * C + c] += w * src[c];
          });
        }
    });
  }

 private:
  // fn(input cell, weight) for the (up to) four cells output (oh, ow) reads, in a fixed order.
  template <class Fn>
  void for_taps(int oh, int ow, Fn&& fn) const {
    const float fh = rows_.frac[std::size_t(oh)], fw = cols_.frac[std::size_t(ow)];
    const std::int64_t h0 = rows_.lo[std::size_t(oh)], h1 = rows_.hi[std::size_t(oh)];
    const std::int64_t w0 = cols_.lo[std::size_t(ow)], w1 = cols_.hi[std::size_t(ow)];
    fn(h0 * in_.w + w0, (1 - fh) * (1 - fw));
    if (fw != 0.0f) fn(h0 * in_.w + w1, (1 - fh) * fw);
    if (fh != 0.0f) fn(h1 * in_.w + w0, fh * (1 - fw));
    if (fh != 0.0f && fw != 0.0f) fn(h1 * in_.w + w1, fh * fw);
  }

  AxisTaps rows_, cols_;
};

}  // namespace

template <>
std::unique_ptr<Layer> make<LayerKind::up_sampling2d>(const LayerConfig& c, int index, Shape in) {
  return std::make_unique<UpSampling2D>(c, index, in);
}

}  // namespace scalegen::nn
