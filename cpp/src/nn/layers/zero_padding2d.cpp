// ZeroPadding2D: rows and columns of zeros around each image ((top, bottom), (left, right)).
#include <algorithm>
#include <stdexcept>

#include "../layer.hpp"
#include "scalegen/common/limits.hpp"

namespace scalegen::nn {
namespace {

class ZeroPadding2D final : public Layer {
 public:
  ZeroPadding2D(const LayerConfig& c, int index, Shape in)
      : Layer(index, in), top_(c.pad_top), left_(c.pad_left) {
    const std::string who = layer_name("ZeroPadding2D", index);
    if (in.rank != 3) throw std::invalid_argument(who + " needs inputs of shape (height, width, channels)");
    if (c.pad_top < 0 || c.pad_bottom < 0 || c.pad_left < 0 || c.pad_right < 0)
      throw std::invalid_argument(who + ": paddings must be non-negative");
    out_ = checked_shape(std::int64_t(in.h) + c.pad_top + c.pad_bottom, std::int64_t(in.w) + c.pad_left + c.pad_right,
                         in.c, 3, who);
  }
  void infer(const float* x, float* y, std::int64_t n, const Context& ctx) const override {
    parallel_for_flushed(ctx.n_threads, n, [&](std::int64_t s) {
      float* img = y + s * out_.size();
      std::fill(img, img + out_.size(), 0.0f);
      for (int h = 0; h < in_.h; ++h) {
        const float* src = x + s * in_.size() + std::int64_t(h) * in_.w * in_.c;
        std::copy(src, src + std::int64_t(in_.w) * in_.c, img + (std::int64_t(h + top_) * out_.w + left_) * in_.c);
      }
    });
  }
  void backward(const float*, const float*, float* dy, float* dx, std::int64_t n, bool,
                const Context& ctx) override {
    if (dx == nullptr) return;
    parallel_for_flushed(ctx.n_threads, n, [&](std::int64_t s) {
      const float* img = dy + s * out_.size();
      for (int h = 0; h < in_.h; ++h) {
        const float* src = img + (std::int64_t(h + top_) * out_.w + left_) * in_.c;
        std::copy(src, src + std::int64_t(in_.w) * in_.c, dx + s * in_.size() + std::int64_t(h) * in_.w * in_.c);
      }
    });
  }

 private:
  int top_, left_;
};

}  // namespace

template <>
std::unique_ptr<Layer> make<LayerKind::zero_padding2d>(const LayerConfig& c, int index, Shape in) {
  return std::make_unique<ZeroPadding2D>(c, index, in);
}

}  // namespace scalegen::nn
